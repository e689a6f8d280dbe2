//! What `config check` prints: every setting, where it came from, secrets masked.

use std::fmt::Write as _;

use clap::ArgMatches;
use clap::parser::ValueSource;
use generated_server::INTEGRATIONS;
use registry::RegistryLocation;
use runtime::ToolNaming;

use crate::config_file::ConfigFile;
use crate::settings::{Callers, CursorSecret, ServeConfig, Transport, Upstreams};

/// Where a setting's value came from.
pub struct Sources<'a> {
    /// The matches the serving options may have been read from: the top level, and
    /// `config check`'s own.
    pub matches: Vec<&'a ArgMatches>,
    pub command: &'a clap::Command,
    pub file: &'a ConfigFile,
}

impl Sources<'_> {
    fn of(&self, id: &str) -> String {
        let arg = self.command.get_arguments().find(|arg| arg.get_id() == id);
        let long = arg.and_then(|arg| arg.get_long()).unwrap_or(id);
        let sources: Vec<ValueSource> = self
            .matches
            .iter()
            .filter(|matches| matches.ids().any(|known| known.as_str() == id))
            .filter_map(|matches| matches.value_source(id))
            .collect();
        let source = sources
            .iter()
            .find(|source| **source == ValueSource::CommandLine)
            .or(sources.first())
            .copied();
        match source {
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

/// The report of a valid configuration.
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
        let callers = match config.callers {
            Callers::Local => "this machine only (loopback)",
            Callers::Tokens => "holders of a server token",
            Callers::OAuth if config.registry.is_some() => {
                "bearers of an OAuth access token, and holders of a server token"
            }
            Callers::OAuth => "bearers of an OAuth access token",
            Callers::Anyone => "ANYONE who can reach the address, no token (--allow-unauthenticated)",
        };
        line("callers", callers.into(), None);
        line(
            "allowed hosts",
            config.rules.allowed_hosts.join(", "),
            Some("allowed_hosts"),
        );
        let origins = if config.rules.allowed_origins.is_empty() {
            "own loopback origin only".to_owned()
        } else {
            config.rules.allowed_origins.join(", ")
        };
        line("allowed origins", origins, Some("allowed_origins"));
        if let Some(oauth) = &config.oauth {
            line("oauth issuers", oauth.issuers.join(", "), Some("issuers"));
            let mut audiences = vec![format!("{}/mcp", oauth.public_url)];
            audiences.extend(oauth.extra_audiences.iter().cloned());
            let audience_from = if oauth.extra_audiences.is_empty() {
                "public_url"
            } else {
                "audiences"
            };
            line("oauth audience", audiences.join(", "), Some(audience_from));
            line(
                "oauth scopes",
                oauth.scopes.names().collect::<Vec<_>>().join(" "),
                Some("scopes"),
            );
            line(
                "oauth keys",
                format!(
                    "{}; refreshed every {}, on an unknown key id at most every {}; leeway {}{}",
                    oauth
                        .algorithms
                        .iter()
                        .map(|algorithm| format!("{algorithm:?}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    humantime::format_duration(oauth.key_set_max_age),
                    humantime::format_duration(oauth.key_set_cooldown),
                    humantime::format_duration(oauth.leeway),
                    if oauth.require_access_token_type {
                        "; typ at+jwt required"
                    } else {
                        ""
                    }
                ),
                None,
            );
        }
        let metadata = if config.oauth.is_some() {
            ", /.well-known/oauth-protected-resource[/mcp]"
        } else {
            ""
        };
        line(
            "endpoints",
            match config.registry {
                Some(_) => format!(
                    "/mcp/<token>, /mcp (Bearer), /admin/servers{metadata}, /healthz, /readyz, /metrics"
                ),
                None => format!("/mcp{metadata}, /healthz, /readyz, /metrics"),
            },
            None,
        );
        line(
            "connections",
            format!(
                "at most {}, headers within {}",
                config.limits.max_connections,
                humantime::format_duration(config.limits.header_read_timeout)
            ),
            Some("max_connections"),
        );
        line(
            "shutdown grace",
            humantime::format_duration(config.shutdown_grace).to_string(),
            Some("shutdown_grace"),
        );
    }
    let integrations: Vec<String> = INTEGRATIONS
        .iter()
        .map(|integration| {
            if config.is_active(integration) {
                format!(
                    "{} ({} of {} tools in scope)",
                    integration.name,
                    integration.tools_in(&config.scope),
                    integration.catalog.tools.len()
                )
            } else {
                format!("{}: not configured, no tools", integration.name)
            }
        })
        .collect();
    line("integrations", integrations.join("; "), None);
    match &config.upstreams {
        Upstreams::Demo { users } => line(
            "upstreams",
            format!("built-in simulated SCIM bridge and Events API, {users} users"),
            Some("demo"),
        ),
        Upstreams::Remote(remotes) => {
            for remote in remotes {
                let options = &remote.integration.options;
                let (name, id) = (options.label, options.url_key);
                match &remote.url_from {
                    Some(from) => line(name, format!("{}  ({from})", remote.upstream.shown_url()), None),
                    None => line(name, remote.upstream.shown_url().to_owned(), Some(id)),
                }
                line(
                    &format!("{name} token"),
                    format!("*** (from {})", remote.token_from),
                    None,
                );
            }
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
        None => line(
            "registry",
            "none: one server at /mcp with the scope below".into(),
            None,
        ),
    }
    let everything = if config.scope.is_everything() {
        ": every tool, delete included"
    } else {
        ""
    };
    line(
        "scope",
        format!(
            "{} ({} of {} tools{everything})",
            config.scope,
            config.tools_in_scope(),
            config.tools_active()
        ),
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
