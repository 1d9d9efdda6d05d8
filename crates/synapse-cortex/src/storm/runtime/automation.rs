//! Storm's side of the Cortex automation: `$lib.trigger`, `$lib.cron`, the `trigger` and
//! `cronjob` objects they return, the `trigger.*` and `cron.*` commands (with the output text
//! of the reference's Storm-defined commands) and [`run_node_query`], how a trigger runs its
//! query on a node.

use std::sync::Arc;

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;
use synapse_cell::User;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::{self, ItemStream};
use super::lib::arg;
use super::runt::{Item, Runt};
use super::value::{DictRef, Key, Obj, Val, lock, new_dict, new_list};
use super::{Parsed, StormOpts};
use crate::cortex::{Cortex, CronDef, CronUnit as Unit, ReqSpec};
use crate::node::Node;
use crate::view::View;

/// The command definitions of `trigger.*` and `cron.*` (made by
/// `tests/storm_rt/gen_autodefs.py`).
pub(crate) const CMDDEFS: &str = include_str!("automation_cmddefs.json");

/// Run a trigger's query as `user` in `view` with `node` as its input and `vars` set.
pub(crate) async fn run_node_query(
    core: Arc<Cortex>,
    user: User,
    view: View,
    text: String,
    vars: Vec<(String, Value)>,
    node: Node,
) -> synapse_cell::Result<()> {
    let suser = super::host::storm_user(&core, &user);
    let score = super::host::CortexEngine::core(&core);
    let opts = StormOpts {
        vars,
        view: Some(view.iden()),
        mode: "storm".into(),
        editformat: "none".into(),
        user: Some(user.iden.clone()),
        ..StormOpts::default()
    };
    let shared = super::new_shared(&score, &suser, &opts, view, None);
    let res = async {
        let parsed = super::parse(&text, "storm")?;
        let Parsed::Query(query) = &parsed else {
            return Ok(());
        };
        let vals: Vec<(String, Val)> = opts
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Val::from_msgpack(v)))
            .collect();
        let names: Vec<String> = vals.iter().map(|(k, _)| k.clone()).collect();
        let runt = exec::root_runtime(&shared, &text, vals, &parsed)?;
        let plan = exec::plan_query(&runt.text, query, names, Vec::new())?;
        let path = runt.init_path(&node);
        let input = exec::once(Item {
            node: Arc::new(node),
            path,
        });
        let mut stream = exec::run_pipeline(&runt, &plan.root, input);
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok::<(), Flow>(())
    }
    .await;
    match res {
        Ok(()) | Err(Flow::Exit) | Err(Flow::Return(_)) => Ok(()),
        Err(flow) => Err(super::host::to_cell_error(super::control_error(flow))),
    }
}

// ----- objects -----

/// What an automation object is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AutoKind {
    Trigger,
    Cron,
}

/// A `trigger` or `cronjob` object: its packed definition.
#[derive(Clone, Debug)]
pub(crate) struct AutoObj {
    kind: AutoKind,
    valu: DictRef,
}

impl AutoObj {
    pub(crate) fn val(kind: AutoKind, packed: &Value) -> Val {
        let valu = dict_of(packed);
        Val::Obj(Arc::new(Obj::Auto(AutoObj { kind, valu })))
    }

    pub(crate) fn to_msgpack(&self) -> RResult<Value> {
        Val::Dict(self.valu.clone()).to_msgpack()
    }

    pub(crate) fn typename(&self) -> &'static str {
        match self.kind {
            AutoKind::Trigger => "trigger",
            AutoKind::Cron => "cronjob",
        }
    }

    pub(crate) fn repr(&self) -> String {
        format!(
            "{}: {}",
            self.typename(),
            Val::Dict(self.valu.clone()).py_repr()
        )
    }

    fn get(&self, key: &str) -> Val {
        lock(&self.valu)
            .get(&Key::Str(Arc::from(key)))
            .cloned()
            .unwrap_or(Val::Null)
    }

    fn get_str(&self, key: &str) -> String {
        match self.get(key) {
            Val::Str(s) => s.to_string(),
            _ => String::new(),
        }
    }

    fn methods(&self) -> &'static [&'static str] {
        match self.kind {
            AutoKind::Trigger => &["set", "move", "pack"],
            AutoKind::Cron => &["set", "kill", "pack", "pprint"],
        }
    }
}

/// A packed definition as a dict; its arrays (`lasterrs`, `recs`) are lists as the
/// reference's are.
fn dict_of(packed: &Value) -> DictRef {
    let mut out = IndexMap::new();
    if let Value::Map(items) = packed {
        for (k, v) in items {
            let Some(k) = k.as_str() else { continue };
            let v = match v {
                Value::Array(items) => new_list(items.iter().map(Val::from_msgpack).collect()),
                other => Val::from_msgpack(other),
            };
            out.insert(Key::Str(Arc::from(k)), v);
        }
    }
    Arc::new(std::sync::Mutex::new(out))
}

/// `$trig.name`: a definition key, else a method.
pub(crate) fn deref(base: &Val, obj: &AutoObj, name: &str) -> RResult<Val> {
    if lock(&obj.valu).contains_key(&Key::Str(Arc::from(name))) {
        return Ok(obj.get(name));
    }
    if obj.methods().contains(&name) {
        return Ok(Val::Bound(Arc::new((base.clone(), Arc::from(name)))));
    }
    Ok(Val::Null)
}

fn cortex(runt: &Runt) -> RResult<Arc<Cortex>> {
    runt.shared
        .core
        .host
        .cortex()
        .ok_or_else(|| rterr("Triggers and cron jobs need a Cortex."))
}

fn cerr(err: synapse_cell::Error) -> Flow {
    Flow::Err(super::host::cell_error(err))
}

fn req_arg(
    args: &[Val],
    kwargs: &[(String, Val)],
    idx: usize,
    name: &str,
    func: &str,
) -> RResult<Val> {
    arg(args, kwargs, idx, name).ok_or_else(|| {
        Flow::Err(StormError::new(
            "StormRuntimeError",
            format!("{func}() missing required argument: '{name}'"),
        ))
    })
}

fn kwarg(kwargs: &[(String, Val)], name: &str) -> Option<Val> {
    kwargs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_null() && !matches!(v, Val::Undef))
}

/// The methods of `trigger` and `cronjob` objects.
pub(crate) async fn obj_method(
    runt: &Arc<Runt>,
    obj: &AutoObj,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let core = cortex(runt)?;
    let iden = obj.get_str("iden");
    match (obj.kind, name) {
        (_, "pack") => Ok(Val::Dict(dict_of(&obj.to_msgpack()?))),
        (AutoKind::Trigger, "set") => {
            let key = req_arg(args, kwargs, 0, "name", "set")?.to_str()?;
            let valu = req_arg(args, kwargs, 1, "valu", "set")?;
            let valu = match key.as_str() {
                "async" | "enabled" => Value::Boolean(valu.truthy()),
                "user" | "doc" | "name" | "storm" => Value::from(valu.to_str()?),
                _ => valu.to_msgpack()?,
            };
            if key == "user" {
                runt.confirm(&["trigger", "set", "user"], None)?;
            } else {
                runt.confirm(&["trigger", "set", &key], Some((&iden, "trigger")))?;
            }
            let view = obj.get_str("view");
            if core.views().view(&view).is_none() {
                return Err(Flow::Err(
                    StormError::new("NoSuchView", format!("No such view iden={view}"))
                        .with("iden", view.as_str()),
                ));
            }
            core.set_trigger_info(&iden, &key, valu.clone())
                .await
                .map_err(cerr)?;
            lock(&obj.valu).insert(Key::Str(Arc::from(key.as_str())), Val::from_msgpack(&valu));
            Ok(Val::Obj(Arc::new(Obj::Auto(obj.clone()))))
        }
        (AutoKind::Trigger, "move") => {
            let viewiden = req_arg(args, kwargs, 0, "viewiden", "move")?.to_str()?;
            if core.views().view(&viewiden).is_none() {
                return Err(Flow::Err(
                    StormError::new("NoSuchView", format!("No view with iden={viewiden}"))
                        .with("iden", viewiden.as_str()),
                ));
            }
            runt.confirm(&["view", "read"], Some((&viewiden, "view")))?;
            runt.confirm(&["trigger", "add"], Some((&viewiden, "view")))?;
            runt.confirm(&["trigger", "del"], Some((&iden, "trigger")))?;
            let mut tdef = crate::cortex::TrigDef::new();
            for (k, v) in lock(&obj.valu).iter() {
                if let Key::Str(k) = k
                    && !matches!(&**k, "startcount" | "errcount" | "lasterrs" | "username")
                {
                    tdef.insert(k.to_string(), v.to_msgpack()?);
                }
            }
            tdef.insert("view".into(), Value::from(viewiden.as_str()));
            tdef.insert("user".into(), Value::from(runt.shared.user.iden.as_str()));
            let text = tdef
                .get("storm")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Err(e) = super::validate(&text, "storm") {
                return Err(rterr(format!(
                    "Cannot move invalid trigger {iden}: {}",
                    e.mesg
                )));
            }
            core.del_trigger(&iden).await.map_err(cerr)?;
            let packed = core
                .add_trigger(&viewiden, crate::cortex::trigger_map(&tdef))
                .await
                .map_err(cerr)?;
            let items = lock(&dict_of(&packed)).clone();
            *lock(&obj.valu) = items;
            Ok(Val::Null)
        }
        (AutoKind::Cron, "set") => {
            let key = req_arg(args, kwargs, 0, "name", "set")?.to_str()?;
            let valu = req_arg(args, kwargs, 1, "valu", "set")?.to_msgpack()?;
            if key == "creator" {
                runt.confirm(&["cron", "set", "creator"], None)?;
            } else {
                runt.confirm(&["cron", "set", &key], Some((&iden, "cronjob")))?;
            }
            let packed = core.edit_cron_job(&iden, &key, valu).await.map_err(cerr)?;
            let items = lock(&dict_of(&packed)).clone();
            *lock(&obj.valu) = items;
            Ok(Val::Obj(Arc::new(Obj::Auto(obj.clone()))))
        }
        (AutoKind::Cron, "kill") => {
            runt.confirm(&["cron", "kill"], Some((&iden, "cronjob")))?;
            Ok(Val::Bool(core.kill_cron_task(&iden)))
        }
        (AutoKind::Cron, "pprint") => Ok(cron_pprint(runt, obj)),
        _ => Err(Flow::Err(
            StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
        )),
    }
}

fn fmt_ts(ts: &Val) -> String {
    let secs = match ts {
        Val::Float(f) => *f,
        Val::Int(i) => *i as f64,
        _ => return "Never".into(),
    };
    let tick = (secs * 1000.0).floor() as i64;
    let full = crate::model::time::repr(tick);
    // `YYYY/MM/DD HH:MM:SS.mmm` → `YYYY-MM-DDTHH:MM`
    let date = full.get(..10).unwrap_or_default().replace('/', "-");
    let hm = full.get(11..16).unwrap_or_default();
    format!("{date}T{hm}")
}

/// `$cron.pprint()`: the fields `cron.list` and `cron.stat` show.
fn cron_pprint(runt: &Runt, obj: &AutoObj) -> Val {
    let iden = obj.get_str("iden");
    let mut view = obj.get_str("view");
    if view.is_empty() {
        view = runt.shared.core.views().default_view().iden();
    }
    let short = |s: &str| format!("{}..", s.chars().take(8).collect::<String>());
    let or = |v: Val, d: &str| -> Val { if v.truthy() { v } else { Val::from(d) } };
    let yn = |v: Val, dflt: bool| {
        let on = if v.is_null() { dflt } else { v.truthy() };
        Val::from(if on { "Y" } else { "N" })
    };
    let result = obj.get("lastresult");
    let iserr = match &result {
        Val::Str(r) if !r.starts_with("finished successfully") => "X",
        _ => " ",
    };
    let mut recs = Vec::new();
    if let Some(items) = obj.get("recs").seq_items() {
        for rec in items {
            let parts = rec.seq_items().unwrap_or_default();
            let get = |i: usize| parts.get(i).cloned().unwrap_or(Val::Null);
            let mut d = IndexMap::new();
            d.insert(Key::Str(Arc::from("reqdict")), or(get(0), "<None>"));
            d.insert(Key::Str(Arc::from("incunit")), or(get(1), "<None>"));
            d.insert(Key::Str(Arc::from("incval")), or(get(2), "<None>"));
            recs.push(new_dict(d));
        }
    }
    let lasterrs = match obj.get("lasterrs") {
        Val::Null => new_list(Vec::new()),
        other => other,
    };
    let mut job: IndexMap<Key, Val> = IndexMap::new();
    let mut put = |k: &str, v: Val| {
        job.insert(Key::Str(Arc::from(k)), v);
    };
    put("iden", Val::from(iden.as_str()));
    put("idenshort", Val::from(short(&iden)));
    put("user", or(obj.get("username"), "<None>"));
    put("view", Val::from(view.as_str()));
    put("viewshort", Val::from(short(&view)));
    put("query", or(obj.get("query"), "<missing>"));
    put(
        "pool",
        match obj.get("pool") {
            Val::Null => Val::Bool(false),
            other => other,
        },
    );
    put("affinity", or(obj.get("affinity"), "(null)"));
    put("isrecur", yn(obj.get("recur"), false));
    put("isrunning", yn(obj.get("isrunning"), false));
    put("enabled", yn(obj.get("enabled"), true));
    put(
        "startcount",
        if obj.get("startcount").truthy() {
            obj.get("startcount")
        } else {
            Val::Int(0)
        },
    );
    put(
        "errcount",
        if obj.get("errcount").truthy() {
            obj.get("errcount")
        } else {
            Val::Int(0)
        },
    );
    put("laststart", Val::from(fmt_ts(&obj.get("laststarttime"))));
    put("lastend", Val::from(fmt_ts(&obj.get("lastfinishtime"))));
    put("lastresult", or(result, "<None>"));
    put("lasterrs", lasterrs);
    put("iserr", Val::from(iserr));
    put("recs", new_list(recs));
    new_dict(job)
}

// ----- $lib.trigger and $lib.cron -----

/// The functions of `$lib.trigger` / `$lib.cron`.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.trigger" => &["add", "del", "list", "get", "enable", "disable", "mod"],
        "lib.cron" => &[
            "at", "add", "del", "get", "mod", "list", "move", "enable", "disable",
        ],
        _ => &[],
    }
}

/// The trigger whose iden starts with `prefix` among the readable views (the reference's
/// `_matchIdens`).
fn match_trigger(runt: &Runt, core: &Cortex, prefix: &str) -> RResult<Value> {
    let mut found: Option<Value> = None;
    for view in core.views().views() {
        if !runt.allowed(&["view", "read"], Some(&view.iden())) {
            continue;
        }
        for trig in core.list_triggers(&view.iden()) {
            let iden = map_str(&trig, "iden");
            if !iden.starts_with(prefix) {
                continue;
            }
            if found.is_some() {
                return Err(Flow::Err(
                    StormError::new(
                        "StormRuntimeError",
                        "Provided iden matches more than one trigger.",
                    )
                    .with("iden", prefix),
                ));
            }
            if !runt.allowed(&["trigger", "get"], Some(&iden)) {
                continue;
            }
            found = Some(trig);
        }
    }
    found.ok_or_else(|| {
        Flow::Err(
            StormError::new(
                "StormRuntimeError",
                "Provided iden does not match any valid authorized triggers.",
            )
            .with("iden", prefix),
        )
    })
}

fn map_str(valu: &Value, key: &str) -> String {
    crate::layer::map_get(valu, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The cron job whose iden starts with `prefix` and that the user has `perm` on.
fn match_cron(runt: &Runt, core: &Cortex, prefix: &str, perm: &[&str]) -> RResult<Value> {
    let mut found: Option<Value> = None;
    for cron in core.list_cron_jobs() {
        let iden = map_str(&cron, "iden");
        if iden.starts_with(prefix) && runt.allowed(perm, Some(&iden)) {
            if found.is_some() {
                return Err(Flow::Err(
                    StormError::new(
                        "StormRuntimeError",
                        "Provided iden matches more than one cron job.",
                    )
                    .with("iden", prefix),
                ));
            }
            found = Some(cron);
        }
    }
    found.ok_or_else(|| {
        Flow::Err(
            StormError::new(
                "StormRuntimeError",
                "Provided iden does not match any valid authorized cron job.",
            )
            .with("iden", prefix),
        )
    })
}

/// Call a `$lib.trigger` / `$lib.cron` function.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let core = cortex(runt)?;
    let a = |i: usize, n: &str| arg(args, kwargs, i, n);
    let r = |i: usize, n: &str| req_arg(args, kwargs, i, n, name);
    match (path, name) {
        ("lib.trigger", "add") => {
            let tdef = r(0, "tdef")?;
            trigger_add(runt, &core, tdef).await
        }
        ("lib.trigger", "del") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let trig = match_trigger(runt, &core, &prefix)?;
            let iden = map_str(&trig, "iden");
            runt.confirm(&["trigger", "del"], Some((&iden, "trigger")))?;
            core.del_trigger(&iden).await.map_err(cerr)?;
            Ok(Val::from(iden))
        }
        ("lib.trigger", "mod") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let query = r(1, "query")?.to_str()?;
            let trig = match_trigger(runt, &core, &prefix)?;
            let iden = map_str(&trig, "iden");
            runt.confirm(&["trigger", "set", "storm"], Some((&iden, "trigger")))?;
            core.set_trigger_info(&iden, "storm", Value::from(query))
                .await
                .map_err(cerr)?;
            Ok(Val::from(iden))
        }
        ("lib.trigger", "enable") | ("lib.trigger", "disable") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let trig = match_trigger(runt, &core, &prefix)?;
            let iden = map_str(&trig, "iden");
            runt.confirm(&["trigger", "set", "enabled"], Some((&iden, "trigger")))?;
            core.set_trigger_info(&iden, "enabled", Value::Boolean(name == "enable"))
                .await
                .map_err(cerr)?;
            Ok(Val::from(iden))
        }
        ("lib.trigger", "list") => {
            let all = a(0, "all").is_some_and(|v| v.truthy());
            let views = if all {
                // the default view first, as the reference lists its views
                let default = core.views().default_view().iden();
                let mut views = core.views().views();
                views.sort_by_key(|v| v.iden() != default);
                views
            } else {
                vec![runt.view.clone()]
            };
            let mut out = Vec::new();
            for view in views {
                if !runt.allowed(&["view", "read"], Some(&view.iden())) {
                    continue;
                }
                for trig in core.list_triggers(&view.iden()) {
                    if runt.allowed(&["trigger", "get"], Some(&map_str(&trig, "iden"))) {
                        out.push(AutoObj::val(AutoKind::Trigger, &trig));
                    }
                }
            }
            Ok(new_list(out))
        }
        ("lib.trigger", "get") => {
            let iden = r(0, "iden")?.to_str()?;
            let trig = core.get_trigger(&iden).ok_or_else(|| {
                Flow::Err(
                    StormError::new("NoSuchIden", "Trigger not found").with("iden", iden.as_str()),
                )
            })?;
            runt.confirm(&["trigger", "get"], Some((&iden, "trigger")))?;
            Ok(AutoObj::val(AutoKind::Trigger, &trig))
        }
        ("lib.cron", "add") => cron_add(runt, &core, kwargs).await,
        ("lib.cron", "at") => cron_at(runt, &core, kwargs).await,
        ("lib.cron", "del") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let cron = match_cron(runt, &core, &prefix, &["cron", "del"])?;
            let iden = map_str(&cron, "iden");
            runt.confirm(&["cron", "del"], Some((&iden, "cronjob")))?;
            core.del_cron_job(&iden).await.map_err(cerr)?;
            Ok(Val::Null)
        }
        ("lib.cron", "get") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let cron = match_cron(runt, &core, &prefix, &["cron", "get"])?;
            Ok(AutoObj::val(AutoKind::Cron, &cron))
        }
        ("lib.cron", "list") => {
            runt.confirm(&["cron", "get"], None)?;
            Ok(new_list(
                core.list_cron_jobs()
                    .iter()
                    .map(|c| AutoObj::val(AutoKind::Cron, c))
                    .collect(),
            ))
        }
        ("lib.cron", "mod") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let query = match a(1, "query") {
                None | Some(Val::Null) => None,
                Some(q) => Some(q.to_str()?),
            };
            let cron = match_cron(runt, &core, &prefix, &["cron", "set"])?;
            let iden = map_str(&cron, "iden");
            let sched = match kwarg(kwargs, "period") {
                Some(p) => Some(
                    parse_period(&p.to_str()?)
                        .map_err(|e| rterr(format!("Failed to parse period: {}", e.mesg)))?,
                ),
                None => None,
            };
            runt.confirm(&["cron", "set"], Some((&iden, "cronjob")))?;
            if query.is_some() || sched.is_some() {
                core.update_cron_job(&iden, query, sched)
                    .await
                    .map_err(cerr)?;
            }
            Ok(Val::from(iden))
        }
        ("lib.cron", "move") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let view = r(1, "view")?.to_str()?;
            let cron = match_cron(runt, &core, &prefix, &["cron", "set"])?;
            let iden = map_str(&cron, "iden");
            runt.confirm(&["cron", "set"], Some((&iden, "cronjob")))?;
            let out = core
                .move_cron_job(&runt.shared.user.iden, &iden, &view)
                .await
                .map_err(cerr)?;
            Ok(Val::from(out))
        }
        ("lib.cron", "enable") | ("lib.cron", "disable") => {
            let prefix = r(0, "prefix")?.to_str()?;
            let cron = match_cron(runt, &core, &prefix, &["cron", "set"])?;
            let iden = map_str(&cron, "iden");
            core.set_cron_enabled(&iden, name == "enable")
                .await
                .map_err(cerr)?;
            Ok(Val::from(iden))
        }
        _ => Err(Flow::Err(
            StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
        )),
    }
}

async fn trigger_add(runt: &Arc<Runt>, core: &Arc<Cortex>, tdef: Val) -> RResult<Val> {
    let prim = tdef.to_msgpack()?;
    let Value::Map(items) = prim else {
        return Err(rterr("Trigger definitions must be a dict."));
    };
    let mut tdef: IndexMap<String, Value> = IndexMap::new();
    for (k, v) in items {
        if let Some(k) = k.as_str()
            && !v.is_nil()
        {
            tdef.insert(k.to_owned(), v);
        }
    }
    let useriden = runt.shared.user.iden.clone();
    tdef.insert("user".into(), Value::from(useriden.as_str()));
    let viewiden = match tdef.shift_remove("view") {
        Some(Value::String(v)) => v.as_str().unwrap_or_default().to_owned(),
        _ => runt.view.iden(),
    };
    tdef.insert("view".into(), Value::from(viewiden.as_str()));
    if let Some(query) = tdef.shift_remove("query") {
        runt.shared
            .warn(
                "$lib.trigger.add() called with query argument, this is deprecated. Use storm instead.",
                Vec::new(),
            )
            .await;
        tdef.insert("storm".into(), query);
    }
    if let Some(cond) = tdef.shift_remove("condition") {
        tdef.insert("cond".into(), cond);
    }
    if let Some(tag) = tdef.shift_remove("tag") {
        let tag = match tag.as_str() {
            Some(t) => Value::from(t.strip_prefix('#').unwrap_or(t)),
            None => tag,
        };
        tdef.insert("tag".into(), tag);
    }
    for key in ["form", "prop", "verb", "n2form"] {
        if let Some(v) = tdef.shift_remove(key) {
            tdef.insert(key.into(), v);
        }
    }
    runt.confirm(&["trigger", "add"], Some((&viewiden, "view")))?;
    let packed = core
        .add_trigger(&viewiden, crate::cortex::trigger_map(&tdef))
        .await
        .map_err(cerr)?;
    Ok(AutoObj::val(AutoKind::Trigger, &packed))
}

// ----- cron schedule arguments -----

fn bad_time(mesg: impl Into<String>) -> StormError {
    StormError::new("BadTime", mesg)
}

fn bad_conf(mesg: impl Into<String>) -> StormError {
    StormError::new("BadConfValu", mesg)
}

const DAY_ABBR: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAY_NAME: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTH_ABBR: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTH_NAME: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn title(text: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in text.chars() {
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

fn parse_weekday(text: &str) -> Option<i64> {
    let t = title(text);
    DAY_ABBR
        .iter()
        .position(|d| *d == t)
        .or_else(|| DAY_NAME.iter().position(|d| *d == t))
        .map(|p| p as i64)
}

/// Python's `int()` of a string: surrounding spaces, a sign and `_` separators allowed.
fn py_int(text: &str) -> Option<i64> {
    crate::model::value::py_int0(text)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .filter(|_| !text.trim().is_empty())
}

fn parse_incval(text: &str) -> Option<Vec<i64>> {
    text.split(',').map(py_int).collect()
}

fn parse_req(unit: &str, text: &str) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    for val in text.split(',') {
        if unit == "month" {
            if text.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                out.push(py_int(text)?);
            } else {
                let t = title(val);
                let pos = MONTH_ABBR
                    .iter()
                    .position(|m| *m == t)
                    .or_else(|| MONTH_NAME.iter().position(|m| *m == t))?;
                out.push(pos as i64 + 1);
            }
        } else {
            out.push(py_int(val)?);
        }
    }
    Some(out)
}

/// A `--day` value: `(unit, values)` (`dayofmonth`, `day` with `+`, or `dayofweek`).
fn parse_day(text: &str) -> Option<(&'static str, Vec<i64>)> {
    let (isreq, text) = match text.strip_prefix('+') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let mut unit: Option<&'static str> = None;
    let mut out = Vec::new();
    for val in text.split(',') {
        let last = val.chars().last()?;
        let newunit = if last.is_ascii_digit() {
            if isreq { "dayofmonth" } else { "day" }
        } else {
            "dayofweek"
        };
        if unit.is_some_and(|u| u != newunit) {
            return None;
        }
        unit = Some(newunit);
        if newunit == "dayofweek" {
            out.push(parse_weekday(val)?);
        } else {
            out.push(py_int(val)?);
        }
    }
    if out.is_empty() {
        return None;
    }
    unit.map(|u| (u, out))
}

fn strptime_hm(text: &str) -> Option<(i64, i64)> {
    let (h, m) = text.split_once(':')?;
    let ok = |s: &str| !s.is_empty() && s.len() <= 2 && s.chars().all(|c| c.is_ascii_digit());
    if !ok(h) || !ok(m) {
        return None;
    }
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    (h <= 23 && m <= 59).then_some((h, m))
}

/// The `..ly` shorthands as the explicit options.
fn parse_alias(kw: &[(String, Val)]) -> Result<Option<Vec<(&'static str, String)>>, String> {
    let get = |n: &str| kwarg(kw, n).map(|v| v.to_str().unwrap_or_default());
    if let Some(hourly) = get("hourly") {
        let minute = py_int(&hourly)
            .ok_or_else(|| format!("invalid literal for int() with base 10: '{hourly}'"))?;
        return Ok(Some(vec![
            ("hour", "+1".into()),
            ("minute", minute.to_string()),
        ]));
    }
    if let Some(daily) = get("daily") {
        let (h, m) = strptime_hm(&daily)
            .ok_or_else(|| format!("time data '{daily}' does not match format '%H:%M'"))?;
        return Ok(Some(vec![
            ("day", "+1".into()),
            ("hour", h.to_string()),
            ("minute", m.to_string()),
        ]));
    }
    if let Some(monthly) = get("monthly") {
        let (day, rest) = monthly
            .split_once(':')
            .ok_or_else(|| "not enough values to unpack (expected 2, got 1)".to_owned())?;
        let (h, m) = strptime_hm(rest)
            .ok_or_else(|| format!("time data '{rest}' does not match format '%H:%M'"))?;
        return Ok(Some(vec![
            ("month", "+1".into()),
            ("day", day.to_owned()),
            ("hour", h.to_string()),
            ("minute", m.to_string()),
        ]));
    }
    if let Some(yearly) = get("yearly") {
        let fields: Vec<&str> = yearly.split(':').collect();
        if fields.len() != 4 {
            return Err(format!("Failed to parse parameter {yearly}"));
        }
        return Ok(Some(vec![
            ("year", "+1".into()),
            ("month", fields[0].to_owned()),
            ("day", fields[1].to_owned()),
            ("hour", fields[2].to_owned()),
            ("minute", fields[3].to_owned()),
        ]));
    }
    Ok(None)
}

fn unit_of(name: &str) -> Unit {
    Unit::from_name(name).unwrap_or(Unit::Minute)
}

/// The legacy `--minute/--hour/--day/--month/--year` options (or a shorthand) as a
/// schedule; errors are the reference's `StormRuntimeError` messages.
fn legacy_schedule(kw: &[(String, Val)]) -> Result<(ReqSpec, Unit, Vec<i64>), String> {
    let alias = parse_alias(kw).map_err(|e| format!("Failed to parse ..ly parameter: {e}"))?;
    let opts: Vec<(&'static str, Option<String>)> = match alias {
        Some(alias) => {
            if ["year", "month", "day", "hour", "minute"]
                .iter()
                .any(|n| kwarg(kw, n).is_some_and(|v| v.truthy()))
            {
                return Err(
                    "May not use both alias (..ly) and explicit options at the same time".into(),
                );
            }
            ["year", "month", "day", "hour", "minute"]
                .iter()
                .map(|n| {
                    (
                        *n,
                        alias.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
                    )
                })
                .collect()
        }
        None => ["year", "month", "day", "hour", "minute"]
            .iter()
            .map(|n| (*n, kwarg(kw, n).map(|v| v.to_str().unwrap_or_default())))
            .collect(),
    };
    let mut incunit: Option<&'static str> = None;
    let mut incval: Vec<i64> = Vec::new();
    let mut reqdict: ReqSpec = Vec::new();
    let minval = |n: &str| {
        if matches!(n, "month" | "dayofmonth") {
            1
        } else {
            0
        }
    };
    for (optname, optval) in opts {
        let Some(optval) = optval else {
            if incunit.is_none() && reqdict.is_empty() {
                continue;
            }
            if optname == "day" {
                reqdict.push((Unit::DayOfMonth, vec![1]));
            } else {
                reqdict.push((unit_of(optname), vec![minval(optname)]));
            }
            continue;
        };
        let isreq = !optval.starts_with('+');
        if optname == "day" {
            let Some((unit, vals)) = parse_day(&optval) else {
                return Err(format!("Failed to parse day value \"{optval}\""));
            };
            match unit {
                "dayofweek" => {
                    if incunit.is_some() {
                        return Err("May not provide a recurrence value with day of week".into());
                    }
                    if !reqdict.is_empty() {
                        return Err("May not fix month or year with day of week".into());
                    }
                    incunit = Some(unit);
                    incval = vals;
                }
                "day" => {
                    incunit = Some(unit);
                    incval = vals;
                }
                _ => reqdict.push((Unit::DayOfMonth, vals)),
            }
            continue;
        }
        if !isreq {
            if incunit.is_some() {
                return Err("May not provide more than 1 recurrence parameter".into());
            }
            if !reqdict.is_empty() {
                return Err("Fixed unit may not be larger than recurrence unit".into());
            }
            incunit = Some(optname);
            incval = parse_incval(&optval[1..]).ok_or("Failed to parse parameter")?;
            continue;
        }
        if optname == "year" {
            return Err("Year may not be a fixed value".into());
        }
        let vals = parse_req(optname, &optval)
            .ok_or_else(|| format!("Failed to parse fixed parameter \"{optval}\""))?;
        reqdict.push((unit_of(optname), vals));
    }
    let incunit = match incunit {
        Some(u) => unit_of(u),
        None => {
            let Some((first, _)) = reqdict.first() else {
                return Err("Must provide at least one optional argument".into());
            };
            incval = vec![1];
            match first {
                Unit::Month => Unit::Year,
                Unit::DayOfMonth => Unit::Month,
                Unit::Hour => Unit::Day,
                _ => Unit::Hour,
            }
        }
    };
    Ok((reqdict, incunit, incval))
}

fn time_part(text: &str) -> Result<ReqSpec, StormError> {
    let mut reqs: ReqSpec = Vec::new();
    match text.split_once(':') {
        Some((h, m)) => {
            if !h.is_empty() {
                let hv = py_int(h).ok_or_else(|| bad_time(format!("Invalid hour value: {h}")))?;
                reqs.push((Unit::Hour, vec![hv]));
            }
            if !m.is_empty() {
                let vals = parse_incval(m)
                    .ok_or_else(|| bad_time(format!("Invalid minute value: {m}")))?;
                reqs.push((Unit::Minute, vals));
            }
        }
        None => {
            let hv = py_int(text).ok_or_else(|| bad_time(format!("Invalid hour value: {text}")))?;
            reqs.push((Unit::Hour, vec![hv]));
        }
    }
    Ok(reqs)
}

fn set_req(reqs: &mut ReqSpec, unit: Unit, vals: Vec<i64>) {
    match reqs.iter_mut().find(|(u, _)| *u == unit) {
        Some(slot) => slot.1 = vals,
        None => reqs.push((unit, vals)),
    }
}

fn validate_fields(reqs: &ReqSpec) -> Result<(), StormError> {
    for (unit, name, lo, hi) in [
        (Unit::Hour, "hour", 0, 23),
        (Unit::Minute, "minute", 0, 59),
        (Unit::DayOfMonth, "day of month", -31, 31),
        (Unit::Month, "month", 1, 12),
    ] {
        if let Some((_, vals)) = reqs.iter().find(|(u, _)| *u == unit) {
            for v in vals {
                if !(lo..=hi).contains(v) {
                    return Err(bad_conf(format!(
                        "Invalid {name} value: {v} (must be {lo}-{hi})"
                    )));
                }
            }
        }
    }
    Ok(())
}

type Sched = (Vec<ReqSpec>, Option<Unit>, Vec<i64>);

fn yearly_base() -> ReqSpec {
    vec![
        (Unit::Month, vec![1]),
        (Unit::DayOfMonth, vec![1]),
        (Unit::Hour, vec![0]),
        (Unit::Minute, vec![0]),
    ]
}

/// A `--period` text (`hourly@:15`, `daily/2@10:00`, `weekly/mon,fri@9:30`, `monthly/1,15`,
/// `minutely/5`, `yearly/6-1@12:00`) as a schedule.
pub(crate) fn parse_period(text: &str) -> Result<Sched, StormError> {
    let (base, timepart) = match text.split_once('@') {
        Some((b, t)) => (b, Some(t)),
        None => (text, None),
    };
    let (period, vals) = match base.split_once('/') {
        Some((p, v)) => (p, Some(v)),
        None => (base, None),
    };
    let period = period.to_lowercase();
    if period == "yearly" {
        if let Some((_, vals)) = text.split_once('/') {
            let mut all = Vec::new();
            for dtstr in vals.split(',') {
                let mut req = yearly_base();
                let (dm, tstr) = match dtstr.split_once('@') {
                    Some((d, t)) => (d, Some(t)),
                    None => (dtstr, None),
                };
                if let Some(t) = tstr {
                    for (u, v) in time_part(t)? {
                        set_req(&mut req, u, v);
                    }
                }
                let bad = || {
                    bad_time(format!(
                        "Invalid month-day value for yearly period: {dtstr}"
                    ))
                };
                let (m, d) = dm.split_once('-').ok_or_else(bad)?;
                set_req(&mut req, Unit::Month, vec![py_int(m).ok_or_else(bad)?]);
                set_req(&mut req, Unit::DayOfMonth, vec![py_int(d).ok_or_else(bad)?]);
                validate_fields(&req)?;
                all.push(req);
            }
            return Ok((all, Some(Unit::Year), vec![1]));
        }
        let mut req = yearly_base();
        if let Some(t) = timepart {
            for (u, v) in time_part(t)? {
                set_req(&mut req, u, v);
            }
            validate_fields(&req)?;
        }
        return Ok((vec![req], Some(Unit::Year), vec![1]));
    }
    if period == "minutely" && timepart.is_some() {
        return Err(bad_conf("Minutely period does not support a time of day"));
    }
    let mut reqs: ReqSpec = match timepart {
        Some(t) if !t.is_empty() => time_part(t)?,
        _ => Vec::new(),
    };
    let setdefault = |reqs: &mut ReqSpec, unit: Unit, v: i64| {
        if !reqs.iter().any(|(u, _)| *u == unit) {
            reqs.push((unit, vec![v]));
        }
    };
    let incs = |what: &str| -> Result<Vec<i64>, StormError> {
        match vals {
            Some(v) if !v.is_empty() => parse_incval(v)
                .ok_or_else(|| bad_time(format!("Invalid increment value for {what} period: {v}"))),
            _ => Ok(vec![1]),
        }
    };
    let (incunit, incvals) = match period.as_str() {
        "hourly" => {
            if timepart.is_none() {
                return Err(bad_time("Hourly period requires explicit minute"));
            }
            setdefault(&mut reqs, Unit::Minute, 0);
            let incvals = incs("hourly")?;
            if let Some(pos) = reqs.iter().position(|(u, _)| *u == Unit::Hour) {
                if reqs[pos].1 == vec![0] {
                    reqs.remove(pos);
                } else {
                    return Err(bad_conf("Cannot specify hour for hourly period"));
                }
            }
            (Unit::Hour, incvals)
        }
        "daily" => {
            setdefault(&mut reqs, Unit::Hour, 0);
            setdefault(&mut reqs, Unit::Minute, 0);
            (Unit::Day, incs("daily")?)
        }
        "weekly" => {
            setdefault(&mut reqs, Unit::Hour, 0);
            setdefault(&mut reqs, Unit::Minute, 0);
            let days = match vals {
                Some(v) if !v.is_empty() => {
                    let mut days = Vec::new();
                    for d in v.split(',') {
                        days.push(
                            parse_weekday(d)
                                .ok_or_else(|| bad_conf(format!("Invalid weekday: {d}")))?,
                        );
                    }
                    days
                }
                _ => vec![0],
            };
            (Unit::DayOfWeek, days)
        }
        "monthly" => {
            setdefault(&mut reqs, Unit::Hour, 0);
            setdefault(&mut reqs, Unit::Minute, 0);
            let days = match vals {
                Some(v) if !v.is_empty() => parse_incval(v).ok_or_else(|| {
                    bad_time(format!("Invalid day of month value in monthly period: {v}"))
                })?,
                _ => vec![1],
            };
            set_req(&mut reqs, Unit::DayOfMonth, days);
            (Unit::Month, vec![1])
        }
        "minutely" => (Unit::Minute, incs("minutely")?),
        other => return Err(bad_conf(format!("Unknown period: {other}"))),
    };
    validate_fields(&reqs)?;
    Ok((vec![reqs], Some(incunit), incvals))
}

fn kw_str(kw: &[(String, Val)], name: &str) -> RResult<Option<String>> {
    match kwarg(kw, name) {
        Some(v) => Ok(Some(v.to_str()?)),
        None => Ok(None),
    }
}

async fn cron_add(runt: &Arc<Runt>, core: &Arc<Cortex>, kw: &[(String, Val)]) -> RResult<Val> {
    let pool = kwarg(kw, "pool").is_some_and(|v| v.truthy());
    let affinity = kw_str(kw, "affinity")?;
    if affinity.is_some() && pool {
        return Err(Flow::Err(bad_conf(
            "Cron jobs may not have both affinity and pool set.",
        )));
    }
    let Some(query) = kw_str(kw, "query")? else {
        return Err(rterr("Query parameter is required."));
    };
    let loglevel = kw_str(kw, "loglevel")?.unwrap_or_else(|| "WARNING".into());
    let sched = match kw_str(kw, "period")?.filter(|p| !p.is_empty()) {
        None => {
            let (reqs, incunit, incvals) = legacy_schedule(kw).map_err(rterr)?;
            (vec![reqs], Some(incunit), incvals)
        }
        Some(period) => {
            if [
                "year", "month", "day", "hour", "minute", "hourly", "daily", "monthly", "yearly",
            ]
            .iter()
            .any(|k| kwarg(kw, k).is_some_and(|v| v.truthy()))
            {
                return Err(rterr("Cannot mix --period with legacy time arguments"));
            }
            parse_period(&period)
                .map_err(|e| rterr(format!("Failed to parse period: {}", e.mesg)))?
        }
    };
    let view = kw_str(kw, "view")?
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| runt.view.iden());
    runt.confirm(&["cron", "add"], Some((&view, "view")))?;
    let def = CronDef {
        iden: kw_str(kw, "iden")?.filter(|i| !i.is_empty()),
        storm: query,
        reqs: sched.0,
        incunit: sched.1,
        incvals: sched.2,
        creator: runt.shared.user.iden.clone(),
        view: Some(view),
        pool,
        affinity,
        loglevel,
        doc: String::new(),
    };
    let packed = core.add_cron_job(def).await.map_err(cerr)?;
    Ok(AutoObj::val(AutoKind::Cron, &packed))
}

async fn cron_at(runt: &Arc<Runt>, core: &Arc<Cortex>, kw: &[(String, Val)]) -> RResult<Val> {
    let now = synapse_base::now_ms();
    let Some(query) = kw_str(kw, "query")? else {
        return Err(rterr("Query parameter is required."));
    };
    let loglevel = kw_str(kw, "loglevel")?.unwrap_or_else(|| "WARNING".into());
    let affinity = kw_str(kw, "affinity")?;
    let mut ticks: Vec<i64> = Vec::new();
    for optname in ["day", "hour", "minute"] {
        let Some(opts) = kw_str(kw, optname)?.filter(|o| !o.is_empty()) else {
            continue;
        };
        for optval in opts.split(',') {
            let text = format!("{optval} {optname}");
            let delta = crate::model::time::delta(&text)
                .map_err(|_| rterr(format!("Trouble parsing \"{text}\"")))?;
            ticks.push(now + delta);
        }
    }
    if let Some(dts) = kw_str(kw, "dt")?.filter(|d| !d.is_empty()) {
        for dt in dts.split(',') {
            let tick = crate::model::time::parse(dt, None, false)
                .map_err(|_| rterr(format!("Trouble parsing \"{dt}\"")))?;
            ticks.push(tick);
        }
    }
    let atnow = kwarg(kw, "now").is_some_and(|v| v.truthy());
    if ticks.is_empty() && !atnow {
        return Err(rterr("At least one requirement must be provided"));
    }
    let mut reqs: Vec<ReqSpec> = ticks
        .iter()
        .map(|tick| {
            let dt = crate::cortex::cron_fields(*tick as f64 / 1000.0);
            vec![
                (Unit::Minute, vec![dt.4]),
                (Unit::Hour, vec![dt.3]),
                (Unit::DayOfMonth, vec![dt.2]),
                (Unit::Month, vec![dt.1]),
                (Unit::Year, vec![dt.0]),
            ]
        })
        .collect();
    if atnow {
        reqs.push(vec![(Unit::Now, vec![1])]);
    }
    let view = kw_str(kw, "view")?
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| runt.view.iden());
    runt.confirm(&["cron", "add"], Some((&view, "view")))?;
    let def = CronDef {
        iden: kw_str(kw, "iden")?.filter(|i| !i.is_empty()),
        storm: query,
        reqs,
        incunit: None,
        incvals: Vec::new(),
        creator: runt.shared.user.iden.clone(),
        view: Some(view),
        pool: false,
        affinity,
        loglevel,
        doc: String::new(),
    };
    let packed = core.add_cron_job(def).await.map_err(cerr)?;
    Ok(AutoObj::val(AutoKind::Cron, &packed))
}

// ----- commands -----

const NAMES: &[&str] = &[
    "trigger.add",
    "trigger.del",
    "trigger.mod",
    "trigger.list",
    "trigger.enable",
    "trigger.disable",
    "cron.add",
    "cron.at",
    "cron.del",
    "cron.move",
    "cron.mod",
    "cron.cleanup",
    "cron.list",
    "cron.stat",
    "cron.enable",
    "cron.disable",
];

/// Whether this module runs the command.
pub(crate) fn handles(name: &str) -> bool {
    NAMES.contains(&name)
}

fn opt(opts: &Opts, name: &str) -> Val {
    opts.get(name).cloned().unwrap_or(Val::Null)
}

fn kwargs_of(opts: &Opts, names: &[(&str, &str)]) -> Vec<(String, Val)> {
    names
        .iter()
        .map(|(k, dest)| ((*k).to_owned(), opt(opts, dest)))
        .collect()
}

/// Run a `trigger.*` / `cron.*` command: its work runs once per inbound node, or once
/// without nodes (with the options parsed up front, `idle`); nodes pass through.
pub(crate) fn run_cmd(
    runt: &Arc<Runt>,
    name: &str,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    let name = name.to_owned();
    async_stream::try_stream! {
        let mut input = input;
        let mut seen = false;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            seen = true;
            run_one(&runt, &name, &opts).await?;
            yield item;
        }
        if !seen && let Some(opts) = idle {
            run_one(&runt, &name, &opts).await?;
        }
    }
    .boxed()
}

async fn run_one(runt: &Arc<Runt>, name: &str, opts: &Opts) -> RResult<()> {
    let core = cortex(runt)?;
    let print = |m: String| {
        let runt = Arc::clone(runt);
        async move { runt.shared.print(&m).await }
    };
    let libcall =
        |lib: &'static str, func: &'static str, args: Vec<Val>, kw: Vec<(String, Val)>| {
            let runt = Arc::clone(runt);
            async move { call_lib(&runt, lib, func, &args, &kw).await }
        };
    match name {
        "trigger.add" => {
            let mut tdef: IndexMap<Key, Val> = IndexMap::new();
            let order = [
                ("condition", "condition"),
                ("form", "form"),
                ("tag", "tag"),
                ("prop", "prop"),
                ("verb", "verb"),
                ("n2form", "n2form"),
                ("storm", "storm"),
                ("async", "async"),
                ("disabled", "disabled"),
                ("name", "name"),
                ("view", "view"),
            ];
            for (key, dest) in order {
                let v = opt(opts, dest);
                if !v.is_null() {
                    tdef.insert(Key::Str(Arc::from(key)), v);
                }
            }
            let enabled = !opt(opts, "disabled").truthy();
            tdef.insert(Key::Str(Arc::from("enabled")), Val::Bool(enabled));
            tdef.shift_remove(&Key::Str(Arc::from("disabled")));
            let trig = libcall("lib.trigger", "add", vec![new_dict(tdef)], Vec::new()).await?;
            let iden = match &trig {
                Val::Obj(o) => match &**o {
                    Obj::Auto(a) => a.get_str("iden"),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            print(format!("Added trigger: {iden}")).await;
        }
        "trigger.del" | "trigger.enable" | "trigger.disable" => {
            let (func, verb) = match name {
                "trigger.del" => ("del", "Deleted"),
                "trigger.enable" => ("enable", "Enabled"),
                _ => ("disable", "Disabled"),
            };
            let iden = libcall("lib.trigger", func, vec![opt(opts, "iden")], Vec::new()).await?;
            print(format!("{verb} trigger: {}", iden.to_str()?)).await;
        }
        "trigger.mod" => {
            let iden = libcall(
                "lib.trigger",
                "mod",
                vec![opt(opts, "iden"), opt(opts, "query")],
                Vec::new(),
            )
            .await?;
            print(format!("Modified trigger: {}", iden.to_str()?)).await;
        }
        "trigger.list" => {
            let all = Val::Bool(opt(opts, "all").truthy());
            let trigs = libcall("lib.trigger", "list", vec![all], Vec::new()).await?;
            let trigs = trigs.seq_items().unwrap_or_default();
            if trigs.is_empty() {
                print("No triggers found".into()).await;
                return Ok(());
            }
            print("user       iden                             view                             en?    async? cond      object                    storm query".into()).await;
            for trig in trigs {
                let Val::Obj(o) = &trig else { continue };
                let Obj::Auto(t) = &**o else { continue };
                let ljust = |s: String, n: usize| format!("{s:<n$}");
                let user = ljust(t.get_str("username"), 10);
                let iden = ljust(t.get_str("iden"), 12);
                let view = ljust(t.get_str("view"), 12);
                let boolrepr = |v: Val| if v.truthy() { "true" } else { "false" };
                let asyn = ljust(boolrepr(t.get("async")).into(), 6);
                let enabled = ljust(boolrepr(t.get("enabled")).into(), 6);
                let cond = ljust(t.get_str("cond"), 9);
                let fo = t.get_str("form");
                let pr = t.get_str("prop");
                let (obj, obj2) = if cond.starts_with("tag:") {
                    (ljust(fo, 14), ljust(t.get_str("tag"), 10))
                } else if !pr.is_empty() {
                    (ljust(pr, 14), " ".repeat(10))
                } else if !fo.is_empty() {
                    (ljust(fo, 14), " ".repeat(10))
                } else {
                    ("<missing>     ".into(), " ".repeat(10))
                };
                let storm = t.get_str("storm");
                print(format!(
                    "{user} {iden} {view} {enabled} {asyn} {cond} {obj} {obj2} {storm}"
                ))
                .await;
            }
        }
        "cron.add" => {
            let kw = kwargs_of(
                opts,
                &[
                    ("query", "query"),
                    ("minute", "minute"),
                    ("hour", "hour"),
                    ("day", "day"),
                    ("pool", "pool"),
                    ("affinity", "affinity"),
                    ("month", "month"),
                    ("year", "year"),
                    ("hourly", "hourly"),
                    ("daily", "daily"),
                    ("monthly", "monthly"),
                    ("yearly", "yearly"),
                    ("iden", "iden"),
                    ("view", "view"),
                    ("period", "period"),
                ],
            );
            let cron = cron_add(runt, &core, &kw).await?;
            let Val::Obj(o) = &cron else { return Ok(()) };
            let Obj::Auto(job) = &**o else { return Ok(()) };
            let iden = job.get_str("iden");
            for key in ["doc", "name"] {
                let v = opt(opts, key);
                if v.truthy() {
                    obj_method(runt, job, "set", &[Val::from(key), v], &[]).await?;
                }
            }
            print(format!("Created cron job: {iden}")).await;
        }
        "cron.at" => {
            let kw = kwargs_of(
                opts,
                &[
                    ("query", "query"),
                    ("minute", "minute"),
                    ("hour", "hour"),
                    ("day", "day"),
                    ("dt", "dt"),
                    ("now", "now"),
                    ("iden", "iden"),
                    ("view", "view"),
                    ("affinity", "affinity"),
                ],
            );
            let cron = cron_at(runt, &core, &kw).await?;
            let iden = match &cron {
                Val::Obj(o) => match &**o {
                    Obj::Auto(a) => a.get_str("iden"),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            print(format!("Created cron job: {iden}")).await;
        }
        "cron.del" => {
            libcall("lib.cron", "del", vec![opt(opts, "iden")], Vec::new()).await?;
            print(format!("Deleted cron job: {}", opt(opts, "iden").to_str()?)).await;
        }
        "cron.move" => {
            let iden = libcall(
                "lib.cron",
                "move",
                vec![opt(opts, "iden"), opt(opts, "view")],
                Vec::new(),
            )
            .await?;
            print(format!(
                "Moved cron job {} to view {}",
                iden.to_str()?,
                opt(opts, "view").to_str()?
            ))
            .await;
        }
        "cron.mod" => {
            let query = opt(opts, "query");
            let period = opt(opts, "period");
            if !query.truthy() && !period.truthy() {
                return Err(Flow::Err(StormError::new(
                    "BadArg",
                    "One of the argument <query> or --period option is required.",
                )));
            }
            let iden = libcall(
                "lib.cron",
                "mod",
                vec![opt(opts, "iden")],
                vec![("query".into(), query), ("period".into(), period)],
            )
            .await?;
            print(format!("Modified cron job: {}", iden.to_str()?)).await;
        }
        "cron.enable" | "cron.disable" => {
            let (func, verb) = if name == "cron.enable" {
                ("enable", "Enabled")
            } else {
                ("disable", "Disabled")
            };
            let iden = libcall("lib.cron", func, vec![opt(opts, "iden")], Vec::new()).await?;
            print(format!("{verb} cron job: {}", iden.to_str()?)).await;
        }
        "cron.cleanup" => {
            let crons = libcall("lib.cron", "list", Vec::new(), Vec::new()).await?;
            let mut count = 0;
            for cron in crons.seq_items().unwrap_or_default() {
                let Val::Obj(o) = &cron else { continue };
                let Obj::Auto(job) = &**o else { continue };
                if !job.get("recs").truthy() {
                    libcall(
                        "lib.cron",
                        "del",
                        vec![Val::from(job.get_str("iden"))],
                        Vec::new(),
                    )
                    .await?;
                    count += 1;
                }
            }
            print(format!("{count} cron/at jobs deleted.")).await;
        }
        "cron.list" => cron_list(runt, &core).await?,
        "cron.stat" => {
            let cron = libcall("lib.cron", "get", vec![opt(opts, "iden")], Vec::new()).await?;
            let Val::Obj(o) = &cron else { return Ok(()) };
            let Obj::Auto(job) = &**o else { return Ok(()) };
            let p = cron_pprint(runt, job);
            let Val::Dict(d) = &p else { return Ok(()) };
            let get = |k: &str| {
                lock(d)
                    .get(&Key::Str(Arc::from(k)))
                    .cloned()
                    .unwrap_or(Val::Null)
            };
            let s = |k: &str| get(k).to_str().unwrap_or_default();
            print(format!("iden:            {}", s("iden"))).await;
            print(format!("user:            {}", s("user"))).await;
            print(format!("enabled:         {}", s("enabled"))).await;
            print(format!("pool:            {}", get("pool").repr())).await;
            print(format!("affinity:        {}", s("affinity"))).await;
            print(format!("recurring:       {}", s("isrecur"))).await;
            print(format!("# starts:        {}", s("startcount"))).await;
            print(format!("# errors:        {}", s("errcount"))).await;
            print(format!("last start time: {}", s("laststart"))).await;
            print(format!("last end time:   {}", s("lastend"))).await;
            print(format!("last result:     {}", s("lastresult"))).await;
            print(format!("query:           {}", s("query"))).await;
            let errs = get("lasterrs").seq_items().unwrap_or_default();
            if !errs.is_empty() {
                print("most recent errors:".into()).await;
                for err in errs {
                    print(format!("                 {}", err.to_str()?)).await;
                }
            }
            let recs = get("recs").seq_items().unwrap_or_default();
            if recs.is_empty() {
                print("entries:         <None>".into()).await;
            } else {
                print("entries:         incunit    incval required".into()).await;
                for rec in recs {
                    let Val::Dict(r) = &rec else { continue };
                    let rget = |k: &str| {
                        lock(r)
                            .get(&Key::Str(Arc::from(k)))
                            .cloned()
                            .unwrap_or(Val::Null)
                    };
                    let incunit = format!("{:<10}", rget("incunit").to_str()?);
                    let incval = format!("{:<6}", rget("incval").to_str()?);
                    let reqdict = rget("reqdict").to_str()?;
                    print(format!("                 {incunit} {incval} {reqdict}")).await;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `cron.list`: the reference's table (`$lib.tabular` with its column widths).
async fn cron_list(runt: &Arc<Runt>, core: &Arc<Cortex>) -> RResult<()> {
    let _ = core;
    let crons = call_lib(runt, "lib.cron", "list", &[], &[]).await?;
    let crons = crons.seq_items().unwrap_or_default();
    if crons.is_empty() {
        runt.shared.print("No cron jobs found").await;
        return Ok(());
    }
    let widths = [24usize, 10, 10, 3, 4, 4, 4, 7, 16, 16];
    let heads = [
        "user",
        "iden",
        "view",
        "en?",
        "rpt?",
        "now?",
        "err?",
        "# start",
        "last start",
        "last end",
        "query",
    ];
    let mut head = String::new();
    for (i, h) in heads.iter().enumerate() {
        match widths.get(i) {
            Some(w) => head.push_str(&format!(" {h:<w$} ")),
            None => head.push_str(&format!(" {h} ")),
        }
    }
    let rule = "#".repeat(head.chars().count());
    runt.shared.print(&format!("{head}\n{rule}")).await;
    for cron in crons {
        let Val::Obj(o) = &cron else { continue };
        let Obj::Auto(job) = &**o else { continue };
        let p = cron_pprint(runt, job);
        let Val::Dict(d) = &p else { continue };
        let s = |k: &str| {
            lock(d)
                .get(&Key::Str(Arc::from(k)))
                .cloned()
                .unwrap_or(Val::Null)
                .to_str()
                .unwrap_or_default()
        };
        let cells = [
            s("user"),
            s("idenshort"),
            s("viewshort"),
            s("enabled"),
            s("isrecur"),
            s("isrunning"),
            s("iserr"),
            s("startcount"),
            s("laststart"),
            s("lastend"),
        ];
        let query = s("query");
        let mut lines: Vec<String> = Vec::new();
        for (n, qline) in query.split('\n').enumerate() {
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let w = widths[i];
                let text = if n == 0 { cell.clone() } else { String::new() };
                let text: String = text.chars().take(w).collect();
                line.push_str(&format!(" {text:<w$} "));
            }
            line.push_str(&format!(" {qline} "));
            lines.push(line);
        }
        runt.shared.print(&lines.join("\n")).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(items: &[(Unit, &[i64])]) -> ReqSpec {
        items.iter().map(|(u, v)| (*u, v.to_vec())).collect()
    }

    /// Expected values from the reference's `LibCron._parsePeriod`.
    #[test]
    fn periods() {
        use Unit::*;
        let cases: Vec<(&str, ReqSpec, Unit, Vec<i64>)> = vec![
            ("hourly@:15", spec(&[(Minute, &[15])]), Hour, vec![1]),
            ("hourly/2@:30", spec(&[(Minute, &[30])]), Hour, vec![2]),
            (
                "daily@10:30",
                spec(&[(Hour, &[10]), (Minute, &[30])]),
                Day,
                vec![1],
            ),
            (
                "daily/3",
                spec(&[(Hour, &[0]), (Minute, &[0])]),
                Day,
                vec![3],
            ),
            (
                "weekly/mon,fri@9:30",
                spec(&[(Hour, &[9]), (Minute, &[30])]),
                DayOfWeek,
                vec![0, 4],
            ),
            (
                "monthly/1,15@12:00",
                spec(&[(Hour, &[12]), (Minute, &[0]), (DayOfMonth, &[1, 15])]),
                Month,
                vec![1],
            ),
            (
                "monthly",
                spec(&[(Hour, &[0]), (Minute, &[0]), (DayOfMonth, &[1])]),
                Month,
                vec![1],
            ),
            ("minutely/5", spec(&[]), Minute, vec![5]),
            (
                "yearly@3:00",
                spec(&[
                    (Month, &[1]),
                    (DayOfMonth, &[1]),
                    (Hour, &[3]),
                    (Minute, &[0]),
                ]),
                Year,
                vec![1],
            ),
        ];
        for (text, reqs, unit, incs) in cases {
            let (got, gotunit, gotincs) = parse_period(text).unwrap();
            assert_eq!(got, vec![reqs], "{text}");
            assert_eq!(gotunit, Some(unit), "{text}");
            assert_eq!(gotincs, incs, "{text}");
        }
        let (got, _, _) = parse_period("yearly/6-1@12:00").unwrap();
        assert_eq!(
            got,
            vec![spec(&[
                (Month, &[6]),
                (DayOfMonth, &[1]),
                (Hour, &[12]),
                (Minute, &[0])
            ])]
        );
        for (text, name, mesg) in [
            (
                "hourly",
                "BadTime",
                "Hourly period requires explicit minute",
            ),
            (
                "daily@25:00",
                "BadConfValu",
                "Invalid hour value: 25 (must be 0-23)",
            ),
            ("fortnightly", "BadConfValu", "Unknown period: fortnightly"),
            (
                "minutely@1:00",
                "BadConfValu",
                "Minutely period does not support a time of day",
            ),
            (
                "hourly@3:15",
                "BadConfValu",
                "Cannot specify hour for hourly period",
            ),
        ] {
            let err = parse_period(text).unwrap_err();
            assert_eq!(
                (err.name.as_str(), err.mesg.as_str()),
                (name, mesg),
                "{text}"
            );
        }
    }

    fn kw(items: &[(&str, &str)]) -> Vec<(String, Val)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Val::from(*v)))
            .collect()
    }

    /// The legacy options as the reference's `_methCronAdd` turns them into a schedule.
    #[test]
    fn legacy_options() {
        use Unit::*;
        type Case = (Vec<(String, Val)>, ReqSpec, Unit, Vec<i64>);
        let cases: Vec<Case> = vec![
            (
                kw(&[("hourly", "15")]),
                spec(&[(Minute, &[15])]),
                Hour,
                vec![1],
            ),
            (
                kw(&[("daily", "10:30")]),
                spec(&[(Hour, &[10]), (Minute, &[30])]),
                Day,
                vec![1],
            ),
            (kw(&[("minute", "+5")]), spec(&[]), Minute, vec![5]),
            (
                kw(&[("month", "3"), ("day", "2")]),
                spec(&[
                    (Month, &[3]),
                    (DayOfMonth, &[2]),
                    (Hour, &[0]),
                    (Minute, &[0]),
                ]),
                Year,
                vec![1],
            ),
            (
                kw(&[("day", "Mon,Fri"), ("hour", "3")]),
                spec(&[(Hour, &[3]), (Minute, &[0])]),
                DayOfWeek,
                vec![0, 4],
            ),
            (
                kw(&[("hour", "3,15")]),
                spec(&[(Hour, &[3, 15]), (Minute, &[0])]),
                Day,
                vec![1],
            ),
        ];
        for (args, reqs, unit, incs) in cases {
            let got = legacy_schedule(&args).unwrap();
            assert_eq!(got, (reqs, unit, incs), "{args:?}");
        }
        for (args, mesg) in [
            (kw(&[("year", "2030")]), "Year may not be a fixed value"),
            (kw(&[]), "Must provide at least one optional argument"),
            (
                kw(&[("hourly", "5"), ("hour", "3")]),
                "May not use both alias (..ly) and explicit options at the same time",
            ),
            (
                kw(&[("day", "+1"), ("hour", "+2")]),
                "May not provide more than 1 recurrence parameter",
            ),
            (kw(&[("day", "xyz")]), "Failed to parse day value \"xyz\""),
        ] {
            assert_eq!(legacy_schedule(&args).unwrap_err(), mesg, "{args:?}");
        }
    }
}
