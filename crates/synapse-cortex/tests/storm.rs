//! Integration tests of the Storm parser.

mod storm {
    pub(crate) mod fixture;
    pub(crate) mod props;
    pub(crate) mod reference;
    pub(crate) mod refrepr;
}
