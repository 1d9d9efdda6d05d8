//! `$lib.inet.http` (`get`, `post`, `head`, `request`, `urlencode`, `urldecode`,
//! `codereason`), its `inet:http:resp` object, and the Storm arguments and values around
//! [`synapse_cell::httpc`] (the HTTP client) that `$lib.axon.wget` / `wput` also use.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;

use super::error::{Flow, RResult, StormError, rterr};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Key, Obj, Val, new_dict, new_list};

/// The libraries of this module.
const LIBS: &[&str] = &["lib.inet", "lib.inet.http"];

/// Whether `path` is one of this module's libraries.
pub(crate) fn is_lib(path: &str) -> bool {
    LIBS.contains(&path)
}

/// `(path, functions)` of this module's libraries (storm docs).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    vec![(
        "lib.inet.http".to_owned(),
        lib_funcs("lib.inet.http").to_vec(),
    )]
}

/// The functions of one of this module's libraries.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.inet.http" => &[
            "get",
            "post",
            "head",
            "request",
            "urlencode",
            "urldecode",
            "codereason",
            "connect",
        ],
        _ => &[],
    }
}

// ----- the client (synapse_cell::httpc) and its Storm values -----

pub(crate) use synapse_cell::httpc::{
    BodyFn, HttpError, HttpRequest, RespHead, codereason, quote_plus, read_body, send,
    unquote_plus, with_timeout,
};

/// The `err` tuple of a response: `(name, {mesg})`.
pub(crate) fn err_tuple(err: &HttpError) -> Val {
    let mut info = IndexMap::new();
    if let Some(mesg) = err.mesg() {
        info.insert(Key::Str(Arc::from("mesg")), Val::from(mesg));
    }
    Val::Tuple(Arc::from(vec![Val::from(err.name()), new_dict(info)]))
}

/// Response headers as a dict (the last value of a repeated header wins).
pub(crate) fn headers_dict(head: &RespHead) -> Val {
    pairs_dict(&head.headers)
}

/// Request headers as a dict.
pub(crate) fn req_headers_dict(head: &RespHead) -> Val {
    pairs_dict(&head.req_headers)
}

fn pairs_dict(pairs: &[(String, String)]) -> Val {
    let mut out = IndexMap::new();
    for (k, v) in pairs {
        out.insert(Key::Str(Arc::from(k.as_str())), Val::from(v.as_str()));
    }
    new_dict(out)
}

// ----- Storm arguments shared with $lib.axon -----

pub(crate) fn arg(
    args: &[Val],
    kwargs: &[(String, Val)],
    idx: Option<usize>,
    name: &str,
) -> Option<Val> {
    idx.and_then(|i| args.get(i).cloned()).or_else(|| {
        kwargs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

/// Headers / params as string pairs (`strifyHttpArg`; `multi` expands list values).
pub(crate) fn str_pairs(valu: Option<Val>, multi: bool) -> RResult<Vec<(String, String)>> {
    let Some(valu) = valu else {
        return Ok(Vec::new());
    };
    let prim = match valu {
        Val::Null => return Ok(Vec::new()),
        other => other.to_msgpack()?,
    };
    let mut out = Vec::new();
    match &prim {
        Value::Map(items) => {
            for (k, v) in items {
                let k = prim_str(k);
                match v {
                    Value::Array(vals) if multi => {
                        for v in vals {
                            out.push((k.clone(), prim_str(v)));
                        }
                    }
                    v => out.push((k, prim_str(v))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item.as_array().map(Vec::as_slice) {
                    Some([k, v]) => out.push((prim_str(k), prim_str(v))),
                    _ => return Err(rterr("HTTP arguments must be (name, value) pairs")),
                }
            }
        }
        _ => return Err(rterr("HTTP arguments must be a dict or a list of pairs")),
    }
    Ok(out)
}

/// Python's `str()` of a primitive.
fn prim_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
        Value::Nil => "None".to_owned(),
        Value::Boolean(true) => "True".to_owned(),
        Value::Boolean(false) => "False".to_owned(),
        other => Val::from_msgpack(other).repr(),
    }
}

/// `ssl_opts` (`verify`, `ca_cert`); the `verify` argument overrides `ssl_opts.verify`.
pub(crate) fn ssl_args(verify: Option<Val>, opts: Option<Val>) -> RResult<(bool, Option<String>)> {
    let mut ok = true;
    let mut ca = None;
    if let Some(Val::Dict(_)) = &opts
        && let Some(opts) = opts
    {
        let prim = opts.to_msgpack()?;
        if let Value::Map(items) = prim {
            for (k, v) in items {
                match k.as_str() {
                    Some("verify") => ok = !matches!(v, Value::Boolean(false) | Value::Nil),
                    Some("ca_cert") => ca = v.as_str().map(str::to_owned),
                    Some("client_cert" | "client_key") => {
                        return Err(Flow::Err(StormError::new(
                            "BadArg",
                            "ssl_opts client_cert / client_key are not supported.",
                        )));
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(v) = verify
        && !matches!(v, Val::Null)
    {
        ok = v.truthy();
    }
    Ok((ok, ca))
}

/// The PEM text of the CA certificates in the Cortex's `tls:ca:dir` (trusted when verifying,
/// as the reference's SSL contexts do), added to `ca_cert`.
pub(crate) async fn with_ca_dir(runt: &Runt, ca_cert: Option<String>) -> Option<String> {
    let dirn = super::ext::cortex(runt)
        .ok()
        .and_then(|core| core.cell().conf().get_str("tls:ca:dir").map(str::to_owned));
    let Some(dirn) = dirn else {
        return ca_cert;
    };
    let mut pem = ca_cert.unwrap_or_default();
    if let Ok(mut entries) = tokio::fs::read_dir(&dirn).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "crt" | "pem") {
                continue;
            }
            if let Ok(text) = tokio::fs::read_to_string(&path).await {
                pem.push('\n');
                pem.push_str(&text);
            }
        }
    }
    Some(pem)
}

/// Refuse proxies (not supported): a proxy URL needs `storm.lib.inet.http.proxy` first.
pub(crate) fn check_proxy(runt: &Runt, proxy: Option<Val>, perm: &[&str]) -> RResult<()> {
    if let Some(Val::Str(_)) = proxy {
        runt.confirm(perm, None)?;
        return Err(Flow::Err(StormError::new(
            "BadArg",
            "HTTP proxies are not supported by this Cortex.",
        )));
    }
    Ok(())
}

/// A request body from `json` / `body` arguments.
pub(crate) fn body_args(
    json: Option<Val>,
    body: Option<Val>,
    headers: &mut Vec<(String, String)>,
) -> RResult<Option<BodyFn>> {
    let has_ctype = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if let Some(json) = json.filter(|v| !matches!(v, Val::Null)) {
        let prim = json.to_msgpack()?;
        let mut text = String::new();
        py_json(&prim, &mut text);
        if !has_ctype {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        return Ok(Some(synapse_cell::httpc::bytes_body(text.into_bytes())));
    }
    let byts = match body {
        None | Some(Val::Null) => return Ok(None),
        Some(Val::Bytes(b)) => {
            if !has_ctype {
                headers.push((
                    "Content-Type".to_owned(),
                    "application/octet-stream".to_owned(),
                ));
            }
            b.to_vec()
        }
        Some(Val::Str(s)) => {
            if !has_ctype {
                headers.push((
                    "Content-Type".to_owned(),
                    "text/plain; charset=utf-8".to_owned(),
                ));
            }
            s.as_bytes().to_vec()
        }
        Some(Val::Dict(d)) => {
            let prim = Val::Dict(d).to_msgpack()?;
            let mut parts = Vec::new();
            if let Value::Map(items) = prim {
                for (k, v) in items {
                    parts.push(format!(
                        "{}={}",
                        quote_plus(&prim_str(&k)),
                        quote_plus(&prim_str(&v))
                    ));
                }
            }
            if !has_ctype {
                headers.push((
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ));
            }
            parts.join("&").into_bytes()
        }
        Some(other) => return Err(rterr(format!("Invalid body type: {}", other.typename()))),
    };
    Ok(Some(synapse_cell::httpc::bytes_body(byts)))
}

/// JSON text as Python's `json.dumps` writes it (aiohttp's `json=`): `", "` and `": "`
/// separators, non-ASCII escaped.
fn py_json(valu: &Value, out: &mut String) {
    match valu {
        Value::String(text) => {
            let text = text.as_str().unwrap_or_default();
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_json(item, out);
            }
            out.push(']');
        }
        Value::Map(items) => {
            out.push('{');
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match k {
                    Value::String(_) => py_json(k, out),
                    other => py_json(&Value::from(prim_str(other)), out),
                }
                out.push_str(": ");
                py_json(v, out);
            }
            out.push('}');
        }
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        other => out.push_str(&super::lib::msgpack_to_json(other).to_string()),
    }
}

pub(crate) fn timeout_arg(valu: Option<Val>, default: Option<u64>) -> RResult<Option<Duration>> {
    match valu {
        None => Ok(default.map(Duration::from_secs)),
        Some(Val::Null) => Ok(None),
        Some(v) => {
            let secs = v.to_int()?;
            Ok((secs > 0).then(|| Duration::from_secs(secs as u64)))
        }
    }
}

// ----- the inet:http:resp object -----

/// An `inet:http:resp`: its info dict (`code`, `reason`, `body`, `headers`, `url`, `err`,
/// `history`, `request_headers`, `_raw_headers`).
#[derive(Debug)]
pub(crate) struct HttpResp {
    info: Val,
    raw_headers: Vec<(String, String)>,
    history: Vec<Arc<HttpResp>>,
}

impl HttpResp {
    fn get(&self, name: &str) -> Val {
        match &self.info {
            Val::Dict(d) => super::value::lock(d)
                .get(&Key::Str(Arc::from(name)))
                .cloned()
                .unwrap_or(Val::Null),
            _ => Val::Null,
        }
    }

    /// The info dict (the object's primitive).
    pub(crate) fn to_prim(&self) -> RResult<Value> {
        self.info.to_msgpack()
    }

    /// `$resp.name`
    pub(crate) fn attr(&self, name: &str) -> Option<Val> {
        match name {
            "code" | "reason" | "body" | "headers" | "url" | "request_headers" => {
                Some(self.get(name))
            }
            "err" => Some(match self.get("err") {
                Val::Null => Val::Tuple(Arc::from(Vec::new())),
                err => err,
            }),
            "history" => Some(new_list(
                self.history
                    .iter()
                    .map(|h| Val::Obj(Arc::new(Obj::HttpResp(Arc::clone(h)))))
                    .collect(),
            )),
            _ => None,
        }
    }

    /// `$resp.name(...)`
    pub(crate) fn call(&self, name: &str, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
        match name {
            "getRawHeaders" => {
                let mut out: IndexMap<Key, Val> = IndexMap::new();
                for (k, v) in &self.raw_headers {
                    let key = Key::Str(Arc::from(k.as_str()));
                    let entry = out.entry(key).or_insert_with(|| new_list(Vec::new()));
                    if let Val::List(l) = entry {
                        super::value::lock(l).push(Val::from(v.as_str()));
                    }
                }
                Ok(new_dict(out))
            }
            "json" => {
                let encoding = arg(args, kwargs, Some(0), "encoding");
                let body = match self.get("body") {
                    Val::Bytes(b) => b,
                    _ => Arc::from(Vec::new()),
                };
                let text = match encoding {
                    Some(Val::Str(enc))
                        if !matches!(&*enc.to_ascii_lowercase(), "utf8" | "utf-8") =>
                    {
                        if enc.eq_ignore_ascii_case("latin1") || enc.eq_ignore_ascii_case("latin-1")
                        {
                            body.iter().map(|&b| b as char).collect()
                        } else {
                            return Err(rterr(format!("unknown encoding: {enc}")));
                        }
                    }
                    _ => match std::str::from_utf8(&body) {
                        Ok(t) => t.to_owned(),
                        Err(e) => return Err(rterr(format!("'utf-8' codec can't decode: {e}"))),
                    },
                };
                let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    Flow::Err(
                        StormError::new(
                            "BadJsonText",
                            format!("Unable to decode HTTP response as json: {e}"),
                        )
                        .with("text", text.as_str()),
                    )
                })?;
                Ok(super::lib::json_to_val(&json))
            }
            "msgpack" => {
                let body = match self.get("body") {
                    Val::Bytes(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                let mut items = Vec::new();
                let mut rd = body.as_slice();
                while !rd.is_empty() {
                    match rmpv::decode::read_value(&mut rd) {
                        Ok(v) => items.push(Ok(GenItem::Val(Val::from_msgpack(&v)))),
                        Err(_) => break,
                    }
                }
                Ok(GenVal::val(futures::stream::iter(items).boxed()))
            }
            _ => Err(super::ext::nosuchname(name)),
        }
    }
}

fn dict(items: Vec<(&str, Val)>) -> Val {
    new_dict(
        items
            .into_iter()
            .map(|(k, v)| (Key::Str(Arc::from(k)), v))
            .collect(),
    )
}

fn head_resp(head: &RespHead, body: Vec<u8>, history: Vec<Arc<HttpResp>>) -> HttpResp {
    let raw: Vec<Val> = head
        .headers
        .iter()
        .map(|(k, v)| new_list(vec![Val::from(k.as_str()), Val::from(v.as_str())]))
        .collect();
    let hist: Vec<Val> = history.iter().map(|h| h.info.clone()).collect();
    let info = dict(vec![
        ("code", Val::Int(i128::from(head.code))),
        ("reason", Val::from(codereason(i128::from(head.code)))),
        ("headers", headers_dict(head)),
        ("url", Val::from(head.url.as_str())),
        ("body", Val::Bytes(Arc::from(body))),
        ("history", new_list(hist)),
        ("_raw_headers", new_list(raw)),
        ("request_headers", req_headers_dict(head)),
    ]);
    HttpResp {
        info,
        raw_headers: head.headers.clone(),
        history,
    }
}

fn err_resp(url: &str, err: &HttpError) -> HttpResp {
    let reason = err.reason();
    let info = dict(vec![
        ("err", err_tuple(err)),
        ("code", Val::Int(-1)),
        ("reason", Val::from(reason)),
        ("headers", new_dict(IndexMap::new())),
        ("url", Val::from(url)),
        ("body", Val::Bytes(Arc::from(Vec::new()))),
        ("history", new_list(Vec::new())),
        ("request_headers", new_dict(IndexMap::new())),
    ]);
    HttpResp {
        info,
        raw_headers: Vec::new(),
        history: Vec::new(),
    }
}

/// Call a function of `$lib.inet.http`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    if path != "lib.inet.http" {
        return Err(super::ext::nosuchname(name));
    }
    let a = |idx: Option<usize>, n: &str| arg(&args, &kwargs, idx, n);
    let text = |idx: usize, n: &str| -> RResult<String> {
        a(Some(idx), n)
            .ok_or_else(|| {
                rterr(format!(
                    "{name}() missing 1 required positional argument: '{n}'"
                ))
            })?
            .to_str()
    };
    match name {
        "connect" => super::websock::connect(runt, &args, &kwargs).await,
        "urlencode" => Ok(Val::from(quote_plus(&text(0, "text")?))),
        "urldecode" => Ok(Val::from(unquote_plus(&text(0, "text")?))),
        "codereason" => {
            let code = a(Some(0), "code")
                .ok_or_else(|| {
                    rterr("codereason() missing 1 required positional argument: 'code'")
                })?
                .to_int()?;
            Ok(Val::from(codereason(code)))
        }
        "get" | "head" | "post" | "request" => {
            // positional layouts of the reference's signatures
            let (method, shift) = match name {
                "request" => (text(0, "meth")?, 1),
                "get" => ("GET".to_owned(), 0),
                "head" => ("HEAD".to_owned(), 0),
                _ => ("POST".to_owned(), 0),
            };
            let url = text(shift, "url")?;
            let pos = |n: &str| -> Option<usize> {
                let order: &[&str] = match name {
                    "get" | "head" => &[
                        "url",
                        "headers",
                        "ssl_verify",
                        "params",
                        "timeout",
                        "allow_redirects",
                        "proxy",
                        "ssl_opts",
                    ],
                    "post" => &[
                        "url",
                        "headers",
                        "json",
                        "body",
                        "ssl_verify",
                        "params",
                        "timeout",
                        "allow_redirects",
                        "fields",
                        "proxy",
                        "ssl_opts",
                    ],
                    _ => &[
                        "meth",
                        "url",
                        "headers",
                        "json",
                        "body",
                        "ssl_verify",
                        "params",
                        "timeout",
                        "allow_redirects",
                        "fields",
                        "proxy",
                        "ssl_opts",
                    ],
                };
                order.iter().position(|o| *o == n)
            };
            let g = |n: &str| a(pos(n), n);
            let mut headers = str_pairs(g("headers"), false)?;
            let params = str_pairs(g("params"), true)?;
            let (verify, ca_cert) = ssl_args(g("ssl_verify"), g("ssl_opts"))?;
            let ca_cert = with_ca_dir(runt, ca_cert).await;
            let timeout = timeout_arg(g("timeout"), Some(300))?;
            let redirects = match g("allow_redirects") {
                Some(v) => v.truthy(),
                None => name != "head",
            };
            if g("fields").is_some_and(|v| !matches!(v, Val::Null)) {
                return Err(Flow::Err(StormError::new(
                    "BadArg",
                    "multipart fields are not supported by this Cortex.",
                )));
            }
            check_proxy(runt, g("proxy"), &["storm", "lib", "inet", "http", "proxy"])?;
            let body = body_args(g("json"), g("body"), &mut headers)?;
            let mut req = HttpRequest::new(&method, &url);
            req.headers = headers;
            req.params = params;
            req.body = body;
            req.verify = verify;
            req.ca_cert = ca_cert;
            req.redirects = redirects;
            let got = with_timeout(timeout, async {
                let (hist, head, body) = send(&req).await?;
                let body = if req.method.eq_ignore_ascii_case("HEAD") {
                    Vec::new()
                } else {
                    read_body(&head, body).await?
                };
                Ok((hist, head, body))
            })
            .await;
            let resp = match got {
                Ok((hist, head, body)) => {
                    let history = hist
                        .iter()
                        .map(|h| Arc::new(head_resp(h, Vec::new(), Vec::new())))
                        .collect();
                    head_resp(&head, body, history)
                }
                Err(err) => {
                    tracing::warn!(url = %url, error = %err.text(), "storm http request failed");
                    err_resp(&url, &err)
                }
            };
            Ok(Val::Obj(Arc::new(Obj::HttpResp(Arc::new(resp)))))
        }
        _ => Err(super::ext::nosuchname(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json() {
        let mut out = String::new();
        let valu = Value::Map(vec![
            (
                Value::from("y"),
                Value::Array(vec![Value::from(1), Value::from("a\"é\n")]),
            ),
            (Value::from("x"), Value::Nil),
        ]);
        py_json(&valu, &mut out);
        assert_eq!(out, r#"{"y": [1, "a\"\u00e9\n"], "x": null}"#);
    }
}
