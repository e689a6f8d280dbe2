//! What the model reads about a tool's results, whatever the method: how to page through a
//! list, and the published output schema. Resolving a method produces the plans; this turns
//! them into text and JSON Schema.

use serde_json::{Value, json};

use crate::model::{BodyCursorPaging, OutputPlan, PaginationPlan, Shape};
use crate::schema::Converter;

/// What the model reads about paging through a SCIM list: the whole contract in one sentence,
/// since it is repeated in every list tool the model reads. The page size (`limit`) carries its
/// range and default as schema keywords, so the sentence does not repeat them.
pub const PAGING_INSTRUCTIONS: &str = "Paged: pass next_cursor back unchanged, same filters, \
until null; never invent one.";

/// What the model reads about paging through a body_cursor list. Unlike a SCIM list, a page may
/// hold fewer matches than `limit` (the server filters what the upstream pages hold), so the
/// model must not take a short page for the last.
pub fn body_cursor_instructions(plan: &BodyCursorPaging) -> String {
    format!(
        "Paged, oldest first: pass next_cursor back unchanged, same filters, until null, even \
         past a short or empty page; never invent one. A call reads at most {} upstream pages.",
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
