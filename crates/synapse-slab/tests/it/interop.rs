//! On-disk compatibility with the reference: slabs written by Python Synapse open here with the
//! same contents, and slabs written here open in Python.

use std::process::Command;

use futures::TryStreamExt;
use synapse_slab::{DbOptions, HotCount, SafeKeyVal, Scan, Seqn, Slab, SlabOptions, Value, codec};

/// The reference's python, from `SYNAPSE_REF_PYTHON` (set by `cargo xtask`).
fn ref_python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!("SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or export it)"),
    }
}

fn run_python(script: &str, path: &std::path::Path) -> String {
    let out = Command::new(ref_python())
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("run the reference python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PY_WRITE: &str = r#"
import sys, asyncio
import synapse.lib.lmdbslab as s_lmdbslab

async def main(path):
    slab = await s_lmdbslab.Slab.anit(path)
    slab.initdb('plain')
    slab.put(b'k1', b'v1', db='plain')
    slab.put(b'k2', b'v2', db='plain')
    slab.initdb('dups', dupsort=True)
    for v in (b'c', b'a', b'b'):
        slab.put(b'key', v, db='dups')
    seqn = slab.getSeqn('seqn')
    seqn.add({'hehe': (1, 2, 'three')})
    seqn.add(b'\x00\x01')
    seqn.add(2 ** 63)
    hot = await slab.getHotCount('metrics')
    hot.inc('size:bytes', 100)
    hot.set('neg', -5)
    kv = slab.getSafeKeyVal('cell:info')
    kv.set('cell:version', (2, 256, 0))
    await slab.fini()

asyncio.run(main(sys.argv[1]))
"#;

const PY_READ: &str = r#"
import sys, json, asyncio
import synapse.lib.lmdbslab as s_lmdbslab

async def main(path):
    slab = await s_lmdbslab.Slab.anit(path, readonly=True)
    slab.initdb('plain')
    slab.initdb('dups', dupsort=True)
    out = {
        'plain': [(k.hex(), v.hex()) for k, v in slab.scanByFull(db='plain')],
        'dups': [v.hex() for k, v in slab.scanByDups(b'key', db='dups')],
        'seqn': [(i, repr(v)) for i, v in slab.getSeqn('seqn').iter(0)],
        'kv': list(slab.getSafeKeyVal('cell:info').items()),
    }
    print(json.dumps(out))
    await slab.fini()

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn slabs_written_by_the_reference_open_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("py.lmdb");
    run_python(PY_WRITE, &path);

    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let plain = slab.initdb("plain", DbOptions::default()).await.unwrap();
    let rows: Vec<_> = slab.scan(plain, Scan::full()).try_collect().await.unwrap();
    assert_eq!(
        rows,
        vec![
            (b"k1".to_vec(), b"v1".to_vec()),
            (b"k2".to_vec(), b"v2".to_vec())
        ]
    );
    let dups = slab.initdb("dups", DbOptions::dupsort()).await.unwrap();
    assert!(dups.is_dupsort());
    let vals: Vec<_> = slab
        .scan(dups, Scan::dups(b"key"))
        .try_collect()
        .await
        .unwrap();
    let vals: Vec<_> = vals.into_iter().map(|(_, val)| val).collect();
    assert_eq!(vals, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);

    let seqn = Seqn::open(&slab, "seqn").await.unwrap();
    assert_eq!(seqn.index(), 3);
    let items: Vec<_> = seqn.iter(0).try_collect().await.unwrap();
    let hehe = Value::Map(vec![(
        Value::from("hehe"),
        Value::Array(vec![Value::from(1), Value::from(2), Value::from("three")]),
    )]);
    assert_eq!(items[0], (0, hehe));
    assert_eq!(items[1], (1, Value::Binary(vec![0, 1])));
    assert_eq!(items[2], (2, Value::from(1u64 << 63)));

    let hot = HotCount::open(&slab, "metrics").await.unwrap();
    assert_eq!(hot.get("size:bytes"), 100);
    assert_eq!(hot.get("neg"), -5);
    let kv = SafeKeyVal::open(&slab, "cell:info", "", false)
        .await
        .unwrap();
    let vers = Value::Array(vec![Value::from(2), Value::from(256), Value::from(0)]);
    assert_eq!(kv.get("cell:version").await.unwrap(), Some(vers));
    // Writing to the reference's slab works too.
    seqn.add(Value::from("from rust")).await.unwrap();
    slab.fini().await;
}

#[tokio::test]
async fn slabs_written_here_open_in_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rs.lmdb");
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let plain = slab.initdb("plain", DbOptions::default()).await.unwrap();
    slab.put(plain, b"a", b"1").await.unwrap();
    slab.put(plain, &codec::int64en(7), b"seven").await.unwrap();
    let dups = slab.initdb("dups", DbOptions::dupsort()).await.unwrap();
    for val in [b"z", b"x", b"y"] {
        slab.put(dups, b"key", val).await.unwrap();
    }
    let seqn = Seqn::open(&slab, "seqn").await.unwrap();
    seqn.add(Value::from("one")).await.unwrap();
    seqn.add(Value::Array(vec![Value::from(1), Value::Nil]))
        .await
        .unwrap();
    let kv = SafeKeyVal::open(&slab, "cell:info", "", true)
        .await
        .unwrap();
    kv.set("name", Value::from("cell")).await.unwrap();
    slab.fini().await;

    let out = run_python(PY_READ, &path);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        json["plain"],
        serde_json::json!([["0000000000000007", hex::encode(b"seven")], ["61", "31"]])
    );
    assert_eq!(json["dups"], serde_json::json!(["78", "79", "7a"]));
    assert_eq!(
        json["seqn"],
        serde_json::json!([[0, "'one'"], [1, "(1, None)"]])
    );
    assert_eq!(json["kv"], serde_json::json!([["name", "cell"]]));
}
