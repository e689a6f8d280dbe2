//! `bridge-sim`: the simulated 1Password SCIM bridge as a standalone server.

use clap::Parser;

/// A simulated 1Password SCIM bridge for demos, tests and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "bridge-sim", version)]
struct Cli {
    #[command(flatten)]
    sim: bridge_sim::SimArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    bridge_sim::run_standalone(cli.sim).await
}
