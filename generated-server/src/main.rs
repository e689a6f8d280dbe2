//! The `op-scim-mcp` command line.

mod cli;
mod config_file;
mod registry_cmds;
mod serve;
mod settings;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::cli::{Cli, Command, ConfigAction};
use crate::config_file::parse_with_file;
use crate::settings::Sources;

/// A configuration problem: one line naming the flag or variable, exit code 2.
pub struct ConfigProblem(pub String);

fn main() -> ExitCode {
    let (matches, file) = match parse_with_file(Cli::command, std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => return fail(&ConfigProblem(error.to_string())),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    init_logging();
    let outcome = match cli.command {
        // The registry commands run before any async runtime exists: the stores block.
        Some(Command::Servers { action, state }) => registry_cmds::servers(action, &state),
        Some(Command::ApiTokens { action, state }) => {
            registry_cmds::keys(runtime::registry::KeyKind::ApiToken, action, &state)
        }
        Some(Command::AdminKeys { action, state }) => {
            registry_cmds::keys(runtime::registry::KeyKind::AdminKey, action, &state)
        }
        Some(Command::Tools { tools }) => registry_cmds::print_tools(&tools),
        Some(Command::Config {
            action: ConfigAction::Check,
        }) => config_check(&cli.serve, &matches, &file),
        Some(Command::Probe { url, listen, timeout }) => {
            let url = url.unwrap_or_else(|| serve::health_url(listen));
            return serve::probe(&url, timeout);
        }
        Some(Command::Sim(args)) => with_runtime(|| async {
            bridge_sim::run_standalone(args)
                .await
                .map_err(|error| ConfigProblem(format!("{error:#}")))
        }),
        None => with_runtime(|| serve::serve(cli.serve)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => fail(&problem),
    }
}

fn fail(problem: &ConfigProblem) -> ExitCode {
    eprintln!("error: {}", problem.0);
    ExitCode::from(2)
}

fn with_runtime<F: std::future::Future<Output = Result<(), ConfigProblem>>>(
    work: impl FnOnce() -> F,
) -> Result<(), ConfigProblem> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| ConfigProblem(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(work())
}

fn config_check(
    args: &cli::ServeArgs,
    matches: &clap::ArgMatches,
    file: &config_file::ConfigFile,
) -> Result<(), ConfigProblem> {
    match settings::resolve(args) {
        Ok(config) => {
            let command = Cli::command();
            let sources = Sources {
                matches,
                command: &command,
                file,
            };
            print!("{}", settings::describe(&config, &sources));
            Ok(())
        }
        Err(settings::Problems(problems)) => {
            println!("configuration: invalid");
            for problem in &problems {
                println!("  {problem}");
            }
            Err(ConfigProblem(format!(
                "{} problem(s) in the configuration",
                problems.len()
            )))
        }
    }
}

fn init_logging() {
    let json = std::env::var("OP_SCIM_LOG_FORMAT").is_ok_and(|value| value == "json");
    let filter = tracing_subscriber::EnvFilter::try_from_env("OP_SCIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: on stdio, stdout carries the protocol.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}
