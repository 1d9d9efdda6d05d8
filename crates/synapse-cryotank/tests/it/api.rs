//! The telepath APIs through the Rust clients: result shapes, waits, bad input, restarts,
//! deletes and concurrent writers.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use synapse_cryotank::{CryoClient, SliceOpts};
use synapse_telepath::{Proxy, Value};

use crate::{Cryo, err_name, get};

fn opts(size: Option<u64>) -> SliceOpts {
    SliceOpts {
        size,
        ..SliceOpts::default()
    }
}

async fn slice_all(
    client: &CryoClient,
    name: &str,
    offs: u64,
    size: Option<u64>,
) -> Vec<(u64, Value)> {
    client
        .slice(name, offs, opts(size))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn bytes(byts: &[u8]) -> Value {
    Value::Binary(byts.to_vec())
}

#[tokio::test]
async fn the_reference_session() {
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let client = cryo.root().await;

    assert!(client.list().await.unwrap().is_empty());
    let iden = client.init("foo", None).await.unwrap();
    assert_eq!(iden.len(), 32);
    assert_eq!(client.init("foo", None).await.unwrap(), iden);

    let first = vec![
        Value::Map(vec![("a".into(), 1.into())]),
        Value::Array(vec!["x".into(), 2.into()]),
        "str".into(),
        3.into(),
        Value::Nil,
        bytes(b"byts"),
    ];
    assert_eq!(client.puts("foo", first.clone()).await.unwrap(), 6);
    assert_eq!(
        client
            .puts("foo", vec!["six".into(), "seven".into()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(client.last("foo").await.unwrap(), Some((7, "seven".into())));
    assert_eq!(
        slice_all(&client, "foo", 2, Some(3)).await,
        vec![(2, "str".into()), (3, 3.into()), (4, Value::Nil)]
    );
    assert!(slice_all(&client, "foo", 100, None).await.is_empty());
    let all = slice_all(&client, "foo", 0, None).await;
    assert_eq!(
        all.iter()
            .map(|(_, v)| v.clone())
            .take(6)
            .collect::<Vec<_>>(),
        first
    );

    let rows: Vec<(u64, Vec<u8>)> = client
        .rows("foo", 5, Some(2))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(5, b"\xc4\x04byts".to_vec()), (6, b"\xa3six".to_vec())]
    );

    let metrics: Vec<(u64, Value)> = client
        .metrics("foo", 0, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(metrics.len(), 2);
    let keys: Vec<&str> = metrics[0]
        .1
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["indx", "size", "count", "time", "took", "orig"]);
    assert_eq!(get(&metrics[0].1, "indx"), &Value::from(6));
    assert_eq!(get(&metrics[0].1, "size"), &Value::from(20));
    assert_eq!(get(&metrics[0].1, "count"), &Value::from(6));
    assert_eq!(get(&metrics[0].1, "orig"), &Value::from(0));
    assert_eq!(get(&metrics[1].1, "indx"), &Value::from(8));
    assert_eq!(get(&metrics[1].1, "size"), &Value::from(10));
    assert_eq!(get(&metrics[1].1, "orig"), &Value::from(6));

    let list = client.list().await.unwrap();
    assert_eq!(list.len(), 1);
    let (name, info) = &list[0];
    assert_eq!(name, "foo");
    assert_eq!(get(info, "iden"), &Value::from(iden.as_str()));
    assert_eq!(get(info, "indx"), &Value::from(8));
    assert_eq!(get(info, "metrics"), &Value::from(2));
    let stat = get(info, "stat");
    let keys: Vec<&str> = stat
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "psize",
            "depth",
            "branch_pages",
            "leaf_pages",
            "overflow_pages",
            "entries"
        ]
    );
    assert_eq!(get(stat, "entries"), &Value::from(8));

    // last() on an unknown name creates the tank.
    assert_eq!(client.last("bar").await.unwrap(), None);
    assert_eq!(client.list().await.unwrap().len(), 2);

    // The cell answers at the share `cryotank` too, and reports the reference's classes.
    let alias = Proxy::open(&cryo.url("root", "cryotank")).await.unwrap();
    assert_eq!(
        alias.call("getCellType", vec![], vec![]).await.unwrap(),
        "cryocell".into()
    );
    assert_eq!(alias.classes()[0], "synapse.cryotank.CryoApi");
    assert!(alias.is_genr("slice") && alias.is_genr("rows") && alias.is_genr("metrics"));
    assert!(!alias.is_genr("puts"));
    alias.fini().await;

    // The tank API.
    let tank = cryo.tank("root", "foo").await;
    assert_eq!(tank.iden().await.unwrap(), iden);
    assert_eq!(
        tank.proxy().classes(),
        [
            "synapse.cryotank.TankApi",
            "synapse.lib.cell.CellApi",
            "synapse.lib.base.Base"
        ]
    );
    assert_eq!(tank.puts(vec![1.into(), 2.into()]).await.unwrap(), 2);
    let rows: Vec<(u64, Value)> = tank
        .slice(7, opts(Some(10)))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(7, "seven".into()), (8, 1.into()), (9, 2.into())]
    );
    let rows: Vec<(u64, Value)> = tank
        .metrics(2, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        err_name(tank.proxy().call("last", vec![], vec![]).await),
        "NoSuchMeth"
    );
    tank.fini().await;

    // `*/<name>` works as `cryotank/<name>` and creates the tank; deeper paths do not exist.
    let made = synapse_cryotank::TankClient::open(&cryo.url("root", "*/made"))
        .await
        .unwrap();
    assert_eq!(made.iden().await.unwrap().len(), 32);
    made.fini().await;
    assert!(
        client
            .list()
            .await
            .unwrap()
            .iter()
            .any(|(name, _)| name == "made")
    );
    let err = Proxy::open(&cryo.url("root", "cryotank/a/b")).await;
    assert_eq!(err_name(err), "NoSuchPath");

    client.fini().await;
    cryo.fini().await;
}

#[tokio::test]
async fn slice_waits_and_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let client = cryo.root().await;
    client
        .puts("foo", vec!["a".into(), "b".into()])
        .await
        .unwrap();

    let writer = cryo.root().await;
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        writer.puts("foo", vec!["late".into()]).await.unwrap();
        writer.fini().await;
    });
    let wait = SliceOpts {
        size: None,
        wait: true,
        timeout: Some(Duration::from_secs(1)),
    };
    // The stream ends by itself once no record came for the timeout.
    let rows: Vec<(u64, Value)> = client
        .slice("foo", 1, wait)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, "b".into()), (2, "late".into())]);
    late.await.unwrap();

    // With a size, a waiting slice ends as soon as it has enough.
    let tank = cryo.tank("root", "foo").await;
    let sized = SliceOpts {
        size: Some(4),
        wait: true,
        timeout: None,
    };
    let reader = tokio::spawn(async move {
        let rows: Vec<(u64, Value)> = tank
            .slice(2, sized)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        tank.fini().await;
        rows
    });
    for item in ["c", "d", "e", "f"] {
        client.puts("foo", vec![item.into()]).await.unwrap();
    }
    let rows = reader.await.unwrap();
    let offsets: Vec<u64> = rows.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, [2, 3, 4, 5]);
    client.fini().await;
    cryo.fini().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let client = cryo.root().await;
    let good: Vec<Value> = (0..5).map(Value::from).collect();
    client.puts("foo", good.clone()).await.unwrap();
    let prox = client.proxy();
    let call = |meth: &'static str, args: Vec<Value>, kwargs: Vec<(&str, Value)>| {
        let kwargs = kwargs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        async move {
            match prox.invoke(meth, args, kwargs, None).await {
                Ok(synapse_telepath::Response::Stream(stream)) => {
                    stream.try_collect::<Vec<Value>>().await.map(Value::Array)
                }
                Ok(synapse_telepath::Response::Value(valu)) => Ok(valu),
                Ok(synapse_telepath::Response::Share(_)) => panic!("a share"),
                Err(err) => Err(err),
            }
        }
    };
    let foo = || Value::from("foo");
    let big = Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 0]);
    /// A call that must fail: method, args, kwargs, and the error's class.
    type Case = (
        &'static str,
        Vec<Value>,
        Vec<(&'static str, Value)>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        ("puts", vec![foo(), 5.into()], vec![], "BadArg"),
        ("puts", vec![foo(), Value::Nil], vec![], "BadArg"),
        (
            "puts",
            vec![foo(), Value::Map(vec![("a".into(), 1.into())])],
            vec![],
            "BadArg",
        ),
        (
            "puts",
            vec![
                foo(),
                Value::Array(vec![
                    1.into(),
                    Value::Map(vec![(Value::Map(vec![]), 1.into())]),
                ]),
            ],
            vec![],
            "NotMsgpackSafe",
        ),
        (
            "puts",
            vec![5.into(), Value::Array(vec![1.into()])],
            vec![],
            "BadArg",
        ),
        (
            "puts",
            vec!["".into(), Value::Array(vec![1.into()])],
            vec![],
            "BadArg",
        ),
        (
            "puts",
            vec!["x".repeat(512).into(), Value::Array(vec![1.into()])],
            vec![],
            "BadArg",
        ),
        ("puts", vec![foo()], vec![], "TypeError"),
        ("slice", vec![foo(), (-1).into()], vec![], "BadArg"),
        ("slice", vec![foo(), big.clone()], vec![], "BadArg"),
        ("slice", vec![foo(), "x".into()], vec![], "BadArg"),
        ("slice", vec![foo(), Value::F64(1.5)], vec![], "BadArg"),
        (
            "slice",
            vec![foo(), 0.into()],
            vec![("size", "a".into())],
            "BadArg",
        ),
        (
            "slice",
            vec![foo(), 0.into()],
            vec![("wait", true.into()), ("timeout", "a".into())],
            "BadArg",
        ),
        (
            "slice",
            vec![foo(), 0.into()],
            vec![("nope", 1.into())],
            "TypeError",
        ),
        ("rows", vec![foo(), (-1).into(), 3.into()], vec![], "BadArg"),
        ("rows", vec![foo(), 0.into()], vec![], "TypeError"),
        ("metrics", vec![foo(), (-5).into()], vec![], "BadArg"),
        (
            "metrics",
            vec![foo(), 0.into()],
            vec![("size", Value::F64(1.0))],
            "BadArg",
        ),
        ("init", vec![Value::Nil], vec![], "BadArg"),
        ("init", vec!["c1".into(), 5.into()], vec![], "BadArg"),
        (
            "init",
            vec!["c2".into(), Value::Map(vec![("nope".into(), 1.into())])],
            vec![],
            "BadArg",
        ),
        (
            "init",
            vec![
                "c3".into(),
                Value::Map(vec![("map_size".into(), (-1).into())]),
            ],
            vec![],
            "BadArg",
        ),
        ("last", vec![Value::Array(vec![])], vec![], "BadArg"),
    ];
    for (meth, args, kwargs, want) in cases {
        let desc = format!("{meth}({args:?}, {kwargs:?})");
        let res = call(meth, args, kwargs).await;
        assert_eq!(err_name(res), want, "{desc}");
    }
    // The records were not touched, no tank was made by a refused call, and writing works.
    assert_eq!(
        slice_all(&client, "foo", 0, None)
            .await
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>(),
        good
    );
    let names: Vec<String> = client
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["foo"]);
    assert_eq!(client.puts("foo", vec![5.into()]).await.unwrap(), 1);
    assert_eq!(client.last("foo").await.unwrap(), Some((5, 5.into())));

    // Odd but valid arguments behave as in the reference.
    assert_eq!(client.puts("foo", vec![]).await.unwrap(), 0);
    assert_eq!(
        call("puts", vec![foo(), "ab".into()], vec![])
            .await
            .unwrap(),
        2.into()
    );
    assert_eq!(
        call("puts", vec![foo(), bytes(b"\x01")], vec![])
            .await
            .unwrap(),
        1.into()
    );
    assert_eq!(
        call("slice", vec![foo(), 6.into()], vec![]).await.unwrap(),
        Value::Array(vec![
            Value::Array(vec![6.into(), "a".into()]),
            Value::Array(vec![7.into(), "b".into()]),
            Value::Array(vec![8.into(), 1.into()]),
        ])
    );
    assert_eq!(
        call("slice", vec![foo(), 0.into()], vec![("size", (-1).into())])
            .await
            .unwrap(),
        Value::Array(vec![])
    );
    assert_eq!(
        call("slice", vec![foo(), u64::MAX.into()], vec![])
            .await
            .unwrap(),
        Value::Array(vec![])
    );
    let rows = call("rows", vec![foo(), 7.into(), Value::Nil], vec![])
        .await
        .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    // A timeout of zero or less does not wait.
    let rows = call(
        "slice",
        vec![foo(), 8.into()],
        vec![("wait", true.into()), ("timeout", (-1).into())],
    )
    .await
    .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // Big integers are records like any other.
    let huge = Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 5]);
    client.puts("foo", vec![huge.clone()]).await.unwrap();
    assert_eq!(client.last("foo").await.unwrap(), Some((9, huge)));
    client.fini().await;
    cryo.fini().await;
}

#[tokio::test]
async fn restart_keeps_tanks_records_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let dirn = dir.path().join("cryo");
    let cryo = Cryo::open(&dirn).await;
    let client = cryo.root().await;
    let conf = Value::Map(vec![("map_size".into(), 64_000_000.into())]);
    let iden_a = client.init("a", Some(conf)).await.unwrap();
    client
        .puts("a", (0..1500).map(Value::from).collect())
        .await
        .unwrap();
    client.puts("b", vec!["x".into()]).await.unwrap();
    client.puts("gone", vec!["x".into()]).await.unwrap();
    let gone = client.init("gone", None).await.unwrap();
    assert!(dirn.join("tanks").join(&gone).exists());
    assert!(client.delete("gone").await.unwrap());
    assert!(!client.delete("gone").await.unwrap());
    assert!(!dirn.join("tanks").join(&gone).exists());
    client.fini().await;
    cryo.fini().await;

    let cryo = Cryo::open(&dirn).await;
    let client = cryo.root().await;
    let names: Vec<String> = client
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(client.init("a", None).await.unwrap(), iden_a);
    assert_eq!(client.last("a").await.unwrap(), Some((1499, 1499.into())));
    assert_eq!(client.puts("a", vec!["next".into()]).await.unwrap(), 1);
    assert_eq!(client.last("a").await.unwrap(), Some((1500, "next".into())));
    let metrics: Vec<(u64, Value)> = client
        .metrics("a", 0, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let counts: Vec<&Value> = metrics.iter().map(|(_, m)| get(m, "count")).collect();
    assert_eq!(
        counts,
        [&Value::from(1000), &Value::from(500), &Value::from(1)]
    );
    // The tank gates are back, and root is admin of its tanks.
    let gates = cryo.svc.cell().auth().gates();
    assert!(gates.iter().any(|g| g.iden == iden_a && g.typ == "tank"));
    assert!(gates.iter().any(|g| g.iden == "cryo" && g.typ == "cryo"));
    assert!(!gates.iter().any(|g| g.iden == gone));
    // A deleted name can be used again, with a new iden.
    assert_ne!(client.init("gone", None).await.unwrap(), gone);
    client.fini().await;
    cryo.fini().await;
}

#[tokio::test]
async fn concurrent_writers_get_dense_contiguous_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let writers = 6u64;
    let batches = 12u64;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let client = cryo.root().await;
        tasks.push(tokio::spawn(async move {
            for batch in 0..batches {
                // Sizes cross the 1000-record chunk boundary.
                let size = 1 + (writer * 331 + batch * 577) % 1400;
                let items = (0..size)
                    .map(|seq| Value::Array(vec![writer.into(), batch.into(), seq.into()]))
                    .collect();
                assert_eq!(client.puts("shared", items).await.unwrap(), size);
            }
            client.fini().await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let client = cryo.root().await;
    let rows = slice_all(&client, "shared", 0, None).await;
    let mut runs: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for (indx, (offs, item)) in rows.iter().enumerate() {
        assert_eq!(*offs, indx as u64, "offsets are dense");
        let parts: Vec<u64> = item
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        runs.entry((parts[0], parts[1]))
            .or_default()
            .push((*offs, parts[2]));
    }
    assert_eq!(runs.len() as u64, writers * batches);
    for ((writer, batch), run) in &runs {
        let size = 1 + (writer * 331 + batch * 577) % 1400;
        assert_eq!(run.len() as u64, size);
        let first = run[0].0;
        for (i, (offs, seq)) in run.iter().enumerate() {
            // Each puts is stored in one piece, in order.
            assert_eq!((*offs, *seq), (first + i as u64, i as u64));
        }
    }
    // The metrics rows chain up and account for every record.
    let metrics: Vec<(u64, Value)> = client
        .metrics("shared", 0, None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut next = 0;
    for (_, row) in &metrics {
        let (orig, indx, count) = (
            get(row, "orig").as_u64().unwrap(),
            get(row, "indx").as_u64().unwrap(),
            get(row, "count").as_u64().unwrap(),
        );
        assert_eq!(orig, next);
        assert_eq!(indx, orig + count);
        assert!(count <= 1000);
        next = indx;
    }
    assert_eq!(next, rows.len() as u64);
    client.fini().await;
    cryo.fini().await;
}

#[test]
fn environment_variables_use_the_references_prefix() {
    let env = |name: &str| match name {
        "SYN_CRYOTANK_TELEPATH" => Some("tcp://127.0.0.1:1234/".to_string()),
        "SYN_CRYOTANK_AUTH_PASSWD" => Some("envsecret".to_string()),
        _ => None,
    };
    let opts = synapse_cell::LaunchOpts::new("/tmp/x", "cryocell", env).unwrap();
    assert_eq!(opts.telepath, "tcp://127.0.0.1:1234/");
    let conf = synapse_cell::launch_config::<synapse_cryotank::CryoCell>(&opts, env).unwrap();
    assert_eq!(conf.get_str("auth:passwd"), Some("envsecret"));
}

/// Send one message on a raw TCP link and read the reply.
async fn raw_exchange(
    io: &mut tokio::net::TcpStream,
    dec: &mut synapse_telepath::FrameDecoder,
    bytes: &[u8],
) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    io.write_all(bytes).await.unwrap();
    loop {
        if let Some(mesg) = dec.next_message().unwrap() {
            return mesg;
        }
        let mut buf = vec![0; 65536];
        let got = io.read(&mut buf).await.unwrap();
        assert!(got > 0, "server closed the link");
        dec.feed(&buf[..got]);
    }
}

#[tokio::test]
async fn records_sent_as_bytes_are_stored_in_the_references_form() {
    use synapse_telepath::codec::encode;
    let dir = tempfile::tempdir().unwrap();
    let cryo = Cryo::open(&dir.path().join("cryo")).await;
    let client = cryo.root().await;
    client.init("raw", None).await.unwrap();

    // A client whose packer is not the reference's: its own handshake, then a puts whose
    // records are [1 as uint16, 1.5 as float32, 7 as an ext int, "a" as str8, {"k": [1]}].
    let mut io = tokio::net::TcpStream::connect(("127.0.0.1", cryo.port))
        .await
        .unwrap();
    let mut dec = synapse_telepath::FrameDecoder::default();
    let auth = Value::Array(vec![
        "root".into(),
        Value::Map(vec![("passwd".into(), "secret".into())]),
    ]);
    let syn = Value::Array(vec![
        "tele:syn".into(),
        Value::Map(vec![
            ("auth".into(), auth),
            ("vers".into(), Value::Array(vec![3.into(), 0.into()])),
            ("name".into(), "*".into()),
        ]),
    ]);
    let reply = raw_exchange(&mut io, &mut dec, &encode(&syn).unwrap()).await;
    let sess = get(&reply[1], "sess").as_str().unwrap().to_owned();
    let records: &[u8] =
        b"\x95\xcd\x00\x01\xca\x3f\xc0\x00\x00\xd4\x00\x07\xd9\x01a\x81\xa1k\x91\x01";
    let mut init = encode(&Value::Array(vec![
        "t2:init".into(),
        Value::Map(vec![(
            "todo".into(),
            Value::Array(vec![
                "puts".into(),
                Value::Array(vec!["raw".into(), Value::Nil]),
                Value::Map(vec![]),
            ]),
        )]),
    ]))
    .unwrap();
    // Splice the records in place of the nil argument, then add the name and session.
    let at = init.iter().rposition(|b| *b == 0xc0).unwrap();
    init.splice(at..=at, records.iter().copied());
    let header = init.iter().position(|b| *b == 0x81).unwrap();
    init[header] = 0x83;
    init.extend(encode(&"name".into()).unwrap());
    init.push(0xc0);
    init.extend(encode(&"sess".into()).unwrap());
    init.extend(encode(&Value::from(sess.as_str())).unwrap());
    let reply = raw_exchange(&mut io, &mut dec, &init).await;
    assert_eq!(reply[0].as_str(), Some("t2:fini"), "{reply}");
    assert_eq!(
        get(&reply[1], "retn"),
        &Value::Array(vec![true.into(), 5.into()])
    );

    // Stored as the reference's packer makes them; read back as the values they are.
    let want = [
        Value::from(1),
        Value::F64(1.5),
        Value::from(7),
        Value::from("a"),
        Value::Map(vec![("k".into(), Value::Array(vec![1.into()]))]),
    ];
    let rows: Vec<(u64, Value)> = slice_all(&client, "raw", 0, None).await;
    assert_eq!(
        rows,
        want.iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect::<Vec<_>>()
    );
    let packed: Vec<(u64, Vec<u8>)> = client
        .rows("raw", 0, Some(10))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let packed: Vec<Vec<u8>> = packed.into_iter().map(|(_, byts)| byts).collect();
    assert_eq!(
        packed,
        want.iter().map(|v| encode(v).unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(
        client.last("raw").await.unwrap(),
        Some((4, want[4].clone()))
    );

    // A record Python could not read back is refused, and nothing of its batch is stored.
    let records: &[u8] = b"\x92\x01\x81\x80\x01";
    let mut bad = init.clone();
    let start = bad
        .windows(5)
        .position(|w| w == b"\x95\xcd\x00\x01\xca")
        .unwrap();
    let end = start + 20;
    bad.splice(start..end, records.iter().copied());
    let reply = raw_exchange(&mut io, &mut dec, &bad).await;
    let retn = get(&reply[1], "retn");
    assert_eq!(retn[0], Value::Boolean(false), "{reply}");
    assert_eq!(retn[1][0].as_str(), Some("NotMsgpackSafe"), "{reply}");
    assert_eq!(slice_all(&client, "raw", 0, None).await.len(), 5);
    cryo.fini().await;
}
