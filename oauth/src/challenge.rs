//! What the resource says to a client it does not serve: the `WWW-Authenticate` challenges of
//! RFC 6750 §3 (with RFC 9728's `resource_metadata`), and the protected resource metadata
//! document they point at (RFC 9728 §2).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The refusals, each with the challenge a client acts on.
#[derive(Clone, Debug)]
pub struct Challenges {
    /// `…/.well-known/oauth-protected-resource/mcp`.
    metadata_url: String,
    /// The narrowest scopes, asked for by a client that sent no token.
    first_scopes: String,
}

impl Challenges {
    pub fn new(metadata_url: String, first_scopes: &[&str]) -> Self {
        Self {
            metadata_url,
            first_scopes: first_scopes.join(" "),
        }
    }

    /// 401 to a request without a token: where to learn how to get one, and what to ask for.
    /// No `error` (RFC 6750 §3.1: the client did not try).
    pub fn no_token(&self) -> Response {
        let challenge = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.metadata_url, self.first_scopes
        );
        refusal(
            StatusCode::UNAUTHORIZED,
            &challenge,
            json!({ "error_description": "this resource needs an OAuth access token (Authorization: Bearer)" }),
        )
    }

    /// 401 to a token that is not valid here, with why.
    pub fn invalid_token(&self, reason: &str) -> Response {
        let challenge = format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{}\", scope=\"{}\"",
            quoted(reason),
            self.metadata_url,
            self.first_scopes
        );
        refusal(
            StatusCode::UNAUTHORIZED,
            &challenge,
            json!({ "error": "invalid_token", "error_description": reason }),
        )
    }

    /// 403 to a valid token whose scopes do not reach what it asked for: every scope that
    /// would, in one challenge, so a client can step up once.
    pub fn insufficient_scope(&self, needed: &[&str], reason: &str) -> Response {
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{}\"",
            needed.join(" "),
            self.metadata_url,
            quoted(reason)
        );
        refusal(
            StatusCode::FORBIDDEN,
            &challenge,
            json!({ "error": "insufficient_scope", "error_description": reason, "scope": needed.join(" ") }),
        )
    }

    /// 503: the token could not be checked because its issuer's keys are out of reach. Not a
    /// 401, which would send the client to sign in again for nothing.
    pub fn unavailable(&self, reason: &str) -> Response {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "temporarily_unavailable", "error_description": reason })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        response
    }
}

fn refusal(status: StatusCode, challenge: &str, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `text` fit for a quoted-string: no quotes or backslashes, printable ASCII only.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}
