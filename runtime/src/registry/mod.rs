//! The registry of scoped MCP servers: one process serves many, each with its own methods,
//! tags, expiry and secret token.
//!
//! Tokens are 256-bit random values shown once at creation and stored only as SHA-256 hashes;
//! a presented token is hashed, looked up, and compared in constant time. Storage sits behind
//! [`RegistryStore`]: an embedded SQLite file for one replica, or a PostgreSQL database that
//! several replicas share (see [`RegistryLocation`]).

mod location;
mod postgres;
mod sqlite;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

pub use location::{RegistryLocation, open_store};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::scope::{Scope, ScopeError};

/// How far ahead an expiry must be when a server is created.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// A scoped server as stored (never with its token).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServerEntry {
    pub id: String,
    pub name: String,
    pub methods: Vec<String>,
    pub tags: Vec<String>,
    #[serde(serialize_with = "rfc3339_option")]
    pub expires_at: Option<SystemTime>,
    pub require_api_token_auth: bool,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
}

impl ServerEntry {
    pub fn scope(&self) -> Result<Scope, ScopeError> {
        Scope::parse(&self.methods, &self.tags)
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// An API token or admin key as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyEntry {
    pub id: String,
    pub name: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The second factor a `require_api_token_auth` server asks for.
    ApiToken,
    /// Authenticates the admin HTTP API.
    AdminKey,
}

/// A freshly minted secret: shown once, never stored.
pub struct SecretToken(String);

impl SecretToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

pub type TokenHash = [u8; 32];

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

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
    fn purge_expired(&self, now: SystemTime) -> Result<usize, RegistryError>;
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

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry storage: {0}")]
    Storage(String),
    #[error("a server named `{0}` already exists")]
    DuplicateName(String),
    #[error("`name` must not be empty")]
    EmptyName,
    #[error("`config`: {0}")]
    Scope(#[from] ScopeError),
    #[error("`config`: the scope ({0}) matches no tool; widen methods or tags")]
    EmptyScope(String),
    #[error("`expires_at` must be at least 60 s in the future (got {0})")]
    ExpiresTooSoon(String),
    #[error("`expires_at` is not an RFC 3339 time: {0}")]
    BadTime(String),
}

/// What a request presents, and why it may be refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    #[error("missing token")]
    MissingToken,
    /// Unknown and revoked tokens answer the same, so nobody learns which tokens exist.
    #[error("invalid or revoked token")]
    UnknownToken,
    #[error("this server expired at {0}")]
    Expired(String),
    #[error("API token required: send Authorization: Bearer <api token> with the /mcp/<token> URL")]
    ApiTokenRequired,
    #[error("invalid API token")]
    BadApiToken,
    #[error("registry unavailable")]
    Unavailable,
}

/// Options for a new server entry.
#[derive(Clone, Debug, Default)]
pub struct NewServer {
    pub name: String,
    pub methods: Vec<String>,
    pub tags: Vec<String>,
    pub expires_at: Option<SystemTime>,
    pub require_api_token_auth: bool,
}

/// The registry's logic over a store.
pub struct Registry {
    store: Box<dyn RegistryStore>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    pub fn new(store: Box<dyn RegistryStore>) -> Self {
        Self { store }
    }

    /// Creates a server; `matches_any` says whether a scope selects at least one tool.
    pub fn create_server(
        &self,
        new: NewServer,
        now: SystemTime,
        matches_any: impl Fn(&Scope) -> bool,
    ) -> Result<(ServerEntry, SecretToken), RegistryError> {
        let name = new.name.trim().to_owned();
        if name.is_empty() {
            return Err(RegistryError::EmptyName);
        }
        let scope = Scope::parse(&new.methods, &new.tags)?;
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
            methods: split(&new.methods),
            tags: split(&new.tags),
            expires_at: new.expires_at.map(|at| from_unix(to_unix(at))),
            require_api_token_auth: new.require_api_token_auth,
            created_at: from_unix(to_unix(now)),
        };
        let token = SecretToken::generate();
        self.store.insert_server(&entry, &hash_token(token.reveal()))?;
        Ok((entry, token))
    }

    pub fn list_servers(&self) -> Result<Vec<ServerEntry>, RegistryError> {
        self.store.list_servers()
    }

    pub fn revoke_server(&self, id_or_name: &str) -> Result<Option<ServerEntry>, RegistryError> {
        self.store.delete_server(id_or_name)
    }

    pub fn purge_expired(&self, now: SystemTime) -> Result<usize, RegistryError> {
        self.store.purge_expired(now)
    }

    /// Whether the storage answers: what a readiness probe (`/readyz`) asks.
    pub fn ping(&self) -> Result<(), RegistryError> {
        self.store.ping()
    }

    pub fn create_key(
        &self,
        kind: KeyKind,
        name: &str,
        now: SystemTime,
    ) -> Result<(KeyEntry, SecretToken), RegistryError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(RegistryError::EmptyName);
        }
        let prefix = match kind {
            KeyKind::ApiToken => "tok",
            KeyKind::AdminKey => "adm",
        };
        let entry = KeyEntry {
            id: new_id(prefix),
            name: name.to_owned(),
            created_at: from_unix(to_unix(now)),
        };
        let token = SecretToken::generate();
        self.store.insert_key(kind, &entry, &hash_token(token.reveal()))?;
        Ok((entry, token))
    }

    pub fn list_keys(&self, kind: KeyKind) -> Result<Vec<KeyEntry>, RegistryError> {
        self.store.list_keys(kind)
    }

    pub fn revoke_key(&self, kind: KeyKind, id_or_name: &str) -> Result<Option<KeyEntry>, RegistryError> {
        self.store.delete_key(kind, id_or_name)
    }

    /// Checks a server token (and, where required, the API token) at request time.
    pub fn authorize(
        &self,
        server_token: Option<&str>,
        api_token: Option<&str>,
        now: SystemTime,
    ) -> Result<ServerEntry, AccessDenied> {
        let token = server_token
            .filter(|token| !token.is_empty())
            .ok_or(AccessDenied::MissingToken)?;
        let presented = hash_token(token);
        let (entry, stored) = self
            .store
            .server_by_hash(&presented)
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
        if entry.require_api_token_auth {
            let api_token = api_token.ok_or(AccessDenied::ApiTokenRequired)?;
            self.check_key(KeyKind::ApiToken, api_token)
                .map_err(|denied| match denied {
                    AccessDenied::Unavailable => AccessDenied::Unavailable,
                    _ => AccessDenied::BadApiToken,
                })?;
        }
        Ok(entry)
    }

    /// Checks an API token or admin key.
    pub fn check_key(&self, kind: KeyKind, presented: &str) -> Result<KeyEntry, AccessDenied> {
        let hash = hash_token(presented);
        let (entry, stored) = self
            .store
            .key_by_hash(kind, &hash)
            .map_err(|_| AccessDenied::Unavailable)?
            .ok_or(AccessDenied::UnknownToken)?;
        if bool::from(stored.ct_eq(&hash)) {
            Ok(entry)
        } else {
            Err(AccessDenied::UnknownToken)
        }
    }
}

fn split(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect()
}

fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{prefix}_{hex}")
}

/// RFC 3339, seconds precision, UTC.
pub fn format_time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

pub fn parse_time(text: &str) -> Result<SystemTime, RegistryError> {
    humantime::parse_rfc3339_weak(text.trim())
        .map_err(|error| RegistryError::BadTime(format!("{text}: {error}")))
}

pub(crate) fn to_unix(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn from_unix(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

fn rfc3339<S: serde::Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*at))
}

fn rfc3339_option<S: serde::Serializer>(at: &Option<SystemTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&format_time(*at)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests;
