//! Workspace automation. `cargo xtask regen [--check]` regenerates the server's tool code;
//! `cargo xtask generate` runs the generator on any spec and docs YAML.

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
    /// Bounded load test: N MCP clients over HTTP for a fixed time (issue 5).
    BenchLoad {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Two replicas on one PostgreSQL registry under load; one is killed half-way (issue 8).
    BenchReplicas {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// Median and p99 latency of one `get` through op-scim-mcp over HTTP vs a direct GET.
    BenchLatency {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
    /// The side-by-side benchmark of issue 6: op-scim-mcp (HTTP, stdio), FastMCP.from_openapi,
    /// rmcp-openapi-server and the direct call, on one simulated bridge; writes docs/benchmarks.md.
    Bench {
        /// Users in the simulated directory.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Seconds of each throughput window (1, 16 and 64 clients).
        #[arg(long, default_value_t = 5)]
        duration_secs: u64,
        /// Sequential calls for the latency figure (bounded by --latency-secs too).
        #[arg(long, default_value_t = 1000)]
        latency_iterations: usize,
        /// Upper bound on one contender's latency phase, in seconds.
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
        /// Print the results without writing docs/benchmarks.md and docs/benchmarks.svg.
        #[arg(long)]
        no_write: bool,
        /// Do not install missing peers (record them as not installed instead).
        #[arg(long)]
        no_install: bool,
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
        Command::BenchLoad { clients, seconds } => {
            match xtask::bench_load::run(&workspace_root(), clients, seconds) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::BenchReplicas { clients, seconds } => {
            match xtask::bench_replicas::run(&workspace_root(), clients, seconds.max(2)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::BenchLatency { iterations } => match xtask::bench::run(&workspace_root(), iterations) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Bench {
            users,
            duration_secs,
            latency_iterations,
            latency_secs,
            no_write,
            no_install,
        } => {
            let options = xtask::bench_matrix::Options {
                users,
                duration: std::time::Duration::from_secs(duration_secs.clamp(1, 60)),
                latency_iterations: latency_iterations.clamp(1, 100_000),
                latency_deadline: std::time::Duration::from_secs(latency_secs.clamp(1, 120)),
                write_docs: !no_write,
                install: !no_install,
            };
            match xtask::bench_matrix::run(&workspace_root(), &options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
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
