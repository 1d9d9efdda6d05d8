//! `$lib.gen` (find-or-make nodes by a secondary property) and the `gen.*` commands.
//!
//! The library is a Storm module of our own (`genlib.storm`): each use of `$lib.gen` runs it in
//! a module runtime of the caller's query (same user, view and `asroot`, no caller
//! variables), as the reference runs its library queries, and hands back its functions.
//! The `gen.*` commands call one function per inbound node and yield the node it returns
//! before the inbound node (or once, without inbound nodes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures::StreamExt;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError};
use super::exec::{self, ItemStream};
use super::runt::{Item, Runt};
use super::value::Val;
use crate::storm::ast::Query;

/// The Storm text of the module.
const MODULE: &str = include_str!("genlib.storm");

/// The `$lib` path of the library.
pub(crate) const LIB: &str = "lib.gen";

/// The functions the reference documents (the module has helpers besides).
pub(crate) const DOCUMENTED: &[&str] = &[
    "orgByName",
    "orgHqByName",
    "orgByFqdn",
    "industryByName",
    "newsByUrl",
    "softByName",
    "vulnByCve",
    "riskThreat",
    "riskToolSoftware",
    "psContactByEmail",
    "polCountryByIso2",
    "langByName",
    "langByCode",
    "campaign",
    "itAvScanResultByTarget",
    "geoPlaceByName",
    "fileBytesBySha256",
    "cryptoX509CertBySha256",
    "inetTlsServerCertByServerAndSha256",
];

/// The module, parsed once.
fn module() -> Result<&'static Query, Flow> {
    static PARSED: OnceLock<Result<Query, StormError>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            crate::storm::parse_query(MODULE)
                .map_err(|e| super::super::runtime::bad_syntax(MODULE, &e))
        })
        .as_ref()
        .map_err(|e| Flow::Err(e.clone()))
}

/// Run the module in a runtime of the caller's query; its variables are the functions.
async fn module_runt(runt: &Arc<Runt>) -> RResult<Arc<Runt>> {
    if runt.depth >= super::runt::MAX_DEPTH {
        return Err(Flow::Err(StormError::new(
            "RecursionLimitHit",
            "Maximum Storm pipeline depth exceeded.",
        )));
    }
    let query = module()?;
    let plan = exec::plan_query(MODULE, query, Vec::new(), Vec::new())?;
    let modr = Arc::new(Runt {
        shared: Arc::clone(&runt.shared),
        vars: Mutex::new(HashMap::new()),
        runtvars: plan.vars.iter().cloned().collect(),
        root: None,
        funcscope: false,
        asroot: runt.asroot,
        text: Arc::from(MODULE),
        depth: runt.depth + 1,
        view: runt.view.clone(),
        emitq: None,
    });
    let mut out = exec::run_pipeline(&modr, &plan.root, exec::empty());
    while let Some(item) = out.next().await {
        item?;
    }
    Ok(modr)
}

fn nosuchname(name: &str) -> Flow {
    Flow::Err(
        StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
    )
}

/// `$lib.gen.name`: a function of the module.
pub(crate) async fn deref(runt: &Arc<Runt>, name: &str) -> RResult<Val> {
    let modr = module_runt(runt).await?;
    match modr.runt_var(name) {
        Some(valu @ Val::Func(_)) => Ok(valu),
        _ => Err(nosuchname(name)),
    }
}

/// `$lib.gen.name(...)`.
pub(crate) async fn call(
    runt: &Arc<Runt>,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    match deref(runt, name).await? {
        Val::Func(func) => exec::call_func(&func, args, kwargs).await,
        _ => Err(nosuchname(name)),
    }
}

/// A `gen.*` command: the function it calls, the options passed by position, and the
/// options passed by keyword as `(keyword, option)`.
struct GenCmd {
    name: &'static str,
    func: &'static str,
    args: &'static [&'static str],
    kwargs: &'static [(&'static str, &'static str)],
}

const TRY: &[(&str, &str)] = &[("try", "try")];

const CMDS: &[GenCmd] = &[
    GenCmd {
        name: "gen.ou.id.number",
        func: "orgIdNumber",
        args: &["type", "value"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.ou.id.type",
        func: "orgIdType",
        args: &["name"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.ou.org",
        func: "orgByName",
        args: &["name"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.ou.org.hq",
        func: "orgHqByName",
        args: &["name"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.ou.campaign",
        func: "campaign",
        args: &["name", "reporter"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.it.prod.soft",
        func: "softByName",
        args: &["name"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.risk.threat",
        func: "riskThreat",
        args: &["name", "reporter"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.risk.tool.software",
        func: "riskToolSoftware",
        args: &["name", "reporter"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.risk.vuln",
        func: "vulnByCve",
        args: &["cve"],
        kwargs: &[("try", "try"), ("reporter", "reporter")],
    },
    GenCmd {
        name: "gen.ou.industry",
        func: "industryByName",
        args: &["name"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.pol.country",
        func: "polCountryByIso2",
        args: &["iso2"],
        kwargs: TRY,
    },
    GenCmd {
        name: "gen.pol.country.government",
        func: "polCountryOrgByIso2",
        args: &["iso2"],
        kwargs: TRY,
    },
    GenCmd {
        name: "gen.ps.contact.email",
        func: "psContactByEmail",
        args: &["type", "email"],
        kwargs: TRY,
    },
    GenCmd {
        name: "gen.lang.language",
        func: "langByName",
        args: &["name"],
        kwargs: &[],
    },
    GenCmd {
        name: "gen.it.av.scan.result",
        func: "itAvScanResultByTarget",
        args: &["form", "value", "signame"],
        kwargs: &[
            ("scanner", "scanner_name"),
            ("time", "time"),
            ("try", "try"),
        ],
    },
    GenCmd {
        name: "gen.geo.place",
        func: "geoPlaceByName",
        args: &["name"],
        kwargs: &[],
    },
];

/// Whether this module runs the command.
pub(crate) fn handles(name: &str) -> bool {
    CMDS.iter().any(|c| c.name == name)
}

/// The node a command's function gives for one set of options.
async fn gen_node(runt: &Arc<Runt>, cmd: &GenCmd, opts: &Opts) -> RResult<Option<Val>> {
    let get = |dest: &str| opts.get(dest).cloned().unwrap_or(Val::Null);
    let args = cmd.args.iter().map(|a| get(a)).collect();
    let kwargs = cmd
        .kwargs
        .iter()
        .map(|(kw, dest)| ((*kw).to_owned(), get(dest)))
        .collect();
    match call(runt, cmd.func, args, kwargs).await? {
        Val::Null => Ok(None),
        valu => Ok(Some(valu)),
    }
}

/// The node a function returned, as a pipeline item with the inbound node's variables.
fn gen_item(runt: &Runt, valu: Val, vars: Option<&Item>) -> RResult<Item> {
    let Val::Node(node) = valu else {
        return Err(Flow::Err(StormError::new(
            "BadCast",
            format!("Cannot convert {} to a node.", valu.typename()),
        )));
    };
    let mut path = runt.init_path(&node);
    if let Some(item) = vars {
        for (k, v) in &item.path.vars {
            path.set(k, v.clone());
        }
    }
    Ok(Item { node, path })
}

/// Run a `gen.*` command.
pub(crate) fn run(
    runt: &Arc<Runt>,
    name: &str,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    let name = name.to_owned();
    async_stream::try_stream! {
        let Some(cmd) = CMDS.iter().find(|c| c.name == name) else { return };
        let mut seen = false;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            seen = true;
            if let Some(valu) = gen_node(&runt, cmd, &opts).await? {
                yield gen_item(&runt, valu, Some(&item))?;
            }
            yield item;
        }
        let idle = if !seen && runtsafe { idle } else { None };
        if let Some(opts) = idle {
            let made = gen_node(&runt, cmd, &opts).await?;
            if let Some(valu) = made {
                yield gen_item(&runt, valu, None)?;
            }
        }
    }
    .boxed()
}
