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
    StoreFalse,
    Append,
}

#[derive(Clone, Copy, PartialEq)]
enum Nargs {
    One,
    Opt,
    Star,
    Plus,
    Count(usize),
}

/// One argument of a command.
#[derive(Clone)]
struct Arg {
    names: Vec<String>,
    dest: String,
    action: Action,
    nargs: Nargs,
    default: Option<Val>,
    help: Option<String>,
    argtype: Option<String>,
    required: bool,
    choices: Option<Vec<Val>>,
    /// The warning given when the option is used.
    deprecated: Option<String>,
}

impl Arg {
    fn is_opt(&self) -> bool {
        self.names[0].starts_with('-')
    }
}

/// A command's description and arguments (`--help` first, as the reference declares them).
struct Spec {
    name: String,
    descr: String,
    args: Vec<Arg>,
    readonly: bool,
    /// The deprecation message of a deprecated command (shown by `--help`).
    deprecated: Option<String>,
    /// `--help` lines before the usage line (a pure command's endpoints).
    pre_usage: Vec<String>,
    /// `--help` lines after the arguments (a pure command's inputs).
    post_args: Vec<String>,
}

/// The command definitions (descriptions and arguments as the reference declares them; made
/// by `tests/storm_rt/gen_cmddefs.py`).
const CMDDEFS: &str = include_str!("cmddefs.json");

fn specs() -> &'static HashMap<String, Arc<Spec>> {
    static SPECS: std::sync::OnceLock<HashMap<String, Arc<Spec>>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| {
        let mut out = HashMap::new();
        let mut defs: Vec<serde_json::Value> = Vec::new();
        for text in [
            CMDDEFS,
            super::admin::CMDDEFS,
            super::automation::CMDDEFS,
            super::scrape::CMDDEF,
            super::ext::CMDDEFS,
            super::flow::CMDDEFS,
            super::axonlib::CMDDEFS,
        ] {
            let parsed: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            defs.extend(parsed.as_array().cloned().unwrap_or_default());
        }
        for def in &defs {
            let spec = spec_from_def(def);
            out.insert(spec.name.clone(), Arc::new(spec));
        }
        for cdef in super::pkg::builtin_cdefs() {
            let spec = pure_spec(cdef);
            out.insert(spec.name.clone(), Arc::new(spec));
        }
        out
    })
}

/// A command spec from a definition of `cmddefs*.json`.
fn spec_from_def(def: &serde_json::Value) -> Spec {
    let name = def["name"].as_str().unwrap_or_default().to_owned();
    let mut args = Vec::new();
    for arg in def["args"].as_array().into_iter().flatten() {
        let names: Vec<String> = arg["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        let opts = &arg["opts"];
        let action = match opts["action"].as_str() {
            Some("store_true") => Action::StoreTrue,
            Some("store_false") => Action::StoreFalse,
            Some("append") => Action::Append,
            _ => Action::Store,
        };
        let nargs = match &opts["nargs"] {
            serde_json::Value::String(s) if s == "?" => Nargs::Opt,
            serde_json::Value::String(s) if s == "*" => Nargs::Star,
            serde_json::Value::String(s) if s == "+" => Nargs::Plus,
            serde_json::Value::Number(n) => Nargs::Count(n.as_u64().unwrap_or(1) as usize),
            _ => Nargs::One,
        };
        let default = opts
            .as_object()
            .and_then(|o| o.get("default"))
            .map(super::lib::json_to_val);
        args.push(Arg {
            dest: opts["dest"].as_str().unwrap_or_default().to_owned(),
            names,
            action,
            nargs,
            default,
            help: opts["help"].as_str().map(str::to_owned),
            argtype: opts["type"].as_str().map(str::to_owned),
            required: opts["required"].as_bool().unwrap_or(false),
            choices: opts["choices"]
                .as_array()
                .map(|c| c.iter().map(super::lib::json_to_val).collect()),
            deprecated: opts["deprecated"].as_str().map(str::to_owned),
        });
    }
    Spec {
        name,
        descr: def["descr"].as_str().unwrap_or_default().to_owned(),
        args,
        readonly: def["readonly"].as_bool().unwrap_or(false),
        deprecated: def["deprecated"].as_str().map(str::to_owned),
        pre_usage: Vec::new(),
        post_args: Vec::new(),
    }
}

/// The spec of a pure command from its definition (`cmdargs` as `(name, opts)` pairs,
/// `--help` first as the reference's parser adds it; pure commands are readonly-safe).
fn pure_spec(cdef: &serde_json::Value) -> Spec {
    let mut args = vec![serde_json::json!({
        "names": ["--help", "-h"],
        "opts": {"action": "store_true", "default": false,
                 "help": "Display the command usage.", "dest": "help"},
    })];
    for arg in cdef["cmdargs"].as_array().into_iter().flatten() {
        let name = arg[0].as_str().unwrap_or_default();
        let mut opts = arg[1].as_object().cloned().unwrap_or_default();
        if !opts.contains_key("dest") {
            let dest = name.trim_start_matches('-').replace('-', "_");
            opts.insert("dest".to_owned(), serde_json::Value::from(dest));
        }
        if let Some(depr) = opts.get("deprecated").cloned() {
            let mesg = super::pkg::deprmesg(name, &depr).map(serde_json::Value::from);
            opts.insert("deprecated".to_owned(), mesg.unwrap_or_default());
        }
        args.push(serde_json::json!({"names": [name], "opts": opts}));
    }
    let descr = cdef["descr"]
        .as_str()
        .unwrap_or("no documentation provided");
    let name = cdef["name"].as_str().unwrap_or_default();
    let deprecated = super::pkg::deprmesg(name, &cdef["deprecated"]);
    let def = serde_json::json!({
        "name": name,
        "descr": descr,
        "args": args,
        "readonly": true,
        "deprecated": deprecated,
    });
    let mut spec = spec_from_def(&def);
    let (pre, post) = super::pkg::help_extras(cdef);
    spec.pre_usage = pre;
    spec.post_args = post;
    spec
}

/// The outcome of parsing: options, or messages to print and an error / exit.
struct Parsed {
    opts: Option<Opts>,
    mesgs: Vec<String>,
    exc: Option<String>,
    deprs: Vec<String>,
}

struct Parser<'a> {
    spec: &'a Spec,
    mesgs: Vec<String>,
    deprs: Vec<String>,
    exc: Option<String>,
    runt: &'a Runt,
}

impl<'a> Parser<'a> {
    fn new(spec: &'a Spec, runt: &'a Runt) -> Parser<'a> {
        Parser {
            spec,
            mesgs: Vec::new(),
            deprs: Vec::new(),
            exc: None,
            runt,
        }
    }

    fn optarg(&self, name: &str) -> Option<&'a Arg> {
        self.spec
            .args
            .iter()
            .find(|a| a.is_opt() && a.names.iter().any(|n| n == name))
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
            deprs: self.deprs,
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
            let Some(arg) = self.optarg(text) else {
                posargs.push(item);
                continue;
            };
            if let Some(depr) = &arg.deprecated
                && !self.deprs.contains(depr)
            {
                self.deprs.push(depr.clone());
            }
            match arg.action {
                Action::StoreTrue => {
                    opts.insert(arg.dest.clone(), Val::Bool(true));
                }
                Action::StoreFalse => {
                    opts.insert(arg.dest.clone(), Val::Bool(false));
                }
                Action::Append => {
                    let mut fake = HashMap::new();
                    if !self.store(text, arg, &mut todo, &mut fake) {
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
                    if !self.store(text, arg, &mut todo, &mut opts) {
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
        for arg in self.spec.args.iter().filter(|a| !a.is_opt()) {
            if !self.store(&arg.names[0], arg, &mut todo, &mut opts) {
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
        for arg in &self.spec.args {
            if let Some(d) = &arg.default
                && !opts.contains_key(&arg.dest)
            {
                let d = match d {
                    Val::List(l) => super::value::new_list(super::value::lock(l).clone()),
                    other => other.clone(),
                };
                opts.insert(arg.dest.clone(), d);
            }
        }
        for arg in &self.spec.args {
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

    fn norm(&mut self, name: &str, arg: &Arg, valu: Val) -> Option<Val> {
        let valu = match &arg.argtype {
            None => valu,
            Some(t) => {
                let norm = self
                    .runt
                    .model()
                    .ty(t)
                    .and_then(|ty| valu.to_msgpack().ok().and_then(|v| ty.norm(&v).ok()));
                match norm {
                    Some((n, _)) => Val::from_msgpack(&n),
                    None => {
                        let shown = valu.to_str().unwrap_or_default();
                        self.help(Some(format!("Invalid value for type ({t}): {shown}")));
                        return None;
                    }
                }
            }
        };
        if let Some(choices) = &arg.choices
            && !choices.iter().any(|c| super::value::py_equal(c, &valu))
        {
            let marg = if name.starts_with('-') {
                name.to_owned()
            } else {
                format!("<{name}>")
            };
            let cstr: Vec<String> = choices
                .iter()
                .map(|c| c.to_str().unwrap_or_default())
                .collect();
            let shown = valu.to_str().unwrap_or_default();
            self.help(Some(format!(
                "Invalid choice for argument {marg} (choose from: {}): {shown}",
                cstr.join(", ")
            )));
            return None;
        }
        Some(valu)
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
                let Some(valu) = self.norm(name, arg, valu) else {
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
                    let Some(valu) = self.norm(name, arg, valu) else {
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
                    let Some(valu) = self.norm(name, arg, valu) else {
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
            Nargs::Count(n) => {
                let mut vals = Vec::new();
                for _ in 0..n {
                    if todo.front().is_none_or(|v| self.is_opt(v)) {
                        self.help(Some(format!("{n} arguments are required for {name}.")));
                        return false;
                    }
                    let Some(valu) = todo.pop_front() else {
                        return false;
                    };
                    let Some(valu) = self.norm(name, arg, valu) else {
                        return false;
                    };
                    vals.push(valu);
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
            _ => format!("<{}>", arg.dest),
        }
    }

    fn wrap(text: &str, width: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut cur: Vec<&str> = Vec::new();
        let mut curlen = 0usize;
        for word in text.split_whitespace() {
            let extra = usize::from(!cur.is_empty());
            if curlen + word.len() + extra > width {
                lines.push(cur.join(" "));
                cur = vec![word];
                curlen = word.len();
            } else {
                cur.push(word);
                curlen += word.len() + usize::from(!cur.is_empty());
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

    fn help(&mut self, mesg: Option<String>) {
        let posnames: Vec<String> = self
            .spec
            .args
            .iter()
            .filter(|a| !a.is_opt())
            .map(|a| format!("<{}>", a.names[0]))
            .collect();
        if !self.spec.descr.is_empty() {
            self.mesgs.push(String::new());
            self.mesgs.push(self.spec.descr.clone());
        }
        if let Some(depr) = &self.spec.deprecated {
            self.mesgs.push(String::new());
            self.mesgs.push(format!("Deprecated: {depr}"));
        }
        self.mesgs.extend(self.spec.pre_usage.iter().cloned());
        self.mesgs.push(String::new());
        self.mesgs.push(format!(
            "Usage: {} [options] {}",
            self.spec.name,
            posnames.join(" ")
        ));
        self.mesgs.push(String::new());
        self.mesgs.push("Options:".into());
        self.mesgs.push(String::new());
        for arg in self.spec.args.iter().filter(|a| a.is_opt()) {
            let flag = matches!(arg.action, Action::StoreTrue | Action::StoreFalse);
            let base = if flag {
                format!("  {}", arg.names[0])
            } else {
                format!("  {} {}", arg.names[0], Parser::dest_str(arg))
            };
            let mut helpstr = arg
                .help
                .clone()
                .unwrap_or_else(|| "No help available.".into());
            let cstr = arg.choices.as_ref().map(|c| {
                c.iter()
                    .map(|v| v.to_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            match (&arg.default, flag) {
                (Some(d), false) => {
                    let dv = d.to_str().unwrap_or_default();
                    helpstr = match &cstr {
                        None => format!("{helpstr} (default: {dv})"),
                        Some(c) => format!("{helpstr} (default: {dv}, choices: {c})"),
                    };
                }
                _ => {
                    if let Some(c) = &cstr {
                        helpstr = format!("{helpstr} (choices: {c})");
                    }
                }
            }
            let wrapped = Parser::wrap(&helpstr, 88);
            self.mesgs.push(format!("{base:<30}: {}", wrapped[0]));
            if let Some(depr) = &arg.deprecated {
                self.mesgs.push(format!("{:<32}Deprecated: {depr}", ""));
            }
            for ln in &wrapped[1..] {
                self.mesgs.push(format!("{:<32}{ln}", ""));
            }
        }
        let pos: Vec<Arg> = self
            .spec
            .args
            .iter()
            .filter(|a| !a.is_opt())
            .cloned()
            .collect();
        if !pos.is_empty() {
            self.mesgs.push(String::new());
            self.mesgs.push("Arguments:".into());
            self.mesgs.push(String::new());
            for arg in pos {
                let mut helpstr = arg
                    .help
                    .clone()
                    .unwrap_or_else(|| "No help available".into());
                if let Some(c) = &arg.choices {
                    let cstr: Vec<String> =
                        c.iter().map(|v| v.to_str().unwrap_or_default()).collect();
                    helpstr = format!("{helpstr} (choices: {})", cstr.join(", "));
                }
                let base = format!("  {}", Parser::dest_str(&arg));
                self.mesgs.push(format!("{base:<30}: {helpstr}"));
            }
        }
        self.mesgs.extend(self.spec.post_args.iter().cloned());
        if let Some(mesg) = mesg {
            self.exc = Some(mesg);
        }
    }
}

/// `(name, description)` of every command, sorted by name.
pub(crate) fn command_docs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = specs()
        .values()
        .map(|s| (s.name.clone(), s.descr.trim().to_owned()))
        .collect();
    out.sort();
    out
}

/// Every built-in command name, sorted.
pub(crate) fn command_names() -> Vec<String> {
    let mut names: Vec<String> = specs().keys().cloned().collect();
    names.sort();
    names
}

pub(crate) type OptsStream = BoxStream<'static, RResult<(Item, Arc<Opts>)>>;

async fn parse_argv(runt: &Arc<Runt>, spec: &Spec, argv: Vec<Val>) -> RResult<Arc<Opts>> {
    let parsed = Parser::new(spec, runt).parse(argv);
    for depr in &parsed.deprs {
        runt.shared.warnonce(depr).await;
    }
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
        let pure = super::pkg::cmd_def(&runt, &cmd.name)
            .filter(|_| super::pkg::is_builtin(&cmd.name) || !specs().contains_key(&cmd.name));
        let spec = match (&pure, specs().get(&cmd.name)) {
            (Some(cdef), None) => Some(Arc::new(pure_spec(cdef))),
            (_, Some(spec)) => Some(Arc::clone(spec)),
            (None, None) => None,
        };
        let Some(spec) = spec else {
            Err(runt.error(op.span, "NoSuchName", format!("Storm command ({}) not found.", cmd.name)).pipe_name(&cmd.name))?;
            return;
        };
        let runtsafe = op.runtsafe;
        if runt.shared.opts.readonly && !spec.readonly {
            Err(runt.error(op.span, "IsReadOnly", format!("Command ({}) is not marked safe for readonly use.", cmd.name)))?;
        }
        let args = cmd.args.clone();
        let mut idle = None;
        let stream: OptsStream = if runtsafe {
            // pull the first node before evaluating the arguments, as the reference does:
            // upstream assignments (`$x=... | cmd $x`) run first
            let mut input = input;
            let first = input.next().await;
            let input = match first {
                Some(first) => futures::stream::once(async move { first }).chain(input).boxed(),
                None => input,
            };
            let mut argv = Vec::new();
            for a in &args {
                argv.push(eval(&runt, a, None).await?);
            }
            let opts = parse_argv(&runt, &spec, argv).await?;
            idle = Some(Arc::clone(&opts));
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
        let mut out = if let Some(cdef) = pure {
            let dests = spec.args.iter().map(|a| a.dest.clone()).collect();
            super::pkg::run_pure(&runt, cdef, dests, runtsafe, idle, stream)
        } else if super::automation::handles(&cmd.name) {
            super::automation::run_cmd(&runt, &cmd.name, idle, stream)
        } else if super::morecmds::handles(&cmd.name) {
            super::morecmds::run(&runt, &cmd.name, runtsafe, idle, stream)
        } else if super::ext::handles(&cmd.name) {
            super::ext::run(&runt, &cmd.name, runtsafe, idle, stream)
        } else if super::flow::handles(&cmd.name) {
            super::flow::run(&runt, &cmd.name, runtsafe, idle, stream)
        } else if super::axonlib::handles(&cmd.name) {
            super::axonlib::run(&runt, runtsafe, idle, stream)
        } else if super::scrape::handles(&cmd.name) {
            super::scrape::run(&runt, runtsafe, idle, stream)
        } else {
            run_cmd(&runt, &cmd.name, runtsafe, idle, stream, op.span).await?
        };
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
pub(crate) fn sub_query(runt: &Arc<Runt>, text: &str) -> RResult<(Arc<Runt>, Pipeline)> {
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
    idle: Option<Arc<Opts>>,
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
                // without inbound nodes the reference still refuses a tee without queries
                // without inbound nodes the queries run once, with no input
                if !node_seen && let Some(opts) = &idle {
                    let texts = query_texts(opt(opts, "query"))?;
                    if texts.is_empty() {
                        Err(Flow::Err(StormError::new("StormRuntimeError", "Tee command must take at least one query as input.").with("name", "tee")))?;
                    }
                    for text in texts {
                        let (subr, body) = sub_query(&runt, &text)?;
                        let mut sub = exec::run_pipeline(&subr, &body, empty());
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
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
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
                let idens = idle.as_deref().map(|o| opt(o, "iden").seq_items().unwrap_or_default()).unwrap_or_default();
                for iden in idens {
                    let iden = iden.to_str()?;
                    let Ok(buid) = hex::decode(&iden) else {
                        runt.shared.warn(&format!("Failed to decode iden: [{iden}]"), Vec::new()).await;
                        continue;
                    };
                    let Ok(buid) = crate::nodeedit::Buid::try_from(buid.as_slice()) else {
                        runt.shared.warn(&format!("iden must be 32 bytes [{iden}]"), Vec::new()).await;
                        continue;
                    };
                    if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                        let path = runt.init_path(&node);
                        yield Item { node: Arc::new(node), path };
                    }
                }
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
                let mut seen = false;
                while let Some(x) = input.next().await {
                    let (item, opts) = x?;
                    seen = true;
                    super::tier1::help(&runt, &opts).await?;
                    yield item;
                }
                if !seen && let Some(opts) = &idle {
                    super::tier1::help(&runt, opts).await?;
                }
            }
            "movetag" => {
                let Some(opts) = idle.filter(|_| runtsafe) else {
                    Err(rterr("movetag arguments must be runtsafe."))?;
                    return;
                };
                super::tier1::movetag(&runt, &opts).await?;
                while let Some(x) = input.next().await {
                    yield x?.0;
                }
            }
            "lift.byverb" => {
                let mut out = super::tier1::lift_byverb(&runt, runtsafe, idle, input);
                while let Some(item) = out.next().await {
                    yield item?;
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
