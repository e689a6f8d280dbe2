//! Workspace automation: `cargo xtask regen [--check]` regenerates the server's tool code,
//! `cargo xtask generate` runs the generator on any spec and docs YAML, and `cargo xtask ci` runs
//! everything CI checks. The benchmarks are their own crate (`benchmarks/`).

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use xtask::{Mode, regen, workspace_root};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Workspace automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate generated-server/src/generated from the spec and docs YAML.
    Regen {
        /// Change nothing; fail with a diff if the checked-in code is stale.
        #[arg(long)]
        check: bool,
    },
    /// The generator on any OpenAPI 3.0 spec and docs YAML: writes the generated files into
    /// DIR (only those that changed); lists every problem and exits 1 when it cannot.
    Generate {
        #[arg(long)]
        spec: std::path::PathBuf,
        #[arg(long)]
        docs: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Change nothing; fail with a diff if DIR is stale.
        #[arg(long)]
        check: bool,
    },
    /// Everything CI runs: format, lint, freshness, all tests, and the client-driven e2e.
    Ci,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Regen { check } => run_regen(check),
        Command::Generate {
            spec,
            docs,
            out,
            check,
        } => run_generate(&spec, &docs, &out, check),
        Command::Ci => match xtask::ci::run(&workspace_root()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_generate(
    spec: &std::path::Path,
    docs: &std::path::Path,
    out: &std::path::Path,
    check: bool,
) -> ExitCode {
    let mode = if check { Mode::Check } else { Mode::Write };
    let shown = |path: &std::path::Path| path.display().to_string();
    match xtask::generate(spec, &shown(spec), docs, &shown(docs), out, mode) {
        Ok(report) => {
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            if report.is_stale() {
                eprint!("{}", report.stale_diff);
                eprintln!("{} is not up to date: run without --check", out.display());
                return ExitCode::FAILURE;
            }
            eprintln!(
                "generate: {} written, {} unchanged, {} removed in {}",
                report.written.len(),
                report.unchanged.len(),
                report.removed.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_regen(check: bool) -> ExitCode {
    let started = Instant::now();
    let mode = if check { Mode::Check } else { Mode::Write };
    let report = match regen(&workspace_root(), mode) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if check {
        if report.is_stale() {
            eprint!("{}", report.stale_diff);
            eprintln!("generated code is not up to date: run `cargo xtask regen` and commit the result");
            return ExitCode::FAILURE;
        }
        eprintln!(
            "generated code is up to date ({} files, {elapsed:.1} ms)",
            report.unchanged.len()
        );
    } else {
        eprintln!(
            "regen: {} written, {} unchanged, {} removed ({elapsed:.1} ms)",
            report.written.len(),
            report.unchanged.len(),
            report.removed.len()
        );
    }
    ExitCode::SUCCESS
}
