//! A server with two tools and no upstream, for the runtime's own tests of whole sessions.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::context::{Shared, Structured, ToolContext, ToolOutput};
use crate::cursor::{CursorCodec, CursorKey};
use crate::error::ToolError;
use crate::scope::Scope;
use crate::server::{McpServer, ServerSettings};
use crate::spec::{Annotations, MethodKind, ToolNaming, ToolSpec};
use crate::tool::{BoxFuture, Catalog, JsonObject, ToolEntry};
use crate::upstream::{Secret, Upstream, UpstreamConfig};

const fn spec(name: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec {
        name,
        portable_name: name,
        title: name,
        description,
        resource: "Tests",
        singular: "test",
        method: name,
        kind: MethodKind::Read,
        tags: &[],
        annotations: Annotations {
            read_only: true,
            destructive: None,
            idempotent: None,
            open_world: false,
        },
        input_schema: r#"{"type":"object"}"#,
        output_schema: r#"{"type":"object"}"#,
        audit_targets: &[],
    }
}

static TOOLS: [ToolEntry; 2] = [
    ToolEntry {
        spec: spec("echo", "Answers with its arguments."),
        call: echo,
    },
    ToolEntry {
        spec: spec("wait", "Answers after `ms` milliseconds."),
        call: wait,
    },
];

fn output(arguments: JsonObject) -> ToolOutput {
    ToolOutput {
        structured: Structured::Value(Value::Object(arguments)),
        rate_limit: None,
        status: 200,
        upstream_requests: None,
    }
}

fn echo(_: &ToolContext, arguments: JsonObject) -> BoxFuture<'_, Result<ToolOutput, ToolError>> {
    Box::pin(async move { Ok(output(arguments)) })
}

fn wait(_: &ToolContext, arguments: JsonObject) -> BoxFuture<'_, Result<ToolOutput, ToolError>> {
    Box::pin(async move {
        let ms = arguments.get("ms").and_then(Value::as_u64).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(output(arguments))
    })
}

/// The server: `echo` and `wait`, over an upstream nothing listens on.
pub(crate) fn server() -> McpServer {
    let upstream =
        Upstream::new(UpstreamConfig::new("http://127.0.0.1:9", Secret::new("t"))).expect("upstream");
    let shared = Shared::new(upstream, CursorCodec::new(CursorKey::random()), "Test");
    let catalog = Catalog {
        tools: &TOOLS,
        prompts: &[],
        references: &[],
    };
    let settings = ServerSettings {
        naming: ToolNaming::Default,
        scope: Scope::default(),
        server_name: "test".into(),
        server_version: "0".into(),
    };
    McpServer::new(Arc::new(shared), catalog, settings).expect("a server")
}
