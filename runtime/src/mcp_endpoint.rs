//! One request to `/mcp`, from its body to its response headers.
//!
//! A POST's body is read within the body timeout and no larger than rmcp's limit; a plain
//! `tools/call` or `ping` is then answered by [`crate::plain_http`], anything else by rmcp's
//! Streamable HTTP service. Either way the response carries the upstream's rate-limit state as
//! `RateLimit-*` headers, and rmcp's answer to a body that is not a JSON-RPC message (HTTP 415)
//! becomes what JSON-RPC over HTTP expects.
//!
//! These steps are one handler rather than a middleware each: every layer in front of `/mcp`
//! clones the service behind it and boxes a future per request, which the two requests that
//! make up nearly all traffic would pay for nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;

use crate::http_guard::{is_json, json_rpc_error, read_body};
use crate::server::{McpServer, RateLimitSlot};

/// rmcp's service for the requests that are not plain.
pub(crate) type RmcpService = Arc<StreamableHttpService<McpServer, NeverSessionManager>>;

/// What `/mcp` needs to answer a request.
pub(crate) struct McpEndpoint {
    pub server: McpServer,
    pub rmcp: RmcpService,
    /// How long a POST's body may take to arrive after its headers (408 after that).
    pub body_read_timeout: Duration,
}

impl McpEndpoint {
    pub(crate) async fn answer(&self, mut request: Request) -> Response {
        // Filled by a tool call (see `McpServer::answer_for`) with the upstream's rate-limit
        // state; read once the answer is ready.
        let slot = RateLimitSlot::default();
        request.extensions_mut().insert(slot.clone());
        let mut response = if request.method() == Method::POST {
            self.answer_post(request).await
        } else {
            self.rmcp.handle(request).await.into_response()
        };
        let info = slot.0.lock().ok().and_then(|mut cell| cell.take());
        if let Some(info) = info {
            for (name, value) in info.response_headers() {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }

    async fn answer_post(&self, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let bytes = match read_body(body, self.body_read_timeout).await {
            Ok(bytes) => bytes,
            Err(refusal) => return refusal,
        };
        if let Some(answered) = crate::plain_http::answer(&self.server, &parts, &bytes).await {
            return answered;
        }
        let json_content = is_json(&parts.headers);
        let response = self
            .rmcp
            .handle(Request::from_parts(parts, Body::from(bytes.clone())))
            .await
            .into_response();
        if response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE && json_content {
            return json_rpc_error(&bytes);
        }
        response
    }
}
