//! `help` (the command listing), `movetag` (rename a tag tree) and `lift.byverb` (nodes by
//! light edge verb).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError};
use super::exec::ItemStream;
use super::runt::{Item, Runt};
use super::value::Val;
use crate::nodeedit::{Buid, ival_value};

mod helpdocs;

fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

// ----- help -----

/// How the `$lib.gen` module's text (genlib.storm) starts: its functions run in a runtime of
/// that text.
const GENLIB_MARK: &str = "// $lib.gen:";

/// `help [--verbose] [item]`: the command listing (filtered by a name substring), or the
/// documentation of a library, function, node, path or Storm type.
pub(crate) async fn help(runt: &Arc<Runt>, opts: &Opts) -> RResult<()> {
    let verbose = opt(opts, "verbose").truthy();
    let item = opt(opts, "item");
    let lines = match item {
        Val::Null => help_lines(runt, None, false),
        Val::Str(s) => {
            let mut lines = Vec::new();
            let foundtype = match helpdocs::Docs::load() {
                Some(docs) if docs.is_type(s) => {
                    lines = docs.type_help(s, verbose);
                    true
                }
                _ => false,
            };
            lines.extend(help_lines(runt, Some(s), foundtype));
            lines
        }
        // (the reference's `([])` is a list object with type docs, but `(1, 2)` a tuple that
        // is refused; both are lists here, refused as the latter)
        Val::Int(_)
        | Val::Float(_)
        | Val::Num(_)
        | Val::Bool(_)
        | Val::Bytes(_)
        | Val::List(_)
        | Val::Tuple(_)
        | Val::Gen(_)
        | Val::Undef => {
            return Err(badarg(format!(
                "Item must be a Storm type name, a Storm library, or a Storm command name to search for. Got {}",
                item.typename()
            )));
        }
        // `$lib.gen.orgByName` and kin are Storm functions of the `$lib.gen` module
        Val::Func(func) if func.runt.text.starts_with(GENLIB_MARK) => {
            match helpdocs::Docs::load().and_then(|docs| {
                docs.method_help(
                    &helpdocs::Owner::Lib(super::genlib::LIB),
                    &func.plan.name,
                    verbose,
                    false,
                )
            }) {
                Some((lines, true)) => lines,
                _ => {
                    return Err(badarg(
                        "help does not currently support runtime defined functions.",
                    ));
                }
            }
        }
        Val::Func(_) => {
            return Err(badarg(
                "help does not currently support runtime defined functions.",
            ));
        }
        Val::Obj(obj) if matches!(**obj, super::value::Obj::Module(_)) => {
            return Err(badarg(
                "Help does not currently support imported Storm modules.",
            ));
        }
        _ => doc_lines(runt, item, verbose).await?,
    };
    for line in lines {
        runt.shared.print(&line).await;
    }
    Ok(())
}

/// The documentation of a library, a bound function or method, or a Storm object's type.
async fn doc_lines(runt: &Runt, item: &Val, verbose: bool) -> RResult<Vec<String>> {
    let docs = helpdocs::Docs::load().ok_or_else(|| {
        Flow::Err(StormError::new(
            "StormRuntimeError",
            "The Storm docs are not readable.",
        ))
    })?;
    match item {
        Val::Lib(path) => {
            // `$lib.list` and kin are functions of their parent library here
            if let Some((parent, name)) = path.rsplit_once('.')
                && !docs.is_lib_path(path)
                && let Some((lines, true)) =
                    docs.method_help(&helpdocs::Owner::Lib(parent), name, verbose, true)
            {
                return Ok(lines);
            }
            Ok(docs.lib_help(path, verbose))
        }
        Val::Bound(bound) => {
            let (recv, name) = &**bound;
            let owner = match recv {
                Val::Lib(path) => helpdocs::Owner::Lib(path),
                other => helpdocs::Owner::Type(other.typename()),
            };
            match docs.method_help(&owner, name, verbose, true) {
                Some((lines, found)) => {
                    if !found {
                        runt.shared
                            .warn(
                                &format!("Unable to find doc for {}", item.repr()),
                                Vec::new(),
                            )
                            .await;
                    }
                    Ok(lines)
                }
                None => Err(badarg(format!(
                    "Unknown storm type encountered: {}",
                    recv.typename()
                ))),
            }
        }
        other => {
            let typ = other.typename();
            if docs.is_type(typ) {
                Ok(docs.type_help(typ, verbose))
            } else {
                Err(badarg(format!("Unknown storm type encountered: {typ}")))
            }
        }
    }
}

/// The lines of the command listing, filtered by a substring of the names.
/// With `foundtype` (the item also named a Storm type, whose docs come first) the listing is
/// set apart by a rule, and left out when no command matches.
fn help_lines(runt: &Runt, item: Option<&str>, foundtype: bool) -> Vec<String> {
    let brief = |descr: &str| {
        descr
            .trim()
            .split('\n')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    // name -> (brief, package)
    let mut cmds: BTreeMap<String, (String, Option<String>)> = super::cmds::command_docs()
        .into_iter()
        .map(|(name, descr)| (name, (brief(&descr), None)))
        .collect();
    if let Some(core) = runt.shared.core.host.cortex() {
        for cdef in core.storm_pkg_cmds() {
            let get = |key: &str| synapse_cell::map_get(&cdef, key).and_then(Value::as_str);
            let Some(name) = get("name") else { continue };
            let descr = get("descr").unwrap_or("No description");
            let pkg = get("pkgname").map(str::to_owned);
            cmds.insert(name.to_owned(), (brief(descr), pkg));
        }
    }
    if let Some(item) = item.filter(|i| !i.is_empty()) {
        cmds.retain(|name, _| name.contains(item));
        if cmds.is_empty() {
            if foundtype {
                return Vec::new();
            }
            return vec![format!("No commands found matching \"{item}\"")];
        }
    }
    let maxlen = cmds.keys().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut bypkg: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut syn = Vec::new();
    for (name, (brief, pkg)) in &cmds {
        let pad = maxlen - name.chars().count();
        let line = format!("{name}{}: {brief}", " ".repeat(pad));
        match pkg {
            Some(pkg) if pkg != "synapse" => bypkg.entry(pkg.clone()).or_default().push(line),
            _ => syn.push(line),
        }
    }
    let mut out = Vec::new();
    if foundtype {
        out.extend([String::new(), "*".repeat(80), String::new()]);
    }
    out.push("The following Storm commands are available:".to_owned());
    if !syn.is_empty() {
        out.push("package: synapse".to_owned());
        out.extend(syn);
        out.push(String::new());
    }
    for (pkg, lines) in bypkg {
        out.push(format!("package: {pkg}"));
        out.extend(lines);
        out.push(String::new());
    }
    out.push("For detailed help on any command, use <cmd> --help".to_owned());
    out
}

// ----- movetag -----

/// Rename the tag tree `oldtag` to `newtag`: the `syn:tag` nodes of the tree get `:isnow` and
/// their successors (with `doc`, `doc:url`, `title` and tags copied), and every node tagged
/// in the tree is retagged with the same intervals and tag properties.
pub(crate) async fn movetag(runt: &Arc<Runt>, opts: &Opts) -> RResult<()> {
    let oldarg = opt(opts, "oldtag").to_str()?;
    let oldnorm = super::eval::tag_norm(runt, &oldarg)?;
    let view = runt.view.clone();
    let Some(oldnode) = view
        .get_node_by_ndef("syn:tag", &Value::from(oldnorm.as_str()))
        .await
        .map_err(Flow::from)?
    else {
        return Err(Flow::Err(
            StormError::new("BadOperArg", "Cannot move a tag which does not exist.")
                .with("oldtag", oldarg.as_str()),
        ));
    };
    let oldstr = oldnode.valu.as_str().unwrap_or_default().to_owned();
    let oldparts: Vec<&str> = oldstr.split('.').collect();
    let newname = super::eval::tag_norm(runt, &opt(opts, "newtag").to_str()?)?;
    let newparts: Vec<&str> = newname.split('.').collect();

    let mut perm = vec!["node", "tag", "del"];
    perm.extend(&oldparts);
    runt.layer_confirm(&perm)?;
    let mut perm = vec!["node", "tag", "add"];
    perm.extend(&newparts);
    runt.layer_confirm(&perm)?;

    let mut editor = runt.shared.editor.lock().await;
    let ed = |e| Flow::from(e);
    let newbuid = editor
        .add_node("syn:tag", &Value::from(newname.as_str()))
        .await
        .map_err(ed)?;
    if oldstr == newname {
        editor.reset();
        return Err(Flow::Err(
            StormError::new("BadOperArg", "Cannot retag a tag to the same valu.")
                .with("newtag", newname.as_str())
                .with("oldtag", oldstr.as_str()),
        ));
    }
    // refuse to move into a chain of :isnow that loops, or that leads back to the old tag
    let isnow_of = |node: Option<crate::node::Node>| {
        node.and_then(|n| {
            n.props
                .iter()
                .find(|(k, _)| k == "isnow")
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
    };
    let mut cycle = vec![newname.clone()];
    let mut isnow = match newbuid {
        Some(b) => isnow_of(editor.node(&b).await.map_err(ed)?),
        None => None,
    };
    while let Some(next) = isnow {
        if cycle.contains(&next) {
            editor.reset();
            return Err(Flow::Err(
                StormError::new(
                    "BadOperArg",
                    format!("Pre-existing cycle detected when moving {oldstr} to tag {newname}"),
                )
                .with("cycle", str_list(&cycle)),
            ));
        }
        cycle.push(next.clone());
        let buid = editor
            .add_node("syn:tag", &Value::from(next.as_str()))
            .await
            .map_err(ed)?;
        isnow = match buid {
            Some(b) => isnow_of(editor.node(&b).await.map_err(ed)?),
            None => None,
        };
    }
    if cycle.contains(&oldstr) {
        editor.reset();
        return Err(Flow::Err(
            StormError::new(
                "BadOperArg",
                format!("Tag cycle detected when moving tag {oldstr} to tag {newname}"),
            )
            .with("cycle", str_list(&cycle)),
        ));
    }
    runt.flush(&mut editor).await?;

    // the syn:tag nodes of the tree (collected first: the new tree may share the prefix)
    let prefix = oldarg.trim_matches('#').to_owned();
    let mut tagnodes = Vec::new();
    let mut lift = view
        .lift_prop_valu("syn:tag", "^=", &Value::from(prefix.as_str()), false)
        .map_err(Flow::from)?;
    while let Some(node) = lift.next().await {
        let node = node.map_err(Flow::from)?;
        let tagstr = node.valu.as_str().unwrap_or_default().to_owned();
        let parts: Vec<&str> = tagstr.split('.').collect();
        if parts.len() < oldparts.len() || parts[..oldparts.len()] != oldparts[..] {
            continue;
        }
        tagnodes.push((node.buid, tagstr));
    }
    drop(lift);

    let mut retag: HashMap<String, String> = HashMap::new();
    retag.insert(oldstr.clone(), newname.clone());
    for (buid, tagstr) in tagnodes {
        let newtag = format!("{newname}{}", &tagstr[oldstr.len()..]);
        let Some(node) = editor.node(&buid).await.map_err(ed)? else {
            continue;
        };
        let Some(newb) = editor
            .add_node("syn:tag", &Value::from(newtag.as_str()))
            .await
            .map_err(ed)?
        else {
            continue;
        };
        for prop in ["doc", "doc:url", "title"] {
            if let Some((_, v)) = node.props.iter().find(|(k, _)| k == prop) {
                editor.set_prop(&newb, prop, v).await.map_err(ed)?;
            }
        }
        for (tag, ival) in &node.tags {
            let valu = ival_value(*ival);
            editor.add_tag(&newb, tag, Some(&valu)).await.map_err(ed)?;
        }
        editor
            .set_prop(&buid, "isnow", &Value::from(newtag.as_str()))
            .await
            .map_err(ed)?;
        retag.insert(tagstr, newtag);
        runt.flush(&mut editor).await?;
    }

    // retag the nodes
    let mut buids: Vec<Buid> = Vec::new();
    let mut lift = view.lift_tag(&oldstr, None, false).map_err(Flow::from)?;
    while let Some(node) = lift.next().await {
        buids.push(node.map_err(Flow::from)?.buid);
    }
    drop(lift);
    let mut count = 0u64;
    for buid in buids {
        let Some(node) = editor.node(&buid).await.map_err(ed)? else {
            continue;
        };
        count += 1;
        let mut tags = node.tags.clone();
        tags.sort_by(|a, b| b.0.cmp(&a.0));
        for (name, ival) in tags {
            let Some(newt) = retag.get(&name) else {
                continue;
            };
            let tagprops: Vec<(String, Value)> = node
                .tagprops
                .iter()
                .find(|(t, _)| *t == name)
                .map(|(_, props)| props.clone())
                .unwrap_or_default();
            editor.del_tag(&buid, &name).await.map_err(ed)?;
            let valu = ival_value(ival);
            editor.add_tag(&buid, newt, Some(&valu)).await.map_err(ed)?;
            for (prop, valu) in &tagprops {
                editor
                    .set_tagprop(&buid, newt, prop, valu)
                    .await
                    .map_err(ed)?;
            }
        }
        runt.flush(&mut editor).await?;
    }
    drop(editor);
    runt.shared
        .print(&format!("moved tags on {count} nodes."))
        .await;
    Ok(())
}

fn str_list(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

// ----- lift.byverb -----

/// `lift.byverb`: the inbound nodes, then the n1 (or with `--n2` the n2) nodes of the edges
/// of a verb, each node once for the whole command.
pub(crate) fn lift_byverb(
    runt: &Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    async_stream::try_stream! {
        let mut input = input;
        let mut seen: HashSet<Buid> = HashSet::new();
        if runtsafe {
            let Some(opts) = idle else { return; };
            let verb = opt(&opts, "verb").to_str()?;
            let n2 = opt(&opts, "n2").truthy();
            while let Some(x) = input.next().await {
                yield x?.0;
            }
            for buid in verb_buids(&runt, &verb, n2, &mut seen).await? {
                if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                    let path = runt.init_path(&node);
                    yield Item { node: Arc::new(node), path };
                }
            }
            return;
        }
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            let verb = opt(&opts, "verb").to_str()?;
            let n2 = opt(&opts, "n2").truthy();
            let from = Arc::clone(&item.node);
            let path = item.path.clone();
            yield item;
            for buid in verb_buids(&runt, &verb, n2, &mut seen).await? {
                if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                    let npath = path.fork(&from, &node, || {
                        Value::Map(vec![(Value::from("type"), Value::from("runtime"))])
                    });
                    yield Item { node: Arc::new(node), path: npath };
                }
            }
        }
    }
    .boxed()
}

/// The buids at one end of the edges of `verb` in the view's layers (top layer first, in
/// index order), skipping those in `seen` (and adding the others).
async fn verb_buids(
    runt: &Runt,
    verb: &str,
    n2: bool,
    seen: &mut HashSet<Buid>,
) -> RResult<Vec<Buid>> {
    let lerr = |e: crate::layer::Error| Flow::from(crate::view::Error::from(e));
    let mut out = Vec::new();
    for layer in runt.view.layers() {
        let mut resume = None;
        loop {
            let (rows, next, done) = layer
                .scan_verb(verb.to_owned(), resume, 1000)
                .await
                .map_err(lerr)?;
            for (a, b) in rows {
                let buid = if n2 { b } else { a };
                if seen.insert(buid) {
                    out.push(buid);
                }
            }
            if done {
                break;
            }
            resume = next;
        }
    }
    Ok(out)
}
