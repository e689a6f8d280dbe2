//! OpenAPI schemas -> [`Shape`]s and named types, and shapes -> published JSON Schema.
//!
//! Two namespaces exist: *data* types describe what the upstream answers (lenient: they keep
//! attributes the spec does not list) and *args* types describe what the model sends (strict:
//! unknown fields are refused). The same component can appear in both, as `Name` and `NameArgs`.
//!
//! Published schemas are fully inlined (no `$ref`/`$defs`), because several clients cannot
//! follow references; recursive component schemas are therefore refused.
//!
//! Vendors write objects in several ways, all read as one object here: `type: object`, only
//! `properties` with no `type`, and `allOf` of such objects (nested, through `$ref`s), merged
//! property by property. A property the spec leaves undescribed may be described in the docs
//! YAML (`schema_descriptions`), keyed by the schema that declares it.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    AdditionalProperties, OpenAPI, ReferenceOr, Schema, SchemaKind, StringFormat, Type,
    VariantOrUnknownOrEmpty,
};
use serde_json::{Map, Value, json};

use crate::diagnostics::Diagnostics;
use crate::model::{
    ArrayRules, EnumDef, IntegerRules, NumberRules, Shape, StringRules, StructDef, StructField, TypeDef,
};
use crate::naming::{rust_field_name, rust_type_name};

/// How many `allOf` levels (through `$ref`s) one object may be merged from.
const MAX_ALL_OF_DEPTH: usize = 8;

/// An object's properties gathered from wherever the spec puts them.
pub struct ObjectParts {
    /// Each property with the schema (component or inline hint) that declares it.
    pub properties: indexmap::IndexMap<String, (ReferenceOr<Box<Schema>>, String)>,
    pub required: Vec<String>,
    pub description: Option<String>,
    /// `additionalProperties: {schema}` with no properties: a map.
    pub map_values: Option<ReferenceOr<Schema>>,
}

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
    /// `Schema.property` -> description, from the docs YAML, for properties the spec leaves
    /// undescribed.
    descriptions: &'a BTreeMap<String, String>,
    types: BTreeMap<String, TypeDef>,
    /// Which component or inline location produced each type name, to detect collisions.
    origins: BTreeMap<String, String>,
    in_progress: BTreeSet<String>,
}

impl<'a> Converter<'a> {
    pub fn new(spec: &'a OpenAPI, side: Side, descriptions: &'a BTreeMap<String, String>) -> Self {
        Self {
            spec,
            side,
            descriptions,
            types: BTreeMap::new(),
            origins: BTreeMap::new(),
            in_progress: BTreeSet::new(),
        }
    }

    pub fn into_types(self) -> Vec<TypeDef> {
        self.types.into_values().collect()
    }

    /// `(location, Schema.property)` of every struct field without a description. Argument-side
    /// types are published to the model, and a property without a description leaves it
    /// guessing; the key is what `schema_descriptions` in the docs YAML takes.
    pub fn undescribed_fields(&self) -> Vec<(String, String)> {
        let mut gaps = Vec::new();
        for def in self.types.values() {
            let TypeDef::Struct(def) = def else { continue };
            let location = self.origins.get(&def.name).cloned().unwrap_or_default();
            for field in &def.fields {
                if field
                    .description
                    .as_deref()
                    .is_none_or(|text| text.trim().is_empty())
                {
                    gaps.push((
                        format!("{location}.properties.{}", field.wire_name),
                        format!("{}.{}", field.origin, field.wire_name),
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
            Some((_, ReferenceOr::Reference { reference: next })) => {
                // A component that is only a `$ref` to another: follow it (bounded).
                if next == reference {
                    diags.push(location, format!("$ref cycle: `{reference}` points at itself"));
                    return None;
                }
                self.resolve_ref(next, location, diags)
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
                let (email, date_time) = match &string.format {
                    VariantOrUnknownOrEmpty::Unknown(format) => (format == "email", false),
                    VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => (false, true),
                    VariantOrUnknownOrEmpty::Item(_) | VariantOrUnknownOrEmpty::Empty => (false, false),
                };
                let values: Vec<String> = string.enumeration.iter().flatten().cloned().collect();
                if !values.is_empty() && self.side == Side::Args {
                    return self.define_enum(schema, hint, values, location, diags);
                }
                Shape::String(StringRules {
                    min_length: string.min_length,
                    max_length: string.max_length,
                    email,
                    date_time,
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
            SchemaKind::Type(Type::Number(number)) => {
                if number.exclusive_minimum || number.exclusive_maximum {
                    diags.push(
                        location,
                        "exclusive bounds are not supported; use minimum/maximum",
                    );
                }
                Shape::Number(NumberRules {
                    minimum: number.minimum,
                    maximum: number.maximum,
                })
            }
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
            SchemaKind::OneOf { one_of: variants } | SchemaKind::AnyOf { any_of: variants } => {
                match self.primitive_types(variants, location, diags) {
                    Some(types) => Shape::OneOfTypes(types),
                    None if self.side == Side::Data => {
                        // Kept whole: the answer is passed on as the upstream sent it.
                        Shape::Any
                    }
                    None => {
                        diags.push(
                            location,
                            "oneOf/anyOf of objects is not supported in tool arguments; pick one variant with \
                             `body_variant` in the docs YAML",
                        );
                        Shape::Any
                    }
                }
            }
            SchemaKind::Not { .. } => {
                diags.push(location, "`not` is not supported");
                Shape::Any
            }
            SchemaKind::Type(Type::Object(_)) | SchemaKind::AllOf { .. } | SchemaKind::Any(_) => {
                match self.object_parts(schema, hint, location, 0, diags) {
                    Some(parts) => self.object_shape(hint, parts, location, diags),
                    None => Shape::Any,
                }
            }
        }
    }

    /// The shape of an object gathered into `parts`: a struct, or a map.
    fn object_shape(
        &mut self,
        hint: &str,
        parts: ObjectParts,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Shape {
        if let Some(values) = &parts.map_values
            && parts.properties.is_empty()
        {
            let shape = self.convert(
                values,
                &format!("{hint}Value"),
                &format!("{location}.additionalProperties"),
                diags,
            );
            return Shape::Map(Box::new(shape));
        }
        self.define_struct(hint, parts, location, diags)
    }

    /// The JSON types of a `oneOf`/`anyOf` whose every variant is a plain primitive type.
    fn primitive_types(
        &self,
        variants: &[ReferenceOr<Schema>],
        location: &str,
        diags: &mut Diagnostics,
    ) -> Option<Vec<&'static str>> {
        let mut types = Vec::new();
        for variant in variants {
            let schema = match variant {
                ReferenceOr::Item(schema) => schema,
                ReferenceOr::Reference { reference } => self.resolve_ref(reference, location, diags)?.1,
            };
            let name = match &schema.schema_kind {
                SchemaKind::Type(Type::String(string)) if string.enumeration.is_empty() => "string",
                SchemaKind::Type(Type::Integer(_)) => "integer",
                SchemaKind::Type(Type::Number(_)) => "number",
                SchemaKind::Type(Type::Boolean(_)) => "boolean",
                _ => return None,
            };
            if !types.contains(&name) {
                types.push(name);
            }
        }
        (!types.is_empty()).then_some(types)
    }

    /// Merges each member of an `allOf` into `parts`, in order; a later member's property of
    /// the same name wins, and `required` and the first description carry over.
    fn merge_all_of(
        &self,
        parts: &mut ObjectParts,
        all_of: &[ReferenceOr<Schema>],
        origin: &str,
        location: &str,
        depth: usize,
        diags: &mut Diagnostics,
    ) -> Option<()> {
        if all_of.is_empty() {
            return Some(());
        }
        if depth >= MAX_ALL_OF_DEPTH {
            diags.push(location, "allOf nested too deep (a cycle?)");
            return None;
        }
        for (index, member) in all_of.iter().enumerate() {
            let (member_origin, member_schema) = match member {
                ReferenceOr::Item(schema) => (origin.to_owned(), schema),
                ReferenceOr::Reference { reference } => {
                    let (component, schema) = self.resolve_ref(reference, location, diags)?;
                    (component.to_owned(), schema)
                }
            };
            let member_location = format!("{location}.allOf[{index}]");
            let merged =
                self.object_parts(member_schema, &member_origin, &member_location, depth + 1, diags)?;
            parts.properties.extend(merged.properties);
            for name in merged.required {
                if !parts.required.contains(&name) {
                    parts.required.push(name);
                }
            }
            if parts.description.is_none() {
                parts.description = merged.description;
            }
            if parts.map_values.is_none() {
                parts.map_values = merged.map_values;
            }
        }
        Some(())
    }

    /// The properties of an object schema, however the spec spells it: `type: object`, bare
    /// `properties`, or an `allOf` of objects (through `$ref`s), merged in order.
    pub fn object_parts(
        &self,
        schema: &Schema,
        origin: &str,
        location: &str,
        depth: usize,
        diags: &mut Diagnostics,
    ) -> Option<ObjectParts> {
        let mut parts = ObjectParts {
            properties: indexmap::IndexMap::new(),
            required: Vec::new(),
            description: schema.schema_data.description.clone(),
            map_values: None,
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => {
                for (name, property) in &object.properties {
                    parts
                        .properties
                        .insert(name.clone(), (property.clone(), origin.to_owned()));
                }
                parts.required.extend(object.required.iter().cloned());
                if let Some(AdditionalProperties::Schema(values)) = &object.additional_properties {
                    parts.map_values = Some((**values).clone());
                }
            }
            SchemaKind::AllOf { all_of } => {
                self.merge_all_of(&mut parts, all_of, origin, location, depth, diags)?;
            }
            SchemaKind::Any(any) => {
                let object_like = any.typ.as_deref().is_none_or(|typ| typ == "object")
                    && any.items.is_none()
                    && any.one_of.is_empty()
                    && any.any_of.is_empty()
                    && any.not.is_none();
                if !object_like {
                    diags.push(
                        location,
                        "schema mixes keywords of several types; give it one `type`",
                    );
                    return None;
                }
                self.merge_all_of(&mut parts, &any.all_of, origin, location, depth, diags)?;
                for (name, property) in &any.properties {
                    parts
                        .properties
                        .insert(name.clone(), (property.clone(), origin.to_owned()));
                }
                parts.required.extend(any.required.iter().cloned());
                if let Some(AdditionalProperties::Schema(values)) = &any.additional_properties {
                    parts.map_values = Some((**values).clone());
                }
                let untyped = any.typ.is_none() && any.all_of.is_empty() && any.properties.is_empty();
                if untyped && any.additional_properties.is_none() {
                    // A value the spec says nothing about: data keeps it as it comes.
                    if self.side == Side::Args {
                        diags.push(location, "an untyped value is not supported in tool arguments");
                    }
                    return None;
                }
            }
            _ => {
                diags.push(location, "allOf may only combine objects");
                return None;
            }
        }
        Some(parts)
    }

    fn define_struct(
        &mut self,
        hint: &str,
        parts: ObjectParts,
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
        for (wire_name, (property, origin)) in &parts.properties {
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
            let description = self
                .property_description(property)
                .filter(|text| !text.trim().is_empty())
                .or_else(|| self.documented(origin, wire_name));
            fields.push(StructField {
                wire_name: wire_name.clone(),
                rust_name,
                shape,
                required: parts.required.contains(wire_name),
                description,
                origin: origin.clone(),
            });
        }
        for name_required in &parts.required {
            if !parts.properties.contains_key(name_required) {
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
                description: parts.description,
                fields,
                catch_all,
            }),
        );
        Shape::Named(name)
    }

    /// The docs YAML's description of `origin.property`, for one the spec leaves undescribed.
    pub fn documented(&self, origin: &str, property: &str) -> Option<String> {
        self.descriptions.get(&format!("{origin}.{property}")).cloned()
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
                // An argument's length bounds are checked by the generated handler, and they
                // tell a model filling in an id or a name nothing it can act on, while costing
                // bytes in every conversation: only the data side publishes them.
                if self.side == Side::Data {
                    if let Some(min) = rules.min_length {
                        schema.insert("minLength".into(), json!(min));
                    }
                    if let Some(max) = rules.max_length {
                        schema.insert("maxLength".into(), json!(max));
                    }
                }
                if rules.email {
                    schema.insert("format".into(), json!("email"));
                }
                if rules.date_time {
                    schema.insert("format".into(), json!("date-time"));
                }
                Value::Object(schema)
            }
            Shape::Integer(rules) => bounded("integer", rules.minimum, rules.maximum),
            Shape::Number(rules) => bounded("number", rules.minimum, rules.maximum),
            Shape::Map(values) => {
                json!({ "type": "object", "additionalProperties": self.json_schema(values) })
            }
            Shape::OneOfTypes(types) => json!({ "type": types }),
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
        // Unknown argument fields are refused by the generated types (`deny_unknown_fields`);
        // `additionalProperties: false` would repeat that in every conversation, so it is not
        // published (see `resolve::input_schema`).
        Value::Object(schema)
    }
}

fn is_read_only(property: &ReferenceOr<Box<Schema>>) -> bool {
    matches!(property, ReferenceOr::Item(schema) if schema.schema_data.read_only)
}

/// `{"type": kind}` with the bounds that are set.
fn bounded<T: Into<Value>>(kind: &str, minimum: Option<T>, maximum: Option<T>) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!(kind));
    if let Some(minimum) = minimum {
        schema.insert("minimum".into(), minimum.into());
    }
    if let Some(maximum) = maximum {
        schema.insert("maximum".into(), maximum.into());
    }
    Value::Object(schema)
}
