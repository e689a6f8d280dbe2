//! The typed properties of a list tool (`query` in the docs YAML): a filter the upstream
//! evaluates (a SCIM filter clause), a filter op-scim-mcp evaluates over the upstream's pages
//! (`evaluate: local`, for APIs that cannot filter, like the Events API), or a field of the
//! request that starts a listing (`body:`, such as a time window).

use crate::diagnostics::Diagnostics;
use crate::docs::{Evaluate, PaginationStyle, QueryType};
use crate::model::{InputField, InputRole, IntegerRules, PaginationPlan, Shape, StringRules, TypeDef};
use crate::resolve::{MethodContext, check_snake};
use crate::schema::Converter;

impl MethodContext<'_> {
    pub(crate) fn resolve_query(
        &self,
        inputs: &mut Vec<InputField>,
        has_filter_param: bool,
        pagination: Option<&PaginationPlan>,
        data: &Converter<'_>,
        diags: &mut Diagnostics,
    ) {
        let style = self.method.pagination.as_ref().map(|pagination| pagination.style);
        let reset_fields = if style == Some(PaginationStyle::BodyCursor) {
            self.reset_fields(data, diags)
        } else {
            Vec::new()
        };
        let item_type = pagination.map(|plan| match plan {
            PaginationPlan::Scim(plan) => plan.item_type.as_str(),
            PaginationPlan::BodyCursor(plan) => plan.item_type.as_str(),
        });
        for (property, query) in &self.method.query {
            let location = format!("{}.query.{property}", self.location);
            check_snake(property, &location, "query property", diags);
            if query.description.trim().is_empty() {
                diags.push(&location, "description is empty");
            }
            let shape = match query.ty {
                QueryType::String => Shape::String(StringRules::default()),
                QueryType::DateTime => Shape::String(StringRules {
                    date_time: true,
                    ..StringRules::default()
                }),
                QueryType::Boolean => Shape::Boolean,
                QueryType::Integer => Shape::Integer(IntegerRules::default()),
            };
            let role = if let Some(wire) = &query.body {
                if style != Some(PaginationStyle::BodyCursor) {
                    diags.push(&location, "`body:` sets a field of the body that starts a listing: it needs body_cursor pagination");
                } else if !reset_fields.contains(wire) {
                    diags.push(&location, format!("the reset body has no field `{wire}`"));
                }
                if query.attribute.is_some() || query.operator.is_some() || query.evaluate == Evaluate::Local
                {
                    diags.push(
                        &location,
                        "a `body:` property takes no attribute, operator or evaluate",
                    );
                }
                InputRole::ResetField(wire.clone())
            } else {
                let (Some(attribute), Some(operator)) = (&query.attribute, query.operator) else {
                    diags.push(&location, "a filter needs `attribute` and `operator`");
                    continue;
                };
                let paths = attribute.paths();
                match query.evaluate {
                    Evaluate::Local => {
                        if style != Some(PaginationStyle::BodyCursor) {
                            diags.push(
                                &location,
                                "`evaluate: local` filters the pages of a body_cursor list",
                            );
                        }
                        for path in &paths {
                            self.check_item_path(path, item_type, data, &location, diags);
                        }
                        InputRole::LocalFilter {
                            paths,
                            operator,
                            ty: query.ty,
                        }
                    }
                    Evaluate::Upstream => {
                        if !has_filter_param {
                            diags.push(
                                &location,
                                format!(
                                    "operation `{}` has no `filter` query parameter to compile this into (say `evaluate: local` to filter the pages here)",
                                    self.operation_name
                                ),
                            );
                        }
                        let [attribute] = paths.as_slice() else {
                            diags.push(&location, "an upstream filter takes one attribute");
                            continue;
                        };
                        if !is_attribute_path(attribute) {
                            diags.push(&location, format!("`{attribute}` is not a SCIM attribute path"));
                        }
                        if query.ty == QueryType::DateTime {
                            diags.push(
                                &location,
                                "date-time filters are evaluated locally; say `evaluate: local`",
                            );
                        }
                        InputRole::Filter {
                            attribute: attribute.clone(),
                            operator,
                            ty: query.ty,
                        }
                    }
                }
            };
            inputs.push(InputField {
                name: property.clone(),
                shape,
                required: false,
                description: query.description.trim().to_owned(),
                default: None,
                role,
            });
        }
    }

    /// A local filter's dotted path must start at a field the items have.
    fn check_item_path(
        &self,
        path: &str,
        item_type: Option<&str>,
        data: &Converter<'_>,
        location: &str,
        diags: &mut Diagnostics,
    ) {
        let segments: Vec<&str> = path.split('.').collect();
        let well_formed = segments.iter().all(|segment| {
            segment.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !well_formed {
            diags.push(location, format!("`{path}` is not a dotted path of field names"));
            return;
        }
        let Some(Some(TypeDef::Struct(item))) = item_type.map(|name| data.type_def(name)) else {
            return;
        };
        if !item.fields.iter().any(|field| field.wire_name == segments[0]) {
            diags.push(
                location,
                format!("the items have no field `{}` (for `{path}`)", segments[0]),
            );
        }
    }
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
