//! Lookups answered in process: the server entries and keys found by token hash, so admitting
//! a request costs no round trip to the store.
//!
//! A cache is only as good as what tells it of changes, and a revoked token must stop working
//! within a second on every replica. So the cache answers only while its store's watcher (see
//! [`crate::RegistryStore::watch`]) keeps *confirming* it: each confirmation says "every change
//! committed before this instant has reached the cache", and holds for [`FRESH_FOR`]. A watcher
//! that stops confirming (a listener connection that died, even silently, or a poller that is
//! stuck) leaves the cache answering nothing within [`FRESH_FOR`], and every lookup goes to the
//! store until the watcher is back. Without a watcher (the command line, or a store that cannot
//! watch) the cache never answers.
//!
//! - Only entries that exist are kept. A "no such token" answer is never cached: it would make a
//!   token just created on another replica fail until the next change, and a flood of made-up
//!   tokens would fill memory with them. Unknown tokens cost a store lookup, as before.
//! - Expiry needs no notification: the entry's `expires_at` is checked on every request, cached
//!   or not ([`crate::Registry::authorize`]).
//! - Any change clears everything: changes are rare (an admin creating or revoking), lookups are
//!   many, and clearing cannot miss an entry that a finer invalidation would.
//! - A lookup that went to the store caches what it found only if no change was reported while
//!   it was in flight (a generation number), so an answer read just before a revocation is never
//!   kept after it.
//! - Memory is bounded ([`MAX_ENTRIES`] of each kind), and every entry is dropped after
//!   [`MAX_AGE`] whatever the watcher says, a bound if a change ever goes unreported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::entry::{KeyEntry, KeyKind, ServerEntry, TokenHash};

/// How long one confirmation from the watcher lets the cache answer: the longest a change
/// can go unseen when the watcher dies without a word.
pub const FRESH_FOR: Duration = Duration::from_millis(900);
/// The longest an entry is kept, however fresh the cache is said to be.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Entries kept per kind (servers, keys); a full cache is emptied and fills again.
pub const MAX_ENTRIES: usize = 10_000;

/// The cache of one [`crate::Registry`].
#[derive(Default)]
pub(crate) struct Cache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Incremented by every reported change; see [`Ticket`].
    generation: u64,
    /// Until when the cache may answer; `None` until a watcher first confirms it.
    fresh_until: Option<Instant>,
    servers: HashMap<TokenHash, Cached<(ServerEntry, TokenHash)>>,
    keys: HashMap<(KeyKind, TokenHash), Cached<(KeyEntry, TokenHash)>>,
}

struct Cached<T> {
    value: Arc<T>,
    at: Instant,
}

/// Taken before a lookup goes to the store: what it found is cached only if the generation is
/// the same when it comes back.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

impl Cache {
    pub(crate) fn server(&self, hash: &TokenHash) -> Option<Arc<(ServerEntry, TokenHash)>> {
        let now = Instant::now();
        let state = self.state();
        let cached = state.servers.get(hash)?;
        (state.is_fresh(now) && now.duration_since(cached.at) < MAX_AGE).then(|| cached.value.clone())
    }

    pub(crate) fn key(&self, kind: KeyKind, hash: &TokenHash) -> Option<Arc<(KeyEntry, TokenHash)>> {
        let now = Instant::now();
        let state = self.state();
        let cached = state.keys.get(&(kind, *hash))?;
        (state.is_fresh(now) && now.duration_since(cached.at) < MAX_AGE).then(|| cached.value.clone())
    }

    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.state().generation)
    }

    pub(crate) fn keep_server(&self, ticket: Ticket, hash: TokenHash, value: (ServerEntry, TokenHash)) {
        let now = Instant::now();
        let mut state = self.state();
        if state.may_keep(ticket, now) {
            if state.servers.len() >= MAX_ENTRIES {
                state.servers.clear();
            }
            state.servers.insert(hash, Cached::new(value, now));
        }
    }

    pub(crate) fn keep_key(
        &self,
        ticket: Ticket,
        kind: KeyKind,
        hash: TokenHash,
        value: (KeyEntry, TokenHash),
    ) {
        let now = Instant::now();
        let mut state = self.state();
        if state.may_keep(ticket, now) {
            if state.keys.len() >= MAX_ENTRIES {
                state.keys.clear();
            }
            state.keys.insert((kind, hash), Cached::new(value, now));
        }
    }

    /// Something may have changed: forget everything, and drop what lookups in flight bring.
    pub(crate) fn changed(&self) {
        let mut state = self.state();
        state.generation = state.generation.wrapping_add(1);
        state.servers.clear();
        state.keys.clear();
    }

    /// Every change committed before `as_of` has been reported: the cache may answer until
    /// `as_of + FRESH_FOR`.
    pub(crate) fn confirm(&self, as_of: Instant) {
        let until = as_of + FRESH_FOR;
        let mut state = self.state();
        if state.fresh_until.is_none_or(|current| current < until) {
            state.fresh_until = Some(until);
        }
    }

    /// The watcher lost track of changes: answer nothing until it confirms again.
    pub(crate) fn lost(&self) {
        let mut state = self.state();
        state.fresh_until = None;
        state.generation = state.generation.wrapping_add(1);
        state.servers.clear();
        state.keys.clear();
    }

    pub(crate) fn is_fresh(&self) -> bool {
        self.state().is_fresh(Instant::now())
    }

    /// The state, also after a panic elsewhere while it was held: every change to it is
    /// complete before the lock is released, so it is never half-written.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_some_and(|until| now < until)
    }

    fn may_keep(&self, ticket: Ticket, now: Instant) -> bool {
        ticket.0 == self.generation && self.is_fresh(now)
    }
}

impl<T> Cached<T> {
    fn new(value: T, at: Instant) -> Self {
        Self {
            value: Arc::new(value),
            at,
        }
    }
}

/// What a store's watcher tells the cache it keeps fresh (see [`crate::RegistryStore::watch`]).
#[derive(Clone)]
pub struct Freshness(pub(crate) Arc<Cache>);

impl std::fmt::Debug for Freshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Freshness").field(&self.0.is_fresh()).finish()
    }
}

impl Freshness {
    /// Something in the store changed (or may have): every cached answer is dropped.
    pub fn changed(&self) {
        self.0.changed();
    }

    /// Every change committed before `as_of` has been reported with [`Freshness::changed`], so
    /// the cache may answer for [`FRESH_FOR`] after `as_of`. Take `as_of` *before* the check
    /// that confirms it.
    pub fn confirm(&self, as_of: Instant) {
        self.0.confirm(as_of);
    }

    /// The watcher can no longer tell changes (its connection dropped): every cached answer is
    /// dropped and lookups go to the store until [`Freshness::confirm`] is called again.
    pub fn lost(&self) {
        self.0.lost();
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn entry(id: &str) -> (ServerEntry, TokenHash) {
        let entry = ServerEntry {
            id: id.into(),
            name: id.into(),
            methods: vec!["read".into()],
            tags: Vec::new(),
            expires_at: None,
            require_api_token_auth: false,
            created_at: UNIX_EPOCH,
        };
        (entry, [1; 32])
    }

    fn hash(n: usize) -> TokenHash {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(n as u64).to_le_bytes());
        hash
    }

    #[test]
    fn nothing_is_answered_before_a_watcher_confirms_the_cache() {
        let cache = Cache::default();
        cache.keep_server(cache.ticket(), hash(1), entry("srv_1"));
        assert!(cache.server(&hash(1)).is_none());
        cache.confirm(Instant::now());
        cache.keep_server(cache.ticket(), hash(1), entry("srv_1"));
        assert_eq!(
            cache.server(&hash(1)).map(|found| found.0.id.clone()).as_deref(),
            Some("srv_1")
        );
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept_after_it() {
        let cache = Cache::default();
        cache.confirm(Instant::now());
        let ticket = cache.ticket();
        cache.changed();
        cache.keep_server(ticket, hash(1), entry("srv_1"));
        assert!(cache.server(&hash(1)).is_none());
    }

    #[test]
    fn a_confirmation_lapses_and_a_lost_watcher_empties_the_cache() {
        let cache = Cache::default();
        cache.confirm(Instant::now());
        cache.keep_server(cache.ticket(), hash(1), entry("srv_1"));
        cache.lost();
        cache.confirm(Instant::now());
        assert!(
            cache.server(&hash(1)).is_none(),
            "a lost watcher forgets everything"
        );
        let lapsed = Cache::default();
        let long_ago = Instant::now()
            .checked_sub(FRESH_FOR * 2)
            .expect("the clock is past 2 s");
        lapsed.confirm(long_ago);
        lapsed.keep_server(lapsed.ticket(), hash(1), entry("srv_1"));
        assert!(
            lapsed.server(&hash(1)).is_none(),
            "a lapsed confirmation answers nothing"
        );
    }

    #[test]
    fn memory_is_bounded_whatever_is_looked_up() {
        let cache = Cache::default();
        cache.confirm(Instant::now() + Duration::from_secs(60));
        for n in 0..MAX_ENTRIES + 10 {
            cache.keep_server(cache.ticket(), hash(n), entry("srv"));
            cache.keep_key(
                cache.ticket(),
                KeyKind::ApiToken,
                hash(n),
                (
                    KeyEntry {
                        id: "tok".into(),
                        name: "tok".into(),
                        created_at: UNIX_EPOCH,
                    },
                    [1; 32],
                ),
            );
        }
        let state = cache.state();
        assert!(state.servers.len() <= MAX_ENTRIES && state.keys.len() <= MAX_ENTRIES);
    }
}
