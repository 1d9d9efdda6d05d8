//! The Axon's HTTP transfers (`wget`, `wput`, `postfiles`) over [`synapse_cell::httpc`]:
//! their arguments as the reference takes them, and their result dicts.
//!
//! Argument errors (`ssl_opts` that break its schema, a bad `proxy`) are raised; everything
//! that goes wrong once the transfer starts (connection, TLS, timeout, a missing blob, the
//! upload) is reported in the result dict (`ok: False`, `err`, `reason`), as the reference
//! does. Bodies stream both ways: `wget` writes the response into an upload as it arrives,
//! `wput` and `postfiles` read blobs as the request is sent.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use rmpv::Value;
use synapse_cell::httpc::{self, HttpError, HttpRequest, Part, PartBody, RespHead, TlsOpts};
use synapse_cell::{ErrKind, map_get};
use tracing::Instrument;

use crate::axon::Axon;
use crate::hash::Sha256;
use crate::service::py_type;

type CellResult<T> = synapse_cell::Result<T>;

/// What went wrong during a transfer (reported in the result, not raised).
#[derive(Debug)]
pub(crate) enum Fail {
    /// The HTTP exchange failed.
    Http(HttpError),
    /// The Axon failed (a missing blob, the upload).
    Cell(synapse_cell::Error),
}

impl From<HttpError> for Fail {
    fn from(err: HttpError) -> Self {
        Fail::Http(err)
    }
}

impl From<crate::error::Error> for Fail {
    fn from(err: crate::error::Error) -> Self {
        Fail::Cell(err.into())
    }
}

impl Fail {
    fn name(&self) -> &str {
        match self {
            Fail::Http(err) => err.name(),
            Fail::Cell(err) => err.name(),
        }
    }

    fn mesg(&self) -> &str {
        match self {
            Fail::Http(err) => err.mesg().unwrap_or(""),
            Fail::Cell(err) => err.mesg(),
        }
    }

    /// The reference's `s_common.err()` tuple: `(name, {mesg, ...info})` (without the
    /// traceback fields `efile`, `eline`, `esrc`, `ename`).
    fn err_value(&self) -> Value {
        let mut info = vec![(Value::from("mesg"), Value::from(self.mesg()))];
        if let Fail::Cell(err) = self {
            for (k, v) in err.info() {
                if k != "mesg" {
                    info.push((Value::from(k.as_str()), v.clone()));
                }
            }
        }
        Value::Array(vec![Value::from(self.name()), Value::Map(info)])
    }

    /// `name: mesg`, or the name alone when the message is empty.
    fn text(&self) -> String {
        match self.mesg() {
            "" => self.name().to_owned(),
            mesg => format!("{}: {mesg}", self.name()),
        }
    }
}

/// The arguments every transfer takes.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) url: Value,
    pub(crate) params: Value,
    pub(crate) headers: Value,
    pub(crate) method: Value,
    pub(crate) ssl: Value,
    pub(crate) timeout: Value,
    pub(crate) proxy: Value,
    pub(crate) ssl_opts: Value,
}

/// A transfer ready to run: the request (without body) and its total time limit.
pub(crate) struct Prepared {
    pub(crate) req: HttpRequest,
    pub(crate) timeout: Option<Duration>,
}

fn schema(mesg: impl Into<String>) -> synapse_cell::Error {
    synapse_cell::Error::new(ErrKind::SchemaViolation, mesg)
}

fn type_error(mesg: impl Into<String>) -> synapse_cell::Error {
    synapse_cell::Error::new(ErrKind::TypeError, mesg)
}

/// `ssl` and `ssl_opts` checked as the reference's `getCachedSslCtx` (raised errors), plus the
/// CA certificates of `tls:ca:dir`.
async fn tls_opts(ssl: &Value, ssl_opts: &Value, cadir: Option<&str>) -> CellResult<TlsOpts> {
    let mut opts = TlsOpts {
        verify: true,
        ..TlsOpts::default()
    };
    let mut verify = None;
    match ssl_opts {
        Value::Nil => {}
        Value::Map(items) => {
            for (k, v) in items {
                let key = k.as_str().unwrap_or_default();
                let text = |v: &Value| -> CellResult<Option<String>> {
                    match v {
                        Value::Nil => Ok(None),
                        Value::String(s) => Ok(Some(s.as_str().unwrap_or_default().to_owned())),
                        _ => Err(schema(format!("data.{key} must be string or null"))),
                    }
                };
                match key {
                    "verify" => match v {
                        Value::Boolean(b) => verify = Some(*b),
                        _ => return Err(schema("data.verify must be boolean")),
                    },
                    "client_cert" => opts.client_cert = text(v)?,
                    "client_key" => opts.client_key = text(v)?,
                    "ca_cert" => opts.ca_cert = text(v)?,
                    other => {
                        return Err(schema(format!(
                            "data must not contain {{'{other}'}} properties"
                        )));
                    }
                }
            }
        }
        _ => return Err(schema("data must be object")),
    }
    match ssl {
        Value::Nil => {}
        Value::Boolean(b) => verify = Some(*b),
        _ => return Err(schema("data.verify must be boolean")),
    }
    opts.verify = verify.unwrap_or(true);
    if let Some(dirn) = cadir {
        let mut pem = opts.ca_cert.take().unwrap_or_default();
        if let Ok(mut entries) = tokio::fs::read_dir(dirn).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                if !entry.file_type().await.is_ok_and(|t| t.is_file()) {
                    continue;
                }
                match tokio::fs::read_to_string(entry.path()).await {
                    Ok(text) => {
                        pem.push('\n');
                        pem.push_str(&text);
                    }
                    Err(err) => {
                        tracing::warn!(path = %entry.path().display(), cause = %err, "cannot load a CA certificate");
                    }
                }
            }
        }
        opts.ca_cert = Some(pem);
    }
    Ok(opts)
}

/// The proxy to use (`True`/`None`: `http:proxy`, `False`: none, a string: that one).
fn resolve_proxy(proxy: &Value, conf: Option<&str>) -> CellResult<Option<String>> {
    match proxy {
        Value::Nil | Value::Boolean(true) => Ok(conf.map(str::to_owned)),
        Value::Boolean(false) => Ok(None),
        Value::String(s) => Ok(Some(s.as_str().unwrap_or_default().to_owned())),
        _ => Err(synapse_cell::Error::bad_arg(
            "HTTP proxy argument must be a string or bool.",
        )),
    }
}

/// Python's `str()` of a scalar (header and parameter values).
fn py_str(valu: &Value) -> String {
    match valu {
        Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
        Value::Nil => "None".to_owned(),
        Value::Boolean(true) => "True".to_owned(),
        Value::Boolean(false) => "False".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::F64(f) => py_float(*f),
        Value::F32(f) => py_float(f64::from(*f)),
        Value::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

fn py_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// `params` / `headers`: a dict or a list of pairs (`None`: nothing).
fn pairs(valu: &Value, what: &str) -> CellResult<Vec<(String, String)>> {
    match valu {
        Value::Nil => Ok(Vec::new()),
        Value::Map(items) => Ok(items.iter().map(|(k, v)| (py_str(k), py_str(v))).collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item.as_array().map(Vec::as_slice) {
                Some([k, v]) => Ok((py_str(k), py_str(v))),
                _ => Err(type_error(format!(
                    "{what} must be a dict or a list of pairs"
                ))),
            })
            .collect(),
        other => Err(type_error(format!(
            "{what} must be a dict or a list of pairs, not {}",
            py_type(other)
        ))),
    }
}

/// Check the common arguments (raising as the reference does before its request starts).
pub(crate) async fn prepare(
    axon_conf: &synapse_cell::Config,
    args: &Common,
    default_method: &str,
) -> CellResult<Prepared> {
    let tls = tls_opts(&args.ssl, &args.ssl_opts, axon_conf.get_str("tls:ca:dir")).await?;
    let proxy = resolve_proxy(&args.proxy, axon_conf.get_str("http:proxy"))?;
    let url = synapse_cell::req_str(&args.url, "url")?;
    let method = match &args.method {
        Value::Nil => default_method.to_owned(),
        other => synapse_cell::req_str(other, "method")?,
    };
    let timeout = match &args.timeout {
        Value::Nil => None,
        Value::Integer(i) => i.as_u64().filter(|n| *n > 0).map(Duration::from_secs),
        Value::F64(f) if f.is_finite() && *f > 0.0 => Some(Duration::from_secs_f64(*f)),
        Value::F32(f) if f.is_finite() && *f > 0.0 => Some(Duration::from_secs_f32(*f)),
        Value::F64(_) | Value::F32(_) => None,
        other => {
            return Err(type_error(format!(
                "timeout must be a number, not {}",
                py_type(other)
            )));
        }
    };
    let mut req = HttpRequest::new(&method, &url);
    req.params = pairs(&args.params, "params")?;
    req.headers = pairs(&args.headers, "headers")?;
    req.verify = tls.verify;
    req.ca_cert = tls.ca_cert;
    req.client_cert = tls.client_cert;
    req.client_key = tls.client_key;
    req.proxy = proxy;
    Ok(Prepared { req, timeout })
}

/// JSON text as Python's `json.dumps` writes it (aiohttp's `json=`): `", "` and `": "`
/// separators, non-ASCII escaped.
fn py_json(valu: &Value, out: &mut String) -> Result<(), Fail> {
    match valu {
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::F64(f) => out.push_str(&py_float(*f)),
        Value::F32(f) => out.push_str(&py_float(f64::from(*f))),
        Value::String(s) => {
            out.push('"');
            for c in s.as_str().unwrap_or_default().chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
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
                py_json(item, out)?;
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
                    Value::String(_) => py_json(k, out)?,
                    other => py_json(&Value::from(py_str(other)), out)?,
                }
                out.push_str(": ");
                py_json(v, out)?;
            }
            out.push('}');
        }
        other => {
            return Err(Fail::Cell(type_error(format!(
                "Object of type {} is not JSON serializable",
                py_type(other)
            ))));
        }
    }
    Ok(())
}

/// The `json` / `body` arguments of `wget` as a request body (and its `Content-Type`).
fn wget_body(req: &mut HttpRequest, json: &Value, body: &Value) -> Result<(), Fail> {
    if !json.is_nil() && !body.is_nil() {
        return Err(Fail::Cell(synapse_cell::Error::named(
            "ValueError",
            "data and json parameters can not be used at the same time",
        )));
    }
    let (ctype, byts) = match (json, body) {
        (Value::Nil, Value::Nil) => return Ok(()),
        (json, Value::Nil) => {
            let mut text = String::new();
            py_json(json, &mut text)?;
            ("application/json", text.into_bytes())
        }
        (_, Value::Binary(b)) => ("application/octet-stream", b.clone()),
        (_, Value::String(s)) => (
            "text/plain; charset=utf-8",
            s.as_str().unwrap_or_default().as_bytes().to_vec(),
        ),
        (_, Value::Map(items)) => {
            let form: Vec<String> = items
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        httpc::quote_plus(&py_str(k)),
                        httpc::quote_plus(&py_str(v))
                    )
                })
                .collect();
            (
                "application/x-www-form-urlencoded",
                form.join("&").into_bytes(),
            )
        }
        (_, other) => {
            return Err(Fail::Cell(type_error(format!(
                "Unsupported body type: {}",
                py_type(other)
            ))));
        }
    };
    if !req.has_header("content-type") {
        req.headers
            .push(("Content-Type".to_owned(), ctype.to_owned()));
    }
    req.body = Some(httpc::bytes_body(byts));
    Ok(())
}

fn kv(items: Vec<(&str, Value)>) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn headers_value(pairs: &[(String, String)]) -> Value {
    // A dict: the last value of a repeated header wins, at the place of the first.
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match out
            .iter_mut()
            .find(|(ok, _)| ok.as_str() == Some(k.as_str()))
        {
            Some(slot) => slot.1 = Value::from(v.as_str()),
            None => out.push((Value::from(k.as_str()), Value::from(v.as_str()))),
        }
    }
    Value::Map(out)
}

/// The reference's `_flatten_clientresponse`: `ok`, `url`, `code`, `headers`, `reason`,
/// `request` and, after redirects, `history`.
fn flatten(head: &RespHead, history: &[RespHead]) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        ("ok", Value::Boolean(true)),
        ("url", Value::from(head.url.as_str())),
        ("code", Value::from(head.code)),
        ("headers", headers_value(&head.headers)),
        (
            "reason",
            Value::from(httpc::codereason(i128::from(head.code))),
        ),
        (
            "request",
            kv(vec![
                ("url", Value::from(head.req_url.as_str())),
                ("headers", headers_value(&head.req_headers)),
                ("method", Value::from(head.method.as_str())),
            ]),
        ),
    ];
    if !history.is_empty() {
        out.push((
            "history",
            Value::Array(history.iter().map(|h| kv(flatten(h, &[]))).collect()),
        ));
    }
    out
}

/// The error result of `wget` / `wput`.
fn fail_value(fail: &Fail) -> Value {
    kv(vec![
        ("ok", Value::Boolean(false)),
        ("mesg", Value::from(fail.text())),
        ("code", Value::from(-1)),
        (
            "reason",
            Value::from(format!(
                "Exception occurred during request: {}",
                fail.text()
            )),
        ),
        ("err", fail.err_value()),
    ])
}

async fn timed<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, Fail>>,
) -> Result<T, Fail> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .unwrap_or(Err(Fail::Http(HttpError::Timeout))),
        None => fut.await,
    }
}

/// `wget`: fetch `url` and store the (decoded) response body as a blob, whatever the status.
pub(crate) async fn wget(axon: &Axon, prep: Prepared, json: &Value, body: &Value) -> Value {
    let Prepared { mut req, timeout } = prep;
    let url = req.url.clone();
    tracing::debug!(url = %url, "Wget called for [{url}].");
    let got = timed(timeout, async {
        wget_body(&mut req, json, body)?;
        let (history, head, mut resp) = httpc::send(&req).await?;
        let mut upload = axon.upload_hashset();
        let mut dec = Some(httpc::Decoder::new(&head));
        let res = async {
            while let Some(chunk) = httpc::next_chunk(&mut resp, &mut dec).await? {
                upload.write(chunk).await?;
            }
            Ok::<_, Fail>(upload.save_hashset().await?)
        }
        .await;
        if res.is_err() {
            upload.reset();
        }
        let (size, _sha256, hashset) = res?;
        Ok((history, head, size, hashset))
    })
    .instrument(tracing::debug_span!("axon.wget", url = %url))
    .await;
    match got {
        Ok((history, head, size, hashset)) => {
            let mut info = flatten(&head, &history);
            info.push(("size", Value::from(size)));
            let hashes = match hashset {
                Some(set) => kv(vec![
                    ("md5", Value::from(set.md5)),
                    ("sha1", Value::from(set.sha1)),
                    ("sha256", Value::from(set.sha256)),
                    ("sha512", Value::from(set.sha512)),
                ]),
                None => Value::Map(Vec::new()),
            };
            info.push(("hashes", hashes));
            kv(info)
        }
        Err(fail) => {
            tracing::warn!(url = %url, error = %fail.text(), "Failed to wget");
            fail_value(&fail)
        }
    }
}

/// A blob's bytes as a request body stream.
fn blob_stream(axon: &Axon, sha256: Sha256) -> BoxStream<'static, std::io::Result<Bytes>> {
    let axon = axon.clone();
    stream::once(async move { axon.get(&sha256, None).await })
        .map_ok(|chunks| chunks.map_ok(Bytes::from))
        .try_flatten()
        .map_err(std::io::Error::other)
        .boxed()
}

/// The reference's `_reqHas`: the blob must be present.
async fn req_has(axon: &Axon, sha256: Option<Sha256>, raw: &[u8]) -> Result<Sha256, Fail> {
    let missing = || {
        Fail::Cell(
            synapse_cell::Error::named("NoSuchFile", "Axon does not contain the requested file.")
                .with("sha256", hex::encode(raw)),
        )
    };
    let sha256 = sha256.ok_or_else(missing)?;
    match axon.size(&sha256).await? {
        Some(_) => Ok(sha256),
        None => Err(missing()),
    }
}

/// `wput`: send a blob as the request body (streamed), the response body unread.
pub(crate) async fn wput(axon: &Axon, prep: Prepared, sha: &Value) -> Value {
    let Prepared { mut req, timeout } = prep;
    let url = req.url.clone();
    let got = timed(timeout, async {
        // a sha256 that is not bytes fails inside the request, as in the reference
        let Value::Binary(sha) = sha else {
            return Err(Fail::Cell(type_error(format!(
                "a bytes-like object is required, not '{}'",
                py_type(sha)
            ))));
        };
        let sha256 = req_has(axon, Sha256::from_slice(sha), sha).await?;
        if !req.has_header("content-type") {
            req.headers.push((
                "Content-Type".to_owned(),
                "application/octet-stream".to_owned(),
            ));
        }
        req.body = Some(httpc::once_body(blob_stream(axon, sha256)));
        let (_history, head, _resp) = httpc::send(&req).await?;
        Ok(head)
    })
    .instrument(tracing::debug_span!("axon.wput", url = %url))
    .await;
    match got {
        Ok(head) => kv(vec![
            ("ok", Value::Boolean(true)),
            ("url", Value::from(head.url.as_str())),
            ("code", Value::from(head.code)),
            (
                "reason",
                Value::from(httpc::codereason(i128::from(head.code))),
            ),
            ("headers", headers_value(&head.headers)),
        ]),
        Err(fail) => {
            tracing::warn!(url = %url, error = %fail.text(), "Error streaming a blob");
            fail_value(&fail)
        }
    }
}

/// An optional string of a field (`None` when absent or `None`).
fn field_str(field: &Value, key: &str) -> Result<Option<String>, Fail> {
    match map_get(field, key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str().unwrap_or_default().to_owned())),
        Some(other) => Err(Fail::Cell(type_error(format!(
            "{key} must be an instance of str. Got: {}",
            py_str(other)
        )))),
    }
}

/// The multipart fields of `postfiles`.
async fn form_parts(axon: &Axon, fields: &Value) -> Result<Vec<Part>, Fail> {
    let items = match fields {
        Value::Array(items) => items.as_slice(),
        other => {
            return Err(Fail::Cell(type_error(format!(
                "'{}' object is not iterable",
                py_type(other)
            ))));
        }
    };
    let mut parts = Vec::with_capacity(items.len());
    for field in items {
        if !matches!(field, Value::Map(_)) {
            return Err(Fail::Cell(synapse_cell::Error::named(
                "AttributeError",
                format!("'{}' object has no attribute 'get'", py_type(field)),
            )));
        }
        let name = match map_get(field, "name") {
            Some(Value::String(s)) => s.as_str().unwrap_or_default().to_owned(),
            other => {
                let shown = other.cloned().unwrap_or(Value::Nil);
                return Err(Fail::Cell(
                    synapse_cell::Error::bad_arg(format!(
                        "Each field requires a \"name\" key with a string value: {}",
                        py_str(&shown)
                    ))
                    .with("name", shown),
                ));
            }
        };
        let mut filename = field_str(field, "filename")?;
        let content_type = field_str(field, "content_type")?;
        let transfer_encoding = field_str(field, "content_transfer_encoding")?;
        let sha = map_get(field, "sha256").filter(|v| synapse_cell::truthy(v));
        let body = match sha {
            Some(sha) => {
                let (raw, sha256) = match sha {
                    Value::String(s) => {
                        let raw = hex::decode(s.as_str().unwrap_or_default()).map_err(|e| {
                            Fail::Cell(synapse_cell::Error::named("Error", hex_mesg(&e)))
                        })?;
                        let sha256 = Sha256::from_slice(&raw);
                        (raw, sha256)
                    }
                    other => {
                        return Err(Fail::Cell(type_error(format!(
                            "argument should be bytes, buffer or ASCII string, not '{}'",
                            py_type(other)
                        ))));
                    }
                };
                let sha256 = req_has(axon, sha256, &raw).await?;
                PartBody::Stream(blob_stream(axon, sha256))
            }
            None => match map_get(field, "value") {
                Some(Value::String(s)) => PartBody::Text(s.as_str().unwrap_or_default().to_owned()),
                Some(Value::Binary(b)) => {
                    if filename.is_none() && transfer_encoding.is_none() {
                        filename = Some(name.clone());
                    }
                    PartBody::Bytes(Bytes::from(b.clone()))
                }
                other => {
                    let valu = other.cloned().unwrap_or(Value::Nil);
                    PartBody::Text(compact_json(&valu)?)
                }
            },
        };
        parts.push(Part {
            name,
            filename,
            content_type,
            transfer_encoding,
            body,
        });
    }
    Ok(parts)
}

fn hex_mesg(err: &hex::FromHexError) -> String {
    match err {
        hex::FromHexError::OddLength => "Odd-length string".to_owned(),
        _ => "Non-hexadecimal digit found".to_owned(),
    }
}

/// Compact JSON (the reference's `s_json.dumps`): no spaces, non-ASCII kept.
fn compact_json(valu: &Value) -> Result<String, Fail> {
    fn conv(valu: &Value) -> Result<serde_json::Value, Fail> {
        Ok(match valu {
            Value::Nil => serde_json::Value::Null,
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
                (Some(n), _) => serde_json::Value::from(n),
                (None, Some(n)) => serde_json::Value::from(n),
                _ => serde_json::Value::Null,
            },
            Value::F64(f) => serde_json::Value::from(*f),
            Value::F32(f) => serde_json::Value::from(f64::from(*f)),
            Value::String(s) => serde_json::Value::from(s.as_str().unwrap_or_default()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(conv).collect::<Result<_, _>>()?)
            }
            Value::Map(items) => {
                let mut out = serde_json::Map::new();
                for (k, v) in items {
                    out.insert(py_str(k), conv(v)?);
                }
                serde_json::Value::Object(out)
            }
            other => {
                return Err(Fail::Cell(synapse_cell::Error::named(
                    "MustBeJsonSafe",
                    format!("Type is not JSON serializable: {}", py_type(other)),
                )));
            }
        })
    }
    Ok(conv(valu)?.to_string())
}

/// `postfiles`: send `fields` as a `multipart/form-data` request (blobs streamed); the
/// response body is returned.
pub(crate) async fn postfiles(axon: &Axon, prep: Prepared, fields: &Value) -> Value {
    let Prepared { mut req, timeout } = prep;
    let url = req.url.clone();
    let got = timed(timeout, async {
        let parts = form_parts(axon, fields).await?;
        let (ctype, body) = httpc::multipart(parts);
        if !req.has_header("content-type") {
            req.headers.push(("Content-Type".to_owned(), ctype));
        }
        req.body = Some(httpc::once_body(body));
        let (_history, head, resp) = httpc::send(&req).await?;
        let body = httpc::read_body(&head, resp).await?;
        Ok((head, body))
    })
    .instrument(tracing::debug_span!("axon.postfiles", url = %url))
    .await;
    match got {
        Ok((head, body)) => kv(vec![
            ("ok", Value::Boolean(true)),
            ("url", Value::from(head.url.as_str())),
            ("code", Value::from(head.code)),
            ("body", Value::Binary(body)),
            (
                "reason",
                Value::from(httpc::codereason(i128::from(head.code))),
            ),
            ("headers", headers_value(&head.headers)),
        ]),
        Err(fail) => {
            tracing::warn!(url = %url, error = %fail.text(), "Error POSTing files");
            kv(vec![
                ("ok", Value::Boolean(false)),
                ("err", fail.err_value()),
                ("url", Value::from(url.as_str())),
                ("body", Value::Binary(Vec::new())),
                ("code", Value::from(-1)),
                (
                    "reason",
                    Value::from(format!(
                        "Exception occurred during request: {}",
                        fail.text()
                    )),
                ),
                ("headers", Value::Map(Vec::new())),
            ])
        }
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
                Value::Array(vec![Value::from(1), Value::from("a\"é\n"), Value::F64(2.0)]),
            ),
            (Value::from("x"), Value::Nil),
        ]);
        py_json(&valu, &mut out).unwrap();
        assert_eq!(out, r#"{"y": [1, "a\"\u00e9\n", 2.0], "x": null}"#);
        let mut out = String::new();
        assert!(py_json(&Value::Binary(vec![1]), &mut out).is_err());
        assert_eq!(
            compact_json(&Value::Map(vec![(Value::from("é"), Value::from(1))])).unwrap(),
            r#"{"é":1}"#
        );
    }

    #[test]
    fn proxies() {
        assert_eq!(
            resolve_proxy(&Value::Nil, Some("socks5://p")).unwrap(),
            Some("socks5://p".into())
        );
        assert_eq!(resolve_proxy(&Value::Boolean(true), None).unwrap(), None);
        assert_eq!(
            resolve_proxy(&Value::Boolean(false), Some("socks5://p")).unwrap(),
            None
        );
        assert_eq!(
            resolve_proxy(&Value::from("http://q"), None).unwrap(),
            Some("http://q".into())
        );
        let err = resolve_proxy(&Value::from(1), None).unwrap_err();
        assert_eq!(
            (err.name(), err.mesg()),
            ("BadArg", "HTTP proxy argument must be a string or bool.")
        );
    }

    #[tokio::test]
    async fn ssl_options() {
        let opts = tls_opts(&Value::Boolean(false), &Value::Nil, None)
            .await
            .unwrap();
        assert!(!opts.verify);
        let sslopts = Value::Map(vec![(Value::from("verify"), Value::Boolean(false))]);
        assert!(!tls_opts(&Value::Nil, &sslopts, None).await.unwrap().verify);
        // the ssl argument overrides ssl_opts.verify
        assert!(
            tls_opts(&Value::Boolean(true), &sslopts, None)
                .await
                .unwrap()
                .verify
        );
        let bad = Value::Map(vec![(Value::from("newp"), Value::Boolean(false))]);
        let err = tls_opts(&Value::Nil, &bad, None).await.unwrap_err();
        assert_eq!(err.name(), "SchemaViolation");
        let err = tls_opts(&Value::from(1), &Value::Nil, None)
            .await
            .unwrap_err();
        assert_eq!(err.name(), "SchemaViolation");
    }

    #[test]
    fn header_dicts() {
        let pairs = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
            ("A".to_owned(), "3".to_owned()),
        ];
        assert_eq!(
            headers_value(&pairs),
            Value::Map(vec![
                (Value::from("A"), Value::from("3")),
                (Value::from("B"), Value::from("2")),
            ])
        );
    }
}
