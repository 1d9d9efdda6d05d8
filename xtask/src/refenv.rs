//! The reference environment: a Python venv under target/ with Synapse 2.x (`synapse<3`).
//!
//! Interop tests and side-by-side benchmarks use it as the real peer. It is created once and
//! reused; creating it needs the network (PyPI). Failure is loud: nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::run;

/// The requirement installed into the venv.
const REQUIREMENT: &str = "synapse<3";

/// Create the venv if needed and return its python.
pub(crate) fn ensure(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target").join("ref-env");
    let python = dir.join("bin").join("python");
    let stamp = dir.join(".installed");
    if stamp.exists() && python.exists() && probe(&python).is_ok() {
        return Ok(python);
    }
    let host = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    eprintln!(
        "creating the reference venv in {} with {host}",
        dir.display()
    );
    run(Command::new(&host).arg("-m").arg("venv").arg(&dir))
        .with_context(|| format!("creating a venv with {host}: is Python 3.11 installed?"))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        REQUIREMENT,
    ]))
    .context("installing the reference synapse<3 from PyPI")?;
    let version = probe(&python)?;
    eprintln!("reference synapse {version} ready");
    std::fs::write(&stamp, &version).context("writing the venv stamp")?;
    Ok(python)
}

/// The installed reference version, or an error if it does not import.
fn probe(python: &Path) -> anyhow::Result<String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import synapse; print('.'.join(map(str, synapse.version)))",
        ])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "the reference synapse does not import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
