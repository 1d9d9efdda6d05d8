//! Storm daemons from Storm: `$lib.dmon` (`add`, `get`, `del`, `list`, `log`, `bump`, `stop`,
//! `start`) and `dmon.list`, with the reference's permissions (`dmon.add` on the view for
//! `add`, `bump`, `stop` and `start`; `dmon.log` globally; `dmon.del.<iden>` to delete another
//! user's dmon), and the run of a dmon's query inside its own task ([`run`]). The dmons
//! themselves are the Cortex's (`src/cortex/dmon.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, Body, cell_err, cortex, req_not_readonly};
use super::runt::Runt;
use super::value::{Val, new_list};
use super::{Message, StormCore, StormOpts, StormUser};
use crate::cortex::DmonSink;

/// The functions of `$lib.dmon`.
pub(crate) const LIB_FUNCS: &[&str] =
    &["add", "get", "del", "log", "list", "bump", "stop", "start"];

/// Run a dmon's query in the calling task: messages but nodes to `sink`, one `count` per node.
pub(super) async fn run(
    core: Arc<StormCore>,
    user: StormUser,
    text: String,
    opts: StormOpts,
    sink: DmonSink,
    count: Arc<AtomicU64>,
) -> Result<(), StormError> {
    let view = super::resolve_view(&core, &user, &opts)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(1000);
    let shared = super::new_shared(&core, &user, &opts, view, Some(tx));
    let query = async move {
        let res = run_query(shared, &text, &count).await;
        let synced = super::sync_layers(&core).await;
        match (res, synced) {
            (Ok(()), Err(err)) => Err(err),
            (res, _) => res,
        }
    };
    tokio::pin!(query);
    let res = loop {
        tokio::select! {
            res = &mut query => break res,
            Some(mesg) = rx.recv() => sink(mesg.to_value()),
        }
    };
    while let Ok(mesg) = rx.try_recv() {
        sink(mesg.to_value());
    }
    match res {
        Ok(()) | Err(Flow::Exit) => Ok(()),
        Err(Flow::Return(valu)) => Err(StormError::new(
            "StormReturn",
            valu.to_str().unwrap_or_default(),
        )),
        Err(flow) => Err(super::control_error(flow)),
    }
}

async fn run_query(shared: Arc<super::Shared>, text: &str, count: &AtomicU64) -> Result<(), Flow> {
    let parsed = super::parse(text, &shared.opts.mode)?;
    if shared.opts.sudo && !shared.user.allowed(&["storm", "sudo"], None) {
        return Err(Flow::Err(shared.user.deny(&["storm", "sudo"], None)));
    }
    let vars: Vec<(String, Val)> = shared
        .opts
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Val::from_msgpack(v)))
        .collect();
    let runt = super::exec::root_runtime(&shared, text, vars, &parsed)?;
    let mut stream = super::exec::run_parsed(&runt, &parsed)?;
    while let Some(item) = stream.next().await {
        item?;
        count.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// The variables of the query: those a `${ }` query captured, then the runtime's, keeping the
/// ones msgpack can carry (the reference's `getvars`).
fn capture_vars(runt: &Runt, text: &Val) -> Vec<(Value, Value)> {
    let mut out: Vec<(Value, Value)> = Vec::new();
    let mut add = |name: &str, valu: &Val| {
        let valu = match valu {
            // `toprim` of a query is its text
            Val::Query(query) => Value::from(query.text.as_str()),
            other => match other.to_msgpack() {
                Ok(valu) => valu,
                Err(_) => return,
            },
        };
        match out.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
            Some(slot) => slot.1 = valu,
            None => out.push((Value::from(name), valu)),
        }
    };
    if let Val::Query(query) = text {
        for (name, valu) in &query.vars {
            add(name, valu);
        }
    }
    for (name, valu) in runt.scope_vars() {
        add(&name, &valu);
    }
    out
}

fn map_get<'a>(items: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn map_set(items: &mut Vec<(Value, Value)>, key: &str, valu: Value) {
    match items.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(slot) => slot.1 = valu,
        None => items.push((Value::from(key), valu)),
    }
}

/// `$lib.dmon.add(text, name=noname, ddef=None)`: the packed new dmon.
async fn add(runt: &Arc<Runt>, args: &Args<'_>) -> RResult<Val> {
    req_not_readonly(runt, "$lib.dmon.add")?;
    let text = args.req(0, "text")?;
    let varz = capture_vars(runt, &text);
    let text = text.to_str()?;
    let name = match args.get(1, "name") {
        Some(name) => name.to_msgpack()?,
        None => Value::from("noname"),
    };
    let mut ddef = match args.get(2, "ddef") {
        None | Some(Val::Null) => Vec::new(),
        Some(ddef) => match ddef.to_msgpack()? {
            Value::Map(items) => items,
            _ => {
                return Err(Flow::Err(StormError::new(
                    "BadArg",
                    "The dmon definition must be a dictionary.",
                )));
            }
        },
    };
    ddef.retain(|(k, _)| k.as_str() != Some("view"));
    let core = cortex(runt)?;
    let viewiden = match map_get(&ddef, "stormopts").and_then(|o| match o {
        Value::Map(items) => map_get(items, "view"),
        _ => None,
    }) {
        Some(Value::Nil) | None => runt.view.iden(),
        Some(iden) => {
            let iden = Val::from_msgpack(iden).to_str()?;
            if core.views().view(&iden).is_none() {
                return Err(Flow::Err(
                    StormError::new("NoSuchView", format!("No view with iden: {iden}"))
                        .with("iden", iden.as_str()),
                ));
            }
            iden
        }
    };
    runt.confirm(&["dmon", "add"], Some((&viewiden, "view")))?;
    let opts = Value::Map(vec![
        (Value::from("vars"), Value::Map(varz)),
        (Value::from("view"), Value::from(viewiden.as_str())),
    ]);
    map_set(&mut ddef, "name", name);
    map_set(
        &mut ddef,
        "user",
        Value::from(runt.shared.user.iden.as_str()),
    );
    map_set(&mut ddef, "storm", Value::from(text));
    map_set(&mut ddef, "stormopts", opts);
    if map_get(&ddef, "enabled").is_none() {
        ddef.push((Value::from("enabled"), Value::Boolean(true)));
    }
    let packed = core
        .add_storm_dmon(Value::Map(ddef))
        .await
        .map_err(cell_err)?;
    Ok(Val::from_msgpack(&packed))
}

/// The view of an existing dmon, for the `dmon.add` check of `bump`, `stop` and `start`.
fn dmon_view(ddef: &Value) -> Option<String> {
    let opts = synapse_cell::map_get(ddef, "stormopts")?;
    synapse_cell::map_get(opts, "view")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Call a `$lib.dmon` function.
pub(crate) async fn call_lib(runt: &Arc<Runt>, func: &str, args: &Args<'_>) -> RResult<Val> {
    let core = cortex(runt)?;
    match func {
        "add" => add(runt, args).await,
        "get" => {
            let iden = args.req(0, "iden")?.to_str()?;
            Ok(core
                .get_storm_dmon(&iden)
                .map_or(Val::Null, |d| Val::from_msgpack(&d)))
        }
        "list" => Ok(new_list(
            core.get_storm_dmons()
                .iter()
                .map(Val::from_msgpack)
                .collect(),
        )),
        "log" => {
            let iden = args.req(0, "iden")?.to_str()?;
            runt.confirm(&["dmon", "log"], None)?;
            let items: Vec<Val> = core
                .get_storm_dmon_log(&iden)
                .iter()
                .map(Val::from_msgpack)
                .collect();
            // the reference's list of the log, or an empty tuple without such a dmon
            if core.get_storm_dmon(&iden).is_none() {
                return Ok(Val::Tuple(items.into()));
            }
            Ok(new_list(items))
        }
        "del" => {
            req_not_readonly(runt, "$lib.dmon.del")?;
            let iden = args.req(0, "iden")?.to_str()?;
            let Some(ddef) = core.get_storm_dmon(&iden) else {
                return Err(Flow::Err(
                    StormError::new("NoSuchIden", format!("No storm dmon with iden: {iden}"))
                        .with("iden", iden.as_str()),
                ));
            };
            let owner = synapse_cell::map_get(&ddef, "user").and_then(Value::as_str);
            if owner != Some(runt.shared.user.iden.as_str()) {
                runt.confirm(&["dmon", "del", &iden], None)?;
            }
            core.del_storm_dmon(&iden).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "bump" | "stop" | "start" => {
            req_not_readonly(runt, &format!("$lib.dmon.{func}"))?;
            let iden = args.req(0, "iden")?.to_str()?;
            let Some(ddef) = core.get_storm_dmon(&iden) else {
                return Ok(Val::Bool(false));
            };
            let view = dmon_view(&ddef);
            runt.confirm(&["dmon", "add"], view.as_deref().map(|v| (v, "view")))?;
            let done = match func {
                "bump" => core.bump_storm_dmon(&iden).await,
                "stop" => core.disable_storm_dmon(&iden).await,
                _ => core.enable_storm_dmon(&iden).await,
            }
            .map_err(cell_err)?;
            Ok(Val::Bool(done))
        }
        other => Err(super::ext::nosuchname(other)),
    }
}

/// `dmon.list`: one line per dmon, `iden:  (name padded to 20): status`.
pub(crate) fn list_cmd(runt: &Runt) -> RResult<Body> {
    let core = cortex(runt)?;
    let mut out = vec!["Storm daemon list:".to_owned()];
    for ddef in core.get_storm_dmons() {
        let text = |key: &str| {
            synapse_cell::map_get(&ddef, key)
                .map(|v| Val::from_msgpack(v).to_str().unwrap_or_default())
                .unwrap_or_default()
        };
        let name = match synapse_cell::map_get(&ddef, "name").map(Val::from_msgpack) {
            Some(v) if v.truthy() => format!("{:<20}", v.to_str().unwrap_or_default()),
            _ => " ".repeat(20),
        };
        out.push(format!(
            "    {}:  ({}): {}",
            text("iden"),
            name,
            text("status")
        ));
    }
    Ok(Body::lines(out))
}
