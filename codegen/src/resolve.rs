//! The one pass from spec + docs to the intermediate model, validating as it goes.
//!
//! Every problem is recorded with its location and the pass carries on, so a broken docs file
//! is reported whole. Names are resolved here, once, so two tools can never share one. The
//! request body ([`crate::body`]), the response and pagination ([`crate::output`]) and the
//! typed list properties ([`crate::query`]) are resolved in modules of their own.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent};
use serde_json::{Value, json};

use crate::diagnostics::Diagnostics;
use crate::docs::{self, DocsFile, MethodKind, PaginationStyle};
use crate::model::{
    Annotations, Api, HttpMethod, InputField, InputRole, IntegerRules, PathPart, ServerDef, Shape,
    StringRules, Tool,
};
use crate::naming;
use crate::operations::{OperationRef, Operations};
use crate::published;
use crate::schema::{Converter, Side};
use crate::targets::audit_targets;

/// Page size bounds of every list tool (`limit`), shared with the runtime's cursor handling.
pub const LIMIT_MIN: i64 = 1;
pub const LIMIT_MAX: i64 = 100;
pub const LIMIT_DEFAULT: i64 = 50;

/// Resolves the parsed inputs into the model, or every problem found.
pub fn resolve(spec: &OpenAPI, docs: &DocsFile, diags: &mut Diagnostics) -> Option<Api> {
    let operations = Operations::index(spec, diags);
    let integration = naming::integration_slug(&docs.integration.label);
    let mut data = Converter::new(spec, Side::Data, &docs.schema_descriptions);
    let mut args = Converter::new(spec, Side::Args, &docs.schema_descriptions);
    let mut tools = Vec::new();
    let mut used_operations = BTreeSet::new();

    for (resource_name, resource) in &docs.resources {
        let resource_location = format!("docs.yaml: resources.{resource_name}");
        check_snake(resource_name, &resource_location, "resource name", diags);
        check_snake(&resource.singular, &resource_location, "singular", diags);
        for tag in &resource.tags {
            check_tag(tag, &resource_location, diags);
        }
        for (method_name, method) in &resource.methods {
            let location = format!("{resource_location}.methods.{method_name}");
            let Some(operation) = operations.find(&method.operation) else {
                diags.push(
                    &location,
                    format!(
                        "operation `{}` is not in the spec (name an operation by its operationId, or by `METHOD /path`)",
                        method.operation
                    ),
                );
                continue;
            };
            used_operations.insert(operation.route());
            let context = MethodContext {
                integration: &integration,
                label: &docs.integration.label,
                resource_name,
                resource,
                method_name,
                method,
                operation,
                operation_name: operations.display_name(operation),
                location: &location,
                spec,
            };
            if let Some(tool) = context.resolve(&mut data, &mut args, diags) {
                tools.push(tool);
            }
        }
    }

    check_coverage(&operations, &used_operations, docs, diags);
    check_unique_names(&tools, diags);
    check_arg_descriptions(&args, diags);

    let prompts = crate::prompts::resolve_prompts(&docs.prompts, "docs.yaml", &tools, diags);
    let references = crate::prompts::resolve_references(docs, &tools, diags);
    let readiness_path = docs.integration.readiness.as_deref().and_then(|operation| {
        crate::prompts::parameterless_get(&tools, operation, "docs.yaml: integration.readiness", diags)
            .map(|(path, _)| path)
    });
    let error_message_paths = crate::errors::message_paths(spec, &operations, diags);

    if !diags.is_empty() {
        return None;
    }
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Api {
        integration_label: docs.integration.label.clone(),
        upstream_name: format!(
            "{} {}",
            docs.integration.label,
            docs.integration.upstream.as_deref().unwrap_or("API")
        ),
        servers: spec
            .servers
            .iter()
            .map(|server| ServerDef {
                url: server.url.clone(),
                description: server.description.clone().unwrap_or_default(),
            })
            .collect(),
        error_message_paths,
        media_type: crate::errors::media_type(&operations),
        tools,
        data_types: data.into_types(),
        arg_types: args.into_types(),
        prompts,
        references,
        readiness_path,
    })
}

/// One documented method and everything it is resolved against.
pub(crate) struct MethodContext<'a> {
    pub integration: &'a str,
    pub label: &'a str,
    pub resource_name: &'a str,
    pub resource: &'a docs::Resource,
    pub method_name: &'a str,
    pub method: &'a docs::Method,
    pub operation: &'a OperationRef<'a>,
    /// How the docs YAML names the operation (its id, or `METHOD /path`).
    pub operation_name: String,
    pub location: &'a str,
    pub spec: &'a OpenAPI,
}

impl MethodContext<'_> {
    fn resolve(
        &self,
        data: &mut Converter<'_>,
        args: &mut Converter<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Tool> {
        let location = self.location;
        let method = self.method;
        self.check_kind(diags);
        let name = self.tool_name();
        let portable_name = naming::portable_name(&name);
        if !naming::is_valid_tool_name(&name) {
            diags.push(
                location,
                format!("tool name `{name}` must match ^[A-Za-z0-9_.-]{{1,64}}$ (set `name` to override)"),
            );
        }
        if !naming::is_portable_tool_name(&portable_name) {
            diags.push(
                location,
                format!("portable tool name `{portable_name}` must match ^[a-z][a-z0-9_]{{0,63}}$"),
            );
        }
        if method.description.trim().is_empty() {
            diags.push(location, "description is empty: the model has nothing to go on");
        }
        let mut tags = self.resource.tags.clone();
        for tag in &method.tags {
            check_tag(tag, location, diags);
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }

        let mut inputs = Vec::new();
        let mut has_filter_param = false;
        let mut paging_params = BTreeSet::new();
        for parameter in self.parameters(diags) {
            match parameter {
                Parameter::Path { parameter_data, .. } => {
                    let field = self.parameter_field(&parameter_data, InputRole::Path, args, diags);
                    inputs.push(field);
                }
                Parameter::Query { parameter_data, .. } => {
                    let wire = parameter_data.name.as_str();
                    let scim_paging = method
                        .pagination
                        .as_ref()
                        .is_some_and(|pagination| pagination.style == PaginationStyle::Scim);
                    if wire == "filter" {
                        has_filter_param = true;
                    } else if scim_paging && (wire == "startIndex" || wire == "count") {
                        paging_params.insert(wire.to_owned());
                    } else {
                        let role = InputRole::Query(wire.to_owned());
                        let field = self.parameter_field(&parameter_data, role, args, diags);
                        inputs.push(field);
                    }
                }
                Parameter::Header { parameter_data, .. } | Parameter::Cookie { parameter_data, .. } => {
                    diags.push(
                        location,
                        format!(
                            "header and cookie parameters are not supported (`{}`)",
                            parameter_data.name
                        ),
                    );
                }
            }
        }
        let path = split_path(self.operation.path)
            .into_iter()
            .map(|part| match part {
                PathPart::Param(wire) => {
                    let rust = naming::rust_field_name(&wire);
                    if !inputs
                        .iter()
                        .any(|input| input.name == rust && matches!(input.role, InputRole::Path))
                    {
                        diags.push(location, format!("path parameter `{wire}` is not declared"));
                    }
                    PathPart::Param(rust)
                }
                literal => literal,
            })
            .collect();

        let body = self.resolve_body(args, &mut inputs, diags);
        let (output, pagination) = self.resolve_output(data, &paging_params, diags);
        self.resolve_query(&mut inputs, has_filter_param, pagination.as_ref(), data, diags);
        if pagination.is_some() {
            inputs.push(InputField {
                name: "limit".into(),
                shape: Shape::Integer(IntegerRules {
                    minimum: Some(LIMIT_MIN),
                    maximum: Some(LIMIT_MAX),
                }),
                required: false,
                // The range and default are the schema's minimum, maximum and default.
                description: "Page size.".into(),
                default: Some(json!(LIMIT_DEFAULT)),
                role: InputRole::Limit,
            });
            inputs.push(InputField {
                name: "next_cursor".into(),
                shape: Shape::String(StringRules::default()),
                required: false,
                description: "From the previous page.".into(),
                default: None,
                role: InputRole::Cursor,
            });
        }
        let mut seen = BTreeSet::new();
        for input in &inputs {
            if !seen.insert(input.name.clone()) {
                diags.push(location, format!("two arguments are named `{}`", input.name));
            }
        }

        let mut description = method.description.trim().to_owned();
        match &pagination {
            Some(crate::model::PaginationPlan::Scim(_)) => {
                description.push(' ');
                description.push_str(published::PAGING_INSTRUCTIONS);
            }
            Some(crate::model::PaginationPlan::BodyCursor(plan)) => {
                description.push(' ');
                description.push_str(&published::body_cursor_instructions(plan));
            }
            None => {}
        }
        if self.operation.is_deprecated() {
            diags.warn(
                location,
                format!("operation `{}` is deprecated by the API", self.operation_name),
            );
            description.push_str(" The API marks this operation deprecated.");
        }
        let title = method.title.clone().unwrap_or_else(|| {
            naming::default_title(
                self.label,
                self.resource_name,
                &self.resource.singular,
                self.method_name,
            )
        });
        let audit_targets = audit_targets(&inputs, &method.audit_targets, location, diags);
        let input_schema = input_schema(&inputs, args);
        let output_schema = published::output_schema(&output, pagination.as_ref(), data);
        Some(Tool {
            name,
            portable_name,
            title,
            description,
            resource: self.resource_name.to_owned(),
            singular: self.resource.singular.replace('_', " "),
            method: self.method_name.to_owned(),
            kind: method.kind,
            tags,
            annotations: self.annotations(),
            operation_id: self.operation_name.clone(),
            http_method: self.operation.method,
            path,
            inputs,
            audit_targets,
            pagination,
            body,
            output,
            input_schema,
            output_schema,
        })
    }

    pub(crate) fn tool_name(&self) -> String {
        self.method.name.clone().unwrap_or_else(|| {
            naming::default_tool_name(
                self.integration,
                self.resource_name,
                &self.resource.singular,
                self.method_name,
            )
        })
    }

    fn check_kind(&self, diags: &mut Diagnostics) {
        let expected = match self.method_name {
            "list" | "get" => Some(MethodKind::Read),
            "create" | "update" | "delete" => Some(MethodKind::Write),
            _ => None,
        };
        match expected {
            Some(kind) if kind != self.method.kind => diags.push(
                self.location,
                format!("method `{}` must have kind {kind:?}", self.method_name).to_lowercase(),
            ),
            // A method of its own reads (introspect) or does something (suspend); `write` is
            // create, update and delete, which scopes rely on.
            None if self.method.kind == MethodKind::Write => diags.push(
                self.location,
                format!(
                    "method `{}` is not a standard method, so its kind must be read or custom",
                    self.method_name
                ),
            ),
            _ => {}
        }
        if self.method.kind != MethodKind::Read && self.operation.method == HttpMethod::Get {
            diags.push(
                self.location,
                "a GET operation reads: its method must have kind read",
            );
        }
        if !self.method.query.is_empty() && self.method.pagination.is_none() {
            diags.push(
                self.location,
                "typed query properties need `pagination` (they filter a list)",
            );
        }
        if self.method.pagination.is_some() && self.method_name != "list" {
            diags.push(self.location, "only list methods paginate");
        }
        check_snake(self.method_name, self.location, "method name", diags);
    }

    /// The hints a client reads: from the method's kind (a `read` that the API spells as a
    /// POST, as the Events API does, still only reads), then the HTTP method for the rest.
    fn annotations(&self) -> Annotations {
        let http = self.operation.method;
        let read_only = self.method.kind == MethodKind::Read;
        let derived_destructive = http == HttpMethod::Delete;
        let derived_idempotent = matches!(http, HttpMethod::Put | HttpMethod::Delete);
        Annotations {
            read_only,
            destructive: (!read_only).then(|| self.method.destructive.unwrap_or(derived_destructive)),
            idempotent: (!read_only).then(|| self.method.idempotent.unwrap_or(derived_idempotent)),
            open_world: true,
        }
    }

    /// Path-level then operation-level parameters, with `$ref`s resolved.
    fn parameters(&self, diags: &mut Diagnostics) -> Vec<Parameter> {
        let mut found: IndexMap<String, Parameter> = IndexMap::new();
        let all = self
            .operation
            .path_parameters
            .iter()
            .chain(&self.operation.operation.parameters);
        for parameter in all {
            if let Some(parameter) = crate::refs::parameter(self.spec, parameter, self.location, diags) {
                // An operation-level parameter overrides a path-level one of the same name.
                found.insert(parameter.parameter_data_ref().name.clone(), parameter.clone());
            }
        }
        found.into_values().collect()
    }

    fn parameter_field(
        &self,
        data: &openapiv3::ParameterData,
        role: InputRole,
        args: &mut Converter<'_>,
        diags: &mut Diagnostics,
    ) -> InputField {
        let location = format!("{}.parameters.{}", self.location, data.name);
        let shape = match &data.format {
            ParameterSchemaOrContent::Schema(schema) => args.convert(schema, &data.name, &location, diags),
            ParameterSchemaOrContent::Content(_) => {
                diags.push(&location, "content-encoded parameters are not supported");
                Shape::Any
            }
        };
        let description = data
            .description
            .clone()
            .filter(|text| !text.trim().is_empty())
            .or_else(|| args.documented("parameters", &data.name))
            .unwrap_or_else(|| {
                diags.warn(
                    &location,
                    format!(
                        "parameter `{}` has no description; describe it in the docs YAML (schema_descriptions: {{parameters.{}: ...}})",
                        data.name, data.name
                    ),
                );
                String::new()
            });
        let required = matches!(role, InputRole::Path) || data.required;
        InputField {
            name: naming::rust_field_name(&data.name),
            shape,
            required,
            description: description.trim().to_owned(),
            default: None,
            role,
        }
    }
}

/// The published input schema: object root, every property described.
///
/// Unknown arguments are refused by the generated argument types (`deny_unknown_fields`), not
/// by what is published: `additionalProperties: false` on every tool cost hundreds of bytes the
/// model reads in every conversation and told it nothing the property list does not.
fn input_schema(inputs: &[InputField], args: &Converter<'_>) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for input in inputs {
        let mut schema = args.json_schema(&input.shape);
        if let Value::Object(map) = &mut schema {
            if !input.description.is_empty() {
                map.insert("description".into(), json!(input.description));
            }
            if let Some(default) = &input.default {
                map.insert("default".into(), default.clone());
            }
        }
        properties.insert(input.name.clone(), schema);
        if input.required {
            required.push(json!(input.name));
        }
    }
    let mut schema = serde_json::Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    Value::Object(schema)
}

fn split_path(path: &str) -> Vec<PathPart> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => PathPart::Param(param.to_owned()),
                None => PathPart::Literal(segment.to_owned()),
            },
        )
        .collect()
}

/// Every operation is a tool, excluded with a reason, deprecated by the API, or (with
/// `only_documented`) simply left out; an exclusion must name an operation that exists.
fn check_coverage(
    operations: &Operations<'_>,
    used: &BTreeSet<String>,
    docs: &DocsFile,
    diags: &mut Diagnostics,
) {
    let mut excluded = BTreeSet::new();
    for (index, exclusion) in docs.excluded.iter().enumerate() {
        let location = format!("docs.yaml: excluded[{index}]");
        let Some(route) = operations.route_of(&exclusion.operation) else {
            diags.push(
                &location,
                format!("excluded operation `{}` is not in the spec", exclusion.operation),
            );
            continue;
        };
        if used.contains(&route) {
            diags.push(
                &location,
                format!(
                    "operation `{}` is both documented and excluded",
                    exclusion.operation
                ),
            );
        }
        if exclusion.reason.trim().is_empty() {
            diags.push(&location, "say why the operation is excluded");
        }
        excluded.insert(route);
    }
    if docs.integration.only_documented {
        return;
    }
    for operation in operations.iter() {
        let route = operation.route();
        if used.contains(&route) || excluded.contains(&route) || operation.is_deprecated() {
            continue;
        }
        diags.push(
            operation.location(),
            format!(
                "operation `{}` is neither documented nor excluded in docs.yaml (or set integration.only_documented)",
                operations.display_name(operation)
            ),
        );
    }
}

fn check_unique_names(tools: &[Tool], diags: &mut Diagnostics) {
    let mut default_names: BTreeMap<&str, String> = BTreeMap::new();
    let mut portable_names: BTreeMap<&str, String> = BTreeMap::new();
    for tool in tools {
        let location = format!("docs.yaml: resources.{}.methods.{}", tool.resource, tool.method);
        if let Some(other) = default_names.insert(&tool.name, location.clone()) {
            diags.push(
                &location,
                format!("tool name `{}` is also used by {other}", tool.name),
            );
        }
        if let Some(other) = portable_names.insert(&tool.portable_name, location.clone()) {
            diags.push(
                &location,
                format!(
                    "portable tool name `{}` is also used by {other}",
                    tool.portable_name
                ),
            );
        }
    }
}

/// A property published to the model without a description leaves it guessing: worth a
/// warning, with the key the docs YAML can describe it under.
fn check_arg_descriptions(args: &Converter<'_>, diags: &mut Diagnostics) {
    for (location, key) in args.undescribed_fields() {
        diags.warn(
            location,
            format!("property `{key}` is published to the model without a description; add it to the docs YAML's schema_descriptions"),
        );
    }
}

pub(crate) fn check_snake(name: &str, location: &str, what: &str, diags: &mut Diagnostics) {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        diags.push(
            location,
            format!("{what} `{name}` must be snake_case ([a-z][a-z0-9_]*)"),
        );
    }
}

fn check_tag(tag: &str, location: &str, diags: &mut Diagnostics) {
    check_snake(tag, location, "tag", diags);
}
