//! Integration tests of synapse-slab: one binary, one module per area.

#![allow(clippy::unwrap_used)]

mod basics;
mod crash;
mod interop;
mod model;
mod scans;
mod structures;

use synapse_slab::{Slab, SlabOptions};

/// A fresh slab in a temporary directory (kept alive by the returned guard).
pub(crate) async fn tmp_slab(opts: SlabOptions) -> (tempfile::TempDir, Slab) {
    let dir = tempfile::tempdir().expect("tempdir");
    let slab = Slab::open(dir.path().join("test.lmdb"), opts)
        .await
        .expect("open slab");
    (dir, slab)
}
