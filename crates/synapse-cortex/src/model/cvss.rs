//! CVSS v2 and v3.x vector strings: validation and canonical ordering.

use rmpv::Value;

use super::NormInfo;
use super::error::Result;
use super::types::{Normed, bad};

type Metric = (&'static str, &'static [&'static str], bool);

const CVSS2: &[Metric] = &[
    ("AV", &["L", "A", "N"], true),
    ("AC", &["H", "M", "L"], true),
    ("Au", &["M", "S", "N"], true),
    ("C", &["N", "P", "C"], true),
    ("I", &["N", "P", "C"], true),
    ("A", &["N", "P", "C"], true),
    ("E", &["U", "POC", "F", "H", "ND"], false),
    ("RL", &["OF", "TF", "W", "U", "ND"], false),
    ("RC", &["UC", "UR", "C", "ND"], false),
    ("CDP", &["N", "L", "LM", "MH", "H", "ND"], false),
    ("TD", &["N", "L", "M", "H", "ND"], false),
    ("CR", &["L", "M", "H", "ND"], false),
    ("IR", &["L", "M", "H", "ND"], false),
    ("AR", &["L", "M", "H", "ND"], false),
];

const CVSS3: &[Metric] = &[
    ("AV", &["N", "A", "L", "P"], true),
    ("AC", &["L", "H"], true),
    ("PR", &["N", "L", "H"], true),
    ("UI", &["N", "R"], true),
    ("S", &["U", "C"], true),
    ("C", &["H", "L", "N"], true),
    ("I", &["H", "L", "N"], true),
    ("A", &["H", "L", "N"], true),
    ("E", &["X", "H", "F", "P", "U"], false),
    ("RL", &["X", "U", "W", "T", "O"], false),
    ("RC", &["X", "C", "R", "U"], false),
    ("CR", &["X", "H", "M", "L"], false),
    ("IR", &["X", "H", "M", "L"], false),
    ("AR", &["X", "H", "M", "L"], false),
    ("MAV", &["X", "N", "A", "L", "P"], false),
    ("MAC", &["X", "L", "H"], false),
    ("MPR", &["X", "N", "L", "H"], false),
    ("MUI", &["X", "N", "R"], false),
    ("MS", &["X", "U", "C"], false),
    ("MC", &["X", "N", "L", "H"], false),
    ("MI", &["X", "N", "L", "H"], false),
    ("MA", &["X", "N", "L", "H"], false),
];

fn normalize(
    name: &str,
    vect: &str,
    metrics: &[Metric],
    tags: &[&str],
    undefined: &str,
) -> Result<Normed> {
    let err = |m: String| bad(name, m);
    let mut v = vect.trim_matches('(').trim_matches(')');
    for tag in tags {
        if let Some(rest) = v.strip_prefix(tag) {
            v = rest;
        }
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in v.split('/') {
        let kv: Vec<&str> = piece.split(':').collect();
        if kv.len() != 2 {
            return Err(err(format!("Provided vector {vect} malformed")));
        }
        pairs.push((kv[0].to_string(), kv[1].to_string()));
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut repeated: Vec<&str> = Vec::new();
    for (k, _) in &pairs {
        if seen.contains(&k.as_str()) {
            repeated.push(k);
        }
        seen.push(k);
    }
    if !repeated.is_empty() {
        return Err(err(format!(
            "Provided vectors {vect} contains duplicate metrics: {}",
            repeated.join(", ")
        )));
    }
    let invalid: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !metrics.iter().any(|(m, _, _)| m == k))
        .collect();
    if !invalid.is_empty() {
        return Err(err(format!(
            "Provided vector {vect} contains invalid metrics: {}",
            invalid.join(", ")
        )));
    }
    let get = |m: &str| pairs.iter().find(|(k, _)| k == m).map(|(_, v)| v.as_str());
    let mut missing = Vec::new();
    let mut badvals = Vec::new();
    for (metric, valids, mandatory) in metrics {
        let val = get(metric);
        if *mandatory && val.is_none() {
            missing.push(*metric);
        }
        if let Some(val) = val
            && !valids.contains(&val)
        {
            badvals.push(format!("{metric}:{val}"));
        }
    }
    if !missing.is_empty() {
        return Err(err(format!(
            "Provided vector {vect} missing mandatory metric(s): {}",
            missing.join(", ")
        )));
    }
    if !badvals.is_empty() {
        return Err(err(format!(
            "Provided vector {vect} contains invalid metric value(s): {}",
            badvals.join(", ")
        )));
    }
    let vals: Vec<String> = metrics
        .iter()
        .filter_map(|(m, _, _)| {
            get(m)
                .filter(|v| *v != undefined)
                .map(|v| format!("{m}:{v}"))
        })
        .collect();
    Ok((Value::from(vals.join("/")), NormInfo::default()))
}

pub(crate) fn norm_cvss2(name: &str, text: &str) -> Result<Normed> {
    normalize(name, text, CVSS2, &["CVSS2#"], "ND")
}

pub(crate) fn norm_cvss3(name: &str, text: &str) -> Result<Normed> {
    normalize(name, text, CVSS3, &["CVSS:3.1/", "CVSS:3.0/"], "X")
}
