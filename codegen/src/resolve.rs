//! The one pass from spec + docs to the intermediate model, validating as it goes.
//!
//! Every problem is recorded with its location and the pass carries on, so a broken docs file
//! is reported whole. Names are resolved here, once, so two tools can never share one.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use openapiv3::{OpenAPI, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr, Schema};
use serde_json::{Value, json};

use crate::diagnostics::Diagnostics;
use crate::docs::{self, DocsFile, MethodKind, QueryType};
use crate::model::{
    Annotations, Api, BodyPlan, BodyTemplate, HttpMethod, InputField, InputRole, IntegerRules, OutputPlan,
    PaginationPlan, PathPart, Shape, StringRules, Tool, TypeDef,
};
use crate::naming;
use crate::schema::{Converter, Side};
use crate::targets::audit_targets;

/// Page size bounds of every list tool (`limit`), shared with the runtime's cursor handling.
pub const LIMIT_MIN: i64 = 1;
pub const LIMIT_MAX: i64 = 100;
pub const LIMIT_DEFAULT: i64 = 50;

const PAGING_INSTRUCTIONS: &str = "Results come in pages. Pass `limit` (1-100, default 50). \
When the result's `next_cursor` is a string, call this tool again with `next_cursor` set to it \
exactly as returned and the same filter arguments to get the next page; never invent or edit a \
cursor. A null `next_cursor` means this was the last page.";

struct OperationRef<'a> {
    path: &'a str,
    method: HttpMethod,
    operation: &'a Operation,
    path_parameters: &'a [ReferenceOr<Parameter>],
}

/// Resolves the parsed inputs into the model, or every problem found.
pub fn resolve(spec: &OpenAPI, docs: &DocsFile, diags: &mut Diagnostics) -> Option<Api> {
    let operations = index_operations(spec, diags);
    let integration = naming::integration_slug(&docs.integration.label);
    let mut data = Converter::new(spec, Side::Data);
    let mut args = Converter::new(spec, Side::Args);
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
            let Some(operation) = operations.get(method.operation.as_str()) else {
                diags.push(
                    &location,
                    format!("operation `{}` is not in the spec", method.operation),
                );
                continue;
            };
            used_operations.insert(method.operation.clone());
            let context = MethodContext {
                integration: &integration,
                label: &docs.integration.label,
                resource_name,
                resource,
                method_name,
                method,
                operation,
                location: &location,
            };
            if let Some(tool) = context.resolve(spec, &mut data, &mut args, diags) {
                tools.push(tool);
            }
        }
    }

    check_coverage(&operations, &used_operations, docs, diags);
    check_unique_names(&tools, diags);
    check_arg_descriptions(&args, diags);

    let prompts = crate::prompts::resolve_prompts(docs, &tools, diags);
    let references = crate::prompts::resolve_references(docs, &tools, diags);

    if !diags.is_empty() {
        return None;
    }
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Api {
        integration_label: docs.integration.label.clone(),
        tools,
        data_types: data.into_types(),
        arg_types: args.into_types(),
        prompts,
        references,
    })
}

fn index_operations<'a>(spec: &'a OpenAPI, diags: &mut Diagnostics) -> BTreeMap<&'a str, OperationRef<'a>> {
    let mut operations = BTreeMap::new();
    for (path, item) in &spec.paths.paths {
        let ReferenceOr::Item(item) = item else {
            diags.push(
                format!("openapi: paths.{path}"),
                "path item references are not supported",
            );
            continue;
        };
        let methods = [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Patch, &item.patch),
            (HttpMethod::Delete, &item.delete),
        ];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            let location = format!("openapi: paths.{path}.{}", method.as_str().to_lowercase());
            let Some(id) = operation.operation_id.as_deref() else {
                diags.push(location, "operation has no operationId");
                continue;
            };
            let entry = OperationRef {
                path,
                method,
                operation,
                path_parameters: &item.parameters,
            };
            if operations.insert(id, entry).is_some() {
                diags.push(location, format!("operationId `{id}` is used twice"));
            }
        }
        for (name, operation) in [
            ("options", &item.options),
            ("head", &item.head),
            ("trace", &item.trace),
        ] {
            if operation.is_some() {
                diags.push(
                    format!("openapi: paths.{path}.{name}"),
                    "OPTIONS/HEAD/TRACE operations are not supported",
                );
            }
        }
    }
    operations
}

struct MethodContext<'a> {
    integration: &'a str,
    label: &'a str,
    resource_name: &'a str,
    resource: &'a docs::Resource,
    method_name: &'a str,
    method: &'a docs::Method,
    operation: &'a OperationRef<'a>,
    location: &'a str,
}

impl MethodContext<'_> {
    fn resolve(
        &self,
        spec: &OpenAPI,
        data: &mut Converter<'_>,
        args: &mut Converter<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Tool> {
        let location = self.location;
        let method = self.method;
        self.check_kind(diags);
        let name = method.name.clone().unwrap_or_else(|| {
            naming::default_tool_name(
                self.integration,
                self.resource_name,
                &self.resource.singular,
                self.method_name,
            )
        });
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

        let path = split_path(self.operation.path);
        let mut inputs = Vec::new();
        let mut has_filter_param = false;
        let mut paging_params = BTreeSet::new();
        for parameter in self.parameters(spec, diags) {
            match parameter {
                Parameter::Path { parameter_data, .. } => {
                    let field = self.parameter_field(&parameter_data, InputRole::Path, args, diags);
                    inputs.push(field);
                }
                Parameter::Query { parameter_data, .. } => {
                    let wire = parameter_data.name.as_str();
                    if wire == "filter" {
                        has_filter_param = true;
                    } else if method.pagination.is_some() && (wire == "startIndex" || wire == "count") {
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
        let path = path
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

        for (property, query) in &method.query {
            let query_location = format!("{location}.query.{property}");
            check_snake(property, &query_location, "query property", diags);
            if !has_filter_param {
                diags.push(
                    &query_location,
                    format!(
                        "operation `{}` has no `filter` query parameter to compile this into",
                        method.operation
                    ),
                );
            }
            if !is_attribute_path(&query.attribute) {
                diags.push(
                    &query_location,
                    format!("`{}` is not a SCIM attribute path", query.attribute),
                );
            }
            if query.description.trim().is_empty() {
                diags.push(&query_location, "description is empty");
            }
            let shape = match query.ty {
                QueryType::String => Shape::String(StringRules::default()),
                QueryType::Boolean => Shape::Boolean,
                QueryType::Integer => Shape::Integer(IntegerRules::default()),
            };
            inputs.push(InputField {
                name: property.clone(),
                shape,
                required: false,
                description: query.description.trim().to_owned(),
                default: None,
                role: InputRole::Filter {
                    attribute: query.attribute.clone(),
                    operator: query.operator,
                    ty: query.ty,
                },
            });
        }

        let body = self.resolve_body(args, &mut inputs, diags);
        let (output, pagination) = self.resolve_output(data, &paging_params, diags);
        if pagination.is_some() {
            inputs.push(InputField {
                name: "limit".into(),
                shape: Shape::Integer(IntegerRules {
                    minimum: Some(LIMIT_MIN),
                    maximum: Some(LIMIT_MAX),
                }),
                required: false,
                description: format!(
                    "How many results to return on this page, {LIMIT_MIN} to {LIMIT_MAX} (default {LIMIT_DEFAULT})."
                ),
                default: Some(json!(LIMIT_DEFAULT)),
                role: InputRole::Limit,
            });
            inputs.push(InputField {
                name: "next_cursor".into(),
                shape: Shape::String(StringRules::default()),
                required: false,
                description: "The `next_cursor` of the previous page, passed back unchanged; omit it for the first page.".into(),
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
        if pagination.is_some() {
            description.push(' ');
            description.push_str(PAGING_INSTRUCTIONS);
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
        let output_schema = output_schema(&output, data);
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
            operation_id: method.operation.clone(),
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
            None if self.method.kind != MethodKind::Custom => diags.push(
                self.location,
                format!(
                    "method `{}` is not a standard method, so its kind must be custom",
                    self.method_name
                ),
            ),
            _ => {}
        }
        if self.method.kind == MethodKind::Read && self.operation.method != HttpMethod::Get {
            diags.push(self.location, "a read method must call a GET operation");
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

    fn annotations(&self) -> Annotations {
        let http = self.operation.method;
        let read_only = http == HttpMethod::Get;
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
    fn parameters(&self, spec: &OpenAPI, diags: &mut Diagnostics) -> Vec<Parameter> {
        let mut found: IndexMap<String, Parameter> = IndexMap::new();
        let all = self
            .operation
            .path_parameters
            .iter()
            .chain(&self.operation.operation.parameters);
        for parameter in all {
            let resolved = match parameter {
                ReferenceOr::Item(parameter) => Some(parameter.clone()),
                ReferenceOr::Reference { reference } => {
                    let component = reference.strip_prefix("#/components/parameters/");
                    let resolved = component
                        .and_then(|name| spec.components.as_ref()?.parameters.get(name))
                        .and_then(ReferenceOr::as_item)
                        .cloned();
                    if resolved.is_none() {
                        diags.push(self.location, format!("unknown parameter $ref `{reference}`"));
                    }
                    resolved
                }
            };
            if let Some(parameter) = resolved {
                // An operation-level parameter overrides a path-level one of the same name.
                found.insert(parameter.parameter_data_ref().name.clone(), parameter);
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
        let description = data.description.clone().unwrap_or_default();
        if description.trim().is_empty() {
            diags.push(&location, "parameter has no description");
        }
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

    fn resolve_body(
        &self,
        args: &mut Converter<'_>,
        inputs: &mut Vec<InputField>,
        diags: &mut Diagnostics,
    ) -> BodyPlan {
        let location = self.location;
        let request_body = match &self.operation.operation.request_body {
            None => None,
            Some(ReferenceOr::Item(body)) => Some(body),
            Some(ReferenceOr::Reference { reference }) => {
                diags.push(
                    location,
                    format!("requestBody $ref `{reference}` is not supported; inline it"),
                );
                return BodyPlan::None;
            }
        };
        for (argument, schema) in &self.method.arguments {
            let argument_location = format!("{location}.arguments.{argument}");
            check_snake(argument, &argument_location, "argument", diags);
            let parsed: Result<Schema, _> = yaml_serde::from_value(schema.clone());
            let schema = match parsed {
                Ok(schema) => schema,
                Err(error) => {
                    diags.push(&argument_location, format!("not an OpenAPI schema: {error}"));
                    continue;
                }
            };
            let description = schema.schema_data.description.clone().unwrap_or_default();
            if description.trim().is_empty() {
                diags.push(&argument_location, "argument has no description");
            }
            let hint = format!("{}_{argument}", self.method_name);
            let shape = args.convert(&ReferenceOr::Item(schema), &hint, &argument_location, diags);
            inputs.push(InputField {
                name: argument.clone(),
                shape,
                required: true,
                description: description.trim().to_owned(),
                default: None,
                role: InputRole::Argument,
            });
        }
        if let Some(template) = &self.method.body {
            if request_body.is_none() {
                diags.push(location, "a body is given but the operation takes none");
            }
            let template = self.compile_template(template, inputs, false, diags);
            return BodyPlan::Template(template);
        }
        if !self.method.arguments.is_empty() {
            diags.push(location, "arguments are only used by a `body` template; add one");
        }
        let Some(request_body) = request_body else {
            return BodyPlan::None;
        };
        let Some(schema) = request_body
            .content
            .values()
            .find_map(|media| media.schema.as_ref())
        else {
            diags.push(location, "the operation's request body has no schema");
            return BodyPlan::None;
        };
        let (hint, object) = match schema {
            ReferenceOr::Reference { reference } => match args.resolve_ref(reference, location, diags) {
                Some((component, schema)) => (component.to_owned(), schema),
                None => return BodyPlan::None,
            },
            ReferenceOr::Item(schema) => (
                format!("{}_body", naming::portable_name(&self.tool_name())),
                schema,
            ),
        };
        let openapiv3::SchemaKind::Type(openapiv3::Type::Object(object_type)) = &object.schema_kind else {
            diags.push(
                location,
                "the request body must be an object to flatten into arguments",
            );
            return BodyPlan::None;
        };
        let body_location = format!("openapi: components.schemas.{hint}");
        for (wire, property) in &object_type.properties {
            if matches!(property, ReferenceOr::Item(schema) if schema.schema_data.read_only) {
                continue;
            }
            let field_location = format!("{body_location}.properties.{wire}");
            let shape = args.convert_property(property, &format!("{hint}_{wire}"), &field_location, diags);
            let description = args.property_description(property).unwrap_or_default();
            if description.trim().is_empty() {
                diags.push(&field_location, "body property has no description");
            }
            inputs.push(InputField {
                name: naming::rust_field_name(wire),
                shape,
                required: object_type.required.contains(wire),
                description: description.trim().to_owned(),
                default: None,
                role: InputRole::Body(wire.clone()),
            });
        }
        BodyPlan::Fields {
            type_name: format!(
                "{}Body",
                naming::rust_type_name(&naming::portable_name(&self.tool_name()))
            ),
        }
    }

    fn tool_name(&self) -> String {
        self.method.name.clone().unwrap_or_else(|| {
            naming::default_tool_name(
                self.integration,
                self.resource_name,
                &self.resource.singular,
                self.method_name,
            )
        })
    }

    fn compile_template(
        &self,
        value: &yaml_serde::Value,
        inputs: &[InputField],
        in_item: bool,
        diags: &mut Diagnostics,
    ) -> BodyTemplate {
        use yaml_serde::Value as Y;
        let location = format!("{}.body", self.location);
        match value {
            Y::Null => BodyTemplate::Null,
            Y::Bool(flag) => BodyTemplate::Bool(*flag),
            Y::Number(number) => match serde_json::to_value(number) {
                Ok(Value::Number(number)) => BodyTemplate::Number(number),
                _ => {
                    diags.push(location, format!("number {number} has no JSON form"));
                    BodyTemplate::Null
                }
            },
            Y::String(text) if text == "$item" => {
                if !in_item {
                    diags.push(location, "`$item` is only meaningful inside an `$each` item");
                }
                BodyTemplate::Item
            }
            Y::String(text) if text.contains("$quoted_item") => {
                if !in_item {
                    diags.push(
                        &location,
                        "`$quoted_item` is only meaningful inside an `$each` item",
                    );
                }
                let (before, after) = text.split_once("$quoted_item").unwrap_or((text, ""));
                if after.contains("$quoted_item") {
                    diags.push(&location, "`$quoted_item` may appear once per string");
                }
                BodyTemplate::QuotedItem {
                    before: before.to_owned(),
                    after: after.to_owned(),
                }
            }
            Y::String(text) => BodyTemplate::String(text.clone()),
            Y::Sequence(items) => BodyTemplate::Array(
                items
                    .iter()
                    .map(|item| self.compile_template(item, inputs, in_item, diags))
                    .collect(),
            ),
            Y::Mapping(mapping) => {
                let each = mapping.get("$each");
                if let Some(each) = each {
                    let argument = each.as_str().unwrap_or_default().to_owned();
                    let declared = inputs.iter().find(|input| input.name == argument);
                    match declared {
                        Some(input)
                            if matches!(&input.shape, Shape::Array(item, _)
                            if matches!(item.as_ref(), Shape::String(_) | Shape::Integer(_) | Shape::Boolean | Shape::Number)) =>
                            {}
                        Some(_) => diags.push(
                            &location,
                            format!("`$each: {argument}` needs an array of strings, numbers or booleans"),
                        ),
                        None => diags.push(
                            &location,
                            format!("`$each: {argument}` names no declared argument"),
                        ),
                    }
                    let Some(item) = mapping.get("item") else {
                        diags.push(&location, "`$each` needs an `item` template");
                        return BodyTemplate::Null;
                    };
                    if mapping.len() != 2 {
                        diags.push(&location, "`$each` takes exactly the keys `$each` and `item`");
                    }
                    return BodyTemplate::Each {
                        argument,
                        item: Box::new(self.compile_template(item, inputs, true, diags)),
                    };
                }
                let mut fields = Vec::new();
                for (key, value) in mapping {
                    let Some(key) = key.as_str() else {
                        diags.push(&location, "body keys must be strings");
                        continue;
                    };
                    fields.push((
                        key.to_owned(),
                        self.compile_template(value, inputs, in_item, diags),
                    ));
                }
                BodyTemplate::Object(fields)
            }
            Y::Tagged(_) => {
                diags.push(location, "YAML tags are not supported in bodies");
                BodyTemplate::Null
            }
        }
    }

    fn resolve_output(
        &self,
        data: &mut Converter<'_>,
        paging_params: &BTreeSet<String>,
        diags: &mut Diagnostics,
    ) -> (OutputPlan, Option<PaginationPlan>) {
        let location = format!("{}.response", self.location);
        let responses = &self.operation.operation.responses.responses;
        let success = responses.iter().find(
            |(status, _)| matches!(status, openapiv3::StatusCode::Code(code) if (200..300).contains(code)),
        );
        let Some((status, response)) = success else {
            diags.push(&location, "the operation declares no 2xx response");
            return (OutputPlan::NoContent, None);
        };
        let ReferenceOr::Item(response) = response else {
            diags.push(&location, "response $refs are not supported; inline the response");
            return (OutputPlan::NoContent, None);
        };
        let schema = response.content.values().find_map(|media| media.schema.as_ref());
        let Some(schema) = schema else {
            if self.method.pagination.is_some() {
                diags.push(
                    &location,
                    format!("a paginated method needs a response body ({status} has none)"),
                );
            }
            return (OutputPlan::NoContent, None);
        };
        let hint = format!("{}_response", self.method_name);
        let shape = data.convert(schema, &hint, &location, diags);
        let Shape::Named(type_name) = shape else {
            diags.push(
                &location,
                "the response must be an object (outputSchema needs an object root)",
            );
            return (OutputPlan::NoContent, None);
        };
        let Some(pagination) = &self.method.pagination else {
            return (OutputPlan::Typed(type_name), None);
        };
        for wire in ["startIndex", "count"] {
            if !paging_params.contains(wire) {
                diags.push(
                    &location,
                    format!("scim pagination needs the `{wire}` query parameter"),
                );
            }
        }
        let Some(TypeDef::Struct(list)) = data.type_def(&type_name) else {
            diags.push(&location, "the list response must be an object");
            return (OutputPlan::NoContent, None);
        };
        let items = list
            .fields
            .iter()
            .find(|field| field.wire_name == pagination.items);
        let total = list
            .fields
            .iter()
            .find(|field| field.wire_name == pagination.total);
        let (Some(items), Some(total)) = (items, total) else {
            diags.push(
                &location,
                format!(
                    "the list response needs `{}` and `{}` fields",
                    pagination.items, pagination.total
                ),
            );
            return (OutputPlan::NoContent, None);
        };
        let item_type = match &items.shape {
            Shape::Array(item, _) => match item.as_ref() {
                Shape::Named(name) => name.clone(),
                _ => {
                    diags.push(&location, format!("`{}` must hold objects", pagination.items));
                    return (OutputPlan::NoContent, None);
                }
            },
            _ => {
                diags.push(&location, format!("`{}` must be an array", pagination.items));
                return (OutputPlan::NoContent, None);
            }
        };
        if !matches!(total.shape, Shape::Integer(_)) {
            diags.push(&location, format!("`{}` must be an integer", pagination.total));
        }
        let plan = PaginationPlan {
            response_type: type_name,
            items_field: items.rust_name.clone(),
            items_optional: !items.required,
            item_type: item_type.clone(),
            total_field: total.rust_name.clone(),
            total_optional: !total.required,
        };
        (OutputPlan::Page(item_type), Some(plan))
    }
}

/// The published input schema: object root, every property described, unknown ones refused.
fn input_schema(inputs: &[InputField], args: &Converter<'_>) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for input in inputs {
        let mut schema = args.json_schema(&input.shape);
        if let Value::Object(map) = &mut schema {
            map.insert("description".into(), json!(input.description));
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
    schema.insert("additionalProperties".into(), json!(false));
    Value::Object(schema)
}

fn output_schema(output: &OutputPlan, data: &Converter<'_>) -> Value {
    match output {
        OutputPlan::Typed(name) => data.json_schema(&Shape::Named(name.clone())),
        OutputPlan::Page(item) => json!({
            "type": "object",
            "properties": {
                "result": {
                    "type": "array",
                    "description": "The items on this page.",
                    "items": data.json_schema(&Shape::Named(item.clone())),
                },
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass this back unchanged to get the next page; null on the last page.",
                },
                "result_count": {
                    "type": "integer",
                    "description": "How many items this page holds.",
                },
                "total_results": {
                    "type": ["integer", "null"],
                    "description": "How many items match across all pages, when the bridge says.",
                },
            },
            "required": ["result", "next_cursor", "result_count", "total_results"],
        }),
        OutputPlan::NoContent => json!({
            "type": "object",
            "properties": {
                "status": {
                    "type": "integer",
                    "description": "The HTTP status the bridge answered with (204: done, no body).",
                },
            },
            "required": ["status"],
        }),
    }
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

fn check_coverage(
    operations: &BTreeMap<&str, OperationRef<'_>>,
    used: &BTreeSet<String>,
    docs: &DocsFile,
    diags: &mut Diagnostics,
) {
    let mut excluded = BTreeSet::new();
    for (index, exclusion) in docs.excluded.iter().enumerate() {
        let location = format!("docs.yaml: excluded[{index}]");
        if !operations.contains_key(exclusion.operation.as_str()) {
            diags.push(
                &location,
                format!("excluded operation `{}` is not in the spec", exclusion.operation),
            );
        }
        if used.contains(&exclusion.operation) {
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
        excluded.insert(exclusion.operation.as_str());
    }
    for (id, operation) in operations {
        if !used.contains(*id) && !excluded.contains(id) {
            diags.push(
                format!(
                    "openapi: paths.{}.{}",
                    operation.path,
                    operation.method.as_str().to_lowercase()
                ),
                format!("operation `{id}` is neither documented nor excluded in docs.yaml"),
            );
        }
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

fn check_arg_descriptions(args: &Converter<'_>, diags: &mut Diagnostics) {
    for (location, field) in args.undescribed_fields() {
        diags.push(
            location,
            format!("property `{field}` is published to the model but has no description"),
        );
    }
}

fn check_snake(name: &str, location: &str, what: &str, diags: &mut Diagnostics) {
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

/// `[URN ":"] ATTRNAME *1("." ATTRNAME)`, ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_").
fn is_attribute_path(path: &str) -> bool {
    let (urn, rest) = match path.rfind(':') {
        Some(index) => (Some(&path[..index]), &path[index + 1..]),
        None => (None, path),
    };
    if let Some(urn) = urn
        && (!urn.starts_with("urn:") || urn.chars().any(char::is_whitespace))
    {
        return false;
    }
    let mut parts = rest.split('.');
    let valid_name = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let first_ok = parts.next().is_some_and(valid_name);
    let sub: Vec<&str> = parts.collect();
    first_ok && sub.len() <= 1 && sub.iter().all(|name| valid_name(name))
}
