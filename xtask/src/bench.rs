//! `cargo xtask bench NAME`: run a benchmark and the same work on the Python reference in one
//! run, print each figure with its ratio to the reference, and write JSON to target/bench/.
//!
//! A benchmark is a file `bench/NAME.bench`: one shell command per line (`#` starts a comment),
//! with the placeholders `{python}` (the reference venv's python), `{root}` (the repository),
//! `{release}` (target/release) and `{quick}` (`--quick` when asked for, else nothing). Each
//! command prints JSON lines on stdout:
//!
//! ```text
//! {"metric": "call.seq", "impl": "python", "unit": "calls/s", "value": 7260.0, "params": {}}
//! ```
//!
//! `impl` names who is measured; `python` is the reference that ratios are taken against.
//! Units ending in `/s` are rates (higher is better); any other unit (s, MiB) is a cost.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{refenv, step};

/// The implementation every ratio is taken against.
const BASELINE: &str = "python";

/// The cargo target arguments that build exactly what `spec` runs: each `{release}/NAME` is a
/// binary named after its crate (synapse-servers, synapse-tools), each `{release}/examples/NAME` an example found
/// under `crates/*/examples/NAME.rs`.
fn build_targets(root: &Path, spec: &str) -> anyhow::Result<Vec<String>> {
    let mut args: Vec<String> = Vec::new();
    let mut add = |kind: &str, name: &str| {
        let pair = [kind.to_string(), name.to_string()];
        if !args.windows(2).any(|w| w == pair) {
            args.extend(pair);
        }
    };
    let mut rest = spec;
    while let Some(at) = rest.find("{release}/") {
        rest = &rest[at + "{release}/".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/'))
            .unwrap_or(rest.len());
        let path = &rest[..end];
        if let Some(example) = path.strip_prefix("examples/") {
            let found = std::fs::read_dir(root.join("crates"))?
                .filter_map(Result::ok)
                .find(|dir| {
                    dir.path()
                        .join("examples")
                        .join(format!("{example}.rs"))
                        .is_file()
                });
            let Some(dir) = found else {
                bail!("bench example {example} is in no crate's examples/");
            };
            add("-p", &dir.file_name().to_string_lossy());
            add("--example", example);
        } else if !path.is_empty() {
            // Our binaries are named after their crate.
            if !root.join("crates").join(path).join("Cargo.toml").is_file() {
                bail!("bench binary {path} is no crate's binary");
            }
            add("-p", path);
            add("--bin", path);
        }
    }
    Ok(args)
}

pub(crate) fn run_bench(root: &Path, name: &str, quick: bool) -> anyhow::Result<()> {
    let spec_path = root.join("bench").join(format!("{name}.bench"));
    let spec = std::fs::read_to_string(&spec_path)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let python = refenv::ensure(root)?;
    step("release build");
    crate::run(
        Command::new("cargo")
            .args(["build", "--release", "--locked"])
            .args(build_targets(root, &spec)?),
    )?;
    let release = root.join("target").join("release");
    let mut results: Vec<Value> = Vec::new();
    for line in spec.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cmd = line
            .replace("{python}", &python.display().to_string())
            .replace("{root}", &root.display().to_string())
            .replace("{release}", &release.display().to_string())
            .replace("{quick}", if quick { "--quick" } else { "" });
        step(&format!("bench: {cmd}"));
        let out = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .env("SYNAPSE_REF_PYTHON", &python)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {cmd}"))?;
        if !out.status.success() {
            bail!("benchmark command failed ({}): {cmd}", out.status);
        }
        for text in String::from_utf8_lossy(&out.stdout).lines() {
            match serde_json::from_str::<Value>(text) {
                Ok(value) if value.get("metric").is_some() => results.push(value),
                _ => eprintln!("{text}"),
            }
        }
    }
    if results.is_empty() {
        bail!("the benchmark produced no figures");
    }
    let ratios = report(&results);
    let dir = root.join("target").join("bench");
    std::fs::create_dir_all(&dir).context("creating target/bench")?;
    let path = dir.join(format!("{name}.json"));
    let doc = json!({
        "bench": name,
        "quick": quick,
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "results": results,
        "ratios": ratios,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("\nwrote {}", path.display());
    Ok(())
}

/// Print the table and return the ratios as JSON.
fn report(results: &[Value]) -> Vec<Value> {
    // metric -> impl -> (value, unit)
    let mut table: BTreeMap<String, BTreeMap<String, (f64, String)>> = BTreeMap::new();
    for row in results {
        let metric = row["metric"].as_str().unwrap_or("?").to_owned();
        let imp = row["impl"].as_str().unwrap_or("?").to_owned();
        let unit = row["unit"].as_str().unwrap_or("").to_owned();
        let value = row["value"].as_f64().unwrap_or(f64::NAN);
        table.entry(metric).or_default().insert(imp, (value, unit));
    }
    let mut ratios = Vec::new();
    println!(
        "\n{:<36} {:<24} {:>14} {:<10} {:>10}",
        "metric", "impl", "value", "unit", "vs python"
    );
    for (metric, impls) in &table {
        let base = impls.get(BASELINE).map(|(value, _)| *value);
        for (imp, (value, unit)) in impls {
            let ratio = match base {
                Some(base) if imp != BASELINE && base > 0.0 && *value > 0.0 => {
                    Some(if unit.ends_with("/s") {
                        value / base
                    } else {
                        base / value
                    })
                }
                _ => None,
            };
            let shown = ratio.map_or_else(String::new, |r| format!("{r:.2}x"));
            println!("{metric:<36} {imp:<24} {value:>14.2} {unit:<10} {shown:>10}");
            if let Some(ratio) = ratio {
                ratios.push(json!({"metric": metric, "impl": imp, "ratio": ratio}));
            }
        }
    }
    println!("(ratios: how many times better than the python reference; >1 is better)");
    ratios
}

/// Entry point: list the benchmarks when no name is given.
pub(crate) fn run(root: &Path, name: Option<&str>, quick: bool) -> anyhow::Result<()> {
    match name {
        Some(name) => run_bench(root, name, quick),
        None => {
            let mut names: Vec<String> = std::fs::read_dir(root.join("bench"))
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter_map(|e| {
                            e.file_name()
                                .to_str()
                                .and_then(|n| n.strip_suffix(".bench"))
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            println!("benchmarks: {}", names.join(" "));
            Ok(())
        }
    }
}
