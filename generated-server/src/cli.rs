//! The command line: every setting is a flag, an environment variable, or a key of the
//! `--config` file (the flag's long name), in that order of precedence.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use runtime::ToolNaming;

/// Settings only the environment carries: secrets stay out of `ps` and shell history.
const ENVIRONMENT_ONLY: &str = "\
Environment-only settings:
  OP_SCIM_BEARER_TOKEN  The bridge's bearer token (or --bearer-token-file)
  OP_SCIM_CURSOR_KEY    Secret (32+ bytes) that signs pagination cursors; give every replica the same one (or --cursor-key-file)
  OP_SCIM_LOG           Log filter, e.g. info or runtime=debug (default: info)
  OP_SCIM_LOG_FORMAT    `json` for JSON log lines";

#[derive(Parser)]
#[command(
    name = "op-scim-mcp",
    version,
    about = "MCP server for the 1Password SCIM bridge",
    after_help = ENVIRONMENT_ONLY
)]
pub struct Cli {
    /// A YAML file of settings keyed by long flag name (e.g. `bridge-url: https://...`); flags and
    /// environment variables take precedence over it.
    #[arg(long, global = true, env = "OP_SCIM_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// Check the serving configuration (flags, environment, --config file).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Exit 0 when an HTTP endpoint answers 200 (a container health check needs no curl).
    Probe {
        /// What to probe (default: /healthz on the port the server listens on).
        #[arg(long)]
        url: Option<String>,
        /// The server's listen address, so that the default URL follows it.
        #[arg(long, env = "OP_SCIM_LISTEN", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Give up after this long, e.g. 3s.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration and print what would run, secrets masked. Exit 2 if invalid.
    Check,
}

#[derive(Args, Clone)]
pub struct StateArgs {
    /// The registry database (SQLite; created on first use).
    #[arg(long, global = true, env = "OP_SCIM_STATE", default_value = "op-scim-mcp.db")]
    pub state: PathBuf,
    /// A PostgreSQL registry shared by replicas (postgres://user:password@host/db); replaces --state.
    #[arg(long, global = true, env = "OP_SCIM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The public base URL the server is reached at, for the URLs handed out.
    #[arg(
        long,
        global = true,
        env = "OP_SCIM_PUBLIC_URL",
        default_value = "http://127.0.0.1:8787"
    )]
    pub public_url: String,
}

#[derive(Subcommand)]
pub enum ServersAction {
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
pub enum KeysAction {
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
pub struct ToolArgs {
    /// Method filter: read, write, custom, or method names (list, suspend, ...), comma-separated.
    #[arg(long, env = "OP_SCIM_METHODS", value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Tag filter, comma-separated (directory, admin).
    #[arg(long, env = "OP_SCIM_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// `portable` names match ^[a-z][a-z0-9_]{0,63}$ for clients that reject a leading digit.
    #[arg(long, env = "OP_SCIM_TOOL_NAMES", value_enum, default_value_t = NamingArg::Default)]
    pub tool_names: NamingArg,
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// The SCIM base URL of the bridge, e.g. https://scim.example.com.
    #[arg(long, env = "OP_SCIM_BRIDGE_URL")]
    pub bridge_url: Option<String>,
    /// A file holding the bridge's bearer token (else OP_SCIM_BEARER_TOKEN).
    #[arg(long, env = "OP_SCIM_BEARER_TOKEN_FILE")]
    pub bearer_token_file: Option<PathBuf>,
    /// A file holding the cursor secret (else OP_SCIM_CURSOR_KEY; else a random key per process).
    #[arg(long, env = "OP_SCIM_CURSOR_KEY_FILE")]
    pub cursor_key_file: Option<PathBuf>,
    #[arg(long, env = "OP_SCIM_TRANSPORT", value_enum, default_value_t = Transport::Stdio)]
    pub transport: Transport,
    /// Where the HTTP transport listens.
    #[arg(long, env = "OP_SCIM_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Host header values the MCP endpoint accepts (loopback names by default).
    #[arg(long = "allowed-host", env = "OP_SCIM_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Origins the HTTP transport accepts besides the server's own loopback origin; requests with any
    /// other Origin are refused with 403.
    #[arg(
        long = "allowed-origin",
        env = "OP_SCIM_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Run against a built-in simulated bridge with a seeded directory (no account needed).
    #[arg(long, env = "OP_SCIM_DEMO")]
    pub demo: bool,
    /// Users in the demo directory.
    #[arg(long, env = "OP_SCIM_DEMO_USERS", default_value_t = 250)]
    pub demo_users: usize,
    /// Serve the scoped servers of this SQLite registry over HTTP (/mcp/<token>, /admin).
    #[arg(long, env = "OP_SCIM_STATE")]
    pub state: Option<PathBuf>,
    /// Serve the scoped servers of this PostgreSQL registry (postgres://...), shared by replicas.
    #[arg(long, env = "OP_SCIM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The public base URL for the URLs the admin API hands out (default: http://<listen>).
    #[arg(long, env = "OP_SCIM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Append audit lines (write/custom calls, admin changes) to this file instead of stderr.
    #[arg(long, env = "OP_SCIM_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// On SIGTERM, how long in-flight calls may take to finish before the server stops anyway.
    #[arg(long, env = "OP_SCIM_SHUTDOWN_GRACE", default_value = "25s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: std::time::Duration,
    #[command(flatten)]
    pub tools: ToolArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Transport {
    Stdio,
    Http,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum NamingArg {
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
