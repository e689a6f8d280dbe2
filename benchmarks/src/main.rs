//! `cargo benchmarks`: op-scim-mcp measured, on its own and beside the servers a user would pick
//! instead. Each subcommand builds the release binary exactly as CI does and bounds every loop,
//! so a run always ends.

mod client;
mod harness;
mod instructions;
mod issuer;
mod latency;
mod load;
mod matrix;
mod replicas;
mod report;
mod results;
mod setup;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use xtask::workspace_root;

#[derive(Parser)]
#[command(name = "cargo benchmarks", about = "op-scim-mcp's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The side-by-side comparison of issue 6: op-scim-mcp (HTTP, stdio), FastMCP.from_openapi,
    /// rmcp-openapi-server and the direct call, on one simulated bridge; writes docs/benchmarks.md.
    Matrix {
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
    /// Median and p99 latency of one `get` through op-scim-mcp over HTTP vs a direct GET.
    Latency {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
    /// Bounded load test: N MCP clients over HTTP for a fixed time (issue 5).
    Load {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Instructions per call under callgrind (repeatable where timings are not): the
    /// simulator's own GET, and op-scim-mcp's get and ping over stdio and HTTP.
    Instructions,
    /// Two replicas on one PostgreSQL registry under load; one is killed half-way (issue 8).
    Replicas {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
}

fn main() -> ExitCode {
    let root = workspace_root();
    let outcome = match Cli::parse().command {
        Command::Matrix {
            users,
            duration_secs,
            latency_iterations,
            latency_secs,
            no_write,
            no_install,
        } => {
            let options = matrix::Options {
                users,
                duration: Duration::from_secs(duration_secs.clamp(1, 60)),
                latency_iterations: latency_iterations.clamp(1, 100_000),
                latency_deadline: Duration::from_secs(latency_secs.clamp(1, 120)),
                write_docs: !no_write,
                install: !no_install,
            };
            matrix::run(&root, &options)
        }
        Command::Latency { iterations } => latency::run(&root, iterations),
        Command::Load { clients, seconds } => load::run(&root, clients, seconds),
        Command::Instructions => instructions::run(&root),
        Command::Replicas { clients, seconds } => replicas::run(&root, clients, seconds.max(2)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
