//! The seeded event history: 30 days of sign-in attempts, item usages and audit events of the
//! seeded directory, deterministic for a seed (and relative to the moment the simulator
//! starts).
//!
//! Most sign-ins succeed from the person's usual country; some fail (a wrong password, a
//! missing second factor), and a few come from a country the person never signs in from, some
//! of them blocked by the firewall: what an "audit contractor access" or "investigate user
//! activity" workflow looks for. About one item usage in ten is recorded late, after newer
//! ones, as the API records uses when the app syncs (facts §4).

use serde_json::{Value, json};

use super::audit::{event, user_event};
use super::log::{EventLog, Kind, Stored, person, rfc3339};
use crate::model::User;
use crate::seed::SplitMix64;

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// How many days back the seeded history reaches.
pub const HISTORY_DAYS: i64 = 30;

const HOME_COUNTRIES: &[(&str, &str, &str)] = &[
    ("CA", "Ontario", "Toronto"),
    ("US", "California", "San Francisco"),
    ("DE", "Berlin", "Berlin"),
    ("GB", "England", "London"),
    ("FR", "Ile-de-France", "Paris"),
];
const UNUSUAL_COUNTRIES: &[(&str, &str, &str)] = &[
    ("BR", "Sao Paulo", "Sao Paulo"),
    ("NG", "Lagos", "Lagos"),
    ("KZ", "Almaty", "Almaty"),
];
const APPS: &[(&str, &str, &str)] = &[
    ("1Password for Mac", "MacOSX", "macOS"),
    ("1Password for Windows", "Windows", "Windows"),
    ("1Password Browser Extension", "Chrome", "Linux"),
];
const USAGE_ACTIONS: &[&str] = &[
    "fill",
    "reveal",
    "secure-copy",
    "fill",
    "enter-item-edit-mode",
    "export",
];

/// The seeded history of `users` up to `now_micros`.
pub fn history(users: &[User], seed: u64, now_micros: i64) -> EventLog {
    let mut rng = SplitMix64::new(seed ^ 0x0E7E_475E_ED00_0001);
    let mut sign_ins = Vec::new();
    let mut usages = Vec::new();
    let mut audits = Vec::new();
    let start = now_micros - HISTORY_DAYS * DAY_MICROS;
    let at = |rng: &mut SplitMix64| start + (rng.unit() * (HISTORY_DAYS * DAY_MICROS) as f64) as i64;
    for (index, user) in users.iter().enumerate() {
        let home = HOME_COUNTRIES[index % HOME_COUNTRIES.len()];
        // The first person signs in most: a history long enough to page through in the demo.
        let attempts = if index == 0 {
            24 + rng.below(8)
        } else {
            2 + rng.below(6)
        };
        for attempt in 0..attempts {
            // The first person of the directory always has one odd attempt, for the demo.
            let odd = (index == 0 && attempt == 0) || rng.unit() < 0.05;
            let place = if odd {
                UNUSUAL_COUNTRIES[rng.below(UNUSUAL_COUNTRIES.len())]
            } else {
                home
            };
            let roll = rng.unit();
            let (category, kind, details) = if odd && roll < 0.5 {
                ("firewall_failed", "country_blocked", json!({ "value": place.0 }))
            } else if roll < 0.10 {
                ("credentials_failed", "password_secret_bad", Value::Null)
            } else if roll < 0.15 {
                ("mfa_failed", "mfa_missing", Value::Null)
            } else {
                ("success", "credentials_ok", Value::Null)
            };
            let when = at(&mut rng);
            sign_ins.push((
                when,
                json!({
                    "uuid": rng.base32_id(true),
                    "session_uuid": rng.base32_id(true),
                    "timestamp": rfc3339(when),
                    "category": category,
                    "type": kind,
                    "country": place.0,
                    "details": details,
                    "target_user": person(user),
                    "client": client(&mut rng),
                    "location": location(place),
                }),
            ));
        }
        for _ in 0..rng.below(4) {
            let when = at(&mut rng);
            usages.push((
                when,
                json!({
                    "uuid": rng.base32_id(true),
                    "timestamp": rfc3339(when),
                    "used_version": 1 + rng.below(5),
                    "vault_uuid": rng.base32_id(false),
                    "item_uuid": rng.base32_id(false),
                    "action": USAGE_ACTIONS[rng.below(USAGE_ACTIONS.len())],
                    "user": person(user),
                    "client": client(&mut rng),
                    "location": location(home),
                }),
            ));
        }
        if rng.unit() < 0.2 {
            let when = at(&mut rng);
            audits.push((when, event(user_event("provsn", user), when, &mut rng)));
        }
    }
    sign_ins.sort_by_key(|(at, _)| *at);
    usages.sort_by_key(|(at, _)| *at);
    audits.sort_by_key(|(at, _)| *at);
    late(&mut usages, &mut rng);
    let mut log = EventLog::default();
    for (kind, stream) in [
        (Kind::SignInAttempts, sign_ins),
        (Kind::ItemUsages, usages),
        (Kind::AuditEvents, audits),
    ] {
        for (at_micros, event) in stream {
            log.append(kind, Stored { at_micros, event });
        }
    }
    log
}

/// Moves about one usage in ten a few places later: recorded after newer ones.
fn late(usages: &mut [(i64, Value)], rng: &mut SplitMix64) {
    let count = usages.len();
    for index in 0..count {
        if rng.unit() < 0.1 {
            let to = (index + 1 + rng.below(5)).min(count.saturating_sub(1));
            usages[index..=to].rotate_left(1);
        }
    }
}

fn client(rng: &mut SplitMix64) -> Value {
    let (app, os, platform) = APPS[rng.below(APPS.len())];
    json!({
        "app_name": app,
        "app_version": format!("8{:02}{:02}", 10 + rng.below(10), rng.below(100)),
        "platform_name": platform,
        "platform_version": "1",
        "os_name": os,
        "os_version": "14",
        "ip_address": format!("203.0.113.{}", 1 + rng.below(250)),
    })
}

fn location((country, region, city): (&str, &str, &str)) -> Value {
    json!({ "country": country, "region": region, "city": city, "latitude": 43.6, "longitude": -79.4 })
}
