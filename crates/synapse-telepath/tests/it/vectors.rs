//! The captured reference exchanges (`tests/vectors/*.json`, copied from
//! `shared/spec/vectors/telepath`): every message decodes and re-encodes byte for byte, the
//! Rust Daemon answers every client message as the reference did, and the Rust Proxy sends
//! what the reference client sent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use synapse_telepath::codec::{decode, encode};
use synapse_telepath::{Error, FrameDecoder, Proxy, Value, ValueExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixture::test_daemon;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    C2s,
    S2c,
}

#[derive(Debug, Clone)]
struct Msg {
    dir: Dir,
    /// The exact bytes; `None` for an end of stream.
    bytes: Option<Vec<u8>>,
}

impl Msg {
    fn value(&self) -> Option<Value> {
        self.bytes.as_ref().map(|bytes| decode(bytes).unwrap())
    }
}

struct Vector {
    name: String,
    url: String,
    handcrafted: bool,
    outcome: serde_json::Value,
    conns: Vec<Vec<Msg>>,
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn load(name: &str) -> Vector {
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let conns = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|conn| {
            conn["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|msg| Msg {
                    dir: if msg["dir"] == "c2s" {
                        Dir::C2s
                    } else {
                        Dir::S2c
                    },
                    bytes: msg["hex"].as_str().map(|hex| hex::decode(hex).unwrap()),
                })
                .collect()
        })
        .collect();
    Vector {
        name: name.to_owned(),
        url: json["url"].as_str().unwrap_or("").to_owned(),
        handcrafted: json["client"]
            .as_str()
            .unwrap_or("")
            .starts_with("handcrafted"),
        outcome: json["outcome"].clone(),
        conns,
    }
}

fn all_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_message_reencodes_byte_for_byte() {
    let names = all_names();
    assert_eq!(names.len(), 29, "expected all the captured vectors");
    let mut count = 0;
    for name in names {
        for conn in load(&name).conns {
            for msg in conn {
                if let Some(bytes) = &msg.bytes {
                    let value = decode(bytes).unwrap();
                    assert_eq!(&encode(&value).unwrap(), bytes, "{name}: {value}");
                    count += 1;
                }
            }
        }
    }
    assert!(count > 100, "only {count} messages");
}

fn is_guid(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Idens seen in the vectors and their live counterparts.
#[derive(Default)]
struct Guids {
    fwd: HashMap<String, String>,
    back: HashMap<String, String>,
}

impl Guids {
    fn learn(&mut self, expected: &str, actual: &str) -> Result<(), String> {
        match (self.fwd.get(expected), self.back.get(actual)) {
            (None, None) => {
                self.fwd.insert(expected.to_owned(), actual.to_owned());
                self.back.insert(actual.to_owned(), expected.to_owned());
                Ok(())
            }
            (Some(have), _) if have == actual => Ok(()),
            _ => Err(format!("iden {expected} seen as {actual}, inconsistently")),
        }
    }
}

fn substitute(value: &Value, map: &HashMap<String, String>) -> Value {
    match value {
        Value::String(text) => match text.as_str().and_then(|text| map.get(text)) {
            Some(other) => Value::from(other.as_str()),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, map)).collect()),
        Value::Map(pairs) => Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (substitute(k, map), substitute(v, map)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Methods of the test fixture that the capture's VecAxonApi does not have.
const FIXTURE_EXTRAS: [&str; 5] = ["bigGenr", "sleep", "bytes", "getPath", "watchCancel"];

const EKEYS: [&str; 4] = ["efile", "eline", "esrc", "ename"];

/// Drop the traceback keys of every error envelope (`[false, [name, info]]`); true if any.
fn strip_ekeys(value: &mut Value) -> bool {
    let mut found = false;
    if let Value::Array(items) = value {
        if items.len() == 2
            && items[0] == Value::Boolean(false)
            && let Value::Array(err) = &mut items[1]
            && err.len() == 2
            && err[0].is_str()
        {
            for key in EKEYS {
                found |= err[1].take_key(key).is_some();
            }
        }
        for item in items.iter_mut() {
            found |= strip_ekeys(item);
        }
    } else if let Value::Map(pairs) = value {
        for (_, val) in pairs.iter_mut() {
            found |= strip_ekeys(val);
        }
    }
    found
}

/// Compare exactly (maps in order), learning iden substitutions.
fn unify(expected: &Value, actual: &Value, guids: &mut Guids, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(exp), Value::String(act)) => match (exp.as_str(), act.as_str()) {
            (Some(e), Some(a)) if e == a => Ok(()),
            (Some(e), Some(a)) if is_guid(e) && is_guid(a) => guids.learn(e, a),
            _ => Err(format!("{path}: expected {expected}, got {actual}")),
        },
        (Value::Array(exp), Value::Array(act)) => {
            if exp.len() != act.len() {
                return Err(format!("{path}: expected {expected}, got {actual}"));
            }
            for (idx, (e, a)) in exp.iter().zip(act).enumerate() {
                unify(e, a, guids, &format!("{path}[{idx}]"))?;
            }
            Ok(())
        }
        (Value::Map(exp), Value::Map(act)) => {
            let ekeys: Vec<_> = exp.iter().map(|(k, _)| k.clone()).collect();
            let akeys: Vec<_> = act.iter().map(|(k, _)| k.clone()).collect();
            if ekeys != akeys {
                return Err(format!("{path}: keys {ekeys:?} expected, got {akeys:?}"));
            }
            for ((key, e), (_, a)) in exp.iter().zip(act) {
                unify(e, a, guids, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{path}: expected {expected}, got {actual}")),
    }
}

fn info_mut(mesg: &mut Value) -> &mut Value {
    match mesg {
        Value::Array(items) => items.get_mut(1).expect("a [type, info] message"),
        _ => panic!("not a message"),
    }
}

/// Compare a server message with the captured one.
fn check_reply(expected_bytes: &[u8], actual: &Value, guids: &mut Guids, what: &str) {
    let mut expected = decode(expected_bytes).unwrap();
    let mut actual = actual.clone();
    let is_syn = expected[0] == Value::from("tele:syn");
    let has_sharinfo = expected[1].get_key("sharinfo").is_some() || is_syn;
    let had_ekeys = strip_ekeys(&mut expected);
    assert!(!strip_ekeys(&mut actual), "{what}: we sent traceback keys");
    if has_sharinfo {
        // sharinfo lists the reference Axon's ~150 methods: compare what we share.
        let exp_info = info_mut(&mut expected).take_key("sharinfo");
        let act_info = info_mut(&mut actual).take_key("sharinfo");
        assert_eq!(
            exp_info.is_some(),
            act_info.is_some(),
            "{what}: sharinfo presence"
        );
        if let (Some(exp), Some(act)) = (exp_info, act_info) {
            assert_eq!(exp["classes"], act["classes"], "{what}: classes");
            assert_eq!(
                exp["syn:version"], act["syn:version"],
                "{what}: syn:version"
            );
            let keys: Vec<_> = act
                .as_map()
                .unwrap()
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            let want: Vec<_> = exp
                .as_map()
                .unwrap()
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            assert_eq!(keys, want, "{what}: sharinfo keys");
            for (name, flags) in act["meths"].as_map().unwrap() {
                let name = name.as_str().unwrap();
                if FIXTURE_EXTRAS.contains(&name) {
                    continue;
                }
                assert_eq!(
                    exp["meths"].get_key(name),
                    Some(flags),
                    "{what}: method {name} flags"
                );
            }
        }
    }
    if let Err(err) = unify(&expected, &actual, guids, what) {
        panic!("{err}\n expected {expected}\n got      {actual}");
    }
    if !had_ekeys && !has_sharinfo {
        // Byte for byte, once the live idens are mapped back to the captured ones.
        let back = substitute(&actual, &guids.back);
        assert_eq!(
            hex::encode(encode(&back).unwrap()),
            hex::encode(expected_bytes),
            "{what}: bytes differ"
        );
    }
}

/// The order in which to replay (connection, message range) segments: the handshake, then
/// each pool link, then the rest of the main link; the upload needs its real interleaving.
fn schedule(vector: &Vector) -> Vec<(usize, std::ops::Range<usize>)> {
    let conn0 = &vector.conns[0];
    if vector.name == "share_axon_upload" {
        let first = conn0.iter().position(|m| m.dir == Dir::S2c).unwrap() + 1;
        return vec![
            (0, 0..first),
            (1, 0..4),
            (2, 0..2),
            (1, 4..vector.conns[1].len()),
            (2, 2..vector.conns[2].len()),
            (0, first..conn0.len()),
        ];
    }
    let first = conn0
        .iter()
        .position(|m| m.dir == Dir::S2c)
        .map_or(conn0.len(), |idx| idx + 1);
    let mut out = vec![(0, 0..first)];
    for (idx, conn) in vector.conns.iter().enumerate().skip(1) {
        out.push((idx, 0..conn.len()));
    }
    out.push((0, first..conn0.len()));
    out
}

enum Sock {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

struct Conn {
    sock: Sock,
    dec: FrameDecoder,
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) {
        match &mut self.sock {
            Sock::Tcp(s) => s.write_all(bytes).await.unwrap(),
            Sock::Unix(s) => s.write_all(bytes).await.unwrap(),
        }
    }

    async fn shutdown(&mut self) {
        let _ = match &mut self.sock {
            Sock::Tcp(s) => s.shutdown().await,
            Sock::Unix(s) => s.shutdown().await,
        };
    }

    /// The next message, `None` when the peer closed the link.
    async fn recv_opt(&mut self) -> Option<Value> {
        loop {
            if let Some(value) = self.dec.next_message().unwrap() {
                return Some(value);
            }
            let got = match &mut self.sock {
                Sock::Tcp(s) => s.read_buf(self.dec.read_buf()).await.unwrap_or(0),
                Sock::Unix(s) => s.read_buf(self.dec.read_buf()).await.unwrap_or(0),
            };
            if got == 0 {
                return None;
            }
        }
    }

    async fn recv(&mut self) -> Value {
        let read = async {
            loop {
                if let Some(value) = self.dec.next_message().unwrap() {
                    return value;
                }
                let got = match &mut self.sock {
                    Sock::Tcp(s) => s.read_buf(self.dec.read_buf()).await.unwrap(),
                    Sock::Unix(s) => s.read_buf(self.dec.read_buf()).await.unwrap(),
                };
                assert!(got > 0, "server closed the link");
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("no reply from the server")
    }
}

async fn replay_against_rust_daemon(name: &str) {
    let vector = load(name);
    let dir = tempfile::tempdir().unwrap();
    let (daemon, state) = test_daemon();
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let sock = dir.path().join("sock");
    daemon
        .listen(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    let unix = vector.url.starts_with("unix://");

    let mut guids = Guids::default();
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    for (conn_idx, range) in schedule(&vector) {
        for msg_idx in range {
            let msg = &vector.conns[conn_idx][msg_idx];
            let what = format!("{name} conn {conn_idx} message {msg_idx}");
            if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(conn_idx) {
                let sock = if unix {
                    Sock::Unix(tokio::net::UnixStream::connect(&sock).await.unwrap())
                } else {
                    Sock::Tcp(
                        tokio::net::TcpStream::connect(("127.0.0.1", addr.port().unwrap()))
                            .await
                            .unwrap(),
                    )
                };
                slot.insert(Conn {
                    sock,
                    dec: FrameDecoder::default(),
                });
            }
            let conn = conns.get_mut(&conn_idx).unwrap();
            match (msg.dir, msg.value()) {
                (Dir::C2s, Some(value)) => {
                    let value = substitute(&value, &guids.fwd);
                    conn.send(&encode(&value).unwrap()).await;
                }
                (Dir::C2s, None) => conn.shutdown().await,
                (Dir::S2c, Some(_)) => {
                    let got = conn.recv().await;
                    check_reply(msg.bytes.as_ref().unwrap(), &got, &mut guids, &what);
                }
                (Dir::S2c, None) => {}
            }
        }
    }
    if name == "genr_early_close" {
        // The client closed the link after two items: the generator was cancelled.
        let mut waited = 0;
        while state.cancelled.load(Ordering::SeqCst) == 0 && waited < 500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        assert_eq!(state.cancelled.load(Ordering::SeqCst), 1);
    }
    if name == "share_axon_upload" {
        assert_eq!(
            state.saved.lock().unwrap().as_slice(),
            [b"hello world".to_vec()]
        );
        let mut waited = 0;
        while state.share_finis.load(Ordering::SeqCst) == 0 && waited < 500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        assert_eq!(
            state.share_finis.load(Ordering::SeqCst),
            1,
            "share:fini tore the upload down"
        );
    }
    drop(conns);
    daemon.fini().await;
}

#[tokio::test]
async fn rust_daemon_answers_like_the_reference() {
    for name in all_names() {
        replay_against_rust_daemon(&name).await;
    }
}

// The client side: a scripted server plays the captured server messages to the Rust Proxy,
// which must send the captured client messages, byte for byte.

struct Script {
    /// The main link's messages (connection 0).
    main: Vec<Msg>,
    /// The pool links' messages, in the order of the exchanges (links are interchangeable).
    pool: Vec<Msg>,
}

#[derive(Default)]
struct Seen {
    main: usize,
    pool: usize,
    errors: Vec<String>,
    /// Links the client closed in the middle of a stream.
    abandoned: usize,
}

fn script(vector: &Vector) -> Script {
    let mut pool = Vec::new();
    let mut main = Vec::new();
    for (conn, range) in schedule(vector) {
        for msg in &vector.conns[conn][range] {
            if msg.bytes.is_none() {
                continue;
            }
            if conn == 0 {
                main.push(msg.clone());
            } else {
                pool.push(msg.clone());
            }
        }
    }
    Script { main, pool }
}

/// Serve one link from the script: check each client message, answer with the server's.
async fn scripted_link(
    mut conn: Conn,
    script: std::sync::Arc<Script>,
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
) {
    let mut main = None;
    let mut streaming = false;
    while let Some(got) = conn.recv_opt().await {
        let bytes = encode(&got).unwrap();
        let is_main = *main.get_or_insert(got[0] == Value::from("tele:syn"));
        let replies = {
            let mut seen = seen.lock().unwrap();
            let (msgs, cursor) = if is_main {
                (&script.main, seen.main)
            } else {
                (&script.pool, seen.pool)
            };
            let Some(want) = msgs.get(cursor).filter(|m| m.dir == Dir::C2s) else {
                seen.errors.push(format!("unexpected client message {got}"));
                return;
            };
            let want = want.bytes.clone().unwrap();
            if want != bytes {
                seen.errors.push(format!(
                    "client sent {got}\n  expected {}",
                    decode(&want).unwrap()
                ));
                return;
            }
            let mut end = cursor + 1;
            while end < msgs.len() && msgs[end].dir == Dir::S2c {
                end += 1;
            }
            let replies: Vec<Msg> = msgs[cursor + 1..end].to_vec();
            if is_main {
                seen.main = end;
            } else {
                seen.pool = end;
            }
            replies
        };
        for reply in &replies {
            conn.send(reply.bytes.as_ref().unwrap()).await;
        }
        streaming = replies.last().and_then(Msg::value).is_some_and(|last| {
            last[0] == Value::from("t2:genr")
                || (last[0] == Value::from("t2:yield")
                    && last[1]["retn"][0] == Value::Boolean(true))
        });
    }
    if streaming {
        seen.lock().unwrap().abandoned += 1;
    }
}

/// The captured outcome's readable form of a value (see the vectors' README).
fn readable(value: &Value) -> serde_json::Value {
    use serde_json::json;
    match value {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(flag) => json!(flag),
        Value::Integer(int) => match int.as_u64() {
            Some(num) => json!(num),
            None => json!(int.as_i64().unwrap()),
        },
        Value::F32(num) => json!({"$float": format!("{num:?}")}),
        Value::F64(num) => json!({"$float": format!("{num:?}")}),
        Value::String(text) => json!(text.as_str().unwrap()),
        Value::Binary(bytes) => json!({"$bin": hex::encode(bytes)}),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(readable).collect()),
        Value::Map(pairs) => {
            if pairs.iter().all(|(k, _)| k.is_str()) {
                let mut map = serde_json::Map::new();
                for (key, val) in pairs {
                    map.insert(key.as_str().unwrap().to_owned(), readable(val));
                }
                serde_json::Value::Object(map)
            } else {
                let pairs: Vec<_> = pairs
                    .iter()
                    .map(|(k, v)| serde_json::Value::Array(vec![readable(k), readable(v)]))
                    .collect();
                json!({"$map": pairs})
            }
        }
        Value::Ext(code, bytes) => {
            // Big ints: the captures' JSON holds them as plain numbers, which serde_json reads
            // as floats.
            let mut num = 0f64;
            for byte in bytes {
                num = num * 256.0 + f64::from(*byte);
            }
            if *code == 1 {
                num -= 2f64.powi(8 * bytes.len() as i32);
            }
            json!(num)
        }
    }
}

/// How the reference client raises an error: its class, and the info it carries.
fn raised(err: &Error) -> serde_json::Value {
    let remote = err
        .remote()
        .unwrap_or_else(|| panic!("not a remote error: {err}"));
    let mut info = readable(&remote.info);
    // The reference client raises synapse.exc classes by name, and other names as SynErr
    // with errx.
    let class = if remote.name.ends_with("Error") && !remote.name.starts_with("Syn") {
        info["errx"] = serde_json::Value::from(remote.name.clone());
        "SynErr".to_owned()
    } else {
        remote.name.clone()
    };
    serde_json::json!({"class": class, "errinfo": info})
}

fn arg(vector: &Vector, idx: usize) -> Vec<Value> {
    let todo = vector.conns[1][0].value().unwrap()[1]["todo"].clone();
    let args = todo[1].as_array().unwrap().clone();
    assert!(idx <= args.len());
    args
}

/// Do what the reference client did in the scenario; return the outcome in the captures'
/// layout.
async fn client_action(name: &str, vector: &Vector, url: &str) -> serde_json::Value {
    use serde_json::json;
    let open = Proxy::open(url).await;
    let proxy = match open {
        Ok(proxy) => proxy,
        Err(err) => return json!({"client_exception": raised(&err)}),
    };
    let call = |meth: &'static str, args: Vec<Value>, kwargs: Vec<(String, Value)>| {
        let proxy = proxy.clone();
        async move { proxy.call(meth, args, kwargs).await }
    };
    let result = |res: Result<Value, Error>| match res {
        Ok(value) => json!({"client_result": readable(&value)}),
        Err(err) => json!({"client_exception": raised(&err)}),
    };
    let outcome = match name {
        "handshake_ok" => json!({"client_result": true}),
        "handshake_named_share" => result(call("getCellType", vec![], vec![]).await),
        "call_value" => result(call("getCellIden", vec![], vec![]).await),
        "call_twice_pool" => {
            let first = call("getCellType", vec![], vec![]).await.unwrap();
            let second = call("getCellType", vec![], vec![]).await.unwrap();
            json!({"client_result": [readable(&first), readable(&second)]})
        }
        "call_echo_types" => {
            let todo = vector.conns[1][0].value().unwrap()[1]["todo"].clone();
            let args = todo[1].as_array().unwrap().clone();
            let kwargs = todo[2]
                .as_map()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
                .collect();
            result(call("echo", args, kwargs).await)
        }
        "call_exception_builtin" => result(call("raiseBuiltin", vec![], vec![]).await),
        "call_exception_synerr" => result(call("raiseSynErr", vec![], vec![]).await),
        "call_exception_dupusername" => {
            result(call("addUser", vec![Value::from("root")], vec![]).await)
        }
        "call_private_method" => result(call("_secret", vec![], vec![]).await),
        "call_missing_method" => result(
            call(
                "noSuchMethod",
                vec![Value::from(1)],
                vec![("x".into(), Value::from(2))],
            )
            .await,
        ),
        "call_bad_arguments" => result(
            call(
                "getCellIden",
                vec![Value::from(1), Value::from(2), Value::from(3)],
                vec![],
            )
            .await,
        ),
        "call_admin_denied" => result(call("getAuthUsers", vec![], vec![]).await),
        "unix_socket_noauth" => result(call("getCellUser", vec![], vec![]).await),
        "genr_sync_python_generator" => {
            result(call("syncGenr", vec![Value::from(3)], vec![]).await)
        }
        "genr_ok" | "genr_empty" | "genr_axon_get_bytes" => {
            let meth = if name == "genr_axon_get_bytes" {
                "get"
            } else {
                "genr"
            };
            let stream = proxy.stream(meth, arg(vector, 1), vec![]).await.unwrap();
            let items: Vec<_> = stream.map(|item| readable(&item.unwrap())).collect().await;
            json!({"client_result": items})
        }
        "genr_raises" => {
            let mut stream = proxy
                .stream("genrFail", arg(vector, 1), vec![])
                .await
                .unwrap();
            let mut items = Vec::new();
            let mut err = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(item) => items.push(readable(&item)),
                    Err(e) => err = Some(raised(&e)),
                }
            }
            json!({"client_result": {"items": items, "raised": err}})
        }
        "genr_error_before_start" => {
            let err = proxy.stream("genr", vec![], vec![]).await.unwrap_err();
            json!({"client_result": {"raised": raised(&err)}})
        }
        "genr_early_close" => {
            let mut stream = proxy
                .stream("slowGenr", arg(vector, 1), vec![])
                .await
                .unwrap();
            let first = stream.next().await.unwrap().unwrap();
            let second = stream.next().await.unwrap().unwrap();
            drop(stream);
            json!({"client_result": [readable(&first), readable(&second)]})
        }
        "share_axon_upload" => {
            let upload = proxy.share("upload", vec![], vec![]).await.unwrap();
            upload
                .call("write", vec![Value::from(b"hello ".to_vec())], vec![])
                .await
                .unwrap();
            upload
                .call("write", vec![Value::from(b"world".to_vec())], vec![])
                .await
                .unwrap();
            let saved = upload.call("save", vec![], vec![]).await.unwrap();
            upload.fini().await;
            json!({"client_result": readable(&saved)})
        }
        other => panic!("no client action for {other}"),
    };
    proxy.fini().await;
    outcome
}

async fn replay_against_rust_proxy(name: &str) {
    let vector = load(name);
    let script = std::sync::Arc::new(script(&vector));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let dir = tempfile::tempdir().unwrap();
    let unix = vector.url.starts_with("unix://");
    let url = if unix {
        let path = dir.path().join("sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let (script, seen) = (script.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let conn = Conn {
                    sock: Sock::Unix(sock),
                    dec: FrameDecoder::default(),
                };
                tokio::spawn(scripted_link(conn, script.clone(), seen.clone()));
            }
        });
        format!("unix://{}", path.display())
    } else {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (script, seen) = (script.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let conn = Conn {
                    sock: Sock::Tcp(sock),
                    dec: FrameDecoder::default(),
                };
                tokio::spawn(scripted_link(conn, script.clone(), seen.clone()));
            }
        });
        let url = if vector.url.is_empty() {
            "tcp://root:secret@127.0.0.1:<port>/"
        } else {
            &vector.url
        };
        url.replace("<port>", &port.to_string())
    };
    let outcome = client_action(name, &vector, &url).await;
    assert_eq!(outcome, vector.outcome, "{name}: outcome");
    // Every captured client message was sent.
    let mut waited = 0;
    loop {
        let done = {
            let seen = seen.lock().unwrap();
            assert!(seen.errors.is_empty(), "{name}: {:?}", seen.errors);
            seen.main == script.main.len() && seen.pool == script.pool.len()
        };
        if done {
            break;
        }
        waited += 1;
        assert!(
            waited < 500,
            "{name}: the client did not send every captured message"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if name == "genr_early_close" {
        let mut waited = 0;
        while seen.lock().unwrap().abandoned == 0 {
            waited += 1;
            assert!(
                waited < 500,
                "the client did not close the abandoned stream's link"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn rust_proxy_talks_like_the_reference_client() {
    let mut count = 0;
    for name in all_names() {
        if load(&name).handcrafted {
            continue;
        }
        replay_against_rust_proxy(&name).await;
        count += 1;
    }
    assert_eq!(count, 26);
}
