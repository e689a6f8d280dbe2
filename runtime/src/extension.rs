//! The one way a service beside MCP plugs into the HTTP server: [`HttpExtension`].
//!
//! The server owns the transport, the operations endpoints, the Host and Origin checks and the
//! drain; an extension (the registry of scoped servers, for instance) brings what it adds to
//! them, and nothing else reaches into the server. Like tonic's optional capabilities in sibling
//! crates, the server knows no extension by name, so a server without one compiles none of it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ops::ReadinessCheck;
use crate::tool::BoxFuture;

/// What an extension adds to [`crate::serve::serve_http`]: a layer around MCP, routes beside it,
/// readiness checks and background work.
///
/// Everything it adds sits behind the server's Host and Origin checks and is counted by the
/// drain; the operations endpoints (`/healthz`, `/readyz`, `/metrics`) stay in front of it.
pub trait HttpExtension: Send + Sync {
    /// Wraps the MCP routes (`/mcp`): to admit only some callers, say, or to rewrite a request
    /// before it is routed. The router returned is what serves `/mcp`.
    fn layer(&self, mcp: axum::Router) -> axum::Router;

    /// Routes served beside `/mcp`.
    fn routes(&self) -> axum::Router {
        axum::Router::new()
    }

    /// Checks `/readyz` runs besides the server's own.
    fn readiness_checks(&self) -> Vec<Arc<dyn ReadinessCheck>> {
        Vec::new()
    }

    /// Work that runs while the server serves; each task ends when `stop` fires, which happens
    /// at the latest when the server returns.
    fn background_tasks(&self, stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        let _ = stop;
        Vec::new()
    }
}
