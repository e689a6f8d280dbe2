//! The MCP face of a generated server: `tools/list`, `tools/call`, `get_tool`.
//!
//! Scoping happens once, at construction: a tool outside the scope is not in the list and a
//! call to it gets the same "unknown tool" error as a name that never existed, without any
//! upstream request.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, Implementation,
    ListToolsResult, MetaObject, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use crate::context::{Shared, ToolContext};
use crate::error::ToolError;
use crate::ratelimit::RateLimitInfo;
use crate::scope::Scope;
use crate::tool::{ToolEntry, ToolNaming, ToolSpec};

/// The `_meta` key under which results carry the normalized upstream rate-limit state.
pub const RATE_LIMIT_META_KEY: &str = "com.op-scim-mcp/rateLimit";

/// How many tools one `tools/list` page holds.
const TOOLS_PAGE_SIZE: usize = 50;

/// Filled by a tool call with the upstream's rate-limit state, read by the HTTP layer that
/// turns it into `RateLimit-*` response headers. Lives in the request's extensions.
#[derive(Clone, Debug, Default)]
pub struct RateLimitSlot(pub Arc<Mutex<Option<RateLimitInfo>>>);

#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub naming: ToolNaming,
    pub scope: Scope,
    pub server_name: String,
    pub server_version: String,
}

/// One scoped MCP server over a fixed set of generated tools. Cheap to clone.
#[derive(Clone, Debug)]
pub struct McpServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    /// In scope, sorted by published name.
    tools: Vec<PublishedTool>,
    server_name: String,
    server_version: String,
}

#[derive(Debug)]
struct PublishedTool {
    name: &'static str,
    entry: &'static ToolEntry,
    definition: Tool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerBuildError {
    #[error("the scope ({0}) matches no tool; widen --methods or --tags")]
    EmptyScope(String),
    #[error("tool `{tool}` publishes a schema that is not a JSON object: {reason}")]
    BadSchema { tool: &'static str, reason: String },
}

impl McpServer {
    pub fn new(
        shared: Arc<Shared>,
        tools: &'static [ToolEntry],
        settings: ServerSettings,
    ) -> Result<Self, ServerBuildError> {
        let mut published = Vec::new();
        for entry in tools.iter().filter(|entry| settings.scope.allows(&entry.spec)) {
            let name = settings.naming.name_of(&entry.spec);
            published.push(PublishedTool {
                name,
                entry,
                definition: definition(&entry.spec, name)?,
            });
        }
        if published.is_empty() {
            return Err(ServerBuildError::EmptyScope(settings.scope.to_string()));
        }
        published.sort_by(|a, b| a.name.cmp(b.name));
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                tools: published,
                server_name: settings.server_name,
                server_version: settings.server_version,
            }),
        })
    }

    /// The tool definitions as published, in order.
    pub fn tools(&self) -> Vec<Tool> {
        self.inner
            .tools
            .iter()
            .map(|tool| tool.definition.clone())
            .collect()
    }

    fn find(&self, name: &str) -> Option<&PublishedTool> {
        self.inner
            .tools
            .binary_search_by(|tool| tool.name.cmp(name))
            .ok()
            .map(|index| &self.inner.tools[index])
    }

    /// Runs one tool call; also the entry point for in-process tests.
    pub async fn call(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<CallToolResult, ErrorData> {
        self.call_reporting_rate_limit(name, arguments)
            .await
            .map(|(result, _)| result)
    }

    async fn call_reporting_rate_limit(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<(CallToolResult, Option<RateLimitInfo>), ErrorData> {
        let Some(tool) = self.find(name) else {
            return Err(ErrorData::invalid_params(format!("Unknown tool: {name}"), None));
        };
        let started = Instant::now();
        let context = ToolContext::new(self.inner.shared.clone(), &tool.entry.spec);
        let outcome = (tool.entry.call)(&context, arguments).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let result = match outcome {
            Ok(output) => {
                tracing::info!(tool = name, outcome = "ok", elapsed_ms, "tool call");
                let meta = rate_limit_meta(output.rate_limit.as_ref());
                (
                    CallToolResult::structured(output.structured).with_meta(meta),
                    output.rate_limit,
                )
            }
            Err(error) => {
                match &error {
                    ToolError::Internal(detail) => {
                        tracing::error!(tool = name, detail = %detail, "tool call failed")
                    }
                    other => tracing::info!(tool = name, outcome = other.kind(), elapsed_ms, "tool call"),
                }
                (error_result(&error, &context), error.rate_limit().cloned())
            }
        };
        Ok(result)
    }
}

fn error_result(error: &ToolError, context: &ToolContext) -> CallToolResult {
    let noun = context.noun();
    let mut result = CallToolResult::error(vec![ContentBlock::text(error.message(noun))]);
    result.structured_content = Some(error.structured(noun));
    result.with_meta(rate_limit_meta(error.rate_limit()))
}

fn rate_limit_meta(info: Option<&RateLimitInfo>) -> Option<MetaObject> {
    let info = info?;
    let mut meta = MetaObject::default();
    meta.0
        .insert(RATE_LIMIT_META_KEY.to_owned(), serde_json::to_value(info).ok()?);
    Some(meta)
}

/// A tool's published definition as JSON, exactly as `tools/list` shows it.
pub fn tool_definition_json(spec: &'static ToolSpec, name: &'static str) -> Result<Value, ServerBuildError> {
    let tool = definition(spec, name)?;
    serde_json::to_value(tool).map_err(|error| ServerBuildError::BadSchema {
        tool: spec.name,
        reason: error.to_string(),
    })
}

fn definition(spec: &'static ToolSpec, name: &'static str) -> Result<Tool, ServerBuildError> {
    let parse = |text: &str| -> Result<serde_json::Map<String, Value>, ServerBuildError> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ServerBuildError::BadSchema {
                tool: spec.name,
                reason: "not an object".into(),
            }),
            Err(error) => Err(ServerBuildError::BadSchema {
                tool: spec.name,
                reason: error.to_string(),
            }),
        }
    };
    let annotations = ToolAnnotations::from_raw(
        None,
        Some(spec.annotations.read_only),
        spec.annotations.destructive,
        spec.annotations.idempotent,
        Some(spec.annotations.open_world),
    );
    Ok(
        Tool::new(name, spec.description, Arc::new(parse(spec.input_schema)?))
            .with_title(spec.title)
            .with_raw_output_schema(Arc::new(parse(spec.output_schema)?))
            .with_annotations(annotations),
    )
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(&self.inner.server_name, &self.inner.server_version))
            .with_instructions(format!(
                "Tools for the {label} SCIM bridge: audit, provision, suspend and reactivate users and manage groups. \
                 List tools page with `limit` and `next_cursor`; pass `next_cursor` back unchanged. \
                 Rate-limit errors are returned at once with the time to wait; this server never retries.",
                label = self.inner.shared.label
            ))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = &self.inner.tools;
        let start = match request.and_then(|params| params.cursor) {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix("tools:")
                .and_then(|offset| offset.parse::<usize>().ok())
                .filter(|offset| *offset <= tools.len())
                .ok_or_else(|| ErrorData::invalid_params("invalid cursor for tools/list", None))?,
        };
        let end = (start + TOOLS_PAGE_SIZE).min(tools.len());
        let page = tools[start..end]
            .iter()
            .map(|tool| tool.definition.clone())
            .collect();
        let mut result = ListToolsResult::with_all_items(page);
        result.next_cursor = (end < tools.len()).then(|| format!("tools:{end}"));
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.find(name).map(|tool| tool.definition.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (result, rate_limit) = self
            .call_reporting_rate_limit(&request.name, request.arguments.unwrap_or_default())
            .await?;
        let slot = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RateLimitSlot>());
        if let (Some(slot), Some(info)) = (slot, rate_limit)
            && let Ok(mut cell) = slot.0.lock()
        {
            *cell = Some(info);
        }
        Ok(result.into())
    }
}
