//! Server binaries: `synapse-servers cell|cortex|axon|cryotank DIRN`.
//!
//! This crate will hold the launcher that starts each Synapse service on a directory.
