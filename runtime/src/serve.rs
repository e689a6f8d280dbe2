//! Transports: stdio, and Streamable HTTP at `/mcp` (stateless, JSON responses) beside the
//! operations endpoints, with a bounded graceful drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::drain::{Drain, track_in_flight};
use crate::ops::{READINESS_CHECK_TIMEOUT, Readiness, ReadinessCheck, UpstreamCheck};
use crate::server::{McpServer, RateLimitSlot};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("stdio transport failed: {0}")]
    Stdio(String),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Serves one client over stdin/stdout until it disconnects or `shutdown` fires.
pub async fn serve_stdio(server: McpServer, shutdown: CancellationToken) -> Result<(), ServeError> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| ServeError::Stdio(error.to_string()))?;
    let cancel = running.cancellation_token();
    tokio::select! {
        outcome = running.waiting() => {
            outcome.map_err(|error| ServeError::Stdio(error.to_string()))?;
        }
        () = shutdown.cancelled() => cancel.cancel(),
    }
    Ok(())
}

/// Host and Origin checks for the HTTP transport (DNS-rebinding protection).
#[derive(Clone, Debug)]
pub struct HttpGuards {
    pub allowed_hosts: Vec<String>,
    /// Empty: any request carrying an `Origin` header is refused, except that [`serve_http`]
    /// always accepts the server's own loopback origins (see `own_loopback_origins`).
    pub allowed_origins: Vec<String>,
}

impl Default for HttpGuards {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: Vec::new(),
        }
    }
}

/// The axum router serving MCP at `/mcp`, with the rate-limit header layer.
///
/// `service_stop` ends rmcp's own work; cancel it only after the HTTP server has drained, or
/// calls still in flight are cut off with a 500.
pub fn http_router(server: McpServer, guards: &HttpGuards, service_stop: CancellationToken) -> axum::Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(guards.allowed_hosts.clone())
        .with_cancellation_token(service_stop);
    config = if guards.allowed_origins.is_empty() {
        config.enforce_origin_validation()
    } else {
        config.with_allowed_origins(guards.allowed_origins.clone())
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(rate_limit_headers))
}

/// How long in-flight requests may run after shutdown fires, unless configured otherwise: below
/// Kubernetes' default 30 s termination grace, so the process ends before it is killed.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// The default of [`HttpSettings::drain_quiet`]: longer than the gap between two calls of a busy
/// client, shorter than any grace period worth having.
pub const DEFAULT_DRAIN_QUIET: Duration = Duration::from_secs(1);

/// How long [`serve_http`] waits, after cutting off the calls that outlasted the grace period,
/// for their connections to close before it returns anyway.
const CUT_OFF_SETTLE: Duration = Duration::from_secs(1);

/// How the HTTP transport is served.
#[derive(Clone)]
pub struct HttpSettings {
    pub guards: HttpGuards,
    /// After shutdown fires, in-flight requests get this long to finish; then they are cut off.
    pub shutdown_grace: Duration,
    /// Within the grace period, the listener closes once nothing is in flight and no request
    /// has arrived for this long (the load balancers have noticed `/readyz` and moved away).
    pub drain_quiet: Duration,
    /// Checks `/readyz` runs besides the built-in ones (the upstream, and the registry when
    /// there is one).
    pub readiness_checks: Vec<Arc<dyn ReadinessCheck>>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.readiness_checks.iter().map(|check| check.name()).collect();
        f.debug_struct("HttpSettings")
            .field("guards", &self.guards)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("drain_quiet", &self.drain_quiet)
            .field("readiness_checks", &checks)
            .finish()
    }
}

impl HttpSettings {
    pub fn new(guards: HttpGuards) -> Self {
        Self {
            guards,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            drain_quiet: DEFAULT_DRAIN_QUIET,
            readiness_checks: Vec::new(),
        }
    }

    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    pub fn with_drain_quiet(mut self, quiet: Duration) -> Self {
        self.drain_quiet = quiet;
        self
    }

    pub fn with_readiness_check(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.readiness_checks.push(check);
        self
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self::new(HttpGuards::default())
    }
}

/// Serves MCP over HTTP, with the operations endpoints ([`crate::ops`]) beside it, until
/// `shutdown` fires and the drain ends.
///
/// The drain: `/readyz` answers 503 at once, while the listener keeps accepting so a load
/// balancer that has not yet noticed still gets answers; once nothing is in flight and no
/// request has arrived for [`HttpSettings::drain_quiet`], the listener closes and the server
/// returns. Requests still running when
/// [`HttpSettings::shutdown_grace`] has passed are answered 503 and counted in the log, and the
/// server returns within the grace period plus about a second.
///
/// `/metrics` renders the metrics of `server` (its [`crate::Shared`]); give `access` the same
/// instance so registry errors show there too.
pub async fn serve_http(
    server: McpServer,
    addr: SocketAddr,
    settings: &HttpSettings,
    access: Option<crate::gate::Access>,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    let mut guards = settings.guards.clone();
    guards
        .allowed_origins
        .extend(own_loopback_origins(&guards.allowed_hosts, local.port()));
    let shared = server.shared().clone();
    let mut checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(UpstreamCheck::new(
        shared.clone(),
        READINESS_CHECK_TIMEOUT,
    ))];
    if let Some(access) = &access {
        if !Arc::ptr_eq(&access.metrics, &shared.metrics) {
            tracing::warn!(
                "the registry's metrics are not the server's: registry errors will not show on /metrics"
            );
        }
        checks.push(Arc::new(crate::gate::RegistryCheck::new(access.clone())));
    }
    checks.extend(settings.readiness_checks.iter().cloned());
    let readiness = Arc::new(Readiness::new(checks, shutdown.clone()));
    let ops = crate::ops::ops_router(shared.metrics.clone(), readiness);

    let service_stop = CancellationToken::new();
    let router = http_router(server, &guards, service_stop.clone());
    let drain = Drain::new();
    let track = axum::middleware::from_fn_with_state(drain.clone(), track_in_flight);
    // The ops routes match first; everything else (MCP, admin) falls through to the guarded
    // application, whose requests are tracked for the drain.
    let app = match access {
        None => ops.fallback_service(tower::Layer::layer(&track, router)),
        Some(access) => {
            tokio::spawn(crate::gate::purge_periodically(
                access.clone(),
                Duration::from_secs(30),
                shutdown.clone(),
            ));
            let app = router
                .layer(axum::middleware::from_fn_with_state(
                    access.clone(),
                    crate::gate::gate_mcp,
                ))
                .merge(crate::gate::admin_router(access));
            // The `/mcp/<token>` form is rewritten before routing, so both forms reach one route.
            let app = tower::Layer::layer(&axum::middleware::from_fn(crate::gate::lift_path_token), app);
            ops.fallback_service(tower::Layer::layer(&track, app))
        }
    };
    on_ready(local);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop_accepting = CancellationToken::new();
    let serving = axum::serve(listener, app)
        .with_graceful_shutdown(stop_accepting.clone().cancelled_owned())
        .into_future();
    tokio::pin!(serving);
    tokio::select! {
        served = &mut serving => {
            service_stop.cancel();
            return served.map_err(ServeError::Http);
        }
        () = shutdown.cancelled() => {}
    }
    let deadline = tokio::time::Instant::now() + settings.shutdown_grace;
    tracing::info!(
        in_flight = drain.in_flight(),
        grace_ms = settings.shutdown_grace.as_millis() as u64,
        "draining: not ready, finishing in-flight requests"
    );
    // The server keeps being polled meanwhile, so it goes on accepting (a probe must see 503,
    // not a connection reset) and answering.
    let idle = tokio::select! {
        served = &mut serving => {
            service_stop.cancel();
            return served.map_err(ServeError::Http);
        }
        reached = tokio::time::timeout_at(deadline, drain.settled(settings.drain_quiet)) => reached.is_ok(),
    };
    stop_accepting.cancel();
    let served = if idle {
        tokio::time::timeout_at(deadline, &mut serving).await.ok()
    } else {
        None
    };
    let served = match served {
        Some(served) => served,
        None => {
            tracing::warn!(
                cut_off = drain.in_flight(),
                grace_ms = settings.shutdown_grace.as_millis() as u64,
                "grace period over: cutting off requests still in flight"
            );
            drain.cut_off.cancel();
            match tokio::time::timeout(CUT_OFF_SETTLE, &mut serving).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!("connections still open after the cut-off; stopping anyway");
                    Ok(())
                }
            }
        }
    };
    // Only now: cancelling earlier would cut off calls still in flight with a 500.
    service_stop.cancel();
    served.map_err(ServeError::Http)
}

/// This server's own origins (`http://<loopback name>:<port>`) under each loopback name in
/// `allowed_hosts`. A page with one of these origins was served from this very port, so a
/// request carrying it is same-origin, not cross-site; browser-based clients on the same
/// origin send it, and the MCP conformance suite expects it accepted. DNS rebinding (a foreign
/// name resolving to loopback) is still refused: its `Host` is not in the allow-list.
fn own_loopback_origins(allowed_hosts: &[String], port: u16) -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .filter(|name| {
            allowed_hosts.iter().any(|host| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                host.eq_ignore_ascii_case(name)
            })
        })
        .map(|name| {
            if name.contains(':') {
                format!("http://[{name}]:{port}")
            } else {
                format!("http://{name}:{port}")
            }
        })
        .collect()
}

/// Gives each request a slot a tool call fills with the upstream's rate-limit state, and turns
/// what it holds into `RateLimit-Limit/-Remaining/-Reset` response headers.
async fn rate_limit_headers(mut request: Request, next: Next) -> Response {
    let slot = RateLimitSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let info = slot.0.lock().ok().and_then(|mut cell| cell.take());
    if let Some(info) = info {
        for (name, value) in info.response_headers() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::own_loopback_origins;

    #[test]
    fn own_origins_follow_the_loopback_names_allowed() {
        let defaults = super::HttpGuards::default().allowed_hosts;
        assert_eq!(
            own_loopback_origins(&defaults, 8787),
            [
                "http://localhost:8787",
                "http://127.0.0.1:8787",
                "http://[::1]:8787"
            ]
        );
        let public = vec!["mcp.example.com".to_owned(), "[::1]".to_owned()];
        assert_eq!(own_loopback_origins(&public, 80), ["http://[::1]:80"]);
        assert!(own_loopback_origins(&["mcp.example.com".to_owned()], 80).is_empty());
    }
}
