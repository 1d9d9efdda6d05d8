//! Rust Proxy against Rust Daemon.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use synapse_telepath::{
    Client, ClientOptions, Error, Proxy, ProxyOptions, Response, Value, blocking, vmap,
};

use crate::fixture::{tcp_daemon, test_daemon};

fn root(url: &str) -> String {
    url.replace("tcp://", "tcp://root:secret@")
}

#[tokio::test]
async fn calls_values_and_errors() {
    let (daemon, _state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&format!("{}/", root(&url))).await.unwrap();

    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    assert!(proxy.has_feature("tellready", 1));
    assert!(!proxy.has_feature("nope", 1));
    assert!(proxy.is_genr("genr"));
    assert!(!proxy.is_genr("echo"));
    assert_eq!(proxy.syn_version(), Some((2, 256, 0)));
    assert_eq!(proxy.classes()[0], "capture.VecAxonApi");
    assert_eq!(proxy.ahainfo(), &vmap([("name", Value::Nil)]));

    let args = vec![
        Value::from("str"),
        Value::from(vec![0u8, 1]),
        Value::from(-1),
        Value::F64(1.5),
        Value::Nil,
    ];
    let kwargs = vec![("kw1".to_owned(), Value::from("x"))];
    let echoed = proxy.call("echo", args.clone(), kwargs).await.unwrap();
    assert_eq!(
        echoed,
        Value::Array(vec![Value::Array(args), vmap([("kw1", "x")])])
    );

    let err = proxy.call("_secret", vec![], vec![]).await.unwrap_err();
    let remote = err.remote().unwrap();
    assert_eq!(remote.name, "NoSuchMeth");
    assert_eq!(remote.mesg(), Some("VecAxonApi has no method: _secret."));

    let err = proxy
        .call("noSuchMethod", vec![Value::from(1)], vec![])
        .await
        .unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("VecAxonApi has no method: noSuchMethod.")
    );

    let err = proxy
        .call(
            "getCellType",
            vec![Value::from(1), Value::from(2), Value::from(3)],
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "TypeError");
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("CellApi.getCellType() takes 1 positional argument but 4 were given")
    );

    let err = proxy.call("raiseSynErr", vec![], vec![]).await.unwrap_err();
    assert_eq!(err.name(), "BadArg");
    assert_eq!(err.remote().unwrap().get("arg"), Some(&Value::from("foo")));

    let err = proxy
        .call("raiseBuiltin", vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "ValueError");

    let user = proxy.call("getCellUser", vec![], vec![]).await.unwrap();
    assert_eq!(user["name"], Value::from("root"));

    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn handshake_failures() {
    let (daemon, _state, url) = tcp_daemon().await;
    let bad = url.replace("tcp://", "tcp://root:wrong@");
    let err = Proxy::open(&bad).await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(err.remote().unwrap().mesg(), Some("Invalid password"));

    let err = Proxy::open(&url.replace("tcp://", "tcp://locked:lockedpass@"))
        .await
        .unwrap_err();
    assert_eq!(err.remote().unwrap().mesg(), Some("Invalid password"));

    let err = Proxy::open(&url.replace("tcp://", "tcp://nobody:x@"))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchUser");

    let err = Proxy::open(&url).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("Unable to find cell user (None)")
    );

    let err = Proxy::open(&format!("{}/nosuchshare", root(&url)))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchName");

    let named = Proxy::open(&format!("{}/vecaxon", root(&url)))
        .await
        .unwrap();
    assert_eq!(
        named.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    named.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn streams() {
    let (daemon, state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&root(&url)).await.unwrap();

    let items: Vec<Value> = proxy
        .stream("genr", vec![Value::from(3)], vec![])
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2],
        Value::Array(vec![Value::from("item"), Value::from(2)])
    );

    let items: Vec<_> = proxy
        .stream("genr", vec![Value::from(0)], vec![])
        .await
        .unwrap()
        .collect()
        .await;
    assert!(items.is_empty());

    let items: Vec<_> = proxy
        .stream("genrFail", vec![Value::from(2)], vec![])
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.name(), "BadArg");
    assert_eq!(err.remote().unwrap().get("count"), Some(&Value::from(2)));

    // An error before the generator exists is a plain t2:fini error.
    let err = proxy.stream("genr", vec![], vec![]).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("VecAxonApi.genr() missing 1 required positional argument: 'n'")
    );

    // A method not flagged as a generator may still stream; call() collects it.
    let collected = proxy
        .call("syncGenr", vec![Value::from(3)], vec![])
        .await
        .unwrap();
    assert_eq!(
        collected,
        Value::Array(vec![Value::from(0), Value::from(10), Value::from(20)])
    );

    // Many small items arrive intact and in order.
    let mut stream = proxy
        .stream("bigGenr", vec![Value::from(20000)], vec![])
        .await
        .unwrap();
    let mut expect = 0u64;
    while let Some(item) = stream.next().await {
        assert_eq!(item.unwrap(), Value::from(expect));
        expect += 1;
    }
    assert_eq!(expect, 20000);

    // Dropping a stream early cancels the generator on the server.
    let mut stream = proxy
        .stream("slowGenr", vec![Value::from(100)], vec![])
        .await
        .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), Value::from(0));
    assert_eq!(stream.next().await.unwrap().unwrap(), Value::from(1));
    drop(stream);
    let mut waited = 0;
    while state.cancelled.load(Ordering::SeqCst) == 0 && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(state.cancelled.load(Ordering::SeqCst), 1);

    // The proxy still works.
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn shares() {
    let (daemon, state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&root(&url)).await.unwrap();
    let upload = proxy.share("upload", vec![], vec![]).await.unwrap();
    assert_eq!(
        upload.sharinfo()["classes"][0],
        Value::from("synapse.axon.UpLoadShare")
    );
    upload
        .call("write", vec![Value::from(b"hello ".to_vec())], vec![])
        .await
        .unwrap();
    upload
        .call("write", vec![Value::from(b"world".to_vec())], vec![])
        .await
        .unwrap();
    let saved = upload.call("save", vec![], vec![]).await.unwrap();
    assert_eq!(saved[0], Value::from(11));
    let err = upload.call("_private", vec![], vec![]).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("UpLoadShare has no method: _private.")
    );
    upload.fini().await;
    let mut waited = 0;
    while state.share_finis.load(Ordering::SeqCst) == 0 && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(state.share_finis.load(Ordering::SeqCst), 1);

    // A share left open is torn down with the session.
    let second = proxy.share("upload", vec![], vec![]).await.unwrap();
    std::mem::forget(second);
    proxy.fini().await;
    let mut waited = 0;
    while state.share_finis.load(Ordering::SeqCst) < 2 && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(state.share_finis.load(Ordering::SeqCst), 2);
    assert_eq!(state.api_finis.load(Ordering::SeqCst), 1);
    assert!(daemon.sessions().is_empty());
    daemon.fini().await;
}

#[tokio::test]
async fn concurrency_timeouts_and_pool() {
    let (daemon, _state, url) = tcp_daemon().await;
    let concurrent = |proxy: Proxy| async move {
        let calls = (0..64).map(|i| {
            let proxy = proxy.clone();
            async move {
                proxy
                    .call("echo", vec![Value::from(i)], vec![])
                    .await
                    .unwrap()
            }
        });
        let results = futures::future::join_all(calls).await;
        for (i, res) in results.iter().enumerate() {
            assert_eq!(res[0][0], Value::from(i));
        }
    };
    // Every concurrent call had its own link, and they are all kept.
    let opts = ProxyOptions {
        max_idle: 4,
        cull_interval: Duration::from_secs(3600),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::open_with(&root(&url), opts).await.unwrap();
    concurrent(proxy.clone()).await;
    assert_eq!(proxy.idle_links(), 64);
    proxy.fini().await;

    // Then they are culled down, one per interval, to max_idle.
    let opts = ProxyOptions {
        max_idle: 4,
        cull_interval: Duration::from_millis(5),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::open_with(&root(&url), opts).await.unwrap();
    concurrent(proxy.clone()).await;
    let mut waited = 0;
    while proxy.idle_links() > 4 {
        waited += 1;
        assert!(waited < 1000, "idle links not culled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(proxy.idle_links(), 4);
    // The server sees the culled links close (4 idle + the main link remain).
    let mut waited = 0;
    while daemon.link_count() != 4 + 1 {
        waited += 1;
        assert!(waited < 1000, "{} links on the server", daemon.link_count());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let quick = proxy.with_timeout(Some(Duration::from_millis(50)));
    let err = quick
        .call("sleep", vec![Value::F64(5.0)], vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout));
    // The proxy still works after a timed out call.
    assert_eq!(
        quick.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );

    // Large payloads both ways.
    let big = vec![9u8; 3 * 1024 * 1024];
    let echoed = proxy
        .call("echo", vec![Value::from(big.clone())], vec![])
        .await
        .unwrap();
    assert_eq!(echoed[0][0], Value::from(big));
    let got = proxy
        .call("bytes", vec![Value::from(1 << 20)], vec![])
        .await
        .unwrap();
    assert_eq!(got.as_slice().map(<[u8]>::len), Some(1 << 20));
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn session_ends_with_main_link() {
    let (daemon, state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&root(&url)).await.unwrap();
    proxy.call("getCellType", vec![], vec![]).await.unwrap();
    assert_eq!(daemon.sessions().len(), 1);
    let sess = daemon.sessions()[0].clone();
    assert_eq!(sess.user().unwrap().name, "root");
    let packed = sess.pack();
    assert_eq!(packed["conninfo"]["family"], Value::from("tcp"));
    assert_eq!(packed["conninfo"]["ipver"], Value::from("ipv4"));
    assert_eq!(packed["user"]["name"], Value::from("root"));
    assert_eq!(
        packed["items"].as_map().unwrap()[0],
        (Value::Nil, Value::from("capture.VecAxonApi"))
    );
    proxy.fini().await;
    assert!(sess.base().wait_fini(Some(Duration::from_secs(5))).await);
    assert_eq!(state.api_finis.load(Ordering::SeqCst), 1);
    assert!(matches!(
        proxy.call("getCellType", vec![], vec![]).await,
        Err(Error::IsFini)
    ));
    daemon.fini().await;
}

#[tokio::test]
async fn proxy_notices_server_shutdown() {
    let (daemon, _state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&root(&url)).await.unwrap();
    daemon.fini().await;
    assert!(proxy.wait_fini(Some(Duration::from_secs(5))).await);
}

#[tokio::test]
async fn unix_sockets_and_cell_urls() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _state) = test_daemon();
    let sock = dir.path().join("sock");
    daemon
        .listen(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    // No credentials over a UNIX socket: trusted as root.
    let proxy = Proxy::open(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    let user = proxy.call("getCellUser", vec![], vec![]).await.unwrap();
    assert_eq!(user["name"], Value::from("root"));
    assert_eq!(
        daemon.sessions()[0].pack()["conninfo"]["family"],
        Value::from("unix")
    );
    proxy.fini().await;
    let proxy = Proxy::open(&format!("cell://{}:vecaxon", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn client_reconnects() {
    let (daemon, _state) = test_daemon();
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let url = format!("tcp://root:secret@127.0.0.1:{}", addr.port().unwrap());
    let opts = ClientOptions {
        retry_sleep: Duration::from_millis(20),
        ..ClientOptions::default()
    };
    let client = Client::new([url.clone()], opts).unwrap();
    let first = client.proxy(Some(Duration::from_secs(5))).await.unwrap();
    // Callbacks run for the current proxy at once, then for each new one.
    let links = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = links.clone();
    client
        .on_link(move |_proxy| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await;
    assert_eq!(links.load(Ordering::SeqCst), 1);
    assert_eq!(
        client.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    // The server drops every link: the client reconnects with a new session.
    daemon.set_ready(false).await;
    assert!(first.wait_fini(Some(Duration::from_secs(5))).await);
    daemon.set_ready(true).await;
    let second = client.proxy(Some(Duration::from_secs(5))).await.unwrap();
    assert_ne!(first.session(), second.session());
    assert_eq!(links.load(Ordering::SeqCst), 2);
    assert_eq!(
        second.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("vecaxon")
    );
    client.fini().await;
    assert!(second.wait_fini(Some(Duration::from_secs(5))).await);
    daemon.fini().await;
}

#[test]
fn blocking_facade() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (daemon, _state, url) = rt.block_on(tcp_daemon());
    let url = root(&url);
    let proxy = blocking::Proxy::open(&url).unwrap();
    assert_eq!(
        proxy.call("getCellType", vec![], vec![]).unwrap(),
        Value::from("vecaxon")
    );
    let items: Vec<Value> = proxy
        .stream("genr", vec![Value::from(4)], vec![])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(items.len(), 4);
    let mut upload = proxy.share("upload", vec![], vec![]).unwrap();
    upload
        .call("write", vec![Value::from(vec![1u8])], vec![])
        .unwrap();
    upload.fini().unwrap();
    proxy.fini().unwrap();
    // Blocking calls also work from a thread inside another runtime (they block it).
    let inside = rt.block_on(async { blocking::Proxy::open(&url) }).unwrap();
    assert_eq!(
        inside.call("getCellType", vec![], vec![]).unwrap(),
        Value::from("vecaxon")
    );
    inside.fini().unwrap();
    rt.block_on(daemon.fini());
}

#[tokio::test]
async fn invoke_reports_each_kind() {
    let (daemon, _state, url) = tcp_daemon().await;
    let proxy = Proxy::open_with(
        &root(&url),
        ProxyOptions {
            max_idle: 1,
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        proxy
            .invoke("getCellType", vec![], vec![], None)
            .await
            .unwrap(),
        Response::Value(_)
    ));
    assert!(matches!(
        proxy
            .invoke("genr", vec![Value::from(1)], vec![], None)
            .await
            .unwrap(),
        Response::Stream(_)
    ));
    assert!(matches!(
        proxy.invoke("upload", vec![], vec![], None).await.unwrap(),
        Response::Share(_)
    ));
    // Unknown share name in t2:init: NoSuchObj.
    let err = proxy
        .invoke(
            "write",
            vec![],
            vec![],
            Some("ffffffffffffffffffffffffffffffff"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchObj");
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn closing_the_link_cancels_the_call() {
    let (daemon, state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&root(&url)).await.unwrap();
    let quick = proxy.with_timeout(Some(Duration::from_millis(100)));
    let err = quick.call("watchCancel", vec![], vec![]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout));
    let mut waited = 0;
    while state.cancelled.load(Ordering::SeqCst) == 0 {
        waited += 1;
        assert!(waited < 500, "the call was not cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn share_paths_reach_the_factory() {
    let (daemon, _state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&format!("{}/vecaxon/a/b", root(&url)))
        .await
        .unwrap();
    let path = proxy.call("getPath", vec![], vec![]).await.unwrap();
    assert_eq!(path, Value::Array(vec![Value::from("a"), Value::from("b")]));
    proxy.fini().await;
    let proxy = Proxy::open(&format!("{}/vecaxon/", root(&url)))
        .await
        .unwrap();
    assert_eq!(
        proxy.call("getPath", vec![], vec![]).await.unwrap(),
        Value::Array(vec![])
    );
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn dropping_the_daemon_stops_listening() {
    let (daemon, _state, url) = tcp_daemon().await;
    let port = url.rsplit(':').next().unwrap().to_owned();
    drop(daemon);
    let mut waited = 0;
    while tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .is_ok()
    {
        waited += 1;
        assert!(waited < 500, "still listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A generator is announced (`t2:genr`) before its first item exists: a client awaiting the
/// call gets its stream at once, as with the reference daemon.
#[tokio::test]
async fn generator_is_announced_before_its_first_item() {
    use std::sync::Arc;

    use synapse_telepath::{Call, Daemon, Methods, genr};

    struct Gate(tokio::sync::Notify);
    let gate = Arc::new(Gate(tokio::sync::Notify::new()));
    let methods = Arc::new(Methods::<Gate>::new(["test.GateApi"]).genr(
        "later",
        |gate: Arc<Gate>, _call: Call| {
            Ok(genr(move |y| async move {
                gate.0.notified().await;
                y.emit(1).await;
                Ok(())
            }))
        },
    ));
    let daemon = Daemon::new();
    daemon.share("*", methods.bind(gate.clone()));
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let proxy = Proxy::open(&format!("tcp://{addr}/")).await.unwrap();

    let mut items = tokio::time::timeout(
        Duration::from_secs(10),
        proxy.stream("later", vec![], vec![]),
    )
    .await
    .expect("the stream is announced before any item exists")
    .unwrap();
    gate.0.notify_one();
    assert_eq!(items.next().await.unwrap().unwrap(), Value::from(1));
    assert!(items.next().await.is_none());
    proxy.fini().await;
    daemon.fini().await;
}

#[tokio::test]
async fn raw_params_arrive_as_bytes() {
    use std::sync::Arc;
    use synapse_telepath::{Call, Daemon, Methods};

    struct Api;
    // `store(name, items)` takes `items` raw: it answers with what it got.
    let methods = Arc::new(
        Methods::<Api>::new(["test.RawApi"])
            .unary("store", |_api, mut call: Call| async move {
                let raw = call.take_raw();
                let mut params = call.params(&["name", "items"])?;
                let name: Value = params.req("name")?;
                let items: Value = params.req("items")?;
                let raw = raw.map_or(Value::Nil, |raw| Value::from(raw.into_bytes()));
                Ok(Value::Array(vec![name, items, raw]))
            })
            .raw_param("store", 1, "items"),
    );
    let daemon = Daemon::new();
    daemon.share("*", methods.bind(Arc::new(Api)));
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let proxy = Proxy::open(&format!("tcp://{addr}/")).await.unwrap();

    let items = Value::Array(vec![Value::from(1), Value::from("a")]);
    let want = |name: &str| {
        Value::Array(vec![
            Value::from(name),
            Value::Nil,
            Value::from(b"\x92\x01\xa1a".to_vec()),
        ])
    };
    // Positional or keyword: the bytes as sent, `None` in the argument's place.
    let got = proxy
        .call("store", vec!["x".into(), items.clone()], vec![])
        .await
        .unwrap();
    assert_eq!(got, want("x"));
    let got = proxy
        .call(
            "store",
            vec!["y".into()],
            vec![("items".into(), items.clone())],
        )
        .await
        .unwrap();
    assert_eq!(got, want("y"));
    // Not passed: no raw value, and the ordinary argument error.
    let err = proxy
        .call("store", vec!["z".into()], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.remote().unwrap().name, "TypeError");
    // In process, without the daemon, the argument stays decoded.
    let share = methods.bind(Arc::new(Api));
    let call = Call::new(
        "store",
        vec!["w".into(), items.clone()],
        vec![],
        synapse_telepath::CallCtx::detached(),
    );
    let Ok(synapse_telepath::Reply::Value(got)) = share.call(call).await else {
        panic!("call failed");
    };
    assert_eq!(got, Value::Array(vec!["w".into(), items, Value::Nil]));
    proxy.fini().await;
    daemon.fini().await;
}

/// Links read their sockets directly for a while after each message (and raise the TCP
/// receive low-water mark meanwhile): messages that come after the spin gave up, after a
/// long call, small or large, alone or among concurrent calls, must still wake them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_answered_after_pauses_long_calls_and_among_others() {
    let (_daemon, _state, url) = tcp_daemon().await;
    let proxy = Proxy::open(&format!("{}/", root(&url))).await.unwrap();
    for round in 0..3 {
        for i in 0..50 {
            let got = proxy
                .call("echo", vec![Value::from(i)], vec![])
                .await
                .unwrap();
            assert_eq!(
                got,
                Value::Array(vec![Value::Array(vec![Value::from(i)]), Value::Map(vec![])])
            );
        }
        // Longer than any spin: both sides park, and must be woken by the next bytes.
        tokio::time::sleep(Duration::from_millis(120)).await;
        let big = proxy
            .call("bytes", vec![Value::from(100_000 * (round + 1))], vec![])
            .await
            .unwrap();
        assert_eq!(big.as_slice().map(<[u8]>::len), Some(100_000 * (round + 1)));
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    // A long call, with other calls on other links meanwhile and right after.
    let slow = {
        let proxy = proxy.clone();
        tokio::spawn(async move { proxy.call("sleep", vec![Value::F64(0.3)], vec![]).await })
    };
    let others = (0..8).map(|i| {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                proxy.call("echo", vec![Value::from(i)], vec![]).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<(), Error>(())
        })
    });
    for res in futures::future::join_all(others).await {
        res.unwrap().unwrap();
    }
    assert_eq!(slow.await.unwrap().unwrap(), Value::Boolean(true));
    assert_eq!(
        proxy
            .call("echo", vec![Value::from(9)], vec![])
            .await
            .unwrap(),
        Value::Array(vec![Value::Array(vec![Value::from(9)]), Value::Map(vec![])])
    );
    proxy.fini().await;
}
