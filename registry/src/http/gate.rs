//! Who may call `/mcp`: the holder of a live entry's token, sent in the path (`/mcp/<token>`) or
//! as `Authorization: Bearer <token>`, plus the API token when the entry asks for one. The
//! admitted entry travels on as a [`Principal`] in the request's extensions, which the MCP
//! server scopes every list and call by.

use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use runtime::scope::Grant;
use runtime::server::{Caller, Principal};

use super::RegistryHttp;

/// `mcp` behind the gate: the path token lifted before routing, then every request checked.
pub(super) fn admit_entries(http: RegistryHttp, mcp: axum::Router) -> axum::Router {
    let gated = mcp.layer(axum::middleware::from_fn_with_state(http, gate_mcp));
    // Rewritten before routing, so `/mcp/<token>` reaches the `/mcp` route.
    axum::Router::new().fallback_service(tower::Layer::layer(
        &axum::middleware::from_fn(lift_path_token),
        gated,
    ))
}

/// A token taken from the `/mcp/<token>` path form before routing.
#[derive(Clone)]
struct PathToken(String);

/// Moves `/mcp/<token>` to `/mcp`, keeping the token aside.
async fn lift_path_token(mut request: Request, next: Next) -> Response {
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
///
/// A request a gate in front of this one admitted already (the OAuth resource server, for an
/// access token it validated) goes on as that gate admitted it.
async fn gate_mcp(State(http): State<RegistryHttp>, mut request: Request, next: Next) -> Response {
    if request.extensions().get::<Principal>().is_some() {
        return next.run(request).await;
    }
    let path_token = request
        .extensions()
        .get::<PathToken>()
        .map(|token| token.0.clone());
    let bearer = bearer(&request);
    // URL form: the bearer (if any) is the API token. Header form: the bearer is the server token.
    let (server_token, api_token) = match path_token {
        Some(token) => (Some(token), bearer),
        None => (bearer, None),
    };
    let authorized =
        http.registry
            .authorize(server_token.as_deref(), api_token.as_deref(), SystemTime::now());
    let outcome = http.on_registry("authorize", authorized).await;
    let (entry, api_token) = match outcome {
        Ok(admitted) => admitted,
        Err(denial) => return http.deny(denial).into_response(),
    };
    request.extensions_mut().insert(Principal {
        grant: Grant::of(entry.scope()),
        caller: Caller::Server {
            server_id: entry.id,
            server_name: entry.name,
            api_token_id: api_token.map(|key| key.id),
        },
    });
    next.run(request).await
}

/// The token of `Authorization: Bearer <token>`, if the request sends one.
pub(super) fn bearer(request: &Request) -> Option<String> {
    runtime::http_guard::bearer_token(request.headers()).map(str::to_owned)
}
