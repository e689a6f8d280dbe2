//! Upstream rate-limit headers normalized to one model.
//!
//! Upstreams announce limits in many dialects: the current IETF draft (`RateLimit` +
//! `RateLimit-Policy` as Structured Field lists), draft-07's dictionary, the older
//! `RateLimit-Limit/-Remaining/-Reset`, `X-RateLimit-*`, `X-Rate-Limit-*`, vendor names, and
//! `Retry-After`. [`normalize`] turns one response's headers into a single [`RateLimitInfo`]
//! following `shared/reference/ratelimit-headers.md` §4.2:
//!
//! - exactly one family is read (first match wins), so remaining and reset never come from
//!   different dialects;
//! - absolute times are converted to delta seconds against the upstream's own `Date` header when it
//!   parses (removing clock skew), else the local clock, rounding up;
//! - `Retry-After` wins over a shorter reset, and a 429/503 with nothing left gets a retry hint.
//!
//! Malformed values never fail the request: a field that does not parse is ignored. Structured
//! fields (RFC 9651) are parsed by `sfv`, which fails a whole field on any deviation, as the
//! rate-limit draft asks of clients.

mod time;

use http::{HeaderMap, HeaderName, HeaderValue};
use sfv::{BareItem, ListEntry, Parameters};
use std::time::SystemTime;

use time::{Now, interpret_reset, parse_non_negative, parse_retry_after, plausible};

/// The normalized rate-limit state of one upstream response. All counts are in the upstream's
/// quota unit (requests unless `quota_unit` says otherwise).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitInfo {
    /// The policy name the numbers belong to, when the upstream names one (IETF current form), or
    /// the vendor family read (`requests` / `tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The quota unit when it is not requests (IETF `qu`, e.g. `content-bytes`; OpenAI `tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_unit: Option<String>,
    /// Quota units allowed per window.
    pub limit: Option<u64>,
    /// Quota units left in the current window; never above `limit`.
    pub remaining: Option<u64>,
    /// Delta seconds until more quota is available.
    pub reset: Option<u64>,
    /// Length of the window, in seconds.
    pub window_seconds: Option<u64>,
    /// Seconds the upstream asked us to wait before retrying.
    pub retry_after_seconds: Option<u64>,
    /// Which header family the values came from.
    pub source: RateLimitSource,
}

/// The header family a [`RateLimitInfo`] was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateLimitSource {
    /// `RateLimit` / `RateLimit-Policy` as SF lists (draft -08 and later).
    Ietf,
    /// `RateLimit` as an SF dictionary (draft -07); serialized as `ietf-draft07`.
    IetfDraft07,
    /// `RateLimit-Limit` / `-Remaining` / `-Reset` (drafts -00 to -06, GitLab).
    IetfLegacy,
    /// `X-RateLimit-*` or `X-Rate-Limit-*`; serialized as `x-ratelimit` as in the reference.
    #[serde(rename = "x-ratelimit")]
    XRateLimit,
    /// Known vendor names (OpenAI `x-ratelimit-*-requests`, Anthropic `anthropic-ratelimit-*`).
    Vendor,
    /// Only `Retry-After` was present.
    RetryAfter,
}

impl RateLimitInfo {
    /// The three legacy-form response headers we emit over HTTP (`RateLimit-Limit`,
    /// `RateLimit-Remaining`, `RateLimit-Reset`, reset in delta seconds), only those known. The
    /// legacy form is what most HTTP clients and proxies understand today.
    pub fn response_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        [
            ("ratelimit-limit", self.limit),
            ("ratelimit-remaining", self.remaining),
            ("ratelimit-reset", self.reset),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (HeaderName::from_static(name), HeaderValue::from(v))))
        .collect()
    }
}

/// Normalizes the rate-limit headers of one upstream response.
///
/// `local_now` is the fallback reference clock when the response has no parseable `Date`.
/// Returns `None` when the response carries no usable rate-limit information at all (no known
/// header, or only values that do not parse).
pub fn normalize(status: u16, headers: &HeaderMap, local_now: SystemTime) -> Option<RateLimitInfo> {
    // Most responses carry none of these fields. One pass over the names present is far cheaper
    // than the twenty-odd lookups by name below, each of which parses and hashes its name.
    if !headers.keys().any(|name| is_rate_limit_field(name.as_str())) {
        return None;
    }
    let now = field(headers, "date")
        .and_then(|d| httpdate::parse_http_date(&d).ok())
        .map_or_else(|| Now::from_system_time(local_now), Now::from_system_time);

    let mut info = ietf_current(headers)
        .or_else(|| ietf_draft07(headers))
        .or_else(|| ietf_legacy(headers, now))
        .or_else(|| x_ratelimit(headers, now))
        .or_else(|| vendor(headers, now))
        .unwrap_or_else(|| empty(RateLimitSource::RetryAfter));

    if let (Some(limit), Some(remaining)) = (info.limit, info.remaining) {
        info.remaining = Some(remaining.min(limit));
    }

    match field(headers, "retry-after").and_then(|v| parse_retry_after(&v, now)) {
        Some(retry_after) => {
            info.retry_after_seconds = Some(retry_after);
            // The draft says Retry-After must not point earlier than `t`; if it does, it wins.
            if info.reset.is_none_or(|reset| reset < retry_after) {
                info.reset = Some(retry_after);
            }
        }
        None if matches!(status, 429 | 503) && info.remaining == Some(0) => {
            info.retry_after_seconds = info.reset;
        }
        None => {}
    }

    let known = [
        info.limit,
        info.remaining,
        info.reset,
        info.window_seconds,
        info.retry_after_seconds,
    ];
    known.iter().any(Option::is_some).then_some(info)
}

/// Whether `name` (lower case, as `http` stores names) is a field some family below reads. Every
/// result of [`normalize`] needs at least one of them, so a response without any has nothing to
/// normalize.
fn is_rate_limit_field(name: &str) -> bool {
    const PREFIXES: [&str; 4] = ["ratelimit", "x-ratelimit", "x-rate-limit", "anthropic-ratelimit"];
    name == "retry-after" || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

fn empty(source: RateLimitSource) -> RateLimitInfo {
    RateLimitInfo {
        policy: None,
        quota_unit: None,
        limit: None,
        remaining: None,
        reset: None,
        window_seconds: None,
        retry_after_seconds: None,
        source,
    }
}

/// The field's value with repeated lines combined by `", "` and OWS trimmed (rule 1). A line that
/// is not visible ASCII makes the whole field unusable, as a malformed field must be ignored.
fn field(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut combined: Option<String> = None;
    for value in headers.get_all(name) {
        let text = value.to_str().ok()?.trim_matches([' ', '\t']);
        match combined.as_mut() {
            None => combined = Some(text.to_owned()),
            Some(acc) => {
                acc.push_str(", ");
                acc.push_str(text);
            }
        }
    }
    combined
}

fn sf_list(headers: &HeaderMap, name: &str) -> Option<sfv::List> {
    let value = field(headers, name)?;
    sfv::Parser::new(&value)
        .parse_list()
        .map_err(|err| tracing::debug!(header = name, %err, "ignoring malformed rate-limit field"))
        .ok()
}

/// A non-negative SF Integer.
fn non_negative(item: Option<&BareItem>) -> Option<u64> {
    item?.as_integer().and_then(|i| u64::try_from(i64::from(i)).ok())
}

/// The text of an SF String or Token.
fn text(item: &BareItem) -> Option<&str> {
    match item {
        BareItem::String(string) => Some(string.as_str()),
        BareItem::Token(token) => Some(token.as_str()),
        _ => None,
    }
}

/// A parameter by key.
fn param<'a>(params: &'a Parameters, key: &str) -> Option<&'a BareItem> {
    params.get(key)
}

/// Rule 3a: `RateLimit` as an SF List of Items carrying an `r` Integer (draft -08 and later).
fn ietf_current(headers: &HeaderMap) -> Option<RateLimitInfo> {
    struct Entry<'a> {
        name: &'a str,
        remaining: u64,
        reset: Option<u64>,
    }
    let list = sf_list(headers, "ratelimit")?;
    let mut entries = Vec::with_capacity(list.len());
    for member in &list {
        // Any member that is not a well-formed policy item makes the whole field malformed.
        let ListEntry::Item(item) = member else {
            return None;
        };
        let name = text(&item.bare_item)?;
        let remaining = non_negative(param(&item.params, "r"))?;
        let reset = match param(&item.params, "t") {
            None => None,
            Some(t) => Some(non_negative(Some(t))?),
        };
        entries.push(Entry {
            name,
            remaining,
            reset,
        });
    }
    // Most restrictive: least remaining, then the longest wait (a missing `t` counts as shortest).
    let chosen = entries
        .iter()
        .min_by_key(|e| (e.remaining, std::cmp::Reverse(e.reset)))?;

    let mut info = empty(RateLimitSource::Ietf);
    info.policy = Some(chosen.name.to_owned());
    info.remaining = Some(chosen.remaining);
    info.reset = chosen.reset.and_then(plausible);
    let policies = sf_list(headers, "ratelimit-policy").unwrap_or_default();
    let policy = policies.iter().find_map(|m| match m {
        ListEntry::Item(p) if text(&p.bare_item) == Some(chosen.name) => Some(p),
        _ => None,
    });
    if let Some(policy) = policy {
        info.limit = non_negative(param(&policy.params, "q"));
        info.window_seconds = non_negative(param(&policy.params, "w")).filter(|w| *w > 0);
        info.quota_unit = match param(&policy.params, "qu").and_then(text) {
            Some("requests") | None => None,
            Some(unit) => Some(unit.to_owned()),
        };
    }
    Some(info)
}

/// Rule 3b: `RateLimit` as a draft-07 SF Dictionary (`limit=100, remaining=50, reset=5`).
fn ietf_draft07(headers: &HeaderMap) -> Option<RateLimitInfo> {
    let value = field(headers, "ratelimit")?;
    let dict: sfv::Dictionary = sfv::Parser::new(&value)
        .parse_dictionary()
        .map_err(|err| tracing::debug!(%err, "ignoring malformed draft-07 RateLimit field"))
        .ok()?;
    if ["limit", "remaining", "reset"]
        .iter()
        .all(|k| dict.get(*k).is_none())
    {
        return None;
    }
    let integer = |key: &str| match dict.get(key) {
        Some(ListEntry::Item(item)) => non_negative(Some(&item.bare_item)),
        _ => None,
    };
    let mut info = empty(RateLimitSource::IetfDraft07);
    info.limit = integer("limit");
    info.remaining = integer("remaining");
    info.reset = integer("reset").and_then(plausible);
    info.window_seconds = legacy_window(headers, info.limit);
    Some(info)
}

/// Rule 3c: the separate `RateLimit-Limit/-Remaining/-Reset` fields (drafts -00 to -06, GitLab).
fn ietf_legacy(headers: &HeaderMap, now: Now) -> Option<RateLimitInfo> {
    triple(
        headers,
        now,
        RateLimitSource::IetfLegacy,
        ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
    )
}

/// Rule 3d, first part: `X-RateLimit-*` (with `-Reset-After` preferred), then `X-Rate-Limit-*`.
fn x_ratelimit(headers: &HeaderMap, now: Now) -> Option<RateLimitInfo> {
    let names = ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"];
    if let Some(mut info) = triple(headers, now, RateLimitSource::XRateLimit, names) {
        if let Some(after) = field(headers, "x-ratelimit-reset-after") {
            info.reset = interpret_reset(&after, now).or(info.reset);
        }
        return Some(info);
    }
    if let Some(after) = field(headers, "x-ratelimit-reset-after") {
        let mut info = empty(RateLimitSource::XRateLimit);
        info.reset = interpret_reset(&after, now);
        return Some(info);
    }
    triple(
        headers,
        now,
        RateLimitSource::XRateLimit,
        [
            "x-rate-limit-limit",
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
        ],
    )
}

/// Rule 3d, vendor aliases: OpenAI requests, then OpenAI tokens, then Anthropic requests.
fn vendor(headers: &HeaderMap, now: Now) -> Option<RateLimitInfo> {
    let families: [(&str, Option<&str>, [&str; 3]); 3] = [
        (
            "requests",
            None,
            [
                "x-ratelimit-limit-requests",
                "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests",
            ],
        ),
        (
            "tokens",
            Some("tokens"),
            [
                "x-ratelimit-limit-tokens",
                "x-ratelimit-remaining-tokens",
                "x-ratelimit-reset-tokens",
            ],
        ),
        (
            "requests",
            None,
            [
                "anthropic-ratelimit-requests-limit",
                "anthropic-ratelimit-requests-remaining",
                "anthropic-ratelimit-requests-reset",
            ],
        ),
    ];
    families.into_iter().find_map(|(policy, unit, names)| {
        let mut info = triple(headers, now, RateLimitSource::Vendor, names)?;
        info.policy = Some(policy.to_owned());
        info.quota_unit = unit.map(str::to_owned);
        Some(info)
    })
}

/// Reads a `[limit, remaining, reset]` name triple when any of the three is present (rules 4, 5).
fn triple(
    headers: &HeaderMap,
    now: Now,
    source: RateLimitSource,
    [limit, remaining, reset]: [&str; 3],
) -> Option<RateLimitInfo> {
    if ![limit, remaining, reset]
        .iter()
        .any(|name| headers.contains_key(*name))
    {
        return None;
    }
    let mut info = empty(source);
    info.limit = field(headers, limit).and_then(|v| parse_non_negative(&v));
    info.remaining = field(headers, remaining).and_then(|v| parse_non_negative(&v));
    info.reset = field(headers, reset).and_then(|v| interpret_reset(&v, now));
    info.window_seconds = legacy_window(headers, info.limit);
    Some(info)
}

/// Rule 5: the window `w` of the draft-07/legacy `RateLimit-Policy` entry (`100;w=60`) whose
/// quota equals `limit`. Drafts -00 to -02 spelled the parameter `window`.
fn legacy_window(headers: &HeaderMap, limit: Option<u64>) -> Option<u64> {
    let limit = limit?;
    let policies = sf_list(headers, "ratelimit-policy")?;
    policies.iter().find_map(|member| {
        let ListEntry::Item(item) = member else {
            return None;
        };
        let quota = non_negative(Some(&item.bare_item)).or(non_negative(param(&item.params, "q")));
        if quota != Some(limit) {
            return None;
        }
        non_negative(param(&item.params, "w"))
            .or(non_negative(param(&item.params, "window")))
            .filter(|w| *w > 0)
    })
}

#[cfg(test)]
mod tests;
