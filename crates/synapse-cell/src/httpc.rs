//! A small HTTP/1.1 client (plain or TLS, redirects followed, bodies streamed both ways) with
//! the reference's (aiohttp's) observable behaviour: its error class names and messages, its
//! default request headers, its redirect rules and its `Content-Encoding` decoding.
//!
//! Used by the Axon's `wget` / `wput` / `postfiles` and by the Cortex's `$lib.inet.http` and
//! `$lib.axon`. The caller builds an [`HttpRequest`], calls [`send`] (inside [`with_timeout`]
//! for a total limit), then reads the body with [`next_chunk`] / [`read_body`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), synapse_cell::httpc::HttpError> {
//! use synapse_cell::httpc::{self, HttpRequest};
//!
//! let req = HttpRequest::new("GET", "http://127.0.0.1:8080/file.txt");
//! let (_history, head, body) = httpc::send(&req).await?;
//! let byts = httpc::read_body(&head, body).await?;
//! println!("{} {}", head.code, byts.len());
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Frame, Incoming};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

/// Redirects followed before giving up (aiohttp's default).
pub const MAX_REDIRECTS: usize = 10;

/// A failed request, named as the reference's (aiohttp's) exception classes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL cannot be used (`InvalidURL`).
    #[error("InvalidURL: {0}")]
    InvalidUrl(String),
    /// The TCP connection failed (`ClientConnectorError`).
    #[error("ClientConnectorError: {0}")]
    Connect(String),
    /// The TLS handshake failed (`ClientConnectorCertificateError`).
    #[error("ClientConnectorCertificateError: {0}")]
    Certificate(String),
    /// The TLS settings cannot be used (`ClientSSLError`).
    #[error("ClientSSLError: {0}")]
    Ssl(String),
    /// The HTTP handshake failed (`ClientOSError`).
    #[error("ClientOSError: {0}")]
    Os(String),
    /// The server closed the connection before answering (`ServerDisconnectedError`).
    #[error("ServerDisconnectedError: {0}")]
    Disconnected(String),
    /// More than [`MAX_REDIRECTS`] redirects (`TooManyRedirects`).
    #[error("TooManyRedirects: {0}")]
    TooManyRedirects(String),
    /// The response body cannot be read or decoded (`ClientPayloadError`).
    #[error("ClientPayloadError: {0}")]
    Payload(String),
    /// The total time limit passed (`TimeoutError`, no message).
    #[error("TimeoutError")]
    Timeout,
    /// The proxy cannot be reached (`ProxyConnectionError`).
    #[error("ProxyConnectionError: {0}")]
    ProxyConnect(String),
    /// The proxy refused the tunnel or answered badly (`ProxyError`).
    #[error("ProxyError: {0}")]
    Proxy(String),
    /// A request argument is invalid (`BadArg`).
    #[error("BadArg: {0}")]
    BadArg(String),
    /// An error of the caller's layer (e.g. the Axon's `NoSuchFile`), by class name.
    #[error("{name}: {mesg}")]
    Other {
        /// The error class name.
        name: String,
        /// Its message.
        mesg: String,
    },
}

impl HttpError {
    /// An error of the caller's layer, by class name.
    pub fn other(name: impl Into<String>, mesg: impl Into<String>) -> Self {
        HttpError::Other {
            name: name.into(),
            mesg: mesg.into(),
        }
    }

    /// The reference's error class name, e.g. `"ClientConnectorError"`.
    pub fn name(&self) -> &str {
        match self {
            HttpError::InvalidUrl(_) => "InvalidURL",
            HttpError::Connect(_) => "ClientConnectorError",
            HttpError::Certificate(_) => "ClientConnectorCertificateError",
            HttpError::Ssl(_) => "ClientSSLError",
            HttpError::Os(_) => "ClientOSError",
            HttpError::Disconnected(_) => "ServerDisconnectedError",
            HttpError::TooManyRedirects(_) => "TooManyRedirects",
            HttpError::Payload(_) => "ClientPayloadError",
            HttpError::Timeout => "TimeoutError",
            HttpError::ProxyConnect(_) => "ProxyConnectionError",
            HttpError::Proxy(_) => "ProxyError",
            HttpError::BadArg(_) => "BadArg",
            HttpError::Other { name, .. } => name,
        }
    }

    /// The message (`None` for a timeout, whose Python `str()` is empty).
    pub fn mesg(&self) -> Option<&str> {
        match self {
            HttpError::InvalidUrl(m)
            | HttpError::Connect(m)
            | HttpError::Certificate(m)
            | HttpError::Ssl(m)
            | HttpError::Os(m)
            | HttpError::Disconnected(m)
            | HttpError::TooManyRedirects(m)
            | HttpError::Payload(m)
            | HttpError::BadArg(m)
            | HttpError::ProxyConnect(m)
            | HttpError::Proxy(m)
            | HttpError::Other { mesg: m, .. } => Some(m),
            HttpError::Timeout => None,
        }
    }

    /// `name: mesg` (or the name alone), the `mesg` of the reference's error results.
    pub fn text(&self) -> String {
        match self.mesg() {
            Some(mesg) => format!("{}: {mesg}", self.name()),
            None => self.name().to_owned(),
        }
    }

    /// `Exception occurred during request: name: mesg`, the `reason` of error results.
    pub fn reason(&self) -> String {
        format!("Exception occurred during request: {}", self.text())
    }
}

/// A request body.
pub type ReqBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Makes a request body (a function: redirects that keep the body send it again).
pub type BodyFn = Arc<dyn Fn() -> ReqBody + Send + Sync>;

/// An empty request body.
pub fn empty_body() -> ReqBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body of bytes held in memory.
pub fn full_body(byts: impl Into<Bytes>) -> ReqBody {
    http_body_util::Full::new(byts.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body streamed from chunks (sent chunked).
pub fn stream_body(chunks: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static) -> ReqBody {
    http_body_util::StreamBody::new(chunks.map(|c| c.map(Frame::data))).boxed_unsync()
}

/// A [`BodyFn`] sending the same bytes each time.
pub fn bytes_body(byts: impl Into<Bytes>) -> BodyFn {
    let byts: Bytes = byts.into();
    Arc::new(move || full_body(byts.clone()))
}

/// A [`BodyFn`] streaming `chunks` once (a redirect that keeps the body sends it empty).
pub fn once_body(chunks: BoxStream<'static, std::io::Result<Bytes>>) -> BodyFn {
    let once = Mutex::new(Some(stream_body(chunks)));
    Arc::new(move || {
        once.lock()
            .ok()
            .and_then(|mut b| b.take())
            .unwrap_or_else(empty_body)
    })
}

/// TLS settings of a request.
#[derive(Clone, Default)]
pub struct TlsOpts {
    /// Check the server's certificate (the system roots plus `ca_cert`).
    pub verify: bool,
    /// More trusted CA certificates (PEM).
    pub ca_cert: Option<String>,
    /// A client certificate chain for mutual TLS (PEM; may hold the key too).
    pub client_cert: Option<String>,
    /// The client certificate's key (PEM), when not in `client_cert`.
    pub client_key: Option<String>,
}

impl std::fmt::Debug for TlsOpts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOpts")
            .field("verify", &self.verify)
            .field("ca_cert", &self.ca_cert.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .finish_non_exhaustive()
    }
}

/// What to send.
#[derive(Clone)]
pub struct HttpRequest {
    /// The method (upper-cased when sent).
    pub method: String,
    /// The URL (query parameters in `params` are appended).
    pub url: String,
    /// Request headers, in order; the defaults (`Host`, `Accept`, `Accept-Encoding`,
    /// `User-Agent`) are added unless given.
    pub headers: Vec<(String, String)>,
    /// Query parameters (`quote_plus` encoded).
    pub params: Vec<(String, String)>,
    /// The body.
    pub body: Option<BodyFn>,
    /// Check the server's certificate.
    pub verify: bool,
    /// More trusted CA certificates (PEM).
    pub ca_cert: Option<String>,
    /// A client certificate (PEM) for mutual TLS.
    pub client_cert: Option<String>,
    /// The client certificate's key (PEM).
    pub client_key: Option<String>,
    /// Follow redirects.
    pub redirects: bool,
    /// A proxy to tunnel through: `http://[user:pass@]host:port` (HTTP `CONNECT`) or
    /// `socks5://[user:pass@]host:port` / `socks5h://...` (the target name is resolved by
    /// the proxy).
    pub proxy: Option<String>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("verify", &self.verify)
            .field("redirects", &self.redirects)
            .finish_non_exhaustive()
    }
}

impl HttpRequest {
    /// A request without headers, parameters or body, verifying TLS, following redirects.
    pub fn new(method: &str, url: &str) -> Self {
        HttpRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            params: Vec::new(),
            body: None,
            verify: true,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            redirects: true,
            proxy: None,
        }
    }

    /// Whether a header is set (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

/// The head of one response (and of the request that got it).
#[derive(Debug, Clone)]
pub struct RespHead {
    /// The status code.
    pub code: u16,
    /// The URL that answered.
    pub url: String,
    /// The response headers (title-cased names, in order).
    pub headers: Vec<(String, String)>,
    /// The request method.
    pub method: String,
    /// The request URL.
    pub req_url: String,
    /// The request headers sent.
    pub req_headers: Vec<(String, String)>,
}

/// Percent-encode as Python's `quote_plus` (`safe` characters kept).
pub fn quote_plus(text: &str) -> String {
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
pub fn unquote_plus(text: &str) -> String {
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

/// `url` with `params` appended as a query (`quote_plus` encoded).
pub fn with_params(url: &str, params: &[(String, String)]) -> String {
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

fn tls_config(req: &HttpRequest) -> Result<rustls::ClientConfig, HttpError> {
    let verify = req.verify;
    let ca_cert = req.ca_cert.as_deref();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Ssl(e.to_string()))?;
    if !verify {
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)));
        return client_auth(builder, req);
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in system_roots() {
        let _ = roots.add(cert.clone());
    }
    if let Some(pem) = ca_cert {
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|e| HttpError::BadArg(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| HttpError::BadArg(e.to_string()))?;
        }
    }
    client_auth(builder.with_root_certificates(roots), req)
}

/// The client certificate of mutual TLS, if any (`client_key` may be inside `client_cert`).
fn client_auth(
    builder: rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
    req: &HttpRequest,
) -> Result<rustls::ClientConfig, HttpError> {
    let Some(cert_pem) = req.client_cert.as_deref() else {
        return Ok(builder.with_no_client_auth());
    };
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| HttpError::Ssl(format!("bad client certificate: {e}")))?;
    let key_pem = req.client_key.as_deref().unwrap_or(cert_pem);
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(|e| HttpError::Ssl(format!("bad client key: {e}")))?
        .ok_or_else(|| HttpError::Ssl("no client key given".to_owned()))?;
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| HttpError::Ssl(e.to_string()))
}

/// A connected byte stream (TCP, or TLS over TCP).
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Open the connection of a request to `uri` (`http`/`https`, or `ws`/`wss` for a
/// WebSocket): through its proxy if any, with TLS by its options for `https`/`wss`.
pub async fn dial(uri: &http::Uri, req: &HttpRequest) -> Result<Box<dyn Io>, HttpError> {
    let https = match uri.scheme_str() {
        Some("http" | "ws") => false,
        Some("https" | "wss") => true,
        _ => return Err(HttpError::InvalidUrl(uri.to_string())),
    };
    let host = uri
        .host()
        .ok_or_else(|| HttpError::InvalidUrl(uri.to_string()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = match req.proxy.as_deref() {
        Some(proxy) => proxy::tunnel(proxy, &host, port).await?,
        None => TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| {
                let ssl = if !https || req.verify {
                    "default"
                } else {
                    "False"
                };
                HttpError::Connect(format!(
                    "Cannot connect to host {host}:{port} ssl:{ssl} [{e}]"
                ))
            })?,
    };
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if https {
        let config = tls_config(req)?;
        let name = ServerName::try_from(host.clone())
            .map_err(|_| HttpError::InvalidUrl(uri.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| {
                HttpError::Certificate(format!(
                    "Cannot connect to host {host}:{port} ssl:True [{e}]"
                ))
            })?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    Ok(io)
}

async fn connect(
    uri: &http::Uri,
    req: &HttpRequest,
) -> Result<hyper::client::conn::http1::SendRequest<ReqBody>, HttpError> {
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(HttpError::InvalidUrl(uri.to_string()));
    }
    let io = dial(uri, req).await?;
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| HttpError::Os(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// Send a request, following redirects when asked: the heads of the redirects, then the
/// final head and its body.
pub async fn send(req: &HttpRequest) -> Result<(Vec<RespHead>, RespHead, Incoming), HttpError> {
    let mut url = with_params(&req.url, &req.params);
    let mut method = req.method.to_ascii_uppercase();
    let mut body = req.body.clone();
    let mut history = Vec::new();
    loop {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| HttpError::InvalidUrl(url.clone()))?;
        let mut send = connect(&uri, req).await?;
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
            .map_err(|e| HttpError::BadArg(e.to_string()))?;
        let resp = send
            .send_request(request)
            .await
            .map_err(|e| HttpError::Disconnected(e.to_string()))?;
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
                    return Err(HttpError::TooManyRedirects(url));
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
pub fn title_case(name: &str) -> String {
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
pub enum Decoder {
    /// No encoding.
    Identity,
    /// `gzip` / `x-gzip`.
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    /// `deflate` (zlib).
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Identity => "Decoder::Identity",
            Decoder::Gzip(_) => "Decoder::Gzip",
            Decoder::Zlib(_) => "Decoder::Zlib",
        })
    }
}

fn payload_error(err: impl std::fmt::Display) -> HttpError {
    HttpError::Payload(format!(
        "400, message='Can not decode content-encoding: {err}'"
    ))
}

impl Decoder {
    /// The decoder for a response's headers.
    pub fn new(head: &RespHead) -> Decoder {
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
    pub fn feed(&mut self, data: Bytes) -> Result<Bytes, HttpError> {
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
    pub fn finish(self) -> Result<Bytes, HttpError> {
        match self {
            Decoder::Identity => Ok(Bytes::new()),
            Decoder::Gzip(dec) => dec.finish().map(Bytes::from).map_err(payload_error),
            Decoder::Zlib(dec) => dec.finish().map(Bytes::from).map_err(payload_error),
        }
    }
}

/// The next decoded chunk of a body (`None` at its end, after the decoder's tail).
pub async fn next_chunk(
    body: &mut Incoming,
    dec: &mut Option<Decoder>,
) -> Result<Option<Bytes>, HttpError> {
    loop {
        let Some(d) = dec.as_mut() else {
            return Ok(None);
        };
        match body.frame().await {
            Some(frame) => {
                let frame = frame.map_err(|e| HttpError::Payload(e.to_string()))?;
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
pub async fn read_body(head: &RespHead, mut body: Incoming) -> Result<Vec<u8>, HttpError> {
    let mut dec = Some(Decoder::new(head));
    let mut out = Vec::new();
    while let Some(chunk) = next_chunk(&mut body, &mut dec).await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A total timeout around a request (`None`: no limit).
pub async fn with_timeout<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, HttpError>>,
) -> Result<T, HttpError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .unwrap_or_else(|_| Err(HttpError::Timeout)),
        None => fut.await,
    }
}

/// Python's `HTTPStatus(code).phrase`, or its "unknown" text.
pub fn codereason(code: i128) -> String {
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

// ----- proxies -----

mod proxy {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::HttpError;

    /// The parts of a proxy URL.
    struct ProxyUrl {
        scheme: String,
        host: String,
        port: u16,
        auth: Option<(String, String)>,
    }

    fn parse(url: &str) -> Result<ProxyUrl, HttpError> {
        let bad = || HttpError::BadArg(format!("Invalid proxy URL: {url}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((auth, hostport)) => {
                let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
                (
                    Some((super::unquote_plus(user), super::unquote_plus(pass))),
                    hostport,
                )
            }
            None => (None, rest),
        };
        let default = match scheme.as_str() {
            "http" => 80,
            "socks5" | "socks5h" => 1080,
            _ => {
                return Err(HttpError::BadArg(format!(
                    "Unsupported proxy scheme: {scheme}"
                )));
            }
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || hostport.starts_with('[') => {
                (host, port.parse().map_err(|_| bad())?)
            }
            _ => (hostport, default),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad());
        }
        Ok(ProxyUrl {
            scheme,
            host: host.to_owned(),
            port,
            auth,
        })
    }

    /// A TCP stream to `host:port` through the proxy at `url`.
    pub(super) async fn tunnel(url: &str, host: &str, port: u16) -> Result<TcpStream, HttpError> {
        let proxy = parse(url)?;
        let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
            .await
            .map_err(|e| {
                let errno = e
                    .raw_os_error()
                    .map(|n| format!("[Errno {n}] "))
                    .unwrap_or_default();
                HttpError::ProxyConnect(format!(
                    "{errno}Couldn't connect to proxy {}:{} [{e}]",
                    proxy.host, proxy.port
                ))
            })?;
        let io = |e: std::io::Error| HttpError::Proxy(format!("proxy I/O failed: {e}"));
        if proxy.scheme == "http" {
            let target = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
            if let Some((user, pass)) = &proxy.auth {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
            }
            head.push_str("\r\n");
            tcp.write_all(head.as_bytes()).await.map_err(io)?;
            // Read the answer's head byte by byte: nothing of the tunnel may be consumed.
            let mut answer = Vec::new();
            while !answer.ends_with(b"\r\n\r\n") {
                if answer.len() > 16 * 1024 {
                    return Err(HttpError::Proxy("proxy answer too long".to_owned()));
                }
                let byte = tcp.read_u8().await.map_err(io)?;
                answer.push(byte);
            }
            let line = String::from_utf8_lossy(&answer);
            let status = line.lines().next().unwrap_or_default().to_owned();
            let code = status.split_whitespace().nth(1).unwrap_or_default();
            if code != "200" {
                return Err(HttpError::Proxy(format!("Proxy server error: {status}")));
            }
            return Ok(tcp);
        }
        // SOCKS5 (RFC 1928), with username/password (RFC 1929) when the URL has them.
        let method = if proxy.auth.is_some() { 2u8 } else { 0u8 };
        tcp.write_all(&[5, 1, method]).await.map_err(io)?;
        let mut reply = [0u8; 2];
        tcp.read_exact(&mut reply).await.map_err(io)?;
        if reply[0] != 5 || reply[1] != method {
            return Err(HttpError::Proxy(
                "SOCKS5 proxy refused the authentication method".to_owned(),
            ));
        }
        if let Some((user, pass)) = &proxy.auth {
            let (user, pass) = (user.as_bytes(), pass.as_bytes());
            let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
                return Err(HttpError::BadArg("proxy credentials too long".to_owned()));
            };
            let mut msg = vec![1, ulen];
            msg.extend_from_slice(user);
            msg.push(plen);
            msg.extend_from_slice(pass);
            tcp.write_all(&msg).await.map_err(io)?;
            tcp.read_exact(&mut reply).await.map_err(io)?;
            if reply[1] != 0 {
                return Err(HttpError::Proxy(
                    "SOCKS5 proxy authentication failed".to_owned(),
                ));
            }
        }
        let mut msg = vec![5, 1, 0];
        match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                msg.push(1);
                msg.extend_from_slice(&ip.octets());
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                msg.push(4);
                msg.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                let Ok(len) = u8::try_from(host.len()) else {
                    return Err(HttpError::InvalidUrl(host.to_owned()));
                };
                msg.push(3);
                msg.push(len);
                msg.extend_from_slice(host.as_bytes());
            }
        }
        msg.extend_from_slice(&port.to_be_bytes());
        tcp.write_all(&msg).await.map_err(io)?;
        let mut head = [0u8; 4];
        tcp.read_exact(&mut head).await.map_err(io)?;
        if head[1] != 0 {
            return Err(HttpError::Proxy(format!(
                "SOCKS5 proxy could not connect to {host}:{port} (reply {})",
                head[1]
            )));
        }
        let skip = match head[3] {
            1 => 4,
            4 => 16,
            3 => usize::from(tcp.read_u8().await.map_err(io)?),
            _ => return Err(HttpError::Proxy("bad SOCKS5 reply".to_owned())),
        };
        let mut rest = vec![0u8; skip + 2];
        tcp.read_exact(&mut rest).await.map_err(io)?;
        Ok(tcp)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn urls() {
            let p = parse("socks5://u:p%40ss@127.0.0.1:9050").unwrap();
            assert_eq!(
                (p.scheme.as_str(), p.host.as_str(), p.port),
                ("socks5", "127.0.0.1", 9050)
            );
            assert_eq!(p.auth, Some(("u".to_owned(), "p@ss".to_owned())));
            let p = parse("http://proxy/").unwrap();
            assert_eq!((p.host.as_str(), p.port, p.auth), ("proxy", 80, None));
            let p = parse("http://[::1]:3128").unwrap();
            assert_eq!((p.host.as_str(), p.port), ("::1", 3128));
            assert!(matches!(parse("ftp://x:1"), Err(HttpError::BadArg(_))));
            assert!(matches!(parse("nope"), Err(HttpError::BadArg(_))));
        }
    }
}

// ----- multipart/form-data bodies -----

/// The content of one form field.
pub enum PartBody {
    /// Text (`Content-Type: text/plain; charset=utf-8` unless given).
    Text(String),
    /// Bytes (`application/octet-stream` unless given).
    Bytes(Bytes),
    /// Streamed bytes (`application/octet-stream` unless given), e.g. a blob read as it is sent.
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
}

impl std::fmt::Debug for PartBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartBody::Text(t) => write!(f, "PartBody::Text({} chars)", t.len()),
            PartBody::Bytes(b) => write!(f, "PartBody::Bytes({} bytes)", b.len()),
            PartBody::Stream(_) => f.write_str("PartBody::Stream"),
        }
    }
}

/// One field of a `multipart/form-data` body.
#[derive(Debug)]
pub struct Part {
    /// The field name.
    pub name: String,
    /// The file name, if any.
    pub filename: Option<String>,
    /// The part's `Content-Type` (defaults by the kind of body).
    pub content_type: Option<String>,
    /// The part's `Content-Transfer-Encoding` header, if any.
    pub transfer_encoding: Option<String>,
    /// The content.
    pub body: PartBody,
}

/// A quoted `Content-Disposition` parameter value (quotes and line breaks percent-encoded).
fn disposition_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A `multipart/form-data` body of `parts`, streamed part after part (stream parts are read
/// only when they are sent): its `Content-Type` header value and its chunks.
pub fn multipart(parts: Vec<Part>) -> (String, BoxStream<'static, std::io::Result<Bytes>>) {
    let boundary = format!("{:032x}", rand::random::<u128>());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let mut pieces: Vec<BoxStream<'static, std::io::Result<Bytes>>> = Vec::new();
    for part in parts {
        let default_type = match &part.body {
            PartBody::Text(_) => "text/plain; charset=utf-8",
            PartBody::Bytes(_) | PartBody::Stream(_) => "application/octet-stream",
        };
        let mut head = format!("--{boundary}\r\n");
        head.push_str(&format!(
            "Content-Type: {}\r\n",
            part.content_type.as_deref().unwrap_or(default_type)
        ));
        head.push_str(&format!(
            "Content-Disposition: form-data; name={}",
            disposition_value(&part.name)
        ));
        if let Some(filename) = &part.filename {
            head.push_str(&format!("; filename={}", disposition_value(filename)));
        }
        head.push_str("\r\n");
        if let Some(cte) = &part.transfer_encoding {
            head.push_str(&format!("Content-Transfer-Encoding: {cte}\r\n"));
        }
        head.push_str("\r\n");
        pieces.push(futures::stream::once(async move { Ok(Bytes::from(head)) }).boxed());
        pieces.push(match part.body {
            PartBody::Text(text) => {
                futures::stream::once(async move { Ok(Bytes::from(text)) }).boxed()
            }
            PartBody::Bytes(byts) => futures::stream::once(async move { Ok(byts) }).boxed(),
            PartBody::Stream(chunks) => chunks,
        });
        pieces.push(futures::stream::once(async { Ok(Bytes::from_static(b"\r\n")) }).boxed());
    }
    let tail = format!("--{boundary}--\r\n");
    pieces.push(futures::stream::once(async move { Ok(Bytes::from(tail)) }).boxed());
    (ctype, futures::stream::iter(pieces).flatten().boxed())
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

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
        let params = vec![("a b".to_owned(), "c&d".to_owned())];
        assert_eq!(with_params("http://h/p", &params), "http://h/p?a+b=c%26d");
        assert_eq!(
            with_params("http://h/p?x=1", &params),
            "http://h/p?x=1&a+b=c%26d"
        );
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
    fn reasons() {
        assert_eq!(codereason(404), "Not Found");
        assert_eq!(codereason(418), "I'm a Teapot");
        assert_eq!(codereason(999), "Unknown HTTP status code 999");
        assert_eq!(title_case("content-type"), "Content-Type");
    }

    #[test]
    fn errors() {
        let err = HttpError::Connect("Cannot connect to host x:1 ssl:default [refused]".into());
        assert_eq!(err.name(), "ClientConnectorError");
        assert_eq!(
            err.reason(),
            "Exception occurred during request: ClientConnectorError: Cannot connect to host x:1 ssl:default [refused]"
        );
        assert_eq!(HttpError::Timeout.text(), "TimeoutError");
        assert_eq!(HttpError::Timeout.mesg(), None);
        assert_eq!(
            HttpError::other("NoSuchFile", "gone").text(),
            "NoSuchFile: gone"
        );
    }

    #[tokio::test]
    async fn multipart_layout() {
        let stream = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"ab")),
            Ok(Bytes::from_static(b"cd")),
        ])
        .boxed();
        let (ctype, body) = multipart(vec![
            Part {
                name: "text".into(),
                filename: None,
                content_type: None,
                transfer_encoding: None,
                body: PartBody::Text("hi\"".into()),
            },
            Part {
                name: "file".into(),
                filename: Some("a \"b\".bin".into()),
                content_type: Some("image/png".into()),
                transfer_encoding: Some("binary".into()),
                body: PartBody::Stream(stream),
            },
        ]);
        let boundary = ctype
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_owned();
        assert_eq!(boundary.len(), 32);
        let chunks: Vec<Bytes> = body.try_collect().await.unwrap();
        let text = String::from_utf8(chunks.concat()).unwrap();
        let want = format!(
            "--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Disposition: form-data; name=\"text\"\r\n\r\nhi\"\r\n\
             --{b}\r\nContent-Type: image/png\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"a %22b%22.bin\"\r\n\
             Content-Transfer-Encoding: binary\r\n\r\nabcd\r\n--{b}--\r\n",
            b = boundary
        );
        assert_eq!(text, want);
    }
}
