//! The `op-scim-mcp` command line.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use generated_server::{CATALOG, INTEGRATION_LABEL, TOOLS, tool_list_json};
use std::time::SystemTime;

use runtime::audit::AuditLog;
use runtime::cursor::{CursorCodec, CursorKey};
use runtime::gate::{Access, describe};
use runtime::registry::{KeyKind, NewServer, Registry, SqliteStore, parse_time};
use runtime::serve::{HttpGuards, HttpSettings, serve_http, serve_stdio};
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{McpServer, Metrics, Scope, ServerSettings, Shared, ToolNaming};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "op-scim-mcp",
    version,
    about = "MCP server for the 1Password SCIM bridge"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Print the published tool list as JSON.
    Tools {
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Run the simulated 1Password SCIM bridge on its own.
    Sim(bridge_sim::SimArgs),
    /// Scoped MCP servers in the registry (served over HTTP at /mcp/<token>).
    Servers {
        #[command(subcommand)]
        action: ServersAction,
        #[command(flatten)]
        state: StateArgs,
    },
    /// API tokens: the second factor of servers created with --require-api-token-auth.
    ApiTokens {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Admin keys for the admin HTTP API (/admin/servers).
    AdminKeys {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Args, Clone)]
struct StateArgs {
    /// The registry database (SQLite; created on first use).
    #[arg(long, global = true, env = "OP_SCIM_STATE", default_value = "op-scim-mcp.db")]
    state: PathBuf,
    /// The public base URL the server is reached at, for the URLs handed out.
    #[arg(
        long,
        global = true,
        env = "OP_SCIM_PUBLIC_URL",
        default_value = "http://127.0.0.1:8787"
    )]
    public_url: String,
}

#[derive(Subcommand)]
enum ServersAction {
    /// Create a scoped server; prints its URL (with its secret token) once.
    Create {
        #[arg(long)]
        name: String,
        /// read, write, custom or method names, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        methods: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// RFC 3339, at least 60 s ahead, e.g. 2026-12-31T23:59:59Z.
        #[arg(long)]
        expires_at: Option<String>,
        /// Also require `Authorization: Bearer <api token>` on every request.
        #[arg(long)]
        require_api_token_auth: bool,
    },
    /// List servers (never their tokens).
    List,
    /// Revoke a server by id or name; takes effect on its next request.
    Revoke { id_or_name: String },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create one; prints the secret once.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List (never the secrets).
    List,
    /// Revoke by id or name.
    Revoke { id_or_name: String },
}

#[derive(Args, Clone)]
struct ToolArgs {
    /// Method filter: read, write, custom, or method names (list, suspend, ...), comma-separated.
    #[arg(long, env = "OP_SCIM_METHODS", value_delimiter = ',')]
    methods: Vec<String>,
    /// Tag filter, comma-separated (directory, admin).
    #[arg(long, env = "OP_SCIM_TAGS", value_delimiter = ',')]
    tags: Vec<String>,
    /// `portable` names match ^[a-z][a-z0-9_]{0,63}$ for clients that reject a leading digit.
    #[arg(long, env = "OP_SCIM_TOOL_NAMES", value_enum, default_value_t = NamingArg::Default)]
    tool_names: NamingArg,
}

#[derive(Args)]
struct ServeArgs {
    /// The SCIM base URL of the bridge, e.g. https://scim.example.com.
    #[arg(long, env = "OP_SCIM_BRIDGE_URL")]
    bridge_url: Option<String>,
    /// A file holding the bridge's bearer token (else OP_SCIM_BEARER_TOKEN).
    #[arg(long, env = "OP_SCIM_BEARER_TOKEN_FILE")]
    bearer_token_file: Option<PathBuf>,
    #[arg(long, env = "OP_SCIM_TRANSPORT", value_enum, default_value_t = Transport::Stdio)]
    transport: Transport,
    /// Where the HTTP transport listens.
    #[arg(long, env = "OP_SCIM_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Host header values the HTTP transport accepts (loopback names by default).
    #[arg(long = "allowed-host", env = "OP_SCIM_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Origins the HTTP transport accepts besides the server's own loopback origin; requests with any
    /// other Origin are refused with 403.
    #[arg(
        long = "allowed-origin",
        env = "OP_SCIM_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Run against a built-in simulated bridge with a seeded directory (no account needed).
    #[arg(long)]
    demo: bool,
    /// Users in the demo directory.
    #[arg(long, default_value_t = 250)]
    demo_users: usize,
    /// Serve the scoped servers of this registry database over HTTP (/mcp/<token>, /admin).
    #[arg(long, env = "OP_SCIM_STATE")]
    state: Option<PathBuf>,
    /// The public base URL for the URLs the admin API hands out (default: http://<listen>).
    #[arg(long, env = "OP_SCIM_PUBLIC_URL")]
    public_url: Option<String>,
    /// Append audit lines (write/custom calls, admin changes) to this file instead of stderr.
    #[arg(long, env = "OP_SCIM_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// After SIGTERM or ctrl-c, how long in-flight HTTP requests may run before they are cut off.
    #[arg(
        long,
        env = "OP_SCIM_SHUTDOWN_GRACE",
        default_value = "25s",
        value_parser = humantime::parse_duration
    )]
    shutdown_grace: std::time::Duration,
    #[command(flatten)]
    tools: ToolArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Transport {
    Stdio,
    Http,
}

#[derive(Clone, Copy, ValueEnum)]
enum NamingArg {
    Default,
    Portable,
}

impl From<NamingArg> for ToolNaming {
    fn from(value: NamingArg) -> Self {
        match value {
            NamingArg::Default => ToolNaming::Default,
            NamingArg::Portable => ToolNaming::Portable,
        }
    }
}

/// A configuration problem: one line naming the flag or variable, exit code 2.
struct ConfigProblem(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Some(Command::Tools { tools }) => print_tools(&tools),
            Some(Command::Sim(args)) => bridge_sim::run_standalone(args)
                .await
                .map_err(|error| ConfigProblem(format!("{error:#}"))),
            Some(Command::Servers { action, state }) => servers(action, &state),
            Some(Command::ApiTokens { action, state }) => keys(KeyKind::ApiToken, action, &state),
            Some(Command::AdminKeys { action, state }) => keys(KeyKind::AdminKey, action, &state),
            None => serve(cli.serve).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(ConfigProblem(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
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

fn scope_of(args: &ToolArgs) -> Result<Scope, ConfigProblem> {
    Scope::parse(&args.methods, &args.tags)
        .map_err(|error| ConfigProblem(format!("--methods/--tags: {error}")))
}

fn print_tools(args: &ToolArgs) -> Result<(), ConfigProblem> {
    let scope = scope_of(args)?;
    let list =
        tool_list_json(args.tool_names.into(), &scope).map_err(|error| ConfigProblem(error.to_string()))?;
    let text = serde_json::to_string_pretty(&list).map_err(|error| ConfigProblem(error.to_string()))?;
    // A closed pipe (`op-scim-mcp tools | head`) is the reader's choice, not an error.
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(ConfigProblem(format!("writing the tool list: {error}")))
        }
        _ => Ok(()),
    }
}

async fn serve(args: ServeArgs) -> Result<(), ConfigProblem> {
    let scope = scope_of(&args.tools)?;
    let mut demo = None;
    let (bridge_url, token) = if args.demo {
        let config = bridge_sim::SimConfig {
            users: args.demo_users,
            token: bridge_sim::random_token(),
            ..bridge_sim::SimConfig::default()
        };
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let sim = bridge_sim::spawn(config, loopback)
            .await
            .map_err(|error| ConfigProblem(format!("--demo: cannot start the simulated bridge: {error}")))?;
        let pair = (sim.base_url(), Secret::new(sim.token()));
        eprintln!(
            "demo: simulated 1Password SCIM bridge at {} ({} users)",
            sim.base_url(),
            args.demo_users
        );
        demo = Some(sim);
        pair
    } else {
        let url = args.bridge_url.clone().ok_or_else(|| {
            ConfigProblem("--bridge-url (or OP_SCIM_BRIDGE_URL) is required; use --demo to try the built-in simulated bridge".into())
        })?;
        (url, read_token(args.bearer_token_file.as_deref())?)
    };
    let upstream = Upstream::new(UpstreamConfig::new(bridge_url, token))
        .map_err(|error| ConfigProblem(format!("--bridge-url / bearer token: {error}")))?;
    let cursor_key = match std::env::var("OP_SCIM_CURSOR_KEY") {
        Ok(secret) => CursorKey::from_secret(secret.as_bytes())
            .map_err(|error| ConfigProblem(format!("OP_SCIM_CURSOR_KEY: {error}")))?,
        Err(_) => CursorKey::random(),
    };
    let audit = Arc::new(match &args.audit_log {
        Some(path) => AuditLog::file(path)
            .map_err(|error| ConfigProblem(format!("--audit-log {}: {error}", path.display())))?,
        None => AuditLog::stderr(),
    });
    // One instance for tool calls, upstream answers and registry errors: what /metrics shows.
    let metrics = Arc::new(Metrics::new(env!("CARGO_PKG_VERSION")));
    let shared = Arc::new(
        Shared::new(upstream, CursorCodec::new(cursor_key), INTEGRATION_LABEL)
            .with_audit(audit.clone())
            .with_metrics(metrics.clone()),
    );
    let settings = ServerSettings {
        naming: args.tools.tool_names.into(),
        scope,
        server_name: "op-scim-mcp".into(),
        server_version: env!("CARGO_PKG_VERSION").into(),
    };
    let server =
        McpServer::new(shared, CATALOG, settings).map_err(|error| ConfigProblem(error.to_string()))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    let outcome = match args.transport {
        Transport::Stdio => {
            if args.demo {
                eprintln!(
                    "demo: serving MCP on stdio. Client configuration:\n{}",
                    stdio_config_hint()
                );
            }
            serve_stdio(server, shutdown)
                .await
                .map_err(|error| ConfigProblem(error.to_string()))
        }
        Transport::Http => {
            let mut guards = HttpGuards::default();
            if !args.allowed_hosts.is_empty() {
                guards.allowed_hosts = args.allowed_hosts.clone();
            }
            guards.allowed_origins = args.allowed_origins.clone();
            let access = match &args.state {
                Some(path) => Some(Access {
                    registry: Arc::new(open_registry(path)?),
                    catalog: CATALOG,
                    public_url: args
                        .public_url
                        .clone()
                        .unwrap_or_else(|| format!("http://{}", args.listen)),
                    audit: Some(audit),
                    metrics,
                }),
                None => None,
            };
            if access.is_some() {
                eprintln!(
                    "registry mode: every /mcp request needs a server token (op-scim-mcp servers create)"
                );
            }
            let settings = HttpSettings::new(guards).with_shutdown_grace(args.shutdown_grace);
            serve_http(server, args.listen, &settings, access, shutdown, |addr| {
                eprintln!("serving MCP over HTTP at http://{addr}/mcp");
                eprintln!("connect, e.g.: claude mcp add --transport http op-scim http://{addr}/mcp");
            })
            .await
            .map_err(|error| ConfigProblem(error.to_string()))
        }
    };
    if let Some(sim) = demo {
        sim.shutdown().await;
    }
    outcome
}

fn open_registry(path: &std::path::Path) -> Result<Registry, ConfigProblem> {
    let store = SqliteStore::open(path)
        .map_err(|error| ConfigProblem(format!("--state {}: {error}", path.display())))?;
    Ok(Registry::new(Box::new(store)))
}

fn print_json(value: &serde_json::Value) -> Result<(), ConfigProblem> {
    let text = serde_json::to_string_pretty(value).map_err(|error| ConfigProblem(error.to_string()))?;
    println!("{text}");
    Ok(())
}

fn servers(action: ServersAction, state: &StateArgs) -> Result<(), ConfigProblem> {
    let registry = open_registry(&state.state)?;
    match action {
        ServersAction::Create {
            name,
            methods,
            tags,
            expires_at,
            require_api_token_auth,
        } => {
            let expires_at = expires_at
                .as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|error| ConfigProblem(format!("--expires-at: {error}")))?;
            let new = NewServer {
                name,
                methods,
                tags,
                expires_at,
                require_api_token_auth,
            };
            let (entry, token) = registry
                .create_server(new, SystemTime::now(), |scope| {
                    TOOLS.iter().any(|tool| scope.allows(&tool.spec))
                })
                .map_err(|error| ConfigProblem(error.to_string()))?;
            let url = format!(
                "{}/mcp/{}",
                state.public_url.trim_end_matches('/'),
                token.reveal()
            );
            eprintln!("The URL holds the server's secret token; it is shown only now.");
            print_json(&describe(&entry, Some(url)))
        }
        ServersAction::List => {
            let entries = registry
                .list_servers()
                .map_err(|error| ConfigProblem(error.to_string()))?;
            print_json(
                &serde_json::json!({ "servers": entries.iter().map(|e| describe(e, None)).collect::<Vec<_>>() }),
            )
        }
        ServersAction::Revoke { id_or_name } => match registry.revoke_server(&id_or_name) {
            Ok(Some(entry)) => print_json(&serde_json::json!({ "revoked": entry.id, "name": entry.name })),
            Ok(None) => Err(ConfigProblem(format!("no server `{id_or_name}`"))),
            Err(error) => Err(ConfigProblem(error.to_string())),
        },
    }
}

fn keys(kind: KeyKind, action: KeysAction, state: &StateArgs) -> Result<(), ConfigProblem> {
    let registry = open_registry(&state.state)?;
    match action {
        KeysAction::Create { name } => {
            let (entry, secret) = registry
                .create_key(kind, &name, SystemTime::now())
                .map_err(|error| ConfigProblem(error.to_string()))?;
            eprintln!("The secret is shown only now.");
            print_json(&serde_json::json!({ "id": entry.id, "name": entry.name, "secret": secret.reveal() }))
        }
        KeysAction::List => {
            let entries = registry
                .list_keys(kind)
                .map_err(|error| ConfigProblem(error.to_string()))?;
            print_json(&serde_json::to_value(entries).map_err(|error| ConfigProblem(error.to_string()))?)
        }
        KeysAction::Revoke { id_or_name } => match registry.revoke_key(kind, &id_or_name) {
            Ok(Some(entry)) => print_json(&serde_json::json!({ "revoked": entry.id, "name": entry.name })),
            Ok(None) => Err(ConfigProblem(format!("no key `{id_or_name}`"))),
            Err(error) => Err(ConfigProblem(error.to_string())),
        },
    }
}

fn read_token(file: Option<&std::path::Path>) -> Result<Secret, ConfigProblem> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigProblem(format!("--bearer-token-file {}: {error}", path.display())))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(ConfigProblem(format!(
                "--bearer-token-file {} is empty",
                path.display()
            )));
        }
        return Ok(Secret::new(token));
    }
    match std::env::var("OP_SCIM_BEARER_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(Secret::new(token.trim())),
        _ => Err(ConfigProblem(
            "OP_SCIM_BEARER_TOKEN (or --bearer-token-file) is required".into(),
        )),
    }
}

fn stdio_config_hint() -> String {
    let exe = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "op-scim-mcp".into());
    serde_json::to_string_pretty(&serde_json::json!({
        "mcpServers": { "op-scim": { "command": exe, "args": ["--demo"] } }
    }))
    .unwrap_or_default()
}

async fn signal_shutdown(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down: finishing in-flight requests");
    token.cancel();
}
