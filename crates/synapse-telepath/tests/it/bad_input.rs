//! Bad input: each bad link gets an error or is closed, and the daemon keeps serving others.

use std::time::Duration;

use synapse_telepath::codec::{decode, encode};
use synapse_telepath::{Daemon, DaemonConfig, Proxy, Value, mesg, vmap};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixture::{State, TestAuth, TestFactory, api_methods};

async fn daemon_with(conf: DaemonConfig) -> (Daemon, u16) {
    let daemon = Daemon::with_config(conf);
    let factory = std::sync::Arc::new(TestFactory {
        state: std::sync::Arc::new(State::default()),
        methods: api_methods(),
    });
    daemon.share_factory("*", factory);
    daemon.set_auth(std::sync::Arc::new(TestAuth));
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    (daemon, addr.port().unwrap())
}

async fn healthy(port: u16) {
    let proxy = Proxy::open(&format!("tcp://root:secret@127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    proxy.fini().await;
}

/// Read until the server closes the link; the bytes it sent first.
async fn until_closed(sock: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = sock.read_to_end(&mut out);
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(_) => out,
        Err(_) => panic!("the server did not close the link"),
    }
}

async fn wait_links(daemon: &Daemon, want: usize) {
    for _ in 0..1000 {
        if daemon.link_count() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} links open, expected {want}", daemon.link_count());
}

fn t2_init(meth: &str, sess: &str) -> Vec<u8> {
    let todo = Value::Array(vec![
        Value::from(meth),
        Value::Array(vec![]),
        Value::Map(vec![]),
    ]);
    encode(&mesg(
        "t2:init",
        vmap([
            ("todo", todo),
            ("name", Value::Nil),
            ("sess", Value::from(sess)),
        ]),
    ))
    .unwrap()
}

#[tokio::test]
async fn garbage_and_truncated_frames_close_the_link() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;

    // The reserved marker byte.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&[0xc1, 0x00, 0x01]).await.unwrap();
    assert!(until_closed(&mut sock).await.is_empty());

    // A valid message followed by garbage: the message is answered, then the link closes.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut bytes = t2_init("getCellType", &"f".repeat(32));
    bytes.extend_from_slice(&[0xd4, 0x05, 0x00]); // an unknown ext type
    sock.write_all(&bytes).await.unwrap();
    let reply = until_closed(&mut sock).await;
    assert_eq!(
        decode(&reply).unwrap()[1]["retn"][1][0],
        Value::from("NoSuchObj")
    );

    // Nested too deep.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&vec![0x91u8; 5000]).await.unwrap();
    assert!(until_closed(&mut sock).await.is_empty());

    // Random bytes.
    for seed in 0..20u64 {
        let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let junk: Vec<u8> = (0..4096)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        let _ = sock.write_all(&junk).await;
        drop(sock);
    }

    // Truncated: half a message, then the client goes away.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let bytes = t2_init("getCellType", &"f".repeat(32));
    sock.write_all(&bytes[..bytes.len() / 2]).await.unwrap();
    drop(sock);

    healthy(port).await;
    wait_links(&daemon, 0).await;
    daemon.fini().await;
}

#[tokio::test]
async fn oversize_messages_are_refused() {
    let conf = DaemonConfig {
        max_message: 1024 * 1024,
        ..DaemonConfig::default()
    };
    let (daemon, port) = daemon_with(conf).await;

    // A bin announcing 64 MiB is refused from its header: nothing more needs to arrive.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&[0x92, 0xa7]).await.unwrap();
    sock.write_all(b"t2:init").await.unwrap();
    sock.write_all(&[0xc6, 0x04, 0x00, 0x00, 0x00])
        .await
        .unwrap();
    assert!(until_closed(&mut sock).await.is_empty());

    // An array announcing 4 billion items, likewise.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sock.write_all(&[0xdd, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert!(until_closed(&mut sock).await.is_empty());

    // Through the client: a call too large for the server loses its link, the next works.
    let proxy = Proxy::open(&format!("tcp://root:secret@127.0.0.1:{port}/"))
        .await
        .unwrap();
    let err = proxy
        .call(
            "echo",
            vec![Value::from(vec![0u8; 2 * 1024 * 1024])],
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "LinkShutDown");
    let ok = proxy
        .call("echo", vec![Value::from(vec![0u8; 512 * 1024])], vec![])
        .await
        .unwrap();
    assert_eq!(ok[0][0].as_slice().map(<[u8]>::len), Some(512 * 1024));
    proxy.fini().await;
    healthy(port).await;
    daemon.fini().await;
}

#[tokio::test]
async fn unknown_and_malformed_messages_are_dropped() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut bytes = Vec::new();
    bytes.extend(encode(&mesg("foo:bar", vmap([("x", 1)]))).unwrap());
    bytes.extend(encode(&Value::from(12)).unwrap());
    bytes.extend(
        encode(&Value::Array(vec![
            Value::from(1),
            Value::from(2),
            Value::from(3),
        ]))
        .unwrap(),
    );
    bytes.extend(encode(&mesg("t2:init", Value::from("not a map"))).unwrap());
    // Still answered, in order.
    bytes.extend(t2_init("getCellType", &"f".repeat(32)));
    sock.write_all(&bytes).await.unwrap();
    let mut dec = synapse_telepath::FrameDecoder::default();
    let reply = loop {
        if let Some(reply) = dec.next_message().unwrap() {
            break reply;
        }
        let got = sock.read_buf(dec.read_buf()).await.unwrap();
        assert!(got > 0, "link closed");
    };
    // The t2:init with a non-map info fails with NoSuchObj (no sess), then the good one.
    assert_eq!(reply[0], Value::from("t2:fini"));
    assert_eq!(reply[1]["retn"][1][0], Value::from("NoSuchObj"));

    // Bad todos on a real session.
    let proxy = Proxy::open(&format!("tcp://root:secret@127.0.0.1:{port}/"))
        .await
        .unwrap();
    let sess = proxy.session().to_owned();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut dec = synapse_telepath::FrameDecoder::default();
    let cases = [
        (Value::Array(vec![Value::from("a")]), "ValueError"),
        (Value::from(5), "TypeError"),
        (
            Value::Array(vec![
                Value::from(""),
                Value::Array(vec![]),
                Value::Map(vec![]),
            ]),
            "IndexError",
        ),
        (
            Value::Array(vec![
                Value::from("echo"),
                Value::from(1),
                Value::Map(vec![]),
            ]),
            "TypeError",
        ),
        (
            Value::Array(vec![
                Value::from("echo"),
                Value::Array(vec![]),
                Value::from(1),
            ]),
            "TypeError",
        ),
        (
            Value::Array(vec![
                Value::from(7),
                Value::Array(vec![]),
                Value::Map(vec![]),
            ]),
            "TypeError",
        ),
    ];
    for (todo, name) in cases {
        let msg = mesg(
            "t2:init",
            vmap([
                ("todo", todo),
                ("name", Value::Nil),
                ("sess", Value::from(sess.as_str())),
            ]),
        );
        sock.write_all(&encode(&msg).unwrap()).await.unwrap();
        let reply = loop {
            if let Some(reply) = dec.next_message().unwrap() {
                break reply;
            }
            let got = sock.read_buf(dec.read_buf()).await.unwrap();
            assert!(got > 0, "link closed");
        };
        assert_eq!(reply[1]["retn"][1][0], Value::from(name), "{reply}");
    }
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn wrong_version_is_refused() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let syn = mesg(
        "tele:syn",
        vmap([
            ("auth", Value::Nil),
            ("vers", Value::Array(vec![Value::from(4), Value::from(0)])),
            ("name", Value::from("")),
        ]),
    );
    sock.write_all(&encode(&syn).unwrap()).await.unwrap();
    let mut dec = synapse_telepath::FrameDecoder::default();
    let reply = loop {
        if let Some(reply) = dec.next_message().unwrap() {
            break reply;
        }
        assert!(sock.read_buf(dec.read_buf()).await.unwrap() > 0);
    };
    assert_eq!(reply[1]["retn"][1][0], Value::from("BadMesgVers"));
    assert_eq!(
        reply[1]["retn"][1][1]["myvers"],
        Value::Array(vec![Value::from(3), Value::from(0)])
    );
    daemon.fini().await;
}

#[tokio::test]
async fn silent_clients_do_not_block_others() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // Half a message, then silence.
    let bytes = t2_init("getCellType", &"f".repeat(32));
    silent[0].write_all(&bytes[..10]).await.unwrap();
    wait_links(&daemon, 200).await;
    healthy(port).await;
    drop(silent);
    wait_links(&daemon, 0).await;
    daemon.fini().await;
}

#[tokio::test]
async fn thousands_of_connections_opened_and_dropped() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;
    for _round in 0..10 {
        let mut batch = Vec::new();
        for _ in 0..300 {
            batch.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        // Some say hello first.
        for sock in batch.iter_mut().step_by(7) {
            let _ = sock
                .write_all(&t2_init("getCellType", &"f".repeat(32)))
                .await;
        }
        drop(batch);
    }
    healthy(port).await;
    wait_links(&daemon, 0).await;
    assert!(daemon.sessions().is_empty());
    daemon.fini().await;
}

#[tokio::test]
async fn link_limit() {
    let conf = DaemonConfig {
        max_links: 10,
        ..DaemonConfig::default()
    };
    let (daemon, port) = daemon_with(conf).await;
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    wait_links(&daemon, 10).await;
    // The eleventh is closed at once.
    let mut extra = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(until_closed(&mut extra).await.is_empty());
    // The held ones still work.
    let mut sock = held.pop().unwrap();
    sock.write_all(&t2_init("getCellType", &"f".repeat(32)))
        .await
        .unwrap();
    let mut dec = synapse_telepath::FrameDecoder::default();
    let reply = loop {
        if let Some(reply) = dec.next_message().unwrap() {
            break reply;
        }
        assert!(sock.read_buf(dec.read_buf()).await.unwrap() > 0);
    };
    assert_eq!(reply[0], Value::from("t2:fini"));
    drop(sock);
    drop(held);
    wait_links(&daemon, 0).await;
    healthy(port).await;
    daemon.fini().await;
}

#[tokio::test]
async fn shutdown_closes_everything() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;
    let proxy = Proxy::open(&format!("tcp://root:secret@127.0.0.1:{port}/"))
        .await
        .unwrap();
    // A call in progress when the daemon stops: the client sees the link close.
    let slow = {
        let proxy = proxy.clone();
        tokio::spawn(async move { proxy.call("sleep", vec![Value::F64(30.0)], vec![]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fini = tokio::time::timeout(Duration::from_secs(10), daemon.fini()).await;
    assert!(fini.is_ok(), "daemon fini hung");
    let res = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.unwrap_err().name(), "LinkShutDown");
    assert!(proxy.wait_fini(Some(Duration::from_secs(5))).await);
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn repeated_handshakes_keep_bounded_sessions() {
    let (daemon, port) = daemon_with(DaemonConfig::default()).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let syn = mesg(
        "tele:syn",
        vmap([
            (
                "auth",
                Value::Array(vec![Value::from("root"), vmap([("passwd", "secret")])]),
            ),
            ("vers", Value::Array(vec![Value::from(3), Value::from(0)])),
            ("name", Value::from("")),
        ]),
    );
    let bytes = encode(&syn).unwrap();
    let mut dec = synapse_telepath::FrameDecoder::default();
    for _ in 0..100 {
        sock.write_all(&bytes).await.unwrap();
        loop {
            if dec.next_message().unwrap().is_some() {
                break;
            }
            assert!(sock.read_buf(dec.read_buf()).await.unwrap() > 0);
        }
    }
    assert_eq!(daemon.sessions().len(), 16);
    drop(sock);
    for _ in 0..1000 {
        if daemon.sessions().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(daemon.sessions().is_empty());
    daemon.fini().await;
}
