//! A whole daemon link: arbitrary bytes from a client, over an in-memory stream. The daemon
//! must answer or close the link, never panic (libfuzzer aborts on a panic in any task).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use synapse_telepath::{Call, Daemon, Family, Methods, PeerInfo, Value, genr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Api;

fn runtime() -> &'static (tokio::runtime::Runtime, Daemon) {
    static RT: OnceLock<(tokio::runtime::Runtime, Daemon)> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let daemon = rt.block_on(async {
            let methods = Arc::new(
                Methods::<Api>::new(["fuzz.Api"])
                    .unary("echo", |_api, call: Call| async move { Ok(Value::Array(call.args)) })
                    .genr("count", |_api, mut call: Call| {
                        let n: u64 = call.params(&["n"])?.req("n")?;
                        Ok(genr(move |y| async move {
                            for i in 0..n.min(100) {
                                y.emit(i).await;
                            }
                            Ok(())
                        }))
                    }),
            );
            let daemon = Daemon::new();
            daemon.share("*", methods.bind(Arc::new(Api)));
            daemon
        });
        (rt, daemon)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (rt, daemon) = runtime();
    rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let peer = PeerInfo { family: Family::Unix, addr: None, path: None, cert_cn: None, cred: None };
        if daemon.serve_io(server, peer).is_err() {
            return;
        }
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut sink)).await;
    });
});
