//! A simulated 1Password Events API (Events Reporting), served beside the SCIM bridge.
//!
//! "facts" is `shared/reference/1password-events-facts.md`. Faithful to them:
//! - `POST /api/v1/{signinattempts,itemusages,auditevents}` and the same under `/api/v2/`, with a
//!   reset or a cursor as the body; `GET /api/auth/introspect` (v1, PascalCase) and
//!   `GET /api/v2/auth/introspect` (facts §2, §3).
//! - Paging, limits, the default one-hour window and the 120 days kept: [`log`] (facts §4).
//! - A bearer token with features: a token without the feature an endpoint needs, like a
//!   missing or unknown one, gets 401 `{"Error":{"Message":"Unauthorized"}}`; a malformed body
//!   400 `{"Error":{"Message":"Bad Request"}}` (facts §2, §7).
//! - 600 requests a minute and 30,000 an hour per token, then 429 with the same error body and
//!   no rate-limit headers, as none are documented (facts §6).
//! - v1 events lack the MSP fields, which v2 events carry only for an MSP account (facts §5).
//! - Seeded with 30 days of the directory's history ([`seed`]); every SCIM change made through
//!   the simulator appends its audit event ([`audit`]).
//!
//! Test features, not the API's behaviour: an empty `has_more: true` page every N continuing
//! requests, and one 429 at the Nth request.

pub mod audit;
mod http;
pub mod log;
mod seed;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use subtle::ConstantTimeEq as _;

pub use http::router;
use log::{EventLog, Kind, Stored};

use crate::model::User;
use crate::seed::SplitMix64;

/// The features a token may have (facts §2).
pub const ALL_FEATURES: [&str; 3] = ["auditevents", "itemusages", "signinattempts"];

/// An Events API token the simulator accepts, and what it may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsToken {
    pub token: String,
    pub features: Vec<String>,
}

/// The Events API's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsConfig {
    pub tokens: Vec<EventsToken>,
    /// An MSP account: v2 events carry `account_uuid` and the user types.
    pub msp: bool,
    /// Requests a token may make per minute and per hour (facts §6: 600 and 30,000).
    pub per_minute: u32,
    pub per_hour: u32,
    /// Every Nth request with a cursor gets an empty `has_more: true` page (a test feature).
    pub empty_every: Option<u32>,
    /// The Nth events request (counting from 1) gets one 429 (a test feature).
    pub rate_limited_at: Option<u32>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            tokens: vec![EventsToken {
                token: "sim-events-token".into(),
                features: ALL_FEATURES.iter().map(|feature| (*feature).to_owned()).collect(),
            }],
            msp: false,
            per_minute: 600,
            per_hour: 30_000,
            empty_every: None,
            rate_limited_at: None,
        }
    }
}

/// The Events API's state: the log, and what rate limits and faults count.
pub struct EventsState {
    config: EventsConfig,
    started: SystemTime,
    log: RwLock<EventLog>,
    rng: Mutex<SplitMix64>,
    recent: Mutex<HashMap<String, VecDeque<Instant>>>,
    requests: AtomicU32,
    continuing: AtomicU32,
    limited_once: AtomicBool,
}

impl std::fmt::Debug for EventsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsState")
            .field("config", &self.config)
            .finish()
    }
}

impl EventsState {
    /// The seeded history of `users`, as of now.
    pub fn seeded(config: EventsConfig, users: &[User], seed: u64) -> Self {
        let started = SystemTime::now();
        Self {
            config,
            started,
            log: RwLock::new(seed::history(users, seed, log::micros(started))),
            rng: Mutex::new(SplitMix64::new(seed ^ 0x0A0D_17E7_E0E7_5EED)),
            recent: Mutex::new(HashMap::new()),
            requests: AtomicU32::new(0),
            continuing: AtomicU32::new(0),
            limited_once: AtomicBool::new(false),
        }
    }

    /// Appends audit events (from [`audit`]) made now.
    pub fn record(&self, partials: Vec<Value>) {
        if partials.is_empty() {
            return;
        }
        let now = log::micros(SystemTime::now());
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let mut log = self.log.write().unwrap_or_else(PoisonError::into_inner);
        for partial in partials {
            let event = audit::event(partial, now, &mut rng);
            log.append(
                Kind::AuditEvents,
                Stored {
                    at_micros: now,
                    event,
                },
            );
        }
    }

    /// Every event of a kind, as v2 answers them: the ground truth tests compare with.
    pub fn all(&self, kind: Kind) -> Vec<Value> {
        let log = self.log.read().unwrap_or_else(PoisonError::into_inner);
        log.stream(kind)
            .iter()
            .map(|stored| stored.event.clone())
            .collect()
    }

    fn token(&self, presented: &str) -> Option<&EventsToken> {
        self.config
            .tokens
            .iter()
            .find(|token| bool::from(token.token.as_bytes().ct_eq(presented.as_bytes())))
    }

    /// Counts a request of `token`; false when it is over a limit.
    fn admit(&self, token: &str) -> bool {
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = recent.entry(token.to_owned()).or_default();
        while seen
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(3600))
        {
            seen.pop_front();
        }
        let last_minute = seen
            .iter()
            .rev()
            .take_while(|at| now.duration_since(**at) < Duration::from_secs(60))
            .count();
        if last_minute >= self.config.per_minute as usize || seen.len() >= self.config.per_hour as usize {
            return false;
        }
        seen.push_back(now);
        true
    }
}
