//! Bulk ingest through telepath with our client: starts `synapse-servers cortex` on a temp
//! dir, calls `addNodes` with tagged inet:ipv4 / inet:fqdn / inet:dns:a definitions (a third
//! each) in batches, and prints the rate and the server's resident memory as JSON lines (see
//! the bench conventions; impl `rust`).
//!
//! `bench_cortex_ingest --server PATH/synapse-servers [--quick] [--nodes N | --n DEFS] [--batch 1000]`
//!
//! `--nodes N` (default 1e6; 1e4 with `--quick`) is the number of nodes the Cortex ends up
//! with: every three definitions make five nodes (the inet:dns:a adds its inet:fqdn and
//! inet:ipv4), plus the 1000 parent domains, bench.com and com, so about 0.6 N definitions are
//! sent. `--n DEFS` sends an exact number of definitions. The node count reached is read back
//! (`getFormCounts`) and reported with the memory figures.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmpv::Value;
use synapse_telepath::Proxy;

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    while let Some(item) = args.next() {
        if item == name {
            return args.next();
        }
    }
    None
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn status_mib(pid: u32, key: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Resident MiB of the process's mappings of files named `name` (from `/proc/PID/smaps`).
fn mapped_mib(pid: u32, name: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut inside = false;
    let mut kib = 0.0;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            inside = line.ends_with(name);
        } else if inside && first == "Rss:" {
            kib += line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
    }
    kib / 1024.0
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn nodedef(idx: u64) -> Value {
    let s = |t: String| Value::from(t);
    let tags = |tag: &str| {
        Value::Map(vec![(
            Value::from("tags"),
            Value::Map(vec![(
                Value::from(tag),
                Value::Array(vec![Value::Nil, Value::Nil]),
            )]),
        )])
    };
    let (ndef, info) = match idx % 3 {
        0 => (
            Value::Array(vec![Value::from("inet:ipv4"), Value::from(idx)]),
            tags("bench.ipv4"),
        ),
        1 => (
            Value::Array(vec![
                Value::from("inet:fqdn"),
                s(format!("h{idx}.d{}.bench.com", idx % 1000)),
            ]),
            tags("bench.fqdn"),
        ),
        _ => (
            Value::Array(vec![
                Value::from("inet:dns:a"),
                Value::Array(vec![
                    s(format!("a{idx}.bench.com")),
                    Value::from(idx + 0x0a00_0000),
                ]),
            ]),
            tags("bench.dnsa"),
        ),
    };
    Value::Array(vec![ndef, info])
}

/// How many definitions make about `nodes` nodes (see the module doc).
fn defs_for_nodes(nodes: u64) -> u64 {
    (nodes.saturating_sub(1002) * 3 / 5).max(1)
}

/// The number of nodes in the Cortex's default view.
async fn node_count(proxy: &Proxy) -> anyhow::Result<u64> {
    let counts = proxy
        .call(
            "callStorm",
            vec![Value::from("return($lib.view.get().getFormCounts())")],
            Vec::new(),
        )
        .await?;
    let Value::Map(items) = counts else {
        anyhow::bail!("getFormCounts returned {counts}");
    };
    Ok(items.iter().filter_map(|(_, n)| n.as_u64()).sum())
}

fn emit(metric: &str, unit: &str, value: f64, params: serde_json::Value) {
    let line = serde_json::json!({
        "metric": metric, "impl": "rust", "unit": unit, "value": value, "params": params,
    });
    println!("{line}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = arg("--server").unwrap_or_else(|| "target/release/synapse-servers".into());
    let count: u64 = match arg("--n") {
        Some(n) => n.parse()?,
        None if flag("--quick") => defs_for_nodes(10_000),
        None => defs_for_nodes(arg("--nodes").map_or(Ok(1_000_000), |v| v.parse())?),
    };
    let batch: u64 = arg("--batch").map_or(Ok(1000), |v| v.parse())?;
    let tmp = tempfile::tempdir()?;
    let dirn = tmp.path().join("cortex");
    std::fs::create_dir_all(&dirn)?;
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n")?;
    let (port, https) = (free_port()?, free_port()?);
    let mut child = Command::new(&server)
        .arg("cortex")
        .arg(&dirn)
        .args(["--telepath", &format!("tcp://127.0.0.1:{port}/")])
        .args(["--https", &https.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let url = format!("tcp://root:secret@127.0.0.1:{port}/");
    let start = Instant::now();
    let proxy = loop {
        match Proxy::open(&url).await {
            Ok(proxy) => break proxy,
            Err(err) if start.elapsed() > Duration::from_secs(60) => {
                let _ = child.kill();
                return Err(err.into());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    emit(
        "cortex.ingest.rss.empty",
        "MiB",
        status_mib(pid, "VmRSS:"),
        serde_json::json!({}),
    );

    let start = Instant::now();
    let mut done = 0u64;
    while done < count {
        let size = batch.min(count - done);
        let defs: Vec<Value> = (done..done + size).map(nodedef).collect();
        let mut podes = proxy
            .stream("addNodes", vec![Value::Array(defs)], Vec::new())
            .await?;
        let mut got = 0u64;
        while let Some(pode) = podes.next().await {
            pode?;
            got += 1;
        }
        anyhow::ensure!(got == size, "{got} podes for {size} node definitions");
        done += size;
    }
    let took = start.elapsed().as_secs_f64();
    let (rss, hwm) = (status_mib(pid, "VmRSS:"), status_mib(pid, "VmHWM:"));
    let (anon, file) = (status_mib(pid, "RssAnon:"), status_mib(pid, "RssFile:"));
    let lmdb = mapped_mib(pid, "data.mdb");
    let nodes = node_count(&proxy).await?;
    // The same after two idle seconds (memory held only while working is gone).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = status_mib(pid, "VmRSS:");
    let params = serde_json::json!({
        "n": count, "batch": batch, "forms": "inet:ipv4,inet:fqdn,inet:dns:a", "tags": 1,
    });
    emit(
        "cortex.ingest.addnodes",
        "nodes/s",
        count as f64 / took,
        params,
    );
    emit(
        "cortex.ingest.nodes",
        "nodes",
        nodes as f64,
        serde_json::json!({"defs": count}),
    );
    let sizes = serde_json::json!({"nodes": nodes, "defs": count});
    emit("cortex.ingest.rss", "MiB", rss, sizes.clone());
    emit("cortex.ingest.hwm", "MiB", hwm, sizes.clone());
    // What the resident memory is: the process's own (anonymous) and mapped file pages (the
    // layer's LMDB map, which the kernel can drop at will).
    emit("cortex.ingest.rss_anon", "MiB", anon, sizes.clone());
    emit("cortex.ingest.rss_file", "MiB", file, sizes.clone());
    emit("cortex.ingest.rss_lmdb", "MiB", lmdb, sizes.clone());
    emit("cortex.ingest.rss.settled", "MiB", settled, sizes);
    proxy.fini().await;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    Ok(())
}
