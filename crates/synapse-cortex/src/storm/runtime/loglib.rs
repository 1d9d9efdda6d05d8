//! `$lib.log`: Storm writes to the server's log (`debug`, `info`, `warning`, `error`).
//!
//! Each call needs `storm.lib.log.<level>` and logs the message under the reference's logger
//! name, `synapse.storm.log`, with the user and the caller's `extra` dict (as JSON) as fields.

use std::sync::Arc;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, nosuchname};
use super::runt::Runt;
use super::value::Val;

/// The `$lib` path of the library.
pub(crate) const LIB: &str = "lib.log";

/// The functions of the library.
pub(crate) const LIB_FUNCS: &[&str] = &["debug", "info", "warning", "error"];

/// Call `$lib.log.<level>(mesg, extra=None)`.
pub(crate) fn call_lib(runt: &Arc<Runt>, level: &str, args: &Args<'_>) -> RResult<Val> {
    if !LIB_FUNCS.contains(&level) {
        return Err(nosuchname(level));
    }
    runt.confirm(&["storm", "lib", "log", level], None)?;
    let mesg = args.req(0, "mesg")?.to_str()?;
    let extra = extra_json(args.get(1, "extra"))?;
    let user = runt.shared.user.name.as_str();
    let iden = runt.shared.user.iden.as_str();
    match level {
        "debug" => tracing::debug!(target: "synapse.storm.log", user, iden, extra, "{mesg}"),
        "info" => tracing::info!(target: "synapse.storm.log", user, iden, extra, "{mesg}"),
        "warning" => tracing::warn!(target: "synapse.storm.log", user, iden, extra, "{mesg}"),
        _ => tracing::error!(target: "synapse.storm.log", user, iden, extra, "{mesg}"),
    }
    Ok(Val::Null)
}

/// The `extra` argument as JSON text: a dict (or nothing), else the reference's `BadArg`.
fn extra_json(extra: Option<Val>) -> RResult<String> {
    let dict = match extra {
        None | Some(Val::Null) => return Ok("{}".to_owned()),
        Some(dict @ Val::Dict(_)) => dict,
        Some(other) => {
            let kind = match &other {
                // Storm lists and sets become tuples as primitives.
                Val::List(_) | Val::Tuple(_) | Val::Set(_) => "tuple",
                Val::Str(_) => "str",
                Val::Bytes(_) => "bytes",
                Val::Bool(_) => "bool",
                Val::Int(_) => "int",
                Val::Float(_) | Val::Num(_) => "float",
                _ => other.typename(),
            };
            return Err(Flow::Err(
                StormError::new(
                    "BadArg",
                    format!(
                        "extra provided to log call must be a dictionary compatible type. Got {kind} instead."
                    ),
                )
                .with("arg", "extra"),
            ));
        }
    };
    let prim = dict.to_msgpack()?;
    let json = serde_json::to_string(&super::lib::msgpack_to_json(&prim))
        .unwrap_or_else(|_| "{}".to_owned());
    Ok(json)
}
