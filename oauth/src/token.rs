//! Checking a JWT access token (RFC 9068) presented to this resource: signed by a configured
//! issuer's published key with an allowed algorithm, issued by that issuer exactly, meant for
//! this resource (`aud`), and within its validity (`exp`, `nbf`, with a small leeway).
//!
//! The signature and claim checks are `jsonwebtoken`'s; this module decides which key and
//! which rules apply. Nothing in an unverified token chooses a rule: the algorithm must be on
//! the allow-list (never `none`, never HMAC), and the unverified `iss` only picks which of the
//! configured issuers' keys to try, whose own `iss` is then required.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::keys::{IssuerKeys, KeyError};
use crate::verified::VerifiedTokens;

/// Tokens longer than this are refused unread; real access tokens are a few KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The asymmetric signature algorithms; the default allow-list.
pub const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Who a valid token speaks for, and what it was granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    /// The scope names granted, in the token's order.
    pub scopes: Vec<String>,
}

/// Why a token is refused. The texts go back to the client (`error_description`), so they say
/// what is wrong without echoing anything from the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    #[error("the access token is not a JWT")]
    Malformed,
    #[error("the access token is signed with {0}, which this server does not accept")]
    Algorithm(String),
    #[error("the token is not a JWT access token (typ at+jwt)")]
    NotAccessToken,
    #[error("the access token's issuer is not one this server trusts")]
    Issuer,
    #[error("the access token is signed with a key its issuer does not publish")]
    UnknownKey,
    #[error("the access token's signature does not verify")]
    Signature,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid yet")]
    NotYetValid,
    #[error("the access token is not meant for this resource (aud)")]
    Audience,
    #[error("the access token lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("the access token names neither a subject (sub) nor a client (client_id)")]
    NoIdentity,
    /// RFC 9449 / RFC 8705: the token may only be used with proof of a key this server does
    /// not check, so it is refused rather than taken as a plain bearer token.
    #[error("the access token is bound to a key (cnf), and this server does not check such proofs")]
    KeyBound,
    /// Not the token's fault: its issuer's keys could not be fetched.
    #[error("the access token's issuer cannot be reached to check it")]
    KeysUnavailable,
}

/// The rules a token is checked by.
#[derive(Debug)]
pub struct Validator {
    issuers: Vec<Arc<IssuerKeys>>,
    /// The resource's canonical URL first, then any others configured.
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    require_access_token_type: bool,
    verified: VerifiedTokens,
}

/// The claims read from a token whose signature and registered claims checked out.
#[derive(Deserialize)]
struct Payload {
    /// Required (checked by jsonwebtoken before this is read); a number, not always whole.
    exp: f64,
    sub: Option<String>,
    client_id: Option<String>,
    /// OpenID Connect's authorized party, which some providers put the client in.
    azp: Option<String>,
    /// Okta's client id.
    cid: Option<String>,
    /// RFC 9068 / RFC 8693: a space-separated string.
    scope: Option<String>,
    /// Some providers (Entra ID, Okta) use `scp`, a string or a list.
    scp: Option<Scopes>,
    /// A confirmation key (DPoP's `jkt`, mTLS's `x5t#S256`): present only on bound tokens.
    cnf: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    Spaced(String),
    Listed(Vec<String>),
}

/// Only the issuer, read before verification to pick the keys to verify with.
#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

impl Validator {
    pub fn new(
        issuers: Vec<Arc<IssuerKeys>>,
        audiences: Vec<String>,
        algorithms: Vec<Algorithm>,
        leeway: Duration,
        require_access_token_type: bool,
    ) -> Self {
        Self {
            issuers,
            audiences,
            algorithms,
            leeway,
            require_access_token_type,
            verified: VerifiedTokens::default(),
        }
    }

    pub fn issuers(&self) -> &[Arc<IssuerKeys>] {
        &self.issuers
    }

    /// The claims of `token` when every check passes: from memory when the same token passed
    /// them recently (the private `verified` module keeps them).
    pub async fn validate(&self, token: &str) -> Result<Arc<Claims>, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed);
        }
        let digest = VerifiedTokens::digest(token);
        if let Some(claims) = self.verified.get(&digest) {
            return Ok(claims);
        }
        let (claims, exp) = self.verify(token).await?;
        let claims = Arc::new(claims);
        self.verified
            .insert(digest, claims.clone(), exp.saturating_add(self.leeway.as_secs()));
        Ok(claims)
    }

    /// How many verified tokens are kept, for tests.
    pub fn verified_tokens(&self) -> usize {
        self.verified.len()
    }

    /// Every check, and the token's `exp`.
    async fn verify(&self, token: &str) -> Result<(Claims, u64), Rejection> {
        let (issuer, algorithm, kid) = self.inspect(token)?;
        let key = issuer
            .key(kid.as_deref(), algorithm)
            .await
            .map_err(|error| match error {
                KeyError::Unknown => Rejection::UnknownKey,
                KeyError::Unavailable => Rejection::KeysUnavailable,
            })?;
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[issuer.issuer.as_str()]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let data = jsonwebtoken::decode::<Payload>(token, &key.decoding, &validation)
            .map_err(|error| rejection(error.kind()))?;
        let payload = data.claims;
        if payload.cnf.is_some() {
            return Err(Rejection::KeyBound);
        }
        let client_id = payload.client_id.or(payload.azp).or(payload.cid);
        if payload.sub.is_none() && client_id.is_none() {
            return Err(Rejection::NoIdentity);
        }
        let scopes = match (payload.scope, payload.scp) {
            (Some(spaced), _) | (None, Some(Scopes::Spaced(spaced))) => {
                spaced.split_whitespace().map(str::to_owned).collect()
            }
            (None, Some(Scopes::Listed(listed))) => listed,
            (None, None) => Vec::new(),
        };
        let claims = Claims {
            issuer: issuer.issuer.clone(),
            subject: payload.sub,
            client_id,
            scopes,
        };
        // Saturating: a NaN or negative `exp` never got this far, a huge one stays huge.
        Ok((claims, payload.exp as u64))
    }

    /// The checks made before any key is looked up, on the token as sent: its shape, its
    /// header's algorithm and type, and which configured issuer it claims.
    fn inspect(&self, token: &str) -> Result<(&Arc<IssuerKeys>, Algorithm, Option<String>), Rejection> {
        if token.len() > MAX_TOKEN_BYTES || token.bytes().filter(|byte| *byte == b'.').count() != 2 {
            return Err(Rejection::Malformed);
        }
        // A header naming an algorithm jsonwebtoken does not know, `none` among them, fails
        // here; say which, when the header names one.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| algorithm_named(token).map_or(Rejection::Malformed, Rejection::Algorithm))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(Rejection::Algorithm(format!("`{:?}`", header.alg)));
        }
        if self.require_access_token_type
            && !header.typ.as_deref().is_some_and(|typ| {
                typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
            })
        {
            return Err(Rejection::NotAccessToken);
        }
        let unverified: UnverifiedIssuer =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| Rejection::Malformed)?;
        let claimed = unverified
            .iss
            .ok_or_else(|| Rejection::MissingClaim("iss".into()))?;
        let issuer = self
            .issuers
            .iter()
            .find(|issuer| issuer.issuer == claimed)
            .ok_or(Rejection::Issuer)?;
        Ok((issuer, header.alg, header.kid))
    }
}

/// What jsonwebtoken's refusal means for the client.
fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidAudience => Rejection::Audience,
        ErrorKind::InvalidIssuer => Rejection::Issuer,
        ErrorKind::MissingRequiredClaim(claim) => Rejection::MissingClaim(claim.clone()),
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => Rejection::Signature,
        _ => Rejection::Malformed,
    }
}

/// The `alg` a header names, for the message refusing it: short, and only letters and digits.
fn algorithm_named(token: &str) -> Option<String> {
    use base64::Engine as _;
    #[derive(Deserialize)]
    struct Alg {
        alg: String,
    }
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let named = serde_json::from_slice::<Alg>(&bytes).ok()?.alg;
    let shown: String = named
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    Some(if shown.is_empty() {
        "an unnamed algorithm".to_owned()
    } else {
        format!("`{shown}`")
    })
}
