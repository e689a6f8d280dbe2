//! PATCH, PUT and POST semantics on the directory (RFC 7644 §3.5.2 and the bridge's quirks).

use serde_json::{Value, json};

use super::Directory;
use crate::error::{ScimError, ScimType};

fn patch(ops: Value) -> Value {
    json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops })
}

fn dir() -> Directory {
    Directory::seeded(20, 3, 1)
}

fn jane(d: &Directory) -> String {
    d.users()[0].id.clone()
}

fn scim_type(result: Result<impl std::fmt::Debug, ScimError>) -> Option<ScimType> {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.scim_type,
    }
}

#[test]
fn replace_display_name_rederives_the_name() {
    let mut d = dir();
    let id = jane(&d);
    let ops = patch(json!([{ "op": "Replace", "path": "displayName", "value": "Updated Display Name" }]));
    let u = d.patch_user(&id, &ops).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u.given_name, "Updated");
    assert_eq!(u.family_name, "Display Name");
    assert_eq!(u.to_json()["name"]["formatted"], "Updated Display Name");
}

#[test]
fn replacing_name_parts_updates_display_name() {
    let mut d = dir();
    let id = jane(&d);
    let ops = patch(json!([{ "op": "replace", "path": "name.familyName", "value": "Smith" }]));
    let u = d.patch_user(&id, &ops).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u.display_name, "Jane Smith");
}

#[test]
fn removing_display_name_or_formatted_keeps_the_full_name() {
    let mut d = dir();
    let id = jane(&d);
    for path in ["displayName", "name.formatted"] {
        let ops = patch(json!([{ "op": "remove", "path": path }]));
        let u = d.patch_user(&id, &ops).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.display_name, "Jane Doe", "after removing {path}");
        assert_eq!((u.given_name.as_str(), u.family_name.as_str()), ("Jane", "Doe"));
    }
}

#[test]
fn pathless_replace_merges_attributes_and_accepts_entra_booleans() {
    let mut d = dir();
    let id = jane(&d);
    let ops = patch(
        json!([{ "op": "replace", "value": { "active": "False", "externalId": "e-1", "name.givenName": "Janet" } }]),
    );
    let u = d.patch_user(&id, &ops).unwrap_or_else(|e| panic!("{e}"));
    assert!(!u.active);
    assert_eq!(u.external_id.as_deref(), Some("e-1"));
    assert_eq!(u.display_name, "Janet Doe");
}

#[test]
fn changing_user_name_moves_the_email_and_checks_uniqueness() {
    let mut d = dir();
    let id = jane(&d);
    let taken = d.users()[1].user_name.to_uppercase();
    let clash = patch(json!([{ "op": "replace", "path": "userName", "value": taken }]));
    let err = d.patch_user(&id, &clash).err();
    assert_eq!(err.map(|e| e.status.as_u16()), Some(409));
    let ok = patch(json!([{ "op": "replace", "path": "userName", "value": "jd@example.com" }]));
    let u = d.patch_user(&id, &ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        u.to_json()["emails"],
        json!([{ "value": "jd@example.com", "primary": true }])
    );
    let by_email = patch(
        json!([{ "op": "replace", "path": "emails[primary eq true].value", "value": "j@example.com" }]),
    );
    let u = d.patch_user(&id, &by_email).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u.user_name, "j@example.com");
}

#[test]
fn a_failing_later_operation_leaves_the_user_unchanged() {
    let mut d = dir();
    let id = jane(&d);
    let before = d.users()[0].clone();
    let ops = patch(json!([
        { "op": "replace", "path": "displayName", "value": "Someone Else" },
        { "op": "replace", "path": "nickName", "value": "x" },
    ]));
    assert_eq!(scim_type(d.patch_user(&id, &ops)), Some(ScimType::InvalidPath));
    assert_eq!(d.users()[0], before);
}

#[test]
fn patch_errors_carry_the_rfc_scim_types() {
    let mut d = dir();
    let id = jane(&d);
    let cases = [
        (
            json!([{ "op": "replace", "path": "id", "value": "X" }]),
            ScimType::Mutability,
        ),
        (json!([{ "op": "remove" }]), ScimType::NoTarget),
        (
            json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b" }]),
            ScimType::NoTarget,
        ),
        (
            json!([{ "op": "replace", "path": "active", "value": 3 }]),
            ScimType::InvalidValue,
        ),
        (
            json!([{ "op": "remove", "path": "userName" }]),
            ScimType::InvalidValue,
        ),
        (
            json!([{ "op": "move", "path": "active", "value": true }]),
            ScimType::InvalidSyntax,
        ),
        (
            json!([{ "op": "add", "path": "emails[", "value": 1 }]),
            ScimType::InvalidPath,
        ),
    ];
    for (ops, expected) in cases {
        assert_eq!(
            scim_type(d.patch_user(&id, &patch(ops.clone()))),
            Some(expected),
            "{ops}"
        );
    }
    let no_schema = json!({ "Operations": [] });
    assert_eq!(
        scim_type(d.patch_user(&id, &no_schema)),
        Some(ScimType::InvalidSyntax)
    );
}

#[test]
fn group_members_add_remove_and_replace() {
    let mut d = Directory::seeded(5, 1, 3);
    let ids: Vec<String> = d.users().iter().map(|u| u.id.clone()).collect();
    let gid = d.groups()[0].id.clone();
    let set = patch(json!([{ "op": "replace", "path": "members", "value": [{ "value": ids[0] }] }]));
    assert_eq!(
        d.patch_group(&gid, &set).map(|g| g.members).ok(),
        Some(vec![ids[0].clone()])
    );
    let add = patch(
        json!([{ "op": "add", "path": "members", "value": [{ "value": ids[1] }, { "value": ids[2] }, { "value": ids[0] }] }]),
    );
    assert_eq!(d.patch_group(&gid, &add).map(|g| g.members.len()).ok(), Some(3));
    let by_filter = patch(json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", ids[1]) }]));
    let by_list = patch(json!([{ "op": "Remove", "path": "members", "value": [{ "value": ids[2] }] }]));
    d.patch_group(&gid, &by_filter).unwrap_or_else(|e| panic!("{e}"));
    let g = d.patch_group(&gid, &by_list).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g.members, vec![ids[0].clone()]);
    let rename = patch(json!([{ "op": "replace", "value": { "displayName": "Renamed" } }]));
    assert_eq!(
        d.patch_group(&gid, &rename)
            .map(|g| g.display_name)
            .ok()
            .as_deref(),
        Some("Renamed")
    );
    let unknown = patch(json!([{ "op": "add", "path": "members", "value": [{ "value": "NOPE" }] }]));
    assert_eq!(
        scim_type(d.patch_group(&gid, &unknown)),
        Some(ScimType::InvalidValue)
    );
    let clear = patch(json!([{ "op": "remove", "path": "members" }]));
    assert_eq!(d.patch_group(&gid, &clear).map(|g| g.members.len()).ok(), Some(0));
}

#[test]
fn post_derives_display_name_and_email_like_the_bridge() {
    let mut d = dir();
    let body = json!({ "userName": "new@example.com", "name": { "givenName": "Tmp Delete", "familyName": "Test 2" }, "active": true });
    let u = d.create_user(&body).unwrap_or_else(|e| panic!("{e}"));
    let face = u.to_json();
    assert_eq!(face["displayName"], "Tmp Delete Test 2");
    assert_eq!(face["name"]["givenName"], "Tmp Delete");
    assert_eq!(face["preferredLanguage"], "en");
    assert_eq!(
        face["emails"],
        json!([{ "value": "new@example.com", "primary": true }])
    );
    assert_eq!(d.create_user(&body).err().map(|e| e.status.as_u16()), Some(409));
}

#[test]
fn deleting_a_user_suspends_and_deleting_a_group_removes() {
    let mut d = dir();
    let id = jane(&d);
    d.delete_user(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.user(&id).map(|u| u.active), Some(false));
    let gid = d.groups()[0].id.clone();
    d.delete_group(&gid).unwrap_or_else(|e| panic!("{e}"));
    assert!(d.group(&gid).is_none());
    assert_eq!(d.delete_group(&gid).err().map(|e| e.status.as_u16()), Some(404));
}

#[test]
fn cached_faces_produce_the_same_list_as_rendering() {
    use crate::filter::Schema;
    use crate::listing::ListParams;
    use std::collections::HashMap;
    let mut d = dir();
    let id = jane(&d);
    d.delete_user(&id).unwrap_or_else(|e| panic!("{e}"));
    let ops = patch(json!([{ "op": "replace", "path": "displayName", "value": "J D" }]));
    d.patch_user(&id, &ops).unwrap_or_else(|e| panic!("{e}"));
    d.create_user(&json!({ "userName": "late@example.com" }))
        .unwrap_or_else(|e| panic!("{e}"));
    for (start, count, filter, excluded) in [
        ("1", "5", "", ""),
        ("19", "10", "", ""),
        ("40", "3", "", ""),
        ("1", "0", "", ""),
        ("2", "4", "active eq true", "emails"),
        ("1", "50", r#"emails co "example.com""#, ""),
    ] {
        let pairs = [
            ("startIndex", start),
            ("count", count),
            ("filter", filter),
            ("excludedAttributes", excluded),
        ];
        let query: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let params =
            ListParams::from_query(&query, &Schema::USER, 100, None).unwrap_or_else(|e| panic!("{e}"));
        let fast: Value =
            serde_json::from_str(&params.respond_faces(d.user_faces())).unwrap_or_else(|e| panic!("{e}"));
        let rendered: Vec<Value> = d
            .users()
            .iter()
            .map(crate::model::User::to_json)
            .filter(|v| params.filter.as_ref().is_none_or(|f| f.matches(v)))
            .collect();
        assert_eq!(fast, params.respond(&rendered, Value::clone));
    }
}
