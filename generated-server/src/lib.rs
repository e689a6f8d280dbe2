//! `op-scim-mcp`: the MCP server for the 1Password SCIM bridge.
//!
//! Everything under [`generated`] is written by `cargo xtask regen` from
//! `specs/1password-scim.openapi.yaml` and `specs/1password-scim.docs.yaml`; the rest of this
//! crate is the small hand-written command line around it.

#[rustfmt::skip]
pub mod generated;
/// The Events API integration, generated from `specs/1password-events.openapi.yaml` and
/// `specs/1password-events.docs.yaml`.
#[rustfmt::skip]
pub mod generated_events;

pub use generated::prompts::{PROMPTS, REFERENCES};
pub use generated::registry::{INTEGRATION_LABEL, TOOLS};

/// Everything this server offers: tools, prompts and reference resources.
pub const CATALOG: runtime::Catalog = runtime::Catalog {
    tools: TOOLS,
    prompts: PROMPTS,
    references: REFERENCES,
};

/// Everything the Events API integration offers.
pub const EVENTS_CATALOG: runtime::Catalog = runtime::Catalog {
    tools: generated_events::registry::TOOLS,
    prompts: generated_events::prompts::PROMPTS,
    references: generated_events::prompts::REFERENCES,
};

/// The published tool list as JSON (names, titles, descriptions, schemas, annotations), as a
/// client sees it under the given naming and scope.
pub fn tool_list_json(
    naming: runtime::ToolNaming,
    scope: &runtime::Scope,
) -> Result<serde_json::Value, runtime::server::ServerBuildError> {
    let tools: Vec<serde_json::Value> = TOOLS
        .iter()
        .filter(|entry| scope.allows(&entry.spec))
        .map(|entry| runtime::server::tool_definition_json(&entry.spec, naming.name_of(&entry.spec)))
        .collect::<Result<_, _>>()?;
    if tools.is_empty() {
        return Err(runtime::server::ServerBuildError::EmptyScope(scope.to_string()));
    }
    let mut tools = tools;
    tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(serde_json::json!({ "tools": tools }))
}
