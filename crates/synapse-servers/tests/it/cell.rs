//! `synapse-servers cell` with the reference Python client: cell info, user and role admin,
//! rules, authentication failures, permission denials, HTTPS, restart persistence, and the
//! directory lock.

use std::process::Command;

use crate::server::{Server, assert_ok, run_py};

fn args(cmd: &str, server: &Server, dirn: &std::path::Path) -> Vec<String> {
    vec![
        cmd.to_string(),
        "127.0.0.1".to_string(),
        server.port.to_string(),
        server.https.to_string(),
        dirn.display().to_string(),
    ]
}

#[test]
fn python_client_against_the_cell_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cell");
    let server = Server::start("cell", &dirn, &["--auth-passwd", "secret"]);

    let out = run_py("cell_interop.py", &args("setup", &server, &dirn));
    let first: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();

    // a second process on the same directory is refused while the first runs
    let second = Command::new(env!("CARGO_BIN_EXE_synapse-servers"))
        .args([
            "cell",
            dirn.to_str().unwrap(),
            "--https",
            "0",
            "--telepath",
            "tcp://127.0.0.1:0/",
        ])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("Cannot start the cell, another process is already running it."),
        "{stderr}"
    );

    let log = server.stop();
    assert!(log.contains("shutting down"), "{log}");

    // data and users survive a restart (root's password comes from cell.yaml this time)
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cell", &dirn, &[]);
    let out = run_py("cell_interop.py", &args("verify", &server, &dirn));
    let second: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    assert_eq!(first["visi"], second["visi"]);
    assert_eq!(first["iden"], second["iden"]);
    server.stop();
}

/// The server keeps its process name (what `ps`, `pgrep` and `top` show) through its start,
/// also where it starts itself again to tune `memcpy` (x86_64 glibc on AMD CPUs), and its
/// arguments.
#[test]
fn the_server_keeps_its_name_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cell");
    let server = Server::start("cell", &dirn, &[]);
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", server.pid()));
    let comm = std::fs::read_to_string(proc_dir.join("comm")).unwrap();
    assert_eq!(comm.trim_end(), "synapse-servers");
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    assert_eq!(args[0], env!("CARGO_BIN_EXE_synapse-servers").as_bytes());
    assert_eq!(args[1], b"cell");
    assert_eq!(args[2], dirn.to_str().unwrap().as_bytes());
    server.stop();
}

#[test]
fn bad_configuration_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cell");
    std::fs::create_dir_all(&dirn).unwrap();
    let cases = [
        ("auth:passwdd: x\n", "auth:passwdd"),
        ("max:users: -1\n", "max:users"),
        ("https:port: nope\n", "https:port"),
    ];
    for (yaml, key) in cases {
        std::fs::write(dirn.join("cell.yaml"), yaml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_synapse-servers"))
            .args([
                "cell",
                dirn.to_str().unwrap(),
                "--https",
                "0",
                "--telepath",
                "tcp://127.0.0.1:0/",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{yaml}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{yaml}: {stderr}");
    }
    std::fs::remove_file(dirn.join("cell.yaml")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_synapse-servers"))
        .args([
            "cell",
            dirn.to_str().unwrap(),
            "--https",
            "0",
            "--telepath",
            "tcp://127.0.0.1:0/",
        ])
        .env("SYN_CELL_LIMIT_DISK_FREE", "101")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("limit:disk:free"));
}

/// Data written by the reference cell is read by ours, and the other way round.
#[test]
fn cell_directories_are_interchangeable_with_the_reference() {
    let tmp = tempfile::tempdir().unwrap();

    let dirn = tmp.path().join("from-ref");
    std::fs::create_dir_all(&dirn).unwrap();
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start_ref("cell", Some("synapse.lib.cell.Cell"), &dirn);
    let out = run_py("cell_interop.py", &args("setup", &server, &dirn));
    let made: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    server.stop();
    let server = Server::start("cell", &dirn, &[]);
    let out = run_py("cell_interop.py", &args("verify", &server, &dirn));
    let seen: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    assert_eq!(made["visi"], seen["visi"]);
    assert_eq!(made["iden"], seen["iden"]);
    server.stop();

    let dirn = tmp.path().join("from-rust");
    let server = Server::start("cell", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py("cell_interop.py", &args("setup", &server, &dirn));
    let made: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    server.stop();
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start_ref("cell", Some("synapse.lib.cell.Cell"), &dirn);
    let out = run_py("cell_interop.py", &args("verify", &server, &dirn));
    let seen: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    assert_eq!(made["visi"], seen["visi"]);
    server.stop();
}
