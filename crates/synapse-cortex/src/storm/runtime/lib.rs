//! `$lib` libraries and the methods of Storm types (str, list, dict, node, ...).

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use indexmap::{IndexMap, IndexSet};
use rmpv::Value;

use super::cond::tostor;
use super::error::{Flow, RResult, StormError, err, rterr};
use super::eval::{eval_iter, order, repr_str};
use super::exec::{self, ItemStream};
use super::runt::{GenItem, GenVal, Item, QueryVal, Runt};
use super::value::{Key, Obj, Val, lock, new_dict, new_list, py_equal, s};
use crate::node::Node;
use crate::storm::ast::{Lookup, Span};

fn nosuchname(name: &str) -> Flow {
    Flow::Err(
        StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
    )
}

fn str_of(v: &Val) -> RResult<String> {
    v.to_str()
}

/// Sub-libraries of `$lib`.
const LIBS: &[&str] = &[
    "lib.str",
    "lib.time",
    "lib.regex",
    "lib.vars",
    "lib.csv",
    "lib.json",
    "lib.hex",
    "lib.base64",
    "lib.globals",
    "lib.view",
    "lib.layer",
    "lib.model",
    "lib.user",
    "lib.stats",
    "lib.iters",
    "lib.math",
    "lib.dict",
    "lib.list",
    "lib.bytes",
    "lib.axon",
    "lib.regex.flags",
    "lib.auth",
    "lib.feed",
    "lib.storm",
    "lib.cortex",
    "lib.scrape",
    "lib.trigger",
    "lib.cron",
    "lib.model.ext",
    super::tagmodel::LIB,
];

fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib" => &[
            "print", "warn", "len", "list", "dict", "set", "cast", "trycast", "repr", "guid",
            "range", "raise", "exit", "fire", "copy", "sorted", "min", "max", "text", "pprint",
            "import",
        ],
        "lib.str" => &["join", "concat", "format"],
        "lib.time" => &[
            "now",
            "parse",
            "format",
            "fromunix",
            "sleep",
            "ticker",
            "toUTC",
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "dayofweek",
            "dayofyear",
            "dayofmonth",
            "monthofyear",
        ],
        "lib.regex" => &["search", "matches", "findall", "replace", "escape"],
        "lib.vars" => &["get", "set", "del", "list", "type"],
        "lib.csv" => &["emit"],
        "lib.json" => &["save", "load", "schema"],
        "lib.hex" => &["encode", "decode", "toint", "fromint", "signext", "trimext"],
        "lib.base64" => &["encode", "decode"],
        "lib.globals" => &["get", "set", "pop", "list"],
        "lib.view" => &["get", "list"],
        "lib.layer" => &["get", "list"],
        "lib.model" => &["form", "prop", "type", "tagprop"],
        "lib.user" => &["name", "allowed"],
        "lib.model.ext" => super::modelext::LIB_FUNCS,
        super::tagmodel::LIB => super::tagmodel::LIB_FUNCS,
        "lib.stats" => &["tally"],
        "lib.iters" => &["enum", "zip"],
        "lib.math" => &["number"],
        "lib.dict" => &[
            "keys", "values", "pop", "has", "update", "items", "fromlist",
        ],
        "lib.list" => &[],
        "lib.scrape" => super::scrape::LIB_FUNCS,
        super::stormlib::LIB => super::stormlib::LIB_FUNCS,
        super::byteslib::LIB => super::byteslib::LIB_FUNCS,
        super::easyperm::LIB => super::easyperm::LIB_FUNCS,
        "lib.trigger" | "lib.cron" => super::automation::lib_funcs(path),
        _ => &[],
    }
}

/// Methods of each Storm type (for `NoSuchName` on unknown names).
fn type_methods(base: &Val) -> Option<(&'static str, &'static [&'static str])> {
    Some(match base {
        Val::Str(_) => (
            "str",
            &[
                "split",
                "rsplit",
                "replace",
                "startswith",
                "endswith",
                "find",
                "size",
                "slice",
                "reverse",
                "format",
                "join",
                "encode",
                "json",
                "ljust",
                "rjust",
                "upper",
                "lower",
                "title",
                "strip",
                "lstrip",
                "rstrip",
                "lower",
                "upper",
            ],
        ),
        Val::List(_) | Val::Tuple(_) => (
            "list",
            &[
                "append", "extend", "pop", "has", "index", "length", "size", "slice", "sort",
                "reverse", "rem", "remove", "unique",
            ],
        ),
        Val::Set(_) => (
            "set",
            &["add", "adds", "has", "rem", "rems", "size", "list"],
        ),
        Val::Bytes(_) => (
            "bytes",
            &[
                "decode", "json", "slice", "size", "unpack", "gzip", "gunzip", "bzip", "bunzip",
                "xor",
            ],
        ),
        Val::Num(_) => ("number", &["toint", "tofloat", "tostr", "scaleb"]),
        Val::Node(_) => (
            "node",
            &[
                "form",
                "ndef",
                "iden",
                "value",
                "isform",
                "repr",
                "tags",
                "globtags",
                "pack",
                "edges",
                "addEdge",
                "delEdge",
                "getStorNodes",
                "getByLayer",
                "difftags",
            ],
        ),
        _ => return None,
    })
}

/// The libraries and their functions (for `getCoreInfoV2()` storm docs).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    let mut out = vec![("lib".to_owned(), lib_funcs("lib").to_vec())];
    for path in LIBS {
        out.push(((*path).to_owned(), lib_funcs(path).to_vec()));
    }
    out.push((
        super::easyperm::LIB.to_owned(),
        super::easyperm::LIB_FUNCS.to_vec(),
    ));
    out.extend(super::ext::lib_docs());
    out.extend(super::libmore::lib_docs());
    out.extend(super::httplib::lib_docs());
    out.extend(super::axonlib::lib_docs());
    out.extend(super::exportlib::lib_docs());
    out.extend(super::notiflib::lib_docs());
    out
}

/// `base.name`
pub(crate) async fn deref(runt: &Arc<Runt>, base: &Val, name: &Val) -> RResult<Val> {
    let checked = |n: &str| -> RResult<Val> {
        if let Some((tname, methods)) = type_methods(base)
            && !methods.contains(&n)
        {
            return Err(Flow::Err(
                StormError::new(
                    "NoSuchName",
                    format!("Cannot find name [{n}] on type {tname}"),
                )
                .with("name", n),
            ));
        }
        Ok(Val::Bound(Arc::new((base.clone(), Arc::from(n)))))
    };
    let bound = |n: &str| Val::Bound(Arc::new((base.clone(), Arc::from(n))));
    match base {
        Val::Lib(path) => {
            let name = str_of(name)?;
            if name.starts_with("__") {
                return Err(rterr(format!("Cannot dereference private value [{name}]")));
            }
            if let Some(v) = super::typesmore::lib_attr(runt, path, &name) {
                return Ok(v);
            }
            if &**path == "lib" {
                match name.as_str() {
                    "true" => return Ok(Val::Bool(true)),
                    "false" => return Ok(Val::Bool(false)),
                    "null" => return Ok(Val::Null),
                    "undef" => return Ok(Val::Undef),
                    "debug" => return Ok(Val::Bool(runt.shared.opts.debug)),
                    _ => {}
                }
            }
            if &**path == "lib.user" && name == "iden" {
                // an attribute, not a function
                return Ok(Val::from(runt.shared.user.iden.as_str()));
            }
            if &**path == "lib.regex.flags" {
                return match name.as_str() {
                    "i" => Ok(Val::Int(2)),
                    "m" => Ok(Val::Int(8)),
                    _ => Err(nosuchname(&name)),
                };
            }
            if &**path == super::genlib::LIB {
                return super::genlib::deref(runt, &name).await;
            }
            if &**path == super::easyperm::LIB && name == "level" {
                return Ok(super::easyperm::levels());
            }
            let sub = format!("{path}.{name}");
            if sub == super::easyperm::LIB {
                return Ok(Val::Lib(Arc::from(sub)));
            }
            if sub == super::genlib::LIB {
                return Ok(Val::Lib(Arc::from(sub)));
            }
            if LIBS.contains(&sub.as_str())
                || super::ext::is_lib(&sub)
                || super::libmore::is_lib(&sub)
                || super::httplib::is_lib(&sub)
                || super::axonlib::is_lib(&sub)
                || super::exportlib::is_lib(&sub)
                || super::notiflib::is_lib(&sub)
            {
                return Ok(Val::Lib(Arc::from(sub)));
            }
            if lib_funcs(path).contains(&name.as_str())
                || super::ext::lib_funcs(path).contains(&name.as_str())
                || super::libmore::lib_funcs(path).contains(&name.as_str())
                || super::httplib::lib_funcs(path).contains(&name.as_str())
                || super::axonlib::lib_funcs(path).contains(&name.as_str())
                || super::exportlib::lib_funcs(path).contains(&name.as_str())
                || super::notiflib::lib_funcs(path).contains(&name.as_str())
            {
                return Ok(bound(&name));
            }

            if super::admin::lib_funcs(path).contains(&name.as_str()) {
                return Ok(bound(&name));
            }
            Err(nosuchname(&name))
        }
        Val::Dict(d) => {
            let key = name.to_key()?;
            Ok(lock(d).get(&key).cloned().unwrap_or(Val::Null))
        }
        Val::List(_) | Val::Tuple(_) => {
            if let Ok(idx) = name.to_int()
                && !matches!(name, Val::Str(s) if !s.chars().all(|c| c.is_ascii_digit() || c == '-'))
            {
                let items = base.seq_items().unwrap_or_default();
                let len = items.len() as i128;
                let pos = if idx < 0 { len + idx } else { idx };
                if pos < 0 || pos >= len {
                    return Err(rterr(format!("list index out of range: {idx}")));
                }
                return Ok(items[pos as usize].clone());
            }
            checked(&str_of(name)?)
        }
        Val::Node(_) => {
            let name = str_of(name)?;
            match name.as_str() {
                "props" => Ok(match base {
                    Val::Node(n) => Val::NodeProps(Arc::clone(n)),
                    _ => Val::Null,
                }),
                "data" => Ok(match base {
                    Val::Node(n) => Val::NodeData(Arc::clone(n)),
                    _ => Val::Null,
                }),
                _ => checked(&name),
            }
        }
        Val::NodeProps(node) => {
            let name = str_of(name)?;
            match name.as_str() {
                "get" | "set" | "list" => Ok(bound(&name)),
                _ => Ok(node.get(&name).map(Val::from_msgpack).unwrap_or(Val::Null)),
            }
        }
        Val::Path(path) => {
            let name = str_of(name)?;
            match name.as_str() {
                "vars" => {
                    let p = lock(path).clone();
                    let mut out = IndexMap::new();
                    for (k, v) in runt.scope_vars() {
                        out.insert(Key::Str(Arc::from(k.as_str())), v);
                    }
                    for (k, v) in &p.vars {
                        out.insert(Key::Str(k.clone()), v.clone());
                    }
                    Ok(new_dict(out))
                }
                _ => Ok(bound(&name)),
            }
        }
        Val::Obj(obj) => match &**obj {
            Obj::View(iden) | Obj::Layer(iden) => {
                let name = str_of(name)?;
                if name == "iden" {
                    return Ok(Val::from(iden.as_str()));
                }
                // `$layer.name` and `$view.parent` are attributes of the definitions
                if name == "name"
                    && matches!(&**obj, Obj::Layer(_))
                    && let Some(layer) = runt.shared.core.views().layer(iden)
                {
                    let pack = layer.pack();
                    return Ok(crate::layer::map_get(&pack, "name")
                        .map(Val::from_msgpack)
                        .unwrap_or(Val::Null));
                }
                if name == "parent"
                    && matches!(&**obj, Obj::View(_))
                    && let Some(view) = runt.shared.core.views().view(iden)
                {
                    return Ok(view.def().parent.map(Val::from).unwrap_or(Val::Null));
                }
                if name == "triggers" && matches!(&**obj, Obj::View(_)) {
                    // a runtime without a cortex has no triggers
                    let trigs = match super::ext::cortex(runt) {
                        Ok(core) => core.list_triggers(iden),
                        Err(_) => Vec::new(),
                    };
                    return Ok(new_list(
                        trigs
                            .iter()
                            .map(|t| {
                                super::automation::AutoObj::val(
                                    super::automation::AutoKind::Trigger,
                                    t,
                                )
                            })
                            .collect(),
                    ));
                }
                // `$view.layers` is an attribute (the view's layer objects, top first)
                if name == "layers"
                    && matches!(&**obj, Obj::View(_))
                    && let Some(view) = runt.shared.core.views().view(iden)
                {
                    let layers = view.layers();
                    let items = layers
                        .iter()
                        .map(|l| Val::Obj(Arc::new(Obj::Layer(l.iden()))));
                    return Ok(new_list(items.collect()));
                }
                Ok(bound(&name))
            }
            Obj::Ext(ext) => ext.deref(runt, base, &str_of(name)?),
            Obj::Cache(cache) => match str_of(name)?.as_str() {
                "query" => Ok(Val::from(cache.query_text())),
                other => Ok(bound(other)),
            },
            Obj::Auto(a) => super::automation::deref(base, a, &str_of(name)?),
            Obj::HttpResp(r) => {
                let name = str_of(name)?;
                Ok(r.attr(&name).unwrap_or_else(|| bound(&name)))
            }
            Obj::Module(m) => m.deref(&str_of(name)?),
            Obj::PkgVars(pkg) => super::pkg::vars_get(runt, pkg, &str_of(name)?).await,
            Obj::JsonSchema(_) => {
                let name = str_of(name)?;
                if !super::jsonschema::METHODS.contains(&name.as_str()) {
                    return Err(Flow::Err(
                        StormError::new(
                            "NoSuchName",
                            format!("Cannot find name [{name}] on type json:schema"),
                        )
                        .with("name", name.as_str()),
                    ));
                }
                Ok(bound(&name))
            }
            other => {
                let name = str_of(name)?;
                match super::typesmore::obj_attr(runt, other, &name) {
                    Some(v) => Ok(v),
                    None => Ok(bound(&name)),
                }
            }
        },
        _ => checked(&str_of(name)?),
    }
}

/// `base.key = valu`
pub(crate) async fn setitem(runt: &Arc<Runt>, base: &Val, name: Val, valu: Val) -> RResult<()> {
    match base {
        Val::Dict(d) => {
            let key = name.to_key()?;
            if matches!(valu, Val::Undef) {
                lock(d).shift_remove(&key);
            } else {
                lock(d).insert(key, valu);
            }
            Ok(())
        }
        Val::NodeProps(node) => {
            let name = str_of(&name)?;
            runt.req_writable(Span::default())?;
            let mut editor = runt.shared.editor.lock().await;
            if matches!(valu, Val::Undef) {
                editor.del_prop(&node.buid, &name).await?;
            } else {
                editor.set_prop(&node.buid, &name, &tostor(&valu)?).await?;
            }
            runt.flush(&mut editor).await?;
            Ok(())
        }
        Val::Path(path) => {
            let name = str_of(&name)?;
            lock(path).set(&name, valu);
            Ok(())
        }
        Val::Obj(obj) if matches!(&**obj, Obj::Ext(_)) => match &**obj {
            Obj::Ext(ext) => ext.set_attr(runt, &str_of(&name)?, &valu).await,
            _ => Ok(()),
        },
        Val::Obj(obj) if matches!(&**obj, Obj::PkgVars(_)) => match &**obj {
            Obj::PkgVars(pkg) => super::pkg::vars_set(runt, pkg, &str_of(&name)?, valu).await,
            _ => Ok(()),
        },
        other => Err(rterr(format!(
            "{} does not support assignment.",
            other.typename()
        ))),
    }
}

/// Argument `idx` of a call, or its keyword `name`.
pub(crate) fn arg(args: &[Val], kwargs: &[(String, Val)], idx: usize, name: &str) -> Option<Val> {
    args.get(idx).cloned().or_else(|| {
        kwargs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

/// [`arg`], required: Python's error for a missing positional argument of `func`.
pub(crate) fn req(
    args: &[Val],
    kwargs: &[(String, Val)],
    idx: usize,
    name: &str,
    func: &str,
) -> RResult<Val> {
    arg(args, kwargs, idx, name).ok_or_else(|| {
        rterr(format!(
            "{func}() missing 1 required positional argument: '{name}'"
        ))
    })
}

fn kw<'a>(kwargs: &'a [(String, Val)], name: &str) -> Option<&'a Val> {
    kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn fmt_kwargs(mesg: &str, kwargs: &[(String, Val)]) -> String {
    let mut out = mesg.to_owned();
    for (k, v) in kwargs {
        out = out.replace(&format!("{{{k}}}"), &repr_str(v));
    }
    out
}

fn get_mesg(mesg: &Val, kwargs: &[(String, Val)]) -> String {
    match mesg {
        Val::Str(s) => {
            if kwargs.is_empty() {
                s.to_string()
            } else {
                fmt_kwargs(s, kwargs)
            }
        }
        other => other.repr(),
    }
}

fn to_bytes(v: &Val) -> RResult<Vec<u8>> {
    match v {
        Val::Bytes(b) => Ok(b.to_vec()),
        Val::Str(s) => Ok(s.as_bytes().to_vec()),
        other => Err(rterr(format!("Expected bytes, got {}", other.typename()))),
    }
}

fn int_arg(v: Option<Val>) -> RResult<Option<i128>> {
    match v {
        None | Some(Val::Null) => Ok(None),
        Some(v) => v.to_int().map(Some),
    }
}

/// Call `recv.name(args)`.
pub(crate) async fn call_method(
    runt: &Arc<Runt>,
    recv: &Val,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
    item: Option<&Item>,
) -> RResult<Val> {
    match recv {
        Val::Lib(path) if super::libmore::is_lib(path) => {
            super::libmore::call_lib(runt, path, name, args, kwargs).await
        }
        Val::Lib(path) if super::httplib::is_lib(path) => {
            super::httplib::call_lib(runt, path, name, args, kwargs).await
        }
        Val::Lib(path) if super::axonlib::is_lib(path) => {
            super::axonlib::call_lib(runt, path, name, args, kwargs).await
        }
        Val::Lib(path) if super::exportlib::is_lib(path) => {
            super::exportlib::call_lib(runt, name, args, kwargs).await
        }
        Val::Lib(path) if super::notiflib::is_lib(path) => {
            super::notiflib::call_lib(runt, name, args, kwargs).await
        }
        Val::Lib(path) if &**path == super::easyperm::LIB => {
            super::easyperm::call(runt, name, &args, &kwargs).await
        }
        Val::Lib(path) if &**path == super::byteslib::LIB => {
            super::byteslib::call(runt, name, args, kwargs).await
        }
        Val::Lib(path) if &**path == super::stormlib::LIB => {
            super::stormlib::call(runt, name, &args, &kwargs).await
        }
        Val::Lib(path) if &**path == super::genlib::LIB => {
            super::genlib::call(runt, name, args, kwargs).await
        }
        Val::Lib(path) if super::ext::is_lib(path) => {
            super::ext::call_lib(runt, path, name, args, kwargs).await
        }
        Val::Lib(path) => call_lib(runt, path, name, args, kwargs, item).await,
        Val::Str(text) => str_method(text, name, &args, &kwargs),
        Val::List(_) | Val::Tuple(_) => list_method(runt, recv, name, &args, &kwargs).await,
        Val::Set(set) => set_method(set, name, &args, &kwargs),
        Val::Bytes(b) => bytes_method(b, name, &args, &kwargs),
        Val::Num(d) => match name {
            "toint" => Ok(Val::Int(Val::Num(*d).to_int()?)),
            "tofloat" => Ok(Val::Float(super::value::dec_to_f64(d))),
            "tostr" => Ok(Val::from(super::value::dec_str(d))),
            "scaleb" => {
                let exp = req(&args, &kwargs, 0, "other", "scaleb")?.to_int()?;
                Ok(Val::Num(scaleb(*d, exp)?))
            }
            _ => Err(nosuchname(name)),
        },
        Val::Node(node) => node_method(runt, node, name, &args, &kwargs).await,
        Val::NodeProps(node) => match name {
            "get" => {
                let n = str_of(&req(&args, &kwargs, 0, "name", "get")?)?;
                Ok(node.get(&n).map(Val::from_msgpack).unwrap_or(Val::Null))
            }
            "list" => Ok(new_list(
                node.props
                    .iter()
                    .map(|(k, v)| Val::Tuple(Arc::from(vec![s(k), Val::from_msgpack(v)])))
                    .collect(),
            )),
            "set" => {
                let n = req(&args, &kwargs, 0, "prop", "set")?;
                let v = req(&args, &kwargs, 1, "valu", "set")?;
                setitem(runt, recv, n, v).await?;
                Ok(Val::Bool(true))
            }
            _ => Err(nosuchname(name)),
        },
        Val::NodeData(node) => nodedata_method(runt, node, name, &args, &kwargs).await,
        Val::Query(q) => match name {
            "exec" => {
                let mut nodes = query_nodes(runt, q)?;
                while let Some(n) = nodes.next().await {
                    match n {
                        Ok(_) => {}
                        Err(Flow::Return(v)) => return Ok(v),
                        Err(e) => return Err(e),
                    }
                }
                Ok(Val::Null)
            }
            "size" => {
                let limit = int_arg(arg(&args, &kwargs, 0, "limit"))?.unwrap_or(1000);
                let mut nodes = query_nodes(runt, q)?;
                let mut count = 0i128;
                while let Some(n) = nodes.next().await {
                    n?;
                    count += 1;
                    if count >= limit {
                        break;
                    }
                }
                Ok(Val::Int(count))
            }
            _ => Err(nosuchname(name)),
        },
        Val::Obj(obj) => obj_method(runt, obj, name, &args, &kwargs).await,
        Val::Path(path) => match name {
            "idens" => Ok(new_list(
                lock(path)
                    .nodes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(Val::from)
                    .collect(),
            )),
            "meta" => {
                let n = str_of(&req(&args, &kwargs, 0, "name", "meta")?)?;
                let v = arg(&args, &kwargs, 1, "valu").unwrap_or(Val::Null);
                lock(path).set_meta(&n, v);
                Ok(Val::Null)
            }
            _ => Err(nosuchname(name)),
        },
        _ => Err(nosuchname(name)),
    }
}

fn str_method(text: &str, name: &str, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
    let a = |i: usize, n: &str| arg(args, kwargs, i, n);
    Ok(match name {
        "upper" => Val::from(text.to_uppercase()),
        "lower" => Val::from(text.to_lowercase()),
        "title" => {
            let mut out = String::new();
            let mut prev_alpha = false;
            for c in text.chars() {
                if c.is_alphabetic() {
                    if prev_alpha {
                        out.extend(c.to_lowercase());
                    } else {
                        out.extend(c.to_uppercase());
                    }
                    prev_alpha = true;
                } else {
                    out.push(c);
                    prev_alpha = false;
                }
            }
            Val::from(out)
        }
        "strip" | "lstrip" | "rstrip" => {
            let chars: Option<Vec<char>> = match a(0, "chars") {
                Some(Val::Str(c)) => Some(c.chars().collect()),
                _ => None,
            };
            let pred = |c: char| match &chars {
                Some(cs) => cs.contains(&c),
                None => c.is_whitespace(),
            };
            Val::from(match name {
                "strip" => text.trim_matches(pred),
                "lstrip" => text.trim_start_matches(pred),
                _ => text.trim_end_matches(pred),
            })
        }
        "split" | "rsplit" => {
            let sep = Some(req(args, kwargs, 0, "text", name)?.to_str()?);
            let maxsplit = int_arg(a(1, "maxsplit"))?;
            let parts: Vec<String> = match (sep, maxsplit) {
                (Some(sep), None) => text.split(sep.as_str()).map(String::from).collect(),
                (Some(sep), Some(n)) if name == "split" => text
                    .splitn((n + 1).max(1) as usize, sep.as_str())
                    .map(String::from)
                    .collect(),
                (Some(sep), Some(n)) => {
                    let mut v: Vec<String> = text
                        .rsplitn((n + 1).max(1) as usize, sep.as_str())
                        .map(String::from)
                        .collect();
                    v.reverse();
                    v
                }
                (None, _) => text.split_whitespace().map(String::from).collect(),
            };
            new_list(parts.into_iter().map(Val::from).collect())
        }
        "replace" => {
            let old = req(args, kwargs, 0, "oldv", "replace")?.to_str()?;
            let new = req(args, kwargs, 1, "newv", "replace")?.to_str()?;
            match int_arg(a(2, "maxv"))? {
                Some(n) => Val::from(text.replacen(old.as_str(), &new, n.max(0) as usize)),
                None => Val::from(text.replace(old.as_str(), &new)),
            }
        }
        "startswith" => Val::Bool(
            text.starts_with(
                req(args, kwargs, 0, "text", "startswith")?
                    .to_str()?
                    .as_str(),
            ),
        ),
        "endswith" => {
            Val::Bool(text.ends_with(req(args, kwargs, 0, "text", "endswith")?.to_str()?.as_str()))
        }
        "find" => {
            let needle = req(args, kwargs, 0, "valu", "find")?.to_str()?;
            match text.find(needle.as_str()) {
                Some(pos) => Val::Int(text[..pos].chars().count() as i128),
                None => Val::Null,
            }
        }
        "size" => Val::Int(text.chars().count() as i128),
        "slice" => {
            let chars: Vec<char> = text.chars().collect();
            let (start, end) =
                slice_bounds(chars.len(), int_arg(a(0, "start"))?, int_arg(a(1, "end"))?);
            Val::from(chars[start..end].iter().collect::<String>())
        }
        "reverse" => Val::from(text.chars().rev().collect::<String>()),
        "format" => Val::from(fmt_kwargs(text, kwargs)),
        "join" => {
            let items = req(args, kwargs, 0, "items", "join")?;
            let parts: Vec<String> = items
                .seq_items()
                .unwrap_or_default()
                .iter()
                .map(Val::to_str)
                .collect::<RResult<_>>()?;
            Val::from(parts.join(text))
        }
        "encode" => Val::Bytes(Arc::from(text.as_bytes())),
        "json" => {
            let json: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| rterr(format!("Text is not valid JSON: {e}")))?;
            let valu = json_to_val(&json);
            super::pyvals::mark_deep(&valu);
            valu
        }
        "ljust" | "rjust" => {
            let size = req(args, kwargs, 0, "size", name)?.to_int()? as usize;
            let fill = match a(1, "fillchar") {
                Some(v) => v.to_str()?.chars().next().unwrap_or(' '),
                None => ' ',
            };
            let len = text.chars().count();
            if len >= size {
                Val::from(text)
            } else {
                let pad: String = std::iter::repeat_n(fill, size - len).collect();
                if name == "ljust" {
                    Val::from(format!("{text}{pad}"))
                } else {
                    Val::from(format!("{pad}{text}"))
                }
            }
        }
        _ => return Err(nosuchname(name)),
    })
}

fn slice_bounds(len: usize, start: Option<i128>, end: Option<i128>) -> (usize, usize) {
    let len_i = len as i128;
    let fix = |v: i128| -> usize {
        let v = if v < 0 { len_i + v } else { v };
        v.clamp(0, len_i) as usize
    };
    let s = start.map(fix).unwrap_or(0);
    let e = end.map(fix).unwrap_or(len);
    (s, e.max(s))
}

async fn list_method(
    runt: &Arc<Runt>,
    recv: &Val,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let a = |i: usize, n: &str| arg(args, kwargs, i, n);
    let items = recv.seq_items().unwrap_or_default();
    let mutate = |f: &mut dyn FnMut(&mut Vec<Val>) -> RResult<Val>| -> RResult<Val> {
        match recv {
            Val::List(l) => f(&mut lock(l)),
            _ => Err(rterr(format!("'tuple' object has no attribute '{name}'"))),
        }
    };
    Ok(match name {
        "append" => {
            let v = req(args, kwargs, 0, "valu", "append")?;
            mutate(&mut |l| {
                l.push(v.clone());
                Ok(Val::Null)
            })?
        }
        "extend" => {
            let v = req(args, kwargs, 0, "valu", "extend")?;
            let mut more = eval_iter(runt, v, Span::default()).await?;
            let mut add = Vec::new();
            while let Some(x) = more.next().await {
                add.push(x?);
            }
            mutate(&mut |l| {
                l.extend(add.iter().cloned());
                Ok(Val::Null)
            })?
        }
        "pop" => {
            let idx = int_arg(a(0, "index"))?;
            mutate(&mut |l| {
                let len = l.len() as i128;
                let pos = match idx {
                    None => len - 1,
                    Some(i) if i < 0 => len + i,
                    Some(i) => i,
                };
                if pos < 0 || pos >= len {
                    return Err(rterr("pop index out of range"));
                }
                Ok(l.remove(pos as usize))
            })?
        }
        "has" => {
            let v = req(args, kwargs, 0, "valu", "has")?;
            let v = v.cmprvalu();
            Val::Bool(items.iter().any(|i| {
                py_equal(&i.cmprvalu(), &v)
                    || py_equal(&i.cmprvalu(), &Val::from(v.to_str().unwrap_or_default()))
            }))
        }
        "index" => {
            let idx = req(args, kwargs, 0, "valu", "index")?.to_int()?;
            let len = items.len() as i128;
            let pos = if idx < 0 { len + idx } else { idx };
            if pos < 0 || pos >= len {
                return Err(Flow::Err(
                    StormError::new("StormRuntimeError", "list index out of range")
                        .with("valurepr", recv.repr()),
                ));
            }
            items[pos as usize].clone()
        }
        "length" | "size" => Val::Int(items.len() as i128),
        "slice" => {
            let (start, end) =
                slice_bounds(items.len(), int_arg(a(0, "start"))?, int_arg(a(1, "end"))?);
            new_list(items[start..end].to_vec())
        }
        "sort" => {
            let reverse = a(0, "reverse").is_some_and(|v| v.truthy());
            mutate(&mut |l| {
                l.sort_by(order);
                if reverse {
                    l.reverse();
                }
                Ok(Val::Null)
            })?
        }
        "reverse" => mutate(&mut |l| {
            l.reverse();
            Ok(Val::Null)
        })?,
        "rem" | "remove" => {
            let v = req(args, kwargs, 0, "item", "rem")?;
            let all = a(1, "all").is_some_and(|v| v.truthy());
            mutate(&mut |l| {
                let mut found = false;
                while let Some(pos) = l.iter().position(|i| py_equal(i, &v)) {
                    l.remove(pos);
                    found = true;
                    if !all {
                        break;
                    }
                }
                Ok(Val::Bool(found))
            })?
        }
        "unique" => {
            let mut out: Vec<Val> = Vec::new();
            for i in items {
                if !out.iter().any(|o| py_equal(o, &i)) {
                    out.push(i);
                }
            }
            new_list(out)
        }
        _ => return Err(nosuchname(name)),
    })
}

fn set_method(
    set: &super::value::SetRef,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    Ok(match name {
        "add" => {
            for v in args {
                lock(set).insert(v.to_key()?);
            }
            Val::Null
        }
        "adds" | "rems" => {
            for v in args {
                for i in v.seq_items().unwrap_or_default() {
                    if name == "adds" {
                        lock(set).insert(i.to_key()?);
                    } else {
                        lock(set).shift_remove(&i.to_key()?);
                    }
                }
            }
            Val::Null
        }
        "rem" => {
            for v in args {
                lock(set).shift_remove(&v.to_key()?);
            }
            Val::Null
        }
        "has" => Val::Bool(lock(set).contains(&req(args, kwargs, 0, "item", "has")?.to_key()?)),
        "size" => Val::Int(lock(set).len() as i128),
        "list" => new_list(lock(set).iter().map(Key::to_val).collect()),
        _ => return Err(nosuchname(name)),
    })
}

fn bytes_method(b: &[u8], name: &str, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
    Ok(match name {
        "decode" => Val::from(String::from_utf8_lossy(b).into_owned()),
        "json" => {
            let json: serde_json::Value =
                serde_json::from_slice(b).map_err(|e| rterr(format!("{e}")))?;
            json_to_val(&json)
        }
        "slice" => {
            let (s, e) = slice_bounds(
                b.len(),
                int_arg(arg(args, kwargs, 0, "start"))?,
                int_arg(arg(args, kwargs, 1, "end"))?,
            );
            Val::Bytes(Arc::from(&b[s..e]))
        }
        "size" => Val::Int(b.len() as i128),
        _ => return super::typesmore::bytes_method(b, name, args, kwargs),
    })
}

async fn node_method(
    runt: &Arc<Runt>,
    node: &Arc<Node>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let a = |i: usize, n: &str| arg(args, kwargs, i, n);
    Ok(match name {
        "form" => Val::from(node.form.as_str()),
        "ndef" => Val::Tuple(Arc::from(vec![
            Val::from(node.form.as_str()),
            Val::from_msgpack(&node.valu),
        ])),
        "iden" => Val::from(node.iden()),
        "value" => Val::from_msgpack(&node.valu),
        "isform" => {
            let n = req(args, kwargs, 0, "name", "isform")?;
            match n.seq_items() {
                Some(items) => {
                    Val::Bool(items.iter().any(|i| i.as_str() == Some(node.form.as_str())))
                }
                None => Val::Bool(n.to_str()? == node.form),
            }
        }
        "repr" => {
            let pname = a(0, "name").filter(|v| !v.is_null());
            let defv = a(1, "defv").unwrap_or(Val::Null);
            let model = runt.model();
            match pname {
                None => Val::from(super::value::node_repr(node)),
                Some(p) => {
                    let p = p.to_str()?;
                    let Some(prop) = model.form(&node.form).and_then(|f| f.prop(&p)) else {
                        return Err(Flow::Err(
                            StormError::new("NoSuchProp", format!("No property named {p}."))
                                .with("prop", p.as_str())
                                .with("form", node.form.as_str()),
                        ));
                    };
                    match node.get(&p) {
                        None => defv,
                        Some(v) => Val::from(super::value::repr_text(&prop.ty().repr(v)?)),
                    }
                }
            }
        }
        "tags" => {
            let glob = a(0, "glob")
                .filter(|v| !v.is_null())
                .map(|v| v.to_str())
                .transpose()?;
            let leaf = a(1, "leaf").is_some_and(|v| v.truthy());
            let mut names: Vec<String> = if leaf {
                node.leaf_tags().into_iter().map(str::to_owned).collect()
            } else {
                node.tags.iter().map(|(t, _)| t.clone()).collect()
            };
            if let Some(g) = glob {
                let re = super::cond::tag_glob(&g);
                names.retain(|n| re.is_match(n));
            }
            new_list(names.into_iter().map(Val::from).collect())
        }
        "globtags" => {
            let g = req(args, kwargs, 0, "glob", "globtags")?.to_str()?;
            let mut pat = String::from("^");
            for c in g.chars() {
                match c {
                    '*' => pat.push_str("([^.]+)"),
                    '.' => pat.push_str("\\."),
                    o => pat.push_str(&regex::escape(&o.to_string())),
                }
            }
            pat.push('$');
            let re = regex::Regex::new(&pat).map_err(|e| rterr(e.to_string()))?;
            let mut out = Vec::new();
            for (t, _) in &node.tags {
                if let Some(caps) = re.captures(t) {
                    let groups: Vec<Val> = caps
                        .iter()
                        .skip(1)
                        .flatten()
                        .map(|m| Val::from(m.as_str()))
                        .collect();
                    if groups.len() == 1 {
                        out.push(groups[0].clone());
                    } else {
                        out.push(Val::Tuple(Arc::from(groups)));
                    }
                }
            }
            new_list(out)
        }
        "pack" => {
            let dorepr = a(0, "dorepr").is_some_and(|v| v.truthy());
            let mut pode = node.pack(runt.model(), crate::node::PackOpts { repr: dorepr });
            super::nodedata::overlay(&runt.shared, &node.buid, &mut pode);
            Val::from_msgpack(&pode)
        }
        "edges" => {
            let verb = a(0, "verb")
                .filter(|v| !v.is_null())
                .map(|v| v.to_str())
                .transpose()?;
            let reverse = a(1, "reverse").is_some_and(|v| v.truthy());
            let mut edges = if reverse {
                runt.view.edges_n2(node.buid, verb.as_deref())
            } else {
                runt.view.edges_n1(node.buid, verb.as_deref())
            };
            let mut out = Vec::new();
            while let Some(e) = edges.next().await {
                let (verb, buid) = e.map_err(Flow::from)?;
                out.push(Ok(Val::Tuple(Arc::from(vec![
                    Val::from(verb),
                    Val::from(hex::encode(buid)),
                ]))));
            }
            GenVal::val(
                futures::stream::iter(out.into_iter().map(|r: RResult<Val>| r.map(GenItem::Val)))
                    .boxed(),
            )
        }
        "addEdge" | "delEdge" => {
            let verb = req(args, kwargs, 0, "verb", name)?.to_str()?;
            let iden = req(args, kwargs, 1, "iden", name)?.to_str()?;
            let buid = parse_buid(&iden)?;
            let act = if name == "addEdge" { "add" } else { "del" };
            runt.layer_confirm(&["node", "edge", act, &verb])?;
            let mut editor = runt.shared.editor.lock().await;
            if name == "addEdge" {
                editor.add_edge(&node.buid, &verb, &buid).await?;
            } else {
                editor.del_edge(&node.buid, &verb, &buid).await?;
            }
            runt.flush(&mut editor).await?;
            Val::Null
        }
        "getStorNodes" => {
            let sodes = runt.view.get_sodes(node.buid).await?;
            new_list(
                sodes
                    .iter()
                    .map(|s| {
                        Val::from_msgpack(
                            &s.as_ref()
                                .map(|s| s.to_value())
                                .unwrap_or(Value::Map(vec![])),
                        )
                    })
                    .collect(),
            )
        }
        "difftags" => Val::Null,
        _ => {
            return Box::pin(super::typesmore::node_method(
                runt, node, name, args, kwargs,
            ))
            .await;
        }
    })
}

fn parse_buid(iden: &str) -> RResult<[u8; 32]> {
    let byts = hex::decode(iden).map_err(|_| {
        Flow::Err(StormError::new(
            "BadCast",
            format!("Invalid buid string: {iden}"),
        ))
    })?;
    <[u8; 32]>::try_from(byts.as_slice()).map_err(|_| {
        Flow::Err(StormError::new(
            "BadCast",
            format!("Invalid buid string: {iden}"),
        ))
    })
}

async fn nodedata_method(
    runt: &Arc<Runt>,
    node: &Arc<Node>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let n = || -> RResult<String> { req(args, kwargs, 0, "name", name)?.to_str() };
    Ok(match name {
        "get" => match runt.view.get_data(node.buid, &n()?).await? {
            Some(v) => Val::from_msgpack(&v),
            None => Val::Null,
        },
        "has" => Val::Bool(runt.view.get_data(node.buid, &n()?).await?.is_some()),
        "list" => new_list(
            runt.view
                .data_items(node.buid)
                .await?
                .into_iter()
                .map(|(k, v)| Val::Tuple(Arc::from(vec![Val::from(k), Val::from_msgpack(&v)])))
                .collect(),
        ),
        "set" => {
            let key = n()?;
            let valu = req(args, kwargs, 1, "valu", "set")?.to_msgpack()?;
            runt.req_writable(Span::default())?;
            runt.layer_confirm(&["node", "data", "set", &key])?;
            let mut editor = runt.shared.editor.lock().await;
            editor.set_data(&node.buid, &key, &valu).await?;
            runt.flush(&mut editor).await?;
            super::nodedata::carry(&runt.shared, node.buid, &key, Some(valu));
            Val::Null
        }
        "pop" => {
            let key = n()?;
            runt.req_writable(Span::default())?;
            runt.layer_confirm(&["node", "data", "pop", &key])?;
            let mut editor = runt.shared.editor.lock().await;
            let old = editor.pop_data(&node.buid, &key).await?;
            runt.flush(&mut editor).await?;
            super::nodedata::carry(&runt.shared, node.buid, &key, None);
            old.map(|v| Val::from_msgpack(&v)).unwrap_or(Val::Null)
        }
        "load" => {
            let key = n()?;
            let valu = runt.view.get_data(node.buid, &key).await?;
            super::nodedata::carry(
                &runt.shared,
                node.buid,
                &key,
                Some(valu.unwrap_or(Value::Nil)),
            );
            Val::Null
        }
        _ => {
            return Box::pin(super::typesmore::nodedata_method(
                runt, node, name, args, kwargs,
            ))
            .await;
        }
    })
}

async fn obj_method(
    runt: &Arc<Runt>,
    obj: &Arc<Obj>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    match &**obj {
        Obj::Ext(ext) => ext.call(runt, name, args, kwargs).await,
        Obj::Cache(cache) => cache.call(name, args, kwargs).await,
        Obj::Pipe(pipe) => pipe.call(name, args, kwargs).await,
        Obj::HttpResp(r) => r.call(name, args, kwargs),
        Obj::Module(m) => match m.deref(name)? {
            Val::Func(func) => exec::call_func(&func, args.to_vec(), kwargs.to_vec()).await,
            other => Err(rterr(format!(
                "'{}' object is not callable: {name}",
                other.typename()
            ))),
        },
        Obj::JsonSchema(schema) => super::jsonschema::call(schema, name, args, kwargs),
        Obj::Auto(a) => super::automation::obj_method(runt, a, name, args, kwargs).await,
        Obj::Tally(d) => Ok(match name {
            "inc" => {
                let key = req(args, kwargs, 0, "name", "inc")?.to_key()?;
                let by = int_arg(arg(args, kwargs, 1, "valu"))?.unwrap_or(1);
                let mut d = lock(d);
                let cur = d.get(&key).and_then(|v| v.to_int().ok()).unwrap_or(0);
                d.insert(key, Val::Int(cur + by));
                Val::Null
            }
            "get" => {
                let key = req(args, kwargs, 0, "name", "get")?.to_key()?;
                lock(d).get(&key).cloned().unwrap_or(Val::Int(0))
            }
            "sorted" => {
                let byname = arg(args, kwargs, 0, "byname").is_some_and(|v| v.truthy());
                let reverse = arg(args, kwargs, 1, "reverse").is_some_and(|v| v.truthy());
                let mut items: Vec<(Val, Val)> = lock(d)
                    .iter()
                    .map(|(k, v)| (k.to_val(), v.clone()))
                    .collect();
                if byname {
                    items.sort_by(|a, b| order(&a.0, &b.0));
                } else {
                    items.sort_by(|a, b| order(&a.1, &b.1));
                }
                if reverse {
                    items.reverse();
                }
                new_list(
                    items
                        .into_iter()
                        .map(|(k, v)| Val::Tuple(Arc::from(vec![k, v])))
                        .collect(),
                )
            }
            _ => return Err(nosuchname(name)),
        }),
        Obj::View(iden) => {
            let view = runt.shared.core.views().view(iden).ok_or_else(|| {
                Flow::Err(StormError::new(
                    "NoSuchView",
                    format!("No such view iden={iden}"),
                ))
            })?;
            match name {
                "fork" => {
                    let fname = match arg(args, kwargs, 0, "name") {
                        None | Some(Val::Null) => None,
                        Some(v) => Some(v.to_str()?),
                    };
                    let fork = super::morecmds::fork_view(runt, &view, fname).await?;
                    Ok(Val::Obj(Arc::new(Obj::View(fork.iden()))))
                }
                "pack" => Ok(Val::from_msgpack(&view.pack())),
                n if super::admin::VIEW_METHODS.contains(&n) => super::admin::view_method(&view, n),
                n if super::viewmerge::VIEW_METHODS.contains(&n) => {
                    Box::pin(super::viewmerge::view_method(runt, &view, n, args, kwargs)).await
                }
                "layers" => Ok(new_list(
                    view.layers()
                        .iter()
                        .map(|l| Val::Obj(Arc::new(Obj::Layer(l.iden()))))
                        .collect(),
                )),
                "get" => {
                    let key = req(args, kwargs, 0, "name", "get")?.to_str()?;
                    let def = view.def().to_value(None);
                    Ok(crate::layer::map_get(&def, &key)
                        .map(Val::from_msgpack)
                        .unwrap_or(Val::Null))
                }
                _ => {
                    Box::pin(super::typesmore::view_method(
                        runt, &view, name, args, kwargs,
                    ))
                    .await
                }
            }
        }
        Obj::Layer(iden) => {
            let layer = runt.shared.core.views().layer(iden).ok_or_else(|| {
                Flow::Err(StormError::new(
                    "NoSuchLayer",
                    format!("No such layer iden={iden}"),
                ))
            })?;
            match name {
                "pack" => Ok(Val::from_msgpack(&layer.pack())),
                n if super::admin::LAYER_METHODS.contains(&n) => {
                    Box::pin(super::admin::layer_method(runt, &layer, n, args, kwargs)).await
                }
                n if super::layersync::METHODS.contains(&n) => {
                    Box::pin(super::layersync::layer_method(
                        runt, &layer, n, args, kwargs,
                    ))
                    .await
                }
                n if super::viewmerge::LAYER_METHODS.contains(&n) => {
                    Box::pin(super::viewmerge::layer_method(
                        runt, &layer, n, args, kwargs,
                    ))
                    .await
                }
                _ => {
                    Box::pin(super::typesmore::layer_method(
                        runt, &layer, name, args, kwargs,
                    ))
                    .await
                }
            }
        }
        Obj::Text(_) | Obj::UserKv { .. } | Obj::ModelTagProp(_) => {
            Box::pin(super::typesmore::obj_method(runt, obj, name, args, kwargs)).await
        }
        Obj::PkgVars(_) => Err(nosuchname(name)),
        Obj::ModelType(tname) | Obj::ModelForm(tname) | Obj::ModelProp(tname) => {
            let model = runt.model();
            let ty = match &**obj {
                Obj::ModelType(_) => model.ty(tname),
                Obj::ModelForm(_) => model.form(tname).map(|f| f.ty()),
                _ => model.prop(tname).map(|p| p.ty()),
            }
            .ok_or_else(|| rterr(format!("No such type {tname}")))?;
            match name {
                "prop" if matches!(&**obj, Obj::ModelForm(_)) => {
                    let pname = req(args, kwargs, 0, "name", "prop")?.to_str()?;
                    let full = if pname.starts_with('.') {
                        format!("{tname}{pname}")
                    } else {
                        format!("{tname}:{pname}")
                    };
                    Ok(match model.prop(&full) {
                        Some(_) => Val::Obj(Arc::new(Obj::ModelProp(full))),
                        None => Val::Null,
                    })
                }
                "norm" => {
                    let v = tostor(&req(args, kwargs, 0, "valu", "norm")?)?;
                    let (norm, info) = ty.norm(&v)?;
                    let mut subs = IndexMap::new();
                    for (k, v) in &info.subs {
                        subs.insert(Key::Str(Arc::from(k.as_str())), Val::from_msgpack(v));
                    }
                    let mut infod = IndexMap::new();
                    infod.insert(Key::Str(Arc::from("subs")), new_dict(subs));
                    Ok(Val::Tuple(Arc::from(vec![
                        Val::from_msgpack(&norm),
                        new_dict(infod),
                    ])))
                }
                "repr" => {
                    let v = tostor(&req(args, kwargs, 0, "valu", "repr")?)?;
                    Ok(Val::from(super::value::repr_text(&ty.repr(&v)?)))
                }
                _ => Err(nosuchname(name)),
            }
        }
    }
}

/// Call a `$lib` function.
async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
    item: Option<&Item>,
) -> RResult<Val> {
    let a = |i: usize, n: &str| arg(&args, &kwargs, i, n);
    let r = |i: usize, n: &str| req(&args, &kwargs, i, n, name);
    if super::admin::lib_funcs(path).contains(&name) {
        let args = super::ext::Args::new(name, &args, &kwargs);
        return super::admin::call_lib(runt, path, name, &args).await;
    }
    if super::automation::lib_funcs(path).contains(&name) {
        return super::automation::call_lib(runt, path, name, &args, &kwargs).await;
    }
    if path == super::tagmodel::LIB {
        return super::tagmodel::call_lib(runt, name, &args, &kwargs).await;
    }
    if path == "lib.model.ext" {
        return super::modelext::call_lib(runt, name, &args, &kwargs).await;
    }
    let model = runt.model();
    Ok(match (path, name) {
        ("lib", "print") => {
            let mesg = get_mesg(&r(0, "mesg")?, &kwargs);
            runt.shared.print(&mesg).await;
            Val::Null
        }
        ("lib", "warn") => {
            let mesg = get_mesg(&r(0, "mesg")?, &kwargs);
            runt.shared.warn(&mesg, Vec::new()).await;
            Val::Null
        }
        ("lib", "pprint") => {
            let v = r(0, "item")?;
            runt.shared.print(&v.py_repr()).await;
            Val::Null
        }
        ("lib", "len") => {
            let v = r(0, "item")?;
            Val::Int(match &v {
                Val::Str(s) => s.chars().count() as i128,
                Val::Bytes(b) => b.len() as i128,
                Val::Dict(d) => lock(d).len() as i128,
                Val::Gen(_) => {
                    let mut it = eval_iter(runt, v.clone(), Span::default()).await?;
                    let mut n = 0;
                    while let Some(x) = it.next().await {
                        x?;
                        n += 1;
                    }
                    n
                }
                other => match other.seq_items() {
                    Some(items) => items.len() as i128,
                    None => {
                        return Err(rterr(format!(
                            "Object builtins.{} does not have a length.",
                            other.pytype()
                        )));
                    }
                },
            })
        }
        ("lib", "list") => {
            runt.shared
                .warnonce("$lib.list() is deprecated. Use ([]) instead.")
                .await;
            new_list(args.clone())
        }
        ("lib", "set") => {
            let mut out = IndexSet::new();
            for v in &args {
                out.insert(v.to_key()?);
            }
            Val::Set(Arc::new(std::sync::Mutex::new(out)))
        }
        ("lib", "dict") => {
            runt.shared
                .warnonce("$lib.dict() is deprecated. Use ({}) instead.")
                .await;
            let mut out = IndexMap::new();
            for (k, v) in &kwargs {
                out.insert(Key::Str(Arc::from(k.as_str())), v.clone());
            }
            new_dict(out)
        }
        ("lib", "cast") | ("lib", "trycast") => {
            let tname = r(0, "name")?.to_str()?;
            let valu = r(1, "valu")?;
            let ty = model
                .ty(&tname)
                .or_else(|| model.form(&tname).map(|f| f.ty()))
                .ok_or_else(|| {
                    Flow::Err(
                        StormError::new("NoSuchType", format!("No type named {tname}."))
                            .with("name", tname.as_str()),
                    )
                })?;
            let prim = tostor(&valu)?;
            let res = ty.norm(&prim);
            if name == "trycast" {
                match res {
                    Ok((norm, _)) => {
                        Val::Tuple(Arc::from(vec![Val::Bool(true), Val::from_msgpack(&norm)]))
                    }
                    Err(_) => Val::Tuple(Arc::from(vec![Val::Bool(false), Val::Null])),
                }
            } else {
                Val::from_msgpack(&res?.0)
            }
        }
        ("lib", "repr") => {
            let tname = r(0, "name")?.to_str()?;
            let valu = tostor(&r(1, "valu")?)?;
            let ty = model.ty(&tname).ok_or_else(|| {
                Flow::Err(StormError::new(
                    "NoSuchType",
                    format!("No type named {tname}."),
                ))
            })?;
            Val::from(super::value::repr_text(&ty.repr(&valu)?))
        }
        ("lib", "guid") => {
            if let Some(v) = kw(&kwargs, "valu") {
                Val::from(crate::model::guid_of(&v.to_msgpack()?))
            } else if args.is_empty() {
                Val::from(crate::model::guid_random())
            } else {
                let prims: Vec<Value> = args.iter().map(Val::to_msgpack).collect::<RResult<_>>()?;
                Val::from(crate::model::guid_of(&Value::Array(prims)))
            }
        }
        ("lib", "range") => {
            let stop = r(0, "stop")?.to_int()?;
            let start = int_arg(a(1, "start"))?;
            let step = int_arg(a(2, "step"))?.unwrap_or(1);
            let start = start.unwrap_or(0);
            if step == 0 {
                return Err(rterr("range() arg 3 must not be zero"));
            }
            let stream = async_stream::stream! {
                let mut i = start;
                while (step > 0 && i < stop) || (step < 0 && i > stop) {
                    yield Ok(GenItem::Val(Val::Int(i)));
                    i += step;
                }
            };
            GenVal::val(stream.boxed())
        }
        ("lib", "raise") => {
            let ename = r(0, "name")?.to_str()?;
            let mesg = r(1, "mesg")?.to_str()?;
            let mut e = StormError::new("StormRaise", mesg).with("errname", ename.as_str());
            for (k, v) in &kwargs {
                e.set(k, v.to_msgpack()?);
            }
            if matches!(
                ename.as_str(),
                "BadArg"
                    | "BadTypeValu"
                    | "NoSuchProp"
                    | "NoSuchForm"
                    | "AuthDeny"
                    | "StormRuntimeError"
            ) {
                e.name = ename;
            }
            return Err(Flow::Err(e));
        }
        ("lib", "exit") => {
            if let Some(m) = a(0, "mesg").filter(|v| !v.is_null()) {
                let mesg = get_mesg(&m, &kwargs);
                runt.shared.warn(&mesg, Vec::new()).await;
            }
            return Err(Flow::Exit);
        }
        ("lib", "fire") => {
            let ename = r(0, "name")?.to_str()?;
            let mut data = Vec::new();
            for (k, v) in &kwargs {
                data.push((Value::from(k.as_str()), v.to_msgpack()?));
            }
            runt.shared
                .send(
                    "storm:fire",
                    Value::Map(vec![
                        (Value::from("type"), Value::from(ename.as_str())),
                        (Value::from("data"), Value::Map(data)),
                    ]),
                )
                .await;
            Val::Null
        }
        ("lib", "copy") => Val::from_msgpack(&r(0, "item")?.to_msgpack()?).pipe_lists(),
        ("lib", "sorted") => {
            let v = r(0, "valu")?;
            let reverse = a(1, "reverse").is_some_and(|v| v.truthy());
            let mut it = eval_iter(runt, v, Span::default()).await?;
            let mut items = Vec::new();
            while let Some(x) = it.next().await {
                items.push(x?);
            }
            items.sort_by(order);
            if reverse {
                items.reverse();
            }
            GenVal::val(
                futures::stream::iter(items.into_iter().map(|v| Ok(GenItem::Val(v)))).boxed(),
            )
        }
        ("lib", "min") | ("lib", "max") => {
            let mut vals: Vec<Val> = Vec::new();
            for v in &args {
                match v.seq_items() {
                    Some(items) => vals.extend(items),
                    None => vals.push(v.clone()),
                }
            }
            let nums: Vec<Val> = vals
                .iter()
                .map(|v| v.to_number().map(|n| n.to_val()))
                .collect::<RResult<_>>()?;
            let best = nums.into_iter().reduce(|x, y| {
                let o = order(&x, &y);
                if (name == "min") == (o == std::cmp::Ordering::Greater) {
                    y
                } else {
                    x
                }
            });
            best.unwrap_or(Val::Null)
        }
        ("lib", "import") => return super::pkg::import(runt, &args, &kwargs).await,
        ("lib.str", "join") => {
            let sepr = r(0, "sepr")?.to_str()?;
            let items = r(1, "items")?;
            let mut it = eval_iter(runt, items, Span::default()).await?;
            let mut parts = Vec::new();
            while let Some(x) = it.next().await {
                parts.push(x?.to_str()?);
            }
            Val::from(parts.join(&sepr))
        }
        ("lib.str", "concat") => {
            let parts: Vec<String> = args.iter().map(Val::to_str).collect::<RResult<_>>()?;
            Val::from(parts.concat())
        }
        ("lib.str", "format") => Val::from(fmt_kwargs(&r(0, "text")?.to_str()?, &kwargs)),
        ("lib.time", _) => return super::lib::time_func(runt, name, &args, &kwargs).await,
        ("lib.regex", _) => return regex_func(name, &args, &kwargs),
        ("lib.scrape", _) => return super::scrape::call_lib(runt, name, args, kwargs).await,
        ("lib.vars", "get") => {
            let n = r(0, "name")?.to_str()?;
            runt.get_var(&n, item.map(|i| &i.path))
                .unwrap_or(a(1, "defv").unwrap_or(Val::Null))
        }
        ("lib.vars", "set") => {
            let n = r(0, "name")?.to_str()?;
            runt.set_var(&n, r(1, "valu")?);
            Val::Null
        }
        ("lib.vars", "del") => {
            let n = r(0, "name")?.to_str()?;
            runt.pop_var(&n);
            Val::Null
        }
        ("lib.vars", "list") => new_list(
            runt.scope_vars()
                .into_iter()
                .map(|(k, v)| Val::Tuple(Arc::from(vec![Val::from(k), v])))
                .collect(),
        ),
        ("lib.vars", "type") => Val::from(r(0, "valu")?.typename()),
        ("lib.csv", "emit") => {
            let table = kw(&kwargs, "table").cloned().unwrap_or(Val::Null);
            let row: Vec<Value> = args.iter().map(Val::to_msgpack).collect::<RResult<_>>()?;
            runt.shared
                .send(
                    "csv:row",
                    Value::Map(vec![
                        (Value::from("row"), Value::Array(row)),
                        (Value::from("table"), table.to_msgpack()?),
                    ]),
                )
                .await;
            Val::Null
        }
        ("lib.json", "save") => {
            let v = r(0, "item")?.to_msgpack()?;
            let json = msgpack_to_json(&v);
            let indent = a(1, "indent").is_some_and(|v| v.truthy());
            Val::from(if indent {
                serde_json::to_string_pretty(&json).unwrap_or_default()
            } else {
                serde_json::to_string(&json).unwrap_or_default()
            })
        }
        ("lib.json", "schema") => {
            let use_default = a(1, "use_default").is_none_or(|v| v.truthy());
            super::jsonschema::storm_schema(a(0, "schema").as_ref(), use_default)?
        }
        ("lib.json", "load") => {
            let text = r(0, "text")?.to_str()?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| rterr(format!("Text is not valid JSON: {e}")))?;
            let valu = json_to_val(&json);
            super::pyvals::mark_deep(&valu);
            valu
        }
        ("lib.hex", "encode") => Val::from(hex::encode(to_bytes(&r(0, "valu")?)?)),
        ("lib.hex", "decode") => {
            let text = r(0, "valu")?.to_str()?;
            Val::Bytes(Arc::from(hex::decode(&text).map_err(|e| {
                Flow::Err(StormError::new(
                    "BadArg",
                    format!("Invalid hex string: {e}"),
                ))
            })?))
        }
        ("lib.hex", "toint") => {
            let text = r(0, "valu")?.to_str()?;
            let signed = a(1, "signed").is_some_and(|v| v.truthy());
            let u = u128::from_str_radix(&text, 16)
                .map_err(|e| Flow::Err(StormError::new("BadArg", e.to_string())))?;
            let bits = text.len() * 4;
            let v = if signed && bits > 0 && bits < 128 && (u >> (bits - 1)) & 1 == 1 {
                u as i128 - (1i128 << bits)
            } else {
                u as i128
            };
            Val::Int(v)
        }
        ("lib.base64", "encode") => {
            use base64::Engine;
            let b = to_bytes(&r(0, "valu")?)?;
            let urlsafe = a(1, "urlsafe").is_none_or(|v| v.truthy());
            Val::from(if urlsafe {
                base64::engine::general_purpose::URL_SAFE.encode(b)
            } else {
                base64::engine::general_purpose::STANDARD.encode(b)
            })
        }
        ("lib.base64", "decode") => {
            use base64::Engine;
            let text = r(0, "valu")?.to_str()?;
            let urlsafe = a(1, "urlsafe").is_none_or(|v| v.truthy());
            let res = if urlsafe {
                base64::engine::general_purpose::URL_SAFE.decode(text.as_bytes())
            } else {
                base64::engine::general_purpose::STANDARD.decode(text.as_bytes())
            };
            Val::Bytes(Arc::from(res.map_err(|e| {
                rterr(format!("Error during base64 decoding - {e}"))
            })?))
        }
        ("lib.globals", "get") => {
            let n = r(0, "name")?.to_str()?;
            runt.confirm(&["globals", "get", &n], None)?;
            match runt.shared.core.host.global_get(&n).await? {
                Some(v) => Val::from_msgpack(&v),
                None => a(1, "default").unwrap_or(Val::Null),
            }
        }
        ("lib.globals", "set") => {
            let n = r(0, "name")?.to_str()?;
            runt.confirm(&["globals", "set", &n], None)?;
            let v = r(1, "valu")?;
            runt.shared
                .core
                .host
                .global_set(&n, v.to_msgpack()?)
                .await?;
            v
        }
        ("lib.globals", "pop") => {
            let n = r(0, "name")?.to_str()?;
            runt.confirm(&["globals", "pop", &n], None)?;
            match runt.shared.core.host.global_pop(&n).await? {
                Some(v) => Val::from_msgpack(&v),
                None => a(1, "default").unwrap_or(Val::Null),
            }
        }
        ("lib.globals", "list") => new_list(
            runt.shared
                .core
                .host
                .global_list()
                .await?
                .into_iter()
                .map(|(k, v)| Val::Tuple(Arc::from(vec![Val::from(k), Val::from_msgpack(&v)])))
                .collect(),
        ),
        ("lib.view", "get") => {
            let iden = match a(0, "iden").filter(|v| !v.is_null()) {
                Some(v) => v.to_str()?,
                None => runt.view.iden(),
            };
            if runt.shared.core.views().view(&iden).is_none() {
                return Err(Flow::Err(
                    StormError::new(
                        "NoSuchView",
                        format!(
                            "No view with iden={}",
                            crate::model::value::py_repr_str(&iden)
                        ),
                    )
                    .with("iden", iden.as_str()),
                ));
            }
            Val::Obj(Arc::new(Obj::View(iden)))
        }
        ("lib.view", "list") => new_list(
            runt.shared
                .core
                .views()
                .views()
                .iter()
                .map(|v| Val::Obj(Arc::new(Obj::View(v.iden()))))
                .collect(),
        ),
        ("lib.layer", "get") => {
            let iden = match a(0, "iden").filter(|v| !v.is_null()) {
                Some(v) => v.to_str()?,
                None => runt.view.write_layer().iden(),
            };
            if runt.shared.core.views().layer(&iden).is_none() {
                return err("NoSuchIden", format!("No layer with iden: {iden}"));
            }
            Val::Obj(Arc::new(Obj::Layer(iden)))
        }
        ("lib.layer", "list") => new_list(
            runt.shared
                .core
                .views()
                .layers()
                .iter()
                .map(|l| Val::Obj(Arc::new(Obj::Layer(l.iden()))))
                .collect(),
        ),
        ("lib.model", "type") => {
            let n = r(0, "name")?.to_str()?;
            if model.ty(&n).is_none() {
                Val::Null
            } else {
                Val::Obj(Arc::new(Obj::ModelType(n)))
            }
        }
        ("lib.model", "form") => {
            let n = r(0, "name")?.to_str()?;
            if model.form(&n).is_none() {
                Val::Null
            } else {
                Val::Obj(Arc::new(Obj::ModelForm(n)))
            }
        }
        ("lib.model", "prop") => {
            let n = r(0, "name")?.to_str()?;
            if model.prop(&n).is_none() {
                Val::Null
            } else {
                Val::Obj(Arc::new(Obj::ModelProp(n)))
            }
        }
        ("lib.user", "name") => Val::from(runt.shared.user.name.as_str()),
        ("lib.user", "iden") => Val::from(runt.shared.user.iden.as_str()),
        ("lib.user", "allowed") => {
            let perm = r(0, "permname")?.to_str()?;
            let gate = a(1, "gateiden")
                .filter(|v| !v.is_null())
                .map(|v| v.to_str())
                .transpose()?;
            let parts: Vec<&str> = perm.split('.').collect();
            Val::Bool(runt.allowed(&parts, gate.as_deref()))
        }
        ("lib.stats", "tally") => Val::Obj(Arc::new(Obj::Tally(Arc::new(std::sync::Mutex::new(
            IndexMap::new(),
        ))))),
        ("lib.iters", "enum") => {
            let v = r(0, "genr")?;
            let it = eval_iter(runt, v, Span::default()).await?;
            GenVal::val(
                it.enumerate()
                    .map(|(i, x)| {
                        x.map(|x| GenItem::Val(Val::Tuple(Arc::from(vec![Val::Int(i as i128), x]))))
                    })
                    .boxed(),
            )
        }
        ("lib.iters", "zip") => {
            let mut lists = Vec::new();
            for v in &args {
                let mut it = eval_iter(runt, v.clone(), Span::default()).await?;
                let mut items = Vec::new();
                while let Some(x) = it.next().await {
                    items.push(x?);
                }
                lists.push(items);
            }
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            let out: Vec<RResult<GenItem>> = (0..n)
                .map(|i| {
                    Ok(GenItem::Val(new_list(
                        lists.iter().map(|l| l[i].clone()).collect(),
                    )))
                })
                .collect();
            GenVal::val(futures::stream::iter(out).boxed())
        }
        ("lib.math", "number") => r(0, "valu")?.to_number()?.to_val().pipe_num(),
        ("lib.dict", "keys") => {
            let d = dict_arg(r(0, "valu")?, "valu")?;
            new_list(lock(&d).keys().map(Key::to_val).collect())
        }
        ("lib.dict", "values") => {
            let d = dict_arg(r(0, "valu")?, "valu")?;
            new_list(lock(&d).values().cloned().collect())
        }
        ("lib.dict", "items") => {
            let d = dict_arg(r(0, "valu")?, "valu")?;
            new_list(
                lock(&d)
                    .iter()
                    .map(|(k, v)| Val::Tuple(Arc::from(vec![k.to_val(), v.clone()])))
                    .collect(),
            )
        }
        ("lib.dict", "has") => {
            let d = dict_arg(r(0, "valu")?, "valu")?;
            let key = r(1, "key")?.to_key()?;
            Val::Bool(lock(&d).contains_key(&key))
        }
        ("lib.dict", "pop") => {
            let d = dict_arg(r(0, "valu")?, "valu")?;
            let keyval = r(1, "key")?;
            let key = keyval.to_key()?;
            let popped = lock(&d).shift_remove(&key);
            match popped {
                Some(v) => v,
                None => match a(2, "default") {
                    Some(v) if !matches!(v, Val::Undef) => v,
                    _ => {
                        return err(
                            "BadArg",
                            format!("Key {} does not exist in dictionary.", keyval.to_str()?),
                        );
                    }
                },
            }
        }
        ("lib.dict", "update") => {
            let d = dict_arg(r(0, "valu")?, "valu")?;
            let o = dict_arg(r(1, "other")?, "other")?;
            let other = lock(&o).clone();
            lock(&d).extend(other);
            Val::Null
        }
        ("lib.dict", "fromlist") => dict_fromlist(&r(0, "valu")?)?,
        _ => return Box::pin(super::typesmore::call_lib(runt, path, name, &args, &kwargs)).await,
    })
}

/// A dict argument of `$lib.dict` functions (BadArg naming the type otherwise).
fn dict_arg(valu: Val, name: &str) -> RResult<super::value::DictRef> {
    match valu {
        Val::Dict(d) => Ok(d),
        other => {
            let tname = match &other {
                Val::Num(_) => "number",
                Val::Set(_) => "set",
                Val::List(_) => "list",
                v => v.pytype(),
            };
            err(
                "BadArg",
                format!("{name} argument must be a dict, not {tname}."),
            )
        }
    }
}

/// `$lib.dict.fromlist(valu)`: a dict of (key, value) pairs, deep copied.
fn dict_fromlist(valu: &Val) -> RResult<Val> {
    let items = match valu {
        Val::List(_) | Val::Tuple(_) => valu.seq_items().unwrap_or_default(),
        _ => return err("BadArg", "$lib.dict.fromlist() argument must be an array."),
    };
    let mut out = IndexMap::new();
    for item in items {
        let pair = match item {
            Val::List(_) | Val::Tuple(_) => item.seq_items().unwrap_or_default(),
            _ => {
                return err(
                    "BadArg",
                    "$lib.dict.fromlist() array elements must be an array.",
                );
            }
        };
        let [k, v] = pair.as_slice() else {
            return err(
                "BadArg",
                "$lib.dict.fromlist() argument must be an array of (key, value) pairs.",
            );
        };
        if !matches!(k, Val::Str(_) | Val::Int(_) | Val::Bool(_)) {
            return err(
                "BadArg",
                "$lib.dict.fromlist() keys must be str or int types.",
            );
        }
        let copy = Val::from_msgpack(&v.to_msgpack()?).pipe_lists();
        out.insert(k.to_key()?, copy);
    }
    Ok(new_dict(out))
}

/// `number.scaleb(other)`: the number times 10**other (StormRuntimeError when it does not fit).
fn scaleb(d: rust_decimal::Decimal, exp: i128) -> RResult<rust_decimal::Decimal> {
    let overflow = || {
        Flow::Err(StormError::new(
            "StormRuntimeError",
            format!("Number {d} scaled by {exp} is out of range."),
        ))
    };
    let scale = i128::from(d.scale()) - exp;
    if scale >= 0 {
        let mut out = d;
        if scale > 28 {
            // beyond the finest scale kept: round the extra digits away
            out.set_scale(28).map_err(|_| overflow())?;
            for _ in 28..scale {
                out = out
                    .checked_div(rust_decimal::Decimal::TEN)
                    .ok_or_else(overflow)?;
            }
            return Ok(out);
        }
        out.set_scale(u32::try_from(scale).map_err(|_| overflow())?)
            .map_err(|_| overflow())?;
        Ok(out)
    } else {
        let mut out = d;
        out.set_scale(0).map_err(|_| overflow())?;
        for _ in 0..(-scale) {
            out = out
                .checked_mul(rust_decimal::Decimal::TEN)
                .ok_or_else(overflow)?;
        }
        Ok(out)
    }
}

trait PipeVal {
    fn pipe_lists(self) -> Val;
    fn pipe_num(self) -> Val;
}

impl PipeVal for Val {
    /// Deep copies come back with tuples as (mutable) lists.
    fn pipe_lists(self) -> Val {
        match self {
            Val::Tuple(items) => new_list(items.iter().cloned().map(PipeVal::pipe_lists).collect()),
            Val::Dict(d) => {
                let items: IndexMap<Key, Val> = lock(&d)
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().pipe_lists()))
                    .collect();
                new_dict(items)
            }
            other => other,
        }
    }

    fn pipe_num(self) -> Val {
        match self {
            Val::Int(i) => Val::Num(rust_decimal::Decimal::from_i128_with_scale(i, 0)),
            other => other,
        }
    }
}

fn regex_func(name: &str, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    let flags = int_arg(arg(
        args,
        kwargs,
        if name == "replace" { 3 } else { 2 },
        "flags",
    ))?
    .unwrap_or(0);
    let build = |pat: &str| -> RResult<regex::Regex> {
        regex::RegexBuilder::new(pat)
            .case_insensitive(flags & 2 != 0)
            .multi_line(flags & 8 != 0)
            .build()
            .map_err(|e| rterr(format!("Invalid regular expression: {e}")))
    };
    Ok(match name {
        "search" => {
            let re = build(&r(0, "pattern")?.to_str()?)?;
            let text = r(1, "text")?.to_str()?;
            match re.captures(&text) {
                None => Val::Null,
                Some(caps) => Val::Tuple(
                    caps.iter()
                        .skip(1)
                        .map(|m| m.map(|m| Val::from(m.as_str())).unwrap_or(Val::Null))
                        .collect(),
                ),
            }
        }
        "matches" => {
            let pat = r(0, "pattern")?.to_str()?;
            let re = build(&format!("^(?:{pat})"))?;
            Val::Bool(re.is_match(&r(1, "text")?.to_str()?))
        }
        "findall" => {
            let re = build(&r(0, "pattern")?.to_str()?)?;
            let text = r(1, "text")?.to_str()?;
            let groups = re.captures_len() - 1;
            let mut out = Vec::new();
            for caps in re.captures_iter(&text) {
                match groups {
                    0 => out.push(Val::from(caps.get(0).map_or("", |m| m.as_str()))),
                    1 => out.push(Val::from(caps.get(1).map_or("", |m| m.as_str()))),
                    _ => out.push(Val::Tuple(
                        caps.iter()
                            .skip(1)
                            .map(|m| Val::from(m.map_or("", |m| m.as_str())))
                            .collect(),
                    )),
                }
            }
            new_list(out)
        }
        "replace" => {
            let re = build(&r(0, "pattern")?.to_str()?)?;
            let repl = r(1, "replace")?.to_str()?;
            let text = r(2, "text")?.to_str()?;
            let repl = py_repl(&repl);
            Val::from(re.replace_all(&text, repl.as_str()).into_owned())
        }
        "escape" => Val::from(regex::escape(&r(0, "text")?.to_str()?)),
        _ => return Err(nosuchname(name)),
    })
}

/// Python `\1` group references to the regex crate's `${1}`.
fn py_repl(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut num = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    num.push(d);
                    chars.next();
                }
                out.push_str(&format!("${{{num}}}"));
            }
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

/// JSON to a Storm value.
pub(crate) fn json_to_val(json: &serde_json::Value) -> Val {
    match json {
        serde_json::Value::Null => Val::Null,
        serde_json::Value::Bool(b) => Val::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i as i128),
            None => match n.as_u64() {
                Some(u) => Val::Int(u as i128),
                None => Val::Float(n.as_f64().unwrap_or_default()),
            },
        },
        serde_json::Value::String(s) => Val::from(s.as_str()),
        serde_json::Value::Array(items) => new_list(items.iter().map(json_to_val).collect()),
        serde_json::Value::Object(items) => {
            let mut out = IndexMap::new();
            for (k, v) in items {
                out.insert(Key::Str(Arc::from(k.as_str())), json_to_val(v));
            }
            new_dict(out)
        }
    }
}

/// Msgpack data as JSON.
pub(crate) fn msgpack_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => match i.as_i64() {
            Some(v) => serde_json::Value::from(v),
            None => serde_json::Value::from(i.as_u64().unwrap_or_default()),
        },
        Value::F32(f) => serde_json::Value::from(*f as f64),
        Value::F64(f) => serde_json::Value::from(*f),
        Value::String(s) => serde_json::Value::from(s.as_str().unwrap_or_default()),
        Value::Binary(b) => serde_json::Value::from(hex::encode(b)),
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(msgpack_to_json).collect())
        }
        Value::Map(items) => {
            let mut out = serde_json::Map::new();
            for (k, v) in items {
                let key = match k {
                    Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
                    other => crate::model::value::py_repr(other),
                };
                out.insert(key, msgpack_to_json(v));
            }
            serde_json::Value::Object(out)
        }
        Value::Ext(..) => match crate::model::value::as_pyint(v) {
            Some(i) => serde_json::Value::from(i.to_string()),
            None => serde_json::Value::Null,
        },
    }
}

// ----- time -----

/// Days since the epoch to (year, month, day).
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since the epoch.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `strftime` of epoch millis (UTC).
pub(crate) fn strftime(tick: i64, fmt: &str) -> String {
    let days = tick.div_euclid(86_400_000);
    let ms = tick.rem_euclid(86_400_000);
    let (y, m, d) = civil(days);
    let (hh, mm, ss, frac) = (
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
    );
    let wday = (days + 3).rem_euclid(7) as usize;
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('y') => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{hh:02}")),
            Some('I') => out.push_str(&format!("{:02}", if hh % 12 == 0 { 12 } else { hh % 12 })),
            Some('p') => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            Some('M') => out.push_str(&format!("{mm:02}")),
            Some('S') => out.push_str(&format!("{ss:02}")),
            Some('f') => out.push_str(&format!("{:06}", frac * 1000)),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('b') => out.push_str(&MONTHS[(m - 1) as usize][..3]),
            Some('B') => out.push_str(MONTHS[(m - 1) as usize]),
            Some('a') => out.push_str(&DAYS[wday][..3]),
            Some('A') => out.push_str(DAYS[wday]),
            Some('w') => out.push_str(&((wday + 1) % 7).to_string()),
            Some('z') => {}
            Some('Z') => {}
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `strptime` into epoch millis (UTC); `None` when the text does not match.
pub(crate) fn strptime(text: &str, fmt: &str) -> Option<i64> {
    let (mut y, mut mo, mut d, mut hh, mut mi, mut ss, mut us) =
        (1900i64, 1u32, 1u32, 0i64, 0i64, 0i64, 0i64);
    let mut tz: i64 = 0;
    let tb = text.as_bytes();
    let mut pos = 0usize;
    let mut chars = fmt.chars();
    let num = |pos: &mut usize, max: usize| -> Option<i64> {
        let start = *pos;
        while *pos < tb.len() && *pos - start < max && tb[*pos].is_ascii_digit() {
            *pos += 1;
        }
        if *pos == start {
            return None;
        }
        std::str::from_utf8(&tb[start..*pos]).ok()?.parse().ok()
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            let mut buf = [0u8; 4];
            let enc = c.encode_utf8(&mut buf).as_bytes();
            if tb.get(pos..pos + enc.len())? != enc {
                return None;
            }
            pos += enc.len();
            continue;
        }
        match chars.next()? {
            'Y' => y = num(&mut pos, 4)?,
            'y' => {
                let v = num(&mut pos, 2)?;
                y = if v < 69 { 2000 + v } else { 1900 + v };
            }
            'm' => mo = num(&mut pos, 2)? as u32,
            'd' => d = num(&mut pos, 2)? as u32,
            'H' => hh = num(&mut pos, 2)?,
            'M' => mi = num(&mut pos, 2)?,
            'S' => ss = num(&mut pos, 2)?,
            'f' => {
                let start = pos;
                let v = num(&mut pos, 6)?;
                us = v * 10i64.pow((6 - (pos - start)) as u32);
            }
            'b' | 'B' => {
                let rest = std::str::from_utf8(&tb[pos..]).ok()?.to_lowercase();
                let idx = MONTHS
                    .iter()
                    .position(|m| rest.starts_with(&m.to_lowercase()[..3]))?;
                mo = idx as u32 + 1;
                let full = MONTHS[idx].to_lowercase();
                pos += if rest.starts_with(&full) {
                    full.len()
                } else {
                    3
                };
            }
            'z' => {
                let sign = match tb.get(pos)? {
                    b'+' => 1,
                    b'-' => -1,
                    b'Z' => {
                        pos += 1;
                        continue;
                    }
                    _ => return None,
                };
                pos += 1;
                let h = num(&mut pos, 2)?;
                if tb.get(pos) == Some(&b':') {
                    pos += 1;
                }
                let m = num(&mut pos, 2)?;
                tz = sign * (h * 60 + m);
            }
            '%' => {
                if tb.get(pos)? != &b'%' {
                    return None;
                }
                pos += 1;
            }
            _ => return None,
        }
    }
    if pos != tb.len()
        || !(1..=12).contains(&mo)
        || d == 0
        || d > 31
        || hh > 23
        || mi > 59
        || ss > 61
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let (cy, cm, cd) = civil(days);
    if (cy, cm, cd) != (y, mo, d) {
        return None;
    }
    Some(days * 86_400_000 + hh * 3_600_000 + mi * 60_000 + ss * 1000 + us / 1000 - tz * 60_000)
}

async fn time_func(
    runt: &Arc<Runt>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    let model = runt.model();
    let norm_time = |v: &Val| -> RResult<i64> {
        let ty = model.ty("time").ok_or_else(|| rterr("no time type"))?;
        let (n, _) = ty.norm(&tostor(v)?)?;
        Ok(n.as_i64().unwrap_or_default())
    };
    Ok(match name {
        "now" => Val::Int(synapse_base::now_ms() as i128),
        "format" => {
            let v = r(0, "valu")?;
            let fmt = r(1, "format")?.to_str()?;
            let tick = norm_time(&v).map_err(|e| match e {
                Flow::Err(mut e) => {
                    if e.name == "BadTypeValu" && !e.info.iter().any(|(k, _)| k == "valu") {
                        e.set("valu", tostor(&v).unwrap_or(Value::Nil));
                    }
                    Flow::Err(StormError::new(
                        "StormRuntimeError",
                        format!(
                            "Failed to norm a time value prior to formatting - {}",
                            super::typesmore::syn_err_str(&e)
                        ),
                    ))
                }
                other => other,
            })?;
            if tick == crate::model::time::FUTURE {
                return Err(rterr("Cannot format a timestamp for ongoing/future time."));
            }
            Val::from(strftime(tick, &fmt))
        }
        "parse" => {
            let text = r(0, "valu")?.to_str()?;
            let fmt = r(1, "format")?.to_str()?;
            let errok = arg(args, kwargs, 2, "errok").is_some_and(|v| v.truthy());
            match strptime(&text, &fmt) {
                Some(t) => Val::Int(t as i128),
                None if errok => Val::Null,
                None => {
                    return Err(rterr(format!(
                        "Error during time parsing - time data '{text}' does not match format '{fmt}'"
                    )));
                }
            }
        }
        "fromunix" => {
            let v = r(0, "secs")?;
            let secs = v.to_number()?.to_dec();
            let ms = secs * rust_decimal::Decimal::from(1000);
            Val::Int(ms.trunc().to_string().parse().unwrap_or_default())
        }
        "sleep" => {
            let secs = match r(0, "valu")? {
                Val::Int(i) => i as f64,
                Val::Float(f) => f,
                Val::Num(d) => super::value::dec_to_f64(&d),
                other => other.to_str()?.parse().unwrap_or(0.0),
            };
            tokio::time::sleep(std::time::Duration::from_secs_f64(secs.max(0.0))).await;
            Val::Null
        }
        "year" | "month" | "day" | "hour" | "minute" | "second" | "dayofweek" | "dayofyear"
        | "dayofmonth" | "monthofyear" => {
            let tick = norm_time(&r(0, "tick")?)?;
            let days = tick.div_euclid(86_400_000);
            let ms = tick.rem_euclid(86_400_000);
            let (y, m, d) = civil(days);
            Val::Int(match name {
                "year" => y as i128,
                "month" => m as i128,
                "day" | "dayofmonth" => d as i128 - if name == "dayofmonth" { 1 } else { 0 },
                "hour" => (ms / 3_600_000) as i128,
                "minute" => ((ms / 60_000) % 60) as i128,
                "second" => ((ms / 1000) % 60) as i128,
                "dayofweek" => (days + 3).rem_euclid(7) as i128,
                "dayofyear" => (days - days_from_civil(y, 1, 1)) as i128,
                _ => m as i128 - 1,
            })
        }
        _ => {
            return Box::pin(super::typesmore::call_lib(
                runt, "lib.time", name, args, kwargs,
            ))
            .await;
        }
    })
}

// ----- nodes from values -----

/// The nodes a value gives (`yield`, edge targets): nodes, idens, lists, generators, queries.
pub(crate) fn nodes_from_value(
    runt: &Arc<Runt>,
    valu: Val,
    span: Span,
) -> BoxStream<'static, RResult<Arc<Node>>> {
    let runt = Arc::clone(runt);
    async_stream::try_stream! {
        let mut todo = vec![valu];
        while let Some(v) = todo.pop() {
            match v {
                Val::Null => {}
                Val::Node(n) => yield n,
                Val::Str(s) => {
                    let buid = hex::decode(&*s).ok().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok());
                    let Some(buid) = buid else {
                        Err(runt.error(span, "BadLiftValu", format!("Yield string must be iden in hexdecimal. Got: {}", crate::model::value::py_repr_str(&s))))?;
                        continue;
                    };
                    if let Some(n) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                        yield Arc::new(n);
                    }
                }
                Val::Bytes(b) => {
                    let found = match <[u8; 32]>::try_from(&b[..]) {
                        Ok(buid) => runt.view.get_node(buid).await.map_err(Flow::from)?,
                        Err(_) => None,
                    };
                    if let Some(n) = found {
                        yield Arc::new(n);
                    }
                }
                Val::Gen(g) => {
                    let taken = g.stream.lock().await.take();
                    if let Some(mut s) = taken {
                        while let Some(x) = s.next().await {
                            match x? {
                                GenItem::Item(item) => yield item.node,
                                GenItem::Val(v) => {
                                    let mut inner = nodes_from_value(&runt, v, span);
                                    while let Some(n) = inner.next().await {
                                        yield n?;
                                    }
                                }
                            }
                        }
                    }
                }
                Val::Query(q) => {
                    let mut s = query_nodes(&runt, &q)?;
                    while let Some(i) = s.next().await {
                        yield i?.node;
                    }
                }
                other => {
                    if let Some(mut items) = other.seq_items() {
                        items.reverse();
                        todo.extend(items);
                    }
                }
            }
        }
    }
    .boxed()
}

/// The nodes of a query object (run in a sub-runtime with the vars it captured).
pub(crate) fn query_nodes(runt: &Arc<Runt>, q: &Arc<QueryVal>) -> RResult<ItemStream> {
    let names: Vec<String> = q.vars.iter().map(|(k, _)| k.clone()).collect();
    let plan = exec::plan_query(&q.text, &q.query, names, exec::visible_vars(&q.runt))?;
    let runtvars = plan.vars.iter().cloned().collect();
    let _ = runt;
    let subr = exec::sub_runtime(&q.runt, runtvars, q.vars.clone(), false, None)?;
    Ok(exec::run_pipeline(&subr, &plan.root, exec::empty()))
}

/// Lifts of runtime-only forms (`syn:form`, `syn:prop`, `syn:type`, `syn:cmd`, ...).
pub(crate) async fn runt_lift(
    runt: &Arc<Runt>,
    form: &str,
    cmp: Option<(&str, Value)>,
) -> RResult<BoxStream<'static, RResult<Node>>> {
    let model = runt.model();
    let mut names: Vec<String> = match form {
        "syn:form" => model.forms().map(|f| f.name().to_owned()).collect(),
        "syn:type" => model.type_names().map(str::to_owned).collect(),
        "syn:cmd" => {
            let mut names = super::cmds::command_names();
            names.extend(super::pkg::pkg_cmd_names(runt));
            names
        }
        "syn:prop" => {
            let mut out = Vec::new();
            for f in model.forms() {
                out.push(f.name().to_owned());
                for p in f.props() {
                    out.push(p.full().to_owned());
                }
            }
            out
        }
        _ => Vec::new(),
    };
    names.sort();
    let ty = model.form(form).map(|f| f.ty());
    let mut nodes = Vec::new();
    for name in names {
        let valu = Value::from(name.as_str());
        if let (Some((cmpr, v)), Some(ty)) = (&cmp, ty) {
            let c = ty.cmpr(cmpr, v)?;
            if !c.matches(&valu) {
                continue;
            }
        }
        let mut props: Vec<(String, Value)> = Vec::new();
        match form {
            "syn:form" => {
                if let Some(f) = model.form(&name) {
                    if let Some(doc) = f.ty().info().get("doc").and_then(|d| d.as_str()) {
                        props.push(("doc".into(), Value::from(doc)));
                    }
                    props.push(("runt".into(), Value::from(i64::from(f.is_runt()))));
                    props.push(("type".into(), Value::from(f.ty().name())));
                }
            }
            "syn:prop" => {
                if let Some(f) = model.form(&name) {
                    if let Some(doc) = f.ty().info().get("doc").and_then(|d| d.as_str()) {
                        props.push(("doc".into(), Value::from(doc)));
                    }
                    props.push(("type".into(), Value::from(f.ty().name())));
                    props.push(("form".into(), Value::from(name.as_str())));
                    props.push(("extmodel".into(), Value::from(0)));
                } else if let Some(p) = model.prop(&name) {
                    if let Some(doc) = p.info().get("doc").and_then(|d| d.as_str()) {
                        props.push(("doc".into(), Value::from(doc)));
                    }
                    props.push(("type".into(), Value::from(p.ty().name())));
                    if let Some(f) = p.form() {
                        props.push(("form".into(), Value::from(f.name())));
                    }
                    let rel = p.name();
                    let base = rel.rsplit(':').next().unwrap_or(rel);
                    props.push(("base".into(), Value::from(base)));
                    props.push(("relname".into(), Value::from(rel)));
                    props.push(("ro".into(), Value::from(i64::from(p.is_ro()))));
                    props.push(("univ".into(), Value::from(i64::from(p.is_univ()))));
                    props.push(("extmodel".into(), Value::from(0)));
                }
            }
            "syn:type" => {
                if let Some(t) = model.ty(&name) {
                    props.push(("ctor".into(), Value::from(t.ctor())));
                }
            }
            "syn:cmd" => props.extend(super::pkg::cmd_props(runt, &name)),
            _ => {}
        }
        nodes.push(Ok(Node {
            buid: crate::model::buid(form, &valu),
            form: form.to_owned(),
            valu,
            props,
            tags: Vec::new(),
            tagprops: Vec::new(),
            nodedata: Vec::new(),
            ndef_layer: 0,
        }));
    }
    Ok(futures::stream::iter(nodes).boxed())
}

/// Lookup mode: scrape indicators from the tokens and lift (or add) their nodes.
pub(crate) fn lookup_stream(
    runt: &Arc<Runt>,
    look: &Lookup,
    input: ItemStream,
) -> RResult<ItemStream> {
    let runt = Arc::clone(runt);
    let tokens: Vec<String> = look
        .items
        .iter()
        .filter_map(|v| match &v.kind {
            crate::storm::ast::ValueKind::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let autoadd = runt.shared.opts.mode == "autoadd";
    Ok(async_stream::try_stream! {
        let mut input = input;
        while let Some(i) = input.next().await {
            yield i?;
        }
        for tok in tokens {
            // the reference looks up the first value scraped from each token
            let Some(hit) = crate::scrape::context_scrape(&tok, None, true, true).into_iter().next() else { continue };
            let (form, valu) = (hit.form, hit.valu.to_value());
            if autoadd {
                runt.layer_confirm(&["node", "add", form])?;
                let mut editor = runt.shared.editor.lock().await;
                let buid = editor.add_node(form, &valu).await;
                let Ok(Some(buid)) = buid else { continue };
                runt.flush(&mut editor).await?;
                drop(editor);
                if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                    let path = runt.init_path(&node);
                    yield Item { node: Arc::new(node), path };
                }
                continue;
            }
            let Some(fobj) = runt.model().form(form) else { continue };
            let Ok((norm, _)) = fobj.ty().norm(&valu) else { continue };
            match runt.view.get_node_by_ndef(form, &norm).await.map_err(Flow::from)? {
                Some(node) => {
                    let path = runt.init_path(&node);
                    yield Item { node: Arc::new(node), path };
                }
                None => {
                    runt.shared.send("look:miss", Value::Map(vec![(Value::from("ndef"), Value::Array(vec![Value::from(form), norm]))])).await;
                }
            }
        }
    }
    .boxed())
}
