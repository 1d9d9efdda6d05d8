//! Integration tests of synapse-hive.

#![allow(clippy::unwrap_used)]

mod interop;
mod model;
mod remote;
mod tree;

use synapse_slab::{Slab, SlabOptions};

/// A fresh slab in a temporary directory.
pub(crate) async fn tmp_slab() -> (tempfile::TempDir, Slab) {
    let dir = tempfile::tempdir().unwrap();
    let slab = Slab::open(dir.path().join("cell.lmdb"), SlabOptions::default())
        .await
        .unwrap();
    (dir, slab)
}
