//! The hive layout against the reference's `SlabHive`: each reads what the other wrote.

use std::process::Command;

use synapse_hive::{Hive, Value};
use synapse_slab::{Slab, SlabOptions};

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
import synapse.lib.hive as s_hive
import synapse.lib.lmdbslab as s_lmdbslab

async def main(path):
    slab = await s_lmdbslab.Slab.anit(path)
    hive = await s_hive.SlabHive.anit(slab, db=slab.initdb('hive'))
    await hive.set(('auth', 'users', 'u1'), 'root')
    await hive.set(('auth', 'users', 'u1', 'vars', 'x'), {'a': [1, 2]})
    await hive.set(('cellvers', 'cell'), 2)
    await hive.open(('implicit',))
    await hive.fini()
    await slab.fini()

asyncio.run(main(sys.argv[1]))
"#;

const PY_READ: &str = r#"
import sys, json, asyncio
import synapse.lib.hive as s_hive
import synapse.lib.lmdbslab as s_lmdbslab

async def main(path):
    slab = await s_lmdbslab.Slab.anit(path)
    hive = await s_hive.SlabHive.anit(slab, db=slab.initdb('hive'))
    print(json.dumps(await hive.saveHiveTree()))
    await hive.fini()
    await slab.fini()

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn a_hive_written_by_the_reference_loads_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cell.lmdb");
    run_python(PY_WRITE, &path);
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let hive = Hive::open(&slab, "hive").await.unwrap();
    assert_eq!(
        hive.get(&["auth", "users", "u1"]),
        Some(Value::from("root"))
    );
    let vars = Value::Map(vec![(
        Value::from("a"),
        Value::Array(vec![Value::from(1), Value::from(2)]),
    )]);
    assert_eq!(hive.get(&["auth", "users", "u1", "vars", "x"]), Some(vars));
    assert_eq!(hive.get(&["cellvers", "cell"]), Some(Value::from(2)));
    assert!(!hive.exists(&["implicit"]));
    slab.fini().await;
}

#[tokio::test]
async fn a_hive_written_here_loads_in_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cell.lmdb");
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let hive = Hive::open(&slab, "hive").await.unwrap();
    hive.set(&["foo", "bar"], Value::from(2)).await.unwrap();
    hive.set(&["foo", "baz"], Value::from("x")).await.unwrap();
    slab.fini().await;
    let out = run_python(PY_READ, &path);
    let tree: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        tree,
        serde_json::json!({"value": null, "kids": {"foo": {"value": null, "kids": {
            "bar": {"value": 2}, "baz": {"value": "x"}}}}})
    );
}
