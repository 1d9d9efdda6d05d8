//! Integration tests of the Cortex service in-process: the CoreApi telepath methods through
//! cell sessions, the HTTP routes through `tower::ServiceExt::oneshot`, the edit permission
//! hook, persistence across a reopen, the Axon link and the Storm runtime hook.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "core/admin.rs"]
mod admin;
#[path = "core/api.rs"]
mod api;
#[path = "core/axon.rs"]
mod axon;
#[path = "core/corelibs.rs"]
mod corelibs;
#[path = "core/dmon.rs"]
mod dmon;
#[path = "core/feed.rs"]
mod feed;
#[path = "core/graphs.rs"]
mod graphs;
#[path = "core/http.rs"]
mod http;
#[path = "core/modelext.rs"]
mod modelext;
#[path = "core/perms.rs"]
mod perms;
#[path = "core/pkg.rs"]
mod pkg;
#[path = "core/rows.rs"]
mod rows;
#[path = "core/stormcmds.rs"]
mod stormcmds;
#[path = "core/stormhook.rs"]
mod stormhook;
#[path = "core/stormhttp.rs"]
mod stormhttp;
#[path = "core/stormtypes.rs"]
mod stormtypes;
#[path = "core/tagmodel.rs"]
mod tagmodel;
#[path = "core/util.rs"]
mod util;
#[path = "core/viewmerge.rs"]
mod viewmerge;
