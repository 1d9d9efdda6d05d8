//! The tier-2 libraries and commands of `queue.rs`, `macros.rs` and `authlib.rs`, wired into
//! the runtime:
//! which `$lib` paths and commands they add, their objects ([`ExtObj`]), and the shared
//! helpers (arguments, the Cortex, errors).

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::ItemStream;
use super::runt::Runt;
use super::value::Val;
use crate::cortex::Cortex;

/// The command definitions of this module's commands (made by
/// `tests/storm_rt/gen_cmddefs_ext.py` from the reference).
pub(crate) const CMDDEFS: &str = include_str!("cmddefs_ext.json");

/// The `$lib` paths this module adds.
const LIBS: &[&str] = &[
    "lib.queue",
    "lib.macro",
    "lib.auth",
    "lib.auth.users",
    "lib.auth.roles",
    "lib.auth.gates",
    "lib.crypto",
    "lib.crypto.hashes",
    "lib.crypto.hmac",
    "lib.random",
    super::loglib::LIB,
    super::graphlib::LIB,
];

/// Whether `path` is one of this module's libraries.
pub(crate) fn is_lib(path: &str) -> bool {
    LIBS.contains(&path) || super::admin::LIBS.contains(&path)
}

/// The functions of one of this module's libraries.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    if super::admin::LIBS.contains(&path) {
        return super::admin::lib_funcs(path);
    }
    match path {
        "lib.queue" => super::queue::LIB_FUNCS,
        "lib.macro" => super::macros::LIB_FUNCS,
        "lib.crypto.hashes" | "lib.crypto.hmac" | "lib.random" => super::cryptolib::lib_funcs(path),
        super::loglib::LIB => super::loglib::LIB_FUNCS,
        super::graphlib::LIB => super::graphlib::LIB_FUNCS,
        other => super::authlib::lib_funcs(other),
    }
}

/// `(path, functions)` of this module's libraries (storm docs; `lib.auth` is listed by
/// `lib.rs`).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    LIBS.iter()
        .chain(super::admin::LIBS)
        .filter(|path| **path != "lib.auth")
        .map(|path| ((*path).to_owned(), lib_funcs(path).to_vec()))
        .collect()
}

/// Call a function of one of this module's libraries.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    let args = Args::new(name, &args, &kwargs);
    if super::admin::lib_funcs(path).contains(&name) {
        return super::admin::call_lib(runt, path, name, &args).await;
    }
    match path {
        "lib.queue" => super::queue::call_lib(runt, name, &args).await,
        "lib.macro" => super::macros::call_lib(runt, name, &args).await,
        "lib.crypto.hashes" | "lib.crypto.hmac" | "lib.random" => {
            super::cryptolib::call_lib(path, name, &args)
        }
        super::loglib::LIB => super::loglib::call_lib(runt, name, &args),
        super::graphlib::LIB => super::graphlib::call_lib(runt, name, &args).await,
        other => super::authlib::call_lib(runt, other, name, &args).await,
    }
}

/// Objects of this module's libraries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExtObj {
    /// A queue (`$lib.queue.get(name)`), by name.
    Queue(String),
    /// A user (`auth:user`), by iden.
    User(String),
    /// A role (`auth:role`), by iden.
    Role(String),
    /// An auth gate (`auth:gate`), by iden.
    Gate(String),
    /// A seeded random generator (`$lib.random.generator()`).
    Random(Arc<super::cryptolib::RandomGen>),
    /// The queues of a package (`$lib.pkg.queues(pkg)`), by package name.
    PkgQueues(String),
    /// A package queue, by package and queue name.
    PkgQueue(String, String),
    /// A WebSocket (`$lib.inet.http.connect()`).
    Socket(Arc<super::websock::WebSock>),
}

impl ExtObj {
    /// The Storm type name.
    pub(crate) fn typename(&self) -> &'static str {
        match self {
            ExtObj::Queue(_) => "queue",
            ExtObj::User(_) => "auth:user",
            ExtObj::Role(_) => "auth:role",
            ExtObj::Gate(_) => "auth:gate",
            ExtObj::Random(_) => "random",
            ExtObj::PkgQueues(_) => "pkg:queues",
            ExtObj::PkgQueue(..) => "pkg:queue",
            ExtObj::Socket(_) => "inet:http:socket",
        }
    }

    /// What `$lib.print` shows.
    pub(crate) fn repr(&self) -> String {
        match self {
            ExtObj::Queue(name) => format!("queue: {name}"),
            ExtObj::Random(rng) => rng.repr(),
            ExtObj::PkgQueues(pkg) => format!("pkg:queues: {pkg}"),
            ExtObj::PkgQueue(pkg, name) => format!("pkg:queue: {pkg} - {name}"),
            ExtObj::Socket(_) => "inet:http:socket".to_owned(),
            other => super::authlib::repr(None, other),
        }
    }

    /// The primitive (`toprim`).
    pub(crate) fn to_prim(&self) -> RResult<Value> {
        match self {
            ExtObj::Queue(name) | ExtObj::PkgQueues(name) => Ok(Value::from(name.as_str())),
            ExtObj::PkgQueue(..) => Ok(Value::from(self.repr())),
            ExtObj::Socket(_) => Err(Flow::Err(
                StormError::new("NoSuchType", "Unable to convert object to Storm primitive.")
                    .with("name", "WebSocket"),
            )),
            other => Ok(super::authlib::prim(other)),
        }
    }

    /// The method names of the object.
    fn methods(&self) -> &'static [&'static str] {
        match self {
            ExtObj::Queue(_) => super::queue::METHODS,
            ExtObj::User(_) => super::authlib::USER_METHODS,
            ExtObj::Role(_) => super::authlib::ROLE_METHODS,
            ExtObj::Gate(_) => &[],
            ExtObj::Random(_) => &["int"],
            ExtObj::PkgQueues(_) => super::pkgqueue::QUEUES_METHODS,
            ExtObj::PkgQueue(..) => super::pkgqueue::QUEUE_METHODS,
            ExtObj::Socket(_) => super::websock::METHODS,
        }
    }

    /// `$obj.name`: an attribute (`$q.name`) or a bound method.
    pub(crate) fn deref(&self, runt: &Runt, base: &Val, name: &str) -> RResult<Val> {
        match (self, name) {
            (ExtObj::Queue(qname), "name") => Ok(Val::from(qname.as_str())),
            (ExtObj::Random(rng), "seed") => Ok(rng.seed()),
            (ExtObj::PkgQueue(_, qname), "name") => Ok(Val::from(qname.as_str())),
            (ExtObj::PkgQueue(pkg, _), "pkgname") => Ok(Val::from(pkg.as_str())),
            _ if self.methods().contains(&name) => {
                Ok(Val::Bound(Arc::new((base.clone(), Arc::from(name)))))
            }
            (ExtObj::User(_) | ExtObj::Role(_) | ExtObj::Gate(_), _) => {
                super::authlib::attr(runt, self, name)
            }
            _ => Err(Flow::Err(
                StormError::new(
                    "NoSuchName",
                    format!("Cannot find name [{name}] on type {}", self.typename()),
                )
                .with("name", name),
            )),
        }
    }

    /// Call a method.
    pub(crate) async fn call(
        &self,
        runt: &Arc<Runt>,
        name: &str,
        args: &[Val],
        kwargs: &[(String, Val)],
    ) -> RResult<Val> {
        let args = Args::new(name, args, kwargs);
        match self {
            ExtObj::Queue(qname) => super::queue::call_obj(runt, qname, name, &args).await,
            ExtObj::User(iden) => super::authlib::call_user(runt, iden, name, &args).await,
            ExtObj::Role(iden) => super::authlib::call_role(runt, iden, name, &args).await,
            ExtObj::Gate(_) => Err(nosuchname(name)),
            ExtObj::Random(rng) => super::cryptolib::call_random(rng, name, &args),
            ExtObj::PkgQueues(pkg) => super::pkgqueue::call_queues(runt, pkg, name, &args).await,
            ExtObj::PkgQueue(pkg, qname) => {
                super::pkgqueue::call_queue(runt, pkg, qname, name, &args).await
            }
            ExtObj::Socket(sock) => super::websock::call(sock, name, args.args, args.kwargs).await,
        }
    }

    /// `$obj.name = valu`.
    pub(crate) async fn set_attr(&self, runt: &Runt, name: &str, valu: &Val) -> RResult<()> {
        if let (ExtObj::Random(rng), "seed") = (self, name) {
            return super::cryptolib::set_random_seed(runt, rng, valu);
        }
        super::authlib::set_attr(runt, self, name, valu).await
    }
}

/// Whether this module runs the command.
pub(crate) fn handles(name: &str) -> bool {
    super::queue::CMDS.contains(&name)
        || super::macros::CMDS.contains(&name)
        || super::authlib::CMDS.contains(&name)
        || super::admin::CMDS.contains(&name)
}

/// Run one of this module's commands.
pub(crate) fn run(
    runt: &Arc<Runt>,
    name: &str,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    if name == "macro.exec" {
        return super::macros::exec_cmd(runt, runtsafe, idle, input);
    }
    pure(runt, name.to_owned(), idle, input)
}

/// What the Storm body of a command printed: lines before its loop, one line per loop
/// iteration (the inbound node passes on after each), lines after the loop. A body without a
/// loop passes the node on once.
#[derive(Default)]
pub(crate) struct Body {
    pub(crate) before: Vec<String>,
    pub(crate) each: Option<Vec<Vec<String>>>,
    pub(crate) after: Vec<String>,
    /// Warnings after the lines (`$lib.warn`).
    pub(crate) warn: Vec<String>,
    /// `$lib.exit(mesg)` after the lines: a warning, then the query ends.
    pub(crate) exit: Option<String>,
}

impl Body {
    /// A body ending the query with `$lib.exit(mesg)`.
    pub(crate) fn exit(mesg: String) -> Body {
        Body {
            exit: Some(mesg),
            ..Body::default()
        }
    }

    /// A body printing lines, without a loop.
    pub(crate) fn lines(lines: Vec<String>) -> Body {
        Body {
            before: lines,
            ..Body::default()
        }
    }
}

/// A command the reference writes in Storm: its body runs once per inbound node, or once
/// without inbound nodes.
fn pure(
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
            let body = pure_body(&runt, &name, &opts, true).await?;
            for line in &body.before {
                runt.shared.print(line).await;
            }
            body.finish(&runt).await?;
            match &body.each {
                None => yield item.clone(),
                Some(each) => {
                    for lines in each {
                        for line in lines {
                            runt.shared.print(line).await;
                        }
                        yield item.clone();
                    }
                }
            }
            for line in &body.after {
                runt.shared.print(line).await;
            }
        }
        if !seen && let Some(opts) = idle {
            let body = pure_body(&runt, &name, &opts, false).await?;
            let each = body.each.iter().flatten().flatten();
            let lines = body.before.iter().chain(each).chain(&body.after);
            for line in lines {
                runt.shared.print(line).await;
            }
            body.finish(&runt).await?;
        }
    }
    .boxed()
}

impl Body {
    /// Send the warnings, and end the query on an exit.
    async fn finish(&self, runt: &Runt) -> RResult<()> {
        for mesg in &self.warn {
            runt.shared.warn(mesg, Vec::new()).await;
        }
        if let Some(mesg) = &self.exit {
            runt.shared.warn(mesg, Vec::new()).await;
            return Err(Flow::Exit);
        }
        Ok(())
    }
}

/// The body of a command; `pernode` when it runs for an inbound node (variables the body
/// sets in its loops are then per-node path variables).
async fn pure_body(runt: &Arc<Runt>, name: &str, opts: &Opts, pernode: bool) -> RResult<Body> {
    if super::queue::CMDS.contains(&name) {
        return super::queue::cmd_body(runt, name, opts).await;
    }
    if super::authlib::CMDS.contains(&name) {
        return super::authlib::cmd_body(runt, name, opts).await;
    }
    if super::admin::CMDS.contains(&name) {
        return super::admin::cmd_body(runt, name, opts).await;
    }
    super::macros::cmd_body(runt, name, opts, pernode).await
}

// ----- helpers -----

/// The arguments of a call.
pub(crate) struct Args<'a> {
    func: &'a str,
    args: &'a [Val],
    kwargs: &'a [(String, Val)],
}

impl<'a> Args<'a> {
    pub(crate) fn new(func: &'a str, args: &'a [Val], kwargs: &'a [(String, Val)]) -> Args<'a> {
        Args { func, args, kwargs }
    }

    /// Argument `idx`, or keyword `name`.
    pub(crate) fn get(&self, idx: usize, name: &str) -> Option<Val> {
        self.args.get(idx).cloned().or_else(|| {
            self.kwargs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    /// A required argument.
    pub(crate) fn req(&self, idx: usize, name: &str) -> RResult<Val> {
        self.get(idx, name).ok_or_else(|| {
            rterr(format!(
                "{}() missing 1 required positional argument: '{name}'",
                self.func
            ))
        })
    }

    /// An integer argument (`toint`), `None` when absent or null.
    pub(crate) fn int(&self, idx: usize, name: &str) -> RResult<Option<i128>> {
        match self.get(idx, name) {
            None | Some(Val::Null) => Ok(None),
            Some(v) => v.to_int().map(Some),
        }
    }

    /// A boolean argument with a default (`tobool`: any non-empty string is true).
    pub(crate) fn bool(&self, idx: usize, name: &str, default: bool) -> bool {
        self.get(idx, name).map_or(default, |v| v.truthy())
    }

    /// A flag the reference converts with `toint` (so `"0"` is false).
    pub(crate) fn int_flag(&self, idx: usize, name: &str, default: bool) -> RResult<bool> {
        match self.get(idx, name) {
            None => Ok(default),
            Some(v) => Ok(v.to_int()? != 0),
        }
    }
}

/// The option of a parsed command.
pub(crate) fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

pub(crate) fn nosuchname(name: &str) -> Flow {
    Flow::Err(
        StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
    )
}

/// A cell error as a Storm error (class and info kept).
pub(crate) fn cell_err(err: synapse_cell::Error) -> Flow {
    let mut out = StormError::new(err.name(), err.mesg());
    for (k, v) in err.info() {
        if k != "mesg" {
            out.set(k, v.clone());
        }
    }
    Flow::Err(out)
}

/// The Cortex hosting the query (a query without one cannot use these libraries).
pub(crate) fn cortex(runt: &Runt) -> RResult<Arc<Cortex>> {
    runt.shared
        .core
        .host
        .cortex()
        .ok_or_else(|| rterr("This library needs a Cortex."))
}

/// A global permission with the reference's `default` when no rule matches.
pub(crate) fn allowed_default(runt: &Runt, core: &Cortex, perm: &[&str], default: bool) -> bool {
    if runt.asroot || runt.shared.user.admin {
        return true;
    }
    let perm: Vec<String> = perm.iter().map(|p| (*p).to_owned()).collect();
    core.cell()
        .auth()
        .allowed(&runt.shared.user.iden, &perm, Some(default), None)
        == Some(true)
}

/// `IsReadOnly` for a function that edits (`$lib.queue.add`), in a readonly runtime.
pub(crate) fn req_not_readonly(runt: &Runt, funcpath: &str) -> RResult<()> {
    if runt.shared.opts.readonly {
        return Err(Flow::Err(StormError::new(
            "IsReadOnly",
            format!("{funcpath}() is not marked readonly safe."),
        )));
    }
    Ok(())
}
