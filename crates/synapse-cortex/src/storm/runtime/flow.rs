//! Flow commands: `batch`, `parallel`, `background`, `storm.exec`, `copyto`, `colorize`; the
//! entry of `movenodes` (`movenodes.rs`) and of the `gen.*` commands (`genlib.rs`), whose
//! definitions are here too.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::{self, ItemStream};
use super::runt::{Item, Runt};
use super::value::{Val, new_list};
use crate::storm::plan::Pipeline;

/// The definitions of this module's commands and of the `gen.*` commands (made by
/// `tests/storm_rt/gen_cmddefs_ext.py NAME...` from the reference).
pub(crate) const CMDDEFS: &str = include_str!("cmddefs_flow.json");

const NAMES: &[&str] = &[
    "batch",
    "parallel",
    "background",
    "storm.exec",
    "copyto",
    "colorize",
    "movenodes",
];

/// Whether this module (or `genlib.rs`) runs the command.
pub(crate) fn handles(name: &str) -> bool {
    NAMES.contains(&name) || super::genlib::handles(name)
}

/// Run one of the commands.
pub(crate) fn run(
    runt: &Arc<Runt>,
    name: &str,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    match name {
        "batch" => batch(runt, runtsafe, idle, input),
        "parallel" => parallel(runt, runtsafe, idle, input),
        "background" => background(runt, runtsafe, idle, input),
        "storm.exec" => storm_exec(runt, runtsafe, idle, input),
        "copyto" => copyto(runt, runtsafe, idle, input),
        "colorize" => colorize(input),
        "movenodes" => super::movenodes::run(runt, runtsafe, idle, input),
        other => super::genlib::run(&runt, other, runtsafe, idle, input),
    }
}

fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

/// The text of a query argument (a string, or a `${ }` query object).
fn query_text(valu: &Val) -> RResult<String> {
    match valu {
        Val::Query(q) => Ok(q.text.clone()),
        other => other.to_str(),
    }
}

/// Parse and plan a query for a runtime under `runt` that owns the given variables.
pub(crate) fn sub_with_vars(
    runt: &Arc<Runt>,
    text: &str,
    vars: Vec<(String, Val)>,
) -> RResult<(Arc<Runt>, Pipeline)> {
    let query = crate::storm::parse_query(text)
        .map_err(|e| Flow::Err(super::super::runtime::bad_syntax(text, &e)))?;
    let names: Vec<String> = vars.iter().map(|(k, _)| k.clone()).collect();
    let plan = exec::plan_query(text, &query, names.clone(), exec::visible_vars(runt))?;
    let mut runtvars: HashMap<String, bool> = plan.vars.iter().cloned().collect();
    for name in names {
        runtvars.insert(name, true);
    }
    let subr = exec::sub_runtime(runt, runtvars, vars, false, None)?;
    let subr = Arc::new(Runt {
        shared: Arc::clone(&subr.shared),
        vars: Mutex::new(std::mem::take(&mut *super::value::lock(&subr.vars))),
        runtvars: subr.runtvars.clone(),
        root: subr.root.clone(),
        funcscope: false,
        asroot: subr.asroot,
        text: Arc::from(text),
        depth: subr.depth,
        view: subr.view.clone(),
        emitq: None,
    });
    Ok((subr, plan.root))
}

// ----- batch -----

fn batch(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let (true, Some(opts)) = (runtsafe, idle) else {
            Err(rterr("batch arguments must be runtsafe."))?;
            return;
        };
        let size = opt(&opts, "size").to_int()?;
        if size > 10000 {
            Err(rterr(format!("Specified batch size ({size}) is above the maximum (10000).")))?;
        }
        let text = query_text(opt(&opts, "query"))?;
        let (subr, pipe) = sub_with_vars(&runt, &text, vec![("nodes".to_owned(), new_list(Vec::new()))])?;
        let doyield = opt(&opts, "cond").truthy();
        let mut items: Vec<Item> = Vec::new();
        let mut done = false;
        while !done {
            match input.next().await {
                Some(x) => items.push(x?.0),
                None => done = true,
            }
            let full = items.len() as i128 >= size;
            if items.is_empty() || !(full || done) {
                continue;
            }
            let nodes = items.iter().map(|i| Val::Node(Arc::clone(&i.node))).collect();
            subr.set_var("nodes", new_list(nodes));
            let mut last: Option<Item> = None;
            let mut sub = exec::run_pipeline(&subr, &pipe, exec::empty());
            while let Some(out) = sub.next().await {
                let out = out?;
                if doyield {
                    yield out;
                } else {
                    last = Some(out);
                }
            }
            for mut item in std::mem::take(&mut items) {
                if doyield {
                    continue;
                }
                if let Some(last) = &last {
                    for (k, v) in &last.path.vars {
                        item.path.set(k, v.clone());
                    }
                }
                yield item;
            }
        }
    }
    .boxed()
}

// ----- parallel -----

/// The inbound items the pipelines of `parallel` share: those read ahead, then the rest.
struct Inbound {
    ahead: VecDeque<Item>,
    rest: Option<OptsStream>,
}

fn shared_input(inbound: Arc<tokio::sync::Mutex<Inbound>>) -> ItemStream {
    futures::stream::unfold(inbound, |inbound| async move {
        let mut guard = inbound.lock().await;
        if let Some(item) = guard.ahead.pop_front() {
            drop(guard);
            return Some((Ok(item), inbound));
        }
        let next = match guard.rest.as_mut() {
            Some(rest) => rest.next().await,
            None => None,
        };
        match next {
            Some(Ok((item, _))) => {
                drop(guard);
                Some((Ok(item), inbound))
            }
            Some(Err(e)) => {
                guard.rest = None;
                drop(guard);
                Some((Err(e), inbound))
            }
            None => {
                guard.rest = None;
                None
            }
        }
    })
    .boxed()
}

fn parallel(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let (true, Some(opts)) = (runtsafe, idle) else {
            Err(rterr("parallel arguments must be runtsafe."))?;
            return;
        };
        // a size below one would run nothing and wait forever in the reference
        let size = opt(&opts, "size").to_int()?.clamp(1, 100_000) as usize;
        let text = query_text(opt(&opts, "query"))?;
        // the query must plan before anything runs
        sub_with_vars(&runt, &text, runt.scope_vars())?;
        let mut ahead = VecDeque::new();
        while ahead.len() < size {
            match input.next().await {
                Some(x) => ahead.push_back(x?.0),
                None => break,
            }
        }
        let count = if ahead.is_empty() { size } else { ahead.len() };
        let fed = !ahead.is_empty();
        let inbound = Arc::new(tokio::sync::Mutex::new(Inbound { ahead, rest: Some(input) }));
        let mut pipes = Vec::with_capacity(count);
        for _ in 0..count {
            // each pipeline has its own copy of the variables
            let (subr, pipe) = sub_with_vars(&runt, &text, runt.scope_vars())?;
            let feed = if fed { shared_input(Arc::clone(&inbound)) } else { exec::empty() };
            pipes.push(exec::run_pipeline(&subr, &pipe, feed));
        }
        let mut merged = futures::stream::select_all(pipes);
        while let Some(out) = merged.next().await {
            yield out?;
        }
    }
    .boxed()
}

// ----- background -----

fn background(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let (true, Some(opts)) = (runtsafe, idle) else {
            Err(rterr("The background query must be runtsafe."))?;
            return;
        };
        while let Some(x) = input.next().await {
            yield x?.0;
        }
        let text = query_text(opt(&opts, "query"))?;
        // the query must be able to run with the variables it gets
        let vars: Vec<(String, Value)> = runt
            .scope_vars()
            .into_iter()
            .filter_map(|(k, v)| v.to_msgpack().ok().map(|v| (k, v)))
            .collect();
        let query = crate::storm::parse_query(&text)
            .map_err(|e| Flow::Err(super::super::runtime::bad_syntax(&text, &e)))?;
        let names = vars.iter().map(|(k, _)| k.clone()).collect();
        exec::plan_query(&text, &query, names, Vec::new())?;
        let mut sopts = super::super::runtime::StormOpts::from_value(&Value::Map(Vec::new()))
            .map_err(Flow::Err)?;
        sopts.view = Some(runt.view.iden());
        sopts.vars = vars;
        let core = Arc::clone(&runt.shared.core);
        let user = runt.shared.user.clone();
        let view = runt.view.iden();
        let task = {
            let text = text.clone();
            let user = user.clone();
            async move {
                let mut mesgs = super::super::runtime::storm(core, user, text, sopts);
                while mesgs.next().await.is_some() {}
            }
        };
        match runt.shared.core.host.cortex() {
            Some(cortex) => {
                let info = Value::Map(vec![
                    (Value::from("query"), Value::from(text.as_str())),
                    (Value::from("view"), Value::from(view.as_str())),
                    (Value::from("background"), Value::Boolean(true)),
                ]);
                let topts = synapse_cell::TaskOpts::new("storm", &user.iden, &user.name).info(info);
                cortex.cell().boss().spawn(topts, task).map_err(super::ext::cell_err)?;
            }
            None => {
                tokio::spawn(task);
            }
        }
    }
    .boxed()
}

// ----- storm.exec -----

fn storm_exec(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        if runtsafe {
            let Some(opts) = idle else { return };
            let text = query_text(opt(&opts, "query"))?;
            let (subr, pipe) = sub_with_vars(&runt, &text, Vec::new())?;
            let feed = input.map(|x| x.map(|(item, _)| item)).boxed();
            let mut out = exec::run_pipeline(&subr, &pipe, feed);
            while let Some(item) = out.next().await {
                yield item?;
            }
        } else {
            let mut input = input;
            while let Some(x) = input.next().await {
                let (item, opts) = x?;
                let text = query_text(opt(&opts, "query"))?;
                let (subr, pipe) = sub_with_vars(&runt, &text, Vec::new())?;
                let mut out = exec::run_pipeline(&subr, &pipe, exec::once(item));
                while let Some(item) = out.next().await {
                    yield item?;
                }
            }
        }
    }
    .boxed()
}

// ----- copyto -----

fn copyto(
    runt: Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    async_stream::try_stream! {
        let (true, Some(opts)) = (runtsafe, idle) else {
            Err(rterr("copyto arguments must be runtsafe."))?;
            return;
        };
        let iden = opt(&opts, "view").to_str()?;
        let Some(view) = runt.shared.core.views().view(&iden) else {
            Err(Flow::Err(StormError::new("NoSuchView", format!("No such view: iden='{iden}'"))
                .with("iden", iden.as_str())))?;
            return;
        };
        runt.confirm(&["view", "read"], Some((&iden, "view")))?;
        let layriden = view.write_layer().iden();
        let gate = Some((layriden.as_str(), "layer"));
        let nodata = opt(&opts, "no_data").truthy();
        let model = Arc::clone(runt.view.model());
        while let Some(x) = input.next().await {
            let (item, _) = x?;
            let node = Arc::clone(&item.node);
            runt.confirm(&["node", "add", &node.form], gate)?;
            for (name, _) in &node.props {
                let full = if name.starts_with('.') {
                    name.clone()
                } else {
                    format!("{}:{name}", node.form)
                };
                if !runt.allowed(&["node", "prop", "set", &node.form, name], Some(&layriden)) {
                    runt.confirm(&["node", "prop", "set", &full], gate)?;
                }
            }
            for (tag, _) in &node.tags {
                let perm: Vec<&str> = ["node", "tag", "add"].into_iter().chain(tag.split('.')).collect();
                runt.confirm(&perm, gate)?;
            }
            let data = if nodata {
                Vec::new()
            } else {
                runt.view.data_items(node.buid).await.map_err(Flow::from)?
            };
            for (name, _) in &data {
                runt.confirm(&["node", "data", "set", name], gate)?;
            }
            let mut n1edges = Vec::new();
            let mut edges = runt.view.edges_n1(node.buid, None);
            while let Some(e) = edges.next().await {
                n1edges.push(e.map_err(Flow::from)?);
            }
            let mut n2edges = Vec::new();
            let mut edges = runt.view.edges_n2(node.buid, None);
            while let Some(e) = edges.next().await {
                n2edges.push(e.map_err(Flow::from)?);
            }
            for (verb, _) in n1edges.iter().chain(&n2edges) {
                runt.confirm(&["node", "edge", "add", verb], gate)?;
            }
            let meta = crate::nodeedit::EditMeta::now(runt.shared.user.iden.clone());
            let mut editor = view.editor(meta, crate::view::AllowAll::arc());
            let mut warns = Vec::new();
            let res = async {
                let Some(buid) = editor.add_node(&node.form, &node.valu).await? else {
                    return Ok(());
                };
                let current = editor.node(&buid).await?;
                for (name, valu) in &node.props {
                    let ro = model
                        .form(&node.form)
                        .and_then(|f| f.prop(name))
                        .is_some_and(|p| p.is_ro());
                    if ro && name != ".created"
                        && let Some(curv) = current.as_ref().and_then(|n| n.get(name))
                        && curv != valu
                    {
                        let repr = model
                            .form(&node.form)
                            .and_then(|f| f.prop(name))
                            .and_then(|p| p.ty().repr(curv).ok())
                            .map(|v| super::value::repr_text(&v))
                            .unwrap_or_else(|| super::value::repr_text(curv));
                        warns.push(format!(
                            "Cannot overwrite read only property with conflicting value: {} {}:{name} = {repr}",
                            node.iden(),
                            node.form
                        ));
                        continue;
                    }
                    if name == ".created" {
                        // the copy keeps the older creation time when the prop can be set
                        let _ = editor.set_prop(&buid, name, valu).await;
                        continue;
                    }
                    editor.set_prop(&buid, name, valu).await?;
                }
                for (tag, ival) in &node.tags {
                    let valu = match ival {
                        (None, None) => None,
                        (min, max) => Some(Value::Array(vec![
                            min.map_or(Value::Nil, Value::from),
                            max.map_or(Value::Nil, Value::from),
                        ])),
                    };
                    editor.add_tag(&buid, tag, valu.as_ref()).await?;
                }
                for (tag, props) in &node.tagprops {
                    for (name, valu) in props {
                        editor.set_tagprop(&buid, tag, name, valu).await?;
                    }
                }
                for (name, valu) in &data {
                    editor.set_data(&buid, name, valu).await?;
                }
                for (verb, n2) in &n1edges {
                    if view.get_node(*n2).await?.is_some() {
                        editor.add_edge(&buid, verb, n2).await?;
                    }
                }
                for (verb, n1) in &n2edges {
                    if view.get_node(*n1).await?.is_some() {
                        editor.add_edge(n1, verb, &buid).await?;
                    }
                }
                editor.apply().await?;
                Ok::<_, crate::view::Error>(())
            }
            .await;
            for mesg in &warns {
                runt.shared.warn(mesg, Vec::new()).await;
            }
            res.map_err(Flow::from)?;
            yield item;
        }
    }
    .boxed()
}

// ----- colorize -----

/// The CSS4 color names `colorize` accepts.
const CSS4_COLORS: &[&str] = &[
    "aliceblue",
    "antiquewhite",
    "aqua",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "blanchedalmond",
    "blue",
    "blueviolet",
    "brown",
    "burlywood",
    "cadetblue",
    "chartreuse",
    "chocolate",
    "coral",
    "cornflowerblue",
    "cornsilk",
    "crimson",
    "cyan",
    "darkblue",
    "darkcyan",
    "darkgoldenrod",
    "darkgray",
    "darkgreen",
    "darkgrey",
    "darkkhaki",
    "darkmagenta",
    "darkolivegreen",
    "darkorange",
    "darkorchid",
    "darkred",
    "darksalmon",
    "darkseagreen",
    "darkslateblue",
    "darkslategray",
    "darkslategrey",
    "darkturquoise",
    "darkviolet",
    "deeppink",
    "deepskyblue",
    "dimgray",
    "dimgrey",
    "dodgerblue",
    "firebrick",
    "floralwhite",
    "forestgreen",
    "fuchsia",
    "gainsboro",
    "ghostwhite",
    "gold",
    "goldenrod",
    "gray",
    "green",
    "greenyellow",
    "grey",
    "honeydew",
    "hotpink",
    "indianred",
    "indigo",
    "ivory",
    "khaki",
    "lavender",
    "lavenderblush",
    "lawngreen",
    "lemonchiffon",
    "lightblue",
    "lightcoral",
    "lightcyan",
    "lightgoldenrodyellow",
    "lightgray",
    "lightgreen",
    "lightgrey",
    "lightpink",
    "lightsalmon",
    "lightseagreen",
    "lightskyblue",
    "lightslategray",
    "lightslategrey",
    "lightsteelblue",
    "lightyellow",
    "lime",
    "limegreen",
    "linen",
    "magenta",
    "maroon",
    "mediumaquamarine",
    "mediumblue",
    "mediumorchid",
    "mediumpurple",
    "mediumseagreen",
    "mediumslateblue",
    "mediumspringgreen",
    "mediumturquoise",
    "mediumvioletred",
    "midnightblue",
    "mintcream",
    "mistyrose",
    "moccasin",
    "navajowhite",
    "navy",
    "oldlace",
    "olive",
    "olivedrab",
    "orange",
    "orangered",
    "orchid",
    "palegoldenrod",
    "palegreen",
    "paleturquoise",
    "palevioletred",
    "papayawhip",
    "peachpuff",
    "peru",
    "pink",
    "plum",
    "powderblue",
    "purple",
    "rebeccapurple",
    "red",
    "rosybrown",
    "royalblue",
    "saddlebrown",
    "salmon",
    "sandybrown",
    "seagreen",
    "seashell",
    "sienna",
    "silver",
    "skyblue",
    "slateblue",
    "slategray",
    "slategrey",
    "snow",
    "springgreen",
    "steelblue",
    "tan",
    "teal",
    "thistle",
    "tomato",
    "turquoise",
    "violet",
    "wheat",
    "white",
    "whitesmoke",
    "yellow",
    "yellowgreen",
];

/// Whether `colorize` accepts a color: a CSS4 name (any case) or `#rrggbb`.
fn valid_color(color: &str) -> bool {
    if CSS4_COLORS.contains(&color.to_lowercase().as_str()) {
        return true;
    }
    let hex = color.strip_prefix('#').unwrap_or_default();
    hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// `colorize`: check the color and pass the nodes on (the display color is not sent to
/// clients, as in the reference).
fn colorize(mut input: OptsStream) -> ItemStream {
    async_stream::try_stream! {
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            let color = opt(&opts, "color").to_str()?;
            if !color.is_empty() && !valid_color(&color) {
                Err(Flow::Err(StormError::new(
                    "BadArg",
                    "Color must be a CSS4 color name or a six digit hex color code prefixed with a #.",
                )))?;
            }
            yield item;
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_are_css4_names_or_six_hex_digits() {
        assert!(valid_color("Red"));
        assert!(valid_color("#00ffAA"));
        assert!(!valid_color("#00ffA"));
        assert!(!valid_color("00ffaa"));
        assert!(!valid_color("reddish"));
        assert_eq!(CSS4_COLORS.len(), 148);
    }
}
