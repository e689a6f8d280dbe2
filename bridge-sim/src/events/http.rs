//! The Events API's routes: event pages and token introspection, behind a bearer token.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::EventsToken;
use super::log::Kind;
use crate::http::AppState;

/// The Events API's routes, over the simulator's state.
pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/api/auth/introspect", get(introspect_v1))
        .route("/api/v2/auth/introspect", get(introspect_v2));
    for version in ["v1", "v2"] {
        for kind in Kind::ALL {
            let handler =
                move |State(state): State<AppState>,
                      headers: HeaderMap,
                      uri: axum::http::Uri,
                      body: Bytes| async move { page(&state, kind, &headers, &uri, &body) };
            router = router.route(&format!("/api/{version}/{}", kind.path()), post(handler));
        }
    }
    router
}

fn page(state: &AppState, kind: Kind, headers: &HeaderMap, uri: &axum::http::Uri, body: &Bytes) -> Response {
    let events = &state.events;
    let token = match authorized(state, headers) {
        Ok(token) => token,
        Err(refusal) => return refusal.answer(),
    };
    if !token.features.iter().any(|feature| feature == kind.feature()) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let count = events.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if events.config.rate_limited_at == Some(count) && !events.limited_once.swap(true, Ordering::SeqCst) {
        return error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    }
    // An empty body reads as a reset with every default, as the official clients send `{}`.
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(body) => body,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Bad Request"),
        }
    };
    let log = events.log.read().unwrap_or_else(PoisonError::into_inner);
    if body.get("cursor").is_some()
        && let Some(every) = events.config.empty_every
    {
        let continuing = events.continuing.fetch_add(1, Ordering::SeqCst) + 1;
        if continuing.is_multiple_of(every)
            && let Some(cursor) = log.hold(&body)
        {
            return ok(json!({ "cursor": cursor, "has_more": true, "items": [] }));
        }
    }
    match log.page(kind, &body, SystemTime::now()) {
        Ok(page) => {
            let v1 = uri.path().starts_with("/api/v1/");
            let items: Vec<Value> = page
                .items
                .into_iter()
                .map(|event| shaped(event, v1, events.config.msp))
                .collect();
            ok(json!({ "cursor": page.cursor, "has_more": page.has_more, "items": items }))
        }
        Err(_) => error(StatusCode::BAD_REQUEST, "Bad Request"),
    }
}

async fn introspect_v1(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authorized(&state, &headers) {
        Ok(token) => ok(json!({
            "UUID": integration_uuid(token),
            "IssuedAt": crate::events::log::rfc3339(crate::events::log::micros(state.events.started)),
            "Features": token.features,
        })),
        Err(refusal) => refusal.answer(),
    }
}

async fn introspect_v2(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authorized(&state, &headers) {
        Ok(token) => ok(json!({
            "uuid": integration_uuid(token),
            "issued_at": crate::events::log::rfc3339(crate::events::log::micros(state.events.started)),
            "features": token.features,
            "account_uuid": ACCOUNT_UUID,
        })),
        Err(refusal) => refusal.answer(),
    }
}

const ACCOUNT_UUID: &str = "ACC0VNTS1MVLATEDAAAAAAAAAA";

/// Why a request's token is refused.
enum Refusal {
    Unauthorized,
    TooManyRequests,
}

impl Refusal {
    fn answer(self) -> Response {
        match self {
            Self::Unauthorized => error(StatusCode::UNAUTHORIZED, "Unauthorized"),
            Self::TooManyRequests => error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        }
    }
}

/// The token a request presents, counted against its rate limits.
fn authorized<'s>(state: &'s AppState, headers: &HeaderMap) -> Result<&'s EventsToken, Refusal> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default();
    let Some(token) = state.events.token(presented) else {
        return Err(Refusal::Unauthorized);
    };
    if !state.events.admit(&token.token) {
        return Err(Refusal::TooManyRequests);
    }
    Ok(token)
}

/// A stable UUID per token, standing for its Events Reporting integration.
fn integration_uuid(token: &EventsToken) -> String {
    let mut rng = crate::seed::SplitMix64::new(token.token.bytes().fold(7u64, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
    }));
    rng.base32_id(true)
}

/// v1 events carry no MSP fields; v2 events carry them for an MSP account only.
fn shaped(mut event: Value, v1: bool, msp: bool) -> Value {
    if let Value::Object(fields) = &mut event {
        if v1 || !msp {
            for key in ["account_uuid", "actor_type", "actor_account_uuid"] {
                fields.remove(key);
            }
            for person in [
                "actor_details",
                "object_details",
                "aux_details",
                "target_user",
                "user",
            ] {
                if let Some(Value::Object(person)) = fields.get_mut(person) {
                    person.remove("user_type");
                    person.remove("user_account_uuid");
                }
            }
        } else {
            fields.insert("account_uuid".into(), json!(ACCOUNT_UUID));
            if fields.contains_key("actor_uuid") {
                fields.insert("actor_type".into(), json!("user"));
            }
            for person in [
                "actor_details",
                "object_details",
                "aux_details",
                "target_user",
                "user",
            ] {
                if let Some(Value::Object(person)) = fields.get_mut(person) {
                    person.insert("user_type".into(), json!("user"));
                    person.insert("user_account_uuid".into(), json!(ACCOUNT_UUID));
                }
            }
        }
    }
    event
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The API's error body (facts §7).
fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "Error": { "Message": message } }))).into_response()
}
