//! The Rust Proxy against a real reference server (a synapse 2.x Axon cell).

use std::time::Duration;

use futures::StreamExt;
use sha2::Digest;
use synapse_telepath::{Proxy, Value, ValueExt, blocking, vmap};

use crate::python::RefServer;

fn big(value: &str) -> Value {
    // An int beyond 64 bits, as the reference sends it (ext 0 / ext 1).
    let twos: i128 = value.parse().unwrap();
    if twos >= 0 {
        let bytes = (twos as u128).to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap();
        Value::Ext(0, bytes[first..].to_vec())
    } else {
        Value::Ext(1, twos.to_be_bytes()[7..].to_vec())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_proxy_against_reference_cell() {
    let server = RefServer::start().await;
    let port = server.port();
    let root = format!("tcp://root:secret@127.0.0.1:{port}");

    // Handshake failures, with the reference's errors.
    let err = Proxy::open(&format!("tcp://root:wrong@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    let remote = err.remote().unwrap();
    assert_eq!(remote.name, "AuthDeny");
    assert_eq!(remote.mesg(), Some("Invalid password"));
    assert_eq!(remote.get("user"), Some(&Value::from(server.get("root"))));
    let err = Proxy::open(&format!("tcp://locked:lockedpass@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.remote().unwrap().mesg(), Some("Invalid password"));
    let err = Proxy::open(&format!("tcp://nobody:x@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.remote().unwrap().mesg(), Some("No such user: nobody."));
    let err = Proxy::open(&format!("tcp://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("Unable to find cell user (None)")
    );
    let err = Proxy::open(&format!("{root}/nosuchshare"))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchName");

    let proxy = Proxy::open(&format!("{root}/")).await.unwrap();
    assert_eq!(proxy.classes()[0], "__main__.TestApi");
    assert!(proxy.has_feature("tellready", 1));
    assert!(proxy.is_genr("genr"));
    assert!(!proxy.is_genr("syncGenr"));
    assert_eq!(proxy.syn_version().map(|v| v.0), Some(2));
    assert_eq!(proxy.ahainfo(), &vmap([("name", Value::Nil)]));
    assert_eq!(
        proxy.call("getCellIden", vec![], vec![]).await.unwrap(),
        Value::from(server.get("iden"))
    );

    // Every msgpack type round trips through the reference.
    let args = vec![
        Value::from("str"),
        Value::from(b"\x00\x01bytes".to_vec()),
        Value::from(1),
        Value::from(-1),
        Value::from(128),
        Value::from(u64::MAX),
        Value::from(i64::MIN),
        big("18446744073709551616"),
        big("-9223372036854775809"),
        Value::F64(1.5),
        Value::Boolean(true),
        Value::Nil,
        Value::Array(vec![Value::from(1), Value::from(2)]),
        vmap([("a", 1)]),
        Value::Map(vec![(Value::from(1), Value::from("intkey"))]),
    ];
    let kwargs = vec![("kw1".to_owned(), Value::from("x"))];
    let echoed = proxy.call("echo", args.clone(), kwargs).await.unwrap();
    assert_eq!(
        echoed,
        Value::Array(vec![Value::Array(args), vmap([("kw1", "x")])])
    );

    let payload = vec![3u8; 4 << 20];
    let echoed = proxy
        .call("echo", vec![Value::from(payload.clone())], vec![])
        .await
        .unwrap();
    assert_eq!(echoed[0][0], Value::from(payload));

    // Errors.
    let err = proxy.call("_secret", vec![], vec![]).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("TestApi has no method: _secret.")
    );
    let err = proxy.call("raiseSynErr", vec![], vec![]).await.unwrap_err();
    assert_eq!(err.name(), "BadArg");
    assert_eq!(err.remote().unwrap().get("arg"), Some(&Value::from("foo")));
    assert!(err.remote().unwrap().info.get_key("efile").is_some());
    let err = proxy
        .call("raiseBuiltin", vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "ValueError");
    let err = proxy
        .call("getCellIden", vec![Value::from(1)], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "TypeError");
    let err = proxy
        .call("addUser", vec![Value::from("root")], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "DupUserName");

    // Generators.
    let items: Vec<_> = proxy
        .stream("genr", vec![Value::from(3)], vec![])
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        items[2],
        Value::Array(vec![Value::from("item"), Value::from(2)])
    );
    let items: Vec<_> = proxy
        .stream("genrFail", vec![Value::from(2)], vec![])
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2]
            .as_ref()
            .unwrap_err()
            .remote()
            .unwrap()
            .get("count"),
        Some(&Value::from(2))
    );
    let err = proxy.stream("genr", vec![], vec![]).await.unwrap_err();
    assert_eq!(err.name(), "TypeError");
    assert_eq!(
        proxy
            .call("syncGenr", vec![Value::from(3)], vec![])
            .await
            .unwrap(),
        Value::Array(vec![Value::from(0), Value::from(10), Value::from(20)])
    );
    let mut slow = proxy
        .stream("slowGenr", vec![Value::from(100)], vec![])
        .await
        .unwrap();
    assert_eq!(slow.next().await.unwrap().unwrap(), Value::from(0));
    drop(slow);
    let sha = sha2::Sha256::digest(b"hello world").to_vec();
    let chunks: Vec<_> = proxy
        .stream("get", vec![Value::from(sha.clone())], vec![])
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(chunks, vec![Value::from(b"hello world".to_vec())]);

    // Shares: an Axon upload.
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
        .call("write", vec![Value::from(b"rust".to_vec())], vec![])
        .await
        .unwrap();
    let saved = upload.call("save", vec![], vec![]).await.unwrap();
    let sha = sha2::Sha256::digest(b"hello rust").to_vec();
    assert_eq!(
        saved,
        Value::Array(vec![Value::from(10), Value::from(sha.clone())])
    );
    upload.fini().await;
    assert_eq!(
        proxy
            .call("has", vec![Value::from(sha)], vec![])
            .await
            .unwrap(),
        Value::Boolean(true)
    );

    // Concurrency over the pool, and a timeout.
    let calls = (0..64).map(|i| {
        let proxy = proxy.clone();
        async move {
            proxy
                .call("echo", vec![Value::from(i)], vec![])
                .await
                .unwrap()
        }
    });
    for (i, res) in futures::future::join_all(calls).await.iter().enumerate() {
        assert_eq!(res[0][0], Value::from(i));
    }
    let err = proxy
        .with_timeout(Some(Duration::from_millis(100)))
        .call("sleep", vec![Value::F64(2.0)], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "TimeOut");
    proxy.fini().await;

    // A non-admin user.
    let visi = Proxy::open(&format!("tcp://visi:visipass@127.0.0.1:{port}/vecaxon"))
        .await
        .unwrap();
    let err = visi.call("getAuthUsers", vec![], vec![]).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("User is not an admin [visi]")
    );
    assert_eq!(
        err.remote().unwrap().get("user"),
        Some(&Value::from(server.get("visi")))
    );
    visi.fini().await;

    // cell:// over the UNIX socket: root, no password.
    let cell = Proxy::open(&format!("cell://{}", server.get("dirn")))
        .await
        .unwrap();
    let user = cell.call("getCellUser", vec![], vec![]).await.unwrap();
    assert_eq!(user["name"], Value::from("root"));
    cell.fini().await;

    // The blocking facade.
    let url = format!("{root}/");
    tokio::task::spawn_blocking(move || {
        let proxy = blocking::Proxy::open(&url).unwrap();
        assert_eq!(
            proxy.call("getCellType", vec![], vec![]).unwrap(),
            Value::from("testaxon")
        );
        let items: Vec<_> = proxy
            .stream("genr", vec![Value::from(2)], vec![])
            .unwrap()
            .collect();
        assert_eq!(items.len(), 2);
        proxy.fini().unwrap();
    })
    .await
    .unwrap();
}
