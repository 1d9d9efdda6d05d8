//! The hive error type.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in a hive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path that cannot be used (the reference's `BadHivePath`).
    #[error("{0}")]
    BadHivePath(String),
    /// [`crate::Hive::add`] on values that cannot be added (the reference raises Python's
    /// `TypeError`).
    #[error("{0}")]
    Type(String),
    /// A bad argument (e.g. a malformed tree for [`crate::Hive::load_tree`]).
    #[error("{0}")]
    BadArg(String),
    /// The storage failed.
    #[error(transparent)]
    Slab(#[from] synapse_slab::Error),
}

impl Error {
    /// The reference's exception class name for this error.
    pub fn class(&self) -> &'static str {
        match self {
            Error::BadHivePath(_) => "BadHivePath",
            Error::Type(_) => "TypeError",
            Error::BadArg(_) => "BadArg",
            Error::Slab(err) => err.class(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(Error::BadHivePath("x".into()).class(), "BadHivePath");
        assert_eq!(
            Error::from(synapse_slab::Error::ReadOnly).class(),
            "IsReadOnly"
        );
    }
}
