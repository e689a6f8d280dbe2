//! What a tool answers: the response's typed body, a page of a list, a wrapped JSON array, or
//! nothing, worked out from the spec and the docs YAML (`published` turns the plan into the
//! output schema and the paging text the model reads).

use std::collections::BTreeSet;

use crate::diagnostics::Diagnostics;
use crate::docs::{Pagination, PaginationStyle};
use crate::model::{
    BodyCursorPaging, OutputPlan, PaginationPlan, ScimPaging, Shape, StructDef, StructField, TypeDef,
};
use crate::resolve::MethodContext;
use crate::schema::Converter;

/// Upstream requests one body_cursor call may make unless the docs YAML says otherwise.
const DEFAULT_REQUESTS_PER_CALL: u32 = 5;

impl MethodContext<'_> {
    pub(crate) fn resolve_output(
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
        let Some(response) = crate::refs::response(self.spec, response, &location, diags) else {
            return (OutputPlan::NoContent, None);
        };
        let schema = response
            .content
            .get("application/json")
            .and_then(|media| media.schema.as_ref())
            .or_else(|| response.content.values().find_map(|media| media.schema.as_ref()));
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
        let type_name = match (shape, &self.method.pagination) {
            (Shape::Named(type_name), _) => type_name,
            (Shape::Array(item, _), None) => match *item {
                Shape::Named(item) => return (OutputPlan::List(item), None),
                _ => {
                    diags.push(&location, "a list response must hold objects");
                    return (OutputPlan::NoContent, None);
                }
            },
            _ => {
                diags.push(
                    &location,
                    "the response must be an object, or an array of objects (outputSchema needs an object root)",
                );
                return (OutputPlan::NoContent, None);
            }
        };
        let Some(pagination) = &self.method.pagination else {
            return (OutputPlan::Typed(type_name), None);
        };
        let Some(TypeDef::Struct(list)) = data.type_def(&type_name) else {
            diags.push(&location, "the list response must be an object");
            return (OutputPlan::NoContent, None);
        };
        let plan = match pagination.style {
            PaginationStyle::Scim => {
                self.scim_paging(pagination, list, &type_name, paging_params, &location, diags)
            }
            PaginationStyle::BodyCursor => {
                self.body_cursor_paging(pagination, list, &type_name, data, &location, diags)
            }
        };
        match plan {
            Some(plan) => {
                let item = match &plan {
                    PaginationPlan::Scim(plan) => plan.item_type.clone(),
                    PaginationPlan::BodyCursor(plan) => plan.item_type.clone(),
                };
                (OutputPlan::Page(item), Some(plan))
            }
            None => (OutputPlan::NoContent, None),
        }
    }

    fn scim_paging(
        &self,
        pagination: &Pagination,
        list: &StructDef,
        type_name: &str,
        paging_params: &BTreeSet<String>,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Option<PaginationPlan> {
        for (key, given) in [
            ("cursor", &pagination.cursor),
            ("has_more", &pagination.has_more),
            ("reset", &pagination.reset),
            ("page_size", &pagination.page_size),
        ] {
            if given.is_some() {
                diags.push(
                    location,
                    format!("`{key}` belongs to body_cursor pagination, not scim"),
                );
            }
        }
        for wire in ["startIndex", "count"] {
            if !paging_params.contains(wire) {
                diags.push(
                    location,
                    format!("scim pagination needs the `{wire}` query parameter"),
                );
            }
        }
        let items_wire = pagination.items.as_deref().unwrap_or("Resources");
        let total_wire = pagination.total.as_deref().unwrap_or("totalResults");
        let (Some(items), Some(total)) = (field(list, items_wire), field(list, total_wire)) else {
            diags.push(
                location,
                format!("the list response needs `{items_wire}` and `{total_wire}` fields"),
            );
            return None;
        };
        let item_type = item_type(items, location, diags)?;
        if !matches!(total.shape, Shape::Integer(_)) {
            diags.push(location, format!("`{total_wire}` must be an integer"));
        }
        Some(PaginationPlan::Scim(ScimPaging {
            response_type: type_name.to_owned(),
            items_field: items.rust_name.clone(),
            items_optional: !items.required,
            item_type,
            total_field: total.rust_name.clone(),
            total_optional: !total.required,
        }))
    }

    /// body_cursor: the response carries items, a cursor and `has_more`; the request body is
    /// a `oneOf` of a reset (with a page size) and a continuation (with the cursor).
    fn body_cursor_paging(
        &self,
        pagination: &Pagination,
        list: &StructDef,
        type_name: &str,
        data: &Converter<'_>,
        location: &str,
        diags: &mut Diagnostics,
    ) -> Option<PaginationPlan> {
        if pagination.total.is_some() {
            diags.push(
                location,
                "`total` belongs to scim pagination; body_cursor answers has no total",
            );
        }
        let items_wire = pagination.items.as_deref().unwrap_or("items");
        let cursor_wire = pagination.cursor.as_deref().unwrap_or("cursor");
        let has_more_wire = pagination.has_more.as_deref().unwrap_or("has_more");
        let page_size_wire = pagination.page_size.as_deref().unwrap_or("limit");
        let (Some(items), Some(cursor), Some(has_more)) = (
            field(list, items_wire),
            field(list, cursor_wire),
            field(list, has_more_wire),
        ) else {
            diags.push(
                location,
                format!(
                    "the list response needs `{items_wire}`, `{cursor_wire}` and `{has_more_wire}` fields"
                ),
            );
            return None;
        };
        let item_type = item_type(items, location, diags)?;
        if !matches!(cursor.shape, Shape::String(_)) {
            diags.push(location, format!("`{cursor_wire}` must be a string"));
        }
        if !matches!(has_more.shape, Shape::Boolean) {
            diags.push(location, format!("`{has_more_wire}` must be a boolean"));
        }
        let Some(reset_name) = &pagination.reset else {
            diags.push(
                location,
                "body_cursor pagination needs `reset`: the request body member that starts a listing",
            );
            return None;
        };
        let members = self.body_members(data, diags)?;
        let Some((_, reset)) = members.iter().find(|(name, _)| name == reset_name) else {
            diags.push(
                location,
                format!("`reset: {reset_name}` is not a member of the request body"),
            );
            return None;
        };
        let reset_parts = data.object_parts(reset, reset_name, location, 0, diags)?;
        if !reset_parts.properties.contains_key(page_size_wire) {
            diags.push(
                location,
                format!("the reset body `{reset_name}` has no `{page_size_wire}` (set `page_size`)"),
            );
        }
        let continues = members.iter().any(|(name, schema)| {
            name != reset_name
                && data
                    .object_parts(schema, name, location, 0, &mut Diagnostics::default())
                    .is_some_and(|parts| parts.properties.contains_key(cursor_wire))
        });
        if !continues {
            diags.push(
                location,
                format!("no member of the request body carries `{cursor_wire}` to continue a listing"),
            );
        }
        let upstream_max = pagination.upstream_max.unwrap_or(crate::resolve::LIMIT_MAX);
        if upstream_max < crate::resolve::LIMIT_MAX {
            diags.push(
                location,
                format!(
                    "`upstream_max` must be at least {}, the largest `limit`",
                    crate::resolve::LIMIT_MAX
                ),
            );
        }
        if let Some(start) = &pagination.default_start
            && !reset_parts.properties.contains_key(&start.field)
        {
            diags.push(
                location,
                format!(
                    "the reset body `{reset_name}` has no `{}` (default_start.field)",
                    start.field
                ),
            );
        }
        let requests_per_call = pagination.requests_per_call.unwrap_or(DEFAULT_REQUESTS_PER_CALL);
        if !(1..=20).contains(&requests_per_call) {
            diags.push(location, "`requests_per_call` must be between 1 and 20");
        }
        Some(PaginationPlan::BodyCursor(BodyCursorPaging {
            response_type: type_name.to_owned(),
            items_field: items.rust_name.clone(),
            items_optional: !items.required,
            item_type,
            cursor_field: cursor.rust_name.clone(),
            cursor_optional: !cursor.required,
            has_more_field: has_more.rust_name.clone(),
            has_more_optional: !has_more.required,
            cursor_wire: cursor_wire.to_owned(),
            page_size_wire: page_size_wire.to_owned(),
            upstream_max,
            requests_per_call,
            default_start: pagination
                .default_start
                .as_ref()
                .map(|start| (start.field.clone(), start.seconds_before_now)),
        }))
    }

    /// The wire names of the reset member's properties: what `body:` properties may set.
    pub(crate) fn reset_fields(&self, data: &Converter<'_>, diags: &mut Diagnostics) -> Vec<String> {
        let Some(reset_name) = self
            .method
            .pagination
            .as_ref()
            .and_then(|pagination| pagination.reset.as_ref())
        else {
            return Vec::new();
        };
        let Some(members) = self.body_members(data, diags) else {
            return Vec::new();
        };
        members
            .iter()
            .find(|(name, _)| name == reset_name)
            .and_then(|(_, schema)| data.object_parts(schema, reset_name, self.location, 0, diags))
            .map(|parts| parts.properties.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn field<'a>(list: &'a StructDef, wire: &str) -> Option<&'a StructField> {
    list.fields.iter().find(|field| field.wire_name == wire)
}

fn item_type(items: &StructField, location: &str, diags: &mut Diagnostics) -> Option<String> {
    match &items.shape {
        Shape::Array(item, _) => match item.as_ref() {
            Shape::Named(name) => Some(name.clone()),
            _ => {
                diags.push(location, format!("`{}` must hold objects", items.wire_name));
                None
            }
        },
        _ => {
            diags.push(location, format!("`{}` must be an array", items.wire_name));
            None
        }
    }
}
