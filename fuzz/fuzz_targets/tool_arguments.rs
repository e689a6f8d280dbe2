//! Tool arguments -> typed input: every generated input type through `parse_arguments`, as the
//! registry does for a `tools/call`. Arguments that parse must satisfy the published limits, and
//! what the handlers build from them (the typed filter, the request URL) must stay well-formed.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use generated_server::generated::inputs::*;
use libfuzzer_sys::fuzz_target;
use runtime::__codegen::{
    CompareOp, FilterBuilder, FilterValue, JsonObject, Method, UpstreamRequest, Validate, Value,
    parse_arguments,
};

/// Every argument name of the generated tools, so most objects hit real fields.
const KEYS: &[&str] = &[
    "id",
    "member_ids",
    "user_name",
    "email",
    "active",
    "display_name",
    "external_id",
    "limit",
    "next_cursor",
    "name",
    "given_name",
    "family_name",
    "formatted",
    "middle_name",
    "honorific_prefix",
    "honorific_suffix",
    "preferred_language",
];

#[derive(Debug)]
struct Args(JsonObject);

fn value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let choice = if depth > 3 {
        u.int_in_range(0..=5)?
    } else {
        u.int_in_range(0..=7)?
    };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::String(u.arbitrary()?),
        6 => {
            let len = u.int_in_range(0..=120)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                if u.is_empty() {
                    break;
                }
                items.push(value(u, depth + 1)?);
            }
            Value::Array(items)
        }
        _ => Value::Object(object(u, depth + 1)?),
    })
}

fn object(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<JsonObject> {
    let mut map = JsonObject::new();
    let len = u.int_in_range(0..=8)?;
    for _ in 0..len {
        let key = if u.ratio(7, 8)? {
            (*u.choose(KEYS)?).to_owned()
        } else {
            u.arbitrary()?
        };
        map.insert(key, value(u, depth)?);
    }
    Ok(map)
}

impl<'a> Arbitrary<'a> for Args {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Either raw JSON text (what arrives on the wire) or a structured object.
        if u.ratio(1, 4)? {
            let text: &str = u.arbitrary()?;
            return match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(Args(map)),
                _ => Err(arbitrary::Error::IncorrectFormat),
            };
        }
        Ok(Args(object(u, 0)?))
    }
}

fn parse<T: serde::de::DeserializeOwned + Validate>(args: &JsonObject) -> Option<T> {
    parse_arguments::<T>(args.clone()).ok()
}

/// A path parameter is exactly one segment of the URL, whatever the id.
fn check_id(id: &str) {
    let base = "http://bridge.invalid/scim/v2";
    if let Ok(url) = UpstreamRequest::new(Method::GET)
        .literal("Users")
        .param(id)
        .url(base)
    {
        let parsed = url::Url::parse(&url).unwrap_or_else(|error| panic!("{url:?} does not parse: {error}"));
        let segments: Vec<&str> = parsed.path_segments().map(Iterator::collect).unwrap_or_default();
        assert_eq!(
            segments.len(),
            4,
            "id {id:?} gave {url:?} with path {:?}",
            parsed.path()
        );
        assert_eq!(
            &segments[..3],
            ["scim", "v2", "Users"],
            "id {id:?} escaped its segment: {url:?}"
        );
        assert!(
            parsed.query().is_none() && parsed.fragment().is_none(),
            "id {id:?} gave {url:?}"
        );
    }
}

fn check_members(id: &str, members: &[String]) {
    assert!(
        (1..=256).contains(&id.chars().count()),
        "id length {}",
        id.chars().count()
    );
    assert!((1..=100).contains(&members.len()), "{} member ids", members.len());
    assert!(members.iter().all(|m| !m.is_empty()));
    check_id(id);
}

fn check_limit(limit: Option<i64>) {
    if let Some(limit) = limit {
        assert!((1..=100).contains(&limit), "limit {limit} passed validation");
    }
}

fn conjuncts(filter: &bridge_sim::filter::Filter) -> usize {
    match filter {
        bridge_sim::filter::Filter::And(left, right) => conjuncts(left) + conjuncts(right),
        _ => 1,
    }
}

fuzz_target!(|args: Args| {
    let args = &args.0;
    if let Some(input) = parse::<OnePasswordGroupsAddMembersInput>(args) {
        check_members(&input.id, &input.member_ids);
    }
    if let Some(input) = parse::<OnePasswordGroupsRemoveMembersInput>(args) {
        check_members(&input.id, &input.member_ids);
    }
    if let Some(input) = parse::<OnePasswordUsersReactivateInput>(args) {
        check_id(&input.id);
    }
    if let Some(input) = parse::<OnePasswordUsersSuspendInput>(args) {
        check_id(&input.id);
    }
    let _ = parse::<CreateA1PasswordGroupInput>(args);
    let _ = parse::<CreateA1PasswordUserInput>(args);
    if let Some(input) = parse::<DeleteA1PasswordGroupByIdInput>(args) {
        check_id(&input.id);
    }
    if let Some(input) = parse::<DeleteA1PasswordUserByIdInput>(args) {
        check_id(&input.id);
    }
    let _ = parse::<Get1PasswordServiceProviderConfigInput>(args);
    if let Some(input) = parse::<GetSingle1PasswordGroupByIdInput>(args) {
        check_id(&input.id);
    }
    if let Some(input) = parse::<GetSingle1PasswordUserByIdInput>(args) {
        check_id(&input.id);
    }
    if let Some(input) = parse::<ListAll1PasswordGroupsInput>(args) {
        check_limit(input.limit);
    }
    if let Some(input) = parse::<ListAll1PasswordResourceTypesInput>(args) {
        check_limit(input.limit);
    }
    if let Some(input) = parse::<ListAll1PasswordSchemasInput>(args) {
        check_limit(input.limit);
    }
    if let Some(input) = parse::<ListAll1PasswordUsersInput>(args) {
        check_limit(input.limit);
        // The handler's filter: whatever the strings, the bridge's parser reads back exactly the
        // clauses that were asked for.
        let mut filter = FilterBuilder::new();
        let mut expected = 0;
        let clauses = [
            (
                "userName",
                CompareOp::Eq,
                input.user_name.map(FilterValue::String),
            ),
            (
                "emails.value",
                CompareOp::Co,
                input.email.map(FilterValue::String),
            ),
            ("active", CompareOp::Eq, input.active.map(FilterValue::Bool)),
            (
                "displayName",
                CompareOp::Eq,
                input.display_name.map(FilterValue::String),
            ),
            (
                "externalId",
                CompareOp::Eq,
                input.external_id.map(FilterValue::String),
            ),
        ];
        for (path, op, value) in clauses {
            if let Some(value) = value {
                filter
                    .push(path, op, value)
                    .expect("the generated clauses are valid");
                expected += 1;
            }
        }
        if let Some(text) = filter.build() {
            let parsed = bridge_sim::filter::parse(&text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
            assert_eq!(conjuncts(&parsed), expected, "{text:?} parsed as {parsed:?}");
        }
    }
    let _ = parse::<UpdateA1PasswordGroupByIdInput>(args);
    let _ = parse::<UpdateA1PasswordUserByIdInput>(args);
});
