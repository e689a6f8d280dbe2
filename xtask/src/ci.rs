//! `cargo xtask ci`: everything CI checks, in one command a newcomer can run.
//!
//! The client-driven end-to-end tests need the official Python MCP client; this installs it
//! (pinned) into `target/e2e-venv` on first use, so nothing has to be set up by hand. The
//! conformance and Inspector runs fetch their (pinned) npm packages with `npx`. The replicas
//! end-to-end test runs against a throwaway PostgreSQL server started by testkit's
//! `temp-postgres` program, so PostgreSQL must be installed. The OAuth end-to-end test runs
//! against a real authorization server, the npm package oidc-provider (pinned), which this
//! installs into `target/e2e-oauth` on first use; Node.js and npm must be installed.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{Mode, regen};

/// The Python MCP client the end-to-end tests drive the server with.
const PYTHON_MCP: &str = "mcp==2.3.0";

/// The authorization server the OAuth end-to-end test runs against: (npm package, version).
const OIDC_PROVIDER: (&str, &str) = ("oidc-provider", "9.13.3");

/// The cargo arguments of the release build: CI builds the binary it tests with them, and the
/// container image (`Dockerfile`) must build with exactly the same ones, which a test checks, so
/// the image never ships a binary built differently from the one CI tested.
pub const RELEASE_BUILD: &[&str] = &["build", "--release", "--locked", "--bin", "op-scim-mcp"];

pub fn run(root: &Path) -> Result<()> {
    step(root, "format", &["fmt", "--all", "--check"])?;
    step(
        root,
        "lint",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The binary without the simulator (`--no-default-features`): its `cfg` paths compile too.
    step(
        root,
        "lint without the demo feature",
        &[
            "clippy",
            "--package",
            "generated-server",
            "--no-default-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    println!("== generated code is fresh");
    let report = regen(root, Mode::Check)?;
    if report.is_stale() {
        eprint!("{}", report.stale_diff);
        bail!("generated code is stale: run `cargo xtask regen` and commit the result");
    }
    step(root, "tests", &["test", "--workspace", "--locked"])?;
    client_driven(root)
}

fn step(root: &Path, name: &str, args: &[&str]) -> Result<()> {
    println!("== {name}: cargo {}", args.join(" "));
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed", args.join(" "));
    }
    Ok(())
}

fn client_driven(root: &Path) -> Result<()> {
    step(root, "build the server", RELEASE_BUILD)?;
    let python = python_with_mcp(root)?;
    let binary = crate::target_dir(root).join("release/op-scim-mcp");
    let mut runs = E2eRuns::default();
    for transport in ["stdio", "http"] {
        runs.run(
            &format!("end to end with the Python MCP client over {transport}"),
            Command::new(&python)
                .arg(root.join("tests/e2e/mcp_client_workflows.py"))
                .arg(&binary)
                .arg(transport)
                .env("OP_SCIM_LOG", "warn"),
        )?;
    }
    runs.run(
        "scoped servers from the registry, with the Python MCP client over HTTP",
        Command::new(&python)
            .arg(root.join("tests/e2e/mcp_client_registry.py"))
            .arg(&binary)
            .env("OP_SCIM_LOG", "warn"),
    )?;
    runs.run(
        "the OAuth resource-server mode against a real authorization server (oidc-provider), \
         with the Python MCP client over HTTP",
        Command::new(&python)
            .arg(root.join("tests/e2e/mcp_client_oauth.py"))
            .arg(&binary)
            .arg(npm_prefix_with(
                &crate::target_dir(root).join("e2e-oauth"),
                OIDC_PROVIDER,
            )?)
            .env("OP_SCIM_LOG", "warn"),
    )?;
    runs.run(
        "the Events API beside the SCIM bridge, with the Python MCP client over stdio",
        Command::new(&python)
            .arg(root.join("tests/e2e/mcp_client_events.py"))
            .arg(&binary)
            .env("OP_SCIM_LOG", "warn"),
    )?;
    runs.run(
        "the README's quick start, with the Python MCP client over stdio",
        Command::new(&python)
            .arg(root.join("tests/e2e/readme_quick_start.py"))
            .arg(&binary)
            .arg(root.join("README.md")),
    )?;
    // A throwaway PostgreSQL server, stopped when `database` drops after the script has run.
    let database = ThrowawayDatabase::start(root, "e2e_replicas")?;
    runs.run(
        "two replicas on one PostgreSQL, with the Python MCP client over HTTP",
        Command::new(&python)
            .arg(root.join("tests/e2e/mcp_client_replicas.py"))
            .arg(&binary)
            .arg(&database.url)
            .env("OP_SCIM_LOG", "warn"),
    )?;
    drop(database);
    let passed = runs.passed;
    println!("e2e: {passed} passed, 0 failed");
    // Suites written by others: the official MCP conformance suite and the MCP Inspector CLI
    // (both fetched with npx under Node 22).
    for script in ["tests/e2e/conformance.sh", "tests/e2e/inspector.sh"] {
        println!("== {script}");
        let status = Command::new("bash")
            .arg(root.join(script))
            .arg(&binary)
            .current_dir(root)
            .status()
            .with_context(|| format!("running {script}"))?;
        if !status.success() {
            bail!("{script} failed");
        }
    }
    // The product's workflows against a third-party SCIM server (scim2-server), with a 429
    // injected mid-loop by a proxy in the script.
    let workflows = venv_with(
        &crate::target_dir(root).join("scim2-server-venv"),
        "scim2_server, mcp",
        &[
            "-r",
            &root
                .join("tests/e2e/scim2_server_requirements.txt")
                .to_string_lossy(),
        ],
    )?;
    println!("== workflows against scim2-server");
    let status = Command::new(&workflows)
        .arg(root.join("tests/e2e/scim2_server_workflows.py"))
        .arg(&binary)
        .env("OP_SCIM_LOG", "warn")
        .status()
        .context("running the scim2-server workflows")?;
    if !status.success() {
        bail!("the workflows against scim2-server failed");
    }
    // A third-party SCIM checker against the simulated bridge, so the simulator stays faithful.
    let scim2 = venv_with(
        &crate::target_dir(root).join("scim2-venv"),
        "scim2_tester",
        &[
            "-r",
            &root
                .join("tests/e2e/scim2_tester_requirements.txt")
                .to_string_lossy(),
        ],
    )?;
    println!("== scim2-tester against the simulated bridge");
    let status = Command::new(&scim2)
        .arg(root.join("tests/e2e/scim2_tester_check.py"))
        .arg(&binary)
        .status()
        .context("running scim2-tester")?;
    if !status.success() {
        bail!("scim2-tester found unexpected failures in the simulated bridge");
    }
    Ok(())
}

/// A database on a throwaway PostgreSQL server, run by testkit's `temp-postgres` program for as
/// long as this lives: dropping it closes the program's input, which stops the server.
struct ThrowawayDatabase {
    server: Child,
    url: String,
}

impl ThrowawayDatabase {
    fn start(root: &Path, name: &str) -> Result<Self> {
        let program = [
            "run",
            "--quiet",
            "--locked",
            "--package",
            "testkit",
            "--bin",
            "temp-postgres",
        ];
        println!("== a throwaway PostgreSQL: cargo {} -- {name}", program.join(" "));
        let mut server = Command::new(env!("CARGO"))
            .args(program)
            .arg("--")
            .arg(name)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting temp-postgres")?;
        let mut url = String::new();
        if let Some(stdout) = server.stdout.take() {
            BufReader::new(stdout)
                .read_line(&mut url)
                .context("reading the database URL from temp-postgres")?;
        }
        let url = url.trim().to_owned();
        if url.is_empty() {
            drop(server.stdin.take());
            let _ = server.wait();
            bail!("temp-postgres printed no database URL (is PostgreSQL installed?)");
        }
        Ok(Self { server, url })
    }
}

impl Drop for ThrowawayDatabase {
    fn drop(&mut self) {
        drop(self.server.stdin.take());
        let _ = self.server.wait();
    }
}

/// The client-driven runs, counted: each prints its own checks, and the first failure stops CI.
#[derive(Default)]
struct E2eRuns {
    passed: usize,
}

impl E2eRuns {
    fn run(&mut self, title: &str, command: &mut Command) -> Result<()> {
        println!("== {title}");
        let status = command.status().with_context(|| format!("running {title}"))?;
        if !status.success() {
            println!("e2e: {} passed, 1 failed", self.passed);
            bail!("{title}: failed");
        }
        self.passed += 1;
        Ok(())
    }
}

fn python_with_mcp(root: &Path) -> Result<std::path::PathBuf> {
    venv_with(
        &crate::target_dir(root).join("e2e-venv"),
        "mcp, httpx2",
        &[PYTHON_MCP],
    )
}

/// An npm install prefix at `prefix` whose `node_modules` holds `package` at its pinned version,
/// installing it with npm on first use (and again when the pin changes). Nothing is saved: no
/// manifest or lock file, and nothing in the repository.
fn npm_prefix_with(prefix: &Path, (name, version): (&str, &str)) -> Result<std::path::PathBuf> {
    let manifest = prefix.join("node_modules").join(name).join("package.json");
    let installed = Command::new("node")
        .arg("-p")
        .arg("require(process.argv[1]).version")
        .arg(&manifest)
        .stderr(Stdio::null())
        .output()
        .context("node -p (Node.js 20 or later is required)")?;
    if installed.status.success() && String::from_utf8_lossy(&installed.stdout).trim() == version {
        return Ok(prefix.to_path_buf());
    }
    println!("== installing {name}@{version} into {}", prefix.display());
    std::fs::create_dir_all(prefix).with_context(|| format!("creating {}", prefix.display()))?;
    let status = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .args([
            "--no-save",
            "--no-package-lock",
            "--no-audit",
            "--no-fund",
            "--silent",
        ])
        .arg(format!("{name}@{version}"))
        .status()
        .context("npm install")?;
    if !status.success() {
        bail!("could not install {name}@{version} into {}", prefix.display());
    }
    Ok(prefix.to_path_buf())
}

/// A virtual environment at `venv` where `import {modules}` works, installing `requirements`
/// with pip on first use.
fn venv_with(venv: &Path, modules: &str, requirements: &[&str]) -> Result<std::path::PathBuf> {
    let python = venv.join("bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", &format!("import {modules}")])
            .status()
            .is_ok_and(|status| status.success());
    if ready {
        return Ok(python);
    }
    println!("== installing {} into {}", requirements.join(" "), venv.display());
    let created = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(venv)
        .status()
        .context("python3 -m venv")?;
    if !created.success() {
        bail!(
            "could not create {} (python3 with venv is required)",
            venv.display()
        );
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(requirements)
        .status()
        .context("pip install")?;
    if !installed.success() {
        bail!("could not install {}", requirements.join(" "));
    }
    Ok(python)
}
