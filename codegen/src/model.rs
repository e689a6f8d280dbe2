//! The intermediate model between the spec and the emitted tokens.
//!
//! Every name in here has already been resolved and checked for collisions, and every schema
//! has been converted, so the emitters only translate; they never decide or fail.

use crate::docs::{FilterOperator, MethodKind, QueryType};

/// Everything the emitters need, in a deterministic order.
#[derive(Debug)]
pub struct Api {
    pub integration_label: String,
    /// Sorted by tool name.
    pub tools: Vec<Tool>,
    /// Response-side types, sorted by name.
    pub data_types: Vec<TypeDef>,
    /// Argument-side types (nested objects and enums in tool inputs), sorted by name.
    pub arg_types: Vec<TypeDef>,
    /// Sorted by name.
    pub prompts: Vec<PromptDef>,
    pub references: Vec<ReferenceDef>,
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
    Filter {
        attribute: String,
        operator: FilterOperator,
        ty: QueryType,
    },
    /// A top-level body attribute, by its wire name.
    Body(String),
    /// An argument of a custom method, used by the body template.
    Argument,
    Limit,
    Cursor,
}

#[derive(Debug)]
pub struct PaginationPlan {
    /// The typed list response the upstream answers with.
    pub response_type: String,
    pub items_field: String,
    pub items_optional: bool,
    pub item_type: String,
    pub total_field: String,
    pub total_optional: bool,
}

#[derive(Debug)]
pub enum BodyPlan {
    None,
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
    /// The upstream answers without a body (204).
    NoContent,
}

/// The shape of a value: what Rust type holds it and what the published schema says.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    String(StringRules),
    Integer(IntegerRules),
    Number,
    Boolean,
    Array(Box<Shape>, ArrayRules),
    /// A named struct or enum in the same namespace (data or args).
    Named(String),
    Any,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StringRules {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub email: bool,
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
}

#[derive(Clone, Debug)]
pub struct EnumDef {
    pub name: String,
    pub description: Option<String>,
    /// (wire value, Rust variant name)
    pub variants: Vec<(String, String)>,
}
