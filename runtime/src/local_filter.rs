//! Filters op-scim-mcp evaluates itself, over the items of the upstream's pages, for APIs that
//! cannot filter (1Password's Events API lists everything in a time window).
//!
//! The semantics follow SCIM's filter operators (RFC 7644 §3.4.2.2), which the model already
//! knows from the SCIM tools: strings compare without regard to case; `gt`/`ge`/`lt`/`le` on two
//! RFC 3339 times compare the instants. A filter names one or more dotted paths into an item
//! (`actor_details.email`); the item matches when any of them holds a matching value, and an
//! array on the way matches when any of its elements does. Several filters combine with AND.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::error::ToolError;
use crate::scim_filter::{CompareOp, FilterValue};

/// One filter: where to look, and what to compare with.
#[derive(Clone, Debug)]
struct LocalFilter {
    paths: &'static [&'static str],
    operator: CompareOp,
    value: FilterValue,
}

/// The filters of one call, AND-ed.
#[derive(Clone, Debug, Default)]
pub struct LocalFilters {
    filters: Vec<LocalFilter>,
}

impl LocalFilters {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, paths: &'static [&'static str], operator: CompareOp, value: FilterValue) {
        self.filters.push(LocalFilter {
            paths,
            operator,
            value,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Whether `item` passes every filter.
    pub fn matches(&self, item: &Value) -> bool {
        self.filters.iter().all(|filter| {
            filter.paths.iter().any(|path| {
                values_at(item, path)
                    .into_iter()
                    .any(|found| compare(found, filter.operator, &filter.value))
            })
        })
    }

    /// Moves the items of one upstream page that pass the filters into `result`, from index
    /// `skip` on, until `result` holds `limit`. Returns the index of the first item not looked
    /// at when `result` filled up before the page ended: where the next call resumes.
    pub fn take_matching<T: Serialize>(
        &self,
        items: Vec<T>,
        skip: usize,
        limit: usize,
        result: &mut Vec<Value>,
    ) -> Result<Option<usize>, ToolError> {
        for (index, item) in items.into_iter().enumerate().skip(skip) {
            if result.len() == limit {
                return Ok(Some(index));
            }
            let item = serde_json::to_value(item).map_err(|error| ToolError::Internal(error.to_string()))?;
            if self.matches(&item) {
                result.push(item);
            }
        }
        Ok(None)
    }

    /// A canonical rendering, for binding a cursor to the filters it was issued under.
    pub fn canonical(&self) -> String {
        let mut text = String::new();
        for filter in &self.filters {
            let value = match &filter.value {
                FilterValue::String(text) => format!("{text:?}"),
                FilterValue::Bool(flag) => flag.to_string(),
                FilterValue::Integer(number) => number.to_string(),
            };
            let _ = write!(text, "{}:{:?}:{value};", filter.paths.join("|"), filter.operator);
        }
        text
    }
}

/// Every value at a dotted path, descending into arrays on the way.
fn values_at<'v>(item: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![item];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(map) => next.extend(map.get(segment)),
                Value::Array(items) => next.extend(
                    items
                        .iter()
                        .filter_map(|item| item.as_object().and_then(|map| map.get(segment))),
                ),
                _ => {}
            }
        }
        current = next;
    }
    current
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        })
        .collect()
}

fn compare(found: &Value, operator: CompareOp, wanted: &FilterValue) -> bool {
    match (found, wanted) {
        (Value::String(found), FilterValue::String(wanted)) => compare_text(found, operator, wanted),
        (Value::Bool(found), FilterValue::Bool(wanted)) => match operator {
            CompareOp::Eq => found == wanted,
            CompareOp::Ne => found != wanted,
            _ => false,
        },
        (Value::Number(found), FilterValue::Integer(wanted)) => match found.as_f64() {
            Some(found) => order(found.partial_cmp(&(*wanted as f64)), operator),
            None => false,
        },
        _ => false,
    }
}

fn compare_text(found: &str, operator: CompareOp, wanted: &str) -> bool {
    if matches!(
        operator,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    ) && let (Ok(found), Ok(wanted)) = (
        crate::rfc3339::parse_time(found),
        crate::rfc3339::parse_time(wanted),
    ) {
        return order(found.partial_cmp(&wanted), operator);
    }
    let (found, wanted) = (found.to_lowercase(), wanted.to_lowercase());
    match operator {
        CompareOp::Eq => found == wanted,
        CompareOp::Ne => found != wanted,
        CompareOp::Co => found.contains(&wanted),
        CompareOp::Sw => found.starts_with(&wanted),
        CompareOp::Ew => found.ends_with(&wanted),
        _ => order(found.partial_cmp(&wanted), operator),
    }
}

fn order(ordering: Option<std::cmp::Ordering>, operator: CompareOp) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (ordering, operator) {
        (Some(ordering), CompareOp::Eq) => ordering == Equal,
        (Some(ordering), CompareOp::Ne) => ordering != Equal,
        (Some(Greater), CompareOp::Gt) | (Some(Greater | Equal), CompareOp::Ge) => true,
        (Some(Less), CompareOp::Lt) | (Some(Less | Equal), CompareOp::Le) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({
            "action": "suspend",
            "timestamp": "2026-11-30T10:00:00+01:00",
            "actor_details": { "email": "Ada@Example.com" },
            "object_details": null,
            "members": [{ "email": "b@example.com" }, { "email": "c@example.com" }],
        })
    }

    fn filters(list: &[(&'static [&'static str], CompareOp, FilterValue)]) -> LocalFilters {
        let mut filters = LocalFilters::new();
        for (paths, operator, value) in list {
            filters.push(paths, *operator, value.clone());
        }
        filters
    }

    #[test]
    fn strings_compare_without_case_and_any_path_may_match() {
        let item = event();
        let by_email = |email: &str| {
            filters(&[(
                &["object_details.email", "actor_details.email"],
                CompareOp::Eq,
                FilterValue::String(email.into()),
            )])
        };
        assert!(by_email("ada@example.com").matches(&item));
        assert!(!by_email("eve@example.com").matches(&item));
        let domain = filters(&[(
            &["actor_details.email"],
            CompareOp::Ew,
            FilterValue::String("@EXAMPLE.COM".into()),
        )]);
        assert!(domain.matches(&item));
    }

    #[test]
    fn filters_combine_with_and_and_arrays_match_any_element() {
        let item = event();
        let both = filters(&[
            (&["action"], CompareOp::Eq, FilterValue::String("suspend".into())),
            (
                &["members.email"],
                CompareOp::Eq,
                FilterValue::String("c@example.com".into()),
            ),
        ]);
        assert!(both.matches(&item));
        let one_wrong = filters(&[
            (&["action"], CompareOp::Eq, FilterValue::String("delete".into())),
            (
                &["members.email"],
                CompareOp::Eq,
                FilterValue::String("c@example.com".into()),
            ),
        ]);
        assert!(!one_wrong.matches(&item));
    }

    #[test]
    fn times_compare_as_instants_across_offsets() {
        let item = event();
        let after =
            |time: &str| filters(&[(&["timestamp"], CompareOp::Ge, FilterValue::String(time.into()))]);
        assert!(after("2026-11-30T09:00:00Z").matches(&item));
        assert!(!after("2026-11-30T09:00:01Z").matches(&item));
    }

    #[test]
    fn the_canonical_form_tells_filters_apart() {
        let one = filters(&[(&["action"], CompareOp::Eq, FilterValue::String("a".into()))]);
        let other = filters(&[(&["action"], CompareOp::Eq, FilterValue::String("b".into()))]);
        assert_ne!(one.canonical(), other.canonical());
        assert_eq!(LocalFilters::new().canonical(), "");
    }
}
