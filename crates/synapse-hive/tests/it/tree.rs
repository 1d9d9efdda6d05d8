//! Tree semantics, storage layout, events and subscriptions.

use futures::StreamExt;
use synapse_hive::{Error, Hive, HiveEvent, Value};
use synapse_slab::{DbOptions, Scan, Slab, SlabOptions};

use crate::tmp_slab;

fn path(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[tokio::test]
async fn set_get_dir_and_the_storage_layout() {
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    assert_eq!(
        hive.set(&["a", "b"], Value::from("v")).await.unwrap(),
        Value::Nil
    );
    assert_eq!(
        hive.set(&["a", "b"], Value::from("w")).await.unwrap(),
        Value::from("v")
    );
    assert!(hive.exists(&["a"]));
    assert_eq!(hive.get(&["a"]), Some(Value::Nil));
    assert_eq!(hive.get(&["nope"]), None);
    assert_eq!(
        hive.dir(&["a"]),
        Some(vec![("b".to_owned(), Value::from("w"), 0)])
    );
    assert_eq!(hive.dir(&["nope"]), None);
    hive.open_node(&["x", "y"]);
    assert!(hive.exists(&["x", "y"]));
    assert_eq!(
        hive.list_keys::<&str>(&[]),
        Some(vec!["a".to_owned(), "x".to_owned()])
    );
    // Only set nodes are stored: exactly one row, b'a\x00b' -> msgpack 'w'.
    let db = slab.initdb("hive", DbOptions::default()).await.unwrap();
    let rows = slab
        .read(move |txn| {
            let mut rows = Vec::new();
            for row in txn.scan(db, Scan::full())? {
                let (key, val) = row?;
                rows.push((key.to_vec(), val.to_vec()));
            }
            Ok::<_, synapse_slab::Error>(rows)
        })
        .await
        .unwrap();
    assert_eq!(rows, vec![(b"a\0b".to_vec(), b"\xa1w".to_vec())]);
    // The root has no stored value; NUL in names is refused.
    assert!(matches!(
        hive.set::<&str>(&[], Value::Nil).await,
        Err(Error::BadHivePath(_))
    ));
    assert!(matches!(
        hive.set(&["a\0b"], Value::Nil).await,
        Err(Error::BadHivePath(_))
    ));
    slab.fini().await;
}

#[tokio::test]
async fn values_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cell.lmdb");
    let slab = Slab::open(&file, SlabOptions::default()).await.unwrap();
    let hive = Hive::open(&slab, "hive").await.unwrap();
    hive.set(&["auth", "users", "u1"], Value::from("root"))
        .await
        .unwrap();
    hive.set(&["auth", "users", "u1", "admin"], Value::from(true))
        .await
        .unwrap();
    hive.set(&["cellvers", "cell"], Value::from(2))
        .await
        .unwrap();
    hive.open_node(&["implicit"]);
    slab.fini().await;
    let slab = Slab::open(&file, SlabOptions::default()).await.unwrap();
    let hive = Hive::open(&slab, "hive").await.unwrap();
    assert_eq!(
        hive.get(&["auth", "users", "u1"]),
        Some(Value::from("root"))
    );
    assert_eq!(
        hive.get(&["auth", "users", "u1", "admin"]),
        Some(Value::from(true))
    );
    assert_eq!(hive.get(&["auth"]), Some(Value::Nil));
    assert!(!hive.exists(&["implicit"]));
    assert_eq!(
        hive.list_keys::<&str>(&[]),
        Some(vec!["auth".to_owned(), "cellvers".to_owned()])
    );
    slab.fini().await;
}

#[tokio::test]
async fn pop_removes_the_subtree_children_first() {
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    hive.set(&["a"], Value::from(1)).await.unwrap();
    hive.set(&["a", "b"], Value::from(2)).await.unwrap();
    hive.set(&["a", "b", "c"], Value::from(3)).await.unwrap();
    hive.set(&["a", "d"], Value::from(4)).await.unwrap();
    let waiter = hive.base().waiter(4, &["hive:pop"]);
    assert_eq!(hive.pop(&["a"]).await.unwrap(), Value::from(1));
    let events = waiter
        .wait(Some(std::time::Duration::from_secs(5)))
        .await
        .unwrap();
    let paths: Vec<Vec<String>> = events
        .iter()
        .map(|event| event.info::<HiveEvent>().unwrap().path().to_vec())
        .collect();
    assert_eq!(
        paths,
        vec![
            path(&["a", "b", "c"]),
            path(&["a", "b"]),
            path(&["a", "d"]),
            path(&["a"])
        ]
    );
    assert!(!hive.exists(&["a"]));
    assert_eq!(hive.pop(&["a"]).await.unwrap(), Value::Nil);
    let db = slab.initdb("hive", DbOptions::default()).await.unwrap();
    assert_eq!(slab.stat(db).await.unwrap().entries, 0);
    slab.fini().await;
}

#[tokio::test]
async fn add_rename_and_trees() {
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    hive.set(&["n"], Value::from(10)).await.unwrap();
    let mut edits = hive.subscribe(&["n"]);
    assert_eq!(
        hive.add(&["n"], Value::from(5)).await.unwrap(),
        Value::from(15)
    );
    // The event carries the delta (a reference quirk).
    assert_eq!(
        edits.recv().await.unwrap(),
        HiveEvent::Set {
            path: path(&["n"]),
            valu: Value::from(5),
            oldv: Value::from(10)
        }
    );
    let err = hive.add(&["missing"], Value::from(1)).await.unwrap_err();
    assert_eq!(err.class(), "TypeError");

    hive.set(&["foo", "bar"], Value::from(2)).await.unwrap();
    let tree = hive.save_tree(&["foo"]);
    let want = Value::Map(vec![
        (Value::from("value"), Value::Nil),
        (
            Value::from("kids"),
            Value::Map(vec![(
                Value::from("bar"),
                Value::Map(vec![(Value::from("value"), Value::from(2))]),
            )]),
        ),
    ]);
    assert_eq!(tree, want);
    let err = hive.rename(&["foo"], &["foo", "x"]).await.unwrap_err();
    assert_eq!(err.to_string(), "cannot move path into itself");
    let err = hive.rename(&["nope"], &["new"]).await.unwrap_err();
    assert_eq!(err.to_string(), "path nope does not exist");
    let err = hive.rename(&["foo"], &["n"]).await.unwrap_err();
    assert_eq!(err.to_string(), "path already exists");
    hive.rename(&["foo"], &["baz"]).await.unwrap();
    assert!(!hive.exists(&["foo"]));
    assert_eq!(hive.get(&["baz", "bar"]), Some(Value::from(2)));

    hive.set(&["t", "keep"], Value::from(1)).await.unwrap();
    hive.set(&["t", "drop"], Value::from(1)).await.unwrap();
    let load = Value::Map(vec![(
        Value::from("kids"),
        Value::Map(vec![
            (
                Value::from("keep"),
                Value::Map(vec![(Value::from("value"), Value::from(9))]),
            ),
            (
                Value::from("new"),
                Value::Map(vec![(Value::from("value"), Value::from("n"))]),
            ),
        ]),
    )]);
    hive.load_tree(&load, &["t"], true).await.unwrap();
    assert_eq!(
        hive.list_keys(&["t"]),
        Some(vec!["keep".to_owned(), "new".to_owned()])
    );
    assert_eq!(hive.get(&["t", "keep"]), Some(Value::from(9)));
    slab.fini().await;
}

#[tokio::test]
async fn subscriptions_see_their_subtree_and_snapshot_atomically() {
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    hive.set(&["cfg", "a"], Value::from(1)).await.unwrap();
    let (mut edits, snapshot) = hive.subscribe_with_tree(&["cfg"]);
    assert_eq!(
        snapshot,
        Value::Array(vec![
            Value::Nil,
            Value::Map(vec![(
                Value::from("a"),
                Value::Array(vec![Value::from(1), Value::Map(vec![])])
            )]),
        ])
    );
    hive.set(&["other"], Value::from(0)).await.unwrap();
    hive.set(&["cfg", "b", "c"], Value::from(2)).await.unwrap();
    hive.pop(&["cfg", "a"]).await.unwrap();
    let first = edits.next().await.unwrap();
    assert_eq!(
        first.to_msg(),
        Value::Array(vec![
            Value::from("hive:set"),
            Value::Map(vec![
                (
                    Value::from("path"),
                    Value::Array(vec![Value::from("cfg"), Value::from("b"), Value::from("c")])
                ),
                (Value::from("valu"), Value::from(2)),
                (Value::from("oldv"), Value::Nil),
            ]),
        ])
    );
    assert_eq!(
        edits.next().await.unwrap(),
        HiveEvent::Pop {
            path: path(&["cfg", "a"]),
            valu: Value::from(1)
        }
    );
    slab.fini().await;
}

#[tokio::test]
async fn hive_dict() {
    let (_dir, slab) = tmp_slab().await;
    let hive = Hive::open(&slab, "hive").await.unwrap();
    let dict = hive.dict(&["conf"]);
    dict.setdefault("x", Value::from("default"));
    assert_eq!(dict.get("x", Value::Nil), Value::from("default"));
    assert_eq!(dict.set("x", Value::from(1)).await.unwrap(), Value::Nil);
    dict.set("y", Value::from(2)).await.unwrap();
    assert_eq!(dict.get("x", Value::Nil), Value::from(1));
    assert_eq!(
        dict.pack(),
        Value::Map(vec![
            (Value::from("x"), Value::from(1)),
            (Value::from("y"), Value::from(2))
        ])
    );
    assert_eq!(dict.pop("x", Value::Nil).await.unwrap(), Value::from(1));
    assert_eq!(
        dict.pop("x", Value::from("gone")).await.unwrap(),
        Value::from("default")
    );
    assert_eq!(dict.values(), vec![Value::from(2)]);
    slab.fini().await;
}
