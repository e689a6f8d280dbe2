//! Evaluates a [`Filter`] against a JSON resource.
//!
//! Rules (RFC 7644 §3.4.2.2 plus the choices the bridge's data forces on us):
//! - attribute names match case-insensitively; a URN prefix selects an extension object when the
//!   resource has one, otherwise it is the core schema and the attribute sits at the top level;
//! - multi-valued attributes match when any value matches; a complex attribute compared without a
//!   sub-attribute compares its `value` (so `emails co "x"` means `emails.value co "x"`);
//! - strings compare case-insensitively except identifiers (`id`, `$ref`, and the `value` of
//!   `members`/`groups`, which hold ids), which RFC 7643 marks caseExact;
//! - `ne` is the negation of `eq` (an absent attribute is "not equal"), `eq null` matches an absent
//!   attribute, and type mismatches never match.

use std::cmp::Ordering;

use serde_json::Value;

use super::{AttrPath, CompValue, CompareOp, Filter};

pub(super) fn matches(filter: &Filter, resource: &Value) -> bool {
    eval(filter, resource, None)
}

/// `parent` names the multi-valued attribute whose element is `resource` inside `a[...]`.
fn eval(filter: &Filter, resource: &Value, parent: Option<&str>) -> bool {
    match filter {
        Filter::And(l, r) => eval(l, resource, parent) && eval(r, resource, parent),
        Filter::Or(l, r) => eval(l, resource, parent) || eval(r, resource, parent),
        Filter::Not(inner) => !eval(inner, resource, parent),
        Filter::Present(path) => leaves(resource, path).into_iter().any(non_empty),
        Filter::ValuePath { path, filter } => match lookup(resource, path) {
            Some(Value::Array(items)) => items
                .iter()
                .any(|item| eval(filter, item, Some(path.name.as_str()))),
            Some(item @ Value::Object(_)) => eval(filter, item, Some(path.name.as_str())),
            _ => false,
        },
        Filter::Compare { path, op, value } => {
            let exact = case_exact(parent, path);
            let values = leaves(resource, path);
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => values.is_empty(),
                (CompareOp::Ne, CompValue::Null) => !values.is_empty(),
                (CompareOp::Ne, _) => !values.iter().any(|v| compare(v, CompareOp::Eq, value, exact)),
                _ => values.iter().any(|v| compare(v, *op, value, exact)),
            }
        }
    }
}

fn case_exact(parent: Option<&str>, path: &AttrPath) -> bool {
    let (attr, sub) = match parent {
        Some(parent) => (parent, Some(path.name.as_str())),
        None => (path.name.as_str(), path.sub.as_deref()),
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match sub {
        None => is(attr, "id") || is(attr, "$ref"),
        Some(sub) => is(sub, "$ref") || ((is(attr, "members") || is(attr, "groups")) && is(sub, "value")),
    }
}

fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The value of the path's top-level attribute, honouring an extension URN.
fn lookup<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let scope = path
        .urn
        .as_deref()
        .and_then(|urn| get_ci(resource, urn))
        .unwrap_or(resource);
    get_ci(scope, &path.name)
}

/// Every non-null scalar the path designates, flattening multi-valued attributes.
fn leaves<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = lookup(resource, path) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(|item| match (&path.sub, item) {
            (Some(sub), _) => get_ci(item, sub),
            (None, Value::Object(_)) => get_ci(item, "value"),
            (None, _) => Some(item),
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::String(e)) => {
            let (a, e) = if exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                _ => ordered(op, a.cmp(&e)),
            }
        }
        (Value::Bool(a), CompValue::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        (Value::Number(a), CompValue::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => a.partial_cmp(&e).is_some_and(|ord| match op {
                CompareOp::Eq => ord == Ordering::Equal,
                CompareOp::Ne => ord != Ordering::Equal,
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
                _ => ordered(op, ord),
            }),
            _ => false,
        },
        _ => false,
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
