//! Storm packages in the runtime: `$lib.pkg`, `$lib.import` (a package module run in a module
//! runtime, its variables and functions as the imported library) and pure Storm commands (a
//! command whose body is Storm text, run with `$cmdopts` and `$cmdconf`): the commands of
//! loaded packages and our own (`pkg.*`, `nodes.import`, in `pkgcmds.json`, written by
//! `tests/storm_rt/gen_pkgcmds.py`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError};
use super::exec::{self, ItemStream};
use super::ext::{Args, cell_err, cortex};
use super::runt::{Item, Runt};
use super::value::{Key, Obj, Val, lock, new_dict, new_list};

/// The functions of `$lib.pkg`.
pub(crate) const LIB_FUNCS: &[&str] =
    &["add", "get", "has", "del", "list", "deps", "vars", "queues"];

/// Our own pure commands (`pkg.*`, `nodes.import`): command definitions as a package gives
/// them (`name`, `descr`, `cmdargs`, `storm`).
const PKGCMDS: &str = include_str!("pkgcmds.json");

/// Our own pure command definitions, parsed once.
pub(crate) fn builtin_cdefs() -> &'static [serde_json::Value] {
    static DEFS: std::sync::OnceLock<Vec<serde_json::Value>> = std::sync::OnceLock::new();
    DEFS.get_or_init(|| serde_json::from_str::<Vec<serde_json::Value>>(PKGCMDS).unwrap_or_default())
}

/// Whether `name` is one of our own pure commands.
pub(crate) fn is_builtin(name: &str) -> bool {
    builtin_cdefs()
        .iter()
        .any(|c| c.get("name").and_then(serde_json::Value::as_str) == Some(name))
}

/// The definition of a pure command: ours, else a loaded package's.
pub(crate) fn cmd_def(runt: &Runt, name: &str) -> Option<serde_json::Value> {
    if let Some(cdef) = builtin_cdefs()
        .iter()
        .find(|c| c.get("name").and_then(serde_json::Value::as_str) == Some(name))
    {
        return Some(cdef.clone());
    }
    let core = runt.shared.core.host.cortex()?;
    core.storm_pkg_cmd(name).map(|c| synapse_cell::to_json(&c))
}

/// The names of the commands of the loaded packages.
pub(crate) fn pkg_cmd_names(runt: &Runt) -> Vec<String> {
    let Some(core) = runt.shared.core.host.cortex() else {
        return Vec::new();
    };
    core.storm_pkg_cmds()
        .iter()
        .filter_map(|c| synapse_cell::map_get(c, "name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The properties of the `syn:cmd` runtime node of a package command (as the reference's:
/// the first line of its description as `doc`, its service and package).
pub(crate) fn cmd_props(runt: &Runt, name: &str) -> Vec<(String, Value)> {
    let Some(core) = runt.shared.core.host.cortex() else {
        return Vec::new();
    };
    let Some(cdef) = core.storm_pkg_cmd(name) else {
        return Vec::new();
    };
    let get = |key: &str| synapse_cell::map_get(&cdef, key);
    let descr = get("descr")
        .and_then(Value::as_str)
        .unwrap_or("No description");
    let brief = descr.trim().split('\n').next().unwrap_or_default();
    let mut props = vec![("doc".to_owned(), Value::from(brief))];
    for (key, prop) in [
        ("input", "input"),
        ("output", "output"),
        ("nodedata", "nodedata"),
    ] {
        if let Some(Value::Array(items)) = get("forms").and_then(|f| synapse_cell::map_get(f, key))
            && !items.is_empty()
        {
            props.push((prop.to_owned(), Value::Array(items.clone())));
        }
    }
    if let Some(svc) = get("cmdconf")
        .and_then(|c| synapse_cell::map_get(c, "svciden"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        props.push(("svciden".to_owned(), Value::from(svc)));
    }
    if let Some(pkg) = get("pkgname").and_then(Value::as_str) {
        props.push(("package".to_owned(), Value::from(pkg)));
    }
    props
}

/// The warning of a deprecated command or argument (the reference's `deprmesg`).
pub(crate) fn deprmesg(name: &str, item: &serde_json::Value) -> Option<String> {
    if !item.is_object() {
        return None;
    }
    if let Some(mesg) = json_str(item, "mesg") {
        return Some(format!("\"{name}\" is deprecated: {mesg}"));
    }
    if let Some(vers) = json_str(item, "eolvers") {
        return Some(format!(
            "\"{name}\" is deprecated and will be removed in {vers}."
        ));
    }
    let date = json_str(item, "eoldate").unwrap_or("None");
    Some(format!(
        "\"{name}\" is deprecated and will be removed on {date}."
    ))
}

fn str_arg(args: &Args<'_>, idx: usize, name: &str) -> RResult<String> {
    args.req(idx, name)?.to_str()
}

/// `$lib.pkg.<name>(...)`.
pub(crate) async fn call_lib(runt: &Arc<Runt>, name: &str, args: &Args<'_>) -> RResult<Val> {
    let core = cortex(runt)?;
    match name {
        "add" => {
            runt.confirm(&["pkg", "add"], None)?;
            let pkgdef = args.req(0, "pkgdef")?.to_msgpack()?;
            let verify = args.bool(1, "verify", false);
            core.add_storm_pkg(pkgdef, verify).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "get" => {
            let name = str_arg(args, 0, "name")?;
            Ok(core
                .storm_pkg(&name)
                .map(|p| Val::from_msgpack(&p))
                .unwrap_or(Val::Null))
        }
        "has" => {
            let name = str_arg(args, 0, "name")?;
            Ok(Val::Bool(core.storm_pkg(&name).is_some()))
        }
        "del" => {
            runt.confirm(&["pkg", "del"], None)?;
            let name = str_arg(args, 0, "name")?;
            core.del_storm_pkg(&name).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "list" => {
            let mut pkgs = core.storm_pkgs();
            let key = |p: &Value| {
                synapse_cell::map_get(p, "name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            pkgs.sort_by_key(key);
            Ok(new_list(pkgs.iter().map(Val::from_msgpack).collect()))
        }
        "deps" => {
            let pkgdef = args.req(0, "pkgdef")?.to_msgpack()?;
            let deps = core.verify_pkg_deps(&pkgdef);
            let mut out: IndexMap<Key, Val> = IndexMap::new();
            for key in ["requires", "conflicts"] {
                let items = synapse_cell::map_get(&deps, key)
                    .and_then(Value::as_array)
                    .map(|items| items.iter().map(Val::from_msgpack).collect())
                    .unwrap_or_default();
                out.insert(Key::Str(Arc::from(key)), new_list(items));
            }
            Ok(new_dict(out))
        }
        "vars" => {
            let name = str_arg(args, 0, "name")?;
            runt.confirm(&["power-ups", &name, "admin"], None)?;
            Ok(Val::Obj(Arc::new(Obj::PkgVars(name))))
        }
        "queues" => super::pkgqueue::lib_queues(runt, &str_arg(args, 0, "name")?),
        other => Err(super::ext::nosuchname(other)),
    }
}

// ----- package variables -----

/// `$lib.pkg.vars(pkg).name`.
pub(crate) async fn vars_get(runt: &Arc<Runt>, pkg: &str, name: &str) -> RResult<Val> {
    runt.confirm(&["power-ups", pkg, "admin"], None)?;
    let core = cortex(runt)?;
    let valu = core.get_pkg_var(pkg, name).await.map_err(cell_err)?;
    Ok(valu.map(|v| Val::from_msgpack(&v)).unwrap_or(Val::Null))
}

/// `$lib.pkg.vars(pkg).name = valu` (`$lib.undef` removes it).
pub(crate) async fn vars_set(runt: &Arc<Runt>, pkg: &str, name: &str, valu: Val) -> RResult<()> {
    runt.confirm(&["power-ups", pkg, "admin"], None)?;
    let core = cortex(runt)?;
    if matches!(valu, Val::Undef) {
        core.pop_pkg_var(pkg, name).await.map_err(cell_err)?;
        return Ok(());
    }
    let valu = valu.to_msgpack()?;
    core.set_pkg_var(pkg, name, valu).await.map_err(cell_err)
}

/// `for ($name, $valu) in $lib.pkg.vars(pkg)`.
pub(crate) async fn vars_list(runt: &Arc<Runt>, pkg: &str) -> RResult<Vec<Val>> {
    runt.confirm(&["power-ups", pkg, "admin"], None)?;
    let core = cortex(runt)?;
    let items = core.pkg_vars(pkg).await.map_err(cell_err)?;
    Ok(items
        .into_iter()
        .map(|(k, v)| Val::Tuple(Arc::from(vec![Val::from(k), Val::from_msgpack(&v)])))
        .collect())
}

// ----- modules -----

/// An imported module: its runtime (whose variables are the library) and definition.
pub(crate) struct ModVal {
    name: String,
    runt: Arc<Runt>,
}

impl std::fmt::Debug for ModVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Imported Module {}", self.name)
    }
}

impl ModVal {
    /// `$mod.name`: a variable or function of the module.
    pub(crate) fn deref(&self, name: &str) -> RResult<Val> {
        if name.starts_with("__") {
            return Err(Flow::Err(
                StormError::new(
                    "StormRuntimeError",
                    format!("Cannot dereference private value [{name}]"),
                )
                .with("name", name),
            ));
        }
        match self.runt.runt_var(name) {
            Some(valu) => Ok(valu),
            None => Err(super::ext::nosuchname(name)),
        }
    }

    /// How `$lib.print` shows it.
    pub(crate) fn repr(&self) -> String {
        format!("Imported Module {}", self.name)
    }
}

fn perm_parts(valu: &Value) -> Vec<String> {
    valu.as_array()
        .map(|p| {
            p.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn deny(runt: &Runt, mesg: String) -> Flow {
    Flow::Err(
        StormError::new("AuthDeny", mesg)
            .with("user", runt.shared.user.iden.as_str())
            .with("username", runt.shared.user.name.as_str()),
    )
}

fn allowed_strs(runt: &Runt, perm: &[String]) -> bool {
    let parts: Vec<&str> = perm.iter().map(String::as_str).collect();
    runt.allowed(&parts, None)
}

/// `$lib.import(name, debug=$lib.false, reqvers=$lib.null)`.
pub(crate) async fn import(
    runt: &Arc<Runt>,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let args = Args::new("import", args, kwargs);
    let name = str_arg(&args, 0, "name")?;
    let reqvers = match args.get(2, "reqvers") {
        None | Some(Val::Null) => None,
        Some(v) => Some(v.to_str()?),
    };
    let core = cortex(runt)?;
    let Some(mdef) = core.storm_mod(&name, reqvers.as_deref()) else {
        let shown = reqvers.clone().unwrap_or_else(|| "None".to_owned());
        return Err(Flow::Err(
            StormError::new(
                "NoSuchName",
                format!("No storm module named {name} matching version requirement {shown}"),
            )
            .with("name", name.as_str())
            .with("reqvers", reqvers.map_or(Value::Nil, Value::from)),
        ));
    };
    let get = |key: &str| synapse_cell::map_get(&mdef, key);
    let text = get("storm").and_then(Value::as_str).unwrap_or_default();
    let modconf = get("modconf").cloned().unwrap_or(Value::Nil);
    let asroot = match get("asroot:perms") {
        Some(Value::Array(perms)) => {
            let perms: Vec<Vec<String>> = perms.iter().map(perm_parts).collect();
            let ok = perms.iter().any(|p| allowed_strs(runt, p));
            if !ok {
                let text: Vec<String> = perms.iter().map(|p| p.join(".")).collect();
                let text = text.join(" or ");
                let ondeny = get("asroot:ondeny:import")
                    .and_then(Value::as_str)
                    .unwrap_or("deny");
                match ondeny {
                    "allow" => {}
                    "warn" => {
                        let mesg = format!(
                            "Module ({name}) permissions will not be elevated. Missing permission: {text}."
                        );
                        runt.shared.warnonce(&mesg).await;
                    }
                    _ => {
                        return Err(deny(
                            runt,
                            format!("Module ({name}) requires permission: {text}"),
                        ));
                    }
                }
            }
            ok
        }
        _ => {
            let mut perm = vec!["storm".to_owned(), "asroot".to_owned(), "mod".to_owned()];
            perm.extend(name.split('.').map(str::to_owned));
            let ok = allowed_strs(runt, &perm);
            if get("asroot") == Some(&Value::Boolean(true)) {
                let mesg = format!(
                    "Module ({name}) requires asroot permission but does not specify any asroot:perms. storm.asroot.mod.<modname> style permissons are deprecated and will be removed in v3.0.0."
                );
                runt.shared.warnonce(&mesg).await;
                if !ok {
                    return Err(deny(
                        runt,
                        format!(
                            "Module ({name}) elevates privileges.  You need perm: storm.asroot.mod.{name}"
                        ),
                    ));
                }
            }
            ok
        }
    };
    let vars = vec![("modconf".to_owned(), Val::from_msgpack(&modconf))];
    let modr = fresh_runt(runt, text, vars, asroot)?;
    let (modr, plan) = modr;
    let mut out = exec::run_pipeline(&modr, &plan.root, exec::empty());
    while let Some(item) = out.next().await {
        item?;
    }
    Ok(Val::Obj(Arc::new(Obj::Module(Arc::new(ModVal {
        name,
        runt: modr,
    })))))
}

/// A new top-level runtime of the caller's query (same user, view and message sink, none of
/// the caller's variables) for Storm text, with `vars`.
fn fresh_runt(
    runt: &Arc<Runt>,
    text: &str,
    vars: Vec<(String, Val)>,
    asroot: bool,
) -> RResult<(Arc<Runt>, crate::storm::plan::Plan)> {
    if runt.depth >= super::runt::MAX_DEPTH {
        return Err(Flow::Err(StormError::new(
            "RecursionLimitHit",
            "Maximum Storm pipeline depth exceeded.",
        )));
    }
    let query =
        crate::storm::parse_query(text).map_err(|e| Flow::Err(super::bad_syntax(text, &e)))?;
    let names: Vec<String> = vars.iter().map(|(k, _)| k.clone()).collect();
    let plan = exec::plan_query(text, &query, names.clone(), Vec::new())?;
    let mut runtvars: HashMap<String, bool> = plan.vars.iter().cloned().collect();
    for name in names {
        runtvars.insert(name, true);
    }
    let modr = Arc::new(Runt {
        shared: Arc::clone(&runt.shared),
        vars: Mutex::new(vars.into_iter().collect()),
        runtvars,
        root: None,
        funcscope: false,
        asroot,
        text: Arc::from(text),
        depth: runt.depth + 1,
        view: runt.view.clone(),
        emitq: None,
    });
    Ok((modr, plan))
}

// ----- pure commands -----

fn json_str<'a>(cdef: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    cdef.get(key).and_then(serde_json::Value::as_str)
}

/// `$cmdopts`: the parsed options in argument order (`help` last, as the reference's
/// namespace holds them).
fn cmdopts_val(opts: &Opts, dests: &[String]) -> Val {
    let mut out: IndexMap<Key, Val> = IndexMap::new();
    for dest in dests.iter().filter(|d| *d != "help") {
        if let Some(valu) = opts.get(dest) {
            out.insert(Key::Str(Arc::from(dest.as_str())), valu.clone());
        }
    }
    if let Some(valu) = opts.get("help") {
        out.insert(Key::Str(Arc::from("help")), valu.clone());
    }
    new_dict(out)
}

/// Check the command's `asroot` and `perms`; whether it runs as root.
async fn pure_perms(runt: &Runt, cdef: &serde_json::Value, name: &str) -> RResult<bool> {
    let mut perm = vec!["storm".to_owned(), "asroot".to_owned(), "cmd".to_owned()];
    perm.extend(name.split('.').map(str::to_owned));
    let asroot = allowed_strs(runt, &perm);
    if cdef.get("asroot").and_then(serde_json::Value::as_bool) == Some(true) {
        let mesg = format!(
            "Command ({name}) requires asroot permission which is deprecated and will be removed in v3.0.0. Functionality which requires elevated permissions should be implemented in Storm modules and use asroot:perms to specify the required permissions."
        );
        runt.shared.warnonce(&mesg).await;
        if !asroot {
            return Err(deny(
                runt,
                format!(
                    "Command ({name}) elevates privileges.  You need perm: storm.asroot.cmd.{name}"
                ),
            ));
        }
    }
    if let Some(perms) = cdef.get("perms").and_then(serde_json::Value::as_array) {
        let perms: Vec<Vec<String>> = perms
            .iter()
            .map(|p| {
                p.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .collect();
        if !perms.iter().any(|p| allowed_strs(runt, p)) {
            let text: Vec<String> = perms.iter().map(|p| p.join(".")).collect();
            return Err(deny(
                runt,
                format!(
                    "Command ({name}) requires permission: {}",
                    text.join(" or ")
                ),
            ));
        }
    }
    Ok(asroot)
}

/// The variables of a node's path.
type PathVars = Vec<(Arc<str>, Val)>;

/// An inbound node as the command's Storm sees it: its path holds only `$cmdopts`.
fn enter(mut item: Item, cmdopts: &Val) -> (Item, PathVars) {
    let saved = std::mem::take(&mut item.path.vars);
    item.path.vars.push((Arc::from("cmdopts"), cmdopts.clone()));
    (item, saved)
}

/// A node leaving the command: the caller's path variables are back.
fn leave(mut item: Item, saved: &[(Arc<str>, Val)]) -> Item {
    item.path.vars = saved.to_vec();
    item
}

/// Run a pure command: its Storm text in a new runtime (the caller's user and view, none of
/// its variables) with `$cmdopts` and `$cmdconf`, the inbound nodes flowing through it. With
/// runtime-safe arguments one runtime takes every node; otherwise one per node.
pub(crate) fn run_pure(
    runt: &Arc<Runt>,
    cdef: serde_json::Value,
    dests: Vec<String>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    async_stream::try_stream! {
        let name = json_str(&cdef, "name").unwrap_or_default().to_owned();
        let asroot = pure_perms(&runt, &cdef, &name).await?;
        if let Some(mesg) = cdef.get("deprecated").and_then(|d| deprmesg(&name, d)) {
            runt.shared.warnonce(&mesg).await;
        }
        let text = json_str(&cdef, "storm").unwrap_or_default().to_owned();
        let cmdconf = cdef
            .get("cmdconf")
            .map(|c| Val::from_msgpack(&synapse_cell::from_json(c)))
            .unwrap_or_else(|| new_dict(IndexMap::new()));
        let vars = |opts: &Opts| {
            vec![
                ("cmdopts".to_owned(), cmdopts_val(opts, &dests)),
                ("cmdconf".to_owned(), cmdconf.clone()),
            ]
        };
        if runtsafe {
            let opts = match idle {
                Some(opts) => opts,
                None => Arc::new(Opts::new()),
            };
            let vars = vars(&opts);
            let cmdopts = vars[0].1.clone();
            let (cmdr, plan) = fresh_runt(&runt, &text, vars, asroot || runt.asroot)?;
            let saved: Arc<Mutex<PathVars>> = Arc::new(Mutex::new(Vec::new()));
            let saved2 = Arc::clone(&saved);
            let inbound = input
                .map(move |x| {
                    x.map(|(item, _)| {
                        let (item, vars) = enter(item, &cmdopts);
                        *lock(&saved2) = vars;
                        item
                    })
                })
                .boxed();
            let mut out = exec::run_pipeline(&cmdr, &plan.root, inbound);
            while let Some(item) = out.next().await {
                let item = item?;
                let vars = lock(&saved).clone();
                yield leave(item, &vars);
            }
        } else {
            let mut input = input;
            while let Some(x) = input.next().await {
                let (item, opts) = x?;
                let vars = vars(&opts);
                let cmdopts = vars[0].1.clone();
                let (cmdr, plan) = fresh_runt(&runt, &text, vars, asroot || runt.asroot)?;
                let (item, saved) = enter(item, &cmdopts);
                let mut out = exec::run_pipeline(&cmdr, &plan.root, exec::once(item));
                while let Some(item) = out.next().await {
                    yield leave(item?, &saved);
                }
            }
        }
    }
    .boxed()
}

fn item_desc(out: &mut Vec<String>, item: &str, desc: Option<&str>, indent: usize) {
    let base = format!("{:indent$}{item}", "");
    match desc.filter(|d| !d.is_empty()) {
        Some(desc) => {
            let lines = wrap(desc, 88);
            out.push(format!(
                "{base:<30}: {}",
                lines.first().map_or("", String::as_str)
            ));
            for ln in lines.iter().skip(1) {
                out.push(format!("{:<32}{ln}", ""));
            }
        }
        None => out.push(base),
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut len = 0usize;
    for word in text.split_whitespace() {
        let wlen = word.chars().count();
        if len + wlen + usize::from(!cur.is_empty()) > width {
            lines.push(cur.join(" "));
            cur = vec![word];
            len = wlen;
        } else {
            len += wlen + usize::from(!cur.is_empty());
            cur.push(word);
        }
    }
    if !cur.is_empty() {
        lines.push(cur.join(" "));
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// The `--help` lines a pure command shows before its usage (its endpoints, grouped by base
/// URL) and after its arguments (its inputs).
pub(crate) fn help_extras(cdef: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    const UNCONFIGURED: &str = "(user-configured base URL)";
    let mut pre = Vec::new();
    if let Some(endpoints) = cdef.get("endpoints").and_then(serde_json::Value::as_array)
        && !endpoints.is_empty()
    {
        pre.push(String::new());
        pre.push("Endpoints:".to_owned());
        let mut groups: IndexMap<String, Vec<&serde_json::Value>> = IndexMap::new();
        for ept in endpoints {
            let base = json_str(ept, "url")
                .filter(|u| !u.is_empty())
                .unwrap_or(UNCONFIGURED);
            groups.entry(base.to_owned()).or_default().push(ept);
        }
        let mut bases: Vec<&String> = groups.keys().collect();
        bases.sort_by_key(|b| (b.as_str() != UNCONFIGURED, (*b).clone()));
        for base in bases {
            pre.push(String::new());
            pre.push(format!("  {base}"));
            for ept in &groups[base] {
                let path = json_str(ept, "path").unwrap_or_default();
                item_desc(&mut pre, path, json_str(ept, "desc"), 4);
            }
        }
    }
    let mut post = Vec::new();
    if let Some(inputs) = cdef.get("cmdinputs").and_then(serde_json::Value::as_array) {
        post.push(String::new());
        post.push("Inputs:".to_owned());
        post.push(String::new());
        let mut inputs: Vec<&serde_json::Value> = inputs.iter().collect();
        inputs.sort_by_key(|i| json_str(i, "form").unwrap_or_default().to_owned());
        for input in inputs {
            let form = json_str(input, "form").unwrap_or_default();
            let dflt = format!("{form} nodes");
            let desc = json_str(input, "help").unwrap_or(&dflt);
            item_desc(&mut post, form, Some(desc), 2);
        }
    }
    (pre, post)
}
