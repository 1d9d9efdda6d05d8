//! Integration tests of synapse-telepath: one binary, one module per area.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod fixture;
mod python;
mod python_client;
mod python_server;
mod rust_rust;
mod tls;
mod vectors;
