//! Plain `tools/call` and `ping` POSTs to `/mcp`, answered without rmcp's per-request service.
//!
//! In stateless mode rmcp serves each POST by starting a service for it: a one-message
//! transport, about a dozen spawned tasks, the untagged read of the message and a handshake
//! state rebuilt from the headers. For the two requests that make up nearly all traffic that is
//! most of what HTTP costs. A POST that is plain in everything rmcp looks at is answered here,
//! by the same handler and with the same response rmcp gives (200, `Content-Type:
//! application/json`, the JSON-RPC response):
//!
//! - `Accept` lists `application/json` and `text/event-stream`, with no parameters or quotes;
//! - `Content-Type` is `application/json`;
//! - `MCP-Protocol-Version`, when sent, names a version rmcp knows that has the `initialize`
//!   lifecycle (so no per-request metadata or standard headers apply);
//! - the body is a plain request ([`crate::plain`]).
//!
//! Everything else reaches rmcp as it came. Host and Origin were checked before either sees
//! the request ([`crate::http_guard`]), against the lists rmcp is given.

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::ProtocolVersion;

use crate::http_guard::is_json;
use crate::plain::{PlainCall, PlainRequest};
use crate::plain_answer::legacy_lifecycle;
use crate::server::McpServer;

const PROTOCOL_VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// The answer to a POST whose head is `parts` and whose body is `bytes`, if it is plain.
pub(crate) async fn answer(server: &McpServer, parts: &Parts, bytes: &[u8]) -> Option<Response> {
    if !plain_headers(&parts.headers) {
        return None;
    }
    let PlainRequest { id, call } = crate::plain::read(bytes)?;
    let answer = match call {
        PlainCall::Tool(params) => {
            crate::plain_answer::tool_call(id, server.answer_for(params, Some(parts)).await)
        }
        PlainCall::Ping => crate::plain_answer::ping(id),
    };
    Some(json_response(answer))
}

fn json_response(answer: serde_json::Result<Vec<u8>>) -> Response {
    match answer {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], Bytes::from(body)).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "could not serialize a JSON-RPC response");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the response could not be serialized",
            )
                .into_response()
        }
    }
}

/// Whether the headers are ones rmcp would pass without a second look (see the module doc).
fn plain_headers(headers: &HeaderMap) -> bool {
    is_json(headers) && accepts_json_and_sse(headers) && plain_protocol_version(headers)
}

fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        // Weights, other parameters and quoted strings are rmcp's to read.
        if value.contains([';', '"']) {
            return false;
        }
        for media_type in value.split(',').map(str::trim) {
            json |= media_type.eq_ignore_ascii_case("application/json");
            sse |= media_type.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

fn plain_protocol_version(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(&PROTOCOL_VERSION_HEADER).iter();
    let Some(value) = values.next() else {
        return true;
    };
    values.next().is_none()
        && ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .any(|known| known.as_str().as_bytes() == value.as_bytes() && legacy_lifecycle(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().expect("header value"));
        }
        headers
    }

    const JSON: (&str, &str) = ("content-type", "application/json");
    const BOTH: (&str, &str) = ("accept", "application/json, text/event-stream");

    #[test]
    fn plain_headers_are_the_ones_clients_send() {
        assert!(plain_headers(&headers(&[JSON, BOTH])));
        assert!(plain_headers(&headers(&[
            ("content-type", "Application/JSON; charset=utf-8"),
            ("accept", "text/event-stream"),
            ("accept", "application/json"),
        ])));
        for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
            let mut with_version = headers(&[JSON, BOTH]);
            with_version.insert(&PROTOCOL_VERSION_HEADER, version.parse().expect("version"));
            assert!(plain_headers(&with_version), "{version}");
        }
    }

    #[test]
    fn anything_rmcp_would_look_at_twice_is_left_to_it() {
        for pairs in [
            &[BOTH][..],
            &[("content-type", "text/plain"), BOTH],
            &[JSON],
            &[JSON, ("accept", "application/json")],
            &[JSON, ("accept", "*/*")],
            &[JSON, ("accept", "application/json;q=0, text/event-stream")],
            &[JSON, ("accept", "application/json, text/event-stream;q=0.5")],
            &[JSON, ("accept", "\"application/json\", text/event-stream")],
            &[JSON, BOTH, ("mcp-protocol-version", "2026-07-28")],
            &[JSON, BOTH, ("mcp-protocol-version", "2099-01-01")],
            &[JSON, BOTH, ("mcp-protocol-version", "2025-06-18 ")],
            &[
                JSON,
                BOTH,
                ("mcp-protocol-version", "2025-06-18"),
                ("mcp-protocol-version", "2025-03-26"),
            ],
        ] {
            assert!(!plain_headers(&headers(pairs)), "{pairs:?}");
        }
    }
}
