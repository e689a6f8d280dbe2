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
    /// The spec file these records document, relative to the docs file.
    #[serde(default)]
    pub spec: Option<String>,
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
    /// The `operationId` in the spec this method calls.
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
    /// The list field of the response holding the page's items.
    #[serde(default = "default_items_field")]
    pub items: String,
    /// The response field holding the total number of matches.
    #[serde(default = "default_total_field")]
    pub total: String,
}

fn default_items_field() -> String {
    "Resources".to_owned()
}

fn default_total_field() -> String {
    "totalResults".to_owned()
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PaginationStyle {
    /// RFC 7644 `startIndex` (1-based) and `count`, behind an opaque cursor.
    Scim,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryProperty {
    /// The SCIM attribute path the property filters on, e.g. `emails.value`.
    pub attribute: String,
    pub operator: FilterOperator,
    #[serde(rename = "type")]
    pub ty: QueryType,
    pub description: String,
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
#[serde(rename_all = "lowercase")]
pub enum QueryType {
    String,
    Boolean,
    Integer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub operation: String,
    pub reason: String,
}
