//! Where an API puts the sentence of its error bodies, so an upstream error becomes a message
//! the model can act on: `detail` in SCIM (RFC 7644 §3.12), `Error.Message` in 1Password's
//! Events API. Read from the schemas of the spec's error responses (4xx, 5xx, `default`).

use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, StatusCode, Type};

use crate::diagnostics::Diagnostics;
use crate::operations::Operations;

/// Field names that hold an error's human-readable text.
const MESSAGE_NAMES: [&str; 4] = ["message", "detail", "error_description", "title"];

/// How deep inside an error body a message may sit (`Error.Message` is two).
const MAX_DEPTH: usize = 3;

/// The JSON media type the spec's answers use: the first `...json` content type of a success
/// response (`application/scim+json` for SCIM), else `application/json`.
pub fn media_type(operations: &Operations<'_>) -> String {
    operations
        .iter()
        .flat_map(|operation| operation.operation.responses.responses.iter())
        .filter_map(|(_, response)| response.as_item())
        .flat_map(|response| response.content.keys())
        .find(|media| media.ends_with("json"))
        .cloned()
        .unwrap_or_else(|| "application/json".to_owned())
}

/// Every path (field names from the body's root) to a string that reads as an error message,
/// over all operations' error responses, sorted and without repeats.
pub fn message_paths(
    spec: &OpenAPI,
    operations: &Operations<'_>,
    diags: &mut Diagnostics,
) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for operation in operations.iter() {
        for (status, response) in &operation.operation.responses.responses {
            let is_error = matches!(status, StatusCode::Code(code) if *code >= 400)
                || matches!(status, StatusCode::Range(range) if *range >= 4);
            if is_error {
                collect(spec, response, &operation.location(), &mut paths, diags);
            }
        }
        if let Some(default) = &operation.operation.responses.default {
            collect(spec, default, &operation.location(), &mut paths, diags);
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

fn collect(
    spec: &OpenAPI,
    response: &ReferenceOr<openapiv3::Response>,
    location: &str,
    paths: &mut Vec<Vec<String>>,
    diags: &mut Diagnostics,
) {
    let Some(response) = crate::refs::response(spec, response, location, diags) else {
        return;
    };
    for media in response.content.values() {
        if let Some(schema) = &media.schema {
            walk(spec, schema, &mut Vec::new(), paths);
        }
    }
}

fn walk(spec: &OpenAPI, schema: &ReferenceOr<Schema>, at: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
    let Some(schema) = resolve(spec, schema) else {
        return;
    };
    if at.len() > MAX_DEPTH {
        return;
    }
    let properties = match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => &object.properties,
        SchemaKind::Any(any) => &any.properties,
        SchemaKind::AllOf { all_of } => {
            for member in all_of {
                walk(spec, member, at, paths);
            }
            return;
        }
        SchemaKind::Type(Type::String(_)) => {
            if at
                .last()
                .is_some_and(|name| MESSAGE_NAMES.contains(&name.to_ascii_lowercase().as_str()))
            {
                paths.push(at.clone());
            }
            return;
        }
        _ => return,
    };
    for (name, property) in properties {
        at.push(name.clone());
        let property = match property {
            ReferenceOr::Item(schema) => ReferenceOr::Item((**schema).clone()),
            ReferenceOr::Reference { reference } => ReferenceOr::Reference {
                reference: reference.clone(),
            },
        };
        walk(spec, &property, at, paths);
        at.pop();
    }
}

fn resolve<'a>(spec: &'a OpenAPI, schema: &'a ReferenceOr<Schema>) -> Option<&'a Schema> {
    let mut current = schema;
    for _ in 0..8 {
        match current {
            ReferenceOr::Item(schema) => return Some(schema),
            ReferenceOr::Reference { reference } => {
                let name = reference.strip_prefix("#/components/schemas/")?;
                current = spec.components.as_ref()?.schemas.get(name)?;
            }
        }
    }
    None
}
