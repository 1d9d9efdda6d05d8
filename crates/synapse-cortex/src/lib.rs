//! Cortex: the Synapse hypergraph database.
//!
//! The typed data model ([`model`]), layer storage ([`layer`]) and views over layer stacks
//! ([`view`]) changed by node edits ([`nodeedit`]), nodes as the runtime sees them ([`node`]),
//! the Storm query language ([`storm`]: parser, planner, runtime), and the Cortex service with
//! its telepath and HTTPS APIs ([`cortex`], [`coreapi`]).

pub mod coreapi;
pub mod cortex;
pub mod layer;
pub mod model;
pub mod node;
pub mod nodeedit;
pub mod scrape;
pub mod storm;
pub mod view;
