//! Scrape throughput: `scrape::context_scrape` over a generated text of mixed indicators,
//! defanged and not (the same text as `bench/scrape_ref.py`). Prints one JSON line per metric.
//!
//!     cargo run --release -p synapse-cortex --example bench_scrape [--quick]

use std::time::Instant;

use md5::{Digest, Md5};
use synapse_cortex::scrape;

fn gentext(lines: usize) -> String {
    let mut out = String::new();
    for i in 0..lines {
        let md5 = hex::encode(Md5::digest(i.to_string().as_bytes()));
        out.push_str(&format!(
            "line {i}: visit hxxp://host{i}[.]example[.]com/path?id={i} from 10.{}.{}.{} mail user{i}@corp{}.com hash {md5} re CVE-2021-{:04} and some filler text with words.\n",
            i / 65536 % 256,
            i / 256 % 256,
            i % 256,
            i % 97,
            i % 10000
        ));
    }
    out
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let lines = if quick { 500 } else { 5000 };
    let text = gentext(lines);
    // compile the rules outside the timed part (the reference compiles them at import)
    let _ = scrape::context_scrape("warm up 1.2.3.4", None, true, false);
    let start = Instant::now();
    let matches = scrape::context_scrape(&text, None, true, false).len();
    let took = start.elapsed().as_secs_f64();
    let mb = text.len() as f64 / 1e6;
    println!(
        "{}",
        serde_json::json!({
            "metric": "scrape.context",
            "impl": "rust",
            "unit": "MB/s",
            "value": (mb / took * 1000.0).round() / 1000.0,
            "params": {"lines": lines, "matches": matches},
        })
    );
}
