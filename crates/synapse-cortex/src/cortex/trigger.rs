//! Triggers: Storm queries a view runs when its data changes (the reference's
//! `synapse.lib.trigger`).
//!
//! A trigger belongs to one view and fires on one condition of the edits applied to that
//! view's write layer: `node:add` / `node:del` (a form), `prop:set` (a full property name, or
//! a universal property such as `.seen` for every form), `tag:add` / `tag:del` (a tag, `*`
//! matching one tag segment and `**` anything, optionally only on one form), `edge:add` /
//! `edge:del` (a verb glob, optionally the forms of both ends). Its query runs as the
//! trigger's user with the node as input and the variables of the reference (`$auto`, `$tag`,
//! `$propname`, `$propfull`). A sync trigger runs before the edit returns; an async one is
//! queued in `automation.lmdb` and run by a background task (also after a restart).
//! Definitions are persisted; each trigger has an auth gate (type `trigger`) whose admin is
//! its user.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock, Weak};

use futures::future::BoxFuture;
use indexmap::IndexMap;
use rmpv::Value;
use synapse_cell::{Error, Result, User};

use super::Cortex;
use super::autostore::{AutoStore, Table};
use crate::node::Node;
use crate::nodeedit::{Buid, EditMeta, EditOp, NodeEdit};
use crate::view::{self, EditHook, View};

/// The conditions a trigger may fire on.
pub const CONDITIONS: &[&str] = &[
    "node:add", "node:del", "tag:add", "tag:del", "prop:set", "edge:add", "edge:del",
];

/// The deepest nesting of triggers firing triggers (the reference's limit).
const MAX_DEPTH: usize = 64;

tokio::task_local! {
    static DEPTH: usize;
}

tokio::task_local! {
    static COLLECT: std::cell::RefCell<Vec<Vec<NodeEdit>>>;
}

/// Run `fut` (an editor's apply) and also return the edits the triggers it fired applied,
/// so the caller's nodes show them as the reference's shared nodes do.
pub(crate) async fn collect_trigger_edits<F: std::future::Future>(
    fut: F,
) -> (F::Output, Vec<Vec<NodeEdit>>) {
    COLLECT
        .scope(std::cell::RefCell::new(Vec::new()), async move {
            let out = fut.await;
            let extra = COLLECT.with(|c| c.take());
            (out, extra)
        })
        .await
}

/// Hand applied edits to the enclosing [`collect_trigger_edits`] (a trigger's query inside
/// the edit that fired it); nothing outside one.
pub(crate) fn publish_trigger_edits(batches: &[Vec<NodeEdit>]) {
    if batches.is_empty() {
        return;
    }
    let _ = COLLECT.try_with(|c| c.borrow_mut().extend(batches.iter().cloned()));
}

/// How many trigger runs enclose the current task's code.
fn depth() -> usize {
    DEPTH.try_with(|d| *d).unwrap_or(0)
}

/// A trigger definition: the reference's `tdef` dict, keys in insertion order.
pub type TrigDef = IndexMap<String, Value>;

fn get_str<'a>(tdef: &'a TrigDef, key: &str) -> Option<&'a str> {
    tdef.get(key).and_then(Value::as_str)
}

/// A tag glob (`*` one segment, `**` anything) or verb glob (`*` anything) as a regex.
fn glob_regex(glob: &str, tag: bool) -> Option<regex::Regex> {
    let mut out = String::from("^");
    let mut rest = glob;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("**") {
            out.push_str("(.+)");
            rest = after;
        } else if let Some(after) = rest.strip_prefix('*') {
            out.push_str(if tag { "([^.]+?)" } else { "(.+)" });
            rest = after;
        } else {
            let end = rest.find('*').unwrap_or(rest.len());
            out.push_str(&regex::escape(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out.push('$');
    regex::Regex::new(&out).ok()
}

/// What a trigger fires on (fixed for its life: only `storm`, `user`, `enabled`, `async`,
/// `name` and `doc` change).
#[derive(Debug)]
struct Matcher {
    cond: String,
    form: Option<String>,
    n2form: Option<String>,
    prop: Option<String>,
    /// Exact tag or verb.
    name: Option<String>,
    /// Tag or verb glob.
    glob: Option<regex::Regex>,
}

impl Matcher {
    fn new(tdef: &TrigDef) -> Matcher {
        let cond = get_str(tdef, "cond").unwrap_or_default().to_owned();
        let text = |k: &str| get_str(tdef, k).map(str::to_owned);
        let (name, istag) = match cond.as_str() {
            "tag:add" | "tag:del" => (text("tag"), true),
            "edge:add" | "edge:del" => (text("verb"), false),
            _ => (None, false),
        };
        let glob = name
            .as_deref()
            .filter(|n| n.contains('*'))
            .and_then(|n| glob_regex(n, istag));
        Matcher {
            form: text("form"),
            n2form: text("n2form"),
            prop: text("prop"),
            name: if glob.is_some() { None } else { name },
            glob,
            cond,
        }
    }

    fn name_matches(&self, name: &str) -> bool {
        match (&self.name, &self.glob) {
            (Some(want), _) => want == name,
            (None, Some(glob)) => glob.is_match(name),
            (None, None) => false,
        }
    }

    fn form_ok(want: &Option<String>, form: Option<&str>) -> bool {
        match want {
            None => true,
            Some(want) => form == Some(want.as_str()),
        }
    }
}

/// One loaded trigger.
pub(crate) struct Trig {
    pub(crate) iden: String,
    tdef: RwLock<TrigDef>,
    matcher: Matcher,
    stats: Mutex<Stats>,
}

#[derive(Default)]
struct Stats {
    startcount: u64,
    errcount: u64,
    lasterrs: VecDeque<String>,
    lockwarned: bool,
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

impl Trig {
    fn new(tdef: TrigDef) -> Trig {
        Trig {
            iden: get_str(&tdef, "iden").unwrap_or_default().to_owned(),
            matcher: Matcher::new(&tdef),
            tdef: RwLock::new(tdef),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// The definition.
    pub(crate) fn tdef(&self) -> TrigDef {
        self.tdef.read().unwrap_or_else(poisoned).clone()
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.tdef.read().unwrap_or_else(poisoned).get(key).cloned()
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Boolean(true)))
    }

    fn view(&self) -> String {
        self.get("view")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The definition with the run counters and the user's name (the reference's
    /// `Trigger.pack()`).
    pub(crate) fn pack(&self, core: &Cortex) -> Value {
        let mut tdef = self.tdef();
        let stats = self.stats.lock().unwrap_or_else(poisoned);
        tdef.insert("startcount".into(), Value::from(stats.startcount));
        tdef.insert("errcount".into(), Value::from(stats.errcount));
        tdef.insert(
            "lasterrs".into(),
            Value::Array(
                stats
                    .lasterrs
                    .iter()
                    .map(|e| Value::from(e.as_str()))
                    .collect(),
            ),
        );
        drop(stats);
        if let Some(user) = get_str(&tdef, "user").and_then(|u| core.cell().auth().user(u)) {
            tdef.insert("username".into(), Value::from(user.name.as_str()));
        }
        to_map(&tdef)
    }
}

/// A definition as a msgpack map.
pub(crate) fn to_map(tdef: &TrigDef) -> Value {
    Value::Map(
        tdef.iter()
            .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
            .collect(),
    )
}

/// A msgpack map as a definition.
pub(crate) fn from_map(valu: &Value) -> Result<TrigDef> {
    let Value::Map(items) = valu else {
        return Err(Error::bad_arg("A trigger definition must be a dict."));
    };
    let mut out = TrigDef::new();
    for (k, v) in items {
        let Some(k) = k.as_str() else {
            return Err(Error::bad_arg("Trigger definition keys must be strings."));
        };
        out.insert(k.to_owned(), v.clone());
    }
    Ok(out)
}

/// The triggers of every view, their storage and the async queue.
pub(crate) struct Triggers {
    store: Arc<AutoStore>,
    byview: RwLock<HashMap<String, Vec<Arc<Trig>>>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Triggers {
    /// Load the stored triggers (a bad one is logged and skipped, as the reference).
    pub(crate) async fn load(store: Arc<AutoStore>) -> Result<Triggers> {
        let mut byview: HashMap<String, Vec<Arc<Trig>>> = HashMap::new();
        let mut rows = Vec::new();
        for (iden, valu) in store.rows(Table::Triggers).await? {
            match from_map(&valu) {
                Ok(tdef) => rows.push(tdef),
                Err(err) => tracing::warn!(iden = %iden, cause = %err, "bad stored trigger"),
            }
        }
        // by iden, as the reference lists triggers loaded from storage
        for tdef in rows {
            let trig = Arc::new(Trig::new(tdef));
            byview.entry(trig.view()).or_default().push(trig);
        }
        Ok(Triggers {
            store,
            byview: RwLock::new(byview),
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    fn of_view(&self, view: &str) -> Vec<Arc<Trig>> {
        self.byview
            .read()
            .unwrap_or_else(poisoned)
            .get(view)
            .cloned()
            .unwrap_or_default()
    }

    fn find(&self, iden: &str) -> Option<Arc<Trig>> {
        self.byview
            .read()
            .unwrap_or_else(poisoned)
            .values()
            .flatten()
            .find(|t| t.iden == iden)
            .cloned()
    }
}

fn no_such_trig(iden: &str) -> Error {
    Error::named("NoSuchIden", format!("Trigger not found iden='{iden}'")).with("iden", iden)
}

fn bad_opt(mesg: &str) -> Error {
    Error::named("BadOptValu", mesg)
}

fn schema(name: &str, mesg: String) -> Error {
    Error::named("SchemaViolation", mesg).with("name", name)
}

const FORM_PAT: &str = r"^[a-z_][a-z0-9_]*(:[a-z0-9_]+)+$";
const PROP_PAT: &str = r"^(\.[a-z_][a-z0-9_]*([:.][a-z0-9_]+)*)|([a-z_][a-z0-9_]*(:[a-z0-9_]+)+([:.][a-z_ ][a-z0-9_]+)*)$";
const TAG_PAT: &str = r"^((\w+|\*|\*\*)\.)*(\w+|\*|\*\*)$";
const IDEN_PAT: &str = r"^[0-9a-f]{32}$";

static FORM_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(FORM_PAT).ok());
static PROP_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(PROP_PAT).ok());
static TAGMATCH_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^(([\w*]+)\.)*[\w*]+$").ok());
static TAGSCHEMA_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(TAG_PAT).ok());
static IDEN_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(IDEN_PAT).ok());

fn re_match(re: &std::sync::LazyLock<Option<regex::Regex>>, text: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(text))
}

/// The reference's `TrigSchema` checks and `Triggers.load()` checks, in that order.
fn validate(tdef: &TrigDef) -> Result<()> {
    for key in ["iden", "user", "storm", "enabled"] {
        if !tdef.contains_key(key) {
            return Err(schema(
                "data",
                format!("data must contain ['{key}'] properties"),
            ));
        }
    }
    let strs = [
        ("iden", Some(&IDEN_RE), IDEN_PAT),
        ("user", Some(&IDEN_RE), IDEN_PAT),
        ("view", Some(&IDEN_RE), IDEN_PAT),
        ("form", Some(&FORM_RE), FORM_PAT),
        ("n2form", Some(&FORM_RE), FORM_PAT),
        ("tag", Some(&TAGSCHEMA_RE), TAG_PAT),
        ("prop", Some(&PROP_RE), PROP_PAT),
        ("verb", None, ""),
        ("name", None, ""),
        ("doc", None, ""),
        ("storm", None, ""),
    ];
    for (key, re, pat) in strs {
        let Some(valu) = tdef.get(key) else { continue };
        let Some(text) = valu.as_str() else {
            return Err(schema(
                &format!("data.{key}"),
                format!("data.{key} must be string"),
            ));
        };
        if let Some(re) = re
            && !re_match(re, text)
        {
            return Err(schema(
                &format!("data.{key}"),
                format!("data.{key} must match pattern {pat}"),
            ));
        }
    }
    for key in ["async", "enabled"] {
        if let Some(valu) = tdef.get(key)
            && !valu.is_bool()
        {
            return Err(schema(
                &format!("data.{key}"),
                format!("data.{key} must be boolean"),
            ));
        }
    }
    let cond = tdef.get("cond").and_then(Value::as_str);
    if let Some(valu) = tdef.get("cond")
        && !cond.is_some_and(|c| CONDITIONS.contains(&c))
    {
        let _ = valu;
        return Err(schema(
            "data.cond",
            format!("data.cond must be one of ['{}']", CONDITIONS.join("', '")),
        ));
    }
    let need = match cond {
        Some("node:add" | "node:del") => Some("form"),
        Some("tag:add" | "tag:del") => Some("tag"),
        Some("prop:set") => Some("prop"),
        Some("edge:add" | "edge:del") => Some("verb"),
        _ => None,
    };
    if let Some(need) = need
        && !tdef.contains_key(need)
    {
        return Err(schema(
            "data",
            format!("data must contain ['{need}'] properties"),
        ));
    }
    // Triggers.load()
    let Some(cond) = cond else {
        return Err(Error::named("NoSuchCond", "None").with("name", Value::Nil));
    };
    let has = |k: &str| tdef.get(k).is_some_and(|v| !v.is_nil());
    if matches!(cond, "node:add" | "node:del") && has("tag") {
        return Err(bad_opt("tag must not be present for node:add or node:del"));
    }
    if matches!(cond, "tag:add" | "tag:del")
        && !get_str(tdef, "tag").is_some_and(|t| re_match(&TAGMATCH_RE, t))
    {
        return Err(Error::named("BadTag", "Invalid tag match"));
    }
    if has("prop") && cond != "prop:set" {
        return Err(bad_opt("prop parameter invalid"));
    }
    if cond == "prop:set" && (has("form") || has("tag")) {
        return Err(bad_opt("form and tag must not be present for prop:set"));
    }
    Ok(())
}

impl Cortex {
    /// Add a trigger to a view (the reference's `View.addTrigger`): defaults for `iden`,
    /// `created`, `user` (root), `async` and `enabled`; validated, persisted, with an auth gate
    /// whose admin is the trigger's user. Returns the packed trigger.
    pub async fn add_trigger(&self, view: &str, tdef: Value) -> Result<Value> {
        let mut tdef = from_map(&tdef)?;
        let view = self.views().view(view).ok_or_else(|| {
            Error::named("NoSuchView", format!("No such view iden={view}")).with("iden", view)
        })?;
        match tdef.get("iden") {
            None | Some(Value::Nil) => {
                tdef.insert("iden".into(), Value::from(crate::model::guid_random()));
            }
            Some(Value::String(iden)) => {
                if let Some(iden) = iden.as_str()
                    && self.triggers.find(iden).is_some()
                {
                    return Err(Error::named(
                        "DupIden",
                        "A trigger with this iden already exists",
                    ));
                }
            }
            Some(_) => {}
        }
        tdef.insert("view".into(), Value::from(view.iden()));
        tdef.retain(|_, v| !v.is_nil());
        let root = self.cell().auth().root_iden();
        tdef.entry("created".into())
            .or_insert_with(|| Value::from(synapse_base::now_ms()));
        tdef.entry("user".into())
            .or_insert_with(|| Value::from(root.as_str()));
        tdef.entry("async".into()).or_insert(Value::Boolean(false));
        tdef.entry("enabled".into()).or_insert(Value::Boolean(true));
        validate(&tdef)?;
        let iden = get_str(&tdef, "iden").unwrap_or_default().to_owned();
        let useriden = get_str(&tdef, "user").unwrap_or_default().to_owned();
        if self.cell().auth().gate(&iden).is_some() {
            return Err(Error::named(
                "DupIden",
                format!("An AuthGate already exists with iden: {iden}"),
            )
            .with("iden", iden.as_str()));
        }
        let user = self.user(&useriden)?;
        self.req_valid_query(get_str(&tdef, "storm").unwrap_or_default())?;
        self.triggers
            .store
            .put(Table::Triggers, &iden, &to_map(&tdef))
            .await?;
        let trig = Arc::new(Trig::new(tdef));
        self.triggers
            .byview
            .write()
            .unwrap_or_else(poisoned)
            .entry(view.iden())
            .or_default()
            .push(Arc::clone(&trig));
        let auth = self.cell().auth();
        auth.add_auth_gate(&iden, "trigger").await?;
        auth.set_user_admin(&user.iden, true, Some(&iden)).await?;
        Ok(trig.pack(self))
    }

    /// Parse a Storm query (`BadSyntax` if invalid).
    pub(crate) fn req_valid_query(&self, text: &str) -> Result<()> {
        crate::storm::runtime::validate(text, "storm").map_err(crate::storm::runtime::to_cell_error)
    }

    /// A trigger's packed definition and its view, by iden.
    pub fn get_trigger(&self, iden: &str) -> Option<Value> {
        self.triggers.find(iden).map(|t| t.pack(self))
    }

    /// The packed triggers of a view, oldest first.
    pub fn list_triggers(&self, view: &str) -> Vec<Value> {
        self.triggers
            .of_view(view)
            .iter()
            .map(|t| t.pack(self))
            .collect()
    }

    /// Delete a trigger and its auth gate (`NoSuchIden` if unknown).
    pub async fn del_trigger(&self, iden: &str) -> Result<()> {
        let trig = self.triggers.find(iden).ok_or_else(|| no_such_trig(iden))?;
        let view = trig.view();
        if let Some(trigs) = self
            .triggers
            .byview
            .write()
            .unwrap_or_else(poisoned)
            .get_mut(&view)
        {
            trigs.retain(|t| t.iden != iden);
        }
        self.triggers.store.delete(Table::Triggers, iden).await?;
        if self.cell().auth().gate(iden).is_some() {
            self.cell().auth().del_auth_gate(iden).await?;
        }
        Ok(())
    }

    /// Delete the triggers of a deleted view.
    pub(crate) async fn del_view_triggers(&self, view: &str) -> Result<()> {
        let idens: Vec<String> = self
            .triggers
            .of_view(view)
            .iter()
            .map(|t| t.iden.clone())
            .collect();
        for iden in idens {
            self.del_trigger(&iden).await?;
        }
        Ok(())
    }

    /// Change one of `enabled`, `user`, `storm`, `doc`, `name`, `async` of a trigger.
    pub async fn set_trigger_info(&self, iden: &str, name: &str, valu: Value) -> Result<()> {
        let trig = self.triggers.find(iden).ok_or_else(|| no_such_trig(iden))?;
        if !["enabled", "user", "storm", "doc", "name", "async"].contains(&name) {
            return Err(Error::bad_arg(format!("Invalid key name provided: {name}")));
        }
        if trig.get(name).as_ref() == Some(&valu) {
            return Ok(());
        }
        if name == "user" {
            self.user(valu.as_str().unwrap_or_default())?;
        }
        if name == "storm" {
            self.req_valid_query(valu.as_str().unwrap_or_default())?;
        }
        let tdef = {
            let mut tdef = trig.tdef.write().unwrap_or_else(poisoned);
            tdef.insert(name.to_owned(), valu);
            tdef.clone()
        };
        self.triggers
            .store
            .put(Table::Triggers, iden, &to_map(&tdef))
            .await
    }

    /// The number of async trigger runs waiting.
    pub async fn trigger_queue_size(&self) -> Result<usize> {
        self.triggers.store.queue_size().await
    }

    /// Make triggers fire: install the edit hook on the views and start the task running
    /// queued async triggers (in the cell's task set, cancelled at teardown).
    pub(crate) fn start_triggers(self: &Arc<Self>) {
        self.views().set_edit_hook(Arc::new(TrigHook {
            core: Arc::downgrade(self),
        }));
        let core = Arc::downgrade(self);
        let spawned = self.cell().base().spawn(async move {
            queue_loop(core).await;
        });
        if spawned.is_err() {
            tracing::warn!("the cortex is shutting down: async triggers will not run");
        }
    }
}

/// Run queued async triggers, oldest first, forever.
async fn queue_loop(core: Weak<Cortex>) {
    loop {
        let Some(cortex) = core.upgrade() else { return };
        let wake = Arc::clone(&cortex.triggers.wake);
        let notified = wake.notified();
        let items = match cortex.triggers.store.queue_items(100).await {
            Ok(items) => items,
            Err(err) => {
                tracing::warn!(cause = %err, "cannot read the trigger queue");
                Vec::new()
            }
        };
        if items.is_empty() {
            drop(cortex);
            notified.await;
            continue;
        }
        for (offs, item) in items {
            run_queued(&cortex, &item).await;
            if let Err(err) = cortex.triggers.store.queue_del(offs).await {
                tracing::warn!(cause = %err, "cannot pop the trigger queue");
                return;
            }
        }
    }
}

async fn run_queued(core: &Arc<Cortex>, item: &Value) {
    let get = |k: &str| crate::layer::map_get(item, k);
    let Some(trig) = get("trig")
        .and_then(Value::as_str)
        .and_then(|i| core.triggers.find(i))
    else {
        return;
    };
    let Some(view) = core.views().view(&trig.view()) else {
        return;
    };
    let buid = get("buid")
        .and_then(|v| match v {
            Value::Binary(b) => <[u8; 32]>::try_from(b.as_slice()).ok(),
            _ => None,
        })
        .unwrap_or([0u8; 32]);
    let node = match view.get_node(buid).await {
        Ok(Some(node)) => node,
        _ => return,
    };
    let vars = get("vars").cloned().unwrap_or(Value::Map(Vec::new()));
    if let Err(err) = execute(core, &trig, &view, node, vars).await {
        tracing::warn!(trigger = %trig.iden, cause = %err.mesg(), "async trigger failed");
    }
}

/// Run a trigger's query on a node, counting starts and errors. Only a recursion limit is an
/// error of the caller; the query's own errors are the trigger's.
async fn execute(
    core: &Arc<Cortex>,
    trig: &Trig,
    view: &View,
    node: Node,
    vars: Value,
) -> Result<()> {
    let Some(useriden) = trig.get("user").and_then(|u| u.as_str().map(str::to_owned)) else {
        return Ok(());
    };
    let Ok(user) = core.user(&useriden) else {
        return Ok(());
    };
    if user.locked == Some(true) {
        let mut stats = trig.stats.lock().unwrap_or_else(poisoned);
        if !stats.lockwarned {
            stats.lockwarned = true;
            tracing::warn!(user = %user.iden, "Skipping trigger execution because user is locked");
        }
        return Ok(());
    }
    let storm = trig
        .get("storm")
        .and_then(|s| s.as_str().map(str::to_owned))
        .unwrap_or_default();
    let vars = trig_vars(trig, &node, vars);
    trig.stats.lock().unwrap_or_else(poisoned).startcount += 1;
    let level = depth();
    let run = crate::storm::runtime::run_node_query(
        Arc::clone(core),
        user_clone(&user),
        view.clone(),
        storm,
        vars,
        node,
    );
    // A task of its own: a fresh stack for each level of triggers firing triggers. Its
    // edits come back to the edit that fired it (the caller's nodes show them).
    let mut guard = AbortOnDrop(tokio::spawn(
        DEPTH.scope(level + 1, collect_trigger_edits(run)),
    ));
    let joined = (&mut guard.0).await;
    let res = match joined {
        Ok((res, extra)) => {
            publish_trigger_edits(&extra);
            res
        }
        Err(_) => Err(Error::named("SynErr", "trigger task failed")),
    };
    match res {
        Ok(()) => Ok(()),
        Err(err) if err.name() == "RecursionLimitHit" => Err(err),
        Err(err) => {
            let mut stats = trig.stats.lock().unwrap_or_else(poisoned);
            stats.errcount += 1;
            stats.lasterrs.push_back(py_exc_str(&err));
            while stats.lasterrs.len() > 5 {
                stats.lasterrs.pop_front();
            }
            tracing::warn!(trigger = %trig.iden, cause = %err.mesg(), "trigger query failed");
            Ok(())
        }
    }
}

/// Aborts a task when dropped (the edit that fired a trigger was cancelled).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn user_clone(user: &User) -> User {
    user.clone()
}

/// `str()` of a reference exception: `ClassName: mesg='...'` style, as `lasterrs` shows it.
fn py_exc_str(err: &Error) -> String {
    let mut parts = Vec::new();
    let mut info: Vec<&(String, Value)> = err.info().iter().collect();
    info.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in info {
        parts.push(format!("{k}={}", crate::model::value::py_repr(v)));
    }
    if parts.is_empty() {
        parts.push(format!("mesg='{}'", err.mesg()));
    }
    format!("{}: {}", err.name(), parts.join(" "))
}

/// The variables of a run: the event's, with `$auto` completed (`iden`, `type`, and the
/// node's `form` and `valu` in `$auto.opts`).
fn trig_vars(trig: &Trig, node: &Node, vars: Value) -> Vec<(String, Value)> {
    let mut vars: Vec<(String, Value)> = match vars {
        Value::Map(items) => items
            .into_iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), v)))
            .collect(),
        _ => Vec::new(),
    };
    let pos = match vars.iter().position(|(k, _)| k == "auto") {
        Some(pos) => pos,
        None => {
            vars.push(("auto".into(), Value::Map(Vec::new())));
            vars.len() - 1
        }
    };
    let mut auto = match std::mem::replace(&mut vars[pos].1, Value::Nil) {
        Value::Map(items) => items,
        _ => Vec::new(),
    };
    set_key(&mut auto, "iden", Value::from(trig.iden.as_str()));
    set_key(&mut auto, "type", Value::from("trigger"));
    let idx = match auto.iter().position(|(k, _)| k.as_str() == Some("opts")) {
        Some(idx) => idx,
        None => {
            auto.push((Value::from("opts"), Value::Map(Vec::new())));
            auto.len() - 1
        }
    };
    if let Value::Map(opts) = &mut auto[idx].1 {
        set_key(opts, "form", Value::from(node.form.as_str()));
        set_key(opts, "valu", node.valu.clone());
    }
    vars[pos].1 = Value::Map(auto);
    vars
}

fn set_key(map: &mut Vec<(Value, Value)>, key: &str, valu: Value) {
    match map.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(slot) => slot.1 = valu,
        None => map.push((Value::from(key), valu)),
    }
}

fn vmap(items: Vec<(&str, Value)>) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The edit hook: fire the triggers of the view the edits were applied to.
struct TrigHook {
    core: Weak<Cortex>,
}

/// One event of an applied nodeedit.
struct Event {
    cond: &'static str,
    /// Tag, full prop name or verb.
    name: String,
    /// A universal prop's name (`.seen`) for `prop:set`.
    univ: Option<String>,
    n2: Option<Buid>,
    vars: Value,
}

fn events(ne: &NodeEdit, useriden: &str, model: &crate::model::Model, out: &mut Vec<Event>) {
    let user = || ("user", Value::from(useriden));
    for edit in &ne.edits {
        let ev = match &edit.op {
            EditOp::NodeAdd { .. } => Some(Event {
                cond: "node:add",
                name: String::new(),
                univ: None,
                n2: None,
                vars: vmap(vec![("auto", vmap(vec![("opts", vmap(vec![user()]))]))]),
            }),
            EditOp::NodeDel { .. } => Some(Event {
                cond: "node:del",
                name: String::new(),
                univ: None,
                n2: None,
                vars: vmap(vec![("auto", vmap(vec![("opts", vmap(vec![user()]))]))]),
            }),
            EditOp::PropSet { prop, .. } | EditOp::PropDel { prop, .. } => {
                let full = format!(
                    "{}{}{prop}",
                    ne.form,
                    if prop.starts_with('.') { "" } else { ":" }
                );
                let univ = prop
                    .starts_with('.')
                    .then(|| prop.clone())
                    .filter(|p| model.prop(p).is_some());
                Some(Event {
                    cond: "prop:set",
                    vars: vmap(vec![
                        ("propname", Value::from(prop.as_str())),
                        ("propfull", Value::from(full.as_str())),
                        (
                            "auto",
                            vmap(vec![(
                                "opts",
                                vmap(vec![
                                    ("propname", Value::from(prop.as_str())),
                                    ("propfull", Value::from(full.as_str())),
                                    user(),
                                ]),
                            )]),
                        ),
                    ]),
                    name: full,
                    univ,
                    n2: None,
                })
            }
            EditOp::TagSet { tag, .. } | EditOp::TagDel { tag, .. } => Some(Event {
                cond: if matches!(edit.op, EditOp::TagSet { .. }) {
                    "tag:add"
                } else {
                    "tag:del"
                },
                name: tag.clone(),
                univ: None,
                n2: None,
                vars: vmap(vec![
                    ("tag", Value::from(tag.as_str())),
                    (
                        "auto",
                        vmap(vec![(
                            "opts",
                            vmap(vec![("tag", Value::from(tag.as_str())), user()]),
                        )]),
                    ),
                ]),
            }),
            EditOp::EdgeAdd { verb, n2 } | EditOp::EdgeDel { verb, n2 } => Some(Event {
                cond: if matches!(edit.op, EditOp::EdgeAdd { .. }) {
                    "edge:add"
                } else {
                    "edge:del"
                },
                name: verb.clone(),
                univ: None,
                n2: Some(*n2),
                vars: Value::Nil,
            }),
            _ => None,
        };
        if let Some(ev) = ev {
            out.push(ev);
        }
        for nested in &edit.nested {
            events(nested, useriden, model, out);
        }
    }
}

impl EditHook for TrigHook {
    fn applied<'a>(
        &'a self,
        view: &'a View,
        edits: &'a [NodeEdit],
        meta: &'a EditMeta,
    ) -> BoxFuture<'a, std::result::Result<(), view::Error>> {
        Box::pin(async move {
            let Some(core) = self.core.upgrade() else {
                return Ok(());
            };
            let trigs = core.triggers.of_view(&view.iden());
            if trigs.is_empty() {
                return Ok(());
            }
            fire(&core, &trigs, view, edits, meta).await.map_err(|err| {
                let err = crate::storm::runtime::StormError::new(err.name(), err.mesg());
                view::Error::Denied(Box::new(err))
            })
        })
    }
}

/// The node a trigger gets: the node after the batch, or (deleted) its form and value.
async fn node_after(view: &View, ne: &NodeEdit, deleted: &Option<Value>) -> Option<Node> {
    if let Some(valu) = deleted {
        return Some(Node {
            buid: ne.buid,
            form: ne.form.clone(),
            valu: valu.clone(),
            props: Vec::new(),
            tags: Vec::new(),
            tagprops: Vec::new(),
            nodedata: Vec::new(),
            ndef_layer: 0,
        });
    }
    view.get_node(ne.buid).await.ok().flatten()
}

async fn fire(
    core: &Arc<Cortex>,
    trigs: &[Arc<Trig>],
    view: &View,
    edits: &[NodeEdit],
    meta: &EditMeta,
) -> Result<()> {
    if depth() > MAX_DEPTH {
        return Err(Error::named("RecursionLimitHit", "Hit trigger limit"));
    }
    let model = view.model();
    for ne in edits {
        let mut evs = Vec::new();
        events(ne, &meta.user, model, &mut evs);
        if evs.is_empty() {
            continue;
        }
        let deleted = ne.edits.iter().find_map(|e| match &e.op {
            EditOp::NodeDel { valu, .. } => Some(valu.clone()),
            _ => None,
        });
        let mut node: Option<Option<Node>> = None;
        for ev in evs {
            let mut n2form: Option<Option<String>> = None;
            for trig in trigs {
                let m = &trig.matcher;
                if m.cond != ev.cond {
                    continue;
                }
                let hit = match ev.cond {
                    "node:add" | "node:del" => Matcher::form_ok(&m.form, Some(&ne.form)),
                    "prop:set" => m
                        .prop
                        .as_deref()
                        .is_some_and(|p| p == ev.name || ev.univ.as_deref() == Some(p)),
                    "tag:add" | "tag:del" => {
                        Matcher::form_ok(&m.form, Some(&ne.form)) && m.name_matches(&ev.name)
                    }
                    _ => {
                        if !m.name_matches(&ev.name) || !Matcher::form_ok(&m.form, Some(&ne.form)) {
                            false
                        } else if m.n2form.is_some() {
                            if n2form.is_none() {
                                let form = match ev.n2 {
                                    Some(n2) => {
                                        view.get_node(n2).await.ok().flatten().map(|n| n.form)
                                    }
                                    None => None,
                                };
                                n2form = Some(form);
                            }
                            Matcher::form_ok(&m.n2form, n2form.clone().flatten().as_deref())
                        } else {
                            true
                        }
                    }
                };
                if !hit || !trig.flag("enabled") {
                    continue;
                }
                let vars = if ev.cond.starts_with("edge:") {
                    let n2iden = match ev.n2 {
                        Some(n2) if view.get_node(n2).await.ok().flatten().is_some() => {
                            Value::from(hex::encode(n2))
                        }
                        _ => Value::Nil,
                    };
                    vmap(vec![(
                        "auto",
                        vmap(vec![(
                            "opts",
                            vmap(vec![
                                ("verb", Value::from(ev.name.as_str())),
                                ("n2iden", n2iden),
                                ("user", Value::from(meta.user.as_str())),
                            ]),
                        )]),
                    )])
                } else {
                    ev.vars.clone()
                };
                if trig.flag("async") {
                    let item = vmap(vec![
                        ("buid", Value::Binary(ne.buid.to_vec())),
                        ("trig", Value::from(trig.iden.as_str())),
                        ("vars", vars),
                    ]);
                    core.triggers.store.queue_add(&item).await?;
                    core.triggers.wake.notify_one();
                    continue;
                }
                if node.is_none() {
                    node = Some(node_after(view, ne, &deleted).await);
                }
                let Some(Some(target)) = node.clone() else {
                    continue;
                };
                execute(core, trig, view, target, vars).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_globs() {
        let re = glob_regex("foo.*", true).unwrap();
        assert!(re.is_match("foo.bar"));
        assert!(!re.is_match("foo.bar.baz"));
        assert!(!re.is_match("foo"));
        let re = glob_regex("foo.**", true).unwrap();
        assert!(re.is_match("foo.bar.baz"));
        let re = glob_regex("*.b", true).unwrap();
        assert!(re.is_match("a.b"));
        assert!(!re.is_match("a.c.b"));
        let re = glob_regex("ref*", false).unwrap();
        assert!(re.is_match("refs"));
        assert!(!re.is_match("ref"));
        let re = glob_regex("a.b", true).unwrap();
        assert!(!re.is_match("axb"));
    }

    #[test]
    fn validation() {
        let mut tdef = TrigDef::new();
        for (k, v) in [
            ("iden", "a".repeat(32)),
            ("user", "b".repeat(32)),
            ("storm", "[+#x]".into()),
            ("cond", "node:add".into()),
            ("form", "inet:ipv4".into()),
        ] {
            tdef.insert(k.into(), Value::from(v));
        }
        tdef.insert("enabled".into(), Value::Boolean(true));
        assert!(validate(&tdef).is_ok());
        tdef.insert("tag".into(), Value::from("foo"));
        assert_eq!(validate(&tdef).unwrap_err().name(), "BadOptValu");
        tdef.shift_remove("tag");
        tdef.insert("cond".into(), Value::from("nope"));
        assert_eq!(validate(&tdef).unwrap_err().name(), "SchemaViolation");
        tdef.insert("cond".into(), Value::from("tag:add"));
        assert!(validate(&tdef).unwrap_err().mesg().contains("['tag']"));
        tdef.insert("tag".into(), Value::from("foo.*"));
        assert!(validate(&tdef).is_ok());
        tdef.insert("cond".into(), Value::from("prop:set"));
        tdef.shift_remove("tag");
        tdef.insert("prop".into(), Value::from("inet:ipv4:asn"));
        assert_eq!(validate(&tdef).unwrap_err().name(), "BadOptValu");
        tdef.shift_remove("form");
        assert!(validate(&tdef).is_ok());
    }
}
