//! Measure Storm parser throughput over a file of queries (one JSON line per query with a "q"
//! field, like the parser fixture) and print a JSON metric line.

use std::io::Read;
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crates/synapse-cortex/tests/storm_refparse.jsonl.gz".into());
    let raw = std::fs::read(&path).unwrap_or_default();
    let mut text = String::new();
    if path.ends_with(".gz") {
        let _ = flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut text);
    } else {
        text = String::from_utf8_lossy(&raw).into_owned();
    }
    let queries: Vec<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|item| item["q"].as_str().map(str::to_string))
        .collect();
    let bytes: usize = queries.iter().map(String::len).sum();
    let rounds = 5;
    let start = Instant::now();
    let mut ok = 0usize;
    for _ in 0..rounds {
        for query in &queries {
            if synapse_cortex::storm::parse_query(query).is_ok() {
                ok += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let per_sec = (queries.len() * rounds) as f64 / secs;
    let mb_per_sec = (bytes * rounds) as f64 / secs / 1e6;
    println!(
        "{{\"metric\": \"storm.parse\", \"impl\": \"rust\", \"unit\": \"queries/s\", \"value\": {per_sec:.0}, \"params\": {{\"queries\": {}, \"accepted\": {}, \"mb_per_s\": {mb_per_sec:.1}}}}}",
        queries.len(),
        ok / rounds
    );
}
