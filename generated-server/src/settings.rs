//! The serving configuration, resolved and checked once: `serve` runs it and `config check`
//! prints it. Every problem is reported at once, each naming its flag or variable.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use generated_server::TOOLS;
use runtime::cursor::CursorKey;
use runtime::registry::RegistryLocation;
use runtime::serve::HttpGuards;
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{Scope, ToolNaming};

use crate::cli::{ServeArgs, Transport};
use crate::config_file::ConfigFile;

/// Where the tools' calls go.
pub enum Bridge {
    /// The built-in simulated bridge, seeded with this many users.
    Demo { users: usize },
    Remote {
        /// Built (and so checked) once, here; serving uses this very client.
        upstream: Upstream,
        /// Where the token came from, for `config check` (never the token itself).
        token_from: String,
    },
}

/// The key that signs pagination cursors.
pub enum CursorSecret {
    Shared {
        key: CursorKey,
        from: String,
    },
    /// Per process: cursors do not survive a restart or cross to another replica.
    Random,
}

pub struct ServeConfig {
    pub transport: Transport,
    pub listen: SocketAddr,
    pub bridge: Bridge,
    pub cursor: CursorSecret,
    pub registry: Option<RegistryLocation>,
    pub public_url: String,
    pub guards: HttpGuards,
    pub audit_log: Option<PathBuf>,
    pub scope: Scope,
    pub naming: ToolNaming,
    pub shutdown_grace: Duration,
    /// Legal but probably not what was meant; logged at start and shown by `config check`.
    pub warnings: Vec<String>,
}

impl ServeConfig {
    pub fn cursor_key(&self) -> CursorKey {
        match &self.cursor {
            CursorSecret::Shared { key, .. } => key.clone(),
            CursorSecret::Random => CursorKey::random(),
        }
    }
}

/// Every problem found, one line each.
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

pub fn resolve(args: &ServeArgs) -> Result<ServeConfig, Problems> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let scope = match Scope::parse(&args.tools.methods, &args.tools.tags) {
        Ok(scope) if TOOLS.iter().any(|tool| scope.allows(&tool.spec)) => Some(scope),
        Ok(scope) => {
            problems.push(format!("--methods/--tags: the scope ({scope}) matches no tool"));
            None
        }
        Err(error) => {
            problems.push(format!("--methods/--tags: {error}"));
            None
        }
    };

    let bridge = match (args.demo, &args.bridge_url) {
        (true, Some(_)) => {
            problems.push(
                "--demo and --bridge-url exclude each other: pick the simulated or a real bridge".into(),
            );
            None
        }
        (true, None) => Some(Bridge::Demo {
            users: args.demo_users,
        }),
        (false, None) => {
            problems.push(
                "--bridge-url (or OP_SCIM_BRIDGE_URL) is required; use --demo to try the built-in simulated bridge"
                    .into(),
            );
            None
        }
        (false, Some(url)) => match read_secret(
            args.bearer_token_file.as_deref(),
            "--bearer-token-file",
            "OP_SCIM_BEARER_TOKEN",
        ) {
            Ok((token, token_from)) => match Upstream::new(UpstreamConfig::new(url.clone(), token)) {
                Ok(upstream) => Some(Bridge::Remote { upstream, token_from }),
                Err(error) => {
                    problems.push(format!("--bridge-url: {error}"));
                    None
                }
            },
            Err(problem) => {
                problems.push(problem);
                None
            }
        },
    };

    let cursor = match read_optional_secret(
        args.cursor_key_file.as_deref(),
        "--cursor-key-file",
        "OP_SCIM_CURSOR_KEY",
    ) {
        Ok(Some((secret, from))) => match CursorKey::from_secret(secret.expose().as_bytes()) {
            Ok(key) => Some(CursorSecret::Shared { key, from }),
            Err(error) => {
                problems.push(format!("{from}: {error}"));
                None
            }
        },
        Ok(None) => Some(CursorSecret::Random),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let registry = match (&args.state, &args.database_url) {
        (Some(_), Some(_)) => {
            problems.push("--state (SQLite) and --database-url (PostgreSQL) exclude each other".into());
            None
        }
        (Some(path), None) => Some(RegistryLocation::Sqlite(path.clone())),
        (None, Some(url)) => match RegistryLocation::parse(url) {
            Ok(location @ RegistryLocation::Postgres(_)) => Some(location),
            Ok(RegistryLocation::Sqlite(_)) => {
                problems.push("--database-url must be a postgres:// URL (use --state for SQLite)".into());
                None
            }
            Err(error) => {
                problems.push(format!("--database-url: {error}"));
                None
            }
        },
        (None, None) => None,
    };
    if registry.is_some() && args.transport == Transport::Stdio {
        problems
            .push("--state/--database-url serve scoped servers over HTTP only: add --transport http".into());
    }
    if let Some((security, false)) = registry.as_ref().and_then(RegistryLocation::transport_security) {
        warnings.push(format!(
            "the PostgreSQL connection is {security}: say sslmode=verify-full in --database-url unless the \
             network to the database is trusted"
        ));
    }
    if matches!(registry, Some(RegistryLocation::Postgres(_))) && matches!(cursor, Some(CursorSecret::Random))
    {
        warnings.push(
            "no OP_SCIM_CURSOR_KEY: each replica signs cursors with its own random key, so a next_cursor \
             from one replica fails on another"
                .into(),
        );
    }

    let mut guards = HttpGuards::default();
    if !args.allowed_hosts.is_empty() {
        guards.allowed_hosts = args.allowed_hosts.clone();
    }
    guards.allowed_origins = args.allowed_origins.clone();
    if args.transport == Transport::Http && !args.listen.ip().is_loopback() && args.allowed_hosts.is_empty() {
        warnings.push(format!(
            "listening on {} but --allowed-host is not set: /mcp accepts only loopback Host names",
            args.listen
        ));
    }
    if args.shutdown_grace.is_zero() {
        warnings.push("--shutdown-grace 0s: SIGTERM cuts off calls in flight".into());
    }

    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    let (Some(scope), Some(bridge), Some(cursor)) = (scope, bridge, cursor) else {
        return Err(Problems(vec!["incomplete configuration".into()]));
    };
    Ok(ServeConfig {
        transport: args.transport,
        listen: args.listen,
        bridge,
        cursor,
        registry,
        public_url: args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.listen)),
        guards,
        audit_log: args.audit_log.clone(),
        scope,
        naming: args.tools.tool_names.into(),
        shutdown_grace: args.shutdown_grace,
        warnings,
    })
}

/// A secret from `--x-file` (first) or the environment; `None` when neither is set.
fn read_optional_secret(
    file: Option<&Path>,
    flag: &str,
    variable: &str,
) -> Result<Option<(Secret, String)>, String> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|error| format!("{flag} {}: {error}", path.display()))?;
        let value = text.trim();
        if value.is_empty() {
            return Err(format!("{flag} {} is empty", path.display()));
        }
        return Ok(Some((Secret::new(value), format!("{flag} {}", path.display()))));
    }
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => Ok(Some((Secret::new(value.trim()), variable.to_owned()))),
        Ok(_) => Err(format!("{variable} is set but empty")),
        Err(_) => Ok(None),
    }
}

fn read_secret(file: Option<&Path>, flag: &str, variable: &str) -> Result<(Secret, String), String> {
    read_optional_secret(file, flag, variable)?.ok_or_else(|| format!("{variable} (or {flag}) is required"))
}

/// Where a setting's value came from, for `config check`.
pub struct Sources<'a> {
    pub matches: &'a ArgMatches,
    pub command: &'a clap::Command,
    pub file: &'a ConfigFile,
}

impl Sources<'_> {
    fn of(&self, id: &str) -> String {
        let arg = self.command.get_arguments().find(|arg| arg.get_id() == id);
        let long = arg.and_then(|arg| arg.get_long()).unwrap_or(id);
        match self.matches.value_source(id) {
            Some(ValueSource::CommandLine) => format!("--{long}"),
            Some(ValueSource::EnvVariable) => arg
                .and_then(|arg| arg.get_env())
                .map_or_else(|| "environment".into(), |env| env.to_string_lossy().into_owned()),
            _ if self.file.keys().any(|key| key == long) => match &self.file.path {
                Some(path) => format!("{}", path.display()),
                None => "config file".into(),
            },
            _ => "default".into(),
        }
    }
}

/// What `config check` prints: every setting, where it came from, secrets masked.
pub fn describe(config: &ServeConfig, sources: &Sources<'_>) -> String {
    let mut out = String::from("configuration: valid\n");
    let mut line = |name: &str, value: String, id: Option<&str>| {
        let from = id.map(|id| format!("  ({})", sources.of(id))).unwrap_or_default();
        let _ = writeln!(out, "  {name:<16}{value}{from}");
    };
    if let Some(path) = &sources.file.path {
        line("config file", path.display().to_string(), None);
    }
    let transport = match config.transport {
        Transport::Stdio => "stdio",
        Transport::Http => "http",
    };
    line("transport", transport.into(), Some("transport"));
    if config.transport == Transport::Http {
        line("listen", config.listen.to_string(), Some("listen"));
        line(
            "allowed hosts",
            config.guards.allowed_hosts.join(", "),
            Some("allowed_hosts"),
        );
        let origins = if config.guards.allowed_origins.is_empty() {
            "own loopback origin only".to_owned()
        } else {
            config.guards.allowed_origins.join(", ")
        };
        line("allowed origins", origins, Some("allowed_origins"));
        line(
            "endpoints",
            match config.registry {
                Some(_) => "/mcp/<token>, /mcp (Bearer), /admin/servers, /healthz, /readyz, /metrics",
                None => "/mcp, /healthz, /readyz, /metrics",
            }
            .into(),
            None,
        );
        line(
            "shutdown grace",
            humantime::format_duration(config.shutdown_grace).to_string(),
            Some("shutdown_grace"),
        );
    }
    match &config.bridge {
        Bridge::Demo { users } => line(
            "bridge",
            format!("built-in simulated bridge, {users} users"),
            Some("demo"),
        ),
        Bridge::Remote { upstream, token_from } => {
            line("bridge", upstream.base_url().to_owned(), Some("bridge_url"));
            line("bridge token", format!("*** (from {token_from})"), None);
        }
    }
    match &config.cursor {
        CursorSecret::Shared { from, .. } => line("cursor key", format!("*** shared (from {from})"), None),
        CursorSecret::Random => line("cursor key", "random per process".into(), None),
    }
    match &config.registry {
        Some(location @ RegistryLocation::Sqlite(_)) => {
            line(
                "registry",
                format!("SQLite {}", location.redacted()),
                Some("state"),
            );
            line("public url", config.public_url.clone(), Some("public_url"));
        }
        Some(location @ RegistryLocation::Postgres(_)) => {
            line(
                "registry",
                format!("PostgreSQL {}", location.redacted()),
                Some("database_url"),
            );
            if let Some((security, _)) = location.transport_security() {
                line("registry link", security.into(), None);
            }
            line("public url", config.public_url.clone(), Some("public_url"));
        }
        None => line("registry", "none: one unscoped server at /mcp".into(), None),
    }
    let in_scope = TOOLS
        .iter()
        .filter(|tool| config.scope.allows(&tool.spec))
        .count();
    line(
        "scope",
        format!("{} ({in_scope} of {} tools)", config.scope, TOOLS.len()),
        Some("methods"),
    );
    let naming = match config.naming {
        ToolNaming::Default => "default",
        ToolNaming::Portable => "portable",
    };
    line("tool names", naming.into(), Some("tool_names"));
    let audit = config
        .audit_log
        .as_ref()
        .map_or_else(|| "stderr".to_owned(), |path| path.display().to_string());
    line("audit log", audit, Some("audit_log"));
    for warning in &config.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}
