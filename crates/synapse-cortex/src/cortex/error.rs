//! Errors of the storage layers as the cell's wire errors: the reference's class name, its
//! message and its info keys.

use synapse_cell::{ErrKind, Error};

use crate::model::ModelError;
use crate::view;

/// A cell error named `class` (with its [`ErrKind`] when the cell knows the class, so HTTP
/// statuses map right).
pub(crate) fn named(class: &str, mesg: impl Into<String>) -> Error {
    match ErrKind::from_name(class) {
        Some(kind) => Error::new(kind, mesg),
        None => Error::named(class, mesg),
    }
}

/// A model error as a wire error (`BadTypeValu` with `name`, `NoSuchProp` with `name`, ...).
pub fn model_error(err: ModelError) -> Error {
    let base = named(err.class(), err.mesg());
    match &err {
        ModelError::BadTypeValu { name, .. }
        | ModelError::NoSuchForm { name }
        | ModelError::NoSuchProp { name, .. }
        | ModelError::NoSuchType { name }
        | ModelError::DupTagPropName { name }
        | ModelError::DupTypeName { name }
        | ModelError::CantDelType { name, .. } => base.with("name", name.as_str()),
        ModelError::NoSuchCmpr { cmpr, name } => {
            base.with("cmpr", cmpr.as_str()).with("name", name.as_str())
        }
        ModelError::BadCmprValu { cmpr, .. } => base.with("cmpr", cmpr.as_str()),
        _ => base,
    }
}

/// A view (or layer, editor) error as a wire error. A refused edit keeps the permission
/// hook's own error (`AuthDeny` with `perm`, `user`, `username`).
pub fn view_error(err: view::Error) -> Error {
    match err {
        view::Error::Model(err) => model_error(err),
        view::Error::Denied(source) => match source.downcast::<Error>() {
            Ok(err) => *err,
            Err(other) => Error::new(ErrKind::AuthDeny, other.to_string()),
        },
        view::Error::NoSuchProp { mesg, name } => named("NoSuchProp", mesg).with("name", name),
        view::Error::NoSuchView(iden) => {
            named("NoSuchView", format!("No such view iden={iden}")).with("iden", iden)
        }
        view::Error::NoSuchLayer(iden) => {
            named("NoSuchLayer", format!("No such layer {iden}")).with("iden", iden)
        }
        view::Error::IsDeprLocked { mesg, prop } => named("IsDeprLocked", mesg).with("prop", prop),
        view::Error::CantDelNode { mesg, form, iden } => named("CantDelNode", mesg)
            .with("form", form)
            .with("iden", iden),
        other => named(other.class(), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_info_survive() {
        let err = model_error(ModelError::BadTypeValu {
            name: "inet:ipv4".into(),
            mesg: "bad".into(),
        });
        assert_eq!(err.name(), "BadTypeValu");
        assert_eq!(err.get("name").and_then(|v| v.as_str()), Some("inet:ipv4"));
        let err = view_error(view::Error::BadArg("x".into()));
        assert_eq!(err.kind(), ErrKind::BadArg);
        let denied = Error::auth_deny("nope", "u", "visi").with("perm", "node.add.x");
        let err = view_error(view::Error::Denied(Box::new(denied)));
        assert_eq!(err.name(), "AuthDeny");
        assert_eq!(err.get("perm").and_then(|v| v.as_str()), Some("node.add.x"));
    }
}
