//! Prompts and reference resources: what a scoped server offers beside its tools.
//!
//! A prompt names tools through `{{tool:resource.method}}` placeholders, rendered with the
//! names this server publishes; a prompt needing a tool outside the scope is not offered.

use std::fmt::Write as _;

use rmcp::model::{ErrorData, Prompt, PromptArgument, Tool};
use serde_json::Value;

use crate::spec::{PromptSegment, PromptSpec};
use crate::tool::ToolEntry;

/// The URI of the scoped tool catalogue resource.
pub const CATALOGUE_URI: &str = "op-scim://tools/catalogue";

/// A prompt this server offers, with each tool placeholder resolved to a published name.
#[derive(Debug)]
pub struct OfferedPrompt {
    pub spec: &'static PromptSpec,
    /// The published tool name for each `Tool` segment, in order.
    tool_names: Vec<&'static str>,
}

impl OfferedPrompt {
    /// `published(resource, method)` gives the published name of an in-scope tool.
    pub fn offer(
        spec: &'static PromptSpec,
        published: impl Fn(&str, &str) -> Option<&'static str>,
    ) -> Option<Self> {
        let tool_names = spec
            .segments
            .iter()
            .filter_map(|segment| match segment {
                PromptSegment::Tool { resource, method } => Some(published(resource, method)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { spec, tool_names })
    }

    pub fn definition(&self) -> Prompt {
        let arguments = self
            .spec
            .arguments
            .iter()
            .map(|argument| {
                PromptArgument::new(argument.name)
                    .with_description(argument.description)
                    .with_required(argument.required)
            })
            .collect();
        Prompt::new(self.spec.name, Some(self.spec.description), Some(arguments)).with_title(self.spec.title)
    }

    /// Renders the prompt text, refusing unknown, missing or malformed arguments.
    pub fn render(&self, arguments: &serde_json::Map<String, Value>) -> Result<String, ErrorData> {
        let name = self.spec.name;
        for key in arguments.keys() {
            if !self.spec.arguments.iter().any(|argument| argument.name == key) {
                return Err(invalid(format!("prompt `{name}` has no argument `{key}`")));
            }
        }
        let mut values = Vec::new();
        for argument in self.spec.arguments {
            let value = match arguments.get(argument.name) {
                None | Some(Value::Null) if argument.required => {
                    return Err(invalid(format!(
                        "prompt `{name}` needs the argument `{}`: {}",
                        argument.name, argument.description
                    )));
                }
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text.trim().to_owned(),
                Some(Value::Bool(flag)) => flag.to_string(),
                Some(other) => other.to_string(),
            };
            if argument.required && value.is_empty() {
                return Err(invalid(format!(
                    "prompt `{name}`: the argument `{}` is empty",
                    argument.name
                )));
            }
            if argument.boolean && !matches!(value.as_str(), "true" | "false" | "") {
                return Err(invalid(format!(
                    "prompt `{name}`: the argument `{}` must be true or false (got `{value}`)",
                    argument.name
                )));
            }
            values.push((argument.name, value));
        }
        let mut text = String::new();
        let mut tools = self.tool_names.iter();
        for segment in self.spec.segments {
            match segment {
                PromptSegment::Text(literal) => text.push_str(literal),
                PromptSegment::Argument(argument) => {
                    let value = values
                        .iter()
                        .find(|(name, _)| name == argument)
                        .map(|(_, value)| value.as_str());
                    text.push_str(value.unwrap_or_default());
                }
                PromptSegment::Tool { .. } => text.push_str(tools.next().copied().unwrap_or_default()),
            }
        }
        Ok(text)
    }
}

fn invalid(message: String) -> ErrorData {
    ErrorData::invalid_params(message, None)
}

/// The scoped tool catalogue as Markdown: what each tool does, its arguments and its hints.
pub fn catalogue_markdown(label: &str, tools: &[(&'static ToolEntry, Tool)]) -> String {
    let mut out = format!(
        "# {label} tools on this server\n\n{} tools, as published to this client.\n",
        tools.len()
    );
    for (entry, tool) in tools {
        let spec = &entry.spec;
        let _ = write!(
            out,
            "\n## `{}`: {}\n\n{}\n\n",
            tool.name, spec.title, spec.description
        );
        let hints = match (spec.annotations.read_only, spec.annotations.destructive) {
            (true, _) => "read-only",
            (false, Some(true)) => "changes data, destructive",
            (false, _) => "changes data",
        };
        let _ = writeln!(
            out,
            "- kind: {} ({hints}); tags: {}",
            spec.kind.as_str(),
            spec.tags.join(", ")
        );
        let required: Vec<&str> = tool
            .input_schema
            .get("required")
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |list| list.iter().filter_map(Value::as_str).collect());
        if let Some(Value::Object(properties)) = tool.input_schema.get("properties") {
            for (name, schema) in properties {
                let ty = schema.get("type").and_then(Value::as_str).unwrap_or("value");
                let need = if required.contains(&name.as_str()) {
                    "required"
                } else {
                    "optional"
                };
                let description = schema
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let _ = writeln!(out, "- `{name}` ({ty}, {need}): {description}");
            }
        }
    }
    out
}
