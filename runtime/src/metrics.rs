//! Prometheus metrics of one server process, exposed at `GET /metrics` (see [`crate::ops`]).
//!
//! One [`Metrics`] is created at start-up and shared through an `Arc` by [`crate::Shared`] (tool
//! calls, upstream responses); what an HTTP extension counts (the registry's storage errors) is
//! registered into it with [`Metrics::register`] before it is shared, so every series lands in
//! one registry.
//!
//! Labels are a closed vocabulary: published tool names, outcome kinds, HTTP methods and status
//! codes, the names an extension registers, the build version. Nothing a caller sends (ids, emails,
//! filter values, tokens) ever becomes a label, which keeps the series count bounded and the
//! scrape free of secrets and personal data.

use std::time::Duration;

use http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::error::ToolError;
use crate::ratelimit::RateLimitInfo;

/// The prefix of every metric name.
pub const METRIC_PREFIX: &str = "op_scim_mcp";

/// The `Content-Type` of [`Metrics::render`]'s output (Prometheus text format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets in seconds, from 0.1 ms (an argument error answered locally) to 10 s (a slow
/// bridge close to the request timeout), roughly 1-2.5-5 per decade.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The outcome label of a successful tool call; failures use [`ToolError::kind`].
pub const OUTCOME_OK: &str = "ok";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolCallLabels {
    tool: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// The empty label set of a series that has no labels but should appear only once set.
type NoLabels = Vec<(&'static str, &'static str)>;

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric the server records, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tool_calls: Family<ToolCallLabels, Counter>,
    tool_call_duration: HistogramFamily<ToolLabels>,
    upstream_responses: Family<UpstreamLabels, Counter>,
    /// A family without labels, so the series appears only once a value is known: a gauge
    /// reading 0 before the bridge said anything would look like an exhausted quota.
    upstream_rate_limit_remaining: Family<NoLabels, Gauge>,
}

impl Metrics {
    /// Registers every metric; `version` is the server's version, shown by the build-info gauge.
    pub fn new(version: &str) -> Self {
        let mut registry = Registry::with_prefix(METRIC_PREFIX);
        let tool_calls = Family::<ToolCallLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls by published tool name and outcome (ok, or the error kind)",
            tool_calls.clone(),
        );
        let tool_call_duration: HistogramFamily<ToolLabels> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "tool_call_duration_seconds",
            "Time from a tool call's arrival to its result, by published tool name",
            tool_call_duration.clone(),
        );
        let upstream_responses = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_responses",
            "Responses from the SCIM bridge to tool calls, by HTTP method and status code",
            upstream_responses.clone(),
        );
        let upstream_rate_limit_remaining = Family::<NoLabels, Gauge>::default();
        registry.register(
            "upstream_rate_limit_remaining",
            "Requests left in the bridge's rate-limit window, as its last response announced",
            upstream_rate_limit_remaining.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(BuildLabels {
                version: version.to_owned(),
            }),
        );
        Self {
            registry,
            tool_calls,
            tool_call_duration,
            upstream_responses,
            upstream_rate_limit_remaining,
        }
    }

    /// One finished tool call: `tool` is the published name, `outcome` [`OUTCOME_OK`] or a
    /// [`ToolError::kind`].
    pub fn tool_call(&self, tool: &'static str, outcome: &'static str, elapsed: Duration) {
        self.tool_calls
            .get_or_create(&ToolCallLabels { tool, outcome })
            .inc();
        self.tool_call_duration
            .get_or_create(&ToolLabels { tool })
            .observe(elapsed.as_secs_f64());
    }

    /// The outcome label of a tool call's result.
    pub fn outcome_of<T>(result: &Result<T, ToolError>) -> &'static str {
        match result {
            Ok(_) => OUTCOME_OK,
            Err(error) => error.kind(),
        }
    }

    /// One answer from the bridge, whatever its status, and the rate-limit state it announced.
    pub fn upstream_response(&self, method: &Method, status: u16, rate_limit: Option<&RateLimitInfo>) {
        self.upstream_responses
            .get_or_create(&UpstreamLabels {
                method: method_label(method),
                status,
            })
            .inc();
        if let Some(remaining) = rate_limit.and_then(|info| info.remaining) {
            self.upstream_rate_limit_remaining
                .get_or_create(&NoLabels::new())
                .set(i64::try_from(remaining).unwrap_or(i64::MAX));
        }
    }

    /// Adds `metric` under `name` (prefixed like every other), for what an extension counts;
    /// call before the metrics are shared. Its labels must be a closed vocabulary too.
    pub fn register(&mut self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.registry.register(name, help, metric);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    /// Metrics labelled with the runtime's own version.
    fn default() -> Self {
        Self::new(env!("CARGO_PKG_VERSION"))
    }
}

/// The method as a label; methods outside the standard set (which the bridge is never sent)
/// collapse into `other`, so the label stays a closed set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::RateLimitSource;

    fn remaining(remaining: u64) -> RateLimitInfo {
        RateLimitInfo {
            policy: None,
            quota_unit: None,
            limit: Some(100),
            remaining: Some(remaining),
            reset: None,
            window_seconds: None,
            retry_after_seconds: None,
            source: RateLimitSource::IetfLegacy,
        }
    }

    #[test]
    fn rendered_series_carry_only_the_closed_label_vocabulary() {
        let mut metrics = Metrics::new("1.2.3");
        let extension_errors = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        metrics.register(
            "extension_errors",
            "What an extension counts",
            extension_errors.clone(),
        );
        metrics.tool_call("list_users", OUTCOME_OK, Duration::from_millis(3));
        metrics.tool_call("list_users", "rate_limited", Duration::from_millis(1));
        metrics.upstream_response(&Method::PATCH, 429, None);
        extension_errors
            .get_or_create(&vec![("operation", "authorize")])
            .inc();
        let text = metrics.render().expect("renders");
        assert!(
            !text.contains("op_scim_mcp_upstream_rate_limit_remaining "),
            "no remaining quota is shown before the bridge announced one:\n{text}"
        );
        metrics.upstream_response(&Method::GET, 200, Some(&remaining(41)));
        let text = metrics.render().expect("renders");
        for line in [
            "op_scim_mcp_tool_calls_total{tool=\"list_users\",outcome=\"ok\"} 1",
            "op_scim_mcp_tool_calls_total{tool=\"list_users\",outcome=\"rate_limited\"} 1",
            "op_scim_mcp_tool_call_duration_seconds_count{tool=\"list_users\"} 2",
            "op_scim_mcp_tool_call_duration_seconds_bucket{tool=\"list_users\",le=\"0.005\"} 2",
            "op_scim_mcp_upstream_responses_total{method=\"PATCH\",status=\"429\"} 1",
            "op_scim_mcp_extension_errors_total{operation=\"authorize\"} 1",
            "op_scim_mcp_build_info{version=\"1.2.3\"} 1",
            "op_scim_mcp_upstream_rate_limit_remaining 41",
        ] {
            assert!(text.contains(line), "missing `{line}` in:\n{text}");
        }
    }
}
