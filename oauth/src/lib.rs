//! The OAuth 2.1 resource server in front of `/mcp`, as the MCP authorization specification
//! asks of an HTTP server that authenticates: protected resource metadata (RFC 9728), bearer
//! challenges (RFC 6750), JWT access tokens (RFC 9068) checked against each configured issuer's
//! published keys and bound to this resource (RFC 8707), and token scopes mapped onto tools.
//!
//! It plugs into the runtime's HTTP server as one [`HttpExtension`] ([`OAuthHttp`]), like the
//! registry, and can sit in front of it: a JWT goes to this gate, a registry token to the
//! registry's, and `/mcp/<token>` is the registry's alone. The bearer token is only ever read
//! here; upstream calls carry the server's own credentials, never the client's token.

mod challenge;
pub mod fetch;
mod gate;
pub mod keys;
pub mod metrics;
pub mod scopes;
pub mod token;
mod verified;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::routing::get;
use jsonwebtoken::Algorithm;
use runtime::ToolSpec;
use runtime::extension::HttpExtension;
use runtime::ops::{CheckFailed, ReadinessCheck};
use runtime::tool::BoxFuture;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use crate::fetch::Transport;
use crate::fetch::{FetchError, Fetcher};
use crate::keys::IssuerKeys;
pub use crate::metrics::OAuthMetrics;
pub use crate::scopes::{ScopeMap, ScopeMapError};
use crate::token::Validator;
pub use crate::token::{ASYMMETRIC, Claims, Rejection};

/// Where RFC 9728 puts the metadata of a resource at the root of its origin.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// How the resource server is set up; [`OAuthHttp::new`] refuses settings it cannot serve.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    /// The origin clients reach this server at (`https://mcp.example.com`): the resource is
    /// its `/mcp`.
    pub public_url: String,
    /// The authorization servers whose tokens are accepted, by issuer identifier.
    pub issuers: Vec<String>,
    pub transport: Transport,
    /// Audiences accepted besides the resource's own URL.
    pub extra_audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    /// Accept only tokens typed `at+jwt` (RFC 9068 §2.1).
    pub require_access_token_type: bool,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The least time between two key-set refreshes a token naming an unknown key may cause.
    pub key_set_cooldown: Duration,
    /// How often the key sets are refreshed in the background.
    pub key_set_max_age: Duration,
    pub scopes: ScopeMap,
    /// `resource_name` in the metadata.
    pub resource_name: String,
    /// How long a request body may take to arrive (the server's own limit).
    pub body_read_timeout: Duration,
    /// A registry serves its tokens on `/mcp` too (see [`OAuthHttp`]).
    pub tokens_beside: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("--public-url: {0}")]
    PublicUrl(String),
    #[error("--oauth-issuer: {0}")]
    Issuer(String),
    #[error("--oauth-issuer: none given")]
    NoIssuer,
    #[error("--oauth-scope: no scope allows any tool this server serves")]
    NoScopeServes,
    #[error("--oauth-algorithms: {0}")]
    Algorithm(String),
    #[error(transparent)]
    Client(#[from] FetchError),
}

/// The origin a `--public-url` names, canonical (lower-case scheme and host, no trailing
/// slash): the resource is its `/mcp`. A path, query or fragment is refused, since the
/// resource's metadata is served at the origin's root.
pub fn canonical_origin(public_url: &str) -> Result<String, OAuthError> {
    let parsed = url::Url::parse(public_url.trim())
        .map_err(|error| OAuthError::PublicUrl(format!("`{public_url}` is not a URL ({error})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(OAuthError::PublicUrl(format!(
            "`{public_url}` is not an http(s) URL"
        )));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(OAuthError::PublicUrl(format!(
            "`{public_url}` has a path, query or fragment: with OAuth, give the origin clients reach (https://mcp.example.com); the resource is its /mcp"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(OAuthError::PublicUrl(format!(
            "`{public_url}` carries credentials"
        )));
    }
    // `Url` lower-cases the scheme and host, and drops a default port.
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// An issuer identifier as configured: a URL the transport allows, without query or fragment
/// (RFC 8414 §2). Kept exactly as written, since tokens must name it exactly.
pub fn check_issuer(issuer: &str, transport: Transport) -> Result<String, OAuthError> {
    let parsed = fetch::check_url(issuer, transport).map_err(OAuthError::Issuer)?;
    if parsed.query().is_some() {
        return Err(OAuthError::Issuer(format!("`{issuer}` has a query (?...)")));
    }
    Ok(issuer.to_owned())
}

/// The algorithms of `--oauth-algorithms`: asymmetric only, never `none` or HMAC, since the
/// keys come from a public key set.
pub fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, OAuthError> {
    let mut algorithms = Vec::new();
    for name in names.iter().flat_map(|name| name.split(',')).map(str::trim) {
        if name.is_empty() {
            continue;
        }
        let algorithm = ASYMMETRIC
            .into_iter()
            .find(|known| format!("{known:?}") == name)
            .ok_or_else(|| {
                OAuthError::Algorithm(format!(
                    "`{name}` is not one of {} (HMAC and none are never accepted)",
                    ASYMMETRIC.map(|known| format!("{known:?}")).join(", ")
                ))
            })?;
        if !algorithms.contains(&algorithm) {
            algorithms.push(algorithm);
        }
    }
    if algorithms.is_empty() {
        return Err(OAuthError::Algorithm("no algorithm given".into()));
    }
    Ok(algorithms)
}

/// The resource server's face on the HTTP server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OAuthHttp {
    gate: Arc<gate::Gate>,
    metadata: Arc<Value>,
    background_refresh: Duration,
    /// How soon the background task tries again after a failed refresh.
    retry: Duration,
}

impl OAuthHttp {
    /// The resource server for `settings`, admitting callers to the tools in `served` (by
    /// published name), counting in `metrics` (see [`OAuthMetrics::registered_in`]).
    pub fn new(
        settings: OAuthSettings,
        served: impl IntoIterator<Item = (&'static str, &'static ToolSpec)>,
        metrics: OAuthMetrics,
    ) -> Result<Self, OAuthError> {
        let origin = canonical_origin(&settings.public_url)?;
        if settings.issuers.is_empty() {
            return Err(OAuthError::NoIssuer);
        }
        let served: HashMap<&'static str, &'static ToolSpec> = served.into_iter().collect();
        // Only the scopes that reach a tool this server serves are advertised and granted: with
        // one integration configured, the other's scopes would grant nothing.
        let specs: Vec<&ToolSpec> = served.values().copied().collect();
        let scopes = settings.scopes.serving(&specs).ok_or(OAuthError::NoScopeServes)?;
        let resource = format!("{origin}/mcp");
        let metadata_url = format!("{origin}{METADATA_PATH}/mcp");
        let fetcher = Fetcher::new(settings.transport)?;
        let issuers = settings
            .issuers
            .iter()
            .map(|issuer| {
                check_issuer(issuer, settings.transport).map(|issuer| {
                    Arc::new(IssuerKeys::new(
                        issuer,
                        fetcher.clone(),
                        settings.key_set_cooldown,
                        settings.key_set_max_age,
                        metrics.clone(),
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut audiences = vec![resource.clone()];
        audiences.extend(settings.extra_audiences.iter().cloned());
        let metadata = json!({
            "resource": resource,
            "authorization_servers": settings.issuers,
            "scopes_supported": scopes.names().collect::<Vec<_>>(),
            "bearer_methods_supported": ["header"],
            "resource_name": settings.resource_name,
        });
        let challenges = challenge::Challenges::new(metadata_url, &scopes.narrowest());
        let gate = gate::Gate {
            validator: Validator::new(
                issuers,
                audiences,
                settings.algorithms.clone(),
                settings.leeway,
                settings.require_access_token_type,
            ),
            scopes,
            challenges,
            served,
            body_read_timeout: settings.body_read_timeout,
            tokens_beside: settings.tokens_beside,
            metrics,
        };
        Ok(Self {
            gate: Arc::new(gate),
            metadata: Arc::new(metadata),
            background_refresh: settings.key_set_max_age,
            retry: settings.key_set_cooldown.max(Duration::from_secs(1)),
        })
    }

    /// The protected resource metadata document.
    pub fn metadata(&self) -> &Value {
        &self.metadata
    }
}

/// Each issuer's metadata and key set, fetched once now (for `config check`): how many usable
/// keys it publishes, or why they could not be had.
pub async fn fetch_issuer_keys(settings: &OAuthSettings) -> Vec<(String, Result<usize, String>)> {
    let fetcher = match Fetcher::new(settings.transport) {
        Ok(fetcher) => fetcher,
        Err(error) => {
            return settings
                .issuers
                .iter()
                .map(|issuer| (issuer.clone(), Err(error.to_string())))
                .collect();
        }
    };
    let mut outcomes = Vec::new();
    for issuer in &settings.issuers {
        let keys = IssuerKeys::new(
            issuer.clone(),
            fetcher.clone(),
            settings.key_set_cooldown,
            settings.key_set_max_age,
            OAuthMetrics::default(),
        );
        let outcome = keys
            .fetch()
            .await
            .map(|keys| keys.len())
            .map_err(|error| error.to_string());
        outcomes.push((issuer.clone(), outcome));
    }
    outcomes
}

impl HttpExtension for OAuthHttp {
    fn layer(&self, mcp: axum::Router) -> axum::Router {
        mcp.layer(axum::middleware::from_fn_with_state(
            self.gate.clone(),
            gate::admit,
        ))
    }

    /// The metadata, at the path-suffixed location first tried by MCP clients and at the root.
    fn routes(&self) -> axum::Router {
        let metadata = self.metadata.clone();
        let serve = move || {
            let metadata = metadata.clone();
            async move { Json(metadata.as_ref().clone()) }
        };
        axum::Router::new()
            .route(&format!("{METADATA_PATH}/mcp"), get(serve.clone()))
            .route(METADATA_PATH, get(serve))
    }

    fn readiness_checks(&self) -> Vec<Arc<dyn ReadinessCheck>> {
        vec![Arc::new(IssuersLoaded(self.gate.clone()))]
    }

    /// Loads each issuer's keys at start, then refreshes them every `key_set_max_age`; while a
    /// set is missing or older than that (its issuer unreachable), retries every cooldown.
    fn background_tasks(&self, stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        self.gate
            .validator
            .issuers()
            .iter()
            .map(|issuer| {
                let issuer = issuer.clone();
                let stop = stop.clone();
                let every = self.background_refresh;
                let retry = self.retry;
                Box::pin(async move {
                    loop {
                        issuer.refresh_if_due().await;
                        let wait = if issuer.is_fresh() { every } else { retry };
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = stop.cancelled() => return,
                        }
                    }
                }) as BoxFuture<'static, ()>
            })
            .collect()
    }
}

/// Ready once every issuer's keys are loaded: before that, no token can be checked.
struct IssuersLoaded(Arc<gate::Gate>);

impl ReadinessCheck for IssuersLoaded {
    fn name(&self) -> &'static str {
        "oauth_issuers"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), CheckFailed>> {
        Box::pin(async move {
            let missing: Vec<&str> = self
                .0
                .validator
                .issuers()
                .iter()
                .filter(|issuer| !issuer.is_loaded())
                .map(|issuer| issuer.issuer.as_str())
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(CheckFailed(format!(
                    "OAuth issuer keys not loaded: {}",
                    missing.join(", ")
                )))
            }
        })
    }
}
