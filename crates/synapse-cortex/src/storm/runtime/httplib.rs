//! `$lib.inet.http` (`get`, `post`, `head`, `request`, `urlencode`, `urldecode`,
//! `codereason`), its `inet:http:resp` object, and the small HTTP/1.1 client (plain or TLS,
//! redirects followed) that `$lib.axon.wget` / `wput` also use.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Frame, Incoming};
use indexmap::IndexMap;
use rmpv::Value;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use super::error::{Flow, RResult, StormError, rterr};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Key, Obj, Val, new_dict, new_list};

/// The libraries of this module.
const LIBS: &[&str] = &["lib.inet", "lib.inet.http"];

/// Redirects followed before giving up (aiohttp's default).
const MAX_REDIRECTS: usize = 10;

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
        ],
        _ => &[],
    }
}

// ----- the client -----

/// A failed request: the reference's error class name and message.
#[derive(Debug, Clone)]
pub(crate) struct HttpError {
    pub(crate) name: String,
    pub(crate) mesg: Option<String>,
}

impl HttpError {
    fn new(name: &str, mesg: impl Into<String>) -> Self {
        HttpError {
            name: name.to_owned(),
            mesg: Some(mesg.into()),
        }
    }

    /// The `err` tuple of a response: `(name, {mesg})`.
    pub(crate) fn err_tuple(&self) -> Val {
        let mut info = IndexMap::new();
        if let Some(mesg) = &self.mesg {
            info.insert(Key::Str(Arc::from("mesg")), Val::from(mesg.as_str()));
        }
        Val::Tuple(Arc::from(vec![
            Val::from(self.name.as_str()),
            new_dict(info),
        ]))
    }

    /// `name: mesg` (or the name alone).
    pub(crate) fn text(&self) -> String {
        match &self.mesg {
            Some(mesg) => format!("{}: {mesg}", self.name),
            None => self.name.clone(),
        }
    }

    fn timeout() -> Self {
        HttpError {
            name: "TimeoutError".to_owned(),
            mesg: None,
        }
    }
}

/// A request body.
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// An empty request body.
pub(crate) fn empty_body() -> ReqBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body of bytes held in memory.
pub(crate) fn full_body(byts: Vec<u8>) -> ReqBody {
    http_body_util::Full::new(Bytes::from(byts))
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body streamed from chunks.
pub(crate) fn stream_body(
    chunks: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
) -> ReqBody {
    http_body_util::StreamBody::new(chunks.map(|c| c.map(Frame::data))).boxed_unsync()
}

/// What to send.
pub(crate) struct HttpRequest {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) params: Vec<(String, String)>,
    /// The body (a function: redirects that keep the body send it again).
    pub(crate) body: Option<Arc<dyn Fn() -> ReqBody + Send + Sync>>,
    pub(crate) verify: bool,
    pub(crate) ca_cert: Option<String>,
    pub(crate) redirects: bool,
}

/// The head of one response (and of the request that got it).
#[derive(Debug, Clone)]
pub(crate) struct RespHead {
    pub(crate) code: u16,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) method: String,
    pub(crate) req_url: String,
    pub(crate) req_headers: Vec<(String, String)>,
}

impl RespHead {
    /// The response headers as a dict (the last value of a repeated header wins).
    pub(crate) fn headers_dict(&self) -> Val {
        pairs_dict(&self.headers)
    }

    /// The request headers as a dict.
    pub(crate) fn req_headers_dict(&self) -> Val {
        pairs_dict(&self.req_headers)
    }
}

fn pairs_dict(pairs: &[(String, String)]) -> Val {
    let mut out = IndexMap::new();
    for (k, v) in pairs {
        out.insert(Key::Str(Arc::from(k.as_str())), Val::from(v.as_str()));
    }
    new_dict(out)
}

/// Percent-encode as Python's `quote_plus` (`safe` characters kept).
pub(crate) fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Python's `unquote_plus` (invalid escapes kept as they are, bad UTF-8 replaced).
pub(crate) fn unquote_plus(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn with_params(url: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return url.to_owned();
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", query.join("&"))
}

/// Where a `Location` points, from the URL that sent it.
fn resolve_location(base: &http::Uri, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_owned();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let auth = base.authority().map(|a| a.as_str()).unwrap_or("");
    if let Some(rest) = loc.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if loc.starts_with('/') {
        return format!("{scheme}://{auth}{loc}");
    }
    let path = base.path();
    let dir = match path.rfind('/') {
        Some(idx) => &path[..=idx],
        None => "/",
    };
    format!("{scheme}://{auth}{dir}{loc}")
}

fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let paths = [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ];
        for path in paths {
            if let Ok(byts) = std::fs::read(path) {
                return rustls_pemfile::certs(&mut byts.as_slice())
                    .filter_map(Result::ok)
                    .collect();
            }
        }
        Vec::new()
    })
}

/// Accepts any server certificate (`ssl_verify=false`).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(verify: bool, ca_cert: Option<&str>) -> Result<rustls::ClientConfig, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::new("ClientSSLError", e.to_string()))?;
    if !verify {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in system_roots() {
        let _ = roots.add(cert.clone());
    }
    if let Some(pem) = ca_cert {
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|e| HttpError::new("BadArg", e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| HttpError::new("BadArg", e.to_string()))?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

async fn connect(
    uri: &http::Uri,
    verify: bool,
    ca_cert: Option<&str>,
) -> Result<hyper::client::conn::http1::SendRequest<ReqBody>, HttpError> {
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(HttpError::new("InvalidURL", uri.to_string())),
    };
    let host = uri
        .host()
        .ok_or_else(|| HttpError::new("InvalidURL", uri.to_string()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| {
            let ssl = if !https || verify { "default" } else { "False" };
            HttpError::new(
                "ClientConnectorError",
                format!("Cannot connect to host {host}:{port} ssl:{ssl} [{e}]"),
            )
        })?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if https {
        let config = tls_config(verify, ca_cert)?;
        let name = ServerName::try_from(host.clone())
            .map_err(|_| HttpError::new("InvalidURL", uri.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| {
                HttpError::new(
                    "ClientConnectorCertificateError",
                    format!("Cannot connect to host {host}:{port} ssl:True [{e}]"),
                )
            })?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| HttpError::new("ClientOSError", e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// Send a request, following redirects when asked: the heads of the redirects, then the
/// final head and its body.
pub(crate) async fn send(
    req: &HttpRequest,
) -> Result<(Vec<RespHead>, RespHead, Incoming), HttpError> {
    let mut url = with_params(&req.url, &req.params);
    let mut method = req.method.to_ascii_uppercase();
    let mut body = req.body.clone();
    let mut history = Vec::new();
    loop {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| HttpError::new("InvalidURL", url.clone()))?;
        let mut send = connect(&uri, req.verify, req.ca_cert.as_deref()).await?;
        let auth = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let mut req_headers: Vec<(String, String)> = Vec::new();
        let has = |name: &str| {
            req.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            req_headers.push(("Host".to_owned(), auth.clone()));
        }
        if !has("accept") {
            req_headers.push(("Accept".to_owned(), "*/*".to_owned()));
        }
        if !has("accept-encoding") {
            req_headers.push(("Accept-Encoding".to_owned(), "gzip, deflate".to_owned()));
        }
        if !has("user-agent") {
            req_headers.push(("User-Agent".to_owned(), "synapse-rs".to_owned()));
        }
        req_headers.extend(req.headers.iter().cloned());
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let mut builder = http::Request::builder()
            .method(method.as_str())
            .uri(path.as_str());
        for (k, v) in &req_headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let reqbody = match &body {
            Some(make) => make(),
            None => empty_body(),
        };
        let request = builder
            .body(reqbody)
            .map_err(|e| HttpError::new("BadArg", e.to_string()))?;
        let resp = send
            .send_request(request)
            .await
            .map_err(|e| HttpError::new("ServerDisconnectedError", e.to_string()))?;
        let code = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    title_case(k.as_str()),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect();
        let head = RespHead {
            code,
            url: url.clone(),
            headers,
            method: method.clone(),
            req_url: url.clone(),
            req_headers,
        };
        let location = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(loc) if req.redirects && matches!(code, 301 | 302 | 303 | 307 | 308) => {
                if history.len() >= MAX_REDIRECTS {
                    return Err(HttpError::new("TooManyRedirects", url));
                }
                history.push(head);
                url = resolve_location(&uri, &loc);
                if code == 303 && method != "HEAD" || matches!(code, 301 | 302) && method == "POST"
                {
                    method = "GET".to_owned();
                    body = None;
                }
            }
            _ => return Ok((history, head, resp.into_body())),
        }
    }
}

/// HTTP header names as aiohttp reports them (`Content-Type`).
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        if up {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        up = c == '-';
    }
    out
}

/// Undoes a `Content-Encoding` (`gzip`, `deflate`) as the body streams in, as aiohttp does.
pub(crate) enum Decoder {
    Identity,
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
}

fn payload_error(err: impl std::fmt::Display) -> HttpError {
    HttpError::new(
        "ClientPayloadError",
        format!("400, message='Can not decode content-encoding: {err}'"),
    )
}

impl Decoder {
    /// The decoder for a response's headers.
    pub(crate) fn new(head: &RespHead) -> Decoder {
        let enc = head
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-encoding"))
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        match enc.as_deref() {
            Some("gzip" | "x-gzip") => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            Some("deflate") => Decoder::Zlib(flate2::write::ZlibDecoder::new(Vec::new())),
            _ => Decoder::Identity,
        }
    }

    /// The decoded bytes of the next chunk.
    pub(crate) fn feed(&mut self, data: Bytes) -> Result<Bytes, HttpError> {
        use std::io::Write;
        match self {
            Decoder::Identity => Ok(data),
            Decoder::Gzip(dec) => {
                dec.write_all(&data).map_err(payload_error)?;
                Ok(Bytes::from(std::mem::take(dec.get_mut())))
            }
            Decoder::Zlib(dec) => {
                dec.write_all(&data).map_err(payload_error)?;
                Ok(Bytes::from(std::mem::take(dec.get_mut())))
            }
        }
    }

    /// The last decoded bytes.
    pub(crate) fn finish(self) -> Result<Bytes, HttpError> {
        match self {
            Decoder::Identity => Ok(Bytes::new()),
            Decoder::Gzip(dec) => dec.finish().map(Bytes::from).map_err(payload_error),
            Decoder::Zlib(dec) => dec.finish().map(Bytes::from).map_err(payload_error),
        }
    }
}

/// The next decoded chunk of a body (`None` at its end, after the decoder's tail).
pub(crate) async fn next_chunk(
    body: &mut Incoming,
    dec: &mut Option<Decoder>,
) -> Result<Option<Bytes>, HttpError> {
    loop {
        let Some(d) = dec.as_mut() else {
            return Ok(None);
        };
        match body.frame().await {
            Some(frame) => {
                let frame =
                    frame.map_err(|e| HttpError::new("ClientPayloadError", e.to_string()))?;
                if let Ok(data) = frame.into_data() {
                    let out = d.feed(data)?;
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
            }
            None => {
                let tail = dec.take().map(Decoder::finish).transpose()?;
                if let Some(tail) = tail
                    && !tail.is_empty()
                {
                    return Ok(Some(tail));
                }
                return Ok(None);
            }
        }
    }
}

/// Read a whole body (decoded).
pub(crate) async fn read_body(head: &RespHead, mut body: Incoming) -> Result<Vec<u8>, HttpError> {
    let mut dec = Some(Decoder::new(head));
    let mut out = Vec::new();
    while let Some(chunk) = next_chunk(&mut body, &mut dec).await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A total timeout around a request (`None`: no limit).
pub(crate) async fn with_timeout<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, HttpError>>,
) -> Result<T, HttpError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .unwrap_or_else(|_| Err(HttpError::timeout())),
        None => fut.await,
    }
}

/// Python's `HTTPStatus(code).phrase`, or its "unknown" text.
pub(crate) fn codereason(code: i128) -> String {
    let phrase = match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a Teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return format!("Unknown HTTP status code {code}"),
    };
    phrase.to_owned()
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
) -> RResult<Option<Arc<dyn Fn() -> ReqBody + Send + Sync>>> {
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
        let byts = Bytes::from(text.into_bytes());
        return Ok(Some(Arc::new(move || full_body(byts.to_vec()))));
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
    let byts = Bytes::from(byts);
    Ok(Some(Arc::new(move || full_body(byts.to_vec()))))
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
        ("headers", head.headers_dict()),
        ("url", Val::from(head.url.as_str())),
        ("body", Val::Bytes(Arc::from(body))),
        ("history", new_list(hist)),
        ("_raw_headers", new_list(raw)),
        ("request_headers", head.req_headers_dict()),
    ]);
    HttpResp {
        info,
        raw_headers: head.headers.clone(),
        history,
    }
}

fn err_resp(url: &str, err: &HttpError) -> HttpResp {
    let reason = match &err.mesg {
        Some(mesg) => format!("Exception occurred during request: {}: {mesg}", err.name),
        None => format!("Exception occurred during request: {}", err.name),
    };
    let info = dict(vec![
        ("err", err.err_tuple()),
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
            let req = HttpRequest {
                method,
                url: url.clone(),
                headers,
                params,
                body,
                verify,
                ca_cert,
                redirects,
            };
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
    fn quoting() {
        assert_eq!(
            quote_plus("http://a b/c?d=e&f"),
            "http%3A%2F%2Fa+b%2Fc%3Fd%3De%26f"
        );
        assert_eq!(
            unquote_plus("http%3A%2F%2Fgo+ogle.com"),
            "http://go ogle.com"
        );
        assert_eq!(unquote_plus("100%"), "100%");
        assert_eq!(unquote_plus("%zz%41"), "%zzA");
    }

    #[test]
    fn locations() {
        let base: http::Uri = "http://h:1/a/b?c".parse().unwrap();
        assert_eq!(resolve_location(&base, "/x"), "http://h:1/x");
        assert_eq!(resolve_location(&base, "y"), "http://h:1/a/y");
        assert_eq!(resolve_location(&base, "https://o/z"), "https://o/z");
        assert_eq!(resolve_location(&base, "//o/z"), "http://o/z");
    }

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

    #[test]
    fn reasons() {
        assert_eq!(codereason(404), "Not Found");
        assert_eq!(codereason(418), "I'm a Teapot");
        assert_eq!(codereason(999), "Unknown HTTP status code 999");
        assert_eq!(title_case("content-type"), "Content-Type");
    }
}
