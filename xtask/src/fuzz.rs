//! `cargo xtask fuzz [TARGET] [--seconds N]`: build the libFuzzer targets in `fuzz/` with
//! coverage instrumentation and AddressSanitizer, then run each for a time budget.
//!
//! This does what `cargo fuzz run` does without needing cargo-fuzz or a nightly toolchain:
//! `RUSTC_BOOTSTRAP=1` lets the installed stable compiler take the sanitizer flag. Corpora live
//! in `fuzz/corpus/TARGET` (not committed), seeded from `fuzz/seeds/TARGET` when present.
//! A crash fails the run and leaves its input in `fuzz/artifacts/TARGET/`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{run, step};

const TARGET_TRIPLE: &str = "x86_64-unknown-linux-gnu";

const FLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg",
    "fuzzing",
    "-Zsanitizer=address",
    "-Cdebug-assertions",
];

/// The fuzz targets: the `[[bin]]` names of fuzz/Cargo.toml.
pub(crate) fn targets(root: &Path) -> anyhow::Result<Vec<String>> {
    let manifest = std::fs::read_to_string(root.join("fuzz").join("Cargo.toml"))
        .context("reading fuzz/Cargo.toml")?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin
            && let Some(rest) = line.strip_prefix("name")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            names.push(value.trim().trim_matches('"').to_owned());
        }
    }
    Ok(names)
}

pub(crate) fn run_fuzz(root: &Path, only: Option<&str>, seconds: u64) -> anyhow::Result<()> {
    let all = targets(root)?;
    let chosen: Vec<String> = match only {
        Some(name) if all.iter().any(|have| have == name) => vec![name.to_owned()],
        Some(name) => bail!("no fuzz target {name}; have: {}", all.join(" ")),
        None => all,
    };
    if chosen.is_empty() {
        bail!("fuzz/Cargo.toml declares no fuzz targets");
    }
    let fuzz_dir = root.join("fuzz");
    step("fuzz build (sanitizer coverage + ASan)");
    run(Command::new("cargo")
        .args(["build", "--release", "--target", TARGET_TRIPLE])
        .current_dir(&fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", FLAGS.join(" ")))?;
    let bin_dir = fuzz_dir.join("target").join(TARGET_TRIPLE).join("release");
    for name in &chosen {
        step(&format!("fuzz {name} for {seconds}s"));
        let corpus = fuzz_dir.join("corpus").join(name);
        let artifacts = fuzz_dir.join("artifacts").join(name);
        std::fs::create_dir_all(&corpus).context("creating the corpus dir")?;
        std::fs::create_dir_all(&artifacts).context("creating the artifacts dir")?;
        let mut cmd = Command::new(bin_dir.join(name));
        cmd.arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .arg("-rss_limit_mb=2048")
            .arg(&corpus);
        let seeds = fuzz_dir.join("seeds").join(name);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        run(&mut cmd).with_context(|| format!("fuzz target {name} found a failure"))?;
    }
    Ok(())
}
