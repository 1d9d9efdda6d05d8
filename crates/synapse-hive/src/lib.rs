//! Hive: the key-value tree of a Synapse cell.
//!
//! This crate will hold the hierarchical key-value store kept in a cell's slab, with change
//! notifications, readable and writable over telepath.
