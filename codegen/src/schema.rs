//! OpenAPI schemas -> [`Shape`]s and named types, and shapes -> published JSON Schema.
//!
//! Two namespaces exist: *data* types describe what the upstream answers (lenient: they keep
//! attributes the spec does not list) and *args* types describe what the model sends (strict:
//! unknown fields are refused). The same component can appear in both, as `Name` and `NameArgs`.
//!
//! Published schemas are fully inlined (no `$ref`/`$defs`), because several clients cannot
//! follow references; recursive component schemas are therefore refused.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    AdditionalProperties, OpenAPI, ReferenceOr, Schema, SchemaKind, StringFormat, Type,
    VariantOrUnknownOrEmpty,
};
use serde_json::{Map, Value, json};

use crate::diagnostics::Diagnostics;
use crate::model::{ArrayRules, EnumDef, IntegerRules, Shape, StringRules, StructDef, StructField, TypeDef};
use crate::naming::{rust_field_name, rust_type_name};

const COMPONENT_PREFIX: &str = "#/components/schemas/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Data,
    Args,
}

/// Converts schemas of one side, remembering the named types it created.
pub struct Converter<'a> {
    spec: &'a OpenAPI,
    side: Side,
    types: BTreeMap<String, TypeDef>,
    /// Which component or inline location produced each type name, to detect collisions.
    origins: BTreeMap<String, String>,
    in_progress: BTreeSet<String>,
}

impl<'a> Converter<'a> {
    pub fn new(spec: &'a OpenAPI, side: Side) -> Self {
        Self {
            spec,
            side,
            types: BTreeMap::new(),
            origins: BTreeMap::new(),
            in_progress: BTreeSet::new(),
        }
    }

    pub fn into_types(self) -> Vec<TypeDef> {
        self.types.into_values().collect()
    }

    /// `(location, field)` of every struct field without a description. Argument-side types
    /// are published to the model, and a property without a description leaves it guessing.
    pub fn undescribed_fields(&self) -> Vec<(String, String)> {
        let mut gaps = Vec::new();
        for def in self.types.values() {
            let TypeDef::Struct(def) = def else { continue };
            let origin = self.origins.get(&def.name).cloned().unwrap_or_default();
            for field in &def.fields {
                if field
                    .description
                    .as_deref()
                    .is_none_or(|text| text.trim().is_empty())
                {
                    gaps.push((
                        format!("{origin}.properties.{}", field.wire_name),
                        field.wire_name.clone(),
                    ));
                }
            }
        }
        gaps
    }

    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// Resolves a `$ref` to a component schema, reporting unknown or external references.
    pub fn resolve_ref(
        &self,
        reference: &str,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Option<(&'a str, &'a Schema)> {
        let Some(component) = reference.strip_prefix(COMPONENT_PREFIX) else {
            diags.push(
                location,
                format!(
                    "unsupported $ref `{reference}`: only local #/components/schemas/ references are followed"
                ),
            );
            return None;
        };
        let found = self
            .spec
            .components
            .as_ref()
            .and_then(|components| components.schemas.get_key_value(component));
        match found {
            Some((name, ReferenceOr::Item(schema))) => Some((name.as_str(), schema)),
            Some((_, ReferenceOr::Reference { .. })) => {
                diags.push(
                    location,
                    format!("$ref `{reference}` points at another reference; inline it"),
                );
                None
            }
            None => {
                diags.push(location, format!("unknown $ref `{reference}`"));
                None
            }
        }
    }

    /// Converts a schema; `hint` names an inline object or enum if one is found.
    pub fn convert(
        &mut self,
        schema: &ReferenceOr<Schema>,
        hint: &str,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Shape {
        match schema {
            ReferenceOr::Reference { reference } => self.convert_ref(reference, location, diags),
            ReferenceOr::Item(schema) => self.convert_item(schema, hint, location, diags),
        }
    }

    /// Converts an object property (OpenAPI boxes those).
    pub fn convert_property(
        &mut self,
        schema: &ReferenceOr<Box<Schema>>,
        hint: &str,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Shape {
        match schema {
            ReferenceOr::Reference { reference } => self.convert_ref(reference, location, diags),
            ReferenceOr::Item(schema) => self.convert_item(schema, hint, location, diags),
        }
    }

    fn convert_ref(&mut self, reference: &str, location: &str, diags: &mut Diagnostics) -> Shape {
        let Some((component, schema)) = self.resolve_ref(reference, location, diags) else {
            return Shape::Any;
        };
        let type_name = self.side_name(component);
        if self.in_progress.contains(&type_name) {
            diags.push(
                location,
                format!("recursive schema `{component}` cannot be inlined into a published tool schema"),
            );
            return Shape::Any;
        }
        if self.types.contains_key(&type_name) {
            return Shape::Named(type_name);
        }
        let component_location = format!("openapi: components.schemas.{component}");
        self.in_progress.insert(type_name.clone());
        let shape = self.convert_item(schema, component, &component_location, diags);
        self.in_progress.remove(&type_name);
        shape
    }

    fn side_name(&self, raw: &str) -> String {
        match self.side {
            Side::Data => rust_type_name(raw),
            Side::Args => format!("{}Args", rust_type_name(raw)),
        }
    }

    fn convert_item(
        &mut self,
        schema: &Schema,
        hint: &str,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Shape {
        if schema.schema_data.nullable && self.side == Side::Args {
            diags.push(
                location,
                "nullable is not supported in tool arguments; make the property optional instead",
            );
        }
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                if string.pattern.is_some() && self.side == Side::Args {
                    diags.push(
                        location,
                        "`pattern` is not supported in tool arguments (it would not be enforced)",
                    );
                }
                let email = match &string.format {
                    VariantOrUnknownOrEmpty::Unknown(format) => format == "email",
                    VariantOrUnknownOrEmpty::Item(StringFormat::Password)
                    | VariantOrUnknownOrEmpty::Item(_)
                    | VariantOrUnknownOrEmpty::Empty => false,
                };
                let values: Vec<String> = string.enumeration.iter().flatten().cloned().collect();
                if !values.is_empty() && self.side == Side::Args {
                    return self.define_enum(schema, hint, values, location, diags);
                }
                Shape::String(StringRules {
                    min_length: string.min_length,
                    max_length: string.max_length,
                    email,
                })
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                if integer.exclusive_minimum || integer.exclusive_maximum {
                    diags.push(
                        location,
                        "exclusive bounds are not supported; use minimum/maximum",
                    );
                }
                Shape::Integer(IntegerRules {
                    minimum: integer.minimum,
                    maximum: integer.maximum,
                })
            }
            SchemaKind::Type(Type::Number(_)) => Shape::Number,
            SchemaKind::Type(Type::Boolean(_)) => Shape::Boolean,
            SchemaKind::Type(Type::Array(array)) => {
                let Some(items) = &array.items else {
                    diags.push(location, "array without `items` (OpenAI and others reject it)");
                    return Shape::Any;
                };
                let item_hint = format!("{hint}Item");
                let item = self.convert_property(items, &item_hint, &format!("{location}.items"), diags);
                Shape::Array(
                    Box::new(item),
                    ArrayRules {
                        min_items: array.min_items,
                        max_items: array.max_items,
                    },
                )
            }
            SchemaKind::Type(Type::Object(object)) => {
                if let Some(AdditionalProperties::Schema(_)) = object.additional_properties {
                    diags.push(
                        location,
                        "additionalProperties with a schema (a map) is not supported",
                    );
                }
                self.define_struct(
                    hint,
                    schema.schema_data.description.clone(),
                    &object.properties,
                    &object.required,
                    location,
                    diags,
                )
            }
            SchemaKind::OneOf { .. } | SchemaKind::AnyOf { .. } | SchemaKind::AllOf { .. } => {
                diags.push(
                    location,
                    "oneOf/anyOf/allOf are not supported; describe one object",
                );
                Shape::Any
            }
            SchemaKind::Not { .. } => {
                diags.push(location, "`not` is not supported");
                Shape::Any
            }
            SchemaKind::Any(any) => {
                let untyped = any.typ.is_none()
                    && any.properties.is_empty()
                    && any.items.is_none()
                    && any.one_of.is_empty()
                    && any.all_of.is_empty()
                    && any.any_of.is_empty()
                    && any.not.is_none();
                if !untyped {
                    diags.push(
                        location,
                        "schema mixes keywords of several types; give it one `type`",
                    );
                } else if self.side == Side::Args {
                    diags.push(location, "an untyped value is not supported in tool arguments");
                }
                Shape::Any
            }
        }
    }

    fn define_struct(
        &mut self,
        hint: &str,
        description: Option<String>,
        properties: &indexmap::IndexMap<String, ReferenceOr<Box<Schema>>>,
        required: &[String],
        location: &str,
        diags: &mut Diagnostics,
    ) -> Shape {
        let name = self.side_name(hint);
        if let Some(existing) = self.origins.get(&name)
            && existing != location
        {
            diags.push(
                location,
                format!("type name `{name}` is also produced by {existing}; rename one of them"),
            );
            return Shape::Named(name);
        }
        self.origins.insert(name.clone(), location.to_owned());
        let mut fields = Vec::new();
        let mut rust_names = BTreeMap::new();
        for (wire_name, property) in properties {
            let field_location = format!("{location}.properties.{wire_name}");
            if self.side == Side::Args && is_read_only(property) {
                continue;
            }
            let rust_name = rust_field_name(wire_name);
            if let Some(other) = rust_names.insert(rust_name.clone(), wire_name.clone()) {
                diags.push(
                    &field_location,
                    format!(
                        "properties `{other}` and `{wire_name}` both map to the Rust field `{rust_name}`"
                    ),
                );
                continue;
            }
            let field_hint = format!("{hint}_{wire_name}");
            let shape = self.convert_property(property, &field_hint, &field_location, diags);
            let description = self.property_description(property);
            fields.push(StructField {
                wire_name: wire_name.clone(),
                rust_name,
                shape,
                required: required.contains(wire_name),
                description,
            });
        }
        for name_required in required {
            if !properties.contains_key(name_required) {
                diags.push(
                    location,
                    format!("`{name_required}` is required but not among the properties"),
                );
            }
        }
        let catch_all = (self.side == Side::Data).then(|| {
            let mut candidate = "additional_attributes".to_owned();
            while rust_names.contains_key(&candidate) {
                candidate.push('_');
            }
            candidate
        });
        self.types.insert(
            name.clone(),
            TypeDef::Struct(StructDef {
                name: name.clone(),
                description,
                fields,
                catch_all,
            }),
        );
        Shape::Named(name)
    }

    fn define_enum(
        &mut self,
        schema: &Schema,
        hint: &str,
        values: Vec<String>,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Shape {
        let name = self.side_name(hint);
        self.origins.insert(name.clone(), location.to_owned());
        let mut variants = Vec::new();
        let mut seen = BTreeSet::new();
        for value in values {
            let variant = rust_type_name(&value);
            if !seen.insert(variant.clone()) {
                diags.push(
                    location,
                    format!("enum values map to the same Rust variant `{variant}`"),
                );
                continue;
            }
            variants.push((value, variant));
        }
        self.types.insert(
            name.clone(),
            TypeDef::Enum(EnumDef {
                name: name.clone(),
                description: schema.schema_data.description.clone(),
                variants,
            }),
        );
        Shape::Named(name)
    }

    /// A property's description, falling back to the referenced component's (OpenAPI 3.0
    /// ignores siblings of `$ref`, so a referenced object's own description is the only one).
    pub fn property_description(&self, property: &ReferenceOr<Box<Schema>>) -> Option<String> {
        match property {
            ReferenceOr::Item(schema) => schema.schema_data.description.clone(),
            ReferenceOr::Reference { reference } => reference
                .strip_prefix(COMPONENT_PREFIX)
                .and_then(|component| self.spec.components.as_ref()?.schemas.get(component))
                .and_then(ReferenceOr::as_item)
                .and_then(|schema| schema.schema_data.description.clone()),
        }
    }

    /// The published JSON Schema of a shape, fully inlined.
    pub fn json_schema(&self, shape: &Shape) -> Value {
        match shape {
            Shape::String(rules) => {
                let mut schema = Map::new();
                schema.insert("type".into(), json!("string"));
                if let Some(min) = rules.min_length {
                    schema.insert("minLength".into(), json!(min));
                }
                if let Some(max) = rules.max_length {
                    schema.insert("maxLength".into(), json!(max));
                }
                if rules.email {
                    schema.insert("format".into(), json!("email"));
                }
                Value::Object(schema)
            }
            Shape::Integer(rules) => {
                let mut schema = Map::new();
                schema.insert("type".into(), json!("integer"));
                if let Some(min) = rules.minimum {
                    schema.insert("minimum".into(), json!(min));
                }
                if let Some(max) = rules.maximum {
                    schema.insert("maximum".into(), json!(max));
                }
                Value::Object(schema)
            }
            Shape::Number => json!({ "type": "number" }),
            Shape::Boolean => json!({ "type": "boolean" }),
            Shape::Array(item, rules) => {
                let mut schema = Map::new();
                schema.insert("type".into(), json!("array"));
                schema.insert("items".into(), self.json_schema(item));
                if let Some(min) = rules.min_items {
                    schema.insert("minItems".into(), json!(min));
                }
                if let Some(max) = rules.max_items {
                    schema.insert("maxItems".into(), json!(max));
                }
                Value::Object(schema)
            }
            Shape::Named(name) => match self.types.get(name) {
                Some(TypeDef::Struct(def)) => self.struct_schema(def),
                Some(TypeDef::Enum(def)) => {
                    let values: Vec<&str> = def.variants.iter().map(|(wire, _)| wire.as_str()).collect();
                    json!({ "type": "string", "enum": values })
                }
                None => json!({}),
            },
            Shape::Any => json!({}),
        }
    }

    fn struct_schema(&self, def: &StructDef) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &def.fields {
            let mut schema = self.json_schema(&field.shape);
            if let (Some(description), Value::Object(map)) = (&field.description, &mut schema) {
                map.insert("description".into(), json!(description));
            }
            let key = match self.side {
                Side::Data => &field.wire_name,
                Side::Args => &field.rust_name,
            };
            properties.insert(key.clone(), schema);
            if field.required {
                required.push(json!(key));
            }
        }
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        if let Some(description) = &def.description {
            schema.insert("description".into(), json!(description));
        }
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        if self.side == Side::Args {
            schema.insert("additionalProperties".into(), json!(false));
        }
        Value::Object(schema)
    }
}

fn is_read_only(property: &ReferenceOr<Box<Schema>>) -> bool {
    matches!(property, ReferenceOr::Item(schema) if schema.schema_data.read_only)
}
