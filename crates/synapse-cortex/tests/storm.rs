//! Integration tests of the Storm parser.

mod storm {
    pub(crate) mod fixture;
    pub(crate) mod refrepr;
}
