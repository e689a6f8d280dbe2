//! Transports: stdio, and Streamable HTTP at `/mcp` (stateless, JSON responses).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

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

/// Serves MCP over HTTP until `shutdown` fires; in-flight requests finish first.
pub async fn serve_http(
    server: McpServer,
    addr: SocketAddr,
    guards: &HttpGuards,
    access: Option<crate::gate::Access>,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    let mut guards = guards.clone();
    guards
        .allowed_origins
        .extend(own_loopback_origins(&guards.allowed_hosts, local.port()));
    let service_stop = CancellationToken::new();
    let router = http_router(server, &guards, service_stop.clone());
    on_ready(local);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop = shutdown.clone();
    // Graceful: stop accepting, let in-flight requests finish, then stop rmcp's service.
    let served = match access {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        }
        Some(access) => {
            tokio::spawn(crate::gate::purge_periodically(
                access.registry.clone(),
                std::time::Duration::from_secs(30),
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
            axum::serve(
                listener,
                axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        }
    }
    .map_err(ServeError::Http);
    service_stop.cancel();
    served
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
