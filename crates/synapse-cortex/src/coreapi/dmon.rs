//! The CoreApi methods of Storm dmons (`addStormDmon`, `delStormDmon`, `getStormDmon`,
//! `getStormDmons`, `getStormDmonLog`, `enableStormDmon`, `disableStormDmon`,
//! `bumpStormDmon`): admin only, as the reference's `@adminapi`.

use std::sync::Arc;

use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, MethDef, Reply, Result, Session};

use crate::cortex::Cortex;

/// The dmon methods.
pub(crate) const METHODS: &[MethDef] = &[
    MethDef::call("addStormDmon"),
    MethDef::call("bumpStormDmon"),
    MethDef::call("delStormDmon"),
    MethDef::call("disableStormDmon"),
    MethDef::call("enableStormDmon"),
    MethDef::call("getStormDmon"),
    MethDef::call("getStormDmonLog"),
    MethDef::call("getStormDmons"),
];

/// Whether `meth` is one of them.
pub(crate) fn is_dmon_meth(meth: &str) -> bool {
    METHODS.iter().any(|m| m.name == meth)
}

/// A dmon iden argument: the reference looks dmons up by it as given (anything that is not a
/// string matches none).
fn iden_arg(valu: &Value) -> String {
    valu.as_str().unwrap_or_default().to_owned()
}

/// Run one of the dmon methods.
pub(crate) async fn call(
    core: Arc<Cortex>,
    sess: &Session,
    meth: &str,
    args: Args,
) -> Result<Reply> {
    sess.req_admin()?;
    if meth == "getStormDmons" {
        args.bind(meth, &[])?;
        return Ok(Reply::Value(Value::Array(core.get_storm_dmons())));
    }
    let name = if meth == "addStormDmon" {
        "ddef"
    } else {
        "iden"
    };
    let mut bound = args.bind(meth, &[(name, D::Required)])?;
    let arg = bound.take(0);
    let valu = match meth {
        "addStormDmon" => core.add_storm_dmon(arg).await?,
        "delStormDmon" => {
            core.del_storm_dmon(&iden_arg(&arg)).await?;
            Value::Nil
        }
        "getStormDmon" => core.get_storm_dmon(&iden_arg(&arg)).unwrap_or(Value::Nil),
        "getStormDmonLog" => Value::Array(core.get_storm_dmon_log(&iden_arg(&arg))),
        "enableStormDmon" => Value::Boolean(core.enable_storm_dmon(&iden_arg(&arg)).await?),
        "disableStormDmon" => Value::Boolean(core.disable_storm_dmon(&iden_arg(&arg)).await?),
        _ => Value::Boolean(core.bump_storm_dmon(&iden_arg(&arg)).await?),
    };
    Ok(Reply::Value(valu))
}
