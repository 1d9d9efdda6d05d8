//! The telepath API in-process: method shapes, permissions, generator errors, the upload
//! share, and the text helpers.

use futures::StreamExt;
use rmpv::Value;
use synapse_axon::Sha256;
use synapse_cell::{Args, ConnInfo, Reply, Rule, map_get};

use crate::{Fail, bin, call, genr, open_axon, root_api, share_call};

fn sha(data: &[u8]) -> Value {
    bin(&Sha256::of(data).0)
}

fn kw(args: Vec<Value>, kwargs: &[(&str, Value)]) -> Args {
    Args {
        args,
        kwargs: kwargs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

#[tokio::test]
async fn method_shapes() {
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    assert_eq!(
        call(&api, "getCellType", vec![]).await.unwrap(),
        Value::from("axon")
    );
    let saved = call(&api, "put", vec![bin(b"asdfasdf")]).await.unwrap();
    assert_eq!(saved, Value::Array(vec![Value::from(8), sha(b"asdfasdf")]));
    assert_eq!(
        call(&api, "has", vec![sha(b"asdfasdf")]).await.unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(
        call(&api, "has", vec![bin(&[0; 32])]).await.unwrap(),
        Value::Boolean(false)
    );
    // A key of the wrong length is simply absent.
    assert_eq!(
        call(&api, "has", vec![bin(b"abc")]).await.unwrap(),
        Value::Boolean(false)
    );
    assert_eq!(
        call(&api, "size", vec![sha(b"asdfasdf")]).await.unwrap(),
        Value::from(8)
    );
    assert_eq!(
        call(&api, "size", vec![bin(&[0; 32])]).await.unwrap(),
        Value::Nil
    );
    let wants = call(
        &api,
        "wants",
        vec![Value::Array(vec![bin(&[0; 32]), sha(b"asdfasdf")])],
    )
    .await
    .unwrap();
    assert_eq!(wants, Value::Array(vec![bin(&[0; 32])]));
    let puts = call(
        &api,
        "puts",
        vec![Value::Array(vec![bin(b"visi"), bin(b"")])],
    )
    .await
    .unwrap();
    assert_eq!(
        puts,
        Value::Array(vec![
            Value::Array(vec![Value::from(4), sha(b"visi")]),
            Value::Array(vec![Value::from(0), sha(b"")]),
        ])
    );
    let metrics = call(&api, "metrics", vec![]).await.unwrap();
    assert_eq!(
        metrics,
        Value::Map(vec![
            (Value::from("size:bytes"), Value::from(12)),
            (Value::from("file:count"), Value::from(3)),
        ])
    );
    let set = call(&api, "hashset", vec![sha(b"asdfasdf")]).await.unwrap();
    let keys: Vec<&str> = match &set {
        Value::Map(items) => items.iter().filter_map(|(k, _)| k.as_str()).collect(),
        _ => panic!("not a map"),
    };
    assert_eq!(keys, ["md5", "sha1", "sha256", "sha512"]);
    assert_eq!(
        map_get(&set, "md5"),
        Some(&Value::from("6a204bd89f3c8348afd5c77c717a097a"))
    );

    let chunks = genr(&api, "get", Args::positional(vec![sha(b"asdfasdf")]))
        .await
        .unwrap();
    assert_eq!(chunks, vec![bin(b"asdfasdf")]);
    let chunks = genr(
        &api,
        "get",
        kw(
            vec![sha(b"asdfasdf")],
            &[("offs", 2.into()), ("size", 3.into())],
        ),
    )
    .await
    .unwrap();
    assert_eq!(chunks, vec![bin(b"dfa")]);
    let chunks = genr(
        &api,
        "get",
        Args::positional(vec![sha(b"asdfasdf"), 20.into(), 3.into()]),
    )
    .await
    .unwrap();
    assert_eq!(chunks, vec![bin(b"")]);

    let rows = genr(&api, "hashes", Args::positional(vec![0.into()]))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        Value::Array(vec![
            Value::from(0),
            Value::Array(vec![sha(b"asdfasdf"), Value::from(8)])
        ])
    );
    let rows = genr(&api, "history", Args::positional(vec![0.into()]))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let rows = genr(&api, "history", kw(vec![0.into()], &[("tock", 1.into())]))
        .await
        .unwrap();
    assert!(rows.is_empty());

    assert_eq!(
        call(&api, "del_", vec![sha(b"visi")]).await.unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(
        call(&api, "del_", vec![sha(b"visi")]).await.unwrap(),
        Value::Boolean(false)
    );
    let dels = call(
        &api,
        "dels",
        vec![Value::Array(vec![sha(b""), sha(b"visi")])],
    )
    .await
    .unwrap();
    assert_eq!(
        dels,
        Value::Array(vec![Value::Boolean(true), Value::Boolean(false)])
    );

    // The health component carries the metrics.
    let health = call(&api, "getHealthCheck", vec![]).await.unwrap();
    assert_eq!(map_get(&health, "status"), Some(&Value::from("nominal")));
    let info = call(&api, "getCellInfo", vec![]).await.unwrap();
    let features = map_get(&info, "features").unwrap();
    assert_eq!(map_get(features, "byterange"), Some(&Value::from(1)));
    assert_eq!(map_get(features, "unpack"), Some(&Value::from(1)));
    let cellvers = map_get(map_get(&info, "cell").unwrap(), "cellvers").unwrap();
    assert_eq!(map_get(cellvers, "axon:metrics"), Some(&Value::from(1)));
    // A file that is not bytes: those before it are stored (the reference `put`s each in
    // turn), those after it are not.
    let err = call(
        &api,
        "puts",
        vec![Value::Array(vec![
            bin(b"before"),
            "text".into(),
            bin(b"after"),
        ])],
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "TypeError");
    let has = |byts: &'static [u8]| call(&api, "has", vec![sha(byts)]);
    assert_eq!(has(b"before").await.unwrap(), Value::Boolean(true));
    assert_eq!(has(b"after").await.unwrap(), Value::Boolean(false));
    cell.fini().await;
}

#[tokio::test]
async fn errors_match_the_reference() {
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    call(&api, "put", vec![bin(b"asdfasdf")]).await.unwrap();
    // Generators report errors as their first item.
    let err = genr(&api, "get", Args::positional(vec![bin(&[0; 32])]))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchFile");
    assert_eq!(err.mesg(), "Axon does not contain the requested file.");
    assert_eq!(err.get("sha256"), Some(&Value::from("00".repeat(32))));
    let err = genr(
        &api,
        "get",
        Args::positional(vec![sha(b"asdfasdf"), (-1).into(), 3.into()]),
    )
    .await
    .unwrap_err();
    assert_eq!((err.name(), err.mesg()), ("BadArg", "Offs must be >= 0"));
    assert_eq!(err.get("offs"), Some(&Value::from(-1)));
    let err = genr(
        &api,
        "get",
        Args::positional(vec![sha(b"asdfasdf"), 0.into(), 0.into()]),
    )
    .await
    .unwrap_err();
    assert_eq!((err.name(), err.mesg()), ("BadArg", "Size must be >= 1"));
    // offs without size: the reference's TypeError.
    let err = genr(
        &api,
        "get",
        kw(vec![sha(b"asdfasdf")], &[("offs", 1.into())]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "TypeError");
    // Binding errors come before the generator starts.
    let err = api.call("get", Args::default()).await.unwrap_err();
    assert_eq!(
        err.mesg(),
        "get() missing 1 required positional argument: 'sha256'"
    );
    let err = call(&api, "hashset", vec![bin(&[0; 32])])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchFile");
    let err = call(&api, "put", vec![Value::from("text")])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "TypeError");
    let err = api.call("nope", Args::default()).await.unwrap_err();
    assert_eq!(err.name(), "NoSuchMeth");
    cell.fini().await;
}

#[tokio::test]
async fn permissions() {
    let (_dir, cell) = open_axon(&[]).await;
    let auth = cell.cell().auth();
    let visi = auth.add_user("visi", None, None, None).await.unwrap();
    let api = cell.session(&visi.iden, ConnInfo::local());
    let denied = |res: Result<Value, Fail>, perm: &str| {
        let err = res.unwrap_err();
        assert_eq!(err.name(), "AuthDeny");
        assert_eq!(err.mesg(), format!("User must have permission {perm}"));
        assert_eq!(err.get("perm"), Some(&Value::from(perm)));
        assert_eq!(err.get("username"), Some(&Value::from("visi")));
    };
    denied(call(&api, "has", vec![bin(&[0; 32])]).await, "axon.has");
    denied(call(&api, "size", vec![bin(&[0; 32])]).await, "axon.has");
    denied(call(&api, "metrics", vec![]).await, "axon.has");
    denied(
        call(&api, "wants", vec![Value::Array(vec![])]).await,
        "axon.has",
    );
    denied(call(&api, "put", vec![bin(b"x")]).await, "axon.upload");
    denied(
        call(&api, "puts", vec![Value::Array(vec![])]).await,
        "axon.upload",
    );
    denied(call(&api, "del_", vec![bin(&[0; 32])]).await, "axon.del");
    denied(
        call(&api, "dels", vec![Value::Array(vec![])]).await,
        "axon.del",
    );
    denied(
        call(&api, "unpack", vec![bin(&[0; 32]), ">I".into()]).await,
        "axon.get",
    );
    let err = api.call("upload", Args::default()).await.unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.upload")));
    let err = genr(&api, "get", Args::positional(vec![bin(&[0; 32])]))
        .await
        .unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.get")));
    let err = genr(&api, "hashes", Args::positional(vec![0.into()]))
        .await
        .unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.has")));
    let err = genr(&api, "readlines", Args::positional(vec!["00".into()]))
        .await
        .unwrap_err();
    assert_eq!(err.get("perm"), Some(&Value::from("axon.get")));

    auth.add_user_rule(&visi.iden, Rule::new(true, &["axon", "upload"]), None, None)
        .await
        .unwrap();
    auth.add_user_rule(&visi.iden, Rule::new(true, &["axon", "has"]), None, None)
        .await
        .unwrap();
    let saved = call(&api, "put", vec![bin(b"visi")]).await.unwrap();
    assert_eq!(saved, Value::Array(vec![Value::from(4), sha(b"visi")]));
    assert_eq!(
        call(&api, "has", vec![sha(b"visi")]).await.unwrap(),
        Value::Boolean(true)
    );
    denied(call(&api, "del_", vec![sha(b"visi")]).await, "axon.del");
    cell.fini().await;
}

#[tokio::test]
async fn the_upload_share() {
    let (dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    let Reply::Share(share) = api.call("upload", Args::default()).await.unwrap() else {
        panic!("upload did not return a share");
    };
    assert_eq!(share.typename(), "upload");
    assert_eq!(share.classes()[0], "synapse.axon.UpLoadShare");
    assert_eq!(share.methods().len(), 2);
    for part in [&b"part1"[..], b"part2"] {
        let res = share_call(&share, "write", vec![bin(part)]).await.unwrap();
        assert_eq!(res, Value::Nil);
    }
    let saved = share_call(&share, "save", vec![]).await.unwrap();
    assert_eq!(
        saved,
        Value::Array(vec![Value::from(10), sha(b"part1part2")])
    );
    // Reusable; unsaved bytes vanish at fini.
    share_call(&share, "write", vec![bin(&vec![7u8; 5 << 20])])
        .await
        .unwrap();
    share.fini().await;
    let saved = share_call(&share, "save", vec![]).await.unwrap();
    assert_eq!(saved, Value::Array(vec![Value::from(0), sha(b"")]));
    let err = share_call(&share, "nope", vec![]).await.unwrap_err();
    assert_eq!(err.name(), "NoSuchMeth");
    let err = share_call(&share, "write", vec![]).await.unwrap_err();
    assert_eq!(err.name(), "TypeError");
    let tmp = dir.path().join("axon").join("tmp");
    for _ in 0..100 {
        if std::fs::read_dir(&tmp).unwrap().count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    cell.fini().await;
}

#[tokio::test]
async fn text_helpers() {
    let (_dir, cell) = open_axon(&[]).await;
    let api = root_api(&cell);
    let text = b"first\r\nsecond\rthird\n\nbad\xffbyte\nlast";
    call(&api, "put", vec![bin(text)]).await.unwrap();
    let hex = Value::from(Sha256::of(text).hex());
    let lines = genr(&api, "readlines", Args::positional(vec![hex.clone()]))
        .await
        .unwrap();
    let lines: Vec<&str> = lines.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(lines, ["first", "second", "third", "", "badbyte", "last"]);
    let lines = genr(
        &api,
        "readlines",
        kw(vec![hex.clone()], &[("errors", "replace".into())]),
    )
    .await
    .unwrap();
    assert_eq!(lines[4], Value::from("bad\u{fffd}byte"));
    let err = genr(
        &api,
        "readlines",
        kw(vec![hex.clone()], &[("errors", "strict".into())]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadDataValu");
    // readlines takes hex text: raw bytes are not hex.
    let err = genr(&api, "readlines", Args::positional(vec![sha(text)]))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Error");
    let err = genr(
        &api,
        "readlines",
        Args::positional(vec![Value::from("00".repeat(32))]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "NoSuchFile");

    let jsonl = b"{\"a\":1}\n\n{\"b\":2}\n";
    call(&api, "put", vec![bin(jsonl)]).await.unwrap();
    let items = genr(
        &api,
        "jsonlines",
        Args::positional(vec![Sha256::of(jsonl).hex().into()]),
    )
    .await
    .unwrap();
    assert_eq!(
        items,
        vec![
            Value::Map(vec![(Value::from("a"), Value::from(1))]),
            Value::Map(vec![(Value::from("b"), Value::from(2))])
        ]
    );
    let badjson = b"{\"a\":1}\n{nope\n";
    call(&api, "put", vec![bin(badjson)]).await.unwrap();
    let badhex = Sha256::of(badjson).hex();
    let err = genr(
        &api,
        "jsonlines",
        Args::positional(vec![badhex.clone().into()]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadJsonText");
    assert!(err.mesg().starts_with(&format!(
        "Bad json line encountered while processing {badhex}"
    )));

    let csv = b"a,b\n1,\"2,3\"\n";
    call(&api, "put", vec![bin(csv)]).await.unwrap();
    let rows = genr(&api, "csvrows", Args::positional(vec![sha(csv)]))
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            Value::Array(vec!["a".into(), "b".into()]),
            Value::Array(vec!["1".into(), "2,3".into()])
        ]
    );
    let tsv = b"a\tb\n";
    call(&api, "put", vec![bin(tsv)]).await.unwrap();
    let rows = genr(
        &api,
        "csvrows",
        kw(vec![sha(tsv)], &[("delimiter", "\t".into())]),
    )
    .await
    .unwrap();
    assert_eq!(rows, vec![Value::Array(vec!["a".into(), "b".into()])]);
    let err = genr(
        &api,
        "csvrows",
        kw(vec![sha(csv)], &[("dialect", "newp".into())]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name(), "BadArg");
    let err = genr(&api, "csvrows", kw(vec![sha(csv)], &[("newp", 1.into())]))
        .await
        .unwrap_err();
    assert_eq!(
        err.mesg(),
        "Invalid csv format parameter: 'newp' is an invalid keyword argument for this function"
    );

    let mut mpk = Vec::new();
    for item in [
        Value::from(1),
        Value::from("two"),
        Value::Array(vec![Value::from(3)]),
    ] {
        rmpv::encode::write_value(&mut mpk, &item).unwrap();
    }
    call(&api, "put", vec![bin(&mpk)]).await.unwrap();
    let items = genr(
        &api,
        "iterMpkFile",
        Args::positional(vec![Sha256::of(&mpk).hex().into()]),
    )
    .await
    .unwrap();
    assert_eq!(
        items,
        vec![
            Value::from(1),
            Value::from("two"),
            Value::Array(vec![Value::from(3)])
        ]
    );

    // unpack(sha('asdfasdf'), '>I', offs=2) -> (1684431219,) (verified on 2.256).
    call(&api, "put", vec![bin(b"asdfasdf")]).await.unwrap();
    let got = api
        .call(
            "unpack",
            kw(vec![sha(b"asdfasdf"), ">I".into()], &[("offs", 2.into())]),
        )
        .await
        .unwrap();
    let Reply::Value(got) = got else {
        panic!("not a value")
    };
    assert_eq!(got, Value::Array(vec![Value::from(1684431219u64)]));
    let err = call(
        &api,
        "unpack",
        vec![sha(b"asdfasdf"), ">Q".into(), 4.into()],
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.name(), err.mesg()),
        ("BadDataValu", "Expected 8 bytes but got 4 bytes")
    );
    assert_eq!(err.get("expected"), Some(&Value::from(8)));
    let err = call(&api, "unpack", vec![sha(b"asdfasdf"), 1.into()])
        .await
        .unwrap_err();
    assert_eq!(
        (err.name(), err.mesg()),
        ("BadArg", "Format string must be a string")
    );
    let err = call(&api, "unpack", vec![sha(b"asdfasdf"), "Z".into()])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadArg");

    // Generators stop early without trouble.
    let Reply::Genr(mut items) = api
        .call("readlines", Args::positional(vec![hex]))
        .await
        .unwrap()
    else {
        panic!("not a generator")
    };
    assert_eq!(items.next().await.unwrap().unwrap(), Value::from("first"));
    drop(items);
    cell.fini().await;
}
