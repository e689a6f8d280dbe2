//! What every generated MCP server shares: serving over MCP (`rmcp`, stdio and Streamable
//! HTTP), the upstream SCIM client, opaque cursor pagination, rate-limit normalization, SCIM
//! filter building, argument validation and scoping.
//!
//! Generated code reaches all of this through one facade, [`__codegen`], so the runtime (or
//! rmcp) can change underneath without the generated files changing.

pub mod args;
pub mod audit;
pub mod body_cursor;
pub mod catalog;
pub mod connections;
pub mod context;
pub mod cursor;
mod drain;
pub mod error;
pub mod extension;
pub mod files;
pub mod http_guard;
pub mod local_filter;
mod mcp_endpoint;
pub mod metrics;
pub mod ops;
mod plain;
mod plain_answer;
mod plain_http;
pub mod ratelimit;
pub mod redact;
pub mod rfc3339;
pub mod scim_filter;
pub mod scim_list;
pub mod scope;
pub mod serve;
pub mod server;
pub mod spec;
mod stdio;
mod stdio_calls;
#[cfg(test)]
mod test_server;
pub mod tool;
pub mod upstream;

pub use context::{LIMIT_DEFAULT, LIMIT_MAX, LIMIT_MIN, Shared, ToolContext, ToolOutput};
pub use error::ToolError;
pub use metrics::Metrics;
pub use scope::{Scope, Vocabulary};
pub use server::{McpServer, ServerSettings};
pub use spec::{ToolNaming, ToolSpec};
pub use tool::{Catalog, ToolEntry};

/// The facade generated code is written against. Not for hand-written code.
#[doc(hidden)]
pub mod __codegen {
    pub use crate::args::{ArgErrors, Validate, join_index, join_path, parse_arguments};
    pub use crate::body_cursor::{BodyCursor, BodyCursorQuery, UpstreamPage};
    pub use crate::context::{ToolContext, ToolOutput};
    pub use crate::error::ToolError;
    pub use crate::local_filter::LocalFilters;
    pub use crate::scim_filter::{CompareOp, FilterBuilder, FilterValue, quote_string};
    pub use crate::scim_list::ScimQuery;
    pub use crate::spec::{
        Annotations, MethodKind, PromptArgumentSpec, PromptSegment, PromptSpec, ReferenceSpec, ToolRef,
        ToolSpec,
    };
    pub use crate::tool::{BoxFuture, JsonObject, ToolEntry};
    pub use crate::upstream::UpstreamRequest;
    pub use http::Method;
    pub use serde_json::Value;
    pub use std::time::Duration;

    /// A JSON object from key/value pairs, for fixed request bodies.
    pub fn json_object<const N: usize>(fields: [(&str, Value); N]) -> Value {
        Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        )
    }
}
