//! The place the Storm runtime plugs in: the [`StormRuntime`] trait the Cortex APIs call for
//! `storm`, `callStorm`, `count`, `exportStorm`, `reqValidStorm` / `isValidStorm`, the storm
//! docs of `getCoreInfoV2` and the storm HTTP routes.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_cell::{Result, Route, User};

use super::Cortex;

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
