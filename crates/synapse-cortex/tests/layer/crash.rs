//! Crash safety: a process adding batches of nodes is killed with SIGKILL; after reopening,
//! every acknowledged batch is there, and every batch is there whole or not at all.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rmpv::Value;
use synapse_cortex::nodeedit::buid;

use super::util::{editor, nodes, open, s};

const CHILD_ENV: &str = "SYNAPSE_CORTEX_CRASH_CHILD";
const PER_BATCH: usize = 40;

fn fqdn(batch: usize, idx: usize) -> String {
    format!("n{idx}.b{batch}.crash.test")
}

/// The writer: adds batches forever, printing `ack N` after batch N is applied.
async fn child(path: &str) {
    let views = open(std::path::Path::new(path)).await;
    let view = views.default_view();
    for batch in 0.. {
        let mut ed = editor(&view);
        for idx in 0..PER_BATCH {
            let name = fqdn(batch, idx);
            let dnsa = Value::Array(vec![
                s(&name),
                Value::from((batch * PER_BATCH + idx) as u32),
            ]);
            let node = ed.add_node("inet:dns:a", &dnsa).await.unwrap().unwrap();
            ed.add_tag(&node, &format!("crash.b{batch}"), Some(&s("2020")))
                .await
                .unwrap();
        }
        ed.apply().await.unwrap();
        println!("ack {batch}");
    }
}

#[test]
fn sigkill_during_bulk_add_keeps_acknowledged_batches_whole() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(path) = std::env::var(CHILD_ENV) {
        runtime.block_on(child(&path));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core");
    let exe = std::env::current_exe().unwrap();
    let mut proc = Command::new(exe)
        .args([
            "layer::crash::sigkill_during_bulk_add_keeps_acknowledged_batches_whole",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let mut acked: Option<usize> = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(num) = line.strip_prefix("ack ") {
            let num: usize = num.trim().parse().unwrap();
            acked = Some(num);
            if num >= 25 {
                break;
            }
        }
    }
    // SIGKILL while the child keeps writing.
    proc.kill().unwrap();
    proc.wait().unwrap();
    let acked = acked.expect("the child acknowledged batches");

    runtime.block_on(async {
        let views = open(&path).await;
        let view = views.default_view();
        let mut batch = 0;
        loop {
            let mut present = 0;
            for idx in 0..PER_BATCH {
                let name = fqdn(batch, idx);
                let fq = view.get_node(buid("inet:fqdn", &s(&name))).await.unwrap();
                let dnsa = Value::Array(vec![
                    s(&name),
                    Value::from((batch * PER_BATCH + idx) as u32),
                ]);
                let node = view.get_node(buid("inet:dns:a", &dnsa)).await.unwrap();
                match (node, fq) {
                    (Some(node), Some(fq)) => {
                        present += 1;
                        assert!(node.get(".created").is_some());
                        assert_eq!(node.get("fqdn"), Some(&s(&name)));
                        assert_eq!(
                            node.tag(&format!("crash.b{batch}")),
                            Some((Some(1577836800000), Some(1577836800001)))
                        );
                        assert_eq!(node.tag("crash"), Some((None, None)));
                        for prop in ["host", "domain", "issuffix", "iszone", "zone", ".created"] {
                            assert!(fq.get(prop).is_some(), "{name} lacks {prop}");
                        }
                    }
                    (None, None) => {}
                    other => panic!("half-written batch {batch}: {other:?}"),
                }
            }
            assert!(
                present == 0 || present == PER_BATCH,
                "batch {batch} has {present} nodes"
            );
            if present == 0 {
                assert!(
                    batch > acked,
                    "acknowledged batch {batch} (of {acked}) is missing"
                );
                break;
            }
            batch += 1;
        }
        // Indexes and counters agree with the stored nodes.
        let lifted = nodes(view.lift_prop("inet:dns:a", false).unwrap())
            .await
            .len() as i64;
        assert_eq!(lifted, (batch * PER_BATCH) as i64);
        assert_eq!(view.count_form("inet:dns:a").await.unwrap(), lifted);
        let tagged = nodes(view.lift_tag("crash", Some("inet:dns:a"), false).unwrap())
            .await
            .len() as i64;
        assert_eq!(tagged, lifted);
        views.fini().await;
    });
}
