//! Deprecation warnings of Storm edits, as the reference's model callbacks give them: once per
//! query, a `warn` when a node of a deprecated form is added ("The form ... is deprecated or
//! using a deprecated type and will be removed in 3.0.0") or a deprecated property (or one of
//! a deprecated type) is set ("The property ..."). Deprecated props set as subs of another
//! value do not warn, and silence later warnings about the same prop in the query, as in the
//! reference.

use crate::model::Model;
use crate::nodeedit::{EditOp, NodeEdit};

use super::runt::Shared;
use super::value::lock;

fn form_mesg(form: &str) -> String {
    format!("The form {form} is deprecated or using a deprecated type and will be removed in 3.0.0")
}

fn prop_mesg(prop: &str) -> String {
    format!(
        "The property {prop} is deprecated or using a deprecated type and will be removed in 3.0.0"
    )
}

/// Warn about the deprecated forms and props of applied edits; `skips` are the props set as
/// subs (no warning for them in this query).
pub(crate) async fn warn_applied(
    shared: &Shared,
    model: &Model,
    batches: &[Vec<NodeEdit>],
    skips: Vec<String>,
) {
    if !skips.is_empty() {
        let mut warned = lock(&shared.warned);
        for prop in skips {
            warned.insert(prop_mesg(&prop));
        }
    }
    let mut mesgs = Vec::new();
    for batch in batches {
        collect(model, batch, &mut mesgs, 0);
    }
    for mesg in mesgs {
        shared.warnonce(&mesg).await;
    }
}

fn collect(model: &Model, edits: &[NodeEdit], out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    for nodeedit in edits {
        let Some(form) = model.form(&nodeedit.form) else {
            continue;
        };
        for edit in &nodeedit.edits {
            match &edit.op {
                EditOp::NodeAdd { .. } if form.is_deprecated() => {
                    out.push(form_mesg(form.name()));
                }
                EditOp::PropSet { prop, .. } => {
                    if let Some(prop) = form.prop(prop)
                        && (prop.is_deprecated() || prop.ty().is_deprecated())
                    {
                        out.push(prop_mesg(prop.full()));
                    }
                }
                _ => {}
            }
            collect(model, &edit.nested, out, depth + 1);
        }
    }
}
