//! Tokens already verified, by digest, so a client that sends the same access token with every
//! request (as clients do, for the token's lifetime) pays for the signature check once.
//!
//! Checking an RS256 signature costs about a million instructions, four times a whole tool call
//! (`cargo benchmarks instructions`); a digest and a lookup cost a few thousand. An entry is
//! kept until the token expires, and at most [`KEEP_FOR`], so a key the issuer withdraws stops
//! admitting its tokens at most that long after this server has fetched the new key set. Only
//! tokens that passed every check are kept: a refused token is checked again each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::token::Claims;

/// The longest a verification is reused.
pub const KEEP_FOR: Duration = Duration::from_secs(60);

/// The most tokens kept; beyond it, expired entries are dropped, and if none is, all are.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
struct Entry {
    claims: Arc<Claims>,
    /// The token's `exp` plus the leeway, in seconds since the epoch.
    valid_until: u64,
    verified_at: Instant,
}

#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl VerifiedTokens {
    /// The digest a token is kept under.
    pub fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of the token with `digest`, if it was verified within [`KEEP_FOR`] and has
    /// not expired since.
    pub fn get(&self, digest: &[u8; 32]) -> Option<Arc<Claims>> {
        let now = unix_now();
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get(digest)?;
        if now <= entry.valid_until && entry.verified_at.elapsed() < KEEP_FOR {
            return Some(entry.claims.clone());
        }
        entries.remove(digest);
        None
    }

    /// Keeps a verified token's claims until `valid_until` (seconds since the epoch).
    pub fn insert(&self, digest: [u8; 32], claims: Arc<Claims>, valid_until: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            let now = unix_now();
            entries.retain(|_, entry| now <= entry.valid_until && entry.verified_at.elapsed() < KEEP_FOR);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            digest,
            Entry {
                claims,
                valid_until,
                verified_at: Instant::now(),
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.len())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Arc<Claims> {
        Arc::new(Claims {
            issuer: "https://issuer.example".into(),
            subject: Some("alice".into()),
            client_id: None,
            scopes: vec!["scim:read".into()],
        })
    }

    #[test]
    fn a_verified_token_is_found_until_it_expires_and_a_different_one_never() {
        let verified = VerifiedTokens::default();
        let token = VerifiedTokens::digest("header.claims.signature");
        verified.insert(token, claims(), unix_now() + 30);
        assert_eq!(verified.get(&token).as_deref(), Some(&*claims()));
        assert!(
            verified
                .get(&VerifiedTokens::digest("header.claims.signaturf"))
                .is_none()
        );

        let expired = VerifiedTokens::digest("expired");
        verified.insert(expired, claims(), unix_now() - 1);
        assert!(verified.get(&expired).is_none());
        assert_eq!(verified.len(), 1, "the expired entry is dropped when read");
    }

    #[test]
    fn a_full_cache_drops_what_expired_first_and_everything_if_it_must() {
        let verified = VerifiedTokens::default();
        for n in 0..MAX_ENTRIES {
            let valid_until = if n % 2 == 0 {
                unix_now() - 1
            } else {
                unix_now() + 30
            };
            verified.insert(VerifiedTokens::digest(&n.to_string()), claims(), valid_until);
        }
        verified.insert(VerifiedTokens::digest("one more"), claims(), unix_now() + 30);
        assert_eq!(verified.len(), MAX_ENTRIES / 2 + 1);
        for n in 0..MAX_ENTRIES {
            verified.insert(
                VerifiedTokens::digest(&format!("live {n}")),
                claims(),
                unix_now() + 30,
            );
        }
        assert!(verified.len() <= MAX_ENTRIES, "{}", verified.len());
    }
}
