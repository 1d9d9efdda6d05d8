//! Checks against the installed reference (needs `SYNAPSE_REF_PYTHON`, see `cargo xtask ref-env`).

use std::path::PathBuf;
use std::process::Command;

fn python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(python) => python,
        Err(_) => panic!(
            "SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or export it) to check against the reference"
        ),
    }
}

/// The terminal sets in `sets.rs` are those the reference grammar accepts at each position.
#[test]
fn terminal_sets_match_the_reference_grammar() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python())
        .arg(dir.join("tests/storm_termsets.py"))
        .output()
        .expect("run storm_termsets.py");
    assert!(
        out.status.success(),
        "storm_termsets.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("UTF-8 output");
    let source = std::fs::read_to_string(dir.join("src/storm/sets.rs")).expect("read sets.rs");
    let start = source
        .find("/// At the start of a query.")
        .expect("the generated part of sets.rs");
    let ours = constants(&source[start..]);
    let theirs = constants(&generated);
    assert!(
        theirs.len() > 100,
        "the script printed {} sets",
        theirs.len()
    );
    assert_eq!(
        ours, theirs,
        "sets.rs differs from the reference grammar's states"
    );
}

/// `name -> terminal names` of `pub(crate) const NAME: TermSet = ...;` items (formatting-blind).
fn constants(text: &str) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out = std::collections::BTreeMap::new();
    for item in text.split("pub(crate) const ").skip(1) {
        let Some((name, rest)) = item.split_once(':') else {
            continue;
        };
        let body = rest.split(';').next().unwrap_or("");
        let words = body
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|word| !word.is_empty() && !matches!(*word, "TermSet" | "of" | "or"))
            .map(str::to_string)
            .collect();
        out.insert(name.trim().to_string(), words);
    }
    out
}
