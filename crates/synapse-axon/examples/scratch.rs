#![allow(clippy::unwrap_used, missing_docs)]
use futures::StreamExt;
use std::sync::Arc;
use std::time::Instant;
use synapse_telepath::{Call, Daemon, Methods, Proxy, Value};
struct Sink;
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
macro_rules! rep {
    ($name:expr, $t:expr, $c:expr, $size:expr) => {
        println!(
            "{}: wall {:.0} MB/s, cpu {:.0} MB/s",
            $name,
            $size as f64 / 1e6 / $t.elapsed().as_secs_f64(),
            $size as f64 / 1e6 / (cpu() - $c)
        );
    };
}
#[tokio::main]
async fn main() {
    let size = 256usize << 20;
    let data = vec![7u8; size];
    // (a) in-process upload
    let dir = tempfile::tempdir().unwrap();
    let axon = synapse_axon::Axon::open(dir.path(), Default::default())
        .await
        .unwrap();
    let t = Instant::now();
    let c = cpu();
    let mut up = axon.upload();
    for c in data.chunks(4 << 20) {
        up.write(c.to_vec()).await.unwrap();
    }
    up.save().await.unwrap();
    rep!("in-process upload", t, c, size);
    let (_, sha) = axon.put(vec![1u8; 4]).await.unwrap();
    let _ = sha;
    let t = Instant::now();
    let c = cpu();
    let sha = synapse_axon::Sha256::of(&data);
    rep!("sha256", t, c, size);
    let t = Instant::now();
    let c = cpu();
    let mut n = 0;
    let mut s = axon.get(&sha, None).await.unwrap();
    while let Some(c) = s.next().await {
        n += c.unwrap().len();
    }
    rep!("in-process get", t, c, n);
    {
        use std::io::Write;
        let t = Instant::now();
        let c = cpu();
        let mut f = std::fs::File::create(dir.path().join("x")).unwrap();
        for ch in data.chunks(4 << 20) {
            f.write_all(ch).unwrap();
        }
        rep!("file write", t, c, size);
        let t = Instant::now();
        let c = cpu();
        let mut f = std::fs::File::create(dir.path().join("y")).unwrap();
        for ch in data.chunks(4 << 20) {
            let v = ch.to_vec();
            f.write_all(&v).unwrap();
        }
        rep!("file write+to_vec", t, c, size);
        let t = Instant::now();
        let c = cpu();
        for ch in data.chunks(4 << 20) {
            let v = ch.to_vec();
            std::hint::black_box(&v);
        }
        rep!("to_vec", t, c, size);
    }
    // (b) telepath echo
    let methods = Arc::new(
        Methods::<Sink>::new(["x.Sink"])
            .unary("eat", |_s, mut call: Call| async move {
                let v: Value = call.params(&["byts"])?.req("byts")?;
                let _ = v;
                Ok(Value::Nil)
            })
            .genr("emit", |_s, _call: Call| {
                Ok(synapse_telepath::genr(move |y| async move {
                    for _ in 0..16 {
                        y.emit(Value::Binary(vec![3u8; 16 << 20])).await;
                    }
                    Ok(())
                }))
            }),
    );
    let daemon = Daemon::new();
    daemon.share("*", methods.bind(Arc::new(Sink)));
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let proxy = Proxy::open(&format!("tcp://{addr}/")).await.unwrap();
    let t = Instant::now();
    let c = cpu();
    for c in data.chunks(4 << 20) {
        proxy
            .call("eat", vec![Value::Binary(c.to_vec())], vec![])
            .await
            .unwrap();
    }
    rep!("telepath send", t, c, size);
    let t = Instant::now();
    let c = cpu();
    let mut s = proxy.stream("emit", vec![], vec![]).await.unwrap();
    let mut n = 0;
    while let Some(v) = s.next().await {
        n += v.unwrap().as_slice().unwrap().len();
    }
    rep!("telepath stream", t, c, n);
}
