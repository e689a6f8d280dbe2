//! What the registry holds: scoped servers and keys as stored (hashes, never secrets), the
//! secrets minted for them, and the rules every name obeys.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use runtime::Scope;
use sha2::{Digest, Sha256};

use crate::error::RegistryError;
use runtime::rfc3339::format_time;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// The second factor a `require_api_token_auth` server asks for.
    ApiToken,
    /// Authenticates the admin HTTP API.
    AdminKey,
}

/// A freshly minted secret: shown once, never stored.
pub struct SecretToken(String);

impl SecretToken {
    pub(crate) fn generate() -> Self {
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

/// A name as stored: trimmed, not empty, at most [`MAX_NAME_CHARS`] characters, and free of
/// control and text-direction characters, which would make a name shown in a list or a log
/// read as something else.
pub(crate) fn checked_name(name: &str) -> Result<String, RegistryError> {
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

pub(crate) fn new_id(prefix: &str) -> String {
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
