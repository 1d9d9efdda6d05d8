//! Layer pushes and pulls in Storm: the layer methods `addPush`, `addPull`, `delPush`,
//! `delPull` and `getMirrorStatus` (the `layer.push.*` / `layer.pull.*` commands are pure
//! Storm, in `pkgcmds.json`). The syncs themselves run in the Cortex (`cortex/layersync.rs`).

use std::sync::Arc;

use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, cell_err, cortex};
use super::runt::Runt;
use super::value::Val;
use crate::layer::Layer;

/// The layer methods of this module.
pub(crate) const METHODS: &[&str] = &[
    "addPush",
    "addPull",
    "delPush",
    "delPull",
    "getMirrorStatus",
];

/// Whether the user is an admin of the layer (the reference's `runt.isAdmin(gateiden=)`).
fn layer_admin(runt: &Runt, iden: &str) -> RResult<bool> {
    if runt.asroot || runt.shared.user.admin {
        return Ok(true);
    }
    let core = cortex(runt)?;
    let user = core.cell().auth().user(&runt.shared.user.iden);
    Ok(user
        .and_then(|user| user.gate(iden).map(|entry| entry.is_admin()))
        .unwrap_or(false))
}

fn deny(runt: &Runt, mesg: &str) -> Flow {
    Flow::Err(
        StormError::new("AuthDeny", mesg)
            .with("user", runt.shared.user.iden.as_str())
            .with("username", runt.shared.user.name.as_str()),
    )
}

/// Call one of [`METHODS`] on `layer`.
pub(crate) async fn layer_method(
    runt: &Arc<Runt>,
    layer: &Layer,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let args = Args::new(name, args, kwargs);
    let iden = layer.iden();
    let pull = name.ends_with("Pull");
    // The reference's messages name the layer variable differently per method.
    let var = if pull { "$layr" } else { "$layer" };
    match name {
        "addPush" | "addPull" => {
            let url = args.req(0, "url")?.to_str()?;
            let int = |idx: usize, key: &str, defv: i128| -> RResult<i128> {
                args.get(idx, key).map_or(Ok(defv), |v| v.to_int())
            };
            let offs = int(1, "offs", 0)?;
            let queue = int(2, "queue_size", 10_000)?;
            let chunk = int(3, "chunk_size", 1_000)?;
            if !layer_admin(runt, &iden)? {
                return Err(deny(
                    runt,
                    &format!("{var}.{name}() requires admin privs on the layer."),
                ));
            }
            let scheme = url.split("://").next().unwrap_or_default().to_owned();
            if !runt.allowed(&["lib", "telepath", "open", &scheme], None) {
                runt.confirm(&["storm", "lib", "telepath", "open", &scheme], None)?;
            }
            // The URL must open now (the reference opens and closes it).
            let proxy = synapse_telepath::Proxy::open(&url).await.map_err(|err| {
                Flow::Err(StormError::new(err.name(), err.to_string()).with("url", url.as_str()))
            })?;
            proxy.fini().await;
            let pdef = Value::Map(vec![
                (Value::from("url"), Value::from(url.as_str())),
                (Value::from("offs"), int_value(offs)),
                (
                    Value::from("user"),
                    Value::from(runt.shared.user.iden.as_str()),
                ),
                (Value::from("time"), Value::from(synapse_base::now_ms())),
                (Value::from("iden"), Value::from(synapse_base::guid())),
                (Value::from("queue:size"), int_value(queue)),
                (Value::from("chunk:size"), int_value(chunk)),
            ]);
            cortex(runt)?
                .add_layer_sync(&iden, pdef.clone(), pull)
                .await
                .map_err(cell_err)?;
            Ok(Val::from_msgpack(&pdef))
        }
        "delPush" | "delPull" => {
            let sync = args.req(0, "iden")?.to_str()?;
            if !layer_admin(runt, &iden)? {
                let what = if pull { "top layer" } else { "layer" };
                return Err(deny(
                    runt,
                    &format!("{var}.{name}() requires admin privs on the {what}."),
                ));
            }
            cortex(runt)?
                .del_layer_sync(&iden, &sync, pull)
                .await
                .map_err(cell_err)?;
            Ok(Val::Null)
        }
        // Mirror layers (the `mirror` layer option, deprecated in the reference since
        // 2.162) are not supported: no layer is a mirror.
        "getMirrorStatus" => Ok(Val::from_msgpack(&Value::Map(vec![(
            Value::from("mirror"),
            Value::Boolean(false),
        )]))),
        _ => Err(super::ext::nosuchname(name)),
    }
}

fn int_value(n: i128) -> Value {
    i64::try_from(n).map_or(Value::Nil, Value::from)
}
