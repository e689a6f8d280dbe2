//! Where entries are kept: the [`RegistryStore`] trait every store implements.

use std::time::SystemTime;

use crate::entry::{KeyEntry, KeyKind, ServerEntry, TokenHash};
use crate::error::RegistryError;

/// Storage of the registry. Implementations keep hashes only.
pub trait RegistryStore: Send + Sync {
    fn insert_server(&self, entry: &ServerEntry, token_hash: &TokenHash) -> Result<(), RegistryError>;
    fn list_servers(&self) -> Result<Vec<ServerEntry>, RegistryError>;
    /// The entry whose stored hash equals `token_hash`, with that stored hash.
    fn server_by_hash(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(ServerEntry, TokenHash)>, RegistryError>;
    /// Deletes by id or name; the deleted entry, if any.
    fn delete_server(&self, id_or_name: &str) -> Result<Option<ServerEntry>, RegistryError>;
    /// Deletes the entries expired at `now`; the deleted entries, for the audit log.
    fn purge_expired(&self, now: SystemTime) -> Result<Vec<ServerEntry>, RegistryError>;
    fn insert_key(&self, kind: KeyKind, entry: &KeyEntry, hash: &TokenHash) -> Result<(), RegistryError>;
    fn list_keys(&self, kind: KeyKind) -> Result<Vec<KeyEntry>, RegistryError>;
    fn key_by_hash(
        &self,
        kind: KeyKind,
        hash: &TokenHash,
    ) -> Result<Option<(KeyEntry, TokenHash)>, RegistryError>;
    fn delete_key(&self, kind: KeyKind, id_or_name: &str) -> Result<Option<KeyEntry>, RegistryError>;
    /// A cheap round trip to the storage, so a readiness probe can tell a reachable registry
    /// from one that is down.
    fn ping(&self) -> Result<(), RegistryError>;
}
