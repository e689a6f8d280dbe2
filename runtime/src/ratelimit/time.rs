//! Turning reset and retry values into delta seconds against the reference clock
//! (`ratelimit-headers.md` §4.2 rules 2, 4 and 6).
//!
//! All arithmetic is in signed nanoseconds since the Unix epoch (`i128`), which holds every value
//! an upstream can send (even `u64::MAX` milliseconds) without overflow, so no input can panic.

use std::time::{SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Deltas beyond this (366 days) are implausible for a rate-limit window and are dropped.
pub(crate) const MAX_PLAUSIBLE_SECONDS: u64 = 86_400 * 366;

/// Values at or above this are epoch milliseconds (10^12 ms is 2001-09-09).
const EPOCH_MILLIS_PIVOT: u64 = 1_000_000_000_000;
/// Values at or above this are epoch seconds (10^9 s is 2001-09-09; no window lasts 31.7 years).
const EPOCH_SECONDS_PIVOT: u64 = 1_000_000_000;

/// The reference clock: the instant "now" in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Now(i128);

impl Now {
    pub(crate) fn from_system_time(t: SystemTime) -> Self {
        Self(system_time_nanos(t))
    }

    /// Seconds from now until `target_nanos`, rounded up and clamped at zero.
    fn until(self, target_nanos: i128) -> u64 {
        ceil_seconds(target_nanos - self.0)
    }
}

fn system_time_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// `ceil(nanos / 10^9)`, clamped to `0..=u64::MAX`.
fn ceil_seconds(nanos: i128) -> u64 {
    if nanos <= 0 {
        return 0;
    }
    let secs = (nanos + NANOS_PER_SEC - 1) / NANOS_PER_SEC;
    u64::try_from(secs).unwrap_or(u64::MAX)
}

/// Drops deltas longer than [`MAX_PLAUSIBLE_SECONDS`].
pub(crate) fn plausible(seconds: u64) -> Option<u64> {
    (seconds <= MAX_PLAUSIBLE_SECONDS).then_some(seconds)
}

/// Interprets a reset value from a non-current family (rule 4) as delta seconds from `now`.
///
/// Integers (and decimals, judged by their integer part) are epoch milliseconds from 10^12, epoch
/// seconds from 10^9, delta seconds below; then Go-style durations, HTTP-dates and RFC 3339
/// timestamps are tried. Unknown forms and implausible results give `None`.
pub(crate) fn interpret_reset(value: &str, now: Now) -> Option<u64> {
    let value = value.trim_matches([' ', '\t']);
    let seconds = if let Some((int, frac_nanos)) = parse_decimal(value) {
        // `frac_nanos` is the fraction of one unit, in 10^-9 units.
        if int >= EPOCH_MILLIS_PIVOT {
            let target = i128::from(int) * 1_000_000 + div_ceil(i128::from(frac_nanos), 1000);
            now.until(target)
        } else if int >= EPOCH_SECONDS_PIVOT {
            now.until(i128::from(int) * NANOS_PER_SEC + i128::from(frac_nanos))
        } else {
            ceil_seconds(i128::from(int) * NANOS_PER_SEC + i128::from(frac_nanos))
        }
    } else if let Some(nanos) = parse_go_duration(value) {
        ceil_seconds(nanos)
    } else if let Ok(date) = httpdate::parse_http_date(value) {
        now.until(system_time_nanos(date))
    } else if let Some(nanos) = parse_rfc3339(value) {
        now.until(nanos)
    } else {
        return None;
    };
    plausible(seconds)
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as delta seconds from
/// `now`, clamped at zero. Anything else, including a delay that overflows `u64`, is ignored.
pub(crate) fn parse_retry_after(value: &str, now: Now) -> Option<u64> {
    let value = value.trim_matches([' ', '\t']);
    if let Some(seconds) = parse_non_negative(value) {
        return Some(seconds);
    }
    if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        return None;
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(now.until(system_time_nanos(date)))
}

/// `^\d+$` with OWS around it, as `u64` (rule 5). Signs, fractions, overflow and anything else give
/// `None`, so Azure's `-1` reads as unknown.
pub(crate) fn parse_non_negative(value: &str) -> Option<u64> {
    digits_u64(value.trim_matches([' ', '\t']))
}

/// Ceiling division for non-negative `n` and positive `d` (`i128::div_ceil` is not stable).
fn div_ceil(n: i128, d: i128) -> i128 {
    (n + d - 1) / d
}

/// A run of ASCII digits (nothing else) as `u64`.
fn digits_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `^\d+(\.\d+)?$` as (integer part, fraction in nanos of one unit). The fraction is truncated to
/// nine digits, which changes a result by at most one nanosecond before rounding up.
fn parse_decimal(value: &str) -> Option<(u64, u32)> {
    let (int, frac) = match value.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (value, None),
    };
    let int = digits_u64(int)?;
    let frac_nanos = match frac {
        None => 0,
        Some(frac) => fraction_nanos(frac)?,
    };
    Some((int, frac_nanos))
}

/// The digits after a decimal point as nanoseconds of one unit (`"5"` -> 500_000_000).
fn fraction_nanos(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: u32 = 0;
    for (i, d) in digits.bytes().take(9).enumerate() {
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(nanos)
}

/// A Go `time.Duration` string such as `6m0s`, `1.5s` or `12ms`:
/// `^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$`, in nanoseconds. Overflow gives `None`.
fn parse_go_duration(value: &str) -> Option<i128> {
    let mut rest = value;
    let mut total: i128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if int_len == 0 {
            return None;
        }
        let int: i128 = rest[..int_len].parse().ok()?;
        rest = &rest[int_len..];
        let mut frac_nanos = 0u32;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_nanos = fraction_nanos(&after_dot[..frac_len])?;
            rest = &after_dot[frac_len..];
        }
        // Longest unit first, so `ms` is not read as `m` followed by garbage.
        let (unit_nanos, unit_len) = [
            ("ms", 1_000_000i128),
            ("us", 1_000),
            ("µs", 1_000),
            ("ns", 1),
            ("h", 3_600 * NANOS_PER_SEC),
            ("m", 60 * NANOS_PER_SEC),
            ("s", NANOS_PER_SEC),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .map(|(unit, nanos)| (nanos, unit.len()))?;
        rest = &rest[unit_len..];
        let part = int
            .checked_mul(unit_nanos)?
            .checked_add(div_ceil(i128::from(frac_nanos) * unit_nanos, NANOS_PER_SEC))?;
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// An RFC 3339 `date-time` (`2024-05-01T12:00:30.5Z`, `...+02:00`; `t`, `z` and a space separator
/// accepted) in nanoseconds since the epoch.
fn parse_rfc3339(value: &str) -> Option<i128> {
    let b = value.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let separators_ok =
        b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't' | b' ') && b[13] == b':' && b[16] == b':';
    if !separators_ok {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut frac_nanos = 0u32;
    if b[pos] == b'.' {
        let len = b[pos + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
        frac_nanos = fraction_nanos(value.get(pos + 1..pos + 1 + len)?)?;
        pos += 1 + len;
    }
    let offset_seconds = match b.get(pos..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let hours = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let minutes = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_seconds;
    Some(i128::from(seconds) * NANOS_PER_SEC + i128::from(frac_nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2024-05-01T12:00:00Z.
    const NOW_SECS: u64 = 1_714_564_800;

    fn now() -> Now {
        Now::from_system_time(UNIX_EPOCH + Duration::from_secs(NOW_SECS))
    }

    #[test]
    fn small_integers_are_delta_seconds() {
        assert_eq!(interpret_reset("0", now()), Some(0));
        assert_eq!(interpret_reset(" 42 ", now()), Some(42));
        assert_eq!(interpret_reset("999999999", now()), None, "over 366 days");
        assert_eq!(interpret_reset("86400", now()), Some(86_400));
    }

    #[test]
    fn epoch_seconds_and_millis_are_relative_to_now() {
        assert_eq!(interpret_reset(&(NOW_SECS + 30).to_string(), now()), Some(30));
        assert_eq!(interpret_reset(&(NOW_SECS - 30).to_string(), now()), Some(0));
        let ms = (NOW_SECS * 1000 + 1_500).to_string();
        assert_eq!(interpret_reset(&ms, now()), Some(2), "1.5 s rounds up");
    }

    #[test]
    fn fractions_round_up() {
        assert_eq!(interpret_reset("1.2", now()), Some(2));
        assert_eq!(interpret_reset("3.000", now()), Some(3));
        assert_eq!(interpret_reset(&format!("{}.25", NOW_SECS + 4), now()), Some(5));
        assert_eq!(interpret_reset("1.", now()), None);
        assert_eq!(interpret_reset(".5", now()), None);
    }

    #[test]
    fn go_durations_are_summed() {
        assert_eq!(parse_go_duration("6m0s"), Some(360 * NANOS_PER_SEC));
        assert_eq!(interpret_reset("6m0s", now()), Some(360));
        assert_eq!(interpret_reset("12ms", now()), Some(1));
        assert_eq!(interpret_reset("1h2m3.5s", now()), Some(3_724));
        assert_eq!(interpret_reset("1.5h", now()), Some(5_400));
        assert_eq!(interpret_reset("250us", now()), Some(1));
        assert_eq!(interpret_reset("7µs", now()), Some(1));
        assert_eq!(interpret_reset("0s", now()), Some(0));
        for bad in ["6m0", "m", "6x", "-1s", "1.s", "", "1 s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
        assert_eq!(parse_go_duration("99999999999999999999999999999999999h"), None);
    }

    #[test]
    fn http_dates_are_relative_to_now() {
        assert_eq!(interpret_reset("Wed, 01 May 2024 12:01:00 GMT", now()), Some(60));
        assert_eq!(
            interpret_reset("Wednesday, 01-May-24 12:01:00 GMT", now()),
            Some(60)
        );
        assert_eq!(interpret_reset("Wed May  1 12:01:00 2024", now()), Some(60));
    }

    #[test]
    fn rfc3339_timestamps_are_relative_to_now() {
        assert_eq!(interpret_reset("2024-05-01T12:00:30Z", now()), Some(30));
        assert_eq!(interpret_reset("2024-05-01T12:00:30.1z", now()), Some(31));
        assert_eq!(interpret_reset("2024-05-01T14:00:30+02:00", now()), Some(30));
        assert_eq!(interpret_reset("2024-05-01 11:00:30-01:00", now()), Some(30));
        assert_eq!(interpret_reset("2024-04-30T12:00:00Z", now()), Some(0));
        for bad in [
            "2024-02-30T00:00:00Z",
            "2024-05-01T12:00:30",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:30+2:00",
            "2024-05-01T12:00:30.Z",
            "2024/05/01T12:00:30Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 5, 1) * 86_400 + 43_200, NOW_SECS as i64);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn unknown_forms_are_dropped() {
        for bad in ["soon", "-5", "1e3", "0x10", "12 minutes"] {
            assert_eq!(interpret_reset(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_http_date() {
        assert_eq!(parse_retry_after("120", now()), Some(120));
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 12:00:10 GMT", now()),
            Some(10)
        );
        assert_eq!(parse_retry_after("Wed, 01 May 2024 11:00:10 GMT", now()), Some(0));
        assert_eq!(parse_retry_after("99999999999999999999999", now()), None);
        assert_eq!(parse_retry_after("1.5", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        assert_eq!(interpret_reset(&u64::MAX.to_string(), now()), None);
        assert_eq!(interpret_reset("99999999999999999999999", now()), None);
        let before_epoch = Now::from_system_time(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(interpret_reset("1000000000", before_epoch), None);
    }
}
