//! Repository-wide checks: crate layering, file headers, leftover stubs, workspace lints.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The level of each workspace crate: a crate may depend only on crates of a lower level.
const LEVELS: &[(&str, u8)] = &[
    ("synapse-base", 0),
    ("synapse-telepath", 1),
    ("synapse-slab", 1),
    ("synapse-hive", 2),
    ("synapse-cell", 3),
    ("synapse-axon", 4),
    ("synapse-cryotank", 4),
    ("synapse-cortex", 4),
    ("synapse-servers", 5),
    ("synapse-tools", 5),
];

/// Run every check; report all problems at once.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let mut problems = layering(root)?;
    problems.extend(files(root)?);
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

fn level(name: &str) -> Option<u8> {
    LEVELS
        .iter()
        .find(|(have, _)| *have == name)
        .map(|(_, level)| *level)
}

/// Every normal dependency between workspace crates points strictly downward.
fn layering(root: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let mut problems = Vec::new();
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default();
        if name == "xtask" {
            continue;
        }
        let Some(mine) = level(name) else {
            problems.push(format!(
                "{name} is not in the crate map (xtask/src/tidy.rs)"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let normal = dep["kind"].is_null();
            if let Some(theirs) = level(dep_name)
                && normal
                && theirs >= mine
            {
                problems.push(format!(
                    "{name} (level {mine}) depends on {dep_name} (level {theirs}): dependencies must point down"
                ));
            }
        }
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        if !text.contains("[lints]\nworkspace = true") {
            problems.push(format!(
                "{} does not set `[lints] workspace = true`",
                manifest.display()
            ));
        }
    }
    Ok(problems)
}

/// Every Rust source starts with a `//!` line; no stubs or debug prints are left.
fn files(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut sources = Vec::new();
    for dir in ["crates", "xtask"] {
        collect(&root.join(dir), &mut sources)?;
    }
    let mut problems = Vec::new();
    let stubs = [concat!("todo", "!("), concat!("unimplemented", "!(")];
    let dbg = concat!("dbg", "!(");
    for path in sources {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if !text.starts_with("//!") {
            problems.push(format!(
                "{shown}: must start with a `//!` line saying what it is for"
            ));
        }
        for (idx, line) in text.lines().enumerate() {
            if stubs.iter().any(|stub| line.contains(stub)) {
                problems.push(format!("{shown}:{}: stub left in code", idx + 1));
            }
            if line.contains(dbg) {
                problems.push(format!("{shown}:{}: dbg! left in code", idx + 1));
            }
        }
    }
    Ok(problems)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect(&path, out)?;
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` alone catches tidy problems too.
    #[test]
    fn repository_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace");
        check(root).expect("tidy problems: see stderr");
    }

    #[test]
    fn every_card_crate_has_a_level() {
        for name in [
            "synapse-base",
            "synapse-telepath",
            "synapse-slab",
            "synapse-hive",
            "synapse-cell",
            "synapse-axon",
            "synapse-cortex",
            "synapse-cryotank",
            "synapse-servers",
            "synapse-tools",
        ] {
            assert!(level(name).is_some(), "{name}");
        }
        assert!(level("xtask").is_none());
    }
}
