//! Axon: the content-addressed blob store of Synapse.
//!
//! This crate will hold blob storage by sha256 with streamed uploads and downloads, and the
//! telepath and HTTPS APIs of the reference Axon.
