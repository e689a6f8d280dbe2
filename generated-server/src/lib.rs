//! `op-scim-mcp`: the MCP server for the 1Password SCIM bridge and the 1Password Events API.
//!
//! Everything under [`generated`], [`generated_events`] and [`generated_product`] is written by
//! `cargo xtask regen` from the files under `specs/`; the rest of this crate is the small
//! hand-written command line around it.

#[rustfmt::skip]
pub mod generated;
/// The Events API integration, generated from `specs/1password-events.openapi.yaml` and
/// `specs/1password-events.docs.yaml`.
#[rustfmt::skip]
pub mod generated_events;
/// Workflows over both integrations, generated from `specs/op-scim-mcp.product.yaml`.
#[rustfmt::skip]
pub mod generated_product;

use runtime::cursor::CursorCodec;
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{Catalog, Shared};

pub use generated::prompts::{PROMPTS, REFERENCES};
pub use generated::registry::{INTEGRATION_LABEL, TOOLS};

/// Everything the SCIM integration offers: tools, prompts and reference resources.
pub const CATALOG: Catalog = Catalog {
    tools: TOOLS,
    prompts: PROMPTS,
    references: REFERENCES,
};

/// Everything the Events API integration offers.
pub const EVENTS_CATALOG: Catalog = Catalog {
    tools: generated_events::registry::TOOLS,
    prompts: generated_events::prompts::PROMPTS,
    references: generated_events::prompts::REFERENCES,
};

/// What the generator says of one integration: its tools, and how its upstream speaks.
#[derive(Debug)]
pub struct GeneratedIntegration {
    /// How settings and messages name it.
    pub name: &'static str,
    pub catalog: Catalog,
    pub upstream_name: &'static str,
    pub media_type: &'static str,
    pub error_messages: &'static [&'static [&'static str]],
    pub readiness_path: Option<&'static str>,
    /// The spec's servers: URL and description.
    pub servers: &'static [(&'static str, &'static str)],
    /// How op-scim-mcp's command line and messages name its upstream settings.
    pub options: UpstreamOptions,
}

/// The words for one integration's upstream settings, so that `config check`, warnings and
/// the start-up log name the right flags without asking which integration they speak of.
#[derive(Debug)]
pub struct UpstreamOptions {
    /// The `config check` line of its URL; the token's line is this plus " token".
    pub label: &'static str,
    /// The flag that gives its URL.
    pub url_flag: &'static str,
    /// That flag's key in the configuration file.
    pub url_key: &'static str,
    /// What to set to serve it, for the start-up line of an integration left unconfigured.
    pub how_to_configure: &'static str,
}

/// The 1Password SCIM bridge.
pub static SCIM: GeneratedIntegration = GeneratedIntegration {
    name: "SCIM bridge",
    catalog: CATALOG,
    upstream_name: generated::registry::UPSTREAM_NAME,
    media_type: generated::registry::MEDIA_TYPE,
    error_messages: generated::registry::ERROR_MESSAGES,
    readiness_path: generated::registry::READINESS_PATH,
    servers: generated::registry::SERVERS,
    options: UpstreamOptions {
        label: "bridge",
        url_flag: "--bridge-url",
        url_key: "bridge_url",
        how_to_configure: "set --bridge-url and OP_SCIM_BEARER_TOKEN",
    },
};

/// The 1Password Events API.
pub static EVENTS: GeneratedIntegration = GeneratedIntegration {
    name: "Events API",
    catalog: EVENTS_CATALOG,
    upstream_name: generated_events::registry::UPSTREAM_NAME,
    media_type: generated_events::registry::MEDIA_TYPE,
    error_messages: generated_events::registry::ERROR_MESSAGES,
    readiness_path: generated_events::registry::READINESS_PATH,
    servers: generated_events::registry::SERVERS,
    options: UpstreamOptions {
        label: "events",
        url_flag: "--events-url",
        url_key: "events_url",
        how_to_configure: "set --events-region (or --events-url) and OP_EVENTS_BEARER_TOKEN",
    },
};

/// Every integration, in the order they are served and described.
pub static INTEGRATIONS: [&GeneratedIntegration; 2] = [&SCIM, &EVENTS];

/// The catalogs of every integration: what a scope may name.
pub const CATALOGS: &[Catalog] = &[CATALOG, EVENTS_CATALOG];

/// The OAuth scopes served when `--oauth-scope` names none: SCIM access in three nested tiers
/// (what an IT team grants an auditor, a provisioning tool and the IAM team), and the Events
/// API apart. Written as `--oauth-scope` lines (see `oauth::ScopeMap`).
pub const OAUTH_SCOPES: [&str; 4] = [
    "scim:read methods=read tags=directory,admin",
    "scim:write methods=create,update,add_members,remove_members tags=directory,admin implies=scim:read",
    "scim:admin methods=read,write,custom tags=directory,admin implies=scim:write",
    "events:read methods=read tags=events",
];

/// The product's own prompts, over the tools of every integration.
pub use generated_product::prompts::PROMPTS as PRODUCT_PROMPTS;

impl GeneratedIntegration {
    /// The upstream client for `base_url`, speaking this integration's media type and reading
    /// its error bodies.
    pub fn upstream(
        &self,
        base_url: impl Into<String>,
        token: Secret,
    ) -> Result<Upstream, runtime::upstream::UpstreamConfigError> {
        let mut config = UpstreamConfig::new(base_url, token)
            .with_media_type(self.media_type)
            .with_error_messages(self.error_messages);
        if let Some(path) = self.readiness_path {
            config = config.with_probe_path(path);
        }
        Upstream::new(config)
    }

    /// What every call of this integration shares, before audit and metrics are attached.
    pub fn shared(&self, upstream: Upstream, cursors: CursorCodec) -> Shared {
        Shared::new(upstream, cursors, INTEGRATION_LABEL).with_upstream_name(self.upstream_name)
    }

    /// How many of its tools `scope` serves.
    pub fn tools_in(&self, scope: &runtime::Scope) -> usize {
        self.catalog
            .tools
            .iter()
            .filter(|tool| scope.allows(&tool.spec))
            .count()
    }
}

/// The published tool list as JSON (names, titles, descriptions, schemas, annotations) of every
/// integration, as a client sees it under the given naming and scope.
pub fn tool_list_json(
    naming: runtime::ToolNaming,
    scope: &runtime::Scope,
) -> Result<serde_json::Value, runtime::server::ServerBuildError> {
    let tools: Vec<serde_json::Value> = Catalog::all_tools(CATALOGS)
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
