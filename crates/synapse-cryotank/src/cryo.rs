//! [`CryoCell`]: the Cryotank service, a cell hosting named tanks.
//!
//! Tanks are listed in the cell store's `cryo:names` database (name → msgpack `(iden, conf)`,
//! the reference's SafeKeyVal layout) and stored under `DIRN/tanks/<iden>/`. Each tank is an
//! auth gate of type `tank` (gate iden = tank iden); creating tanks is governed by the gate
//! `cryo`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use rmpv::Value;
use synapse_cell::{Cell, ErrKind, Service, ServiceDef, Session, StoreOp, decode, encode, map};

use crate::api::{self, CryoTable};
use crate::args::check_name;
use crate::error::Error;
use crate::tank::{Tank, TankConf, TankInfo};

/// The cell store database listing the tanks.
pub const NAMES_DB: &str = "cryo:names";
/// The storage version of the cryotank data (`cellvers['cryotank']`).
pub const CRYOTANK_VERSION: i64 = 3;
/// The auth gate (iden and type) governing tank creation.
pub const CRYO_GATE: &str = "cryo";
/// The auth gate type of a tank.
pub const TANK_GATE_TYPE: &str = "tank";

const CELL_VERS_DB: &str = "cell:vers";

/// A permission path from its dotted form.
pub(crate) fn perm(text: &str) -> Vec<String> {
    text.split('.').map(str::to_string).collect()
}

/// The Cryotank service: named tanks of records, created on first use.
pub struct CryoCell {
    cell: Cell,
    tankdir: PathBuf,
    tanks: RwLock<BTreeMap<String, Tank>>,
    /// Serializes creating and deleting tanks.
    changing: tokio::sync::Mutex<()>,
    /// The `CryoApi` telepath methods.
    table: Arc<CryoTable>,
}

impl std::fmt::Debug for CryoCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryoCell")
            .field("tankdir", &self.tankdir)
            .field("tanks", &self.names())
            .finish_non_exhaustive()
    }
}

impl CryoCell {
    /// The cell core.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// The open tank named `name`.
    pub fn tank(&self, name: &str) -> Option<Tank> {
        self.read_tanks().get(name).cloned()
    }

    /// The tank names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.read_tanks().keys().cloned().collect()
    }

    fn read_tanks(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Tank>> {
        self.tanks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_tanks(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Tank>> {
        self.tanks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tank named `name`, created if missing (the reference's `CryoCell.init`). With a
    /// session, creating needs `cryo.tank.add` on the gate `cryo`, and the creator becomes
    /// admin of the new tank's gate. `conf` (slab options) only applies to a new tank.
    pub async fn init(
        &self,
        name: &str,
        conf: &Value,
        sess: Option<&Session>,
    ) -> synapse_cell::Result<Tank> {
        if let Some(tank) = self.tank(name) {
            return Ok(tank);
        }
        check_name(name)?;
        let _changing = self.changing.lock().await;
        if let Some(tank) = self.tank(name) {
            return Ok(tank);
        }
        if let Some(sess) = sess {
            sess.confirm(&perm("cryo.tank.add"), None, Some(CRYO_GATE))?;
        }
        let tconf = TankConf::from_value(conf)?;
        let iden = synapse_base::guid();
        tracing::info!("Creating new tank: [{name}][{iden}]");
        let dirn = self.tankdir.join(&iden);
        let tank = Tank::open(name, &iden, &dirn, &tconf).await?;

        // The name must be durable before any record written to the tank is acknowledged.
        let store = self.cell.store();
        let entry = encode(&Value::Array(vec![
            Value::from(iden.as_str()),
            conf.clone(),
        ]));
        let registered = async {
            store
                .apply(vec![StoreOp::put(
                    NAMES_DB,
                    name.as_bytes().to_vec(),
                    entry,
                )])
                .await?;
            store.sync().await
        };
        if let Err(err) = registered.await {
            tank.fini().await;
            remove_dir(&dirn).await;
            return Err(err);
        }
        self.write_tanks().insert(name.to_string(), tank.clone());

        let auth = self.cell.auth();
        auth.add_auth_gate(&iden, TANK_GATE_TYPE).await?;
        if let Some(sess) = sess {
            auth.set_user_admin(&sess.user_iden(), true, Some(&iden))
                .await?;
        }
        // The creator's rights on the new tank are durable before it is used.
        store.sync().await?;
        Ok(tank)
    }

    /// `(name, info)` of the tanks, sorted by name; with a session, only the tanks it may
    /// read (`cryo.tank.read` on the tank's gate).
    pub async fn list(
        &self,
        sess: Option<&Session>,
    ) -> synapse_cell::Result<Vec<(String, TankInfo)>> {
        let tanks: Vec<(String, Tank)> = self
            .read_tanks()
            .iter()
            .map(|(name, tank)| (name.clone(), tank.clone()))
            .collect();
        let mut out = Vec::with_capacity(tanks.len());
        for (name, tank) in tanks {
            if let Some(sess) = sess
                && !can(sess, "cryo.tank.read", tank.iden())
            {
                continue;
            }
            match tank.info().await {
                Ok(info) => out.push((name, info)),
                // Deleted meanwhile.
                Err(Error::IsFini(_)) | Err(Error::Slab(synapse_slab::Error::IsFini)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(out)
    }

    /// Delete a tank and its data (the reference's `delete`): false if there is no such tank.
    pub async fn delete(&self, name: &str) -> synapse_cell::Result<bool> {
        let _changing = self.changing.lock().await;
        let Some(tank) = self.tank(name) else {
            return Ok(false);
        };
        let store = self.cell.store();
        store
            .apply(vec![StoreOp::delete(NAMES_DB, name.as_bytes().to_vec())])
            .await?;
        store.sync().await?;
        self.write_tanks().remove(name);
        tank.fini().await;
        remove_dir(tank.dirn()).await;
        match self.cell.auth().del_auth_gate(tank.iden()).await {
            Ok(()) => {}
            Err(err) if err.kind() == ErrKind::NoSuchAuthGate => {}
            Err(err) => return Err(err),
        }
        tracing::info!("Deleted tank: [{name}][{}]", tank.iden());
        Ok(true)
    }

    /// Open the registered tanks, at boot.
    async fn open_tanks(&self) -> synapse_cell::Result<()> {
        let rows = self.cell.store().scan(NAMES_DB, b"").await?;
        for (key, val) in rows {
            let Ok(name) = String::from_utf8(key) else {
                tracing::warn!("skipping a tank whose name is not UTF-8");
                continue;
            };
            let (iden, conf) = match decode(&val)? {
                Value::Array(mut items) if items.len() == 2 => {
                    let conf = items.pop().unwrap_or(Value::Nil);
                    match items.pop() {
                        Some(Value::String(iden)) if iden.as_str().is_some() => {
                            (iden.into_str().unwrap_or_default(), conf)
                        }
                        _ => return Err(bad_entry(&name)),
                    }
                }
                _ => return Err(bad_entry(&name)),
            };
            tracing::info!("Bringing tank [{name}][{iden}] online");
            let tconf = TankConf::from_value(&conf)?;
            let tank = Tank::open(&name, &iden, &self.tankdir.join(&iden), &tconf).await?;
            self.write_tanks().insert(name, tank);
            self.cell
                .auth()
                .add_auth_gate(&iden, TANK_GATE_TYPE)
                .await?;
        }
        self.warn_orphans().await;
        Ok(())
    }

    /// Tank directories no name points to are left alone (a crash while a tank was being
    /// created or deleted leaves one); say so.
    async fn warn_orphans(&self) {
        let known: std::collections::HashSet<String> = self
            .read_tanks()
            .values()
            .map(|tank| tank.iden().to_string())
            .collect();
        let Ok(mut entries) = tokio::fs::read_dir(&self.tankdir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                tracing::warn!(path = %entry.path().display(), "tank directory with no tank name; leaving it alone");
            }
        }
    }

    async fn fini_tanks(&self) {
        let tanks: Vec<Tank> = std::mem::take(&mut *self.write_tanks())
            .into_values()
            .collect();
        for tank in tanks {
            tank.fini().await;
        }
    }
}

/// True if the session's user has `perm` on the gate `gate`.
pub(crate) fn can(sess: &Session, perm_text: &str, gate: &str) -> bool {
    sess.cell()
        .auth()
        .allowed(&sess.user_iden(), &perm(perm_text), None, Some(gate))
        == Some(true)
}

fn bad_entry(name: &str) -> synapse_cell::Error {
    synapse_cell::Error::new(
        ErrKind::InconsistentStorage,
        format!("the {NAMES_DB} entry of tank {name} is not (iden, conf)"),
    )
    .with("name", name)
}

async fn remove_dir(path: &Path) {
    if let Err(err) = tokio::fs::remove_dir_all(path).await
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), cause = %err, "cannot remove tank directory");
    }
}

impl Service for CryoCell {
    fn def() -> ServiceDef {
        let mut def = ServiceDef::new("cryocell");
        def.api_classes.push("synapse.cryotank.CryoApi".into());
        def.shares.push("cryotank".into());
        def
    }

    async fn init(cell: &Cell) -> synapse_cell::Result<Self> {
        cell.auth().add_auth_gate(CRYO_GATE, CRYO_GATE).await?;
        cell.store()
            .apply(vec![StoreOp::put(
                CELL_VERS_DB,
                b"cryotank".to_vec(),
                encode(&Value::from(CRYOTANK_VERSION)),
            )])
            .await?;
        let cryo = CryoCell {
            cell: cell.clone(),
            tankdir: cell.dirn().join("tanks"),
            tanks: RwLock::new(BTreeMap::new()),
            changing: tokio::sync::Mutex::new(()),
            table: Arc::new(api::cryo_api_table()),
        };
        if let Err(err) = cryo.open_tanks().await {
            cryo.fini_tanks().await;
            return Err(err);
        }
        Ok(cryo)
    }

    fn api_table(&self) -> Option<Arc<CryoTable>> {
        Some(self.table.clone())
    }

    fn open_path<'a>(
        self: &'a Arc<Self>,
        sess: Arc<Session>,
        _cellapi: Arc<dyn synapse_telepath::Share>,
        path: &'a [String],
    ) -> BoxFuture<'a, synapse_cell::Result<Arc<dyn synapse_telepath::Share>>> {
        Box::pin(async move {
            match path {
                [name] => {
                    let tank = self.init(name, &Value::Nil, Some(&sess)).await?;
                    let api: Arc<dyn synapse_telepath::Share> =
                        Arc::new(api::TankApi::new(tank, sess));
                    Ok(api)
                }
                _ => Err(synapse_cell::no_such_path(path)),
            }
        })
    }

    fn perm_defs(&self) -> Vec<Value> {
        let pdef = |name: &str, gate: &str, desc: &str| {
            map([
                (
                    "perm",
                    Value::Array(perm(name).into_iter().map(Value::from).collect()),
                ),
                ("gate", Value::from(gate)),
                ("desc", Value::from(desc)),
                ("default", Value::Boolean(false)),
            ])
        };
        vec![
            pdef(
                "cryo.tank.add",
                CRYO_GATE,
                "Controls access to creating a new tank.",
            ),
            pdef(
                "cryo.tank.put",
                TANK_GATE_TYPE,
                "Controls access to adding data to a specific tank.",
            ),
            pdef(
                "cryo.tank.read",
                TANK_GATE_TYPE,
                "Controls access to reading data from a specific tank.",
            ),
        ]
    }

    async fn fini(&self) {
        self.fini_tanks().await;
    }
}
