//! The answer to a plain request ([`crate::plain`]) that the server answers itself, written as
//! rmcp writes it for a peer on a protocol version before 2026-07-28, the only peers either
//! transport answers this way ([`legacy_lifecycle`]).
//!
//! A successful `tools/call` is written without rmcp's result type: its structured content is
//! written to JSON once and carried twice, as `structuredContent` and, escaped, as the text
//! block, where rmcp's type would need it as a [`serde_json::Value`] and again as text.

use rmcp::model::{
    CallToolResponse, ErrorData, JsonRpcResponse, JsonRpcVersion2_0, MetaObject, ProtocolVersion, RequestId,
    ServerJsonRpcMessage, ServerResult,
};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::context::Structured;
use crate::server::ToolAnswer;

/// Room for a typical answer (a `get` result is about 2 KiB), so the response is written without
/// growing its buffer several times; larger ones grow from here.
const RESPONSE_CAPACITY: usize = 4096;

/// Whether a peer on `version` has the `initialize` lifecycle and none of what 2026-07-28 adds
/// (standard headers, per-request metadata, `resultType`).
pub(crate) fn legacy_lifecycle(version: &ProtocolVersion) -> bool {
    version.has_initialize() && version.as_str() < ProtocolVersion::STANDARD_HEADERS.as_str()
}

/// The JSON-RPC response to a `tools/call` with id `id`.
pub(crate) fn tool_call(id: RequestId, answer: Result<ToolAnswer, ErrorData>) -> serde_json::Result<Vec<u8>> {
    let result = match answer {
        Ok(ToolAnswer::Success { structured, meta }) => match object_json(structured) {
            Ok(json) => return write(&tool_success(id, &json, meta)),
            Err(structured) => ToolAnswer::Success { structured, meta }.into_result(),
        },
        Ok(answer) => answer.into_result(),
        Err(error) => Err(error),
    };
    message(id, result.map(|result| CallToolResponse::from(result).into()))
}

/// The JSON-RPC response to a `ping` with id `id`.
pub(crate) fn ping(id: RequestId) -> serde_json::Result<Vec<u8>> {
    message(id, Ok(ServerResult::empty(())))
}

/// A response in rmcp's own message type, shaped as rmcp's handler shapes every result for a
/// peer before 2026-07-28.
fn message(id: RequestId, result: Result<ServerResult, ErrorData>) -> serde_json::Result<Vec<u8>> {
    let message = match result {
        Ok(mut result) => {
            result.strip_result_type_for_legacy_peer();
            result.strip_non_object_output_for_legacy_peer();
            ServerJsonRpcMessage::response(result, id)
        }
        Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
    };
    write(&message)
}

fn write(message: &impl Serialize) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(RESPONSE_CAPACITY);
    serde_json::to_writer(&mut bytes, message)?;
    Ok(bytes)
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

/// A successful `tools/call` response, as rmcp writes it for an older peer (no `resultType`).
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

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
                let answer = ToolAnswer::Success {
                    structured: form(),
                    meta: meta.clone(),
                };
                let ours = tool_call(id.clone(), Ok(answer)).expect("writes");
                let answer = ToolAnswer::Success {
                    structured: form(),
                    meta: meta.clone(),
                };
                assert_eq!(String::from_utf8_lossy(&ours), rmcp_writes(answer, id.clone()));
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
    fn only_versions_before_2026_07_28_with_initialize_are_legacy() {
        for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
            let known = ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .find(|known| known.as_str() == version)
                .expect("a version rmcp knows");
            assert!(legacy_lifecycle(known), "{version}");
        }
        assert!(!legacy_lifecycle(&ProtocolVersion::STANDARD_HEADERS));
        assert!(!legacy_lifecycle(&ProtocolVersion::LATEST));
    }
}
