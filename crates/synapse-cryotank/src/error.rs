//! The crate's error type, and its conversion to the cell's wire-ready error (done in one
//! place: [`From<Error> for synapse_cell::Error`]).

use synapse_cell::ErrKind;

/// Why a tank operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad argument (negative offset, size of the wrong type, bad tank name or options).
    #[error("{0}")]
    BadArg(String),
    /// A record cannot be stored: the reference's packer or unpacker would refuse it.
    #[error("record {indx} cannot be stored: {mesg}")]
    NotMsgpackSafe {
        /// The position of the record in the `puts` call.
        indx: usize,
        /// What is wrong with it.
        mesg: String,
    },
    /// The tank was deleted or its service is shutting down.
    #[error("tank {0} is shut down")]
    IsFini(String),
    /// The tank's storage refused the operation.
    #[error("tank storage: {0}")]
    Slab(#[from] synapse_slab::Error),
    /// A file-system operation on the tank directory failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Stored data could not be decoded.
    #[error("corrupt tank data at offset {offs}: {mesg}")]
    Corrupt {
        /// The offset of the bad row.
        offs: u64,
        /// The decoder's complaint.
        mesg: String,
    },
}

/// The result type of this crate's tank operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<Error> for synapse_cell::Error {
    fn from(err: Error) -> Self {
        let mesg = err.to_string();
        match err {
            Error::BadArg(_) => synapse_cell::Error::bad_arg(mesg),
            Error::NotMsgpackSafe { indx, .. } => {
                synapse_cell::Error::named("NotMsgpackSafe", mesg).with("indx", indx as u64)
            }
            Error::IsFini(name) => {
                synapse_cell::Error::new(ErrKind::IsFini, mesg).with("name", name.as_str())
            }
            Error::Slab(synapse_slab::Error::IsFini) => {
                synapse_cell::Error::new(ErrKind::IsFini, mesg)
            }
            Error::Slab(synapse_slab::Error::OutOfSpace { .. }) => {
                synapse_cell::Error::named("DbOutOfSpace", mesg)
            }
            Error::Slab(_) | Error::Io { .. } | Error::Corrupt { .. } => {
                synapse_cell::Error::storage(mesg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names() {
        let err: synapse_cell::Error = Error::BadArg("offs must not be negative".into()).into();
        assert_eq!(err.name(), "BadArg");
        assert_eq!(err.mesg(), "offs must not be negative");
        let err: synapse_cell::Error = Error::NotMsgpackSafe {
            indx: 3,
            mesg: "map keys must be hashable".into(),
        }
        .into();
        assert_eq!(err.name(), "NotMsgpackSafe");
        assert_eq!(err.get("indx"), Some(&rmpv::Value::from(3)));
        let err: synapse_cell::Error = Error::Slab(synapse_slab::Error::IsFini).into();
        assert_eq!(err.name(), "IsFini");
    }
}
