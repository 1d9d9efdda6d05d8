//! `cargo xtask bench axon`, Rust side: this machine's single-core sha256 speed (impl
//! `machine`), and our client against our server (`synapse-servers axon`, impl `rust`):
//! upload and download MB/s over telepath and HTTPS, `puts` of small blobs (files/s), `has`
//! (calls/s) and `wants` (hashes/s), and the server's memory. One JSON line per metric on stdout.
//!
//! Usage: `bench_axon [--quick] [--bin PATH/TO/synapse-servers]`

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/it/https.rs"]
#[allow(dead_code)]
mod https;
#[path = "../tests/it/server.rs"]
#[allow(dead_code)]
mod server;

use std::path::PathBuf;
use std::time::Instant;

use futures::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use rmpv::Value;
use serde_json::json;

const MB: f64 = 1e6;

fn emit(metric: &str, imp: &str, unit: &str, value: f64, params: serde_json::Value) {
    let line =
        json!({"metric": metric, "impl": imp, "unit": unit, "value": value, "params": params});
    println!("{line}");
    eprintln!("{metric:<18} {imp:<8} {value:>12.1} {unit}");
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Fast pseudo-random bytes (xorshift), so that generating test data costs little.
fn random_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Single-core sha256 over an in-memory buffer (the goal's yardstick).
fn machine_sha256(size: usize) -> f64 {
    let data = random_bytes(size, 1);
    let mut samples = Vec::new();
    for _ in 0..3 {
        let tick = Instant::now();
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        std::hint::black_box(digest);
        samples.push(size as f64 / MB / tick.elapsed().as_secs_f64());
    }
    median(samples)
}

fn default_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/release/examples/bench_axon -> target/release/synapse-servers
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("synapse-servers"))
        .expect("binary path")
}

fn main() {
    // The client is a program like `synapse-tools pushfile`: tuned the same way.
    synapse_base::process::tune_memcpy();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let bin = args
        .iter()
        .position(|a| a == "--bin")
        .and_then(|i| args.get(i + 1))
        .map_or_else(default_bin, PathBuf::from);
    let size: usize = if quick { 32 << 20 } else { 256 << 20 };
    let reps = if quick { 1 } else { 3 };
    let chunk: usize = 4 << 20;
    let nsmall = if quick { 1000 } else { 5000 };
    let nhas = if quick { 2000 } else { 10000 };
    let nwants = if quick { 50 } else { 500 };

    emit(
        "sha256",
        "machine",
        "MB/s",
        machine_sha256(size),
        json!({"size": size, "lib": "ring"}),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server::Server::start_rust(&bin, &dir.path().join("axon")).await;
    let proxy = synapse_telepath::Proxy::open(&srv.url())
        .await
        .expect("connect");
    let client = https::Https::new(srv.https_addr(), "root", "secret");
    let mb = size as f64 / MB;

    // The blobs of both upload phases are made first, as the reference suite does
    // (`shared/bench/bench_axon.py`), so that no rep runs right after making its data.
    let blobs: Vec<Bytes> = (0..2 * reps)
        .map(|rep| Bytes::from(random_bytes(size, 100 + rep as u64)))
        .collect();
    let (up_blobs, put_blobs) = blobs.split_at(reps);

    // Upload over telepath: upload() share, write() in chunks, save().
    let mut samples = Vec::new();
    let mut shas = Vec::new();
    for data in up_blobs {
        let tick = Instant::now();
        let upload = proxy.share("upload", vec![], vec![]).await.expect("upload");
        for piece in data.chunks(chunk) {
            upload
                .call("write", vec![Value::Binary(piece.to_vec())], vec![])
                .await
                .expect("write");
        }
        let saved = upload.call("save", vec![], vec![]).await.expect("save");
        samples.push(mb / tick.elapsed().as_secs_f64());
        upload.fini().await;
        shas.push(saved[1].clone());
    }
    emit(
        "upload.telepath",
        "rust",
        "MB/s",
        median(samples),
        json!({"size": size, "chunk": chunk}),
    );

    // Upload over HTTPS: one PUT with the body streamed in 1 MiB frames.
    let mut samples = Vec::new();
    for data in put_blobs {
        let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = (0..size)
            .step_by(1 << 20)
            .map(|offs| {
                Ok(http_body::Frame::data(
                    data.slice(offs..(offs + (1 << 20)).min(size)),
                ))
            })
            .collect();
        let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
        let req = client
            .request(http::Method::PUT, "/api/v1/axon/files/put")
            .header(http::header::CONTENT_LENGTH, size)
            .body(body)
            .expect("request");
        let tick = Instant::now();
        let resp = client.send(req).await;
        assert_eq!(resp.status(), 200);
        let _ = resp.into_body().collect().await.expect("body");
        samples.push(mb / tick.elapsed().as_secs_f64());
    }
    emit(
        "upload.https",
        "rust",
        "MB/s",
        median(samples),
        json!({"size": size, "path": "/api/v1/axon/files/put"}),
    );
    drop(blobs);

    // Download over telepath: get(sha256). Our server writes blobs with direct I/O (they are
    // not left in the page cache, the reference's are): one untimed read of each first, so
    // that both implementations are measured reading from memory, not the disk.
    for sha in &shas {
        let mut items = proxy
            .stream("get", vec![sha.clone()], vec![])
            .await
            .expect("get");
        while let Some(item) = items.next().await {
            item.expect("chunk");
        }
    }
    let mut samples = Vec::new();
    for sha in &shas {
        let tick = Instant::now();
        let mut items = proxy
            .stream("get", vec![sha.clone()], vec![])
            .await
            .expect("get");
        let mut got = 0usize;
        while let Some(item) = items.next().await {
            got += item.expect("chunk").as_slice().map_or(0, <[u8]>::len);
        }
        assert_eq!(got, size);
        samples.push(mb / tick.elapsed().as_secs_f64());
    }
    emit(
        "get.telepath",
        "rust",
        "MB/s",
        median(samples),
        json!({"size": size, "cache": "warm"}),
    );

    // Download over HTTPS.
    let mut samples = Vec::new();
    for sha in &shas {
        let hex = hex::encode(sha.as_slice().expect("sha256"));
        let req = client
            .request(
                http::Method::GET,
                &format!("/api/v1/axon/files/by/sha256/{hex}"),
            )
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        let tick = Instant::now();
        let resp = client.send(req).await;
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut got = 0usize;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                got += data.len();
            }
        }
        assert_eq!(got, size);
        samples.push(mb / tick.elapsed().as_secs_f64());
    }
    emit(
        "get.https",
        "rust",
        "MB/s",
        median(samples),
        json!({"size": size, "path": "/api/v1/axon/files/by/sha256/<hex>"}),
    );

    // puts() of 100 small blobs per call, sequential.
    let mut samples = Vec::new();
    let mut small: Vec<Value> = Vec::new();
    for rep in 0..reps {
        let files = random_bytes(4096 * nsmall, 300 + rep as u64);
        let calls: Vec<Value> = files
            .chunks(4096 * 100)
            .map(|call| {
                Value::Array(
                    call.chunks(4096)
                        .map(|f| Value::Binary(f.to_vec()))
                        .collect(),
                )
            })
            .collect();
        let tick = Instant::now();
        for call in calls {
            let saved = proxy.call("puts", vec![call], vec![]).await.expect("puts");
            for row in saved.as_array().expect("puts rows") {
                small.push(row[1].clone());
            }
        }
        samples.push(nsmall as f64 / tick.elapsed().as_secs_f64());
    }
    emit(
        "puts.small",
        "rust",
        "files/s",
        median(samples),
        json!({"n": nsmall, "size": 4096, "per_call": 100}),
    );

    // has() and wants() calls, sequential.
    let mut samples = Vec::new();
    for _ in 0..reps {
        let tick = Instant::now();
        for i in 0..nhas {
            let has = proxy
                .call("has", vec![small[i % small.len()].clone()], vec![])
                .await
                .expect("has");
            assert_eq!(has, Value::Boolean(true));
        }
        samples.push(nhas as f64 / tick.elapsed().as_secs_f64());
    }
    emit(
        "has",
        "rust",
        "calls/s",
        median(samples),
        json!({"n": nhas}),
    );

    let mut samples = Vec::new();
    for rep in 0..reps {
        let lists: Vec<(Value, usize)> = (0..nwants)
            .map(|i| {
                let start = (i * 500) % small.len();
                let mut items: Vec<Value> = small[start..].iter().take(500).cloned().collect();
                let missing = 1000 - items.len();
                let bytes = random_bytes(32 * missing, (rep * nwants + i + 7) as u64);
                items.extend(bytes.chunks(32).map(|c| Value::Binary(c.to_vec())));
                (Value::Array(items), missing)
            })
            .collect();
        let tick = Instant::now();
        for (list, missing) in lists {
            let wants = proxy
                .call("wants", vec![list], vec![])
                .await
                .expect("wants");
            assert_eq!(wants.as_array().map(Vec::len), Some(missing));
        }
        samples.push((nwants * 1000) as f64 / tick.elapsed().as_secs_f64());
    }
    emit(
        "wants",
        "rust",
        "hashes/s",
        median(samples),
        json!({"calls": nwants, "per_call": 1000, "present": 500}),
    );

    let (rss, hwm) = srv.memory();
    emit("rss", "rust", "MiB", rss as f64 / 1048576.0, json!({}));
    emit("hwm", "rust", "MiB", hwm as f64 / 1048576.0, json!({}));
    proxy.fini().await;
}
