//! The Cortex's HTTP routes, in-process through `tower::ServiceExt::oneshot`.

use base64::Engine;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value as Json, json};
use synapse_cell::HttpApi;
use tower::ServiceExt;

use crate::util::*;

fn basic(user: &str, passwd: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{passwd}"))
    )
}

async fn send(
    api: &HttpApi,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Json>,
) -> (StatusCode, Json) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    let resp = api.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let byts = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&byts).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not json: {text}")),
    )
}

#[tokio::test]
async fn model_norm_feed_info_and_vars_routes() {
    let (_dir, core) = fresh().await;
    let api = core.http();
    let root = basic("root", "secret");
    let root = Some(root.as_str());

    let (status, body) = send(&api, "GET", "/api/v1/model", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "NotAuthenticated");
    let (status, body) = send(&api, "GET", "/api/v1/model", root, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(body["result"]["forms"]["inet:ipv4"].is_object());
    assert_eq!(body["result"]["tagprops"], json!({}));

    let (status, body) = send(&api, "GET", "/api/v1/core/info", root, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["version"], json!([2, 256, 0]));
    assert!(body["result"]["stormdocs"]["libraries"].is_array());

    let norm = |prop: &str, value: Json| json!({"prop": prop, "value": value});
    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/model/norm",
        root,
        Some(norm("inet:email", json!("Visi@Vertex.LINK"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["result"],
        json!({"norm": "visi@vertex.link", "info": {"subs": {"fqdn": "vertex.link", "user": "visi"}}})
    );
    let (status, body) = send(
        &api,
        "GET",
        "/api/v1/model/norm",
        root,
        Some(norm("inet:nope", json!("x"))),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"status": "err", "code": "NoSuchProp", "mesg": "The property inet:nope does not exist."})
    );
    let (status, body) = send(
        &api,
        "GET",
        "/api/v1/model/norm",
        root,
        Some(norm("inet:ipv4", json!("nope"))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "BadTypeValu");
    let (status, body) = send(
        &api,
        "GET",
        "/api/v1/model/norm",
        root,
        Some(json!({"value": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "MissingField");

    let items = json!([[["inet:fqdn", "feedhttp.vertex.link"], {"tags": {"test": [null, null]}}]]);
    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/feed",
        root,
        Some(json!({"name": "syn.nodes", "items": items})),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"status": "ok", "result": null}))
    );
    let node = core
        .service()
        .default_view()
        .get_node(synapse_cortex::nodeedit::buid(
            "inet:fqdn",
            &s("feedhttp.vertex.link"),
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(node.tag("test").is_some());
    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/feed",
        root,
        Some(json!({"name": "nope", "items": []})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "NoSuchFunc");
    assert_eq!(body["mesg"], "The feed type nope does not exist.");
    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/feed",
        root,
        Some(json!({"view": "ffffffffffffffffffffffffffffffff", "items": []})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NoSuchView");

    let (_, visi) = user(&core, "visi").await;
    let visi_auth = basic("visi", "secret");
    let visi_auth = Some(visi_auth.as_str());
    let layer = core.service().default_view().write_layer().iden();
    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/feed",
        visi_auth,
        Some(json!({"items": items})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["mesg"],
        format!("User does not have feed:data.syn.nodes permission on gate: {layer}.")
    );
    allow(&core, &visi, &["feed:data"], Some(&layer)).await;
    let (status, _) = send(
        &api,
        "POST",
        "/api/v1/feed",
        visi_auth,
        Some(json!({"items": items})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/storm/vars/set",
        root,
        Some(json!({"name": "hehe", "value": [1, "a"]})),
    )
    .await;
    assert_eq!(
        (status, body["result"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (_, body) = send(
        &api,
        "GET",
        "/api/v1/storm/vars/get",
        root,
        Some(json!({"name": "hehe"})),
    )
    .await;
    assert_eq!(body["result"], json!([1, "a"]));
    let (_, body) = send(
        &api,
        "POST",
        "/api/v1/storm/vars/pop",
        root,
        Some(json!({"name": "hehe"})),
    )
    .await;
    assert_eq!(body["result"], json!([1, "a"]));
    let (_, body) = send(
        &api,
        "GET",
        "/api/v1/storm/vars/get",
        root,
        Some(json!({"name": "hehe", "default": 7})),
    )
    .await;
    assert_eq!(body["result"], json!(7));
    let (status, body) = send(
        &api,
        "POST",
        "/api/v1/storm/vars/set",
        root,
        Some(json!({"name": "hehe"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"status": "err", "code": "BadArg", "mesg": "The \"value\" field is required."})
    );
    let (status, body) = send(
        &api,
        "GET",
        "/api/v1/storm/vars/get",
        visi_auth,
        Some(json!({"name": "hehe"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["mesg"],
        "User (visi) must have permission globals.get.hehe"
    );
}
