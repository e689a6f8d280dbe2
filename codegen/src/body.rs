//! The request body of a tool: flattened from the spec's object into arguments, fixed by a
//! template in the docs YAML, or built by the pagination (body_cursor).
//!
//! A body whose schema is a `oneOf` (1Password's `Cursor | ResetCursor`) is read through the
//! member the docs YAML names (`body_variant`, or the pagination's `reset`): the published
//! input schema stays one object, with no `oneOf` for a client to trip over.

use openapiv3::{ReferenceOr, RequestBody, Schema, SchemaKind};
use serde_json::Value;

use crate::diagnostics::Diagnostics;
use crate::docs::PaginationStyle;
use crate::model::{BodyPlan, BodyTemplate, InputField, InputRole, Shape};
use crate::naming;
use crate::resolve::{MethodContext, check_snake};
use crate::schema::{Converter, ObjectParts};

impl MethodContext<'_> {
    pub(crate) fn request_body(&self, diags: &mut Diagnostics) -> Option<&RequestBody> {
        let body = self.operation.operation.request_body.as_ref()?;
        crate::refs::request_body(self.spec, body, self.location, diags)
    }

    /// The members of the request body's `oneOf`/`anyOf` by component name, or the body's one
    /// schema under the name `""`.
    pub(crate) fn body_members<'s>(
        &'s self,
        args: &Converter<'s>,
        diags: &mut Diagnostics,
    ) -> Option<Vec<(String, &'s Schema)>> {
        let body = self.request_body(diags)?;
        let Some(schema) = media_schema(body) else {
            diags.push(self.location, "the operation's request body has no schema");
            return None;
        };
        let (name, schema) = match schema {
            ReferenceOr::Reference { reference } => {
                let (component, schema) = args.resolve_ref(reference, self.location, diags)?;
                (component.to_owned(), schema)
            }
            ReferenceOr::Item(schema) => (String::new(), schema),
        };
        let members = match &schema.schema_kind {
            SchemaKind::OneOf { one_of: members } | SchemaKind::AnyOf { any_of: members } => members,
            _ => return Some(vec![(name, schema)]),
        };
        let mut found = Vec::new();
        for (index, member) in members.iter().enumerate() {
            match member {
                ReferenceOr::Reference { reference } => {
                    let (component, schema) = args.resolve_ref(reference, self.location, diags)?;
                    found.push((component.to_owned(), schema));
                }
                ReferenceOr::Item(schema) => found.push((format!("variant{index}"), schema)),
            }
        }
        Some(found)
    }

    pub(crate) fn resolve_body(
        &self,
        args: &mut Converter<'_>,
        inputs: &mut Vec<InputField>,
        diags: &mut Diagnostics,
    ) -> BodyPlan {
        let location = self.location;
        let has_body = self.operation.operation.request_body.is_some();
        self.custom_arguments(args, inputs, diags);
        if let Some(template) = &self.method.body {
            if !has_body {
                diags.push(location, "a body is given but the operation takes none");
            }
            let template = self.compile_template(template, inputs, false, diags);
            return BodyPlan::Template(template);
        }
        if !self.method.arguments.is_empty() {
            diags.push(location, "arguments are only used by a `body` template; add one");
        }
        if !has_body {
            if self.method.body_variant.is_some() {
                diags.push(
                    location,
                    "`body_variant` is given but the operation takes no body",
                );
            }
            return BodyPlan::None;
        }
        if self
            .method
            .pagination
            .as_ref()
            .is_some_and(|pagination| pagination.style == PaginationStyle::BodyCursor)
        {
            // The pagination builds each body; its members are checked with the response.
            return BodyPlan::Paged;
        }
        let Some(members) = self.body_members(args, diags) else {
            return BodyPlan::None;
        };
        let (hint, object) = match (members.as_slice(), &self.method.body_variant) {
            ([(name, schema)], None) => (name.clone(), *schema),
            ([_], Some(variant)) => {
                diags.push(
                    location,
                    format!("`body_variant: {variant}` is given but the request body has one schema"),
                );
                return BodyPlan::None;
            }
            (_, Some(variant)) => match members.iter().find(|(name, _)| name == variant) {
                Some((name, schema)) => (name.clone(), *schema),
                None => {
                    diags.push(
                        location,
                        format!(
                            "`body_variant: {variant}` is not one of the body's members: {}",
                            names(&members)
                        ),
                    );
                    return BodyPlan::None;
                }
            },
            (_, None) => {
                diags.push(
                    location,
                    format!(
                        "the request body is one of {}: name the one this tool sends with `body_variant`",
                        names(&members)
                    ),
                );
                return BodyPlan::None;
            }
        };
        let hint = if hint.is_empty() {
            format!("{}_body", naming::portable_name(&self.tool_name()))
        } else {
            hint
        };
        let body_location = format!("openapi: components.schemas.{hint}");
        let Some(parts) = args.object_parts(object, &hint, &body_location, 0, diags) else {
            diags.push(
                location,
                "the request body must be an object to flatten into arguments",
            );
            return BodyPlan::None;
        };
        self.flatten(&parts, &hint, &body_location, args, inputs, diags);
        BodyPlan::Fields {
            type_name: format!(
                "{}Body",
                naming::rust_type_name(&naming::portable_name(&self.tool_name()))
            ),
        }
    }

    /// The body's properties, one argument each (read-only ones left out).
    fn flatten(
        &self,
        parts: &ObjectParts,
        hint: &str,
        body_location: &str,
        args: &mut Converter<'_>,
        inputs: &mut Vec<InputField>,
        diags: &mut Diagnostics,
    ) {
        for (wire, (property, origin)) in &parts.properties {
            if matches!(property, ReferenceOr::Item(schema) if schema.schema_data.read_only) {
                continue;
            }
            let field_location = format!("{body_location}.properties.{wire}");
            let shape = args.convert_property(property, &format!("{hint}_{wire}"), &field_location, diags);
            let description = args
                .property_description(property)
                .filter(|text| !text.trim().is_empty())
                .or_else(|| args.documented(origin, wire))
                .unwrap_or_else(|| {
                    diags.warn(
                        &field_location,
                        format!(
                            "body property `{origin}.{wire}` has no description; describe it in the docs YAML's schema_descriptions"
                        ),
                    );
                    String::new()
                });
            inputs.push(InputField {
                name: naming::rust_field_name(wire),
                shape,
                required: parts.required.contains(wire),
                description: description.trim().to_owned(),
                default: None,
                role: InputRole::Body(wire.clone()),
            });
        }
    }

    /// The typed arguments of a custom method, used by its body template.
    fn custom_arguments(
        &self,
        args: &mut Converter<'_>,
        inputs: &mut Vec<InputField>,
        diags: &mut Diagnostics,
    ) {
        for (argument, schema) in &self.method.arguments {
            let argument_location = format!("{}.arguments.{argument}", self.location);
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
                if let Some(each) = mapping.get("$each") {
                    let argument = each.as_str().unwrap_or_default().to_owned();
                    let declared = inputs.iter().find(|input| input.name == argument);
                    match declared {
                        Some(input)
                            if matches!(&input.shape, Shape::Array(item, _)
                            if matches!(item.as_ref(), Shape::String(_) | Shape::Integer(_) | Shape::Boolean | Shape::Number(_))) =>
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
}

/// The JSON schema of a request body: `application/json` when offered, else the first.
fn media_schema(body: &RequestBody) -> Option<&ReferenceOr<Schema>> {
    body.content
        .get("application/json")
        .and_then(|media| media.schema.as_ref())
        .or_else(|| body.content.values().find_map(|media| media.schema.as_ref()))
}

fn names(members: &[(String, &Schema)]) -> String {
    members
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
