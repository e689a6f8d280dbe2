//! The admin API: create, list and revoke scoped servers, for holders of an admin key.

use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use runtime::{Catalog, Scope, Vocabulary};
use serde::Deserialize;
use serde_json::{Value, json};

use super::RegistryHttp;
use super::gate::bearer;
use super::refusal::Refusal;
use crate::view::{change_record, describe};
use crate::{AccessDenied, KeyKind, NewServer, parse_time};

/// `/admin/servers` and `/admin/servers/{id}`, every request checked for an admin key.
pub(super) fn routes(http: RegistryHttp) -> axum::Router {
    axum::Router::new()
        .route(
            "/admin/servers",
            axum::routing::get(list_servers).post(create_server),
        )
        .route("/admin/servers/{id}", axum::routing::delete(revoke_server))
        .layer(axum::middleware::from_fn_with_state(http.clone(), gate_admin))
        .with_state(http)
}

/// The admin key that authenticated a request, by id: the actor of the change it makes.
#[derive(Clone)]
struct Admin(String);

async fn gate_admin(State(http): State<RegistryHttp>, mut request: Request, next: Next) -> Response {
    let Some(key) = bearer(&request) else {
        return http.deny(AccessDenied::MissingAdminKey).into_response();
    };
    let checked = http
        .on_registry("check_key", http.registry.check_key(KeyKind::AdminKey, &key))
        .await;
    match checked {
        Ok(admin) => {
            request.extensions_mut().insert(Admin(admin.id));
            next.run(request).await
        }
        Err(AccessDenied::UnknownToken) => http.deny(AccessDenied::UnknownAdminKey).into_response(),
        Err(denial) => http.deny(denial).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    /// Absent: read-only, any tag ([`crate::DEFAULT_METHODS`]).
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

async fn create_server(
    State(http): State<RegistryHttp>,
    axum::Extension(admin): axum::Extension<Admin>,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let parsed: CreateBody = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| Refusal::BadBody(format!("`{}`: {}", error.path(), error.inner())))?;
    let expires_at = parsed
        .expires_at
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(crate::RegistryError::from)?;
    let new = NewServer {
        name: parsed.name,
        methods: parsed.config.methods,
        tags: parsed.config.tags,
        expires_at,
        require_api_token_auth: parsed.config.require_api_token_auth,
    };
    let catalogs = http.catalogs;
    let vocabulary = Vocabulary::of(catalogs);
    let created = http
        .registry
        .create_server(new, SystemTime::now(), &vocabulary, |scope: &Scope| {
            Catalog::all_tools(catalogs).any(|tool| scope.allows(&tool.spec))
        });
    let (entry, token) = http.on_registry("create_server", created).await?;
    if let Err(error) = http.audit("server.create", change_record(&entry, &admin.0)).await {
        // Fail closed: the token was never shown, so taking the entry back leaves no trace
        // of access that the log does not hold.
        tracing::error!(error = %error, server_id = %entry.id, "cannot audit a new server; taking it back");
        let _ = http
            .on_registry("revoke_server", http.registry.revoke_server(&entry.id))
            .await;
        return Err(Refusal::Unaudited);
    }
    let url = format!("{}/mcp/{}", http.public_url.trim_end_matches('/'), token.reveal());
    Ok((StatusCode::CREATED, Json(describe(&entry, Some(url)))).into_response())
}

async fn list_servers(State(http): State<RegistryHttp>) -> Result<Json<Value>, Refusal> {
    let entries = http
        .on_registry("list_servers", http.registry.list_servers())
        .await?;
    let servers: Vec<Value> = entries.iter().map(|entry| describe(entry, None)).collect();
    Ok(Json(json!({ "servers": servers })))
}

async fn revoke_server(
    State(http): State<RegistryHttp>,
    axum::Extension(admin): axum::Extension<Admin>,
    Path(id): Path<String>,
) -> Result<StatusCode, Refusal> {
    let revoked = http
        .on_registry("revoke_server", http.registry.revoke_server(&id))
        .await?;
    let entry = revoked.ok_or(Refusal::NotFound(id))?;
    // A revocation is never held back by the log: taking access away comes first.
    if let Err(error) = http.audit("server.revoke", change_record(&entry, &admin.0)).await {
        tracing::error!(error = %error, server_id = %entry.id, "could not audit a revocation");
    }
    Ok(StatusCode::NO_CONTENT)
}
