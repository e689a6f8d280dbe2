//! The `op-scim-mcp` command line.

mod cli;
mod config_file;
mod demo;
mod describe;
mod invocation;
mod live_check;
mod registry_cmds;
mod serve;
mod settings;

use std::process::ExitCode;

/// Allocation is a fifth of a tool call's work; jemalloc does it in fewer instructions than the
/// system allocator at the same memory (see generated-server/Cargo.toml).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{CommandFactory as _, FromArgMatches as _};
use registry::KeyKind;

use crate::cli::Cli;
use crate::config_file::parse_with_file;
use crate::invocation::Invocation;

/// Why a command failed: bad configuration (exit 2), or something that went wrong while it ran
/// (exit 1). One line each, naming what to fix.
pub enum Failure {
    Config(String),
    Runtime(String),
}

impl Failure {
    pub fn config(message: impl std::fmt::Display) -> Self {
        Self::Config(message.to_string())
    }

    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Self::Runtime(message.to_string())
    }
}

fn main() -> ExitCode {
    let (matches, file) = match parse_with_file(Cli::command, std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => return fail(&Failure::config(error)),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let command = file.apply(Cli::command());
    let invocation = match invocation::settle(cli, &matches, &command) {
        Ok(invocation) => invocation,
        Err(problem) => return fail(&Failure::Config(problem)),
    };
    init_logging();
    let outcome = match invocation {
        // The registry commands run before any async runtime exists: the stores block.
        Invocation::Servers(action, args) => registry_cmds::servers(action, &args),
        Invocation::ApiTokens(action, args) => registry_cmds::keys(KeyKind::ApiToken, action, &args),
        Invocation::AdminKeys(action, args) => registry_cmds::keys(KeyKind::AdminKey, action, &args),
        Invocation::Tools(tools) => registry_cmds::print_tools(&tools),
        Invocation::ConfigCheck {
            serve,
            live,
            offline,
            typed,
        } => {
            let check = matches
                .subcommand_matches("config")
                .and_then(|config| config.subcommand_matches("check"));
            let sources = describe::Sources {
                matches: std::iter::once(&matches).chain(check).collect(),
                command: &command,
                file: &file,
            };
            config_check(&serve, &typed, live, offline, &sources)
        }
        Invocation::Probe { url, listen, timeout } => {
            return serve::probe(url.as_deref(), &listen, timeout);
        }
        #[cfg(feature = "demo")]
        Invocation::Sim(args) => with_runtime(|| demo::run_standalone(args)),
        Invocation::Serve { args, typed } => with_runtime(|| serve::serve(args, typed)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

fn fail(failure: &Failure) -> ExitCode {
    match failure {
        Failure::Config(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Failure::Runtime(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn with_runtime<T, F: std::future::Future<Output = Result<T, Failure>>>(
    work: impl FnOnce() -> F,
) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::runtime(format!("cannot start the async runtime: {error}")))?;
    runtime.block_on(work())
}

fn config_check(
    args: &cli::ServeArgs,
    typed: &[String],
    live: bool,
    offline: bool,
    sources: &describe::Sources<'_>,
) -> Result<(), Failure> {
    let config = match settings::resolve(args, typed) {
        Ok(config) => config,
        Err(settings::Problems { problems, warnings }) => {
            println!("configuration: invalid");
            for problem in &problems {
                println!("  {problem}");
            }
            for warning in &warnings {
                println!("warning: {warning}");
            }
            return Err(Failure::Config(format!(
                "{} problem(s) in the configuration",
                problems.len()
            )));
        }
    };
    print!("{}", describe::describe(&config, sources));
    let fetch_issuers = config.oauth.is_some() && !offline;
    if !live && !fetch_issuers {
        return Ok(());
    }
    let checks = with_runtime(|| async {
        let mut checks = if live {
            live_check::run(&config).await
        } else {
            Vec::new()
        };
        if fetch_issuers {
            checks.extend(live_check::oauth_issuers(&config).await);
        }
        Ok(checks)
    })?;
    let mut failed = 0;
    for (name, outcome) in &checks {
        match outcome {
            Ok(fine) => println!("live check: {name}: ok, {fine}"),
            Err(problem) => {
                failed += 1;
                println!("live check: {name}: FAILED: {problem}");
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Config(format!("{failed} live check(s) failed")));
    }
    Ok(())
}

fn init_logging() {
    let json = std::env::var("OP_SCIM_LOG_FORMAT").is_ok_and(|value| value == "json");
    // rmcp logs every HTTP request's session start and end at INFO; that is noise for an
    // operator, who gets one line per tool call from us instead.
    let filter = tracing_subscriber::EnvFilter::try_from_env("OP_SCIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
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
