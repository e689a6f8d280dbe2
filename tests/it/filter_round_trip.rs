//! Any filter the runtime's builder produces parses in the simulated bridge and selects exactly
//! what it should: the builder's escaping and the bridge's grammar agree.

use bridge_sim::filter::{Schema, parse};
use proptest::prelude::*;
use runtime::scim_filter::{CompareOp, FilterBuilder, FilterValue};
use serde_json::json;

fn user(user_name: &str, active: bool) -> serde_json::Value {
    json!({
        "id": "U1",
        "userName": user_name,
        "displayName": "Someone",
        "active": active,
        "emails": [{ "value": user_name, "primary": true }],
    })
}

proptest! {
    #[test]
    fn builder_output_parses_and_selects_literally(name in any::<String>(), other in any::<String>(), active: bool) {
        let mut builder = FilterBuilder::new();
        builder.push("userName", CompareOp::Eq, FilterValue::String(name.clone())).expect("valid path");
        builder.push("active", CompareOp::Eq, FilterValue::Bool(active)).expect("valid path");
        let text = builder.build().expect("two clauses");
        let filter = parse(&text).unwrap_or_else(|error| panic!("`{text}` did not parse: {error:?}"));
        Schema::USER.validate(&filter).expect("known attributes");
        prop_assert!(filter.matches(&user(&name, active)));
        prop_assert!(!filter.matches(&user(&name, !active)));
        if other.to_lowercase() != name.to_lowercase() {
            prop_assert!(!filter.matches(&user(&other, active)), "`{}` matched `{}`", text, other);
        }
    }

    #[test]
    fn contains_filters_match_substrings_only(needle in "[ -~]{1,12}", hay_prefix in "[a-z]{0,5}") {
        let mut builder = FilterBuilder::new();
        builder.push("emails.value", CompareOp::Co, FilterValue::String(needle.clone())).expect("valid path");
        let text = builder.build().expect("one clause");
        let filter = parse(&text).unwrap_or_else(|error| panic!("`{text}` did not parse: {error:?}"));
        let containing = format!("{hay_prefix}{needle}@example.com");
        prop_assert!(filter.matches(&user(&containing, true)));
    }
}
