//! PATCH (RFC 7644 §3.5.2) on a resource's JSON face.
//!
//! Operations run in order on a copy of the resource; the caller swaps the copy in only when all
//! of them succeeded, which makes a request atomic. The model layer then re-validates the copy
//! (types, required attributes, member ids) and reconciles derived fields.
//!
//! Choices where the RFC leaves room: `remove` with a value filter that matches nothing is
//! `noTarget` (as `replace` must be); `remove` of a multi-valued attribute with a `value` list
//! removes the listed elements (Entra ID's member removal); unknown attributes are `invalidPath`.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrDef, AttrKind, AttrPath, Filter, PatchPath, Schema, parse_patch_path};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One of the three PATCH verbs. Parsed case-insensitively: Entra sends `Replace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

/// One parsed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Parses a PatchOp request body.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let syntax = |detail: &str| ScimError::bad_request(ScimType::InvalidSyntax, detail);
    let has_urn = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(PATCH_URN)));
    if !has_urn {
        return Err(syntax("`schemas` must contain the PatchOp URN"));
    }
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax("`Operations` must be an array"))?;
    ops.iter()
        .map(|op| {
            let kind = match op.get("op").and_then(Value::as_str) {
                Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
                Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
                Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
                _ => return Err(syntax("`op` must be add, remove or replace")),
            };
            let path = match op.get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(parse_patch_path(p).map_err(invalid_path)?),
                Some(_) => return Err(syntax("`path` must be a string")),
            };
            Ok(PatchOp {
                kind,
                path,
                value: op.get("value").cloned(),
            })
        })
        .collect()
}

/// Applies `ops` in order to `resource` (a JSON object with canonical attribute names).
pub fn apply(schema: &Schema, resource: &mut Value, ops: &[PatchOp]) -> Result<(), ScimError> {
    let obj = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, "resource is not an object"))?;
    for op in ops {
        apply_op(schema, obj, op)?;
    }
    Ok(())
}

fn apply_op(schema: &Schema, obj: &mut Map<String, Value>, op: &PatchOp) -> Result<(), ScimError> {
    if let Some(path) = &op.path {
        return apply_path(schema, obj, op.kind, path, op.value.as_ref());
    }
    if op.kind == OpKind::Remove {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            "remove needs a `path`",
        ));
    }
    let Some(Value::Object(values)) = &op.value else {
        return Err(invalid_value("without `path`, `value` must be an object"));
    };
    for (key, value) in values {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // Entra sends keys that are themselves paths, e.g. `name.givenName`.
        let path = parse_patch_path(key).map_err(invalid_path)?;
        apply_path(schema, obj, op.kind, &path, Some(value))?;
    }
    Ok(())
}

fn apply_path(
    schema: &Schema,
    obj: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let (def, sub) = schema.resolve(&path.attr).map_err(invalid_path)?;
    let sub = match (&path.sub, sub) {
        (Some(name), _) => Some(
            def.sub(name)
                .ok_or_else(|| invalid_path(format!("unknown sub-attribute `{name}`")))?,
        ),
        (None, sub) => sub,
    };
    let key = def.name;
    if def.read_only {
        // Re-sending the current value (full-object PATCHes do this) is not a change.
        let unchanged = kind != OpKind::Remove && sub.is_none() && obj.get(key) == value;
        if unchanged {
            return Ok(());
        }
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            format!("`{key}` is read-only"),
        ));
    }
    let value = match (kind, value) {
        (OpKind::Remove, v) => v,
        (_, Some(v)) => Some(v),
        (_, None) => return Err(invalid_value("operation needs a `value`")),
    };

    if let Some(filter) = &path.filter {
        let check = Filter::ValuePath {
            path: AttrPath::simple(key),
            filter: Box::new(filter.clone()),
        };
        schema.validate(&check).map_err(invalid_path)?;
        return apply_filtered(obj, def, sub, filter, kind, value);
    }

    match (sub, kind) {
        (None, OpKind::Remove) => match (def.multi, value) {
            (true, Some(Value::Array(victims))) => {
                let items = array_mut(obj, key)?;
                items.retain(|item| !victims.iter().any(|v| same_element(item, v)));
            }
            _ => {
                obj.remove(key);
            }
        },
        (None, _) if def.multi => {
            let incoming = match value {
                Some(Value::Array(items)) => items.clone(),
                Some(other) => vec![other.clone()],
                None => Vec::new(),
            };
            if kind == OpKind::Replace {
                obj.insert(key.to_owned(), Value::Array(Vec::new()));
            }
            let items = array_mut(obj, key)?;
            for item in incoming {
                if !items.iter().any(|existing| same_element(existing, &item)) {
                    items.push(item);
                }
            }
        }
        (None, _) if def.kind == AttrKind::Complex => {
            // Add and replace both merge sub-attributes into a complex attribute (§3.5.2.1/3).
            let Some(Value::Object(incoming)) = value else {
                return Err(invalid_value(format!("`{key}` must be an object")));
            };
            let target = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                for (k, v) in incoming {
                    let canonical = def
                        .sub(k)
                        .ok_or_else(|| invalid_path(format!("unknown sub-attribute `{k}`")))?;
                    target.insert(canonical.name.to_owned(), v.clone());
                }
            }
        }
        (None, _) => {
            if let Some(v) = value {
                obj.insert(key.to_owned(), v.clone());
            }
        }
        (Some(sub), _) => {
            if def.multi {
                let items = array_mut(obj, key)?;
                for item in items.iter_mut() {
                    set_sub(item, sub.name, kind, value);
                }
            } else {
                let target = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
                set_sub(target, sub.name, kind, value);
            }
        }
    }
    if def.multi && obj.get(key).and_then(Value::as_array).is_some_and(Vec::is_empty) {
        obj.remove(key);
    }
    Ok(())
}

fn apply_filtered(
    obj: &mut Map<String, Value>,
    def: &AttrDef,
    sub: Option<&AttrDef>,
    filter: &Filter,
    kind: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let key = def.name;
    let items = array_mut(obj, key)?;
    let selected: Vec<bool> = items
        .iter()
        .map(|item| element_matches(key, filter, item))
        .collect();
    if !selected.contains(&true) {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            format!("no value of `{key}` matches the filter"),
        ));
    }
    match (kind, sub) {
        (OpKind::Remove, None) => {
            let mut flags = selected.iter();
            items.retain(|_| !flags.next().copied().unwrap_or(false));
        }
        (_, Some(sub)) => {
            for (item, _) in items.iter_mut().zip(&selected).filter(|(_, s)| **s) {
                set_sub(item, sub.name, kind, value);
            }
        }
        (_, None) => {
            let Some(replacement @ Value::Object(_)) = value else {
                return Err(invalid_value(format!("a `{key}` value must be an object")));
            };
            for (item, _) in items.iter_mut().zip(&selected).filter(|(_, s)| **s) {
                *item = replacement.clone();
            }
        }
    }
    if items.is_empty() {
        obj.remove(key);
    }
    Ok(())
}

/// Evaluates a value filter against one element, with the attribute as context so that
/// case-exactness follows the attribute (e.g. `members.value` holds ids).
fn element_matches(key: &str, filter: &Filter, item: &Value) -> bool {
    let wrapper = Filter::ValuePath {
        path: AttrPath::simple(key),
        filter: Box::new(filter.clone()),
    };
    let mut single = Map::new();
    single.insert(key.to_owned(), Value::Array(vec![item.clone()]));
    wrapper.matches(&Value::Object(single))
}

fn set_sub(item: &mut Value, sub: &str, kind: OpKind, value: Option<&Value>) {
    if !item.is_object() {
        *item = Value::Object(Map::new());
    }
    if let Value::Object(map) = item {
        match (kind, value) {
            (OpKind::Remove, _) | (_, None) => {
                map.remove(sub);
            }
            (_, Some(v)) => {
                map.insert(sub.to_owned(), v.clone());
            }
        }
    }
}

/// Two multi-valued elements are the same when their `value`s are equal (or, lacking a
/// `value`, when they are equal JSON).
fn same_element(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn array_mut<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Vec<Value>, ScimError> {
    let slot = obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut()
        .ok_or_else(|| invalid_value(format!("`{key}` must be an array")))
}

fn invalid_value(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn invalid_path(detail: impl ToString) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail.to_string())
}
