//! Where entries are kept: the [`RegistryStore`] trait every store implements.
//!
//! The trait is async, as rmcp's session and credential stores are: the HTTP server calls it on
//! its async workers, so a store must never block one. PostgreSQL is async to the socket; the
//! SQLite store runs its blocking calls on tokio's blocking pool.
//!
//! A store also says when what it holds changes ([`RegistryStore::watch`]), so the registry can
//! answer lookups from memory (see `crate::cache`) and still honour a revocation made by another
//! replica or process within a second.

use std::time::SystemTime;

use runtime::tool::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::cache::Freshness;

use crate::entry::{KeyEntry, KeyKind, ServerEntry, TokenHash};
use crate::error::RegistryError;

/// What a store call returns: a boxed future, so stores can be trait objects.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, RegistryError>>;

/// Storage of the registry. Implementations keep hashes only.
pub trait RegistryStore: Send + Sync {
    fn insert_server<'a>(&'a self, entry: &'a ServerEntry, token_hash: &'a TokenHash) -> StoreFuture<'a, ()>;
    fn list_servers(&self) -> StoreFuture<'_, Vec<ServerEntry>>;
    /// The entry whose stored hash equals `token_hash`, with that stored hash.
    fn server_by_hash<'a>(
        &'a self,
        token_hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(ServerEntry, TokenHash)>>;
    /// Deletes by id or name; the deleted entry, if any.
    fn delete_server<'a>(&'a self, id_or_name: &'a str) -> StoreFuture<'a, Option<ServerEntry>>;
    /// Deletes the entries expired at `now`; the deleted entries, for the audit log.
    fn purge_expired(&self, now: SystemTime) -> StoreFuture<'_, Vec<ServerEntry>>;
    fn insert_key<'a>(
        &'a self,
        kind: KeyKind,
        entry: &'a KeyEntry,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, ()>;
    fn list_keys(&self, kind: KeyKind) -> StoreFuture<'_, Vec<KeyEntry>>;
    fn key_by_hash<'a>(
        &'a self,
        kind: KeyKind,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(KeyEntry, TokenHash)>>;
    fn delete_key<'a>(&'a self, kind: KeyKind, id_or_name: &'a str) -> StoreFuture<'a, Option<KeyEntry>>;
    /// A cheap round trip to the storage, so a readiness probe can tell a reachable registry
    /// from one that is down.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Tells `freshness` of every change committed by anyone (this process, another replica,
    /// the command line) until `stop` fires: [`Freshness::changed`] when something may have
    /// changed, [`Freshness::confirm`] as often as it can vouch that nothing went unreported,
    /// [`Freshness::lost`] when it can no longer tell. Runs on the server's runtime and must
    /// never block it.
    ///
    /// The default watches nothing and returns: the cache is then never confirmed, and every
    /// lookup goes to the store.
    fn watch(&self, freshness: Freshness, stop: CancellationToken) -> BoxFuture<'_, ()> {
        let _ = (freshness, stop);
        Box::pin(std::future::ready(()))
    }
}
