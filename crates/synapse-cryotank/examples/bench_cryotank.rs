//! Cryotank throughput through the Rust client against our server (`synapse-servers
//! cryotank`), the same work as `bench/cryotank_bench.py`: puts of 1000 small records per
//! call, and slices. Prints JSON lines for `cargo xtask bench cryotank`.
//!
//! `bench_cryotank --server PATH/synapse-servers [--quick] [--reps N] [--only puts]`

#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use synapse_cryotank::{CryoClient, SliceOpts};
use synapse_telepath::Value;

/// The same allocator as `synapse-servers`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: u64 = 1000;

fn mkrec(i: u64) -> Value {
    Value::Map(vec![
        ("time".into(), Value::from(1_700_000_000_000 + i)),
        ("name".into(), Value::from(format!("record-{i:08}"))),
        (
            "host".into(),
            Value::from(format!("host{}.example.com", i % 97)),
        ),
        ("port".into(), Value::from(i % 65536)),
        (
            "tags".into(),
            Value::Array(vec!["alpha".into(), "beta".into()]),
        ),
        ("ok".into(), Value::Boolean(i & 1 == 1)),
    ])
}

fn batches(start: u64, count: u64) -> Vec<Vec<Value>> {
    (start..start + count)
        .step_by(BATCH as usize)
        .map(|s| (s..(s + BATCH).min(start + count)).map(mkrec).collect())
        .collect()
}

fn emit(metric: &str, unit: &str, samples: &mut [f64], params: serde_json::Value) {
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    let line = serde_json::json!({
        "metric": metric,
        "impl": "rust",
        "unit": unit,
        "value": median,
        "params": params,
    });
    println!("{line}");
    eprintln!("rust {metric}: {median:.0} {unit}");
}

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(server: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("cryo");
    let (port, https) = (free_port(), free_port());
    let child = Command::new(server)
        .arg("cryotank")
        .arg(&dirn)
        .args(["--telepath", &format!("tcp://127.0.0.1:{port}/")])
        .args(["--https", &https.to_string(), "--auth-passwd", "secret"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("tcp://root:secret@127.0.0.1:{port}/");
    let began = Instant::now();
    loop {
        if let Ok(client) = CryoClient::open(&url).await {
            client.fini().await;
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server {
        child,
        url,
        _dir: dir,
    }
}

async fn put_all(client: &CryoClient, name: &str, batches: Vec<Vec<Value>>) {
    for batch in batches {
        client.puts(name, batch).await.unwrap();
    }
}

// One thread, as a latency-bound client should run (and as `bench_telepath`'s client does): the
// reply is read by the thread that waits for it.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let server = opt("--server").expect("--server PATH is required");
    let reps: usize = opt("--reps").map_or(3, |n| n.parse().unwrap());
    let nrecs: u64 = if quick { 20_000 } else { 300_000 };
    // `--only puts`: stop after the puts (for profiling).
    let only_puts = opt("--only").as_deref() == Some("puts");

    let srv = start(&server).await;
    let client = CryoClient::open(&srv.url).await.unwrap();
    client
        .puts("warmup", (0..100).map(mkrec).collect())
        .await
        .unwrap();

    let mut samples = Vec::new();
    for rep in 0..reps {
        let name = format!("bench{rep}");
        client.init(&name, None).await.unwrap();
        let work = batches(0, nrecs);
        let began = Instant::now();
        put_all(&client, &name, work).await;
        samples.push(nrecs as f64 / began.elapsed().as_secs_f64());
    }
    emit(
        "puts",
        "records/s",
        &mut samples,
        serde_json::json!({"n": nrecs, "batch": BATCH}),
    );

    if only_puts {
        client.fini().await;
        return;
    }

    let mut samples = Vec::new();
    for rep in 0..reps {
        let names: Vec<String> = (0..4).map(|w| format!("conc{rep}-{w}")).collect();
        for name in &names {
            client.init(name, None).await.unwrap();
        }
        let per = nrecs / 4;
        let began = Instant::now();
        let tasks: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(w, name)| {
                let client = client.clone();
                let name = name.clone();
                let work = batches(w as u64 * per, per);
                tokio::spawn(async move { put_all(&client, &name, work).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        samples.push((per * 4) as f64 / began.elapsed().as_secs_f64());
    }
    emit(
        "puts.conc4",
        "records/s",
        &mut samples,
        serde_json::json!({"n": nrecs, "batch": BATCH, "writers": 4}),
    );

    let mut samples = Vec::new();
    for rep in 0..reps {
        let began = Instant::now();
        let rows: Vec<(u64, Value)> = client
            .slice(&format!("bench{rep}"), 0, SliceOpts::default())
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(rows.len() as u64, nrecs);
        samples.push(nrecs as f64 / began.elapsed().as_secs_f64());
    }
    emit(
        "slice",
        "records/s",
        &mut samples,
        serde_json::json!({"n": nrecs, "call": "slice(name, 0)"}),
    );

    let mut samples = Vec::new();
    for rep in 0..reps {
        let name = format!("bench{rep}");
        let began = Instant::now();
        let mut offs = 0;
        let mut count = 0;
        while offs < nrecs {
            let opts = SliceOpts {
                size: Some(BATCH),
                ..SliceOpts::default()
            };
            let rows: Vec<(u64, Value)> = client
                .slice(&name, offs, opts)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let Some((last, _)) = rows.last() else { break };
            offs = last + 1;
            count += rows.len() as u64;
        }
        assert_eq!(count, nrecs);
        samples.push(count as f64 / began.elapsed().as_secs_f64());
    }
    emit(
        "slice.batch",
        "records/s",
        &mut samples,
        serde_json::json!({"n": nrecs, "call": "slice(name, offs, size=1000) repeated"}),
    );

    let nlast = if quick { 1000 } else { 5000 };
    let mut samples = Vec::new();
    for _ in 0..reps {
        let began = Instant::now();
        for _ in 0..nlast {
            client.last("bench0").await.unwrap();
        }
        samples.push(nlast as f64 / began.elapsed().as_secs_f64());
    }
    emit(
        "last",
        "calls/s",
        &mut samples,
        serde_json::json!({"n": nlast}),
    );
    client.fini().await;
}
