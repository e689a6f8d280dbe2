//! Transports: stdio, and Streamable HTTP at `/mcp` (stateless, JSON responses) beside the
//! operations endpoints, with a bounded graceful drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::connections::ConnectionLimits;
use crate::drain::{Drain, TrackInFlight};
use crate::extension::HttpExtension;
use crate::http_guard::{CheckHostAndOrigin, HostGuard, HostRules};
use crate::ops::{READINESS_CHECK_TIMEOUT, Readiness, ReadinessCheck, UpstreamCheck};
use crate::server::McpServer;

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
    // Through the IO reactor when stdin and stdout are pipes (as MCP clients start servers),
    // rather than a hand-off to the blocking pool for every read and write; other streams (a
    // terminal, a file) fall back to the blocking handles.
    let (read, write) = rmcp::transport::stdio_pipes();
    let transport = crate::stdio::StdioTransport::new(read, write, server.clone());
    let running = server
        .serve(transport)
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

/// The axum router serving MCP at `/mcp` (see [`crate::mcp_endpoint`]).
///
/// `service_stop` ends rmcp's own work; cancel it only after the HTTP server has drained, or
/// calls still in flight are cut off with a 500. rmcp checks Host and Origin against the same
/// `rules` that [`serve_http`] checks first with messages of its own.
pub fn http_router(
    server: McpServer,
    rules: &HostRules,
    body_read_timeout: Duration,
    service_stop: CancellationToken,
) -> axum::Router {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(rules.allowed_hosts.clone())
        .with_allowed_origins(rules.allowed_origins.clone())
        .enforce_origin_validation()
        .with_cancellation_token(service_stop);
    // Shared, not cloned per request: routing clones the service it is handed, and this one
    // carries its whole configuration (host and origin lists included), which rmcp's own
    // `Service::call` clones once more.
    let for_rmcp = server.clone();
    let service = Arc::new(StreamableHttpService::new(
        move || Ok(for_rmcp.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    ));
    let endpoint = Arc::new(crate::mcp_endpoint::McpEndpoint {
        server,
        rmcp: service,
        body_read_timeout,
    });
    let handle = move |request: axum::extract::Request| {
        let endpoint = endpoint.clone();
        async move { endpoint.answer(request).await }
    };
    axum::Router::new().nest_service("/mcp", axum::routing::any(handle))
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
    pub rules: HostRules,
    pub limits: ConnectionLimits,
    /// After shutdown fires, in-flight requests get this long to finish; then they are cut off.
    pub shutdown_grace: Duration,
    /// Within the grace period, the listener closes once nothing is in flight and no request
    /// has arrived for this long (the load balancers have noticed `/readyz` and moved away).
    pub drain_quiet: Duration,
    /// Checks `/readyz` runs besides the built-in ones (each integration's upstream) and the
    /// extension's.
    pub readiness_checks: Vec<Arc<dyn ReadinessCheck>>,
    /// Warnings `/readyz` shows in its `warnings` field, e.g. that anyone may call every tool.
    pub notices: Vec<String>,
    /// What services beside MCP add to the server (see [`HttpExtension`]), in order: the
    /// first one's layer is the outermost, so it sees a request first.
    pub extensions: Vec<Arc<dyn HttpExtension>>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.readiness_checks.iter().map(|check| check.name()).collect();
        f.debug_struct("HttpSettings")
            .field("rules", &self.rules)
            .field("limits", &self.limits)
            .field("notices", &self.notices)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("drain_quiet", &self.drain_quiet)
            .field("readiness_checks", &checks)
            .field("extensions", &self.extensions.len())
            .finish()
    }
}

impl HttpSettings {
    pub fn new(rules: HostRules) -> Self {
        Self {
            rules,
            limits: ConnectionLimits::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            drain_quiet: DEFAULT_DRAIN_QUIET,
            readiness_checks: Vec::new(),
            notices: Vec::new(),
            extensions: Vec::new(),
        }
    }

    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// A warning `/readyz` shows for as long as the server runs.
    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        self.notices.push(notice.into());
        self
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

    /// Plugs `extension` into the server: its layer around `/mcp`, its routes, checks and tasks.
    /// Its layer goes inside those of the extensions plugged in before it.
    pub fn with_extension(mut self, extension: Arc<dyn HttpExtension>) -> Self {
        self.extensions.push(extension);
        self
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self::new(HostRules::new(&[], &[]))
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
/// `/metrics` renders the metrics of `server` (its [`crate::Shared`]); an extension that
/// counts anything registers it there before the server starts.
pub async fn serve_http(
    server: McpServer,
    addr: SocketAddr,
    settings: &HttpSettings,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    let rules = settings.rules.clone().with_own_origins(local.port());
    let shared = server.shared().clone();
    let mut checks: Vec<Arc<dyn ReadinessCheck>> = server
        .integrations()
        .iter()
        .map(|integration| {
            Arc::new(UpstreamCheck::new(
                integration.shared.clone(),
                READINESS_CHECK_TIMEOUT,
            )) as Arc<dyn ReadinessCheck>
        })
        .collect();
    checks.extend(
        settings
            .extensions
            .iter()
            .flat_map(|extension| extension.readiness_checks()),
    );
    checks.extend(settings.readiness_checks.iter().cloned());
    let readiness = Arc::new(Readiness::new(checks, shutdown.clone()).with_notices(settings.notices.clone()));
    let ops = crate::ops::ops_router(shared.metrics.clone(), readiness);

    let service_stop = CancellationToken::new();
    let mcp = http_router(
        server,
        &rules,
        settings.limits.body_read_timeout,
        service_stop.clone(),
    );
    // The extension's tasks stop with the server, whichever way it returns.
    let tasks_stop = shutdown.child_token();
    let _stop_tasks = tasks_stop.clone().drop_guard();
    // The layers wrap `/mcp` alone, innermost first, so the first extension's is the outermost;
    // the routes sit beside them, outside every layer.
    let mut app = mcp;
    for extension in settings.extensions.iter().rev() {
        app = extension.layer(app);
    }
    for extension in &settings.extensions {
        for task in extension.background_tasks(tasks_stop.clone()) {
            tokio::spawn(task);
        }
        app = app.merge(extension.routes());
    }
    let drain = Drain::new();
    // The ops routes match first (probes send any Host and no token); everything else (MCP and
    // what the extension adds) falls through to the guarded application: Host and Origin
    // checked, then tracked for the drain.
    let guarded = CheckHostAndOrigin::new(
        Arc::new(HostGuard::new(rules)),
        TrackInFlight::new(drain.clone(), app),
    );
    let app = ops.fallback_service(guarded);
    on_ready(local);
    let stop_accepting = CancellationToken::new();
    let serving = crate::connections::serve(listener, app, settings.limits, stop_accepting.clone());
    tokio::pin!(serving);
    tokio::select! {
        () = &mut serving => {
            service_stop.cancel();
            return Ok(());
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
        () = &mut serving => {
            service_stop.cancel();
            return Ok(());
        }
        reached = tokio::time::timeout_at(deadline, drain.settled(settings.drain_quiet)) => reached.is_ok(),
    };
    stop_accepting.cancel();
    let served = if idle {
        tokio::time::timeout_at(deadline, &mut serving).await.ok()
    } else {
        None
    };
    if served.is_none() {
        {
            tracing::warn!(
                cut_off = drain.in_flight(),
                grace_ms = settings.shutdown_grace.as_millis() as u64,
                "grace period over: cutting off requests still in flight"
            );
            drain.cut_off.cancel();
            if tokio::time::timeout(CUT_OFF_SETTLE, &mut serving).await.is_err() {
                tracing::warn!("connections still open after the cut-off; stopping anyway");
            }
        }
    }
    // Only now: cancelling earlier would cut off calls still in flight with a 500.
    service_stop.cancel();
    Ok(())
}
