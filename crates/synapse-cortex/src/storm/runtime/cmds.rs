//! Storm commands (`| name args`) and their argparse-like argument parsing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;

use super::error::{Flow, RResult, StormError, rterr};
use super::eval::eval;
use super::exec::{self, ItemStream, empty};
use super::runt::{Item, Runt};
use super::value::Val;
use crate::storm::ast::Span;
use crate::storm::plan::{OpKind, Pipeline};

/// Parsed command options by destination name.
pub(crate) type Opts = HashMap<String, Val>;

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Store,
    StoreTrue,
    Append,
}

#[derive(Clone, Copy, PartialEq)]
enum Nargs {
    One,
    Opt,
    Star,
    Plus,
}

/// One argument of a command.
#[derive(Clone)]
struct Arg {
    names: Vec<&'static str>,
    dest: String,
    action: Action,
    nargs: Nargs,
    default: Option<Val>,
    help: &'static str,
    argtype: Option<&'static str>,
    required: bool,
}

fn dest_of(names: &[&str]) -> String {
    let mut names: Vec<String> = names
        .iter()
        .map(|n| n.trim_start_matches('-').replace('-', "_"))
        .collect();
    names.sort_by_key(|n| n.len());
    names.pop().unwrap_or_default()
}

impl Arg {
    fn new(names: &[&'static str], help: &'static str) -> Arg {
        Arg {
            names: names.to_vec(),
            dest: dest_of(names),
            action: Action::Store,
            nargs: Nargs::One,
            default: None,
            help,
            argtype: None,
            required: false,
        }
    }
    fn flag(names: &[&'static str], help: &'static str) -> Arg {
        Arg {
            action: Action::StoreTrue,
            default: Some(Val::Bool(false)),
            ..Arg::new(names, help)
        }
    }
    fn dest(mut self, dest: &str) -> Arg {
        self.dest = dest.to_owned();
        self
    }
    fn nargs(mut self, nargs: Nargs) -> Arg {
        self.nargs = nargs;
        self
    }
    fn default(mut self, v: Val) -> Arg {
        self.default = Some(v);
        self
    }
    fn ty(mut self, t: &'static str) -> Arg {
        self.argtype = Some(t);
        self
    }
    fn append(mut self) -> Arg {
        self.action = Action::Append;
        self
    }
    fn required(mut self) -> Arg {
        self.required = true;
        self
    }
    fn is_opt(&self) -> bool {
        self.names[0].starts_with('-')
    }
}

/// A command's description and arguments.
struct Spec {
    name: &'static str,
    descr: &'static str,
    args: Vec<Arg>,
}

/// The outcome of parsing: options, or messages to print and an error / exit.
struct Parsed {
    opts: Option<Opts>,
    mesgs: Vec<String>,
    exc: Option<String>,
}

struct Parser<'a> {
    spec: &'a Spec,
    args: Vec<Arg>,
    mesgs: Vec<String>,
    exc: Option<String>,
    runt: &'a Runt,
}

impl<'a> Parser<'a> {
    fn new(spec: &'a Spec, runt: &'a Runt) -> Parser<'a> {
        let mut args = vec![Arg::flag(&["--help", "-h"], "Display the command usage.")];
        args.extend(spec.args.iter().cloned());
        Parser {
            spec,
            args,
            mesgs: Vec::new(),
            exc: None,
            runt,
        }
    }

    fn optarg(&self, name: &str) -> Option<&Arg> {
        self.args
            .iter()
            .find(|a| a.is_opt() && a.names.contains(&name))
    }

    fn is_opt(&self, v: &Val) -> bool {
        matches!(v, Val::Str(s) if self.optarg(s).is_some())
    }

    fn parse(mut self, argv: Vec<Val>) -> Parsed {
        let opts = self.parse_inner(&argv);
        Parsed {
            opts,
            mesgs: self.mesgs,
            exc: self.exc,
        }
    }

    fn parse_inner(&mut self, argv: &[Val]) -> Option<Opts> {
        let mut posargs: Vec<Val> = Vec::new();
        let mut todo: VecDeque<Val> = argv.iter().cloned().collect();
        let mut opts: Opts = HashMap::new();
        while let Some(item) = todo.pop_front() {
            let Val::Str(text) = &item else {
                posargs.push(item);
                continue;
            };
            let Some(arg) = self.optarg(text).cloned() else {
                posargs.push(item);
                continue;
            };
            match arg.action {
                Action::StoreTrue => {
                    opts.insert(arg.dest.clone(), Val::Bool(true));
                }
                Action::Append => {
                    let mut fake = HashMap::new();
                    if !self.store(text, &arg, &mut todo, &mut fake) {
                        return None;
                    }
                    let entry = opts
                        .entry(arg.dest.clone())
                        .or_insert_with(|| super::value::new_list(Vec::new()));
                    if let (Val::List(l), Some(v)) = (entry, fake.remove(&arg.dest)) {
                        super::value::lock(l).push(v);
                    }
                }
                Action::Store => {
                    if !self.store(text, &arg, &mut todo, &mut opts) {
                        return None;
                    }
                }
            }
        }
        if opts.remove("help").is_some_and(|v| v.truthy()) {
            let mesg = if !opts.is_empty() || !posargs.is_empty() {
                let parts: Vec<String> = argv
                    .iter()
                    .map(|v| v.to_str().unwrap_or_default())
                    .collect();
                Some(format!(
                    "Extra arguments and flags are not supported with the help flag: {} {}",
                    self.spec.name,
                    parts.join(" ")
                ))
            } else {
                None
            };
            self.help(mesg);
            return None;
        }
        let mut todo: VecDeque<Val> = posargs.iter().cloned().collect();
        let positional: Vec<Arg> = self.args.iter().filter(|a| !a.is_opt()).cloned().collect();
        for arg in &positional {
            if !self.store(arg.names[0], arg, &mut todo, &mut opts) {
                return None;
            }
        }
        if !todo.is_empty() {
            let delta = posargs.len() - todo.len();
            let items: Vec<String> = posargs.iter().map(|v| v.py_repr()).collect();
            self.help(Some(format!(
                "Expected {delta} positional arguments. Got {}: [{}]",
                posargs.len(),
                items.join(", ")
            )));
            return None;
        }
        for arg in &self.args {
            if let Some(d) = &arg.default
                && !opts.contains_key(&arg.dest)
            {
                opts.insert(arg.dest.clone(), d.clone());
            }
        }
        for arg in self.args.clone() {
            if arg.required && !opts.contains_key(&arg.dest) {
                self.help(Some(format!(
                    "Missing a required option: {}",
                    arg.names.join(",")
                )));
                return None;
            }
        }
        Some(opts)
    }

    fn norm(&mut self, arg: &Arg, valu: Val) -> Option<Val> {
        let Some(t) = arg.argtype else {
            return Some(valu);
        };
        let ty = self.runt.model().ty(t)?;
        let norm = valu.to_msgpack().ok().and_then(|v| ty.norm(&v).ok());
        match norm {
            Some((n, _)) => Some(Val::from_msgpack(&n)),
            None => {
                let shown = valu.to_str().unwrap_or_default();
                self.help(Some(format!("Invalid value for type ({t}): {shown}")));
                None
            }
        }
    }

    fn store(&mut self, name: &str, arg: &Arg, todo: &mut VecDeque<Val>, opts: &mut Opts) -> bool {
        match arg.nargs {
            Nargs::One => {
                if todo.front().is_none_or(|v| self.is_opt(v)) {
                    let mesg = if name.starts_with('-') {
                        format!("An argument is required for {name}.")
                    } else {
                        format!("The argument <{name}> is required.")
                    };
                    self.help(Some(mesg));
                    return false;
                }
                let Some(valu) = todo.pop_front() else {
                    return false;
                };
                let Some(valu) = self.norm(arg, valu) else {
                    return false;
                };
                opts.insert(arg.dest.clone(), valu);
                true
            }
            Nargs::Opt => {
                opts.entry(arg.dest.clone())
                    .or_insert_with(|| arg.default.clone().unwrap_or(Val::Null));
                if todo.front().is_some_and(|v| !self.is_opt(v)) {
                    let Some(valu) = todo.pop_front() else {
                        return false;
                    };
                    let Some(valu) = self.norm(arg, valu) else {
                        return false;
                    };
                    opts.insert(arg.dest.clone(), valu);
                }
                true
            }
            Nargs::Star | Nargs::Plus => {
                let mut vals = Vec::new();
                while todo.front().is_some_and(|v| !self.is_opt(v)) {
                    let Some(valu) = todo.pop_front() else { break };
                    let Some(valu) = self.norm(arg, valu) else {
                        return false;
                    };
                    vals.push(valu);
                }
                if arg.nargs == Nargs::Plus && vals.is_empty() {
                    self.help(Some(format!(
                        "At least one argument is required for {name}."
                    )));
                    return false;
                }
                opts.insert(arg.dest.clone(), super::value::new_list(vals));
                true
            }
        }
    }

    fn dest_str(arg: &Arg) -> String {
        match arg.nargs {
            Nargs::Star => format!("[<{}> ...]", arg.dest),
            Nargs::Plus => format!("<{0}> [<{0}> ...]", arg.dest),
            Nargs::Opt => format!("[{}]", arg.dest),
            Nargs::One => format!("<{}>", arg.dest),
        }
    }

    fn help(&mut self, mesg: Option<String>) {
        let posnames: Vec<String> = self
            .args
            .iter()
            .filter(|a| !a.is_opt())
            .map(|a| format!("<{}>", a.names[0]))
            .collect();
        self.mesgs.push(String::new());
        self.mesgs.push(self.spec.descr.to_owned());
        self.mesgs.push(String::new());
        self.mesgs.push(format!(
            "Usage: {} [options] {}",
            self.spec.name,
            posnames.join(" ")
        ));
        self.mesgs.push(String::new());
        self.mesgs.push("Options:".into());
        self.mesgs.push(String::new());
        let args = self.args.clone();
        for arg in args.iter().filter(|a| a.is_opt()) {
            let base = if arg.action == Action::StoreTrue {
                format!("  {}", arg.names[0])
            } else {
                format!("  {} {}", arg.names[0], Parser::dest_str(arg))
            };
            let mut helpstr = arg.help.to_owned();
            if let Some(d) = &arg.default
                && arg.action != Action::StoreTrue
            {
                helpstr = format!("{helpstr} (default: {})", d.to_str().unwrap_or_default());
            }
            self.mesgs.push(format!("{base:<30}: {helpstr}"));
        }
        let pos: Vec<Arg> = args.iter().filter(|a| !a.is_opt()).cloned().collect();
        if !pos.is_empty() {
            self.mesgs.push(String::new());
            self.mesgs.push("Arguments:".into());
            self.mesgs.push(String::new());
            for arg in pos {
                let base = format!("  {}", Parser::dest_str(&arg));
                self.mesgs.push(format!("{base:<30}: {}", arg.help));
            }
        }
        if let Some(mesg) = mesg {
            self.exc = Some(mesg);
        }
    }
}

fn spec_of(name: &str) -> Option<Spec> {
    let s = |name, descr, args| Some(Spec { name, descr, args });
    match name {
        "limit" => s("limit", "Limit the number of nodes generated by the query in the given position.", vec![
            Arg::new(&["count"], "The maximum number of nodes to yield.").ty("int"),
        ]),
        "uniq" => s("uniq", "Filter nodes by their uniq iden values (or by a value).", vec![
            Arg::new(&["value"], "A relative property or variable to uniq by.").nargs(Nargs::Opt),
        ]),
        "count" => s("count", "Iterate through query results, and print the resulting number of nodes.", vec![
            Arg::flag(&["--yield"], "Yield inbound nodes.").dest("yieldnodes"),
        ]),
        "spin" => s("spin", "Iterate through all query results, but do not yield any.", vec![]),
        "max" | "min" => s(
            if name == "max" { "max" } else { "min" },
            if name == "max" {
                "Consume nodes and yield the nodes with the highest values for an expression."
            } else {
                "Consume nodes and yield the nodes with the lowest values for an expression."
            },
            vec![
                Arg::new(&["valu"], "The property or variable to use for comparison."),
                Arg::new(&["--size"], "The number of nodes to yield (max 10000).").default(Val::Int(1)),
            ],
        ),
        "delnode" => s("delnode", "Delete nodes produced by the previous query logic.", vec![
            Arg::flag(&["--force"], "Force delete even if it causes broken references (requires admin)."),
            Arg::flag(&["--delbytes"], "For file:bytes nodes, remove the bytes associated with the sha256 property from the axon as well if present."),
            Arg::flag(&["--deledges"], "Delete N2 light edges before deleting the node."),
        ]),
        "tee" => s("tee", "Execute multiple Storm queries on each node in the input stream, joining output streams together.", vec![
            Arg::flag(&["--join", "-j"], "Emit inbound nodes after processing storm queries."),
            Arg::flag(&["--parallel", "-p"], "Run the storm queries in parallel instead of sequence. The node output order is not guaranteed."),
            Arg::new(&["query"], "Specify a query to execute on the input nodes.").nargs(Nargs::Star),
        ]),
        "intersect" => s("intersect", "Yield an intersection of the results of running inbound nodes through a pivot.", vec![
            Arg::new(&["query"], "The pivot query to run each inbound node through.").ty("str").required(),
        ]),
        "iden" => s("iden", "Lift nodes by iden.", vec![
            Arg::new(&["iden"], "Iden to lift nodes by. May be specified multiple times.").nargs(Nargs::Star).ty("str").default(super::value::new_list(Vec::new())),
        ]),
        "sleep" => s("sleep", "Introduce a delay between returning each result for the storm query.", vec![
            Arg::new(&["delay"], "Delay in floating point seconds.").ty("float").default(Val::Int(1)),
        ]),
        "help" => s("help", "List available information about Storm and brief descriptions of different items.", vec![
            Arg::new(&["item"], "List information about a subset of commands or a specific item.").nargs(Nargs::Opt),
            Arg::flag(&["-v", "--verbose"], "Display detailed help when available."),
        ]),
        "version" => s("version", "Show version metadata relating to Synapse.", vec![]),
        "sudo" => s("sudo", "Deprecated: use a runtime with elevated privileges.", vec![]),
        "movetag" => s("movetag", "Rename an entire tag tree and preserve time intervals.", vec![
            Arg::new(&["oldtag"], "The tag tree to rename."),
            Arg::new(&["newtag"], "The new tag tree name."),
        ]),
        "edges.del" => s("edges.del", "Bulk delete light edges from input nodes.", vec![
            Arg::new(&["verb"], "The verb of light edges to delete."),
            Arg::flag(&["--n2"], "Delete light edges where input node is N2 instead of N1."),
        ]),
        "lift.byverb" => s("lift.byverb", "Lift nodes from the current view by an light edge verb.", vec![
            Arg::new(&["verb"], "The edge verb to lift nodes by.").ty("str"),
            Arg::flag(&["--n2"], "Lift by the N2 value instead of N1 value."),
        ]),
        "graph" => s("graph", "Generate a subgraph from the given input nodes and command line options.", vec![
            Arg::new(&["--degrees"], "How many degrees to graph out.").ty("int").default(Val::Int(1)),
            Arg::new(&["--pivot"], "Specify a storm pivot for all nodes. (must quote)").append().default(super::value::new_list(Vec::new())),
            Arg::new(&["--filter"], "Specify a storm filter for all nodes. (must quote)").append().default(super::value::new_list(Vec::new())),
            Arg::flag(&["--refs"], "Do automatic in-model pivoting with node.getNodeRefs()."),
            Arg::flag(&["--yield-filtered"], "Yield nodes which would be filtered. This still performs pivots to collect edge data,but does not yield pivoted nodes.").dest("yieldfiltered"),
            Arg::flag(&["--no-filter-input"], "Do not drop input nodes if they would match a filter.").dest("nofilterinput"),
        ]),
        "tag.prune" => s("tag.prune", "Prune a tag, or a list of tags, from nodes.", vec![
            Arg::new(&["tags"], "Names of tags to prune.").nargs(Nargs::Plus),
        ]),
        _ => None,
    }
}

/// Every built-in command name.
pub(crate) const COMMANDS: &[&str] = &[
    "count",
    "delnode",
    "edges.del",
    "graph",
    "help",
    "iden",
    "intersect",
    "lift.byverb",
    "limit",
    "max",
    "min",
    "movetag",
    "sleep",
    "spin",
    "sudo",
    "tag.prune",
    "tee",
    "uniq",
    "version",
];

type OptsStream = BoxStream<'static, RResult<(Item, Arc<Opts>)>>;

async fn parse_argv(runt: &Arc<Runt>, spec: &Spec, argv: Vec<Val>) -> RResult<Arc<Opts>> {
    let parsed = Parser::new(spec, runt).parse(argv);
    for line in &parsed.mesgs {
        runt.shared.print(line).await;
    }
    if let Some(mesg) = parsed.exc {
        return Err(Flow::Err(StormError::new("BadArg", mesg)));
    }
    match parsed.opts {
        Some(opts) => Ok(Arc::new(opts)),
        None => Err(Flow::Exit),
    }
}

/// A command operator.
pub(crate) fn cmd_op(runt: Arc<Runt>, pipe: Pipeline, idx: usize, input: ItemStream) -> ItemStream {
    async_stream::try_stream! {
        let op = &pipe.ops[idx];
        let OpKind::Cmd(cmd) = &op.kind else { return; };
        let Some(spec) = spec_of(&cmd.name) else {
            Err(runt.error(op.span, "NoSuchName", format!("Storm command ({}) not found.", cmd.name)).pipe_name(&cmd.name))?;
            return;
        };
        let spec = Arc::new(spec);
        let runtsafe = op.runtsafe;
        if runt.shared.opts.readonly && !["limit", "uniq", "count", "spin", "max", "min", "tee", "intersect", "iden", "sleep", "help", "version", "graph", "lift.byverb"].contains(&cmd.name.as_str()) {
            Err(runt.error(op.span, "IsReadOnly", format!("Command ({}) is not marked safe for readonly use.", cmd.name)))?;
        }
        let args = cmd.args.clone();
        let stream: OptsStream = if runtsafe {
            let mut argv = Vec::new();
            for a in &args {
                argv.push(eval(&runt, a, None).await?);
            }
            let opts = parse_argv(&runt, &spec, argv).await?;
            input.map(move |i| i.map(|i| (i, Arc::clone(&opts)))).boxed()
        } else {
            let runt2 = Arc::clone(&runt);
            let spec2 = Arc::clone(&spec);
            let mut genx = input
                .then(move |item| {
                    let runt = Arc::clone(&runt2);
                    let spec = Arc::clone(&spec2);
                    let args = args.clone();
                    async move {
                        let item = item?;
                        let mut argv = Vec::new();
                        for a in &args {
                            argv.push(eval(&runt, a, Some(&item)).await?);
                        }
                        let opts = parse_argv(&runt, &spec, argv).await?;
                        Ok::<_, Flow>((item, opts))
                    }
                })
                .boxed();
            match genx.next().await {
                None => return,
                Some(first) => {
                    let first = first?;
                    futures::stream::once(async move { Ok(first) }).chain(genx).boxed()
                }
            }
        };
        let mut out = run_cmd(&runt, &cmd.name, runtsafe, stream, op.span).await?;
        while let Some(item) = out.next().await {
            yield item?;
        }
    }
    .boxed()
}

trait NameErr {
    fn pipe_name(self, name: &str) -> Flow;
}

impl NameErr for Flow {
    fn pipe_name(self, name: &str) -> Flow {
        match self {
            Flow::Err(e) => Flow::Err(e.with("name", name)),
            other => other,
        }
    }
}

fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

/// Parse the text of a query argument and plan it for a sub-runtime.
fn sub_query(runt: &Arc<Runt>, text: &str) -> RResult<(Arc<Runt>, Pipeline)> {
    let query =
        crate::storm::parse_query(text).map_err(|e| Flow::Err(super::bad_syntax(text, &e)))?;
    let plan = exec::plan_query(text, &query, Vec::new(), exec::visible_vars(runt))?;
    let runtvars = plan.vars.iter().cloned().collect();
    let subr = exec::sub_runtime(runt, runtvars, Vec::new(), false, None)?;
    let subr = Arc::new(Runt {
        shared: Arc::clone(&subr.shared),
        vars: std::sync::Mutex::new(Default::default()),
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

async fn run_cmd(
    runt: &Arc<Runt>,
    name: &str,
    runtsafe: bool,
    input: OptsStream,
    span: Span,
) -> RResult<ItemStream> {
    let runt = Arc::clone(runt);
    let name = name.to_owned();
    Ok(async_stream::try_stream! {
        let mut input = input;
        match name.as_str() {
            "limit" => {
                let mut count: i128 = 0;
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    let max = opt(&opts, "count").to_int()?;
                    if count >= max {
                        break;
                    }
                    yield item;
                    count += 1;
                    if count >= max {
                        break;
                    }
                }
            }
            "uniq" => {
                let mut seen: HashSet<Vec<u8>> = HashSet::new();
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    let key = match opts.get("value") {
                        Some(v) if !v.is_null() || !runtsafe => {
                            let prim = v.to_msgpack().unwrap_or(rmpv::Value::Nil);
                            crate::model::packb(&prim)
                        }
                        _ => item.node.buid.to_vec(),
                    };
                    if seen.insert(key) {
                        yield item;
                    }
                }
            }
            "count" => {
                let mut count = 0u64;
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    count += 1;
                    if opt(&opts, "yieldnodes").truthy() {
                        yield item;
                    }
                }
                runt.shared.print(&format!("Counted {count} nodes.")).await;
            }
            "spin" => {
                while let Some(x) = input.next().await {
                    x?;
                }
            }
            "max" | "min" => {
                let ismax = name == "max";
                let mut best: Vec<(Val, usize, Item)> = Vec::new();
                let mut counter = 0usize;
                let mut size;
                let ivalty = runt.model().ty("ival");
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    let s = opt(&opts, "size").to_int()?;
                    if s < 1 {
                        Err(Flow::Err(StormError::new("BadArg", format!("Specified size ({s}) is below the minimum (1)."))))?;
                    }
                    if s > 10000 {
                        Err(Flow::Err(StormError::new("BadArg", format!("Specified size ({s}) is above the maximum (10000)."))))?;
                    }
                    size = s as usize;
                    let mut valu = opt(&opts, "valu").clone();
                    if valu.is_null() {
                        continue;
                    }
                    if let Some(items) = valu.seq_items() {
                        if items.iter().all(Val::is_null) {
                            continue;
                        }
                        let prim = valu.to_msgpack()?;
                        if let Some(ty) = ivalty
                            && let Ok((ival, _)) = ty.norm(&prim)
                            && let Some(arr) = ival.as_array()
                        {
                            valu = Val::from_msgpack(&arr[if ismax { 1 } else { 0 }]);
                        }
                    }
                    let valu = match &valu {
                        Val::Str(s) => {
                            let low = s.to_lowercase();
                            Val::Int(match low.as_str() {
                                "true" => 1,
                                "false" => 0,
                                _ => crate::model::value::py_int0(&low).map_err(|_| Flow::Err(StormError::new("BadCast", format!("Failed to make an integer from \"{low}\"."))))?,
                            })
                        }
                        Val::Float(_) | Val::Num(_) => valu.clone(),
                        other => Val::Int(other.to_int()?),
                    };
                    best.push((valu, counter, item));
                    counter += 1;
                    best.sort_by(|a, b| {
                        let o = super::eval::order(&a.0, &b.0);
                        let o = if ismax { o.reverse() } else { o };
                        o.then(a.1.cmp(&b.1))
                    });
                    best.truncate(size);
                }
                for (_, _, item) in best {
                    yield item;
                }
            }
            "delnode" => {
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    let force = opt(&opts, "force").truthy();
                    if force && !runt.asroot && !runt.shared.user.admin {
                        Err(Flow::Err(StormError::new("AuthDeny", "--force requires admin privs.")
                            .with("user", runt.shared.user.iden.as_str())
                            .with("username", runt.shared.user.name.as_str())))?;
                    }
                    for (tag, _) in &item.node.tags {
                        let parts: Vec<&str> = ["node", "tag", "del"].into_iter().chain(tag.split('.')).collect();
                        runt.layer_confirm(&parts)?;
                    }
                    runt.layer_confirm(&["node", "del", &item.node.form])?;
                    if opt(&opts, "deledges").truthy() {
                        let mut edges = runt.view.edges_n2(item.node.buid, None);
                        let mut todo = Vec::new();
                        while let Some(e) = edges.next().await {
                            todo.push(e.map_err(Flow::from)?);
                        }
                        let mut editor = runt.shared.editor.lock().await;
                        for (verb, n1) in todo {
                            runt.layer_confirm(&["node", "edge", "del", &verb])?;
                            editor.del_edge(&n1, &verb, &item.node.buid).await.map_err(Flow::from)?;
                        }
                        runt.flush(&mut editor).await?;
                    }
                    let mut editor = runt.shared.editor.lock().await;
                    let res = editor.del_node(&item.node.buid, force).await;
                    if let Err(e) = res {
                        editor.reset();
                        Err(runt.at(span, Flow::from(e)))?;
                    }
                    runt.flush(&mut editor).await?;
                }
            }
            "tee" => {
                if !runtsafe {
                    Err(rterr("tee arguments must be runtsafe."))?;
                }
                let mut queries: Vec<(Arc<Runt>, Pipeline)> = Vec::new();
                let mut join = false;
                let mut node_seen = false;
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    node_seen = true;
                    if queries.is_empty() {
                        join = opt(&opts, "join").truthy();
                        for text in query_texts(opt(&opts, "query"))? {
                            queries.push(sub_query(&runt, &text)?);
                        }
                        if queries.is_empty() {
                            Err(Flow::Err(StormError::new("StormRuntimeError", "Tee command must take at least one query as input.").with("name", "tee")))?;
                        }
                    }
                    for (subr, body) in &queries {
                        let path = item.path.clone();
                        let mut sub = exec::run_pipeline(subr, body, exec::once(Item { node: item.node.clone(), path }));
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
                    if join {
                        yield item;
                    }
                }
                if !node_seen && runtsafe {
                    let mut argv_opts: Option<Arc<Opts>> = None;
                    let _ = &mut argv_opts;
                }
            }
            "intersect" => {
                if !runtsafe {
                    Err(rterr("intersect arguments must be runtsafe."))?;
                }
                let mut counts: indexmap::IndexMap<crate::nodeedit::Buid, (usize, super::runt::Path)> = indexmap::IndexMap::new();
                let mut count = 0usize;
                let mut query: Option<(Arc<Runt>, Pipeline)> = None;
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    count += 1;
                    if query.is_none() {
                        let text = opt(&opts, "query").to_str()?;
                        query = Some(sub_query(&runt, &text)?);
                    }
                    if let Some((subr, body)) = &query {
                        let mut sub = exec::run_pipeline(subr, body, exec::once(item));
                        while let Some(i) = sub.next().await {
                            let i = i?;
                            let entry = counts.entry(i.node.buid).or_insert((0, i.path.clone()));
                            entry.0 += 1;
                            entry.1 = i.path.clone();
                        }
                    }
                }
                for (buid, (hits, path)) in counts {
                    if hits != count {
                        continue;
                    }
                    if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                        let mut npath = runt.init_path(&node);
                        npath.update(&path);
                        yield Item { node: Arc::new(node), path: npath };
                    }
                }
            }
            "iden" => {
                if !runtsafe {
                    Err(rterr("iden argument must be runtsafe."))?;
                }
                let mut last_opts = None;
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    last_opts = Some(opts);
                    yield item;
                }
                let _ = last_opts;
            }
            "sleep" => {
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    yield item;
                    let secs = match opt(&opts, "delay") {
                        Val::Float(f) => *f,
                        other => other.to_int().unwrap_or(1) as f64,
                    };
                    tokio::time::sleep(std::time::Duration::from_secs_f64(secs.max(0.0))).await;
                }
            }
            "version" => {
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
                runt.shared.print("Synapse Version: 2.256.0").await;
                runt.shared.print("Commit Hash: 7829c2f").await;
            }
            "help" => {
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
            }
            "movetag" => {
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
            }
            "lift.byverb" => {
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
            }
            "edges.del" => {
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    let verb = opt(&opts, "verb").to_str()?;
                    let n2 = opt(&opts, "n2").truthy();
                    runt.layer_confirm(&["node", "edge", "del", &verb])?;
                    let v = if verb == "*" { None } else { Some(verb.as_str()) };
                    let mut edges = if n2 { runt.view.edges_n2(item.node.buid, v) } else { runt.view.edges_n1(item.node.buid, v) };
                    let mut todo = Vec::new();
                    while let Some(e) = edges.next().await {
                        todo.push(e.map_err(Flow::from)?);
                    }
                    let mut editor = runt.shared.editor.lock().await;
                    for (verb, other) in todo {
                        if n2 {
                            editor.del_edge(&other, &verb, &item.node.buid).await.map_err(Flow::from)?;
                        } else {
                            editor.del_edge(&item.node.buid, &verb, &other).await.map_err(Flow::from)?;
                        }
                    }
                    runt.flush(&mut editor).await?;
                    drop(editor);
                    yield item;
                }
            }
            _ => {
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
            }
        }
    }
    .boxed())
}

fn query_texts(v: &Val) -> RResult<Vec<String>> {
    let mut out = Vec::new();
    for arg in v.seq_items().unwrap_or_default() {
        match &arg {
            Val::Str(s) => out.push(s.to_string()),
            other => {
                for t in other.seq_items().unwrap_or_default() {
                    out.push(t.to_str()?);
                }
            }
        }
    }
    Ok(out)
}

#[allow(dead_code)]
fn _unused() -> ItemStream {
    empty()
}
