//! Nodes as a view sees them (storage nodes of every layer joined), and packed nodes
//! ("podes"): `[[form, valu], {"iden", "tags", "props", "tagprops", "nodedata", ...}]`.

use rmpv::Value;

use crate::layer::Sode;
use crate::model::Model;
use crate::nodeedit::{Buid, TagIval, ival_value};

/// A node: the storage nodes of a view's layers joined, the top layer winning for each
/// property, tag and tag property.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node id.
    pub buid: Buid,
    /// The form.
    pub form: String,
    /// The primary value.
    pub valu: Value,
    /// Properties by relative name (`asn`, `.created`), in the order first set.
    pub props: Vec<(String, Value)>,
    /// Tags and their intervals (ancestors included).
    pub tags: Vec<(String, TagIval)>,
    /// Tag properties: tag → [(prop, value)].
    pub tagprops: Vec<(String, Vec<(String, Value)>)>,
    /// Node data loaded with the node (only by a data-name lift, or explicitly).
    pub nodedata: Vec<(String, Value)>,
    /// Index (0 = top) of the layer holding the primary value.
    pub ndef_layer: usize,
}

/// Options for [`Node::pack`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackOpts {
    /// Add `repr`, `reprs` and `tagpropreprs` (Storm `opts.repr`).
    pub repr: bool,
}

fn set_entry<T>(items: &mut Vec<(String, T)>, name: &str, valu: T) {
    match items.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = valu,
        None => items.push((name.to_owned(), valu)),
    }
}

impl Node {
    /// Join storage nodes given top layer first; `None` if no layer holds the primary value.
    pub fn join(buid: Buid, sodes: &[Option<Sode>]) -> Option<Node> {
        let mut node = Node {
            buid,
            form: String::new(),
            valu: Value::Nil,
            props: Vec::new(),
            tags: Vec::new(),
            tagprops: Vec::new(),
            nodedata: Vec::new(),
            ndef_layer: 0,
        };
        let mut found = false;
        for (idx, sode) in sodes.iter().enumerate().rev() {
            let Some(sode) = sode else { continue };
            if let (Some((valu, _)), Some(form)) = (&sode.valu, &sode.form) {
                node.form = form.clone();
                node.valu = valu.clone();
                node.ndef_layer = idx;
                found = true;
            }
            for (name, valu, _) in &sode.props {
                set_entry(&mut node.props, name, valu.clone());
            }
            for (name, ival) in &sode.tags {
                set_entry(&mut node.tags, name, *ival);
            }
            for (tag, props) in &sode.tagprops {
                let idx = match node.tagprops.iter().position(|(t, _)| t == tag) {
                    Some(idx) => idx,
                    None => {
                        node.tagprops.push((tag.clone(), Vec::new()));
                        node.tagprops.len() - 1
                    }
                };
                for (name, valu, _) in props {
                    set_entry(&mut node.tagprops[idx].1, name, valu.clone());
                }
            }
        }
        found.then_some(node)
    }

    /// The 64 hex char iden.
    pub fn iden(&self) -> String {
        hex::encode(self.buid)
    }

    /// `[form, valu]`.
    pub fn ndef(&self) -> Value {
        Value::Array(vec![Value::from(self.form.as_str()), self.valu.clone()])
    }

    /// A property value (relative name; `#tag` gives the tag value like the reference).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A tag's interval.
    pub fn tag(&self, name: &str) -> Option<TagIval> {
        self.tags.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// A tag property value.
    pub fn tagprop(&self, tag: &str, prop: &str) -> Option<&Value> {
        self.tagprops
            .iter()
            .find(|(t, _)| t == tag)
            .and_then(|(_, props)| props.iter().find(|(n, _)| n == prop))
            .map(|(_, v)| v)
    }

    /// Tags without descendants on the node (the reference's `getTags(leaf=True)`).
    pub fn leaf_tags(&self) -> Vec<&str> {
        self.tags
            .iter()
            .map(|(t, _)| t.as_str())
            .filter(|tag| {
                let pref = format!("{tag}.");
                !self.tags.iter().any(|(other, _)| other.starts_with(&pref))
            })
            .collect()
    }

    /// The packed node: `[[form, valu], {iden, tags, props, tagprops, nodedata}]`, plus `repr`
    /// (when it differs from the value), `reprs` and `tagpropreprs` with [`PackOpts::repr`].
    /// Storm adds `path` and the other optional keys.
    pub fn pack(&self, model: &Model, opts: PackOpts) -> Value {
        let text = |s: &str| Value::from(s);
        let tags = self
            .tags
            .iter()
            .map(|(n, v)| (text(n), ival_value(*v)))
            .collect();
        let props = self
            .props
            .iter()
            .map(|(n, v)| (text(n), v.clone()))
            .collect();
        let tagprops = self
            .tagprops
            .iter()
            .map(|(tag, props)| {
                let props = props.iter().map(|(n, v)| (text(n), v.clone())).collect();
                (text(tag), Value::Map(props))
            })
            .collect();
        let nodedata = self
            .nodedata
            .iter()
            .map(|(n, v)| (text(n), v.clone()))
            .collect();
        let mut info = vec![
            (text("iden"), Value::from(self.iden())),
            (text("tags"), Value::Map(tags)),
            (text("props"), Value::Map(props)),
            (text("tagprops"), Value::Map(tagprops)),
            (text("nodedata"), Value::Map(nodedata)),
        ];
        if opts.repr {
            let form = model.form(&self.form);
            if let Some(form) = form
                && let Ok(repr) = form.ty().repr(&self.valu)
                && repr != self.valu
            {
                info.push((text("repr"), repr));
            }
            let mut reprs = Vec::new();
            for (name, valu) in &self.props {
                let Some(prop) = form.and_then(|f| f.prop(name)) else {
                    continue;
                };
                if let Ok(repr) = prop.ty().repr(valu)
                    && repr != *valu
                {
                    reprs.push((text(name), repr));
                }
            }
            info.push((text("reprs"), Value::Map(reprs)));
            let mut tpreprs = Vec::new();
            for (tag, props) in &self.tagprops {
                let mut items = Vec::new();
                for (name, valu) in props {
                    let Some(ty) = tagprop_type(model, name) else {
                        continue;
                    };
                    if let Ok(repr) = ty.repr(valu)
                        && repr != *valu
                    {
                        items.push((text(name), repr));
                    }
                }
                if !items.is_empty() {
                    tpreprs.push((text(tag), Value::Map(items)));
                }
            }
            info.push((text("tagpropreprs"), Value::Map(tpreprs)));
        }
        Value::Array(vec![self.ndef(), Value::Map(info)])
    }
}

/// The type of a declared tag property.
pub(crate) fn tagprop_type<'m>(model: &'m Model, name: &str) -> Option<crate::model::Type<'m>> {
    let tagprops = model.tagprops();
    let tdef = tagprops.get(name)?;
    let typedef = tdef.get("type")?;
    let tname = typedef.get(0)?.as_str()?;
    match typedef.get(1).and_then(serde_json::Value::as_object) {
        Some(opts) if !opts.is_empty() => model.ty_with_opts(tname, opts).ok(),
        _ => model.ty(tname),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sode(form: Option<&str>, valu: Option<i64>) -> Sode {
        Sode {
            form: form.map(str::to_owned),
            valu: valu.map(|v| (Value::from(v), 4)),
            ..Sode::default()
        }
    }

    #[test]
    fn top_layer_wins_and_order_is_kept() {
        let mut bottom = sode(Some("inet:ipv4"), Some(1));
        bottom.set_prop(".created", Value::from(5), 21);
        bottom.set_prop("asn", Value::from(1), 9);
        bottom.set_tag("foo", (None, None));
        let mut top = sode(Some("inet:ipv4"), None);
        top.set_prop("asn", Value::from(2), 9);
        top.set_prop("type", Value::from("unicast"), 1);
        top.set_tag("foo", (Some(1), Some(2)));
        let node = Node::join([1; 32], &[Some(top), None, Some(bottom)]).unwrap();
        assert_eq!(node.ndef_layer, 2);
        let names: Vec<&str> = node.props.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec![".created", "asn", "type"]);
        assert_eq!(node.get("asn"), Some(&Value::from(2)));
        assert_eq!(node.tag("foo"), Some((Some(1), Some(2))));
        assert!(Node::join([1; 32], &[Some(sode(Some("x"), None)), None]).is_none());
    }

    #[test]
    fn leaf_tags_skip_ancestors() {
        let mut s = sode(Some("inet:ipv4"), Some(1));
        s.set_tag("a", (None, None));
        s.set_tag("a.b", (None, None));
        s.set_tag("c", (None, None));
        let node = Node::join([0; 32], &[Some(s)]).unwrap();
        assert_eq!(node.leaf_tags(), vec!["a.b", "c"]);
    }
}
