//! Integration tests of the `synapse-tools` binary (`storm`: the Storm CLI; `pushpull`: the
//! Axon file tools; here: the cryo tools): `synapse-tools cryo list|cat` against an
//! in-process Cryotank print exactly what the reference's `python -m synapse.tools.cryo.*`
//! print against the same server, and ingest the same records.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pushpull;
mod storm;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use futures::TryStreamExt;
use synapse_cell::{CellOptions, Service, ServiceCell};
use synapse_cryotank::{CryoCell, CryoClient, SliceOpts};
use synapse_telepath::{Value, codec};

fn ref_python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!(
            "SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or point it at a python \
             with synapse 2.x installed) to run the interop tests"
        ),
    }
}

fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Run the reference tool and ours with the same arguments; both must succeed.
async fn both(tool: &'static str, args: Vec<String>, stdin: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let mut python = Command::new(ref_python());
        python
            .arg("-m")
            .arg(format!("synapse.tools.cryo.{tool}"))
            .args(&args);
        let theirs = run(python, &stdin);
        let mut ours = Command::new(env!("CARGO_BIN_EXE_synapse-tools"));
        ours.arg("cryo").arg(tool).args(&args);
        let ours = run(ours, &stdin);
        for (who, out) in [("reference", &theirs), ("ours", &ours)] {
            assert!(
                out.status.success(),
                "{who} {tool} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (theirs.stdout, ours.stdout)
    })
    .await
    .unwrap()
}

fn map(items: Vec<(&str, Value)>) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Records that exercise Python's repr and pprint: key order, tuples, quoting, escapes,
/// floats, big ints, bytes, wrapping of long containers, strings and bytes.
fn records() -> Vec<Value> {
    vec![
        map(vec![
            ("b", 1.into()),
            ("a", Value::Array(vec!["x".into(), 2.into()])),
        ]),
        Value::Array(vec![1.into()]),
        Value::Array(vec![]),
        "it's".into(),
        "quote\"s and 'both'".into(),
        "tab\tnl\nnul\0 é 😀 \u{a0}\u{2028}".into(),
        Value::Binary(b"\x00\x01byts'".to_vec()),
        Value::Nil,
        true.into(),
        (-17).into(),
        Value::F64(1.5),
        Value::F64(1e20),
        Value::F64(1e-5),
        Value::F64(-0.0),
        Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 5]),
        Value::Ext(
            1,
            vec![0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        map(vec![
            ("name", "record-00000042".into()),
            ("host", "host42.example.com".into()),
            (
                "tags",
                Value::Array(vec!["alpha".into(), "beta".into(), "gamma".into()]),
            ),
            (
                "nested",
                map(vec![
                    ("z", "y".repeat(40).into()),
                    ("a", "b".repeat(70).into()),
                ]),
            ),
            ("time", 1_700_000_000_042u64.into()),
        ]),
        "word ".repeat(40).into(),
        Value::Array(vec!["line one\n".repeat(12).into(), 5.into()]),
        Value::Binary((0u8..=120).collect()),
        Value::Map(vec![
            (2.into(), "two".into()),
            (1.into(), "one".into()),
            ("s".into(), Value::Nil),
        ]),
        codec::decode(b"\xa5a\xed\xb0\x80b").unwrap(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cryo_tools_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CellOptions::new(dir.path().join("cryo"), &CryoCell::def())
        .conf("auth:passwd", "secret".into())
        .unwrap();
    let svc = ServiceCell::<CryoCell>::open(opts).await.unwrap();
    let addr = svc
        .cell()
        .daemon()
        .listen("tcp://127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("tcp://root:secret@127.0.0.1:{}/", addr.port().unwrap());
    let client = CryoClient::open(&url).await.unwrap();

    let items = records();
    client.puts("mixed", items.clone()).await.unwrap();
    let json_items = vec![
        map(vec![
            ("b", 1.into()),
            ("a", Value::Array(vec![Value::F64(2.5), Value::Nil])),
        ]),
        "str".into(),
        Value::Array(vec!["x".into(), 2.into()]),
        map(vec![
            ("é", "ü\n\"".into()),
            ("nested", map(vec![("z", 1.into()), ("y", (-2).into())])),
        ]),
        18_446_744_073_709_551_615u64.into(),
    ];
    client.puts("json", json_items.clone()).await.unwrap();

    // list
    let (theirs, ours) = both("list", vec![url.clone()], vec![]).await;
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );

    // cat: pprint, jsonl and msgpack output
    let tank = |name: &str| format!("{url}cryotank/{name}");
    let n = items.len().to_string();
    for args in [
        vec![tank("mixed"), "--size".into(), n.clone()],
        vec![
            tank("mixed"),
            "--offset".into(),
            "3".into(),
            "--size".into(),
            "2".into(),
        ],
        vec![tank("mixed")],
        vec![
            tank("mixed"),
            "--msgpack".into(),
            "--size".into(),
            n.clone(),
        ],
        vec![tank("json"), "--jsonl".into()],
        vec![
            tank("json"),
            "--offset".into(),
            "1".into(),
            "--size".into(),
            "2".into(),
            "--jsonl".into(),
        ],
        vec![tank("mixed"), "--size".into(), "0".into()],
    ] {
        let (theirs, ours) = both("cat", args.clone(), vec![]).await;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{args:?}"
        );
        assert!(args.contains(&"0".to_string()) || !ours.is_empty());
    }

    // ingest: the same input through both tools lands as the same records
    let jsonl = b"{\"x\": 1, \"a\": [1, 2.5, null]}\n\"s\"\n[true, false]\n-5\n".to_vec();
    let mut packed = Vec::new();
    for item in &items[..8] {
        packed.extend(codec::encode(item).unwrap());
    }
    for (name, flag, input) in [("jl", "--jsonl", jsonl), ("mp", "--msgpack", packed)] {
        let reference = format!("{name}-ref");
        let python = tokio::task::spawn_blocking({
            let args = vec![tank(&reference), "--ingest".to_string(), flag.to_string()];
            let input = input.clone();
            move || {
                let mut cmd = Command::new(ref_python());
                cmd.args(["-m", "synapse.tools.cryo.cat"]).args(&args);
                run(cmd, &input)
            }
        })
        .await
        .unwrap();
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        let ours = tokio::task::spawn_blocking({
            let args = vec![tank(name), "-i".to_string(), flag.to_string()];
            move || {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_synapse-tools"));
                cmd.args(["cryo", "cat"]).args(&args);
                run(cmd, &input)
            }
        })
        .await
        .unwrap();
        assert!(
            ours.status.success(),
            "{}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let rows = |name: String| {
            let client = client.clone();
            async move {
                client
                    .slice(&name, 0, SliceOpts::default())
                    .await
                    .unwrap()
                    .try_collect::<Vec<(u64, Value)>>()
                    .await
                    .unwrap()
            }
        };
        let (want, got) = (rows(reference).await, rows(name.to_string()).await);
        assert!(!want.is_empty());
        assert_eq!(got, want, "{name}");
    }

    // --ingest needs a format, as in the reference
    let out = tokio::task::spawn_blocking({
        let url = tank("x");
        move || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_synapse-tools"));
            cmd.args(["cryo", "cat", &url, "--ingest"]);
            run(cmd, b"")
        }
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Must specify exactly one of --jsonl or --msgpack if --ingest is specified\n"
    );

    client.fini().await;
    svc.fini().await;
}
