//! Command-line tools of Synapse.
//!
//! This crate will hold the Storm CLI, the Axon file push/pull tools and the cryotank tools.
