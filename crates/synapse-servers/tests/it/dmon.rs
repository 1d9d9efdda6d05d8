//! Storm dmons of `synapse-servers cortex` with the reference Python client: the CoreApi dmon
//! methods (shapes, errors, permissions), dmons that feed a queue, fail and restart, are
//! enabled, disabled, bumped and deleted, then a restart: the dmons survive, the enabled ones
//! run again.

#[test]
fn dmons_run_through_the_coreapi_and_survive_a_restart() {
    crate::server::setup_restart_verify("dmon_interop.py");
}
