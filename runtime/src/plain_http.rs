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

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolResponse, JsonRpcResponse, JsonRpcVersion2_0, MetaObject, ProtocolVersion, RequestId,
    ServerJsonRpcMessage, ServerResult,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::context::Structured;
use crate::http_guard::{is_json, read_body};
use crate::plain::{PlainCall, PlainRequest};
use crate::server::{McpServer, ToolAnswer};

const PROTOCOL_VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// Room for a typical answer (a `get` result is about 2 KiB), so the response is written without
/// growing its buffer several times; larger ones grow from here.
const RESPONSE_CAPACITY: usize = 4096;

/// Answers `request` if it is plain; hands it back, unchanged, if not.
pub(crate) async fn answer(server: &McpServer, request: Request) -> Result<Response, Request> {
    if request.method() != http::Method::POST || !plain_headers(request.headers()) {
        return Err(request);
    }
    let (parts, body) = request.into_parts();
    // In memory already (`read_json_rpc_body` read it in time), so this takes it without a
    // copy and the timeout never fires.
    let bytes = match read_body(body, Duration::from_secs(1)).await {
        Ok(bytes) => bytes,
        Err(refusal) => return Ok(refusal),
    };
    let Some(PlainRequest { id, call }) = crate::plain::read(&bytes) else {
        return Err(Request::from_parts(parts, Body::from(bytes)));
    };
    let result = match call {
        PlainCall::Tool(params) => match server.answer_for(params, Some(&parts)).await {
            Ok(ToolAnswer::Success { structured, meta }) => match object_json(structured) {
                Ok(json) => return Ok(json_response(&tool_success(id, &json, meta))),
                Err(structured) => ToolAnswer::Success { structured, meta }.into_result(),
            },
            Ok(answer) => answer.into_result(),
            Err(error) => Err(error),
        }
        .map(|result| CallToolResponse::from(result).into()),
        PlainCall::Ping => Ok(ServerResult::empty(())),
    };
    let message = match result {
        Ok(mut result) => {
            // What rmcp's handler does to every result for a peer before 2026-07-28, which
            // is every peer this module answers.
            result.strip_result_type_for_legacy_peer();
            result.strip_non_object_output_for_legacy_peer();
            ServerJsonRpcMessage::response(result, id)
        }
        Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
    };
    Ok(json_response(&message))
}

/// A success's structured content as JSON text, when it is an object (as every handler's is);
/// anything else, or anything that does not write, is handed back for rmcp's shaping.
fn object_json(structured: Structured) -> Result<Box<RawValue>, Structured> {
    let json = match &structured {
        Structured::Value(value) => serde_json::value::to_raw_value(value),
        Structured::Typed(typed) => typed.to_json(),
    };
    match json {
        Ok(json) if json.get().starts_with('{') => Ok(json),
        _ => Err(structured),
    }
}

/// A successful `tools/call` response as rmcp writes it for a peer before 2026-07-28 (no
/// `resultType`), with the structured content written once and carried twice: as it is, and
/// escaped in the text block.
fn tool_success(
    id: RequestId,
    json: &RawValue,
    meta: Option<MetaObject>,
) -> JsonRpcResponse<ToolSuccess<'_>> {
    JsonRpcResponse {
        jsonrpc: JsonRpcVersion2_0,
        id,
        result: ToolSuccess {
            content: [TextBlock {
                kind: "text",
                text: json.get(),
            }],
            structured_content: json,
            is_error: false,
            meta,
        },
    }
}

/// rmcp's `CallToolResult`, for a success with one text block and structured content.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSuccess<'a> {
    content: [TextBlock<'a>; 1],
    structured_content: &'a RawValue,
    is_error: bool,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<MetaObject>,
}

/// rmcp's `ContentBlock::Text` with neither annotations nor `_meta`.
#[derive(Serialize)]
struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

fn json_response(message: &impl Serialize) -> Response {
    let mut body = Vec::with_capacity(RESPONSE_CAPACITY);
    match serde_json::to_writer(&mut body, message) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/json")], Bytes::from(body)).into_response(),
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
        && ProtocolVersion::KNOWN_VERSIONS.iter().any(|known| {
            known.as_str().as_bytes() == value.as_bytes()
                && known.has_initialize()
                && known.as_str() < ProtocolVersion::STANDARD_HEADERS.as_str()
        })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

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

    /// What rmcp writes for `answer`, shaped as its handler shapes a result for an older peer.
    fn rmcp_writes(answer: ToolAnswer, id: RequestId) -> String {
        let mut result: ServerResult = CallToolResponse::from(answer.into_result().expect("a result")).into();
        result.strip_result_type_for_legacy_peer();
        result.strip_non_object_output_for_legacy_peer();
        serde_json::to_string(&ServerJsonRpcMessage::response(result, id)).expect("serializes")
    }

    /// A spec type as the generator writes one: fields, then the rest of the object.
    #[derive(Clone, Debug, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Member {
        id: String,
        display_name: Option<String>,
        score: f64,
        #[serde(flatten)]
        extra: serde_json::Map<String, Value>,
    }

    #[test]
    fn a_success_is_written_byte_for_byte_as_rmcp_writes_it() {
        let awkward = json!({
            "nickName": "Zoë \"Z\" O'Brien\n<script>\u{2028}\t\\",
            "emails": [{ "value": "z@example.com", "primary": true }],
            "counts": [0, -1, 18446744073709551615_u64, 1.5, 1e-7, 2.0],
            "nested": { "empty": {}, "none": null, "list": [] },
        });
        let member = Member {
            id: "X4CL2RW6BJLMOQGYPHVYPN57QJ".into(),
            display_name: None,
            score: 2.0,
            // As read from an upstream body: the rest never repeats a field's key.
            extra: awkward.as_object().cloned().unwrap_or_default(),
        };
        let forms: [&dyn Fn() -> Structured; 3] = [
            &|| Structured::Value(awkward.clone()),
            &|| Structured::Typed(Box::new(member.clone())),
            &|| Structured::Value(json!({ "status": 204 })),
        ];
        let mut rate_limited = MetaObject::default();
        rate_limited.0.insert(
            "com.op-scim-mcp/rateLimit".into(),
            json!({ "remaining": 9, "limit": 10 }),
        );
        let ids = [RequestId::Number(7), RequestId::String("call-\"8\"".into())];
        for (id, meta) in ids.into_iter().zip([None, Some(rate_limited)]) {
            for form in forms {
                let json = object_json(form()).expect("an object");
                let ours = serde_json::to_string(&tool_success(id.clone(), &json, meta.clone()))
                    .expect("serializes");
                let answer = ToolAnswer::Success {
                    structured: form(),
                    meta: meta.clone(),
                };
                assert_eq!(ours, rmcp_writes(answer, id.clone()));
            }
        }
    }

    #[test]
    fn structured_content_that_is_not_an_object_is_left_to_rmcp() {
        for structured in [
            Structured::Value(json!([1, 2])),
            Structured::Value(json!("text")),
            Structured::Typed(Box::new(json!(null))),
            Structured::Typed(Box::new(vec![json!({})])),
        ] {
            assert!(object_json(structured).is_err());
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
