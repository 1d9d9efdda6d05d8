//! Runs a real server process (`synapse-servers axon`, or the reference's Python Axon) on
//! free local ports, for the integration tests and the benchmark.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free local TCP port (bound then released).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// A server process listening on `127.0.0.1:port` (telepath) and `https`.
pub(crate) struct Server {
    child: Option<Child>,
    /// The cell directory.
    pub(crate) dirn: PathBuf,
    /// The telepath port.
    pub(crate) port: u16,
    /// The HTTPS port.
    pub(crate) https: u16,
}

impl Server {
    /// Start `synapse-servers axon DIRN` with root's password `secret`.
    pub(crate) async fn start_rust(bin: &Path, dirn: &Path) -> Server {
        let port = free_port();
        let https = free_port();
        let mut cmd = Command::new(bin);
        cmd.arg("axon")
            .arg(dirn)
            .arg("--telepath")
            .arg(format!("tcp://127.0.0.1:{port}/"))
            .arg("--https")
            .arg(https.to_string())
            .arg("--auth-passwd")
            .arg("secret")
            .arg("--log-level")
            .arg("warning");
        Self::spawn(cmd, dirn, port, https, Stdio::inherit()).await
    }

    /// Start the reference's Axon with `python`.
    pub(crate) async fn start_python(python: &str, dirn: &Path) -> Server {
        let port = free_port();
        let https = free_port();
        let mut cmd = Command::new(python);
        cmd.arg("-m")
            .arg("synapse.servers.axon")
            .arg(dirn)
            .arg("--telepath")
            .arg(format!("tcp://127.0.0.1:{port}/"))
            .arg("--https")
            .arg(https.to_string())
            .arg("--auth-passwd")
            .arg("secret")
            .arg("--log-level")
            .arg("WARNING");
        // It logs every error it sends, with a traceback: keep the test output readable.
        Self::spawn(cmd, dirn, port, https, Stdio::null()).await
    }

    async fn spawn(mut cmd: Command, dirn: &Path, port: u16, https: u16, stderr: Stdio) -> Server {
        // Its own process group, so that helper processes go with it.
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn the server");
        let server = Server {
            child: Some(child),
            dirn: dirn.to_path_buf(),
            port,
            https,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(proxy) = synapse_telepath::Proxy::open(&self.url()).await {
                let ok = proxy.call("getCellIden", vec![], vec![]).await.is_ok();
                proxy.fini().await;
                if ok {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The root telepath URL.
    pub(crate) fn url(&self) -> String {
        format!("tcp://root:secret@127.0.0.1:{}/", self.port)
    }

    /// The HTTPS address.
    pub(crate) fn https_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.https))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `(VmRSS, VmHWM)` in bytes.
    pub(crate) fn memory(&self) -> (u64, u64) {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Reset the peak (VmHWM) to the current resident size.
    pub(crate) fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .expect("write /proc/<pid>/clear_refs");
    }

    /// SIGKILL the process (and its process group) and reap it.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pgid) = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}
