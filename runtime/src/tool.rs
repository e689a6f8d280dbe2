//! What a generated tool is: its static description ([`crate::spec`]) plus a dispatch function,
//! and the catalog of everything one generated server offers.

use std::future::Future;
use std::pin::Pin;

use crate::context::{ToolContext, ToolOutput};
use crate::error::ToolError;
use crate::spec::{PromptSpec, ReferenceSpec, ToolSpec};

/// Tool arguments as they arrive in `tools/call`.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A boxed, sendable future, so handlers of different tools share one function type.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Parses the arguments and runs one tool.
pub type HandlerFn = for<'a> fn(&'a ToolContext, JsonObject) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;

/// A tool as the generated registry lists it.
#[derive(Debug)]
pub struct ToolEntry {
    pub spec: ToolSpec,
    pub call: HandlerFn,
}

/// Everything one generated integration offers.
#[derive(Clone, Copy, Debug)]
pub struct Catalog {
    pub tools: &'static [ToolEntry],
    pub prompts: &'static [PromptSpec],
    pub references: &'static [ReferenceSpec],
}

impl Catalog {
    /// Every tool of every catalog in `catalogs`.
    pub fn all_tools(catalogs: &[Catalog]) -> impl Iterator<Item = &'static ToolEntry> + '_ {
        catalogs.iter().flat_map(|catalog| catalog.tools.iter())
    }
}
