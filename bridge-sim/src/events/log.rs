//! The event log and its paging: three streams of events, each in insertion order, read
//! through resets and cursors as the Events API reads them (facts §4).
//!
//! - A reset `{limit?, start_time?, end_time?}` starts a listing: `limit` 1..=1000 (default
//!   100); `start_time` defaults to an hour before `end_time`, or before now, and is clamped to
//!   the 120 days the API keeps; `end_time` unset means no upper bound.
//! - The answer is `{cursor, has_more, items}`; the cursor keeps the reset's limit and window
//!   and the position in insertion order, so it stays a checkpoint to poll from later: when
//!   caught up, the same cursor comes back with `items: []` and `has_more: false`.
//! - Items are the events whose timestamp lies in the window, in insertion order (oldest
//!   first, except item usages that arrive late, as they do from clients that sync late).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::model::User;

/// How long the API keeps events (facts §1).
pub const RETENTION: Duration = Duration::from_secs(120 * 24 * 3600);

/// The window a reset without times covers (facts §4).
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

pub const LIMIT_DEFAULT: u64 = 100;
pub const LIMIT_MAX: u64 = 1000;

/// The three kinds of events, each its own stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SignInAttempts,
    ItemUsages,
    AuditEvents,
}

impl Kind {
    pub const ALL: [Self; 3] = [Self::SignInAttempts, Self::ItemUsages, Self::AuditEvents];

    /// The last segment of this kind's endpoint, `/api/v2/<path>` (facts §3).
    pub fn path(self) -> &'static str {
        match self {
            Self::SignInAttempts => "signinattempts",
            Self::ItemUsages => "itemusages",
            Self::AuditEvents => "auditevents",
        }
    }

    /// The token feature that reads this kind (facts §2).
    pub fn feature(self) -> &'static str {
        match self {
            Self::SignInAttempts => "signinattempts",
            Self::ItemUsages => "itemusages",
            Self::AuditEvents => "auditevents",
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::SignInAttempts => "s",
            Self::ItemUsages => "i",
            Self::AuditEvents => "a",
        }
    }
}

/// One stored event: its v2 JSON and its time, in microseconds since the epoch.
#[derive(Clone, Debug)]
pub struct Stored {
    pub at_micros: i64,
    pub event: Value,
}

/// Every stream, append-only.
#[derive(Debug, Default)]
pub struct EventLog {
    sign_in_attempts: Vec<Stored>,
    item_usages: Vec<Stored>,
    audit_events: Vec<Stored>,
}

/// A request's body was not a reset or a cursor this simulator issued.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest;

/// Where a listing is: the reset's limit and window, and the next insertion index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    kind: &'static str,
    next: usize,
    limit: u64,
    start: i64,
    end: Option<i64>,
}

/// One answer: the items, the cursor to continue from, and whether more may follow.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    pub cursor: String,
    pub has_more: bool,
}

impl EventLog {
    pub fn stream(&self, kind: Kind) -> &[Stored] {
        match kind {
            Kind::SignInAttempts => &self.sign_in_attempts,
            Kind::ItemUsages => &self.item_usages,
            Kind::AuditEvents => &self.audit_events,
        }
    }

    pub fn append(&mut self, kind: Kind, stored: Stored) {
        match kind {
            Kind::SignInAttempts => self.sign_in_attempts.push(stored),
            Kind::ItemUsages => self.item_usages.push(stored),
            Kind::AuditEvents => self.audit_events.push(stored),
        }
    }

    /// Answers a request body: a reset, or a `{"cursor": ...}` this log issued for `kind`.
    pub fn page(&self, kind: Kind, body: &Value, now: SystemTime) -> Result<Page, BadRequest> {
        let position = match body.get("cursor") {
            Some(Value::String(cursor)) => decode(cursor, kind)?,
            Some(_) => return Err(BadRequest),
            None => reset(kind, body, now)?,
        };
        Ok(self.read(kind, position))
    }

    /// The same cursor, for an answer that holds nothing new (an injected empty page).
    pub fn hold(&self, body: &Value) -> Option<String> {
        body.get("cursor").and_then(Value::as_str).map(str::to_owned)
    }

    fn read(&self, kind: Kind, position: Position) -> Page {
        let stream = self.stream(kind);
        let in_window = |stored: &Stored| {
            stored.at_micros >= position.start && position.end.is_none_or(|end| stored.at_micros < end)
        };
        let mut items = Vec::new();
        let mut next = position.next;
        while next < stream.len() && (items.len() as u64) < position.limit {
            if in_window(&stream[next]) {
                items.push(stream[next].event.clone());
            }
            next += 1;
        }
        let has_more = stream[next.min(stream.len())..].iter().any(in_window);
        let cursor = encode(&Position { next, ..position });
        Page {
            items,
            cursor,
            has_more,
        }
    }
}

fn reset(kind: Kind, body: &Value, now: SystemTime) -> Result<Position, BadRequest> {
    let Value::Object(fields) = body else {
        return Err(BadRequest);
    };
    if fields
        .keys()
        .any(|key| !matches!(key.as_str(), "limit" | "start_time" | "end_time"))
    {
        return Err(BadRequest);
    }
    let limit = match fields.get("limit") {
        None | Some(Value::Null) => LIMIT_DEFAULT,
        Some(Value::Number(number)) => number
            .as_u64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|value| value.fract() == 0.0 && *value >= 0.0)
                    .map(|value| value as u64)
            })
            .filter(|limit| (1..=LIMIT_MAX).contains(limit))
            .ok_or(BadRequest)?,
        Some(_) => return Err(BadRequest),
    };
    let time = |name: &str| -> Result<Option<i64>, BadRequest> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => micros_of(text).map(Some).ok_or(BadRequest),
            Some(_) => Err(BadRequest),
        }
    };
    let end = time("end_time")?;
    let now_micros = micros(now);
    let window = i64::try_from(DEFAULT_WINDOW.as_micros()).unwrap_or(i64::MAX);
    let oldest = now_micros - i64::try_from(RETENTION.as_micros()).unwrap_or(i64::MAX);
    let start = time("start_time")?
        .unwrap_or_else(|| end.unwrap_or(now_micros) - window)
        .max(oldest);
    Ok(Position {
        kind: kind.code(),
        next: 0,
        limit,
        start,
        end,
    })
}

fn encode(position: &Position) -> String {
    let text = json!({
        "k": position.kind,
        "n": position.next,
        "l": position.limit,
        "s": position.start,
        "e": position.end,
    })
    .to_string();
    URL_SAFE_NO_PAD.encode(text)
}

fn decode(cursor: &str, kind: Kind) -> Result<Position, BadRequest> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| BadRequest)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| BadRequest)?;
    if value["k"] != kind.code() {
        return Err(BadRequest);
    }
    Ok(Position {
        kind: kind.code(),
        next: value["n"]
            .as_u64()
            .and_then(|next| usize::try_from(next).ok())
            .ok_or(BadRequest)?,
        limit: value["l"]
            .as_u64()
            .filter(|limit| (1..=LIMIT_MAX).contains(limit))
            .ok_or(BadRequest)?,
        start: value["s"].as_i64().ok_or(BadRequest)?,
        end: match &value["e"] {
            Value::Null => None,
            end => Some(end.as_i64().ok_or(BadRequest)?),
        },
    })
}

pub fn micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
}

/// RFC 3339 with fractional seconds, UTC, as the API writes times (facts §5).
pub fn rfc3339(at_micros: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_micros(u64::try_from(at_micros).unwrap_or(0));
    humantime::format_rfc3339_micros(at).to_string()
}

/// An RFC 3339 time with a `Z` or `±hh:mm` offset, in microseconds since the epoch.
fn micros_of(text: &str) -> Option<i64> {
    let text = text.trim();
    let (local, offset_seconds) = match text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        Some(local) => (local.to_owned(), 0),
        None => {
            let split = text.len().checked_sub(6)?;
            let (local, offset) = text.split_at(split);
            let sign = match offset.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = offset[1..].split_once(':')?;
            let seconds = hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60;
            (local.to_owned(), sign * seconds)
        }
    };
    let utc = humantime::parse_rfc3339(&format!("{local}Z")).ok()?;
    Some(micros(utc) - offset_seconds * 1_000_000)
}

/// A person as events name them (facts §5: User).
pub fn person(user: &User) -> Value {
    json!({ "uuid": user.id, "name": user.display_name, "email": user.user_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(times: &[i64]) -> EventLog {
        let mut log = EventLog::default();
        for (index, at) in times.iter().enumerate() {
            log.append(
                Kind::AuditEvents,
                Stored {
                    at_micros: *at,
                    event: json!({ "n": index }),
                },
            );
        }
        log
    }

    const NOW: i64 = 1_800_000_000_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(NOW as u64)
    }

    #[test]
    fn a_listing_pages_to_its_end_and_the_cursor_stays_a_checkpoint() {
        let log = log_of(&[NOW - 50, NOW - 40, NOW - 30, NOW - 20, NOW - 10]);
        let reset = json!({ "limit": 2, "start_time": rfc3339(NOW - 60) });
        let first = log.page(Kind::AuditEvents, &reset, now()).expect("first");
        assert_eq!(first.items.len(), 2);
        assert!(first.has_more);
        let second = log
            .page(Kind::AuditEvents, &json!({ "cursor": first.cursor }), now())
            .expect("second");
        let third = log
            .page(Kind::AuditEvents, &json!({ "cursor": second.cursor }), now())
            .expect("third");
        assert_eq!(third.items, [json!({ "n": 4 })]);
        assert!(!third.has_more);
        let caught_up = log
            .page(
                Kind::AuditEvents,
                &json!({ "cursor": third.cursor.clone() }),
                now(),
            )
            .expect("caught up");
        assert!(caught_up.items.is_empty() && !caught_up.has_more);
        assert_eq!(caught_up.cursor, third.cursor);
    }

    #[test]
    fn a_reset_without_times_reads_the_last_hour_and_bad_bodies_are_refused() {
        let hour = 3_600_000_000;
        let log = log_of(&[NOW - 2 * hour, NOW - hour / 2]);
        let page = log.page(Kind::AuditEvents, &json!({}), now()).expect("page");
        assert_eq!(page.items, [json!({ "n": 1 })]);
        for bad in [
            json!({ "limit": 0 }),
            json!({ "limit": 1001 }),
            json!({ "limit": "5" }),
            json!({ "start_time": "yesterday" }),
            json!({ "cursor": "not-ours" }),
            json!({ "other": 1 }),
            json!([]),
        ] {
            assert_eq!(
                log.page(Kind::AuditEvents, &bad, now()).err(),
                Some(BadRequest),
                "{bad}"
            );
        }
        let sign_ins = log_of(&[])
            .page(Kind::SignInAttempts, &json!({}), now())
            .expect("page");
        assert_eq!(
            log.page(Kind::AuditEvents, &json!({ "cursor": sign_ins.cursor }), now())
                .err(),
            Some(BadRequest)
        );
    }

    #[test]
    fn times_with_offsets_are_the_same_instants() {
        assert_eq!(
            micros_of("2026-11-30T10:00:00+01:00"),
            micros_of("2026-11-30T09:00:00Z")
        );
        assert_eq!(
            micros_of("2026-11-30T10:00:00.5Z").map(|at| at % 1_000_000),
            Some(500_000)
        );
        assert_eq!(micros_of("2026-11-30T10:00:00"), None);
    }
}
