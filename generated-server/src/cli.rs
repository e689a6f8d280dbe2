//! The command line: every setting is a flag, an environment variable, or a key of the
//! `--config` file (the flag's long name), in that order of precedence.
//!
//! Values that can be malformed (addresses, durations, numbers, names from a list) are taken
//! as text here and checked in [`crate::settings`], so `config check` reports every bad value
//! at once instead of stopping at the first.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Settings only the environment carries: secrets stay out of `ps` and shell history.
const ENVIRONMENT_ONLY: &str = "\
Environment-only settings:
  OP_SCIM_BEARER_TOKEN  The bridge's bearer token (or --bearer-token-file)
  OP_EVENTS_BEARER_TOKEN  The Events API's bearer token, from an Events Reporting integration
                        (or --events-token-file)
  OP_SCIM_CURSOR_KEY    Secret (32+ bytes) that signs pagination cursors; give every replica the same one (or --cursor-key-file)
  OP_SCIM_LOG           Log filter, e.g. info or runtime=debug (default: info, with rmcp's internals at warn)
  OP_SCIM_LOG_FORMAT    `json` for JSON log lines

Serving options may be written before or after `config check`; scope options before or after
`tools`; registry options before or after `servers`, `api-tokens` and `admin-keys`.";

#[derive(Parser)]
#[command(
    name = "op-scim-mcp",
    version,
    about = "MCP server for the 1Password SCIM bridge and the 1Password Events API",
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
    /// Print the published tool list as JSON, under the given scope and naming.
    Tools {
        #[command(flatten)]
        tools: ToolArgs,
    },
    /// Run the simulated 1Password SCIM bridge and Events API on their own.
    #[cfg(feature = "demo")]
    Sim(bridge_sim::SimArgs),
    /// Scoped MCP servers in the registry (served over HTTP at /mcp/<token>).
    Servers {
        #[command(subcommand)]
        action: ServersAction,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// API tokens: the second factor of servers created with --require-api-token-auth.
    ApiTokens {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Admin keys for the admin HTTP API (/admin/servers).
    AdminKeys {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        registry: RegistryArgs,
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
        #[command(flatten)]
        listen: ListenArg,
        /// Give up after this long, e.g. 3s.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration and print what would run, secrets masked. Exit 2 if invalid.
    Check {
        /// Also call the bridge (and a PostgreSQL registry) to check that they answer and that
        /// the bearer token is accepted.
        #[arg(long)]
        live: bool,
        /// Do not fetch the OAuth issuers' metadata and keys (fetched once by default when
        /// --oauth-issuer is set).
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
}

/// Where the registry of scoped servers is, and what its commands print and record.
#[derive(Args, Clone, Debug, Default)]
pub struct RegistryArgs {
    /// The registry of scoped servers as an SQLite file (created on first use, mode 0600); the
    /// server serves its entries over HTTP at /mcp/<token> and /admin.
    #[arg(long, global = true, env = "OP_SCIM_STATE")]
    pub state: Option<PathBuf>,
    /// The registry as a PostgreSQL database shared by replicas (postgres://...); replaces
    /// --state. It holds a password: prefer the variable or the --config file to this flag.
    #[arg(long, global = true, env = "OP_SCIM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The public base URL clients reach the server at (https://mcp.example.com), for the URLs
    /// handed out (default when serving: http://<listen>).
    #[arg(long, global = true, env = "OP_SCIM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Append audit lines (write/custom calls, registry changes) to this file (created mode
    /// 0600) instead of stderr.
    #[arg(long, global = true, env = "OP_SCIM_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
}

/// The address the server listens on, which `probe` follows.
#[derive(Args, Clone, Debug)]
pub struct ListenArg {
    /// Where the HTTP transport listens, e.g. 127.0.0.1:8787.
    #[arg(long, env = "OP_SCIM_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: String,
}

#[derive(Subcommand)]
pub enum ServersAction {
    /// Create a scoped server; prints its URL (with its secret token) once.
    Create {
        /// A name to find it by (at most 200 characters of plain text).
        #[arg(long)]
        name: String,
        /// read, write, custom or method names, comma-separated (default: read).
        #[arg(long, value_delimiter = ',')]
        methods: Option<Vec<String>>,
        /// Tags, comma-separated (default: any).
        #[arg(long, value_delimiter = ',')]
        tags: Option<Vec<String>>,
        /// RFC 3339 with an offset, at least 60 s ahead, e.g. 2026-12-31T23:59:59Z.
        #[arg(long)]
        expires_at: Option<String>,
        /// Also require `Authorization: Bearer <api token>` on every request.
        #[arg(long)]
        require_api_token_auth: bool,
    },
    /// List servers (never their tokens).
    List,
    /// Revoke a server by id or name; every running server refuses its token within a second.
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

/// Which tools are served, and under which names.
#[derive(Args, Clone, Debug, Default)]
pub struct ToolArgs {
    /// Method filter: read, write, custom, or method names (list, suspend, ...), comma-separated.
    /// Default: every method, delete included.
    #[arg(long, env = "OP_SCIM_METHODS", value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Tag filter, comma-separated (directory, admin). Default: every tag.
    #[arg(long, env = "OP_SCIM_TAGS", value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    /// `default`, or `portable`: names matching ^[a-z][a-z0-9_]{0,63}$ for clients that reject a
    /// leading digit.
    #[arg(long, env = "OP_SCIM_TOOL_NAMES", default_value = "default")]
    pub tool_names: String,
}

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// The SCIM base URL of the bridge, e.g. https://scim.example.com.
    #[arg(long, env = "OP_SCIM_BRIDGE_URL")]
    pub bridge_url: Option<String>,
    /// A file holding the bridge's bearer token (else OP_SCIM_BEARER_TOKEN).
    #[arg(long, env = "OP_SCIM_BEARER_TOKEN_FILE")]
    pub bearer_token_file: Option<PathBuf>,
    /// The Events API's base URL, e.g. https://events.1password.com; or say --events-region.
    /// Without it (and its token) the Events tools are not offered.
    #[arg(long, env = "OP_EVENTS_URL")]
    pub events_url: Option<String>,
    /// Where the account's Events API is: us (1password.com), ca, eu, or enterprise
    /// (ent.1password.com).
    #[arg(long, env = "OP_EVENTS_REGION")]
    pub events_region: Option<String>,
    /// A file holding the Events API's bearer token (else OP_EVENTS_BEARER_TOKEN).
    #[arg(long, env = "OP_EVENTS_BEARER_TOKEN_FILE")]
    pub events_token_file: Option<PathBuf>,
    /// A file holding the cursor secret (else OP_SCIM_CURSOR_KEY; else a random key per process).
    #[arg(long, env = "OP_SCIM_CURSOR_KEY_FILE")]
    pub cursor_key_file: Option<PathBuf>,
    /// `stdio` (one local client) or `http` (Streamable HTTP at /mcp).
    #[arg(long, env = "OP_SCIM_TRANSPORT", default_value = "stdio")]
    pub transport: String,
    /// Where the HTTP transport listens. Anything but a loopback address needs authentication:
    /// OAuth (--oauth-issuer), a registry (--state or --database-url), or
    /// --allow-unauthenticated.
    #[arg(long, env = "OP_SCIM_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// Serve every tool in scope to anyone who can reach a non-loopback --listen address, with
    /// no token: only behind something that authenticates every caller itself.
    #[arg(long, env = "OP_SCIM_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// Host names clients reach the server at, besides the loopback names, which stay allowed
    /// (DNS-rebinding protection, not authentication).
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
    /// At most this many HTTP connections are open; beyond it the longest-idle one is closed.
    #[arg(long, env = "OP_SCIM_MAX_CONNECTIONS", default_value = "768")]
    pub max_connections: String,
    /// A client must send a request's headers within this long of connecting or of its
    /// previous response (also the keep-alive idle timeout), e.g. 15s.
    #[arg(long, env = "OP_SCIM_HEADER_TIMEOUT", default_value = "15s")]
    pub header_timeout: String,
    /// Run against a built-in simulated bridge and Events API with a seeded directory (no
    /// account needed).
    #[arg(long, env = "OP_SCIM_DEMO")]
    pub demo: bool,
    /// Users in the demo directory.
    #[arg(long, env = "OP_SCIM_DEMO_USERS", default_value = "250")]
    pub demo_users: String,
    /// The registry of scoped servers as an SQLite file (created on first use, mode 0600); the
    /// server serves its entries over HTTP at /mcp/<token> and /admin.
    #[arg(long, env = "OP_SCIM_STATE")]
    pub state: Option<PathBuf>,
    /// The registry as a PostgreSQL database shared by replicas (postgres://...); replaces
    /// --state. It holds a password: prefer the variable or the --config file to this flag.
    #[arg(long, env = "OP_SCIM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The public base URL clients reach the server at (https://mcp.example.com), for the URLs
    /// handed out (default when serving: http://<listen>).
    #[arg(long, env = "OP_SCIM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Append audit lines (write/custom calls, registry changes) to this file (created mode
    /// 0600) instead of stderr.
    #[arg(long, env = "OP_SCIM_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// On SIGTERM, how long in-flight calls may take to finish before the server stops anyway.
    #[arg(long, env = "OP_SCIM_SHUTDOWN_GRACE", default_value = "25s")]
    pub shutdown_grace: String,
    #[command(flatten)]
    pub tools: ToolArgs,
    #[command(flatten)]
    pub oauth: OAuthArgs,
}

/// The OAuth 2.1 resource-server mode: callers bring an access token from an authorization
/// server (the company's IdP), and its scopes decide which tools they may use.
#[derive(Args, Clone, Debug, Default)]
pub struct OAuthArgs {
    /// Accept OAuth access tokens (JWT) issued by this authorization server, e.g.
    /// https://login.example.com/realms/it (comma-separated or repeated for several). Turns on
    /// the OAuth mode on /mcp; needs --public-url, whose /mcp is the tokens' audience.
    #[arg(long = "oauth-issuer", env = "OP_SCIM_OAUTH_ISSUERS", value_delimiter = ',')]
    pub issuers: Vec<String>,
    /// Audiences accepted besides <public-url>/mcp (comma-separated), for an IdP that cannot
    /// issue tokens for a URL audience.
    #[arg(
        long = "oauth-audience",
        env = "OP_SCIM_OAUTH_AUDIENCES",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,
    /// Signature algorithms accepted (comma-separated): RS256, RS384, RS512, PS256, PS384,
    /// PS512, ES256, ES384, EdDSA. Default: all of them; never HMAC or none.
    #[arg(
        long = "oauth-algorithms",
        env = "OP_SCIM_OAUTH_ALGORITHMS",
        value_delimiter = ','
    )]
    pub algorithms: Option<Vec<String>>,
    /// A token scope and the tools it allows, as `NAME [methods=..] [tags=..] [implies=..]`,
    /// e.g. `scim:write methods=create,update tags=directory implies=scim:read`; repeat, or
    /// separate with `;`. Replaces the defaults (scim:read, scim:write, scim:admin, events:read).
    #[arg(long = "oauth-scope", env = "OP_SCIM_OAUTH_SCOPES", value_delimiter = ';')]
    pub scopes: Vec<String>,
    /// Accept only tokens whose header says `typ: at+jwt` (RFC 9068 access tokens), so an ID
    /// token of the same issuer is never taken for one.
    #[arg(long = "oauth-require-at-jwt", env = "OP_SCIM_OAUTH_REQUIRE_AT_JWT")]
    pub require_at_jwt: bool,
    /// Clock skew allowed on a token's exp and nbf.
    #[arg(long = "oauth-leeway", env = "OP_SCIM_OAUTH_LEEWAY", default_value = "60s")]
    pub leeway: String,
    /// The least time between two fetches of an issuer's keys that tokens naming an unknown
    /// key may cause (a rotated-in key is fetched at once, a flood of made-up ones is not).
    #[arg(
        long = "oauth-jwks-cooldown",
        env = "OP_SCIM_OAUTH_JWKS_COOLDOWN",
        default_value = "30s"
    )]
    pub jwks_cooldown: String,
    /// How often the issuers' keys are fetched again in the background.
    #[arg(
        long = "oauth-jwks-max-age",
        env = "OP_SCIM_OAUTH_JWKS_MAX_AGE",
        default_value = "1h"
    )]
    pub jwks_max_age: String,
    /// For tests only: accept an http:// issuer (and key set) on a loopback address.
    #[arg(
        long = "oauth-insecure-loopback-issuer",
        env = "OP_SCIM_OAUTH_INSECURE_LOOPBACK_ISSUER"
    )]
    pub insecure_loopback_issuer: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
