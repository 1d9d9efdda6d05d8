//! The hive over telepath: our client and the reference's Python client against `HiveShare`.

use std::process::Command;

use futures::StreamExt;
use synapse_hive::{Hive, HiveShare, Value};
use synapse_telepath::{Daemon, Proxy};

use crate::tmp_slab;

fn path(names: &[&str]) -> Value {
    Value::Array(names.iter().map(|name| Value::from(*name)).collect())
}

fn msg(name: &str, info: Vec<(&str, Value)>) -> Value {
    Value::Array(vec![
        Value::from(name),
        Value::Map(
            info.into_iter()
                .map(|(key, val)| (Value::from(key), val))
                .collect(),
        ),
    ])
}

#[tokio::test]
async fn edits_stream_trees_edits_and_sync_markers_in_order() {
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    hive.set(&["a", "b"], Value::from(1)).await.unwrap();
    let daemon = Daemon::new();
    daemon.share_factory("hive", HiveShare::new(hive.clone()));
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let proxy = Proxy::open(&format!("tcp://{addr}/hive")).await.unwrap();

    assert_eq!(
        proxy
            .call("get", vec![path(&["a", "b"])], vec![])
            .await
            .unwrap(),
        Value::from(1)
    );
    // The daemon answers a generator call when its first item is ready, so read the edits on
    // their own task while the calls below produce them.
    let reader = proxy.clone();
    let edits = tokio::spawn(async move {
        let mut edits = reader.stream("edits", vec![], vec![]).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 8 {
            got.push(edits.next().await.unwrap().unwrap());
        }
        got
    });
    proxy
        .call("treeAndSync", vec![path(&["a"]), Value::from("i1")], vec![])
        .await
        .unwrap();
    let old = proxy
        .call(
            "setAndSync",
            vec![path(&["a", "c"]), Value::from(2), Value::from("i2")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(old, Value::Nil);
    let new = proxy
        .call(
            "addAndSync",
            vec![path(&["a", "c"]), Value::from(3), Value::from("i3")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(new, Value::from(5));
    // Edits outside the synchronized subtree are not streamed.
    hive.set(&["other"], Value::from(0)).await.unwrap();
    let popped = proxy
        .call(
            "popAndSync",
            vec![path(&["a", "b"]), Value::from("i4")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(popped, Value::from(1));

    let got = edits.await.unwrap();
    let tree = Value::Array(vec![
        Value::Nil,
        Value::Map(vec![(
            Value::from("b"),
            Value::Array(vec![Value::from(1), Value::Map(vec![])]),
        )]),
    ]);
    assert_eq!(
        got,
        vec![
            msg("hive:tree", vec![("path", path(&["a"])), ("tree", tree)]),
            msg("hive:sync", vec![("iden", Value::from("i1"))]),
            msg(
                "hive:set",
                vec![
                    ("path", path(&["a", "c"])),
                    ("valu", Value::from(2)),
                    ("oldv", Value::Nil)
                ]
            ),
            msg("hive:sync", vec![("iden", Value::from("i2"))]),
            msg(
                "hive:set",
                vec![
                    ("path", path(&["a", "c"])),
                    ("valu", Value::from(3)),
                    ("oldv", Value::from(2))
                ]
            ),
            msg("hive:sync", vec![("iden", Value::from("i3"))]),
            msg(
                "hive:pop",
                vec![("path", path(&["a", "b"])), ("valu", Value::from(1))]
            ),
            msg("hive:sync", vec![("iden", Value::from("i4"))]),
        ]
    );
    let saved = proxy
        .call("saveHiveTree", vec![path(&["a"])], vec![])
        .await
        .unwrap();
    assert_eq!(saved, hive.save_tree(&["a"]));
    let err = proxy
        .call(
            "setAndSync",
            vec![Value::Array(vec![]), Value::from(1), Value::from("i5")],
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "BadHivePath");
    proxy.fini().await;
    daemon.fini().await;
    slab.fini().await;
}

const PY_CLIENT: &str = r#"
import sys, json, asyncio
import synapse.telepath as s_telepath

async def main(url):
    async with await s_telepath.openurl(url) as prox:
        await prox.setAndSync(('cfg', 'x'), {'k': (1, 2)}, 'i1')
        await prox.treeAndSync(('cfg',), 'i2')
        out = [await prox.get(('cfg', 'x'))]
        async for mesg in prox.edits():
            out.append(mesg)
            if mesg == ('hive:sync', {'iden': 'i2'}):
                break
        out.append(await prox.saveHiveTree())
        print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn the_reference_client_drives_the_remote_hive() {
    let python = match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!("SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or export it)"),
    };
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    let daemon = Daemon::new();
    daemon.share_factory("hive", HiveShare::new(hive.clone()));
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{addr}/hive");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg("-c")
            .arg(PY_CLIENT)
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        serde_json::json!([
            {"k": [1, 2]},
            ["hive:sync", {"iden": "i1"}],
            ["hive:tree", {"path": ["cfg"], "tree": [null, {"x": [{"k": [1, 2]}, {}]}]}],
            ["hive:sync", {"iden": "i2"}],
            {"value": null, "kids": {"cfg": {"value": null, "kids": {"x": {"value": {"k": [1, 2]}}}}}},
        ])
    );
    assert_eq!(
        hive.get(&["cfg", "x"]),
        Some(Value::Map(vec![(
            Value::from("k"),
            Value::Array(vec![Value::from(1), Value::from(2)])
        )]))
    );
    daemon.fini().await;
    slab.fini().await;
}
