//! Snapshots of exactly what a client sees: the tool list and each tool's definition.
//!
//! Review changes with `cargo insta review` (or read the `.snap.new` files); CI runs with
//! `INSTA_UPDATE=no`, so a changed tool list fails until its snapshot is committed.

use std::collections::BTreeSet;
use std::path::Path;

use generated_server::tool_list_json;
use runtime::{Scope, ToolNaming};
use serde_json::Value;

fn tools(naming: ToolNaming) -> Vec<Value> {
    let list = tool_list_json(naming, &Scope::default()).expect("the full tool list builds");
    list["tools"].as_array().cloned().expect("tools is an array")
}

fn names(naming: ToolNaming) -> Vec<String> {
    tools(naming)
        .iter()
        .map(|tool| tool["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Both integrations: the SCIM bridge's seventeen tools and the Events API's four.
const EXPECTED_DEFAULT_NAMES: &[&str] = &[
    "1_password_events_introspect",
    "1_password_groups_add_members",
    "1_password_groups_remove_members",
    "1_password_users_reactivate",
    "1_password_users_suspend",
    "create_a_1_password_group",
    "create_a_1_password_user",
    "delete_a_1_password_group_by_id",
    "delete_a_1_password_user_by_id",
    "get_1_password_service_provider_config",
    "get_single_1_password_group_by_id",
    "get_single_1_password_user_by_id",
    "list_all_1_password_audit_events",
    "list_all_1_password_groups",
    "list_all_1_password_item_usages",
    "list_all_1_password_resource_types",
    "list_all_1_password_schemas",
    "list_all_1_password_sign_in_attempts",
    "list_all_1_password_users",
    "update_a_1_password_group_by_id",
    "update_a_1_password_user_by_id",
];

#[test]
fn the_tool_list_holds_exactly_the_product_names() {
    assert_eq!(names(ToolNaming::Default), EXPECTED_DEFAULT_NAMES);
}

#[test]
fn every_name_fits_every_client() {
    for name in names(ToolNaming::Default) {
        assert!(
            !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
            "{name}"
        );
    }
    for name in names(ToolNaming::Portable) {
        let mut chars = name.chars();
        assert!(chars.next().is_some_and(|c| c.is_ascii_lowercase()), "{name}");
        assert!(
            name.len() <= 64 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name}"
        );
    }
    assert!(names(ToolNaming::Portable).contains(&"one_password_users_suspend".to_owned()));
}

/// Every schema a client sees is inlined and object-rooted, and every input property is
/// described: the rules that keep Claude, Gemini, OpenAI and VS Code clients happy.
#[test]
fn published_schemas_are_inlined_object_rooted_and_described() {
    fn walk(value: &Value, path: &str) {
        match value {
            Value::Object(map) => {
                for banned in ["$ref", "$defs", "definitions", "oneOf", "anyOf", "allOf"] {
                    assert!(!map.contains_key(banned), "{banned} at {path}");
                }
                if map.get("type") == Some(&Value::from("array")) {
                    assert!(map.contains_key("items"), "array without items at {path}");
                }
                for (key, child) in map {
                    walk(child, &format!("{path}.{key}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, path)),
            _ => {}
        }
    }
    for tool in tools(ToolNaming::Default) {
        let name = tool["name"].as_str().unwrap_or_default();
        for key in ["inputSchema", "outputSchema"] {
            assert_eq!(tool[key]["type"], "object", "{name} {key}");
            walk(&tool[key], &format!("{name}.{key}"));
        }
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 20),
            "{name}"
        );
        let properties = tool["inputSchema"]["properties"].as_object().expect("properties");
        for (property, schema) in properties {
            assert!(
                schema["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}.{property}"
            );
        }
    }
}

#[test]
fn annotations_follow_the_method_kind() {
    let tools = tools(ToolNaming::Default);
    let annotations = |name: &str| {
        tools
            .iter()
            .find(|tool| tool["name"] == name)
            .map(|tool| tool["annotations"].clone())
            .expect(name)
    };
    let list = annotations("list_all_1_password_users");
    assert_eq!(list["readOnlyHint"], true);
    assert_eq!(list["openWorldHint"], true);
    let suspend = annotations("1_password_users_suspend");
    assert_eq!(
        (
            suspend["readOnlyHint"].clone(),
            suspend["destructiveHint"].clone(),
            suspend["idempotentHint"].clone()
        ),
        (false.into(), true.into(), true.into())
    );
    let delete = annotations("delete_a_1_password_user_by_id");
    assert_eq!(
        (
            delete["destructiveHint"].clone(),
            delete["idempotentHint"].clone()
        ),
        (true.into(), true.into())
    );
    let update = annotations("update_a_1_password_user_by_id");
    assert_eq!(update["idempotentHint"], true);
    let create = annotations("create_a_1_password_user");
    assert_eq!(
        (
            create["destructiveHint"].clone(),
            create["idempotentHint"].clone()
        ),
        (false.into(), false.into())
    );
    let reactivate = annotations("1_password_users_reactivate");
    assert_eq!(
        (
            reactivate["destructiveHint"].clone(),
            reactivate["idempotentHint"].clone()
        ),
        (false.into(), true.into())
    );
}

#[test]
fn list_tools_page_with_limit_and_next_cursor_and_say_so() {
    let tools = tools(ToolNaming::Default);
    let users = tools
        .iter()
        .find(|tool| tool["name"] == "list_all_1_password_users")
        .expect("users list");
    let properties = &users["inputSchema"]["properties"];
    assert_eq!(properties["limit"]["minimum"], 1);
    assert_eq!(properties["limit"]["maximum"], 100);
    assert_eq!(properties["limit"]["default"], 50);
    assert_eq!(properties["next_cursor"]["type"], "string");
    for typed in ["user_name", "email", "active", "display_name", "external_id"] {
        assert!(properties.get(typed).is_some(), "{typed}");
    }
    assert!(
        properties.get("filter").is_none(),
        "raw SCIM filters are never exposed"
    );
    let description = users["description"].as_str().unwrap_or_default();
    for contract in [
        "next_cursor back unchanged",
        "same filters",
        "until null",
        "never invent",
    ] {
        assert!(description.contains(contract), "{contract}: {description}");
    }
    assert_eq!(runtime::LIMIT_MAX, codegen::LIMIT_MAX);
    assert_eq!(runtime::LIMIT_MIN, codegen::LIMIT_MIN);
    assert_eq!(runtime::LIMIT_DEFAULT, codegen::LIMIT_DEFAULT);
}

#[test]
fn snapshot_of_the_full_tool_list() {
    let list = tool_list_json(ToolNaming::Default, &Scope::default()).expect("tool list");
    insta::with_settings!({ sort_maps => true, prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("tool_list", list);
    });
}

#[test]
fn snapshot_of_each_tool() {
    for tool in tools(ToolNaming::Default) {
        let name = format!("tool__{}", tool["name"].as_str().unwrap_or_default());
        insta::with_settings!({ sort_maps => true, prepend_module_to_snapshot => false }, {
            insta::assert_json_snapshot!(name, tool);
        });
    }
}

/// The equivalent of `cargo insta test --unreferenced=reject`: a snapshot file no test writes
/// any more is an error, and so is a pending `.snap.new`.
#[test]
fn no_snapshot_is_unreferenced_or_pending() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("it/snapshots");
    let mut expected: BTreeSet<String> = names(ToolNaming::Default)
        .iter()
        .map(|name| format!("tool__{name}.snap"))
        .collect();
    expected.insert("tool_list.snap".into());
    expected.insert("prompt_list.snap".into());
    expected.insert("resource_list.snap".into());
    for entry in std::fs::read_dir(&dir).expect("snapshot directory") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".snap.new"),
            "pending snapshot {name}: review and commit it"
        );
        if name.ends_with(".snap") {
            assert!(
                expected.contains(&name) || name.starts_with("fixture__"),
                "unreferenced snapshot {name}"
            );
        }
    }
}
