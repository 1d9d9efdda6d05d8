//! The HTTP transfers (`wget`, `wput`, `postfiles`) in-process against a local hyper server:
//! result dicts, redirects, a 404, a refused connection, a timeout, streamed blobs, multipart
//! forms, errors and permissions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use rmpv::Value;
use synapse_axon::Sha256;
use synapse_cell::{Args, ConnInfo, Rule, map_get};
use tokio::net::TcpListener;

use crate::{Fail, bin, call, genr, open_axon, root_api};

/// One request the test server got.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

async fn answer(req: Request<Incoming>, log: Log) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
    log.lock().unwrap().push(Seen {
        method,
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    let resp = Response::builder();
    let resp = match path.split('?').next().unwrap_or_default() {
        "/file" => resp
            .status(200)
            .header("X-Test", "1")
            .body(Full::new(Bytes::from_static(b"hello wget"))),
        "/gzip" => resp
            .status(200)
            .header("Content-Encoding", "gzip")
            .body(Full::new(Bytes::from(gzip(b"decoded text")))),
        "/redir" => resp
            .status(302)
            .header("Location", "/file")
            .body(Full::new(Bytes::new())),
        "/loop" => resp
            .status(302)
            .header("Location", "/loop")
            .body(Full::new(Bytes::new())),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            resp.status(200).body(Full::new(Bytes::new()))
        }
        "/echo" | "/form" | "/put" => resp
            .status(if path.starts_with("/put") { 201 } else { 200 })
            .header("X-Len", body.len().to_string())
            .body(Full::new(Bytes::from(body))),
        _ => resp
            .status(404)
            .body(Full::new(Bytes::from_static(b"nope"))),
    };
    Ok(resp.unwrap())
}

/// A local HTTP server: its address and the requests it got.
async fn serve() -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| answer(req, Arc::clone(&seen)));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (addr, log)
}

fn kwcall(args: Vec<Value>, kwargs: &[(&str, Value)]) -> Args {
    Args {
        args,
        kwargs: kwargs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

async fn call_kw(
    api: &synapse_cell::CellApi<synapse_axon::AxonService>,
    meth: &str,
    args: Args,
) -> Result<Value, Fail> {
    match api.call(meth, args).await? {
        synapse_cell::Reply::Value(v) => Ok(v),
        other => panic!("{meth} did not return a value: {other:?}"),
    }
}

fn get<'a>(valu: &'a Value, key: &str) -> &'a Value {
    map_get(valu, key).unwrap_or_else(|| panic!("no {key} in {valu}"))
}

fn keys(valu: &Value) -> Vec<&str> {
    match valu {
        Value::Map(items) => items.iter().filter_map(|(k, _)| k.as_str()).collect(),
        other => panic!("not a dict: {other}"),
    }
}

async fn blob(api: &synapse_cell::CellApi<synapse_axon::AxonService>, sha256: &str) -> Vec<u8> {
    let sha = hex::decode(sha256).unwrap();
    genr(api, "get", Args::positional(vec![bin(&sha)]))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|v| match v {
            Value::Binary(b) => b,
            _ => Vec::new(),
        })
        .collect()
}

#[tokio::test]
async fn wget_saves_bodies() {
    let (addr, log) = serve().await;
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    let base = format!("http://{addr}");

    let info = call(&api, "wget", vec![format!("{base}/file").into()])
        .await
        .unwrap();
    assert_eq!(
        keys(&info),
        [
            "ok", "url", "code", "headers", "reason", "request", "size", "hashes"
        ]
    );
    assert_eq!(get(&info, "ok"), &Value::Boolean(true));
    assert_eq!(get(&info, "code"), &Value::from(200));
    assert_eq!(get(&info, "reason"), &Value::from("OK"));
    assert_eq!(get(&info, "url"), &Value::from(format!("{base}/file")));
    assert_eq!(get(get(&info, "headers"), "X-Test"), &Value::from("1"));
    assert_eq!(get(&info, "size"), &Value::from(10));
    let hashes = get(&info, "hashes");
    assert_eq!(keys(hashes), ["md5", "sha1", "sha256", "sha512"]);
    let sha256 = Sha256::of(b"hello wget").hex();
    assert_eq!(get(hashes, "sha256"), &Value::from(sha256.as_str()));
    {
        use md5::Digest;
        let md5 = hex::encode(md5::Md5::digest(b"hello wget"));
        assert_eq!(get(hashes, "md5"), &Value::from(md5));
        let sha1 = hex::encode(sha1::Sha1::digest(b"hello wget"));
        assert_eq!(get(hashes, "sha1"), &Value::from(sha1));
    }
    assert_eq!(blob(&api, &sha256).await, b"hello wget");
    let request = get(&info, "request");
    assert_eq!(get(request, "method"), &Value::from("GET"));
    assert_eq!(get(request, "url"), &Value::from(format!("{base}/file")));
    assert_eq!(get(get(request, "headers"), "Accept"), &Value::from("*/*"));

    // a redirect: the history holds the 302, the body is the target's
    let info = call(&api, "wget", vec![format!("{base}/redir").into()])
        .await
        .unwrap();
    assert_eq!(get(&info, "code"), &Value::from(200));
    assert_eq!(get(&info, "url"), &Value::from(format!("{base}/file")));
    let Value::Array(history) = get(&info, "history") else {
        panic!("no history list");
    };
    assert_eq!(history.len(), 1);
    assert_eq!(get(&history[0], "code"), &Value::from(302));
    assert_eq!(
        get(&history[0], "url"),
        &Value::from(format!("{base}/redir"))
    );
    assert_eq!(
        keys(&history[0]),
        ["ok", "url", "code", "headers", "reason", "request"]
    );
    assert_eq!(get(&info, "size"), &Value::from(10));

    // a 404 is stored too, and ok stays true
    let info = call(&api, "wget", vec![format!("{base}/missing").into()])
        .await
        .unwrap();
    assert_eq!(get(&info, "ok"), &Value::Boolean(true));
    assert_eq!(get(&info, "code"), &Value::from(404));
    assert_eq!(get(&info, "reason"), &Value::from("Not Found"));
    let sha404 = Sha256::of(b"nope").hex();
    assert_eq!(
        get(get(&info, "hashes"), "sha256"),
        &Value::from(sha404.as_str())
    );
    assert_eq!(blob(&api, &sha404).await, b"nope");

    // gzip content is stored decoded
    let info = call(&api, "wget", vec![format!("{base}/gzip").into()])
        .await
        .unwrap();
    assert_eq!(get(&info, "size"), &Value::from(12));
    assert_eq!(
        get(get(&info, "hashes"), "sha256"),
        &Value::from(Sha256::of(b"decoded text").hex())
    );

    // params, headers, method and a JSON body (Python's json.dumps layout)
    let args = kwcall(
        vec![format!("{base}/echo").into()],
        &[
            (
                "params",
                Value::Map(vec![(Value::from("a b"), Value::from("c"))]),
            ),
            (
                "headers",
                Value::Map(vec![(Value::from("X-Mine"), Value::from("yes"))]),
            ),
            ("method", Value::from("post")),
            (
                "json",
                Value::Map(vec![(
                    Value::from("k"),
                    Value::Array(vec![1.into(), "é".into()]),
                )]),
            ),
        ],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    assert_eq!(
        get(&info, "url"),
        &Value::from(format!("{base}/echo?a+b=c"))
    );
    let json = br#"{"k": [1, "\u00e9"]}"#;
    assert_eq!(
        get(get(&info, "hashes"), "sha256"),
        &Value::from(Sha256::of(json).hex())
    );
    let seen = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/echo?a+b=c");
    assert_eq!(seen.header("x-mine"), Some("yes"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.body, json);

    // a raw body
    let args = kwcall(
        vec![format!("{base}/echo").into()],
        &[("method", "PUT".into()), ("body", bin(b"raw bytes"))],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    assert_eq!(get(&info, "size"), &Value::from(9));
    let seen = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        seen.header("content-type"),
        Some("application/octet-stream")
    );
    cell.fini().await;
}

#[tokio::test]
async fn wget_failures() {
    let (addr, _log) = serve().await;
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    let base = format!("http://{addr}");

    // nothing listens there
    let closed = crate::server::free_port();
    let url = format!("http://127.0.0.1:{closed}/x");
    let info = call(&api, "wget", vec![url.into()]).await.unwrap();
    assert_eq!(keys(&info), ["ok", "mesg", "code", "reason", "err"]);
    assert_eq!(get(&info, "ok"), &Value::Boolean(false));
    assert_eq!(get(&info, "code"), &Value::from(-1));
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("ClientConnectorError"));
    let mesg = get(&err[1], "mesg").as_str().unwrap();
    assert!(
        mesg.starts_with(&format!(
            "Cannot connect to host 127.0.0.1:{closed} ssl:default ["
        )),
        "{mesg}"
    );
    assert_eq!(
        get(&info, "mesg"),
        &Value::from(format!("ClientConnectorError: {mesg}"))
    );
    assert_eq!(
        get(&info, "reason"),
        &Value::from(format!(
            "Exception occurred during request: ClientConnectorError: {mesg}"
        ))
    );

    // a total timeout
    let args = kwcall(
        vec![format!("{base}/slow").into()],
        &[("timeout", Value::F64(0.3))],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    assert_eq!(get(&info, "mesg"), &Value::from("TimeoutError"));
    assert_eq!(
        get(&info, "reason"),
        &Value::from("Exception occurred during request: TimeoutError")
    );
    assert_eq!(
        get(&info, "err"),
        &Value::Array(vec![
            "TimeoutError".into(),
            Value::Map(vec![("mesg".into(), "".into())])
        ])
    );

    // a redirect loop
    let info = call(&api, "wget", vec![format!("{base}/loop").into()])
        .await
        .unwrap();
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("TooManyRedirects"));

    // a URL that is not HTTP
    let info = call(&api, "wget", vec!["newp://what".into()])
        .await
        .unwrap();
    assert_eq!(get(&info, "ok"), &Value::Boolean(false));

    // argument errors are raised
    let args = kwcall(
        vec![format!("{base}/file").into()],
        &[("proxy", Value::from(1))],
    );
    let err = call_kw(&api, "wget", args).await.unwrap_err();
    assert_eq!(
        (err.name(), err.mesg()),
        ("BadArg", "HTTP proxy argument must be a string or bool.")
    );
    let args = kwcall(
        vec![format!("{base}/file").into()],
        &[(
            "ssl_opts",
            Value::Map(vec![(Value::from("newp"), Value::Boolean(true))]),
        )],
    );
    let err = call_kw(&api, "wget", args).await.unwrap_err();
    assert_eq!(err.name(), "SchemaViolation");
    // a proxy that is not there
    let args = kwcall(
        vec![format!("{base}/file").into()],
        &[("proxy", Value::from(format!("socks5://127.0.0.1:{closed}")))],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("ProxyConnectionError"));
    cell.fini().await;
}

/// A one-connection-at-a-time proxy: HTTP `CONNECT` or SOCKS5 (no auth, or user `u` / `p`);
/// its address and the targets it tunnelled to.
async fn proxy_server(socks: bool) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let target = if socks {
                    let mut head = [0u8; 2];
                    tcp.read_exact(&mut head).await.unwrap();
                    let mut methods = vec![0u8; usize::from(head[1])];
                    tcp.read_exact(&mut methods).await.unwrap();
                    let method = if methods.contains(&2) { 2 } else { 0 };
                    tcp.write_all(&[5, method]).await.unwrap();
                    if method == 2 {
                        let ver = tcp.read_u8().await.unwrap();
                        assert_eq!(ver, 1);
                        let mut user = vec![0u8; usize::from(tcp.read_u8().await.unwrap())];
                        tcp.read_exact(&mut user).await.unwrap();
                        let mut pass = vec![0u8; usize::from(tcp.read_u8().await.unwrap())];
                        tcp.read_exact(&mut pass).await.unwrap();
                        let ok = user == b"u" && pass == b"p";
                        tcp.write_all(&[1, if ok { 0 } else { 1 }]).await.unwrap();
                        if !ok {
                            return;
                        }
                    }
                    let mut req = [0u8; 4];
                    tcp.read_exact(&mut req).await.unwrap();
                    let host = match req[3] {
                        1 => {
                            let mut ip = [0u8; 4];
                            tcp.read_exact(&mut ip).await.unwrap();
                            std::net::Ipv4Addr::from(ip).to_string()
                        }
                        _ => {
                            let mut name = vec![0u8; usize::from(tcp.read_u8().await.unwrap())];
                            tcp.read_exact(&mut name).await.unwrap();
                            String::from_utf8(name).unwrap()
                        }
                    };
                    let port = tcp.read_u16().await.unwrap();
                    tcp.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
                        .await
                        .unwrap();
                    format!("{host}:{port}")
                } else {
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        head.push(tcp.read_u8().await.unwrap());
                    }
                    let text = String::from_utf8(head).unwrap();
                    let target = text.split_whitespace().nth(1).unwrap().to_owned();
                    tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    target
                };
                log.lock().unwrap().push(target.clone());
                let mut out = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut out).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn transfers_through_proxies() {
    let (addr, _log) = serve().await;
    let (connect, connect_seen) = proxy_server(false).await;
    let (socks, socks_seen) = proxy_server(true).await;
    // the configured proxy is the default (proxy=True)
    let (_dir, cell) = open_axon(&[("http:proxy", format!("http://{connect}").into())]).await;
    let api = root_api(&cell);
    let url = format!("http://{addr}/file");

    let info = call(&api, "wget", vec![url.as_str().into()]).await.unwrap();
    assert_eq!(get(&info, "code"), &Value::from(200));
    assert_eq!(get(&info, "size"), &Value::from(10));
    assert_eq!(connect_seen.lock().unwrap().as_slice(), [addr.to_string()]);

    // proxy=False goes direct
    let args = kwcall(
        vec![url.as_str().into()],
        &[("proxy", Value::Boolean(false))],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    assert_eq!(get(&info, "code"), &Value::from(200));
    assert_eq!(connect_seen.lock().unwrap().len(), 1);

    // a SOCKS5 proxy given by URL, with credentials
    let args = kwcall(
        vec![url.as_str().into()],
        &[("proxy", Value::from(format!("socks5://u:p@{socks}")))],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    assert_eq!(get(&info, "code"), &Value::from(200));
    assert_eq!(socks_seen.lock().unwrap().as_slice(), [addr.to_string()]);
    // wrong credentials
    let args = kwcall(
        vec![url.as_str().into()],
        &[("proxy", Value::from(format!("socks5://u:nope@{socks}")))],
    );
    let info = call_kw(&api, "wget", args).await.unwrap();
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("ProxyError"));

    // wput through the configured proxy
    call(&api, "put", vec![bin(b"proxied")]).await.unwrap();
    let info = call(
        &api,
        "wput",
        vec![
            bin(&Sha256::of(b"proxied").0),
            format!("http://{addr}/put").into(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(get(&info, "code"), &Value::from(201));
    assert_eq!(connect_seen.lock().unwrap().len(), 2);
    cell.fini().await;
}

#[tokio::test]
async fn wput_streams_a_blob() {
    let (addr, log) = serve().await;
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    let base = format!("http://{addr}");
    // big enough for several chunks of the blob reader
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    call(&api, "put", vec![bin(&data)]).await.unwrap();
    let sha = Sha256::of(&data);

    let info = call(
        &api,
        "wput",
        vec![bin(&sha.0), format!("{base}/put").into()],
    )
    .await
    .unwrap();
    assert_eq!(keys(&info), ["ok", "url", "code", "reason", "headers"]);
    assert_eq!(get(&info, "code"), &Value::from(201));
    assert_eq!(get(&info, "reason"), &Value::from("Created"));
    assert_eq!(
        get(get(&info, "headers"), "X-Len"),
        &Value::from(data.len().to_string())
    );
    let seen = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.body, data);

    // another method, params
    let args = kwcall(
        vec![bin(&sha.0), format!("{base}/put").into()],
        &[
            ("method", "POST".into()),
            (
                "params",
                Value::Array(vec![Value::Array(vec!["x".into(), 1.into()])]),
            ),
        ],
    );
    let info = call_kw(&api, "wput", args).await.unwrap();
    assert_eq!(get(&info, "url"), &Value::from(format!("{base}/put?x=1")));
    assert_eq!(log.lock().unwrap().last().unwrap().method, "POST");

    // a missing blob is an error result
    let info = call(
        &api,
        "wput",
        vec![bin(&[0; 32]), format!("{base}/put").into()],
    )
    .await
    .unwrap();
    assert_eq!(get(&info, "ok"), &Value::Boolean(false));
    assert_eq!(
        get(&info, "mesg"),
        &Value::from("NoSuchFile: Axon does not contain the requested file.")
    );
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("NoSuchFile"));
    assert_eq!(get(&err[1], "sha256"), &Value::from("00".repeat(32)));

    // a sha256 given as text fails in the result too
    let info = call(
        &api,
        "wput",
        vec![sha.hex().into(), format!("{base}/put").into()],
    )
    .await
    .unwrap();
    assert_eq!(get(&info, "ok"), &Value::Boolean(false));
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("TypeError"));

    // a 404 is a result
    let info = call(
        &api,
        "wput",
        vec![bin(&sha.0), format!("{base}/newp").into()],
    )
    .await
    .unwrap();
    assert_eq!(get(&info, "code"), &Value::from(404));
    cell.fini().await;
}

#[tokio::test]
async fn postfiles_sends_a_form() {
    let (addr, log) = serve().await;
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    let base = format!("http://{addr}");
    call(&api, "put", vec![bin(b"blob bytes")]).await.unwrap();
    let sha = Sha256::of(b"blob bytes").hex();

    let field = |items: Vec<(&str, Value)>| {
        Value::Map(
            items
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    };
    let fields = Value::Array(vec![
        field(vec![
            ("name", "file".into()),
            ("sha256", sha.as_str().into()),
            ("filename", "b.bin".into()),
        ]),
        field(vec![("name", "text".into()), ("value", "hello".into())]),
        field(vec![
            ("name", "obj".into()),
            ("value", Value::Map(vec![("a".into(), 1.into())])),
        ]),
        field(vec![("name", "raw".into()), ("value", bin(b"\x00\x01"))]),
    ]);
    let info = call(
        &api,
        "postfiles",
        vec![fields, format!("{base}/form").into()],
    )
    .await
    .unwrap();
    assert_eq!(
        keys(&info),
        ["ok", "url", "code", "body", "reason", "headers"]
    );
    assert_eq!(get(&info, "code"), &Value::from(200));
    let seen = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.method, "POST");
    let ctype = seen.header("content-type").unwrap();
    let boundary = ctype
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let body = String::from_utf8_lossy(&seen.body).into_owned();
    assert!(body.starts_with(&format!("--{boundary}\r\n")));
    assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    assert!(body.contains(
        "Content-Disposition: form-data; name=\"file\"; filename=\"b.bin\"\r\n\r\nblob bytes\r\n"
    ));
    assert!(body.contains("Content-Disposition: form-data; name=\"text\"\r\n\r\nhello\r\n"));
    assert!(body.contains("name=\"obj\"\r\n\r\n{\"a\":1}\r\n"));
    assert!(body.contains("name=\"raw\"; filename=\"raw\"\r\n\r\n\u{0}\u{1}\r\n"));
    // the echoed body comes back
    assert_eq!(get(&info, "body"), &Value::Binary(seen.body.clone()));

    // a field without a name
    let fields = Value::Array(vec![field(vec![("value", "x".into())])]);
    let url = format!("{base}/form");
    let info = call(&api, "postfiles", vec![fields, url.as_str().into()])
        .await
        .unwrap();
    assert_eq!(
        keys(&info),
        ["ok", "err", "url", "body", "code", "reason", "headers"]
    );
    assert_eq!(get(&info, "url"), &Value::from(url.as_str()));
    assert_eq!(
        get(&info, "reason"),
        &Value::from(
            "Exception occurred during request: BadArg: Each field requires a \"name\" key with a string value: None"
        )
    );
    // a missing blob
    let fields = Value::Array(vec![field(vec![
        ("name", "f".into()),
        ("sha256", "00".repeat(32).into()),
    ])]);
    let info = call(&api, "postfiles", vec![fields, url.as_str().into()])
        .await
        .unwrap();
    let Value::Array(err) = get(&info, "err") else {
        panic!("err is not a tuple");
    };
    assert_eq!(err[0], Value::from("NoSuchFile"));
    cell.fini().await;
}

#[tokio::test]
async fn transfer_permissions() {
    let (addr, _log) = serve().await;
    let (_dir, cell) = open_axon(&[]).await;
    let auth = cell.cell().auth();
    let visi = auth.add_user("visi", None, None, None).await.unwrap();
    let api = cell.session(&visi.iden, ConnInfo::local());
    let url = Value::from(format!("http://{addr}/file"));
    let err = call(&api, "wget", vec![url.clone()]).await.unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.wget")));
    let err = call(&api, "wput", vec![bin(&[0; 32]), url.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.wput")));
    let err = call(&api, "postfiles", vec![Value::Array(vec![]), url.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.wput")));
    auth.add_user_rule(&visi.iden, Rule::new(true, &["axon", "wget"]), None, None)
        .await
        .unwrap();
    let info = call(&api, "wget", vec![url]).await.unwrap();
    assert_eq!(get(&info, "code"), &Value::from(200));
    cell.fini().await;
}
