//! Developer tasks for synapse-rs: `cargo xtask ci | lint | test | fuzz | ref-env | bench NAME`.
//!
//! `ci` is exactly what CI runs (`.ci/run`): format check, lints (clippy and the tidy/layer checks),
//! the reference Python environment, every test, a brief run of each fuzz target, and the docs
//! with warnings denied.

mod bench;
mod fuzz;
mod refenv;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for synapse-rs")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Everything CI checks: fmt, lint, ref-env, tests, docs.
    Ci,
    /// Format check, clippy with warnings denied, and the tidy/layer checks.
    Lint,
    /// The tests only (the reference environment is created first).
    Test {
        /// Extra arguments for the test runner (e.g. a filter).
        args: Vec<String>,
    },
    /// Run the libFuzzer targets in fuzz/ (all, or one) for a time budget each.
    Fuzz {
        /// One target (default: all).
        target: Option<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Create (once) the Python venv with the reference `synapse<3`; print its python.
    RefEnv,
    /// Run a named benchmark side by side with the reference (reads bench/NAME.bench).
    Bench {
        /// The benchmark's name (a file bench/NAME.bench); omit to list them.
        name: Option<String>,
        /// Reduced sizes, for a quick look.
        #[arg(long)]
        quick: bool,
    },
}

fn main() -> std::process::ExitCode {
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = project_root();
    std::env::set_current_dir(&root).context("entering the project root")?;
    match cli.cmd {
        Cmd::Ci => ci(&root),
        Cmd::Lint => lint(&root),
        Cmd::Test { args } => test(&root, &args),
        Cmd::Fuzz { target, seconds } => fuzz::run_fuzz(&root, target.as_deref(), seconds),
        Cmd::RefEnv => {
            let python = refenv::ensure(&root)?;
            println!("{}", python.display());
            Ok(())
        }
        Cmd::Bench { name, quick } => bench::run(&root, name.as_deref(), quick),
    }
}

/// The time budget of each fuzz target in `ci`: a brief run that catches shallow crashes.
const CI_FUZZ_SECONDS: u64 = 20;

fn ci(root: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    lint(root)?;
    test(root, &[])?;
    if !fuzz::targets(root)?.is_empty() {
        fuzz::run_fuzz(root, None, CI_FUZZ_SECONDS)?;
    }
    step("docs");
    run(Command::new("cargo")
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    eprintln!(
        "xtask ci: all steps passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn lint(root: &Path) -> anyhow::Result<()> {
    step("fmt --check");
    run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    step("tidy and crate layering");
    tidy::check(root)?;
    step("clippy");
    run(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(())
}

fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    step("reference environment");
    let python = refenv::ensure(root)?;
    step("tests");
    let mut cmd = Command::new("cargo");
    if has_nextest() {
        cmd.args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ]);
    } else {
        cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"]);
    }
    // The workspace test build already holds the server binary (synapse-servers' own tests
    // need it): tests of other crates that start it use that one instead of building it again
    // with their package's feature set.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from);
    cmd.args(extra).env("SYNAPSE_REF_PYTHON", &python).env(
        "SYNAPSE_SERVERS_BIN",
        target.join("debug").join("synapse-servers"),
    );
    run(&mut cmd)?;
    if has_nextest() && extra.is_empty() {
        step("doc tests");
        run(Command::new("cargo")
            .args(["test", "--workspace", "--locked", "--doc"])
            .env("SYNAPSE_REF_PYTHON", &python))?;
    }
    Ok(())
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub(crate) fn step(name: &str) {
    eprintln!("\n==> xtask: {name}");
}

pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed: {status}");
    }
    Ok(())
}

fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}
