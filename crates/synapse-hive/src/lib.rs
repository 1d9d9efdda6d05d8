//! Hive: the key-value tree of a Synapse cell.
//!
//! A [`Hive`] is a tree of named nodes with msgpack values, held in memory and written through
//! to one database of a [`synapse_slab::Slab`], with the reference's storage layout: one row
//! per node that was set, keyed by the path joined with NUL, valued by msgpack. Changes fire
//! `hive:set` / `hive:pop` events ([`HiveEvent`]) and stream to subscribers of a subtree
//! ([`Hive::subscribe`]). Over telepath, [`HiveShare`] gives each session a [`HiveApi`] (the
//! reference's remote hive API: `get`, `edits`, `treeAndSync`, `setAndSync`, `addAndSync`,
//! `popAndSync`, `saveHiveTree`, `loadHiveTree`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synapse_hive::Error> {
//! use synapse_hive::{Hive, Value};
//! use synapse_slab::{Slab, SlabOptions};
//!
//! let dir = tempfile::tempdir().map_err(|err| synapse_hive::Error::BadArg(err.to_string()))?;
//! let slab = Slab::open(dir.path().join("cell.lmdb"), SlabOptions::default()).await?;
//! let hive = Hive::open(&slab, "hive").await?;
//! assert_eq!(hive.set(&["a", "b"], Value::from("v")).await?, Value::Nil);
//! assert_eq!(hive.get(&["a", "b"]), Some(Value::from("v")));
//! assert_eq!(hive.list_keys(&["a"]), Some(vec!["b".to_owned()]));
//! slab.fini().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod error;
mod hive;

pub use crate::api::{HiveApi, HiveShare};
pub use crate::error::{Error, Result};
pub use crate::hive::{Hive, HiveDict, HiveEdits, HiveEvent, Path, path_from_value, path_value};

/// The msgpack value type of hive nodes (re-exported `rmpv::Value`).
pub use rmpv::Value;
