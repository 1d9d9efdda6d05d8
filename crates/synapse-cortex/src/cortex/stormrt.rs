//! The Storm runtime of this crate ([`crate::storm::runtime`]) as the Cortex's
//! [`StormRuntime`]: the Cortex hosts it ([`StormHost`]: views, persistent globals, tag
//! properties), users and permission checks come from the cell's auth, and the view comes
//! from the opts or the user's profile as the reference resolves it.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, Weak};

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_cell::{Error, Result, User};

use crate::nodeedit::parse_buid;
use crate::storm::runtime::{self as rt, StormCore, StormError, StormHost, StormOpts, StormUser};
use crate::view::Views;

use super::{Cortex, StormCall, StormRuntime};

/// A Storm error as a cell error (class, message and info keys kept).
fn cell_error(err: StormError) -> Error {
    let mut out = super::error::named(&err.name, err.mesg.clone());
    for (key, valu) in err.info {
        out = out.with(&key, valu);
    }
    out
}

fn storm_error(err: Error) -> StormError {
    let (name, info) = err.to_remote();
    let mut out = StormError::new(name, err.mesg());
    if let Value::Map(items) = info {
        for (key, valu) in items {
            if let Some(key) = key.as_str()
                && key != "mesg"
            {
                out.set(key, valu);
            }
        }
    }
    out
}

/// The Cortex as the runtime's host (a weak link: the Cortex owns the runtime).
struct Host {
    views: Views,
    iden: String,
    core: Weak<Cortex>,
}

impl Host {
    fn core(&self) -> std::result::Result<Arc<Cortex>, StormError> {
        self.core
            .upgrade()
            .ok_or_else(|| StormError::new("IsFini", "The Cortex is shutting down."))
    }
}

impl StormHost for Host {
    fn views(&self) -> &Views {
        &self.views
    }

    fn iden(&self) -> String {
        self.iden.clone()
    }

    fn global_get(
        &self,
        name: &str,
    ) -> BoxFuture<'_, std::result::Result<Option<Value>, StormError>> {
        let name = name.to_owned();
        Box::pin(async move { self.core()?.get_storm_var(&name).await.map_err(storm_error) })
    }

    fn global_set(
        &self,
        name: &str,
        valu: Value,
    ) -> BoxFuture<'_, std::result::Result<(), StormError>> {
        let name = name.to_owned();
        Box::pin(async move {
            self.core()?
                .set_storm_var(&name, valu)
                .await
                .map(|_| ())
                .map_err(storm_error)
        })
    }

    fn global_pop(
        &self,
        name: &str,
    ) -> BoxFuture<'_, std::result::Result<Option<Value>, StormError>> {
        let name = name.to_owned();
        Box::pin(async move { self.core()?.pop_storm_var(&name).await.map_err(storm_error) })
    }

    fn global_list(&self) -> BoxFuture<'_, std::result::Result<Vec<(String, Value)>, StormError>> {
        Box::pin(async move { self.core()?.storm_vars().await.map_err(storm_error) })
    }

    fn add_tagprop(
        &self,
        name: &str,
        tdef: Value,
        info: Value,
    ) -> BoxFuture<'_, std::result::Result<(), StormError>> {
        let name = name.to_owned();
        Box::pin(async move {
            self.core()?
                .add_tagprop(&name, &tdef, &info)
                .await
                .map_err(storm_error)
        })
    }

    fn del_tagprop(&self, name: &str) -> BoxFuture<'_, std::result::Result<(), StormError>> {
        let name = name.to_owned();
        Box::pin(async move { self.core()?.del_tagprop(&name).await.map_err(storm_error) })
    }
}

/// The built-in runtime.
#[derive(Default)]
pub(crate) struct Builtin {
    core: OnceLock<Arc<StormCore>>,
}

impl Builtin {
    fn storm_core(&self, core: &Arc<Cortex>) -> Arc<StormCore> {
        Arc::clone(self.core.get_or_init(|| {
            Arc::new(StormCore::with_host(Arc::new(Host {
                views: core.views().clone(),
                iden: core.cell().iden().to_owned(),
                core: Arc::downgrade(core),
            })))
        }))
    }
}

/// The runtime's user: the cell user with the cell's permission checks.
fn storm_user(core: &Arc<Cortex>, user: &User) -> StormUser {
    let auth = core.cell().auth().clone();
    let iden = user.iden.clone();
    StormUser {
        iden: user.iden.clone(),
        name: user.name.clone(),
        admin: user.is_admin(),
        check: Arc::new(move |perm: &[&str], gate: Option<&str>| {
            let perm: Vec<String> = perm.iter().map(|p| (*p).to_owned()).collect();
            auth.allowed(&iden, &perm, Some(false), gate) == Some(true)
        }),
    }
}

/// The opts and user of a call, the view resolved as the reference does (`opts.view`, else
/// the user's `cortex:view` profile value, else the default view).
fn prepare(core: &Arc<Cortex>, call: &StormCall) -> Result<(StormOpts, StormUser)> {
    let mut opts = StormOpts::from_value(&call.opts).map_err(cell_error)?;
    if opts.view.is_none() {
        opts.view = Some(core.view_for(None, None)?.iden());
        if let Ok(profile) = core.cell().auth().user_profile(&call.user.iden)
            && let Some(Value::String(iden)) = profile.get("cortex:view")
        {
            opts.view = iden.as_str().map(str::to_owned);
        }
    }
    let mut user = call.user.clone();
    if opts.sudo {
        core.confirm(&user, &["storm", "sudo"], None)?;
        user = core.user(&core.cell().auth().root_iden())?;
    }
    Ok((opts, storm_user(core, &user)))
}

fn err_stream(err: Error) -> BoxStream<'static, Value> {
    let (name, info) = err.to_remote();
    let now = synapse_base::now_ms();
    let msgs = vec![
        Value::Array(vec![
            Value::from("err"),
            Value::Array(vec![Value::from(name), info]),
        ]),
        Value::Array(vec![
            Value::from("fini"),
            synapse_cell::map([
                ("tock", Value::from(now)),
                ("abstock", Value::from(now)),
                ("took", Value::from(0)),
                ("count", Value::from(0)),
            ]),
        ]),
    ];
    stream::iter(msgs).boxed()
}

impl StormRuntime for Builtin {
    fn storm(&self, core: Arc<Cortex>, call: StormCall) -> BoxStream<'static, Value> {
        let (opts, user) = match prepare(&core, &call) {
            Ok(prepared) => prepared,
            Err(err) => return err_stream(err),
        };
        rt::storm(self.storm_core(&core), user, call.text, opts)
            .map(|mesg| mesg.to_value())
            .boxed()
    }

    fn call_storm(&self, core: Arc<Cortex>, call: StormCall) -> BoxFuture<'static, Result<Value>> {
        let score = self.storm_core(&core);
        Box::pin(async move {
            let (opts, user) = prepare(&core, &call)?;
            rt::call_storm(score, user, &call.text, opts)
                .await
                .map_err(cell_error)
        })
    }

    fn count(&self, core: Arc<Cortex>, call: StormCall) -> BoxFuture<'static, Result<i64>> {
        let score = self.storm_core(&core);
        Box::pin(async move {
            let (opts, user) = prepare(&core, &call)?;
            let count = rt::count(score, user, &call.text, opts)
                .await
                .map_err(cell_error)?;
            Ok(i64::try_from(count).unwrap_or(i64::MAX))
        })
    }

    fn export_storm(
        &self,
        core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxStream<'static, Result<Value>> {
        let score = self.storm_core(&core);
        let work = async move {
            let (mut opts, user) = prepare(&core, &call)?;
            opts.editformat = "none".into();
            let view = core.view_for(opts.view.as_deref(), None)?;
            // Run the query to the end first, then yield the podes with the edges between
            // exported nodes (as the reference spools them).
            let mut msgs = rt::storm(score, user, call.text.clone(), opts);
            let mut podes = Vec::new();
            while let Some(mesg) = msgs.next().await {
                match mesg.kind.as_str() {
                    "node" => podes.push(mesg.info),
                    "err" => {
                        let parts = mesg.info.as_array().cloned().unwrap_or_default();
                        let name = parts.first().and_then(Value::as_str).unwrap_or("SynErr");
                        let info = parts.get(1).cloned().unwrap_or(Value::Nil);
                        let text = synapse_cell::map_get(&info, "mesg")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        return Err(super::error::named(name, text));
                    }
                    _ => {}
                }
            }
            let iden_of = |pode: &Value| {
                pode.as_array()
                    .and_then(|p| p.get(1))
                    .and_then(|info| synapse_cell::map_get(info, "iden"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let idens: HashSet<String> = podes.iter().filter_map(iden_of).collect();
            let mut out = Vec::with_capacity(podes.len());
            for mut pode in podes {
                let Some(iden) = iden_of(&pode) else { continue };
                let buid = parse_buid(&Value::from(iden.as_str()))
                    .map_err(|err| Error::bad_arg(err.mesg))?;
                let mut edges = Vec::new();
                let mut n1 = view.edges_n1(buid, None);
                while let Some(edge) = n1.next().await {
                    let (verb, n2) = edge.map_err(super::view_error)?;
                    let n2 = hex::encode(n2);
                    if idens.contains(&n2) {
                        edges.push(Value::Array(vec![Value::from(verb), Value::from(n2)]));
                    }
                }
                if let Value::Array(parts) = &mut pode
                    && let Some(Value::Map(info)) = parts.get_mut(1)
                {
                    info.retain(|(k, _)| k.as_str() != Some("path"));
                    info.push((Value::from("edges"), Value::Array(edges)));
                }
                out.push(Ok(pode));
            }
            Ok::<_, Error>(stream::iter(out).boxed())
        };
        stream::once(work)
            .map(|res| match res {
                Ok(items) => items,
                Err(err) => stream::once(async move { Err(err) }).boxed(),
            })
            .flatten()
            .boxed()
    }

    fn req_valid_storm(&self, text: &str, opts: &Value) -> Result<()> {
        let mode = synapse_cell::map_get(opts, "mode")
            .and_then(Value::as_str)
            .unwrap_or("storm");
        rt::validate(text, mode).map_err(cell_error)
    }
}
