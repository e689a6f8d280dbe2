//! Rate-limit header parsing: any upstream headers, status and clock. Normalizing never panics and
//! what it reports is consistent: remaining never above limit, and a retry hint never later than
//! the reset it comes with.
#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-reset-after",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "retry-after",
    "date",
];

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Known(u8),
    Other(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    status: u16,
    /// Seconds since the epoch of the local clock.
    now: u32,
    headers: Vec<(Name<'a>, &'a [u8])>,
}

fuzz_target!(|input: Input<'_>| {
    let mut headers = HeaderMap::new();
    for (name, value) in input.headers {
        let name = match name {
            Name::Known(i) => HeaderName::from_static(NAMES[usize::from(i) % NAMES.len()]),
            Name::Other(bytes) => match HeaderName::from_bytes(bytes) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(input.now));
    let Some(info) = runtime::ratelimit::normalize(input.status, &headers, now) else {
        return;
    };
    if let (Some(limit), Some(remaining)) = (info.limit, info.remaining) {
        assert!(remaining <= limit, "{info:?} from {headers:?}");
    }
    if let Some(retry_after) = info.retry_after_seconds {
        let reset = info
            .reset
            .unwrap_or_else(|| panic!("retry hint without reset: {info:?} from {headers:?}"));
        assert!(reset >= retry_after, "{info:?} from {headers:?}");
    }
    let _ = info.response_headers();
    let _ = serde_json::to_string(&info).expect("the info serializes");
});
