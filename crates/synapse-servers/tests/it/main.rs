//! Integration tests of the `synapse-servers` binary: each service started as a subprocess
//! and driven by the reference Python client.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod automation;
mod cell;
mod conformance;
mod corefeed;
mod cortex;
mod cryotank;
mod dmon;
mod garbage;
mod layersync;
mod modelext;
mod rows;
mod scrape;
mod server;
mod stormexport;
mod stormlibs;
mod stormpkg;
