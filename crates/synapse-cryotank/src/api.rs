//! The telepath APIs: `CryoApi` (the cell's share `*` / `cryotank`, tank name as argument)
//! and [`TankApi`] (`cryotank/<name>`), with the reference's method names, arguments,
//! results and permission checks.

use std::sync::Arc;

use std::future::Future;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, MethDef, ServiceApi, Session, truthy};
use synapse_telepath::{
    Call, Methods, RawParam, RawValue, RemoteError, Reply as TeleReply, Share, ShareInfo,
    ValueStream,
};
use tracing::Instrument;

use crate::args::{name_arg, offs_arg, size_arg, timeout_arg};
use crate::cryo::{CryoCell, perm};
use crate::error::Error;
use crate::record::Items;
use crate::tank::{SliceOpts, Tank};

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

/// The telepath methods `CryoApi` adds to the `CellApi` ones, as a method table over the
/// session (the cell hands each call's arguments over without copying them).
pub(crate) type CryoTable = Methods<ServiceApi<CryoCell>>;

/// Build the `CryoApi` method table.
pub(crate) fn cryo_api_table() -> CryoTable {
    let table = Methods::new(["synapse.cryotank.CryoApi"]);
    let table = method(table, "init", false, init);
    let table = method(table, "list", false, list);
    // The records of a puts come as msgpack bytes, stored without being decoded.
    let table = method_raw(table, "puts", puts).raw_param("puts", 1, "items");
    let table = method(table, "slice", true, slice);
    let table = method(table, "rows", true, rows);
    let table = method(table, "last", false, last);
    let table = method(table, "metrics", true, metrics);
    method(table, "delete", false, delete)
}

/// Add an API function taking the session and the call's arguments.
fn method<F, Fut>(table: CryoTable, name: &str, genr: bool, func: F) -> CryoTable
where
    F: Fn(Arc<ServiceApi<CryoCell>>, Args) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CellResult<TeleReply>> + Send + 'static,
{
    table.method(name, genr, move |api, call: Call| {
        let span =
            tracing::debug_span!("telepath call", meth = %call.meth, user = %api.sess.user_iden());
        let Call { args, kwargs, .. } = call;
        func(api, Args { args, kwargs })
            .map(|res| res.map_err(RemoteError::from))
            .instrument(span)
    })
}

/// Add an API function also taking the raw argument of the call (see
/// [`Methods::raw_param`]).
fn method_raw<F, Fut>(table: CryoTable, name: &str, func: F) -> CryoTable
where
    F: Fn(Arc<ServiceApi<CryoCell>>, Args, Option<RawValue>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CellResult<TeleReply>> + Send + 'static,
{
    table.method(name, false, move |api, mut call: Call| {
        let span =
            tracing::debug_span!("telepath call", meth = %call.meth, user = %api.sess.user_iden());
        let raw = call.take_raw();
        let Call { args, kwargs, .. } = call;
        func(api, Args { args, kwargs }, raw)
            .map(|res| res.map_err(RemoteError::from))
            .instrument(span)
    })
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

async fn init(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
    let bound = args.bind("CryoApi.init", &[("name", D::Required), ("conf", D::Nil)])?;
    let name = name_arg(bound.value(0))?;
    let tank = cryo.init(&name, bound.value(1), Some(sess)).await?;
    Ok(TeleReply::Value(Value::from(tank.iden())))
}

async fn list(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
    args.bind("CryoApi.list", &[])?;
    let tanks = cryo.list(Some(sess)).await?;
    Ok(TeleReply::Value(Value::Array(
        tanks
            .into_iter()
            .map(|(name, info)| Value::Array(vec![Value::from(name), info.to_value()]))
            .collect(),
    )))
}

async fn puts(
    api: Arc<ServiceApi<CryoCell>>,
    args: Args,
    raw: Option<RawValue>,
) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
    let mut bound = args.bind(
        "CryoApi.puts",
        &[("name", D::Required), ("items", D::Required)],
    )?;
    let items = Items::from_arg(raw, bound.take(1))?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.put").await?;
    Ok(TeleReply::Value(Value::from(tank.puts_items(items).await?)))
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

async fn slice(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
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
    Ok(TeleReply::Stream(pairs(tank.slice(offs, opts))))
}

async fn rows(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
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
    Ok(TeleReply::Stream(pairs(rows.boxed())))
}

async fn last(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
    let bound = args.bind("CryoApi.last", &[("name", D::Required)])?;
    let tank = tank_for(cryo, sess, bound.value(0), "cryo.tank.read").await?;
    Ok(TeleReply::Value(match tank.last().await? {
        Some((offs, item)) => Value::Array(vec![Value::from(offs), item]),
        None => Value::Nil,
    }))
}

async fn metrics(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
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
    Ok(TeleReply::Stream(pairs(tank.metrics(offs, size))))
}

async fn delete(api: Arc<ServiceApi<CryoCell>>, args: Args) -> CellResult<TeleReply> {
    let (cryo, sess) = (&*api.service, &*api.sess);
    let user = sess.req_admin()?;
    let bound = args.bind("CryoApi.delete", &[("name", D::Required)])?;
    // A name that cannot exist is simply not there.
    let Some(name) = bound.value(0).as_str() else {
        return Ok(TeleReply::Value(Value::Boolean(false)));
    };
    tracing::info!(user = %user.name, tank = name, "Executing [delete] as [{}]", user.name);
    Ok(TeleReply::Value(Value::Boolean(cryo.delete(name).await?)))
}

/// `(offset, item)` tuples for the wire.
fn pairs(rows: BoxStream<'static, Result<(u64, Value), Error>>) -> ValueStream {
    rows.map(|row| match row {
        Ok((offs, item)) => Ok(Value::Array(vec![Value::from(offs), item])),
        Err(err) => Err(RemoteError::from(synapse_cell::Error::from(err))),
    })
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

    async fn dispatch(
        &self,
        meth: &str,
        args: Args,
        raw: Option<RawValue>,
    ) -> CellResult<TeleReply> {
        match meth {
            "iden" => {
                args.bind("TankApi.iden", &[])?;
                Ok(TeleReply::Value(Value::from(self.tank.iden())))
            }
            "puts" => {
                let mut bound = args.bind("TankApi.puts", &[("items", D::Required)])?;
                let items = Items::from_arg(raw, bound.take(0))?;
                self.confirm("cryo.tank.put")?;
                Ok(TeleReply::Value(Value::from(
                    self.tank.puts_items(items).await?,
                )))
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
                Ok(TeleReply::Stream(pairs(self.tank.slice(offs, opts))))
            }
            "metrics" => {
                let bound = args.bind(
                    "TankApi.metrics",
                    &[("offs", D::Required), ("size", D::Nil)],
                )?;
                let offs = offs_arg(bound.value(0), "offs")?;
                let size = size_arg(bound.value(1), "size")?;
                self.confirm("cryo.tank.read")?;
                Ok(TeleReply::Stream(pairs(self.tank.metrics(offs, size))))
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

    fn raw_param(&self, meth: &str) -> Option<RawParam> {
        (meth == "puts").then_some(RawParam {
            index: 0,
            name: "items",
        })
    }

    fn call(&self, mut call: Call) -> BoxFuture<'static, Result<TeleReply, RemoteError>> {
        let api = TankApi {
            tank: self.tank.clone(),
            sess: self.sess.clone(),
            sharinfo: Value::Nil,
        };
        let span =
            tracing::debug_span!("telepath call", meth = %call.meth, tank = %self.tank.name());
        Box::pin(
            async move {
                let raw = call.take_raw();
                let Call {
                    meth, args, kwargs, ..
                } = call;
                api.dispatch(&meth, Args { args, kwargs }, raw)
                    .await
                    .map_err(RemoteError::from)
            }
            .instrument(span),
        )
    }
}
