//! One issuer's signing keys: where they are (its metadata, RFC 8414 or OpenID discovery) and
//! the key set itself (JWKS), kept in memory by `kid`.
//!
//! A token naming a key not in the set triggers a refresh, so a key the provider rotated in is
//! accepted at once. But refreshes are single-flight (concurrent misses share one fetch) and
//! at most one per cooldown, so a flood of made-up `kid`s costs the provider one fetch per
//! cooldown, never one per request. The set is refreshed in the background too, every
//! `max_age`; when the provider cannot be reached, the last set stays in use for
//! [`MAX_STALE`] and is then dropped, so a key revoked at the provider while it was unreachable
//! does not live on indefinitely.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::fetch::{FetchError, Fetcher, check_url};
use crate::metrics::OAuthMetrics;

/// How long a key set is used when it cannot be refreshed.
pub const MAX_STALE: Duration = Duration::from_secs(24 * 60 * 60);

/// A key of the set, ready to verify with.
pub struct Key {
    pub kid: Option<String>,
    /// The algorithm the set pins the key to, if it does.
    pub algorithm: Option<Algorithm>,
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct KeySet {
    keys: Vec<Arc<Key>>,
    /// When it was fetched; `None` before the first successful fetch.
    fetched: Option<Instant>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The token names a key the issuer does not publish (or names none, and the issuer
    /// publishes several).
    #[error("the signing key is not one the issuer publishes")]
    Unknown,
    /// The issuer's keys could not be fetched, or only long ago.
    #[error("the issuer's keys are unavailable")]
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url} names issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("{url}: jwks_uri {reason}")]
    KeySetUrl { url: String, reason: String },
    #[error("the key set at {url} holds no key this server can verify with")]
    NoUsableKey { url: String },
}

/// The subset of RFC 8414 / OpenID Provider metadata this server reads.
#[derive(Debug, Deserialize)]
struct ServerMetadata {
    issuer: String,
    jwks_uri: Option<String>,
}

/// A JWK Set (RFC 7517 §5), its keys not yet read.
#[derive(Debug, Deserialize)]
struct PublishedKeys {
    keys: Vec<serde_json::Value>,
}

impl PublishedKeys {
    /// The keys this server can verify with, read key by key: one it cannot read (a new key
    /// type, an encryption key) is skipped, not a reason to refuse the whole set.
    fn usable(self) -> Vec<Arc<Key>> {
        self.keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
            .filter_map(|jwk| usable(&jwk))
            .map(Arc::new)
            .collect()
    }
}

/// The keys of one issuer.
#[derive(Debug)]
pub struct IssuerKeys {
    pub issuer: String,
    fetcher: Fetcher,
    set: RwLock<Arc<KeySet>>,
    /// Held by the one refresh in flight; the others wait on it instead of fetching too.
    refreshing: tokio::sync::Mutex<()>,
    /// When the last refresh started, successful or not.
    last_attempt: Mutex<Option<Instant>>,
    cooldown: Duration,
    max_age: Duration,
    metrics: OAuthMetrics,
}

impl IssuerKeys {
    pub fn new(
        issuer: String,
        fetcher: Fetcher,
        cooldown: Duration,
        max_age: Duration,
        metrics: OAuthMetrics,
    ) -> Self {
        Self {
            issuer,
            fetcher,
            set: RwLock::new(Arc::default()),
            refreshing: tokio::sync::Mutex::new(()),
            last_attempt: Mutex::new(None),
            cooldown,
            max_age,
            metrics,
        }
    }

    /// An issuer whose keys are the JWK Set `jwks`, known up front and never fetched: for
    /// fuzzing and tests, where nothing may reach the network.
    pub fn preloaded(issuer: String, jwks: &str) -> Result<Self, String> {
        let set: PublishedKeys = serde_json::from_str(jwks).map_err(|error| error.to_string())?;
        let keys = set.usable();
        let fetcher = Fetcher::new(crate::fetch::Transport::Https).map_err(|error| error.to_string())?;
        let now = Instant::now();
        Ok(Self {
            issuer,
            fetcher,
            set: RwLock::new(Arc::new(KeySet {
                keys,
                fetched: Some(now),
            })),
            refreshing: tokio::sync::Mutex::new(()),
            // A refresh is always "just done", and the set never ages.
            last_attempt: Mutex::new(Some(now)),
            cooldown: Duration::MAX,
            max_age: Duration::MAX,
            metrics: OAuthMetrics::default(),
        })
    }

    /// The key a token signed with `algorithm` and naming `kid` is checked with.
    pub async fn key(&self, kid: Option<&str>, algorithm: Algorithm) -> Result<Arc<Key>, KeyError> {
        let set = self.current();
        let fresh = set.fetched.is_some_and(|at| at.elapsed() < self.max_age);
        if fresh && let Some(key) = find(&set, kid, algorithm) {
            return Ok(key);
        }
        self.refresh_if_due().await;
        let set = self.current();
        match set.fetched {
            Some(at) if at.elapsed() < MAX_STALE => find(&set, kid, algorithm).ok_or(KeyError::Unknown),
            _ => Err(KeyError::Unavailable),
        }
    }

    /// Whether the key set was fetched within `max_age`.
    pub fn is_fresh(&self) -> bool {
        self.current()
            .fetched
            .is_some_and(|at| at.elapsed() < self.max_age)
    }

    /// Whether a key set has been fetched, recently enough to be used.
    pub fn is_loaded(&self) -> bool {
        self.current().fetched.is_some_and(|at| at.elapsed() < MAX_STALE)
    }

    /// Refreshes the key set unless a refresh started within the cooldown; waits for one
    /// already in flight rather than starting another.
    pub async fn refresh_if_due(&self) {
        if self.cooling_down() {
            return;
        }
        let _flight = self.refreshing.lock().await;
        // A refresh may have finished while this one waited.
        if self.cooling_down() {
            return;
        }
        if let Ok(mut last) = self.last_attempt.lock() {
            *last = Some(Instant::now());
        }
        match self.fetch().await {
            Ok(keys) => {
                self.metrics.key_set_fetch(&self.issuer, "ok");
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "OAuth issuer keys loaded");
                if let Ok(mut set) = self.set.write() {
                    *set = Arc::new(KeySet {
                        keys,
                        fetched: Some(Instant::now()),
                    });
                }
            }
            Err(error) => {
                self.metrics.key_set_fetch(&self.issuer, "error");
                tracing::warn!(issuer = %self.issuer, error = %error, "could not refresh the OAuth issuer's keys");
            }
        }
    }

    /// The issuer's metadata and key set, fetched now; for `config check` and the refreshes.
    pub async fn fetch(&self) -> Result<Vec<Arc<Key>>, DiscoveryError> {
        let (metadata_url, metadata) = self.metadata().await?;
        let Some(jwks_uri) = metadata.jwks_uri else {
            return Err(DiscoveryError::KeySetUrl {
                url: metadata_url,
                reason: "is missing".into(),
            });
        };
        check_url(&jwks_uri, self.fetcher.transport).map_err(|reason| DiscoveryError::KeySetUrl {
            url: metadata_url.clone(),
            reason,
        })?;
        let set: PublishedKeys = self.fetcher.json(&jwks_uri).await?;
        let keys = set.usable();
        if keys.is_empty() {
            return Err(DiscoveryError::NoUsableKey { url: jwks_uri });
        }
        Ok(keys)
    }

    /// The authorization server metadata: RFC 8414's well-known location first, then OpenID
    /// Connect discovery's; its `issuer` must be exactly the one configured (RFC 8414 §3.3).
    async fn metadata(&self) -> Result<(String, ServerMetadata), DiscoveryError> {
        let mut last = None;
        for url in metadata_urls(&self.issuer) {
            match self.fetcher.json::<ServerMetadata>(&url).await {
                Ok(metadata) if metadata.issuer == self.issuer => return Ok((url, metadata)),
                Ok(metadata) => {
                    return Err(DiscoveryError::IssuerMismatch {
                        url,
                        expected: self.issuer.clone(),
                        found: metadata.issuer,
                    });
                }
                // Some servers answer 400, 401 or 403 rather than 404 where they publish nothing.
                Err(error) if error.is_client_error() => last = Some(error),
                Err(error) => return Err(error.into()),
            }
        }
        Err(last
            .map(DiscoveryError::from)
            .unwrap_or_else(|| DiscoveryError::KeySetUrl {
                url: self.issuer.clone(),
                reason: "could not be discovered".into(),
            }))
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().map(|set| set.clone()).unwrap_or_default()
    }

    fn cooling_down(&self) -> bool {
        self.last_attempt
            .lock()
            .ok()
            .and_then(|last| *last)
            .is_some_and(|at| at.elapsed() < self.cooldown)
    }
}

/// RFC 8414 §3.1 (the well-known segment inserted before the issuer's path), then OpenID
/// Connect Discovery §4 (appended after it), where Keycloak, Entra ID and Okta publish.
pub fn metadata_urls(issuer: &str) -> [String; 2] {
    let trimmed = issuer.trim_end_matches('/');
    let (origin, path) = match trimmed.find("://").map(|at| at + 3) {
        Some(start) => match trimmed[start..].find('/') {
            Some(slash) => trimmed.split_at(start + slash),
            None => (trimmed, ""),
        },
        None => (trimmed, ""),
    };
    [
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{trimmed}/.well-known/openid-configuration"),
    ]
}

/// The key of `set` for a token naming `kid`, signed with `algorithm`: the one with that `kid`,
/// or, for a token naming none, the only key the set has.
fn find(set: &KeySet, kid: Option<&str>, algorithm: Algorithm) -> Option<Arc<Key>> {
    let fits = |key: &&Arc<Key>| key.algorithm.is_none_or(|pinned| pinned == algorithm);
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(fits)
            .find(|key| key.kid.as_deref() == Some(kid))
            .cloned(),
        None if set.keys.len() == 1 => set.keys.iter().find(fits).cloned(),
        None => None,
    }
}

/// A published key this server can verify signatures with: public (RSA, EC, OKP), meant for
/// signing. Symmetric keys (`oct`) never are: a key set is public, so anyone could sign with
/// one.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    if matches!(&jwk.common.public_key_use, Some(usage) if *usage != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match jwk.common.key_algorithm {
        None => None,
        Some(pinned) => Some(signing_algorithm(pinned)?),
    };
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        algorithm,
        decoding,
    })
}

/// The signature algorithm a key's `alg` names; `None` for encryption algorithms and HMAC.
fn signing_algorithm(pinned: KeyAlgorithm) -> Option<Algorithm> {
    Some(match pinned {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}
