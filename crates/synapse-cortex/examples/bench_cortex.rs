//! Storm benchmarks.
//!
//! * `bench_cortex inproc [--quick]`: the runtime in process (no network): node creation in
//!   Storm, lift streaming (packed nodes), counts, filters, range/prop/tag lifts, pivots.
//! * `bench_cortex client URL [--quick]`: a Rust telepath client streaming `inet:ipv4` from a
//!   running cortex (`storm()` messages), for `cargo xtask bench cortex`.
//!
//! Prints one JSON line per metric: `{"metric", "impl", "unit", "value", "params"}`.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use rmpv::Value;
use synapse_cortex::model::Model;
use synapse_cortex::storm::runtime::{self, StormCore, StormOpts, StormUser};
use synapse_cortex::view::Views;

fn emit(metric: &str, imp: &str, unit: &str, value: f64, params: serde_json::Value) {
    println!(
        "{}",
        serde_json::json!({"metric": metric, "impl": imp, "unit": unit, "value": value, "params": params})
    );
}

fn opts(vars: &[(&str, i64)]) -> StormOpts {
    let vars = Value::Map(
        vars.iter()
            .map(|(k, v)| (Value::from(*k), Value::from(*v)))
            .collect(),
    );
    StormOpts::from_value(&Value::Map(vec![(Value::from("vars"), vars)])).unwrap_or_default()
}

async fn count(core: &Arc<StormCore>, text: &str, o: StormOpts) -> (f64, u64) {
    let user = StormUser::admin("0434a354c0d7c0b1c0d7c0b1c0d7c0b1", "root");
    let tick = Instant::now();
    let n = runtime::count(Arc::clone(core), user, text, o)
        .await
        .unwrap_or_default();
    (tick.elapsed().as_secs_f64(), n)
}

async fn inproc(quick: bool) {
    let dir = std::env::temp_dir().join(format!("bench_cortex_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(model) = Model::load_default() else { return };
    let Ok(views) = Views::open(&dir, model).await else { return };
    let core = Arc::new(StormCore::new(Arc::new(views)));
    let (nipv4, ntag, ndns) = if quick { (3000, 1000, 1000) } else { (25000, 3000, 3000) };
    let imp = "rust-inproc";

    let q = "for $i in $lib.range($b, $a) { [ inet:ipv4=$i ] }";
    let (took, n) = count(&core, q, opts(&[("a", 0), ("b", nipv4)])).await;
    emit("create.ipv4", imp, "nodes/s", n as f64 / took, serde_json::json!({"n": n}));

    let q = "for $i in $lib.range($b, $a) { [ inet:ipv4=$i :asn=$i :loc=us.va +#foo +#bench.tagged ] }";
    let base = 0x1000_0000i64;
    let (took, n) = count(&core, q, opts(&[("a", base), ("b", base + ntag)])).await;
    emit("create.tagged", imp, "nodes/s", n as f64 / took, serde_json::json!({"n": n}));

    let q = "for $i in $lib.range($b, $a) { [ inet:dns:a=(`h{$i}.bench.com`, $i) ] }";
    let (took, n) = count(&core, q, opts(&[("a", 0), ("b", ndns)])).await;
    emit("create.dnsa", imp, "nodes/s", n as f64 / took, serde_json::json!({"n": n}));

    let user = StormUser::admin("0434a354c0d7c0b1c0d7c0b1c0d7c0b1", "root");
    let tick = Instant::now();
    let mut stream = runtime::storm(Arc::clone(&core), user, "inet:ipv4".into(), StormOpts::from_value(&Value::Nil).unwrap_or_default());
    let mut nodes = 0u64;
    while let Some(m) = stream.next().await {
        if m.kind == "node" {
            nodes += 1;
        }
    }
    let took = tick.elapsed().as_secs_f64();
    emit("lift.stream", imp, "nodes/s", nodes as f64 / took, serde_json::json!({"n": nodes}));

    for (metric, q) in [
        ("lift.count", "inet:ipv4"),
        ("filter.gt", "inet:ipv4 +inet:ipv4>1000"),
        ("lift.range", "inet:ipv4>1000"),
        ("lift.prop", "inet:ipv4:loc=us.va"),
        ("lift.tag", "#foo"),
        ("pivot.chain", "inet:fqdn -> inet:dns:a -> inet:ipv4"),
    ] {
        let (took, n) = count(&core, q, opts(&[])).await;
        let rate = if metric == "filter.gt" { nodes as f64 / took } else { n as f64 / took };
        emit(metric, imp, "nodes/s", rate, serde_json::json!({"query": q, "n_out": n}));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn client(url: &str) {
    let Ok(proxy) = synapse_telepath::openurl(url).await else {
        eprintln!("cannot connect to {url}");
        return;
    };
    let tick = Instant::now();
    let Ok(mut stream) = proxy
        .stream("storm", vec![Value::from("inet:ipv4")], Vec::new())
        .await
    else {
        return;
    };
    let mut nodes = 0u64;
    while let Some(item) = stream.next().await {
        match item {
            Ok(Value::Array(parts)) if parts.first().and_then(Value::as_str) == Some("node") => nodes += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let took = tick.elapsed().as_secs_f64();
    emit(
        "lift.stream",
        "rust-client/rust-server",
        "nodes/s",
        nodes as f64 / took,
        serde_json::json!({"query": "inet:ipv4", "n": nodes, "via": "telepath storm()"}),
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    match args.get(1).map(String::as_str) {
        Some("client") => match args.get(2) {
            Some(url) => client(url).await,
            None => eprintln!("usage: bench_cortex client URL"),
        },
        _ => inproc(quick).await,
    }
}
