//! The registry of scoped MCP servers: one process serves many, each with its own methods,
//! tags, expiry and secret token.
//!
//! Tokens are 256-bit random values shown once at creation and stored only as SHA-256 hashes;
//! a presented token is hashed, looked up, and compared in constant time. Storage sits behind
//! [`RegistryStore`]: an embedded SQLite file for one replica, or a PostgreSQL database that
//! several replicas share (see [`RegistryLocation`]).
//!
//! Over HTTP the registry plugs into the runtime's server through one extension point
//! ([`http::RegistryHttp`]): it admits each `/mcp` request for a live entry, serves the admin
//! API, reports its storage to `/readyz` and purges expired entries.
//!
//! Lookups of live tokens are answered from memory while the store's watcher keeps the cache
//! fresh ([`Registry::keep_fresh`]; the rules are in `cache`), so admitting a request costs no
//! round trip to the store, and a change made anywhere still takes effect within a second.

mod cache;
mod entry;
mod error;
pub mod http;
mod location;
mod postgres;
mod sqlite;
mod store;
pub mod view;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use subtle::ConstantTimeEq as _;
use tokio_util::sync::CancellationToken;

use runtime::{Scope, Vocabulary};

use cache::Cache;
pub use cache::{FRESH_FOR, Freshness, MAX_AGE, MAX_ENTRIES};
pub use entry::{
    DEFAULT_METHODS, KeyEntry, KeyKind, MAX_NAME_CHARS, MIN_LIFETIME, NewServer, SecretToken, ServerEntry,
    TokenHash, hash_token,
};
use entry::{checked_name, from_unix, new_id, to_unix};
pub use error::{AccessDenied, RegistryError};
pub use location::{RegistryLocation, open_store};
pub use postgres::PostgresStore;
pub use runtime::rfc3339::{TimeError, format_time, parse_time};
pub use sqlite::SqliteStore;
pub use store::{RegistryStore, StoreFuture};

/// The registry's logic over a store, with the cache of its lookups.
pub struct Registry {
    store: Box<dyn RegistryStore>,
    cache: Arc<Cache>,
    lookups: Lookups,
}

/// `registry_lookups`: token and key lookups by where they were answered, `memory` or `store`.
/// A share of `store` that climbs and stays up says the cache is off (its listener is down).
#[derive(Clone)]
pub(crate) struct Lookups {
    pub(crate) family: Family<LookupSource, Counter>,
    memory: Counter,
    store: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LookupSource {
    source: &'static str,
}

impl Default for Lookups {
    fn default() -> Self {
        let family = Family::<LookupSource, Counter>::default();
        // Fetched once, so counting a lookup is one atomic increment with no label lookup.
        let memory = family.get_or_create(&LookupSource { source: "memory" }).clone();
        let store = family.get_or_create(&LookupSource { source: "store" }).clone();
        Self {
            family,
            memory,
            store,
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    /// A registry over `store`. Its cache answers nothing until [`Registry::keep_fresh`] runs.
    pub fn new(store: Box<dyn RegistryStore>) -> Self {
        Self {
            store,
            cache: Arc::default(),
            lookups: Lookups::default(),
        }
    }

    /// The lookup counters, for the HTTP face to register with `/metrics`.
    pub(crate) fn lookups(&self) -> &Lookups {
        &self.lookups
    }

    /// Keeps the cache of lookups fresh with the store's watcher until `stop` fires: run it on
    /// the server's runtime for as long as the registry serves requests.
    pub async fn keep_fresh(self: Arc<Self>, stop: CancellationToken) {
        self.store.watch(Freshness(self.cache.clone()), stop).await;
        // Whatever ended the watcher, nothing vouches for the cache any more.
        self.cache.lost();
    }

    /// Whether lookups are answered from memory now (the watcher confirmed the cache within
    /// [`FRESH_FOR`]).
    pub fn cache_is_fresh(&self) -> bool {
        self.cache.is_fresh()
    }

    /// Creates a server whose scope names only what `vocabulary` knows; `matches_any` says
    /// whether a scope selects at least one tool.
    pub async fn create_server(
        &self,
        new: NewServer,
        now: SystemTime,
        vocabulary: &Vocabulary,
        matches_any: impl Fn(&Scope) -> bool,
    ) -> Result<(ServerEntry, SecretToken), RegistryError> {
        let name = checked_name(&new.name)?;
        let default_methods: Vec<String> = DEFAULT_METHODS
            .iter()
            .map(|method| (*method).to_owned())
            .collect();
        let methods = new.methods.unwrap_or(default_methods);
        let scope = Scope::parse(Some(&methods), new.tags.as_deref(), vocabulary)?;
        if !matches_any(&scope) {
            return Err(RegistryError::EmptyScope(scope.to_string()));
        }
        if let Some(at) = new.expires_at
            && at < now + MIN_LIFETIME
        {
            return Err(RegistryError::ExpiresTooSoon(format_time(at)));
        }
        // Times are kept to the second, as stored, so what is returned is what is read back.
        let entry = ServerEntry {
            id: new_id("srv"),
            name,
            methods: scope.method_names(),
            tags: scope.tags.clone(),
            expires_at: new.expires_at.map(|at| from_unix(to_unix(at))),
            require_api_token_auth: new.require_api_token_auth,
            created_at: from_unix(to_unix(now)),
        };
        let token = SecretToken::generate();
        let inserted = self
            .store
            .insert_server(&entry, &hash_token(token.reveal()))
            .await;
        self.cache.changed();
        inserted?;
        Ok((entry, token))
    }

    pub async fn list_servers(&self) -> Result<Vec<ServerEntry>, RegistryError> {
        self.store.list_servers().await
    }

    /// Revokes a server; this process stops admitting its token before this returns, other
    /// replicas when their watchers report the change.
    pub async fn revoke_server(&self, id_or_name: &str) -> Result<Option<ServerEntry>, RegistryError> {
        let revoked = self.store.delete_server(id_or_name).await;
        // Even a failed call may have committed, so the cache is cleared either way.
        self.cache.changed();
        revoked
    }

    pub async fn purge_expired(&self, now: SystemTime) -> Result<Vec<ServerEntry>, RegistryError> {
        let purged = self.store.purge_expired(now).await;
        if !matches!(&purged, Ok(entries) if entries.is_empty()) {
            self.cache.changed();
        }
        purged
    }

    /// Whether the storage answers: what a readiness probe (`/readyz`) asks.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        self.store.ping().await
    }

    pub async fn create_key(
        &self,
        kind: KeyKind,
        name: &str,
        now: SystemTime,
    ) -> Result<(KeyEntry, SecretToken), RegistryError> {
        let name = checked_name(name)?;
        let prefix = match kind {
            KeyKind::ApiToken => "tok",
            KeyKind::AdminKey => "adm",
        };
        let entry = KeyEntry {
            id: new_id(prefix),
            name,
            created_at: from_unix(to_unix(now)),
        };
        let token = SecretToken::generate();
        let inserted = self
            .store
            .insert_key(kind, &entry, &hash_token(token.reveal()))
            .await;
        self.cache.changed();
        inserted?;
        Ok((entry, token))
    }

    pub async fn list_keys(&self, kind: KeyKind) -> Result<Vec<KeyEntry>, RegistryError> {
        self.store.list_keys(kind).await
    }

    pub async fn revoke_key(
        &self,
        kind: KeyKind,
        id_or_name: &str,
    ) -> Result<Option<KeyEntry>, RegistryError> {
        let revoked = self.store.delete_key(kind, id_or_name).await;
        self.cache.changed();
        revoked
    }

    /// Checks a server token (and, where required, the API token) at request time: the entry,
    /// and the API token that was checked, if one was.
    pub async fn authorize(
        &self,
        server_token: Option<&str>,
        api_token: Option<&str>,
        now: SystemTime,
    ) -> Result<(ServerEntry, Option<KeyEntry>), AccessDenied> {
        let token = server_token
            .filter(|token| !token.is_empty())
            .ok_or(AccessDenied::MissingToken)?;
        let presented = hash_token(token);
        let (entry, stored) = self
            .server_by_hash(&presented)
            .await
            .map_err(|_| AccessDenied::Unavailable)?
            .ok_or(AccessDenied::UnknownToken)?;
        if !bool::from(stored.ct_eq(&presented)) {
            return Err(AccessDenied::UnknownToken);
        }
        if let Some(at) = entry.expires_at
            && now >= at
        {
            return Err(AccessDenied::Expired(format_time(at)));
        }
        if !entry.require_api_token_auth {
            return Ok((entry, None));
        }
        let api_token = api_token.ok_or(AccessDenied::ApiTokenRequired)?;
        let key = self
            .check_key(KeyKind::ApiToken, api_token)
            .await
            .map_err(|denied| match denied {
                AccessDenied::Unavailable => AccessDenied::Unavailable,
                _ => AccessDenied::BadApiToken,
            })?;
        Ok((entry, Some(key)))
    }

    /// Checks an API token or admin key.
    pub async fn check_key(&self, kind: KeyKind, presented: &str) -> Result<KeyEntry, AccessDenied> {
        let hash = hash_token(presented);
        let (entry, stored) = self
            .key_by_hash(kind, &hash)
            .await
            .map_err(|_| AccessDenied::Unavailable)?
            .ok_or(AccessDenied::UnknownToken)?;
        if bool::from(stored.ct_eq(&hash)) {
            Ok(entry)
        } else {
            Err(AccessDenied::UnknownToken)
        }
    }

    /// The server whose token hashes to `hash`: from the cache when it is fresh, else from the
    /// store (and then cached, if it exists).
    async fn server_by_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(ServerEntry, TokenHash)>, RegistryError> {
        if let Some(cached) = self.cache.server(hash) {
            self.lookups.memory.inc();
            return Ok(Some(cached.as_ref().clone()));
        }
        self.lookups.store.inc();
        let ticket = self.cache.ticket();
        let found = self.store.server_by_hash(hash).await?;
        if let Some(found) = &found {
            self.cache.keep_server(ticket, *hash, found.clone());
        }
        Ok(found)
    }

    /// The key of `kind` whose secret hashes to `hash`, as [`Registry::server_by_hash`] does.
    async fn key_by_hash(
        &self,
        kind: KeyKind,
        hash: &TokenHash,
    ) -> Result<Option<(KeyEntry, TokenHash)>, RegistryError> {
        if let Some(cached) = self.cache.key(kind, hash) {
            self.lookups.memory.inc();
            return Ok(Some(cached.as_ref().clone()));
        }
        self.lookups.store.inc();
        let ticket = self.cache.ticket();
        let found = self.store.key_by_hash(kind, hash).await?;
        if let Some(found) = &found {
            self.cache.keep_key(ticket, kind, *hash, found.clone());
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
