//! Triggers and cron jobs of `synapse-servers cortex` with the reference Python client: every
//! trigger condition, sync and async runs, the commands' output, permissions, a `cron.at
//! --now` job and its stats, then a restart: triggers, jobs and queued async runs survive.

#[test]
fn triggers_and_cron_jobs_work_and_survive_a_restart() {
    crate::server::setup_restart_verify("automation_interop.py");
}
