//! Where entries are kept: the [`RegistryStore`] trait every store implements.
//!
//! The trait is async, as rmcp's session and credential stores are: the HTTP server calls it on
//! its async workers, so a store must never block one. PostgreSQL is async to the socket; the
//! SQLite store runs its blocking calls on tokio's blocking pool.

use std::time::SystemTime;

use runtime::tool::BoxFuture;

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
}
