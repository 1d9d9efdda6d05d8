//! The Axon's error type, and its conversion to the cell's (the wire's) `(ErrName, info)` form.

use std::path::{Path, PathBuf};

use rmpv::Value;

/// An Axon failure. Each variant maps to the reference's error class ([`Error::name`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `NoSuchFile`: the Axon does not have the blob.
    #[error("Axon does not contain the requested file.")]
    NoSuchFile {
        /// The blob, as hex.
        sha256: String,
    },
    /// `BadArg`: an argument is invalid.
    #[error("{mesg}")]
    BadArg {
        /// The message.
        mesg: String,
        /// Extra info (the reference's keyword arguments).
        info: Vec<(String, Value)>,
    },
    /// `BadDataValu`: the blob's content is not what the call needs.
    #[error("{mesg}")]
    BadDataValu {
        /// The message.
        mesg: String,
        /// Extra info.
        info: Vec<(String, Value)>,
    },
    /// `BadJsonText`: a line of a JSON-lines blob is not JSON.
    #[error("{mesg}")]
    BadJsonText {
        /// The message.
        mesg: String,
        /// The blob, as hex.
        sha256: String,
    },
    /// `HitLimit`: `max:bytes` or `max:count` is reached.
    #[error("{0}")]
    HitLimit(String),
    /// A Python exception the reference lets through (e.g. `TypeError`, binascii's `Error`),
    /// reported with its class name.
    #[error("{name}: {mesg}")]
    Python {
        /// The Python class name.
        name: &'static str,
        /// The message.
        mesg: String,
    },
    /// The upload was cancelled, or the Axon is shutting down.
    #[error("The Axon is shut down.")]
    IsFini,
    /// A file-system failure.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A metadata storage failure.
    #[error("axon storage: {0}")]
    Slab(#[from] synapse_slab::Error),
    /// Stored metadata and blob files disagree.
    #[error("{0}")]
    Inconsistent(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `BadArg` with a message.
    pub fn bad_arg(mesg: impl Into<String>) -> Self {
        Error::BadArg {
            mesg: mesg.into(),
            info: Vec::new(),
        }
    }

    /// `BadDataValu` with a message.
    pub fn bad_data(mesg: impl Into<String>) -> Self {
        Error::BadDataValu {
            mesg: mesg.into(),
            info: Vec::new(),
        }
    }

    /// Add an info key to a `BadArg` / `BadDataValu`.
    #[must_use]
    pub fn with(mut self, key: &str, valu: impl Into<Value>) -> Self {
        if let Error::BadArg { info, .. } | Error::BadDataValu { info, .. } = &mut self {
            info.push((key.to_string(), valu.into()));
        }
        self
    }

    pub(crate) fn io(what: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The reference's error class name.
    pub fn name(&self) -> &'static str {
        match self {
            Error::NoSuchFile { .. } => "NoSuchFile",
            Error::BadArg { .. } => "BadArg",
            Error::BadDataValu { .. } => "BadDataValu",
            Error::BadJsonText { .. } => "BadJsonText",
            Error::HitLimit(_) => "HitLimit",
            Error::Python { name, .. } => name,
            Error::IsFini => "IsFini",
            Error::Io { .. } | Error::Slab(_) => "BadCoreStore",
            Error::Inconsistent(_) => "InconsistentStorage",
        }
    }

    /// The message sent to clients.
    pub fn mesg(&self) -> String {
        match self {
            Error::Python { mesg, .. } => mesg.clone(),
            other => other.to_string(),
        }
    }
}

impl From<Error> for synapse_cell::Error {
    fn from(err: Error) -> Self {
        use synapse_cell::ErrKind;
        let mesg = err.mesg();
        match err {
            Error::NoSuchFile { sha256 } => {
                synapse_cell::Error::named("NoSuchFile", mesg).with("sha256", sha256)
            }
            Error::BadArg { info, .. } => info.into_iter().fold(
                synapse_cell::Error::new(ErrKind::BadArg, mesg),
                |err, (k, v)| err.with(&k, v),
            ),
            Error::BadDataValu { info, .. } => info.into_iter().fold(
                synapse_cell::Error::named("BadDataValu", mesg),
                |err, (k, v)| err.with(&k, v),
            ),
            Error::BadJsonText { sha256, .. } => {
                synapse_cell::Error::named("BadJsonText", mesg).with("sha256", sha256)
            }
            Error::HitLimit(_) => synapse_cell::Error::new(ErrKind::HitLimit, mesg),
            Error::Python { name, .. } => synapse_cell::Error::named(name, mesg),
            Error::IsFini => synapse_cell::Error::new(ErrKind::IsFini, mesg),
            Error::Inconsistent(_) => synapse_cell::Error::new(ErrKind::InconsistentStorage, mesg),
            err @ (Error::Io { .. } | Error::Slab(_)) => {
                synapse_cell::Error::new(ErrKind::BadCoreStore, mesg).with_source(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let err: synapse_cell::Error = Error::NoSuchFile {
            sha256: "00".repeat(32),
        }
        .into();
        let (name, info) = err.to_remote();
        assert_eq!(name, "NoSuchFile");
        assert_eq!(
            synapse_cell::map_get(&info, "mesg"),
            Some(&Value::from("Axon does not contain the requested file."))
        );
        assert_eq!(
            synapse_cell::map_get(&info, "sha256"),
            Some(&Value::from("00".repeat(32)))
        );
        let err: synapse_cell::Error = Error::bad_arg("Offs must be >= 0").with("offs", -1).into();
        assert_eq!(err.name(), "BadArg");
        assert_eq!(err.get("offs"), Some(&Value::from(-1)));
        let err: synapse_cell::Error = Error::Python {
            name: "Error",
            mesg: "Non-hexadecimal digit found".into(),
        }
        .into();
        assert_eq!(
            (err.name(), err.mesg()),
            ("Error", "Non-hexadecimal digit found")
        );
    }
}
