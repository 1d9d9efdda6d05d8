//! Crash consistency: a writer process is killed with SIGKILL mid-stream; every write it saw
//! committed must be there when the slab is reopened.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use synapse_slab::{DbOptions, Error, Scan, Slab, SlabOptions};

const CHILD_ENV: &str = "SYNAPSE_SLAB_CRASH_CHILD";

/// The writer: appends rows forever, reporting each commit on stdout.
async fn child(path: &str) {
    let slab = Slab::open(path, SlabOptions::default()).await.unwrap();
    let db = slab.initdb("rows", DbOptions::default()).await.unwrap();
    let mut idx: u64 = 0;
    loop {
        // Ten rows per closure, each closure atomic; every 5th batch waits for its commit.
        let start = idx;
        let wait = (start / 10).is_multiple_of(5);
        let write = move |txn: &mut synapse_slab::Txn<'_>| {
            for row in start..start + 10 {
                txn.put(db, &row.to_be_bytes(), &row.to_le_bytes().repeat(8))?;
            }
            Ok::<_, Error>(())
        };
        if wait {
            slab.write_commit(write).await.unwrap();
            println!("committed {}", start + 10);
        } else {
            slab.write(write).await.unwrap();
        }
        idx += 10;
    }
}

#[test]
fn sigkill_mid_stream_keeps_every_committed_write() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(path) = std::env::var(CHILD_ENV) {
        runtime.block_on(child(&path));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.lmdb");
    let exe = std::env::current_exe().unwrap();
    let mut proc = Command::new(exe)
        .args([
            "crash::sigkill_mid_stream_keeps_every_committed_write",
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
    let mut committed = 0u64;
    let mut reports = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(count) = line.strip_prefix("committed ") {
            committed = count.trim().parse().unwrap();
            reports += 1;
            if reports == 200 {
                break;
            }
        }
    }
    // SIGKILL: no chance to commit or close.
    proc.kill().unwrap();
    proc.wait().unwrap();
    assert!(committed >= 1000, "child reported only {committed} rows");

    runtime.block_on(async {
        let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
        let db = slab.initdb("rows", DbOptions::default()).await.unwrap();
        let rows = slab
            .read(move |txn| {
                let mut next = 0u64;
                for row in txn.scan(db, Scan::full())? {
                    let (key, val) = row?;
                    let idx = u64::from_be_bytes(key.try_into().unwrap());
                    // Rows are contiguous (closures commit whole) and intact.
                    assert_eq!(idx, next);
                    assert_eq!(val, idx.to_le_bytes().repeat(8).as_slice());
                    next += 1;
                }
                Ok::<_, Error>(next)
            })
            .await
            .unwrap();
        assert!(
            rows >= committed,
            "{rows} rows on disk, {committed} were committed"
        );
        assert_eq!(rows % 10, 0, "a closure's writes were split by the crash");
        slab.fini().await;
    });
}
