//! The telepath APIs: `CryoApi` (the cell's share `*` / `cryotank`, tank name as argument)
//! and [`TankApi`] (`cryotank/<name>`), with the reference's method names, arguments,
//! results and permission checks.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, MethDef, Reply, Session, truthy};
use synapse_telepath::{Call, RemoteError, Reply as TeleReply, Share, ShareInfo, ValueStream};
use tracing::Instrument;

use crate::args::{name_arg, offs_arg, size_arg, timeout_arg};
use crate::cryo::{CryoCell, perm};
use crate::error::Error;
use crate::record::items_arg;
use crate::tank::{SliceOpts, Tank};

/// The methods `CryoApi` adds to the `CellApi` ones.
pub(crate) const CRYO_API_METHODS: &[MethDef] = &[
    MethDef::call("delete"),
    MethDef::call("init"),
    MethDef::call("last"),
    MethDef::call("list"),
    MethDef::genr("metrics"),
    MethDef::call("puts"),
    MethDef::genr("rows"),
    MethDef::genr("slice"),
];

/// The methods of `TankApi`.
const TANK_API_METHODS: &[MethDef] = &[
    MethDef::call("iden"),
    MethDef::genr("metrics"),
    MethDef::call("puts"),
    MethDef::genr("slice"),
];

/// `sharinfo["classes"]` of `TankApi`.
const TANK_API_CLASSES: &[&str] = &[
    "synapse.cryotank.TankApi",
    "synapse.lib.cell.CellApi",
    "synapse.lib.base.Base",
];

type CellResult<T> = synapse_cell::Result<T>;

/// Dispatch a `CryoApi` method; `None` for the `CellApi` ones.
pub(crate) fn cryo_call<'a>(
    cryo: &'a Arc<CryoCell>,
    sess: &'a Session,
    meth: &'a str,
    args: Args,
) -> Option<BoxFuture<'a, CellResult<Reply>>> {
    let fut: BoxFuture<'a, CellResult<Reply>> = match meth {
        "init" => Box::pin(init(cryo, sess, args)),
        "list" => Box::pin(list(cryo, sess, args)),
        "puts" => Box::pin(puts(cryo, sess, args)),
        "slice" => Box::pin(slice(cryo, sess, args)),
        "rows" => Box::pin(rows(cryo, sess, args)),
        "last" => Box::pin(last(cryo, sess, args)),
        "metrics" => Box::pin(metrics(cryo, sess, args)),
        "delete" => Box::pin(delete(cryo, sess, args)),
        _ => return None,
    };
    Some(fut)
}

/// The tank `name` for an operation needing `perm_text` on it (created first if missing,
/// which needs `cryo.tank.add`).
async fn tank_for(
    cryo: &CryoCell,
    sess: &Session,
    name: &Value,
    perm_text: &str,
) -> CellResult<Tank> {
    let name = name_arg(name)?;
    let tank = cryo.init(&name, &Value::Nil, Some(sess)).await?;
    sess.confirm(&perm(perm_text), None, Some(tank.iden()))?;
    Ok(tank)
}

async fn init(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let bound = args.bind("CryoApi.init", &[("name", D::Required), ("conf", D::Nil)])?;
    let name = name_arg(bound.value(0))?;
    let tank = cryo.init(&name, bound.value(1), Some(sess)).await?;
    Ok(Reply::Value(Value::from(tank.iden())))
}

async fn list(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    args.bind("CryoApi.list", &[])?;
    let tanks = cryo.list(Some(sess)).await?;
    Ok(Reply::Value(Value::Array(
        tanks
            .into_iter()
            .map(|(name, info)| Value::Array(vec![Value::from(name), info.to_value()]))
            .collect(),
    )))
}

async fn puts(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let mut bound = args.bind(
        "CryoApi.puts",
        &[("name", D::Required), ("items", D::Required)],
    )?;
    let items = items_arg(bound.take(1))?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.put").await?;
    Ok(Reply::Value(Value::from(tank.puts(items).await?)))
}

/// The options of a `slice` call bound as `(.., offs, size, wait, timeout)` from `first`.
fn slice_opts(bound: &synapse_cell::Bound, first: usize) -> CellResult<(u64, SliceOpts)> {
    let offs = offs_arg(bound.value(first), "offs")?;
    let opts = SliceOpts {
        size: size_arg(bound.value(first + 1), "size")?,
        wait: truthy(bound.value(first + 2)),
        timeout: timeout_arg(bound.value(first + 3))?,
    };
    Ok((offs, opts))
}

async fn slice(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let bound = args.bind(
        "CryoApi.slice",
        &[
            ("name", D::Required),
            ("offs", D::Required),
            ("size", D::Nil),
            ("wait", D::Bool(false)),
            ("timeout", D::Nil),
        ],
    )?;
    let (offs, opts) = slice_opts(&bound, 1)?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.read").await?;
    Ok(Reply::Genr(pairs(tank.slice(offs, opts))))
}

async fn rows(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let bound = args.bind(
        "CryoApi.rows",
        &[
            ("name", D::Required),
            ("offs", D::Required),
            ("size", D::Required),
        ],
    )?;
    let offs = offs_arg(bound.value(1), "offs")?;
    let size = size_arg(bound.value(2), "size")?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.read").await?;
    let rows = tank
        .rows(offs, size)
        .map(|row| row.map(|(offs, byts)| (offs, Value::Binary(byts))));
    Ok(Reply::Genr(pairs(rows.boxed())))
}

async fn last(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let bound = args.bind("CryoApi.last", &[("name", D::Required)])?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.read").await?;
    Ok(Reply::Value(match tank.last().await? {
        Some((offs, item)) => Value::Array(vec![Value::from(offs), item]),
        None => Value::Nil,
    }))
}

async fn metrics(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let bound = args.bind(
        "CryoApi.metrics",
        &[
            ("name", D::Required),
            ("offs", D::Required),
            ("size", D::Nil),
        ],
    )?;
    let offs = offs_arg(bound.value(1), "offs")?;
    let size = size_arg(bound.value(2), "size")?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.read").await?;
    Ok(Reply::Genr(pairs(tank.metrics(offs, size))))
}

async fn delete(cryo: &CryoCell, sess: &Session, args: Args) -> CellResult<Reply> {
    let user = sess.req_admin()?;
    let bound = args.bind("CryoApi.delete", &[("name", D::Required)])?;
    // A name that cannot exist is simply not there.
    let Some(name) = bound.value(0).as_str() else {
        return Ok(Reply::Value(Value::Boolean(false)));
    };
    tracing::info!(user = %user.name, tank = name, "Executing [delete] as [{}]", user.name);
    Ok(Reply::Value(Value::Boolean(cryo.delete(name).await?)))
}

/// `(offset, item)` tuples for the wire.
fn pairs(
    rows: BoxStream<'static, Result<(u64, Value), Error>>,
) -> BoxStream<'static, CellResult<Value>> {
    rows.map(|row| match row {
        Ok((offs, item)) => Ok(Value::Array(vec![Value::from(offs), item])),
        Err(err) => Err(synapse_cell::Error::from(err)),
    })
    .boxed()
}

/// [`pairs`] with wire errors, for the telepath share.
fn tele_pairs(rows: BoxStream<'static, Result<(u64, Value), Error>>) -> ValueStream {
    pairs(rows)
        .map(|row| row.map_err(RemoteError::from))
        .boxed()
}

/// The API of one tank (`tcp://host/cryotank/<name>`): `puts`, `slice`, `metrics`, `iden`.
pub struct TankApi {
    tank: Tank,
    sess: Arc<Session>,
    sharinfo: Value,
}

impl std::fmt::Debug for TankApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TankApi")
            .field("tank", &self.tank)
            .finish_non_exhaustive()
    }
}

impl TankApi {
    /// The API of `tank` for the session `sess`.
    pub fn new(tank: Tank, sess: Arc<Session>) -> Self {
        let [major, minor, patch] = synapse_cell::SYNAPSE_VERSION;
        let info = ShareInfo {
            meths: TANK_API_METHODS
                .iter()
                .map(|meth| (meth.name.to_string(), meth.genr))
                .collect(),
            classes: TANK_API_CLASSES.iter().map(|c| c.to_string()).collect(),
            version: (u64::from(major), u64::from(minor), u64::from(patch)),
            commit: String::new(),
        };
        Self {
            tank,
            sess,
            sharinfo: info.to_value(),
        }
    }

    /// The tank.
    pub fn tank(&self) -> &Tank {
        &self.tank
    }

    fn confirm(&self, perm_text: &str) -> CellResult<()> {
        self.sess
            .confirm(&perm(perm_text), None, Some(self.tank.iden()))
    }

    async fn dispatch(&self, meth: &str, args: Args) -> CellResult<TeleReply> {
        match meth {
            "iden" => {
                args.bind("TankApi.iden", &[])?;
                Ok(TeleReply::Value(Value::from(self.tank.iden())))
            }
            "puts" => {
                let mut bound = args.bind("TankApi.puts", &[("items", D::Required)])?;
                let items = items_arg(bound.take(0))?;
                self.confirm("cryo.tank.put")?;
                Ok(TeleReply::Value(Value::from(self.tank.puts(items).await?)))
            }
            "slice" => {
                let bound = args.bind(
                    "TankApi.slice",
                    &[
                        ("offs", D::Required),
                        ("size", D::Nil),
                        ("wait", D::Bool(false)),
                        ("timeout", D::Nil),
                    ],
                )?;
                let (offs, opts) = slice_opts(&bound, 0)?;
                self.confirm("cryo.tank.read")?;
                Ok(TeleReply::Stream(tele_pairs(self.tank.slice(offs, opts))))
            }
            "metrics" => {
                let bound = args.bind(
                    "TankApi.metrics",
                    &[("offs", D::Required), ("size", D::Nil)],
                )?;
                let offs = offs_arg(bound.value(0), "offs")?;
                let size = size_arg(bound.value(1), "size")?;
                self.confirm("cryo.tank.read")?;
                Ok(TeleReply::Stream(tele_pairs(self.tank.metrics(offs, size))))
            }
            _ => Err(synapse_cell::Error::new(
                synapse_cell::ErrKind::NoSuchMeth,
                format!("TankApi has no method: {meth}."),
            )
            .with("name", meth)),
        }
    }
}

impl Share for TankApi {
    fn sharinfo(&self) -> &Value {
        &self.sharinfo
    }

    fn class_name(&self) -> &str {
        "TankApi"
    }

    fn call(&self, call: Call) -> BoxFuture<'static, Result<TeleReply, RemoteError>> {
        let api = TankApi {
            tank: self.tank.clone(),
            sess: self.sess.clone(),
            sharinfo: Value::Nil,
        };
        let span =
            tracing::debug_span!("telepath call", meth = %call.meth, tank = %self.tank.name());
        Box::pin(
            async move {
                let Call {
                    meth, args, kwargs, ..
                } = call;
                api.dispatch(&meth, Args { args, kwargs })
                    .await
                    .map_err(RemoteError::from)
            }
            .instrument(span),
        )
    }
}
