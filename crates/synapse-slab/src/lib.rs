//! Slab: LMDB storage for Synapse services.
//!
//! This crate will hold the LMDB environment wrapper with batched commits and named databases,
//! scans by prefix and range, and the structures built on it (Seqn, multi-queue, hot counter,
//! safe key-value dict), with all blocking work kept off the async runtime.
