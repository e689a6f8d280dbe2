//! What a handler sees during one call: the upstream, the cursor codec, and its own spec.

use std::sync::Arc;

use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::cursor::CursorCodec;
use crate::error::{ResourceNoun, ToolError};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimitInfo;
use crate::spec::ToolSpec;
use crate::upstream::{Upstream, UpstreamRequest, UpstreamResponse};

/// Page size bounds of list tools; the generated schemas publish the same numbers.
pub const LIMIT_MIN: i64 = 1;
pub const LIMIT_MAX: i64 = 100;
pub const LIMIT_DEFAULT: i64 = 50;

/// State shared by every call of one server.
#[derive(Debug)]
pub struct Shared {
    pub upstream: Upstream,
    pub cursors: CursorCodec,
    /// The product label, for messages (`1Password`).
    pub label: &'static str,
    /// The upstream by name, for messages (`1Password SCIM bridge`); the generated
    /// `UPSTREAM_NAME` of the integration.
    pub upstream_name: &'static str,
    /// Where `write`/`custom` calls are recorded, if anywhere.
    pub audit: Option<std::sync::Arc<crate::audit::AuditLog>>,
    /// Tool-call and upstream metrics; the upstream counts into the same instance.
    pub metrics: Arc<Metrics>,
}

impl Shared {
    /// With metrics of its own; [`Shared::with_metrics`] shares a process-wide instance instead.
    pub fn new(mut upstream: Upstream, cursors: CursorCodec, label: &'static str) -> Self {
        let metrics = Arc::new(Metrics::default());
        upstream.set_metrics(metrics.clone());
        Self {
            upstream,
            cursors,
            label,
            upstream_name: "upstream API",
            audit: None,
            metrics,
        }
    }

    /// Names the upstream in messages (`1Password SCIM bridge`).
    pub fn with_upstream_name(mut self, name: &'static str) -> Self {
        self.upstream_name = name;
        self
    }

    /// Records tool calls and upstream answers in `metrics` (the instance `/metrics` renders).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.upstream.set_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    pub fn with_audit(mut self, audit: std::sync::Arc<crate::audit::AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }
}

/// The `limit` argument of a list call: defaulted, and checked against the bounds every list
/// tool publishes.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<u64, ToolError> {
    let limit = limit.unwrap_or(LIMIT_DEFAULT);
    if !(LIMIT_MIN..=LIMIT_MAX).contains(&limit) {
        return Err(ToolError::InvalidArguments(vec![format!(
            "`limit` must be between {LIMIT_MIN} and {LIMIT_MAX} (got {limit})"
        )]));
    }
    Ok(limit.unsigned_abs())
}

/// One call's view.
#[derive(Debug)]
pub struct ToolContext {
    shared: Arc<Shared>,
    spec: &'static ToolSpec,
}

/// A successful result: the structured value, the upstream's status and rate-limit state.
#[derive(Debug)]
pub struct ToolOutput {
    pub structured: Structured,
    pub rate_limit: Option<RateLimitInfo>,
    pub status: u16,
    /// Set by lists that read several upstream pages in one call.
    pub upstream_requests: Option<UpstreamRequests>,
}

/// A successful result's structured content.
#[derive(Debug)]
pub enum Structured {
    /// Built here: a list's page, a 204's status.
    Value(Value),
    /// The upstream's answer in the spec's type, not yet written out, because its two readers
    /// need different forms: a plain request's answer writes it once as JSON text and carries
    /// that twice (`crate::plain_answer`), rmcp's result type takes a [`Value`] and text.
    Typed(Box<dyn TypedOutput>),
}

/// A spec type behind [`Structured::Typed`], writable in either form.
pub trait TypedOutput: std::fmt::Debug + Send {
    fn to_value(&self) -> serde_json::Result<Value>;
    fn to_json(&self) -> serde_json::Result<Box<RawValue>>;
}

impl<T: Serialize + std::fmt::Debug + Send> TypedOutput for T {
    fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::to_value(self)
    }

    fn to_json(&self) -> serde_json::Result<Box<RawValue>> {
        serde_json::value::to_raw_value(self)
    }
}

/// How many upstream requests one call made, and the most one call may make. A list that
/// filters locally or skips empty pages reads several upstream pages per call; a client that
/// budgets against the upstream's rate limit counts these, not its own calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct UpstreamRequests {
    pub made: u32,
    pub max: u32,
}

impl ToolContext {
    pub fn new(shared: Arc<Shared>, spec: &'static ToolSpec) -> Self {
        Self { shared, spec }
    }

    pub fn spec(&self) -> &'static ToolSpec {
        self.spec
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub fn noun(&self) -> ResourceNoun<'static> {
        ResourceNoun {
            label: self.shared.label,
            singular: self.spec.singular,
            upstream: self.shared.upstream_name,
        }
    }

    /// Sends a request and parses the answer into the spec's type.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        request: UpstreamRequest,
    ) -> Result<(T, UpstreamResponse), ToolError> {
        let response = self.shared.upstream.send(&request).await?;
        let parsed = parse_body(&response.body)?;
        Ok((parsed, response))
    }

    /// Sends a request whose answer is one typed resource.
    ///
    /// RFC 7644 §3.5.2 lets a server answer a successful PATCH with 204 and no body; the change
    /// is then read back with a GET of the same resource, so the model sees the state it made
    /// rather than a failure for a change that happened.
    pub async fn call<T: DeserializeOwned + Serialize + std::fmt::Debug + Send + 'static>(
        &self,
        request: UpstreamRequest,
    ) -> Result<ToolOutput, ToolError> {
        let response = self.shared.upstream.send(&request).await?;
        let (response, status) =
            if response.body.iter().all(u8::is_ascii_whitespace) && request.method() != Method::GET {
                let status = response.status;
                (self.shared.upstream.send(&request.read_back()).await?, status)
            } else {
                let status = response.status;
                (response, status)
            };
        let value: T = parse_body(&response.body)?;
        Ok(ToolOutput {
            structured: Structured::Typed(Box::new(value)),
            rate_limit: response.rate_limit,
            status,
            upstream_requests: None,
        })
    }

    /// Sends a request the upstream answers with a JSON array, published wrapped as
    /// `{result, result_count}` (an output schema needs an object root).
    pub async fn call_list<T: DeserializeOwned + Serialize>(
        &self,
        request: UpstreamRequest,
    ) -> Result<ToolOutput, ToolError> {
        let (items, response) = self.send_json::<Vec<T>>(request).await?;
        let count = items.len();
        Ok(ToolOutput {
            structured: Structured::Value(json!({ "result": items, "result_count": count })),
            rate_limit: response.rate_limit,
            status: response.status,
            upstream_requests: None,
        })
    }

    /// Sends a request the bridge answers without a body (204).
    pub async fn call_no_content(&self, request: UpstreamRequest) -> Result<ToolOutput, ToolError> {
        let response = self.shared.upstream.send(&request).await?;
        Ok(ToolOutput {
            structured: Structured::Value(json!({ "status": response.status })),
            rate_limit: response.rate_limit,
            status: response.status,
            upstream_requests: None,
        })
    }
}

/// An upstream body as the spec's type. Tracking the path costs a third of the parse on every
/// call, so it runs only for a body that failed, to say where.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ToolError> {
    serde_json::from_slice(body).map_err(|plain| {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(error) => ToolError::UnexpectedResponse(format!("at `{}`: {}", error.path(), error.inner())),
            // Only trailing bytes after a complete value fail the plain parse alone.
            Ok(_) => ToolError::UnexpectedResponse(plain.to_string()),
        }
    })
}
