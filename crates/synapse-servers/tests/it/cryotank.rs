//! `synapse-servers cryotank`: acknowledged puts survive SIGKILL under concurrent writers
//! (Rust clients), and the reference Python client and cryo tools work against it, across a
//! restart, and tank directories move between our server and the reference's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use synapse_cryotank::{CryoClient, SliceOpts};
use synapse_telepath::Value;

use crate::server::{Server, assert_ok, run_py};

/// One acknowledged `puts`: records `[writer, batch, seq]` for `seq` in `0..size`.
#[derive(Debug, Clone, Copy)]
struct Acked {
    writer: u64,
    batch: u64,
    size: u64,
}

fn batch_size(writer: u64, batch: u64) -> u64 {
    // Sizes cross the 1000-record chunk of the metrics rows.
    1 + (writer * 7919 + batch * 104_729) % 1500
}

fn records(writer: u64, batch: u64) -> Vec<Value> {
    (0..batch_size(writer, batch))
        .map(|seq| Value::Array(vec![writer.into(), batch.into(), seq.into()]))
        .collect()
}

fn ids(item: &Value) -> (u64, u64, u64) {
    let parts: Vec<u64> = item
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    (parts[0], parts[1], parts[2])
}

async fn slice_all(client: &CryoClient, name: &str) -> Vec<(u64, Value)> {
    client
        .slice(name, 0, SliceOpts::default())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Write until the link breaks; every acknowledged batch is recorded.
async fn write_until_killed(
    url: String,
    tank: &'static str,
    writer: u64,
    acked: Arc<Mutex<Vec<Acked>>>,
) {
    let client = CryoClient::open(&url).await.unwrap();
    for batch in 0.. {
        let items = records(writer, batch);
        let size = items.len() as u64;
        match client.puts(tank, items).await {
            Ok(count) => {
                assert_eq!(count, size);
                acked.lock().unwrap().push(Acked {
                    writer,
                    batch,
                    size,
                });
            }
            // The server was killed.
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_puts_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cryo");
    let server = Server::start("cryotank", &dirn, &["--auth-passwd", "secret"]);
    let url = format!("tcp://root:secret@127.0.0.1:{}/", server.port);
    let admin = CryoClient::open(&url).await.unwrap();
    admin.init("shared", None).await.unwrap();
    admin.init("solo", None).await.unwrap();

    let shared: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let solo: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..4 {
        writers.push(tokio::spawn(write_until_killed(
            url.clone(),
            "shared",
            writer,
            shared.clone(),
        )));
    }
    writers.push(tokio::spawn(write_until_killed(
        url.clone(),
        "solo",
        9,
        solo.clone(),
    )));

    // A reader following the shared tank: whatever it sees is committed, so it must be found at
    // the same offset after the crash.
    let observed: Arc<Mutex<Vec<(u64, Value)>>> = Arc::default();
    let follow = {
        let observed = observed.clone();
        let reader = admin.clone();
        tokio::spawn(async move {
            let opts = SliceOpts {
                wait: true,
                ..SliceOpts::default()
            };
            let mut rows = reader.slice("shared", 0, opts).await.unwrap();
            while let Ok(Some(row)) = rows.try_next().await {
                observed.lock().unwrap().push(row);
            }
        })
    };

    // Kill -9 mid-stream, once plenty has been acknowledged.
    let began = Instant::now();
    loop {
        let done: u64 = shared.lock().unwrap().iter().map(|a| a.size).sum();
        let solo_done = solo.lock().unwrap().len();
        if done >= 40_000 && solo_done >= 10 {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "writers are too slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(server);
    // Every writer was still writing: each one ends only on an error.
    for writer in writers {
        writer.await.unwrap();
    }
    follow.await.unwrap();
    admin.fini().await;
    let shared = shared.lock().unwrap().clone();
    let solo = solo.lock().unwrap().clone();
    let observed = observed.lock().unwrap().clone();

    let server = Server::start("cryotank", &dirn, &[]);
    let url = format!("tcp://root:secret@127.0.0.1:{}/", server.port);
    let client = CryoClient::open(&url).await.unwrap();

    // The shared tank: dense offsets, every batch whole and in order (acknowledged or not),
    // every acknowledged batch there, every observed record at its offset.
    let rows = slice_all(&client, "shared").await;
    let mut batches: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for (indx, (offs, item)) in rows.iter().enumerate() {
        assert_eq!(*offs, indx as u64, "offsets are dense");
        let (writer, batch, seq) = ids(item);
        batches
            .entry((writer, batch))
            .or_default()
            .push((*offs, seq));
    }
    for ((writer, batch), run) in &batches {
        assert_eq!(
            run.len() as u64,
            batch_size(*writer, *batch),
            "batch {writer}/{batch} is whole"
        );
        for (i, (offs, seq)) in run.iter().enumerate() {
            assert_eq!((*offs, *seq), (run[0].0 + i as u64, i as u64));
        }
    }
    for acked in &shared {
        assert!(
            batches.contains_key(&(acked.writer, acked.batch)),
            "acknowledged batch {acked:?} was lost"
        );
    }
    assert!(!observed.is_empty());
    for (offs, item) in &observed {
        assert_eq!(
            &rows[*offs as usize],
            &(*offs, item.clone()),
            "observed record moved"
        );
    }

    // The single-writer tank: each acknowledged record at exactly the offset it was given.
    let rows = slice_all(&client, "solo").await;
    let acked_total: u64 = solo.iter().map(|a| a.size).sum();
    assert!(
        rows.len() as u64 >= acked_total,
        "acknowledged solo records were lost"
    );
    let mut offs = 0;
    for acked in &solo {
        for seq in 0..acked.size {
            let item = Value::Array(vec![acked.writer.into(), acked.batch.into(), seq.into()]);
            assert_eq!(rows[offs as usize], (offs, item));
            offs += 1;
        }
    }
    // Only the batch in flight at the kill may follow, whole.
    let extra = rows.len() as u64 - acked_total;
    assert!(
        extra == 0 || extra == batch_size(9, solo.len() as u64),
        "{extra} extra records"
    );

    // The metrics rows chain up and account for every record; writing goes on after them.
    let total = client
        .last("shared")
        .await
        .unwrap()
        .map_or(0, |(offs, _)| offs + 1);
    let metrics: Vec<(u64, Value)> = client
        .metrics("shared", 0, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let field = |row: &Value, key: &str| -> u64 {
        row.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .and_then(|(_, v)| v.as_u64())
            .unwrap()
    };
    let mut next = 0;
    for (_, row) in &metrics {
        assert_eq!(field(row, "orig"), next);
        next = field(row, "indx");
    }
    assert_eq!(next, total);
    assert_eq!(
        client.puts("shared", vec!["after".into()]).await.unwrap(),
        1
    );
    assert_eq!(
        client.last("shared").await.unwrap(),
        Some((total, "after".into()))
    );
    client.fini().await;
    server.stop();
}

#[test]
fn python_client_and_tools_against_cryotank_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cryo");
    let server = Server::start("cryotank", &dirn, &["--auth-passwd", "secret"]);
    let args = |cmd: &str, server: &Server| {
        vec![
            cmd.to_string(),
            "127.0.0.1".to_string(),
            server.port.to_string(),
        ]
    };
    let out = run_py("cryotank_interop.py", &args("setup", &server));
    let first: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    server.stop();

    let server = Server::start("cryotank", &dirn, &[]);
    let out = run_py("cryotank_interop.py", &args("verify", &server));
    let second: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    assert_eq!(first["foo"], second["foo"]);
    assert_eq!(first["mine"], second["mine"]);
    server.stop();
}

/// A tank directory made by the reference is read and written by ours and stays readable by
/// the reference; tanks we make there use our layout, which the reference does not read.
#[test]
fn tank_directories_move_between_the_servers() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cryo");
    std::fs::create_dir_all(&dirn).unwrap();
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let step = |cmd: &str, server: &Server| {
        let args = [
            cmd.to_string(),
            "127.0.0.1".to_string(),
            server.port.to_string(),
        ];
        assert_ok(&run_py("cryotank_interop.py", &args));
    };
    for (ours, cmd) in [
        (false, "refmake"),
        (true, "onours"),
        (false, "refback"),
        (true, "oursback"),
    ] {
        let server = if ours {
            Server::start("cryotank", &dirn, &[])
        } else {
            Server::start_ref("cryotank", None, &dirn)
        };
        step(cmd, &server);
        server.stop();
    }
}
