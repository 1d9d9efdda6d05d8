//! The runtime as the Cortex service uses it: [`CortexEngine`] implements the service's
//! [`StormRuntime`] (telepath `storm`/`callStorm`/`count`/`exportStorm`/`reqValidStorm` and the
//! storm HTTP routes), running queries against the [`Cortex`]'s views with its users'
//! permissions.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use http::{HeaderValue, Response, StatusCode, header};
use rmpv::Value;
use serde_json::Value as Json;
use synapse_cell::{Error, HttpReq, HttpResponse, Route, User, err, handler, json_of, ok};

use super::{StormCore, StormError, StormHost, StormOpts, StormUser};
use crate::cortex::{Cortex, StormCall, StormRuntime};
use crate::view::Views;

/// The Cortex as the runtime's host.
struct CortexHost(Arc<Cortex>);

pub(super) fn cell_error(err: Error) -> StormError {
    let mut out = StormError::new(err.name(), err.mesg());
    for (k, v) in err.info() {
        if k != "mesg" {
            out.set(k, v.clone());
        }
    }
    out
}

/// A runtime error as the cell's error type (class name and info kept).
pub(crate) fn to_cell_error(err: StormError) -> Error {
    let mut out = Error::named(err.name.clone(), err.mesg.clone());
    for (k, v) in err.info {
        out = out.with(&k, v);
    }
    out
}

impl StormHost for CortexHost {
    fn views(&self) -> &Views {
        self.0.views()
    }

    fn iden(&self) -> String {
        self.0.cell().iden().to_owned()
    }

    fn global_get(&self, name: &str) -> BoxFuture<'_, Result<Option<Value>, StormError>> {
        let name = name.to_owned();
        Box::pin(async move { self.0.get_storm_var(&name).await.map_err(cell_error) })
    }

    fn global_set(&self, name: &str, valu: Value) -> BoxFuture<'_, Result<(), StormError>> {
        let name = name.to_owned();
        Box::pin(async move {
            self.0
                .set_storm_var(&name, valu)
                .await
                .map(|_| ())
                .map_err(cell_error)
        })
    }

    fn global_pop(&self, name: &str) -> BoxFuture<'_, Result<Option<Value>, StormError>> {
        let name = name.to_owned();
        Box::pin(async move { self.0.pop_storm_var(&name).await.map_err(cell_error) })
    }

    fn global_list(&self) -> BoxFuture<'_, Result<Vec<(String, Value)>, StormError>> {
        Box::pin(async move { self.0.storm_vars().await.map_err(cell_error) })
    }

    fn add_tagprop(
        &self,
        name: &str,
        tdef: Value,
        info: Value,
    ) -> BoxFuture<'_, Result<(), StormError>> {
        let name = name.to_owned();
        Box::pin(async move {
            self.0
                .add_tagprop(&name, &tdef, &info)
                .await
                .map_err(cell_error)
        })
    }

    fn del_tagprop(&self, name: &str) -> BoxFuture<'_, Result<(), StormError>> {
        let name = name.to_owned();
        Box::pin(async move { self.0.del_tagprop(&name).await.map_err(cell_error) })
    }

    fn fork_view(
        &self,
        iden: &str,
        name: Option<String>,
        user: &str,
    ) -> BoxFuture<'_, Result<String, StormError>> {
        let (iden, user) = (iden.to_owned(), user.to_owned());
        Box::pin(async move {
            let user = self.0.user(&user).map_err(cell_error)?;
            let view = self
                .0
                .fork_view(&iden, name, &user)
                .await
                .map_err(cell_error)?;
            Ok(view.iden())
        })
    }

    fn del_view(&self, iden: &str) -> BoxFuture<'_, Result<(), StormError>> {
        let iden = iden.to_owned();
        Box::pin(async move { self.0.del_view(&iden).await.map_err(cell_error) })
    }

    fn started_ms(&self) -> Option<i64> {
        Some(self.0.cell().started())
    }

    fn user_by_name_or_iden(&self, name: &str) -> Result<StormUser, StormError> {
        let auth = self.0.cell().auth();
        match auth.user_by_name(name).or_else(|| auth.user(name)) {
            Some(user) => Ok(storm_user(&self.0, &user)),
            None => Err(StormError::new(
                "NoSuchUser",
                format!("No user with name or iden {name}."),
            )),
        }
    }

    fn del_layer(&self, iden: &str) -> BoxFuture<'_, Result<(), StormError>> {
        let iden = iden.to_owned();
        Box::pin(async move { self.0.del_layer(&iden).await.map_err(cell_error) })
    }

    fn cortex(&self) -> Option<Arc<Cortex>> {
        Some(Arc::clone(&self.0))
    }

    fn user_kv_list(
        &self,
        user: &str,
        vars: bool,
    ) -> BoxFuture<'_, Result<Vec<(String, Value)>, StormError>> {
        let user = user.to_owned();
        Box::pin(async move {
            let auth = self.0.cell().auth();
            let items = if vars {
                auth.user_vars(&user)
            } else {
                auth.user_profile(&user)
            }
            .map_err(cell_error)?;
            Ok(items.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        })
    }

    fn user_kv_set(
        &self,
        user: &str,
        vars: bool,
        name: &str,
        valu: Option<Value>,
    ) -> BoxFuture<'_, Result<Option<Value>, StormError>> {
        let (user, name) = (user.to_owned(), name.to_owned());
        Box::pin(async move {
            let auth = self.0.cell().auth();
            let old = if vars {
                auth.user_vars(&user)
            } else {
                auth.user_profile(&user)
            }
            .map_err(cell_error)?
            .get(&name)
            .cloned();
            match (valu, vars) {
                (Some(v), true) => auth.set_user_var(&user, &name, v).await.map(|_| ()),
                (Some(v), false) => auth.set_user_profile(&user, &name, v).await.map(|_| ()),
                (None, true) => auth.pop_user_var(&user, &name).await.map(|_| ()),
                (None, false) => auth.pop_user_profile(&user, &name).await.map(|_| ()),
            }
            .map_err(cell_error)?;
            Ok(old)
        })
    }
}

/// A cell user as the runtime's user (permissions checked through the Cortex).
pub(super) fn storm_user(core: &Arc<Cortex>, user: &User) -> StormUser {
    let checker = Arc::clone(core);
    let checked = user.clone();
    StormUser {
        iden: user.iden.clone(),
        name: user.name.clone(),
        admin: user.admin == Some(true),
        check: Arc::new(move |perm, gate| checker.allowed(&checked, perm, gate)),
    }
}

/// The Storm runtime of this crate for the Cortex service.
#[derive(Debug, Default)]
pub struct CortexEngine;

impl CortexEngine {
    pub(super) fn core(core: &Arc<Cortex>) -> Arc<StormCore> {
        Arc::new(StormCore::with_host(Arc::new(CortexHost(Arc::clone(core)))))
    }
}

/// The opts of a telepath call; without a `view`, the user's `cortex:view` profile value
/// names it (as the reference resolves the view of a query).
fn call_opts(core: &Cortex, user: &User, opts: &Value) -> Result<StormOpts, StormError> {
    let mut opts = StormOpts::from_value(opts)?;
    if opts.view.is_none()
        && let Ok(profile) = core.cell().auth().user_profile(&user.iden)
        && let Some(Value::String(iden)) = profile.get("cortex:view")
    {
        opts.view = iden.as_str().map(str::to_owned);
    }
    Ok(opts)
}

impl StormRuntime for CortexEngine {
    fn storm(&self, core: Arc<Cortex>, call: StormCall) -> BoxStream<'static, Value> {
        let user = storm_user(&core, &call.user);
        let score = CortexEngine::core(&core);
        match call_opts(&core, &call.user, &call.opts) {
            Ok(opts) => super::storm(score, user, call.text, opts)
                .map(|m| m.to_value())
                .boxed(),
            Err(e) => {
                // the reference raises bad opts before the stream starts
                let mesgs = vec![super::Message::new("err", e.to_value()).to_value()];
                futures::stream::iter(mesgs).boxed()
            }
        }
    }

    fn call_storm(
        &self,
        core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxFuture<'static, synapse_cell::Result<Value>> {
        Box::pin(async move {
            let user = storm_user(&core, &call.user);
            let opts = call_opts(&core, &call.user, &call.opts).map_err(to_cell_error)?;
            let score = CortexEngine::core(&core);
            let view = opts.view.clone();
            let (runcore, runuser, text) = (Arc::clone(&score), user.clone(), call.text.clone());
            let fut = async move { super::call_storm(runcore, runuser, &text, opts).await };
            super::admin::run_as_task(&score, &user, &call.text, view, fut)
                .await
                .map_err(to_cell_error)
        })
    }

    fn count(
        &self,
        core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxFuture<'static, synapse_cell::Result<i64>> {
        Box::pin(async move {
            let user = storm_user(&core, &call.user);
            let opts = call_opts(&core, &call.user, &call.opts).map_err(to_cell_error)?;
            let score = CortexEngine::core(&core);
            let view = opts.view.clone();
            let (runcore, runuser, text) = (Arc::clone(&score), user.clone(), call.text.clone());
            let fut = async move { super::count(runcore, runuser, &text, opts).await };
            super::admin::run_as_task(&score, &user, &call.text, view, fut)
                .await
                .map(|n| n as i64)
                .map_err(to_cell_error)
        })
    }

    fn export_storm(
        &self,
        core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxStream<'static, synapse_cell::Result<Value>> {
        let user = storm_user(&core, &call.user);
        let score = CortexEngine::core(&core);
        async_stream::stream! {
            let opts = match call_opts(&core, &call.user, &call.opts) {
                Ok(opts) => opts,
                Err(e) => {
                    yield Err(to_cell_error(e));
                    return;
                }
            };
            let mut podes = super::export_storm(score, user, call.text, opts);
            while let Some(pode) = podes.next().await {
                yield pode.map_err(to_cell_error);
            }
        }
        .boxed()
    }

    fn run_dmon(
        &self,
        core: Arc<Cortex>,
        call: StormCall,
        sink: crate::cortex::DmonSink,
        count: Arc<std::sync::atomic::AtomicU64>,
    ) -> BoxFuture<'static, synapse_cell::Result<()>> {
        Box::pin(async move {
            let user = storm_user(&core, &call.user);
            let opts = call_opts(&core, &call.user, &call.opts).map_err(to_cell_error)?;
            let score = CortexEngine::core(&core);
            super::dmon::run(score, user, call.text, opts, sink, count)
                .await
                .map_err(to_cell_error)
        })
    }

    fn req_valid_storm(&self, text: &str, opts: &Value) -> synapse_cell::Result<()> {
        let mode = synapse_cell::map_get(opts, "mode")
            .and_then(Value::as_str)
            .unwrap_or("storm")
            .to_owned();
        super::validate(text, &mode).map_err(to_cell_error)
    }

    fn storm_docs(&self) -> Value {
        let cmds: Vec<Value> = super::cmds::command_docs()
            .into_iter()
            .map(|(name, doc)| {
                Value::Map(vec![
                    (Value::from("name"), Value::from(name.as_str())),
                    (Value::from("doc"), Value::from(doc.as_str())),
                ])
            })
            .collect();
        let libs: Vec<Value> = super::lib::lib_docs()
            .into_iter()
            .map(|(path, names)| {
                let locals: Vec<Value> = names
                    .into_iter()
                    .map(|n| {
                        Value::Map(vec![
                            (Value::from("name"), Value::from(n)),
                            (Value::from("desc"), Value::from("")),
                            (
                                Value::from("type"),
                                Value::Map(vec![(Value::from("type"), Value::from("function"))]),
                            ),
                        ])
                    })
                    .collect();
                let parts: Vec<Value> = path.split('.').skip(1).map(Value::from).collect();
                Value::Map(vec![
                    (Value::from("path"), Value::Array(parts)),
                    (Value::from("locals"), Value::Array(locals)),
                ])
            })
            .collect();
        synapse_cell::map([
            ("libraries", Value::Array(libs)),
            ("types", Value::Array(Vec::new())),
            ("commands", Value::Array(cmds)),
        ])
    }

    fn storm_cmds(&self) -> Vec<String> {
        super::cmds::command_names()
    }

    fn routes(&self, core: &Arc<Cortex>) -> Vec<Route> {
        let mk = |kind: Kind| {
            let core = Arc::clone(core);
            handler(move |req| storm_http(req, Arc::clone(&core), kind))
        };
        vec![
            Route::new("/api/v1/storm")
                .get(mk(Kind::Stream))
                .post(mk(Kind::Stream)),
            Route::new("/api/v1/storm/nodes")
                .get(mk(Kind::Nodes))
                .post(mk(Kind::Nodes)),
            Route::new("/api/v1/storm/call")
                .get(mk(Kind::Call))
                .post(mk(Kind::Call)),
            Route::new("/api/v1/storm/export")
                .get(mk(Kind::Export))
                .post(mk(Kind::Export)),
            Route::new("/api/v1/reqvalidstorm")
                .get(mk(Kind::ReqValid))
                .post(mk(Kind::ReqValid)),
            Route::new("/api/v1/isvalidstorm")
                .get(mk(Kind::IsValid))
                .post(mk(Kind::IsValid)),
        ]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Stream,
    Nodes,
    Call,
    Export,
    ReqValid,
    IsValid,
}

/// The status of an error raised before a storm stream starts.
fn status_for(name: &str) -> StatusCode {
    match name {
        "AuthDeny" => StatusCode::FORBIDDEN,
        "NoSuchView" => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A stream that is `Sync` (response bodies must be): polled only through `&mut`.
struct SyncStream<T>(std::sync::Mutex<BoxStream<'static, T>>);

impl<T> futures::Stream for SyncStream<T> {
    type Item = T;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        inner.poll_next_unpin(cx)
    }
}

fn stream_response(lines: BoxStream<'static, Vec<u8>>, content_type: &'static str) -> HttpResponse {
    let frames = SyncStream(std::sync::Mutex::new(lines)).map(|chunk| {
        Ok::<_, synapse_cell::BoxError>(http_body::Frame::data(bytes::Bytes::from(chunk)))
    });
    let body = http_body_util::BodyExt::boxed(http_body_util::StreamBody::new(frames));
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

async fn storm_http(mut req: HttpReq, core: Arc<Cortex>, kind: Kind) -> HttpResponse {
    let user = match req.req_user().await {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    let body = match req.json_body().await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let text = match body.get("query") {
        Some(Json::String(text)) => text.clone(),
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "SchemaViolation",
                "Invalid JSON content.",
            );
        }
    };
    let mut opts = synapse_cell::from_json(body.get("opts").unwrap_or(&Json::Null));
    if opts.is_nil() {
        opts = Value::Map(Vec::new());
    }
    if kind == Kind::ReqValid || kind == Kind::IsValid {
        let mode = synapse_cell::map_get(&opts, "mode")
            .and_then(Value::as_str)
            .unwrap_or("storm")
            .to_owned();
        return match (super::validate(&text, &mode), kind) {
            (Ok(()), Kind::ReqValid) => ok(Json::Bool(true)),
            (Ok(()), _) => ok(serde_json::json!([true, {}])),
            (Err(e), Kind::ReqValid) => err(StatusCode::BAD_REQUEST, &e.name, &e.mesg),
            (Err(e), _) => ok(serde_json::json!([
                false,
                [e.name, json_of(&e.info_value())]
            ])),
        };
    }
    let (opts, user) = match core.storm_opts(&user, opts) {
        Ok(done) => done,
        Err(e) => return err(status_for(e.name()), e.name(), e.mesg()),
    };
    let suser = storm_user(&core, &user);
    let mut sopts = match StormOpts::from_value(&opts) {
        Ok(o) => o,
        Err(e) => return err(StatusCode::BAD_REQUEST, &e.name, &e.mesg),
    };
    // errors raised before the stream starts map to statuses
    if let Some(iden) = &sopts.view {
        if core.views().view(iden).is_none() {
            return err(
                StatusCode::NOT_FOUND,
                "NoSuchView",
                &format!("No such view iden={iden}"),
            );
        }
        if !suser.allowed(&["view", "read"], Some(iden)) {
            let e = suser.deny(&["view", "read"], Some((iden, "view")));
            return err(StatusCode::FORBIDDEN, &e.name, &e.mesg);
        }
    }
    let score = CortexEngine::core(&core);
    let jsonlines = body.get("stream").and_then(Json::as_str) == Some("jsonlines");
    match kind {
        Kind::Call => match super::call_storm(score, suser, &text, sopts).await {
            Ok(v) => ok(json_of(&v)),
            Err(e) => err(status_for(&e.name), &e.name, &e.mesg),
        },
        Kind::Export => {
            let mut podes = super::export_storm(score, suser, text, sopts);
            // an error before the first node is the response's status, as the reference's;
            // later ones end the stream
            let first = podes.next().await;
            if let Some(Err(e)) = &first {
                return err(status_for(&e.name), &e.name, &e.mesg);
            }
            let chunks = futures::stream::iter(first)
                .chain(podes)
                .filter_map(|p| async move { p.ok().map(|v| crate::model::packb(&v)) })
                .boxed();
            stream_response(chunks, "application/x-synapse-nodes")
        }
        Kind::Stream | Kind::Nodes => {
            if kind == Kind::Nodes {
                sopts.editformat = "none".into();
            }
            let mesgs = super::storm(score, suser, text, sopts);
            let lines = mesgs
                .filter_map(move |m| async move {
                    let item = if kind == Kind::Nodes {
                        if m.kind != "node" {
                            return None;
                        }
                        json_of(&m.info)
                    } else {
                        json_of(&m.to_value())
                    };
                    let mut line = serde_json::to_vec(&item).unwrap_or_default();
                    if jsonlines {
                        line.push(b'\n');
                    }
                    Some(line)
                })
                .boxed();
            stream_response(lines, "text/html; charset=UTF-8")
        }
        Kind::ReqValid | Kind::IsValid => err(StatusCode::BAD_REQUEST, "BadArg", "unreachable"),
    }
}
