//! The generated Events API tools against the simulated Events API: paging a user's history
//! to its end with a small `limit` through local filters, empty `has_more` pages and a 429,
//! compared with the simulator's own record; and an agent finding its own SCIM change.

use std::sync::Arc;

use bridge_sim::events::EventsConfig;
use bridge_sim::events::log::Kind;
use bridge_sim::{RunningSim, SimConfig};
use generated_server::EVENTS_CATALOG;
use generated_server::generated_events::registry::{
    ERROR_MESSAGES, INTEGRATION_LABEL, MEDIA_TYPE, UPSTREAM_NAME,
};
use runtime::cursor::{CursorCodec, CursorKey};
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{McpServer, Scope, ServerSettings, Shared, ToolNaming};
use serde_json::{Value, json};

use crate::support::simulator;

fn events_server(sim: &RunningSim) -> McpServer {
    let config = UpstreamConfig::new(sim.base_url(), Secret::new(sim.events_token()))
        .with_media_type(MEDIA_TYPE)
        .with_error_messages(ERROR_MESSAGES);
    let upstream = Upstream::new(config).expect("upstream");
    let shared = Shared::new(upstream, CursorCodec::new(CursorKey::random()), INTEGRATION_LABEL)
        .with_upstream_name(UPSTREAM_NAME);
    let settings = ServerSettings {
        naming: ToolNaming::Default,
        scope: Scope::everything(),
        server_name: "test".into(),
        server_version: "0".into(),
    };
    McpServer::new(Arc::new(shared), EVENTS_CATALOG, settings).expect("server")
}

async fn call(server: &McpServer, tool: &str, arguments: Value) -> (bool, Value) {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let result = server.call(tool, arguments).await.expect("a known tool");
    let is_error = result.is_error == Some(true);
    let value = if is_error {
        result
            .meta
            .as_ref()
            .map_or(Value::Null, |meta| meta.0["com.op-scim-mcp/error"].clone())
    } else {
        result.structured_content.clone().unwrap_or(Value::Null)
    };
    (is_error, value)
}

fn thirty_days_ago() -> String {
    humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() - std::time::Duration::from_secs(30 * 86_400),
    )
    .to_string()
}

/// The person with the most sign-in attempts in the last 30 days, and those attempts' ids.
fn busiest(sim: &RunningSim, since: &str) -> (String, Vec<String>) {
    let all = sim.events(Kind::SignInAttempts);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for event in &all {
        if event["timestamp"].as_str() >= Some(since) {
            *counts
                .entry(event["target_user"]["email"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    let (email, _) = counts
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .expect("sign-ins");
    let ids = all
        .iter()
        .filter(|event| {
            event["target_user"]["email"] == email.as_str() && event["timestamp"].as_str() >= Some(since)
        })
        .map(|event| event["uuid"].as_str().unwrap_or_default().to_owned())
        .collect();
    (email, ids)
}

/// Pages `list_all_1_password_sign_in_attempts` for `email` to its end; a rate-limited call is
/// repeated as an agent would. Returns the ids seen and the number of calls.
async fn page_through(server: &McpServer, email: &str, since: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls < 500, "the listing never ended");
        let mut arguments = json!({ "user_email": email, "since": since, "limit": 7 });
        if let Some(cursor) = &cursor {
            arguments["next_cursor"] = json!(cursor);
        }
        let (is_error, page) = call(server, "list_all_1_password_sign_in_attempts", arguments).await;
        if is_error {
            assert_eq!(page["error"], "rate_limited", "{page}");
            continue;
        }
        assert!(page["result_count"].as_u64() <= Some(7), "{page}");
        seen.extend(
            page["result"]
                .as_array()
                .expect("result")
                .iter()
                .map(|event| event["uuid"].as_str().unwrap_or_default().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (seen, calls),
        }
    }
}

#[tokio::test]
async fn a_users_sign_ins_page_to_the_end_with_no_duplicate_and_no_gap() {
    let sim = simulator(SimConfig::default()).await;
    let since = thirty_days_ago();
    let (email, truth) = busiest(&sim, &since);
    assert!(
        truth.len() > 7,
        "the test needs more than one page ({} sign-ins)",
        truth.len()
    );
    let server = events_server(&sim);
    let (seen, _) = page_through(&server, &email, &since).await;
    assert_eq!(seen, truth);
    sim.shutdown().await;
}

#[tokio::test]
async fn empty_has_more_pages_and_a_429_midway_lose_and_repeat_nothing() {
    let sim = simulator(SimConfig {
        events: EventsConfig {
            empty_every: Some(2),
            rate_limited_at: Some(3),
            ..EventsConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let since = thirty_days_ago();
    let (email, truth) = busiest(&sim, &since);
    let server = events_server(&sim);
    let (seen, calls) = page_through(&server, &email, &since).await;
    assert_eq!(seen, truth);
    assert!(calls > 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_agent_finds_its_own_suspend_in_the_audit_events() {
    let sim = simulator(SimConfig::default()).await;
    let scim = crate::support::TestServer::new(&sim.base_url(), sim.token()).build();
    let Value::Object(arguments) = json!({ "user_name": "jane.doe@example.com" }) else {
        unreachable!()
    };
    let listed = scim
        .call("list_all_1_password_users", arguments)
        .await
        .expect("listed");
    let jane = listed.structured_content.expect("structured")["result"][0].clone();
    let Value::Object(arguments) = json!({ "id": jane["id"] }) else {
        unreachable!()
    };
    let suspended = scim
        .call("1_password_users_suspend", arguments)
        .await
        .expect("suspended");
    assert_ne!(suspended.is_error, Some(true));
    let server = events_server(&sim);
    let (is_error, page) = call(
        &server,
        "list_all_1_password_audit_events",
        json!({ "action": "suspend", "user_email": "jane.doe@example.com", "since": thirty_days_ago() }),
    )
    .await;
    assert!(!is_error, "{page}");
    let events = page["result"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["object_uuid"], jane["id"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_of_the_events_api_become_sentences_and_bad_arguments_never_leave() {
    let sim = simulator(SimConfig {
        events: EventsConfig {
            tokens: vec![bridge_sim::events::EventsToken {
                token: "sim-events-token".into(),
                features: vec!["auditevents".into()],
            }],
            ..EventsConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let server = events_server(&sim);
    let (is_error, refused) = call(&server, "list_all_1_password_sign_in_attempts", json!({})).await;
    assert!(is_error);
    assert_eq!(refused["status"], 401);
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|text| text.contains("Unauthorized")),
        "{refused}"
    );
    let (is_error, bad) = call(
        &server,
        "list_all_1_password_audit_events",
        json!({ "since": "last tuesday", "limit": 500 }),
    )
    .await;
    assert!(is_error);
    assert_eq!(bad["error"], "invalid_arguments", "{bad}");
    let message = bad["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`since`") && message.contains("`limit`"),
        "{message}"
    );
    let (is_error, features) = call(&server, "1_password_events_introspect", json!({})).await;
    assert!(!is_error, "{features}");
    assert_eq!(features["features"], json!(["auditevents"]));
    sim.shutdown().await;
}

/// A list call says in `_meta` how many upstream pages it read and the most it may read:
/// what a client counts against the Events API's rate limit.
#[tokio::test]
async fn each_list_call_says_how_many_upstream_requests_it_made() {
    let sim = simulator(SimConfig {
        events: EventsConfig {
            empty_every: Some(1),
            ..EventsConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let server = events_server(&sim);
    let list = |arguments: Value| {
        let Value::Object(arguments) = arguments else {
            unreachable!("an object literal")
        };
        server.call("list_all_1_password_sign_in_attempts", arguments)
    };
    let since = thirty_days_ago();
    // Without a local filter, upstream pages hold `limit` items: one request fills the call.
    let first = list(json!({ "since": since, "limit": 100 }))
        .await
        .expect("known tool");
    let made = first
        .meta
        .as_ref()
        .map(|meta| meta.0["com.op-scim-mcp/upstreamRequests"].clone());
    assert_eq!(made, Some(json!({ "made": 1, "max": 5 })), "{first:?}");
    // Every continuing request answers an empty `has_more: true` page: the call stops at its
    // bound, with a cursor to go on.
    let cursor = first.structured_content.unwrap_or_default()["next_cursor"].clone();
    let empty = list(json!({ "since": since, "limit": 100, "next_cursor": cursor }))
        .await
        .expect("known tool");
    let made = empty
        .meta
        .as_ref()
        .map(|meta| meta.0["com.op-scim-mcp/upstreamRequests"].clone());
    assert_eq!(made, Some(json!({ "made": 5, "max": 5 })), "{empty:?}");
    let page = empty.structured_content.unwrap_or_default();
    assert_eq!(page["result_count"], 0, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
    sim.shutdown().await;
}
