//! Garbage Storm never takes `synapse-servers cortex` down: thousands of mangled, truncated,
//! random and pathologically nested queries, each answered by a message stream that ends in
//! `fini` (or dropped when it runs long), and afterwards the same server still answers a good
//! query correctly and its data is intact.

use std::time::Duration;

use futures::StreamExt;
use synapse_telepath::{Kwargs, Proxy, Value};

use crate::server::Server;

/// A small deterministic generator (xorshift64*): the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Queries of the conformance corpus: the seeds the mutations start from.
fn seeds() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../synapse-cortex/tests/conformance/storm-visible.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let suite: serde_json::Value = serde_json::from_str(line).unwrap();
        for case in suite["cases"].as_array().into_iter().flatten() {
            if let Some(query) = case["query"].as_str() {
                out.push(query.to_owned());
            }
        }
    }
    assert!(out.len() > 100, "too few seed queries: {}", out.len());
    out
}

const PIECES: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "<",
    ">",
    "=",
    "-",
    "+",
    ":",
    "$",
    "#",
    "*",
    "^",
    "|",
    ".",
    "'",
    "\"",
    "`",
    "\\",
    ",",
    "~=",
    "^=",
    "->",
    "<-",
    "-+>",
    "<+-",
    "-(",
    ")>",
    "<(",
    ")-",
    "<=",
    ">=",
    "!=",
    "?=",
    "inet:ipv4",
    "inet:fqdn",
    ":asn",
    "#foo.bar",
    "$lib",
    ".print",
    "$x",
    "=",
    "if",
    "elif",
    "else",
    "for",
    "in",
    "while",
    "switch",
    "try",
    "catch",
    "as",
    "function",
    "return",
    "emit",
    "stop",
    "break",
    "continue",
    "init",
    "fini",
    "empty",
    "|",
    "limit",
    "uniq",
    "count",
    "spin",
    "tee",
    "graph",
    "sudo",
    "help",
    "--",
    "-n",
    "0x",
    "1e9",
    "\u{0}",
    "\u{ffff}",
    "\u{1f600}",
    "\n",
    "\t",
    " ",
    "(( ",
    " ))",
    "}}",
    "{{",
    "$lib.range(",
];

/// One garbage query derived from `seeds` (mutations, truncations, soups, nestings).
fn garbage(rng: &mut Rng, seeds: &[String]) -> String {
    let seed = &seeds[rng.below(seeds.len())];
    let chars: Vec<char> = seed.chars().collect();
    match rng.below(6) {
        // truncated at a random point
        0 => chars[..rng.below(chars.len() + 1)].iter().collect(),
        // a few characters replaced by syntax pieces
        1 => {
            let mut out = chars.clone();
            for _ in 0..=rng.below(4) {
                if out.is_empty() {
                    break;
                }
                let at = rng.below(out.len());
                let piece: Vec<char> = PIECES[rng.below(PIECES.len())].chars().collect();
                out.splice(at..=at, piece);
            }
            out.into_iter().collect()
        }
        // a token soup
        2 => (0..rng.below(40))
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join(if rng.below(2) == 0 { " " } else { "" }),
        // random bytes as (lossy) text
        3 => {
            let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // two seeds spliced together
        4 => {
            let other: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
            let left: String = chars[..rng.below(chars.len() + 1)].iter().collect();
            let right: String = other[rng.below(other.len() + 1)..].iter().collect();
            left + &right
        }
        // a seed with one piece repeated many times in the middle
        _ => {
            let at = rng.below(chars.len() + 1);
            let piece = PIECES[rng.below(PIECES.len())].repeat(1 + rng.below(300));
            let left: String = chars[..at].iter().collect();
            let right: String = chars[at..].iter().collect();
            left + &piece + &right
        }
    }
}

/// Pathological inputs: deep nesting and huge tokens.
fn pathological() -> Vec<String> {
    vec![
        "(".repeat(20_000),
        "[".repeat(20_000),
        "{".repeat(20_000),
        "$x=".repeat(5_000),
        format!("$x=({}1{})", "(".repeat(5_000), ")".repeat(5_000)),
        format!("[ inet:fqdn={} ]", "a".repeat(1_000_000)),
        format!("$lib.print({})", "\"".repeat(100_001)),
        "inet:ipv4 -> ".repeat(2_000),
        "| ".repeat(10_000),
        format!("{{{}}}", "[inet:ipv4=1.2.3.4] ".repeat(2_000)),
        "\u{0}".repeat(10_000),
        String::new(),
    ]
}

/// Run one query; `Ok(kinds)` of its messages, `Err` when it ran past the deadline.
async fn run(proxy: &Proxy, text: &str) -> Result<Vec<String>, ()> {
    let opts = Value::Map(vec![(Value::from("repr"), Value::from(true))]);
    let call = async {
        let mut stream = proxy
            .stream("storm", vec![Value::from(text), opts], Kwargs::new())
            .await
            .unwrap_or_else(|err| panic!("storm call failed for {text:?}: {err}"));
        let mut kinds = Vec::new();
        while let Some(mesg) = stream.next().await {
            let mesg = mesg.unwrap_or_else(|err| panic!("stream failed for {text:?}: {err}"));
            let kind = mesg
                .as_array()
                .and_then(|m| m.first())
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("malformed message for {text:?}: {mesg:?}"));
            kinds.push(kind.to_owned());
        }
        kinds
    };
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .map_err(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_queries_never_take_the_cortex_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let mut server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let url = format!("tcp://root:secret@127.0.0.1:{}/", server.port);
    let proxy = Proxy::open(&url).await.unwrap();

    let kinds = run(&proxy, "[ it:dev:str=keepme it:dev:str=keepme2 +#gkeep ]")
        .await
        .unwrap();
    assert_eq!(
        kinds.iter().filter(|k| *k == "node").count(),
        2,
        "{kinds:?}"
    );

    let seeds = seeds();
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut queries = pathological();
    queries.extend((0..1500).map(|_| garbage(&mut rng, &seeds)));

    let (mut errs, mut slow) = (0, 0);
    for text in &queries {
        match run(&proxy, text).await {
            Ok(kinds) => {
                assert_eq!(
                    kinds.first().map(String::as_str),
                    Some("init"),
                    "{text:?}: {kinds:?}"
                );
                assert_eq!(
                    kinds.last().map(String::as_str),
                    Some("fini"),
                    "{text:?}: {kinds:?}"
                );
                errs += usize::from(kinds.iter().any(|k| k == "err"));
            }
            // A long-running (valid) query is dropped, which cancels it on the server.
            Err(()) => slow += 1,
        }
        assert!(
            server.alive(),
            "the server died on {text:?}:\n{}",
            server.log_text()
        );
    }
    // Most garbage is refused, with an err message rather than a dropped link.
    assert!(
        errs > queries.len() / 2,
        "only {errs} of {} errored",
        queries.len()
    );
    assert!(slow < 20, "{slow} queries ran past the deadline");

    // Still serving, data intact; a new client connects too.
    let other = Proxy::open(&url).await.unwrap();
    let count = other
        .call(
            "count",
            vec![Value::from("it:dev:str#gkeep")],
            Kwargs::new(),
        )
        .await
        .unwrap();
    assert_eq!(count.as_u64(), Some(2));
    drop(proxy);
    drop(other);
    server.kill();
}
