//! Who may call `/mcp`: the bearer of a valid access token, as far as its scopes reach.
//!
//! The token is checked on the headers alone, before the body is read. A `tools/call` is then
//! checked against the token's scopes here, before rmcp and before anything reaches an
//! upstream, so that a refusal is HTTP 403 with the scopes to ask for (a tool's own error
//! would be a 200 that no client steps up from). The MCP server checks the same grant again
//! when it lists and calls tools: this gate is for the answer, not the only guard.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use runtime::ToolSpec;
use runtime::server::{Caller, Principal};
use serde::Deserialize;

use crate::challenge::Challenges;
use crate::metrics::OAuthMetrics;
use crate::scopes::ScopeMap;
use crate::token::{Rejection, Validator};

/// What the gate needs, shared by every request.
#[derive(Debug)]
pub struct Gate {
    pub validator: Validator,
    pub scopes: ScopeMap,
    pub challenges: Challenges,
    /// The tools the MCP server serves, by published name.
    pub served: HashMap<&'static str, &'static ToolSpec>,
    pub body_read_timeout: Duration,
    /// A registry serves its own tokens on `/mcp` too: a bearer that is not a JWT is left to it.
    pub tokens_beside: bool,
    pub metrics: OAuthMetrics,
}

/// The gate in front of the MCP routes.
pub(crate) async fn admit(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    // Every path this layer wraps is MCP (`/mcp`, and whatever rmcp's nested service answers
    // under it), so every one needs a token; only a registry's URL form, `/mcp/<token>`, is
    // left to the registry, when there is one behind this gate.
    if gate.tokens_beside && request.uri().path() != "/mcp" {
        return next.run(request).await;
    }
    let token = match bearer(&request) {
        None => {
            gate.metrics.request("no_token");
            return gate.challenges.no_token();
        }
        Some(token) if gate.tokens_beside && !looks_like_jwt(token) => return next.run(request).await,
        Some(token) => token.to_owned(),
    };
    let claims = match gate.validator.validate(&token).await {
        Ok(claims) => claims,
        Err(Rejection::KeysUnavailable) => {
            gate.metrics.request("unavailable");
            return gate
                .challenges
                .unavailable(&Rejection::KeysUnavailable.to_string());
        }
        Err(rejection) => {
            tracing::debug!(reason = %rejection, "OAuth access token refused");
            gate.metrics.request("invalid_token");
            return gate.challenges.invalid_token(&rejection.to_string());
        }
    };
    let grant = gate.scopes.grant(claims.scopes.iter().map(String::as_str));
    if grant.is_nothing() {
        gate.metrics.request("insufficient_scope");
        return gate.challenges.insufficient_scope(
            &gate.scopes.narrowest(),
            "the access token carries none of this resource's scopes",
        );
    }
    if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        let bytes = match runtime::http_guard::read_body(body, gate.body_read_timeout).await {
            Ok(bytes) => bytes,
            Err(refusal) => return refusal,
        };
        if let Some(spec) = called_tool(&bytes).and_then(|name| gate.served.get(name.as_ref()))
            && !grant.allows(spec)
        {
            gate.metrics.request("insufficient_scope");
            let needed = gate.scopes.needed_for(spec);
            let reason = if needed.is_empty() {
                format!("no scope of this resource allows the tool `{}`", spec.name)
            } else {
                format!("the tool `{}` needs the scope {}", spec.name, needed.join(" or "))
            };
            return gate.challenges.insufficient_scope(&needed, &reason);
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    gate.metrics.request("admitted");
    request.extensions_mut().insert(Principal {
        grant,
        caller: Caller::OAuth {
            issuer: claims.issuer.clone(),
            subject: claims.subject.clone(),
            client_id: claims.client_id.clone(),
        },
    });
    next.run(request).await
}

/// The token of `Authorization: Bearer <token>`, if the request sends a non-empty one.
fn bearer(request: &Request) -> Option<&str> {
    runtime::http_guard::bearer_token(request.headers()).filter(|token| !token.is_empty())
}

/// Whether `token` has a JWS's shape (three base64url parts), as a registry token never does.
fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|part| !part.is_empty())
        && parts.iter().all(|part| {
            part.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

/// The tool a JSON-RPC `tools/call` request names; `None` for any other message, or a body
/// rmcp will refuse anyway.
fn called_tool(body: &[u8]) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        method: Option<Cow<'a, str>>,
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    #[derive(Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        name: Option<Cow<'a, str>>,
    }
    let message: Message<'_> = serde_json::from_slice(body).ok()?;
    if message.method.as_deref() != Some("tools/call") {
        return None;
    }
    message.params?.name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tools_call_names_its_tool_and_nothing_else_does() {
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"1_password_users_suspend","arguments":{"id":"x"}}}"#;
        assert_eq!(called_tool(call).as_deref(), Some("1_password_users_suspend"));
        let escaped = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\u0062c"}}"#;
        assert_eq!(called_tool(escaped).as_deref(), Some("abc"));
        for other in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}]"#,
            b"not json",
        ] {
            assert_eq!(called_tool(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn only_a_jws_shape_counts_as_a_jwt() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(looks_like_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."));
        for other in ["srv_0123", "a.b", "a.b.c.d", ".b.c", "a b.c.d", "a.b+.c"] {
            assert!(!looks_like_jwt(other), "{other}");
        }
    }
}
