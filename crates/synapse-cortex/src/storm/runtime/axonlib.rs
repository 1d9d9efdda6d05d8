//! `$lib.axon` over the Cortex's Axon: `has`, `size`, `put`, `hashset`, `read`, `readlines`,
//! `jsonlines`, `csvrows`, `list`, `del`, `dels`, `metrics`, and `wget` / `wput` / `urlfile`
//! (the HTTP transfer runs in the Cortex with [`super::httplib`], the bytes stream to and
//! from the Axon).

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use hyper::body::Incoming;
use md5::Digest;
use rmpv::Value;
use synapse_cell::{Args, Reply};

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::ItemStream;
use super::ext::{cell_err, cortex};
use super::httplib::{self, HttpError, HttpRequest, RespHead, arg};
use super::runt::{GenItem, GenVal, Item, Runt};
use super::value::{Key, Val, new_dict, new_list};
use crate::cortex::AxonClient;
use synapse_cell::httpc;

pub(crate) const LIB: &str = "lib.axon";

/// Whether `path` is this module's library.
pub(crate) fn is_lib(path: &str) -> bool {
    path == LIB
}

/// `(path, functions)` (storm docs).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    vec![(LIB.to_owned(), lib_funcs(LIB).to_vec())]
}

/// The functions of `$lib.axon`.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    if path != LIB {
        return &[];
    }
    &[
        "wget",
        "wput",
        "urlfile",
        "del",
        "dels",
        "list",
        "readlines",
        "jsonlines",
        "csvrows",
        "metrics",
        "put",
        "has",
        "size",
        "hashset",
        "read",
        "unpack",
        "upload",
    ]
}

async fn axon(runt: &Runt) -> RResult<Arc<dyn AxonClient>> {
    cortex(runt)?.axon(None).await.map_err(cell_err)
}

async fn call_value(axon: &dyn AxonClient, meth: &str, args: Args) -> RResult<Value> {
    match axon.call(meth, args).await.map_err(cell_err)? {
        Reply::Value(v) => Ok(v),
        _ => Err(rterr(format!("unexpected reply from the Axon's {meth}"))),
    }
}

fn uhex(text: &str) -> RResult<Vec<u8>> {
    hex::decode(text).map_err(|e| {
        Flow::Err(StormError::new(
            "BadArg",
            format!("Invalid sha256 hex [{text}]: {e}"),
        ))
    })
}

fn args(items: Vec<Value>) -> Args {
    Args {
        args: items,
        kwargs: Vec::new(),
    }
}

/// `axon.X` unless the user has it, then `storm.lib.axon.X` (the library's own gate).
fn confirm_either(runt: &Runt, perm: &str) -> RResult<()> {
    if runt.allowed(&["axon", perm], None) {
        return Ok(());
    }
    runt.confirm(&["storm", "lib", "axon", perm], None)
}

fn dict(items: Vec<(&str, Val)>) -> Val {
    new_dict(
        items
            .into_iter()
            .map(|(k, v)| (Key::Str(Arc::from(k)), v))
            .collect(),
    )
}

/// A generator over the Axon's generator `meth`, each item mapped by `map`.
async fn genr(
    axon: &dyn AxonClient,
    meth: &str,
    a: Args,
    map: fn(Value) -> RResult<Val>,
) -> RResult<Val> {
    match axon.call(meth, a).await.map_err(cell_err)? {
        Reply::Genr(items) => {
            let stream = items.map(move |item| match item {
                Ok(v) => map(v).map(GenItem::Val),
                Err(e) => Err(cell_err(e)),
            });
            Ok(GenVal::val(stream.boxed()))
        }
        _ => Err(rterr(format!("unexpected reply from the Axon's {meth}"))),
    }
}

fn plain(v: Value) -> RResult<Val> {
    Ok(Val::from_msgpack(&v))
}

fn hash_row(v: Value) -> RResult<Val> {
    // (offs, (sha256, size)) -> (offs, sha256 hex, size)
    let bad = || rterr("bad hash row from the Axon");
    let row = v.as_array().ok_or_else(bad)?;
    let (offs, info) = match row.as_slice() {
        [offs, info] => (offs, info.as_array().ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    let (sha, size) = match info.as_slice() {
        [Value::Binary(sha), size] => (hex::encode(sha), size),
        _ => return Err(bad()),
    };
    Ok(Val::Tuple(Arc::from(vec![
        Val::from_msgpack(offs),
        Val::from(sha),
        Val::from_msgpack(size),
    ])))
}

/// Call a function of `$lib.axon`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    a: Vec<Val>,
    kw: Vec<(String, Val)>,
) -> RResult<Val> {
    if path != LIB {
        return Err(super::ext::nosuchname(name));
    }
    let get = |idx: usize, n: &str| arg(&a, &kw, Some(idx), n);
    let need = |idx: usize, n: &str| -> RResult<Val> {
        get(idx, n).ok_or_else(|| {
            rterr(format!(
                "{name}() missing 1 required positional argument: '{n}'"
            ))
        })
    };
    match name {
        "has" => {
            let sha = match need(0, "sha256")? {
                Val::Null => return Ok(Val::Null),
                v => v.to_str()?,
            };
            runt.confirm(&["axon", "has"], None)?;
            let ax = axon(runt).await?;
            let v = call_value(&*ax, "has", args(vec![Value::Binary(uhex(&sha)?)])).await?;
            Ok(Val::from_msgpack(&v))
        }
        "size" | "hashset" => {
            let sha = need(0, "sha256")?.to_str()?;
            runt.confirm(&["axon", "has"], None)?;
            let ax = axon(runt).await?;
            let v = call_value(&*ax, name, args(vec![Value::Binary(uhex(&sha)?)])).await?;
            Ok(Val::from_msgpack(&v))
        }
        "put" => {
            let Some(Val::Bytes(byts)) = get(0, "byts") else {
                return Err(Flow::Err(StormError::new(
                    "BadArg",
                    "$lib.axon.put() requires a bytes argument",
                )));
            };
            runt.confirm(&["axon", "upload"], None)?;
            let sha = sha2::Sha256::digest(&byts).to_vec();
            let ax = axon(runt).await?;
            let has = call_value(&*ax, "has", args(vec![Value::Binary(sha.clone())])).await?;
            if has.as_bool() == Some(true) {
                return Ok(pair(byts.len() as i128, &sha));
            }
            let v = call_value(&*ax, "put", args(vec![Value::Binary(byts.to_vec())])).await?;
            match v.as_array().map(Vec::as_slice) {
                Some([size, Value::Binary(sha)]) => {
                    Ok(pair(size.as_i64().unwrap_or_default().into(), sha))
                }
                _ => Err(rterr("bad reply from the Axon's put")),
            }
        }
        "read" => {
            let sha = need(0, "sha256")?.to_str()?;
            let offs = get(1, "offs").map(|v| v.to_int()).transpose()?.unwrap_or(0);
            let size = get(2, "size")
                .map(|v| v.to_int())
                .transpose()?
                .unwrap_or(1 << 20);
            if size > 1 << 20 {
                return Err(Flow::Err(StormError::new(
                    "BadArg",
                    format!("Size must be between 1 and {} bytes", 1 << 20),
                )));
            }
            confirm_either(runt, "get")?;
            let ax = axon(runt).await?;
            let a = Args {
                args: vec![Value::Binary(uhex(&sha)?)],
                kwargs: vec![
                    ("offs".to_owned(), Value::from(offs as i64)),
                    ("size".to_owned(), Value::from(size as i64)),
                ],
            };
            let Reply::Genr(mut items) = ax.call("get", a).await.map_err(cell_err)? else {
                return Err(rterr("unexpected reply from the Axon's get"));
            };
            let mut out = Vec::new();
            while let Some(chunk) = items.next().await {
                if let Value::Binary(b) = chunk.map_err(cell_err)? {
                    out.extend_from_slice(&b);
                }
            }
            Ok(Val::Bytes(Arc::from(out)))
        }
        "readlines" | "jsonlines" => {
            let sha = need(0, "sha256")?.to_str()?;
            confirm_either(runt, "get")?;
            let ax = axon(runt).await?;
            let mut a = args(vec![Value::from(sha)]);
            if name == "readlines"
                && let Some(errors) = get(1, "errors")
            {
                a.kwargs.push(("errors".to_owned(), errors.to_msgpack()?));
            }
            genr(&*ax, name, a, plain).await
        }
        "csvrows" => {
            let sha = need(0, "sha256")?.to_str()?;
            let dialect = get(1, "dialect")
                .map(|v| v.to_str())
                .transpose()?
                .unwrap_or_else(|| "excel".to_owned());
            confirm_either(runt, "get")?;
            let ax = axon(runt).await?;
            let mut a = args(vec![Value::Binary(uhex(&sha)?), Value::from(dialect)]);
            for (k, v) in &kw {
                if k != "sha256" && k != "dialect" {
                    a.kwargs.push((k.clone(), v.to_msgpack()?));
                }
            }
            genr(&*ax, "csvrows", a, plain).await
        }
        "list" => {
            let offs = get(0, "offs").map(|v| v.to_int()).transpose()?.unwrap_or(0);
            let wait = get(1, "wait").is_some_and(|v| v.truthy());
            let timeout = match get(2, "timeout") {
                None | Some(Val::Null) => Value::Nil,
                Some(v) => Value::from(v.to_int()? as i64),
            };
            confirm_either(runt, "has")?;
            let ax = axon(runt).await?;
            let a = Args {
                args: vec![Value::from(offs as i64)],
                kwargs: vec![
                    ("wait".to_owned(), Value::from(wait)),
                    ("timeout".to_owned(), timeout),
                ],
            };
            genr(&*ax, "hashes", a, hash_row).await
        }
        "metrics" => {
            confirm_either(runt, "has")?;
            let ax = axon(runt).await?;
            let v = call_value(&*ax, "metrics", Args::default()).await?;
            Ok(Val::from_msgpack(&v))
        }
        "del" => {
            confirm_either(runt, "del")?;
            let sha = need(0, "sha256")?.to_str()?;
            let sha = uhex(&sha)?;
            let ax = axon(runt).await?;
            let v = call_value(&*ax, "del_", args(vec![Value::Binary(sha)])).await?;
            Ok(Val::from_msgpack(&v))
        }
        "dels" => {
            confirm_either(runt, "del")?;
            let items = match need(0, "sha256s")? {
                v @ (Val::List(_) | Val::Tuple(_)) => v.seq_items().unwrap_or_default(),
                _ => return Err(Flow::Err(StormError::new("BadArg", ""))),
            };
            let mut hashes = Vec::new();
            for item in items {
                hashes.push(Value::Binary(uhex(&item.to_str()?)?));
            }
            let ax = axon(runt).await?;
            let v = call_value(&*ax, "dels", args(vec![Value::Array(hashes)])).await?;
            Ok(Val::from_msgpack(&v))
        }
        "upload" => {
            runt.confirm(&["axon", "upload"], None)?;
            upload(runt, need(0, "genr")?).await
        }
        "unpack" => {
            confirm_either(runt, "get")?;
            let ax = axon(runt).await?;
            req_unpack_feature(&*ax).await?;
            let sha = need(0, "sha256")?.to_str()?;
            let fmt = need(1, "fmt")?.to_str()?;
            let offs = get(2, "offs").map(|v| v.to_int()).transpose()?.unwrap_or(0);
            let offs = i64::try_from(offs).map_err(|_| {
                Flow::Err(StormError::new("BadArg", "Offs must be >= 0").with("offs", offs as f64))
            })?;
            let a = args(vec![
                Value::Binary(uhex(&sha)?),
                Value::from(fmt),
                Value::from(offs),
            ]);
            let v = call_value(&*ax, "unpack", a).await?;
            Ok(Val::from_msgpack(&v))
        }
        "wget" => wget(runt, &a, &kw).await,
        "wput" => wput(runt, &a, &kw).await,
        "urlfile" => urlfile(runt, &a, &kw).await,
        _ => Err(super::ext::nosuchname(name)),
    }
}

/// `FeatureNotSupported` unless the Axon's cell info lists the `unpack` feature.
async fn req_unpack_feature(ax: &dyn AxonClient) -> RResult<()> {
    let info = call_value(ax, "getCellInfo", Args::default()).await?;
    let level = synapse_cell::map_get(&info, "features")
        .and_then(|f| synapse_cell::map_get(f, "unpack"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if level < 1 {
        return Err(Flow::Err(StormError::new(
            "FeatureNotSupported",
            "The connected Axon does not support the the unpack API. Please update your Axon.",
        )));
    }
    Ok(())
}

/// `$lib.axon.upload(genr)` / `$lib.bytes.upload(genr)` (permission checked by the caller):
/// each item of the generator written to an upload of the Axon, then saved.
pub(crate) async fn upload(runt: &Arc<Runt>, genr: Val) -> RResult<Val> {
    let ax = axon(runt).await?;
    let Reply::Share(share) = ax.call("upload", Args::default()).await.map_err(cell_err)? else {
        return Err(rterr("unexpected reply from the Axon's upload"));
    };
    let result = async {
        let mut items =
            super::eval::eval_iter(runt, genr, crate::storm::ast::Span::default()).await?;
        while let Some(item) = items.next().await {
            let byts = item?.to_msgpack()?;
            share
                .call("write", args(vec![byts]))
                .await
                .map_err(cell_err)?;
        }
        match share
            .call("save", Args::default())
            .await
            .map_err(cell_err)?
        {
            Reply::Value(v) => match v.as_array().map(Vec::as_slice) {
                Some([size, Value::Binary(sha)]) => {
                    Ok(pair(size.as_i64().unwrap_or_default().into(), sha))
                }
                _ => Err(rterr("bad reply from the Axon's save")),
            },
            _ => Err(rterr("bad reply from the Axon's save")),
        }
    }
    .await;
    share.fini().await;
    result
}

fn pair(size: i128, sha: &[u8]) -> Val {
    Val::Tuple(Arc::from(vec![Val::Int(size), Val::from(hex::encode(sha))]))
}

/// The Axon's flattened response info (`ok`, `url`, `code`, `headers`, `reason`, `request`,
/// and `history` when redirected).
fn flat_info(head: &RespHead, history: &[RespHead]) -> Vec<(&'static str, Val)> {
    let mut out = vec![
        ("ok", Val::Bool(true)),
        ("url", Val::from(head.url.as_str())),
        ("code", Val::Int(i128::from(head.code))),
        ("headers", httplib::headers_dict(head)),
        (
            "reason",
            Val::from(httplib::codereason(i128::from(head.code))),
        ),
        (
            "request",
            dict(vec![
                ("url", Val::from(head.req_url.as_str())),
                ("headers", httplib::req_headers_dict(head)),
                ("method", Val::from(head.method.as_str())),
            ]),
        ),
    ];
    if !history.is_empty() {
        out.push((
            "history",
            new_list(history.iter().map(|h| dict(flat_info(h, &[]))).collect()),
        ));
    }
    out
}

fn fail_info(err: &HttpError) -> Vec<(&'static str, Val)> {
    vec![
        ("ok", Val::Bool(false)),
        ("mesg", Val::from(err.text())),
        ("code", Val::Int(-1)),
        (
            "reason",
            Val::from(format!("Exception occurred during request: {}", err.text())),
        ),
        ("err", httplib::err_tuple(err)),
    ]
}

struct Hashes {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    sha512: sha2::Sha512,
}

impl Hashes {
    fn new() -> Self {
        Hashes {
            md5: md5::Md5::new(),
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            sha512: sha2::Sha512::new(),
        }
    }

    fn update(&mut self, byts: &[u8]) {
        self.md5.update(byts);
        self.sha1.update(byts);
        self.sha256.update(byts);
        self.sha512.update(byts);
    }

    fn finish(self) -> Val {
        dict(vec![
            ("md5", Val::from(hex::encode(self.md5.finalize()))),
            ("sha1", Val::from(hex::encode(self.sha1.finalize()))),
            ("sha256", Val::from(hex::encode(self.sha256.finalize()))),
            ("sha512", Val::from(hex::encode(self.sha512.finalize()))),
        ])
    }
}

/// Stream a response body (decoded) into the Axon: `(size, hashes)`.
async fn save_body(
    ax: &dyn AxonClient,
    head: &RespHead,
    mut body: Incoming,
) -> Result<(i128, Val), HttpError> {
    let axerr = |e: synapse_cell::Error| HttpError::other(e.name(), e.mesg());
    let Reply::Share(upload) = ax.call("upload", Args::default()).await.map_err(axerr)? else {
        return Err(HttpError::other(
            "StormRuntimeError",
            "the Axon gave no upload",
        ));
    };
    let mut hashes = Hashes::new();
    let mut dec = Some(httpc::Decoder::new(head));
    let result = async {
        while let Some(data) = httpc::next_chunk(&mut body, &mut dec).await? {
            hashes.update(&data);
            upload
                .call("write", args(vec![Value::Binary(data.to_vec())]))
                .await
                .map_err(axerr)?;
        }
        match upload.call("save", Args::default()).await.map_err(axerr)? {
            Reply::Value(v) => Ok(v
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_i64)
                .unwrap_or_default()),
            _ => Ok(0),
        }
    }
    .await;
    upload.fini().await;
    let size = result?;
    Ok((i128::from(size), hashes.finish()))
}

/// The arguments of `wget` / `wput` (their positions differ).
struct Transfer {
    req: HttpRequest,
    timeout: Option<std::time::Duration>,
}

fn transfer(
    runt: &Runt,
    a: &[Val],
    kw: &[(String, Val)],
    order: &[&str],
    method: &str,
) -> RResult<Transfer> {
    let g = |n: &str| arg(a, kw, order.iter().position(|o| *o == n), n);
    let url = g("url")
        .ok_or_else(|| rterr("missing 1 required positional argument: 'url'"))?
        .to_str()?;
    let method = match g("method") {
        Some(v) => v.to_str()?,
        None => method.to_owned(),
    };
    let mut headers = httplib::str_pairs(g("headers"), false)?;
    let params = httplib::str_pairs(g("params"), true)?;
    let (verify, ca_cert) = httplib::ssl_args(g("ssl"), g("ssl_opts"))?;
    let timeout = httplib::timeout_arg(g("timeout"), None)?;
    httplib::check_proxy(runt, g("proxy"), &["storm", "lib", "inet", "http", "proxy"])?;
    let body = httplib::body_args(g("json"), g("body"), &mut headers)?;
    let mut req = HttpRequest::new(&method, &url);
    req.headers = headers;
    req.params = params;
    req.body = body;
    req.verify = verify;
    req.ca_cert = ca_cert;
    Ok(Transfer { req, timeout })
}

const WGET_ARGS: &[&str] = &[
    "url", "headers", "params", "method", "json", "body", "ssl", "timeout", "proxy", "ssl_opts",
];

const WPUT_ARGS: &[&str] = &[
    "sha256", "url", "headers", "params", "method", "ssl", "timeout", "proxy", "ssl_opts",
];

/// `$lib.axon.wget()`: the Axon's info dict plus `original_url`.
async fn wget(runt: &Arc<Runt>, a: &[Val], kw: &[(String, Val)]) -> RResult<Val> {
    confirm_either(runt, "wget")?;
    let mut t = transfer(runt, a, kw, WGET_ARGS, "GET")?;
    t.req.ca_cert = httplib::with_ca_dir(runt, t.req.ca_cert.take()).await;
    let ax = axon(runt).await?;
    let got = httplib::with_timeout(t.timeout, async {
        let (hist, head, body) = httplib::send(&t.req).await?;
        let (size, hashes) = save_body(&*ax, &head, body).await?;
        Ok((hist, head, size, hashes))
    })
    .await;
    let mut info = match got {
        Ok((hist, head, size, hashes)) => {
            let mut info = flat_info(&head, &hist);
            info.push(("size", Val::Int(size)));
            info.push(("hashes", hashes));
            info
        }
        Err(err) => {
            tracing::warn!(url = %t.req.url, error = %err.text(), "wget failed");
            fail_info(&err)
        }
    };
    info.push(("original_url", Val::from(t.req.url.as_str())));
    Ok(dict(info))
}

/// `$lib.axon.wput()`: send a blob of the Axon as a request body.
async fn wput(runt: &Arc<Runt>, a: &[Val], kw: &[(String, Val)]) -> RResult<Val> {
    confirm_either(runt, "wput")?;
    let sha = arg(a, kw, Some(0), "sha256")
        .ok_or_else(|| rterr("wput() missing 1 required positional argument: 'sha256'"))?
        .to_str()?;
    let sha = uhex(&sha)?;
    let mut t = transfer(runt, a, kw, WPUT_ARGS, "PUT")?;
    t.req.ca_cert = httplib::with_ca_dir(runt, t.req.ca_cert.take()).await;
    let ax = axon(runt).await?;
    let got = httplib::with_timeout(t.timeout, async {
        let has = ax.call("has", args(vec![Value::Binary(sha.clone())])).await;
        if !matches!(has, Ok(Reply::Value(Value::Boolean(true)))) {
            return Err(HttpError::other(
                "NoSuchFile",
                format!(
                    "Axon does not contain the requested file: {}",
                    hex::encode(&sha)
                ),
            ));
        }
        let reply = ax
            .call("get", args(vec![Value::Binary(sha.clone())]))
            .await
            .map_err(|e| HttpError::other(e.name(), e.mesg()))?;
        let Reply::Genr(chunks) = reply else {
            return Err(HttpError::other(
                "StormRuntimeError",
                "bad reply from the Axon's get",
            ));
        };
        let chunks = chunks.map_ok(|v| match v {
            Value::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        });
        let chunks = chunks.map_err(|e| std::io::Error::other(e.mesg().to_owned()));
        t.req.body = Some(httpc::once_body(chunks.boxed()));
        let (_hist, head, body) = httplib::send(&t.req).await?;
        drop(body);
        Ok(head)
    })
    .await;
    Ok(dict(match got {
        Ok(head) => vec![
            ("ok", Val::Bool(true)),
            ("url", Val::from(head.url.as_str())),
            ("code", Val::Int(i128::from(head.code))),
            (
                "reason",
                Val::from(httplib::codereason(i128::from(head.code))),
            ),
            ("headers", httplib::headers_dict(&head)),
        ],
        Err(err) => fail_info(&err),
    }))
}

fn info_get(info: &Val, name: &str) -> Val {
    match info {
        Val::Dict(d) => super::value::lock(d)
            .get(&Key::Str(Arc::from(name)))
            .cloned()
            .unwrap_or(Val::Null),
        _ => Val::Null,
    }
}

/// `$lib.axon.urlfile()`: wget, then `file:bytes`, `inet:urlfile` and `inet:urlredir` nodes.
async fn urlfile(runt: &Arc<Runt>, a: &[Val], kw: &[(String, Val)]) -> RResult<Val> {
    runt.layer_confirm(&["node", "add", "file:bytes"])?;
    runt.layer_confirm(&["node", "add", "inet:urlfile"])?;
    let resp = wget(runt, a, kw).await?;
    let code = info_get(&resp, "code");
    if !matches!(code, Val::Int(200)) {
        let reason = info_get(&resp, "reason");
        let pystr = |v: &Val| match v {
            Val::Str(s) => s.to_string(),
            Val::Null => "None".to_owned(),
            other => other.repr(),
        };
        let mesg = format!(
            "$lib.axon.urlfile(): HTTP code {}: {}",
            pystr(&code),
            pystr(&reason)
        );
        runt.shared.warn(&mesg, Vec::new()).await;
        return Ok(Val::Null);
    }
    let original = info_get(&resp, "original_url").to_str()?;
    let hashes = info_get(&resp, "hashes");
    let sha256 = info_get(&hashes, "sha256").to_str()?;
    let now = Value::from("now");
    let props = vec![
        ("size".to_owned(), info_get(&resp, "size").to_msgpack()?),
        ("md5".to_owned(), info_get(&hashes, "md5").to_msgpack()?),
        ("sha1".to_owned(), info_get(&hashes, "sha1").to_msgpack()?),
        ("sha256".to_owned(), Value::from(sha256.as_str())),
        (".seen".to_owned(), now.clone()),
    ];
    let mut editor = runt.shared.editor.lock().await;
    let fbuid = editor
        .add_node_props("file:bytes", &Value::from(sha256.as_str()), &props)
        .await
        .map_err(Flow::from)?;
    runt.flush(&mut editor).await?;
    if let Some(fbuid) = fbuid
        && let Some(fnode) = runt.view.get_node(fbuid).await.map_err(Flow::from)?
        && fnode.get("name").is_none()
    {
        let path = original
            .parse::<http::Uri>()
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        if let Some(base) = path.trim_matches('/').rsplit('/').next()
            && !base.is_empty()
        {
            editor
                .set_prop(&fbuid, "name", &Value::from(base))
                .await
                .map_err(Flow::from)?;
        }
    }
    let ufval = Value::Array(vec![
        Value::from(original.as_str()),
        Value::from(sha256.as_str()),
    ]);
    let ubuid = editor
        .add_node_props("inet:urlfile", &ufval, &[(".seen".to_owned(), now.clone())])
        .await
        .map_err(Flow::from)?;
    if let Val::List(_) | Val::Tuple(_) = info_get(&resp, "history") {
        let hist = info_get(&resp, "history").seq_items().unwrap_or_default();
        let mut src = original.clone();
        let mut redirs = Vec::new();
        for info in hist.iter().skip(1) {
            let url = info_get(info, "url").to_str()?;
            redirs.push((src.clone(), url.clone()));
            src = url;
        }
        redirs.push((src, info_get(&resp, "url").to_str()?));
        for (from, to) in redirs {
            let valu = Value::Array(vec![Value::from(from), Value::from(to)]);
            editor
                .add_node_props("inet:urlredir", &valu, &[(".seen".to_owned(), now.clone())])
                .await
                .map_err(Flow::from)?;
        }
    }
    runt.flush(&mut editor).await?;
    drop(editor);
    match ubuid {
        Some(buid) => Ok(runt
            .view
            .get_node(buid)
            .await
            .map_err(Flow::from)?
            .map(|n| Val::Node(Arc::new(n)))
            .unwrap_or(Val::Null)),
        None => Ok(Val::Null),
    }
}

// ----- the wget command -----

/// The definition of the `wget` command (made by `tests/storm_rt/gen_cmddefs_ext.py wget`).
pub(crate) const CMDDEFS: &str = include_str!("cmddefs_http.json");

/// Whether this module runs the command.
pub(crate) fn handles(name: &str) -> bool {
    name == "wget"
}

/// The `urlfile` keyword arguments of the command's options.
fn wget_kwargs(opts: &Opts) -> Vec<(String, Val)> {
    let opt = |n: &str| opts.get(n).cloned().unwrap_or(Val::Null);
    let headers = if opt("no_headers").truthy() {
        Val::Null
    } else {
        opt("headers")
    };
    vec![
        ("params".to_owned(), opt("params")),
        ("headers".to_owned(), headers),
        ("ssl".to_owned(), Val::Bool(!opt("no_ssl_verify").truthy())),
        ("timeout".to_owned(), opt("timeout")),
    ]
}

/// Run `wget`: each URL (of the arguments, else of the inbound `inet:url` node) fetched into
/// the Axon, its `inet:urlfile` node yielded in place of the inbound node.
pub(crate) fn run(
    runt: &Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    async_stream::try_stream! {
        let mut count = 0usize;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            count += 1;
            let urls = opts.get("urls").and_then(Val::seq_items).unwrap_or_default();
            let urls = if urls.is_empty() {
                if item.node.form != "inet:url" {
                    runt.shared
                        .warn("wget can only take inet:url nodes as input without args.", Vec::new())
                        .await;
                    Err(Flow::Exit)?;
                }
                vec![Val::from_msgpack(&item.node.valu)]
            } else {
                urls
            };
            let kwargs = wget_kwargs(&opts);
            for url in urls {
                if let Val::Node(node) = urlfile(&runt, &[url], &kwargs).await? {
                    let path = item.path.fork(&item.node, &node, || {
                        Value::Map(vec![(Value::from("type"), Value::from("runtime"))])
                    });
                    yield Item { node, path };
                }
            }
        }
        if runtsafe && count == 0 && let Some(opts) = idle {
            let kwargs = wget_kwargs(&opts);
            for url in opts.get("urls").and_then(Val::seq_items).unwrap_or_default() {
                if let Val::Node(node) = urlfile(&runt, &[url], &kwargs).await? {
                    let path = runt.init_path(&node);
                    yield Item { node, path };
                }
            }
        }
    }
    .boxed()
}
