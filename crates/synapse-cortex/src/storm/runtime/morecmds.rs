//! More built-in commands: `stats.countby`, the view and layer commands, `diff`, `merge`,
//! `note.add`, `tree`, `divert`, `once`, `tag.prune` (and the entry of `graph`).
//!
//! The view, layer and note commands are written in Storm by the reference; here they are
//! native, with the same printed text, permission checks and errors.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::{self, ItemStream};
use super::runt::{GenItem, Item, Runt, Shared};
use super::value::Val;
use crate::layer::Layer;
use crate::layer::Sode;
use crate::nodeedit::{Buid, EditMeta, EditOp, NodeEdit, TagIval};
use crate::view::View;

/// The commands of this module.
const NAMES: &[&str] = &[
    "stats.countby",
    "view.list",
    "view.get",
    "view.fork",
    "view.merge",
    "view.exec",
    "layer.list",
    "layer.get",
    "diff",
    "merge",
    "note.add",
    "tree",
    "divert",
    "uptime",
    "runas",
    "once",
    "tag.prune",
    "graph",
];

/// Whether this module runs the command.
pub(crate) fn handles(name: &str) -> bool {
    NAMES.contains(&name)
}

fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

/// Run one of this module's commands over its input.
pub(crate) fn run(
    runt: &Arc<Runt>,
    name: &str,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    match name {
        "stats.countby" => countby(runt, runtsafe, input),
        "view.exec" => view_exec(runt, runtsafe, idle, input),
        "diff" => diff(runt, idle, input),
        "merge" => merge(runt, idle, input),
        "note.add" => note_add(runt, idle, input),
        "tree" => tree(runt, runtsafe, input),
        "divert" => divert(runt, idle, input),
        "runas" => runas(runt, runtsafe, idle, input),
        "once" => once(runt, input),
        "tag.prune" => tag_prune(runt, input),
        "graph" => super::graph::command(runt, runtsafe, input),
        other => per_node(runt, other.to_owned(), idle, input),
    }
}

// ----- once -----

/// Pass each node only the first time it comes through `once NAME` (or again when its
/// last pass is older than `--asof`); the pass is recorded as node data `once:NAME`.
fn once(runt: Arc<Runt>, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            let tick = crate::model::time::now();
            let name = opt(&opts, "name").to_str()?;
            let key = format!("once:{name}");
            let envl = runt.view.get_data(item.node.buid, &key).await.map_err(Flow::from)?;
            // a node passes when it has no record, or one older than `--asof`; an old record
            // without a tick is stamped but still filtered
            let (pass, stamp) = match envl {
                None => (true, true),
                Some(envl) => {
                    let last = match &envl {
                        Value::Map(kv) => kv
                            .iter()
                            .find(|(k, _)| k.as_str() == Some("tick"))
                            .and_then(|(_, v)| v.as_i64()),
                        _ => None,
                    };
                    let asof = match opt(&opts, "asof") {
                        Val::Null => None,
                        v => Some(v.to_int()?),
                    };
                    let pass = matches!((last, asof), (Some(last), Some(asof)) if i128::from(last) <= asof);
                    (pass, pass || last.is_none())
                }
            };
            if stamp {
                let tick = Value::Map(vec![(Value::from("tick"), Value::from(tick))]);
                let mut editor = runt.shared.editor.lock().await;
                editor.set_data(&item.node.buid, &key, &tick).await.map_err(Flow::from)?;
                runt.flush(&mut editor).await?;
            }
            if !pass {
                continue;
            }
            yield item;
        }
    }
    .boxed()
}

// ----- tag.prune -----

/// Delete the named tags from each node, and every parent tag left without children.
fn tag_prune(runt: Arc<Runt>, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        let mut confirmed: std::collections::HashSet<String> = Default::default();
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            let tags = tag_args(opt(&opts, "tags"))?;
            for tag in &tags {
                let root = tag.split('.').next().unwrap_or_default().to_owned();
                if confirmed.insert(root.clone()) {
                    runt.layer_confirm(&["node", "tag", "del", &root])?;
                }
            }
            let buid = item.node.buid;
            let mut editor = runt.shared.editor.lock().await;
            for tag in &tags {
                editor.del_tag(&buid, tag).await.map_err(Flow::from)?;
                // parents, deepest first, until one still has other children
                let parts: Vec<&str> = tag.split('.').collect();
                for depth in (1..parts.len()).rev() {
                    let parent = parts[..depth].join(".");
                    let pref = format!("{parent}.");
                    let node = editor.node(&buid).await.map_err(Flow::from)?;
                    let has_children = node
                        .as_ref()
                        .is_some_and(|n| n.tags.iter().any(|(t, _)| t.starts_with(&pref)));
                    if has_children {
                        break;
                    }
                    editor.del_tag(&buid, &parent).await.map_err(Flow::from)?;
                }
            }
            runt.flush(&mut editor).await?;
            let node = editor.node(&buid).await.map_err(Flow::from)?;
            drop(editor);
            let mut item = item;
            if let Some(node) = node {
                item.node = Arc::new(node);
            }
            yield item;
        }
    }
    .boxed()
}

fn tag_args(valu: &Val) -> RResult<Vec<String>> {
    match valu {
        Val::List(l) => super::value::lock(l).iter().map(Val::to_str).collect(),
        Val::Null => Ok(Vec::new()),
        other => Ok(vec![other.to_str()?]),
    }
}

// ----- stats.countby -----

/// Sort key of `--by-name`: numbers numerically first, then the other names by text.
fn name_key(name: &str) -> (u8, f64, String) {
    match name.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => (0, f, String::new()),
        _ => (1, 0.0, name.to_owned()),
    }
}

fn countby(runt: Arc<Runt>, runtsafe: bool, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        let mut counts: indexmap::IndexMap<String, u64> = indexmap::IndexMap::new();
        let mut last: Option<Arc<Opts>> = None;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            if opt(&opts, "yieldnodes").truthy() {
                yield item.clone();
            }
            // without a value (parsed as null, and then runtime-safe) the node's repr is
            // counted; a per-node value that is null counts as "None"
            let valu = match opts.get("valu") {
                None => super::value::node_repr(&item.node),
                Some(Val::Null) if runtsafe => super::value::node_repr(&item.node),
                Some(v) => {
                    if v.is_mutable() {
                        Err(badarg("Mutable values cannot be used for counting."))?;
                    }
                    v.to_str()?
                }
            };
            *counts.entry(valu).or_insert(0) += 1;
            last = Some(opts);
        }
        let Some(opts) = last else {
            runt.shared.print("No values to display!").await;
            return;
        };
        let labelwidth = match opt(&opts, "label_max_width") {
            Val::Null => None,
            v => Some(v.to_int()?),
        };
        if let Some(w) = labelwidth && w < 0 {
            Err(badarg(format!("Value for --label-max-width must be >= 0, got: {w}")))?;
        }
        let barwidth = opt(&opts, "bar_width").to_int()?;
        if barwidth < 0 {
            Err(badarg(format!("Value for --bar-width must be >= 0, got: {barwidth}")))?;
        }
        let mut values: Vec<(String, u64)> = counts.into_iter().collect();
        // percentages are of every counted value, not only of the shown ones
        let total: u64 = values.iter().map(|v| v.1).sum::<u64>().max(1);
        if opt(&opts, "by_name").truthy() {
            values.sort_by(|a, b| {
                let (ka, kb) = (name_key(&a.0), name_key(&b.0));
                ka.0.cmp(&kb.0)
                    .then(ka.1.total_cmp(&kb.1))
                    .then(ka.2.cmp(&kb.2))
            });
        } else {
            values.sort_by_key(|v| v.1);
        }
        let maxv = values.iter().map(|v| v.1).max().unwrap_or(1);
        let size = match opt(&opts, "size") {
            Val::Null => 0,
            v => v.to_int()?,
        };
        let chars = opt(&opts, "char").to_str()?;
        let Some(barchar) = chars.chars().next() else {
            Err(badarg("Value for --char must not be empty."))?;
            return;
        };
        let reverse = opt(&opts, "reverse").truthy();
        if size > 0 {
            let size = (size as usize).min(values.len());
            if reverse {
                values.truncate(size);
            } else {
                values.drain(..values.len() - size);
            }
        }
        if !reverse {
            values.reverse();
        }
        let percent = opt(&opts, "percent").truthy();
        let pcts: HashMap<String, String> = values
            .iter()
            .map(|(n, c)| (n.clone(), format!("{:.2}%", (*c as f64 / total as f64) * 100.0)))
            .collect();
        let mut namewidth = values.iter().map(|v| v.0.chars().count()).max().unwrap_or(0);
        let countwidth = values.iter().map(|v| v.1.to_string().len()).max().unwrap_or(0);
        let pctwidth = pcts.values().map(String::len).max().unwrap_or(0);
        if let Some(w) = labelwidth {
            namewidth = namewidth.min(w as usize);
        }
        for (name, count) in &values {
            let barsize = ((*count as f64 / maxv as f64) * barwidth as f64) as usize;
            let bar: String = std::iter::repeat_n(barchar, barsize).collect();
            let label: String = name.chars().take(namewidth).collect();
            let line = if percent {
                format!("{label:>namewidth$} | {count:>countwidth$} | {:>pctwidth$} | {bar}", pcts[name])
            } else {
                format!("{label:>namewidth$} | {count:>countwidth$} | {bar}")
            };
            runt.shared.print(&line).await;
        }
    }
    .boxed()
}

// ----- commands the reference writes in Storm: run once per node, or once without nodes -----

fn per_node(
    runt: Arc<Runt>,
    name: String,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let mut seen = false;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            seen = true;
            // the reference's Storm bodies of the list commands are `for` loops, which pass
            // the inbound node on once per iteration
            let times = pure_body(&runt, &name, &opts).await?;
            for _ in 0..times {
                yield item.clone();
            }
        }
        if !seen {
            // without inbound nodes the reference's Storm body runs once
            if let Some(opts) = idle {
                pure_body(&runt, &name, &opts).await?;
            }
        }
    }
    .boxed()
}

fn no_such_view(iden: &str) -> Flow {
    Flow::Err(StormError::new("NoSuchView", format!("No such view iden={iden}")).with("iden", iden))
}

fn pyname(v: Option<&str>) -> String {
    v.unwrap_or("unnamed").to_owned()
}

fn pybool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn layer_repr(layer: &Layer) -> String {
    let def = layer.def();
    format!(
        "Layer: {} (name: {}) readonly: {} creator: {}",
        def.iden,
        pyname(def.name.as_deref()),
        pybool(def.readonly),
        def.creator
    )
}

fn view_repr(view: &View) -> String {
    let def = view.def();
    let mut lines = vec![
        format!("View: {} (name: {})", def.iden, pyname(def.name.as_deref())),
        format!("  Creator: {}", def.creator),
        "  Layers:".to_owned(),
    ];
    for layer in view.layers() {
        let ldef = layer.def();
        lines.push(format!(
            "    {}: {} readonly: {}",
            ldef.iden,
            pyname(ldef.name.as_deref()),
            pybool(ldef.readonly)
        ));
    }
    lines.join("\n")
}

/// `$lib.view.get(iden)`: the view (the runtime's one without an iden), `view.read` checked.
fn get_view(runt: &Runt, iden: &Val) -> RResult<View> {
    let view = match iden {
        Val::Null => runt.view.clone(),
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

fn get_layer(runt: &Runt, iden: &Val) -> RResult<Layer> {
    let layer = match iden {
        Val::Null => runt.view.write_layer(),
        v => {
            let iden = v.to_str()?;
            runt.shared.core.views().layer(&iden).ok_or_else(|| {
                Flow::Err(StormError::new(
                    "NoSuchIden",
                    format!("No layer with iden: {iden}"),
                ))
            })?
        }
    };
    runt.confirm(&["layer", "read"], Some((&layer.iden(), "layer")))?;
    Ok(layer)
}

fn is_admin(runt: &Runt) -> bool {
    runt.asroot || runt.shared.user.admin
}

/// Run the body of a command the reference writes in Storm; how many times the inbound
/// node passes on.
async fn pure_body(runt: &Arc<Runt>, name: &str, opts: &Opts) -> RResult<usize> {
    let views = runt.shared.core.views();
    let mut times = 1;
    match name {
        "view.list" => {
            runt.shared.print("").await;
            times = 0;
            for view in views.views() {
                if !runt.allowed(&["view", "read"], Some(&view.iden())) {
                    continue;
                }
                runt.shared.print(&view_repr(&view)).await;
                runt.shared.print("").await;
                times += 1;
            }
        }
        "view.get" => {
            let view = get_view(runt, opt(opts, "iden"))?;
            runt.shared.print(&view_repr(&view)).await;
        }
        "view.fork" => {
            let view = get_view(runt, opt(opts, "iden"))?;
            let fname = match opt(opts, "name") {
                Val::Null => None,
                v => Some(v.to_str()?),
            };
            let fork = fork_view(runt, &view, fname).await?;
            runt.shared.print(&view_repr(&fork)).await;
            let shown = opt(opts, "iden").to_str()?;
            runt.shared
                .print(&format!("View {shown} forked to new view: {}", fork.iden()))
                .await;
        }
        "view.merge" => {
            let view = get_view(runt, opt(opts, "iden"))?;
            let iden = view.iden();
            super::viewmerge::req_no_parent_quorum(runt, &view)?;
            merge_allowed(runt, &view)?;
            let delete = opt(opts, "delete").truthy();
            if delete {
                runt.confirm(&["view", "del"], Some((&iden, "view")))?;
                let layer = view.write_layer().iden();
                runt.confirm(&["layer", "del"], Some((&layer, "layer")))?;
            } else if !is_admin(runt) {
                return Err(Flow::Err(
                    StormError::new("AuthDeny", "User is not an admin.")
                        .with("user", runt.shared.user.iden.as_str())
                        .with("username", runt.shared.user.name.as_str()),
                ));
            }
            views
                .merge(&iden, &runt.shared.user.iden, false)
                .await
                .map_err(Flow::from)?;
            if delete {
                let layer = view.write_layer().iden();
                runt.shared.core.host.del_view(&iden).await?;
                runt.shared.core.host.del_layer(&layer).await?;
            } else {
                // the reference swaps in a fresh layer; emptying the merged one leaves the
                // view in the same state (same layer iden)
                wipe_layer(&view.write_layer(), &runt.shared.user.iden).await?;
            }
            let shown = opt(opts, "iden").to_str()?;
            runt.shared.print(&format!("View merged: {shown}")).await;
        }
        "layer.list" => {
            runt.shared.print("Layers:").await;
            times = 0;
            for layer in views.layers() {
                if !runt.allowed(&["layer", "read"], Some(&layer.iden())) {
                    continue;
                }
                runt.shared.print(&layer_repr(&layer)).await;
                times += 1;
            }
        }
        "layer.get" => {
            let layer = get_layer(runt, opt(opts, "iden"))?;
            runt.shared.print(&layer_repr(&layer)).await;
        }
        "uptime" => {
            if let Val::Str(name) = opt(opts, "name") {
                // no Storm services are connected to this cortex
                return Err(Flow::Err(StormError::new(
                    "NoSuchName",
                    format!("No service with name/iden: {name}"),
                )));
            }
            let started = runt.shared.core.started_ms();
            let up = (synapse_base::now_ms() - started).max(0);
            let since = crate::model::time::repr(started);
            // the reference prints the start time with "%Y-%m-%d %H:%M:%S"
            let since: String = since.replacen('/', "-", 2).chars().take(19).collect();
            runt.shared
                .print(&format!("up {} (since {since})", duration_repr(up)))
                .await;
        }
        other => return Err(rterr(format!("Storm command ({other}) not implemented."))),
    }
    Ok(times)
}

/// The `duration` type's repr: `[<days>D ]HH:MM:SS.mmm`.
fn duration_repr(ms: i64) -> String {
    let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
    let (hours, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (mins, rem) = (rem / 60_000, rem % 60_000);
    let (secs, millis) = (rem / 1000, rem % 1000);
    let mut out = String::new();
    if days != 0 {
        out.push_str(&format!("{days}D "));
    }
    out.push_str(&format!("{hours:02}:{mins:02}:{secs:02}.{millis:03}"));
    out
}

/// `$view.fork(name=)`: a new view over a new layer on top of the view's layers.
pub(crate) async fn fork_view(runt: &Runt, view: &View, name: Option<String>) -> RResult<View> {
    let iden = view.iden();
    runt.confirm(&["view", "add"], None)?;
    runt.confirm(&["view", "read"], Some((&iden, "view")))?;
    runt.confirm(&["view", "fork"], Some((&iden, "view")))?;
    let fork = runt
        .shared
        .core
        .host
        .fork_view(&iden, name, &runt.shared.user.iden)
        .await?;
    runt.shared
        .core
        .views()
        .view(&fork)
        .ok_or_else(|| no_such_view(&fork))
}

/// The reference's `View.mergeAllowed` for a non-admin: edit permissions on the parent's
/// write layer.
fn merge_allowed(runt: &Runt, view: &View) -> RResult<()> {
    if is_admin(runt) {
        return Ok(());
    }
    let Some(parent) = view.def().parent else {
        return Ok(());
    };
    let Some(parent) = runt.shared.core.views().view(&parent) else {
        return Ok(());
    };
    let layer = parent.write_layer().iden();
    if runt.allowed(&["node"], Some(&layer)) {
        return Ok(());
    }
    Err(Flow::Err(
        runt.shared.user.deny(&["node"], Some((&layer, "layer"))),
    ))
}

pub(crate) async fn wipe_layer(layer: &Layer, user: &str) -> RResult<()> {
    let mut edits = layer.wipe_edits();
    let mut batch = Vec::new();
    while let Some(edit) = edits.next().await {
        batch.push(edit.map_err(|e| Flow::from(crate::view::Error::from(e)))?);
        if batch.len() >= 100 {
            layer
                .apply(std::mem::take(&mut batch), EditMeta::now(user))
                .await
                .map_err(|e| Flow::from(crate::view::Error::from(e)))?;
        }
    }
    if !batch.is_empty() {
        layer
            .apply(batch, EditMeta::now(user))
            .await
            .map_err(|e| Flow::from(crate::view::Error::from(e)))?;
    }
    Ok(())
}

// ----- view.exec -----

/// Run a query in a view as a user with the given variables; only its print and warn
/// messages reach the client and its nodes are dropped.
async fn exec_sub(
    runt: &Arc<Runt>,
    view: View,
    user: super::super::runtime::StormUser,
    asroot: bool,
    text: &str,
    vars: Vec<(String, Val)>,
) -> RResult<()> {
    let parsed = super::super::runtime::parse(text, "storm").map_err(Flow::Err)?;
    let super::super::runtime::Parsed::Query(query) = &parsed else {
        return Ok(());
    };
    let mut opts = runt.shared.opts.clone();
    opts.show = Some(vec!["print".into(), "warn".into()]);
    opts.view = Some(view.iden());
    opts.vars = Vec::new();
    opts.idens = Vec::new();
    opts.ndefs = Vec::new();
    opts.sudo = asroot;
    let meta = EditMeta::now(user.iden.clone());
    let mut editor = view.editor(meta, crate::view::AllowAll::arc());
    editor.set_deferred_commit(true);
    let shared = Arc::new(Shared {
        core: Arc::clone(&runt.shared.core),
        user,
        view,
        opts,
        sink: runt.shared.sink.clone(),
        editor: tokio::sync::Mutex::new(editor),
        warned: std::sync::Mutex::new(Default::default()),
        links: runt.shared.links,
        pathnodes: runt.shared.pathnodes,
        edits: Default::default(),
        graph: Default::default(),
        nodedata: Default::default(),
    });
    let names: Vec<String> = vars.iter().map(|(k, _)| k.clone()).collect();
    let subr = exec::root_runtime(&shared, text, vars, &parsed)?;
    let plan = exec::plan_query(text, query, names, Vec::new())?;
    let mut out = exec::run_pipeline(&subr, &plan.root, exec::empty());
    while let Some(i) = out.next().await {
        i?;
    }
    Ok(())
}

/// Run a query in another view as the same user.
async fn exec_in_view(
    runt: &Arc<Runt>,
    view: View,
    text: &str,
    vars: Vec<(String, Val)>,
) -> RResult<()> {
    let user = runt.shared.user.clone();
    exec_sub(runt, view, user, runt.asroot, text, vars).await
}

// ----- runas -----

fn runas(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        if !is_admin(&runt) {
            Err(Flow::Err(StormError::new("AuthDeny", "The runas command requires admin privileges.")
                .with("user", runt.shared.user.iden.as_str())
                .with("username", runt.shared.user.name.as_str())))?;
        }
        let mut seen = false;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            seen = true;
            let name = opt(&opts, "user").to_str()?;
            let text = opt(&opts, "storm").to_str()?;
            let user = runt.shared.core.host.user_by_name_or_iden(&name)?;
            let asroot = opt(&opts, "asroot").truthy() && runt.asroot;
            let mut vars = runt.scope_vars();
            vars.extend(item.path.vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
            exec_sub(&runt, runt.view.clone(), user, asroot, &text, vars).await?;
            yield item;
        }
        if !seen && runtsafe
            && let Some(opts) = idle
        {
            let name = opt(&opts, "user").to_str()?;
            let text = opt(&opts, "storm").to_str()?;
            let user = runt.shared.core.host.user_by_name_or_iden(&name)?;
            let asroot = opt(&opts, "asroot").truthy() && runt.asroot;
            exec_sub(&runt, runt.view.clone(), user, asroot, &text, runt.scope_vars()).await?;
        }
    }
    .boxed()
}

fn view_exec(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let mut seen = false;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            seen = true;
            let iden = opt(&opts, "view").to_str()?;
            let text = opt(&opts, "storm").to_str()?;
            let view = runt.shared.core.views().view(&iden).ok_or_else(|| no_such_view(&iden))?;
            runt.confirm(&["view", "read"], Some((&iden, "view")))?;
            let mut vars = runt.scope_vars();
            vars.extend(item.path.vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
            exec_in_view(&runt, view, &text, vars).await?;
            yield item;
        }
        if !seen && runtsafe
            && let Some(opts) = idle
        {
            let iden = opt(&opts, "view").to_str()?;
            let text = opt(&opts, "storm").to_str()?;
            let view = runt.shared.core.views().view(&iden).ok_or_else(|| no_such_view(&iden))?;
            runt.confirm(&["view", "read"], Some((&iden, "view")))?;
            exec_in_view(&runt, view, &text, runt.scope_vars()).await?;
        }
    }
    .boxed()
}

// ----- diff -----

fn diff(runt: Arc<Runt>, idle: Option<Arc<Opts>>, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        if runt.view.def().parent.is_none() {
            Err(rterr("You may only generate a diff in a forked view."))?;
        }
        let mut last: Option<Arc<Opts>> = None;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            last = Some(opts);
            yield item;
        }
        let opts = match last {
            Some(o) => o,
            None => match idle {
                Some(o) => o,
                None => return,
            },
        };
        let tagarg = opt(&opts, "tag");
        let proparg = opt(&opts, "prop");
        let hastags = match tagarg {
            Val::Null => false,
            v => v.truthy(),
        };
        if hastags && proparg.truthy() {
            Err(rterr("You may specify --tag *or* --prop but not both."))?;
        }
        enum Want {
            All,
            Tags(Vec<String>),
            Form(String),
            Prop(Option<String>, String),
        }
        let want = if hastags {
            let mut tags = Vec::new();
            for t in tagarg.seq_items().unwrap_or_default() {
                match &t {
                    Val::List(_) | Val::Tuple(_) => tags.extend(t.seq_items().unwrap_or_default()),
                    _ => tags.push(t),
                }
            }
            let mut names = Vec::new();
            for t in tags {
                match t {
                    Val::Str(s) => names.push(s.to_string()),
                    other => Err(badarg(format!("diff --tag arguments must be strings, got {}.", other.typename())))?,
                }
            }
            Want::Tags(names)
        } else if proparg.truthy() {
            let name = proparg.to_str()?;
            let model = runt.model();
            if model.form(&name).is_some() {
                Want::Form(name)
            } else {
                match model.prop(&name) {
                    None => {
                        Err(Flow::Err(StormError::new("NoSuchProp", format!("The property {name} does not exist."))))?;
                        return;
                    }
                    Some(p) if p.is_univ() => Want::Prop(None, p.name().to_owned()),
                    Some(p) => Want::Prop(p.form().map(|f| f.name().to_owned()), p.name().to_owned()),
                }
            }
        } else {
            Want::All
        };
        let mut sodes = runt.view.write_layer().sodes();
        while let Some(x) = sodes.next().await {
            let (buid, sode) = x.map_err(|e| Flow::from(crate::view::Error::from(e)))?;
            let hit = match &want {
                Want::All => true,
                Want::Tags(tags) => tags.iter().any(|t| sode.tag(t).is_some()),
                Want::Form(form) => sode.valu.is_some() && sode.form.as_deref() == Some(form.as_str()),
                Want::Prop(form, prop) => {
                    form.as_ref().is_none_or(|f| sode.form.as_deref() == Some(f.as_str()))
                        && sode.prop(prop).is_some()
                }
            };
            if !hit {
                continue;
            }
            if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                let path = runt.init_path(&node);
                yield Item { node: Arc::new(node), path };
            }
        }
    }
    .boxed()
}

// ----- merge -----

/// A tag glob filter: `true` drops the tag.
struct TagFilter {
    globs: Vec<regex::Regex>,
    include: bool,
}

impl TagFilter {
    fn drops(&self, tag: &str) -> bool {
        let hit = self.globs.iter().any(|g| g.is_match(tag));
        if self.include { !hit } else { hit }
    }
}

struct PropFilter {
    names: Vec<String>,
    include: bool,
}

impl PropFilter {
    fn drops(&self, name: &str) -> bool {
        let hit = self.names.iter().any(|n| n == name);
        if self.include { !hit } else { hit }
    }
}

fn str_list(v: &Val) -> RResult<Vec<String>> {
    v.seq_items()
        .unwrap_or_default()
        .iter()
        .map(Val::to_str)
        .collect()
}

pub(crate) fn ival_repr(runt: &Runt, ival: TagIval) -> String {
    let prim = Value::Array(vec![
        ival.0.map(Value::from).unwrap_or(Value::Nil),
        ival.1.map(Value::from).unwrap_or(Value::Nil),
    ]);
    let repr = runt.model().ty("ival").and_then(|t| t.repr(&prim).ok());
    match repr {
        Some(Value::Array(parts)) => {
            let parts: Vec<String> = parts
                .iter()
                .map(|p| match p.as_str() {
                    Some(s) => crate::model::value::py_repr_str(s),
                    None => "None".to_owned(),
                })
                .collect();
            format!("({})", parts.join(", "))
        }
        _ => format!("({:?}, {:?})", ival.0, ival.1),
    }
}

fn val_repr(runt: &Runt, ty: Option<crate::model::Type<'_>>, valu: &Value) -> String {
    let _ = runt;
    match ty.and_then(|t| t.repr(valu).ok()) {
        Some(v) => super::value::repr_text(&v),
        None => super::value::repr_text(valu),
    }
}

#[derive(Clone, Copy)]
struct MergeFlags {
    apply: bool,
    notags: bool,
    onlytags: bool,
    wipe: bool,
}

type MergeSetup = (MergeFlags, Option<TagFilter>, Option<PropFilter>, bool);

/// The flags and filters of a `merge`, with its `--wipe` permission checks.
fn merge_setup(runt: &Runt, layr0: &Layer, opts: &Opts) -> RResult<MergeSetup> {
    let flags = MergeFlags {
        apply: opt(opts, "apply").truthy(),
        notags: opt(opts, "no_tags").truthy(),
        onlytags: opt(opts, "only_tags").truthy(),
        wipe: opt(opts, "wipe").truthy(),
    };
    if flags.wipe {
        if !is_admin(runt) {
            return Err(Flow::Err(
                StormError::new("AuthDeny", "merge --wipe requires view admin")
                    .with("user", runt.shared.user.iden.as_str())
                    .with("username", runt.shared.user.name.as_str()),
            ));
        }
        runt.confirm(&["layer", "del"], Some((&layr0.iden(), "layer")))?;
    }
    let globs = |v: &[String]| v.iter().map(|g| super::cond::tag_glob(g)).collect();
    let inc = str_list(opt(opts, "include_tags"))?;
    let exc = str_list(opt(opts, "exclude_tags"))?;
    let tagf = if !inc.is_empty() {
        Some(TagFilter {
            globs: globs(&inc),
            include: true,
        })
    } else if !exc.is_empty() {
        Some(TagFilter {
            globs: globs(&exc),
            include: false,
        })
    } else {
        None
    };
    let inc = str_list(opt(opts, "include_props"))?;
    let exc = str_list(opt(opts, "exclude_props"))?;
    let propf = if !inc.is_empty() {
        Some(PropFilter {
            names: inc,
            include: true,
        })
    } else if !exc.is_empty() {
        Some(PropFilter {
            names: exc,
            include: false,
        })
    } else {
        None
    };
    Ok((flags, tagf, propf, opt(opts, "diff").truthy()))
}

fn merge(runt: Arc<Runt>, idle: Option<Arc<Opts>>, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        if runt.view.def().parent.is_none() {
            Err(Flow::Err(StormError::new("CantMergeView", "You may only merge nodes in forked views")))?;
        }
        let layers = runt.view.layers();
        let (Some(layr0), Some(layr1)) = (layers.first().cloned(), layers.get(1).cloned()) else {
            return;
        };
        // the options: given once (runtime-safe), else those of the first node
        let mut first: Option<Item> = None;
        let opts = match idle {
            Some(o) => o,
            None => match input.next().await {
                Some(x) => {
                    let (item, o) = x?;
                    first = Some(item);
                    o
                }
                None => return,
            },
        };
        let (flags, tagf, propf, diffmode) = merge_setup(&runt, &layr0, &opts)?;
        if diffmode {
            // with --diff the inbound nodes pass on and the top layer's nodes are merged
            if let Some(item) = first.take() {
                yield item;
            }
            while let Some(x) = input.next().await {
                yield x?.0;
            }
            let mut buids = Vec::new();
            let mut sodes = layr0.sodes();
            while let Some(x) = sodes.next().await {
                buids.push(x.map_err(|e| Flow::from(crate::view::Error::from(e)))?.0);
            }
            for buid in buids {
                let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? else { continue };
                let path = runt.init_path(&node);
                let item = Item { node: Arc::new(node), path };
                if let Some(out) = merge_node(&runt, &layr0, &layr1, item, flags, tagf.as_ref(), propf.as_ref()).await? {
                    yield out;
                }
            }
        } else {
            loop {
                let item = match first.take() {
                    Some(item) => item,
                    None => match input.next().await {
                        Some(x) => x?.0,
                        None => break,
                    },
                };
                if let Some(out) = merge_node(&runt, &layr0, &layr1, item, flags, tagf.as_ref(), propf.as_ref()).await? {
                    yield out;
                }
            }
        }
        if flags.apply && flags.wipe {
            wipe_layer(&layr0, &runt.shared.user.iden).await?;
        }
    }
    .boxed()
}

#[allow(clippy::too_many_arguments)]
async fn merge_node(
    runt: &Arc<Runt>,
    layr0: &Layer,
    layr1: &Layer,
    item: Item,
    flags: MergeFlags,
    tagf: Option<&TagFilter>,
    propf: Option<&PropFilter>,
) -> RResult<Option<Item>> {
    let node = Arc::clone(&item.node);
    let buid = node.buid;
    let iden = node.iden();
    let form = node.form.clone();
    let model = runt.model();
    let sodes = runt.view.get_sodes(buid).await.map_err(Flow::from)?;
    let sode: Sode = sodes.first().cloned().flatten().unwrap_or_default();
    let lower_has_valu = sodes[1.min(sodes.len())..]
        .iter()
        .any(|s| s.as_ref().is_some_and(|s| s.valu.is_some()));
    let istag = form == "syn:tag";
    if istag {
        if flags.notags {
            return Ok(None);
        }
    } else if flags.onlytags && !lower_has_valu {
        return Ok(None);
    }
    let user = runt.shared.user.iden.clone();
    let doperms = flags.apply && !is_admin(runt);
    let (l0, l1) = (layr0.iden(), layr1.iden());
    let gate0 = Some((l0.as_str(), "layer"));
    let gate1 = Some((l1.as_str(), "layer"));
    let formobj = model.form(&form);
    let mut adds: Vec<EditOp> = Vec::new();
    let mut subs: Vec<EditOp> = Vec::new();
    let mut delnode = None;
    let fullnode = !flags.onlytags || istag;
    if doperms {
        if sode.valu.is_some() {
            if !flags.wipe {
                runt.confirm(&["node", "del", &form], gate0)?;
            }
            runt.confirm(&["node", "add", &form], gate1)?;
        }
        for (name, _, _) in &sode.props {
            let full = if name.starts_with('.') {
                name.to_string()
            } else {
                format!("{form}:{name}")
            };
            if !flags.wipe {
                runt.confirm(&["node", "prop", "del", &full], gate0)?;
            }
            runt.confirm(&["node", "prop", "set", &full], gate1)?;
        }
        let tagnames: Vec<&String> = sode
            .tags
            .iter()
            .map(|(t, _)| t)
            .chain(sode.tagprops.iter().map(|(t, _)| t))
            .collect();
        for tag in tagnames {
            let mut perm = vec!["node", "tag", "del"];
            perm.extend(tag.split('.'));
            if !flags.wipe {
                runt.confirm(&perm, gate0)?;
            }
            perm[2] = "add";
            runt.confirm(&perm, gate1)?;
        }
        for (name, _) in layr0
            .data_items(buid)
            .await
            .map_err(|e| Flow::from(crate::view::Error::from(e)))?
        {
            if !flags.wipe {
                runt.confirm(&["node", "data", "pop", &name], gate0)?;
            }
            runt.confirm(&["node", "data", "set", &name], gate1)?;
        }
        for (verb, _) in layer_edges(layr0, buid).await? {
            if !flags.wipe {
                runt.confirm(&["node", "edge", "del", &verb], gate0)?;
            }
            runt.confirm(&["node", "edge", "add", &verb], gate1)?;
        }
    }
    if fullnode {
        if let Some((valu, stortype)) = &sode.valu {
            if istag && tagf.is_some_and(|f| f.drops(valu.as_str().unwrap_or_default())) {
                return Ok(None);
            }
            if flags.apply {
                adds.push(EditOp::NodeAdd {
                    valu: valu.clone(),
                    stortype: *stortype,
                });
                delnode = Some(EditOp::NodeDel {
                    valu: valu.clone(),
                    stortype: *stortype,
                });
            } else {
                let repr = val_repr(runt, formobj.map(|f| f.ty()), valu);
                runt.shared.print(&format!("{iden} {form} = {repr}")).await;
            }
        }
        for (name, valu, stortype) in &sode.props {
            let prop = formobj.and_then(|f| f.prop(name));
            if let Some(pf) = propf {
                let key = if name.starts_with('.') {
                    name.to_string()
                } else {
                    format!("{form}:{name}")
                };
                if pf.drops(&key) {
                    continue;
                }
            }
            if prop.is_some_and(|p| p.is_ro()) {
                if name == ".created" {
                    if flags.apply && sode.valu.is_some() {
                        adds.push(EditOp::PropSet {
                            prop: name.to_string(),
                            valu: valu.clone(),
                            oldv: Value::Nil,
                            stortype: *stortype,
                        });
                        if !flags.wipe {
                            subs.push(EditOp::PropDel {
                                prop: name.to_string(),
                                oldv: valu.clone(),
                                stortype: *stortype,
                            });
                        }
                    }
                    continue;
                }
                let lower = sodes[1.min(sodes.len())..]
                    .iter()
                    .flatten()
                    .find_map(|s| s.prop(name).map(|(v, _)| v.clone()));
                if let Some(curv) = lower
                    && curv != *valu
                {
                    let repr = val_repr(runt, prop.map(|p| p.ty()), &curv);
                    runt.shared.warn(&format!("Cannot merge read only property with conflicting value: {iden} {form}:{name} = {repr}"), Vec::new()).await;
                    continue;
                }
            }
            if flags.apply {
                adds.push(EditOp::PropSet {
                    prop: name.to_string(),
                    valu: valu.clone(),
                    oldv: Value::Nil,
                    stortype: *stortype,
                });
                if !flags.wipe {
                    subs.push(EditOp::PropDel {
                        prop: name.to_string(),
                        oldv: valu.clone(),
                        stortype: *stortype,
                    });
                }
            } else {
                let repr = val_repr(runt, prop.map(|p| p.ty()), valu);
                runt.shared
                    .print(&format!("{iden} {form}:{name} = {repr}"))
                    .await;
            }
        }
    }
    if !flags.notags {
        for (tag, ival) in &sode.tags {
            if tagf.is_some_and(|f| f.drops(tag)) {
                continue;
            }
            if flags.apply {
                adds.push(EditOp::TagSet {
                    tag: tag.to_string(),
                    valu: *ival,
                    oldv: None,
                });
                if !flags.wipe {
                    subs.push(EditOp::TagDel {
                        tag: tag.to_string(),
                        oldv: Some(*ival),
                    });
                }
            } else {
                let repr = if *ival == (None, None) {
                    String::new()
                } else {
                    format!(" = {}", ival_repr(runt, *ival))
                };
                runt.shared
                    .print(&format!("{iden} {form}#{tag}{repr}"))
                    .await;
            }
        }
        for (tag, props) in &sode.tagprops {
            if tagf.is_some_and(|f| f.drops(tag)) {
                continue;
            }
            for (prop, valu, stortype) in props {
                if flags.apply {
                    adds.push(EditOp::TagPropSet {
                        tag: tag.to_string(),
                        prop: prop.to_string(),
                        valu: valu.clone(),
                        oldv: Value::Nil,
                        stortype: *stortype,
                    });
                    if !flags.wipe {
                        subs.push(EditOp::TagPropDel {
                            tag: tag.to_string(),
                            prop: prop.to_string(),
                            oldv: valu.clone(),
                            stortype: *stortype,
                        });
                    }
                } else {
                    let repr = Val::from_msgpack(valu).py_repr();
                    runt.shared
                        .print(&format!("{iden} {form}#{tag}:{prop} = {repr}"))
                        .await;
                }
            }
        }
    }
    if fullnode {
        for (name, valu) in layr0
            .data_items(buid)
            .await
            .map_err(|e| Flow::from(crate::view::Error::from(e)))?
        {
            if flags.apply {
                adds.push(EditOp::NodeDataSet {
                    name: name.clone(),
                    valu: valu.clone(),
                    oldv: Value::Nil,
                });
                if !flags.wipe {
                    subs.push(EditOp::NodeDataDel { name, oldv: valu });
                }
            } else {
                let repr = Val::from_msgpack(&valu).py_repr();
                runt.shared
                    .print(&format!("{iden} {form} DATA {name} = {repr}"))
                    .await;
            }
        }
        for (verb, n2) in layer_edges(layr0, buid).await? {
            if flags.apply {
                adds.push(EditOp::EdgeAdd {
                    verb: verb.clone(),
                    n2,
                });
                if !flags.wipe {
                    subs.push(EditOp::EdgeDel { verb, n2 });
                }
            } else {
                runt.shared
                    .print(&format!("{iden} {form} +({verb})> {}", hex::encode(n2)))
                    .await;
            }
        }
    }
    if flags.apply {
        if let Some(del) = delnode
            && !flags.wipe
        {
            subs.push(del);
        }
        if !adds.is_empty() {
            layr1
                .apply(
                    vec![NodeEdit::new(buid, form.clone(), adds)],
                    EditMeta::now(user.clone()),
                )
                .await
                .map_err(|e| Flow::from(crate::view::Error::from(e)))?;
        }
        if !subs.is_empty() {
            layr0
                .apply(
                    vec![NodeEdit::new(buid, form.clone(), subs)],
                    EditMeta::now(user),
                )
                .await
                .map_err(|e| Flow::from(crate::view::Error::from(e)))?;
        }
        runt.shared.editor.lock().await.reset();
    }
    let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? else {
        return Ok(None);
    };
    Ok(Some(Item {
        node: Arc::new(node),
        path: item.path,
    }))
}

async fn layer_edges(layer: &Layer, buid: Buid) -> RResult<Vec<(String, Buid)>> {
    let mut out = Vec::new();
    let mut resume = None;
    loop {
        let (batch, next, done) = layer
            .scan_edges(crate::layer::EdgeDir::N1, buid, None, resume, 4096)
            .await
            .map_err(|e| Flow::from(crate::view::Error::from(e)))?;
        out.extend(batch);
        if done {
            return Ok(out);
        }
        resume = next;
    }
}

// ----- note.add -----

fn note_add(runt: Arc<Runt>, idle: Option<Arc<Opts>>, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        // the note is made once, first (the reference's `init` block), even without nodes
        let mut note: Option<Arc<crate::node::Node>> = None;
        let mut yieldnote = false;
        if let Some(opts) = &idle {
            yieldnote = opt(opts, "yield").truthy();
            note = Some(make_note(&runt, opts).await?);
        }
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            if note.is_none() {
                yieldnote = opt(&opts, "yield").truthy();
                note = Some(make_note(&runt, &opts).await?);
            }
            let Some(n) = &note else { break };
            runt.layer_confirm(&["node", "edge", "add", "about"])?;
            let mut editor = runt.shared.editor.lock().await;
            editor.add_edge(&n.buid, "about", &item.node.buid).await.map_err(Flow::from)?;
            runt.flush(&mut editor).await?;
            drop(editor);
            if !yieldnote {
                yield item;
            }
        }
        if yieldnote
            && let Some(n) = note
        {
            let node = runt.view.get_node(n.buid).await.map_err(Flow::from)?;
            if let Some(node) = node {
                let path = runt.init_path(&node);
                yield Item { node: Arc::new(node), path };
            }
        }
    }
    .boxed()
}

async fn make_note(runt: &Arc<Runt>, opts: &Opts) -> RResult<Arc<crate::node::Node>> {
    let text = opt(opts, "text").to_str()?;
    let notetype = match opt(opts, "type") {
        Val::Null => None,
        v if !v.truthy() => None,
        v => {
            let ty = runt
                .model()
                .ty("meta:note:type:taxonomy")
                .ok_or_else(|| rterr("no meta:note:type:taxonomy type"))?;
            let (norm, _) = ty.norm(&v.to_msgpack()?)?;
            Some(norm)
        }
    };
    runt.layer_confirm(&["node", "add", "meta:note"])?;
    for p in ["text", "creator", "created", "updated"] {
        runt.layer_confirm(&["node", "prop", "set", "meta:note", p])?;
    }
    if notetype.is_some() {
        runt.layer_confirm(&["node", "prop", "set", "meta:note", "type"])?;
    }
    let guid = synapse_base::guid();
    let mut editor = runt.shared.editor.lock().await;
    let res = async {
        let buid = editor
            .add_node("meta:note", &Value::from(guid.as_str()))
            .await?
            .ok_or_else(|| crate::view::Error::BadArg("meta:note was not created".into()))?;
        let created = match editor
            .node(&buid)
            .await?
            .and_then(|n| n.get(".created").cloned())
        {
            Some(c) => c,
            None => Value::from(synapse_base::now_ms()),
        };
        editor
            .set_prop(&buid, "text", &Value::from(text.as_str()))
            .await?;
        editor
            .set_prop(
                &buid,
                "creator",
                &Value::from(runt.shared.user.iden.as_str()),
            )
            .await?;
        editor.set_prop(&buid, "created", &created).await?;
        editor.set_prop(&buid, "updated", &created).await?;
        if let Some(t) = &notetype {
            editor.set_prop(&buid, "type", t).await?;
        }
        Ok::<_, crate::view::Error>(buid)
    }
    .await;
    let buid = match res {
        Ok(b) => b,
        Err(e) => {
            editor.reset();
            return Err(Flow::from(e));
        }
    };
    runt.flush(&mut editor).await?;
    drop(editor);
    let node = runt
        .view
        .get_node(buid)
        .await
        .map_err(Flow::from)?
        .ok_or_else(|| rterr("meta:note vanished"))?;
    Ok(Arc::new(node))
}

// ----- tree -----

fn tree(runt: Arc<Runt>, runtsafe: bool, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        if !runtsafe {
            Err(rterr("tree query must be runtsafe."))?;
        }
        let mut query = None;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            if query.is_none() {
                let text = opt(&opts, "query").to_str()?;
                query = Some(super::cmds::sub_query(&runt, &text)?);
            }
            let Some((subr, body)) = &query else { break };
            // depth-first: a node, then the tree under each node its query yields
            let mut stack: Vec<(ItemStream, usize)> = Vec::new();
            yield item.clone();
            stack.push((exec::run_pipeline(subr, body, exec::once(item)), 0));
            while let Some((mut genr, depth)) = stack.pop() {
                match genr.next().await {
                    None => continue,
                    Some(next) => {
                        let next = match next {
                            Err(Flow::Err(e)) if e.name == "RecursionLimitHit" => {
                                Err(rterr("tree command exceeded maximum depth"))?;
                                return;
                            }
                            other => other?,
                        };
                        if depth >= super::runt::MAX_DEPTH {
                            Err(rterr("tree command exceeded maximum depth"))?;
                        }
                        stack.push((genr, depth));
                        yield next.clone();
                        stack.push((exec::run_pipeline(subr, body, exec::once(next)), depth + 1));
                    }
                }
            }
        }
    }
    .boxed()
}

// ----- divert -----

fn divert(runt: Arc<Runt>, idle: Option<Arc<Opts>>, mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        let mut seen = false;
        loop {
            let (item, opts) = match input.next().await {
                Some(x) => {
                    let (i, o) = x?;
                    seen = true;
                    (Some(i), o)
                }
                None if !seen => {
                    seen = true;
                    match idle.clone() {
                        Some(o) => (None, o),
                        None => break,
                    }
                }
                None => break,
            };
            let Val::Gen(genr) = opt(&opts, "genr") else {
                Err(badarg("The genr argument must yield nodes"))?;
                return;
            };
            let size = match opt(&opts, "size") {
                Val::Null => None,
                v => Some(v.to_int()?),
            };
            let doyield = opt(&opts, "cond").truthy();
            let stream = genr.stream.lock().await.take();
            let _ = &item;
            let Some(mut stream) = stream else { continue };
            let mut count: i128 = 0;
            while let Some(x) = stream.next().await {
                let x = x?;
                if doyield {
                    match x {
                        GenItem::Item(i) => yield i,
                        GenItem::Val(Val::Node(node)) => {
                            let path = runt.init_path(&node);
                            yield Item { node, path };
                        }
                        GenItem::Val(_) => Err(badarg("The genr argument must yield nodes"))?,
                    }
                }
                count += 1;
                if size.is_some_and(|s| count >= s) {
                    break;
                }
            }
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_repr_matches_the_reference_type() {
        assert_eq!(duration_repr(5123), "00:00:05.123");
        assert_eq!(duration_repr(90_061_001), "1D 01:01:01.001");
        assert_eq!(duration_repr(0), "00:00:00.000");
    }

    #[test]
    fn by_name_keys_put_numbers_first() {
        let mut names = vec!["b", "10", "a", "9", "nan"];
        names.sort_by(|a, b| {
            let (ka, kb) = (name_key(a), name_key(b));
            ka.0.cmp(&kb.0)
                .then(ka.1.total_cmp(&kb.1))
                .then(ka.2.cmp(&kb.2))
        });
        assert_eq!(names, vec!["9", "10", "a", "b", "nan"]);
    }
}
