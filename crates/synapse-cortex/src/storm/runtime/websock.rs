//! `$lib.inet.http.connect()` and its `inet:http:socket` object: a WebSocket client that
//! sends and receives JSON messages (`tx` / `rx`), over [`synapse_cell::httpc::dial`]
//! (TLS options and proxies as the HTTP client's) with the protocol of `tokio-tungstenite`.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use indexmap::IndexMap;
use synapse_cell::httpc::{HttpError, HttpRequest, Io, dial, with_params, with_timeout};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::error::{Flow, RResult, StormError};
use super::ext::ExtObj;
use super::httplib::{arg, err_tuple, ssl_args, str_pairs, with_ca_dir};
use super::runt::Runt;
use super::value::{Key, Obj, Val, new_dict};

type Stream = WebSocketStream<Box<dyn Io>>;

/// The methods of an `inet:http:socket`.
pub(crate) const METHODS: &[&str] = &["tx", "rx"];

/// An open WebSocket (`inet:http:socket`); dropping the last reference (at the latest when
/// its Storm runtime ends) closes it with a close frame.
pub(crate) struct WebSock {
    send: Mutex<Option<SplitSink<Stream, Message>>>,
    recv: Mutex<SplitStream<Stream>>,
}

impl std::fmt::Debug for WebSock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSock").finish_non_exhaustive()
    }
}

impl Drop for WebSock {
    fn drop(&mut self) {
        let Some(mut send) = self.send.get_mut().take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = tokio::time::timeout(CLOSE_WAIT, send.close()).await;
            });
        }
    }
}

/// How long a dropped socket waits to send its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

impl PartialEq for WebSock {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

fn ok(valu: Val) -> Val {
    Val::Tuple(Arc::from(vec![Val::Bool(true), valu]))
}

fn fail(name: &str, mesg: &str) -> Val {
    let mut info = IndexMap::new();
    info.insert(Key::Str(Arc::from("mesg")), Val::from(mesg));
    Val::Tuple(Arc::from(vec![
        Val::Bool(false),
        Val::Tuple(Arc::from(vec![Val::from(name), new_dict(info)])),
    ]))
}

fn fail_http(err: &HttpError) -> Val {
    Val::Tuple(Arc::from(vec![Val::Bool(false), err_tuple(err)]))
}

impl WebSock {
    /// `$sock.tx(mesg)`: send `mesg` as JSON in a binary frame (as the reference does).
    async fn tx(&self, mesg: &Val) -> RResult<Val> {
        let prim = mesg.to_msgpack()?;
        let text = super::lib::msgpack_to_json(&prim).to_string();
        let mut send = self.send.lock().await;
        let Some(send) = send.as_mut() else {
            return Ok(fail(
                "ClientConnectionResetError",
                "Cannot write to closing transport",
            ));
        };
        let sent = send.send(Message::Binary(text.into_bytes().into())).await;
        Ok(match sent {
            Ok(()) => ok(Val::Null),
            Err(err) => fail("ClientConnectionResetError", &err.to_string()),
        })
    }

    /// `$sock.rx(timeout=None)`: the next message, decoded from JSON.
    async fn rx(&self, timeout: Option<Duration>) -> RResult<Val> {
        let mut recv = self.recv.lock().await;
        let next = async {
            loop {
                match recv.next().await {
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    other => return other,
                }
            }
        };
        let got = match timeout {
            Some(wait) => match tokio::time::timeout(wait, next).await {
                Ok(got) => got,
                Err(_) => return Ok(fail("TimeoutError", "")),
            },
            None => next.await,
        };
        let data = match got {
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(byts))) => byts.to_vec(),
            Some(Ok(Message::Close(_))) => {
                return Ok(fail("BadMesgFormat", "WebSocket RX unhandled type: CLOSE"));
            }
            None => return Ok(ok(Val::Null)),
            // aiohttp hands a protocol error to the reader as an ERROR message
            Some(Err(err)) => {
                tracing::debug!(error = %err, "storm websocket rx failed");
                return Ok(fail("BadMesgFormat", "WebSocket RX unhandled type: ERROR"));
            }
            Some(Ok(_)) => return Ok(ok(Val::Null)),
        };
        if data.is_empty() {
            return Ok(fail("BadJsonText", "Cannot deserialize empty value."));
        }
        Ok(match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(json) => ok(super::lib::json_to_val(&json)),
            Err(err) => fail("BadJsonText", &err.to_string()),
        })
    }
}

/// Call a method of an `inet:http:socket`.
pub(crate) async fn call(
    sock: &WebSock,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    match name {
        "tx" => {
            let mesg = arg(args, kwargs, Some(0), "mesg").ok_or_else(|| {
                super::error::rterr("tx() missing 1 required positional argument: 'mesg'")
            })?;
            sock.tx(&mesg).await
        }
        "rx" => {
            let timeout = match arg(args, kwargs, Some(0), "timeout") {
                None | Some(Val::Null) => None,
                // the reference compares the timeout with 0 as it is: a string fails
                Some(Val::Str(_)) => {
                    return Ok(fail(
                        "TypeError",
                        "'<=' not supported between instances of 'str' and 'int'",
                    ));
                }
                Some(Val::Float(f)) if f.is_finite() => Some(Duration::from_secs_f64(f.max(0.0))),
                Some(v) => Some(Duration::from_secs(u64::try_from(v.to_int()?).unwrap_or(0))),
            };
            sock.rx(timeout).await
        }
        _ => Err(super::ext::nosuchname(name)),
    }
}

/// The argument order of `$lib.inet.http.connect()`.
const ORDER: &[&str] = &[
    "url",
    "headers",
    "ssl_verify",
    "timeout",
    "params",
    "proxy",
    "ssl_opts",
];

/// `$lib.inet.http.connect(url, headers=None, ssl_verify=True, timeout=300, params=None,
/// proxy=True, ssl_opts=None)`: `(true, $sock)` or `(false, $err)`.
pub(crate) async fn connect(
    runt: &Arc<Runt>,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let g = |n: &str| arg(args, kwargs, ORDER.iter().position(|o| *o == n), n);
    let url = g("url")
        .ok_or_else(|| {
            super::error::rterr("inetHttpConnect() missing 1 required positional argument: 'url'")
        })?
        .to_str()?;
    let headers = str_pairs(g("headers"), false)?;
    let timeout = super::httplib::timeout_arg(g("timeout"), Some(300))?;
    let params = str_pairs(g("params"), true)?;
    let perm = &["storm", "lib", "inet", "http", "proxy"];
    let proxy = match g("proxy") {
        None | Some(Val::Null | Val::Bool(true)) => super::ext::cortex(runt)
            .ok()
            .and_then(|core| core.cell().conf().get_str("http:proxy").map(str::to_owned)),
        Some(Val::Bool(false)) => {
            runt.confirm(perm, None)?;
            None
        }
        Some(Val::Str(url)) => {
            runt.confirm(perm, None)?;
            Some(url.to_string())
        }
        Some(_) => {
            return Err(Flow::Err(StormError::new(
                "BadArg",
                "HTTP proxy argument must be a string or bool.",
            )));
        }
    };
    let (verify, ca_cert) = ssl_args(g("ssl_verify"), g("ssl_opts"))?;
    let mut req = HttpRequest::new("GET", &url);
    req.verify = verify;
    req.proxy = proxy;
    req.ca_cert = with_ca_dir(runt, ca_cert).await;
    let full = with_params(&url, &params);
    let opened = with_timeout(timeout, open(&full, &headers, &req)).await;
    Ok(match opened {
        Ok(stream) => {
            let (send, recv) = stream.split();
            let sock = WebSock {
                send: Mutex::new(Some(send)),
                recv: Mutex::new(recv),
            };
            ok(Val::Obj(Arc::new(Obj::Ext(ExtObj::Socket(Arc::new(sock))))))
        }
        Err(err) => {
            tracing::warn!(url = %url, error = %err.text(), "storm websocket connect failed");
            fail_http(&err)
        }
    })
}

/// Dial `url` and run the WebSocket handshake with `headers`.
async fn open(
    url: &str,
    headers: &[(String, String)],
    req: &HttpRequest,
) -> Result<Stream, HttpError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| HttpError::InvalidUrl(url.to_owned()))?;
    // aiohttp accepts http(s) URLs for a WebSocket too
    let wsurl = match uri.scheme_str() {
        Some("http") => format!("ws{}", &url[4..]),
        Some("https") => format!("wss{}", &url[5..]),
        _ => url.to_owned(),
    };
    let mut hreq = wsurl
        .as_str()
        .into_client_request()
        .map_err(|_| HttpError::InvalidUrl(url.to_owned()))?;
    for (name, valu) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| HttpError::BadArg(e.to_string()))?;
        let valu = HeaderValue::from_str(valu).map_err(|e| HttpError::BadArg(e.to_string()))?;
        hreq.headers_mut().insert(name, valu);
    }
    let io = dial(&uri, req).await?;
    let (stream, _resp) = tokio_tungstenite::client_async(hreq, io)
        .await
        .map_err(|err| handshake_error(url, err))?;
    Ok(stream)
}

/// A failed handshake, as aiohttp's `WSServerHandshakeError`.
fn handshake_error(url: &str, err: tokio_tungstenite::tungstenite::Error) -> HttpError {
    use tokio_tungstenite::tungstenite::Error;
    match err {
        Error::Http(resp) => HttpError::other(
            "WSServerHandshakeError",
            format!(
                "{}, message='Invalid response status', url='{url}'",
                resp.status().as_u16()
            ),
        ),
        Error::Io(err) => HttpError::Os(err.to_string()),
        Error::ConnectionClosed | Error::AlreadyClosed => {
            HttpError::Disconnected("Server disconnected".to_owned())
        }
        other => HttpError::other("WSServerHandshakeError", other.to_string()),
    }
}
