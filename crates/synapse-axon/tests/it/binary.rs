//! The real binary (`synapse-servers axon`): HTTPS over TLS, durability across SIGKILL, and
//! the server's memory while 4 GiB go up and down over telepath and HTTPS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::Method;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use rmpv::Value;
use synapse_telepath::Proxy;

use crate::https::Https;
use crate::server::Server;

/// The `synapse-servers` binary of this build (built on first use, with the test's profile).
pub(crate) fn servers_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(path) = std::env::var("SYNAPSE_SERVERS_BIN") {
            return PathBuf::from(path);
        }
        // target/<profile>/deps/it-<hash> -> target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profdir = exe.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
        let release = profdir.file_name().is_some_and(|n| n == "release");
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "synapse-servers",
            "--bin",
            "synapse-servers",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p synapse-servers failed");
        let bin = profdir.join("synapse-servers");
        assert!(bin.exists(), "no binary at {}", bin.display());
        bin
    })
    .clone()
}

/// A block of pseudo-random bytes, made once; blobs are this block with a counter in front
/// of each piece, so every piece (and every blob) differs at no cost.
fn noise() -> &'static [u8] {
    static NOISE: OnceLock<Vec<u8>> = OnceLock::new();
    NOISE.get_or_init(|| {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..(8 << 20) / 8)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect()
    })
}

/// Piece `indx` (of at most 8 MiB) of blob `seed`.
fn piece(seed: u64, indx: u64, len: usize) -> Vec<u8> {
    let mut out = noise()[..len].to_vec();
    let tag = [seed.to_le_bytes(), indx.to_le_bytes()].concat();
    let n = tag.len().min(len);
    out[..n].copy_from_slice(&tag[..n]);
    out
}

/// All the bytes of blob `seed` of `size` bytes, in pieces of `step`.
fn blob_pieces(seed: u64, size: u64, step: usize) -> impl Iterator<Item = Vec<u8>> {
    let count = size.div_ceil(step as u64);
    (0..count).map(move |indx| {
        let len = (size - indx * step as u64).min(step as u64) as usize;
        piece(seed, indx, len)
    })
}

fn sha256_hasher() -> ring::digest::Context {
    ring::digest::Context::new(&ring::digest::SHA256)
}

/// Upload over telepath; returns `(size, sha256)` as the server reports them.
async fn tele_upload(
    proxy: &Proxy,
    pieces: impl Iterator<Item = Vec<u8>>,
) -> Result<(u64, Vec<u8>), synapse_telepath::Error> {
    let upload = proxy.share("upload", vec![], vec![]).await?;
    for piece in pieces {
        upload
            .call("write", vec![Value::Binary(piece)], vec![])
            .await?;
    }
    let saved = upload.call("save", vec![], vec![]).await?;
    upload.fini().await;
    let size = saved[0].as_u64().unwrap();
    let sha = saved[1].as_slice().unwrap().to_vec();
    Ok((size, sha))
}

/// Download over telepath: `(size, sha256 of the bytes)`.
async fn tele_download(proxy: &Proxy, sha: &[u8]) -> (u64, Vec<u8>) {
    let mut items = proxy
        .stream("get", vec![Value::Binary(sha.to_vec())], vec![])
        .await
        .unwrap();
    let mut hasher = sha256_hasher();
    let mut size = 0u64;
    while let Some(item) = items.next().await {
        let item = item.unwrap();
        let byts = item.as_slice().unwrap();
        hasher.update(byts);
        size += byts.len() as u64;
    }
    (size, hasher.finish().as_ref().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_against_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_rust(&servers_bin(), &dir.path().join("axon")).await;
    let client = Https::new(srv.https_addr(), "root", "secret");
    let data = b"hello http world".to_vec();
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &data));

    let req = client
        .request(Method::PUT, "/api/v1/axon/files/put")
        .body(http_body_util::Full::new(Bytes::from(data.clone())))
        .unwrap();
    let resp = client.send(req).await;
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"]["sha256"], sha.as_str());

    let path = format!("/api/v1/axon/files/by/sha256/{sha}");
    let req = client
        .request(Method::GET, &path)
        .header("range", "bytes=2-5")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = client.send(req).await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 2-5/16");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"llo ");

    let req = client
        .request(Method::HEAD, &path)
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = client.send(req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], "16");

    let anon = Https::new(srv.https_addr(), "root", "wrong");
    let req = anon
        .request(Method::GET, &path)
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = anon.send(req).await;
    assert_eq!(resp.status(), 401);

    let req = client
        .request(Method::DELETE, &path)
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = client.send(req).await;
    assert_eq!(resp.status(), 200);
    let proxy = Proxy::open(&srv.url()).await.unwrap();
    let has = proxy
        .call(
            "has",
            vec![Value::Binary(hex::decode(&sha).unwrap())],
            vec![],
        )
        .await;
    assert_eq!(has.unwrap(), Value::Boolean(false));
    // The Axon is also shared as "axon".
    let named = Proxy::open(&format!("tcp://root:secret@127.0.0.1:{}/axon", srv.port))
        .await
        .unwrap();
    let metrics = named.call("metrics", vec![], vec![]).await.unwrap();
    assert_eq!(metrics["file:count"], Value::from(0));
    named.fini().await;
    proxy.fini().await;
}

/// What the clients were told, and what they expect after a crash.
#[derive(Default)]
struct Ledger {
    /// Blobs reported saved (and not deleted since): sha256 -> size.
    saved: BTreeMap<Vec<u8>, u64>,
    /// Blobs reported deleted.
    deleted: BTreeSet<Vec<u8>>,
}

impl Ledger {
    /// A delete is about to be sent: until its answer, the blob may be there or not.
    fn deleting(&mut self, sha: &[u8]) {
        self.saved.remove(sha);
    }
}

async fn writer(url: String, task: u64, ledger: std::sync::Arc<std::sync::Mutex<Ledger>>) {
    let Ok(proxy) = Proxy::open(&url).await else {
        return;
    };
    let sizes = [0u64, 100, 4096, 1 << 20, (5 << 20) + 17, (40 << 20) + 3];
    let mut round = 0u64;
    loop {
        round += 1;
        let seed = task * 1_000_000 + round + rand::random::<u32>() as u64 * 1_000_000_000;
        let size = sizes[(seed % sizes.len() as u64) as usize];
        let res = tele_upload(&proxy, blob_pieces(seed, size, 1 << 20)).await;
        let Ok((got, sha)) = res else { return };
        assert_eq!(got, size);
        let victim = {
            let mut book = ledger.lock().unwrap();
            book.saved.insert(sha.clone(), size);
            book.deleted.remove(&sha);
            round
                .is_multiple_of(5)
                // Not the empty blob: every writer saves that same sha256, so whether it
                // should be there would depend on the order of replies.
                .then(|| {
                    book.saved
                        .iter()
                        .find(|(_, size)| **size > 0)
                        .map(|(sha, _)| sha.clone())
                })
                .flatten()
        };
        if let Some(victim) = victim {
            // A delete whose answer is lost to the kill may or may not have happened.
            ledger.lock().unwrap().deleting(&victim);
            let Ok(removed) = proxy
                .call("del_", vec![Value::Binary(victim.clone())], vec![])
                .await
            else {
                return;
            };
            // `false`: another writer's delete of the same victim came first
            if removed == Value::Boolean(true) {
                ledger.lock().unwrap().deleted.insert(victim);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_blobs_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("axon");
    let ledger = std::sync::Arc::new(std::sync::Mutex::new(Ledger::default()));
    for round in 0..3 {
        let mut srv = Server::start_rust(&servers_bin(), &dirn).await;
        if round > 0 {
            check_after_crash(&srv, &ledger).await;
        }
        let before = ledger.lock().unwrap().saved.len();
        let tasks: Vec<_> = (0..4)
            .map(|task| tokio::spawn(writer(srv.url(), task, ledger.clone())))
            .collect();
        // Let work pile up (at least a few saves), then kill the server in the middle of it.
        let start = Instant::now();
        while ledger.lock().unwrap().saved.len() < before + 8
            && start.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        srv.kill9();
        for task in tasks {
            task.await.unwrap();
        }
    }
    let srv = Server::start_rust(&servers_bin(), &dirn).await;
    check_after_crash(&srv, &ledger).await;
    assert!(ledger.lock().unwrap().saved.len() >= 24);
}

/// Every blob reported saved is there with its bytes; every blob reported deleted is gone;
/// every blob listed is whole; the counters match the listing; no spool is left.
async fn check_after_crash(srv: &Server, ledger: &std::sync::Arc<std::sync::Mutex<Ledger>>) {
    let (saved, deleted) = {
        let book = ledger.lock().unwrap();
        (book.saved.clone(), book.deleted.clone())
    };
    let proxy = Proxy::open(&srv.url()).await.unwrap();
    for (sha, size) in &saved {
        let got = proxy
            .call("size", vec![Value::Binary(sha.clone())], vec![])
            .await
            .unwrap();
        assert_eq!(got, Value::from(*size), "a blob reported saved is missing");
    }
    for sha in &deleted {
        let has = proxy
            .call("has", vec![Value::Binary(sha.clone())], vec![])
            .await
            .unwrap();
        assert_eq!(
            has,
            Value::Boolean(false),
            "a blob reported deleted is back"
        );
    }
    let mut rows = proxy
        .stream("hashes", vec![Value::from(0)], vec![])
        .await
        .unwrap();
    let mut listed = BTreeMap::new();
    while let Some(row) = rows.next().await {
        let row = row.unwrap();
        listed.insert(
            row[1][0].as_slice().unwrap().to_vec(),
            row[1][1].as_u64().unwrap(),
        );
    }
    for (sha, size) in &listed {
        let (got, digest) = tele_download(&proxy, sha).await;
        assert_eq!((got, &digest), (*size, sha), "a listed blob is not whole");
    }
    let metrics = proxy.call("metrics", vec![], vec![]).await.unwrap();
    assert_eq!(metrics["file:count"], Value::from(listed.len() as u64));
    assert_eq!(
        metrics["size:bytes"],
        Value::from(listed.values().sum::<u64>())
    );
    assert_eq!(std::fs::read_dir(srv.dirn.join("tmp")).unwrap().count(), 0);
    proxy.fini().await;
}

/// 4 GiB: the most the server's memory may grow while it moves them.
const BIG: u64 = 4 << 30;
const MAX_GROWTH: u64 = 64 << 20;

/// The server's peak memory since the last check stayed within [`MAX_GROWTH`] of `base`.
fn check_memory(srv: &Server, base: u64, what: &str) {
    let (rss, hwm) = srv.memory();
    eprintln!(
        "{what}: VmRSS {} MiB, VmHWM {} MiB (baseline {} MiB)",
        rss >> 20,
        hwm >> 20,
        base >> 20
    );
    assert!(
        hwm < base + MAX_GROWTH,
        "{what}: the server grew by {} MiB (limit {} MiB)",
        (hwm - base) >> 20,
        MAX_GROWTH >> 20
    );
    srv.reset_peak();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_gib_up_and_down_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_rust(&servers_bin(), &dir.path().join("axon")).await;
    let proxy = Proxy::open(&srv.url()).await.unwrap();
    let client = Https::new(srv.https_addr(), "root", "secret");

    // Warm up every path with small transfers, then take the baseline.
    let (_, small) = tele_upload(&proxy, blob_pieces(1, 6 << 20, 1 << 20))
        .await
        .unwrap();
    tele_download(&proxy, &small).await;
    let req = client
        .request(Method::PUT, "/api/v1/axon/files/put")
        .body(http_body_util::Full::new(Bytes::from(vec![1u8; 6 << 20])))
        .unwrap();
    let _ = client.send(req).await.into_body().collect().await.unwrap();
    let (base, _) = srv.memory();
    srv.reset_peak();

    // Telepath up.
    let step = 8 << 20;
    let mut hasher = sha256_hasher();
    let pieces = blob_pieces(7, BIG, step).inspect(|p| hasher.update(p));
    let (size, sha) = tele_upload(&proxy, pieces).await.unwrap();
    assert_eq!(size, BIG);
    assert_eq!(sha, hasher.finish().as_ref());
    check_memory(&srv, base, "telepath upload");

    // Telepath down.
    let (got, digest) = tele_download(&proxy, &sha).await;
    assert_eq!((got, &digest), (BIG, &sha));
    check_memory(&srv, base, "telepath download");
    let removed = proxy
        .call("del_", vec![Value::Binary(sha.clone())], vec![])
        .await
        .unwrap();
    assert_eq!(removed, Value::Boolean(true));

    // HTTPS up: a body streamed in 1 MiB frames.
    let digest = std::sync::Arc::new(std::sync::Mutex::new(sha256_hasher()));
    let feed = digest.clone();
    let frames = futures::stream::iter(blob_pieces(9, BIG, 1 << 20)).map(move |p| {
        feed.lock().unwrap().update(&p);
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from(p)))
    });
    let req = client
        .request(Method::PUT, "/api/v1/axon/files/put")
        .header(http::header::CONTENT_LENGTH, BIG)
        .body(http_body_util::StreamBody::new(frames))
        .unwrap();
    let resp = client.send(req).await;
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let sent = std::sync::Arc::try_unwrap(digest)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap()
        .finish();
    let hexsha = hex::encode(sent.as_ref());
    assert_eq!(json["result"]["sha256"], hexsha.as_str());
    assert_eq!(json["result"]["size"], BIG);
    check_memory(&srv, base, "https upload");

    // HTTPS down.
    let req = client
        .request(
            Method::GET,
            &format!("/api/v1/axon/files/by/sha256/{hexsha}"),
        )
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = client.send(req).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut hasher = sha256_hasher();
    let mut got = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            hasher.update(&data);
            got += data.len() as u64;
        }
    }
    assert_eq!(got, BIG);
    assert_eq!(hex::encode(hasher.finish().as_ref()), hexsha);
    check_memory(&srv, base, "https download");
    proxy.fini().await;
}
