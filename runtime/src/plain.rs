//! JSON-RPC requests in their plain form, read without rmcp's untagged message enum.
//!
//! rmcp reads every message as an untagged enum: the message is buffered and tried against
//! each request type in turn, and the errors of the types that do not match are built and
//! dropped. That is a sixth of a tool call's instructions. The requests that make up nearly all
//! traffic, a `tools/call` and a `ping`, are read here when they are plain: `jsonrpc`, an
//! integer or string `id`, `method`, and for a `tools/call` `params` holding `name` and
//! optionally `arguments`, nothing else (no `_meta`, no task, no duplicate key). Anything else
//! is `None`, and the transport hands it to rmcp as it came.

use std::borrow::Cow;

use rmcp::model::{CallToolRequestParams, JsonObject, NumberOrString};
use serde::Deserialize;

/// A plain request, read.
#[derive(Debug)]
pub(crate) struct PlainRequest {
    pub id: NumberOrString,
    pub call: PlainCall,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "lives on the stack for one request; boxing would add an allocation to every call"
)]
pub(crate) enum PlainCall {
    Tool(CallToolRequestParams),
    Ping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    id: Id<'a>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    /// Absent, or an object; `null` is not plain.
    #[serde(default, deserialize_with = "present")]
    params: Option<ToolParams>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<ToolParams>, D::Error> {
    ToolParams::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id<'a> {
    Number(i64),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolParams {
    name: String,
    #[serde(default)]
    arguments: Option<JsonObject>,
}

/// The request `bytes` hold, when they hold one JSON-RPC message that is a plain `tools/call`
/// or `ping` (a `ping` with no `params` at all).
pub(crate) fn read(bytes: &[u8]) -> Option<PlainRequest> {
    let message: Message<'_> = serde_json::from_slice(bytes).ok()?;
    if message.jsonrpc != "2.0" {
        return None;
    }
    let call = match (message.method.as_ref(), message.params) {
        ("tools/call", Some(params)) => {
            let mut call = CallToolRequestParams::new(params.name);
            if let Some(arguments) = params.arguments {
                call = call.with_arguments(arguments);
            }
            PlainCall::Tool(call)
        }
        ("ping", None) => PlainCall::Ping,
        _ => return None,
    };
    let id = match message.id {
        Id::Number(number) => NumberOrString::Number(number),
        Id::Text(text) => NumberOrString::String(text.as_ref().into()),
    };
    Some(PlainRequest { id, call })
}

/// Plain `tools/call` messages in the forms they come in: ids of both kinds, keys in any order,
/// escapes, `arguments` absent, empty or null.
#[cfg(test)]
pub(crate) const PLAIN_TOOL_CALLS: [&str; 5] = [
    r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_user","arguments":{"id":"ABC","n":[1,{"x":null}]}}}"#,
    r#"{"id":"req-1","method":"tools/call","jsonrpc":"2.0","params":{"arguments":{},"name":"list"}}"#,
    r#"{"jsonrpc":"2.0","id":-3,"method":"tools/call","params":{"name":"x"}}"#,
    r#"{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"name":"x","arguments":null}}"#,
    r#"{"jsonrpc":"2.0","id":"\u00e9","method":"tools\/call","params":{"name":"caf\u00e9"}}"#,
];

/// What rmcp itself reads from `text`, which the plain readers must match.
#[cfg(test)]
pub(crate) fn rmcp_reads(text: &str) -> rmcp::model::ClientJsonRpcMessage {
    serde_json::from_str(text).expect("rmcp reads the message")
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ClientRequest, JsonRpcMessage};

    use super::*;

    #[test]
    fn plain_requests_are_read_as_rmcp_reads_them() {
        let pings = [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"method":"ping","id":"p","jsonrpc":"2.0"}"#,
        ];
        for text in PLAIN_TOOL_CALLS.into_iter().chain(pings) {
            let ours = read(text.as_bytes()).expect("read here");
            let JsonRpcMessage::Request(theirs) = rmcp_reads(text) else {
                panic!("rmcp reads {text} as a request");
            };
            assert_eq!(ours.id, theirs.id, "{text}");
            match (ours.call, theirs.request) {
                (PlainCall::Tool(ours), ClientRequest::CallToolRequest(theirs)) => {
                    assert_eq!(format!("{ours:?}"), format!("{:?}", theirs.params), "{text}");
                }
                (PlainCall::Ping, ClientRequest::PingRequest(_)) => {}
                (ours, theirs) => panic!("{text}: read as {ours:?}, rmcp reads {theirs:?}"),
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_rmcp() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[1]}}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","name":"y"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}} trailing"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            "not json",
            "",
        ] {
            assert!(read(text.as_bytes()).is_none(), "{text}");
        }
    }
}
