//! Cortex: the Synapse hypergraph database.
//!
//! This crate will hold the typed data model, layer storage, views, node edits, the Storm query
//! language and the Cortex APIs.

pub mod coreapi;
pub mod cortex;
pub mod layer;
pub mod model;
pub mod node;
pub mod nodeedit;
pub mod storm;
pub mod view;
