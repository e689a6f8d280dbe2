//! Errors a tool call can end in, and the two faces each has: a sentence the model can act on
//! (in an `isError` result) and the details an operator reads in the logs.

use serde_json::{Value, json};

use crate::cursor::CursorError;
use crate::ratelimit::RateLimitInfo;
use crate::scim_filter::FilterBuildError;

/// The SCIM error body of RFC 7644 §3.12, as far as the bridge sent one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScimError {
    pub scim_type: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {}", .0.join("; "))]
    InvalidArguments(Vec<String>),

    #[error("invalid next_cursor: {0}")]
    InvalidCursor(#[from] CursorError),

    #[error("the upstream answered {status}")]
    Upstream {
        status: u16,
        scim: ScimError,
        /// The last path parameter of the request (usually the resource id), for the message.
        target: Option<String>,
        rate_limit: Option<Box<RateLimitInfo>>,
    },

    #[error("rate limited by the upstream ({status})")]
    RateLimited {
        status: u16,
        retry_after_seconds: Option<u64>,
        rate_limit: Option<Box<RateLimitInfo>>,
    },

    #[error("could not reach the upstream at {url}: {cause}")]
    Unreachable {
        /// The base URL, its password masked.
        url: String,
        /// What went wrong, in words: DNS, refused, TLS, a broken connection.
        cause: String,
        /// Whether the request may have reached the bridge (the connection broke off after it
        /// was sent), so that a change may have been applied.
        maybe_sent: bool,
    },

    #[error("the upstream did not answer within {0} seconds")]
    Timeout(u64),

    #[error("the upstream's answer exceeded {limit} bytes")]
    ResponseTooLarge { limit: usize },

    #[error("the upstream's answer did not match the spec: {0}")]
    UnexpectedResponse(String),

    #[error("internal error: {0}")]
    Internal(String),

    /// A change was refused because its audit line could not be written (the log fails closed).
    #[error("the audit log cannot be written")]
    AuditUnavailable,
}

impl From<FilterBuildError> for ToolError {
    fn from(error: FilterBuildError) -> Self {
        // Attribute paths come from our docs YAML and are validated at generation time; reaching
        // this is a bug on our side, not the model's.
        Self::Internal(error.to_string())
    }
}

/// What messages call the upstream and the resource, e.g. `1Password SCIM bridge`, `1Password`
/// and `user`.
#[derive(Clone, Copy, Debug)]
pub struct ResourceNoun<'a> {
    pub label: &'a str,
    pub singular: &'a str,
    /// The upstream by name: `1Password SCIM bridge`, `1Password Events API`.
    pub upstream: &'a str,
}

impl ToolError {
    /// A short machine-readable kind, for `structuredContent` and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArguments(_) => "invalid_arguments",
            Self::InvalidCursor(_) => "invalid_cursor",
            Self::Upstream { .. } => "upstream_error",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout(_) => "timeout",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::UnexpectedResponse(_) => "unexpected_response",
            Self::Internal(_) => "internal_error",
            Self::AuditUnavailable => "audit_unavailable",
        }
    }

    /// The HTTP status the upstream answered with, when it answered.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            Self::Upstream { status, .. } | Self::RateLimited { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn rate_limit(&self) -> Option<&RateLimitInfo> {
        match self {
            Self::Upstream { rate_limit, .. } | Self::RateLimited { rate_limit, .. } => rate_limit.as_deref(),
            _ => None,
        }
    }

    /// The sentence the model reads. Never contains the bearer token or internal details.
    pub fn message(&self, noun: ResourceNoun<'_>) -> String {
        let ResourceNoun {
            label,
            singular,
            upstream,
        } = noun;
        match self {
            Self::InvalidArguments(problems) => format!(
                "Invalid arguments, nothing was sent to {label}: {}. Fix them and call the tool again.",
                problems.join("; ")
            ),
            Self::InvalidCursor(error) => format!("{error}"),
            Self::Upstream {
                status, scim, target, ..
            } => upstream_sentence(*status, scim, target.as_deref(), noun),
            Self::RateLimited {
                status,
                retry_after_seconds,
                rate_limit,
            } => {
                let wait = match retry_after_seconds.or(rate_limit.as_ref().and_then(|info| info.reset)) {
                    Some(seconds) => format!("retry after {seconds} s"),
                    None => "it did not say when to retry; wait before retrying".to_owned(),
                };
                let fields = rate_limit
                    .as_ref()
                    .map(|info| {
                        format!(
                            " (ratelimit-limit {}, ratelimit-remaining {}, ratelimit-reset {})",
                            show(info.limit),
                            show(info.remaining),
                            show(info.reset)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "The {upstream} is rate limiting requests (HTTP {status}); {wait}{fields}. Nothing was changed by this call. This server does not retry: wait, then call the tool again."
                )
            }
            Self::Unreachable {
                url,
                cause,
                maybe_sent: false,
            } => format!(
                "Could not reach the {upstream} at {url}: {cause}. Nothing was sent; the call may be retried once it is reachable."
            ),
            Self::Unreachable {
                url,
                cause,
                maybe_sent: true,
            } => format!(
                "The connection to the {upstream} at {url} broke off ({cause}). The request may or may not have been applied; read the {singular} back before retrying a change."
            ),
            Self::Timeout(seconds) => format!(
                "The {upstream} did not answer within {seconds} s. The request may or may not have been applied; read the {singular} back before retrying a change."
            ),
            Self::ResponseTooLarge { limit } => format!(
                "The {upstream} sent more than {limit} bytes; the answer was dropped. Use a smaller `limit` or narrower filters."
            ),
            Self::UnexpectedResponse(reason) => {
                format!("The {upstream} answered with data this server does not understand ({reason}).")
            }
            Self::Internal(_) => "Internal error in the MCP server; the details are in its logs.".to_owned(),
            Self::AuditUnavailable => format!(
                "Refused: this server records every change in an audit log, and the log cannot be written now, so nothing was sent to {label}. Retrying will not help until an operator fixes the audit log (see the server's logs)."
            ),
        }
    }

    /// The `structuredContent` of the error result.
    pub fn structured(&self, noun: ResourceNoun<'_>) -> Value {
        let mut value = json!({ "error": self.kind(), "message": self.message(noun) });
        match self {
            Self::Upstream { status, scim, .. } => {
                value["status"] = json!(status);
                if let Some(scim_type) = &scim.scim_type {
                    value["scimType"] = json!(scim_type);
                }
            }
            Self::RateLimited {
                status,
                retry_after_seconds,
                ..
            } => {
                value["status"] = json!(status);
                value["retryAfterSeconds"] = json!(retry_after_seconds);
            }
            _ => {}
        }
        if let Some(info) = self.rate_limit() {
            value["rateLimit"] = json!(info);
        }
        value
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

fn upstream_sentence(status: u16, scim: &ScimError, target: Option<&str>, noun: ResourceNoun<'_>) -> String {
    let ResourceNoun {
        label,
        singular,
        upstream,
    } = noun;
    let detail = scim
        .detail
        .as_deref()
        .map(|d| format!(" It said: {d}"))
        .unwrap_or_default();
    let scim_type = scim.scim_type.as_deref();
    match (status, scim_type) {
        (401, _) => format!(
            "The {upstream} rejected the bearer token (401): it is missing, wrong, expired or not allowed this. The server's configuration must be fixed; retrying will not help.{detail}"
        ),
        (403, _) => format!("The {upstream} refused this request (403).{detail}"),
        (404, _) => match target {
            Some(id) => {
                format!("No {label} {singular} with id {id} (404). Find the id with the list tool.{detail}")
            }
            None => format!("The {upstream} has no such endpoint (404).{detail}"),
        },
        (409, Some("uniqueness")) | (409, None) => {
            format!(
                "That userName already exists (409 uniqueness): a {label} {singular} must be unique.{detail}"
            )
        }
        (400, Some(kind)) => format!("The {upstream} rejected the request (400 {kind}).{detail}"),
        (400, None) => format!("The {upstream} rejected the request (400).{detail}"),
        (code, _) if code >= 500 => {
            format!("The {upstream} failed with HTTP {code}; the request may be retried later.{detail}")
        }
        (code, kind) => format!(
            "The {upstream} answered HTTP {code}{}.{detail}",
            kind.map(|k| format!(" ({k})")).unwrap_or_default()
        ),
    }
}
