//! The documentation YAML: which spec operations become tools, and what the model reads.
//!
//! This file only mirrors the YAML; every cross-check against the spec happens in `resolve`.
//! Unknown keys are rejected so a typo is an error, not a silently ignored setting.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsFile {
    pub integration: Integration,
    pub resources: IndexMap<String, Resource>,
    #[serde(default)]
    pub excluded: Vec<Exclusion>,
    /// Workflow prompts (MCP `prompts/list`), rendered with the running server's tool names.
    #[serde(default)]
    pub prompts: IndexMap<String, PromptDoc>,
    /// Reference material (MCP `resources/list`), read live through a GET operation.
    #[serde(default)]
    pub reference: Vec<ReferenceDoc>,
    /// `Schema.property` -> description, for properties the spec leaves undescribed (the key
    /// names the schema that declares the property, as the generator's warning says).
    #[serde(default)]
    pub schema_descriptions: std::collections::BTreeMap<String, String>,
}

/// The product's own file: what a server of several integrations offers beyond each one's
/// docs, checked against the tools of all of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFile {
    /// Workflows that may use the tools of every integration. A product prompt named like an
    /// integration's takes its place wherever all its tools are in scope.
    #[serde(default)]
    pub prompts: IndexMap<String, PromptDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptDoc {
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub arguments: IndexMap<String, PromptArgumentDoc>,
    /// Text with `{{argument}}` and `{{tool:resource.method}}` placeholders.
    pub template: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptArgumentDoc {
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(rename = "type", default)]
    pub ty: PromptArgumentType,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PromptArgumentType {
    #[default]
    String,
    Boolean,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceDoc {
    pub uri: String,
    pub name: String,
    pub title: String,
    pub description: String,
    /// A GET operation without parameters whose answer is the resource's content.
    pub operation: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// The product's display label; tool names derive from it (`1Password` -> `1_password`).
    pub label: String,
    /// What the API is called after the label in messages (`SCIM bridge`: "the 1Password SCIM
    /// bridge rejected the token"); default `API`.
    #[serde(default)]
    pub upstream: Option<String>,
    /// The spec file these records document, relative to the docs file.
    #[serde(default)]
    pub spec: Option<String>,
    /// Only the operations named here become tools; the others need no `excluded` entry.
    /// For large specs of which a few operations are tools. Documented operations that the
    /// spec lacks are still errors.
    #[serde(default)]
    pub only_documented: bool,
    /// A GET operation without parameters whose answer says whether the upstream is up and
    /// takes the token (`getServiceProviderConfig`): what `/readyz` asks.
    #[serde(default)]
    pub readiness: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Singular form of the resource name, for `get_single_..._user_by_id`.
    pub singular: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub methods: IndexMap<String, Method>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    /// The operation this method calls: its `operationId`, or `METHOD /path` when it has none.
    pub operation: String,
    pub kind: MethodKind,
    pub description: String,
    /// Overrides the derived tool name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Extra tags for this method alone, added to the resource's.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// Typed query properties compiled to SCIM filter clauses.
    #[serde(default)]
    pub query: IndexMap<String, QueryProperty>,
    /// Arguments of a custom method, referenced from `body` with `$each`.
    #[serde(default)]
    pub arguments: IndexMap<String, yaml_serde::Value>,
    /// A fixed request body (custom methods), possibly with `$each` templates.
    #[serde(default)]
    pub body: Option<yaml_serde::Value>,
    /// The `oneOf` member (a component schema name) whose properties become the arguments,
    /// when the request body offers several.
    #[serde(default)]
    pub body_variant: Option<String>,
    #[serde(default)]
    pub destructive: Option<bool>,
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// Arguments naming what a call acts on, for the audit log, besides the path parameters
    /// (which always are): e.g. `user_name` for a create, `member_ids` for a membership change.
    #[serde(default)]
    pub audit_targets: Vec<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    Read,
    Write,
    Custom,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    pub style: PaginationStyle,
    /// The list field of the response holding the page's items (`Resources` for scim,
    /// `items` for body_cursor).
    #[serde(default)]
    pub items: Option<String>,
    /// scim: the response field holding the total number of matches (`totalResults`).
    #[serde(default)]
    pub total: Option<String>,
    /// body_cursor: the field holding the upstream's cursor, in responses and in the request
    /// body that continues (`cursor`).
    #[serde(default)]
    pub cursor: Option<String>,
    /// body_cursor: the response field saying whether more may follow (`has_more`).
    #[serde(default)]
    pub has_more: Option<String>,
    /// body_cursor: the request body's `oneOf` member that starts a listing (a component
    /// schema name, e.g. `ResetCursor`).
    #[serde(default)]
    pub reset: Option<String>,
    /// body_cursor: the reset body's page-size field (`limit`).
    #[serde(default)]
    pub page_size: Option<String>,
    /// body_cursor: the largest page the upstream serves (asked for when filtering locally).
    #[serde(default)]
    pub upstream_max: Option<i64>,
    /// body_cursor: at most this many upstream requests per tool call (default 5), so an
    /// upstream that answers `has_more` with empty pages cannot keep a call going forever.
    #[serde(default)]
    pub requests_per_call: Option<u32>,
    /// body_cursor: the reset's start-time field and how far before now the upstream starts
    /// when it is absent; the start is then pinned, so a first page fetched again is the same.
    #[serde(default)]
    pub default_start: Option<DefaultStart>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultStart {
    pub field: String,
    pub seconds_before_now: u64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PaginationStyle {
    /// RFC 7644 `startIndex` (1-based) and `count`, behind an opaque cursor.
    Scim,
    /// A POST body with either a reset (`limit`, times) or the upstream's `cursor`; the
    /// answer says `has_more` (1Password's Events API).
    BodyCursor,
}

/// A typed property of a list tool: a filter the upstream evaluates (a SCIM filter clause), a
/// filter op-scim-mcp evaluates over the upstream's pages (`evaluate: local`), or a field of
/// the request that starts a listing (`body:`, e.g. a time window).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryProperty {
    /// The SCIM attribute path the property filters on, e.g. `emails.value`; with `evaluate:
    /// local`, the item field (dotted path) compared, or several (`[user.email, target_user.email]`,
    /// any of which may match).
    #[serde(default)]
    pub attribute: Option<Attribute>,
    #[serde(default)]
    pub operator: Option<FilterOperator>,
    #[serde(default)]
    pub evaluate: Evaluate,
    /// The reset body field this property sets (body_cursor pagination).
    #[serde(default)]
    pub body: Option<String>,
    #[serde(rename = "type")]
    pub ty: QueryType,
    pub description: String,
}

/// One attribute path, or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Attribute {
    One(String),
    Several(Vec<String>),
}

impl Attribute {
    pub fn paths(&self) -> Vec<String> {
        match self {
            Self::One(path) => vec![path.clone()],
            Self::Several(paths) => paths.clone(),
        }
    }
}

/// Who evaluates a filter.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Evaluate {
    /// The upstream, as a SCIM filter clause.
    #[default]
    Upstream,
    /// op-scim-mcp, over the items of the upstream's pages.
    Local,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FilterOperator {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum QueryType {
    String,
    Boolean,
    Integer,
    /// An RFC 3339 time, checked before anything is sent.
    DateTime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub operation: String,
    pub reason: String,
}
