//! The HTTPS API: a tower [`Service`](tower::Service) ([`HttpApi`]) routing requests to
//! handlers, the reference's JSON envelopes, authentication (session cookie, API key, basic
//! auth) and permission checks, login sessions, and the TLS listener.
//!
//! Services add routes ([`Route`]) that are tried before the cell's own. Handlers get an
//! [`HttpReq`] with helpers for the body, the authenticated user and permissions, and build
//! responses with [`ok`], [`err`] and [`exc`].

mod handlers;
mod sessions;
mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Bytes;
use regex::Regex;
use serde_json::Value as Json;

pub(crate) use self::sessions::HttpSessions;
pub use self::tls::{load_or_make_cert, serve_https};

use crate::auth::User;
use crate::cell::Cell;
use crate::error::{ErrKind, Error};
use crate::value::to_json;

/// A boxed error of a body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of requests and responses.
pub type Body = BoxBody<Bytes, BoxError>;
/// A response.
pub type HttpResponse = Response<Body>;

/// The largest request body read into memory (Tornado's default `max_body_size`).
pub const MAX_BODY: usize = 100 * 1024 * 1024;

/// A full body from bytes.
pub fn full(byts: impl Into<Bytes>) -> Body {
    Full::new(byts.into())
        .map_err(|never| match never {})
        .boxed()
}

fn json_response(status: StatusCode, valu: &Json) -> HttpResponse {
    let text = serde_json::to_string(valu)
        .unwrap_or_else(|_| "null".to_string())
        .replace("</", "<\\/");
    let mut resp = Response::new(full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// `{"status": "ok", "result": valu}` with status 200.
pub fn ok(valu: Json) -> HttpResponse {
    json_response(
        StatusCode::OK,
        &serde_json::json!({"status": "ok", "result": valu}),
    )
}

/// `{"status": "err", "code": code, "mesg": mesg}`.
pub fn err(status: StatusCode, code: &str, mesg: &str) -> HttpResponse {
    json_response(
        status,
        &serde_json::json!({"status": "err", "code": code, "mesg": mesg}),
    )
}

/// An error envelope for `error` with the status its class maps to: `AuthDeny` 403,
/// `NoSuch*` 404, bad input 400, anything else 500.
pub fn exc(error: &Error) -> HttpResponse {
    err(status_of(error.kind()), error.name(), error.mesg())
}

/// The HTTP status of an error class (the one place this mapping lives).
pub fn status_of(kind: ErrKind) -> StatusCode {
    match kind {
        ErrKind::AuthDeny => StatusCode::FORBIDDEN,
        ErrKind::NoSuchUser
        | ErrKind::NoSuchRole
        | ErrKind::NoSuchName
        | ErrKind::NoSuchIden
        | ErrKind::NoSuchAuthGate => StatusCode::NOT_FOUND,
        ErrKind::BadArg
        | ErrKind::SchemaViolation
        | ErrKind::DupUserName
        | ErrKind::DupRoleName
        | ErrKind::DupUserEmail
        | ErrKind::DupIden
        | ErrKind::HitLimit
        | ErrKind::TypeError
        | ErrKind::BadConfValu
        | ErrKind::CryptoErr => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn html_status(status: StatusCode) -> HttpResponse {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Unknown");
    let mut resp = Response::new(full(format!(
        "<html><title>{code}: {reason}</title><body>{code}: {reason}</body></html>"
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    resp
}

/// The 401 reply: `WWW-Authenticate: Basic realm=synapse` and `NotAuthenticated`.
pub fn not_authenticated() -> HttpResponse {
    let mut resp = err(
        StatusCode::UNAUTHORIZED,
        "NotAuthenticated",
        "The session is not logged in.",
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=synapse"),
    );
    resp
}

/// A request handler.
pub type Handler = Arc<dyn Fn(HttpReq) -> BoxFuture<'static, HttpResponse> + Send + Sync>;

/// Make a [`Handler`] from an async function.
pub fn handler<F, Fut>(func: F) -> Handler
where
    F: Fn(HttpReq) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    Arc::new(move |req| Box::pin(func(req)))
}

/// A route: a path pattern (a regex matched against the whole path; groups become
/// [`HttpReq::param`]s) and a handler per method. `OPTIONS` always answers 204.
#[derive(Clone)]
pub struct Route {
    pattern: Regex,
    methods: Vec<(Method, Handler)>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let methods: Vec<&Method> = self.methods.iter().map(|(m, _)| m).collect();
        f.debug_struct("Route")
            .field("pattern", &self.pattern.as_str())
            .field("methods", &methods)
            .finish()
    }
}

impl Route {
    /// A route for `pattern` (anchored at both ends, as Tornado does).
    ///
    /// # Panics
    /// If the pattern is not a valid regex; patterns are constants of the code.
    #[allow(clippy::expect_used)]
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: Regex::new(&format!("^(?:{pattern})$")).expect("invalid route pattern"),
            methods: Vec::new(),
        }
    }

    /// Handle `method` with `handler`.
    #[must_use]
    pub fn on(mut self, method: Method, handler: Handler) -> Self {
        self.methods.push((method, handler));
        self
    }

    /// Handle GET.
    #[must_use]
    pub fn get(self, handler: Handler) -> Self {
        self.on(Method::GET, handler)
    }

    /// Handle POST.
    #[must_use]
    pub fn post(self, handler: Handler) -> Self {
        self.on(Method::POST, handler)
    }

    /// Handle PUT.
    #[must_use]
    pub fn put(self, handler: Handler) -> Self {
        self.on(Method::PUT, handler)
    }

    /// Handle DELETE.
    #[must_use]
    pub fn delete(self, handler: Handler) -> Self {
        self.on(Method::DELETE, handler)
    }

    /// Handle HEAD.
    #[must_use]
    pub fn head(self, handler: Handler) -> Self {
        self.on(Method::HEAD, handler)
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct WebUser {
    /// User iden at authentication time.
    pub iden: String,
    /// User name at authentication time.
    pub name: String,
}

/// A request being handled.
pub struct HttpReq {
    cell: Cell,
    req: Request<Body>,
    params: Vec<String>,
    remote: Option<SocketAddr>,
    webuser: Option<Option<WebUser>>,
}

impl std::fmt::Debug for HttpReq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpReq")
            .field("method", self.req.method())
            .field("uri", self.req.uri())
            .finish()
    }
}

impl HttpReq {
    /// The cell.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// The request (headers, URI, method).
    pub fn request(&self) -> &Request<Body> {
        &self.req
    }

    /// A path parameter (regex group `indx`, from 0).
    pub fn param(&self, indx: usize) -> &str {
        self.params.get(indx).map_or("", String::as_str)
    }

    /// The peer address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// A request header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// A query-string argument (the last one given, decoded).
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.req.uri().query()?;
        query.split('&').rev().find_map(|pair| {
            let (key, valu) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(key) == name).then(|| url_decode(valu))
        })
    }

    /// Take the body as a stream (for uploads).
    pub fn take_body(&mut self) -> Body {
        std::mem::replace(self.req.body_mut(), full(Bytes::new()))
    }

    /// Read the whole body (up to [`MAX_BODY`]).
    pub async fn body_bytes(&mut self) -> Result<Bytes, HttpResponse> {
        let mut body = self.take_body();
        let mut buf = Vec::new();
        let fail = || {
            err(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BadArg",
                "The request body is too large or was interrupted.",
            )
        };
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Err(fail());
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > MAX_BODY {
                    return Err(fail());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    }

    /// Read the body as JSON (`400 SchemaViolation "Invalid JSON content."` if it is not).
    pub async fn json_body(&mut self) -> Result<Json, HttpResponse> {
        let byts = self.body_bytes().await?;
        serde_json::from_slice(&byts).map_err(|_| {
            err(
                StatusCode::BAD_REQUEST,
                "SchemaViolation",
                "Invalid JSON content.",
            )
        })
    }

    fn cookie(&self, name: &str) -> Option<String> {
        for value in self.req.headers().get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for part in text.split(';') {
                let (key, valu) = part.trim().split_once('=').unwrap_or((part.trim(), ""));
                if key == name {
                    return Some(valu.trim_matches('"').to_string());
                }
            }
        }
        None
    }

    /// The session iden from a valid signed `sess` cookie.
    pub fn session_iden(&self) -> Option<String> {
        let cookie = self.cookie("sess")?;
        self.cell.sessions().verify_cookie(&cookie)
    }

    /// The authenticated caller: the session cookie if present (other methods are then not
    /// tried), else the `X-API-KEY` header, else HTTP basic auth.
    pub async fn web_user(&mut self) -> Option<WebUser> {
        if let Some(found) = &self.webuser {
            return found.clone();
        }
        let found = self.resolve_user().await;
        self.webuser = Some(found.clone());
        found
    }

    async fn resolve_user(&self) -> Option<WebUser> {
        if let Some(iden) = self.session_iden() {
            let info = self.cell.sessions().get(&iden)?;
            let user = info.user?;
            return Some(WebUser {
                iden: user,
                name: info.username.unwrap_or_else(|| "<no username>".to_string()),
            });
        }
        let auth = self.cell.auth();
        if let Some(key) = self.header("x-api-key") {
            return match auth.check_api_key(key).await {
                Ok((_, user)) => Some(WebUser {
                    iden: user.iden.clone(),
                    name: user.name.clone(),
                }),
                Err(info) => {
                    let mesg = info
                        .iter()
                        .find(|(k, _)| k == "mesg")
                        .and_then(|(_, v)| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    self.log_auth_issue(&mesg, None);
                    None
                }
            };
        }
        let header = self.header("authorization")?;
        let blob = header.strip_prefix("Basic ")?;
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD
            .decode(blob.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())?;
        let (name, passwd) = text.split_once(':')?;
        let Some(user) = auth.user_by_name(name) else {
            self.log_auth_issue("No such user.", Some(name));
            return None;
        };
        if user.is_locked() {
            self.log_auth_issue("User is locked.", Some(name));
            return None;
        }
        match auth.try_user_passwd(&user.iden, Some(passwd)).await {
            Ok(true) => Some(WebUser {
                iden: user.iden.clone(),
                name: user.name.clone(),
            }),
            _ => {
                self.log_auth_issue("Incorrect password.", Some(name));
                None
            }
        }
    }

    fn log_auth_issue(&self, mesg: &str, username: Option<&str>) {
        tracing::warn!(
            uri = %self.req.uri(),
            remote_ip = ?self.remote.map(|a| a.ip()),
            username = username.unwrap_or_default(),
            "Failed to authenticate request: {mesg}"
        );
    }

    /// The authenticated user, or the 401 response.
    pub async fn req_user(&mut self) -> Result<User, HttpResponse> {
        let Some(web) = self.web_user().await else {
            return Err(not_authenticated());
        };
        self.cell
            .auth()
            .user(&web.iden)
            .ok_or_else(not_authenticated)
    }

    /// The authenticated global admin, or the 401/403 response.
    pub async fn req_admin(&mut self) -> Result<User, HttpResponse> {
        let Some(web) = self.web_user().await else {
            return Err(not_authenticated());
        };
        match self.cell.auth().user(&web.iden) {
            Some(user) if user.is_admin() => Ok(user),
            _ => Err(err(
                StatusCode::FORBIDDEN,
                "AuthDeny",
                &format!("User {} ({}) is not an admin.", web.iden, web.name),
            )),
        }
    }

    /// Require a permission of the authenticated user (401 / 403 otherwise).
    pub async fn req_allowed(
        &mut self,
        perm: &[&str],
        default: bool,
        gate: Option<&str>,
    ) -> Result<User, HttpResponse> {
        let Some(web) = self.web_user().await else {
            return Err(not_authenticated());
        };
        let perm: Vec<String> = perm.iter().map(|p| p.to_string()).collect();
        let auth = self.cell.auth();
        if let Some(user) = auth.user(&web.iden)
            && auth.allowed(&user.iden, &perm, Some(default), gate) == Some(true)
        {
            return Ok(user);
        }
        let text = perm.join(".");
        let mut mesg = if default {
            format!("User ({}) is denied the permission {text}", web.name)
        } else {
            format!("User ({}) must have permission {text}", web.name)
        };
        if let Some(gate) = gate {
            mesg.push_str(&format!(" on object {gate}"));
        }
        Err(err(StatusCode::FORBIDDEN, "AuthDeny", &mesg))
    }
}

fn url_decode(text: &str) -> String {
    let byts = text.as_bytes();
    let mut out = Vec::with_capacity(byts.len());
    let mut i = 0;
    while i < byts.len() {
        match byts[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < byts.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(byts[i + 1]), hex(byts[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct ApiInner {
    cell: Cell,
    routes: Vec<Route>,
}

/// The HTTP API of a cell as a tower service (cheap to clone). Test it with
/// `tower::ServiceExt::oneshot`; serve it with [`serve_https`].
#[derive(Clone)]
pub struct HttpApi {
    inner: Arc<ApiInner>,
}

impl std::fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpApi")
            .field("routes", &self.inner.routes)
            .finish()
    }
}

/// The peer address of a connection, put in request extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

impl HttpApi {
    /// The API of `cell` with `extra` routes tried before the cell's own.
    pub fn new(cell: Cell, extra: Vec<Route>) -> Self {
        let mut routes = extra;
        routes.extend(handlers::cell_routes());
        Self {
            inner: Arc::new(ApiInner { cell, routes }),
        }
    }

    /// The cell.
    pub fn cell(&self) -> &Cell {
        &self.inner.cell
    }

    async fn dispatch(&self, req: Request<Body>) -> HttpResponse {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let remote = req.extensions().get::<RemoteAddr>().map(|r| r.0);

        let mut found = None;
        for route in &self.inner.routes {
            if let Some(caps) = route.pattern.captures(&path) {
                let params = caps
                    .iter()
                    .skip(1)
                    .map(|m| m.map_or(String::new(), |m| url_decode(m.as_str())))
                    .collect::<Vec<_>>();
                found = Some((route, params));
                break;
            }
        }
        let Some((route, params)) = found else {
            // Tornado answers unknown paths before any handler runs: no extra headers.
            return html_status(StatusCode::NOT_FOUND);
        };
        let mut resp = if method == Method::OPTIONS {
            let mut resp = Response::new(full(Bytes::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        } else if let Some((_, handler)) = route.methods.iter().find(|(m, _)| *m == method) {
            let req = HttpReq {
                cell: self.inner.cell.clone(),
                req,
                params,
                remote,
                webuser: None,
            };
            handler(req).await
        } else {
            html_status(StatusCode::METHOD_NOT_ALLOWED)
        };
        self.add_headers(&mut resp, origin.as_deref(), host.as_deref());
        tracing::debug!(%method, %path, status = resp.status().as_u16(), "https request");
        resp
    }

    fn add_headers(&self, resp: &mut HttpResponse, origin: Option<&str>, host: Option<&str>) {
        let headers = resp.headers_mut();
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        if let (Some(origin), Some(host)) = (origin, host) {
            let orighost = origin
                .split_once("://")
                .map_or(origin, |(_, rest)| rest)
                .split(['/', ':'])
                .next()
                .unwrap_or_default();
            let hosthost = host.split(':').next().unwrap_or_default();
            if orighost == hosthost
                && let Ok(valu) = HeaderValue::from_str(origin)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, valu);
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("Content-Type"),
                );
            }
        }
        if let Some(Json::Object(extra)) = self.inner.cell.conf_value("https:headers") {
            for (name, valu) in extra {
                let text = match &valu {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let (Ok(name), Ok(valu)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&text),
                ) {
                    headers.append(name, valu);
                }
            }
        }
    }
}

impl<B> tower::Service<Request<B>> for HttpApi
where
    B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<HttpResponse, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let api = self.clone();
        let req = req.map(|body| body.map_err(Into::into).boxed());
        Box::pin(async move { Ok(api.dispatch(req).await) })
    }
}

/// Convert a packed value to JSON for a response.
pub fn json_of(valu: &rmpv::Value) -> Json {
    to_json(valu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a%20b+c"), "a b c");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(url_decode("50%"), "50%");
    }

    #[test]
    fn routes_are_anchored() {
        let route = Route::new("/api/v1/auth/user/(.*)");
        assert!(route.pattern.is_match("/api/v1/auth/user/abc"));
        assert!(!route.pattern.is_match("/x/api/v1/auth/user/abc"));
    }
}
