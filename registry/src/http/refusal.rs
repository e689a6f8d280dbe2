//! The one place a registry request's refusal becomes an HTTP answer, as dropshot's `HttpError`:
//! the caller reads a short JSON `{"error": ...}` that says what to change, the operator reads
//! the log, and what the caller is not meant to see (storage errors) stays in the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{AccessDenied, RegistryError};

/// Why a request to `/mcp` or `/admin` was not served.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The caller is not admitted: 401 with the challenge, or 503 when the registry could not
    /// tell (never 401, which would send a good client looking for a new token).
    Denied {
        denial: AccessDenied,
        challenge: HeaderValue,
    },
    /// The registry could not do what was asked: 503 for storage (logged; the body says no
    /// more), 409 for a name taken, 400 for anything the request got wrong.
    Registry(RegistryError),
    /// The body is not what the API takes: 400, naming the field.
    BadBody(String),
    /// No server by that id or name: 404.
    NotFound(String),
    /// A change whose audit line could not be written was taken back: 503.
    Unaudited,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Denied { denial, challenge } => {
                tracing::info!(reason = %denial, "access denied");
                let status = match denial {
                    AccessDenied::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::UNAUTHORIZED,
                };
                let mut response = answer(status, denial.to_string());
                response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
                return response;
            }
            Self::Registry(RegistryError::Storage(message)) => {
                tracing::error!(error = %message, "registry storage failed");
                (StatusCode::SERVICE_UNAVAILABLE, "registry unavailable".to_owned())
            }
            Self::Registry(error @ RegistryError::DuplicateName(_)) => {
                (StatusCode::CONFLICT, error.to_string())
            }
            Self::Registry(error) => (StatusCode::BAD_REQUEST, error.to_string()),
            Self::BadBody(message) => (StatusCode::BAD_REQUEST, message),
            Self::NotFound(id) => (StatusCode::NOT_FOUND, format!("no server `{id}`")),
            Self::Unaudited => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written, so no server was created".to_owned(),
            ),
        };
        answer(status, message)
    }
}

impl From<RegistryError> for Refusal {
    fn from(error: RegistryError) -> Self {
        Self::Registry(error)
    }
}

fn answer(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
