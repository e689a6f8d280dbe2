//! Serving: the resolved configuration turned into a running MCP server, and the health probe.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use generated_server::{CATALOG, INTEGRATION_LABEL};
use runtime::audit::AuditLog;
use runtime::cursor::CursorCodec;
use runtime::gate::Access;
use runtime::registry::{Registry, open_store};
use runtime::serve::{HttpSettings, serve_http, serve_stdio};
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{McpServer, Metrics, ServerSettings, Shared};
use tokio_util::sync::CancellationToken;

use crate::ConfigProblem;
use crate::cli::{ServeArgs, Transport};
use crate::settings::{self, Bridge, ServeConfig};

pub async fn serve(args: ServeArgs) -> Result<(), ConfigProblem> {
    let config = settings::resolve(&args).map_err(|problems| ConfigProblem(problems.0.join("\n       ")))?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let mut demo = None;
    let upstream = match &config.bridge {
        Bridge::Demo { users } => {
            let sim_config = bridge_sim::SimConfig {
                users: *users,
                token: bridge_sim::random_token(),
                ..bridge_sim::SimConfig::default()
            };
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            let sim = bridge_sim::spawn(sim_config, loopback).await.map_err(|error| {
                ConfigProblem(format!("--demo: cannot start the simulated bridge: {error}"))
            })?;
            eprintln!(
                "demo: simulated 1Password SCIM bridge at {} ({users} users)",
                sim.base_url()
            );
            let upstream = Upstream::new(UpstreamConfig::new(sim.base_url(), Secret::new(sim.token())))
                .map_err(|error| ConfigProblem(format!("--demo: {error}")))?;
            demo = Some(sim);
            upstream
        }
        Bridge::Remote { upstream, .. } => upstream.clone(),
    };
    let audit = Arc::new(match &config.audit_log {
        Some(path) => AuditLog::file(path)
            .map_err(|error| ConfigProblem(format!("--audit-log {}: {error}", path.display())))?,
        None => AuditLog::stderr(),
    });
    // One instance for tool calls, upstream answers and registry errors: what /metrics shows.
    let metrics = Arc::new(Metrics::new(env!("CARGO_PKG_VERSION")));
    let shared = Arc::new(
        Shared::new(upstream, CursorCodec::new(config.cursor_key()), INTEGRATION_LABEL)
            .with_audit(audit.clone())
            .with_metrics(metrics.clone()),
    );
    let settings = ServerSettings {
        naming: config.naming,
        scope: config.scope.clone(),
        server_name: "op-scim-mcp".into(),
        server_version: env!("CARGO_PKG_VERSION").into(),
    };
    let server =
        McpServer::new(shared, CATALOG, settings).map_err(|error| ConfigProblem(error.to_string()))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    let outcome = match config.transport {
        Transport::Stdio => {
            if demo.is_some() {
                eprintln!(
                    "demo: serving MCP on stdio. Client configuration:\n{}",
                    stdio_config_hint()
                );
            }
            serve_stdio(server, shutdown)
                .await
                .map_err(|error| ConfigProblem(error.to_string()))
        }
        Transport::Http => serve_over_http(server, &config, audit, metrics, shutdown).await,
    };
    if let Some(sim) = demo {
        sim.shutdown().await;
    }
    outcome
}

async fn serve_over_http(
    server: McpServer,
    config: &ServeConfig,
    audit: Arc<AuditLog>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), ConfigProblem> {
    let registry = match &config.registry {
        Some(location) => {
            let opening = location.clone();
            // Opening may connect to PostgreSQL and run migrations: blocking work.
            let store = tokio::task::spawn_blocking(move || open_store(&opening))
                .await
                .map_err(|error| ConfigProblem(format!("opening the registry: {error}")))?
                .map_err(|error| ConfigProblem(format!("registry {}: {error}", location.redacted())))?;
            eprintln!(
                "registry mode ({}): every /mcp request needs a server token (op-scim-mcp servers create)",
                location.redacted()
            );
            Some(Arc::new(Registry::new(store)))
        }
        None => None,
    };
    let access = registry.as_ref().map(|registry| Access {
        registry: registry.clone(),
        catalog: CATALOG,
        public_url: config.public_url.clone(),
        audit: Some(audit),
        metrics,
    });
    let settings = HttpSettings::new(config.guards.clone()).with_shutdown_grace(config.shutdown_grace);
    let served = serve_http(server, config.listen, &settings, access, shutdown, |addr| {
        eprintln!("serving MCP over HTTP at http://{addr}/mcp");
        eprintln!("connect, e.g.: claude mcp add --transport http op-scim http://{addr}/mcp");
    })
    .await
    .map_err(|error| ConfigProblem(error.to_string()));
    if let Some(registry) = registry {
        // A PostgreSQL store owns blocking clients; let them go off the async workers.
        let _ = tokio::task::spawn_blocking(move || drop(registry)).await;
    }
    served
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

/// `op-scim-mcp probe`: 0 when `url` answers 200 within `timeout`, else 1 with the reason.
pub fn probe(url: &str, timeout: Duration) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("probe: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| error.to_string())?;
        let response = client.get(url).send().await.map_err(|error| error.to_string())?;
        if response.status() == reqwest::StatusCode::OK {
            Ok(())
        } else {
            Err(format!("{url} answered {}", response.status()))
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
