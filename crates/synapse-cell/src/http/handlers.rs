//! The base cell's HTTP endpoints (`/api/v1/login`, `/api/v1/auth/...`, ...), with the
//! reference's status codes, error codes and messages.

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value as Json, json};

use super::sessions::{clear_cookie, login_cookie};
use super::{HttpReq, HttpResponse, Route, err, exc, full, handler, json_of, ok};
use crate::auth::{PackRoles, Rule};
use crate::config::{ConfType, Schema};
use crate::error::Error;
use crate::util::pyrepr;
use crate::value::from_json;

/// The routes of every cell.
pub(super) fn cell_routes() -> Vec<Route> {
    vec![
        Route::new("/robots.txt").get(handler(robots)),
        Route::new("/api/v1/login").post(handler(login)),
        Route::new("/api/v1/logout").get(handler(logout)),
        Route::new("/api/v1/active").get(handler(active)),
        Route::new("/api/v1/healthcheck").get(handler(healthcheck)),
        Route::new("/api/v1/auth/users").get(handler(users)),
        Route::new("/api/v1/auth/roles").get(handler(roles)),
        Route::new("/api/v1/auth/adduser").post(handler(adduser)),
        Route::new("/api/v1/auth/addrole").post(handler(addrole)),
        Route::new("/api/v1/auth/delrole").post(handler(delrole)),
        Route::new("/api/v1/auth/user/(.*)")
            .get(handler(user_get))
            .post(handler(user_post)),
        Route::new("/api/v1/auth/role/(.*)")
            .get(handler(role_get))
            .post(handler(role_post)),
        Route::new("/api/v1/auth/password/(.*)").post(handler(password)),
        Route::new("/api/v1/auth/grant")
            .get(handler(|req| grant(req, true)))
            .post(handler(|req| grant(req, true))),
        Route::new("/api/v1/auth/revoke")
            .get(handler(|req| grant(req, false)))
            .post(handler(|req| grant(req, false))),
        Route::new("/api/v1/auth/onepass/issue").post(handler(onepass)),
    ]
}

/// Early return of a response from a `Result<T, HttpResponse>`.
macro_rules! tryresp {
    ($expr:expr) => {
        match $expr {
            Ok(valu) => valu,
            Err(resp) => return resp,
        }
    };
}

/// Run a cell operation; its error becomes the error envelope.
macro_rules! tryop {
    ($expr:expr) => {
        match $expr {
            Ok(valu) => valu,
            Err(error) => return exc(&error),
        }
    };
}

/// A JSON value as the text Python's `str()`/f-string shows for it.
fn loose(valu: Option<&Json>) -> String {
    match valu {
        None | Some(Json::Null) => "None".to_string(),
        Some(Json::String(s)) => s.clone(),
        Some(Json::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Python truthiness of a JSON value.
fn truthy(valu: &Json) -> bool {
    match valu {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

/// A non-null field.
fn field<'a>(body: &'a Json, name: &str) -> Option<&'a Json> {
    body.get(name).filter(|v| !v.is_null())
}

fn rules_of(valu: &Json) -> Result<Vec<Rule>, Error> {
    Rule::parse_list(&from_json(valu))
}

async fn robots(_req: HttpReq) -> HttpResponse {
    let mut resp = Response::new(full("User-agent: *\nDisallow: /\n"));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    resp
}

fn login_schema() -> Schema {
    Schema::of(&[ConfType::Object])
        .property("user", Schema::of(&[ConfType::String]))
        .property("passwd", Schema::of(&[ConfType::String]))
        .required(&["user", "passwd"])
        .closed()
}

async fn login(mut req: HttpReq) -> HttpResponse {
    let body = tryresp!(req.json_body().await);
    if let Err(mesg) = login_schema().validate(&body, "data") {
        let name = mesg.split(" must").next().unwrap_or("data").to_string();
        return err(
            StatusCode::BAD_REQUEST,
            "SchemaViolation",
            &format!(
                "SchemaViolation: mesg={} name={}",
                pyrepr(&mesg),
                pyrepr(&name)
            ),
        );
    }
    let name = body["user"].as_str().unwrap_or_default();
    let passwd = body["passwd"].as_str().unwrap_or_default();
    let auth = req.cell().auth().clone();
    let Some(user) = auth.user_by_name(name) else {
        req.log_auth_issue("No such user.", Some(name));
        return err(StatusCode::NOT_FOUND, "AuthDeny", "No such user.");
    };
    if user.is_locked() {
        req.log_auth_issue("User is locked.", Some(name));
        return err(StatusCode::FORBIDDEN, "AuthDeny", "User is locked.");
    }
    if !tryop!(auth.try_user_passwd(&user.iden, Some(passwd)).await) {
        req.log_auth_issue("Incorrect password.", Some(name));
        return err(StatusCode::FORBIDDEN, "AuthDeny", "Incorrect password.");
    }
    let sessions = req.cell().sessions().clone();
    let (iden, fresh) = match req.session_iden() {
        Some(iden) => (iden, false),
        None => (synapse_base::guid(), true),
    };
    tryop!(sessions.login(&iden, &user.iden, name).await);
    let user = tryop!(auth.req_user(&user.iden));
    let mut resp = ok(json_of(&auth.pack_user(&user, PackRoles::Defs)));
    if fresh && let Ok(cookie) = HeaderValue::from_str(&login_cookie(&sessions.make_cookie(&iden)))
    {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

async fn logout(req: HttpReq) -> HttpResponse {
    if let Some(iden) = req.session_iden() {
        tryop!(req.cell().sessions().delete(&iden).await);
    }
    let mut resp = ok(json!(true));
    if let Ok(cookie) = HeaderValue::from_str(&clear_cookie()) {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

async fn active(_req: HttpReq) -> HttpResponse {
    ok(json!({"active": true}))
}

async fn healthcheck(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_allowed(&["health"], false, None).await);
    ok(json_of(&req.cell().health_check().await))
}

async fn users(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_user().await);
    let archived = match req.query("archived") {
        None => 0,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n @ (0 | 1)) => n,
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "BadHttpParam",
                    "The parameter \"archived\" must be 0 or 1 if specified.",
                );
            }
        },
    };
    let auth = req.cell().auth();
    let users: Vec<Json> = auth
        .users()
        .iter()
        .filter(|u| archived == 1 || !u.is_archived())
        .map(|u| json_of(&auth.pack_user(u, PackRoles::Defs)))
        .collect();
    ok(Json::Array(users))
}

async fn roles(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_user().await);
    let roles: Vec<Json> = req
        .cell()
        .auth()
        .roles()
        .iter()
        .map(|r| json_of(&r.pack()))
        .collect();
    ok(Json::Array(roles))
}

fn user_def(req: &HttpReq, iden: &str) -> Option<Json> {
    let auth = req.cell().auth();
    auth.user(iden)
        .map(|u| json_of(&auth.pack_user(&u, PackRoles::Idens)))
}

async fn user_get(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_user().await);
    let iden = req.param(0).to_string();
    match user_def(&req, &iden) {
        Some(udef) => ok(udef),
        None => err(
            StatusCode::NOT_FOUND,
            "NoSuchUser",
            &format!("User {iden} does not exist."),
        ),
    }
}

async fn user_post(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let iden = req.param(0).to_string();
    if req.cell().auth().user(&iden).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchUser",
            &format!("User {iden} does not exist."),
        );
    }
    let body = tryresp!(req.json_body().await);
    let auth = req.cell().auth().clone();
    if let Some(name) = field(&body, "name") {
        let Some(name) = name.as_str() else {
            return exc(&Error::bad_arg("setUserName() name must be a string"));
        };
        tryop!(auth.set_user_name(&iden, name).await);
    }
    if let Some(email) = field(&body, "email") {
        let Some(email) = email.as_str() else {
            return exc(&Error::bad_arg("email must be a string").with("name", "email"));
        };
        tryop!(auth.set_user_email(&iden, Some(email)).await);
    }
    if let Some(locked) = field(&body, "locked") {
        tryop!(auth.set_user_locked(&iden, truthy(locked)).await);
    }
    let gate = field(&body, "gate").map(|g| loose(Some(g)));
    if let Some(rules) = field(&body, "rules") {
        let rules = tryop!(rules_of(rules));
        tryop!(auth.set_user_rules(&iden, rules, gate.as_deref()).await);
    }
    if let Some(admin) = field(&body, "admin") {
        tryop!(
            auth.set_user_admin(&iden, truthy(admin), gate.as_deref())
                .await
        );
    }
    if let Some(archived) = field(&body, "archived") {
        tryop!(auth.set_user_archived(&iden, truthy(archived)).await);
    }
    ok(user_def(&req, &iden).unwrap_or(Json::Null))
}

async fn password(mut req: HttpReq) -> HttpResponse {
    let current = tryresp!(req.req_user().await);
    let body = tryresp!(req.json_body().await);
    let iden = req.param(0).to_string();
    let auth = req.cell().auth().clone();
    if auth.user(&iden).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchUser",
            &format!("User does not exist: {iden}"),
        );
    }
    // As the reference: a non-admin changing someone else's password gets the target's def
    // back and nothing changes.
    if current.is_admin() || current.iden == iden {
        let passwd = match body.get("passwd") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if !s.is_empty() => Some(s.as_str()),
            Some(_) => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "BadArg",
                    "Password must be a string",
                );
            }
        };
        if let Err(error) = auth.set_user_passwd(&iden, passwd, true).await {
            return err(StatusCode::BAD_REQUEST, error.name(), error.mesg());
        }
    }
    ok(user_def(&req, &iden).unwrap_or(Json::Null))
}

fn role_def(req: &HttpReq, iden: &str) -> Option<Json> {
    req.cell().auth().role(iden).map(|r| json_of(&r.pack()))
}

async fn role_get(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_user().await);
    let iden = req.param(0).to_string();
    match role_def(&req, &iden) {
        Some(rdef) => ok(rdef),
        None => err(
            StatusCode::NOT_FOUND,
            "NoSuchRole",
            &format!("Role {iden} does not exist."),
        ),
    }
}

async fn role_post(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let iden = req.param(0).to_string();
    if req.cell().auth().role(&iden).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchRole",
            &format!("Role {iden} does not exist."),
        );
    }
    let body = tryresp!(req.json_body().await);
    let gate = field(&body, "gate").map(|g| loose(Some(g)));
    if let Some(rules) = field(&body, "rules") {
        let rules = tryop!(rules_of(rules));
        tryop!(
            req.cell()
                .auth()
                .set_role_rules(&iden, rules, gate.as_deref())
                .await
        );
    }
    ok(role_def(&req, &iden).unwrap_or(Json::Null))
}

async fn grant(mut req: HttpReq, grant: bool) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let body = tryresp!(req.json_body().await);
    let useriden = loose(body.get("user"));
    let auth = req.cell().auth().clone();
    if auth.user(&useriden).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchUser",
            &format!("User iden {useriden} not found."),
        );
    }
    let roleiden = loose(body.get("role"));
    if auth.role(&roleiden).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchRole",
            &format!("Role iden {roleiden} not found."),
        );
    }
    if grant {
        tryop!(auth.grant(&useriden, &roleiden, None).await);
    } else {
        tryop!(auth.revoke(&useriden, &roleiden).await);
    }
    ok(user_def(&req, &useriden).unwrap_or(Json::Null))
}

async fn adduser(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let body = tryresp!(req.json_body().await);
    let Some(name) = field(&body, "name") else {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingField",
            "The adduser API requires a \"name\" argument.",
        );
    };
    let name = loose(Some(name));
    let auth = req.cell().auth().clone();
    if auth.user_by_name(&name).is_some() {
        return err(
            StatusCode::BAD_REQUEST,
            "DupUser",
            &format!("A user named {name} already exists."),
        );
    }
    let user = tryop!(auth.add_user(&name, None, None, None).await);
    if let Some(passwd) = field(&body, "passwd") {
        let Some(passwd) = passwd.as_str().filter(|p| !p.is_empty()) else {
            return exc(&Error::bad_arg("Password must be a string"));
        };
        tryop!(auth.set_user_passwd(&user.iden, Some(passwd), true).await);
    }
    if let Some(admin) = field(&body, "admin") {
        tryop!(auth.set_user_admin(&user.iden, truthy(admin), None).await);
    }
    if let Some(email) = field(&body, "email") {
        let Some(email) = email.as_str() else {
            return exc(&Error::bad_arg("email must be a string").with("name", "email"));
        };
        tryop!(auth.set_user_email(&user.iden, Some(email)).await);
    }
    if let Some(rules) = field(&body, "rules") {
        let rules = tryop!(rules_of(rules));
        tryop!(auth.set_user_rules(&user.iden, rules, None).await);
    }
    ok(user_def(&req, &user.iden).unwrap_or(Json::Null))
}

async fn addrole(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let body = tryresp!(req.json_body().await);
    let Some(name) = field(&body, "name") else {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingField",
            "The addrole API requires a \"name\" argument.",
        );
    };
    let name = loose(Some(name));
    let auth = req.cell().auth().clone();
    if auth.role_by_name(&name).is_some() {
        return err(
            StatusCode::BAD_REQUEST,
            "DupRole",
            &format!("A role named {name} already exists."),
        );
    }
    let role = tryop!(auth.add_role(&name, None).await);
    if let Some(rules) = field(&body, "rules") {
        let rules = tryop!(rules_of(rules));
        tryop!(auth.set_role_rules(&role.iden, rules, None).await);
    }
    ok(role_def(&req, &role.iden).unwrap_or(Json::Null))
}

async fn delrole(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let body = tryresp!(req.json_body().await);
    let Some(name) = field(&body, "name") else {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingField",
            "The delrole API requires a \"name\" argument.",
        );
    };
    let name = loose(Some(name));
    let auth = req.cell().auth().clone();
    let Some(role) = auth.role_by_name(&name) else {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchRole",
            &format!("The role {name} does not exist!"),
        );
    };
    tryop!(auth.del_role(&role.iden).await);
    ok(Json::Null)
}

async fn onepass(mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_admin().await);
    let body = tryresp!(req.json_body().await);
    let iden = loose(body.get("user"));
    let duration = match body.get("duration") {
        None => 600_000,
        Some(valu) => match valu.as_i64() {
            Some(ms) => ms,
            None => return exc(&Error::bad_arg("duration must be an integer")),
        },
    };
    let auth = req.cell().auth().clone();
    if auth.user(&iden).is_none() {
        return err(
            StatusCode::NOT_FOUND,
            "NoSuchUser",
            "The user iden does not exist.",
        );
    }
    let passwd = tryop!(auth.gen_user_onepass(&iden, duration).await);
    ok(Json::String(passwd))
}
