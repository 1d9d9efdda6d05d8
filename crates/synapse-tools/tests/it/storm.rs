//! `synapse-tools storm` against the reference Cortex, side by side with the reference's
//! `python -m synapse.tools.storm`: the same queries print the same lines (the timing of the
//! `complete.` line aside) and exit with the same codes; local commands work.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ref_python;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct RefCortex {
    child: Child,
    url: String,
}

impl RefCortex {
    fn start(dirn: &Path) -> RefCortex {
        std::fs::create_dir_all(dirn).unwrap();
        std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
        let port = free_port();
        let child = Command::new(ref_python())
            .args(["-m", "synapse.servers.cortex"])
            .arg(dirn)
            .args(["--telepath", &format!("tcp://127.0.0.1:{port}/")])
            .args(["--https", &free_port().to_string()])
            .env("SYN_LOG_LEVEL", "WARNING")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("tcp://root:secret@127.0.0.1:{port}/");
        let start = Instant::now();
        // Listening first (a cheap check), then up once the reference tool can run a query:
        // each try of the tool costs seconds of Python start-up on a loaded machine.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "the reference cortex did not listen"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        loop {
            let out = reference(&url, &["$lib.print(up)"]);
            if out.status.success() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "the reference cortex did not start"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        RefCortex { child, url }
    }
}

impl Drop for RefCortex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reference(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(ref_python())
        .args(["-m", "synapse.tools.storm", url])
        .args(args)
        .env("SYN_LOG_LEVEL", "WARNING")
        .output()
        .unwrap()
}

fn ours(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synapse-tools"))
        .args(["storm", url])
        .args(args)
        .output()
        .unwrap()
}

/// Stdout lines with the timing of `complete.` lines masked.
fn lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| match line.strip_prefix("complete. ") {
            Some(rest) => {
                let count = rest.split(' ').next().unwrap_or_default();
                format!("complete. {count} nodes")
            }
            None => line.to_string(),
        })
        .collect()
}

#[test]
fn storm_cli_prints_as_the_reference_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let core = RefCortex::start(&tmp.path().join("cortex"));
    let url = &core.url;

    // One reference process per query costs seconds of Python start-up: the setup runs as one
    // query, the comparisons run concurrently.
    let setup = concat!(
        "$lib.model.ext.addTagProp(score, (int, ({})), ({\"doc\": \"x\"})) ",
        "[inet:fqdn=cli.vertex.link +#test +#foo.bar=(2020, 2021)] | spin | ",
        "[inet:ipv4=1.2.3.4 :asn=10 +#rep.vt:score=10 .seen=2022] | spin | ",
        "[inet:dns:a=(vertex.link, 8.8.8.8)] | spin | ",
        "inet:fqdn=cli.vertex.link inet:ipv4=1.2.3.4 inet:dns:a | count",
    );
    let out = reference(url, &[setup]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !text.contains("ERROR"), "{text}");
    assert!(text.contains("Counted 3 nodes."), "{text}");

    let queries = [
        "inet:fqdn=cli.vertex.link $lib.print(hi) $lib.warn(uhoh, a=b)",
        "inet:ipv4=1.2.3.4",
        "inet:dns:a",
        "inet:fqdn=",
        "inet:ipv5",
        "$lib.print(\"a very long text {x}\", x=$lib.len(abc)) $lib.raise(Oops, 'bad thing')",
        "syn:tag=foo.bar",
        "!help",
        "!help !export nope",
        "!nope",
    ];
    let badview = ["inet:fqdn", "--view", "ffffffffffffffffffffffffffffffff"];
    let (wants, badview_want) = std::thread::scope(|scope| {
        let runs: Vec<_> = queries
            .iter()
            .map(|query| scope.spawn(move || reference(url, &[query])))
            .collect();
        let badview_want = scope.spawn(|| reference(url, &badview));
        let wants: Vec<_> = runs.into_iter().map(|run| run.join().unwrap()).collect();
        (wants, badview_want.join().unwrap())
    });
    for (query, want) in queries.into_iter().zip(wants) {
        let got = ours(url, &[query]);
        assert_eq!(lines(&got), lines(&want), "query: {query}");
        assert_eq!(
            got.status.code(),
            want.status.code(),
            "exit code of {query}"
        );
    }

    // new nodes: edits print one dot per edit, as the reference
    let got = ours(url, &["[inet:fqdn=ours.vertex.link]"]);
    let text = String::from_utf8_lossy(&got.stdout);
    assert!(text.starts_with('.'), "{text}");
    assert!(text.contains("\ninet:fqdn=ours.vertex.link\n"), "{text}");

    // --view, and a local command with files
    let got = ours(url, &badview);
    assert_eq!(lines(&got), lines(&badview_want));
    assert_eq!(got.status.code(), Some(1));
    let export = tmp.path().join("x.nodes");
    let cmd = format!(
        "!export {} {{ inet:fqdn=cli.vertex.link }}",
        export.display()
    );
    let got = ours(url, &[&cmd]);
    assert_eq!(
        lines(&got),
        vec![
            "exporting nodes".to_string(),
            format!("saved 1 nodes to: {}", export.display())
        ]
    );
    let byts = std::fs::read(&export).unwrap();
    let pode = rmpv::decode::read_value(&mut byts.as_slice()).unwrap();
    assert_eq!(pode[0][1].as_str(), Some("cli.vertex.link"));

    let file = tmp.path().join("upload.txt");
    std::fs::write(&file, b"pushed bytes").unwrap();
    let got = ours(url, &[&format!("!pushfile {}", file.display())]);
    let text = String::from_utf8_lossy(&got.stdout).into_owned();
    assert!(text.contains("file:bytes=sha256:"), "{text}");
    assert!(text.contains(":name = upload.txt"), "{text}");
    let storm = tmp.path().join("q.storm");
    std::fs::write(&storm, "$lib.print(fromfile)").unwrap();
    let got = ours(url, &[&format!("!runfile {}", storm.display())]);
    assert_eq!(
        lines(&got),
        vec![
            format!("running storm file: {}", storm.display()),
            "fromfile".into(),
            "complete. 0 nodes".into()
        ]
    );
}
