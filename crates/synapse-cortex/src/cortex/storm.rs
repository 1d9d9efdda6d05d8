//! The place the Storm runtime plugs in: the [`StormRuntime`] trait the Cortex APIs call for
//! `storm`, `callStorm`, `count`, `exportStorm`, `reqValidStorm` / `isValidStorm`, the storm
//! docs of `getCoreInfoV2` and the storm HTTP routes.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_cell::{Result, Route, User};

use super::Cortex;

/// Where a Storm dmon's query messages go (every message but `node`).
pub type DmonSink = Arc<dyn Fn(Value) + Send + Sync>;

/// One Storm request as the APIs hand it to the runtime.
#[derive(Debug, Clone)]
pub struct StormCall {
    /// The query text.
    pub text: String,
    /// The Storm opts map (§5 of the spec); `user` is set to the user below.
    pub opts: Value,
    /// The user the query runs as (the caller, or the one it impersonates, already checked).
    pub user: User,
}

/// The Storm runtime, as the Cortex APIs use it. Errors are the reference's classes
/// (`BadSyntax` with `at`/`line`/`column`/`token`/`text`, `AuthDeny`, `NoSuchView`, ...).
pub trait StormRuntime: Send + Sync + 'static {
    /// `storm()`: the message stream (`init` first, `fini` last, `err` before `fini` on
    /// failure; see the spec §4). Errors are messages, never stream failures.
    fn storm(&self, core: Arc<Cortex>, call: StormCall) -> BoxStream<'static, Value>;

    /// `callStorm()`: the value given to `return()` (`None` without one).
    fn call_storm(&self, core: Arc<Cortex>, call: StormCall) -> BoxFuture<'static, Result<Value>>;

    /// `count()`: the number of nodes the query yields.
    fn count(&self, core: Arc<Cortex>, call: StormCall) -> BoxFuture<'static, Result<i64>>;

    /// `exportStorm()`: the podes of the query's nodes with their `edges` between exported
    /// nodes.
    fn export_storm(&self, core: Arc<Cortex>, call: StormCall)
    -> BoxStream<'static, Result<Value>>;

    /// A Storm dmon's run: the query runs in the calling task (the dmon's own Boss task);
    /// its messages but nodes go to `sink`, each node adds one to `count`. The query's
    /// error if it fails (`$lib.exit()` is not a failure). This default runs it through
    /// [`StormRuntime::storm`].
    fn run_dmon(
        &self,
        core: Arc<Cortex>,
        call: StormCall,
        sink: DmonSink,
        count: Arc<std::sync::atomic::AtomicU64>,
    ) -> BoxFuture<'static, Result<()>> {
        let mut mesgs = self.storm(core, call);
        Box::pin(async move {
            use futures::StreamExt;
            while let Some(mesg) = mesgs.next().await {
                let kind = mesg
                    .as_array()
                    .and_then(|m| m.first())
                    .and_then(Value::as_str);
                match kind {
                    Some("node") => {
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Some("err") => {
                        let info = mesg.as_array().and_then(|m| m.get(1));
                        let name = info
                            .and_then(Value::as_array)
                            .and_then(|e| e.first())
                            .and_then(Value::as_str)
                            .unwrap_or("SynErr");
                        let einfo = info.and_then(Value::as_array).and_then(|e| e.get(1));
                        let text = einfo
                            .and_then(|i| synapse_cell::map_get(i, "mesg"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let mut err = synapse_cell::Error::named(name, text);
                        if let Some(Value::Map(items)) = einfo {
                            for (k, v) in items {
                                if let Some(k) = k.as_str().filter(|k| *k != "mesg") {
                                    err = err.with(k, v.clone());
                                }
                            }
                        }
                        return Err(err);
                    }
                    Some("init" | "fini") => {}
                    _ => sink(mesg),
                }
            }
            Ok(())
        })
    }

    /// `reqValidStorm()`: parse the query in `opts.mode` (`BadSyntax` if invalid).
    fn req_valid_storm(&self, text: &str, opts: &Value) -> Result<()>;

    /// `getCoreInfoV2()['stormdocs']`: `{"libraries", "types", "commands"}`.
    fn storm_docs(&self) -> Value {
        synapse_cell::map([
            ("libraries", Value::Array(Vec::new())),
            ("types", Value::Array(Vec::new())),
            ("commands", Value::Array(Vec::new())),
        ])
    }

    /// Names of the Storm commands (`getCoreInfo()['stormcmds']`).
    fn storm_cmds(&self) -> Vec<String> {
        Vec::new()
    }

    /// The storm HTTP routes (`/api/v1/storm`, `/api/v1/storm/call`, ...).
    fn routes(&self, core: &Arc<Cortex>) -> Vec<Route> {
        let _ = core;
        Vec::new()
    }
}

/// The Storm runtime built into this crate, installed in every Cortex at open: `None` until
/// the runtime (`crate::storm`) provides one; the runtime returns its engine here.
pub(crate) fn builtin_runtime() -> Option<Arc<dyn StormRuntime>> {
    Some(Arc::new(crate::storm::runtime::CortexEngine))
}
