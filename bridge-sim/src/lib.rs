//! A simulated 1Password SCIM bridge: an axum server that behaves like the real bridge, for the
//! demo, the tests and the benchmarks. Use it in-process ([`router`], [`spawn`]) or standalone
//! (the `bridge-sim` binary, [`run_standalone`]).
//!
//! # Faithful to the recorded bridge
//! "facts" is `shared/reference/1password-scim-facts.md`.
//! - Resources under `/`, `/scim` and `/scim/v2` (facts §1.2); `/ping` open, `/health` behind
//!   the token with the §1.4 JSON shape.
//! - POST answers **200** with the resource; user DELETE answers 204 and only suspends
//!   (`active:false`, the user stays listed); group DELETE really removes (facts §1.3, §2.3, §2.5).
//! - User ids are 26 upper-case base32 characters, group ids 26 lower-case (facts §2.2).
//! - Users carry `name{givenName,familyName,formatted}`, `displayName`, `active`, one primary
//!   email equal to `userName`, `preferredLanguage` (default `en`) and `meta{resourceType}` only;
//!   a `displayName` change re-derives the name by splitting at the first space (facts §2.2).
//! - Groups carry `meta{resourceType,created,lastModified}` in RFC 3339 `Z` form (facts §2.3).
//! - ServiceProviderConfig, ResourceTypes (with `startIndex: 0` and the singular
//!   `/scim/v2/User` endpoint) and Schemas as recorded (facts §3, §4, §2.1).
//! - `sortBy`/`sortOrder` accepted and ignored (facts §3); `startIndex` is 1-based (facts §4).
//!
//! # Inferred (no recording exists)
//! - Error bodies follow RFC 7644 §3.12 (facts §5 found none from the bridge).
//! - PUT is served for users and groups (facts §1.3 marks it uncertain).
//! - Groups return `members` `[{value, display}]` on GET and list (facts §2.3: never observed,
//!   because the recorded groups were empty); `excludedAttributes=members` omits them.
//! - Users do **not** carry `groups`: the schema advertises it read-only but no recorded user
//!   had it (facts §2.1/§2.2). Filtering on `groups` is accepted and matches nothing.
//! - The filter language is the full RFC 7644 grammar rather than the `eq`-only subset facts §3
//!   suggests might be the real limit, so that clients' filter builders can be exercised.
//! - Default page size is `max_page_size` (facts §4: the real default is unknown).
//! - Adding a member id that is not a user is 400 `invalidValue`; emails always mirror
//!   `userName`, and a PATCH that changes the primary email changes `userName`.
//! - `attributes`/`excludedAttributes` never drop what `/Schemas` marks `returned: always`
//!   (`userName`, `name`, `emails`), per RFC 7643 §7; removing `displayName` or `name.formatted`
//!   keeps the full name (both are derived from it) rather than blanking it.
//! - Third-party conformance: `tests/e2e/scim2_tester_check.py` runs scim2-tester against the
//!   simulator; `tests/e2e/scim2_tester_expected_failures.txt` lists, with reasons, the checks
//!   the real bridge fails too.
//! - Rate limiting, latency and 5xx injection are test features, not bridge behaviour (facts §5:
//!   no documented limits).
//!
//! # The Events API beside it
//! The same server answers 1Password's Events API (`/api/...`) with its own tokens, seeded
//! with the directory's history; SCIM changes made here appear in its audit events. See
//! [`events`].

mod clock;
mod config;
mod error;
pub mod events;
pub mod filter;
mod http;
mod listing;
mod model;
mod patch;
mod seed;
mod serve;
mod store;

pub use config::{ConfigError, Faults, HeaderFamily, RateLimitFault, SimArgs, SimConfig, random_token};
pub use error::{SCIM_JSON, ScimError, ScimType};
pub use serve::{RunningSim, run_standalone, spawn};

/// Builds the simulator's state (the seeded directory) and its routes.
pub fn router(config: SimConfig) -> axum::Router {
    http::build(config)
}
