//! `synapse-tools pushfile|pullfile` print what the reference's `synapse.tools.pushfile` /
//! `synapse.tools.pullfile` print for the same steps, each against its own in-process Axon,
//! and move the same bytes.

use std::path::Path;
use std::process::Command;

use synapse_axon::AxonService;
use synapse_cell::{CellOptions, Service, ServiceCell};

use crate::ref_python;

async fn open_axon(dirn: &Path) -> (ServiceCell<AxonService>, String) {
    let opts = CellOptions::new(dirn, &AxonService::def())
        .conf("auth:passwd", "secret".into())
        .unwrap();
    let svc = ServiceCell::<AxonService>::open(opts).await.unwrap();
    let addr = svc
        .cell()
        .daemon()
        .listen("tcp://127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("tcp://root:secret@127.0.0.1:{}/", addr.port().unwrap());
    (svc, url)
}

/// Run one step with the reference tool (`python -m synapse.tools.<tool>`) or ours: stdout.
async fn step(reference: bool, tool: &'static str, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut cmd = if reference {
            let mut cmd = Command::new(ref_python());
            cmd.arg("-m").arg(format!("synapse.tools.{tool}"));
            cmd
        } else {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_synapse-tools"));
            cmd.arg(tool);
            cmd
        };
        let out = cmd.args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(files.join("sub")).unwrap();
    std::fs::write(files.join("a.txt"), b"first file\n").unwrap();
    let big: Vec<u8> = (0..25_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(files.join("big.bin"), &big).unwrap();
    std::fs::write(files.join("sub").join("c.txt"), b"in a subdirectory\n").unwrap();
    let bigsha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &big));

    let mut outputs = Vec::new();
    for reference in [true, false] {
        let who = if reference { "ref" } else { "ours" };
        let (svc, url) = open_axon(&dir.path().join(who)).await;
        let pattern = format!("{}/*.*", files.display());
        let mut out = String::new();
        out += &step(
            reference,
            "pushfile",
            vec!["-a".into(), url.clone(), pattern.clone()],
        )
        .await;
        out += &step(
            reference,
            "pushfile",
            vec!["-a".into(), url.clone(), pattern],
        )
        .await;
        let recursive = format!("{}/**/*.txt", files.display());
        out += &step(
            reference,
            "pushfile",
            vec!["-a".into(), url.clone(), "-r".into(), recursive],
        )
        .await;
        let nomatch = format!("{}/*.nope", files.display());
        out += &step(
            reference,
            "pushfile",
            vec!["-a".into(), url.clone(), nomatch],
        )
        .await;
        let outdir = dir.path().join(format!("{who}-pulled"));
        out += &step(
            reference,
            "pullfile",
            vec![
                "-a".into(),
                url.clone(),
                "-o".into(),
                outdir.display().to_string(),
                "-l".into(),
                bigsha.clone(),
                "-l".into(),
                "00".repeat(32),
            ],
        )
        .await;
        assert!(
            std::fs::read(outdir.join(&bigsha)).unwrap() == big,
            "{who} pulled other bytes"
        );
        let metrics = svc.service().axon().metrics();
        assert_eq!(metrics.file_count, 3, "{who}");
        svc.fini().await;
        // Paths differ between the two runs only by the axon directory name.
        outputs.push(out.replace(&url, "URL"));
    }
    // Both upload the same files; the reference lists a glob's files in no set order.
    let sorted = |text: &str| {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    assert_eq!(sorted(&outputs[1]), sorted(&outputs[0]));
    assert!(outputs[1].contains("Uploaded [big.bin] to axon"));
    assert!(outputs[1].contains(&format!("Fetched {bigsha} to file")));
}
