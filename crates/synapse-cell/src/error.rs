//! The cell's error type: every error carries the reference's error class name and its info.
//!
//! On the wire (telepath) an error travels as `(ErrName, info)`; over HTTP as
//! `{"status": "err", "code": ErrName, "mesg": ...}`. Both forms are made from [`Error`] here.

use std::fmt;

use rmpv::Value;

/// The class of an error, named as in the reference (`synapse.exc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrKind {
    /// Authentication failed or a permission is missing.
    AuthDeny,
    /// No user with that iden or name.
    NoSuchUser,
    /// No role with that iden or name.
    NoSuchRole,
    /// No object with that name.
    NoSuchName,
    /// No object with that iden.
    NoSuchIden,
    /// No auth gate with that iden.
    NoSuchAuthGate,
    /// No such telepath method.
    NoSuchMeth,
    /// A user with that name exists.
    DupUserName,
    /// A role with that name exists.
    DupRoleName,
    /// A user with that email exists.
    DupUserEmail,
    /// An object with that iden exists.
    DupIden,
    /// A bad argument.
    BadArg,
    /// A configuration value is invalid (the cell does not start).
    BadConfValu,
    /// A required configuration value is missing.
    NeedConfValu,
    /// A value does not match its schema.
    SchemaViolation,
    /// A limit was reached (e.g. `max:users`).
    HitLimit,
    /// The process cannot go on (e.g. the cell directory is locked by another process).
    FatalErr,
    /// The service is shutting down.
    ShuttingDown,
    /// A stored password shadow is malformed.
    CryptoErr,
    /// The stored data is newer than this build.
    BadVersion,
    /// Stored data is inconsistent.
    InconsistentStorage,
    /// Not enough free disk space.
    LowSpace,
    /// The object is torn down.
    IsFini,
    /// Python's `TypeError` (bad call arguments).
    TypeError,
    /// A file-system or storage failure.
    BadCoreStore,
    /// The generic Synapse error.
    SynErr,
}

impl ErrKind {
    /// The reference's class name, e.g. `"AuthDeny"`.
    pub fn name(self) -> &'static str {
        match self {
            ErrKind::AuthDeny => "AuthDeny",
            ErrKind::NoSuchUser => "NoSuchUser",
            ErrKind::NoSuchRole => "NoSuchRole",
            ErrKind::NoSuchName => "NoSuchName",
            ErrKind::NoSuchIden => "NoSuchIden",
            ErrKind::NoSuchAuthGate => "NoSuchAuthGate",
            ErrKind::NoSuchMeth => "NoSuchMeth",
            ErrKind::DupUserName => "DupUserName",
            ErrKind::DupRoleName => "DupRoleName",
            ErrKind::DupUserEmail => "DupUserEmail",
            ErrKind::DupIden => "DupIden",
            ErrKind::BadArg => "BadArg",
            ErrKind::BadConfValu => "BadConfValu",
            ErrKind::NeedConfValu => "NeedConfValu",
            ErrKind::SchemaViolation => "SchemaViolation",
            ErrKind::HitLimit => "HitLimit",
            ErrKind::FatalErr => "FatalErr",
            ErrKind::ShuttingDown => "ShuttingDown",
            ErrKind::CryptoErr => "CryptoErr",
            ErrKind::BadVersion => "BadVersion",
            ErrKind::InconsistentStorage => "InconsistentStorage",
            ErrKind::LowSpace => "LowSpace",
            ErrKind::IsFini => "IsFini",
            ErrKind::TypeError => "TypeError",
            ErrKind::BadCoreStore => "BadCoreStore",
            ErrKind::SynErr => "SynErr",
        }
    }
}

impl ErrKind {
    /// The kind named `name` (the inverse of [`ErrKind::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        const ALL: [ErrKind; 26] = [
            ErrKind::AuthDeny,
            ErrKind::NoSuchUser,
            ErrKind::NoSuchRole,
            ErrKind::NoSuchName,
            ErrKind::NoSuchIden,
            ErrKind::NoSuchAuthGate,
            ErrKind::NoSuchMeth,
            ErrKind::DupUserName,
            ErrKind::DupRoleName,
            ErrKind::DupUserEmail,
            ErrKind::DupIden,
            ErrKind::BadArg,
            ErrKind::BadConfValu,
            ErrKind::NeedConfValu,
            ErrKind::SchemaViolation,
            ErrKind::HitLimit,
            ErrKind::FatalErr,
            ErrKind::ShuttingDown,
            ErrKind::CryptoErr,
            ErrKind::BadVersion,
            ErrKind::InconsistentStorage,
            ErrKind::LowSpace,
            ErrKind::IsFini,
            ErrKind::TypeError,
            ErrKind::BadCoreStore,
            ErrKind::SynErr,
        ];
        ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for ErrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cell error: a class ([`ErrKind`]), a message and extra info (the reference's keyword args).
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {mesg}")]
pub struct Error {
    kind: ErrKind,
    name: Option<String>,
    mesg: String,
    info: Vec<(String, Value)>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of class `kind` with message `mesg`.
    pub fn new(kind: ErrKind, mesg: impl Into<String>) -> Self {
        Self {
            kind,
            name: None,
            mesg: mesg.into(),
            info: Vec::new(),
            source: None,
        }
    }

    /// An error whose class name is not one of [`ErrKind`] (e.g. an error relayed from a
    /// remote service). Its kind is [`ErrKind::SynErr`], its name the given one.
    pub fn named(name: impl Into<String>, mesg: impl Into<String>) -> Self {
        let mut err = Self::new(ErrKind::SynErr, mesg);
        err.name = Some(name.into());
        err
    }

    /// Add an info key (as the reference's exception keyword arguments).
    #[must_use]
    pub fn with(mut self, key: &str, valu: impl Into<Value>) -> Self {
        self.info.push((key.to_string(), valu.into()));
        self
    }

    /// Attach the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The error class.
    pub fn kind(&self) -> ErrKind {
        self.kind
    }

    /// The class name as sent on the wire.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.name())
    }

    /// The human-readable message.
    pub fn mesg(&self) -> &str {
        &self.mesg
    }

    /// The extra info keys.
    pub fn info(&self) -> &[(String, Value)] {
        &self.info
    }

    /// One info value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.info.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The wire form: `(name, {"mesg": ..., <info>...})`.
    pub fn to_remote(&self) -> (String, Value) {
        let mut map = Vec::with_capacity(self.info.len() + 1);
        map.push((Value::from("mesg"), Value::from(self.mesg.as_str())));
        for (key, valu) in &self.info {
            if key == "mesg" {
                continue;
            }
            map.push((Value::from(key.as_str()), valu.clone()));
        }
        (self.name().to_string(), Value::Map(map))
    }

    /// `AuthDeny` with the user's iden and name in its info.
    pub fn auth_deny(mesg: impl Into<String>, user: &str, username: &str) -> Self {
        Self::new(ErrKind::AuthDeny, mesg)
            .with("user", user)
            .with("username", username)
    }

    /// `BadArg`.
    pub fn bad_arg(mesg: impl Into<String>) -> Self {
        Self::new(ErrKind::BadArg, mesg)
    }

    /// A storage failure.
    pub fn storage(mesg: impl Into<String>) -> Self {
        Self::new(ErrKind::BadCoreStore, mesg)
    }

    /// An I/O failure on `path`.
    pub fn io(what: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Self::new(
            ErrKind::BadCoreStore,
            format!("{what} {}: {err}", path.display()),
        )
        .with("path", path.display().to_string())
        .with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_form_has_mesg_first_and_info() {
        let err = Error::auth_deny("Invalid password", "abcd", "visi");
        let (name, info) = err.to_remote();
        assert_eq!(name, "AuthDeny");
        let Value::Map(items) = info else {
            panic!("not a map")
        };
        assert_eq!(
            items[0],
            (Value::from("mesg"), Value::from("Invalid password"))
        );
        assert!(items.contains(&(Value::from("username"), Value::from("visi"))));
        assert_eq!(err.kind(), ErrKind::AuthDeny);
        assert_eq!(err.to_string(), "AuthDeny: Invalid password");
    }

    #[test]
    fn named_errors_keep_their_name() {
        let err = Error::named("NoSuchForm", "no form");
        assert_eq!(err.name(), "NoSuchForm");
        assert_eq!(err.kind(), ErrKind::SynErr);
    }
}
