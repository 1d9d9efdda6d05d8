//! Telepath benchmarks (`cargo xtask bench telepath`, see `bench/telepath.bench`).
//!
//! ```text
//! bench_telepath [--quick]                      Rust client -> Rust server (its own process)
//! bench_telepath serve                          a Rust server; prints {"url": ...}, serves until stdin closes
//! bench_telepath client URL --impl NAME [--quick]   Rust client -> any server
//! ```
//!
//! The server runs on tokio's multi-thread runtime; the client on a `current_thread` runtime
//! (`--client-rt multi` for the multi-thread one), which is what a latency-bound client
//! should use: each reply wakes the one thread waiting for it.
//!
//! Each metric prints one JSON line: `{"metric", "impl", "unit", "value", "params"}`. The
//! server shares a `BenchApi` with `echo(x)` and the generator `genr(n)`, as
//! `bench/telepath_server.py` does for the reference.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use synapse_telepath::{Call, Daemon, Methods, Proxy, Value, genr};

struct BenchApi;

fn methods() -> Arc<Methods<BenchApi>> {
    Arc::new(
        Methods::<BenchApi>::new(["bench.BenchApi"])
            .unary("echo", |_api, mut call: Call| async move {
                let valu: Value = call.params(&["valu"])?.req("valu")?;
                Ok(valu)
            })
            .genr("genr", |_api, mut call: Call| {
                let n: u64 = call.params(&["n"])?.req("n")?;
                Ok(genr(move |y| async move {
                    for i in 0..n {
                        y.emit(i).await;
                    }
                    Ok(())
                }))
            }),
    )
}

async fn serve() -> Result<(Daemon, String), synapse_telepath::Error> {
    let daemon = Daemon::new();
    daemon.share("*", methods().bind(Arc::new(BenchApi)));
    if let Ok(path) = std::env::var("BENCH_UNIX") {
        let url = format!("unix://{path}");
        daemon.listen(&url).await?;
        return Ok((daemon, url));
    }
    let addr = daemon.listen("tcp://127.0.0.1:0").await?;
    Ok((
        daemon,
        format!("tcp://127.0.0.1:{}/", addr.port().unwrap_or(0)),
    ))
}

fn emit(metric: &str, imp: &str, unit: &str, value: f64, params: serde_json::Value) {
    let line = serde_json::json!({
        "metric": metric,
        "impl": imp,
        "unit": unit,
        "value": (value * 100.0).round() / 100.0,
        "params": params,
    });
    println!("{line}");
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

async fn run_client(url: &str, imp: &str, quick: bool) -> Result<(), synapse_telepath::Error> {
    let reps = 3;
    let proxy = Proxy::open(url).await?;
    // Warm up the pool.
    for _ in 0..100 {
        proxy.call("echo", vec![Value::from(1)], vec![]).await?;
    }

    // `BENCH_ONLY=call.seq,...`: run only these metrics (for profiling).
    let only = std::env::var("BENCH_ONLY").ok();
    let want = |metric: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|m| m == metric))
    };

    let n = if quick { 5_000 } else { 20_000 };
    let mut runs = Vec::new();
    if want("call.seq") {
        for _ in 0..reps {
            let start = Instant::now();
            for _ in 0..n {
                proxy.call("echo", vec![Value::from(1)], vec![]).await?;
            }
            runs.push(n as f64 / start.elapsed().as_secs_f64());
        }
        emit(
            "call.seq",
            imp,
            "calls/s",
            median(runs),
            serde_json::json!({"n": n, "method": "echo(1)", "reps": reps}),
        );
    }

    let tasks = 64;
    let n = if quick { 32_000 } else { 128_000 };
    let mut runs = Vec::new();
    if want("call.conc64") {
        for _ in 0..reps {
            let start = Instant::now();
            let workers = (0..tasks).map(|_| {
                let proxy = proxy.clone();
                tokio::spawn(async move {
                    for _ in 0..n / tasks {
                        proxy.call("echo", vec![Value::from(1)], vec![]).await?;
                    }
                    Ok::<(), synapse_telepath::Error>(())
                })
            });
            for res in futures::future::join_all(workers).await {
                res.map_err(|err| synapse_telepath::Error::Io(std::io::Error::other(err)))??;
            }
            runs.push(n as f64 / start.elapsed().as_secs_f64());
        }
        emit(
            "call.conc64",
            imp,
            "calls/s",
            median(runs),
            serde_json::json!({"n": n, "tasks": tasks, "method": "echo(1)", "reps": reps}),
        );
    }

    let n: u64 = if quick { 200_000 } else { 2_000_000 };
    let mut runs = Vec::new();
    if want("genr.items") {
        for _ in 0..reps {
            let start = Instant::now();
            let mut stream = proxy.stream("genr", vec![Value::from(n)], vec![]).await?;
            let mut count = 0u64;
            while let Some(item) = stream.next().await {
                item?;
                count += 1;
            }
            assert_eq!(count, n);
            runs.push(n as f64 / start.elapsed().as_secs_f64());
        }
        emit(
            "genr.items",
            imp,
            "items/s",
            median(runs),
            serde_json::json!({"n": n, "item": "int", "reps": reps}),
        );
    }

    let size = 1 << 20;
    let n = if quick { 50 } else { 300 };
    let payload = Value::from(vec![0x5au8; size]);
    let mut runs = Vec::new();
    if want("payload.1mib") {
        for _ in 0..reps {
            let start = Instant::now();
            for _ in 0..n {
                let back = proxy.call("echo", vec![payload.clone()], vec![]).await?;
                assert_eq!(back.as_slice().map(<[u8]>::len), Some(size));
            }
            let moved = (2 * n * size) as f64;
            runs.push(moved / 1e6 / start.elapsed().as_secs_f64());
        }
        emit(
            "payload.1mib",
            imp,
            "MB/s",
            median(runs),
            serde_json::json!({"n": n, "size": size, "method": "echo(bytes), bytes sent + received", "reps": reps}),
        );
    }
    proxy.fini().await;
    Ok(())
}

/// The client's runtime: `current_thread` by default (what a latency-bound client should
/// use: a call's reply wakes the calling thread directly, with no second worker to wake and
/// hand the task to), or the multi-thread one with `--client-rt multi`.
fn client_runtime(args: &[String]) -> std::io::Result<tokio::runtime::Runtime> {
    let multi = args
        .iter()
        .position(|arg| arg == "--client-rt")
        .and_then(|idx| args.get(idx + 1))
        .is_some_and(|rt| rt == "multi");
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

/// The server's runtime: the multi-thread one, as a server uses.
fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let imp = args
        .iter()
        .position(|arg| arg == "--impl")
        .and_then(|idx| args.get(idx + 1))
        .cloned();
    match args.first().map(String::as_str) {
        Some("serve") => server_runtime()?.block_on(async {
            let (daemon, url) = serve().await?;
            println!("{}", serde_json::json!({ "url": url }));
            // Serve until stdin closes.
            tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::stdin().read_to_end(&mut sink);
            })
            .await?;
            daemon.fini().await;
            Ok(())
        }),
        Some("client") => {
            let url = args.get(1).ok_or("client needs a URL")?.clone();
            let imp = imp.unwrap_or_else(|| "rust-client".to_owned());
            client_runtime(&args)?.block_on(async {
                run_client(&url, &imp, quick).await?;
                Ok(())
            })
        }
        _ => {
            // The server in a process of its own (this program's `serve`), as a deployment
            // runs it: threads of one process share its spinning budget (`synapse_base::spin`).
            let mut child = std::process::Command::new(std::env::current_exe()?)
                .arg("serve")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()?;
            let mut line = String::new();
            {
                use std::io::BufRead;
                let out = child.stdout.take().ok_or("no server stdout")?;
                std::io::BufReader::new(out).read_line(&mut line)?;
            }
            let url: serde_json::Value = serde_json::from_str(&line)?;
            let url = url["url"]
                .as_str()
                .ok_or("no url from the server")?
                .to_owned();
            let imp = imp.unwrap_or_else(|| "rust".to_owned());
            let res = client_runtime(&args)?.block_on(run_client(&url, &imp, quick));
            drop(child.stdin.take());
            child.wait()?;
            res?;
            Ok(())
        }
    }
}
