//! The cell core: directory, configuration, storage, auth, Boss and cell info, shared by every
//! service; and [`ServiceCell`], a cell with its [`Service`] built on it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use futures::future::BoxFuture;
use rmpv::Value;
use serde_json::Value as Json;
use synapse_base::Base;
use synapse_hive::Hive;
use synapse_telepath::{CertDir, Daemon, DaemonConfig};

use crate::auth::{Auth, AuthEvent, AuthOptions, Rule};
use crate::boss::Boss;
use crate::config::Config;
use crate::dirn::CellDir;
use crate::error::{ErrKind, Error, Result};
use crate::http::HttpSessions;
use crate::service::{HealthComponent, SYNAPSE_VERSION, Service, ServiceDef, ServiceHooks};
use crate::store::{Rows, SlabStore, Store, StoreOp};
use crate::value::{decode, encode, from_json, map};

const DB_INFO: &str = "cell:info";
const DB_VERS: &str = "cell:vers";
/// The storage version of the cell's own data (`cellvers['cell:storage']`).
const CELL_STORAGE_VERSION: i64 = 2;

/// A store wrapper that counts changes (the cell's "nexus index").
struct CountingStore {
    inner: Arc<dyn Store>,
    indx: AtomicI64,
}

impl Store for CountingStore {
    fn scan<'a>(&'a self, db: &'a str, prefix: &'a [u8]) -> BoxFuture<'a, Result<Rows>> {
        self.inner.scan(db, prefix)
    }

    fn get<'a>(&'a self, db: &'a str, key: &'a [u8]) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        self.inner.get(db, key)
    }

    fn apply(&self, mut ops: Vec<StoreOp>) -> BoxFuture<'_, Result<()>> {
        let indx = self.indx.fetch_add(1, Ordering::SeqCst) + 1;
        ops.push(StoreOp::put(
            DB_INFO,
            b"nexus:indx".to_vec(),
            encode(&Value::from(indx)),
        ));
        self.inner.apply(ops)
    }

    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        self.inner.sync()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }

    fn slab(&self) -> Option<&synapse_slab::Slab> {
        self.inner.slab()
    }
}

struct Inner {
    base: Base,
    dir: CellDir,
    def: ServiceDef,
    conf: Mutex<Config>,
    runid: String,
    started: i64,
    start_instant: Instant,
    store: Arc<CountingStore>,
    auth: Auth,
    boss: Boss,
    sessions: HttpSessions,
    https: Mutex<Vec<(String, u16)>>,
    hooks: OnceLock<Arc<dyn ServiceHooks>>,
    daemon: Daemon,
    hive: Option<Hive>,
    reloads: Mutex<Vec<(String, ReloadFn)>>,
}

/// A reload function of a subsystem (`reload('https:certs')`).
pub type ReloadFn = Arc<dyn Fn() -> BoxFuture<'static, Result<Value>> + Send + Sync>;

/// The cell core shared by every service. Cheap to clone.
#[derive(Clone)]
pub struct Cell {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell")
            .field("type", &self.inner.def.cell_type)
            .field("iden", &self.iden())
            .field("dirn", &self.dirn())
            .finish()
    }
}

/// How to open a cell.
pub struct CellOptions {
    /// The cell directory.
    pub dirn: PathBuf,
    /// Configuration from code, the command line and the environment (the directory's
    /// `cell.yaml` and `cell.mods.yaml` are applied by [`Cell::open`]).
    pub conf: Config,
    /// Storage for the cell's own data; `None` opens the default store.
    pub store: Option<Arc<dyn Store>>,
    /// Parent of the cell's teardown tree; `None` makes a new root.
    pub base: Option<Base>,
}

impl CellOptions {
    /// Options for `dirn` with an empty configuration of the given service.
    pub fn new(dirn: impl Into<PathBuf>, def: &ServiceDef) -> Self {
        Self {
            dirn: dirn.into(),
            conf: Config::new(def.cell_type, def.confdefs.clone()),
            store: None,
            base: None,
        }
    }

    /// Set a configuration value from code (wins over files, as in the reference).
    pub fn conf(mut self, key: &str, valu: Json) -> Result<Self> {
        self.conf.set_default(key, valu)?;
        Ok(self)
    }
}

impl Cell {
    /// Open the cell core: lock the directory, load and validate the configuration, open the
    /// store, auth (root/all, `auth:passwd`), the Boss, and apply the inaugural configuration
    /// at first boot.
    pub async fn open(opts: CellOptions, def: ServiceDef) -> Result<Self> {
        let CellOptions {
            dirn,
            mut conf,
            store,
            base,
        } = opts;
        std::fs::create_dir_all(&dirn)
            .map_err(|err| Error::io("cannot create directory", &dirn, err))?;
        conf.load_file(&dirn.join("cell.yaml"), false)?;
        conf.load_file(&dirn.join("cell.mods.yaml"), true)?;
        conf.finish()?;

        let dir = CellDir::open(&dirn, def.cell_type, conf.get_str("cell:guid"))?;
        if let Some(backdir) = conf.get_str("backup:dir") {
            let backdir = Path::new(backdir);
            let resolved = backdir
                .canonicalize()
                .unwrap_or_else(|_| backdir.to_path_buf());
            if resolved.starts_with(dir.path()) {
                return Err(Error::new(
                    ErrKind::BadConfValu,
                    "backup:dir must not be within the service directory",
                )
                .with("name", "backup:dir"));
            }
        }
        if conf.get_bool("safemode") {
            tracing::warn!(
                "Booting {} in safe-mode. Some functionality may be disabled.",
                def.cell_type
            );
        }

        let inner_store: Arc<dyn Store> = match store {
            Some(store) => store,
            None => default_store(&dir).await?,
        };
        let setup = async {
            let indx = match inner_store.get(DB_INFO, b"nexus:indx").await? {
                Some(byts) => decode(&byts)?.as_i64().unwrap_or(0),
                None => 0,
            };
            let store = Arc::new(CountingStore {
                inner: inner_store.clone(),
                indx: AtomicI64::new(indx),
            });
            check_versions(&*store, &def, dir.is_inaugural()).await?;
            let mut authopts = AuthOptions::for_cell(dir.iden());
            authopts.maxusers = conf.get_i64("max:users").unwrap_or(0);
            authopts.policy = conf.get("auth:passwd:policy").cloned();
            let auth = Auth::open(store.clone(), authopts).await?;
            if let Some(passwd) = conf.get_str("auth:passwd") {
                let root = auth.root_iden();
                if !auth.try_user_passwd(&root, Some(passwd)).await? {
                    auth.set_user_passwd(&root, Some(passwd), false).await?;
                }
            }
            let sessions = HttpSessions::open(store.clone(), &auth, &dir).await?;
            let hive = match inner_store.slab() {
                Some(slab) => Some(Hive::open(slab, "hive").await.map_err(hive_err)?),
                None => None,
            };
            Ok::<_, Error>((store, auth, sessions, hive))
        };
        let (store, auth, sessions, hive) = match setup.await {
            Ok(parts) => parts,
            Err(err) => {
                inner_store.close().await;
                return Err(err);
            }
        };
        let base = match base {
            Some(parent) => parent.child(),
            None => Base::new(),
        };
        let boss = Boss::new(&base);
        let mut certdir = CertDir::default();
        certdir.add(dir.join("certs"));
        let daemon = Daemon::with_config(DaemonConfig {
            certdir,
            ..DaemonConfig::default()
        });
        base.adopt(daemon.base());
        if let Some(hive) = &hive {
            base.adopt(hive.base());
        }

        let cell = Cell {
            inner: Arc::new(Inner {
                base,
                dir,
                def,
                conf: Mutex::new(conf),
                runid: synapse_base::guid(),
                started: synapse_base::now_ms(),
                start_instant: Instant::now(),
                store,
                auth,
                boss,
                sessions,
                https: Mutex::new(Vec::new()),
                hooks: OnceLock::new(),
                daemon,
                hive,
                reloads: Mutex::new(Vec::new()),
            }),
        };
        let store = cell.inner.store.clone();
        let weak = Arc::downgrade(&cell.inner);
        cell.inner.base.on_fini(move || async move {
            if let Err(err) = store.sync().await {
                tracing::error!(cause = %err, "cell storage sync failed at shutdown");
            }
            store.close().await;
            if let Some(inner) = weak.upgrade() {
                inner.dir.unlock();
            }
        });
        cell.watch_auth();
        if cell.inner.dir.is_inaugural()
            && let Err(err) = cell.apply_inaugural().await
        {
            cell.fini().await;
            return Err(err);
        }
        Ok(cell)
    }

    fn watch_auth(&self) {
        let mut events = self.inner.auth.subscribe();
        let sessions = self.inner.sessions.clone();
        let res = self.inner.base.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(AuthEvent::UserLocked { iden, locked: true })
                    | Ok(AuthEvent::UserDeleted { iden }) => {
                        if let Err(err) = sessions.end_user_sessions(&iden).await {
                            tracing::warn!(cause = %err, "failed to end HTTP sessions of a locked user");
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        if res.is_err() {
            tracing::debug!("cell torn down before its auth watcher started");
        }
    }

    async fn apply_inaugural(&self) -> Result<()> {
        let Some(icfg) = self.conf_value("inaugural") else {
            return Ok(());
        };
        let auth = &self.inner.auth;
        let iden = self.iden().to_string();
        let seeded = |kind: &str, name: &str| {
            crate::value::guid_of(&Value::Array(vec![
                Value::from(iden.as_str()),
                Value::from("auth"),
                Value::from(kind),
                Value::from(name),
            ]))
        };
        let rules = |valu: Option<&Json>| -> Result<Vec<Rule>> {
            match valu {
                Some(valu) => Rule::parse_list(&from_json(valu)),
                None => Ok(Vec::new()),
            }
        };
        for rnfo in icfg
            .get("roles")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = rnfo.get("name").and_then(Json::as_str).unwrap_or_default();
            tracing::debug!(role = name, "adding inaugural role");
            let role = auth.add_role(name, Some(&seeded("role", name))).await?;
            for rule in rules(rnfo.get("rules"))? {
                auth.add_role_rule(&role.iden, rule, None, None).await?;
            }
        }
        for unfo in icfg
            .get("users")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = unfo.get("name").and_then(Json::as_str).unwrap_or_default();
            let email = unfo.get("email").and_then(Json::as_str);
            tracing::debug!(user = name, "adding inaugural user");
            let user = auth
                .add_user(name, None, email, Some(&seeded("user", name)))
                .await?;
            if unfo.get("admin").and_then(Json::as_bool).unwrap_or(false) {
                auth.set_user_admin(&user.iden, true, None).await?;
            }
            for rolename in unfo
                .get("roles")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let role = auth.req_role_by_name(rolename.as_str().unwrap_or_default())?;
                auth.grant(&user.iden, &role.iden, None).await?;
            }
            for rule in rules(unfo.get("rules"))? {
                auth.add_user_rule(&user.iden, rule, None, None).await?;
            }
        }
        Ok(())
    }

    pub(crate) fn set_hooks(&self, hooks: Arc<dyn ServiceHooks>) {
        let _ = self.inner.hooks.set(hooks);
    }

    /// The cell's teardown node: listeners and services hang below it.
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// The cell directory.
    pub fn dirn(&self) -> &Path {
        self.inner.dir.path()
    }

    /// True at the cell's first boot.
    pub fn is_inaugural(&self) -> bool {
        self.inner.dir.is_inaugural()
    }

    /// The cell iden (`cell.guid`).
    pub fn iden(&self) -> &str {
        self.inner.dir.iden()
    }

    /// A random iden made at every process start.
    pub fn runid(&self) -> &str {
        &self.inner.runid
    }

    /// The cell type (`cell`, `axon` ...).
    pub fn cell_type(&self) -> &'static str {
        self.inner.def.cell_type
    }

    /// The service description.
    pub fn def(&self) -> &ServiceDef {
        &self.inner.def
    }

    /// Users, roles, gates and API keys.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// The task registry.
    pub fn boss(&self) -> &Boss {
        &self.inner.boss
    }

    /// The cell's own store (services may keep small records in their own DB names).
    pub fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// The cell's slab (`slabs/cell.lmdb`), when its store is one (always for cells opened
    /// with the default store). Services may open their own databases in it.
    pub fn slab(&self) -> Option<synapse_slab::Slab> {
        self.inner.store.slab().cloned()
    }

    /// The cell's hive (DB `hive` of `slabs/cell.lmdb`; deprecated in the reference, kept for
    /// the CellApi hive methods and old data). `None` when the store has no slab.
    pub fn hive(&self) -> Option<&Hive> {
        self.inner.hive.as_ref()
    }

    /// The hive, or an error for stores without one.
    pub(crate) fn req_hive(&self) -> Result<&Hive> {
        self.hive()
            .ok_or_else(|| Error::new(ErrKind::SynErr, "This cell has no hive (no slab store)."))
    }

    pub(crate) fn sessions(&self) -> &HttpSessions {
        &self.inner.sessions
    }

    /// A copy of the configuration.
    pub fn conf(&self) -> Config {
        self.inner
            .conf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One configuration value.
    pub fn conf_value(&self, key: &str) -> Option<Json> {
        self.inner
            .conf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Change configuration at runtime: validated, applied, and written to `cell.mods.yaml`.
    pub fn mod_cell_conf(&self, items: Vec<(String, Json)>) -> Result<()> {
        let mut conf = self.inner.conf.lock().unwrap_or_else(|e| e.into_inner());
        for (key, valu) in &items {
            conf.check(key, valu)?;
        }
        let path = self.inner.dir.join("cell.mods.yaml");
        let mut mods: serde_json::Map<String, Json> = match std::fs::read_to_string(&path) {
            Ok(text) => serde_yaml::from_str(&text).unwrap_or_default(),
            Err(_) => serde_json::Map::new(),
        };
        for (key, valu) in items {
            tracing::info!(key = %key, "setting cell config override");
            conf.set(&key, valu.clone())?;
            mods.insert(key, valu);
        }
        let text = serde_yaml::to_string(&mods)
            .map_err(|err| Error::storage(format!("cannot encode cell.mods.yaml: {err}")))?;
        std::fs::write(&path, text).map_err(|err| Error::io("cannot write", &path, err))
    }

    /// Epoch ms when the cell started.
    pub fn started(&self) -> i64 {
        self.inner.started
    }

    /// Milliseconds since start.
    pub fn uptime_ms(&self) -> i64 {
        i64::try_from(self.inner.start_instant.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// The number of changes written (reported as the nexus index).
    pub fn nexs_indx(&self) -> i64 {
        self.inner.store.indx.load(Ordering::SeqCst)
    }

    /// Record an HTTPS listener for `getCellInfo`.
    pub fn add_https_listener(&self, host: &str, port: u16) {
        self.inner
            .https
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((host.to_string(), port));
    }

    /// The telepath features (`getTeleFeats`).
    pub fn features(&self) -> Vec<(String, i64)> {
        let mut feats: Vec<(String, i64)> = [
            ("tellready", 1),
            ("dynmirror", 1),
            ("tasks", 1),
            ("issuewait", 1),
            ("shutdowndrain", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (name, vers) in &self.inner.def.features {
            match feats.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = *vers,
                None => feats.push((name.clone(), *vers)),
            }
        }
        feats
    }

    /// The features as a map value.
    pub fn features_value(&self) -> Value {
        Value::Map(
            self.features()
                .into_iter()
                .map(|(k, v)| (Value::from(k), Value::from(v)))
                .collect(),
        )
    }

    /// `getCellInfo()`.
    pub async fn cell_info(&self) -> Value {
        let def = &self.inner.def;
        let version = |v: [u32; 3]| Value::Array(v.iter().map(|n| Value::from(*n)).collect());
        let synver = ServiceDef::new("cell").verstring();
        let indx = self.nexs_indx();
        let conf = self.conf();
        let confstr = |key: &str| crate::value::opt_str(conf.get_str(key));
        let mirror = conf.get_str("mirror").map(sanitize_url);
        let cellvers = self.cell_vers().await;
        let https: Vec<Value> = self
            .inner
            .https
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(host, port)| {
                map([
                    ("host", Value::from(host.as_str())),
                    ("port", Value::from(*port)),
                ])
            })
            .collect();
        map([
            (
                "synapse",
                map([
                    ("commit", Value::from("")),
                    ("version", version(SYNAPSE_VERSION)),
                    ("verstring", Value::from(synver.as_str())),
                ]),
            ),
            (
                "cell",
                map([
                    ("run", Value::from(self.runid())),
                    ("type", Value::from(self.cell_type())),
                    ("iden", Value::from(self.iden())),
                    ("paused", Value::Boolean(false)),
                    ("active", Value::Boolean(true)),
                    ("safemode", Value::Boolean(conf.get_bool("safemode"))),
                    ("started", Value::from(self.started())),
                    ("ready", Value::Boolean(true)),
                    ("commit", Value::from(def.commit.as_str())),
                    ("version", version(def.version)),
                    ("verstring", Value::from(def.verstring())),
                    ("cellvers", cellvers),
                    ("nexsindx", Value::from(indx)),
                    ("uplink", Value::Boolean(false)),
                    ("mirror", crate::value::opt_str(mirror.as_deref())),
                    (
                        "aha",
                        map([
                            ("name", confstr("aha:name")),
                            ("leader", confstr("aha:leader")),
                            ("network", confstr("aha:network")),
                        ]),
                    ),
                    ("network", map([("https", Value::Array(https))])),
                    (
                        "nexus",
                        map([
                            ("holds", Value::Array(Vec::new())),
                            ("indx", Value::from(indx)),
                            ("readonly", Value::Boolean(false)),
                            ("ready", Value::Boolean(true)),
                            ("uplink:ready", Value::Boolean(false)),
                        ]),
                    ),
                ]),
            ),
            ("features", self.features_value()),
            ("optimized", Value::Nil),
        ])
    }

    async fn cell_vers(&self) -> Value {
        let rows = self
            .inner
            .store
            .scan(DB_VERS, b"")
            .await
            .unwrap_or_default();
        Value::Map(
            rows.into_iter()
                .filter_map(|(k, v)| {
                    Some((Value::from(String::from_utf8(k).ok()?), decode(&v).ok()?))
                })
                .collect(),
        )
    }

    /// `getHealthCheck()`: `{"iden", "components", "status"}` with the worst component status.
    pub async fn health_check(&self) -> Value {
        let comps: Vec<HealthComponent> = match self.inner.hooks.get() {
            Some(hooks) => hooks.health().await,
            None => Vec::new(),
        };
        let rank = |s: &str| match s {
            "failed" => 2,
            "degraded" => 1,
            _ => 0,
        };
        let status = comps
            .iter()
            .map(|c| c.status.as_str())
            .max_by_key(|s| rank(s))
            .filter(|s| rank(s) > 0)
            .unwrap_or("nominal");
        map([
            ("iden", Value::from(self.iden())),
            (
                "components",
                Value::Array(comps.iter().map(HealthComponent::pack).collect()),
            ),
            ("status", Value::from(status)),
        ])
    }

    /// `getPermDefs()`.
    pub fn perm_defs(&self) -> Vec<Value> {
        self.inner
            .hooks
            .get()
            .map(|h| h.perm_defs())
            .unwrap_or_default()
    }

    /// `getSystemInfo()`.
    pub fn system_info(&self) -> Value {
        let (volsize, volfree) = crate::sysinfo::disk_usage(self.dirn());
        let backdir = match self.conf().get_str("backup:dir") {
            Some(dir) => std::path::PathBuf::from(dir),
            None => self.dirn().join("backups"),
        };
        // The backup directory may not exist yet: measure its volume through the closest
        // existing ancestor.
        let existing = backdir
            .ancestors()
            .find(|p| p.exists())
            .map_or_else(|| self.dirn().to_path_buf(), Path::to_path_buf);
        let (backsize, backfree) = crate::sysinfo::disk_usage(&existing);
        let (realdisk, apprdisk) = crate::sysinfo::dir_size(self.dirn());
        let (totalmem, availmem) = crate::sysinfo::memory();
        let cpucount = std::thread::available_parallelism().map_or(1, |n| n.get());
        map([
            ("volsize", Value::from(volsize)),
            ("volfree", Value::from(volfree)),
            ("backupvolsize", Value::from(backsize)),
            ("backupvolfree", Value::from(backfree)),
            ("cellstarttime", Value::from(self.started())),
            ("celluptime", Value::from(self.uptime_ms())),
            ("cellrealdisk", Value::from(realdisk)),
            ("cellapprdisk", Value::from(apprdisk)),
            ("osversion", Value::from(crate::sysinfo::os_version())),
            // There is no Python here: report the Rust toolchain the build requires.
            (
                "pyversion",
                Value::from(format!("rust {}", env!("CARGO_PKG_RUST_VERSION"))),
            ),
            ("totalmem", Value::from(totalmem)),
            ("availmem", Value::from(availmem)),
            ("cpucount", Value::from(cpucount)),
            ("sysctls", crate::sysinfo::sysctls()),
            (
                "tmpdir",
                Value::from(std::env::temp_dir().display().to_string()),
            ),
        ])
    }

    /// `getDmonSessions()`: the open telepath sessions.
    pub fn dmon_sessions(&self) -> Value {
        // The reference names the API object by its full class (`synapse.lib.cell.CellApi`).
        let full = self
            .inner
            .def
            .api_classes
            .first()
            .cloned()
            .unwrap_or_else(|| crate::session::CELL_API_CLASSES[0].to_string());
        let short = full.rsplit('.').next().unwrap_or_default().to_string();
        let mut packed: Vec<Value> = self
            .inner
            .daemon
            .sessions()
            .iter()
            .map(|s| s.pack())
            .collect();
        for sess in &mut packed {
            if let Value::Map(items) = sess
                && let Some((_, Value::Map(objs))) =
                    items.iter_mut().find(|(k, _)| k.as_str() == Some("items"))
            {
                for (key, class) in objs.iter_mut() {
                    if key.is_nil() && class.as_str() == Some(short.as_str()) {
                        *class = Value::from(full.as_str());
                    }
                }
            }
        }
        Value::Array(packed)
    }

    /// The telepath Daemon (shares the cell's API; listeners are added by the launcher).
    pub fn daemon(&self) -> &Daemon {
        &self.inner.daemon
    }

    /// Register a reloadable subsystem.
    pub fn add_reloadable(&self, name: &str, func: ReloadFn) {
        let mut reloads = self.inner.reloads.lock().unwrap_or_else(|e| e.into_inner());
        reloads.retain(|(n, _)| n != name);
        reloads.push((name.to_string(), func));
    }

    /// The reloadable subsystems.
    pub fn reloadable(&self) -> Vec<String> {
        let reloads = self.inner.reloads.lock().unwrap_or_else(|e| e.into_inner());
        reloads.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Run one (or every) reload function: `{name: [true, result] | [false, [err, info]]}`.
    pub async fn reload(&self, subsystem: Option<&str>) -> Result<Value> {
        let funcs: Vec<(String, ReloadFn)> = {
            let reloads = self.inner.reloads.lock().unwrap_or_else(|e| e.into_inner());
            match subsystem {
                Some(name) => {
                    let Some(found) = reloads.iter().find(|(n, _)| n == name) else {
                        return Err(Error::new(
                            ErrKind::NoSuchName,
                            format!("No reload system named {name}"),
                        )
                        .with("name", name));
                    };
                    vec![found.clone()]
                }
                None => reloads.clone(),
            }
        };
        let mut out = Vec::new();
        for (name, func) in funcs {
            let retn = match func().await {
                Ok(valu) => Value::Array(vec![Value::Boolean(true), valu]),
                Err(err) => {
                    let (ename, info) = err.to_remote();
                    Value::Array(vec![
                        Value::Boolean(false),
                        Value::Array(vec![Value::from(ename), info]),
                    ])
                }
            };
            out.push((Value::from(name), retn));
        }
        Ok(Value::Map(out))
    }

    /// Graceful shutdown: wait for (or with `drain` false, cancel) the Boss's tasks, then tear
    /// the cell down in the background. False if the tasks did not end within `timeout`.
    pub async fn shutdown(&self, timeout: Option<std::time::Duration>, drain: bool) -> bool {
        if !self.boss().shutdown(timeout, drain).await {
            tracing::warn!("tasks did not complete within timeout, aborting shutdown");
            return false;
        }
        let cell = self.clone();
        tokio::spawn(async move {
            tracing::warn!("all tasks exited, shutting down");
            cell.fini().await;
        });
        true
    }

    /// Tear the cell down (listeners, services, tasks, then storage sync).
    pub async fn fini(&self) {
        self.inner.base.fini().await;
    }
}

/// A hive error as a cell error (same class name).
pub(crate) fn hive_err(err: synapse_hive::Error) -> Error {
    let name = err.class();
    let mesg = err.to_string();
    match ErrKind::from_name(name) {
        Some(kind) => Error::new(kind, mesg),
        None => Error::named(name, mesg),
    }
}

fn sanitize_url(url: &str) -> String {
    // Mask a password in `scheme://user:passwd@host...`.
    match (url.find("://"), url.find('@')) {
        (Some(start), Some(at)) if at > start => {
            let creds = &url[start + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..start + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn check_versions(store: &dyn Store, def: &ServiceDef, inaugural: bool) -> Result<()> {
    let getv = |key: &'static [u8]| async move {
        match store.get(DB_INFO, key).await? {
            Some(byts) => Ok::<_, Error>(Some(decode(&byts)?)),
            None => Ok(None),
        }
    };
    let as_vers = |valu: &Value| -> Option<Vec<u64>> {
        match valu {
            Value::Array(items) => items.iter().map(Value::as_u64).collect(),
            _ => None,
        }
    };
    let mine: Vec<u64> = def.version.iter().map(|n| u64::from(*n)).collect();
    let synv: Vec<u64> = SYNAPSE_VERSION.iter().map(|n| u64::from(*n)).collect();
    for (key, current, what) in [
        (&b"cell:version"[..], &mine, def.cell_type),
        (&b"synapse:version"[..], &synv, "synapse"),
    ] {
        if let Some(last) = getv(key).await?.as_ref().and_then(as_vers)
            && *current < last
        {
            let label = if what == "synapse" { "Synapse" } else { "Cell" };
            return Err(Error::new(
                ErrKind::BadVersion,
                format!(
                    "{label} version regression ({}) is not allowed! Stored version: {last:?}, current version: {current:?}.",
                    def.cell_type
                ),
            ));
        }
    }
    let vers = |v: &[u64]| encode(&Value::Array(v.iter().map(|n| Value::from(*n)).collect()));
    let mut ops = vec![
        StoreOp::put(DB_INFO, b"cell:version".to_vec(), vers(&mine)),
        StoreOp::put(DB_INFO, b"synapse:version".to_vec(), vers(&synv)),
        StoreOp::put(
            DB_VERS,
            b"cell:storage".to_vec(),
            encode(&Value::from(CELL_STORAGE_VERSION)),
        ),
    ];
    if inaugural {
        ops.push(StoreOp::put(
            DB_INFO,
            b"nexus:version".to_vec(),
            encode(&Value::Array(vec![Value::from(2), Value::from(198)])),
        ));
    }
    store.apply(ops).await
}

/// The default store of a cell directory: `slabs/cell.lmdb`.
async fn default_store(dir: &CellDir) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(
        SlabStore::open(&dir.join("slabs").join("cell.lmdb")).await?,
    ))
}

/// A cell with its service: what `synapse-servers` runs.
pub struct ServiceCell<S> {
    cell: Cell,
    service: Arc<S>,
}

impl<S> Clone for ServiceCell<S> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
            service: self.service.clone(),
        }
    }
}

impl<S: Service> std::fmt::Debug for ServiceCell<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCell")
            .field("cell", &self.cell)
            .finish()
    }
}

impl<S: Service> ServiceCell<S> {
    /// Open the cell core and build the service on it.
    pub async fn open(opts: CellOptions) -> Result<Self> {
        let cell = Cell::open(opts, S::def()).await?;
        let service = match S::init(&cell).await {
            Ok(service) => Arc::new(service),
            Err(err) => {
                cell.fini().await;
                return Err(err);
            }
        };
        cell.set_hooks(service.clone());
        service.start();
        let svc = service.clone();
        cell.base().on_fini(move || async move { svc.fini().await });
        let this = Self { cell, service };
        let daemon = this.cell.daemon();
        daemon.set_auth(Arc::new(crate::tele::CellAuth::new(this.cell.clone())));
        let ahaname = this.cell.conf_value("aha:name");
        daemon.set_ahainfo(Some(map([(
            "name",
            crate::value::opt_str(ahaname.as_ref().and_then(Json::as_str)),
        )])));
        daemon.share_factory(
            "*",
            Arc::new(crate::tele::CellApiFactory::new(this.clone())),
        );
        for name in &this.cell.def().shares {
            daemon.share_factory(
                name,
                Arc::new(crate::tele::CellApiFactory::new(this.clone())),
            );
        }
        Ok(this)
    }

    /// The cell core.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// The service.
    pub fn service(&self) -> &Arc<S> {
        &self.service
    }

    /// The HTTP API as a tower service: the service's routes, then the cell's.
    pub fn http(&self) -> crate::http::HttpApi {
        crate::http::HttpApi::new(self.cell.clone(), self.service.routes())
    }

    /// A telepath session API for `user` (after authentication).
    pub fn session(
        &self,
        user: &str,
        conninfo: crate::session::ConnInfo,
    ) -> crate::session::CellApi<S> {
        crate::session::CellApi::new(self.clone(), user, conninfo)
    }

    /// Tear everything down.
    pub async fn fini(&self) {
        self.cell.fini().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_sanitized() {
        assert_eq!(
            sanitize_url("tcp://root:secret@host:1/"),
            "tcp://root:****@host:1/"
        );
        assert_eq!(sanitize_url("tcp://host:1/"), "tcp://host:1/");
        assert_eq!(sanitize_url("aha://visi@cell..."), "aha://visi@cell...");
    }
}
