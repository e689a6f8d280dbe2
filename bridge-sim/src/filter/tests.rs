//! Parser and evaluator tests, including property tests.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn user(user_name: &str) -> Value {
    json!({
        "id": "WHIVOG5WFFDGJODAWIGRVZZU5A",
        "userName": user_name,
        "name": { "givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe" },
        "displayName": "Jane Doe",
        "active": true,
        "emails": [{ "value": user_name, "primary": true }],
        "meta": { "resourceType": "User" },
    })
}

fn matches(filter: &str, resource: &Value) -> bool {
    let f = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    f.matches(resource)
}

#[test]
fn parses_attribute_expressions_case_insensitively() {
    let f = parse(r#"USERNAME EQ "a@b.c""#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        f,
        Filter::Compare {
            path: AttrPath::simple("USERNAME"),
            op: CompareOp::Eq,
            value: CompValue::String("a@b.c".into()),
        }
    );
    assert!(matches(
        r#"username Eq "JANE@example.com""#,
        &user("jane@example.com")
    ));
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let f = parse("a pr or b pr and not c pr").unwrap_or_else(|e| panic!("{e}"));
    let p = |n: &str| Box::new(Filter::Present(AttrPath::simple(n)));
    assert_eq!(
        f,
        Filter::Or(
            p("a"),
            Box::new(Filter::And(p("b"), Box::new(Filter::Not(p("c")))))
        )
    );
    let grouped = parse("(a pr or b pr) and c pr").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(grouped, Filter::And(Box::new(Filter::Or(p("a"), p("b"))), p("c")));
}

#[test]
fn parses_urns_sub_attributes_and_literals() {
    let f = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName sw "D""#)
        .unwrap_or_else(|e| panic!("{e}"));
    let Filter::Compare { path, .. } = &f else {
        panic!("{f:?}")
    };
    assert_eq!(
        path.urn.as_deref(),
        Some("urn:ietf:params:scim:schemas:core:2.0:User")
    );
    assert_eq!(path.name, "name");
    assert_eq!(path.sub.as_deref(), Some("familyName"));
    assert!(f.matches(&user("x")));
    assert!(matches("active eq true", &user("x")));
    assert!(matches("active eq True and not (active eq false)", &user("x")));
    assert!(matches("externalId eq null", &user("x")));
    assert!(!matches("x eq 1.5e3", &json!({"x": 1499})));
    assert!(matches("x ge 1.5e3", &json!({"x": 1500})));
}

#[test]
fn decodes_json_string_escapes() {
    let f =
        parse(r#"displayName eq "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap_or_else(|e| panic!("{e}"));
    let Filter::Compare { value, .. } = f else {
        panic!()
    };
    assert_eq!(value, CompValue::String("a\"b\\c/d\u{8}\u{c}\n\r\té😀".into()));
}

#[test]
fn value_paths_and_multi_valued_attributes() {
    let u = user("jane.doe@example.com");
    assert!(matches(r#"emails[value co "doe@"]"#, &u));
    assert!(matches(r#"emails co "DOE@""#, &u));
    assert!(matches(r#"emails[primary eq true and value ew ".com"]"#, &u));
    assert!(!matches(r#"emails[value co "zzz"]"#, &u));
    assert!(matches(r#"emails[primary eq true].value sw "jane""#, &u));
    let g = json!({"members": [{"value": "ABC"}, {"value": "DEF"}]});
    assert!(matches(r#"members[value eq "DEF"]"#, &g));
    // Member values are ids: case-exact.
    assert!(!matches(r#"members[value eq "def"]"#, &g));
    assert!(!matches(r#"id eq "whivog5wffdgjodawigrvzzu5a""#, &u));
}

#[test]
fn present_and_not_equal_follow_the_rfc() {
    let u = user("x@y.z");
    assert!(matches("userName pr", &u));
    assert!(!matches("externalId pr", &u));
    assert!(matches(r#"externalId ne "a""#, &u));
    assert!(matches(r#"emails ne "other""#, &u));
    assert!(!matches(r#"emails ne "X@Y.Z""#, &u));
    assert!(!matches(r#"title pr"#, &json!({"title": ""})));
}

#[test]
fn rejects_malformed_filters() {
    for bad in [
        "",
        "userName",
        "userName eq",
        r#"userName xx "a""#,
        r#"userName eq "unterminated"#,
        r#"userName eq "bad \q escape""#,
        r#"(userName eq "a""#,
        r#"userName eq "a")"#,
        r#"userName eq "a" and"#,
        r#"userName eq unquoted"#,
        r#"emails[value eq "a""#,
        r#"emails[type eq "a"][value eq "b"]"#,
        r#"1abc eq "a""#,
        r#"a.b.c eq "a""#,
        r#"notaurn:x eq "a""#,
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should not parse");
    }
}

/// Found by `cargo fuzz` (target `sim_filter`): serde_json's default float parsing is not
/// correctly rounded, so `1.6666000666369602802` printed as `1.6666000666369603`, which parsed
/// back to a different number (`...605`).
#[test]
fn float_literals_are_correctly_rounded_and_round_trip() {
    for text in [
        "eRst ge 1.6666000666369602802",
        "x eq 1.6666000666369603",
        "x eq 2.2250738585072011e-308",
        "x lt 9007199254740993.0",
        "x gt -0.1",
    ] {
        let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let printed = filter.to_string();
        assert_eq!(
            parse(&printed),
            Ok(filter.clone()),
            "{text:?} printed as {printed:?}"
        );
        let Filter::Compare {
            value: CompValue::Number(number),
            ..
        } = &filter
        else {
            panic!("{text:?} parsed as {filter:?}");
        };
        let literal = text.rsplit(' ').next().unwrap_or_default();
        assert_eq!(number.as_f64(), literal.parse::<f64>().ok(), "{text:?}");
    }
}

#[test]
fn schema_rejects_unknown_attributes_and_bad_operators() {
    let ok = |f: &str| Schema::USER.validate(&parse(f).unwrap_or_else(|e| panic!("{e}")));
    assert!(ok(r#"userName eq "a""#).is_ok());
    assert!(ok(r#"emails[type eq "work"].value eq "a""#).is_ok());
    assert!(ok(r#"meta.resourceType eq "User""#).is_ok());
    assert!(ok(r#"nickName eq "a""#).is_err());
    assert!(ok(r#"name.middleName eq "a""#).is_err());
    assert!(ok(r#"name eq "a""#).is_err());
    assert!(ok(r#"active gt true"#).is_err());
    assert!(ok(r#"active co "t""#).is_err());
    assert!(ok(r#"userName co 5"#).is_err());
    assert!(ok(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "a""#).is_err());
    assert!(
        Schema::GROUP
            .validate(&parse(r#"members[value eq "a"]"#).unwrap_or_else(|e| panic!("{e}")))
            .is_ok()
    );
    assert!(
        Schema::GROUP
            .validate(&parse(r#"userName eq "a""#).unwrap_or_else(|e| panic!("{e}")))
            .is_err()
    );
}

fn arb_path() -> impl Strategy<Value = AttrPath> {
    let name = "[a-zA-Z][a-zA-Z0-9_-]{0,8}";
    (name, proptest::option::of(name)).prop_map(|(name, sub)| AttrPath { urn: None, name, sub })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<String>().prop_map(CompValue::String),
    ]
}

fn arb_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        (arb_path(), arb_op(), arb_value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        arb_path().prop_map(Filter::Present),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ]
    })
}

proptest! {
    /// Any string, JSON-quoted, selects exactly the user whose userName equals it
    /// case-insensitively.
    #[test]
    fn user_name_eq_selects_exactly_that_user(s in any::<String>(), other in any::<String>()) {
        let text = format!("userName eq {}", Value::from(s.as_str()));
        let f = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(f.matches(&user(&s)));
        prop_assert!(f.matches(&user(&s.to_uppercase())) || s.to_uppercase().to_lowercase() != s.to_lowercase());
        prop_assert_eq!(f.matches(&user(&other)), other.to_lowercase() == s.to_lowercase());
    }

    /// Rendering and re-parsing gives back the same tree (so escapes and precedence survive).
    #[test]
    fn display_round_trips(f in arb_filter()) {
        let text = f.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, f);
    }

    /// The parser never panics, whatever the input.
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = parse(&s);
        let _ = parse_patch_path(&s);
    }

    /// `not` and De Morgan agree with the evaluator.
    #[test]
    fn de_morgan_holds(a in any::<bool>(), b in any::<bool>()) {
        let r = json!({"a": a, "b": b});
        let lhs = parse("not (a eq true and b eq true)").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let rhs = parse("not a eq true or not b eq true").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(lhs.matches(&r), rhs.matches(&r));
        prop_assert_eq!(lhs.matches(&r), !(a && b));
    }
}
