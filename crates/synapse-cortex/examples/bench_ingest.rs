//! Bulk ingest benchmark: adds node definitions (`inet:ipv4`, `inet:fqdn`, `inet:dns:a`, each
//! tagged) through the editor in batches, as `addNodes` does, and prints the rate and the
//! resident memory as JSON lines (see the bench conventions).
//!
//! `cargo run --release -p synapse-cortex --example bench_ingest -- [--n 1000000] [--batch 1000] [--dir DIR]`

use std::time::Instant;

use rmpv::Value;
use synapse_cortex::model::Model;
use synapse_cortex::nodeedit::EditMeta;
use synapse_cortex::view::{AllowAll, Views};

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    while let Some(item) = args.next() {
        if item == name {
            return args.next();
        }
    }
    None
}

fn status_mib(key: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
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
            Value::Array(vec![Value::from("inet:ipv4"), Value::from(idx as u32)]),
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
                    Value::from((idx + 0x0a00_0000) as u32),
                ]),
            ]),
            tags("bench.dnsa"),
        ),
    };
    Value::Array(vec![ndef, info])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: u64 = arg("--n").map_or(Ok(1_000_000), |v| v.parse())?;
    let batch: u64 = arg("--batch").map_or(Ok(1000), |v| v.parse())?;
    let tmp = tempfile::tempdir()?;
    let dirn = arg("--dir").map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);

    let model = Model::load_default()?;
    let views = Views::open(&dirn, model).await?;
    let view = views.default_view();
    let rss_before = status_mib("VmRSS:");

    let start = Instant::now();
    let mut idx = 0;
    while idx < count {
        let end = (idx + batch).min(count);
        let defs: Vec<Value> = (idx..end).map(nodedef).collect();
        let mut editor = view.editor(EditMeta::now("root"), AllowAll::arc());
        editor.set_strict(false);
        editor.prefetch_defs(&defs).await?;
        for def in &defs {
            editor.add_node_def(def).await?;
        }
        editor.apply().await?;
        idx = end;
    }
    let took = start.elapsed().as_secs_f64();
    let total = view.count_form("inet:ipv4").await?
        + view.count_form("inet:fqdn").await?
        + view.count_form("inet:dns:a").await?
        + view.count_form("syn:tag").await?;
    let params = serde_json::json!({"n": count, "batch": batch, "nodes_total": total});
    let line = |metric: &str, unit: &str, value: f64| serde_json::json!({"metric": metric, "impl": "rust", "unit": unit, "value": value, "params": params});
    println!(
        "{}",
        line(
            "cortex.ingest.addnodes",
            "nodes/s",
            (count as f64 / took).round()
        )
    );
    println!(
        "{}",
        line("cortex.ingest.rss", "MiB", status_mib("VmRSS:").round())
    );
    println!(
        "{}",
        line("cortex.ingest.hwm", "MiB", status_mib("VmHWM:").round())
    );
    for (metric, key) in [
        ("cortex.ingest.rss_anon", "RssAnon:"),
        ("cortex.ingest.rss_file", "RssFile:"),
    ] {
        println!("{}", line(metric, "MiB", status_mib(key).round()));
    }
    println!(
        "{}",
        line("cortex.ingest.rss_before", "MiB", rss_before.round())
    );
    views.fini().await;
    Ok(())
}
