//! Small tier-2 libraries: `$lib.lift` (`byNodeData`, `tagsByPref`), `$lib.tags.prefix`,
//! `$lib.spooled.set`, `$lib.cache.fixed` and `$lib.pipe.gen`.

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::error::{Flow, RResult, rterr};
use super::lib::{arg, req};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Val, new_list};
use crate::storm::ast::Span;

/// The libraries of this module.
const LIBS: &[&str] = &[
    "lib.lift",
    "lib.tags",
    "lib.spooled",
    "lib.cache",
    "lib.pipe",
];

/// Whether `path` is one of this module's libraries.
pub(crate) fn is_lib(path: &str) -> bool {
    LIBS.contains(&path)
}

/// `(path, functions)` of this module's libraries and of `$lib.gen` (storm docs).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    let mut out: Vec<(String, Vec<&'static str>)> = LIBS
        .iter()
        .map(|path| ((*path).to_owned(), lib_funcs(path).to_vec()))
        .collect();
    out.push((
        super::genlib::LIB.to_owned(),
        super::genlib::DOCUMENTED.to_vec(),
    ));
    out
}

/// The functions of one of this module's libraries.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.lift" => &["byNodeData", "tagsByPref"],
        "lib.tags" => &["prefix"],
        "lib.spooled" => &["set"],
        "lib.cache" => &["fixed"],
        "lib.pipe" => &["gen"],
        _ => &[],
    }
}

/// Call a function of one of this module's libraries.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    match (path, name) {
        ("lib.lift", "byNodeData") => {
            let dname = req(&args, &kwargs, 0, "name", name)?.to_str()?;
            let nodes = runt.view.lift_data_name(&dname).map_err(Flow::from)?;
            let stream = nodes.map(|n| {
                n.map(|n| GenItem::Val(Val::Node(Arc::new(n))))
                    .map_err(Flow::from)
            });
            Ok(GenVal::val(stream.boxed()))
        }
        ("lib.lift", "tagsByPref") => {
            let prefix = req(&args, &kwargs, 0, "prefix", name)?.to_str()?;
            let depth = match arg(&args, &kwargs, 1, "depth") {
                None => 0,
                Some(v) => v.to_int()?,
            };
            tags_by_pref(runt, prefix, depth)
        }
        ("lib.tags", "prefix") => {
            let names = req(&args, &kwargs, 0, "names", name)?;
            let prefix = req(&args, &kwargs, 1, "prefix", name)?.to_str()?;
            let ispart = arg(&args, &kwargs, 2, "ispart").is_some_and(|v| v.truthy());
            let mut iter = super::eval::eval_iter(runt, names, Span::default()).await?;
            let mut items = Vec::new();
            while let Some(item) = iter.next().await {
                items.push(item?);
            }
            let part = runt
                .model()
                .ty("syn:tag:part")
                .ok_or_else(|| rterr("no syn:tag:part type"))?;
            let mut out = Vec::new();
            for item in items {
                if ispart {
                    out.push(Val::from(format!("{prefix}.{}", item.to_str()?)));
                    continue;
                }
                if let Ok((norm, _)) = part.norm(&item.to_msgpack()?)
                    && let Some(norm) = norm.as_str()
                {
                    out.push(Val::from(format!("{prefix}.{norm}")));
                }
            }
            Ok(new_list(out))
        }
        ("lib.spooled", "set") => {
            // a set held in memory (the reference spools large sets to disk)
            let mut set = indexmap::IndexSet::new();
            for valu in &args {
                set.insert(valu.to_key()?);
            }
            Ok(Val::Set(Arc::new(std::sync::Mutex::new(set))))
        }
        ("lib.cache", "fixed") => fixed_cache(runt, &args, &kwargs).await,
        ("lib.pipe", "gen") => pipe_gen(runt, &args, &kwargs).await,
        _ => Err(super::ext::nosuchname(name)),
    }
}

/// `syn:tag` nodes whose name starts with `prefix`, at most `depth` levels below it.
fn tags_by_pref(runt: &Arc<Runt>, prefix: String, depth: i128) -> RResult<Val> {
    let maxdots = prefix.matches('.').count() as i128 + depth.max(0);
    let nodes = runt
        .view
        .lift_prop_valu("syn:tag", "^=", &Value::from(prefix.as_str()), false)
        .map_err(Flow::from)?;
    let stream = nodes.filter_map(move |n| async move {
        match n {
            Err(e) => Some(Err(Flow::from(e))),
            Ok(node) => {
                let dots = node.valu.as_str().map_or(0, |s| s.matches('.').count()) as i128;
                (dots <= maxdots).then(|| Ok(GenItem::Val(Val::Node(Arc::new(node)))))
            }
        }
    });
    Ok(GenVal::val(stream.boxed()))
}

// ----- $lib.cache -----

/// The largest (and default) size of a fixed cache.
const CACHE_SIZE_MAX: i128 = 10_000;

/// A fixed-size cache whose misses run a Storm callback query (`$lib.cache.fixed`):
/// first in, first out.
pub(crate) struct FixedCache {
    size: usize,
    text: String,
    query: crate::storm::ast::Query,
    runt: Arc<Runt>,
    state: std::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    items: std::collections::HashMap<super::value::Key, Val>,
    fifo: std::collections::VecDeque<super::value::Key>,
}

impl CacheState {
    /// Put an item, evicting the oldest first when full (a key put twice is queued twice,
    /// as in the reference).
    fn put(&mut self, size: usize, key: super::value::Key, valu: Val) {
        while self.fifo.len() > size.saturating_sub(1) {
            match self.fifo.pop_front() {
                Some(old) => {
                    self.items.remove(&old);
                }
                None => break,
            }
        }
        self.items.insert(key.clone(), valu);
        self.fifo.push_back(key);
    }
}

impl std::fmt::Debug for FixedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FixedCache({})", self.text)
    }
}

impl FixedCache {
    /// What `$lib.print` shows.
    pub(crate) fn repr(&self) -> String {
        let mut qtext: String = self.text.chars().take(100).collect();
        if self.text.chars().count() > 100 {
            qtext.push_str("...");
        }
        format!("cache:fixed: size={} query=\"{qtext}\"", self.size)
    }

    /// `$cache.query`
    pub(crate) fn query_text(&self) -> &str {
        &self.text
    }

    fn key(valu: &Val) -> RResult<super::value::Key> {
        if valu.is_mutable() {
            return Err(Flow::Err(
                super::error::StormError::new(
                    "BadArg",
                    "Mutable values are not allowed as cache keys",
                )
                .with("name", valu.repr().as_str()),
            ));
        }
        Val::from_msgpack(&valu.to_msgpack()?).to_key()
    }

    /// Run the callback for a key in a runtime of the defining scope's variables.
    async fn callback(&self, key: Val) -> RResult<Val> {
        let mut vars = self.runt.scope_vars();
        vars.push(("cache_key".to_owned(), key));
        let names: Vec<String> = vars.iter().map(|(k, _)| k.clone()).collect();
        let plan = super::exec::plan_query(&self.text, &self.query, names.clone(), Vec::new())?;
        let mut runtvars: std::collections::HashMap<String, bool> =
            plan.vars.iter().cloned().collect();
        for name in names {
            runtvars.insert(name, true);
        }
        let subr = super::exec::sub_runtime(&self.runt, runtvars, vars, false, None)?;
        let mut out = super::exec::run_pipeline(&subr, &plan.root, super::exec::empty());
        loop {
            match out.next().await {
                None => return Ok(Val::Null),
                Some(Ok(_)) => {}
                Some(Err(Flow::Return(valu))) => return Ok(Val::from_msgpack(&valu.to_msgpack()?)),
                Some(Err(Flow::Break(_))) => return Err(ctrl_flow("break")),
                Some(Err(Flow::Continue(_))) => return Err(ctrl_flow("continue")),
                Some(Err(Flow::Stop)) => return Err(ctrl_flow("stop")),
                Some(Err(e)) => return Err(e),
            }
        }
    }

    /// A method of the cache.
    pub(crate) async fn call(
        &self,
        name: &str,
        args: &[Val],
        kwargs: &[(String, Val)],
    ) -> RResult<Val> {
        match name {
            "get" => {
                let key = req(args, kwargs, 0, "key", name)?;
                let k = FixedCache::key(&key)?;
                if let Some(v) = super::value::lock(&self.state).items.get(&k) {
                    return Ok(v.clone());
                }
                let valu = self.callback(key).await?;
                super::value::lock(&self.state).put(self.size, k, valu.clone());
                Ok(valu)
            }
            "put" => {
                let k = FixedCache::key(&req(args, kwargs, 0, "key", name)?)?;
                let valu = req(args, kwargs, 1, "value", name)?;
                let valu = Val::from_msgpack(&valu.to_msgpack()?);
                super::value::lock(&self.state).put(self.size, k, valu);
                Ok(Val::Null)
            }
            "pop" => {
                let k = FixedCache::key(&req(args, kwargs, 0, "key", name)?)?;
                let mut state = super::value::lock(&self.state);
                match state.items.remove(&k) {
                    Some(v) => {
                        if let Some(pos) = state.fifo.iter().position(|x| *x == k) {
                            state.fifo.remove(pos);
                        }
                        Ok(v)
                    }
                    None => Ok(Val::Null),
                }
            }
            "clear" => {
                let mut state = super::value::lock(&self.state);
                state.items.clear();
                state.fifo.clear();
                Ok(Val::Null)
            }
            other => Err(super::ext::nosuchname(other)),
        }
    }
}

fn ctrl_flow(name: &str) -> Flow {
    rterr(format!(
        "Storm control flow \"{name}\" not allowed in cache callbacks."
    ))
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(super::error::StormError::new("BadArg", mesg))
}

/// `$lib.cache.fixed(callback, size=10000)`
async fn fixed_cache(runt: &Arc<Runt>, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
    let size = match arg(args, kwargs, 1, "size") {
        None => CACHE_SIZE_MAX,
        Some(v) => v.to_int()?,
    };
    let text = match req(args, kwargs, 0, "callback", "fixed")? {
        Val::Query(q) => q.text.clone(),
        other => other.to_str()?,
    };
    if !(1..=CACHE_SIZE_MAX).contains(&size) {
        return Err(badarg(format!(
            "Cache size must be between 1-{CACHE_SIZE_MAX}"
        )));
    }
    let query = crate::storm::parse_query(&text).map_err(|e| {
        let err = super::super::runtime::bad_syntax(&text, &e);
        badarg(format!("Invalid callback query: {}", err.mesg))
    })?;
    if !format!("{query:?}").contains("Return(") {
        return Err(badarg("Callback query must return a value"));
    }
    let cache = FixedCache {
        size: size as usize,
        text,
        query,
        runt: Arc::clone(runt),
        state: std::sync::Mutex::new(CacheState::default()),
    };
    Ok(Val::Obj(Arc::new(super::value::Obj::Cache(Arc::new(
        cache,
    )))))
}

// ----- $lib.pipe -----

/// The channel of a pipe: items, then `None` once closed.
struct PipeChan {
    tx: tokio::sync::mpsc::Sender<Option<Val>>,
    closed: std::sync::atomic::AtomicBool,
}

impl PipeChan {
    async fn put(&self, item: Val) -> RResult<()> {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(badarg("The Queue has been closed."));
        }
        self.tx
            .send(Some(item))
            .await
            .map_err(|_| badarg("The Queue has been closed."))
    }

    async fn close(&self) {
        if !self.closed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let _ = self.tx.send(None).await;
        }
    }
}

/// A pipe (`$lib.pipe.gen`): the handle the caller gets reads it and stops the filler
/// query when dropped; the filler's handle only writes.
pub(crate) struct Pipe {
    chan: Arc<PipeChan>,
    rx: Option<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Option<Val>>>>,
    filler: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pipe")
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        if let Some(task) = super::value::lock(&self.filler).take() {
            task.abort();
        }
    }
}

fn slice_size(args: &[Val], kwargs: &[(String, Val)]) -> RResult<usize> {
    let size = match arg(args, kwargs, 0, "size") {
        None => 1000,
        Some(v) => v.to_int()?,
    };
    if !(1..=10000).contains(&size) {
        return Err(badarg("$pipe.slice() size must be 1-10000"));
    }
    Ok(size as usize)
}

impl Pipe {
    /// Up to `size` items: waits for the first, takes what else is there; null once closed
    /// and drained.
    async fn slice(&self, size: usize) -> RResult<Option<Vec<Val>>> {
        let Some(rx) = &self.rx else {
            return Err(rterr("This pipe handle cannot be read."));
        };
        let mut rx = rx.lock().await;
        // the close marker may have been taken by the previous slice
        if self.chan.closed.load(std::sync::atomic::Ordering::SeqCst) && rx.is_empty() {
            return Ok(None);
        }
        let Some(Some(first)) = rx.recv().await else {
            return Ok(None);
        };
        let mut items = vec![first];
        while items.len() < size {
            match rx.try_recv() {
                Ok(Some(item)) => items.push(item),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Some(items))
    }

    /// The queued items, less one once closed (so -1 once closed and drained, as in the
    /// reference).
    fn size(&self) -> i128 {
        let queued = self
            .rx
            .as_ref()
            .map_or(0, |rx| rx.try_lock().map_or(0, |rx| rx.len()));
        let closed = self.chan.closed.load(std::sync::atomic::Ordering::SeqCst);
        queued as i128 - i128::from(closed)
    }

    /// A method of the pipe.
    pub(crate) async fn call(
        self: &Arc<Self>,
        name: &str,
        args: &[Val],
        kwargs: &[(String, Val)],
    ) -> RResult<Val> {
        match name {
            "put" => {
                let item = req(args, kwargs, 0, "item", name)?;
                self.chan
                    .put(Val::from_msgpack(&item.to_msgpack()?))
                    .await?;
                Ok(Val::Null)
            }
            "puts" => {
                let items = req(args, kwargs, 0, "items", name)?;
                let prim = items.to_msgpack()?;
                let items = match Val::from_msgpack(&prim).seq_items() {
                    Some(items) => items,
                    None => return Err(rterr("puts() requires a list of items.")),
                };
                for item in items {
                    self.chan.put(item).await?;
                }
                Ok(Val::Null)
            }
            "size" => Ok(Val::Int(self.size())),
            "slice" => {
                let size = slice_size(args, kwargs)?;
                Ok(match self.slice(size).await? {
                    Some(items) => new_list(items),
                    None => Val::Null,
                })
            }
            "slices" => {
                let size = slice_size(args, kwargs)?;
                let pipe = Arc::clone(self);
                let stream = futures::stream::unfold(pipe, move |pipe| async move {
                    match pipe.slice(size).await {
                        Ok(Some(items)) => Some((Ok(GenItem::Val(new_list(items))), pipe)),
                        Ok(None) => None,
                        Err(e) => Some((Err(e), pipe)),
                    }
                });
                Ok(GenVal::val(stream.boxed()))
            }
            other => Err(super::ext::nosuchname(other)),
        }
    }
}

/// `$lib.pipe.gen(filler, size=10000)`: the filler query runs alongside the caller with
/// `$pipe` set.
async fn pipe_gen(runt: &Arc<Runt>, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
    let size = match arg(args, kwargs, 1, "size") {
        None => 10000,
        Some(v) => v.to_int()?,
    };
    let text = match req(args, kwargs, 0, "filler", "gen")? {
        Val::Query(q) => q.text.clone(),
        other => other.to_str()?,
    };
    if !(1..=10000).contains(&size) {
        return Err(badarg("$lib.pipe.gen() size must be 1-10000"));
    }
    // the channel holds the close marker too
    let (tx, rx) = tokio::sync::mpsc::channel(size as usize + 1);
    let chan = Arc::new(PipeChan {
        tx,
        closed: std::sync::atomic::AtomicBool::new(false),
    });
    let writer = Val::Obj(Arc::new(super::value::Obj::Pipe(Arc::new(Pipe {
        chan: Arc::clone(&chan),
        rx: None,
        filler: std::sync::Mutex::new(None),
    }))));
    let query = crate::storm::parse_query(&text)
        .map_err(|e| Flow::Err(super::super::runtime::bad_syntax(&text, &e)))?;
    let names = vec!["pipe".to_owned()];
    let plan = super::exec::plan_query(&text, &query, names, super::exec::visible_vars(runt))?;
    let mut runtvars: std::collections::HashMap<String, bool> = plan.vars.iter().cloned().collect();
    runtvars.insert("pipe".to_owned(), true);
    let subr = super::exec::sub_runtime(
        runt,
        runtvars,
        vec![("pipe".to_owned(), writer)],
        false,
        None,
    )?;
    let filler_chan = Arc::clone(&chan);
    let shared = Arc::clone(&runt.shared);
    let task = tokio::spawn(async move {
        let mut out = super::exec::run_pipeline(&subr, &plan.root, super::exec::empty());
        while let Some(item) = out.next().await {
            if let Err(Flow::Err(e)) = item {
                shared
                    .warn(&format!("pipe filler error: {}", e.mesg), Vec::new())
                    .await;
                break;
            }
            if item.is_err() {
                break;
            }
        }
        drop(out);
        filler_chan.close().await;
    });
    let pipe = Pipe {
        chan,
        rx: Some(tokio::sync::Mutex::new(rx)),
        filler: std::sync::Mutex::new(Some(task.abort_handle())),
    };
    Ok(Val::Obj(Arc::new(super::value::Obj::Pipe(Arc::new(pipe)))))
}
