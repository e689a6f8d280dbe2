//! The intermediate model between the spec and the emitted tokens.
//!
//! Every name in here has already been resolved and checked for collisions, and every schema
//! has been converted, so the emitters only translate; they never decide or fail.

use crate::docs::{FilterOperator, MethodKind, QueryType};

/// Everything the emitters need, in a deterministic order.
#[derive(Debug)]
pub struct Api {
    pub integration_label: String,
    /// The upstream by name in messages: `1Password SCIM bridge`.
    pub upstream_name: String,
    /// The spec's servers: where the integration may be reached (one per region, say).
    pub servers: Vec<ServerDef>,
    /// Where a human-readable message sits in the spec's error bodies (`Error.Message`), from
    /// the schema of its error responses.
    pub error_message_paths: Vec<Vec<String>>,
    /// The JSON media type the API's bodies use (`application/scim+json` for SCIM).
    pub media_type: String,
    /// Sorted by tool name.
    pub tools: Vec<Tool>,
    /// Response-side types, sorted by name.
    pub data_types: Vec<TypeDef>,
    /// Argument-side types (nested objects and enums in tool inputs), sorted by name.
    pub arg_types: Vec<TypeDef>,
    /// Sorted by name.
    pub prompts: Vec<PromptDef>,
    pub references: Vec<ReferenceDef>,
    /// The path segments of the readiness probe, if the docs name one.
    pub readiness_path: Option<Vec<String>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ServerDef {
    pub url: String,
    pub description: String,
}

#[derive(Debug)]
pub struct PromptDef {
    pub name: String,
    pub title: String,
    pub description: String,
    pub arguments: Vec<PromptArgumentDef>,
    pub segments: Vec<PromptSegment>,
}

#[derive(Debug)]
pub struct PromptArgumentDef {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub boolean: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PromptSegment {
    Text(String),
    Argument(String),
    /// A tool, named at render time by the server's naming and scope.
    Tool {
        resource: String,
        method: String,
    },
}

#[derive(Debug)]
pub struct ReferenceDef {
    pub uri: String,
    pub name: String,
    pub title: String,
    pub description: String,
    /// Literal path segments of the GET operation.
    pub path: Vec<String>,
    /// The tool reading the same operation: the resource is offered where that tool is.
    pub resource: String,
    pub method: String,
}

#[derive(Debug)]
pub struct Tool {
    /// The published name in the default naming (`1_password_users_suspend`).
    pub name: String,
    /// The published name in portable naming (`one_password_users_suspend`); also the Rust name.
    pub portable_name: String,
    pub title: String,
    pub description: String,
    pub resource: String,
    pub singular: String,
    pub method: String,
    pub kind: MethodKind,
    pub tags: Vec<String>,
    pub annotations: Annotations,
    /// How the docs YAML names the operation: its id, or `METHOD /path`.
    pub operation_id: String,
    pub http_method: HttpMethod,
    /// The path template split at `/`.
    pub path: Vec<PathPart>,
    pub inputs: Vec<InputField>,
    /// The arguments naming what a call acts on (path parameters first), for the audit log.
    pub audit_targets: Vec<String>,
    pub pagination: Option<PaginationPlan>,
    pub body: BodyPlan,
    pub output: OutputPlan,
    pub input_schema: serde_json::Value,
    pub output_schema: serde_json::Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPart {
    Literal(String),
    /// A path parameter, by the Rust name of the input field that carries it.
    Param(String),
}

/// One argument of a tool, as published and as a field of the typed input struct.
#[derive(Clone, Debug)]
pub struct InputField {
    /// The argument name the model uses; also the Rust field name.
    pub name: String,
    pub shape: Shape,
    pub required: bool,
    pub description: String,
    pub default: Option<serde_json::Value>,
    pub role: InputRole,
}

#[derive(Clone, Debug)]
pub enum InputRole {
    Path,
    /// A plain query parameter, by its wire name.
    Query(String),
    /// A SCIM filter clause the upstream evaluates.
    Filter {
        attribute: String,
        operator: FilterOperator,
        ty: QueryType,
    },
    /// A filter op-scim-mcp evaluates over the items of the upstream's pages: an item matches
    /// when any of the (dotted) paths holds a matching value.
    LocalFilter {
        paths: Vec<String>,
        operator: FilterOperator,
        ty: QueryType,
    },
    /// A field of the request body that starts a listing (body_cursor pagination), by wire name.
    ResetField(String),
    /// A top-level body attribute, by its wire name.
    Body(String),
    /// An argument of a custom method, used by the body template.
    Argument,
    Limit,
    Cursor,
}

/// How a list tool pages through the upstream.
#[derive(Debug)]
pub enum PaginationPlan {
    Scim(ScimPaging),
    BodyCursor(BodyCursorPaging),
}

impl PaginationPlan {
    /// The typed list response the upstream answers with.
    pub fn response_type(&self) -> &str {
        match self {
            Self::Scim(plan) => &plan.response_type,
            Self::BodyCursor(plan) => &plan.response_type,
        }
    }
}

/// SCIM `startIndex`/`count` paging.
#[derive(Debug)]
pub struct ScimPaging {
    pub response_type: String,
    pub items_field: String,
    pub items_optional: bool,
    pub item_type: String,
    pub total_field: String,
    pub total_optional: bool,
}

/// A POST body that either starts a listing or continues it with the upstream's cursor; the
/// answer says whether more may follow.
#[derive(Debug)]
pub struct BodyCursorPaging {
    pub response_type: String,
    /// Rust field names in the response type.
    pub items_field: String,
    pub items_optional: bool,
    pub item_type: String,
    pub cursor_field: String,
    pub cursor_optional: bool,
    pub has_more_field: String,
    pub has_more_optional: bool,
    /// Wire names in the request bodies.
    pub cursor_wire: String,
    pub page_size_wire: String,
    pub upstream_max: i64,
    pub requests_per_call: u32,
    /// The reset's start-time field and the upstream's default window before now, in seconds.
    pub default_start: Option<(String, u64)>,
}

#[derive(Debug)]
pub enum BodyPlan {
    None,
    /// The pagination builds the body (body_cursor): a reset from the `ResetField` inputs, or
    /// the upstream's cursor.
    Paged,
    /// The body is built from the `Body` inputs into this argument-side struct.
    Fields {
        type_name: String,
    },
    /// A fixed JSON body from the docs, possibly with `$each` templates.
    Template(BodyTemplate),
}

#[derive(Clone, Debug)]
pub enum BodyTemplate {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<BodyTemplate>),
    Object(Vec<(String, BodyTemplate)>),
    /// `{ $each: argument, item: template }`: one `item` per element, `$item` standing for it.
    Each {
        argument: String,
        item: Box<BodyTemplate>,
    },
    /// The string `$item` inside an `$each` item.
    Item,
    /// A string holding `$quoted_item` inside an `$each` item: the item, quoted as a SCIM filter
    /// string literal (so an id from the model cannot change the filter), between two texts.
    QuotedItem {
        before: String,
        after: String,
    },
}

#[derive(Debug)]
pub enum OutputPlan {
    /// The response body, typed.
    Typed(String),
    /// A page of items behind the cursor (`pagination` is set).
    Page(String),
    /// The upstream answers a JSON array of these items (no pagination): published wrapped,
    /// as `{result, result_count}`, since an output schema needs an object root.
    List(String),
    /// The upstream answers without a body (204).
    NoContent,
}

/// The shape of a value: what Rust type holds it and what the published schema says.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    String(StringRules),
    Integer(IntegerRules),
    Number(NumberRules),
    Boolean,
    Array(Box<Shape>, ArrayRules),
    /// An object of any keys whose values have this shape (`additionalProperties: {schema}`).
    Map(Box<Shape>),
    /// A value of one of several JSON types (`oneOf: [{type: string}, {type: integer}]`),
    /// by their JSON Schema names.
    OneOfTypes(Vec<&'static str>),
    /// A named struct or enum in the same namespace (data or args).
    Named(String),
    Any,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StringRules {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub email: bool,
    /// `format: date-time`: an RFC 3339 time, checked before anything is sent.
    pub date_time: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NumberRules {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegerRules {
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArrayRules {
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
}

#[derive(Clone, Debug)]
pub enum TypeDef {
    Struct(StructDef),
    Enum(EnumDef),
}

impl TypeDef {
    pub fn name(&self) -> &str {
        match self {
            Self::Struct(def) => &def.name,
            Self::Enum(def) => &def.name,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: String,
    pub description: Option<String>,
    pub fields: Vec<StructField>,
    /// Data-side structs keep attributes the spec does not describe, under this field name.
    pub catch_all: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StructField {
    pub wire_name: String,
    pub rust_name: String,
    pub shape: Shape,
    pub required: bool,
    pub description: Option<String>,
    /// The schema that declares the property (a component name, or an inline hint), which
    /// `schema_descriptions` in the docs YAML keys descriptions by.
    pub origin: String,
}

#[derive(Clone, Debug)]
pub struct EnumDef {
    pub name: String,
    pub description: Option<String>,
    /// (wire value, Rust variant name)
    pub variants: Vec<(String, String)>,
}
