//! The slab error type and its mapping from LMDB errors.

use std::path::PathBuf;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a slab.
///
/// [`Error::class`] names the reference's exception class for each variant, so a server can send
/// the error over telepath as the reference would.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The same path is already open as a slab in this process.
    #[error("slab already open: {}", path.display())]
    AlreadyOpen {
        /// The slab's path.
        path: PathBuf,
    },
    /// Another process holds the slab's lock in a way that cannot be shared.
    #[error("Unable to obtain lock on {}. Another process may have this file locked. {detail}", path.display())]
    Lock {
        /// The slab's path.
        path: PathBuf,
        /// What LMDB said.
        detail: String,
    },
    /// The file is not a slab (not an LMDB environment, another LMDB version, or damaged).
    #[error("not a valid slab at {}: {detail}", path.display())]
    Corrupt {
        /// The slab's path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A write on a read-only slab.
    #[error("the slab is read-only")]
    ReadOnly,
    /// The map cannot grow: the configured maximum size is reached.
    #[error("DB at {} is at specified max capacity of {maxsize} and is out of space", path.display())]
    OutOfSpace {
        /// The slab's path.
        path: PathBuf,
        /// The configured maximum map size.
        maxsize: u64,
    },
    /// A key that LMDB cannot store: empty, or longer than [`crate::MAX_KEY_LEN`].
    #[error("key length {len} is not between 1 and {max} bytes")]
    BadKeySize {
        /// The key's length.
        len: usize,
        /// The largest key length.
        max: usize,
    },
    /// A value larger than the slab accepts (see [`crate::SlabOptions::max_value_size`]).
    #[error("value of {len} bytes is larger than the limit of {max} bytes")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bad argument; the message says which.
    #[error("{0}")]
    BadArg(String),
    /// The named thing (database, queue) does not exist.
    #[error("{0}")]
    NoSuchName(String),
    /// The named thing (queue) exists already.
    #[error("{0}")]
    DupName(String),
    /// The destination already holds data.
    #[error("{0}")]
    DataAlreadyExists(String),
    /// An abbreviation or bytes unknown to an abbreviation table.
    #[error("no such abbreviation")]
    NoSuchAbrv,
    /// Stored bytes that do not decode as expected.
    #[error("bad stored data: {0}")]
    BadData(String),
    /// The slab is closed.
    #[error("the slab is fini")]
    IsFini,
    /// A file system error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Any other LMDB error.
    #[error("lmdb: {0}")]
    Lmdb(String),
    /// A closure run on the slab's thread panicked; the slab keeps running.
    #[error("a closure run on the slab thread panicked")]
    Panicked,
    /// A blocking slab call made from the slab's own thread (it would deadlock).
    #[error("blocking slab call made from the slab's own thread")]
    Reentrant,
}

impl Error {
    /// The reference's exception class name for this error.
    pub fn class(&self) -> &'static str {
        match self {
            Error::AlreadyOpen { .. } => "SlabAlreadyOpen",
            Error::Lock { .. } => "LmdbLock",
            Error::Corrupt { .. } | Error::BadData(_) => "BadCoreStore",
            Error::ReadOnly => "IsReadOnly",
            Error::OutOfSpace { .. } => "DbOutOfSpace",
            Error::BadKeySize { .. } | Error::ValueTooLarge { .. } | Error::BadArg(_) => "BadArg",
            Error::NoSuchName(_) => "NoSuchName",
            Error::DupName(_) => "DupName",
            Error::DataAlreadyExists(_) => "DataAlreadyExists",
            Error::NoSuchAbrv => "NoSuchAbrv",
            Error::IsFini => "IsFini",
            Error::Io { .. } | Error::Lmdb(_) | Error::Panicked | Error::Reentrant => "SynErr",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<synapse_base::IsFini> for Error {
    fn from(_: synapse_base::IsFini) -> Self {
        Error::IsFini
    }
}

/// Convert an LMDB error met during normal operation.
pub(crate) fn lmdb(err: lmdb::Error) -> Error {
    match err {
        lmdb::Error::BadValSize => Error::BadArg("key or value size not accepted by lmdb".into()),
        other => Error::Lmdb(other.to_string()),
    }
}

/// True for the LMDB errors that mean "this file is not a (sound) LMDB environment".
pub(crate) fn is_corrupt(err: &lmdb::Error) -> bool {
    matches!(
        err,
        lmdb::Error::Invalid
            | lmdb::Error::VersionMismatch
            | lmdb::Error::Corrupted
            | lmdb::Error::PageNotFound
            | lmdb::Error::Panic
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_the_reference_names() {
        assert_eq!(Error::ReadOnly.class(), "IsReadOnly");
        assert_eq!(
            Error::AlreadyOpen {
                path: PathBuf::from("x")
            }
            .class(),
            "SlabAlreadyOpen"
        );
        assert_eq!(Error::BadKeySize { len: 0, max: 511 }.class(), "BadArg");
        let full = Error::OutOfSpace {
            path: PathBuf::from("/a"),
            maxsize: 10,
        };
        assert_eq!(full.class(), "DbOutOfSpace");
        assert_eq!(
            full.to_string(),
            "DB at /a is at specified max capacity of 10 and is out of space"
        );
    }

    #[test]
    fn lmdb_corruption_errors_are_recognized() {
        assert!(is_corrupt(&lmdb::Error::Invalid));
        assert!(!is_corrupt(&lmdb::Error::MapFull));
        assert!(matches!(lmdb(lmdb::Error::BadValSize), Error::BadArg(_)));
    }
}
