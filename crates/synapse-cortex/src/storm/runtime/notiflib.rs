//! `$lib.notifications` (deprecated in the reference, still there): the query user's
//! notifications, stored by the Cortex (`addUserNotif`). `list(size=$lib.null)` yields
//! `(indx, (useriden, time, mesgtype, mesgdata))`, newest first within a type; `get(indx)` and
//! `del(indx)` work on the user's own notifications (any, for an admin). Each function warns
//! once per query that it is deprecated.
//!
//! A missing notification is `$lib.null` for `get` and ignored by `del`, where the reference
//! fails with `IndexError`.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, cell_err, cortex, nosuchname};
use super::runt::{GenItem, GenVal, Runt};
use super::value::Val;

/// The library path.
const LIB: &str = "lib.notifications";

/// Whether `path` is this module's library.
pub(crate) fn is_lib(path: &str) -> bool {
    path == LIB
}

/// The functions of `$lib.notifications`.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    if path == LIB {
        &["list", "get", "del"]
    } else {
        &[]
    }
}

/// `(path, functions)` (storm docs).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    vec![(LIB.to_owned(), lib_funcs(LIB).to_vec())]
}

/// Call `$lib.notifications.<name>`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    let func = format!("$lib.notifications.{name}");
    let args = Args::new(&func, &args, &kwargs);
    match name {
        "list" => {
            let size = args.get(0, "size");
            Ok(GenVal::val(list(Arc::clone(runt), size)))
        }
        "get" | "del" => {
            if name == "del" {
                super::ext::req_not_readonly(runt, &func)?;
            }
            let indx = args.req(0, "indx")?.to_int()?;
            get_or_del(runt, name, indx).await
        }
        other => Err(nosuchname(other)),
    }
}

fn deprecated(name: &str) -> String {
    format!("$lib.notifications.{name}() is deprecated.")
}

/// `list()`: the user's notifications as the generator is consumed.
fn list(runt: Arc<Runt>, size: Option<Val>) -> BoxStream<'static, RResult<GenItem>> {
    async_stream::try_stream! {
        let size = match size {
            None | Some(Val::Null) => None,
            Some(valu) => Some(valu.to_int()?),
        };
        runt.shared.warnonce(&deprecated("list")).await;
        let core = cortex(&runt)?;
        let size = size.map(|size| usize::try_from(size.max(0)).unwrap_or(usize::MAX));
        let items = core
            .user_notifs(&runt.shared.user.iden, size)
            .await
            .map_err(cell_err)?;
        for (indx, mesg) in items {
            yield GenItem::Val(Val::Tuple(Arc::from(vec![
                Val::Int(i128::from(indx)),
                Val::from_msgpack(&mesg),
            ])));
        }
    }
    .boxed()
}

/// `get(indx)` / `del(indx)`: only the user's own notifications unless an admin.
async fn get_or_del(runt: &Arc<Runt>, name: &str, indx: i128) -> RResult<Val> {
    let core = cortex(runt)?;
    let mesg = match u64::try_from(indx) {
        Ok(indx) => core.get_user_notif(indx).await.map_err(cell_err)?,
        Err(_) => None,
    };
    runt.shared.warnonce(&deprecated(name)).await;
    let Some(mesg) = mesg else {
        return Ok(Val::Null);
    };
    let owner = mesg
        .as_array()
        .and_then(|parts| parts.first())
        .and_then(Value::as_str);
    let user = &runt.shared.user;
    if owner != Some(user.iden.as_str()) && !(runt.asroot || user.admin) {
        let what = if name == "get" { "get" } else { "delete" };
        return Err(Flow::Err(
            StormError::new(
                "AuthDeny",
                format!("You may only {what} notifications which belong to you."),
            )
            .with("user", user.iden.as_str())
            .with("username", user.name.as_str()),
        ));
    }
    if name == "get" {
        return Ok(Val::from_msgpack(&mesg));
    }
    if let Ok(indx) = u64::try_from(indx) {
        core.del_user_notif(indx).await.map_err(cell_err)?;
    }
    Ok(Val::Null)
}
