//! The password policy (`auth:passwd:policy`): complexity, failed-attempt lockout and
//! reuse of previous passwords.

use serde_json::Value as Json;

use crate::config::{ConfType, Schema};
use crate::error::{Error, Result};
use crate::util::pyrepr;

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// The schema of `auth:passwd:policy`.
pub fn policy_schema() -> Schema {
    use ConfType::{Null, Number, Object, String};
    let count = || Schema::of(&[Number, Null]);
    let valid = || Schema::of(&[String, Null]).min_length(1);
    Schema::of(&[Object])
        .property(
            "complexity",
            Schema::of(&[Object, Null])
                .property("length", Schema::of(&[Number, Null]).minimum(1.0))
                .property("sequences", Schema::of(&[Number, Null]).minimum(2.0))
                .property("upper:count", count())
                .property("upper:valid", valid())
                .property("lower:count", count().minimum(0.0))
                .property("lower:valid", valid())
                .property("special:count", count().minimum(0.0))
                .property("special:valid", valid())
                .property("number:count", count().minimum(0.0))
                .property("number:valid", valid())
                .closed(),
        )
        .property("attempts", Schema::of(&[Number, Null]).minimum(1.0))
        .property("previous", Schema::of(&[Number, Null]).minimum(1.0))
        .closed()
}

/// One character class of the complexity rules.
#[derive(Debug, Clone)]
struct Class {
    what: &'static str,
    count: Option<f64>,
    valid: Option<String>,
}

/// A parsed password policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    complexity: Option<Complexity>,
    /// Failed logins before the user is locked.
    pub attempts: Option<i64>,
    /// How many previous passwords may not be reused.
    pub previous: Option<usize>,
}

#[derive(Debug, Clone)]
struct Complexity {
    length: Option<f64>,
    sequences: Option<f64>,
    classes: Vec<Class>,
}

fn num(valu: Option<&Json>) -> Option<f64> {
    valu.and_then(Json::as_f64)
}

impl Policy {
    /// Parse a (schema-valid) policy object.
    pub fn from_json(valu: &Json) -> Self {
        let complexity = valu.get("complexity").filter(|c| c.is_object()).map(|c| {
            let class = |what: &'static str, key: &str, default: &str| {
                let valid = match c.get(format!("{key}:valid").as_str()) {
                    None => Some(default.to_string()),
                    Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(_) => None,
                };
                let count = match c.get(format!("{key}:count").as_str()) {
                    None => Some(0.0),
                    Some(other) => other.as_f64(),
                };
                Class { what, count, valid }
            };
            Complexity {
                length: num(c.get("length")),
                sequences: num(c.get("sequences")),
                classes: vec![
                    class("uppercase", "upper", UPPER),
                    class("lowercase", "lower", LOWER),
                    class("special", "special", PUNCT),
                    class("digit", "number", DIGITS),
                ],
            }
        });
        Self {
            complexity,
            attempts: num(valu.get("attempts")).map(|n| n.ceil() as i64),
            previous: num(valu.get("previous")).map(|n| n.ceil().max(0.0) as usize),
        }
    }

    /// The complexity failures of `passwd` (empty if it passes).
    pub fn complexity_failures(&self, passwd: Option<&str>) -> Vec<String> {
        let mut failures = Vec::new();
        let Some(complexity) = &self.complexity else {
            return failures;
        };
        if let Some(min) = complexity.length
            && passwd.is_none_or(|p| (p.chars().count() as f64) < min)
        {
            failures.push(format!(
                "Password must be at least {} characters.",
                fmt(min)
            ));
        }
        let passwd = match (passwd, complexity.length) {
            (Some(p), _) => p,
            (None, Some(_)) => "",
            (None, None) => return failures,
        };
        let mut allvalid = String::new();
        for class in &complexity.classes {
            let Some(valid) = &class.valid else { continue };
            allvalid.push_str(valid);
            if let Some(count) = class.count {
                let found = passwd.chars().filter(|c| valid.contains(*c)).count();
                if (found as f64) < count {
                    failures.push(format!(
                        "Password must contain at least {} {} characters, {found} found.",
                        fmt(count),
                        class.what
                    ));
                }
            }
        }
        if !allvalid.is_empty() {
            let mut invalid: Vec<char> =
                passwd.chars().filter(|c| !allvalid.contains(*c)).collect();
            invalid.sort_unstable();
            invalid.dedup();
            if !invalid.is_empty() {
                let items: Vec<String> = invalid.iter().map(|c| pyrepr(&c.to_string())).collect();
                failures.push(format!(
                    "Password contains invalid characters: [{}]",
                    items.join(", ")
                ));
            }
        }
        if let Some(seqlen) = complexity.sequences {
            let seqlen = seqlen as usize;
            let codes: Vec<i64> = passwd.chars().map(|c| i64::from(u32::from(c))).collect();
            if seqlen >= 2 && codes.len() >= seqlen {
                let found = codes.windows(seqlen).any(|window| {
                    let first = window[0];
                    let fwd = window
                        .iter()
                        .enumerate()
                        .all(|(i, c)| *c == first + i as i64);
                    let rev = window
                        .iter()
                        .enumerate()
                        .all(|(i, c)| *c == first - i as i64);
                    fwd || rev
                });
                if found {
                    failures.push(format!(
                        "Password must not contain forward/reverse sequences longer than {seqlen} characters."
                    ));
                }
            }
        }
        failures
    }
}

fn fmt(num: f64) -> String {
    if num.fract() == 0.0 {
        format!("{}", num as i64)
    } else {
        format!("{num}")
    }
}

/// The `BadArg` raised for policy failures.
pub(crate) fn policy_error(failures: Vec<String>) -> Error {
    let mut mesg =
        vec!["Cannot change password due to the following policy violations:".to_string()];
    mesg.extend(failures.iter().map(|f| format!("  - {f}")));
    Error::bad_arg(mesg.join("\n")).with(
        "failures",
        rmpv::Value::Array(
            failures
                .iter()
                .map(|f| rmpv::Value::from(f.as_str()))
                .collect(),
        ),
    )
}

/// Validate a policy object.
pub(crate) fn check_policy(valu: &Json) -> Result<()> {
    policy_schema()
        .validate(valu, "data")
        .map_err(|mesg| Error::new(crate::error::ErrKind::SchemaViolation, mesg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn complexity_rules() {
        let policy = Policy::from_json(&json!({"complexity": {
            "length": 8, "sequences": 3, "upper:count": 1, "lower:count": 1,
            "special:count": 1, "number:count": 1}}));
        assert!(policy.complexity_failures(Some("Aa1!xyzq")).len() == 1); // xyz sequence
        assert!(policy.complexity_failures(Some("Aa1!xzqw")).is_empty());
        let fails = policy.complexity_failures(Some("abc"));
        assert!(fails.contains(&"Password must be at least 8 characters.".to_string()));
        assert!(fails.contains(
            &"Password must contain at least 1 uppercase characters, 0 found.".to_string()
        ));
        let fails = policy.complexity_failures(Some("Aa1! xzqw"));
        assert_eq!(
            fails,
            vec!["Password contains invalid characters: [' ']".to_string()]
        );
        let fails = policy.complexity_failures(None);
        assert!(fails.contains(&"Password must be at least 8 characters.".to_string()));
    }

    #[test]
    fn null_valid_drops_a_class() {
        let policy = Policy::from_json(
            &json!({"complexity": {"upper:valid": null, "lower:valid": null,
            "special:valid": null, "number:valid": null}}),
        );
        assert!(
            policy
                .complexity_failures(Some("anything goes ☃"))
                .is_empty()
        );
    }

    #[test]
    fn policy_schema_refuses_unknown_keys() {
        assert!(check_policy(&json!({"attempts": 3, "previous": 2})).is_ok());
        assert!(check_policy(&json!({"attempts": 0})).is_err());
        assert!(check_policy(&json!({"nope": 1})).is_err());
    }
}
