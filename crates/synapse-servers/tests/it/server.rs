//! Running `synapse-servers <service>` as a subprocess, and the reference Python.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The reference interpreter. Fails (never skips) when it is not configured.
pub(crate) fn ref_python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!(
            "SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or point it at a python \
             with synapse 2.x installed) to run the interop tests"
        ),
    }
}

/// Run a script of tests/py with the reference Python.
pub(crate) fn run_py(name: &str, args: &[String]) -> Output {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name);
    Command::new(ref_python())
        .arg(path)
        .args(args)
        .env("SYN_LOG_LEVEL", "WARNING")
        .output()
        .expect("cannot run the reference python")
}

/// Panic with the script's output unless it succeeded; return its stdout.
pub(crate) fn assert_ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "reference script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running server process; killed when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) port: u16,
    pub(crate) https: u16,
    log: PathBuf,
}

impl Server {
    /// Start `synapse-servers <kind> <dirn>` on free ports and wait until both listen.
    pub(crate) fn start(kind: &str, dirn: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_synapse-servers"));
        cmd.arg(kind).arg(dirn);
        Self::spawn(cmd, dirn, extra)
    }

    /// Start the reference server (`python -m synapse.servers.<module> [ctor] <dirn>`).
    pub(crate) fn start_ref(module: &str, ctor: Option<&str>, dirn: &Path) -> Server {
        let mut cmd = Command::new(ref_python());
        cmd.arg("-m").arg(format!("synapse.servers.{module}"));
        if let Some(ctor) = ctor {
            cmd.arg(ctor);
        }
        cmd.arg(dirn);
        Self::spawn(cmd, dirn, &[])
    }

    /// [`Server::start`] on the given telepath and HTTPS ports (a restart that keeps the
    /// URLs others were given).
    pub(crate) fn start_at(kind: &str, dirn: &Path, extra: &[&str], ports: (u16, u16)) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_synapse-servers"));
        cmd.arg(kind).arg(dirn);
        Self::spawn_at(cmd, dirn, extra, ports)
    }

    fn spawn(cmd: Command, dirn: &Path, extra: &[&str]) -> Server {
        Self::spawn_at(cmd, dirn, extra, (free_port(), free_port()))
    }

    fn spawn_at(mut cmd: Command, dirn: &Path, extra: &[&str], ports: (u16, u16)) -> Server {
        let (port, https) = ports;
        let log = dirn.with_extension("log");
        let logfd = std::fs::File::create(&log).unwrap();
        let child = cmd
            .arg("--telepath")
            .arg(format!("tcp://127.0.0.1:{port}/"))
            .arg("--https")
            .arg(https.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logfd)
            .spawn()
            .expect("cannot start synapse-servers");
        let mut server = Server {
            child: Some(child),
            port,
            https,
            log,
        };
        server.wait_listening();
        server
    }

    fn wait_listening(&mut self) {
        let start = Instant::now();
        loop {
            let up = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.port) && up(self.https) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("server exited early ({status}):\n{}", self.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "server did not listen in time:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().unwrap().is_none())
    }

    /// The server's log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send SIGTERM and wait for a clean exit.
    pub(crate) fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        let exit = loop {
            if let Some(exit) = child.try_wait().unwrap() {
                break exit;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("server did not stop on SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(exit.success(), "server exit {exit}:\n{}", self.log_text());
        self.log_text()
    }
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kill the server with SIGKILL (no shutdown at all) and reap it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The interop pattern of the cortex automation tests: `script setup HOST PORT` against a fresh
/// `synapse-servers cortex` (root password `secret`), a restart of the server, then
/// `script verify HOST PORT`; each run must print `ok`.
pub(crate) fn setup_restart_verify(script: &str) {
    let args = |cmd: &str, server: &Server| {
        vec![
            cmd.to_string(),
            "127.0.0.1".to_string(),
            server.port.to_string(),
        ]
    };
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(script, &args("setup", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py(script, &args("verify", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();
}
