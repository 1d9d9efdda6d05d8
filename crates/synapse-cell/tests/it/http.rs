//! Every HTTP endpoint, in-process through `tower::ServiceExt::oneshot`.

use base64::Engine;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value as Json, json};
use synapse_cell::HttpApi;
use tower::ServiceExt;

use crate::open_cell;

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Resp {
    pub(crate) fn json(&self) -> Json {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not json: {}", self.text))
    }

    fn result(&self) -> Json {
        let body = self.json();
        assert_eq!(body["status"], "ok", "{}", self.text);
        body["result"].clone()
    }

    fn error(&self) -> (String, String) {
        let body = self.json();
        assert_eq!(body["status"], "err", "{}", self.text);
        (
            body["code"].as_str().unwrap().to_string(),
            body["mesg"].as_str().unwrap().to_string(),
        )
    }
}

pub(crate) fn basic(user: &str, passwd: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{passwd}"))
    )
}

pub(crate) async fn send(
    api: &HttpApi,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    for (name, valu) in headers {
        req = req.header(*name, *valu);
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
        .unwrap();
    let resp = api.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let byts = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        text: String::from_utf8_lossy(&byts).into_owned(),
    }
}

const ROOT: &str = "root:secret";

fn root() -> String {
    let (user, pass) = ROOT.split_once(':').unwrap();
    basic(user, pass)
}

async fn add_user(api: &HttpApi, name: &str, passwd: &str) -> String {
    let auth = root();
    let resp = send(
        api,
        "POST",
        "/api/v1/auth/adduser",
        &[("Authorization", &auth)],
        Some(&json!({"name": name, "passwd": passwd}).to_string()),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text);
    resp.result()["iden"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn public_endpoints_and_routing() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();

    let resp = send(&api, "GET", "/api/v1/active", &[], None).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text, r#"{"status":"ok","result":{"active":true}}"#);
    assert_eq!(
        resp.headers["content-type"],
        "application/json; charset=UTF-8"
    );
    assert_eq!(resp.headers["x-content-type-options"], "nosniff");

    let resp = send(&api, "GET", "/robots.txt", &[], None).await;
    assert_eq!(resp.text, "User-agent: *\nDisallow: /\n");
    assert_eq!(resp.headers["content-type"], "text/html; charset=UTF-8");

    let resp = send(&api, "GET", "/api/v1/nope", &[], None).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.text,
        "<html><title>404: Not Found</title><body>404: Not Found</body></html>"
    );

    let resp = send(&api, "DELETE", "/api/v1/active", &[], None).await;
    assert_eq!(resp.status, StatusCode::METHOD_NOT_ALLOWED);

    let resp = send(&api, "OPTIONS", "/api/v1/auth/users", &[], None).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT);

    // CORS only when the Origin's host is the Host
    let resp = send(
        &api,
        "GET",
        "/api/v1/active",
        &[
            ("Origin", "https://127.0.0.1:4443"),
            ("Host", "127.0.0.1:4443"),
        ],
        None,
    )
    .await;
    assert_eq!(
        resp.headers["access-control-allow-origin"],
        "https://127.0.0.1:4443"
    );
    assert_eq!(resp.headers["access-control-allow-credentials"], "true");
    assert_eq!(resp.headers["access-control-allow-headers"], "Content-Type");
    let resp = send(
        &api,
        "GET",
        "/api/v1/active",
        &[("Origin", "https://evil.com"), ("Host", "127.0.0.1:4443")],
        None,
    )
    .await;
    assert!(resp.headers.get("access-control-allow-origin").is_none());
    cell.fini().await;
}

#[tokio::test]
async fn extra_headers_from_config() {
    let (_dir, cell) = open_cell(&[("https:headers", json!({"X-Extra": "yes"}))]).await;
    let resp = send(&cell.http(), "GET", "/api/v1/active", &[], None).await;
    assert_eq!(resp.headers["x-extra"], "yes");
    cell.fini().await;
}

#[tokio::test]
async fn unauthenticated_and_bad_credentials_are_refused() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();
    for path in [
        "/api/v1/healthcheck",
        "/api/v1/auth/users",
        "/api/v1/auth/roles",
        "/api/v1/auth/user/abcd",
    ] {
        let resp = send(&api, "GET", path, &[], None).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(resp.headers["www-authenticate"], "Basic realm=synapse");
        assert_eq!(
            resp.text,
            r#"{"status":"err","code":"NotAuthenticated","mesg":"The session is not logged in."}"#
        );
    }
    let wrong = basic("root", "wrong");
    let nobody = basic("nobody", "x");
    for auth in [wrong.as_str(), nobody.as_str(), "Basic !!!", "Bearer x"] {
        let resp = send(
            &api,
            "GET",
            "/api/v1/auth/users",
            &[("Authorization", auth)],
            None,
        )
        .await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{auth}");
    }
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/users",
        &[("X-API-KEY", "bogus")],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let resp = send(&api, "POST", "/api/v1/auth/adduser", &[], Some("{}")).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    cell.fini().await;
}

#[tokio::test]
async fn login_logout_and_sessions() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();
    let login = |body: &'static str| {
        let api = api.clone();
        async move { send(&api, "POST", "/api/v1/login", &[], Some(body)).await }
    };

    let resp = login(r#"{"user":"root"}"#).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        (
            "SchemaViolation".into(),
            "SchemaViolation: mesg=\"data must contain ['passwd'] properties\" name='data'".into()
        )
    );
    let resp = login(r#"{"user":"root","passwd":"secret","x":1}"#).await;
    assert_eq!(
        resp.error().1,
        "SchemaViolation: mesg=\"data must not contain {'x'} properties\" name='data'"
    );
    let resp = login("[1]").await;
    assert_eq!(
        resp.error().1,
        "SchemaViolation: mesg='data must be object' name='data'"
    );
    let resp = login(r#"{"user":1,"passwd":"x"}"#).await;
    assert_eq!(
        resp.error().1,
        "SchemaViolation: mesg='data.user must be string' name='data.user'"
    );
    let resp = login("not json").await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        ("SchemaViolation".into(), "Invalid JSON content.".into())
    );

    let resp = login(r#"{"user":"nobody","passwd":"x"}"#).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(resp.error(), ("AuthDeny".into(), "No such user.".into()));
    let resp = login(r#"{"user":"root","passwd":"wrong"}"#).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(
        resp.error(),
        ("AuthDeny".into(), "Incorrect password.".into())
    );

    let resp = login(r#"{"user":"root","passwd":"secret"}"#).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.result()["name"], "root");
    let setcookie = resp.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(setcookie.starts_with("sess=\"2|1:0|10:"), "{setcookie}");
    assert!(
        setcookie.ends_with("; HttpOnly; Path=/; Secure"),
        "{setcookie}"
    );
    let cookie = setcookie.split(';').next().unwrap().to_string();

    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/users",
        &[("Cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);

    // a forged cookie is not a session
    let forged = cookie.replace("|4:sess|", "|4:sess|x");
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/users",
        &[("Cookie", &forged)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);

    let resp = send(&api, "GET", "/api/v1/logout", &[("Cookie", &cookie)], None).await;
    assert_eq!(resp.result(), json!(true));
    assert!(
        resp.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("sess=\"\"; expires=")
    );
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/users",
        &[("Cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    // with a (logged out) session cookie, basic auth is not tried
    let auth = root();
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/users",
        &[("Cookie", &cookie), ("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);

    // locked users cannot log in, and locking ends their sessions
    let visi = add_user(&api, "visi", "visipass").await;
    let resp = login(r#"{"user":"visi","passwd":"visipass"}"#).await;
    let vcookie = resp.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Cookie", &vcookie)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    cell.cell()
        .auth()
        .set_user_locked(&visi, true)
        .await
        .unwrap();
    let resp = login(r#"{"user":"visi","passwd":"visipass"}"#).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(resp.error(), ("AuthDeny".into(), "User is locked.".into()));
    let mut ended = false;
    for _ in 0..100 {
        let resp = send(
            &api,
            "GET",
            "/api/v1/auth/roles",
            &[("Cookie", &vcookie)],
            None,
        )
        .await;
        if resp.status == StatusCode::UNAUTHORIZED {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(ended, "the locked user's session still works");
    let vauth = basic("visi", "visipass");
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Authorization", &vauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    cell.fini().await;
}

#[tokio::test]
async fn healthcheck_needs_the_health_permission() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();
    let auth = root();
    let resp = send(
        &api,
        "GET",
        "/api/v1/healthcheck",
        &[("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(
        resp.result(),
        json!({"iden": cell.cell().iden(), "components": [], "status": "nominal"})
    );
    let visi = add_user(&api, "visi", "newpass").await;
    let vauth = basic("visi", "newpass");
    let resp = send(
        &api,
        "GET",
        "/api/v1/healthcheck",
        &[("Authorization", &vauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(
        resp.error(),
        (
            "AuthDeny".into(),
            "User (visi) must have permission health".into()
        )
    );
    let rules = json!({"rules": [[true, ["health"]]]}).to_string();
    let path = format!("/api/v1/auth/user/{visi}");
    send(
        &api,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(&rules),
    )
    .await;
    let resp = send(
        &api,
        "GET",
        "/api/v1/healthcheck",
        &[("Authorization", &vauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    cell.fini().await;
}

#[tokio::test]
async fn user_and_role_admin() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();
    let auth = root();
    let hdr = [("Authorization", auth.as_str())];
    let allrole = cell.cell().auth().all_role_iden();

    // adduser
    let resp = send(&api, "POST", "/api/v1/auth/adduser", &hdr, Some("{}")).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        (
            "MissingField".into(),
            "The adduser API requires a \"name\" argument.".into()
        )
    );
    let resp = send(&api, "POST", "/api/v1/auth/adduser", &hdr, Some("not json")).await;
    assert_eq!(
        resp.error(),
        ("SchemaViolation".into(), "Invalid JSON content.".into())
    );
    let body = json!({"name": "visi", "passwd": "visipass", "email": "visi@vertex.link",
                      "rules": [[true, ["node", "add"]]]})
    .to_string();
    let resp = send(&api, "POST", "/api/v1/auth/adduser", &hdr, Some(&body)).await;
    let visi = resp.result();
    assert_eq!(visi["name"], "visi");
    assert_eq!(visi["email"], "visi@vertex.link");
    assert_eq!(visi["roles"], json!([allrole]));
    assert_eq!(visi["rules"], json!([[true, ["node", "add"]]]));
    assert_eq!(visi["admin"], false);
    assert_eq!(visi["locked"], false);
    assert_eq!(visi["authgates"], json!({}));
    let visi = visi["iden"].as_str().unwrap().to_string();
    let resp = send(&api, "POST", "/api/v1/auth/adduser", &hdr, Some(&body)).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        ("DupUser".into(), "A user named visi already exists.".into())
    );

    // users list: full role defs; archived users hidden unless asked
    let resp = send(&api, "GET", "/api/v1/auth/users", &hdr, None).await;
    let users = resp.result();
    assert_eq!(users[0]["name"], "root");
    assert_eq!(users[0]["email"], Json::Null);
    assert_eq!(users[1]["roles"][0]["name"], "all");
    let resp = send(&api, "GET", "/api/v1/auth/users?archived=2", &hdr, None).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        (
            "BadHttpParam".into(),
            "The parameter \"archived\" must be 0 or 1 if specified.".into()
        )
    );
    let resp = send(&api, "GET", "/api/v1/auth/users?archived=x", &hdr, None).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);

    // user get/post
    let path = format!("/api/v1/auth/user/{visi}");
    let resp = send(&api, "GET", &path, &hdr, None).await;
    assert_eq!(resp.result()["roles"], json!([allrole]));
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/user/ffffffffffffffffffffffffffffffff",
        &hdr,
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.error(),
        (
            "NoSuchUser".into(),
            "User ffffffffffffffffffffffffffffffff does not exist.".into()
        )
    );
    let edit = json!({"rules": [[true, ["node", "add"]], [false, ["node"]]], "locked": false,
                      "email": "v@vertex.link", "name": "visi2"})
    .to_string();
    let resp = send(&api, "POST", &path, &hdr, Some(&edit)).await;
    let udef = resp.result();
    assert_eq!(
        udef["rules"],
        json!([[true, ["node", "add"]], [false, ["node"]]])
    );
    assert_eq!(udef["email"], "v@vertex.link");
    assert_eq!(udef["name"], "visi2");
    let resp = send(
        &api,
        "POST",
        "/api/v1/auth/user/ffffffffffffffffffffffffffffffff",
        &hdr,
        Some("{}"),
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let resp = send(
        &api,
        "POST",
        &path,
        &hdr,
        Some(&json!({"archived": true}).to_string()),
    )
    .await;
    assert_eq!(resp.result()["archived"], true);
    assert_eq!(resp.result()["locked"], true);
    let resp = send(&api, "GET", "/api/v1/auth/users", &hdr, None).await;
    assert_eq!(resp.result().as_array().unwrap().len(), 1);
    let resp = send(&api, "GET", "/api/v1/auth/users?archived=1", &hdr, None).await;
    assert_eq!(resp.result().as_array().unwrap().len(), 2);
    let resp = send(
        &api,
        "POST",
        &path,
        &hdr,
        Some(&json!({"archived": false, "locked": false}).to_string()),
    )
    .await;
    // locked is applied before archived, so unlocking an archived user fails: a 400 here
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        ("BadArg".into(), "Cannot unlock archived user.".into())
    );
    send(
        &api,
        "POST",
        &path,
        &hdr,
        Some(&json!({"archived": false}).to_string()),
    )
    .await;
    let resp = send(
        &api,
        "POST",
        &path,
        &hdr,
        Some(&json!({"locked": false}).to_string()),
    )
    .await;
    assert_eq!(resp.result()["locked"], false);
    // bad rules are refused with the schema message
    let resp = send(&api, "POST", &path, &hdr, Some(r#"{"rules":"bad"}"#)).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.error().0, "SchemaViolation");

    // roles
    let body = json!({"name": "analysts", "rules": [[true, ["foo", "bar"]]]}).to_string();
    let resp = send(&api, "POST", "/api/v1/auth/addrole", &hdr, Some(&body)).await;
    let role = resp.result();
    assert_eq!(role["type"], "role");
    assert_eq!(role["rules"], json!([[true, ["foo", "bar"]]]));
    let roleiden = role["iden"].as_str().unwrap().to_string();
    let resp = send(&api, "POST", "/api/v1/auth/addrole", &hdr, Some(&body)).await;
    assert_eq!(
        resp.error(),
        (
            "DupRole".into(),
            "A role named analysts already exists.".into()
        )
    );
    let resp = send(&api, "POST", "/api/v1/auth/addrole", &hdr, Some("{}")).await;
    assert_eq!(
        resp.error(),
        (
            "MissingField".into(),
            "The addrole API requires a \"name\" argument.".into()
        )
    );
    let resp = send(&api, "GET", "/api/v1/auth/roles", &hdr, None).await;
    let names: Vec<Json> = resp
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("all"), json!("analysts")]);
    let rpath = format!("/api/v1/auth/role/{roleiden}");
    let resp = send(&api, "GET", &rpath, &hdr, None).await;
    assert_eq!(resp.result()["name"], "analysts");
    let resp = send(&api, "GET", "/api/v1/auth/role/nope", &hdr, None).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.error(),
        ("NoSuchRole".into(), "Role nope does not exist.".into())
    );
    let resp = send(
        &api,
        "POST",
        &rpath,
        &hdr,
        Some(&json!({"rules": [[false, ["x"]]]}).to_string()),
    )
    .await;
    assert_eq!(resp.result()["rules"], json!([[false, ["x"]]]));
    let resp = send(&api, "POST", "/api/v1/auth/role/nope", &hdr, Some("{}")).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);

    // grant / revoke (POST and GET with a body)
    let body = json!({"user": visi, "role": roleiden}).to_string();
    let resp = send(&api, "POST", "/api/v1/auth/grant", &hdr, Some(&body)).await;
    assert_eq!(resp.result()["roles"], json!([allrole, roleiden]));
    let resp = send(&api, "GET", "/api/v1/auth/revoke", &hdr, Some(&body)).await;
    assert_eq!(resp.result()["roles"], json!([allrole]));
    let bad = json!({"user": visi, "role": "f".repeat(32)}).to_string();
    let resp = send(&api, "POST", "/api/v1/auth/grant", &hdr, Some(&bad)).await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.error(),
        (
            "NoSuchRole".into(),
            format!("Role iden {} not found.", "f".repeat(32))
        )
    );
    let bad = json!({"user": "nope", "role": roleiden}).to_string();
    let resp = send(&api, "POST", "/api/v1/auth/revoke", &hdr, Some(&bad)).await;
    assert_eq!(
        resp.error(),
        ("NoSuchUser".into(), "User iden nope not found.".into())
    );

    // delrole
    let resp = send(
        &api,
        "POST",
        "/api/v1/auth/delrole",
        &hdr,
        Some(r#"{"name":"analysts"}"#),
    )
    .await;
    assert_eq!(resp.text, r#"{"status":"ok","result":null}"#);
    let resp = send(
        &api,
        "POST",
        "/api/v1/auth/delrole",
        &hdr,
        Some(r#"{"name":"analysts"}"#),
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.error(),
        (
            "NoSuchRole".into(),
            "The role analysts does not exist!".into()
        )
    );
    let resp = send(&api, "POST", "/api/v1/auth/delrole", &hdr, Some("{}")).await;
    assert_eq!(resp.error().0, "MissingField");
    cell.fini().await;
}

#[tokio::test]
async fn non_admins_cannot_administer() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();
    let visi = add_user(&api, "visi", "visipass").await;
    let vauth = basic("visi", "visipass");
    let hdr = [("Authorization", vauth.as_str())];
    let mesg = format!("User {visi} (visi) is not an admin.");
    let path = format!("/api/v1/auth/user/{visi}");
    let rolepath = format!("/api/v1/auth/role/{}", cell.cell().auth().all_role_iden());
    let attempts = [
        ("/api/v1/auth/adduser", r#"{"name":"x"}"#.to_string()),
        ("/api/v1/auth/addrole", r#"{"name":"x"}"#.to_string()),
        ("/api/v1/auth/delrole", r#"{"name":"all"}"#.to_string()),
        (path.as_str(), r#"{"admin":true}"#.to_string()),
        (path.as_str(), r#"{"rules":[[true,["node"]]]}"#.to_string()),
        (
            rolepath.as_str(),
            r#"{"rules":[[true,["node"]]]}"#.to_string(),
        ),
        (
            "/api/v1/auth/grant",
            json!({"user": visi, "role": "x"}).to_string(),
        ),
        (
            "/api/v1/auth/onepass/issue",
            json!({"user": visi}).to_string(),
        ),
    ];
    for (path, body) in attempts {
        let resp = send(&api, "POST", path, &hdr, Some(&body)).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(resp.error(), ("AuthDeny".into(), mesg.clone()), "{path}");
    }
    let me = cell.cell().auth().req_user(&visi).unwrap();
    assert!(!me.is_admin());
    assert!(me.rules.is_empty());
    cell.fini().await;
}

#[tokio::test]
async fn passwords_onepass_and_api_keys() {
    let (_dir, cell) = open_cell(&[]).await;
    let api = cell.http();
    let auth = root();
    let rootiden = cell.cell().auth().root_iden();
    let visi = add_user(&api, "visi", "visipass").await;
    let vauth = basic("visi", "visipass");

    // self change
    let path = format!("/api/v1/auth/password/{visi}");
    let resp = send(
        &api,
        "POST",
        &path,
        &[("Authorization", &vauth)],
        Some(r#"{"passwd":"newpass"}"#),
    )
    .await;
    assert_eq!(resp.result()["iden"], visi);
    let vauth = basic("visi", "newpass");
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Authorization", &vauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);

    // quirk: a non-admin "changing" root's password gets root's def and nothing changes
    let rpath = format!("/api/v1/auth/password/{rootiden}");
    let resp = send(
        &api,
        "POST",
        &rpath,
        &[("Authorization", &vauth)],
        Some(r#"{"passwd":"owned"}"#),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.result()["name"], "root");
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    let owned = basic("root", "owned");
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Authorization", &owned)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);

    let resp = send(
        &api,
        "POST",
        "/api/v1/auth/password/nope",
        &[("Authorization", &auth)],
        Some("{}"),
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.error(),
        ("NoSuchUser".into(), "User does not exist: nope".into())
    );
    let resp = send(
        &api,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(r#"{"passwd":""}"#),
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.error(),
        ("BadArg".into(), "Password must be a string".into())
    );

    // one-time password: works once
    let resp = send(
        &api,
        "POST",
        "/api/v1/auth/onepass/issue",
        &[("Authorization", &auth)],
        Some(&json!({"user": visi}).to_string()),
    )
    .await;
    let once = resp.result().as_str().unwrap().to_string();
    assert_eq!(once.len(), 32);
    let oauth = basic("visi", &once);
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Authorization", &oauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    let resp = send(
        &api,
        "GET",
        "/api/v1/auth/roles",
        &[("Authorization", &oauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let resp = send(
        &api,
        "POST",
        "/api/v1/auth/onepass/issue",
        &[("Authorization", &auth)],
        Some(r#"{"user":"nope"}"#),
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        resp.error(),
        ("NoSuchUser".into(), "The user iden does not exist.".into())
    );

    // API keys
    let (key, _) = cell
        .cell()
        .auth()
        .add_api_key(&visi, "k", None)
        .await
        .unwrap();
    let resp = send(
        &api,
        "GET",
        &format!("/api/v1/auth/user/{visi}"),
        &[("X-API-KEY", &key)],
        None,
    )
    .await;
    assert_eq!(resp.result()["name"], "visi");
    cell.cell()
        .auth()
        .set_user_locked(&visi, true)
        .await
        .unwrap();
    let resp = send(
        &api,
        "GET",
        &format!("/api/v1/auth/user/{visi}"),
        &[("X-API-KEY", &key)],
        None,
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    cell.fini().await;
}

#[tokio::test]
async fn password_policy_failures_are_bad_args() {
    let (_dir, cell) =
        open_cell(&[("auth:passwd:policy", json!({"complexity": {"length": 8}}))]).await;
    let api = cell.http();
    let auth = root();
    let visi = add_user(&api, "visi", "longenough1").await;
    let path = format!("/api/v1/auth/password/{visi}");
    let resp = send(
        &api,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(r#"{"passwd":"short"}"#),
    )
    .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    let (code, mesg) = resp.error();
    assert_eq!(code, "BadArg");
    assert!(
        mesg.contains("Password must be at least 8 characters."),
        "{mesg}"
    );
    cell.fini().await;
}
