//! HTTP access through the registry: `/mcp/<token>` and `/mcp` with `Authorization: Bearer`,
//! the admin API under `/admin`, and plain-HTTP rejections.
//!
//! Checks run on every request, so a created, revoked or expired server takes effect at once.
//! Logs name the server entry, never a token or key.
//!
//! Every registry call runs on tokio's blocking pool ([`on_registry`]): the stores do blocking
//! I/O (SQLite, a synchronous PostgreSQL client), which must not stall the async workers that
//! serve every other request. Storage failures are counted by operation in the metrics.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::AuditLog;
use crate::metrics::Metrics;
use crate::ops::{CheckFailed, ReadinessCheck};
use crate::registry::{AccessDenied, KeyKind, NewServer, Registry, RegistryError, ServerEntry, parse_time};
use crate::scope::{Scope, Vocabulary};
use crate::server::Principal;
use crate::tool::BoxFuture;
use crate::tool::Catalog;

/// What the access layers need.
#[derive(Clone, Debug)]
pub struct Access {
    pub registry: Arc<Registry>,
    /// Every integration the process knows: what a new server's scope may name and must match.
    pub catalogs: &'static [Catalog],
    /// Base of the URLs handed out, e.g. `https://mcp.example.com`.
    pub public_url: String,
    pub audit: Option<Arc<AuditLog>>,
    /// Where registry errors are counted: the instance the server's `Shared` holds, so they
    /// show on `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// A registry result whose error may be a storage failure (counted in the metrics) rather than
/// a refusal or a bad request (not counted).
pub trait RegistryFailure: Sized {
    fn is_storage_failure(&self) -> bool;
    /// The error standing for a registry task that never finished (it panicked).
    fn task_failed() -> Self;
}

impl RegistryFailure for AccessDenied {
    fn is_storage_failure(&self) -> bool {
        *self == AccessDenied::Unavailable
    }

    fn task_failed() -> Self {
        AccessDenied::Unavailable
    }
}

impl RegistryFailure for RegistryError {
    fn is_storage_failure(&self) -> bool {
        matches!(self, RegistryError::Storage(_))
    }

    fn task_failed() -> Self {
        RegistryError::Storage("the registry task failed".to_owned())
    }
}

impl Access {
    /// Runs `work` against the registry on the blocking pool and counts a storage failure under
    /// `operation` (a fixed name such as `authorize`, used as a metric label).
    async fn on_registry<T, E>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Registry) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: RegistryFailure + Send + 'static,
    {
        let registry = self.registry.clone();
        let outcome = tokio::task::spawn_blocking(move || work(&registry))
            .await
            .unwrap_or_else(|error| {
                tracing::error!(operation, error = %error, "registry task failed");
                Err(E::task_failed())
            });
        if let Err(error) = &outcome
            && error.is_storage_failure()
        {
            self.metrics.registry_error(operation);
        }
        outcome
    }
}

/// The registry is reachable, for `/readyz`.
pub struct RegistryCheck {
    access: Access,
}

impl RegistryCheck {
    pub fn new(access: Access) -> Self {
        Self { access }
    }
}

impl ReadinessCheck for RegistryCheck {
    fn name(&self) -> &'static str {
        "registry"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), CheckFailed>> {
        Box::pin(async move {
            self.access
                .on_registry("ping", Registry::ping)
                .await
                .map_err(|error| {
                    tracing::warn!(error = %error, "registry readiness check failed");
                    CheckFailed("registry unavailable".to_owned())
                })
        })
    }
}

/// A token taken from the `/mcp/<token>` path form before routing.
#[derive(Clone)]
struct PathToken(String);

/// Moves `/mcp/<token>` to `/mcp`, keeping the token aside; runs before routing.
pub async fn lift_path_token(mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if let Some(token) = path
        .strip_prefix("/mcp/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
    {
        let token = PathToken(token.to_owned());
        let rewritten = match request.uri().query() {
            Some(query) => format!("/mcp?{query}"),
            None => "/mcp".to_owned(),
        };
        if let Ok(uri) = rewritten.parse() {
            *request.uri_mut() = uri;
            request.extensions_mut().insert(token);
        }
    }
    next.run(request).await
}

/// Admits a request to `/mcp` for a live server entry and records who it is.
pub async fn gate_mcp(State(access): State<Access>, mut request: Request, next: Next) -> Response {
    let path_token = request
        .extensions()
        .get::<PathToken>()
        .map(|token| token.0.clone());
    let bearer = bearer(&request);
    // URL form: the bearer (if any) is the API token. Header form: the bearer is the server token.
    let (server_token, api_token) = match &path_token {
        Some(token) => (Some(token.as_str()), bearer.as_deref()),
        None => (bearer.as_deref(), None),
    };
    let (server_token, api_token) = (server_token.map(str::to_owned), api_token.map(str::to_owned));
    let outcome = access
        .on_registry("authorize", move |registry| {
            registry.authorize(server_token.as_deref(), api_token.as_deref(), SystemTime::now())
        })
        .await;
    let (entry, api_token) = match outcome {
        Ok(admitted) => admitted,
        Err(denial) => return denied(&denial),
    };
    request.extensions_mut().insert(Principal {
        scope: entry.scope(),
        server_id: entry.id,
        server_name: entry.name,
        api_token_id: api_token.map(|key| key.id),
    });
    next.run(request).await
}

fn bearer(request: &Request) -> Option<String> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn denied(denial: &AccessDenied) -> Response {
    tracing::info!(reason = %denial, "access denied");
    let status = match denial {
        AccessDenied::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut response = (status, Json(json!({ "error": denial.to_string() }))).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"op-scim-mcp\""),
    );
    response
}

/// The one place a registry error becomes an HTTP answer: storage failures are 503 and logged
/// (the body says no more), a name taken is 409, anything the request got wrong is 400.
fn registry_error(error: RegistryError) -> Response {
    let status = match &error {
        RegistryError::Storage(message) => {
            tracing::error!(error = %message, "registry storage failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "registry unavailable" })),
            )
                .into_response();
        }
        RegistryError::DuplicateName(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({ "error": error.to_string() }))).into_response()
}

/// The admin API: create, list and revoke scoped servers.
pub fn admin_router(access: Access) -> axum::Router {
    axum::Router::new()
        .route(
            "/admin/servers",
            axum::routing::get(list_servers).post(create_server),
        )
        .route("/admin/servers/{id}", axum::routing::delete(revoke_server))
        .layer(axum::middleware::from_fn_with_state(access.clone(), gate_admin))
        .with_state(access)
}

#[derive(Clone)]
struct Admin(String);

async fn gate_admin(State(access): State<Access>, mut request: Request, next: Next) -> Response {
    let Some(key) = bearer(&request) else {
        return denied(&AccessDenied::MissingAdminKey);
    };
    let checked = access
        .on_registry("check_key", move |registry| {
            registry.check_key(KeyKind::AdminKey, &key)
        })
        .await;
    match checked {
        Ok(admin) => {
            request.extensions_mut().insert(Admin(admin.id));
            next.run(request).await
        }
        Err(AccessDenied::UnknownToken) => denied(&AccessDenied::UnknownAdminKey),
        Err(denial) => denied(&denial),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    /// Absent: read-only, any tag ([`crate::registry::DEFAULT_METHODS`]).
    #[serde(default)]
    config: ConfigBody,
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    /// Absent: read-only. Present, it must name at least one method kind or name.
    #[serde(default)]
    methods: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    require_api_token_auth: bool,
}

/// The shape the product documents: `{id, name, config, expires_at, url}`.
pub fn describe(entry: &ServerEntry, url: Option<String>) -> Value {
    let mut value = json!({
        "id": entry.id,
        "name": entry.name,
        "config": {
            "methods": entry.methods,
            "tags": entry.tags,
            "require_api_token_auth": entry.require_api_token_auth,
        },
        "expires_at": entry.expires_at.map(crate::rfc3339::format_time),
        "created_at": crate::rfc3339::format_time(entry.created_at),
    });
    if let Some(url) = url {
        value["url"] = json!(url);
    }
    value
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn create_server(
    State(access): State<Access>,
    axum::Extension(admin): axum::Extension<Admin>,
    body: axum::body::Bytes,
) -> Response {
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let parsed: CreateBody = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(parsed) => parsed,
        Err(error) => return bad_request(format!("`{}`: {}", error.path(), error.inner())),
    };
    let expires_at = match parsed.expires_at.as_deref().map(parse_time).transpose() {
        Ok(at) => at,
        Err(error) => return registry_error(error.into()),
    };
    let new = NewServer {
        name: parsed.name,
        methods: parsed.config.methods,
        tags: parsed.config.tags,
        expires_at,
        require_api_token_auth: parsed.config.require_api_token_auth,
    };
    let catalogs = access.catalogs;
    let created = access
        .on_registry("create_server", move |registry| {
            registry.create_server(
                new,
                SystemTime::now(),
                &Vocabulary::of(catalogs),
                |scope: &Scope| Catalog::all_tools(catalogs).any(|tool| scope.allows(&tool.spec)),
            )
        })
        .await;
    let (entry, token) = match created {
        Ok(created) => created,
        Err(error) => return registry_error(error),
    };
    if let Err(error) = audit(&access, "server.create", &entry, &admin.0).await {
        // Fail closed: the token was never shown, so taking the entry back leaves no trace
        // of access that the log does not hold.
        tracing::error!(error = %error, server_id = %entry.id, "cannot audit a new server; taking it back");
        let id = entry.id.clone();
        let _ = access
            .on_registry("revoke_server", move |registry| registry.revoke_server(&id))
            .await;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the audit log cannot be written, so no server was created" })),
        )
            .into_response();
    }
    let url = format!(
        "{}/mcp/{}",
        access.public_url.trim_end_matches('/'),
        token.reveal()
    );
    (StatusCode::CREATED, Json(describe(&entry, Some(url)))).into_response()
}

async fn list_servers(State(access): State<Access>) -> Response {
    let listed = access
        .on_registry("list_servers", |registry| registry.list_servers())
        .await;
    match listed {
        Ok(entries) => {
            let servers: Vec<Value> = entries.iter().map(|entry| describe(entry, None)).collect();
            Json(json!({ "servers": servers })).into_response()
        }
        Err(error) => registry_error(error),
    }
}

async fn revoke_server(
    State(access): State<Access>,
    axum::Extension(admin): axum::Extension<Admin>,
    Path(id): Path<String>,
) -> Response {
    let target = id.clone();
    let revoked = access
        .on_registry("revoke_server", move |registry| registry.revoke_server(&target))
        .await;
    match revoked {
        Ok(Some(entry)) => {
            // A revocation is never held back by the log: taking access away comes first.
            if let Err(error) = audit(&access, "server.revoke", &entry, &admin.0).await {
                tracing::error!(error = %error, server_id = %entry.id, "could not audit a revocation");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no server `{id}`") })),
        )
            .into_response(),
        Err(error) => registry_error(error),
    }
}

/// One registry change in the audit log: what happened to which entry, and who did it.
pub fn change_record(entry: &ServerEntry, actor: &str) -> Value {
    json!({
        "server_id": entry.id,
        "server_name": entry.name,
        "actor": actor,
        "config": describe(entry, None)["config"],
    })
}

async fn audit(
    access: &Access,
    event: &str,
    entry: &ServerEntry,
    actor: &str,
) -> Result<(), crate::audit::AuditError> {
    match &access.audit {
        Some(audit) => audit.record(event, change_record(entry, actor)).await,
        None => Ok(()),
    }
}

/// Deletes expired entries every `every`, until `stop` fires.
pub async fn purge_periodically(
    access: Access,
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => match access
                .on_registry("purge_expired", |registry| registry.purge_expired(SystemTime::now()))
                .await
            {
                Ok(purged) if purged.is_empty() => {}
                Ok(purged) => {
                    tracing::info!(count = purged.len(), "purged expired servers");
                    for entry in &purged {
                        if let Err(error) = audit(&access, "server.purge", entry, "expiry").await {
                            tracing::error!(error = %error, server_id = %entry.id, "could not audit a purge");
                        }
                    }
                }
                Err(error) => tracing::warn!(error = %error, "purging expired servers failed"),
            },
            () = stop.cancelled() => return,
        }
    }
}
