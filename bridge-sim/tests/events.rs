//! The simulated Events API through the router: tokens and features, paging to the end, the
//! error bodies, v1 against v2, and audit events for SCIM changes.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bridge_sim::events::{EventsConfig, EventsToken};
use bridge_sim::{SimConfig, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "sim-events-token";

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn app(events: EventsConfig) -> Router {
    router(SimConfig {
        users: 40,
        groups: 3,
        events,
        ..SimConfig::default()
    })
}

/// Every item of a listing, paging with `limit` from a reset over the last 30 days.
async fn everything(app: &Router, path: &str, limit: u64) -> Vec<Value> {
    let start =
        humantime::format_rfc3339(std::time::SystemTime::now() - std::time::Duration::from_secs(31 * 86_400));
    let mut body = json!({ "limit": limit, "start_time": start.to_string() });
    let mut items = Vec::new();
    for _ in 0..1000 {
        let (status, page) = call(app, "POST", path, TOKEN, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        if page["has_more"] == false {
            return items;
        }
        body = json!({ "cursor": page["cursor"] });
    }
    panic!("the listing never ended");
}

#[tokio::test]
async fn paging_reads_the_seeded_history_once_each_oldest_first() {
    let app = app(EventsConfig::default());
    let all = everything(&app, "/api/v2/signinattempts", 1000).await;
    let paged = everything(&app, "/api/v2/signinattempts", 7).await;
    assert!(all.len() > 40, "{} sign-ins", all.len());
    assert_eq!(all, paged);
    let times: Vec<&str> = all
        .iter()
        .filter_map(|event| event["timestamp"].as_str())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "sign-ins come oldest first");
    assert!(
        all.iter().any(|event| event["category"] != "success"),
        "some sign-ins fail"
    );
}

#[tokio::test]
async fn tokens_features_and_bodies_are_checked_with_the_apis_error_body() {
    let app = app(EventsConfig {
        tokens: vec![EventsToken {
            token: TOKEN.into(),
            features: vec!["auditevents".into()],
        }],
        ..EventsConfig::default()
    });
    let unauthorized = json!({ "Error": { "Message": "Unauthorized" } });
    for (path, token) in [
        ("/api/v2/signinattempts", TOKEN),
        ("/api/v2/auditevents", "wrong"),
        ("/api/v1/auditevents", ""),
    ] {
        let (status, body) = call(&app, "POST", path, token, Some(json!({}))).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, unauthorized.clone()),
            "{path}"
        );
    }
    for bad in [
        json!({ "limit": 1001 }),
        json!({ "limit": 0 }),
        json!({ "cursor": "nope" }),
    ] {
        let (status, body) = call(&app, "POST", "/api/v2/auditevents", TOKEN, Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({ "Error": { "Message": "Bad Request" } }));
    }
    let (status, v2) = call(&app, "GET", "/api/v2/auth/introspect", TOKEN, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v2["features"], json!(["auditevents"]));
    let (_, v1) = call(&app, "GET", "/api/auth/introspect", TOKEN, None).await;
    assert_eq!(v1["Features"], json!(["auditevents"]));
    assert_eq!(v1["UUID"], v2["uuid"]);
}

#[tokio::test]
async fn the_rate_limit_and_injected_faults_answer_as_the_api_would() {
    let app = app(EventsConfig {
        per_minute: 3,
        empty_every: Some(2),
        ..EventsConfig::default()
    });
    let mut body = json!({ "limit": 1, "start_time": "2020-01-01T00:00:00Z" });
    let (_, first) = call(&app, "POST", "/api/v2/signinattempts", TOKEN, Some(body)).await;
    body = json!({ "cursor": first["cursor"] });
    let (_, second) = call(&app, "POST", "/api/v2/signinattempts", TOKEN, Some(body.clone())).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    body = json!({ "cursor": second["cursor"] });
    let (_, empty) = call(&app, "POST", "/api/v2/signinattempts", TOKEN, Some(body.clone())).await;
    assert_eq!(
        (empty["items"].clone(), empty["has_more"].clone()),
        (json!([]), json!(true))
    );
    assert_eq!(
        empty["cursor"], second["cursor"],
        "an empty page keeps the cursor"
    );
    let (status, limited) = call(&app, "POST", "/api/v2/signinattempts", TOKEN, Some(body)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited, json!({ "Error": { "Message": "Too Many Requests" } }));
}

#[tokio::test]
async fn a_scim_suspend_and_a_group_join_appear_in_the_audit_events() {
    let app = app(EventsConfig::default());
    let before = everything(&app, "/api/v2/auditevents", 1000).await.len();
    let (_, users) = call(&app, "GET", "/scim/v2/Users?count=2", "sim-token", None).await;
    let user = users["Resources"][0].clone();
    let id = user["id"].as_str().expect("id").to_owned();
    let suspend = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": "active", "value": false }],
    });
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        "sim-token",
        Some(suspend),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, groups) = call(&app, "GET", "/scim/v2/Groups", "sim-token", None).await;
    let group = groups["Resources"][0]["id"].as_str().expect("group").to_owned();
    let other = users["Resources"][1]["id"].as_str().expect("id").to_owned();
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": other }] }],
    });
    call(
        &app,
        "PATCH",
        &format!("/scim/v2/Groups/{group}"),
        "sim-token",
        Some(add),
    )
    .await;
    let after = everything(&app, "/api/v2/auditevents", 1000).await;
    let new = &after[before..];
    assert!(
        new.iter().any(|event| event["action"] == "suspend"
            && event["object_uuid"] == id.as_str()
            && event["object_details"]["email"] == user["userName"]),
        "{new:?}"
    );
    assert!(
        new.iter()
            .any(|event| event["action"] == "join" && event["aux_uuid"] == other.as_str()),
        "{new:?}"
    );
}
