//! `$lib.bytes`: the older names of some `$lib.axon` functions, and `fromints`.

use std::sync::Arc;

use futures::StreamExt;

use super::error::{Flow, RResult, StormError, err};
use super::lib::req;
use super::runt::Runt;
use super::value::Val;
use crate::storm::ast::Span;

/// The library path.
pub(crate) const LIB: &str = "lib.bytes";
/// Its functions.
pub(crate) const LIB_FUNCS: &[&str] = &["fromints", "has", "size", "hashset", "put", "upload"];

/// Call a `$lib.bytes` function.
pub(crate) async fn call(
    runt: &Arc<Runt>,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    match name {
        "fromints" => fromints(runt, req(&args, &kwargs, 0, "ints", name)?).await,
        "put" => {
            if !matches!(req(&args, &kwargs, 0, "byts", name)?, Val::Bytes(_)) {
                return err("BadArg", "$lib.bytes.put() requires a bytes argument");
            }
            super::axonlib::call_lib(runt, super::axonlib::LIB, name, args, kwargs).await
        }
        "upload" => {
            // `default=True`: allowed unless a rule denies it
            let denied = super::ext::cortex(runt)
                .map(|core| !super::ext::allowed_default(runt, &core, &["axon", "upload"], true))
                .unwrap_or(false);
            if denied {
                runt.confirm(&["axon", "upload"], None)?;
            }
            let genr = req(&args, &kwargs, 0, "genr", name)?;
            super::axonlib::upload(runt, genr).await
        }
        "has" | "size" | "hashset" => {
            super::axonlib::call_lib(runt, super::axonlib::LIB, name, args, kwargs).await
        }
        _ => Err(Flow::Err(
            StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
        )),
    }
}

/// `$lib.bytes.fromints(ints)`: bytes from integers in 0..=255.
async fn fromints(runt: &Arc<Runt>, ints: Val) -> RResult<Val> {
    let mut items = super::eval::eval_iter(runt, ints, Span::default()).await?;
    let mut out = Vec::new();
    while let Some(item) = items.next().await {
        let n = match item?.to_int() {
            Ok(n) => n,
            Err(Flow::Err(e)) => return err("BadArg", e.mesg),
            Err(other) => return Err(other),
        };
        let Ok(byte) = u8::try_from(n) else {
            return err(
                "BadArg",
                "Failed to convert ints to bytes: bytes must be in range(0, 256)",
            );
        };
        out.push(byte);
    }
    Ok(Val::Bytes(Arc::from(out)))
}
