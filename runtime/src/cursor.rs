//! Opaque, versioned, bounded, HMAC-signed pagination cursors.
//!
//! List tools take `limit` and `next_cursor`; the server turns a cursor back into the SCIM
//! `startIndex` of the next page. The model must not be able to invent, edit or reuse a cursor with
//! other filter arguments (it would silently skip or repeat users), so, like dropshot's page tokens,
//! a cursor is signed and bound to the query ("scope") it was issued for.
//!
//! Wire format, base64url without padding (76 characters):
//!
//! ```text
//! version (1 byte, = 1) || SHA-256(scope)[..16] || start_index (u64 big-endian) || HMAC-SHA256 tag (32 bytes)
//! ```
//!
//! The tag covers every preceding byte. It is kept at the full 32 bytes: the token is then 57 bytes,
//! a multiple of 3, so every base64 character carries payload and there are no non-canonical
//! spellings of a valid token; truncating to 16 bytes would save only 21 characters.
//! Only a digest of the scope travels, so filter values (e-mail addresses, names) never appear in a
//! cursor the model copies around.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The format of SCIM list cursors.
const VERSION: u8 = 1;

/// The same layout, for a SCIM list whose filters this server evaluates because the upstream
/// refused them ([`crate::scim_list`]): the version tells the next call to keep doing so.
pub const LOCAL_VERSION: u8 = 3;
const SCOPE_DIGEST_LEN: usize = 16;
const TAG_LEN: usize = 32;
const PAYLOAD_LEN: usize = 1 + SCOPE_DIGEST_LEN + 8;
const TOKEN_LEN: usize = PAYLOAD_LEN + TAG_LEN;

/// Longest token text `open` will look at. Issued tokens are 76 characters; the bound leaves room
/// for a future version while refusing to decode arbitrarily large input.
pub const MAX_CURSOR_LEN: usize = 128;

/// Minimum length of a configured secret, so an operator cannot configure a guessable key.
pub const MIN_SECRET_LEN: usize = 32;

/// Domain-separation label for deriving the key from a configured secret, so the same secret
/// reused elsewhere does not yield the same HMAC key.
const KEY_DERIVATION_LABEL: &[u8] = b"op-scim-mcp cursor key v1\0";

/// A 32-byte HMAC key for cursors. Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct CursorKey {
    bytes: [u8; 32],
}

/// A configured cursor secret was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorKeyError {
    /// The secret is shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("the cursor secret is {len} bytes long; it must be at least {min} bytes")]
    TooShort {
        /// Length of the configured secret.
        len: usize,
        /// Required minimum.
        min: usize,
    },
}

impl CursorKey {
    /// A fresh random key, the per-process default. Cursors then stop working across restarts and
    /// between replicas, which is why deployments with several replicas configure a shared secret.
    pub fn random() -> Self {
        Self {
            bytes: rand::random(),
        }
    }

    /// Derives the key from a configured secret (config file or environment) with
    /// `SHA-256(label || secret)`, so any secret length of at least [`MIN_SECRET_LEN`] bytes works.
    pub fn from_secret(secret: &[u8]) -> Result<Self, CursorKeyError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(CursorKeyError::TooShort {
                len: secret.len(),
                min: MIN_SECRET_LEN,
            });
        }
        let digest = Sha256::new()
            .chain_update(KEY_DERIVATION_LABEL)
            .chain_update(secret)
            .finalize();
        Ok(Self { bytes: digest.into() })
    }

    /// An HMAC-SHA256 instance keyed with this key.
    ///
    /// HMAC zero-pads keys shorter than the 64-byte block (RFC 2104 §2), so keying with the
    /// zero-padded block is the same function as keying with the 32 bytes, and it goes through the
    /// infallible fixed-size constructor instead of `new_from_slice`'s `Result`.
    fn mac(&self) -> HmacSha256 {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.bytes);
        HmacSha256::new(&block.into())
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

/// Where a body_cursor listing (a POST whose body carries the upstream's own cursor, as in
/// 1Password's Events API) resumes. Signed like a SCIM cursor, under format version 2:
///
/// ```text
/// 2 || SHA-256(scope)[..16] || skip (u32) || flags (u8) || [len (u16) || upstream cursor]
///   || [len (u16) || pinned start time] || HMAC-SHA256 tag (32 bytes)
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyPosition {
    /// The upstream cursor that fetches the page to resume in; `None`: the reset that started
    /// the listing.
    pub upstream: Option<String>,
    /// How many items of that upstream page were already returned.
    pub skip: u32,
    /// The start time the reset was sent with when the caller gave none, so that fetching the
    /// first page again asks for the same window (the upstream's default moves with its clock).
    pub pinned_start: Option<String>,
}

/// The version byte of [`BodyPosition`] cursors.
const BODY_VERSION: u8 = 2;

/// The longest upstream cursor or pinned time a body cursor carries.
pub const MAX_BODY_FIELD_LEN: usize = 1024;

/// Longest body cursor text `open_body` will look at.
pub const MAX_BODY_CURSOR_LEN: usize = 2900;

/// Where the next page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CursorPosition {
    /// The 1-based SCIM `startIndex` of the next page.
    pub start_index: u64,
}

/// Why a cursor was refused. The messages are written for the model, which can act on them
/// (send the cursor back unchanged, or start over); they reveal nothing about the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    /// Longer than any cursor this server issues; refused before decoding.
    #[error(
        "the cursor is {len} characters long, but this server's cursors are at most {max}; \
         pass next_cursor back exactly as returned, with the same filter arguments"
    )]
    TooLong {
        /// Length of the refused text, in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Not base64url, or not the size of a cursor.
    #[error(
        "the cursor is not in the format this server issues (it may be truncated or altered); \
         pass next_cursor back exactly as returned, with the same filter arguments"
    )]
    Malformed,
    /// A format version this server does not know.
    #[error(
        "the cursor has format version {0}, which this server does not accept; \
         start again from the first page by omitting next_cursor"
    )]
    UnsupportedVersion(u8),
    /// The HMAC tag does not verify: forged, altered, or issued under another key (e.g. before a
    /// restart when the key is per-process).
    #[error(
        "the cursor was not issued by this server or was altered; pass next_cursor back exactly \
         as returned, with the same filter arguments (or omit next_cursor to start again from \
         the first page)"
    )]
    BadSignature,
    /// Genuine, but issued for another tool or other filter arguments.
    #[error(
        "the cursor was issued for a different query; pass next_cursor back only with the same \
         tool and the same filter arguments it was returned with, or omit next_cursor to start \
         again from the first page"
    )]
    ScopeMismatch,
}

/// Issues and opens cursors under one key.
#[derive(Clone, Debug)]
pub struct CursorCodec {
    key: CursorKey,
}

impl CursorCodec {
    /// A codec signing with `key`.
    pub fn new(key: CursorKey) -> Self {
        Self { key }
    }

    /// A cursor for `position`, bound to `scope`.
    ///
    /// `scope` identifies the query: callers pass e.g. the tool name plus a canonical rendering of
    /// the filter arguments (not `limit`, which may change between pages). Only a digest of it goes
    /// into the token.
    pub fn issue(&self, scope: &str, position: CursorPosition) -> String {
        self.issue_as(VERSION, scope, position)
    }

    /// [`issue`](Self::issue) for a list filtered by this server.
    pub fn issue_local(&self, scope: &str, position: CursorPosition) -> String {
        self.issue_as(LOCAL_VERSION, scope, position)
    }

    fn issue_as(&self, version: u8, scope: &str, position: CursorPosition) -> String {
        let mut token = [0u8; TOKEN_LEN];
        token[0] = version;
        token[1..1 + SCOPE_DIGEST_LEN].copy_from_slice(&scope_digest(scope));
        token[1 + SCOPE_DIGEST_LEN..PAYLOAD_LEN].copy_from_slice(&position.start_index.to_be_bytes());
        let tag = self
            .key
            .mac()
            .chain_update(&token[..PAYLOAD_LEN])
            .finalize()
            .into_bytes();
        token[PAYLOAD_LEN..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The position in a cursor issued by [`issue`](Self::issue) for the same `scope`.
    ///
    /// Checks run from cheapest to most specific: length bound, base64, version, size, MAC
    /// (constant time), scope. The scope is compared only after the MAC so that a forged token
    /// always reports `BadSignature`, and `ScopeMismatch` means a genuine cursor reused elsewhere.
    pub fn open(&self, scope: &str, token: &str) -> Result<CursorPosition, CursorError> {
        self.open_as(VERSION, scope, token)
    }

    /// The position in a cursor issued by [`issue_local`](Self::issue_local).
    pub fn open_local(&self, scope: &str, token: &str) -> Result<CursorPosition, CursorError> {
        self.open_as(LOCAL_VERSION, scope, token)
    }

    fn open_as(&self, version: u8, scope: &str, token: &str) -> Result<CursorPosition, CursorError> {
        let bytes = decode(token, MAX_CURSOR_LEN, version)?;
        if bytes.len() != TOKEN_LEN {
            return Err(CursorError::Malformed);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        self.authenticate(payload, tag, scope)?;
        let mut index = [0u8; 8];
        index.copy_from_slice(&payload[1 + SCOPE_DIGEST_LEN..]);
        Ok(CursorPosition {
            start_index: u64::from_be_bytes(index),
        })
    }

    /// Checks a decoded cursor's tag, then its scope digest (the byte after the version): the
    /// MAC first (constant time), so a forged token always reports `BadSignature` and
    /// `ScopeMismatch` means a genuine cursor reused elsewhere.
    fn authenticate(&self, payload: &[u8], tag: &[u8], scope: &str) -> Result<(), CursorError> {
        self.key
            .mac()
            .chain_update(payload)
            .verify_slice(tag)
            .map_err(|_| CursorError::BadSignature)?;
        if payload.get(1..1 + SCOPE_DIGEST_LEN) != Some(&scope_digest(scope)[..]) {
            return Err(CursorError::ScopeMismatch);
        }
        Ok(())
    }

    /// A cursor for a body_cursor `position`, bound to `scope`; `None` when the upstream's
    /// cursor (or the pinned time) is longer than [`MAX_BODY_FIELD_LEN`].
    pub fn issue_body(&self, scope: &str, position: &BodyPosition) -> Option<String> {
        let mut token = Vec::with_capacity(64);
        token.push(BODY_VERSION);
        token.extend_from_slice(&scope_digest(scope));
        token.extend_from_slice(&position.skip.to_be_bytes());
        let flags = u8::from(position.upstream.is_some()) | (u8::from(position.pinned_start.is_some()) << 1);
        token.push(flags);
        for field in [&position.upstream, &position.pinned_start].into_iter().flatten() {
            if field.len() > MAX_BODY_FIELD_LEN {
                return None;
            }
            let length = u16::try_from(field.len()).ok()?;
            token.extend_from_slice(&length.to_be_bytes());
            token.extend_from_slice(field.as_bytes());
        }
        let tag = self.key.mac().chain_update(&token).finalize().into_bytes();
        token.extend_from_slice(&tag);
        Some(URL_SAFE_NO_PAD.encode(token))
    }

    /// The position in a cursor issued by [`issue_body`](Self::issue_body) for `scope`, with the
    /// same checks, in the same order, as [`open`](Self::open).
    pub fn open_body(&self, scope: &str, token: &str) -> Result<BodyPosition, CursorError> {
        let bytes = decode(token, MAX_BODY_CURSOR_LEN, BODY_VERSION)?;
        let fixed = 1 + SCOPE_DIGEST_LEN + 4 + 1;
        if bytes.len() < fixed + TAG_LEN {
            return Err(CursorError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        self.authenticate(payload, tag, scope)?;
        let mut skip = [0u8; 4];
        skip.copy_from_slice(&payload[1 + SCOPE_DIGEST_LEN..fixed - 1]);
        let flags = payload[fixed - 1];
        let mut rest = &payload[fixed..];
        let mut field = |present: bool| -> Result<Option<String>, CursorError> {
            if !present {
                return Ok(None);
            }
            let (length, tail) = rest.split_at_checked(2).ok_or(CursorError::Malformed)?;
            let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
            let (text, tail) = tail.split_at_checked(length).ok_or(CursorError::Malformed)?;
            rest = tail;
            String::from_utf8(text.to_vec())
                .map(Some)
                .map_err(|_| CursorError::Malformed)
        };
        let upstream = field(flags & 1 != 0)?;
        let pinned_start = field(flags & 2 != 0)?;
        if !rest.is_empty() || flags > 3 {
            return Err(CursorError::Malformed);
        }
        Ok(BodyPosition {
            upstream,
            skip: u32::from_be_bytes(skip),
            pinned_start,
        })
    }
}

/// A token's bytes, checked from cheapest to most specific: its length bound, base64, and the
/// version byte.
fn decode(token: &str, max: usize, version: u8) -> Result<Vec<u8>, CursorError> {
    if token.len() > max {
        return Err(CursorError::TooLong {
            len: token.len(),
            max,
        });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| CursorError::Malformed)?;
    let found = *bytes.first().ok_or(CursorError::Malformed)?;
    if found != version {
        return Err(CursorError::UnsupportedVersion(found));
    }
    Ok(bytes)
}

/// The first 16 bytes of SHA-256(scope): enough to tell queries apart (the MAC, not the digest,
/// provides authenticity).
fn scope_digest(scope: &str) -> [u8; SCOPE_DIGEST_LEN] {
    let digest = Sha256::digest(scope.as_bytes());
    let mut out = [0u8; SCOPE_DIGEST_LEN];
    out.copy_from_slice(&digest[..SCOPE_DIGEST_LEN]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SCOPE: &str = "list_users\u{0}filter=userName sw \"j\"";

    fn codec() -> CursorCodec {
        CursorCodec::new(CursorKey::from_secret(&[7u8; 32]).unwrap())
    }

    fn pos(start_index: u64) -> CursorPosition {
        CursorPosition { start_index }
    }

    #[test]
    fn a_body_position_round_trips_and_is_bound_to_its_scope() {
        let c = codec();
        for position in [
            BodyPosition {
                upstream: None,
                skip: 3,
                pinned_start: Some("2026-12-01T10:00:00Z".into()),
            },
            BodyPosition {
                upstream: Some("aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK".into()),
                skip: 0,
                pinned_start: None,
            },
        ] {
            let token = c.issue_body(SCOPE, &position).unwrap();
            assert_eq!(c.open_body(SCOPE, &token), Ok(position.clone()));
            assert_eq!(c.open_body("other", &token), Err(CursorError::ScopeMismatch));
            // A SCIM cursor is not a body cursor, nor the other way round.
            assert!(c.open(SCOPE, &token).is_err());
        }
        let scim = c.issue(SCOPE, pos(5));
        assert_eq!(c.open_body(SCOPE, &scim), Err(CursorError::UnsupportedVersion(1)));
        let long = BodyPosition {
            upstream: Some("x".repeat(MAX_BODY_FIELD_LEN + 1)),
            skip: 0,
            pinned_start: None,
        };
        assert_eq!(c.issue_body(SCOPE, &long), None);
    }

    #[test]
    fn an_altered_body_cursor_is_refused() {
        let c = codec();
        let position = BodyPosition {
            upstream: Some("abc".into()),
            skip: 1,
            pinned_start: None,
        };
        let token = c.issue_body(SCOPE, &position).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[18] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(c.open_body(SCOPE, &altered), Err(CursorError::BadSignature));
    }

    #[test]
    fn round_trip_returns_the_position() {
        let c = codec();
        let token = c.issue(SCOPE, pos(101));
        assert_eq!(token.len(), 76);
        assert!(token.len() <= MAX_CURSOR_LEN);
        assert_eq!(c.open(SCOPE, &token), Ok(pos(101)));
    }

    #[test]
    fn token_does_not_contain_the_scope() {
        let token = codec().issue("list_users alice@example.com", pos(1));
        assert!(!token.contains("alice"));
    }

    #[test]
    fn changing_any_character_fails() {
        let c = codec();
        let token = c.issue(SCOPE, pos(51));
        for i in 0..token.len() {
            let original = token.as_bytes()[i];
            for replacement in [b'A', b'z', b'0', b'-', b'_'] {
                if replacement == original {
                    continue;
                }
                let mut bytes = token.clone().into_bytes();
                bytes[i] = replacement;
                let tampered = String::from_utf8(bytes).unwrap();
                assert!(c.open(SCOPE, &tampered).is_err(), "char {i} -> {replacement}");
            }
        }
    }

    #[test]
    fn flipping_any_decoded_bit_fails() {
        let c = codec();
        let raw = URL_SAFE_NO_PAD.decode(c.issue(SCOPE, pos(51))).unwrap();
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut tampered = raw.clone();
                tampered[i] ^= 1 << bit;
                let err = c.open(SCOPE, &URL_SAFE_NO_PAD.encode(&tampered)).unwrap_err();
                if i == 0 {
                    assert!(matches!(err, CursorError::UnsupportedVersion(_)));
                } else {
                    assert_eq!(err, CursorError::BadSignature, "byte {i} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn truncation_fails() {
        let c = codec();
        let token = c.issue(SCOPE, pos(51));
        for len in 0..token.len() {
            let err = c.open(SCOPE, &token[..len]).unwrap_err();
            assert!(
                matches!(err, CursorError::Malformed | CursorError::BadSignature),
                "len {len}: {err:?}"
            );
        }
        assert_eq!(c.open(SCOPE, ""), Err(CursorError::Malformed));
    }

    #[test]
    fn appended_characters_fail() {
        let c = codec();
        let token = c.issue(SCOPE, pos(51));
        assert!(c.open(SCOPE, &format!("{token}AAAA")).is_err());
        assert!(c.open(SCOPE, &format!("{token}=")).is_err());
        assert!(c.open(SCOPE, &format!(" {token}")).is_err());
    }

    #[test]
    fn another_key_fails() {
        let token = codec().issue(SCOPE, pos(51));
        let other = CursorCodec::new(CursorKey::random());
        assert_eq!(other.open(SCOPE, &token), Err(CursorError::BadSignature));
    }

    #[test]
    fn another_scope_gives_scope_mismatch() {
        let c = codec();
        let token = c.issue(SCOPE, pos(51));
        assert_eq!(c.open("list_groups", &token), Err(CursorError::ScopeMismatch));
    }

    #[test]
    fn overlong_input_is_refused_before_decoding() {
        let junk = "!".repeat(MAX_CURSOR_LEN + 1);
        assert_eq!(
            codec().open(SCOPE, &junk),
            Err(CursorError::TooLong {
                len: MAX_CURSOR_LEN + 1,
                max: MAX_CURSOR_LEN
            })
        );
    }

    #[test]
    fn other_versions_are_unsupported() {
        let mut raw = URL_SAFE_NO_PAD.decode(codec().issue(SCOPE, pos(1))).unwrap();
        raw[0] = 2;
        assert_eq!(
            codec().open(SCOPE, &URL_SAFE_NO_PAD.encode(&raw)),
            Err(CursorError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn non_base64_is_malformed() {
        assert_eq!(codec().open(SCOPE, "not a cursor!"), Err(CursorError::Malformed));
        assert_eq!(
            codec().open(SCOPE, "eyJwYWdlIjoyfQ=="),
            Err(CursorError::Malformed)
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            CursorKey::from_secret(b"short").map(|_| ()),
            Err(CursorKeyError::TooShort { len: 5, min: 32 })
        );
    }

    #[test]
    fn different_secrets_give_different_keys() {
        let a = CursorCodec::new(CursorKey::from_secret(&[1u8; 40]).unwrap());
        let b = CursorCodec::new(CursorKey::from_secret(&[2u8; 40]).unwrap());
        let token = a.issue(SCOPE, pos(3));
        assert_eq!(b.open(SCOPE, &token), Err(CursorError::BadSignature));
        let a_again = CursorCodec::new(CursorKey::from_secret(&[1u8; 40]).unwrap());
        assert_eq!(a_again.open(SCOPE, &token), Ok(pos(3)));
    }

    #[test]
    fn padded_block_key_matches_slice_key() {
        let key = CursorKey::from_secret(&[9u8; 32]).unwrap();
        let via_slice = HmacSha256::new_from_slice(&key.bytes)
            .unwrap()
            .chain_update(b"msg")
            .finalize()
            .into_bytes();
        let via_block = key.mac().chain_update(b"msg").finalize().into_bytes();
        assert_eq!(via_slice, via_block);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = CursorKey::from_secret(&[0xAB; 32]).unwrap();
        let shown = format!("{key:?} {:?}", CursorCodec::new(key.clone()));
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn error_messages_tell_the_model_what_to_do() {
        let msg = CursorError::BadSignature.to_string();
        assert!(msg.starts_with(
            "the cursor was not issued by this server or was altered; pass next_cursor back \
             exactly as returned, with the same filter arguments"
        ));
        for err in [
            CursorError::TooLong { len: 200, max: 128 },
            CursorError::Malformed,
            CursorError::UnsupportedVersion(9),
            CursorError::BadSignature,
            CursorError::ScopeMismatch,
        ] {
            assert!(err.to_string().contains("next_cursor"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn round_trip_any_position_and_scope(start in any::<u64>(), scope in any::<String>()) {
            let c = codec();
            let token = c.issue(&scope, pos(start));
            prop_assert!(token.len() <= MAX_CURSOR_LEN);
            prop_assert_eq!(c.open(&scope, &token), Ok(pos(start)));
        }

        #[test]
        fn arbitrary_text_never_opens(text in "[A-Za-z0-9_-]{0,140}|.{0,140}") {
            prop_assert!(codec().open(SCOPE, &text).is_err());
        }
    }
}
