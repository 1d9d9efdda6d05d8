//! The tag model of a Cortex (the reference's `setTagModel`, `getTagModel`, `popTagModel`,
//! `delTagModel`, `listTagModel`): specifications validated with the reference's schema
//! messages, kept in the cell's hive and laid over the model, which checks them when tags are
//! normalized and deleted ([`crate::model::Model::check_tag`],
//! [`crate::model::Model::tag_prune`]). Also where the deprecation locks are loaded into the
//! model at boot.

use rmpv::Value;
use synapse_cell::{ErrKind, Error, Result};

use super::Cortex;

/// The hive path of the tag model specifications (a map of tag name to specification).
const TAGMETA_PATH: [&str; 2] = ["cortex", "tagmeta"];

fn violation(mesg: impl Into<String>) -> Error {
    super::error::named("SchemaViolation", mesg)
}

fn is_number(valu: &Value) -> bool {
    matches!(valu, Value::Integer(_) | Value::F32(_) | Value::F64(_))
}

fn number(valu: &Value) -> f64 {
    match valu {
        Value::Integer(i) => i.as_f64().unwrap_or(0.0),
        Value::F32(f) => f64::from(*f),
        Value::F64(f) => *f,
        _ => 0.0,
    }
}

/// The reference's tag model schema: `prune` a number of at least 1, `regex` an array of
/// strings or nulls, nothing else.
fn validate(meta: &[(String, Value)]) -> Result<()> {
    let get = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if let Some(prune) = get("prune") {
        if !is_number(prune) {
            return Err(violation("data.prune must be number"));
        }
        if number(prune) < 1.0 {
            return Err(violation("data.prune must be bigger than or equal to 1"));
        }
    }
    if let Some(regex) = get("regex") {
        let Value::Array(items) = regex else {
            return Err(violation("data.regex must be array"));
        };
        for (idx, item) in items.iter().enumerate() {
            if !item.is_str() && !item.is_nil() {
                return Err(violation(format!(
                    "data.regex[{idx}] must be string or null"
                )));
            }
        }
    }
    let mut extra: Vec<&str> = meta
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "prune" && *k != "regex")
        .collect();
    if !extra.is_empty() {
        extra.sort_unstable();
        let names: Vec<String> = extra.iter().map(|k| format!("'{k}'")).collect();
        return Err(violation(format!(
            "data must not contain {{{}}} properties",
            names.join(", ")
        )));
    }
    Ok(())
}

fn to_map(meta: Vec<(String, Value)>) -> Value {
    Value::Map(
        meta.into_iter()
            .map(|(k, v)| (Value::from(k.as_str()), v))
            .collect(),
    )
}

fn from_map(valu: &Value) -> Option<Vec<(String, Value)>> {
    match valu {
        Value::Map(items) => Some(
            items
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                .collect(),
        ),
        _ => None,
    }
}

impl Cortex {
    /// Lay the saved tag model and deprecation locks over the model (at boot).
    pub(super) fn load_model_rules(&self) {
        for (name, locked) in self.depr_locks() {
            if locked {
                self.model.set_depr_locked(&name, true);
            }
        }
        let saved = self.cell.hive().and_then(|hive| hive.get(&TAGMETA_PATH));
        if let Some(Value::Map(items)) = saved {
            for (tag, meta) in &items {
                if let (Some(tag), Some(meta)) = (tag.as_str(), from_map(meta)) {
                    self.model.put_tag_model(tag, Some(meta));
                }
            }
        }
    }

    async fn save_tag_models(&self) -> Result<()> {
        let hive = self
            .cell
            .hive()
            .ok_or_else(|| Error::new(ErrKind::SynErr, "This cortex has no hive."))?;
        let all = Value::Map(
            self.model
                .tag_models()
                .into_iter()
                .map(|(tag, meta)| (Value::from(tag.as_str()), to_map(meta)))
                .collect(),
        );
        hive.set(&TAGMETA_PATH, all)
            .await
            .map_err(|err| Error::new(ErrKind::SynErr, err.to_string()))?;
        Ok(())
    }

    /// `getTagModel()`: the specification of a tag (a map), if any.
    pub fn tag_model(&self, tag: &str) -> Option<Value> {
        self.model.tag_model(tag).map(to_map)
    }

    /// `listTagModel()`: every tag with its specification, by tag name.
    pub fn tag_models(&self) -> Vec<(String, Value)> {
        self.model
            .tag_models()
            .into_iter()
            .map(|(tag, meta)| (tag, to_map(meta)))
            .collect()
    }

    /// `setTagModel()`: set one property (`regex` or `prune`) of a tag's specification.
    pub async fn set_tag_model(&self, tag: &str, name: &str, valu: Value) -> Result<()> {
        let mut meta = self.model.tag_model(tag).unwrap_or_default();
        match meta.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = valu,
            None => meta.push((name.to_owned(), valu)),
        }
        validate(&meta)?;
        self.model.put_tag_model(tag, Some(meta));
        self.save_tag_models().await
    }

    /// `popTagModel()`: remove one property of a tag's specification; its value (nil when
    /// the tag or the property has none).
    pub async fn pop_tag_model(&self, tag: &str, name: &str) -> Result<Value> {
        let Some(mut meta) = self.model.tag_model(tag) else {
            return Ok(Value::Nil);
        };
        let Some(pos) = meta.iter().position(|(k, _)| k == name) else {
            return Ok(Value::Nil);
        };
        let (_, old) = meta.remove(pos);
        self.model.put_tag_model(tag, Some(meta));
        self.save_tag_models().await?;
        Ok(old)
    }

    /// `delTagModel()`: remove a tag's whole specification.
    pub async fn del_tag_model(&self, tag: &str) -> Result<()> {
        if self.model.tag_model(tag).is_none() {
            return Ok(());
        }
        self.model.put_tag_model(tag, None);
        self.save_tag_models().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, valu: Value) -> Vec<(String, Value)> {
        vec![(key.to_owned(), valu)]
    }

    #[test]
    fn schema_messages() {
        let mesg = |meta: Vec<(String, Value)>| validate(&meta).err().map(|e| e.to_string());
        assert_eq!(mesg(one("prune", Value::from(1))), None);
        assert!(
            mesg(one("prune", Value::from(0)))
                .unwrap()
                .contains("data.prune must be bigger than or equal to 1")
        );
        assert!(
            mesg(one("prune", Value::Boolean(true)))
                .unwrap()
                .contains("data.prune must be number")
        );
        assert!(
            mesg(one("regex", Value::Array(vec![Value::from(1)])))
                .unwrap()
                .contains("data.regex[0] must be string or null")
        );
        assert!(
            mesg(one("nope", Value::Nil))
                .unwrap()
                .contains("data must not contain {'nope'} properties")
        );
    }
}
