//! Errors raised by the data model, named after the reference's exception classes.

/// An error from the data model.
///
/// Every variant maps to one of the reference's exception class names (see [`ModelError::class`])
/// so that the Cortex APIs can send `(class, {"mesg": ...})` on the wire unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A value cannot be normalized by a type (`BadTypeValu`).
    #[error("{mesg}")]
    BadTypeValu {
        /// The name of the type that refused the value.
        name: String,
        /// The reference's message.
        mesg: String,
    },
    /// A form name is unknown (`NoSuchForm`).
    #[error("No form named {name}.")]
    NoSuchForm {
        /// The unknown form name.
        name: String,
    },
    /// A property name is unknown (`NoSuchProp`).
    #[error("{mesg}")]
    NoSuchProp {
        /// The unknown property name.
        name: String,
        /// The reference's message.
        mesg: String,
    },
    /// A type name is unknown (`NoSuchType`).
    #[error("No type named {name}.")]
    NoSuchType {
        /// The unknown type name.
        name: String,
    },
    /// A type has no comparator of that name (`NoSuchCmpr`).
    #[error("Type ({name}) has no cmpr: \"{cmpr}\".")]
    NoSuchCmpr {
        /// The comparator.
        cmpr: String,
        /// The type name.
        name: String,
    },
    /// A comparator was given an unusable value (`BadCmprValu`).
    #[error("{mesg}")]
    BadCmprValu {
        /// The comparator.
        cmpr: String,
        /// The reference's message.
        mesg: String,
    },
    /// A lift value cannot be used (`BadLiftValu`).
    #[error("{mesg}")]
    BadLiftValu {
        /// The reference's message.
        mesg: String,
    },
    /// A tag property of that name exists (`DupTagPropName`).
    #[error("{name}")]
    DupTagPropName {
        /// The tag property name.
        name: String,
    },
    /// A form of that name exists (`DupFormName`).
    #[error("Form name already exists: {name}")]
    DupFormName {
        /// The form name.
        name: String,
    },
    /// A property of that name exists (`DupPropName`).
    #[error("Cannot add duplicate property {name}")]
    DupPropName {
        /// The full property name.
        name: String,
    },
    /// A form definition is invalid (`BadFormDef`).
    #[error("{mesg}")]
    BadFormDef {
        /// What is wrong.
        mesg: String,
    },
    /// A type of that name exists (`DupTypeName`).
    #[error("Type already exists: {name}.")]
    DupTypeName {
        /// The type name.
        name: String,
    },
    /// A type cannot be removed (`CantDelType`).
    #[error("{mesg}")]
    CantDelType {
        /// The type name.
        name: String,
        /// Why.
        mesg: String,
    },
    /// A name is unknown (`NoSuchName`).
    #[error("{mesg}")]
    NoSuchName {
        /// What is missing.
        mesg: String,
    },
    /// A form cannot be removed (`CantDelForm`).
    #[error("{mesg}")]
    CantDelForm {
        /// Why.
        mesg: String,
    },
    /// The model data itself is invalid (`BadTypeDef`).
    #[error("{mesg}")]
    BadTypeDef {
        /// What is wrong.
        mesg: String,
    },
}

impl ModelError {
    /// The reference's exception class name (`BadTypeValu`, `NoSuchForm`, ...).
    pub fn class(&self) -> &'static str {
        match self {
            ModelError::BadTypeValu { .. } => "BadTypeValu",
            ModelError::NoSuchForm { .. } => "NoSuchForm",
            ModelError::NoSuchProp { .. } => "NoSuchProp",
            ModelError::NoSuchType { .. } => "NoSuchType",
            ModelError::NoSuchCmpr { .. } => "NoSuchCmpr",
            ModelError::BadCmprValu { .. } => "BadCmprValu",
            ModelError::BadLiftValu { .. } => "BadLiftValu",
            ModelError::DupTagPropName { .. } => "DupTagPropName",
            ModelError::BadTypeDef { .. } => "BadTypeDef",
            ModelError::DupFormName { .. } => "DupFormName",
            ModelError::DupPropName { .. } => "DupPropName",
            ModelError::BadFormDef { .. } => "BadFormDef",
            ModelError::CantDelForm { .. } => "CantDelForm",
            ModelError::NoSuchName { .. } => "NoSuchName",
            ModelError::DupTypeName { .. } => "DupTypeName",
            ModelError::CantDelType { .. } => "CantDelType",
        }
    }

    /// The human readable message (the reference's `mesg`).
    pub fn mesg(&self) -> String {
        self.to_string()
    }

    pub(crate) fn bad(name: &str, mesg: impl Into<String>) -> Self {
        ModelError::BadTypeValu {
            name: name.to_string(),
            mesg: mesg.into(),
        }
    }
}

/// Shorthand for results of the data model.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
