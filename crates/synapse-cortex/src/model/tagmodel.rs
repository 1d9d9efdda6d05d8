//! The per-Cortex rules laid over a model at runtime: the tag model (the reference's
//! `setTagModel`: a regular expression per tag level, checked whenever a `syn:tag` value is
//! normalized, and `prune`, used when a tag is deleted) and the deprecation locks (forms and
//! props that may no longer be edited).
//!
//! Both are replaced as a whole on change (changes are rare) and read without a write lock;
//! a model without any pays one atomic load per check.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use regex::Regex;
use rmpv::Value;

use super::Model;

/// One tag's model specification: its keys in the order they were set, and the compiled
/// level regexes (`None` for a level without one; a pattern that does not compile matches
/// nothing).
#[derive(Debug, Clone, Default)]
struct Spec {
    meta: Vec<(String, Value)>,
    regex: Option<Vec<Option<Option<Regex>>>>,
    prune: i64,
}

impl Spec {
    fn new(meta: Vec<(String, Value)>) -> Spec {
        let get = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let regex = match get("regex") {
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(|pat| Regex::new(&format!("^(?:{pat})$")).ok())
                    })
                    .collect(),
            ),
            _ => None,
        };
        let prune = match get("prune") {
            Some(Value::F64(f)) => *f as i64,
            Some(Value::F32(f)) => *f as i64,
            Some(other) => other.as_i64().unwrap_or(0),
            None => 0,
        };
        Spec { meta, regex, prune }
    }

    fn pattern(&self, idx: usize) -> Option<&str> {
        let regex = self.meta.iter().find(|(k, _)| k == "regex")?;
        match &regex.1 {
            Value::Array(items) => items.get(idx).and_then(Value::as_str),
            _ => None,
        }
    }
}

/// The tag model and deprecation locks of one model.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    any_tags: AtomicBool,
    tags: RwLock<Arc<BTreeMap<String, Spec>>>,
    any_locks: AtomicBool,
    locks: RwLock<Arc<HashSet<String>>>,
}

/// The tag and its ancestors, shortest first (`a`, `a.b`, `a.b.c`).
fn ancestors(tag: &str) -> impl Iterator<Item = &str> {
    tag.match_indices('.')
        .map(|(idx, _)| &tag[..idx])
        .chain(std::iter::once(tag))
}

impl Model {
    fn rule_tags(&self) -> Arc<BTreeMap<String, Spec>> {
        Arc::clone(&self.rules.tags.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn store_tags(&self, tags: BTreeMap<String, Spec>) {
        self.rules
            .any_tags
            .store(!tags.is_empty(), Ordering::Release);
        *self.rules.tags.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(tags);
    }

    /// The model specification of a tag (`getTagModel`), its keys in the order they were set.
    pub fn tag_model(&self, tag: &str) -> Option<Vec<(String, Value)>> {
        self.rule_tags().get(tag).map(|spec| spec.meta.clone())
    }

    /// Every tag model specification, by tag name (`listTagModel`).
    pub fn tag_models(&self) -> Vec<(String, Vec<(String, Value)>)> {
        self.rule_tags()
            .iter()
            .map(|(tag, spec)| (tag.clone(), spec.meta.clone()))
            .collect()
    }

    /// Replace (or with `None`, remove) the model specification of a tag. The caller has
    /// validated it.
    pub fn put_tag_model(&self, tag: &str, meta: Option<Vec<(String, Value)>>) {
        let mut tags = (*self.rule_tags()).clone();
        match meta {
            Some(meta) => {
                tags.insert(tag.to_owned(), Spec::new(meta));
            }
            None => {
                tags.remove(tag);
            }
        }
        self.store_tags(tags);
    }

    /// Whether a normalized tag matches the tag model: for the tag and each ancestor with a
    /// `regex` list, each level (counted from the root) with a pattern must match it whole.
    /// The error is the reference's message.
    pub fn check_tag(&self, tag: &str) -> Result<(), String> {
        if !self.rules.any_tags.load(Ordering::Acquire) {
            return Ok(());
        }
        let tags = self.rule_tags();
        let parts: Vec<&str> = tag.split('.').collect();
        for name in ancestors(tag) {
            let Some(spec) = tags.get(name) else {
                continue;
            };
            let Some(regex) = &spec.regex else {
                continue;
            };
            for (idx, (part, pat)) in parts.iter().zip(regex).enumerate() {
                let Some(compiled) = pat else {
                    continue;
                };
                if !compiled.as_ref().is_some_and(|re| re.is_match(part)) {
                    return Err(format!(
                        "Tag part ({part}) of tag ({tag}) does not match the tag model regex: [{}]",
                        spec.pattern(idx).unwrap_or_default()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The tags to prune when the last child of `tag` is deleted (the reference's
    /// `getTagPrune`): from the first ancestor with `prune`, that many levels down, only when
    /// they reach `tag` itself. Shortest first.
    pub fn tag_prune(&self, tag: &str) -> Vec<String> {
        if !self.rules.any_tags.load(Ordering::Acquire) {
            return Vec::new();
        }
        let tags = self.rule_tags();
        let mut prune = Vec::new();
        let mut pruning = 0;
        for name in ancestors(tag) {
            if pruning > 0 {
                pruning -= 1;
                prune.push(name.to_owned());
                continue;
            }
            let Some(spec) = tags.get(name) else {
                continue;
            };
            pruning = spec.prune;
            if pruning > 0 {
                pruning -= 1;
                prune.push(name.to_owned());
            }
        }
        if prune.last().is_some_and(|last| last != tag) {
            return Vec::new();
        }
        prune
    }

    /// Lock or unlock a form or property name against edits (`setDeprLock`; the caller checks
    /// that it names a deprecated element).
    pub fn set_depr_locked(&self, name: &str, locked: bool) {
        let mut locks = (**self.rules.locks.read().unwrap_or_else(|e| e.into_inner())).clone();
        if locked {
            locks.insert(name.to_owned());
        } else {
            locks.remove(name);
        }
        self.rules
            .any_locks
            .store(!locks.is_empty(), Ordering::Release);
        *self.rules.locks.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(locks);
    }

    /// Whether a form or full property name is locked against edits.
    pub fn is_depr_locked(&self, name: &str) -> bool {
        self.rules.any_locks.load(Ordering::Acquire)
            && self
                .rules
                .locks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(items: &[Option<&str>]) -> Vec<(String, Value)> {
        let items = items
            .iter()
            .map(|i| i.map_or(Value::Nil, Value::from))
            .collect();
        vec![("regex".to_owned(), Value::Array(items))]
    }

    #[test]
    fn regexes_apply_per_level_from_the_root() {
        let model = Model::new_default().unwrap();
        assert_eq!(model.check_tag("cno.cve.foo"), Ok(()));
        model.put_tag_model(
            "cno.cve",
            Some(regex(&[None, None, Some("[0-9]{4}"), Some("[0-9]{5}")])),
        );
        assert_eq!(model.check_tag("cno.cve.2021.12345.more"), Ok(()));
        assert_eq!(model.check_tag("cno.other.foo"), Ok(()));
        assert_eq!(
            model.check_tag("cno.cve.2021.1234"),
            Err("Tag part (1234) of tag (cno.cve.2021.1234) does not match the tag model regex: [[0-9]{5}]".into())
        );
        // whole-part matches only
        assert!(model.check_tag("cno.cve.20211").is_err());
        model.put_tag_model("cno.cve", None);
        assert_eq!(model.check_tag("cno.cve.2021.1234"), Ok(()));
    }

    #[test]
    fn prune_reaches_the_tag_or_nothing() {
        let model = Model::new_default().unwrap();
        let prune = |n: i64| vec![("prune".to_owned(), Value::from(n))];
        model.put_tag_model("a.b", Some(prune(1)));
        assert_eq!(model.tag_prune("a.b"), vec!["a.b".to_owned()]);
        assert!(model.tag_prune("a.b.c").is_empty());
        model.put_tag_model("p", Some(prune(5)));
        assert_eq!(
            model.tag_prune("p.q"),
            vec!["p".to_owned(), "p.q".to_owned()]
        );
    }

    #[test]
    fn locks_toggle() {
        let model = Model::new_default().unwrap();
        assert!(!model.is_depr_locked("ps:tokn"));
        model.set_depr_locked("ps:tokn", true);
        assert!(model.is_depr_locked("ps:tokn"));
        model.set_depr_locked("ps:tokn", false);
        assert!(!model.is_depr_locked("ps:tokn"));
    }
}
