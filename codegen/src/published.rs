//! What the model reads about a tool's results, whatever the method: how to page through a
//! list, and the published output schema. Resolving a method produces the plans; this turns
//! them into text and JSON Schema.

use serde_json::{Value, json};

use crate::model::{BodyCursorPaging, OutputPlan, PaginationPlan, Shape};
use crate::schema::Converter;

/// What the model reads about paging through a SCIM list.
pub const PAGING_INSTRUCTIONS: &str = "Results come in pages. Pass `limit` (1-100, default 50). \
When the result's `next_cursor` is a string, call this tool again with `next_cursor` set to it \
exactly as returned and the same filter arguments to get the next page; never invent or edit a \
cursor. A null `next_cursor` means this was the last page.";

/// What the model reads about paging through a body_cursor list.
pub fn body_cursor_instructions(plan: &BodyCursorPaging) -> String {
    format!(
        "Results come in pages, oldest first. Pass `limit` (1-100, default 50). When the result's \
         `next_cursor` is a string, call this tool again with `next_cursor` set to it exactly as returned \
         and the same filter arguments; a page may be short or even empty while more follows, so keep \
         going until `next_cursor` is null. Each call reads at most {} pages from the upstream.",
        plan.requests_per_call
    )
}

/// The published output schema; `pagination` says which fields a page has.
pub fn output_schema(
    output: &OutputPlan,
    pagination: Option<&PaginationPlan>,
    data: &Converter<'_>,
) -> Value {
    let next_cursor = json!({
        "type": ["string", "null"],
        "description": "Pass this back unchanged to get the next page; null on the last page.",
    });
    let result_count = json!({
        "type": "integer",
        "description": "How many items this page holds.",
    });
    match output {
        OutputPlan::Typed(name) => data.json_schema(&Shape::Named(name.clone())),
        OutputPlan::Page(item) => {
            let mut schema = json!({
                "type": "object",
                "properties": {
                    "result": {
                        "type": "array",
                        "description": "The items on this page.",
                        "items": data.json_schema(&Shape::Named(item.clone())),
                    },
                    "next_cursor": next_cursor,
                    "result_count": result_count,
                },
                "required": ["result", "next_cursor", "result_count"],
            });
            if matches!(pagination, Some(PaginationPlan::Scim(_))) {
                schema["properties"]["total_results"] = json!({
                    "type": ["integer", "null"],
                    "description": "How many items match across all pages, when the API says.",
                });
                schema["required"] = json!(["result", "next_cursor", "result_count", "total_results"]);
            }
            schema
        }
        OutputPlan::List(item) => json!({
            "type": "object",
            "properties": {
                "result": {
                    "type": "array",
                    "description": "The items the upstream answered with.",
                    "items": data.json_schema(&Shape::Named(item.clone())),
                },
                "result_count": result_count,
            },
            "required": ["result", "result_count"],
        }),
        OutputPlan::NoContent => json!({
            "type": "object",
            "properties": {
                "status": {
                    "type": "integer",
                    "description": "The HTTP status the API answered with (204: done, no body).",
                },
            },
            "required": ["status"],
        }),
    }
}
