//! Cortex / Storm benchmarks with our telepath client against our server, for
//! `cargo xtask bench cortex` (impl `rust`): the same phases as `bench/cortex_storm.py`.
//!
//! `bench_cortex --server PATH/synapse-servers [--quick]`
//!
//! Starts `synapse-servers cortex` on a temp dir and measures its startup (fresh and loaded),
//! node creation inside Storm (`count()` of `for` loops that make nodes), lift streaming
//! (`storm()` with every node shipped to the client), server-side counts of lifts, a filter,
//! range / prop / tag lifts and a two-hop pivot, and the server's resident memory. Prints one
//! JSON line per metric: `{"metric", "impl", "unit", "value", "params"}`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use rmpv::Value;
use serde_json::json;
use synapse_telepath::Proxy;

const Q_IPV4: &str = "for $i in $lib.range($b, $a) { [ inet:ipv4=$i ] }";
const Q_TAGGED: &str =
    "for $i in $lib.range($b, $a) { [ inet:ipv4=$i :asn=$i :loc=us.va +#foo +#bench.tagged ] }";
const Q_DNSA: &str = "for $i in $lib.range($b, $a) { [ inet:dns:a=(`h{$i}.bench.com`, $i) ] }";
const TAGBASE: i64 = 0x1000_0000;

const COUNTS: [(&str, &str, &str); 6] = [
    ("cortex.lift.count", "inet:ipv4", "nodes/s"),
    (
        "cortex.filter.gt",
        "inet:ipv4 +inet:ipv4>1000",
        "input nodes/s",
    ),
    ("cortex.lift.range", "inet:ipv4>1000", "nodes/s"),
    ("cortex.lift.prop", "inet:ipv4:loc=us.va", "nodes/s"),
    ("cortex.lift.tag", "#foo", "nodes/s"),
    (
        "cortex.pivot.chain",
        "inet:fqdn -> inet:dns:a -> inet:ipv4",
        "output nodes/s",
    ),
];

fn emit(metric: &str, unit: &str, value: f64, params: serde_json::Value) {
    let line =
        json!({"metric": metric, "impl": "rust", "unit": unit, "value": value, "params": params});
    println!("{line}");
}

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    while let Some(item) = args.next() {
        if item == name {
            return args.next();
        }
    }
    None
}

fn status_mib(pid: u32, key: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A spawned `synapse-servers cortex`.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Spawn the server on `dirn` and wait for its first `getCellIden()`: the server and the
    /// seconds it took.
    async fn start(binary: &str, dirn: &Path) -> anyhow::Result<(Server, f64)> {
        let (port, https) = (free_port()?, free_port()?);
        let tick = Instant::now();
        let child = Command::new(binary)
            .arg("cortex")
            .arg(dirn)
            .args(["--telepath", &format!("tcp://127.0.0.1:{port}/")])
            .args(["--https", &https.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {binary}"))?;
        let mut server = Server {
            child,
            url: format!("tcp://root:secret@127.0.0.1:{port}/"),
        };
        loop {
            if let Ok(proxy) = Proxy::open(&server.url).await {
                let up = proxy.call("getCellIden", Vec::new(), Vec::new()).await;
                proxy.fini().await;
                if up.is_ok() {
                    return Ok((server, tick.elapsed().as_secs_f64()));
                }
            }
            if tick.elapsed() > Duration::from_secs(120) {
                server.stop();
                bail!("the cortex did not come up");
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the cortex exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn vars(pairs: &[(&str, i64)]) -> Vec<(String, Value)> {
    let vars = Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), Value::from(*v)))
            .collect(),
    );
    vec![(
        "opts".to_string(),
        Value::Map(vec![(Value::from("vars"), vars)]),
    )]
}

async fn timed_count(
    proxy: &Proxy,
    query: &str,
    kwargs: Vec<(String, Value)>,
) -> anyhow::Result<(f64, u64)> {
    let tick = Instant::now();
    let count = proxy
        .call("count", vec![Value::from(query)], kwargs)
        .await
        .with_context(|| format!("count({query})"))?;
    let count = count.as_u64().context("count() returned no integer")?;
    Ok((tick.elapsed().as_secs_f64(), count))
}

async fn run(binary: &str, dirn: &Path, quick: bool) -> anyhow::Result<()> {
    let (nipv4, ntag, ndns): (i64, i64, i64) = if quick {
        (5000, 1000, 1000)
    } else {
        (75000, 9000, 9000)
    };
    let (mut server, took) = Server::start(binary, dirn).await?;
    emit("cortex.startup.fresh", "s", took, json!({}));
    emit(
        "cortex.rss.empty",
        "MiB",
        status_mib(server.pid(), "VmRSS:"),
        json!({}),
    );

    let proxy = Proxy::open(&server.url).await?;
    timed_count(&proxy, "[ inet:ipv4=1.2.3.4 ] | delnode", Vec::new()).await?;
    for (metric, query, base, size) in [
        ("cortex.create.ipv4", Q_IPV4, 0, nipv4),
        ("cortex.create.tagged", Q_TAGGED, TAGBASE, ntag),
        ("cortex.create.dnsa", Q_DNSA, 0, ndns),
    ] {
        let (took, count) =
            timed_count(&proxy, query, vars(&[("a", base), ("b", base + size)])).await?;
        anyhow::ensure!(
            count == size as u64,
            "{metric}: {count} nodes, {size} expected"
        );
        emit(
            metric,
            "nodes/s",
            count as f64 / took,
            json!({"query": query, "n": size}),
        );
    }
    let counts = proxy
        .call(
            "callStorm",
            vec![Value::from("return($lib.view.get().getFormCounts())")],
            Vec::new(),
        )
        .await?;
    let total: u64 = match counts {
        Value::Map(items) => items.iter().filter_map(|(_, v)| v.as_u64()).sum(),
        _ => 0,
    };
    eprintln!("rust: {total} nodes");
    eprintln!(
        "rust: loaded RssAnon {:.1} MiB, RssFile {:.1} MiB",
        status_mib(server.pid(), "RssAnon:"),
        status_mib(server.pid(), "RssFile:")
    );
    emit(
        "cortex.rss.loaded",
        "MiB",
        status_mib(server.pid(), "VmRSS:"),
        json!({"nodes": total}),
    );
    emit(
        "cortex.hwm.loaded",
        "MiB",
        status_mib(server.pid(), "VmHWM:"),
        json!({"nodes": total}),
    );

    let (_, ipv4s) = timed_count(&proxy, "inet:ipv4", Vec::new()).await?;
    let tick = Instant::now();
    let mut stream = proxy
        .stream("storm", vec![Value::from("inet:ipv4")], Vec::new())
        .await?;
    let mut nodes = 0u64;
    while let Some(item) = stream.next().await {
        let mesg = item?;
        match mesg
            .as_array()
            .and_then(|m| m.first())
            .and_then(Value::as_str)
        {
            Some("node") => nodes += 1,
            Some("err") => bail!("storm error: {mesg}"),
            _ => {}
        }
    }
    let took = tick.elapsed().as_secs_f64();
    anyhow::ensure!(nodes == ipv4s, "streamed {nodes} of {ipv4s} nodes");
    emit(
        "cortex.lift.stream",
        "nodes/s",
        nodes as f64 / took,
        json!({"query": "inet:ipv4", "n": nodes, "via": "telepath storm()"}),
    );
    for (metric, query, unit) in COUNTS {
        let (took, count) = timed_count(&proxy, query, Vec::new()).await?;
        let input = if metric == "cortex.filter.gt" {
            ipv4s
        } else {
            count
        };
        emit(
            metric,
            unit,
            input as f64 / took,
            json!({"query": query, "n_out": count}),
        );
    }
    proxy.fini().await;
    eprintln!(
        "rust: after queries RssAnon {:.1} MiB, RssFile {:.1} MiB",
        status_mib(server.pid(), "RssAnon:"),
        status_mib(server.pid(), "RssFile:")
    );
    emit(
        "cortex.rss.after_queries",
        "MiB",
        status_mib(server.pid(), "VmRSS:"),
        json!({"nodes": total}),
    );
    emit(
        "cortex.hwm.after_queries",
        "MiB",
        status_mib(server.pid(), "VmHWM:"),
        json!({"nodes": total}),
    );

    server.stop();
    let (mut server, took) = Server::start(binary, dirn).await?;
    emit("cortex.startup.loaded", "s", took, json!({"nodes": total}));
    emit(
        "cortex.rss.restarted",
        "MiB",
        status_mib(server.pid(), "VmRSS:"),
        json!({"nodes": total}),
    );
    let proxy = Proxy::open(&server.url).await?;
    let after = timed_count(&proxy, "inet:ipv4", Vec::new()).await;
    proxy.fini().await;
    server.stop();
    let (_, after) = after?;
    anyhow::ensure!(
        after == ipv4s,
        "{after} inet:ipv4 after the restart, {ipv4s} before"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = arg("--server").unwrap_or_else(|| "target/release/synapse-servers".into());
    let quick = std::env::args().any(|a| a == "--quick");
    let tmp = tempfile::tempdir()?;
    let dirn = tmp.path().join("cortex");
    std::fs::create_dir_all(&dirn)?;
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n")?;
    run(&binary, &dirn, quick).await
}
