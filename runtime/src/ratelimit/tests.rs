#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;
use std::time::{Duration, UNIX_EPOCH};

/// The upstream's clock: 2024-05-01T12:00:00Z.
const DATE: &str = "Wed, 01 May 2024 12:00:00 GMT";
const DATE_SECS: u64 = 1_714_564_800;

/// A local clock an hour off the upstream's, so tests show which clock was used.
fn skewed_local() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(DATE_SECS + 3_600)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn norm(status: u16, pairs: &[(&str, &str)]) -> RateLimitInfo {
    normalize(status, &headers(pairs), skewed_local()).unwrap()
}

fn info(source: RateLimitSource) -> RateLimitInfo {
    empty(source)
}

#[test]
fn ietf_current_picks_the_most_restrictive_policy() {
    let got = norm(
        200,
        &[
            ("RateLimit", r#""burst";r=40;t=5, "daily";r=7;t=4000"#),
            (
                "RateLimit-Policy",
                r#""burst";q=100;w=60, "daily";q=1000;w=86400"#,
            ),
        ],
    );
    assert_eq!(
        got,
        RateLimitInfo {
            policy: Some("daily".into()),
            limit: Some(1000),
            remaining: Some(7),
            reset: Some(4000),
            window_seconds: Some(86400),
            ..info(RateLimitSource::Ietf)
        }
    );
}

#[test]
fn ietf_current_breaks_ties_by_the_longest_reset() {
    let got = norm(200, &[("RateLimit", r#""a";r=0;t=5, "b";r=0;t=50, "c";r=0"#)]);
    assert_eq!(got.policy.as_deref(), Some("b"));
    assert_eq!(got.reset, Some(50));
    assert_eq!(got.limit, None, "no policy field");
}

#[test]
fn ietf_current_fields_may_span_several_lines() {
    let got = norm(
        200,
        &[
            ("RateLimit", r#""burst";r=40;t=5"#),
            ("ratelimit", r#""daily";r=7;t=4000"#),
            ("RateLimit-Policy", r#""burst";q=100;w=60"#),
            ("RateLimit-Policy", r#""daily";q=1000;w=86400"#),
        ],
    );
    assert_eq!((got.policy.as_deref(), got.limit), (Some("daily"), Some(1000)));
}

#[test]
fn ietf_current_labels_a_non_request_quota_unit() {
    let got = norm(
        200,
        &[
            ("RateLimit", r#""bytes";r=1000;t=1"#),
            ("RateLimit-Policy", r#""bytes";q=5000;qu="content-bytes";w=10"#),
        ],
    );
    assert_eq!(got.quota_unit.as_deref(), Some("content-bytes"));
    let requests = norm(
        200,
        &[
            ("RateLimit", r#""p";r=1"#),
            ("RateLimit-Policy", r#""p";q=5;qu="requests""#),
        ],
    );
    assert_eq!(requests.quota_unit, None);
}

#[test]
fn malformed_policy_field_keeps_the_ratelimit_values() {
    let got = norm(
        200,
        &[("RateLimit", r#""p";r=3;t=9"#), ("RateLimit-Policy", "\"p\";q=")],
    );
    assert_eq!((got.remaining, got.reset, got.limit), (Some(3), Some(9), None));
}

#[test]
fn draft_07_dictionary_is_read() {
    let got = norm(
        200,
        &[
            ("RateLimit", "limit=100, remaining=50, reset=5"),
            ("RateLimit-Policy", "100;w=10"),
        ],
    );
    assert_eq!(
        got,
        RateLimitInfo {
            limit: Some(100),
            remaining: Some(50),
            reset: Some(5),
            window_seconds: Some(10),
            ..info(RateLimitSource::IetfDraft07)
        }
    );
}

#[test]
fn legacy_reset_is_delta_seconds() {
    let got = norm(
        200,
        &[
            ("RateLimit-Limit", "100"),
            ("RateLimit-Remaining", "99"),
            ("RateLimit-Reset", "50"),
            ("RateLimit-Policy", "100;w=60, 1000;w=3600"),
        ],
    );
    assert_eq!(
        got,
        RateLimitInfo {
            limit: Some(100),
            remaining: Some(99),
            reset: Some(50),
            window_seconds: Some(60),
            ..info(RateLimitSource::IetfLegacy)
        }
    );
}

#[test]
fn legacy_reset_as_gitlab_epoch_is_relative_to_date() {
    let reset = (DATE_SECS + 42).to_string();
    let got = norm(
        200,
        &[
            ("Date", DATE),
            ("RateLimit-Limit", "600"),
            ("RateLimit-Remaining", "599"),
            ("RateLimit-Reset", &reset),
            ("RateLimit-ResetTime", "Wed, 01 May 2024 12:00:42 GMT"),
        ],
    );
    assert_eq!((got.source, got.reset), (RateLimitSource::IetfLegacy, Some(42)));
}

#[test]
fn x_ratelimit_epoch_seconds_are_relative_to_the_date_header() {
    let reset = (DATE_SECS + 120).to_string();
    let got = norm(
        200,
        &[
            ("date", DATE),
            ("X-RateLimit-Limit", "5000"),
            ("X-RateLimit-Remaining", "4999"),
            ("X-RateLimit-Reset", &reset),
            ("X-RateLimit-Used", "1"),
        ],
    );
    assert_eq!(
        got,
        RateLimitInfo {
            limit: Some(5000),
            remaining: Some(4999),
            reset: Some(120),
            ..info(RateLimitSource::XRateLimit)
        }
    );
}

#[test]
fn local_clock_is_used_without_a_date_header() {
    let reset = (DATE_SECS + 3_600 + 15).to_string();
    let got = norm(200, &[("X-RateLimit-Reset", &reset), ("Date", "yesterday")]);
    assert_eq!(got.reset, Some(15));
}

#[test]
fn x_rate_limit_epoch_milliseconds_are_converted() {
    let reset = (DATE_SECS * 1000 + 30_000).to_string();
    let got = norm(
        200,
        &[
            ("Date", DATE),
            ("X-Rate-Limit-Limit", "900"),
            ("X-Rate-Limit-Remaining", "10"),
            ("X-Rate-Limit-Reset", &reset),
        ],
    );
    assert_eq!(
        (got.source, got.limit, got.remaining, got.reset),
        (RateLimitSource::XRateLimit, Some(900), Some(10), Some(30))
    );
}

#[test]
fn x_ratelimit_reset_after_is_preferred() {
    let got = norm(
        200,
        &[
            ("Date", DATE),
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", &format!("{}.250", DATE_SECS + 100)),
            ("X-RateLimit-Reset-After", "1.250"),
        ],
    );
    assert_eq!(got.reset, Some(2));
    let alone = norm(200, &[("X-RateLimit-Reset-After", "3")]);
    assert_eq!(
        (alone.source, alone.reset),
        (RateLimitSource::XRateLimit, Some(3))
    );
}

#[test]
fn openai_durations_prefer_the_requests_family() {
    let got = norm(
        200,
        &[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-tokens", "6ms"),
        ],
    );
    assert_eq!(
        got,
        RateLimitInfo {
            policy: Some("requests".into()),
            limit: Some(60),
            remaining: Some(59),
            reset: Some(360),
            ..info(RateLimitSource::Vendor)
        }
    );
    let tokens = norm(200, &[("x-ratelimit-reset-tokens", "1.5s")]);
    assert_eq!(
        (tokens.quota_unit.as_deref(), tokens.reset),
        (Some("tokens"), Some(2))
    );
}

#[test]
fn anthropic_rfc3339_reset_is_relative_to_date() {
    let got = norm(
        200,
        &[
            ("Date", DATE),
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:05Z"),
        ],
    );
    assert_eq!(
        (got.source, got.limit, got.remaining, got.reset),
        (RateLimitSource::Vendor, Some(50), Some(49), Some(5))
    );
}

#[test]
fn retry_after_seconds_alone() {
    let got = norm(429, &[("Retry-After", "120")]);
    assert_eq!(
        got,
        RateLimitInfo {
            reset: Some(120),
            retry_after_seconds: Some(120),
            ..info(RateLimitSource::RetryAfter)
        }
    );
}

#[test]
fn retry_after_http_date_is_relative_to_the_date_header() {
    let got = norm(
        503,
        &[("Date", DATE), ("Retry-After", "Wed, 01 May 2024 12:01:30 GMT")],
    );
    assert_eq!(got.retry_after_seconds, Some(90));
}

#[test]
fn retry_after_wins_over_a_smaller_reset() {
    let got = norm(429, &[("RateLimit", r#""p";r=0;t=10"#), ("Retry-After", "30")]);
    assert_eq!((got.reset, got.retry_after_seconds), (Some(30), Some(30)));
    let larger_reset = norm(429, &[("RateLimit", r#""p";r=0;t=60"#), ("Retry-After", "30")]);
    assert_eq!(
        (larger_reset.reset, larger_reset.retry_after_seconds),
        (Some(60), Some(30))
    );
}

#[test]
fn exhausted_429_without_retry_after_uses_the_reset() {
    let pairs = [
        ("RateLimit-Limit", "10"),
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Reset", "17"),
    ];
    assert_eq!(norm(429, &pairs).retry_after_seconds, Some(17));
    assert_eq!(norm(503, &pairs).retry_after_seconds, Some(17));
    assert_eq!(norm(200, &pairs).retry_after_seconds, None);
    let not_exhausted = [("RateLimit-Remaining", "1"), ("RateLimit-Reset", "17")];
    assert_eq!(norm(429, &not_exhausted).retry_after_seconds, None);
}

#[test]
fn negative_limit_is_unknown() {
    let got = norm(
        200,
        &[
            ("x-ratelimit-limit-requests", "-1"),
            ("x-ratelimit-remaining-requests", "-1"),
            ("x-ratelimit-reset-requests", "1s"),
        ],
    );
    assert_eq!((got.limit, got.remaining, got.reset), (None, None, Some(1)));
    let nothing_known = headers(&[("X-RateLimit-Limit", "-1")]);
    assert_eq!(normalize(200, &nothing_known, skewed_local()), None);
}

#[test]
fn remaining_above_limit_is_clamped() {
    let got = norm(
        200,
        &[("X-RateLimit-Limit", "10"), ("X-RateLimit-Remaining", "25")],
    );
    assert_eq!((got.limit, got.remaining), (Some(10), Some(10)));
}

#[test]
fn malformed_ietf_field_falls_through_to_the_next_family() {
    for bad in [
        r#""p";r=-1"#,
        r#""p";r=1.5"#,
        r#""p";t=3"#,
        r#"("p");r=1"#,
        "\"p\";r=1,",
    ] {
        let got = norm(
            200,
            &[
                ("RateLimit", bad),
                ("RateLimit-Limit", "100"),
                ("RateLimit-Remaining", "42"),
                ("RateLimit-Reset", "7"),
            ],
        );
        assert_eq!(
            (got.source, got.remaining),
            (RateLimitSource::IetfLegacy, Some(42)),
            "{bad:?}"
        );
    }
}

#[test]
fn families_are_not_mixed() {
    let got = norm(
        200,
        &[
            ("RateLimit-Remaining", "5"),
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Reset", "9"),
        ],
    );
    assert_eq!(
        (got.source, got.limit, got.remaining, got.reset),
        (RateLimitSource::IetfLegacy, None, Some(5), None)
    );
}

#[test]
fn no_rate_limit_headers_gives_none() {
    assert_eq!(normalize(200, &HeaderMap::new(), skewed_local()), None);
    let unrelated = headers(&[("Date", DATE), ("Content-Type", "application/scim+json")]);
    assert_eq!(normalize(429, &unrelated, skewed_local()), None);
    let invalid_retry = headers(&[("Retry-After", "tomorrow")]);
    assert_eq!(normalize(429, &invalid_retry, skewed_local()), None);
}

#[test]
fn implausible_reset_is_dropped() {
    let got = norm(
        200,
        &[
            ("Date", DATE),
            ("X-RateLimit-Remaining", "3"),
            ("X-RateLimit-Reset", "4102444800"),
        ],
    );
    assert_eq!((got.remaining, got.reset), (Some(3), None));
    let current = norm(200, &[("RateLimit", r#""p";r=1;t=99999999"#)]);
    assert_eq!(current.reset, None);
}

#[test]
fn deltas_round_up() {
    let local = UNIX_EPOCH + Duration::from_millis(DATE_SECS * 1000 - 10_500);
    let reset = DATE_SECS.to_string();
    let got = normalize(200, &headers(&[("X-RateLimit-Reset", &reset)]), local).unwrap();
    assert_eq!(got.reset, Some(11));
    let past = normalize(200, &headers(&[("X-RateLimit-Reset", "1000000000")]), local).unwrap();
    assert_eq!(past.reset, Some(0), "a reset in the past clamps to zero");
}

#[test]
fn response_headers_include_only_known_values() {
    let full = norm(
        200,
        &[
            ("RateLimit-Limit", "100"),
            ("RateLimit-Remaining", "99"),
            ("RateLimit-Reset", "50"),
        ],
    );
    let rendered: Vec<_> = full
        .response_headers()
        .into_iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
        .collect();
    assert_eq!(
        rendered,
        [
            "ratelimit-limit: 100",
            "ratelimit-remaining: 99",
            "ratelimit-reset: 50"
        ]
    );
    let partial = norm(200, &[("Retry-After", "5")]);
    let names: Vec<_> = partial
        .response_headers()
        .into_iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(names, ["ratelimit-reset"]);
}

#[test]
fn serializes_in_camel_case_with_kebab_sources() {
    let got = norm(
        429,
        &[
            ("RateLimit", r#""daily";r=0;t=30"#),
            ("RateLimit-Policy", r#""daily";q=1000;w=86400"#),
        ],
    );
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        serde_json::json!({
            "policy": "daily",
            "limit": 1000,
            "remaining": 0,
            "reset": 30,
            "windowSeconds": 86400,
            "retryAfterSeconds": 30,
            "source": "ietf"
        })
    );
    let sources = [
        (RateLimitSource::IetfDraft07, "ietf-draft07"),
        (RateLimitSource::IetfLegacy, "ietf-legacy"),
        (RateLimitSource::XRateLimit, "x-ratelimit"),
        (RateLimitSource::Vendor, "vendor"),
        (RateLimitSource::RetryAfter, "retry-after"),
    ];
    for (source, name) in sources {
        assert_eq!(serde_json::to_value(source).unwrap(), serde_json::json!(name));
    }
}

#[test]
fn non_ascii_field_lines_are_ignored() {
    let mut map = headers(&[("RateLimit-Remaining", "4")]);
    map.append("ratelimit-limit", HeaderValue::from_bytes(b"10\xff").unwrap());
    let got = normalize(200, &map, skewed_local()).unwrap();
    assert_eq!((got.limit, got.remaining), (None, Some(4)));
}

const NAMES: &[&str] = &[
    "date",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-reset-after",
    "x-rate-limit-reset",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "anthropic-ratelimit-requests-reset",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        "[0-9.:;=,\" a-z()?*%@-]{0,48}".prop_map(String::into_bytes),
        "[0-9]{1,25}(\\.[0-9]{1,12})?".prop_map(String::into_bytes),
        "([0-9]{1,20}(\\.[0-9]{0,3})?(h|m|s|ms|us|µs|ns)){1,4}".prop_map(String::into_bytes),
        "\"[a-z]{1,4}\";r=-?[0-9]{1,17};t=-?[0-9]{1,17}(;q=[0-9]{1,16})?".prop_map(String::into_bytes),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn normalize_never_panics(
        status in 100u16..600,
        local_secs in any::<u32>(),
        pairs in proptest::collection::vec((0..NAMES.len(), header_value()), 0..8),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(NAMES[name], value);
            }
        }
        let local = UNIX_EPOCH + Duration::from_secs(u64::from(local_secs));
        if let Some(info) = normalize(status, &map, local) {
            if let (Some(limit), Some(remaining)) = (info.limit, info.remaining) {
                prop_assert!(remaining <= limit);
            }
            prop_assert!(info.reset.is_none() || info.retry_after_seconds.is_some()
                || info.reset <= Some(time::MAX_PLAUSIBLE_SECONDS));
            let _ = info.response_headers();
        }
    }
}

#[test]
fn the_early_exit_admits_every_field_a_family_reads() {
    for name in NAMES.iter().filter(|name| **name != "date") {
        assert!(super::is_rate_limit_field(name), "{name} would be skipped");
    }
    for name in ["date", "content-type", "x-request-id", "rate", "limit"] {
        assert!(
            !super::is_rate_limit_field(name),
            "{name} is not a rate-limit field"
        );
    }
}
