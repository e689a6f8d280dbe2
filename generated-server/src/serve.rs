//! Serving: the resolved configuration turned into a running MCP server, and the health probe.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use generated_server::{CATALOGS, GeneratedIntegration, PRODUCT_PROMPTS};
use oauth::OAuthHttp;
use registry::http::RegistryHttp;
use registry::{Registry, RegistryLocation, open_store};
use runtime::audit::AuditLog;
use runtime::cursor::CursorCodec;
use runtime::serve::{HttpSettings, serve_http, serve_stdio};
use runtime::server::Integration;
use runtime::upstream::Upstream;
use runtime::{McpServer, Metrics, ServerSettings, ToolNaming};
use tokio_util::sync::CancellationToken;

use crate::Failure;
use crate::cli::ServeArgs;
use crate::demo::Demo;
use crate::settings::{self, Callers, ServeConfig, Transport, Upstreams};

/// Serves `args`; `typed` holds the ids of the options typed on the command line.
pub async fn serve(args: ServeArgs, typed: Vec<String>) -> Result<(), Failure> {
    let config = settings::resolve(&args, &typed)
        .map_err(|found| Failure::Config(found.problems.join("\n       ")))?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let mut demo = None;
    let upstreams: Vec<(&'static GeneratedIntegration, Upstream)> = match &config.upstreams {
        Upstreams::Demo { users } => {
            let (started, upstreams) = Demo::start(*users).await?;
            demo = Some(started);
            upstreams
        }
        Upstreams::Remote(remotes) => remotes
            .iter()
            .map(|remote| (remote.integration, remote.upstream.clone()))
            .collect(),
    };
    let audit = Arc::new(match &config.audit_log {
        Some(path) => AuditLog::file(path)
            .map_err(|error| Failure::config(format!("--audit-log {}: {error}", path.display())))?,
        None => AuditLog::stderr(),
    });
    // One instance for tool calls, upstream answers and registry errors: what /metrics shows.
    let mut metrics = Metrics::new(env!("CARGO_PKG_VERSION"));
    let registry = match (&config.registry, config.transport) {
        (Some(location), Transport::Http) => Some(
            open_registry(location, &config.public_url)
                .await?
                .with_audit(audit.clone())
                .with_metrics_in(&mut metrics),
        ),
        _ => None,
    };
    let oauth_metrics = config
        .oauth
        .as_ref()
        .map(|_| oauth::OAuthMetrics::registered_in(&mut metrics));
    let metrics = Arc::new(metrics);
    // One key for every integration: a cursor is bound to its tool, so it cannot cross.
    let cursor_key = config.cursor_key();
    let integrations = upstreams
        .into_iter()
        .map(|(integration, upstream)| {
            announce_integration(integration, &upstream, &config);
            Integration {
                shared: Arc::new(
                    integration
                        .shared(upstream, CursorCodec::new(cursor_key.clone()))
                        .with_audit(audit.clone())
                        .with_metrics(metrics.clone()),
                ),
                catalog: integration.catalog,
            }
        })
        .collect();
    log_inactive(&config);
    let settings = ServerSettings {
        naming: config.naming,
        scope: config.scope.clone(),
        server_name: "op-scim-mcp".into(),
        server_version: env!("CARGO_PKG_VERSION").into(),
    };
    let server = McpServer::serving(integrations, PRODUCT_PROMPTS, settings).map_err(Failure::config)?;
    let oauth = match (&config.oauth, oauth_metrics) {
        (Some(settings), Some(metrics)) => Some(
            OAuthHttp::new(settings.clone(), server.published(), metrics)
                .map_err(|error| Failure::config(error.to_string()))?,
        ),
        _ => None,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    tokio::spawn(reopen_on_hangup(audit.clone(), shutdown.clone()));
    let outcome = match config.transport {
        Transport::Stdio => {
            if demo.is_some() {
                eprintln!(
                    "demo: serving MCP on stdio. Client configuration:\n{}",
                    stdio_config_hint(&args)
                );
            }
            serve_stdio(server, shutdown).await.map_err(Failure::runtime)
        }
        Transport::Http => serve_over_http(server, &config, oauth, registry, shutdown).await,
    };
    if let Some(sim) = demo {
        sim.shutdown().await;
    }
    // Every line sent is written before the process ends.
    audit.close().await;
    outcome
}

/// The registry at `location` (connected, its schema migrated), served to HTTP clients.
async fn open_registry(location: &RegistryLocation, public_url: &str) -> Result<RegistryHttp, Failure> {
    let store = open_store(location)
        .await
        .map_err(|error| Failure::runtime(format!("registry {}: {error}", location.redacted())))?;
    Ok(RegistryHttp::new(
        Arc::new(Registry::new(store)),
        CATALOGS,
        public_url,
        "op-scim-mcp",
    ))
}

async fn serve_over_http(
    server: McpServer,
    config: &ServeConfig,
    oauth: Option<OAuthHttp>,
    registry: Option<RegistryHttp>,
    shutdown: CancellationToken,
) -> Result<(), Failure> {
    let mut settings = HttpSettings::new(config.rules.clone())
        .with_shutdown_grace(config.shutdown_grace)
        .with_connection_limits(config.limits);
    if config.callers == Callers::Anyone {
        settings = settings.with_notice(format!(
            "unauthenticated: anyone who can reach this server may call {} tools ({}), --allow-unauthenticated",
            config.tools_in_scope(),
            config.scope
        ));
    }
    // OAuth in front: it takes the JWTs on /mcp and leaves registry tokens to the registry.
    if let Some(oauth) = oauth {
        settings = settings.with_extension(Arc::new(oauth));
    }
    if let Some(registry) = &registry {
        settings = settings.with_extension(Arc::new(registry.clone()));
    }
    let callers = config.callers;
    serve_http(server, config.listen, &settings, shutdown, |addr| {
        announce(addr, callers, config);
    })
    .await
    .map_err(Failure::runtime)
}

/// The start-up log line of an active integration: where its calls go, how many tools it serves.
fn announce_integration(integration: &GeneratedIntegration, upstream: &Upstream, config: &ServeConfig) {
    tracing::info!(
        integration = integration.name,
        upstream = upstream.shown_url(),
        tools = integration.tools_in(&config.scope),
        "integration active"
    );
}

/// The start-up log line of each integration that serves nothing because it is not configured.
fn log_inactive(config: &ServeConfig) {
    for integration in generated_server::INTEGRATIONS {
        if !config.is_active(integration) {
            tracing::info!(
                integration = integration.name,
                "integration not configured, no tools: {}",
                integration.options.how_to_configure
            );
        }
    }
}

/// The start-up lines: where to connect, with what.
fn announce(addr: SocketAddr, callers: Callers, config: &ServeConfig) {
    match callers {
        Callers::OAuth => {
            eprintln!("serving MCP over HTTP at http://{addr}/mcp");
            if let Some(settings) = &config.oauth {
                eprintln!(
                    "OAuth: clients reach {public}/mcp with an access token from {issuers} (audience {public}/mcp); \
                     metadata at {public}/.well-known/oauth-protected-resource/mcp; scopes: {scopes}",
                    public = settings.public_url,
                    issuers = settings.issuers.join(", "),
                    scopes = settings.scopes.names().collect::<Vec<_>>().join(" "),
                );
            }
            if let Some(location) = &config.registry {
                eprintln!(
                    "registry {}: its server tokens work beside OAuth, at /mcp/<token> or as a Bearer token",
                    location.redacted()
                );
            }
        }
        Callers::Tokens => {
            let location = config
                .registry
                .as_ref()
                .map(|location| location.redacted())
                .unwrap_or_default();
            eprintln!("serving MCP over HTTP at http://{addr}/mcp");
            eprintln!(
                "registry {location}: every request needs a server token, as http://{addr}/mcp/<token> or with \
                 `Authorization: Bearer <token>`; make one with `op-scim-mcp servers create --name NAME --methods read` \
                 (same --state/--database-url) or POST /admin/servers"
            );
        }
        Callers::Local | Callers::Anyone => {
            eprintln!("serving MCP over HTTP at http://{addr}/mcp");
            eprintln!("connect, e.g.: claude mcp add --transport http op-scim http://{addr}/mcp");
            if callers == Callers::Anyone {
                tracing::warn!(
                    "UNAUTHENTICATED: anyone who can reach {addr} may call {} tools ({}) without a token",
                    config.tools_in_scope(),
                    config.scope
                );
            }
        }
    }
}

/// The demo's client configuration, with every scope option it was started with, so that the
/// configuration printed grants what this server grants and no more.
fn stdio_config_hint(args: &ServeArgs) -> String {
    let exe = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "op-scim-mcp".into());
    serde_json::to_string_pretty(&serde_json::json!({
        "mcpServers": { "op-scim": { "command": exe, "args": demo_arguments(args) } }
    }))
    .unwrap_or_default()
}

fn demo_arguments(args: &ServeArgs) -> Vec<String> {
    let mut arguments = vec!["--demo".to_owned()];
    if let Some(methods) = &args.tools.methods {
        arguments.extend(["--methods".to_owned(), methods.join(",")]);
    }
    if let Some(tags) = &args.tools.tags {
        arguments.extend(["--tags".to_owned(), tags.join(",")]);
    }
    if settings::naming(&args.tools.tool_names).is_ok_and(|naming| naming == ToolNaming::Portable) {
        arguments.extend(["--tool-names".to_owned(), "portable".to_owned()]);
    }
    arguments
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

/// On SIGHUP, reopens the audit log (logrotate moved it away) instead of dying, SIGHUP's
/// default.
async fn reopen_on_hangup(audit: Arc<AuditLog>, stop: CancellationToken) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the audit log will not be reopened on rotation");
            return;
        };
        loop {
            tokio::select! {
                received = hangups.recv() => {
                    if received.is_none() {
                        return;
                    }
                    match audit.reopen().await {
                        Ok(()) => tracing::info!(audit_log = audit.target(), "SIGHUP: audit log reopened"),
                        Err(error) => tracing::error!(error = %error, "SIGHUP: could not reopen the audit log"),
                    }
                }
                () = stop.cancelled() => return,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (audit, stop);
    }
}

/// `/healthz` of a server listening on `listen`, reached over loopback when it listens on all
/// interfaces.
pub fn health_url(listen: SocketAddr) -> String {
    let mut target = listen;
    if target.ip().is_unspecified() {
        target.set_ip(match target.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{target}/healthz")
}

/// `op-scim-mcp probe`: 0 when the URL (default: `/healthz` on `listen`) answers 200 within
/// `timeout`, else 1 with the reason; 2 when the input is not a URL or an address.
pub fn probe(url: Option<&str>, listen: &str, timeout: Duration) -> ExitCode {
    let url = match url {
        Some(url) => match reqwest::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => parsed,
            Ok(parsed) => {
                return bad_input(&format!(
                    "--url `{url}` is a {} URL; give an http(s) URL",
                    parsed.scheme()
                ));
            }
            Err(error) => {
                return bad_input(&format!(
                    "--url `{url}` is not a URL ({error}); e.g. http://127.0.0.1:8787/healthz"
                ));
            }
        },
        None => match listen.trim().parse::<SocketAddr>() {
            Ok(addr) => match reqwest::Url::parse(&health_url(addr)) {
                Ok(parsed) => parsed,
                Err(error) => return bad_input(&format!("cannot probe {addr}: {error}")),
            },
            Err(_) => {
                return bad_input(&format!(
                    "--listen (or OP_SCIM_LISTEN) `{listen}` is not an address like 127.0.0.1:8787"
                ));
            }
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("probe: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shown = runtime::redact::redact_url(url.as_str());
    let outcome = runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| format!("cannot build an HTTP client: {error}"))?;
        let response = client.get(url).send().await.map_err(|error| {
            if error.is_timeout() {
                format!(
                    "{shown} did not answer within {}",
                    humantime::format_duration(timeout)
                )
            } else if error.is_connect() {
                format!("{shown}: cannot connect (is the server running and listening there?)")
            } else {
                format!("{shown}: {error}")
            }
        })?;
        if response.status() == reqwest::StatusCode::OK {
            Ok(())
        } else {
            Err(format!("{shown} answered {}", response.status()))
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("probe: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn bad_input(message: &str) -> ExitCode {
    eprintln!("probe: {message}");
    ExitCode::from(2)
}
