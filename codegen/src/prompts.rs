//! Prompts and reference resources from the docs YAML, checked against the documented tools.

use std::collections::BTreeSet;

use crate::diagnostics::Diagnostics;
use indexmap::IndexMap;

use crate::docs::{DocsFile, PromptArgumentType, PromptDoc};
use crate::model::{HttpMethod, PathPart, PromptArgumentDef, PromptDef, PromptSegment, ReferenceDef, Tool};

/// Resolves every prompt of `file` (`docs.yaml`, `product.yaml`, for messages); `tools` are
/// the resolved tools `{{tool:...}}` may name.
pub fn resolve_prompts(
    documented: &IndexMap<String, PromptDoc>,
    file: &str,
    tools: &[Tool],
    diags: &mut Diagnostics,
) -> Vec<PromptDef> {
    let mut prompts = Vec::new();
    for (name, prompt) in documented {
        let location = format!("{file}: prompts.{name}");
        if !is_snake(name) {
            diags.push(&location, format!("prompt name `{name}` must be snake_case"));
        }
        if prompt.description.trim().is_empty() || prompt.title.trim().is_empty() {
            diags.push(&location, "a prompt needs a title and a description");
        }
        let segments = parse_template(&prompt.template, &location, diags);
        let mut used = BTreeSet::new();
        for segment in &segments {
            match segment {
                PromptSegment::Argument(argument) => {
                    if !prompt.arguments.contains_key(argument) {
                        diags.push(
                            &location,
                            format!("`{{{{{argument}}}}}` names no declared argument"),
                        );
                    }
                    used.insert(argument.clone());
                }
                PromptSegment::Tool { resource, method } => {
                    if !tools
                        .iter()
                        .any(|tool| &tool.resource == resource && &tool.method == method)
                    {
                        diags.push(
                            &location,
                            format!("`{{{{tool:{resource}.{method}}}}}` names no documented method"),
                        );
                    }
                }
                PromptSegment::Text(_) => {}
            }
        }
        let mut arguments = Vec::new();
        for (argument, doc) in &prompt.arguments {
            if !used.contains(argument) {
                diags.push(
                    &location,
                    format!("argument `{argument}` is never used in the template"),
                );
            }
            if doc.description.trim().is_empty() {
                diags.push(&location, format!("argument `{argument}` has no description"));
            }
            arguments.push(PromptArgumentDef {
                name: argument.clone(),
                description: doc.description.trim().to_owned(),
                required: doc.required,
                boolean: doc.ty == PromptArgumentType::Boolean,
            });
        }
        prompts.push(PromptDef {
            name: name.clone(),
            title: prompt.title.trim().to_owned(),
            description: prompt.description.trim().to_owned(),
            arguments,
            segments,
        });
    }
    prompts.sort_by(|a, b| a.name.cmp(&b.name));
    prompts
}

/// Resolves every reference resource to the literal path of its GET operation.
pub fn resolve_references(docs: &DocsFile, tools: &[Tool], diags: &mut Diagnostics) -> Vec<ReferenceDef> {
    let mut seen = BTreeSet::new();
    let mut references = Vec::new();
    for (index, reference) in docs.reference.iter().enumerate() {
        let location = format!("docs.yaml: reference[{index}]");
        if !seen.insert(reference.uri.clone()) {
            diags.push(
                &location,
                format!("resource uri `{}` is listed twice", reference.uri),
            );
        }
        if !reference.uri.contains("://") {
            diags.push(&location, format!("`{}` is not a URI", reference.uri));
        }
        let Some((path, tool)) = parameterless_get(tools, &reference.operation, &location, diags) else {
            continue;
        };
        references.push(ReferenceDef {
            uri: reference.uri.clone(),
            name: reference.name.clone(),
            title: reference.title.clone(),
            description: reference.description.trim().to_owned(),
            path,
            resource: tool.resource.clone(),
            method: tool.method.clone(),
        });
    }
    references
}

/// The path of a documented tool's operation that is a GET without path parameters (what a
/// reference resource or the readiness probe reads), with the tool; a diagnostic otherwise.
pub fn parameterless_get<'a>(
    tools: &'a [Tool],
    operation: &str,
    location: &str,
    diags: &mut Diagnostics,
) -> Option<(Vec<String>, &'a Tool)> {
    let Some(tool) = tools.iter().find(|tool| tool.operation_id == operation) else {
        diags.push(
            location,
            format!("operation `{operation}` is not a documented tool's"),
        );
        return None;
    };
    if tool.http_method != HttpMethod::Get {
        diags.push(location, format!("operation `{operation}` must be a GET"));
    }
    let mut path = Vec::new();
    for part in &tool.path {
        match part {
            PathPart::Literal(text) => path.push(text.clone()),
            PathPart::Param(_) => diags.push(
                location,
                format!("operation `{operation}` must take no path parameters"),
            ),
        }
    }
    Some((path, tool))
}

/// Splits `text {{argument}} text {{tool:resource.method}}` into segments.
fn parse_template(template: &str, location: &str, diags: &mut Diagnostics) -> Vec<PromptSegment> {
    let mut segments = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            segments.push(PromptSegment::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            diags.push(location, "unclosed `{{` in the template");
            return segments;
        };
        let inner = after[..end].trim();
        match inner.strip_prefix("tool:") {
            Some(reference) => match reference.split_once('.') {
                Some((resource, method)) => segments.push(PromptSegment::Tool {
                    resource: resource.trim().to_owned(),
                    method: method.trim().to_owned(),
                }),
                None => diags.push(location, format!("`{{{{{inner}}}}}` must name resource.method")),
            },
            None if is_snake(inner) => segments.push(PromptSegment::Argument(inner.to_owned())),
            None => diags.push(
                location,
                format!("`{{{{{inner}}}}}` is neither an argument nor a tool"),
            ),
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        segments.push(PromptSegment::Text(rest.to_owned()));
    }
    segments
}

fn is_snake(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
