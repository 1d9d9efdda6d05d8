//! `$lib.inet.http` and `$lib.axon` (with `wget` / `wput` / `urlfile`) against a local HTTP
//! server run by the test, with a real Axon cell as the Cortex's local Axon.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use rmpv::Value;
use sha2::Digest;
use synapse_axon::AxonService;
use synapse_cell::{Args, CellApi, CellOptions, ConnInfo, Reply, Service, ServiceCell};
use synapse_cortex::cortex::{AxonClient, Cortex};

use crate::util::{allow, call, dict, fresh, get, root, s, user};

/// The Axon cell in a directory, called as its root user (as synapse-servers composes it).
struct TestAxon {
    cell: ServiceCell<AxonService>,
    api: CellApi<AxonService>,
}

impl AxonClient for TestAxon {
    fn call<'a>(&'a self, meth: &'a str, args: Args) -> BoxFuture<'a, synapse_cell::Result<Reply>> {
        Box::pin(self.api.call(meth, args))
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.cell.fini())
    }
}

async fn with_axon(core: &crate::util::Core, dirn: &std::path::Path) {
    let opts = CellOptions::new(dirn, &AxonService::def())
        .conf("health:sysctl:checks", serde_json::json!(false))
        .unwrap();
    let cell = ServiceCell::<AxonService>::open(opts).await.unwrap();
    let rootiden = cell.cell().auth().root_iden();
    let api = cell.session(&rootiden, ConnInfo::local());
    core.service().set_axon(Arc::new(TestAxon { cell, api }));
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let resp = |code: u16, body: Vec<u8>| {
        Response::builder()
            .status(code)
            .header("X-Test", "yup")
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    Ok(match path.as_str() {
        "/hello.txt" => resp(200, b"hello\nworld\n".to_vec()),
        "/gz" => {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(b"hello\nworld\n").unwrap();
            Response::builder()
                .status(200)
                .header("Content-Encoding", "gzip")
                .body(Full::new(Bytes::from(enc.finish().unwrap())))
                .unwrap()
        }
        "/json" => resp(200, br#"{"a": 1, "b": [1, "two"]}"#.to_vec()),
        "/echo" => {
            let info = serde_json::json!({
                "method": method,
                "query": query,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
                "sha256": hex::encode(sha2::Sha256::digest(&body)),
                "size": body.len(),
            });
            resp(200, info.to_string().into_bytes())
        }
        "/redir" => Response::builder()
            .status(302)
            .header("Location", "/hop")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        "/hop" => Response::builder()
            .status(301)
            .header("Location", "hello.txt")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        _ => resp(404, b"nope".to_vec()),
    })
}

/// Serve `handle` on a local port: its base URL.
async fn server() -> String {
    let lisn = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = lisn.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = lisn.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(sock),
                        hyper::service::service_fn(handle),
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let lisn = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    lisn.local_addr().unwrap().port()
}

async fn storm(
    api: &CellApi<Cortex>,
    text: &str,
    base: &str,
) -> Result<Value, synapse_cell::Error> {
    let opts = dict(vec![("vars", dict(vec![("base", s(base))]))]);
    call(api, "callStorm", vec![s(text), opts]).await
}

fn ints(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an int: {v}"))
}

fn st(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a str: {v}"))
}

#[tokio::test]
async fn http_get_head_post_and_resp_object() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let base = server().await;

    let text = r#"
        $resp = $lib.inet.http.get(`{$base}/hello.txt`, params=({"q": "a b", "m": ([1, 2])}))
        return(({
            "code": $resp.code, "reason": $resp.reason, "body": $resp.body.decode(),
            "xtest": $resp.headers."X-Test", "url": $resp.url, "err": $resp.err,
            "raw": $resp.getRawHeaders()."Set-Cookie", "hist": $lib.len($resp.history),
        }))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    assert_eq!(ints(get(&out, "code")), 200);
    assert_eq!(st(get(&out, "reason")), "OK");
    assert_eq!(st(get(&out, "body")), "hello\nworld\n");
    assert_eq!(st(get(&out, "xtest")), "yup");
    assert_eq!(
        st(get(&out, "url")),
        format!("{base}/hello.txt?q=a+b&m=1&m=2")
    );
    assert_eq!(get(&out, "err").as_array().unwrap().len(), 0);
    assert_eq!(get(&out, "raw"), &Value::Array(vec![s("a=1"), s("b=2")]),);
    assert_eq!(ints(get(&out, "hist")), 0);

    // json(), and a missing page
    let text = r#"
        $resp = $lib.inet.http.get(`{$base}/json`)
        $miss = $lib.inet.http.get(`{$base}/missing`)
        return(($resp.json(), $miss.code, $miss.reason, $miss.body))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(ints(get(&out[0], "a")), 1);
    assert_eq!(get(&out[0], "b").as_array().unwrap()[1], s("two"));
    assert_eq!(ints(&out[1]), 404);
    assert_eq!(st(&out[2]), "Not Found");
    assert_eq!(out[3], Value::Binary(b"nope".to_vec()));

    // post with a json body, request with a text body and headers
    let text = r#"
        $a = $lib.inet.http.post(`{$base}/echo`, json=({"x": 1})).json()
        $b = $lib.inet.http.request(PUT, `{$base}/echo`, headers=({"X-Mine": 7}), body=hehe).json()
        $h = $lib.inet.http.head(`{$base}/hello.txt`)
        return(($a, $b, $h.code, $h.body))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(st(get(&out[0], "method")), "POST");
    assert_eq!(st(get(&out[0], "body")), r#"{"x": 1}"#);
    assert_eq!(
        st(get(get(&out[0], "headers"), "content-type")),
        "application/json"
    );
    assert_eq!(st(get(&out[1], "method")), "PUT");
    assert_eq!(st(get(&out[1], "body")), "hehe");
    assert_eq!(st(get(get(&out[1], "headers"), "x-mine")), "7");
    assert_eq!(ints(&out[2]), 200);
    assert_eq!(out[3], Value::Binary(Vec::new()));

    // redirects: followed by get (history kept), not by head
    let text = r#"
        $r = $lib.inet.http.get(`{$base}/redir`)
        $codes = ([])
        for $h in $r.history { $codes.append($h.code) }
        $n = $lib.inet.http.head(`{$base}/redir`)
        $x = $lib.inet.http.get(`{$base}/redir`, allow_redirects=$lib.false)
        return(($r.code, $r.url, $codes, $n.code, $x.code, $x.headers.Location))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(ints(&out[0]), 200);
    assert_eq!(st(&out[1]), format!("{base}/hello.txt"));
    assert_eq!(
        out[2],
        Value::Array(vec![Value::from(302), Value::from(301)])
    );
    assert_eq!(ints(&out[3]), 302);
    assert_eq!(ints(&out[4]), 302);
    assert_eq!(st(&out[5]), "/hop");

    // a connection error is a response with code -1 and err
    let port = closed_port().await;
    let text = format!(
        "$r = $lib.inet.http.get('http://127.0.0.1:{port}/x') return(($r.code, $r.err, $r.reason))"
    );
    let out = storm(&api, &text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(ints(&out[0]), -1);
    assert_eq!(st(&out[1].as_array().unwrap()[0]), "ClientConnectorError");
    assert!(st(&out[2]).starts_with(
        "Exception occurred during request: ClientConnectorError: Cannot connect to host 127.0.0.1:"
    ));

    // the helpers
    let text = r#"return((
        $lib.inet.http.urlencode("http://go ogle.com/?a=b"),
        $lib.inet.http.urldecode("http%3A%2F%2Fgo+ogle.com"),
        $lib.inet.http.codereason(418), $lib.inet.http.codereason(299)))"#;
    let out = storm(&api, text, &base).await.unwrap();
    assert_eq!(
        out,
        Value::Array(vec![
            s("http%3A%2F%2Fgo+ogle.com%2F%3Fa%3Db"),
            s("http://go ogle.com"),
            s("I'm a Teapot"),
            s("Unknown HTTP status code 299"),
        ])
    );
}

/// A TLS acceptor with a self-signed certificate for `localhost`, and the certificate PEM.
fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let certs = vec![cert.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    (acceptor, pem)
}

/// A TLS server with a self-signed certificate for `localhost`: its port and certificate PEM.
async fn tls_server() -> (u16, String) {
    let (acceptor, pem) = tls_acceptor();
    let lisn = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = lisn.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = lisn.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(sock).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(tls),
                        hyper::service::service_fn(handle),
                    )
                    .await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn https_needs_verify_or_ssl_verify_false() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (port, pem) = tls_server().await;
    let base = format!("https://localhost:{port}");
    let text = r#"
        $a = $lib.inet.http.get(`{$base}/hello.txt`)
        $b = $lib.inet.http.get(`{$base}/hello.txt`, ssl_verify=$lib.false)
        $c = $lib.inet.http.get(`{$base}/hello.txt`, ssl_opts=({"verify": false}))
        return(($a.code, $a.err.0, $b.code, $b.body.decode(), $c.code))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(ints(&out[0]), -1);
    assert_eq!(st(&out[1]), "ClientConnectorCertificateError");
    assert_eq!(ints(&out[2]), 200);
    assert_eq!(st(&out[3]), "hello\nworld\n");
    assert_eq!(ints(&out[4]), 200);

    // the CA given in ssl_opts, or found in tls:ca:dir, verifies it
    let opts = dict(vec![(
        "vars",
        dict(vec![("base", s(&base)), ("pem", s(&pem))]),
    )]);
    let text =
        "return($lib.inet.http.get(`{$base}/hello.txt`, ssl_opts=({\"ca_cert\": $pem})).code)";
    let out = call(&api, "callStorm", vec![s(text), opts]).await.unwrap();
    assert_eq!(ints(&out), 200);

    let dir = tempfile::tempdir().unwrap();
    let cadir = dir.path().join("cas");
    std::fs::create_dir_all(&cadir).unwrap();
    std::fs::write(cadir.join("test.crt"), &pem).unwrap();
    let copts = CellOptions::new(dir.path().join("core"), &Cortex::def())
        .conf("tls:ca:dir", cadir.to_str().unwrap().into())
        .unwrap();
    let core2 = ServiceCell::<Cortex>::open(copts).await.unwrap();
    let api2 = root(&core2);
    let out = storm(
        &api2,
        "return($lib.inet.http.get(`{$base}/hello.txt`).code)",
        &base,
    )
    .await
    .unwrap();
    assert_eq!(ints(&out), 200);
}

#[tokio::test]
async fn axon_blobs_from_storm() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let text = r#"
        $a = "a,b\nc,\"d e\"\n"
        $b = "{\"x\": 1}\n{\"x\": 2}"
        ($size, $sha) = $lib.axon.put($a.encode())
        ($size2, $sha2) = $lib.axon.put($b.encode())
        $lines = ([])
        for $l in $lib.axon.readlines($sha) { $lines.append($l) }
        $rows = ([])
        for $r in $lib.axon.csvrows($sha) { $rows.append($r) }
        $objs = ([])
        for $o in $lib.axon.jsonlines($sha2) { $objs.append($o.x) }
        $list = ([])
        for $i in $lib.axon.list() { $list.append($i) }
        return(({
            "size": $size, "sha": $sha, "has": $lib.axon.has($sha),
            "sizeof": $lib.axon.size($sha), "lines": $lines, "rows": $rows, "objs": $objs,
            "list": $list, "read": $lib.axon.read($sha, offs=2, size=3),
            "hashset": $lib.axon.hashset($sha), "metrics": $lib.axon.metrics(),
            "nohas": $lib.axon.has(
                "0000000000000000000000000000000000000000000000000000000000000000"),
        }))
    "#;
    let out = storm(&api, text, "").await.unwrap();
    let blob = b"a,b\nc,\"d e\"\n";
    let sha = hex::encode(sha2::Sha256::digest(blob));
    assert_eq!(ints(get(&out, "size")), blob.len() as i64);
    assert_eq!(st(get(&out, "sha")), sha);
    assert_eq!(get(&out, "has"), &Value::Boolean(true));
    assert_eq!(get(&out, "nohas"), &Value::Boolean(false));
    assert_eq!(ints(get(&out, "sizeof")), blob.len() as i64);
    assert_eq!(
        get(&out, "lines"),
        &Value::Array(vec![s("a,b"), s("c,\"d e\"")])
    );
    assert_eq!(
        get(&out, "rows"),
        &Value::Array(vec![
            Value::Array(vec![s("a"), s("b")]),
            Value::Array(vec![s("c"), s("d e")])
        ])
    );
    assert_eq!(
        get(&out, "objs"),
        &Value::Array(vec![Value::from(1), Value::from(2)])
    );
    let list = get(&out, "list").as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = list[0].as_array().unwrap();
    assert_eq!(ints(&first[0]), 0);
    assert_eq!(st(&first[1]), sha);
    assert_eq!(ints(&first[2]), blob.len() as i64);
    assert_eq!(get(&out, "read"), &Value::Binary(b"b\nc".to_vec()));
    assert_eq!(st(get(get(&out, "hashset"), "sha256")), sha);
    assert_eq!(ints(get(get(&out, "metrics"), "file:count")), 2);

    // del / dels
    let text =
        format!("return(($lib.axon.del({sha}), $lib.axon.has({sha}), $lib.axon.dels(({sha},))))");
    let out = storm(&api, &text, "").await.unwrap();
    assert_eq!(
        out,
        Value::Array(vec![
            Value::Boolean(true),
            Value::Boolean(false),
            Value::Array(vec![Value::Boolean(false)])
        ])
    );

    // put needs bytes
    let err = storm(&api, "return($lib.axon.put(hehe))", "")
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadArg");
}

#[tokio::test]
async fn axon_wget_wput_urlfile() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let base = server().await;
    let blob = b"hello\nworld\n";
    let sha = hex::encode(sha2::Sha256::digest(blob));

    let text = r#"
        $resp = $lib.axon.wget(`{$base}/hello.txt`, headers=({"X-Mine": "x"}))
        $lines = ([])
        for $l in $lib.axon.readlines($resp.hashes.sha256) { $lines.append($l) }
        return(($resp, $lines))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    let resp = &out[0];
    assert_eq!(get(resp, "ok"), &Value::Boolean(true));
    assert_eq!(ints(get(resp, "code")), 200);
    assert_eq!(st(get(resp, "reason")), "OK");
    assert_eq!(ints(get(resp, "size")), blob.len() as i64);
    assert_eq!(st(get(resp, "url")), format!("{base}/hello.txt"));
    assert_eq!(st(get(resp, "original_url")), format!("{base}/hello.txt"));
    assert_eq!(st(get(get(resp, "headers"), "X-Test")), "yup");
    let hashes = get(resp, "hashes");
    assert_eq!(st(get(hashes, "sha256")), sha);
    assert_eq!(st(get(hashes, "md5")), hex::encode(md5::Md5::digest(blob)));
    assert_eq!(
        st(get(hashes, "sha1")),
        hex::encode(sha1::Sha1::digest(blob))
    );
    assert_eq!(
        st(get(hashes, "sha512")),
        hex::encode(sha2::Sha512::digest(blob))
    );
    let request = get(resp, "request");
    assert_eq!(st(get(request, "method")), "GET");
    assert_eq!(st(get(get(request, "headers"), "X-Mine")), "x");
    assert!(synapse_cell::map_get(resp, "history").is_none());
    assert_eq!(out[1], Value::Array(vec![s("hello"), s("world")]));

    // a gzip content-encoding is undone, as aiohttp does
    let text = r#"
        $a = $lib.axon.wget(`{$base}/gz`)
        $b = $lib.inet.http.get(`{$base}/gz`)
        return(($a.hashes.sha256, $a.size, $b.body))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    assert_eq!(
        out,
        Value::Array(vec![
            s(&sha),
            Value::from(blob.len()),
            Value::Binary(blob.to_vec())
        ])
    );

    // a failure
    let port = closed_port().await;
    let text = format!("return($lib.axon.wget('http://127.0.0.1:{port}/x'))");
    let out = storm(&api, &text, &base).await.unwrap();
    assert_eq!(get(&out, "ok"), &Value::Boolean(false));
    assert_eq!(ints(get(&out, "code")), -1);
    assert!(st(get(&out, "mesg")).starts_with("ClientConnectorError: Cannot connect to host"));
    assert_eq!(
        st(&get(&out, "err").as_array().unwrap()[0]),
        "ClientConnectorError"
    );

    // wput streams a blob as the request body
    let text = format!("return($lib.axon.wput({sha}, `{{$base}}/echo`, method=POST))");
    let out = storm(&api, &text, &base).await.unwrap();
    assert_eq!(get(&out, "ok"), &Value::Boolean(true));
    assert_eq!(ints(get(&out, "code")), 200);
    let text = format!("$r = $lib.axon.wput({sha}, `{{$base}}/echo`) return($r)");
    let out = storm(&api, &text, &base).await.unwrap();
    assert_eq!(ints(get(&out, "code")), 200);
    let missing = "00".repeat(32);
    let text = format!("return($lib.axon.wput({missing}, `{{$base}}/echo`))");
    let out = storm(&api, &text, &base).await.unwrap();
    assert_eq!(get(&out, "ok"), &Value::Boolean(false));
    assert!(st(get(&out, "mesg")).starts_with("NoSuchFile"));

    // urlfile: file:bytes (named from the path), inet:urlfile and the redirect chain
    let text = r#"
        $node = $lib.axon.urlfile(`{$base}/redir`)
        $miss = $lib.axon.urlfile(`{$base}/missing`)
        return(($node.ndef(), $node.props.file, $miss))
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    let ndef = out[0].as_array().unwrap();
    assert_eq!(st(&ndef[0]), "inet:urlfile");
    assert_eq!(
        ndef[1],
        Value::Array(vec![
            s(&format!("{base}/redir")),
            s(&format!("sha256:{sha}"))
        ])
    );
    assert_eq!(st(&out[1]), format!("sha256:{sha}"));
    assert_eq!(out[2], Value::Nil);
    let text = format!("file:bytes=sha256:{sha} return((:name, :size, :md5))");
    let out = storm(&api, &text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    // named from the original URL, as the reference does
    assert_eq!(st(&out[0]), "redir");
    assert_eq!(ints(&out[1]), blob.len() as i64);
    assert_eq!(st(&out[2]), hex::encode(md5::Md5::digest(blob)));
    let count = storm(
        &api,
        "$n = 0 inet:urlredir $n = ($n + 1) fini { return($n) }",
        &base,
    )
    .await
    .unwrap();
    assert_eq!(ints(&count), 2);
    let redir = storm(
        &api,
        &format!("inet:urlredir:dst=\"{base}/hello.txt\" return((:src, :dst))"),
        &base,
    )
    .await
    .unwrap();
    let redir = redir.as_array().unwrap();
    assert_eq!(st(&redir[0]), format!("{base}/hop"));
}

#[tokio::test]
async fn axon_permissions() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let base = server().await;
    let (api, iden) = user(&core, "visi").await;
    let url = format!("{base}/hello.txt");
    let text = "return($lib.axon.wget($base).code)";
    let err = storm(&api, text, &url).await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    let err = storm(&api, "$x = x return($lib.axon.put($x.encode()))", "")
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    allow(&core, &iden, &["storm", "lib", "axon", "wget"], None).await;
    assert_eq!(ints(&storm(&api, text, &url).await.unwrap()), 200);
    allow(&core, &iden, &["axon", "upload"], None).await;
    allow(&core, &iden, &["axon", "has"], None).await;
    let out = storm(
        &api,
        "$x = x ($s, $h) = $lib.axon.put($x.encode()) return($lib.axon.has($h))",
        "",
    )
    .await
    .unwrap();
    assert_eq!(out, Value::Boolean(true));
    let err = storm(&api, "return($lib.axon.del(00))", "")
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
}

/// The ndefs of the nodes and the warnings of a `storm()` call.
async fn nodes_warns(api: &CellApi<Cortex>, text: &str, base: &str) -> (Vec<Value>, Vec<String>) {
    let opts = dict(vec![("vars", dict(vec![("base", s(base))]))]);
    let mesgs = crate::util::genr(api, "storm", vec![s(text), opts])
        .await
        .unwrap();
    let mut nodes = Vec::new();
    let mut warns = Vec::new();
    for mesg in &mesgs {
        let parts = mesg.as_array().unwrap();
        match parts[0].as_str() {
            Some("node") => nodes.push(parts[1].as_array().unwrap()[0].clone()),
            Some("warn") => warns.push(st(get(&parts[1], "mesg")).to_owned()),
            Some("err") => panic!("storm error: {mesg}"),
            _ => {}
        }
    }
    (nodes, warns)
}

#[tokio::test]
async fn wget_command() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let base = server().await;
    let sha = hex::encode(sha2::Sha256::digest(b"hello\nworld\n"));
    let jsha = hex::encode(sha2::Sha256::digest(br#"{"a": 1, "b": [1, "two"]}"#));

    // URLs as arguments, no inbound nodes
    let (nodes, _) = nodes_warns(&api, "wget `{$base}/hello.txt` `{$base}/json`", &base).await;
    assert_eq!(
        nodes,
        vec![
            Value::Array(vec![
                s("inet:urlfile"),
                Value::Array(vec![
                    s(&format!("{base}/hello.txt")),
                    s(&format!("sha256:{sha}"))
                ]),
            ]),
            Value::Array(vec![
                s("inet:urlfile"),
                Value::Array(vec![
                    s(&format!("{base}/json")),
                    s(&format!("sha256:{jsha}"))
                ]),
            ]),
        ]
    );

    // an inbound inet:url node is replaced by its urlfile; a non-200 gives a warning
    let (nodes, warns) = nodes_warns(
        &api,
        "[inet:url=`{$base}/json` inet:url=`{$base}/missing`] | wget --no-headers",
        &base,
    )
    .await;
    assert_eq!(nodes.len(), 1);
    assert_eq!(st(&nodes[0].as_array().unwrap()[0]), "inet:urlfile");
    assert_eq!(
        warns,
        vec!["$lib.axon.urlfile(): HTTP code 404: Not Found".to_owned()]
    );

    // other forms need URL arguments
    let (nodes, warns) = nodes_warns(&api, "[inet:fqdn=vertex.link] | wget", &base).await;
    assert!(nodes.is_empty());
    assert_eq!(
        warns,
        vec!["wget can only take inet:url nodes as input without args.".to_owned()]
    );

    // the default headers are sent
    let (nodes, _) = nodes_warns(&api, "wget `{$base}/echo`", &base).await;
    assert_eq!(nodes.len(), 1);
    let out = storm(
        &api,
        "inet:urlfile:url=`{$base}/echo` -> file:bytes for $o in $lib.axon.jsonlines(:sha256) { return($o.headers) }",
        &base,
    )
    .await
    .unwrap();
    assert_eq!(st(get(&out, "accept-language")), "en-US,en;q=0.9");
    assert!(st(get(&out, "user-agent")).starts_with("Mozilla/5.0"));
}

/// A returned value as the recording holds it (bytes as `{"$bytes": hex}`).
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(b) => (*b).into(),
        Value::Integer(i) => i
            .as_i64()
            .map(serde_json::Value::from)
            .unwrap_or_else(|| i.as_u64().into()),
        Value::F32(f) => f64::from(*f).into(),
        Value::F64(f) => (*f).into(),
        Value::String(s) => s.as_str().unwrap_or_default().into(),
        Value::Binary(b) => serde_json::json!({ "$bytes": hex::encode(b) }),
        Value::Array(items) => items.iter().map(to_json).collect(),
        Value::Map(items) => items
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Ext(..) => serde_json::Value::Null,
    }
}

/// Cases whose reference result is not the behaviour to match: in 2.256 `wget` with inbound
/// nodes and no URL arguments fetches `None` (InvalidUrlClientError) and passes the inbound
/// nodes on; here it fetches the `inet:url` (and warns on other forms) as its documentation
/// says. `wget_command` covers them.
const NOT_REPLAYED: &[usize] = &[31, 32, 33];

/// The recorded cases (`gen_recorded_http.py`) replayed: the same value, error class and
/// warnings.
#[tokio::test]
async fn http_and_axon_replay_the_reference() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let base = server().await;
    let closed = format!("http://127.0.0.1:{}", closed_port().await);
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("http_recorded.json")).unwrap();
    assert!(cases.len() > 30);
    let mut failed = Vec::new();
    for (idx, case) in cases.iter().enumerate() {
        if NOT_REPLAYED.contains(&idx) {
            continue;
        }
        let text = case["query"].as_str().unwrap();
        let opts = dict(vec![(
            "vars",
            dict(vec![("base", s(&base)), ("closed", s(&closed))]),
        )]);
        let got = call(&api, "callStorm", vec![s(text), opts.clone()]).await;
        let mesgs = crate::util::genr(&api, "storm", vec![s(text), opts])
            .await
            .unwrap();
        let warns: Vec<serde_json::Value> = mesgs
            .iter()
            .filter_map(|m| {
                let parts = m.as_array()?;
                (parts[0].as_str() == Some("warn")).then(|| to_json(get(&parts[1], "mesg")))
            })
            .collect();
        let ok = match &got {
            Ok(valu) => case.get("valu") == Some(&to_json(valu)),
            Err(err) => case.get("err").and_then(|e| e.as_str()) == Some(err.name()),
        };
        if !ok || case["warns"] != serde_json::Value::Array(warns.clone()) {
            let got = match got {
                Ok(v) => to_json(&v).to_string(),
                Err(e) => format!("{}: {}", e.name(), e.mesg()),
            };
            failed.push(format!(
                "#{idx} {text}\n  reference: {} {}\n  here:      {got} {warns:?}",
                case.get("valu").or(case.get("err")).unwrap(),
                case["warns"],
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[tokio::test]
async fn axon_upload_and_unpack() {
    let (dir, core) = fresh().await;
    with_axon(&core, &dir.path().join("axon")).await;
    let api = root(&core);
    let text = r#"
        function chunks() {
            $x = "part1"
            emit $x.encode()
            $y = "part2"
            emit $y.encode()
        }
        ($size, $sha) = $lib.axon.upload($chunks())
        $a = "asdf"
        ($size2, $sha2) = $lib.bytes.upload(($a.encode(), $a.encode()))
        ($size3, $sha3) = $lib.axon.upload(([]))
        return(({
            "size": $size, "sha": $sha, "size2": $size2, "sha2": $sha2,
            "size3": $size3, "sha3": $sha3,
            "read": $lib.axon.read($sha),
            "nums": $lib.axon.unpack($sha, "<I", offs=1),
            "pair": $lib.axon.unpack($sha2, ">HH"),
        }))
    "#;
    let out = storm(&api, text, "").await.unwrap();
    assert_eq!(ints(get(&out, "size")), 10);
    assert_eq!(
        st(get(&out, "sha")),
        hex::encode(sha2::Sha256::digest(b"part1part2"))
    );
    assert_eq!(get(&out, "read"), &Value::Binary(b"part1part2".to_vec()));
    assert_eq!(ints(get(&out, "size2")), 8);
    assert_eq!(
        st(get(&out, "sha2")),
        hex::encode(sha2::Sha256::digest(b"asdfasdf"))
    );
    assert_eq!(ints(get(&out, "size3")), 0);
    assert_eq!(
        st(get(&out, "sha3")),
        hex::encode(sha2::Sha256::digest(b""))
    );
    // b"art1" little-endian, and b"as" / b"df" big-endian
    assert_eq!(
        get(&out, "nums"),
        &Value::Array(vec![Value::from(u32::from_le_bytes(*b"art1"))])
    );
    assert_eq!(
        get(&out, "pair"),
        &Value::Array(vec![
            Value::from(u16::from_be_bytes(*b"as")),
            Value::from(u16::from_be_bytes(*b"df"))
        ])
    );

    // the Axon's errors come through
    let sha = hex::encode(sha2::Sha256::digest(b"part1part2"));
    let err = storm(&api, "return($lib.axon.unpack($base, '<Q', offs=8))", &sha)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadDataValu");
    assert_eq!(err.mesg(), "Expected 8 bytes but got 2 bytes");
    let err = storm(&api, "return($lib.axon.unpack($base, 'newp'))", &sha)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadArg");
    // non-bytes items are refused by the Axon's upload
    let err = storm(&api, "return($lib.axon.upload((1, 2)))", "")
        .await
        .unwrap_err();
    assert_eq!(err.name(), "TypeError");

    // permissions: axon.upload for $lib.axon.upload; $lib.bytes.upload unless denied;
    // axon.get (or storm.lib.axon.get) for unpack
    let (visi, iden) = user(&core, "visi").await;
    let up = "$x = x return($lib.axon.upload(($x.encode(),)))";
    let err = storm(&visi, up, "").await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    let bup = "$x = y ($size, $sha) = $lib.bytes.upload(($x.encode(),)) return($size)";
    assert_eq!(ints(&storm(&visi, bup, "").await.unwrap()), 1);
    let unpack = "return($lib.axon.unpack($base, '<B'))";
    let err = storm(&visi, unpack, &sha).await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    allow(&core, &iden, &["storm", "lib", "axon", "get"], None).await;
    assert_eq!(
        storm(&visi, unpack, &sha).await.unwrap(),
        Value::Array(vec![Value::from(u32::from(b'p'))])
    );
    allow(&core, &iden, &["axon", "upload"], None).await;
    let out = storm(&visi, up, "").await.unwrap();
    assert_eq!(ints(&out.as_array().unwrap()[0]), 1);
    // a rule that denies axon.upload stops $lib.bytes.upload
    let (ruby, riden) = user(&core, "ruby").await;
    core.cell()
        .auth()
        .add_user_rule(
            &riden,
            synapse_cell::Rule::new(false, &["axon", "upload"]),
            None,
            None,
        )
        .await
        .unwrap();
    let err = storm(&ruby, bup, "").await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
}

/// A WebSocket server that echoes each message back, except the JSON strings `"info"`
/// (answered with the request's path, query, `X-Hehe` header and the frame kind) and
/// `"close"` (answered with a close frame). Each connection's end is reported: `"close"`
/// after a close frame from the client, else `"eof"`.
async fn ws_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<&'static str>) {
    let lisn = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = lisn.local_addr().unwrap();
    let (ends, endr) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = lisn.accept().await {
            tokio::spawn(ws_conn(sock, ends.clone()));
        }
    });
    (format!("ws://{addr}"), endr)
}

/// A `wss://localhost` server as `ws_server`, and its certificate PEM.
async fn wss_server() -> (String, String) {
    let (acceptor, pem) = tls_acceptor();
    let lisn = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = lisn.local_addr().unwrap().port();
    let (ends, _) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = lisn.accept().await {
            let acceptor = acceptor.clone();
            let ends = ends.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(sock).await {
                    ws_conn(tls, ends).await;
                }
            });
        }
    });
    (format!("wss://localhost:{port}"), pem)
}

/// One connection of `ws_server`.
async fn ws_conn<S>(sock: S, ends: tokio::sync::mpsc::UnboundedSender<&'static str>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let mut seen = serde_json::Value::Null;
    // the handshake callback type is tungstenite's
    #[allow(clippy::result_large_err)]
    let cb = |req: &Request, resp: Response| {
        seen = serde_json::json!({
            "path": req.uri().path(),
            "query": req.uri().query().unwrap_or(""),
            "hehe": req.headers().get("x-hehe").and_then(|v| v.to_str().ok()),
        });
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(sock, cb).await else {
        return;
    };
    let mut end = "eof";
    while let Some(Ok(mesg)) = ws.next().await {
        let (kind, data) = match &mesg {
            Message::Text(t) => ("text", t.as_bytes().to_vec()),
            Message::Binary(b) => ("binary", b.to_vec()),
            Message::Close(_) => {
                end = "close";
                continue;
            }
            _ => continue,
        };
        let json: serde_json::Value = serde_json::from_slice(&data).unwrap();
        let reply = match json.as_str() {
            Some("info") => {
                let mut info = seen.clone();
                info["kind"] = kind.into();
                Message::Text(info.to_string().into())
            }
            Some("close") => {
                let _ = ws.close(None).await;
                continue;
            }
            Some("notjson") => Message::Text("{nope".into()),
            _ => mesg,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
    let _ = ends.send(end);
}

#[tokio::test]
async fn http_connect_websocket() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (base, mut ends) = ws_server().await;

    // tx / rx: a JSON message echoed back; tx sends a binary frame with the headers and
    // params of the connect
    let text = r#"
        ($ok, $sock) = $lib.inet.http.connect(`{$base}/sock`, headers=({"X-Hehe": "haha"}),
                                              params=({"a": 1}))
        if (not $ok) { return($sock) }
        $out = ([$lib.vars.type($sock)])
        $out.append($sock.tx(({"a": 1, "b": [1, "two"], "c": null})))
        $out.append($sock.rx())
        $out.append($sock.tx(info))
        $out.append($sock.rx(timeout=(5)))
        return($out)
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap_or_else(|| panic!("{out}"));
    assert_eq!(st(&out[0]), "inet:http:socket");
    assert_eq!(out[1], Value::Array(vec![Value::Boolean(true), Value::Nil]));
    let rx = out[2].as_array().unwrap();
    assert_eq!(rx[0], Value::Boolean(true));
    assert_eq!(ints(get(&rx[1], "a")), 1);
    assert_eq!(get(&rx[1], "b").as_array().unwrap()[1], s("two"));
    assert_eq!(get(&rx[1], "c"), &Value::Nil);
    let info = &out[4].as_array().unwrap()[1];
    assert_eq!(st(get(info, "path")), "/sock");
    assert_eq!(st(get(info, "query")), "a=1");
    assert_eq!(st(get(info, "hehe")), "haha");
    assert_eq!(st(get(info, "kind")), "binary");
    // the socket is closed with a close frame when the query ends
    assert_eq!(ends.recv().await, Some("close"));

    // rx with a timeout and nothing to read; bad JSON; a close from the server, then EOF
    let text = r#"
        ($ok, $sock) = $lib.inet.http.connect($base)
        $out = ([$sock.rx(timeout=(1))])
        $sock.tx(notjson)
        ($ok, $err) = $sock.rx()
        $out.append(($ok, $err.0))
        $sock.tx(close)
        $out.append($sock.rx())
        $out.append($sock.rx())
        return($out)
    "#;
    let out = storm(&api, text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    let timeout = out[0].as_array().unwrap();
    assert_eq!(timeout[0], Value::Boolean(false));
    assert_eq!(st(&timeout[1].as_array().unwrap()[0]), "TimeoutError");
    assert_eq!(st(get(&timeout[1].as_array().unwrap()[1], "mesg")), "");
    assert_eq!(
        out[1],
        Value::Array(vec![Value::Boolean(false), s("BadJsonText")])
    );
    let closed = out[2].as_array().unwrap();
    assert_eq!(closed[0], Value::Boolean(false));
    assert_eq!(st(&closed[1].as_array().unwrap()[0]), "BadMesgFormat");
    assert_eq!(
        st(get(&closed[1].as_array().unwrap()[1], "mesg")),
        "WebSocket RX unhandled type: CLOSE"
    );
    assert_eq!(out[3], Value::Array(vec![Value::Boolean(true), Value::Nil]));

    // a failed connect, and a server that does not upgrade: (false, (name, {mesg}))
    let port = closed_port().await;
    let text = "return($lib.inet.http.connect($base))";
    let out = storm(&api, text, &format!("ws://127.0.0.1:{port}/x"))
        .await
        .unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(out[0], Value::Boolean(false));
    let err = out[1].as_array().unwrap();
    assert_eq!(st(&err[0]), "ClientConnectorError");
    assert!(
        st(get(&err[1], "mesg")).starts_with(&format!("Cannot connect to host 127.0.0.1:{port}")),
        "{out:?}"
    );
    let http = server().await;
    let out = storm(&api, text, &format!("{http}/hello.txt"))
        .await
        .unwrap();
    let err = out.as_array().unwrap()[1].as_array().unwrap();
    assert_eq!(st(&err[0]), "WSServerHandshakeError");
    assert_eq!(
        st(get(&err[1], "mesg")),
        format!("200, message='Invalid response status', url='{http}/hello.txt'")
    );

    // permissions: connecting needs none; proxy=$lib.false or a proxy URL needs
    // storm.lib.inet.http.proxy; a bad proxy value is refused
    let (visi, iden) = user(&core, "visi").await;
    let text = "($ok, $sock) = $lib.inet.http.connect($base) return($ok)";
    assert_eq!(
        storm(&visi, text, &base).await.unwrap(),
        Value::Boolean(true)
    );
    let noproxy = "($ok, $sock) = $lib.inet.http.connect($base, proxy=$lib.false) return($ok)";
    let err = storm(&visi, noproxy, &base).await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    let err = storm(
        &visi,
        "return($lib.inet.http.connect($base, proxy=socks5://x:1))",
        &base,
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    allow(
        &core,
        &iden,
        &["storm", "lib", "inet", "http", "proxy"],
        None,
    )
    .await;
    assert_eq!(
        storm(&visi, noproxy, &base).await.unwrap(),
        Value::Boolean(true)
    );
    // an unreachable proxy: the proxy's error
    let text = format!("return($lib.inet.http.connect($base, proxy='socks5://127.0.0.1:{port}'))");
    let out = storm(&visi, &text, &base).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(out[0], Value::Boolean(false));
    assert_eq!(st(&out[1].as_array().unwrap()[0]), "ProxyConnectionError");
    let err = storm(
        &visi,
        "return($lib.inet.http.connect($base, proxy=(1)))",
        &base,
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadArg");
}

/// The recorded cases of `gen_websock.py` replayed: the same value or error class.
#[tokio::test]
async fn http_connect_replays_the_reference() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (visi, _) = user(&core, "visi").await;
    let (base, _ends) = ws_server().await;
    let http = server().await;
    let closed = format!("ws://127.0.0.1:{}", closed_port().await);
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("websock_recorded.json")).unwrap();
    assert!(cases.len() > 10);
    let mut failed = Vec::new();
    for (idx, case) in cases.iter().enumerate() {
        let text = case["query"].as_str().unwrap();
        let opts = dict(vec![(
            "vars",
            dict(vec![
                ("base", s(&base)),
                ("http", s(&http)),
                ("closed", s(&closed)),
            ]),
        )]);
        let who = if case["user"] == serde_json::Value::Bool(true) {
            &visi
        } else {
            &api
        };
        let got = call(who, "callStorm", vec![s(text), opts]).await;
        let ok = match &got {
            Ok(valu) => case.get("valu") == Some(&to_json(valu)),
            Err(err) => case.get("err").and_then(|e| e.as_str()) == Some(err.name()),
        };
        if !ok {
            let got = match got {
                Ok(v) => to_json(&v).to_string(),
                Err(e) => format!("{}: {}", e.name(), e.mesg()),
            };
            failed.push(format!(
                "#{idx} {text}\n  reference: {}\n  here:      {got}",
                case.get("valu").or(case.get("err")).unwrap(),
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[tokio::test]
async fn http_connect_wss_verifies() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let (base, pem) = wss_server().await;
    let opts = dict(vec![(
        "vars",
        dict(vec![("base", s(&base)), ("pem", s(&pem))]),
    )]);
    let text = r#"
        $a = $lib.inet.http.connect($base)
        ($ok, $b) = $lib.inet.http.connect($base, ssl_verify=$lib.false)
        $b.tx(([1]))
        ($ok, $c) = $lib.inet.http.connect($base, ssl_opts=({"ca_cert": $pem}))
        $c.tx(([2]))
        return(($a.0, $a.1.0, $b.rx(), $c.rx()))
    "#;
    let out = call(&api, "callStorm", vec![s(text), opts]).await.unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(out[0], Value::Boolean(false));
    assert_eq!(st(&out[1]), "ClientConnectorCertificateError");
    let one = Value::Array(vec![Value::from(1)]);
    assert_eq!(out[2], Value::Array(vec![Value::Boolean(true), one]));
    let two = Value::Array(vec![Value::from(2)]);
    assert_eq!(out[3], Value::Array(vec![Value::Boolean(true), two]));
}
