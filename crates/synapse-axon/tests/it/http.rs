//! The HTTP API in-process (tower `oneshot`): routes, envelopes, permissions, ranges.

use base64::Engine;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value as Json, json};
use synapse_axon::{AxonService, Sha256};
use synapse_cell::{Rule, ServiceCell};
use tower::ServiceExt;

use crate::open_axon;

struct Resp {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn basic(user: &str, passwd: &str) -> String {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{passwd}"));
    format!("Basic {creds}")
}

async fn request(
    cell: &ServiceCell<AxonService>,
    method: Method,
    path: &str,
    auth: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some((user, passwd)) = auth {
        builder = builder.header("authorization", basic(user, passwd));
    }
    for (name, valu) in headers {
        builder = builder.header(*name, *valu);
    }
    let req = builder.body(Full::new(Bytes::from(body))).unwrap();
    let resp = cell.http().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

const ROOT: Option<(&str, &str)> = Some(("root", "secret"));

#[tokio::test]
async fn upload_has_get_delete() {
    let (_dir, cell) = open_axon(&[]).await;
    let data = b"hello http world".to_vec();
    let sha = Sha256::of(&data).hex();

    let resp = request(
        &cell,
        Method::PUT,
        "/api/v1/axon/files/put",
        ROOT,
        &[],
        data.clone(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let result = resp.json();
    assert_eq!(result["status"], "ok");
    assert_eq!(result["result"]["sha256"], sha.as_str());
    assert_eq!(result["result"]["size"], 16);
    for key in ["md5", "sha1", "sha512"] {
        assert!(result["result"][key].is_string());
    }
    // POST works the same.
    let resp = request(
        &cell,
        Method::POST,
        "/api/v1/axon/files/put",
        ROOT,
        &[],
        b"posted".to_vec(),
    )
    .await;
    assert_eq!(resp.json()["result"]["size"], 6);

    let path = format!("/api/v1/axon/files/has/sha256/{sha}");
    let resp = request(&cell, Method::GET, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.json(), json!({"status": "ok", "result": true}));
    let path = format!("/api/v1/axon/files/has/sha256/{}", "00".repeat(32));
    let resp = request(&cell, Method::GET, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.json(), json!({"status": "ok", "result": false}));
    // Not 64 hex digits: no route (Tornado's HTML 404).
    let resp = request(
        &cell,
        Method::GET,
        "/api/v1/axon/files/has/sha256/newp",
        ROOT,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );

    let path = format!("/api/v1/axon/files/by/sha256/{sha}");
    let resp = request(&cell, Method::GET, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, data);
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.header("content-disposition"), Some("attachment"));
    assert_eq!(resp.header("content-length"), Some("16"));
    assert_eq!(resp.header("accept-ranges"), Some("bytes"));
    // Upper-case hex works too.
    let upper = format!("/api/v1/axon/files/by/sha256/{}", sha.to_uppercase());
    let resp = request(&cell, Method::GET, &upper, ROOT, &[], vec![]).await;
    assert_eq!(resp.body, data);

    let resp = request(&cell, Method::HEAD, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("content-length"), Some("16"));
    assert!(resp.header("etag").is_some());

    let missing = format!("/api/v1/axon/files/by/sha256/{}", "00".repeat(32));
    let resp = request(&cell, Method::GET, &missing, ROOT, &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.json(),
        json!({"status": "err", "code": "NoSuchFile", "mesg": format!("SHA-256 not found: {}", "00".repeat(32))})
    );
    let resp = request(&cell, Method::HEAD, &missing, ROOT, &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert!(resp.body.is_empty());

    for method in [Method::GET, Method::DELETE] {
        let resp = request(
            &cell,
            method,
            "/api/v1/axon/files/by/sha256/newp",
            ROOT,
            &[],
            vec![],
        )
        .await;
        assert_eq!(resp.status, StatusCode::NOT_FOUND);
        assert_eq!(
            resp.json(),
            json!({"status": "err", "code": "BadArg", "mesg": "Hash is not a SHA-256: newp"})
        );
    }
    let resp = request(
        &cell,
        Method::HEAD,
        "/api/v1/axon/files/by/sha256/newp",
        ROOT,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert!(resp.body.is_empty());

    let resp = request(&cell, Method::DELETE, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.json(), json!({"status": "ok", "result": true}));
    let resp = request(&cell, Method::DELETE, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(resp.json()["code"], "NoSuchFile");
    cell.fini().await;
}

#[tokio::test]
async fn ranges() {
    let (_dir, cell) = open_axon(&[]).await;
    let data = b"hello http world".to_vec();
    let sha = Sha256::of(&data).hex();
    request(
        &cell,
        Method::PUT,
        "/api/v1/axon/files/put",
        ROOT,
        &[],
        data.clone(),
    )
    .await;
    let path = format!("/api/v1/axon/files/by/sha256/{sha}");
    // The table verified on the reference.
    for (range, status, content_range, body) in [
        ("bytes=2-5", 206, Some("bytes 2-5/16"), Some(&b"llo "[..])),
        (
            "bytes=6-",
            206,
            Some("bytes 6-15/16"),
            Some(&b"http world"[..]),
        ),
        ("bytes=0-1,4-5", 206, Some("bytes 0-1/16"), Some(&b"he"[..])),
        ("bytes=10-100", 416, None, Some(&b""[..])),
        ("bytes=100-", 416, None, Some(&b""[..])),
        ("bytes=5-2", 416, None, Some(&b""[..])),
        ("bytes=-5", 500, None, None),
        ("items=1-2", 200, None, Some(&data[..])),
    ] {
        let resp = request(&cell, Method::GET, &path, ROOT, &[("range", range)], vec![]).await;
        assert_eq!(resp.status.as_u16(), status, "{range}");
        assert_eq!(resp.header("content-range"), content_range, "{range}");
        if let Some(body) = body {
            assert_eq!(resp.body, body, "{range}");
        }
        if status == 416 {
            assert_eq!(resp.header("content-length"), Some("0"));
            assert_eq!(resp.header("accept-ranges"), Some("bytes"));
        }
        if status == 206 {
            let len = body.unwrap().len().to_string();
            assert_eq!(resp.header("content-length"), Some(len.as_str()));
        }
    }
    let resp = request(
        &cell,
        Method::HEAD,
        &path,
        ROOT,
        &[("range", "bytes=2-5")],
        vec![],
    )
    .await;
    assert_eq!(resp.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.header("content-length"), Some("4"));
    assert!(resp.body.is_empty());
    cell.fini().await;
}

#[tokio::test]
async fn auth_and_permissions() {
    let (_dir, cell) = open_axon(&[]).await;
    let auth = cell.cell().auth();
    let visi = auth
        .add_user("visi", Some("secret"), None, None)
        .await
        .unwrap();
    let sha = "00".repeat(32);
    let visi_auth = Some(("visi", "secret"));
    let routes = [
        (
            Method::PUT,
            "/api/v1/axon/files/put".to_string(),
            "axon.upload",
        ),
        (
            Method::GET,
            format!("/api/v1/axon/files/has/sha256/{sha}"),
            "axon.has",
        ),
        (
            Method::GET,
            format!("/api/v1/axon/files/by/sha256/{sha}"),
            "axon.get",
        ),
        (
            Method::DELETE,
            format!("/api/v1/axon/files/by/sha256/{sha}"),
            "axon.del",
        ),
        (
            Method::POST,
            "/api/v1/axon/files/del".to_string(),
            "axon.del",
        ),
    ];
    for (method, path, perm) in &routes {
        let resp = request(&cell, method.clone(), path, None, &[], vec![]).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(resp.header("www-authenticate"), Some("Basic realm=synapse"));
        assert_eq!(
            resp.json(),
            json!({"status": "err", "code": "NotAuthenticated", "mesg": "The session is not logged in."})
        );
        let resp = request(
            &cell,
            method.clone(),
            path,
            Some(("root", "wrong")),
            &[],
            vec![],
        )
        .await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
        let resp = request(&cell, method.clone(), path, visi_auth, &[], vec![]).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            resp.json(),
            json!({"status": "err", "code": "AuthDeny", "mesg": format!("User (visi) must have permission {perm}")})
        );
    }
    // The invalid-hash route only needs a logged in user.
    let resp = request(
        &cell,
        Method::GET,
        "/api/v1/axon/files/by/sha256/x",
        None,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let resp = request(
        &cell,
        Method::GET,
        "/api/v1/axon/files/by/sha256/x",
        visi_auth,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.json()["code"], "BadArg");

    for perm in ["upload", "has", "get"] {
        auth.add_user_rule(&visi.iden, Rule::new(true, &["axon", perm]), None, None)
            .await
            .unwrap();
    }
    let resp = request(
        &cell,
        Method::PUT,
        "/api/v1/axon/files/put",
        visi_auth,
        &[],
        b"visi".to_vec(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    let path = format!("/api/v1/axon/files/by/sha256/{}", Sha256::of(b"visi").hex());
    let resp = request(&cell, Method::GET, &path, visi_auth, &[], vec![]).await;
    assert_eq!(resp.body, b"visi");
    let resp = request(&cell, Method::DELETE, &path, visi_auth, &[], vec![]).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    cell.fini().await;
}

#[tokio::test]
async fn bulk_delete() {
    let (_dir, cell) = open_axon(&[]).await;
    request(
        &cell,
        Method::PUT,
        "/api/v1/axon/files/put",
        ROOT,
        &[],
        b"one".to_vec(),
    )
    .await;
    let one = Sha256::of(b"one").hex().to_uppercase();
    let zero = "00".repeat(32);
    let body = serde_json::to_vec(&json!({"sha256s": [one, zero]})).unwrap();
    let resp = request(
        &cell,
        Method::POST,
        "/api/v1/axon/files/del",
        ROOT,
        &[],
        body,
    )
    .await;
    assert_eq!(
        resp.json(),
        json!({"status": "ok", "result": [[one, true], [zero, false]]})
    );
    let body = serde_json::to_vec(&json!({"sha256s": ["newp"]})).unwrap();
    let resp = request(
        &cell,
        Method::POST,
        "/api/v1/axon/files/del",
        ROOT,
        &[],
        body,
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json(),
        json!({"status": "err", "code": "SchemaViolation", "mesg": "SchemaViolation: mesg='data.sha256s[0] must match pattern (?i)^[0-9a-f]{64}$' name='data.sha256s[0]'"})
    );
    let resp = request(
        &cell,
        Method::POST,
        "/api/v1/axon/files/del",
        ROOT,
        &[],
        b"{nope".to_vec(),
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json(),
        json!({"status": "err", "code": "SchemaViolation", "mesg": "Invalid JSON content."})
    );
    cell.fini().await;
}

#[tokio::test]
async fn large_streamed_upload_and_download() {
    let (_dir, cell) = open_axon(&[]).await;
    let data: Vec<u8> = (0..(20 * 1024 * 1024 + 5))
        .map(|i| (i * 31 % 255) as u8)
        .collect();
    // A body of many small frames, as a network client sends it.
    let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = data
        .chunks(16 * 1024)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/api/v1/axon/files/put")
        .header("authorization", basic("root", "secret"))
        .body(body)
        .unwrap();
    let resp = cell.http().oneshot(req).await.unwrap();
    let json: Json =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let sha = Sha256::of(&data).hex();
    assert_eq!(json["result"]["sha256"], sha.as_str());
    assert_eq!(json["result"]["size"], data.len());
    let path = format!("/api/v1/axon/files/by/sha256/{sha}");
    let resp = request(&cell, Method::GET, &path, ROOT, &[], vec![]).await;
    assert_eq!(resp.body.len(), data.len());
    assert!(resp.body == data);
    let range = format!("bytes={}-{}", 16 * 1024 * 1024 - 2, 16 * 1024 * 1024 + 1);
    let resp = request(
        &cell,
        Method::GET,
        &path,
        ROOT,
        &[("range", range.as_str())],
        vec![],
    )
    .await;
    assert_eq!(resp.body, data[16 * 1024 * 1024 - 2..16 * 1024 * 1024 + 2]);

    // A body that fails midway stores nothing.
    let frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = vec![
        Ok(http_body::Frame::data(Bytes::from(vec![1u8; 5 << 20]))),
        Err(std::io::Error::other("connection reset")),
    ];
    let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/api/v1/axon/files/put")
        .header("authorization", basic("root", "secret"))
        .body(body)
        .unwrap();
    let resp = cell.http().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let axon = cell.service().axon();
    assert!(!axon.has(&Sha256::of(&vec![1u8; 5 << 20])).await.unwrap());
    assert_eq!(axon.metrics().file_count, 1);
    cell.fini().await;
}
