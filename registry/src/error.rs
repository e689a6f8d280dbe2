//! Why the registry refuses: a request it cannot serve ([`RegistryError`]) or a caller it does
//! not admit ([`AccessDenied`]). Neither knows HTTP; `crate::http` turns them into answers.

use runtime::scope::ScopeError;

use runtime::rfc3339::TimeError;

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
