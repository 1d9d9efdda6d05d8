//! Data model tests: table tests against vectors recorded from the reference
//! (`tests/data/gen_model_vectors.py`), creatability of every form, and property tests.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rmpv::Value;
use serde_json::Value as Json;
use synapse_cortex::model::{Model, NormInfo, time};

const VECTORS: &str = include_str!("data/model_vectors.json");

/// Decode the tagged JSON of the generator into a msgpack value.
fn dec(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(dec).collect()),
        Json::Object(map) => {
            if let Some(Json::String(h)) = map.get("$b") {
                return Value::Binary(hex::decode(h).unwrap());
            }
            if let Some(Json::String(f)) = map.get("$f") {
                return Value::F64(match f.as_str() {
                    "nan" => f64::NAN,
                    "inf" => f64::INFINITY,
                    _ => f64::NEG_INFINITY,
                });
            }
            if let Some(Json::String(i)) = map.get("$i") {
                if !i.starts_with('-') {
                    return Value::Ext(0, decimal_to_bytes(i));
                }
                let v: i128 = i.parse().unwrap();
                let bytes = v.to_be_bytes();
                if v > 0 {
                    let skip = bytes.iter().take_while(|b| **b == 0).count();
                    return Value::Ext(0, bytes[skip..].to_vec());
                }
                let bitlen = 128 - (!v).leading_zeros() as usize;
                return Value::Ext(1, bytes[16 - (bitlen / 8 + 1)..].to_vec());
            }
            if let Some(Json::Array(pairs)) = map.get("$d") {
                return Value::Map(pairs.iter().map(|p| (dec(&p[0]), dec(&p[1]))).collect());
            }
            panic!("unknown tagged value {j}");
        }
    }
}

/// Big-endian magnitude bytes of a non-negative decimal string.
fn decimal_to_bytes(text: &str) -> Vec<u8> {
    let mut digits: Vec<u32> = text.bytes().map(|b| u32::from(b - b'0')).collect();
    let mut out = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let cur = rem * 10 + *d;
            *d = cur / 256;
            rem = cur % 256;
        }
        out.push(rem as u8);
    }
    out.reverse();
    out
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| same(i, j))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => a == b,
    }
}

fn subs_map(info: &NormInfo) -> BTreeMap<String, Value> {
    info.subs.iter().cloned().collect()
}

fn want_subs(j: &Json) -> BTreeMap<String, Value> {
    match dec(j) {
        Value::Map(items) => items
            .into_iter()
            .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
            .collect(),
        other => panic!("bad subs {other}"),
    }
}

fn is_guid(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn reference_vectors() {
    let model = Model::load_default().unwrap();
    let doc: Json = serde_json::from_str(VECTORS).unwrap();
    time::set_fixed_now(Some(doc["now"].as_i64().unwrap()));
    let vectors = doc["vectors"].as_array().unwrap();
    let mut failures = Vec::new();
    for vect in vectors {
        let tname = vect["type"].as_str().unwrap();
        let ty = match vect.get("prop").and_then(Json::as_str) {
            Some(prop) => model
                .prop(prop)
                .unwrap_or_else(|| panic!("no prop {prop}"))
                .ty(),
            None => model.ty(tname).unwrap_or_else(|| panic!("no type {tname}")),
        };
        let input = dec(&vect["input"]);
        let got = ty.norm(&input);
        let ctx = format!("{tname} {}", vect["input"]);
        match (vect.get("error"), got) {
            (Some(err), Err(e)) => {
                let (cls, mesg) = (
                    err[0].as_str().unwrap(),
                    err[1].as_str().unwrap_or_default(),
                );
                if vect.get("pyexc").is_some() {
                    continue;
                }
                if cls != e.class() || mesg != e.mesg() {
                    failures.push(format!(
                        "{ctx}: error {cls}: {mesg:?} != {}: {:?}",
                        e.class(),
                        e.mesg()
                    ));
                }
            }
            (Some(err), Ok((norm, _))) => {
                failures.push(format!("{ctx}: expected error {err}, got {norm}"))
            }
            (None, Err(e)) => failures.push(format!(
                "{ctx}: expected {}, got error {}: {}",
                vect["norm"],
                e.class(),
                e.mesg()
            )),
            (None, Ok((norm, info))) => {
                if vect.get("random").is_some() {
                    let vals = match &norm {
                        Value::Array(items) => items.clone(),
                        other => vec![other.clone()],
                    };
                    for v in vals {
                        let text = v.as_str().unwrap_or_default();
                        if !is_guid(text.strip_prefix("guid:").unwrap_or(text)) {
                            failures.push(format!("{ctx}: random value {norm} is not a guid"));
                        }
                    }
                    continue;
                }
                let want = dec(&vect["norm"]);
                if !same(&want, &norm) {
                    failures.push(format!("{ctx}: norm {want} != {norm}"));
                    continue;
                }
                let (wsubs, gsubs) = (want_subs(&vect["subs"]), subs_map(&info));
                if wsubs.len() != gsubs.len()
                    || !wsubs
                        .iter()
                        .all(|(k, v)| gsubs.get(k).is_some_and(|g| same(v, g)))
                {
                    failures.push(format!("{ctx}: subs {wsubs:?} != {gsubs:?}"));
                }
                let wadds: Vec<(String, Value)> = vect["adds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| (a[0].as_str().unwrap().to_string(), dec(&a[1])))
                    .collect();
                let gadds: Vec<(String, Value)> = info
                    .adds
                    .iter()
                    .map(|a| (a.form.clone(), a.valu.clone()))
                    .collect();
                if wadds.len() != gadds.len()
                    || !wadds
                        .iter()
                        .zip(&gadds)
                        .all(|(w, g)| w.0 == g.0 && same(&w.1, &g.1))
                {
                    failures.push(format!("{ctx}: adds {wadds:?} != {gadds:?}"));
                }
                if let Some(toks) = vect.get("toks") {
                    let want: Vec<String> = toks
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().into())
                        .collect();
                    if want != info.toks {
                        failures.push(format!("{ctx}: toks {want:?} != {:?}", info.toks));
                    }
                }
                if let Some(repr) = vect.get("repr") {
                    match ty.repr(&norm) {
                        Ok(got) if same(&dec(repr), &got) => {}
                        Ok(got) => failures.push(format!("{ctx}: repr {repr} != {got}")),
                        Err(e) => failures.push(format!("{ctx}: repr error {e}")),
                    }
                }
            }
        }
    }
    time::set_fixed_now(None);
    for f in failures.iter().take(400) {
        eprintln!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ from the reference",
        failures.len(),
        vectors.len()
    );
}
