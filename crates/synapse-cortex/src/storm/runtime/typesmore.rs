//! More of the tier-1 `$lib` libraries and Storm type methods: `$lib.user.vars/profile`,
//! `$lib.time.formats/ticker`, `$lib.hex.fromint/signext/trimext`, `$lib.model.tagprop`,
//! `$lib.model.ext` tag props, `$lib.text`, bytes `unpack/gzip/gunzip/bzip/bunzip/xor`, node
//! `getByLayer`, node data `cacheget/cacheset`, and the view and layer object methods
//! (`set`, `addNode`, `getEdges`, `wipeLayer`, `getStorNode(s)`, `liftByProp`, `liftByTag`,
//! `edits`, `getPropCount`, `getTagCount`, `getFormCounts`).
//!
//! `lib.rs` hands the names it does not know to the functions here.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;

use super::cond::tostor;
use super::error::{Flow, RResult, StormError, err, rterr};
use super::lib::{arg, req};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Key, Obj, Val, lock, new_dict, new_list};
use crate::layer::{EdgeDir, Layer};
use crate::node::Node;
use crate::storm::ast::Span;
use crate::view::View;

fn nosuchname(name: &str) -> Flow {
    Flow::Err(
        StormError::new("NoSuchName", format!("Cannot find name [{name}]")).with("name", name),
    )
}

fn opt_str(v: Option<Val>) -> RResult<Option<String>> {
    match v {
        None | Some(Val::Null) => Ok(None),
        Some(v) => v.to_str().map(Some),
    }
}

fn bad_arg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

fn str_key(k: &str) -> Key {
    Key::Str(Arc::from(k))
}

/// A msgpack value as Storm data with lists (the reference's `deepcopy(use_list=True)`).
fn listed(v: &Value) -> Val {
    match v {
        Value::Array(items) => new_list(items.iter().map(listed).collect()),
        Value::Map(items) => {
            let mut out = IndexMap::new();
            for (k, v) in items {
                if let Ok(key) = Val::from_msgpack(k).to_key() {
                    out.insert(key, listed(v));
                }
            }
            new_dict(out)
        }
        other => Val::from_msgpack(other),
    }
}

// ----- $lib attributes and functions -----

/// A `$lib` attribute that is a value rather than a function, if `path.name` is one.
pub(crate) fn lib_attr(runt: &Arc<Runt>, path: &str, name: &str) -> Option<Val> {
    let user = &runt.shared.user.iden;
    match (path, name) {
        ("lib.user", "iden") => Some(Val::from(user.as_str())),
        ("lib.user", "vars") => Some(Val::Obj(Arc::new(Obj::UserKv {
            user: user.clone(),
            vars: true,
        }))),
        ("lib.user", "profile") => Some(Val::Obj(Arc::new(Obj::UserKv {
            user: user.clone(),
            vars: false,
        }))),
        ("lib.time", "formats") => {
            let mut out = IndexMap::new();
            for (k, v) in [
                ("iso8601", "%Y-%m-%dT%H:%M:%SZ"),
                ("iso8601us", "%Y-%m-%dT%H:%M:%S.%fZ"),
                ("rfc2822", "%d %b %Y %H:%M:%S UT"),
                ("synapse", "%Y/%m/%d %H:%M:%S.%f"),
            ] {
                out.insert(str_key(k), Val::from(v));
            }
            Some(new_dict(out))
        }
        _ => None,
    }
}

/// The `$lib` functions of this module.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    let a = |i: usize, n: &str| arg(args, kwargs, i, n);
    Ok(match (path, name) {
        ("lib", "text") => {
            runt.shared
                .warnonce("$lib.text() is deprecated. Please use a list to append strings to, and then use ``('').join($listOfStr)`` to join them on demand.")
                .await;
            let mut text = String::new();
            for v in args {
                match v {
                    Val::Str(s) => text.push_str(s),
                    other => {
                        return Err(rterr(format!(
                            "sequence item 0: expected str instance, {} found",
                            other.pytype()
                        )));
                    }
                }
            }
            Val::Obj(Arc::new(Obj::Text(Arc::new(Mutex::new(text)))))
        }
        ("lib.time", "ticker") => {
            let tick = match r(0, "tick")? {
                Val::Int(i) => i as f64,
                Val::Float(f) => f,
                Val::Num(d) => super::value::dec_to_f64(&d),
                other => other.to_str()?.trim().parse::<f64>().map_err(|_| {
                    rterr(format!(
                        "could not convert string to float: {}",
                        other.py_repr()
                    ))
                })?,
            };
            let count = match a(1, "count") {
                None | Some(Val::Null) => None,
                Some(v) => Some(v.to_int()?),
            };
            let wait = std::time::Duration::from_secs_f64(tick.clamp(0.0, 1e9));
            let stream = async_stream::stream! {
                let mut offs: i128 = 0;
                loop {
                    tokio::time::sleep(wait).await;
                    yield Ok(GenItem::Val(Val::Int(offs)));
                    offs += 1;
                    if count == Some(offs) {
                        break;
                    }
                }
            };
            GenVal::val(stream.boxed())
        }
        ("lib.time", "toUTC") => {
            let tick = tostor(&r(0, "tick")?)?;
            let zone = r(1, "timezone")?.to_str()?;
            let ty = runt
                .model()
                .ty("time")
                .ok_or_else(|| rterr("no time type"))?;
            let (norm, _) = ty.norm(&tick)?;
            let tick = norm.as_i64().unwrap_or_default();
            match to_utc(tick, &zone) {
                Ok(utc) => Val::Tuple(Arc::from(vec![Val::Bool(true), Val::Int(utc as i128)])),
                Err((name, mesg)) => {
                    // the reference's `excinfo()` without its Python file and line
                    let mut info = IndexMap::new();
                    info.insert(str_key("err"), Val::from(name));
                    if name == "BadArg" {
                        let text = crate::model::value::py_repr_str(&mesg);
                        info.insert(str_key("errmsg"), Val::from(format!("{name}: mesg={text}")));
                        let mut errinfo = IndexMap::new();
                        errinfo.insert(str_key("mesg"), Val::from(mesg.as_str()));
                        info.insert(str_key("errinfo"), new_dict(errinfo));
                    } else {
                        info.insert(str_key("errmsg"), Val::from(mesg.as_str()));
                    }
                    Val::Tuple(Arc::from(vec![Val::Bool(false), new_dict(info)]))
                }
            }
        }
        ("lib.hex", "fromint") => {
            let valu = r(0, "valu")?.to_int()?;
            let length = r(1, "length")?.to_int()?;
            let signed = a(2, "signed").is_some_and(|v| v.truthy());
            Val::from(hex_fromint(valu, length, signed)?)
        }
        ("lib.hex", "trimext") => {
            let text = r(0, "valu")?.to_str()?;
            hex::decode(&text)
                .map_err(|e| bad_arg(format!("$lib.hex.trimext(): {}", hex_err(e))))?;
            Val::from(hex_trimext(&text))
        }
        ("lib.hex", "signext") => {
            let text = r(0, "valu")?.to_str()?;
            let length = r(1, "length")?.to_int()?;
            Val::from(hex_signext(&text, length)?)
        }
        ("lib.model", "tagprop") => {
            let n = r(0, "name")?.to_str()?;
            if runt.model().tagprops().contains_key(&n) {
                Val::Obj(Arc::new(Obj::ModelTagProp(n)))
            } else {
                Val::Null
            }
        }
        _ => return Err(nosuchname(name)),
    })
}

// ----- time zones -----

/// The UTC offsets (seconds) of a zone: transition instants with the offset from then on,
/// and the offset before the first transition (as pytz: after the last transition its
/// offset stays).
struct Zone {
    initial: i64,
    transitions: Vec<(i64, i64)>,
}

impl Zone {
    fn offset_at(&self, utc: i64) -> i64 {
        let idx = self.transitions.partition_point(|(t, _)| *t <= utc);
        if idx == 0 {
            self.initial
        } else {
            self.transitions[idx - 1].1
        }
    }
}

fn zone_dirs() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(dir) = std::env::var("TZDIR") {
        out.push(std::path::PathBuf::from(dir));
    }
    out.push("/usr/share/zoneinfo".into());
    out.push("/usr/lib/zoneinfo".into());
    out
}

/// Read a zone from the system's TZif files (`/usr/share/zoneinfo`, or `$TZDIR`).
fn load_zone(name: &str) -> Option<Zone> {
    let valid = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !valid {
        return None;
    }
    let byts = zone_dirs()
        .into_iter()
        .find_map(|d| std::fs::read(d.join(name)).ok())?;
    parse_tzif(&byts)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parse a TZif file (the 64-bit block of version 2+ files, else the 32-bit one).
fn parse_tzif(b: &[u8]) -> Option<Zone> {
    let header = |at: usize| -> Option<[usize; 6]> {
        if b.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut counts = [0usize; 6];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = be_u32(b, at + 20 + 4 * i)? as usize;
        }
        Some(counts)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = header(0)?;
    let version = *b.get(4)?;
    let (base, tsize, [_, _, _, timecnt, typecnt, _]) = if version >= b'2' {
        let v1 = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        let at = 44 + v1;
        (at + 44, 8usize, header(at)?)
    } else {
        (44, 4usize, [isut, isstd, leap, timecnt, typecnt, charcnt])
    };
    let times_at = base;
    let idx_at = times_at + timecnt * tsize;
    let types_at = idx_at + timecnt;
    let mut types = Vec::with_capacity(typecnt);
    for i in 0..typecnt {
        let at = types_at + i * 6;
        let off = be_u32(b, at)? as i32 as i64;
        let isdst = *b.get(at + 4)? != 0;
        types.push((off, isdst));
    }
    if types.is_empty() {
        return None;
    }
    let mut transitions = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        let at = times_at + i * tsize;
        let t = if tsize == 8 {
            i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?)
        } else {
            be_u32(b, at)? as i32 as i64
        };
        let ti = *b.get(idx_at + i)? as usize;
        transitions.push((t, types.get(ti)?.0));
    }
    // before the first transition: the first standard time type (type 0 otherwise)
    let initial = types.iter().find(|(_, dst)| !dst).unwrap_or(&types[0]).0;
    Some(Zone {
        initial,
        transitions,
    })
}

/// A naive local time in a zone to UTC epoch millis (pytz's `localize(..., is_dst=None)`):
/// `(error class, message)` for an unknown zone, an ambiguous or a missing local time.
pub(crate) fn to_utc(tick: i64, zone: &str) -> Result<i64, (&'static str, String)> {
    let tz = load_zone(zone).ok_or(("BadArg", format!("Unknown timezone: {zone}")))?;
    let local_ms = tick;
    let local = local_ms.div_euclid(1000);
    let ms = local_ms.rem_euclid(1000);
    let mut offsets: Vec<i64> = tz.transitions.iter().map(|(_, o)| *o).collect();
    offsets.push(tz.initial);
    offsets.sort_unstable();
    offsets.dedup();
    let mut found: Vec<i64> = offsets
        .into_iter()
        .map(|off| local - off)
        .filter(|utc| tz.offset_at(*utc) == local - utc)
        .collect();
    found.sort_unstable();
    found.dedup();
    let base = || {
        let mut text = super::lib::strftime(local_ms, "%Y-%m-%d %H:%M:%S");
        if ms != 0 {
            text.push_str(&format!(".{:06}", ms * 1000));
        }
        text
    };
    match found.as_slice() {
        [utc] => Ok(utc * 1000 + ms),
        // pytz raises a non-Synapse error here, which the reference hands on as it is
        [] => Err(("NonExistentTimeError", base())),
        _ => Err(("BadArg", format!("Ambiguous time: {} {zone}", base()))),
    }
}

/// A Synapse error as Python's `str()` shows it: `Name: key=repr ...`, keys sorted.
pub(crate) fn syn_err_str(e: &StormError) -> String {
    let mut items: Vec<(String, String)> =
        vec![("mesg".to_owned(), crate::model::value::py_repr_str(&e.mesg))];
    for (k, v) in &e.info {
        if k != "mesg" && k != "highlight" {
            items.push((k.clone(), crate::model::value::py_repr(v)));
        }
    }
    items.sort();
    let parts: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}: {}", e.name, parts.join(" "))
}

/// Python's `binascii` message for bad hex text.
fn hex_err(e: hex::FromHexError) -> &'static str {
    match e {
        hex::FromHexError::OddLength => "Odd-length string",
        _ => "Non-hexadecimal digit found",
    }
}

/// Python's `int.to_bytes(length, 'big', signed=signed)` as hex.
pub(crate) fn hex_fromint(valu: i128, length: i128, signed: bool) -> RResult<String> {
    let overflow = |m: &str| bad_arg(format!("$lib.hex.fromint(): {m}"));
    if length < 0 {
        return Err(rterr("length argument must be non-negative"));
    }
    if !signed && valu < 0 {
        return Err(overflow("can't convert negative int to unsigned"));
    }
    let bits = (length * 8) as u32;
    let fits = if valu == 0 || bits >= 128 {
        true
    } else if signed {
        let half = 1i128 << (bits.max(1) - 1);
        bits > 0 && valu >= -half && valu < half
    } else {
        valu < (1i128 << bits)
    };
    if !fits {
        return Err(overflow("int too big to convert"));
    }
    let byts = valu.to_be_bytes();
    let len = length as usize;
    let mut out = Vec::with_capacity(len);
    let fill = if valu < 0 { 0xff } else { 0 };
    for i in 0..len {
        let pos = 16i128 - len as i128 + i as i128;
        out.push(if pos < 0 { fill } else { byts[pos as usize] });
    }
    Ok(hex::encode(out))
}

/// Trim sign extension bytes from a hex encoded signed integer.
pub(crate) fn hex_trimext(text: &str) -> String {
    let mut valu = text;
    while valu.len() >= 4 {
        let Ok(head) = u32::from_str_radix(&valu[..4], 16) else {
            break;
        };
        let bits = head >> 7;
        if bits == 0b1_1111_1111 || bits == 0 {
            valu = &valu[2..];
            continue;
        }
        break;
    }
    valu.to_owned()
}

/// Sign extension pad a hex encoded signed integer to `length` characters.
pub(crate) fn hex_signext(text: &str, length: i128) -> RResult<String> {
    let first = text
        .chars()
        .next()
        .ok_or_else(|| bad_arg("$lib.hex.signext(): string index out of range"))?;
    let digit = first.to_digit(16).ok_or_else(|| {
        bad_arg(format!(
            "$lib.hex.signext(): invalid literal for int() with base 16: '{first}'"
        ))
    })?;
    let fill = if digit >> 3 == 0 { '0' } else { 'f' };
    let len = text.chars().count() as i128;
    let pad = (length - len).max(0) as usize;
    Ok(std::iter::repeat_n(fill, pad).chain(text.chars()).collect())
}

// ----- objects of this module -----

/// An attribute of an object of this module.
pub(crate) fn obj_attr(runt: &Arc<Runt>, obj: &Obj, name: &str) -> Option<Val> {
    match obj {
        Obj::ModelTagProp(n) => {
            let tagprops = runt.model().tagprops();
            let def = tagprops.get(n.as_str())?;
            match name {
                "name" => Some(Val::from(n.as_str())),
                "doc" => Some(Val::from(
                    def.pointer("/1/doc")
                        .or_else(|| def.pointer("/info/doc"))
                        .and_then(|d| d.as_str())
                        .unwrap_or_default(),
                )),
                "type" => {
                    let tname = def
                        .pointer("/0/0")
                        .or_else(|| def.pointer("/type/0"))
                        .and_then(|t| t.as_str())?;
                    Some(Val::Obj(Arc::new(Obj::ModelType(tname.to_owned()))))
                }
                _ => None,
            }
        }
        other => super::modelext::model_attr(runt, other, name),
    }
}

/// Methods of the objects of this module (text, user vars and profile).
pub(crate) async fn obj_method(
    runt: &Arc<Runt>,
    obj: &Obj,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    match obj {
        Obj::Text(text) => match name {
            "add" => {
                let t = req(args, kwargs, 0, "text", "add")?.to_str()?;
                let mut t = t;
                for (k, v) in kwargs {
                    t = t.replace(&format!("{{{k}}}"), &super::eval::repr_str(v));
                }
                lock(text).push_str(&t);
                Ok(Val::Null)
            }
            "str" => Ok(Val::from(lock(text).clone())),
            _ => Err(nosuchname(name)),
        },
        Obj::UserKv { user, vars } => {
            let host = &runt.shared.core.host;
            let key = || -> RResult<String> { req(args, kwargs, 0, "name", name)?.to_str() };
            let default = || arg(args, kwargs, 1, "default").unwrap_or(Val::Null);
            match name {
                "get" => {
                    let k = key()?;
                    let items = host.user_kv_list(user, *vars).await.map_err(Flow::Err)?;
                    Ok(match items.into_iter().find(|(n, _)| *n == k) {
                        Some((_, v)) => listed(&v),
                        None => default(),
                    })
                }
                "pop" => {
                    let k = key()?;
                    Ok(
                        match host
                            .user_kv_set(user, *vars, &k, None)
                            .await
                            .map_err(Flow::Err)?
                        {
                            Some(v) => listed(&v),
                            None => default(),
                        },
                    )
                }
                "set" => {
                    let n = req(args, kwargs, 0, "name", "set")?;
                    let Val::Str(k) = &n else {
                        return Err(Flow::Err(
                            StormError::new(
                                "StormRuntimeError",
                                "The name of a variable must be a string.",
                            )
                            .with("name", n.to_msgpack().unwrap_or(Value::Nil)),
                        ));
                    };
                    let valu = req(args, kwargs, 1, "valu", "set")?.to_msgpack()?;
                    let old = host
                        .user_kv_set(user, *vars, k, Some(valu))
                        .await
                        .map_err(Flow::Err)?;
                    Ok(old.as_ref().map(listed).unwrap_or(Val::Null))
                }
                "list" => {
                    let items = host.user_kv_list(user, *vars).await.map_err(Flow::Err)?;
                    Ok(new_list(
                        items
                            .into_iter()
                            .map(|(k, v)| new_list(vec![Val::from(k), listed(&v)]))
                            .collect(),
                    ))
                }
                _ => Err(nosuchname(name)),
            }
        }
        _ => Err(nosuchname(name)),
    }
}

/// The items of iterating an object of this module (`for ($k, $v) in $lib.user.vars`).
pub(crate) async fn obj_iter(runt: &Arc<Runt>, obj: &Obj) -> RResult<Option<Vec<Val>>> {
    match obj {
        Obj::UserKv { user, vars } => {
            let items = runt
                .shared
                .core
                .host
                .user_kv_list(user, *vars)
                .await
                .map_err(Flow::Err)?;
            Ok(Some(
                items
                    .into_iter()
                    .map(|(k, v)| Val::Tuple(Arc::from(vec![Val::from(k), listed(&v)])))
                    .collect(),
            ))
        }
        Obj::Text(text) => Ok(Some(
            lock(text)
                .chars()
                .map(|c| Val::from(c.to_string()))
                .collect(),
        )),
        _ => Ok(None),
    }
}

// ----- bytes -----

/// Bytes methods of this module.
pub(crate) fn bytes_method(
    b: &[u8],
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    Ok(match name {
        "unpack" => {
            let fmt = req(args, kwargs, 0, "fmt", "unpack")?.to_str()?;
            let offset = match arg(args, kwargs, 1, "offset") {
                None | Some(Val::Null) => 0,
                Some(v) => v.to_int()?,
            };
            let items = struct_unpack(&fmt, b, offset)
                .map_err(|e| bad_arg(format!("unpack() error: {e}")))?;
            Val::Tuple(Arc::from(items))
        }
        "gzip" => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(b)
                .and_then(|()| enc.finish())
                .map(|out| Val::Bytes(Arc::from(out)))
                .map_err(|e| rterr(e.to_string()))?
        }
        "gunzip" => {
            // Python's gzip errors, which the reference hands on as they are
            let gzerr = |mesg: String| Flow::Err(StormError::new("BadGzipFile", mesg));
            if !b.starts_with(&[0x1f, 0x8b]) {
                let magic = Val::Bytes(Arc::from(&b[..b.len().min(2)]));
                return Err(gzerr(format!("Not a gzipped file ({})", magic.py_repr())));
            }
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(b)
                .read_to_end(&mut out)
                .map_err(|e| gzerr(e.to_string()))?;
            Val::Bytes(Arc::from(out))
        }
        "bzip" => {
            let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            enc.write_all(b)
                .and_then(|()| enc.finish())
                .map(|out| Val::Bytes(Arc::from(out)))
                .map_err(|e| rterr(e.to_string()))?
        }
        "bunzip" => {
            let mut out = Vec::new();
            bzip2::read::MultiBzDecoder::new(b)
                .read_to_end(&mut out)
                .map_err(|_| Flow::Err(StormError::new("OSError", "Invalid data stream")))?;
            Val::Bytes(Arc::from(out))
        }
        "xor" => {
            let key = match req(args, kwargs, 0, "key", "xor")? {
                Val::Str(s) => s.as_bytes().to_vec(),
                Val::Bytes(k) => k.to_vec(),
                _ => return Err(bad_arg("$bytes.xor() key argument must be bytes or a str.")),
            };
            if key.is_empty() {
                return Err(bad_arg("$bytes.xor() key length must be greater than 0."));
            }
            let out: Vec<u8> = b
                .iter()
                .enumerate()
                .map(|(i, c)| c ^ key[i % key.len()])
                .collect();
            Val::Bytes(Arc::from(out))
        }
        _ => return Err(nosuchname(name)),
    })
}

/// Python's `struct.unpack_from(fmt, data, offset)`.
pub(crate) fn struct_unpack(fmt: &str, data: &[u8], offset: i128) -> Result<Vec<Val>, String> {
    let mut chars = fmt.chars().peekable();
    let (native, little) = match chars.peek() {
        Some('<') => (false, true),
        Some('>') | Some('!') => (false, false),
        Some('=') => (false, cfg!(target_endian = "little")),
        Some('@') => (true, cfg!(target_endian = "little")),
        _ => (true, cfg!(target_endian = "little")),
    };
    if matches!(chars.peek(), Some('<' | '>' | '!' | '=' | '@')) {
        chars.next();
    }
    // (code, count) items
    let mut items: Vec<(char, usize)> = Vec::new();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut count: Option<usize> = None;
        let mut code = c;
        if c.is_ascii_digit() {
            let mut num = c.to_digit(10).unwrap_or_default() as usize;
            loop {
                match chars.next() {
                    Some(d) if d.is_ascii_digit() => {
                        num = num
                            .checked_mul(10)
                            .and_then(|n| {
                                n.checked_add(d.to_digit(10).unwrap_or_default() as usize)
                            })
                            .ok_or("total struct size too long")?;
                    }
                    Some(d) => {
                        code = d;
                        break;
                    }
                    None => return Err("repeat count given without format specifier".into()),
                }
            }
            count = Some(num);
        }
        items.push((code, count.unwrap_or(1)));
    }
    let size_of = |code: char| -> Result<usize, String> {
        Ok(match code {
            'x' | 'c' | 'b' | 'B' | '?' | 's' | 'p' => 1,
            'h' | 'H' | 'e' => 2,
            'i' | 'I' | 'f' => 4,
            'l' | 'L' => {
                if native {
                    8
                } else {
                    4
                }
            }
            'q' | 'Q' | 'd' => 8,
            'n' | 'N' | 'P' if native => 8,
            _ => return Err("bad char in struct format".into()),
        })
    };
    // total size
    let mut total = 0usize;
    for (code, count) in &items {
        let size = size_of(*code)?;
        if native && !matches!(code, 's' | 'p' | 'x' | 'c') && *count > 0 {
            total = total.div_ceil(size) * size;
        }
        total += size * count;
    }
    let len = data.len() as i128;
    let start = if offset < 0 {
        if offset + len < 0 {
            return Err(format!(
                "offset {offset} out of range for {len}-byte buffer"
            ));
        }
        offset + len
    } else {
        offset
    };
    if start + total as i128 > len {
        return Err(format!(
            "unpack_from requires a buffer of at least {} bytes for unpacking {total} bytes at offset {offset} (actual buffer size is {len})",
            start + total as i128
        ));
    }
    let data = &data[start as usize..];
    let mut pos = 0usize;
    let mut out = Vec::new();
    let uint = |byts: &[u8]| -> u128 {
        let mut v: u128 = 0;
        if little {
            for b in byts.iter().rev() {
                v = (v << 8) | *b as u128;
            }
        } else {
            for b in byts {
                v = (v << 8) | *b as u128;
            }
        }
        v
    };
    for (code, count) in items {
        let size = size_of(code)?;
        if native && !matches!(code, 's' | 'p' | 'x' | 'c') && count > 0 {
            pos = pos.div_ceil(size) * size;
        }
        match code {
            's' => {
                out.push(Val::Bytes(Arc::from(&data[pos..pos + count])));
                pos += count;
                continue;
            }
            'p' => {
                if count > 0 {
                    let n = (data[pos] as usize).min(count - 1);
                    out.push(Val::Bytes(Arc::from(&data[pos + 1..pos + 1 + n])));
                } else {
                    out.push(Val::Bytes(Arc::from(&b""[..])));
                }
                pos += count;
                continue;
            }
            'x' => {
                pos += count;
                continue;
            }
            _ => {}
        }
        for _ in 0..count {
            let byts = &data[pos..pos + size];
            pos += size;
            let u = uint(byts);
            let signed = |u: u128| -> i128 {
                let bits = size * 8;
                if bits < 128 && (u >> (bits - 1)) & 1 == 1 {
                    u as i128 - (1i128 << bits)
                } else {
                    u as i128
                }
            };
            out.push(match code {
                'c' => Val::Bytes(Arc::from(byts)),
                '?' => Val::Bool(u != 0),
                'b' | 'h' | 'i' | 'l' | 'q' | 'n' => Val::Int(signed(u)),
                'B' | 'H' | 'I' | 'L' | 'Q' | 'N' | 'P' => Val::Int(u as i128),
                'e' => Val::Float(half_to_f64(u as u16)),
                'f' => Val::Float(f32::from_bits(u as u32) as f64),
                'd' => Val::Float(f64::from_bits(u as u64)),
                _ => return Err("bad char in struct format".into()),
            });
        }
    }
    Ok(out)
}

fn half_to_f64(h: u16) -> f64 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

// ----- nodes -----

/// Node methods of this module.
pub(crate) async fn node_method(
    runt: &Arc<Runt>,
    node: &Arc<Node>,
    name: &str,
    _args: &[Val],
    _kwargs: &[(String, Val)],
) -> RResult<Val> {
    match name {
        "getByLayer" => {
            let layers = runt.view.layers();
            let sodes = runt.view.get_sodes(node.buid).await?;
            let mut ndef = Val::Null;
            let mut tags = IndexMap::new();
            let mut props = IndexMap::new();
            let mut tagprops: IndexMap<Key, IndexMap<Key, Val>> = IndexMap::new();
            // bottom layer first: upper layers win
            for (layer, sode) in layers.iter().zip(sodes.iter()).rev() {
                let Some(sode) = sode else { continue };
                let iden = Val::from(layer.iden());
                if sode.valu.is_some() {
                    ndef = iden.clone();
                }
                for (p, _, _) in &sode.props {
                    props.insert(str_key(p), iden.clone());
                }
                for (t, _) in &sode.tags {
                    tags.insert(str_key(t), iden.clone());
                }
                for (t, tps) in &sode.tagprops {
                    let entry = tagprops.entry(str_key(t)).or_default();
                    for (p, _, _) in tps {
                        entry.insert(str_key(p), iden.clone());
                    }
                }
            }
            let mut out = IndexMap::new();
            out.insert(str_key("ndef"), ndef);
            out.insert(str_key("tags"), new_dict(tags));
            out.insert(str_key("props"), new_dict(props));
            out.insert(
                str_key("tagprops"),
                new_dict(
                    tagprops
                        .into_iter()
                        .map(|(k, v)| (k, new_dict(v)))
                        .collect(),
                ),
            );
            Ok(new_dict(out))
        }
        _ => Err(nosuchname(name)),
    }
}

/// Node data methods of this module: `cacheget(name, asof=now)` and `cacheset(name, valu)`.
pub(crate) async fn nodedata_method(
    runt: &Arc<Runt>,
    node: &Arc<Node>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    match name {
        "cacheget" => {
            let key = req(args, kwargs, 0, "name", name)?.to_str()?;
            let asof = arg(args, kwargs, 1, "asof").unwrap_or(Val::from("now"));
            let Some(envl) = runt.view.get_data(node.buid, &key).await? else {
                return Ok(Val::Null);
            };
            let ty = runt
                .model()
                .ty("time")
                .ok_or_else(|| rterr("no time type"))?;
            let (tick, _) = ty.norm(&tostor(&asof)?)?;
            let tick = tick.as_i64().unwrap_or_default();
            // an envelope is {"asof": time, "data": valu}; anything else is no cached value
            let stamp = crate::layer::map_get(&envl, "asof").and_then(Value::as_i64);
            match stamp {
                Some(t) if t >= tick => Ok(crate::layer::map_get(&envl, "data")
                    .map(Val::from_msgpack)
                    .unwrap_or(Val::Null)),
                _ => Ok(Val::Null),
            }
        }
        "cacheset" => {
            let key = req(args, kwargs, 0, "name", name)?.to_str()?;
            let valu = req(args, kwargs, 1, "valu", name)?.to_msgpack()?;
            let envl = Value::Map(vec![
                (Value::from("asof"), Value::from(synapse_base::now_ms())),
                (Value::from("data"), valu),
            ]);
            runt.req_writable(Span::default())?;
            runt.layer_confirm(&["node", "data", "set", &key])?;
            let mut editor = runt.shared.editor.lock().await;
            editor.set_data(&node.buid, &key, &envl).await?;
            runt.flush(&mut editor).await?;
            super::nodedata::carry(&runt.shared, node.buid, &key, Some(envl));
            Ok(Val::Null)
        }
        _ => Err(nosuchname(name)),
    }
}

// ----- views -----

fn view_gate(view: &View) -> String {
    view.iden()
}

/// View methods of this module.
pub(crate) async fn view_method(
    runt: &Arc<Runt>,
    view: &View,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    let viden = view_gate(view);
    match name {
        "set" => {
            let key = r(0, "name")?.to_str()?;
            let valu = r(1, "valu")?;
            let (key, stored) = match key.as_str() {
                "name" => (
                    "name",
                    match valu {
                        Val::Null | Val::Undef => Value::Nil,
                        v => Value::from(v.to_str()?),
                    },
                ),
                "protected" | "nomerge" => ("protected", Value::from(valu.truthy())),
                "quorum" => return super::viewmerge::set_quorum(runt, view, valu).await,
                other => {
                    return err(
                        "BadOptValu",
                        format!("View does not support setting: {other}"),
                    );
                }
            };
            runt.confirm(&["view", "set", key], Some((&viden, "view")))?;
            runt.shared
                .core
                .views()
                .set_view_info(&viden, key, &stored)
                .await?;
            Ok(Val::from_msgpack(&stored))
        }
        "addNode" => {
            let form = r(0, "form")?.to_str()?;
            let valu = tostor(&r(1, "valu")?)?;
            let props = match arg(args, kwargs, 2, "props") {
                None | Some(Val::Null) => Vec::new(),
                Some(Val::Dict(d)) => {
                    let items = lock(&d).clone();
                    let mut out = Vec::new();
                    for (k, v) in items {
                        out.push((k.to_val().to_str()?, tostor(&v)?));
                    }
                    out
                }
                Some(other) => {
                    return Err(rterr(format!(
                        "props must be a dict, not {}",
                        other.typename()
                    )));
                }
            };
            let layer = view.write_layer().iden();
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            runt.confirm(&["node", "add", &form], Some((&layer, "layer")))?;
            for (p, _) in &props {
                let full = format!("{form}:{p}");
                runt.confirm(&["node", "prop", "set", &full], Some((&layer, "layer")))?;
            }
            if viden == runt.view.iden() {
                runt.req_writable(Span::default())?;
                let mut editor = runt.shared.editor.lock().await;
                let buid = editor.add_node_props(&form, &valu, &props).await?;
                runt.flush(&mut editor).await?;
                drop(editor);
                let Some(buid) = buid else {
                    return Ok(Val::Null);
                };
                return Ok(match runt.view.get_node(buid).await? {
                    Some(n) => Val::Node(Arc::new(n)),
                    None => Val::Null,
                });
            }
            let meta = crate::nodeedit::EditMeta::now(runt.shared.user.iden.clone());
            let mut editor = view.editor(meta, crate::view::AllowAll::arc());
            editor.add_node_props(&form, &valu, &props).await?;
            editor.apply().await?;
            Ok(Val::Null)
        }
        "getEdges" => {
            let verb = opt_str(arg(args, kwargs, 0, "verb"))?;
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for layer in view.layers() {
                for edge in layer_edges(&layer, verb.as_deref()).await? {
                    if seen.insert(edge.clone()) {
                        out.push(edge);
                    }
                }
            }
            Ok(edge_gen(out))
        }
        "wipeLayer" => {
            let layer = view.write_layer();
            let liden = layer.iden();
            runt.confirm(&["node", "del"], Some((&liden, "layer")))?;
            runt.confirm(&["node", "data", "pop"], Some((&liden, "layer")))?;
            runt.confirm(&["node", "tag", "del"], Some((&liden, "layer")))?;
            runt.confirm(&["node", "edge", "del"], Some((&liden, "layer")))?;
            super::morecmds::wipe_layer(&layer, &runt.shared.user.iden).await?;
            Ok(Val::Null)
        }
        "getPropValues" => {
            let pname = r(0, "propname")?.to_str()?;
            let relname = prop_relname(runt, &pname)?;
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            let nodes = view.lift_prop(&pname, false)?;
            let mut last: Option<Value> = None;
            let stream = nodes.filter_map(move |n| {
                let out = match n {
                    Err(e) => Some(Err(Flow::from(e))),
                    Ok(node) => {
                        let valu = match &relname {
                            None => Some(node.valu.clone()),
                            Some(rel) => node.get(rel).cloned(),
                        };
                        match valu {
                            Some(v) if last.as_ref() != Some(&v) => {
                                last = Some(v.clone());
                                Some(Ok(GenItem::Val(Val::from_msgpack(&v))))
                            }
                            _ => None,
                        }
                    }
                };
                futures::future::ready(out)
            });
            Ok(GenVal::val(stream.boxed()))
        }
        "getTagPropCount" => {
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            tagprop_count(runt, &view.layers(), args, kwargs).await
        }
        "getPropArrayCount" => {
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            array_count(runt, &view.layers(), args, kwargs).await
        }
        "getPropCount" => {
            let pname = r(0, "propname")?.to_str()?;
            let model = runt.model();
            if model.prop(&pname).is_none() && model.form(&pname).is_none() {
                return err("NoSuchProp", format!("No property named {pname}"));
            }
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            let n = match arg(args, kwargs, 1, "valu") {
                None | Some(Val::Undef) => view.count_prop(&pname).await?,
                Some(valu) => view.count_prop_valu(&pname, "=", &tostor(&valu)?).await?,
            };
            Ok(Val::Int(i128::from(n)))
        }
        "getEdgeVerbs" => {
            runt.confirm(&["view", "read"], Some((&viden, "view")))?;
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for layer in view.layers() {
                let mut verbs: Vec<String> = layer_edges(&layer, None)
                    .await?
                    .into_iter()
                    .map(|(_, v, _)| v)
                    .collect();
                verbs.sort();
                verbs.dedup();
                for verb in verbs {
                    if seen.insert(verb.clone()) {
                        out.push(Ok(GenItem::Val(Val::from(verb))));
                    }
                }
            }
            Ok(GenVal::val(futures::stream::iter(out).boxed()))
        }
        "children" => {
            let out: Vec<RResult<GenItem>> = runt
                .shared
                .core
                .views()
                .views()
                .into_iter()
                .filter(|v| v.def().parent.as_deref() == Some(viden.as_str()))
                .map(|v| Ok(GenItem::Val(Val::Obj(Arc::new(Obj::View(v.iden()))))))
                .collect();
            Ok(GenVal::val(futures::stream::iter(out).boxed()))
        }
        "getFormCounts" => {
            let mut out: IndexMap<Key, Val> = IndexMap::new();
            for layer in view.layers() {
                for (form, n) in form_counts(runt, &layer).await? {
                    let key = str_key(&form);
                    let cur = out.get(&key).and_then(|v| v.to_int().ok()).unwrap_or(0);
                    out.insert(key, Val::Int(cur + n as i128));
                }
            }
            Ok(new_dict(out))
        }
        _ => Err(nosuchname(name)),
    }
}

/// The form counts of a layer, in the order the layer first saw each form (forms it saw and
/// no longer holds count 0, as the reference's).
async fn form_counts(runt: &Arc<Runt>, layer: &Layer) -> RResult<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for form in runt.model().forms() {
        let Some(abrv) = layer.form_abrv(form.name()) else {
            continue;
        };
        let n = layer
            .count_form(form.name())
            .await
            .map_err(|e| Flow::Err(StormError::new(e.class(), e.to_string())))?;
        out.push((abrv, form.name().to_owned(), n));
    }
    out.sort_by_key(|(abrv, _, _)| *abrv);
    Ok(out.into_iter().map(|(_, f, n)| (f, n)).collect())
}

/// Every light edge of a layer as `(n1 iden, verb, n2 iden)`, in the reference's order
/// (by verb, then by the node ids).
async fn layer_edges(layer: &Layer, verb: Option<&str>) -> RResult<Vec<(String, String, String)>> {
    let lerr = |e: crate::layer::Error| Flow::from(crate::view::Error::from(e));
    let mut out = Vec::new();
    let mut sodes = layer.sodes();
    while let Some(item) = sodes.next().await {
        let (buid, _) = item.map_err(lerr)?;
        let mut resume = None;
        loop {
            let (rows, next, done) = layer
                .scan_edges(EdgeDir::N1, buid, verb.map(str::to_owned), resume, 1000)
                .await
                .map_err(lerr)?;
            for (v, n2) in rows {
                out.push((v, buid, n2));
            }
            if done {
                break;
            }
            resume = next;
        }
    }
    out.sort();
    Ok(out
        .into_iter()
        .map(|(v, n1, n2)| (hex::encode(n1), v, hex::encode(n2)))
        .collect())
}

fn edge_gen(edges: Vec<(String, String, String)>) -> Val {
    let items: Vec<RResult<GenItem>> = edges
        .into_iter()
        .map(|(n1, v, n2)| {
            Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                Val::from(n1),
                Val::from(v),
                Val::from(n2),
            ]))))
        })
        .collect();
    GenVal::val(futures::stream::iter(items).boxed())
}

// ----- layers -----

/// The reference's `tobuid`: a 64 char hex iden or 32 bytes.
pub(super) fn to_buid(v: &Val) -> RResult<[u8; 32]> {
    match v {
        Val::Node(n) => Ok(n.buid),
        Val::Bytes(b) => <[u8; 32]>::try_from(&b[..]).map_err(|_| {
            Flow::Err(StormError::new(
                "BadCast",
                format!("Invalid buid valu: {}", v.py_repr()),
            ))
        }),
        other => {
            let text = other.to_str()?;
            hex::decode(&text)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    Flow::Err(StormError::new(
                        "BadCast",
                        format!("Invalid buid string: {text}"),
                    ))
                })
        }
    }
}

fn req_read_layer(runt: &Arc<Runt>, layer: &Layer) -> RResult<()> {
    let iden = layer.iden();
    runt.confirm(&["layer", "read"], Some((&iden, "layer")))
}

/// The reference's `runt.reqAdmin(mesg='<name>() requires admin privileges.')`.
fn req_layer_admin(runt: &Runt, name: &str) -> RResult<()> {
    let user = &runt.shared.user;
    if runt.asroot || user.admin {
        return Ok(());
    }
    Err(Flow::Err(
        StormError::new("AuthDeny", format!("{name}() requires admin privileges."))
            .with("user", user.iden.as_str())
            .with("username", user.name.as_str()),
    ))
}

/// The relative name of a property for `getPropValues` (None for a form), or the
/// reference's `NoSuchProp`.
fn prop_relname(runt: &Runt, pname: &str) -> RResult<Option<String>> {
    let model = runt.model();
    if model.form(pname).is_some() {
        return Ok(None);
    }
    match model.prop(pname) {
        Some(prop) => Ok(Some(prop.name().to_owned())),
        None => Err(Flow::Err(
            StormError::new("NoSuchProp", format!("No property named {pname}."))
                .with("name", pname),
        )),
    }
}

/// `getTagPropCount(tag, propname, form=None, valu=undef)` over some layers.
async fn tagprop_count(
    runt: &Arc<Runt>,
    layers: &[Layer],
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let name = "getTagPropCount";
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    let lerr = |e: crate::layer::Error| Flow::from(crate::view::Error::from(e));
    let tag = r(0, "tag")?.to_str()?;
    let pname = r(1, "propname")?.to_str()?;
    let form = opt_str(arg(args, kwargs, 2, "form"))?;
    let tagprops = runt.model().tagprops();
    let Some(tdef) = tagprops.get(&pname) else {
        return Err(Flow::Err(
            StormError::new("NoSuchTagProp", format!("No tag property named {pname}"))
                .with("name", pname.as_str()),
        ));
    };
    let norm = match arg(args, kwargs, 3, "valu") {
        None | Some(Val::Undef) => None,
        Some(valu) => {
            let tname = tdef
                .get("type")
                .and_then(|t| t.get(0))
                .and_then(|t| t.as_str());
            let model = runt.model();
            let ty = tname
                .and_then(|t| model.ty(t))
                .ok_or_else(|| rterr(format!("No type for tag property {pname}")))?;
            Some(ty.norm(&tostor(&valu)?)?.0)
        }
    };
    let mut n = 0i128;
    for layer in layers {
        let Some(norm) = &norm else {
            n += i128::from(
                layer
                    .count_tagprop(form.as_deref(), &tag, &pname)
                    .await
                    .map_err(lerr)?,
            );
            continue;
        };
        let mut sodes = layer.sodes();
        while let Some(item) = sodes.next().await {
            let (_, sode) = item.map_err(lerr)?;
            if form
                .as_deref()
                .is_some_and(|f| sode.form.as_deref() != Some(f))
            {
                continue;
            }
            for (t, props) in &sode.tagprops {
                if *t == tag && props.iter().any(|(p, v, _)| *p == pname && v == norm) {
                    n += 1;
                }
            }
        }
    }
    Ok(Val::Int(n))
}

/// `getPropArrayCount(propname, valu=undef)` over some layers.
async fn array_count(
    runt: &Arc<Runt>,
    layers: &[Layer],
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let lerr = |e: crate::layer::Error| Flow::from(crate::view::Error::from(e));
    let pname = req(args, kwargs, 0, "propname", "getPropArrayCount")?.to_str()?;
    let model = runt.model();
    let Some(prop) = model.prop(&pname) else {
        return err("NoSuchProp", format!("No property named {pname}"));
    };
    if !prop.ty().is_array() {
        return err(
            "BadTypeValu",
            format!("Property is not an array type: {}.", prop.ty().name()),
        );
    }
    let formname = prop.form().map(|f| f.name().to_owned()).unwrap_or_default();
    let norm = match arg(args, kwargs, 1, "valu") {
        None | Some(Val::Undef) => None,
        Some(valu) => {
            let elem = prop
                .ty()
                .array_elem()
                .ok_or_else(|| rterr("not an array"))?;
            Some(elem.norm(&tostor(&valu)?)?.0)
        }
    };
    let mut n = 0i128;
    for layer in layers {
        let Some(norm) = &norm else {
            n += i128::from(
                layer
                    .count_array(&formname, Some(prop.name()))
                    .await
                    .map_err(lerr)?,
            );
            continue;
        };
        let mut sodes = layer.sodes();
        while let Some(item) = sodes.next().await {
            let (_, sode) = item.map_err(lerr)?;
            if sode.form.as_deref() != Some(formname.as_str()) {
                continue;
            }
            for (p, v, _) in &sode.props {
                if p == prop.name()
                    && let Value::Array(items) = v
                {
                    n += items.iter().filter(|i| *i == norm).count() as i128;
                }
            }
        }
    }
    Ok(Val::Int(n))
}

/// Layer methods of this module.
pub(crate) async fn layer_method(
    runt: &Arc<Runt>,
    layer: &Layer,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let r = |i: usize, n: &str| req(args, kwargs, i, n, name);
    let lerr = |e: crate::layer::Error| Flow::from(crate::view::Error::from(e));
    match name {
        "getFormCounts" => {
            req_read_layer(runt, layer)?;
            let mut out = IndexMap::new();
            for (form, n) in form_counts(runt, layer).await? {
                out.insert(str_key(&form), Val::Int(n as i128));
            }
            Ok(new_dict(out))
        }
        "getStorNode" => {
            let buid = to_buid(&r(0, "nodeid")?)?;
            req_read_layer(runt, layer)?;
            let sode = layer.get_sode(buid).await.map_err(lerr)?;
            Ok(Val::from_msgpack(
                &sode.map(|s| s.to_value()).unwrap_or(Value::Map(Vec::new())),
            ))
        }
        "getStorNodesByForm" => {
            let form = r(0, "form")?.to_str()?;
            if runt.model().form(&form).is_none() {
                return err("NoSuchForm", format!("No form named {form}."));
            }
            req_read_layer(runt, layer)?;
            let stream = layer.sodes().filter_map(move |item| {
                let out = match item {
                    Ok((buid, sode)) if sode.form.as_deref() == Some(form.as_str()) => {
                        Some(Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                            Val::Bytes(Arc::from(&buid[..])),
                            Val::from_msgpack(&sode.to_value()),
                        ])))))
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(lerr(e))),
                };
                futures::future::ready(out)
            });
            Ok(GenVal::val(stream.boxed()))
        }
        "hasEdge" => {
            let n1 = to_buid(&r(0, "nodeid1")?)?;
            let verb = r(1, "verb")?.to_str()?;
            let n2 = to_buid(&r(2, "nodeid2")?)?;
            req_read_layer(runt, layer)?;
            Ok(Val::Bool(
                layer.has_edge(n1, &verb, n2).await.map_err(lerr)?,
            ))
        }
        "getEdgesByN1" | "getEdgesByN2" => {
            let buid = to_buid(&r(0, "nodeid")?)?;
            let verb = opt_str(arg(args, kwargs, 1, "verb"))?;
            req_read_layer(runt, layer)?;
            let dir = if name == "getEdgesByN1" {
                EdgeDir::N1
            } else {
                EdgeDir::N2
            };
            let mut out = Vec::new();
            let mut resume = None;
            loop {
                let (rows, next, done) = layer
                    .scan_edges(dir, buid, verb.clone(), resume, 1000)
                    .await
                    .map_err(lerr)?;
                for (v, other) in rows {
                    out.push(Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                        Val::from(v),
                        Val::from(hex::encode(other)),
                    ])))));
                }
                if done {
                    break;
                }
                resume = next;
            }
            Ok(GenVal::val(futures::stream::iter(out).boxed()))
        }
        "getNodeData" => {
            let buid = to_buid(&r(0, "nodeid")?)?;
            req_read_layer(runt, layer)?;
            let items: Vec<RResult<GenItem>> = layer
                .data_items(buid)
                .await
                .map_err(lerr)?
                .into_iter()
                .map(|(k, v)| {
                    Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                        Val::from(k),
                        Val::from_msgpack(&v),
                    ]))))
                })
                .collect();
            Ok(GenVal::val(futures::stream::iter(items).boxed()))
        }
        "getNodeDataValu" => {
            let buid = to_buid(&r(0, "nodeid")?)?;
            let dname = r(1, "name")?.to_str()?;
            req_read_layer(runt, layer)?;
            let valu = layer.get_data(buid, &dname).await.map_err(lerr)?;
            Ok(valu.map(|v| Val::from_msgpack(&v)).unwrap_or(Val::Null))
        }
        "getPropValues" => {
            let pname = r(0, "propname")?.to_str()?;
            let relname = prop_relname(runt, &pname)?;
            req_read_layer(runt, layer)?;
            // the view's lift in index order, with the values this layer holds
            let nodes = runt.view.lift_prop(&pname, false)?;
            let layer = layer.clone();
            let mut out = Vec::new();
            let mut last: Option<Value> = None;
            let mut nodes = nodes;
            while let Some(node) = nodes.next().await {
                let node = node?;
                let Some(sode) = layer.get_sode(node.buid).await.map_err(lerr)? else {
                    continue;
                };
                let valu = match &relname {
                    None => sode.valu.map(|(v, _)| v),
                    Some(rel) => sode
                        .props
                        .iter()
                        .find(|(p, _, _)| p == rel)
                        .map(|(_, v, _)| v.clone()),
                };
                if let Some(v) = valu
                    && last.as_ref() != Some(&v)
                {
                    last = Some(v.clone());
                    out.push(Ok(GenItem::Val(Val::from_msgpack(&v))));
                }
            }
            Ok(GenVal::val(futures::stream::iter(out).boxed()))
        }
        "setNodeDataValu" | "delNodeData" | "delEdge" => {
            let buid = to_buid(&r(
                0,
                if name == "delEdge" {
                    "nodeid1"
                } else {
                    "nodeid"
                },
            )?)?;
            let ops = match name {
                "setNodeDataValu" => {
                    let dname = r(1, "name")?.to_str()?;
                    let valu = r(2, "valu")?.to_msgpack()?;
                    req_layer_admin(runt, name)?;
                    if dname.len() > 506 {
                        return Err(Flow::Err(
                            StormError::new(
                                "BadArg",
                                format!("node data keys must be < 507 bytes, got {}.", dname.len()),
                            )
                            .with("size", dname.len() as i64),
                        ));
                    }
                    if layer.get_data(buid, &dname).await.map_err(lerr)? == Some(valu.clone()) {
                        return Ok(Val::Bool(false));
                    }
                    vec![crate::nodeedit::EditOp::NodeDataSet {
                        name: dname,
                        valu,
                        oldv: Value::Nil,
                    }]
                }
                "delNodeData" => {
                    let dname = opt_str(arg(args, kwargs, 1, "name"))?;
                    req_layer_admin(runt, name)?;
                    let names = match dname {
                        Some(n) => {
                            if layer.get_data(buid, &n).await.map_err(lerr)?.is_none() {
                                Vec::new()
                            } else {
                                vec![n]
                            }
                        }
                        None => layer
                            .data_items(buid)
                            .await
                            .map_err(lerr)?
                            .into_iter()
                            .map(|(n, _)| n)
                            .collect(),
                    };
                    names
                        .into_iter()
                        .map(|n| crate::nodeedit::EditOp::NodeDataDel {
                            name: n,
                            oldv: Value::Nil,
                        })
                        .collect()
                }
                _ => {
                    let verb = r(1, "verb")?.to_str()?;
                    let n2 = to_buid(&r(2, "nodeid2")?)?;
                    req_layer_admin(runt, name)?;
                    if !layer.has_edge(buid, &verb, n2).await.map_err(lerr)? {
                        return Ok(Val::Bool(false));
                    }
                    vec![crate::nodeedit::EditOp::EdgeDel { verb, n2 }]
                }
            };
            let Some(sode) = layer.get_sode(buid).await.map_err(lerr)? else {
                if name == "setNodeDataValu" {
                    let iden = hex::encode(buid);
                    return Err(Flow::Err(
                        StormError::new("NoSuchIden", format!("No node found for buid {iden}."))
                            .with("buid", iden.as_str()),
                    ));
                }
                return Ok(Val::Bool(false));
            };
            let Some(form) = sode.form.clone() else {
                let iden = hex::encode(buid);
                return Err(Flow::Err(
                    StormError::new("NoSuchIden", format!("No node found for buid {iden}."))
                        .with("buid", iden.as_str()),
                ));
            };
            if ops.is_empty() {
                return Ok(Val::Bool(false));
            }
            let meta = crate::nodeedit::EditMeta::now(runt.shared.user.iden.clone());
            let applied = layer
                .apply(vec![crate::nodeedit::NodeEdit::new(buid, form, ops)], meta)
                .await
                .map_err(lerr)?;
            Ok(Val::Bool(applied.edits.iter().any(|e| !e.edits.is_empty())))
        }
        "edited" => {
            // the time of the last logged batch (null before any)
            let next = layer.edit_offset();
            if next == 0 {
                return Ok(Val::Null);
            }
            let last = layer.read_log(next - 1, 1).await.map_err(lerr)?;
            Ok(last
                .first()
                .map(|e| Val::Int(i128::from(e.meta.time)))
                .unwrap_or(Val::Null))
        }
        "getStorNodesByProp" => {
            let (nodes, check) = lift_by_prop(runt, args, kwargs)?;
            req_read_layer(runt, layer)?;
            let layer = layer.clone();
            let check = Arc::new(check);
            let stream = nodes.filter_map(move |n| {
                let layer = layer.clone();
                let check = Arc::clone(&check);
                async move {
                    let node = match n {
                        Ok(n) => n,
                        Err(e) => return Some(Err(Flow::from(e))),
                    };
                    match layer.get_sode(node.buid).await {
                        Ok(Some(sode)) if check.held_by(&sode) => {
                            Some(Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                                Val::from(hex::encode(node.buid)),
                                Val::from_msgpack(&sode.to_value()),
                            ])))))
                        }
                        Ok(_) => None,
                        Err(e) => Some(Err(Flow::from(crate::view::Error::from(e)))),
                    }
                }
            });
            Ok(GenVal::val(stream.boxed()))
        }
        "liftByNodeData" => {
            let dname = r(0, "name")?.to_str()?;
            req_read_layer(runt, layer)?;
            let nodes = runt.view.lift_data_name(&dname)?;
            let layer = layer.clone();
            let stream = nodes.filter_map(move |n| {
                let layer = layer.clone();
                let dname = dname.clone();
                async move {
                    let node = match n {
                        Ok(n) => n,
                        Err(e) => return Some(Err(Flow::from(e))),
                    };
                    match layer.get_data(node.buid, &dname).await {
                        Ok(Some(_)) => Some(Ok(GenItem::Val(Val::Node(Arc::new(node))))),
                        Ok(None) => None,
                        Err(e) => Some(Err(Flow::from(crate::view::Error::from(e)))),
                    }
                }
            });
            Ok(GenVal::val(stream.boxed()))
        }
        "getTagPropCount" => {
            req_read_layer(runt, layer)?;
            tagprop_count(runt, std::slice::from_ref(layer), args, kwargs).await
        }
        "getPropArrayCount" => {
            req_read_layer(runt, layer)?;
            array_count(runt, std::slice::from_ref(layer), args, kwargs).await
        }
        "getStorNodes" => {
            req_read_layer(runt, layer)?;
            let stream = layer.sodes().map(move |item| {
                let (buid, sode) = item.map_err(lerr)?;
                Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
                    Val::Bytes(Arc::from(&buid[..])),
                    Val::from_msgpack(&sode.to_value()),
                ]))))
            });
            Ok(GenVal::val(stream.boxed()))
        }
        "getEdges" => {
            req_read_layer(runt, layer)?;
            Ok(edge_gen(layer_edges(layer, None).await?))
        }
        "getTagCount" => {
            let tag = r(0, "tagname")?.to_str()?;
            let form = opt_str(arg(args, kwargs, 1, "formname"))?;
            req_read_layer(runt, layer)?;
            let n = layer.count_tag(&tag, form.as_deref()).await.map_err(lerr)?;
            Ok(Val::Int(n as i128))
        }
        "getPropCount" => {
            let pname = r(0, "propname")?.to_str()?;
            let maxsize = match arg(args, kwargs, 1, "maxsize") {
                None | Some(Val::Null) => None,
                Some(v) => Some(v.to_int()?),
            };
            let model = runt.model();
            let prop = model.prop(&pname);
            if prop.is_none() && model.form(&pname).is_none() {
                return err("NoSuchProp", format!("No property named {pname}"));
            }
            req_read_layer(runt, layer)?;
            let n = if let Some(prop) = prop.filter(|_| model.form(&pname).is_none()) {
                if prop.is_univ() && prop.form().is_none() {
                    layer.count_univ(prop.name()).await
                } else {
                    let form = prop.form().map(|f| f.name().to_owned()).unwrap_or_default();
                    layer.count_prop(&form, prop.name()).await
                }
            } else {
                layer.count_form(&pname).await
            }
            .map_err(lerr)? as i128;
            Ok(Val::Int(match maxsize {
                Some(m) if m >= 0 => n.min(m),
                _ => n,
            }))
        }
        "edits" => {
            let offs = match arg(args, kwargs, 0, "offs") {
                None | Some(Val::Null) => 0,
                Some(v) => v.to_int()?,
            };
            let wait = arg(args, kwargs, 1, "wait").is_none_or(|v| v.truthy());
            // the reference compares `size` with its count without converting it: only an
            // int stops the edits
            let size = match arg(args, kwargs, 2, "size") {
                Some(Val::Int(n)) => Some(n),
                _ => None,
            };
            let reverse = arg(args, kwargs, 3, "reverse").is_some_and(|v| v.truthy());
            let iden = layer.iden();
            if !runt.allowed(&["layer", "edits", "read"], Some(&iden)) {
                runt.confirm(&["layer", "read"], Some((&iden, "layer")))?;
            }
            let offs = offs.clamp(0, u64::MAX as i128) as u64;
            // Backwards from `offs` (from the end for 0), streamed from the log.
            let entries = if reverse {
                layer.edits_back(if offs == 0 { u64::MAX } else { offs })
            } else {
                layer.sync_edits(offs, wait)
            };
            let stream: futures::stream::BoxStream<'static, RResult<Val>> = entries
                .map(move |e| {
                    e.map(|e| Val::from_msgpack(&e.to_value(false)))
                        .map_err(lerr)
                })
                .boxed();
            let stream = match size {
                Some(n) if n > 0 => stream.take(n as usize).boxed(),
                _ => stream,
            };
            Ok(GenVal::val(stream.map(|v| v.map(GenItem::Val)).boxed()))
        }
        "liftByProp" | "liftByTag" => {
            let (nodes, check) = if name == "liftByProp" {
                lift_by_prop(runt, args, kwargs)?
            } else {
                let tag = r(0, "tagname")?.to_str()?;
                let form = opt_str(arg(args, kwargs, 1, "formname"))?;
                if let Some(f) = &form
                    && runt.model().form(f).is_none()
                {
                    return Err(Flow::Err(
                        StormError::new("NoSuchForm", format!("No form named {f}."))
                            .with("name", f.as_str()),
                    ));
                }
                let nodes = runt.view.lift_tag(&tag, form.as_deref(), false)?;
                (nodes, Held::Tag(tag))
            };
            req_read_layer(runt, layer)?;
            // the view's lift, keeping the nodes whose lifted row this layer holds
            let layer = layer.clone();
            let check = Arc::new(check);
            let stream = nodes.filter_map(move |n| {
                let layer = layer.clone();
                let check = Arc::clone(&check);
                async move {
                    let node = match n {
                        Ok(n) => n,
                        Err(e) => return Some(Err(Flow::from(e))),
                    };
                    match layer.get_sode(node.buid).await {
                        Ok(Some(sode)) if check.held_by(&sode) => {
                            Some(Ok(GenItem::Val(Val::Node(Arc::new(node)))))
                        }
                        Ok(_) => None,
                        Err(e) => Some(Err(Flow::from(crate::view::Error::from(e)))),
                    }
                }
            });
            Ok(GenVal::val(stream.boxed()))
        }
        _ => Err(nosuchname(name)),
    }
}

/// What a layer must hold of a lifted node.
enum Held {
    Valu,
    Prop(String),
    Tag(String),
}

impl Held {
    fn held_by(&self, sode: &crate::layer::Sode) -> bool {
        match self {
            Held::Valu => sode.valu.is_some(),
            Held::Prop(p) => sode.prop(p).is_some(),
            Held::Tag(t) => sode.tag(t).is_some(),
        }
    }
}

fn lift_by_prop(
    runt: &Arc<Runt>,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<(crate::view::NodeStream, Held)> {
    let pname = req(args, kwargs, 0, "propname", "liftByProp")?.to_str()?;
    let valu = arg(args, kwargs, 1, "propvalu").filter(|v| !v.is_null());
    let cmpr = opt_str(arg(args, kwargs, 2, "propcmpr"))?.unwrap_or_else(|| "=".into());
    let model = runt.model();
    let held = if model.form(&pname).is_some() {
        Held::Valu
    } else {
        match model.prop(&pname) {
            Some(prop) => Held::Prop(prop.name().to_owned()),
            None => {
                return err(
                    "NoSuchProp",
                    format!("The property {pname} does not exist."),
                );
            }
        }
    };
    let nodes = match valu {
        None => runt.view.lift_prop(&pname, false)?,
        Some(v) => runt
            .view
            .lift_prop_valu(&pname, &cmpr, &tostor(&v)?, false)?,
    };
    Ok((nodes, held))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_helpers_match_python() {
        assert_eq!(hex_fromint(255, 4, false).unwrap(), "000000ff");
        assert_eq!(hex_fromint(-1, 2, true).unwrap(), "ffff");
        assert_eq!(hex_fromint(-128, 1, true).unwrap(), "80");
        assert!(hex_fromint(256, 1, false).is_err());
        assert!(hex_fromint(-1, 1, false).is_err());
        assert!(hex_fromint(128, 1, true).is_err());
        assert_eq!(hex_signext("ff", 4).unwrap(), "ffff");
        assert_eq!(hex_signext("7f", 4).unwrap(), "007f");
        assert_eq!(hex_trimext("ffff"), "ff");
        assert_eq!(hex_trimext("ff7f"), "ff7f");
        assert_eq!(hex_trimext("00007f"), "7f");
    }

    #[test]
    fn zones_convert_local_times_as_pytz() {
        // 2020-01-01 00:00 in New York is 05:00 UTC; in July it is 04:00 UTC
        assert_eq!(
            to_utc(1_577_836_800_000, "US/Eastern"),
            Ok(1_577_854_800_000)
        );
        assert_eq!(
            to_utc(1_593_561_600_000, "US/Eastern"),
            Ok(1_593_576_000_000)
        );
        assert_eq!(to_utc(0, "UTC"), Ok(0));
        // 2020-11-01 01:30 happens twice; 2020-03-08 02:30 never
        let amb = to_utc(1_604_194_200_000, "US/Eastern").unwrap_err();
        assert_eq!(amb.0, "BadArg");
        assert_eq!(amb.1, "Ambiguous time: 2020-11-01 01:30:00 US/Eastern");
        assert_eq!(
            to_utc(1_583_634_600_000, "US/Eastern").unwrap_err().0,
            "NonExistentTimeError"
        );
        let bad = to_utc(0, "../etc/passwd").unwrap_err();
        assert_eq!(bad.1, "Unknown timezone: ../etc/passwd");
    }

    #[test]
    fn unpack_matches_python_struct() {
        let v = struct_unpack("<I", &[1, 0, 0, 0], 0).unwrap();
        assert_eq!(v.len(), 1);
        assert!(matches!(v[0], Val::Int(1)));
        let v = struct_unpack(">hB2s", &[0xff, 0xfe, 7, b'a', b'b'], 0).unwrap();
        assert!(matches!(v[0], Val::Int(-2)));
        assert!(matches!(v[1], Val::Int(7)));
        assert!(matches!(&v[2], Val::Bytes(b) if &b[..] == b"ab"));
        let e = struct_unpack("<I", &[1, 0], 0).unwrap_err();
        assert!(e.contains("requires a buffer of at least 4 bytes"));
        assert_eq!(
            struct_unpack("<Z", &[1], 0).unwrap_err(),
            "bad char in struct format"
        );
        // native alignment pads before the int
        let v = struct_unpack("@bi", &[1, 0, 0, 0, 2, 0, 0, 0], 0).unwrap();
        assert!(matches!(v[1], Val::Int(2)));
    }
}
