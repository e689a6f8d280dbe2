//! The MCP face of a generated server: `tools/list`, `tools/call`, `get_tool`.
//!
//! Scoping happens once, at construction: a tool outside the scope is not in the list and a
//! call to it gets the same "unknown tool" error as a name that never existed, without any
//! upstream request.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CustomRequest, CustomResult,
    ErrorData, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, MetaObject, PaginatedRequestParams,
    PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, Role, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use crate::catalog::{CATALOGUE_URI, OfferedPrompt, catalogue_markdown};
use crate::context::{Shared, Structured, ToolContext};
use crate::error::ToolError;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimitInfo;
use crate::scope::{Grant, Scope};
use crate::spec::{MethodKind, PromptSegment, PromptSpec, ReferenceSpec, ToolNaming, ToolSpec};
use crate::tool::{Catalog, ToolEntry};
use crate::upstream::UpstreamRequest;

/// The `_meta` key under which results carry the normalized upstream rate-limit state.
pub const RATE_LIMIT_META_KEY: &str = "com.op-scim-mcp/rateLimit";

/// The `_meta` key under which error results carry `{error, message, status, ...}`.
pub const ERROR_META_KEY: &str = "com.op-scim-mcp/error";

/// The `_meta` key under which a list that reads several upstream pages per call says how
/// many it read and the most it may read: `{made, max}`.
pub const UPSTREAM_REQUESTS_META_KEY: &str = "com.op-scim-mcp/upstreamRequests";

/// How many tools one `tools/list` page holds.
const TOOLS_PAGE_SIZE: usize = 50;

/// Who is calling over HTTP, as an access gate admitted them: what they may use, and who they
/// are for the audit log. Set in the request's extensions by the gate (the registry's, or the
/// OAuth resource server's); absent on stdio and on an open HTTP endpoint.
#[derive(Clone, Debug)]
pub struct Principal {
    pub grant: Grant,
    pub caller: Caller,
}

/// Who a [`Principal`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The holder of a registry entry's token.
    Server {
        server_id: String,
        server_name: String,
        /// The API token presented as the second factor, by id, when the entry requires one.
        api_token_id: Option<String>,
    },
    /// The bearer of an OAuth access token, as its validated claims name them.
    OAuth {
        issuer: String,
        /// `sub`: the person (or, for a client-credentials token, the client) signed in.
        subject: Option<String>,
        /// `client_id` (RFC 9068), else `azp`, else `cid` (Okta): the application acting for
        /// them.
        client_id: Option<String>,
    },
}

fn principal(context: &RequestContext<RoleServer>) -> Option<&Principal> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
}

/// Filled by a tool call with the upstream's rate-limit state, read by the HTTP layer that
/// turns it into `RateLimit-*` response headers. Lives in the request's extensions.
#[derive(Clone, Debug, Default)]
pub struct RateLimitSlot(pub Arc<Mutex<Option<RateLimitInfo>>>);

/// One upstream API this process serves, with the tools generated for it. A process serves
/// one or several (the SCIM bridge and the Events API); each call goes to its tool's own.
#[derive(Clone, Debug)]
pub struct Integration {
    pub shared: Arc<Shared>,
    pub catalog: Catalog,
}

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
    /// Every integration served, in the order given; the first one's metrics and label stand
    /// for the process.
    integrations: Vec<Integration>,
    /// In scope, sorted by published name.
    tools: Vec<PublishedTool>,
    /// Prompts whose tools are all in scope, in order of precedence: where two share a name,
    /// the first one a caller may use is the one offered.
    prompts: Vec<OfferedPrompt>,
    /// Each reference resource with the integration whose upstream it reads.
    references: Vec<(&'static ReferenceSpec, Arc<Shared>)>,
    /// What `initialize` answers, built once: rmcp asks for it several times per request.
    info: ServerConfig,
}

#[derive(Debug)]
struct PublishedTool {
    name: &'static str,
    entry: &'static ToolEntry,
    definition: Tool,
    /// The integration the tool calls.
    shared: Arc<Shared>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerBuildError {
    #[error("the scope ({0}) matches no tool; widen --methods or --tags")]
    EmptyScope(String),
    #[error("tool `{tool}` publishes a schema that is not a JSON object: {reason}")]
    BadSchema { tool: &'static str, reason: String },
    #[error("two integrations publish a tool named `{0}`; one server cannot serve both")]
    DuplicateTool(&'static str),
    #[error("no integration to serve")]
    NoIntegration,
}

impl McpServer {
    /// A server over one integration.
    pub fn new(
        shared: Arc<Shared>,
        catalog: Catalog,
        settings: ServerSettings,
    ) -> Result<Self, ServerBuildError> {
        Self::serving(vec![Integration { shared, catalog }], &[], settings)
    }

    /// A server over several integrations. `prompts` are the product's own workflows, which may
    /// use the tools of any integration; they take precedence over an integration's prompt of
    /// the same name wherever all their tools are in scope (a workflow that does more when the
    /// Events API is configured, and falls back to the SCIM-only one when it is not).
    pub fn serving(
        integrations: Vec<Integration>,
        prompts: &'static [PromptSpec],
        settings: ServerSettings,
    ) -> Result<Self, ServerBuildError> {
        if integrations.is_empty() {
            return Err(ServerBuildError::NoIntegration);
        }
        let mut published = Vec::new();
        for integration in &integrations {
            for entry in integration
                .catalog
                .tools
                .iter()
                .filter(|entry| settings.scope.allows(&entry.spec))
            {
                let name = settings.naming.name_of(&entry.spec);
                published.push(PublishedTool {
                    name,
                    entry,
                    definition: definition(&entry.spec, name)?,
                    shared: integration.shared.clone(),
                });
            }
        }
        if published.is_empty() {
            return Err(ServerBuildError::EmptyScope(settings.scope.to_string()));
        }
        published.sort_by(|a, b| a.name.cmp(b.name));
        if let Some(pair) = published.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(ServerBuildError::DuplicateTool(pair[0].name));
        }
        let candidates = prompts.iter().chain(
            integrations
                .iter()
                .flat_map(|integration| integration.catalog.prompts),
        );
        let prompts = candidates
            .filter_map(|spec| {
                OfferedPrompt::offer(spec, |resource, method| {
                    published
                        .iter()
                        .find(|tool| tool.entry.spec.resource == resource && tool.entry.spec.method == method)
                        .map(|tool| tool.name)
                })
            })
            .collect();
        let references = integrations
            .iter()
            .flat_map(|integration| {
                integration
                    .catalog
                    .references
                    .iter()
                    .map(|reference| (reference, integration.shared.clone()))
            })
            .collect();
        let info = server_config(&published, settings.server_name, settings.server_version);
        Ok(Self {
            inner: Arc::new(Inner {
                integrations,
                tools: published,
                prompts,
                references,
                info,
            }),
        })
    }

    /// The integrations served, in the order given.
    pub fn integrations(&self) -> &[Integration] {
        &self.inner.integrations
    }

    /// What every call of the first integration shares; the process gives all integrations
    /// the same metrics, so this is where `/metrics` reads them.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.inner.integrations[0].shared
    }

    /// The tool definitions as published, in order.
    pub fn tools(&self) -> Vec<Tool> {
        self.inner
            .tools
            .iter()
            .map(|tool| tool.definition.clone())
            .collect()
    }

    /// Every tool served, by published name.
    pub fn published(&self) -> impl Iterator<Item = (&'static str, &'static ToolSpec)> + '_ {
        self.inner.tools.iter().map(|tool| (tool.name, &tool.entry.spec))
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
        self.call_as(name, arguments, None)
            .await
            .map(|(result, _)| result)
    }

    /// The tools visible to `principal` (all in-scope tools when there is none).
    fn visible(&self, principal: Option<&Principal>) -> impl Iterator<Item = &PublishedTool> {
        self.inner
            .tools
            .iter()
            .filter(move |tool| principal.is_none_or(|who| who.grant.allows(&tool.entry.spec)))
    }

    /// Runs a call on behalf of `principal`; a tool outside its scope is as unknown as a tool
    /// that never existed, and nothing reaches the upstream.
    pub async fn call_as(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
        principal: Option<&Principal>,
    ) -> Result<(CallToolResult, Option<RateLimitInfo>), ErrorData> {
        let (answer, rate_limit) = self.answer_as(name, arguments, principal).await?;
        Ok((answer.into_result()?, rate_limit))
    }

    /// [`McpServer::call_as`], with the answer not yet in rmcp's result type.
    async fn answer_as(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
        principal: Option<&Principal>,
    ) -> Result<(ToolAnswer, Option<RateLimitInfo>), ErrorData> {
        let tool = self
            .find(name)
            .filter(|tool| principal.is_none_or(|who| who.grant.allows(&tool.entry.spec)));
        let Some(tool) = tool else {
            return Err(ErrorData::invalid_params(format!("Unknown tool: {name}"), None));
        };
        let audited = tool.entry.spec.kind != MethodKind::Read;
        let call = match (&tool.shared.audit, audited) {
            (Some(audit), true) => {
                let call = AuditedCall::new(tool, principal, &arguments);
                // Fail closed: a change whose audit line cannot be written is not made.
                if let Err(error) = audit.record("tool_call", call.attempt()).await {
                    tracing::error!(tool = name, error = %error, "refusing a call that cannot be audited");
                    let refused = ToolError::AuditUnavailable;
                    let context = ToolContext::new(tool.shared.clone(), &tool.entry.spec);
                    tool.shared
                        .metrics
                        .tool_call(tool.name, refused.kind(), std::time::Duration::ZERO);
                    return Ok((ToolAnswer::Result(error_result(&refused, &context)), None));
                }
                Some((audit, call))
            }
            _ => None,
        };
        let started = Instant::now();
        let context = ToolContext::new(tool.shared.clone(), &tool.entry.spec);
        let outcome = (tool.entry.call)(&context, arguments).await;
        let elapsed = started.elapsed();
        tool.shared
            .metrics
            .tool_call(tool.name, Metrics::outcome_of(&outcome), elapsed);
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        if let Some((audit, call)) = call {
            let (kind, status) = match &outcome {
                Ok(output) => ("ok", Some(output.status)),
                Err(error) => (error.kind(), error.upstream_status()),
            };
            if let Err(error) = audit.record("tool_call", call.outcome(kind, status)).await {
                // The change was made (or not) already; the attempt line records that it ran.
                tracing::error!(tool = name, error = %error, "could not audit the outcome of a call");
            }
        }
        let result = match outcome {
            Ok(output) => {
                tracing::info!(tool = name, outcome = "ok", elapsed_ms, "tool call");
                let mut meta = rate_limit_meta(output.rate_limit.as_ref());
                if let Some(requests) = output.upstream_requests
                    && let Ok(value) = serde_json::to_value(requests)
                {
                    meta.get_or_insert_default()
                        .0
                        .insert(UPSTREAM_REQUESTS_META_KEY.to_owned(), value);
                }
                let answer = ToolAnswer::Success {
                    structured: output.structured,
                    meta,
                };
                (answer, output.rate_limit)
            }
            Err(error) => {
                match &error {
                    ToolError::Internal(detail) => {
                        tracing::error!(tool = name, detail = %detail, "tool call failed")
                    }
                    other => tracing::info!(tool = name, outcome = other.kind(), elapsed_ms, "tool call"),
                }
                let answer = ToolAnswer::Result(error_result(&error, &context));
                (answer, error.rate_limit().cloned())
            }
        };
        Ok(result)
    }
}

/// One audited call: who made it, with which tool, on what. Written twice, with the same
/// `call_id`: before the call ([`AuditedCall::attempt`]) and after it ([`AuditedCall::outcome`]).
struct AuditedCall {
    fields: serde_json::Map<String, Value>,
}

impl AuditedCall {
    fn new(
        tool: &PublishedTool,
        principal: Option<&Principal>,
        arguments: &serde_json::Map<String, Value>,
    ) -> Self {
        let mut fields = serde_json::Map::new();
        fields.insert("call_id".into(), Value::String(call_id()));
        match principal.map(|who| &who.caller) {
            None => {
                fields.insert("server_id".into(), "local".into());
                fields.insert("server_name".into(), "local".into());
                fields.insert("api_token_id".into(), Value::Null);
            }
            Some(Caller::Server {
                server_id,
                server_name,
                api_token_id,
            }) => {
                fields.insert("server_id".into(), server_id.as_str().into());
                fields.insert("server_name".into(), server_name.as_str().into());
                fields.insert("api_token_id".into(), api_token_id.clone().into());
            }
            Some(Caller::OAuth {
                issuer,
                subject,
                client_id,
            }) => {
                fields.insert("issuer".into(), issuer.as_str().into());
                fields.insert("sub".into(), subject.clone().into());
                fields.insert("client_id".into(), client_id.clone().into());
            }
        }
        fields.insert("tool".into(), tool.name.into());
        fields.insert(
            "targets".into(),
            audit_targets(tool.entry.spec.audit_targets, arguments).into(),
        );
        Self { fields }
    }

    fn attempt(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert("phase".into(), "attempt".into());
        Value::Object(fields)
    }

    fn outcome(self, outcome: &str, upstream_status: Option<u16>) -> Value {
        let mut fields = self.fields;
        fields.insert("phase".into(), "outcome".into());
        fields.insert("outcome".into(), outcome.into());
        fields.insert("upstream_status".into(), upstream_status.into());
        Value::Object(fields)
    }
}

fn call_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("call_{hex}")
}

/// The values of the arguments the generator named as targets (ids, a userName): strings and
/// lists of strings, each cut to 128 characters and at most 100 of them, never other arguments.
fn audit_targets(names: &[&str], arguments: &serde_json::Map<String, Value>) -> Vec<String> {
    let clip = |text: &str| text.chars().take(128).collect::<String>();
    let mut targets = Vec::new();
    for name in names {
        match arguments.get(*name) {
            Some(Value::String(value)) => targets.push(clip(value)),
            Some(Value::Array(values)) => targets.extend(values.iter().filter_map(Value::as_str).map(clip)),
            _ => {}
        }
    }
    targets.truncate(100);
    targets
}

/// An `isError` result: the sentence as text, and the machine-readable fields in `_meta`.
///
/// Not in `structuredContent`: some clients (MCP Inspector 2.12) validate it against the tool's
/// output schema even on errors, and an error object never matches a user's schema.
fn error_result(error: &ToolError, context: &ToolContext) -> CallToolResult {
    let noun = context.noun();
    let mut meta = rate_limit_meta(error.rate_limit()).unwrap_or_default();
    meta.0.insert(ERROR_META_KEY.to_owned(), error.structured(noun));
    CallToolResult::error(vec![ContentBlock::text(error.message(noun))]).with_meta(Some(meta))
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

/// What a tool call answers, before it takes rmcp's result type: the answer to a plain request
/// writes a success's structured content once and carries it twice ([`crate::plain_answer`]),
/// where rmcp's type needs it as a [`Value`] and again as text.
#[derive(Debug)]
pub(crate) enum ToolAnswer {
    Success {
        structured: Structured,
        meta: Option<MetaObject>,
    },
    /// An error result, already in rmcp's type.
    Result(CallToolResult),
}

impl ToolAnswer {
    /// The answer as rmcp's result: the value as `structuredContent` and, for clients that read
    /// only content blocks, as JSON text. rmcp's own constructor prints the text through
    /// `Display`, which costs several times what writing it into a buffer does.
    pub(crate) fn into_result(self) -> Result<CallToolResult, ErrorData> {
        let (structured, meta) = match self {
            Self::Result(result) => return Ok(result),
            Self::Success { structured, meta } => (structured, meta),
        };
        let value = match structured {
            Structured::Value(value) => Ok(value),
            Structured::Typed(typed) => typed.to_value(),
        };
        let value_and_text = value.and_then(|value| serde_json::to_string(&value).map(|text| (value, text)));
        // Fails only for a map with keys that are not strings, which no handler builds; should
        // one, the call fails whole rather than answer without its content.
        let (value, text) = value_and_text.map_err(|error| {
            tracing::error!(error = %error, "could not shape a tool result");
            ErrorData::internal_error(format!("the tool result could not be written: {error}"), None)
        })?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        Ok(result.with_meta(meta))
    }
}

/// What `initialize` answers: capabilities, name and version, and instructions telling the
/// client the upstreams it has tools for and the two conventions every tool shares.
fn server_config(tools: &[PublishedTool], name: String, version: String) -> ServerConfig {
    let mut upstreams: Vec<&str> = Vec::new();
    for tool in tools {
        if !upstreams.contains(&tool.shared.upstream_name) {
            upstreams.push(tool.shared.upstream_name);
        }
    }
    let instructions = format!(
        "Tools for the {}. List tools page with `limit` and `next_cursor`; pass `next_cursor` back unchanged. \
         Rate-limit errors are returned at once with the time to wait; this server never retries.",
        upstreams.join(" and the ")
    );
    let capabilities = ServerCapabilities::builder()
        .enable_tools()
        .enable_prompts()
        .enable_resources()
        .build();
    ServerConfig::new(capabilities)
        .with_server_info(Implementation::new(name, version))
        .with_instructions(instructions)
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

impl McpServer {
    /// The prompts offered under this server's scope.
    pub fn prompts(&self) -> Vec<rmcp::model::Prompt> {
        self.prompts_for(None)
            .into_iter()
            .map(OfferedPrompt::definition)
            .collect()
    }

    /// Prompts whose every tool `principal` may call, one per name (the first in precedence),
    /// sorted by name.
    fn prompts_for(&self, principal: Option<&Principal>) -> Vec<&OfferedPrompt> {
        let mut offered: Vec<&OfferedPrompt> = Vec::new();
        for prompt in &self.inner.prompts {
            let usable = prompt.spec.segments.iter().all(|segment| match segment {
                PromptSegment::Tool { resource, method } => self
                    .visible(principal)
                    .any(|tool| tool.entry.spec.resource == *resource && tool.entry.spec.method == *method),
                _ => true,
            });
            if usable && offered.iter().all(|taken| taken.spec.name != prompt.spec.name) {
                offered.push(prompt);
            }
        }
        offered.sort_by_key(|prompt| prompt.spec.name);
        offered
    }

    /// Renders one prompt's text for the given arguments.
    pub fn render_prompt(
        &self,
        name: &str,
        arguments: &serde_json::Map<String, Value>,
    ) -> Result<String, ErrorData> {
        self.offered_prompt(name, None)?.render(arguments)
    }

    fn offered_prompt(&self, name: &str, principal: Option<&Principal>) -> Result<&OfferedPrompt, ErrorData> {
        self.prompts_for(principal)
            .into_iter()
            .find(|prompt| prompt.spec.name == name)
            .ok_or_else(|| ErrorData::invalid_params(format!("Unknown prompt: {name}"), None))
    }

    /// The resources this server offers: the tool catalogue and the reference resources.
    pub fn resources(&self) -> Vec<Resource> {
        self.resources_for(None)
    }

    /// The catalogue, and each reference resource whose tool `principal` may call: a resource
    /// reads what its tool reads, so it follows the same scope.
    fn resources_for(&self, principal: Option<&Principal>) -> Vec<Resource> {
        let catalogue = Resource::new(CATALOGUE_URI, "tool_catalogue")
            .with_title(format!("{} tools on this server", self.shared().label))
            .with_description("The tools this server publishes, with their arguments, as Markdown.")
            .with_mime_type("text/markdown");
        std::iter::once(catalogue)
            .chain(self.references_for(principal).map(|(reference, _)| {
                Resource::new(reference.uri, reference.name)
                    .with_title(reference.title)
                    .with_description(reference.description)
                    .with_mime_type("application/json")
            }))
            .collect()
    }

    fn references_for(
        &self,
        principal: Option<&Principal>,
    ) -> impl Iterator<Item = &(&'static ReferenceSpec, Arc<Shared>)> {
        self.inner.references.iter().filter(move |(reference, _)| {
            self.visible(principal)
                .any(|tool| reference.tool.is(&tool.entry.spec))
        })
    }

    /// Reads a resource: the catalogue from memory, references live from the upstream.
    pub async fn read(&self, uri: &str) -> Result<ResourceContents, ErrorData> {
        self.read_as(uri, None).await
    }

    async fn read_as(&self, uri: &str, principal: Option<&Principal>) -> Result<ResourceContents, ErrorData> {
        if uri == CATALOGUE_URI {
            let tools: Vec<_> = self
                .visible(principal)
                .map(|tool| (tool.entry, tool.definition.clone()))
                .collect();
            let text = catalogue_markdown(self.shared().label, &tools);
            return Ok(ResourceContents::text(text, uri).with_mime_type("text/markdown"));
        }
        // Out of scope is as unknown as never offered, as for tools.
        let (reference, shared) = self
            .references_for(principal)
            .find(|(reference, _)| reference.uri == uri)
            .ok_or_else(|| {
                ErrorData::resource_not_found(
                    format!("no resource {uri}"),
                    Some(serde_json::json!({ "uri": uri })),
                )
            })?;
        let text = fetch_reference(reference, shared).await?;
        Ok(ResourceContents::text(text, uri).with_mime_type("application/json"))
    }
}

/// A reference resource's content, read live from the upstream of its integration.
async fn fetch_reference(reference: &ReferenceSpec, shared: &Shared) -> Result<String, ErrorData> {
    let request = reference
        .path
        .iter()
        .fold(UpstreamRequest::new(http::Method::GET), |request, segment| {
            request.literal(segment)
        });
    let noun = crate::error::ResourceNoun {
        label: shared.label,
        singular: "resource",
        upstream: shared.upstream_name,
    };
    let response = shared.upstream.send(&request).await.map_err(|error| {
        tracing::info!(uri = reference.uri, outcome = error.kind(), "resource read");
        ErrorData::internal_error(
            format!("reading {}: {}", reference.uri, error.message(noun)),
            None,
        )
    })?;
    let value: Value = serde_json::from_slice(&response.body).map_err(|error| {
        ErrorData::internal_error(
            format!(
                "reading {}: the {} did not answer JSON ({error})",
                reference.uri, shared.upstream_name
            ),
            None,
        )
    })?;
    serde_json::to_string_pretty(&value).map_err(|error| ErrorData::internal_error(error.to_string(), None))
}

impl ServerHandler for McpServer {
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let who = principal(&context);
        Ok(ListPromptsResult::with_all_items(
            self.prompts_for(who)
                .into_iter()
                .map(OfferedPrompt::definition)
                .collect(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let prompt = self.offered_prompt(&request.name, principal(&context))?;
        let text = prompt.render(&arguments)?;
        let description = prompt.spec.description;
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(description)
                .into(),
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let who = principal(&context);
        Ok(ListResourcesResult::with_all_items(self.resources_for(who)))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(Vec::new()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let contents = self.read_as(&request.uri, principal(&context)).await?;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.info.clone()
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let who = principal(&context);
        let tools: Vec<&PublishedTool> = self.visible(who).collect();
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

    /// rmcp hands over a request it could not read as any known method. A `tools/call` lands
    /// here when its `params` lack a string `name`; say which field is wrong (-32602) rather
    /// than that the method does not exist.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let problem = match request.method.as_str() {
            "tools/call" => {
                "`tools/call` needs `params.name`, the name of a tool from tools/list (a string), and optional `params.arguments` (an object)"
            }
            "prompts/get" => {
                "`prompts/get` needs `params.name`, the name of a prompt from prompts/list (a string)"
            }
            "resources/read" => "`resources/read` needs `params.uri`, a URI from resources/list (a string)",
            other => {
                return Err(ErrorData::new(
                    rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                    format!("unknown method `{other}`"),
                    None,
                ));
            }
        };
        Err(ErrorData::invalid_params(problem, None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        Ok(self.answer_for(request, parts).await?.into_result()?.into())
    }
}

impl McpServer {
    /// A `tools/call` as it arrived, over HTTP (`parts`: the request the gates admitted, with
    /// its principal and the slot for the rate-limit headers) or over stdio (`None`).
    pub(crate) async fn answer_for(
        &self,
        request: CallToolRequestParams,
        parts: Option<&http::request::Parts>,
    ) -> Result<ToolAnswer, ErrorData> {
        let who = parts.and_then(|parts| parts.extensions.get::<Principal>());
        let (answer, rate_limit) = self
            .answer_as(&request.name, request.arguments.unwrap_or_default(), who)
            .await?;
        let slot = parts.and_then(|parts| parts.extensions.get::<RateLimitSlot>());
        if let (Some(slot), Some(info)) = (slot, rate_limit)
            && let Ok(mut cell) = slot.0.lock()
        {
            *cell = Some(info);
        }
        Ok(answer)
    }
}
