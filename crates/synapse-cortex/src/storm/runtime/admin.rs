//! Administration from Storm: tasks (`$lib.ps`, `$lib.task`, `ps.*`, `task.*`, and the
//! registration of each query in the cell's Boss), adding, changing and deleting views and
//! layers (`view.add/del/set`, `layer.add/del/set`, `$lib.view.add/del`, `$lib.layer.add/del`,
//! `$layer.set/get/repr`, `$view.repr`), light edge verb docs (`$lib.model.edge`,
//! `model.edge.*`), deprecated model element locks (`$lib.model.deprecated`,
//! `model.deprecated.*`), `auth.perms.list`, `auth.user.allowed`, `index.count.prop`, and the
//! listings of feeds, packages and daemons.

use std::future::Future;
use std::sync::Arc;

use indexmap::IndexMap;
use rmpv::Value;
use synapse_cell::{BossTask, TaskOpts};

use super::StormCore;
use super::cmds::Opts;
use super::error::{Flow, RResult, StormError, err, rterr};
use super::ext::{Args, Body, cell_err, cortex, opt};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Key, Obj, Val, new_dict, new_list};
use crate::cortex::Cortex;
use crate::layer::Layer;
use crate::view::View;

/// The command definitions of this module's commands (made by
/// `tests/storm_rt/gen_cmddefs_ext.py NAME...` from the reference).
pub(crate) const CMDDEFS: &str = include_str!("admin_cmddefs.json");

/// The commands of this module.
pub(crate) const CMDS: &[&str] = &[
    "ps.list",
    "ps.kill",
    "task.list",
    "task.kill",
    "view.add",
    "view.del",
    "view.set",
    "layer.add",
    "layer.del",
    "layer.set",
    "model.edge.set",
    "model.edge.get",
    "model.edge.del",
    "model.edge.list",
    "model.deprecated.check",
    "model.deprecated.lock",
    "model.deprecated.locks",
    "auth.perms.list",
    "auth.user.allowed",
    "index.count.prop",
    "feed.list",
    "dmon.list",
];

/// The libraries this module adds.
pub(crate) const LIBS: &[&str] = &[
    "lib.ps",
    "lib.task",
    "lib.model.edge",
    "lib.model.deprecated",
    "lib.pkg",
    "lib.dmon",
];

/// The functions of this module's libraries, and those it adds to `lib.rs`'s (`lib.view`,
/// `lib.layer`, `lib.feed`, `lib.auth`).
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.ps" => &["kill", "list"],
        "lib.task" => &["list", "kill"],
        "lib.model.edge" => &["get", "validkeys", "set", "del", "list"],
        "lib.model.deprecated" => &["lock", "locks"],
        "lib.pkg" => super::pkg::LIB_FUNCS,
        "lib.dmon" => super::dmon::LIB_FUNCS,
        "lib.view" => &["add", "del"],
        "lib.layer" => &["add", "del"],
        "lib.feed" => &["list", "ingest", "genr", "fromAxon"],
        "lib.auth" => &["getPermDefs", "getPermDef"],
        _ => &[],
    }
}

/// Methods this module adds to views.
pub(crate) const VIEW_METHODS: &[&str] = &["repr"];
/// Methods this module adds to layers.
pub(crate) const LAYER_METHODS: &[&str] = &["repr", "set", "get"];

/// The valid keys of edge verb docs.
const EDGE_KEYS: &[&str] = &["doc"];

fn str_key(text: &str) -> Key {
    Key::Str(Arc::from(text))
}

fn pybool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn syn_err(err: crate::view::Error) -> Flow {
    Flow::Err(StormError::from_view(err))
}

// ----- the queries as tasks -----

/// A running query: cancelled when dropped.
pub(crate) enum QueryTask {
    /// Listed in the cell's Boss.
    Boss(synapse_base::Task<()>),
    /// A plain task (no Cortex, or the cell is shutting down).
    Plain(tokio::task::JoinHandle<()>),
}

impl Drop for QueryTask {
    fn drop(&mut self) {
        match self {
            QueryTask::Boss(task) => task.cancel(),
            QueryTask::Plain(handle) => handle.abort(),
        }
    }
}

/// Run a `storm()` query as a task named `storm` in the cell's Boss (listed by `ps.list`,
/// killed by `ps.kill`), as the reference promotes each query; `body` gets the task iden
/// (`explicit`, the `task` opt, if given). `BadArg` for a bad or running explicit iden.
pub(crate) fn spawn_query<F, Fut>(
    core: &StormCore,
    user: &super::StormUser,
    text: &str,
    view: Option<String>,
    explicit: Option<String>,
    body: F,
) -> Result<QueryTask, StormError>
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let boss = core
        .host
        .cortex()
        .map(|c| c.cell().boss().clone())
        .filter(|b| b.req_not_shut().is_ok());
    let Some(boss) = boss else {
        let iden = explicit.unwrap_or_else(crate::model::guid_random);
        return Ok(QueryTask::Plain(tokio::spawn(body(iden))));
    };
    let view = view.unwrap_or_else(|| core.views().default_view().iden());
    let info = Value::Map(vec![
        (Value::from("query"), Value::from(text)),
        (Value::from("view"), Value::from(view.as_str())),
    ]);
    let opts = TaskOpts::new("storm", &user.iden, &user.name).info(info);
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let fut = async move {
        if let Ok(iden) = rx.await {
            body(iden).await;
        }
    };
    let (iden, task) = boss.spawn_as(explicit, opts, fut).map_err(|err| {
        let mut out = StormError::new(err.name(), err.mesg());
        for (k, v) in err.info() {
            if k != "mesg" {
                out.set(k, v.clone());
            }
        }
        out
    })?;
    let _ = tx.send(iden);
    Ok(QueryTask::Boss(task))
}

/// Run a `callStorm()` or `count()` query as a Boss task (as the reference lists them too);
/// an error if the task is killed.
pub(crate) async fn run_as_task<T, Fut>(
    core: &StormCore,
    user: &super::StormUser,
    text: &str,
    view: Option<String>,
    fut: Fut,
) -> Result<T, StormError>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, StormError>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _task = spawn_query(core, user, text, view, None, move |_iden| async move {
        let _ = tx.send(fut.await);
    })?;
    rx.await
        .unwrap_or_else(|_| Err(StormError::new("IsFini", "The query task was killed.")))
}

/// The tasks the user may see: its own, or all with `task.get`.
fn visible_tasks(runt: &Runt, core: &Cortex) -> Vec<BossTask> {
    let all = super::ext::allowed_default(runt, core, &["task", "get"], false);
    let me = &runt.shared.user.iden;
    core.cell()
        .boss()
        .ps()
        .into_iter()
        .filter(|t| all || &t.opts.user == me)
        .collect()
}

/// The one task whose iden starts with `prefix`.
fn task_by_prefix(tasks: &[BossTask], prefix: &str, what: &str) -> RResult<String> {
    let found: Vec<&BossTask> = tasks
        .iter()
        .filter(|t| t.iden.starts_with(prefix))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.iden.clone()),
        [] => Err(Flow::Err(
            StormError::new(
                "StormRuntimeError",
                format!("Provided iden does not match any {what}."),
            )
            .with("iden", prefix),
        )),
        _ => Err(Flow::Err(
            StormError::new(
                "StormRuntimeError",
                format!(
                    "Provided iden matches more than one {}.",
                    what.trim_end_matches("es").trim_end_matches('s')
                ),
            )
            .with("iden", prefix),
        )),
    }
}

/// `$lib.ps.kill()`: kill a task by iden prefix (own tasks, or any with `task.del`).
async fn ps_kill(runt: &Runt, core: &Cortex, prefix: &str) -> RResult<bool> {
    let tasks = visible_tasks(runt, core);
    let iden = task_by_prefix(&tasks, prefix, "processes")?;
    let boss = core.cell().boss();
    let Some(task) = boss.get(&iden) else {
        return Ok(false);
    };
    let user = &runt.shared.user;
    let mayall = super::ext::allowed_default(runt, core, &["task", "del"], false);
    if task.opts.user != user.iden && !mayall {
        return Err(Flow::Err(
            StormError::new(
                "AuthDeny",
                format!(
                    "User ({}) must have permission task.del or own the task",
                    user.name
                ),
            )
            .with("task", iden.as_str())
            .with("perm", "task.del")
            .with("user", user.iden.as_str())
            .with("username", user.name.as_str()),
        ));
    }
    boss.kill(&iden).await.map_err(cell_err)
}

/// `$lib.task.kill()`.
async fn task_kill(runt: &Runt, core: &Cortex, prefix: &str) -> RResult<bool> {
    if prefix.is_empty() {
        return Err(Flow::Err(
            StormError::new(
                "StormRuntimeError",
                "An empty task iden prefix is not allowed.",
            )
            .with("iden", prefix),
        ));
    }
    let mayall = super::ext::allowed_default(runt, core, &["task", "del"], false);
    let me = &runt.shared.user.iden;
    let tasks: Vec<BossTask> = core
        .cell()
        .boss()
        .ps()
        .into_iter()
        .filter(|t| mayall || &t.opts.user == me)
        .collect();
    let iden = task_by_prefix(&tasks, prefix, "tasks")?;
    core.cell().boss().kill(&iden).await.map_err(cell_err)
}

fn task_pack(task: &BossTask) -> Val {
    Val::from_msgpack(&task.pack())
}

fn task_pack_v2(task: &BossTask) -> Val {
    let mut packed = task.pack_v2();
    if let Value::Map(items) = &mut packed {
        items.push((Value::from("service"), Value::Nil));
    }
    Val::from_msgpack(&packed)
}

/// Python's `pprint.pformat()` (width 80) of a task's info: a dict whose long string
/// values are split into chunks at whitespace, one key per line.
fn pformat(valu: &Val) -> Vec<String> {
    const WIDTH: usize = 80;
    let line = valu.py_repr();
    let Val::Dict(d) = valu else {
        return vec![line];
    };
    if line.chars().count() <= WIDTH {
        return vec![line];
    }
    let mut items: Vec<(Key, Val)> = super::value::lock(d)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // pprint sorts dicts by key
    items.sort_by(|a, b| {
        super::value::py_order(&a.0.to_val(), &b.0.to_val()).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut text = String::from("{");
    let n = items.len();
    for (i, (k, v)) in items.iter().enumerate() {
        let krep = k.to_val().py_repr();
        text.push_str(&krep);
        text.push_str(": ");
        let indent = 1 + krep.chars().count() + 2;
        let allowance = 1;
        let rep = v.py_repr();
        match v {
            Val::Str(s) if rep.chars().count() + indent + allowance > WIDTH => {
                text.push_str(
                    &pformat_str(s, indent, allowance, WIDTH)
                        .join(&format!("\n{}", " ".repeat(indent))),
                );
            }
            _ => text.push_str(&rep),
        }
        if i + 1 < n {
            text.push_str(",\n ");
        }
    }
    text.push('}');
    text.split('\n').map(str::to_owned).collect()
}

/// The chunks `pprint` splits a long string into (its `_pprint_str`, nested in a dict).
fn pformat_str(text: &str, indent: usize, allowance: usize, width: usize) -> Vec<String> {
    let repr = |s: &str| crate::model::value::py_repr_str(s);
    let len = |s: &str| repr(s).chars().count();
    let lines: Vec<&str> = text.split_inclusive(['\n', '\r']).collect();
    let max_width = width.saturating_sub(indent);
    let mut chunks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let last_line = i + 1 == lines.len();
        let max1 = if last_line {
            max_width.saturating_sub(allowance)
        } else {
            max_width
        };
        if len(line) <= max1 {
            chunks.push(repr(line));
            continue;
        }
        // alternating runs of non-space then space characters
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut in_space = false;
        for ch in line.chars() {
            let space = ch.is_whitespace();
            if in_space && !space {
                parts.push(std::mem::take(&mut cur));
                in_space = false;
            }
            if space {
                in_space = true;
            }
            cur.push(ch);
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
        let mut current = String::new();
        for (j, part) in parts.iter().enumerate() {
            let mut max2 = max_width;
            if j + 1 == parts.len() && last_line {
                max2 = max2.saturating_sub(allowance);
            }
            let candidate = format!("{current}{part}");
            if len(&candidate) > max2 {
                if !current.is_empty() {
                    chunks.push(repr(&current));
                }
                current = part.clone();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(repr(&current));
        }
    }
    chunks
}

/// The lines `$lib.pprint(info, prefix='    ', clamp=...)` prints.
fn pprint_lines(valu: &Val, clamp: Option<usize>) -> Vec<String> {
    pformat(valu)
        .into_iter()
        .map(|line| {
            let line = format!("    {line}");
            match clamp {
                Some(max) if line.chars().count() > max => {
                    let cut: String = line.chars().take(max - 3).collect();
                    format!("{cut}...")
                }
                _ => line,
            }
        })
        .collect()
}

fn task_lines(task: &BossTask, v2: bool, verbose: bool) -> Vec<String> {
    let mut out = vec![
        format!("task iden: {}", task.iden),
        format!("    name: {}", task.opts.name),
    ];
    if v2 {
        out.push(format!("    user: {}", task.opts.username));
        out.push("    service: $lib.null".to_owned());
    } else {
        out.push(format!("    user: {}", task.opts.username));
        out.push("    status: $lib.null".to_owned());
    }
    out.push(format!(
        "    start time: {}",
        super::lib::strftime(task.tick, "%Y-%m-%d %H:%M:%S")
    ));
    out.push("    metadata:".to_owned());
    let info = Val::from_msgpack(&task.opts.info);
    out.extend(pprint_lines(&info, (!verbose).then_some(120)));
    out
}

// ----- views and layers -----

fn layer_repr(layer: &Layer) -> String {
    let def = layer.def();
    format!(
        "Layer: {} (name: {}) readonly: {} creator: {}",
        def.iden,
        def.name.as_deref().unwrap_or("unnamed"),
        pybool(def.readonly),
        def.creator
    )
}

fn view_repr(view: &View) -> String {
    let def = view.def();
    let mut lines = vec![
        format!(
            "View: {} (name: {})",
            def.iden,
            def.name.as_deref().unwrap_or("unnamed")
        ),
        format!("  Creator: {}", def.creator),
        "  Layers:".to_owned(),
    ];
    for layer in view.layers() {
        let ldef = layer.def();
        lines.push(format!(
            "    {}: {} readonly: {}",
            ldef.iden,
            ldef.name.as_deref().unwrap_or("unnamed"),
            pybool(ldef.readonly)
        ));
    }
    lines.join("\n")
}

/// `$lib.layer.get(iden)` (no permission check, as the reference).
fn layer_get(runt: &Runt, iden: &Val) -> RResult<Layer> {
    let iden = match iden {
        Val::Null | Val::Undef => return Ok(runt.view.write_layer()),
        v => v.to_str()?,
    };
    runt.shared.core.views().layer(&iden).ok_or_else(|| {
        Flow::Err(StormError::new(
            "NoSuchIden",
            format!("No layer with iden: {iden}"),
        ))
    })
}

/// `$lib.view.get(iden)`, `view.read` checked.
fn view_get(runt: &Runt, iden: &Val) -> RResult<View> {
    let view = match iden {
        Val::Null | Val::Undef => runt.view.clone(),
        v => {
            let iden = v.to_str()?;
            runt.shared.core.views().view(&iden).ok_or_else(|| {
                Flow::Err(
                    StormError::new(
                        "NoSuchView",
                        format!(
                            "No view with iden={}",
                            crate::model::value::py_repr_str(&iden)
                        ),
                    )
                    .with("iden", iden.as_str()),
                )
            })?
        }
    };
    runt.confirm(&["view", "read"], Some((&view.iden(), "view")))?;
    Ok(view)
}

/// `$lib.layer.add(ldef)`.
async fn layer_add(runt: &Runt, ldef: &Val) -> RResult<Layer> {
    let core = cortex(runt)?;
    let get = |name: &str| -> Option<Val> {
        match ldef {
            Val::Dict(d) => super::value::lock(d).get(&str_key(name)).cloned(),
            _ => None,
        }
    };
    if !matches!(ldef, Val::Null | Val::Dict(_)) {
        return Err(rterr(format!(
            "'{}' object does not support item assignment",
            ldef.pytype()
        )));
    }
    if !runt.asroot {
        runt.confirm(&["layer", "add"], None)?;
    }
    for key in ["mirror", "upstream"] {
        if get(key).is_some_and(|v| !v.is_null()) {
            return err(
                "BadArg",
                format!("Layer {key} is not supported by this Cortex."),
            );
        }
    }
    let name = match get("name") {
        None | Some(Val::Null) => None,
        Some(v) => Some(v.to_str()?),
    };
    let readonly = get("readonly").is_some_and(|v| v.truthy());
    let logedits = get("logedits").map(|v| v.truthy());
    core.add_layer(&runt.shared.user.iden, name, readonly, logedits)
        .await
        .map_err(cell_err)
}

/// `$lib.layer.del(iden)`.
async fn layer_del(runt: &Runt, iden: &str) -> RResult<()> {
    if runt.shared.core.views().layer(iden).is_none() {
        return err("NoSuchIden", format!("No layer with iden: {iden}"));
    }
    if !runt.asroot {
        runt.confirm(&["layer", "del"], Some((iden, "layer")))?;
    }
    let used = runt
        .shared
        .core
        .views()
        .views()
        .iter()
        .any(|v| v.def().layers.iter().any(|l| l == iden));
    if used {
        return Err(Flow::Err(
            StormError::new("LayerInUse", "").with("iden", iden),
        ));
    }
    runt.shared.core.host.del_layer(iden).await?;
    Ok(())
}

fn py_str(text: &str) -> String {
    crate::model::value::py_repr_str(text)
}

/// `$lib.view.add(layers, name=, worldreadable=)`.
async fn view_add(runt: &Runt, layers: &Val, name: Option<String>, wr: bool) -> RResult<View> {
    let core = cortex(runt)?;
    let idens: Vec<String> = match layers.seq_items() {
        Some(items) => items.iter().map(Val::to_str).collect::<RResult<_>>()?,
        None => {
            return Err(rterr(format!(
                "'{}' object is not iterable",
                layers.pytype()
            )));
        }
    };
    if !runt.asroot {
        runt.confirm(&["view", "add"], None)?;
        for iden in &idens {
            runt.confirm(&["layer", "read"], Some((iden, "layer")))?;
        }
    }
    if idens.is_empty() {
        return err(
            "SchemaViolation",
            "data.layers must contain at least 1 items",
        );
    }
    let isiden =
        |s: &str| s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Some(idx) = idens.iter().position(|i| !isiden(i)) {
        return err(
            "SchemaViolation",
            format!("data.layers[{idx}] must match pattern ^[0-9a-f]{{32}}$"),
        );
    }
    core.add_view(&runt.shared.user.iden, idens, name, wr)
        .await
        .map_err(cell_err)
}

/// `$lib.view.del(iden)`.
async fn view_del(runt: &Runt, iden: &str) -> RResult<()> {
    if !runt.asroot {
        runt.confirm(&["view", "del"], Some((iden, "view")))?;
    }
    let Some(view) = runt.shared.core.views().view(iden) else {
        return Err(Flow::Err(
            StormError::new("NoSuchView", format!("No such view iden={}", py_str(iden)))
                .with("iden", iden),
        ));
    };
    if view.def().protected {
        return err(
            "CantDelView",
            format!("Cannot delete view ({iden}) that has protected set."),
        );
    }
    runt.shared.core.host.del_view(iden).await?;
    Ok(())
}

/// `$layer.set(name, valu)`.
async fn layer_set(runt: &Runt, layer: &Layer, name: &str, valu: &Val) -> RResult<()> {
    let stored = match name {
        "name" | "desc" => match valu {
            Val::Undef | Val::Null => Value::Nil,
            v => Value::from(v.to_str()?),
        },
        "logedits" | "readonly" => Value::Boolean(valu.truthy()),
        "cache:size" => {
            let size = valu.to_int()?;
            Value::from(size as i64)
        }
        "mirror" | "upstream" => {
            if !valu.is_null() {
                return err(
                    "BadOptValu",
                    "Layer only supports setting \"mirror\" and \"upstream\" to null.",
                );
            }
            Value::Nil
        }
        other => {
            return err(
                "BadOptValu",
                format!("Layer does not support setting: {other}"),
            );
        }
    };
    let iden = layer.iden();
    if !runt.asroot {
        runt.confirm(&["layer", "set", name], Some((&iden, "layer")))?;
    }
    if name != "readonly" && layer.is_readonly() {
        return err("IsReadOnly", format!("Layer {iden} is read only!"));
    }
    if name == "cache:size" && stored.as_i64().is_some_and(|n| n < 1) {
        return err("BadOptValu", "cache:size must be >= 1");
    }
    if name == "desc" {
        // layer defs here have no description: refuse rather than drop it
        return err("BadOptValu", "Layer desc is not supported by this Cortex.");
    }
    if matches!(name, "mirror" | "upstream" | "cache:size") {
        // nothing to change: layers here have no mirrors, upstreams or node caches
        return Ok(());
    }
    cortex(runt)?
        .set_layer_info(&iden, name, &stored)
        .await
        .map_err(cell_err)?;
    Ok(())
}

/// Layer methods of this module.
pub(crate) async fn layer_method(
    runt: &Arc<Runt>,
    layer: &Layer,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let args = Args::new(name, args, kwargs);
    match name {
        "repr" => Ok(Val::from(layer_repr(layer))),
        "get" => {
            let key = args.req(0, "name")?.to_str()?;
            let defv = args.get(1, "defv").unwrap_or(Val::Null);
            let def = layer.def().to_value();
            Ok(crate::layer::map_get(&def, &key)
                .map(Val::from_msgpack)
                .unwrap_or(defv))
        }
        "set" => {
            let key = args.req(0, "name")?.to_str()?;
            let valu = args.req(1, "valu")?;
            layer_set(runt, layer, &key, &valu).await?;
            Ok(Val::Null)
        }
        _ => Err(super::ext::nosuchname(name)),
    }
}

/// View methods of this module.
pub(crate) fn view_method(view: &View, name: &str) -> RResult<Val> {
    match name {
        "repr" => Ok(Val::from(view_repr(view))),
        _ => Err(super::ext::nosuchname(name)),
    }
}

// ----- edge verb docs -----

/// The verbs of the light edges in the view's layers (each layer's in order, first seen
/// first).
async fn view_verbs(view: &View) -> RResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for layer in view.layers() {
        let mut verbs = std::collections::BTreeSet::new();
        let mut sodes = layer.sodes();
        while let Some(item) = futures::StreamExt::next(&mut sodes).await {
            let (buid, _) = item.map_err(|e| syn_err(e.into()))?;
            let mut resume = None;
            loop {
                let (rows, next, done) = layer
                    .scan_edges(crate::layer::EdgeDir::N1, buid, None, resume, 1000)
                    .await
                    .map_err(|e| syn_err(e.into()))?;
                verbs.extend(rows.into_iter().map(|(verb, _)| verb));
                if done {
                    break;
                }
                resume = next;
            }
        }
        for verb in verbs {
            if !out.contains(&verb) {
                out.push(verb);
            }
        }
    }
    Ok(out)
}

async fn req_verb(runt: &Runt, verb: &str) -> RResult<()> {
    if view_verbs(&runt.view).await?.iter().any(|v| v == verb) {
        return Ok(());
    }
    Err(Flow::Err(
        StormError::new("NoSuchName", "No such edge verb in the current view").with("name", verb),
    ))
}

fn req_edge_key(key: &str) -> RResult<()> {
    if EDGE_KEYS.contains(&key) {
        return Ok(());
    }
    Err(Flow::Err(
        StormError::new(
            "NoSuchProp",
            "The requested key is not valid for light edge metadata.",
        )
        .with("name", key),
    ))
}

fn kv_dict(items: Vec<(String, Value)>) -> Val {
    new_dict(
        items
            .into_iter()
            .map(|(k, v)| (str_key(&k), Val::from_msgpack(&v)))
            .collect(),
    )
}

async fn edge_set(runt: &Runt, verb: &str, key: &str, valu: &str) -> RResult<()> {
    req_verb(runt, verb).await?;
    req_edge_key(key)?;
    let core = cortex(runt)?;
    let mut info = core.edge_verb_info(verb);
    match info.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = Value::from(valu),
        None => info.push((key.to_owned(), Value::from(valu))),
    }
    core.set_edge_verb_info(verb, info).await.map_err(cell_err)
}

async fn edge_del(runt: &Runt, verb: &str, key: &str) -> RResult<()> {
    req_verb(runt, verb).await?;
    req_edge_key(key)?;
    let core = cortex(runt)?;
    let mut info = core.edge_verb_info(verb);
    let before = info.len();
    info.retain(|(k, v)| k != key || v.is_nil());
    if info.len() == before {
        return Err(Flow::Err(
            StormError::new("NoSuchProp", "Key is not set for this edge verb")
                .with("verb", verb)
                .with("name", key),
        ));
    }
    core.set_edge_verb_info(verb, info).await.map_err(cell_err)
}

async fn edge_list(runt: &Runt) -> RResult<Vec<(String, Vec<(String, Value)>)>> {
    let core = cortex(runt)?;
    Ok(view_verbs(&runt.view)
        .await?
        .into_iter()
        .map(|verb| {
            let info = core.edge_verb_info(&verb);
            (verb, info)
        })
        .collect())
}

// ----- deprecated locks -----

async fn depr_lock(runt: &Runt, name: &str, locked: bool) -> RResult<()> {
    if !runt.asroot {
        runt.confirm(&["model", "deprecated", "lock"], None)?;
    }
    cortex(runt)?
        .set_depr_lock(name, locked)
        .await
        .map_err(cell_err)
}

// ----- auth -----

/// Why a user is (not) allowed a permission: the reference's `getAllowedReason()` value and
/// message.
fn allowed_reason(
    core: &Cortex,
    user: &synapse_cell::User,
    perm: &[String],
    gate: Option<&str>,
) -> (Option<bool>, String) {
    let text = |allow: bool, path: &[String]| {
        let rule = synapse_cell::Rule {
            allow,
            path: path.to_vec(),
        };
        rule.text()
    };
    if user.is_locked() {
        return (Some(false), "The user is locked.".into());
    }
    if user.is_admin() {
        return (Some(true), "The user is a global admin.".into());
    }
    if let Some(gate) = gate
        && let Some(entry) = user.gate(gate)
    {
        if entry.is_admin() {
            return (
                Some(true),
                format!("The user is an admin of auth gate {gate}."),
            );
        }
        if let Some(rule) = entry.rules().iter().find(|r| r.matches(perm)) {
            return (
                Some(rule.allow),
                format!(
                    "Matched user rule ({}) on gate {gate}.",
                    text(rule.allow, &rule.path)
                ),
            );
        }
    }
    if let Some(rule) = user.rules.iter().find(|r| r.matches(perm)) {
        return (
            Some(rule.allow),
            format!("Matched user rule ({}).", text(rule.allow, &rule.path)),
        );
    }
    let roles = core.cell().auth().user_roles(user);
    if let Some(gate) = gate {
        for role in &roles {
            if let Some(rule) = role
                .gate(gate)
                .and_then(|e| e.rules().iter().find(|r| r.matches(perm)))
            {
                return (
                    Some(rule.allow),
                    format!(
                        "Matched role rule ({}) for role {} on gate {gate}.",
                        text(rule.allow, &rule.path),
                        role.name
                    ),
                );
            }
        }
    }
    for role in &roles {
        if let Some(rule) = role.rules.iter().find(|r| r.matches(perm)) {
            return (
                Some(rule.allow),
                format!(
                    "Matched role rule ({}) for role {}.",
                    text(rule.allow, &rule.path),
                    role.name
                ),
            );
        }
    }
    (Some(false), "No matching rule found.".into())
}

fn json_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "None".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

fn perms_list(core: &Cortex, find: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let find = find.map(str::to_lowercase);
    for pdef in core.perm_defs() {
        let pdef = synapse_cell::to_json(&pdef);
        let perm: Vec<String> = pdef["perm"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| json_text(Some(p)))
            .collect();
        let perm = perm.join(".");
        let desc = json_text(pdef.get("desc"));
        let gate = json_text(pdef.get("gate"));
        let ex = pdef
            .get("ex")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty());
        if let Some(find) = &find {
            let hit = perm.to_lowercase().contains(find.as_str())
                || desc.to_lowercase().contains(find.as_str())
                || gate.to_lowercase().contains(find.as_str())
                || ex.is_some_and(|ex| ex.to_lowercase().contains(find.as_str()));
            if !hit {
                continue;
            }
        }
        out.push(perm);
        out.push(format!("    {desc}"));
        out.push(format!("    gate: {gate}"));
        out.push(format!("    default: {}", json_text(pdef.get("default"))));
        if let Some(ex) = ex {
            out.push(format!("    example: {ex}"));
        }
        out.push(String::new());
    }
    out
}

// ----- index counts -----

/// The number of `prop` (with `valu`, if given) in one layer.
async fn prop_count(runt: &Runt, layer: &Layer, name: &str, valu: Option<&Val>) -> RResult<i64> {
    let model = runt.model();
    let lerr = |e: crate::layer::Error| syn_err(e.into());
    let form = model.form(name);
    let prop = model.prop(name).filter(|_| form.is_none());
    if form.is_none() && prop.is_none() {
        return err("NoSuchProp", format!("No property named {name}"));
    }
    let Some(valu) = valu else {
        return match (form, prop) {
            (Some(form), _) => layer.count_form(form.name()).await.map_err(lerr),
            (None, Some(prop)) if prop.is_univ() && prop.form().is_none() => {
                layer.count_univ(prop.name()).await.map_err(lerr)
            }
            (None, Some(prop)) => {
                let fname = prop.form().map(|f| f.name().to_owned()).unwrap_or_default();
                layer.count_prop(&fname, prop.name()).await.map_err(lerr)
            }
            (None, None) => Ok(0),
        };
    };
    let stor = super::cond::tostor(valu)?;
    let ty = match (form, prop) {
        (Some(form), _) => form.ty(),
        (None, Some(prop)) => prop.ty(),
        (None, None) => return Ok(0),
    };
    let lifts = ty
        .stor_lifts("=", &stor)
        .map_err(|e| Flow::Err(StormError::from_model(e)))?;
    let mut total = 0;
    for cmpr in lifts {
        let by = match (form, prop) {
            (Some(form), _) => crate::layer::LiftBy::FormValu {
                form: form.name().to_owned(),
                cmpr,
            },
            (None, Some(prop)) => crate::layer::LiftBy::PropValu {
                form: prop.form().map(|f| f.name().to_owned()).unwrap_or_default(),
                prop: prop.name().to_owned(),
                cmpr,
            },
            (None, None) => continue,
        };
        total += layer.count_lift(&by).await.map_err(lerr)?;
    }
    Ok(total)
}

/// A row of `$lib.tabular.printer` with the given column widths (the last one as wide as
/// its text).
fn tab_row(cells: &[String], widths: &[Option<usize>]) -> String {
    cells
        .iter()
        .zip(widths)
        .map(|(cell, width)| match width {
            Some(w) => format!(" {cell:<w$} "),
            None => format!(" {cell} "),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The header of that printer: the column names over a `=` line.
fn tab_header(names: &[&str], widths: &[Option<usize>]) -> String {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let line = names
        .iter()
        .zip(widths)
        .map(|(name, width)| "=".repeat(width.unwrap_or(name.chars().count()) + 2))
        .collect::<Vec<_>>()
        .join("|");
    format!("{}\n{line}", tab_row(&names, widths))
}

// ----- libraries -----

/// Call a function of one of this module's libraries (or one it adds to `lib.rs`'s).
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    match (path, name) {
        ("lib.ps", "list") => {
            let core = cortex(runt)?;
            Ok(new_list(
                visible_tasks(runt, &core).iter().map(task_pack).collect(),
            ))
        }
        ("lib.ps", "kill") => {
            super::ext::req_not_readonly(runt, "$lib.ps.kill")?;
            let core = cortex(runt)?;
            let prefix = args.req(0, "prefix")?.to_str()?;
            Ok(Val::Bool(ps_kill(runt, &core, &prefix).await?))
        }
        ("lib.task", "list") => {
            let _ = args.int(0, "timeout")?;
            let core = cortex(runt)?;
            let all = super::ext::allowed_default(runt, &core, &["task", "get"], false);
            let me = runt.shared.user.iden.clone();
            let items: Vec<RResult<GenItem>> = core
                .cell()
                .boss()
                .ps()
                .iter()
                .filter(|t| all || t.opts.user == me)
                .map(|t| Ok(GenItem::Val(task_pack_v2(t))))
                .collect();
            Ok(GenVal::val(Box::pin(futures::stream::iter(items))))
        }
        ("lib.task", "kill") => {
            super::ext::req_not_readonly(runt, "$lib.task.kill")?;
            let prefix = args.req(0, "prefix")?.to_str()?;
            let _ = args.int(1, "timeout")?;
            let core = cortex(runt)?;
            Ok(Val::Bool(task_kill(runt, &core, &prefix).await?))
        }
        ("lib.view", "add") => {
            super::ext::req_not_readonly(runt, "$lib.view.add")?;
            let layers = args.req(0, "layers")?;
            let name = match args.get(1, "name") {
                None | Some(Val::Null) => None,
                Some(v) => Some(v.to_str()?),
            };
            let wr = args.bool(2, "worldreadable", false);
            let view = view_add(runt, &layers, name, wr).await?;
            Ok(Val::Obj(Arc::new(Obj::View(view.iden()))))
        }
        ("lib.view", "del") => {
            super::ext::req_not_readonly(runt, "$lib.view.del")?;
            let iden = args.req(0, "iden")?.to_str()?;
            view_del(runt, &iden).await?;
            Ok(Val::Null)
        }
        ("lib.layer", "add") => {
            super::ext::req_not_readonly(runt, "$lib.layer.add")?;
            let ldef = args.get(0, "ldef").unwrap_or(Val::Null);
            let layer = layer_add(runt, &ldef).await?;
            Ok(Val::Obj(Arc::new(Obj::Layer(layer.iden()))))
        }
        ("lib.layer", "del") => {
            super::ext::req_not_readonly(runt, "$lib.layer.del")?;
            let iden = args.req(0, "iden")?.to_str()?;
            layer_del(runt, &iden).await?;
            Ok(Val::Null)
        }
        ("lib.model.edge", "validkeys") => Ok(Val::Tuple(
            EDGE_KEYS.iter().map(|k| Val::from(*k)).collect(),
        )),
        ("lib.model.edge", "get") => {
            let verb = args.req(0, "verb")?.to_str()?;
            req_verb(runt, &verb).await?;
            Ok(kv_dict(cortex(runt)?.edge_verb_info(&verb)))
        }
        ("lib.model.edge", "set") => {
            super::ext::req_not_readonly(runt, "$lib.model.edge.set")?;
            let verb = args.req(0, "verb")?.to_str()?;
            let key = args.req(1, "key")?.to_str()?;
            let valu = args.req(2, "valu")?.to_str()?;
            edge_set(runt, &verb, &key, &valu).await?;
            Ok(Val::Null)
        }
        ("lib.model.edge", "del") => {
            super::ext::req_not_readonly(runt, "$lib.model.edge.del")?;
            let verb = args.req(0, "verb")?.to_str()?;
            let key = args.req(1, "key")?.to_str()?;
            edge_del(runt, &verb, &key).await?;
            Ok(Val::Null)
        }
        ("lib.model.edge", "list") => Ok(new_list(
            edge_list(runt)
                .await?
                .into_iter()
                .map(|(verb, info)| Val::Tuple(Arc::from(vec![Val::from(verb), kv_dict(info)])))
                .collect(),
        )),
        ("lib.model.deprecated", "locks") => {
            let locks = cortex(runt)?.depr_locks();
            Ok(new_dict(
                locks
                    .into_iter()
                    .map(|(k, v)| (str_key(&k), Val::Bool(v)))
                    .collect(),
            ))
        }
        ("lib.model.deprecated", "lock") => {
            super::ext::req_not_readonly(runt, "$lib.model.deprecated.lock")?;
            let name = args.req(0, "name")?.to_str()?;
            let locked = args.req(1, "locked")?.truthy();
            depr_lock(runt, &name, locked).await?;
            Ok(Val::Null)
        }
        ("lib.auth", "getPermDefs") => {
            let core = cortex(runt)?;
            // a list of the reference's plain dicts
            let defs: Vec<Val> = core.perm_defs().iter().map(Val::from_msgpack).collect();
            defs.iter().for_each(super::pyvals::mark);
            Ok(new_list(defs))
        }
        ("lib.auth", "getPermDef") => {
            let perm = args.req(0, "perm")?.to_msgpack()?;
            let want: Option<Vec<&str>> = perm
                .as_array()
                .map(|parts| parts.iter().filter_map(Value::as_str).collect());
            let core = cortex(runt)?;
            let defs = core.perm_defs();
            let found = defs.iter().find(|pdef| {
                let have: Option<Vec<&str>> = crate::layer::map_get(pdef, "perm")
                    .and_then(Value::as_array)
                    .map(|parts| parts.iter().filter_map(Value::as_str).collect());
                have.is_some() && have == want
            });
            Ok(found.map(Val::from_msgpack).unwrap_or(Val::Null))
        }
        ("lib.feed", "list") => Ok(Val::from_msgpack(&crate::cortex::info_feed_funcs())),
        ("lib.feed", _) => super::feedlib::call_lib(runt, name, args).await,
        ("lib.pkg", _) => super::pkg::call_lib(runt, name, args).await,
        ("lib.dmon", _) => super::dmon::call_lib(runt, name, args).await,
        _ => Err(super::ext::nosuchname(name)),
    }
}

// ----- commands -----

/// The body of one of this module's commands.
pub(crate) async fn cmd_body(runt: &Arc<Runt>, name: &str, opts: &Opts) -> RResult<Body> {
    if let Some(mesg) = deprecation(name) {
        runt.shared.warnonce(&mesg).await;
    }
    let text = |key: &str| opt(opts, key).to_str();
    let mut out = Vec::new();
    match name {
        "ps.list" => {
            let core = cortex(runt)?;
            let verbose = opt(opts, "verbose").truthy();
            let tasks = visible_tasks(runt, &core);
            for task in &tasks {
                out.extend(task_lines(task, false, verbose));
            }
            out.push(format!("{} tasks found.", tasks.len()));
        }
        "ps.kill" => {
            super::ext::req_not_readonly(runt, "$lib.ps.kill")?;
            let core = cortex(runt)?;
            let kild = ps_kill(runt, &core, &text("iden")?).await?;
            out.push(format!("kill status: {}", kild));
        }
        "task.list" => {
            let core = cortex(runt)?;
            let verbose = opt(opts, "verbose").truthy();
            let tasks = visible_tasks(runt, &core);
            for task in &tasks {
                out.extend(task_lines(task, true, verbose));
            }
            out.push(if tasks.len() == 1 {
                "1 task found.".to_owned()
            } else {
                format!("{} tasks found.", tasks.len())
            });
        }
        "task.kill" => {
            super::ext::req_not_readonly(runt, "$lib.task.kill")?;
            let core = cortex(runt)?;
            let kild = task_kill(runt, &core, &text("iden")?).await?;
            out.push(format!("kill status: {}", kild));
        }
        "view.add" => {
            super::ext::req_not_readonly(runt, "$lib.view.add")?;
            let layers = opt(opts, "layers").clone();
            let vname = match opt(opts, "name") {
                Val::Null => None,
                v => Some(v.to_str()?),
            };
            let wr = opt(opts, "worldreadable").truthy();
            let view = view_add(runt, &layers, vname, wr).await?;
            out.push(view_repr(&view));
            out.push("View added.".to_owned());
        }
        "view.del" => {
            super::ext::req_not_readonly(runt, "$lib.view.del")?;
            let iden = text("iden")?;
            view_del(runt, &iden).await?;
            out.push(format!("View deleted: {iden}"));
        }
        "view.set" => {
            let view = view_get(runt, opt(opts, "iden"))?;
            let args = [opt(opts, "name").clone(), opt(opts, "valu").clone()];
            super::typesmore::view_method(runt, &view, "set", &args, &[]).await?;
            out.push(view_repr(&view));
            out.push("View updated.".to_owned());
        }
        "layer.add" => {
            super::ext::req_not_readonly(runt, "$lib.layer.add")?;
            let mut ldef = IndexMap::new();
            for (k, v) in opts.iter() {
                ldef.insert(str_key(k), v.clone());
            }
            let layer = layer_add(runt, &new_dict(ldef)).await?;
            out.push(layer_repr(&layer));
            out.push("Layer added.".to_owned());
        }
        "layer.set" => {
            let layer = layer_get(runt, opt(opts, "iden"))?;
            layer_set(runt, &layer, &text("name")?, opt(opts, "valu")).await?;
            out.push(layer_repr(&layer));
            out.push("Layer updated.".to_owned());
        }
        "layer.del" => {
            super::ext::req_not_readonly(runt, "$lib.layer.del")?;
            let iden = text("iden")?;
            layer_del(runt, &iden).await?;
            out.push(format!("Layer deleted: {iden}"));
        }
        "model.edge.set" => {
            let (verb, key) = (text("verb")?, text("key")?);
            edge_set(runt, &verb, &key, &text("valu")?).await?;
            out.push(format!("Set edge key: verb={verb} key={key}"));
        }
        "model.edge.get" => {
            let verb = text("verb")?;
            req_verb(runt, &verb).await?;
            let info = cortex(runt)?.edge_verb_info(&verb);
            if info.is_empty() {
                out.push(format!("verb={verb} contains no key-value pairs."));
            } else {
                out.push(format!("verb = {verb}"));
                for (key, valu) in info {
                    out.push(format!(
                        "    {key} = {}",
                        Val::from_msgpack(&valu).to_str()?
                    ));
                }
            }
        }
        "model.edge.del" => {
            let (verb, key) = (text("verb")?, text("key")?);
            edge_del(runt, &verb, &key).await?;
            out.push(format!("Deleted edge key: verb={verb} key={key}"));
        }
        "model.edge.list" => {
            let verbs = edge_list(runt).await?;
            if verbs.is_empty() {
                out.push("No edge verbs found in the current view.".to_owned());
            } else {
                out.push("\nname       doc".to_owned());
                out.push("----       ---".to_owned());
                for (verb, info) in verbs {
                    let doc = info
                        .iter()
                        .find(|(k, _)| k == "doc")
                        .map(|(_, v)| Val::from_msgpack(v).to_str())
                        .transpose()?
                        .unwrap_or_default();
                    out.push(format!("{verb:<10} {doc}"));
                }
                out.push(String::new());
            }
        }
        "model.deprecated.lock" => {
            let lname = text("name")?;
            if opt(opts, "unlock").truthy() {
                runt.shared.print(&format!("Unlocking: {lname}")).await;
                depr_lock(runt, &lname, false).await?;
            } else if lname == "*" {
                runt.shared
                    .print("Locking all deprecated model elements.")
                    .await;
                for (name, locked) in cortex(runt)?.depr_locks() {
                    if !locked {
                        depr_lock(runt, &name, true).await?;
                    }
                }
            } else {
                runt.shared.print(&format!("Locking: {lname}")).await;
                depr_lock(runt, &lname, true).await?;
            }
        }
        "model.deprecated.locks" => {
            let mut locks = cortex(runt)?.depr_locks();
            if locks.is_empty() {
                out.push("No deprecated locks found.".to_owned());
            } else {
                out.push("Lock status for deprecated forms/props:".to_owned());
                locks.sort();
                for (name, locked) in locks {
                    out.push(format!("{name}: {}", locked));
                }
            }
        }
        "model.deprecated.check" => return deprecated_check(runt).await,
        "auth.perms.list" => {
            let find = match opt(opts, "find") {
                Val::Null => None,
                v => Some(v.to_str()?),
            };
            let core = cortex(runt)?;
            out = perms_list(&core, find.as_deref().filter(|f| !f.is_empty()));
        }
        "auth.user.allowed" => {
            let core = cortex(runt)?;
            let uname = text("username")?;
            let Some(user) = core.cell().auth().user_by_name(&uname) else {
                return Ok(Body::exit(format!("No user named: {uname}")));
            };
            let perm: Vec<String> = text("permname")?.split('.').map(str::to_owned).collect();
            let gate = match opt(opts, "gate") {
                Val::Null => None,
                v => Some(v.to_str()?),
            };
            let (allow, reason) = allowed_reason(&core, &user, &perm, gate.as_deref());
            let allow = match allow {
                Some(b) => b.to_string(),
                None => "$lib.null".to_owned(),
            };
            out.push(format!("allowed: {allow} - {reason}"));
        }
        "index.count.prop" => {
            let prop = text("prop")?;
            let valu = match opts.get("value") {
                None | Some(Val::Undef) => None,
                Some(v) => Some(v.clone()),
            };
            let widths = [Some(12), Some(32), None];
            runt.shared
                .print(&tab_header(&["Count", "Layer Iden", "Layer Name"], &widths))
                .await;
            let mut total = 0;
            for layer in runt.view.layers() {
                let n = prop_count(runt, &layer, &prop, valu.as_ref()).await?;
                total += n;
                let lname = layer.def().name.unwrap_or_else(|| "None".to_owned());
                runt.shared
                    .print(&tab_row(&[n.to_string(), layer.iden(), lname], &widths))
                    .await;
            }
            out.push(format!("Total: {total}"));
        }
        "feed.list" => {
            out.push("Storm feed list:".to_owned());
            let funcs = crate::cortex::info_feed_funcs();
            for func in funcs.as_array().into_iter().flatten() {
                let text = |key: &str| {
                    crate::layer::map_get(func, key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                out.push(format!("    ({:<30}): {}", text("name"), text("desc")));
            }
        }
        "dmon.list" => return super::dmon::list_cmd(runt),
        other => return Err(super::ext::nosuchname(other)),
    }
    Ok(Body::lines(out))
}

/// The warning of a deprecated command.
fn deprecation(name: &str) -> Option<String> {
    let defs: serde_json::Value = serde_json::from_str(CMDDEFS).ok()?;
    defs.as_array()?
        .iter()
        .find(|d| d["name"] == name)?
        .get("deprecated")?
        .as_str()
        .map(str::to_owned)
}

/// `model.deprecated.check`.
async fn deprecated_check(runt: &Arc<Runt>) -> RResult<Body> {
    let core = cortex(runt)?;
    let shared = &runt.shared;
    let mut ok = true;
    shared
        .print("Checking the cortex for model flag day readiness...")
        .await;
    let locks = core.depr_locks();
    shared.print("Checking deprecated model locks:").await;
    for (name, locked) in &locks {
        if *locked {
            shared.print(&format!("{name} is locked")).await;
        } else {
            shared
                .warn(&format!("{name} is not yet locked"), Vec::new())
                .await;
            ok = false;
        }
    }
    shared
        .print("Checking for existence of deprecated model elements:")
        .await;
    for (name, _) in &locks {
        shared.print(&format!("{name}...")).await;
        for layer in runt.shared.core.views().layers() {
            if prop_count(runt, &layer, name, None).await? > 0 {
                shared
                    .warn(
                        &format!("Layer {} still contains {name}", layer.iden()),
                        Vec::new(),
                    )
                    .await;
                ok = false;
            }
        }
    }
    if ok {
        shared
            .print("Congrats! Your Cortex is fully future-model compliant!")
            .await;
    } else {
        shared
            .print("Your cortex contains deprecated model elements.")
            .await;
    }
    Ok(Body::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pprint.pformat()` of task infos, as Python 3.11 prints them.
    #[test]
    fn pformat_matches_python() {
        type Case = (Vec<(&'static str, &'static str)>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                vec![
                    ("query", "ps.list"),
                    ("view", "0123456789abcdef0123456789abcdef"),
                ],
                vec!["{'query': 'ps.list', 'view': '0123456789abcdef0123456789abcdef'}"],
            ),
            (
                vec![
                    (
                        "query",
                        "[ inet:ipv4=1.2.3.4 :asn=10 +(refs)> { [ inet:fqdn=woot.com ] } ]",
                    ),
                    ("view", "0123456789abcdef0123456789abcdef"),
                ],
                vec![
                    "{'query': '[ inet:ipv4=1.2.3.4 :asn=10 +(refs)> { [ inet:fqdn=woot.com ] } ]',",
                    " 'view': '0123456789abcdef0123456789abcdef'}",
                ],
            ),
            (
                vec![
                    (
                        "query",
                        "for $x in $lib.range(10) { [ inet:fqdn=$lib.str.format(\"{x}.example.com\", x=$x) +#some.long.tag.name ] } | count | spin",
                    ),
                    ("view", "0123456789abcdef0123456789abcdef"),
                ],
                vec![
                    "{'query': 'for $x in $lib.range(10) { [ '",
                    "          'inet:fqdn=$lib.str.format(\"{x}.example.com\", x=$x) '",
                    "          '+#some.long.tag.name ] } | count | spin',",
                    " 'view': '0123456789abcdef0123456789abcdef'}",
                ],
            ),
            (
                vec![
                    ("view", "0123456789abcdef0123456789abcdef"),
                    (
                        "query",
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    ),
                ],
                vec![
                    "{'query': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',",
                    " 'view': '0123456789abcdef0123456789abcdef'}",
                ],
            ),
            (
                vec![
                    (
                        "query",
                        "line one is here\n  and line two is a bit longer than the other one so it wraps around ok\n",
                    ),
                    ("view", "0123456789abcdef0123456789abcdef"),
                ],
                vec![
                    "{'query': 'line one is here\\n'",
                    "          '  and line two is a bit longer than the other one so it wraps '",
                    "          'around ok\\n',",
                    " 'view': '0123456789abcdef0123456789abcdef'}",
                ],
            ),
        ];
        for (items, want) in cases {
            let dict = new_dict(
                items
                    .iter()
                    .map(|(k, v)| (str_key(k), Val::from(*v)))
                    .collect(),
            );
            assert_eq!(pformat(&dict), want);
        }
    }

    #[test]
    fn pprint_clamps_long_lines() {
        let dict = new_dict(
            [(str_key("query"), Val::from("x".repeat(200).as_str()))]
                .into_iter()
                .collect(),
        );
        let lines = pprint_lines(&dict, Some(120));
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].chars().count(), 120);
        assert!(lines[0].starts_with("    {'query': 'xxx") && lines[0].ends_with("x..."));
        assert_eq!(pprint_lines(&dict, None)[0].chars().count(), 4 + 200 + 13);
    }
}
