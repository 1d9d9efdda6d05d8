//! Storm daemons ("dmons"): Storm queries the Cortex keeps running in the background, each as
//! its user in its view, restarted a second after it ends or fails, as the reference's
//! `StormDmon` / `DmonManager`.
//!
//! A dmon definition (`ddef`) is the reference's: `iden`, `user`, `storm`, and optionally
//! `name`, `enabled` (default true) and `stormopts` (the query's opts: `vars`, `view`, ...).
//! Definitions are persisted in `slabs/cortex.lmdb` (`storm:dmons`: iden → ddef) and loaded
//! when the Cortex starts; the enabled ones run from then on. A running dmon is a Boss task
//! named `storm:dmon` (info `{iden, name, view}`); its `print` and `warn` messages and its
//! errors are kept in a log of the last 2000 entries (`(time, mesg)`), its status is one of
//! `initialized`, `running`, `sleeping` (between runs), `stopped`, `error: <exc>` (the last
//! run failed, `err` is set), `fatal error: user locked` / `fatal error: invalid view` (the
//! loop gave up). Locking or unlocking a user bumps that user's dmons.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use indexmap::IndexMap;
use rmpv::Value;
use synapse_cell::{Error, Result, TaskOpts};
use synapse_slab::{Db, DbOptions, Scan, Slab};

use super::{Cortex, StormCall};
use crate::nodeedit::{packb, unpackb};

/// How many messages a dmon's log keeps.
const RUNLOG_MAX: usize = 2000;
/// How long a dmon sleeps between runs.
const RESTART_DELAY: Duration = Duration::from_secs(1);

tokio::task_local! {
    /// The iden of the dmon whose loop the current task runs.
    static DMON_TASK: String;
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

fn slab_error(err: synapse_slab::Error) -> Error {
    Error::storage(err.to_string()).with_source(err)
}

fn schema(name: &str, mesg: impl Into<String>) -> Error {
    Error::named("SchemaViolation", mesg).with("name", name)
}

fn is_iden(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn get<'a>(items: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn set(items: &mut Vec<(Value, Value)>, key: &str, valu: Value) {
    match items.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(slot) => slot.1 = valu,
        None => items.push((Value::from(key), valu)),
    }
}

/// The reference's dmon definition schema (`reqValidDdef`), with its messages; fills in
/// `enabled` (default true) as its validator does.
pub(crate) fn validate_ddef(ddef: &mut Value) -> Result<()> {
    let Value::Map(items) = ddef else {
        return Err(schema("data", "data must be object"));
    };
    let mut missing: Vec<&str> = ["iden", "storm", "user"]
        .into_iter()
        .filter(|k| get(items, k).is_none())
        .collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|k| format!("'{k}'")).collect();
        return Err(schema(
            "data",
            format!("data must contain [{}] properties", list.join(", ")),
        ));
    }
    for key in ["name", "storm", "user", "iden"] {
        let Some(valu) = get(items, key) else {
            continue;
        };
        let name = format!("data.{key}");
        let Some(text) = valu.as_str() else {
            return Err(schema(&name, format!("{name} must be string")));
        };
        if matches!(key, "user" | "iden") && !is_iden(text) {
            return Err(schema(
                &name,
                format!("{name} must match pattern ^[0-9a-f]{{32}}$"),
            ));
        }
    }
    match get(items, "enabled") {
        None => items.push((Value::from("enabled"), Value::Boolean(true))),
        Some(Value::Boolean(_)) => {}
        Some(_) => return Err(schema("data.enabled", "data.enabled must be boolean")),
    }
    if let Some(opts) = get(items, "stormopts")
        && !valid_stormopts(opts)
    {
        return Err(schema(
            "data.stormopts",
            "data.stormopts must be valid exactly by one definition (0 matches found)",
        ));
    }
    let mut extra: Vec<&str> = items
        .iter()
        .filter_map(|(k, _)| k.as_str())
        .filter(|k| !["name", "storm", "user", "iden", "enabled", "stormopts"].contains(k))
        .collect();
    if items.iter().any(|(k, _)| k.as_str().is_none()) {
        extra.push("<non-string key>");
    }
    if !extra.is_empty() {
        extra.sort_unstable();
        let list: Vec<String> = extra.iter().map(|k| format!("'{k}'")).collect();
        return Err(schema(
            "data",
            format!("data must not contain {{{}}} properties", list.join(", ")),
        ));
    }
    Ok(())
}

/// `stormopts`: null, or a map whose `repr` is a boolean, `path` a string, `show` a list of
/// strings.
fn valid_stormopts(opts: &Value) -> bool {
    let items = match opts {
        Value::Nil => return true,
        Value::Map(items) => items,
        _ => return false,
    };
    let ok_repr = get(items, "repr").is_none_or(|v| matches!(v, Value::Boolean(_)));
    let ok_path = get(items, "path").is_none_or(Value::is_str);
    let ok_show = get(items, "show").is_none_or(|v| {
        v.as_array()
            .is_some_and(|items| items.iter().all(Value::is_str))
    });
    ok_repr && ok_path && ok_show
}

/// What one dmon is doing.
struct DmonState {
    ddef: Vec<(Value, Value)>,
    enabled: bool,
    status: String,
    count: Arc<AtomicU64>,
    err: bool,
    runlog: VecDeque<Value>,
    /// Bumped at each start and stop: a loop only reports while its generation is current.
    epoch: u64,
    task: Option<synapse_base::Task<()>>,
}

/// One dmon.
struct Dmon {
    iden: String,
    state: Mutex<DmonState>,
}

impl Dmon {
    fn new(iden: &str, ddef: Vec<(Value, Value)>) -> Dmon {
        let enabled = !matches!(get(&ddef, "enabled"), Some(Value::Boolean(false)));
        Dmon {
            iden: iden.to_owned(),
            state: Mutex::new(DmonState {
                ddef,
                enabled,
                status: "initialized".to_owned(),
                count: Arc::default(),
                err: false,
                runlog: VecDeque::new(),
                epoch: 0,
                task: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DmonState> {
        self.state.lock().unwrap_or_else(poisoned)
    }

    /// The reference's `StormDmon.pack()`: the ddef with `count`, `status` and `err`.
    fn pack(&self) -> Value {
        let st = self.lock();
        let mut out = st.ddef.clone();
        out.push((
            Value::from("count"),
            Value::from(st.count.load(Ordering::Relaxed)),
        ));
        out.push((Value::from("status"), Value::from(st.status.as_str())));
        out.push((Value::from("err"), Value::Boolean(st.err)));
        Value::Map(out)
    }

    fn log(&self, mesg: Value) {
        let mut st = self.lock();
        if st.runlog.len() >= RUNLOG_MAX {
            st.runlog.pop_front();
        }
        st.runlog.push_back(Value::Array(vec![
            Value::from(synapse_base::now_ms()),
            mesg,
        ]));
    }

    /// Set the status if generation `epoch` is still the current one.
    fn report(&self, epoch: u64, status: String, err: Option<bool>) {
        let mut st = self.lock();
        if st.epoch == epoch {
            st.status = status;
            if let Some(err) = err {
                st.err = err;
            }
        }
    }
}

/// The dmons of a Cortex.
pub(crate) struct Dmons {
    slab: Slab,
    db: Db,
    dmons: Mutex<IndexMap<String, Arc<Dmon>>>,
    /// The stored definitions, until the Cortex starts.
    stored: Mutex<Vec<(String, Value)>>,
    started: AtomicBool,
    /// Serializes changes (as the reference's nexus does).
    edit: tokio::sync::Mutex<()>,
}

impl Dmons {
    /// Open the dmon table and read the stored definitions (they start with the Cortex).
    pub(crate) async fn open(slab: &Slab) -> Result<Dmons> {
        let db = slab
            .initdb("storm:dmons", DbOptions::default())
            .await
            .map_err(slab_error)?;
        let mut dmons = Dmons {
            slab: slab.clone(),
            db,
            dmons: Mutex::default(),
            stored: Mutex::default(),
            started: AtomicBool::new(false),
            edit: tokio::sync::Mutex::new(()),
        };
        let rows = dmons.rows().await?;
        dmons.stored = Mutex::new(rows);
        Ok(dmons)
    }

    fn get(&self, iden: &str) -> Option<Arc<Dmon>> {
        self.dmons
            .lock()
            .unwrap_or_else(poisoned)
            .get(iden)
            .cloned()
    }

    fn all(&self) -> Vec<Arc<Dmon>> {
        self.dmons
            .lock()
            .unwrap_or_else(poisoned)
            .values()
            .cloned()
            .collect()
    }

    async fn save(&self, iden: &str, ddef: &Value) -> Result<()> {
        let (db, key, byts) = (self.db, iden.as_bytes().to_vec(), packb(ddef));
        self.slab
            .write_commit(move |txn| txn.put(db, &key, &byts).map(|_| ()))
            .await
            .map_err(slab_error)
    }

    async fn remove(&self, iden: &str) -> Result<()> {
        let (db, key) = (self.db, iden.as_bytes().to_vec());
        self.slab
            .write_commit(move |txn| txn.delete(db, &key, None).map(|_| ()))
            .await
            .map_err(slab_error)
    }

    async fn rows(&self) -> Result<Vec<(String, Value)>> {
        let db = self.db;
        let rows = self
            .slab
            .snapshot(move |txn| {
                let mut out = Vec::new();
                for row in txn.scan(db, Scan::full())? {
                    let (key, val) = row?;
                    out.push((key.to_vec(), val.to_vec()));
                }
                Ok::<_, synapse_slab::Error>(out)
            })
            .await
            .map_err(slab_error)?;
        let mut out = Vec::new();
        for (key, val) in rows {
            match (String::from_utf8(key), unpackb(&val)) {
                (Ok(iden), Some(ddef)) => out.push((iden, ddef)),
                _ => tracing::warn!("bad storm dmon row in cortex.lmdb"),
            }
        }
        Ok(out)
    }
}

impl Cortex {
    /// `addStormDmon(ddef)`: validate, store and start a dmon (a new `iden` if it has none;
    /// `DupIden`, `SchemaViolation`, `NoSuchUser`, `BadSyntax`); its packed form.
    pub async fn add_storm_dmon(self: &Arc<Self>, ddef: Value) -> Result<Value> {
        let mut ddef = match ddef {
            Value::Map(items) => Value::Map(items),
            _ => return Err(schema("data", "data must be object")),
        };
        if let Value::Map(items) = &mut ddef
            && matches!(get(items, "iden"), None | Some(Value::Nil))
        {
            set(items, "iden", Value::from(synapse_base::guid()));
        }
        let iden = synapse_cell::map_get(&ddef, "iden")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let _edit = self.dmons.edit.lock().await;
        if self.dmons.get(&iden).is_some() {
            return Err(Error::named(
                "DupIden",
                format!("Duplicate iden specified for dmon: {iden}"),
            ));
        }
        validate_ddef(&mut ddef)?;
        let dmon = self.make_dmon(&iden, ddef.clone())?;
        self.dmons.save(&iden, &ddef).await?;
        self.dmons
            .dmons
            .lock()
            .unwrap_or_else(poisoned)
            .insert(iden.clone(), Arc::clone(&dmon));
        if self.dmons.started.load(Ordering::SeqCst) && dmon.lock().enabled {
            self.run_dmon(&dmon);
        }
        Ok(dmon.pack())
    }

    /// Check a stored or new definition as the reference's `runStormDmon` (valid ddef,
    /// existing user, parsable query) and make its dmon (not started).
    fn make_dmon(&self, iden: &str, mut ddef: Value) -> Result<Arc<Dmon>> {
        validate_ddef(&mut ddef)?;
        let user = synapse_cell::map_get(&ddef, "user")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.user(user).map_err(|_| {
            Error::named("NoSuchUser", format!("No user with iden {user}.")).with("user", user)
        })?;
        let text = synapse_cell::map_get(&ddef, "storm")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.req_storm()?
            .req_valid_storm(text, &Value::Map(Vec::new()))?;
        let Value::Map(items) = ddef else {
            return Err(schema("data", "data must be object"));
        };
        Ok(Arc::new(Dmon::new(iden, items)))
    }

    /// `delStormDmon(iden)`: stop and remove a dmon (`NoSuchIden`).
    pub async fn del_storm_dmon(&self, iden: &str) -> Result<()> {
        let _edit = self.dmons.edit.lock().await;
        let Some(dmon) = self.dmons.get(iden) else {
            return Err(Error::named(
                "NoSuchIden",
                format!("No storm daemon exists with iden {iden}."),
            ));
        };
        self.dmons.remove(iden).await?;
        self.dmons
            .dmons
            .lock()
            .unwrap_or_else(poisoned)
            .shift_remove(iden);
        stop_dmon(&dmon).await;
        Ok(())
    }

    /// `getStormDmon(iden)`: the packed dmon, `None` if there is none.
    pub fn get_storm_dmon(&self, iden: &str) -> Option<Value> {
        self.dmons.get(iden).map(|d| d.pack())
    }

    /// `getStormDmons()`: every dmon, packed, in the order they were added.
    pub fn get_storm_dmons(&self) -> Vec<Value> {
        self.dmons.all().iter().map(|d| d.pack()).collect()
    }

    /// `getStormDmonLog(iden)`: the dmon's log, `(time, mesg)` pairs, oldest first (empty for
    /// an unknown dmon).
    pub fn get_storm_dmon_log(&self, iden: &str) -> Vec<Value> {
        self.dmons
            .get(iden)
            .map(|d| d.lock().runlog.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// `enableStormDmon(iden)`: enable and start a dmon; false if it does not exist or is
    /// enabled already.
    pub async fn enable_storm_dmon(self: &Arc<Self>, iden: &str) -> Result<bool> {
        self.set_dmon_enabled(iden, true).await
    }

    /// `disableStormDmon(iden)`: disable and stop a dmon; false if it does not exist or is
    /// disabled already.
    pub async fn disable_storm_dmon(self: &Arc<Self>, iden: &str) -> Result<bool> {
        self.set_dmon_enabled(iden, false).await
    }

    async fn set_dmon_enabled(self: &Arc<Self>, iden: &str, enabled: bool) -> Result<bool> {
        let _edit = self.dmons.edit.lock().await;
        let Some(dmon) = self.dmons.get(iden) else {
            return Ok(false);
        };
        let ddef = {
            let mut st = dmon.lock();
            if st.enabled == enabled {
                return Ok(false);
            }
            st.enabled = enabled;
            set(&mut st.ddef, "enabled", Value::Boolean(enabled));
            Value::Map(st.ddef.clone())
        };
        self.dmons.save(iden, &ddef).await?;
        if self.dmons.started.load(Ordering::SeqCst) {
            if enabled {
                self.run_dmon(&dmon);
            } else {
                stop_dmon(&dmon).await;
            }
        }
        Ok(true)
    }

    /// `bumpStormDmon(iden)`: restart an enabled dmon; false if it does not exist or is
    /// disabled.
    pub async fn bump_storm_dmon(self: &Arc<Self>, iden: &str) -> Result<bool> {
        let Some(dmon) = self.dmons.get(iden) else {
            return Ok(false);
        };
        if !dmon.lock().enabled {
            return Ok(false);
        }
        if self.dmons.started.load(Ordering::SeqCst) {
            stop_dmon(&dmon).await;
            if dmon.lock().enabled {
                self.run_dmon(&dmon);
            }
        }
        Ok(true)
    }

    /// Load the stored dmons (those whose user or query is no longer valid are skipped with
    /// a warning, as the reference) and start the enabled ones (none in safe-mode); bump a
    /// user's dmons when the user is locked or unlocked.
    pub(crate) fn start_dmons(self: &Arc<Self>) {
        let rows = std::mem::take(&mut *self.dmons.stored.lock().unwrap_or_else(poisoned));
        for (iden, ddef) in rows {
            if self.dmons.get(&iden).is_some() {
                continue;
            }
            match self.make_dmon(&iden, ddef) {
                Ok(dmon) => {
                    self.dmons
                        .dmons
                        .lock()
                        .unwrap_or_else(poisoned)
                        .insert(iden, dmon);
                }
                Err(err) => tracing::warn!(iden = %iden, cause = %err, "initStormDmon failed"),
            }
        }
        if self.cell().conf().get_bool("safemode") {
            // safe-mode: the definitions are there, nothing runs
            return;
        }
        self.dmons.started.store(true, Ordering::SeqCst);
        for dmon in self.dmons.all() {
            if dmon.lock().enabled {
                self.run_dmon(&dmon);
            }
        }
        let mut events = self.cell().auth().subscribe();
        let core = Arc::downgrade(self);
        let watch = async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                if let synapse_cell::AuthEvent::UserLocked { iden, .. } = event {
                    let Some(core) = core.upgrade() else { return };
                    core.bump_user_dmons(&iden).await;
                }
            }
        };
        if self.cell().base().spawn(watch).is_err() {
            tracing::warn!("the cortex is shutting down: storm dmons will not follow user locks");
        }
    }

    /// Bump every dmon of a user (`_bumpUserDmons`).
    async fn bump_user_dmons(self: &Arc<Self>, user: &str) {
        for dmon in self.dmons.all() {
            let mine = get(&dmon.lock().ddef, "user").and_then(Value::as_str) == Some(user);
            if mine && let Err(err) = self.bump_storm_dmon(&dmon.iden).await {
                tracing::warn!(iden = %dmon.iden, cause = %err, "cannot bump a storm dmon");
            }
        }
    }

    /// Stop every dmon (the Cortex is shutting down).
    pub(crate) async fn stop_dmons(&self) {
        self.dmons.started.store(false, Ordering::SeqCst);
        for dmon in self.dmons.all() {
            stop_dmon(&dmon).await;
        }
    }

    /// Start a dmon's loop as a Boss task (`storm:dmon`), unless it runs already.
    fn run_dmon(self: &Arc<Self>, dmon: &Arc<Dmon>) {
        let mut st = dmon.lock();
        if st.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        st.epoch += 1;
        let epoch = st.epoch;
        // The reference adds `$auto` to the dmon's own vars (it shows in the ddef).
        if let Some(Value::Map(sopts)) = st
            .ddef
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some("stormopts"))
            .map(|(_, v)| v)
        {
            let mut vars = match get(sopts, "vars") {
                Some(Value::Map(vars)) => vars.clone(),
                _ => Vec::new(),
            };
            if get(&vars, "auto").is_none() {
                vars.push((Value::from("auto"), auto_var(&dmon.iden)));
            }
            set(sopts, "vars", Value::Map(vars));
        }
        let useriden = get(&st.ddef, "user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let username = self
            .cell()
            .auth()
            .user(&useriden)
            .map_or_else(|| useriden.clone(), |u| u.name.clone());
        let opts = stormopts(&st.ddef);
        let name = get(&st.ddef, "name")
            .cloned()
            .unwrap_or_else(|| Value::from("storm dmon"));
        let info = Value::Map(vec![
            (Value::from("iden"), Value::from(dmon.iden.as_str())),
            (Value::from("name"), name),
            (
                Value::from("view"),
                get(&opts, "view").cloned().unwrap_or(Value::Nil),
            ),
        ]);
        let mut topts = TaskOpts::new("storm:dmon", &useriden, &username).info(info);
        topts.background = true;
        let fut = DMON_TASK.scope(
            dmon.iden.clone(),
            dmon_loop(Arc::downgrade(self), Arc::clone(dmon), epoch),
        );
        match self.cell().boss().spawn(topts, fut) {
            Ok((_, task)) => st.task = Some(task),
            Err(err) => {
                tracing::warn!(iden = %dmon.iden, cause = %err, "cannot start a storm dmon")
            }
        }
    }
}

/// The dmon's stormopts items (none for a null or absent `stormopts`).
fn stormopts(ddef: &[(Value, Value)]) -> Vec<(Value, Value)> {
    match get(ddef, "stormopts") {
        Some(Value::Map(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Stop a dmon's loop and wait for it to end (unless the dmon stops itself from its own
/// query: its task ends at its next await).
async fn stop_dmon(dmon: &Dmon) {
    let task = {
        let mut st = dmon.lock();
        st.epoch += 1;
        st.status = "stopped".to_owned();
        st.task.take()
    };
    let Some(task) = task else { return };
    task.cancel();
    let inside = DMON_TASK
        .try_with(|iden| *iden == dmon.iden)
        .unwrap_or(false);
    if !inside {
        task.join().await;
    }
}

/// Sets `stopped` when a loop is cancelled (e.g. by `ps.kill`) while still current.
struct CancelGuard {
    dmon: Arc<Dmon>,
    epoch: u64,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            self.dmon.report(self.epoch, "stopped".to_owned(), None);
        }
    }
}

/// Why a dmon's loop gave up.
enum Fatal {
    /// The loop ends with this status.
    Status(&'static str),
    /// The loop ends, its status unchanged (the reference's dmon task dies on this error).
    Crash(Error),
}

/// Run the dmon's query until it is stopped: a second between runs.
async fn dmon_loop(core: Weak<Cortex>, dmon: Arc<Dmon>, epoch: u64) {
    let mut guard = CancelGuard {
        dmon: Arc::clone(&dmon),
        epoch,
        armed: true,
    };
    loop {
        let Some(cortex) = core.upgrade() else { break };
        match run_once(&cortex, &dmon, epoch).await {
            Ok(()) => {}
            Err(Fatal::Status(status)) => {
                tracing::warn!(iden = %dmon.iden, "Stopping Dmon: {status}");
                dmon.report(epoch, status.to_owned(), None);
                break;
            }
            Err(Fatal::Crash(err)) => {
                tracing::warn!(iden = %dmon.iden, cause = %err, "Dmon task failed");
                break;
            }
        }
        drop(cortex);
        tokio::time::sleep(RESTART_DELAY).await;
    }
    guard.armed = false;
}

/// One run of the dmon's query.
async fn run_once(
    core: &Arc<Cortex>,
    dmon: &Arc<Dmon>,
    epoch: u64,
) -> std::result::Result<(), Fatal> {
    let (text, useriden, mut opts, count) = {
        let st = dmon.lock();
        let text = get(&st.ddef, "storm")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let user = get(&st.ddef, "user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        (text, user, stormopts(&st.ddef), Arc::clone(&st.count))
    };
    let Some(user) = core.cell().auth().user(&useriden) else {
        return Err(Fatal::Status("fatal error: invalid user"));
    };
    if user.locked == Some(true) {
        return Err(Fatal::Status("fatal error: user locked"));
    }
    let viewiden = get(&opts, "view")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let view = match core.view_for(viewiden.as_deref(), Some(&user)) {
        Ok(view) => view,
        Err(err) if err.name() == "NoSuchView" => {
            return Err(Fatal::Status("fatal error: invalid view"));
        }
        Err(err) => return Err(Fatal::Crash(err)),
    };
    if !matches!(get(&opts, "vars"), Some(Value::Map(_))) {
        set(&mut opts, "vars", Value::Map(Vec::new()));
    }
    if let Some(Value::Map(vars)) = opts
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some("vars"))
        .map(|(_, v)| v)
        && get(vars, "auto").is_none()
    {
        vars.push((Value::from("auto"), auto_var(&dmon.iden)));
    }
    set(&mut opts, "view", Value::from(view.iden()));
    set(&mut opts, "user", Value::from(user.iden.as_str()));
    dmon.report(epoch, "running".to_owned(), Some(false));
    let runtime = match core.req_storm() {
        Ok(runtime) => runtime,
        Err(err) => return Err(Fatal::Crash(err)),
    };
    let logger = Arc::clone(dmon);
    let sink: super::DmonSink = Arc::new(move |mesg: Value| {
        let kind = mesg
            .as_array()
            .and_then(|m| m.first())
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(kind @ ("print" | "warn")) = kind.as_deref() {
            let text = mesg
                .as_array()
                .and_then(|m| m.get(1))
                .and_then(|info| synapse_cell::map_get(info, "mesg"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            tracing::info!(iden = %logger.iden, "Dmon {kind} - {text}");
            logger.log(mesg);
        }
    });
    let call = StormCall {
        text,
        opts: Value::Map(opts),
        user,
    };
    match runtime.run_dmon(Arc::clone(core), call, sink, count).await {
        Ok(()) => {
            tracing::debug!(iden = %dmon.iden, "Dmon query exited");
            dmon.report(epoch, "sleeping".to_owned(), None);
        }
        Err(err) => {
            let (name, info) = err.to_remote();
            let mesg = Value::Array(vec![Value::from(name.as_str()), info.clone()]);
            let errmsg = super::agenda::exc_str(&mesg);
            tracing::warn!(iden = %dmon.iden, "Dmon error: {errmsg}");
            dmon.log(Value::Array(vec![
                Value::from("err"),
                Value::Map(vec![
                    (Value::from("err"), Value::from(name.as_str())),
                    (Value::from("errmsg"), Value::from(errmsg.as_str())),
                    (Value::from("errinfo"), info),
                ]),
            ]));
            dmon.report(epoch, format!("error: {errmsg}"), Some(true));
        }
    }
    Ok(())
}

fn auto_var(iden: &str) -> Value {
    Value::Map(vec![
        (Value::from("iden"), Value::from(iden)),
        (Value::from("type"), Value::from("dmon")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ddef(items: &[(&str, Value)]) -> Value {
        Value::Map(
            items
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect(),
        )
    }

    fn mesg(mut ddef: Value) -> String {
        validate_ddef(&mut ddef).unwrap_err().mesg().to_owned()
    }

    #[test]
    fn ddef_schema() {
        let iden = Value::from("a".repeat(32));
        let mut good = ddef(&[
            ("iden", iden.clone()),
            ("user", iden.clone()),
            ("storm", Value::from("")),
        ]);
        validate_ddef(&mut good).unwrap();
        assert_eq!(
            synapse_cell::map_get(&good, "enabled"),
            Some(&Value::Boolean(true))
        );
        assert_eq!(
            mesg(ddef(&[("storm", Value::from("x"))])),
            "data must contain ['iden', 'user'] properties"
        );
        assert_eq!(
            mesg(ddef(&[
                ("iden", iden.clone()),
                ("user", Value::from("nope")),
                ("storm", Value::from(""))
            ])),
            "data.user must match pattern ^[0-9a-f]{32}$"
        );
        assert_eq!(
            mesg(ddef(&[
                ("iden", iden.clone()),
                ("user", iden.clone()),
                ("storm", Value::from("")),
                ("foo", Value::from(1))
            ])),
            "data must not contain {'foo'} properties"
        );
        assert_eq!(
            mesg(ddef(&[
                ("iden", iden.clone()),
                ("user", iden.clone()),
                ("storm", Value::from("")),
                ("stormopts", Value::from(3))
            ])),
            "data.stormopts must be valid exactly by one definition (0 matches found)"
        );
        assert_eq!(mesg(Value::from(3)), "data must be object");
    }
}
