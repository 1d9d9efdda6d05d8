//! Triggers and cron jobs of `synapse-servers cortex` with the reference Python client: every
//! trigger condition, sync and async runs, the commands' output, permissions, a `cron.at
//! --now` job and its stats, then a restart: triggers, jobs and queued async runs survive.

use crate::server::{Server, assert_ok, run_py};

fn args(cmd: &str, server: &Server) -> Vec<String> {
    vec![
        cmd.to_string(),
        "127.0.0.1".to_string(),
        server.port.to_string(),
    ]
}

#[test]
fn triggers_and_cron_jobs_work_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py("automation_interop.py", &args("setup", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py("automation_interop.py", &args("verify", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();
}
