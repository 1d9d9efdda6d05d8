//! Helpers to run the reference Python (from `SYNAPSE_REF_PYTHON`).

use std::path::PathBuf;
use std::process::{Command, Output};

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

/// A script in tests/py.
pub(crate) fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// Run a reference Python script to completion, off the async runtime.
pub(crate) async fn run(name: &str, args: Vec<String>) -> Output {
    run_with(name, args, Vec::new()).await
}

/// [`run`] with extra environment variables.
pub(crate) async fn run_with(name: &str, args: Vec<String>, envs: Vec<(String, String)>) -> Output {
    let path = script(name);
    tokio::task::spawn_blocking(move || {
        Command::new(ref_python())
            .arg(path)
            .args(args)
            .envs(envs)
            .env("SYN_LOG_LEVEL", "WARNING")
            .output()
            .expect("cannot run the reference python")
    })
    .await
    .expect("join")
}

/// Panic with the script's output unless it succeeded.
pub(crate) fn assert_ok(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "reference script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// A running `ref_server.py`: a real reference Axon cell. Killed when dropped.
pub(crate) struct RefServer {
    child: std::process::Child,
    /// The JSON line it printed: port, dirn, idens.
    pub(crate) info: serde_json::Value,
}

impl RefServer {
    /// Start the server and wait until it listens.
    pub(crate) async fn start() -> RefServer {
        Self::start_with(Vec::new()).await
    }

    /// [`RefServer::start`] with extra environment variables.
    pub(crate) async fn start_with(envs: Vec<(String, String)>) -> RefServer {
        let path = script("ref_server.py");
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut child = Command::new(ref_python())
                .arg(path)
                .envs(envs)
                .env("SYN_LOG_LEVEL", "WARNING")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("cannot run the reference python");
            let stdout = child.stdout.take().expect("stdout");
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read the server's first line");
            let info = serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("bad first line {line:?} from ref_server.py: {err}"));
            RefServer { child, info }
        })
        .await
        .expect("join")
    }

    /// The TCP port.
    pub(crate) fn port(&self) -> u64 {
        self.info["port"].as_u64().expect("port")
    }

    /// A string field of the info line.
    pub(crate) fn get(&self, key: &str) -> String {
        self.info[key].as_str().expect("string field").to_owned()
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        // Closing stdin asks the server to stop; wait a little, then kill it.
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
