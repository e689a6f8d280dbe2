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

use crate::rfc3339::TimeError;
pub use crate::rfc3339::{format_time, parse_time};
use crate::scope::{Scope, ScopeError, Vocabulary};

/// How far ahead an expiry must be when a server is created.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// The longest name of a server, API token or admin key, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The method filter of a server created without one: read-only, as the security model
/// promises. Writing needs a scope that says so.
pub const DEFAULT_METHODS: &[&str] = &["read"];

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
    /// The scope as stored, checked when the entry was made (see [`Scope::from_stored`]).
    pub fn scope(&self) -> Scope {
        Scope::from_stored(&self.methods, &self.tags)
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

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry storage: {0}")]
    Storage(String),
    #[error("a server named `{0}` already exists")]
    DuplicateName(String),
    #[error("`name` must not be empty")]
    EmptyName,
    #[error("`name` is {0} characters long; at most 200 are allowed")]
    NameTooLong(usize),
    #[error("`name` holds a control or text-direction character ({0}); use plain text")]
    NameCharacter(String),
    #[error("`config`: {0}")]
    Scope(#[from] ScopeError),
    #[error("`config`: the scope ({0}) matches no tool; widen methods or tags")]
    EmptyScope(String),
    #[error("`expires_at` must be at least 60 s in the future (got {0})")]
    ExpiresTooSoon(String),
    #[error("`expires_at`: {0}")]
    BadTime(#[from] TimeError),
}

/// What a request presents, and why it may be refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    #[error(
        "a server token is required: connect to /mcp/<token>, or send `Authorization: Bearer <token>` to /mcp (op-scim-mcp servers create makes one)"
    )]
    MissingToken,
    #[error(
        "an admin key is required: send `Authorization: Bearer <admin key>` (op-scim-mcp admin-keys create makes one)"
    )]
    MissingAdminKey,
    /// Unknown and revoked tokens answer the same, so nobody learns which tokens exist.
    #[error(
        "invalid or revoked server token: check the token in /mcp/<token> or in `Authorization: Bearer <token>` (op-scim-mcp servers list shows the live servers)"
    )]
    UnknownToken,
    #[error("invalid or revoked admin key (op-scim-mcp admin-keys list shows the live keys)")]
    UnknownAdminKey,
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
    /// `None`: [`DEFAULT_METHODS`]. An empty list is refused, never read as "every method".
    pub methods: Option<Vec<String>>,
    /// `None`: any tag.
    pub tags: Option<Vec<String>>,
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

    /// Creates a server whose scope names only what `vocabulary` knows; `matches_any` says
    /// whether a scope selects at least one tool.
    pub fn create_server(
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
        self.store.insert_server(&entry, &hash_token(token.reveal()))?;
        Ok((entry, token))
    }

    pub fn list_servers(&self) -> Result<Vec<ServerEntry>, RegistryError> {
        self.store.list_servers()
    }

    pub fn revoke_server(&self, id_or_name: &str) -> Result<Option<ServerEntry>, RegistryError> {
        self.store.delete_server(id_or_name)
    }

    pub fn purge_expired(&self, now: SystemTime) -> Result<Vec<ServerEntry>, RegistryError> {
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
        self.store.insert_key(kind, &entry, &hash_token(token.reveal()))?;
        Ok((entry, token))
    }

    pub fn list_keys(&self, kind: KeyKind) -> Result<Vec<KeyEntry>, RegistryError> {
        self.store.list_keys(kind)
    }

    pub fn revoke_key(&self, kind: KeyKind, id_or_name: &str) -> Result<Option<KeyEntry>, RegistryError> {
        self.store.delete_key(kind, id_or_name)
    }

    /// Checks a server token (and, where required, the API token) at request time: the entry,
    /// and the API token that was checked, if one was.
    pub fn authorize(
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
        if !entry.require_api_token_auth {
            return Ok((entry, None));
        }
        let api_token = api_token.ok_or(AccessDenied::ApiTokenRequired)?;
        let key = self
            .check_key(KeyKind::ApiToken, api_token)
            .map_err(|denied| match denied {
                AccessDenied::Unavailable => AccessDenied::Unavailable,
                _ => AccessDenied::BadApiToken,
            })?;
        Ok((entry, Some(key)))
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

/// A name as stored: trimmed, not empty, at most [`MAX_NAME_CHARS`] characters, and free of
/// control and text-direction characters, which would make a name shown in a list or a log
/// read as something else.
fn checked_name(name: &str) -> Result<String, RegistryError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(RegistryError::EmptyName);
    }
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(RegistryError::NameTooLong(length));
    }
    if let Some(bad) = name.chars().find(|c| c.is_control() || is_direction_mark(*c)) {
        return Err(RegistryError::NameCharacter(format!("U+{:04X}", u32::from(bad))));
    }
    Ok(name.to_owned())
}

/// Bidirectional marks, embeddings, overrides and isolates (Unicode UAX #9).
fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{prefix}_{hex}")
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
