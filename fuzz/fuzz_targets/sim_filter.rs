//! The simulated bridge's filter parser: any filter text or PATCH path. Parsing never panics, a
//! parsed filter prints as text that parses back to the same filter, and evaluating it against a
//! user and a group never panics.
#![no_main]

use std::sync::OnceLock;

use bridge_sim::filter::{parse, parse_patch_path};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn resources() -> &'static [Value; 2] {
    static RESOURCES: OnceLock<[Value; 2]> = OnceLock::new();
    RESOURCES.get_or_init(|| {
        [
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "userName": "jane.doe@example.com",
                "name": {"givenName": "Jane", "familyName": "Doe"},
                "displayName": "Jane Doe",
                "active": true,
                "emails": [{"value": "jane.doe@example.com", "type": "work", "primary": true}],
                "groups": [{"value": "grp", "display": "Engineering"}],
                "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": "W/\"1\""},
                "count": 3,
                "ratio": 0.5,
                "nothing": null
            }),
            json!({
                "id": "abcdefghijklmnopqrstuvwxyz",
                "displayName": "Engineering",
                "members": [{"value": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "display": "Jane Doe"}]
            }),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = parse(text) {
        let printed = filter.to_string();
        match parse(&printed) {
            Ok(again) => assert_eq!(again, filter, "{text:?} printed as {printed:?}"),
            Err(error) => panic!("{text:?} printed as {printed:?}, which does not parse: {error}"),
        }
        for resource in resources() {
            let _ = filter.matches(resource);
        }
    }
    let _ = parse_patch_path(text);
});
