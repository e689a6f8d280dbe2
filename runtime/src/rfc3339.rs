//! Times as the product writes and reads them: RFC 3339, to the second.
//!
//! Written in UTC (`2026-12-31T23:59:59Z`). Read with any offset (`+02:00` too), but never
//! without one: `2026-12-31T23:59:59` is a different instant in every time zone, and taking it
//! as UTC would make an expiry hours early or late without a word.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a text is not a time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{text}` is not an RFC 3339 time with an offset, such as 2026-12-31T23:59:59Z or 2026-12-31T23:59:59+02:00 ({reason})"
)]
pub struct TimeError {
    pub text: String,
    pub reason: String,
}

/// RFC 3339, seconds precision, UTC.
pub fn format_time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// An RFC 3339 time with a `Z` or `±hh:mm` offset.
pub fn parse_time(text: &str) -> Result<SystemTime, TimeError> {
    let trimmed = text.trim();
    let error = |reason: String| TimeError {
        text: trimmed.to_owned(),
        reason,
    };
    let parsed = chrono::DateTime::parse_from_rfc3339(trimmed).map_err(|cause| error(cause.to_string()))?;
    let seconds = parsed.timestamp();
    let nanos = parsed.timestamp_subsec_nanos();
    match u64::try_from(seconds) {
        Ok(seconds) => Ok(UNIX_EPOCH + Duration::new(seconds, nanos)),
        Err(_) => Err(error("before 1970".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_offset_is_the_same_instant() {
        let utc = parse_time("2026-12-31T22:00:00Z").expect("utc");
        assert_eq!(parse_time("2026-12-31T23:00:00+01:00"), Ok(utc));
        assert_eq!(parse_time(" 2026-12-31T17:00:00-05:00 "), Ok(utc));
        assert_eq!(format_time(utc), "2026-12-31T22:00:00Z");
    }

    #[test]
    fn a_time_without_an_offset_is_refused() {
        for text in ["2026-12-31T23:59:59", "2026-12-31", "tomorrow", ""] {
            let error = parse_time(text).expect_err(text);
            assert!(error.to_string().contains("with an offset"), "{error}");
        }
    }
}
