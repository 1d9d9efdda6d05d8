//! The Cortex's HTTP routes (other than Storm's): `/api/v1/model`, `/api/v1/model/norm`,
//! `/api/v1/feed`, `/api/v1/core/info` and `/api/v1/storm/vars/{get,set,pop}`, with the
//! reference's bodies, envelopes, status codes and messages.

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value as Json;
use synapse_cell::{HttpReq, HttpResponse, Route, err, from_json, handler, json_of, ok};

use crate::cortex::Cortex;

fn exc(status: StatusCode, error: &synapse_cell::Error) -> HttpResponse {
    err(status, error.name(), error.mesg())
}

/// The name a body gives, as Python's `str(body.get('name'))`.
fn name_of(body: &Json) -> String {
    match body.get("name") {
        Some(Json::String(text)) => text.clone(),
        None | Some(Json::Null) => "None".to_string(),
        Some(other) => other.to_string(),
    }
}

async fn model(mut req: HttpReq, core: Arc<Cortex>) -> HttpResponse {
    if let Err(resp) = req.req_user().await {
        return resp;
    }
    ok(json_of(&core.model_dict()))
}

async fn core_info(mut req: HttpReq, core: Arc<Cortex>) -> HttpResponse {
    if let Err(resp) = req.req_user().await {
        return resp;
    }
    ok(json_of(&core.core_info_v2()))
}

async fn model_norm(mut req: HttpReq, core: Arc<Cortex>) -> HttpResponse {
    if let Err(resp) = req.req_user().await {
        return resp;
    }
    let body = match req.json_body().await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let Some(prop) = body.get("prop").filter(|p| !p.is_null()) else {
        return err(
            StatusCode::BAD_REQUEST,
            "MissingField",
            "The property normalization API requires a prop name.",
        );
    };
    let name = match prop {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    };
    let valu = from_json(body.get("value").unwrap_or(&Json::Null));
    let opts = from_json(body.get("typeopts").unwrap_or(&Json::Null));
    match core.norm_value(true, &name, &valu, &opts) {
        Ok((norm, info)) => ok(serde_json::json!({"norm": json_of(&norm), "info": json_of(&info)})),
        Err(error) if error.name() == "NoSuchProp" => err(
            StatusCode::NOT_FOUND,
            "NoSuchProp",
            &format!("The property {name} does not exist."),
        ),
        Err(error) => exc(StatusCode::BAD_REQUEST, &error),
    }
}

async fn feed(mut req: HttpReq, core: Arc<Cortex>) -> HttpResponse {
    let user = match req.req_user().await {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    let body = match req.json_body().await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let name = match body.get("name") {
        None | Some(Json::Null) => "syn.nodes".to_string(),
        Some(Json::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    if name != "syn.nodes" {
        return err(
            StatusCode::BAD_REQUEST,
            "NoSuchFunc",
            &format!("The feed type {name} does not exist."),
        );
    }
    let viewiden = match body.get("view") {
        Some(Json::String(iden)) => Some(iden.clone()),
        _ => None,
    };
    let view = match core.view_for(viewiden.as_deref(), Some(&user)) {
        Ok(view) => view,
        Err(error) if error.name() == "NoSuchView" => {
            return err(
                StatusCode::NOT_FOUND,
                "NoSuchView",
                "The specified view does not exist.",
            );
        }
        Err(error) => return exc(StatusCode::FORBIDDEN, &error),
    };
    let layer = view.write_layer().iden();
    let mut perm = vec!["feed:data"];
    perm.extend(name.split('.'));
    if !core.allowed(&user, &perm, Some(&layer)) {
        return err(
            StatusCode::FORBIDDEN,
            "AuthDeny",
            &format!(
                "User does not have {} permission on gate: {layer}.",
                perm.join(".")
            ),
        );
    }
    let items = match body.get("items") {
        Some(Json::Array(items)) => items.iter().map(from_json).collect(),
        _ => Vec::new(),
    };
    match crate::cortex::feed_nodes(&view, &user.iden, &items).await {
        Ok(()) => ok(Json::Null),
        Err(error) => exc(StatusCode::BAD_REQUEST, &error),
    }
}

async fn storm_var(mut req: HttpReq, core: Arc<Cortex>, act: &'static str) -> HttpResponse {
    let body = match req.json_body().await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let name = name_of(&body);
    let value = body.get("value").map(from_json);
    if act == "set" && value.is_none() {
        return err(
            StatusCode::BAD_REQUEST,
            "BadArg",
            "The \"value\" field is required.",
        );
    }
    if let Err(resp) = req.req_allowed(&["globals", act, &name], false, None).await {
        return resp;
    }
    let default = from_json(body.get("default").unwrap_or(&Json::Null));
    let res = match act {
        "get" => core
            .get_storm_var(&name)
            .await
            .map(|v| json_of(&v.unwrap_or(default))),
        "pop" => core
            .pop_storm_var(&name)
            .await
            .map(|v| json_of(&v.unwrap_or(default))),
        _ => core
            .set_storm_var(&name, value.unwrap_or(rmpv::Value::Nil))
            .await
            .map(|_| Json::Bool(true)),
    };
    match res {
        Ok(valu) => ok(valu),
        Err(error) => exc(StatusCode::BAD_REQUEST, &error),
    }
}

/// The routes, bound to the Cortex.
pub(crate) fn routes(core: &Arc<Cortex>) -> Vec<Route> {
    let var = |act: &'static str| {
        let core = Arc::clone(core);
        handler(move |req| storm_var(req, Arc::clone(&core), act))
    };
    let model_core = Arc::clone(core);
    let info_core = Arc::clone(core);
    let norm_core = Arc::clone(core);
    let feed_core = Arc::clone(core);
    let norm = handler(move |req| model_norm(req, Arc::clone(&norm_core)));
    vec![
        Route::new("/api/v1/model").get(handler(move |req| model(req, Arc::clone(&model_core)))),
        Route::new("/api/v1/model/norm")
            .get(norm.clone())
            .post(norm),
        Route::new("/api/v1/core/info")
            .get(handler(move |req| core_info(req, Arc::clone(&info_core)))),
        Route::new("/api/v1/feed").post(handler(move |req| feed(req, Arc::clone(&feed_core)))),
        Route::new("/api/v1/storm/vars/get").get(var("get")),
        Route::new("/api/v1/storm/vars/pop").post(var("pop")),
        Route::new("/api/v1/storm/vars/set").post(var("set")),
    ]
}
