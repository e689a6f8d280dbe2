//! The surroundings of a comparison run: the revision and machine it ran on, and the peers
//! (FastMCP, rmcp-openapi-server), installed once under the target directory at pinned versions.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::results::{FASTMCP_VERSION, RMCP_OPENAPI_VERSION};

/// The commit benchmarked, and whether the work tree had uncommitted changes (read-only git).
pub(crate) fn revision(root: &Path) -> String {
    let head = capture(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(root),
    )
    .unwrap_or_else(|_| "unknown".into());
    let dirty = capture(
        Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(root),
    )
    .is_ok_and(|status| !status.is_empty());
    if dirty {
        format!("{head} plus uncommitted changes in the work tree")
    } else {
        head
    }
}

pub(crate) fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

pub(crate) fn capture(command: &mut Command) -> Result<String> {
    let output = command.stderr(Stdio::null()).output()?;
    let mut text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if text.is_empty() {
        text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    }
    Ok(text)
}

pub(crate) fn machine_info() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    vec![
        ("CPU".into(), model),
        ("cores available".into(), cores.to_string()),
        ("memory".into(), memory),
        ("kernel".into(), format!("Linux {}", kernel.trim())),
    ]
}

/// The pinned FastMCP in `target/bench-venv`, installed when missing; returns its python.
pub(crate) fn prepare_fastmcp(root: &Path, target: &Path, install: bool) -> Result<PathBuf> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin/python");
    let installed = || {
        capture(Command::new(&python).args(["-c", "import fastmcp; print(fastmcp.__version__)"]))
            .is_ok_and(|version| version == FASTMCP_VERSION)
    };
    if !installed() && !install {
        bail!("target/bench-venv has no fastmcp {FASTMCP_VERSION} and --no-install was given");
    }
    if !installed() {
        eprintln!("bench: installing fastmcp=={FASTMCP_VERSION} into target/bench-venv");
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()?;
        if !status.success() {
            bail!("python3 -m venv failed");
        }
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", &format!("fastmcp=={FASTMCP_VERSION}")])
            .current_dir(root)
            .status()?;
        if !status.success() || !installed() {
            bail!("pip install fastmcp=={FASTMCP_VERSION} failed");
        }
    }
    Ok(python)
}

/// The pinned rmcp-openapi-server in `target/bench-tools`, compiled once when missing.
pub(crate) fn prepare_rmcp(target: &Path, install: bool) -> Result<PathBuf> {
    let root = target.join("bench-tools");
    let binary = root.join("bin/rmcp-openapi-server");
    let installed = || {
        capture(Command::new(&binary).arg("--version"))
            .is_ok_and(|version| version.contains(RMCP_OPENAPI_VERSION))
    };
    if !installed() && !install {
        bail!(
            "target/bench-tools has no rmcp-openapi-server {RMCP_OPENAPI_VERSION} and --no-install was given"
        );
    }
    if !installed() {
        eprintln!(
            "bench: cargo install rmcp-openapi-server@{RMCP_OPENAPI_VERSION} (slow, once; cached in target/bench-tools)"
        );
        let status = Command::new(env!("CARGO"))
            .args(["install", "--locked", "--root"])
            .arg(&root)
            .arg(format!("rmcp-openapi-server@{RMCP_OPENAPI_VERSION}"))
            .status()?;
        if !status.success() || !installed() {
            bail!("cargo install rmcp-openapi-server@{RMCP_OPENAPI_VERSION} failed");
        }
    }
    Ok(binary)
}
