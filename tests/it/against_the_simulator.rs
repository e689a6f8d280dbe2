//! The generated tools against a real HTTP upstream: the simulated bridge on loopback.
//!
//! Calls go through `McpServer::call`, the same path `tools/call` takes over both transports,
//! minus the JSON-RPC framing (the transports are exercised by the client-driven tests).

use bridge_sim::{Faults, HeaderFamily, RateLimitFault, RunningSim, SimConfig};
use runtime::upstream::UpstreamConfig;
use runtime::{McpServer, Scope};
use serde_json::{Value, json};

use crate::support::{Captured, TestServer, simulator};

fn server_for(base_url: &str, token: &str, scope: Scope) -> McpServer {
    TestServer::new(base_url, token).scope(scope).build()
}

fn server(sim: &RunningSim) -> McpServer {
    TestServer::new(&sim.base_url(), sim.token()).build()
}

struct Outcome {
    is_error: bool,
    structured: Value,
    text: String,
    meta: Option<Value>,
}

async fn call(server: &McpServer, tool: &str, arguments: Value) -> Outcome {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let result = server.call(tool, arguments).await.expect("a known tool");
    let text = result
        .content
        .iter()
        .filter_map(|block| serde_json::to_value(block).ok())
        .filter_map(|value| value["text"].as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("\n");
    let is_error = result.is_error == Some(true);
    let meta = result.meta.as_ref().map(|meta| Value::Object(meta.0.clone()));
    let structured = if is_error {
        assert!(
            result.structured_content.is_none(),
            "error results carry no structuredContent"
        );
        meta.as_ref()
            .map_or(Value::Null, |meta| meta["com.op-scim-mcp/error"].clone())
    } else {
        result.structured_content.clone().unwrap_or(Value::Null)
    };
    Outcome {
        is_error,
        structured,
        text,
        meta,
    }
}

async fn ok(server: &McpServer, tool: &str, arguments: Value) -> Value {
    let outcome = call(server, tool, arguments).await;
    assert!(!outcome.is_error, "{tool} failed: {}", outcome.text);
    outcome.structured
}

#[tokio::test]
async fn paging_ten_thousand_users_returns_each_exactly_once() {
    let sim = simulator(SimConfig {
        users: 10_000,
        ..SimConfig::default()
    })
    .await;
    let server = server(&sim);
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut arguments = json!({ "limit": 100 });
        if let Some(cursor) = &cursor {
            arguments["next_cursor"] = json!(cursor);
        }
        let page = ok(&server, "list_all_1_password_users", arguments).await;
        pages += 1;
        assert_eq!(page["total_results"], 10_000);
        for user in page["result"].as_array().expect("result") {
            assert!(
                seen.insert(user["id"].as_str().expect("id").to_owned()),
                "user seen twice"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages <= 100, "more pages than users allow");
    }
    assert_eq!(seen.len(), 10_000);
    assert_eq!(pages, 100);
    sim.shutdown().await;
}

#[tokio::test]
async fn offboarding_finds_by_typed_filter_suspends_and_the_bridge_agrees() {
    let sim = simulator(SimConfig::default()).await;
    let server = server(&sim);
    let found = ok(
        &server,
        "list_all_1_password_users",
        json!({ "user_name": "jane.doe@example.com" }),
    )
    .await;
    assert_eq!(found["result_count"], 1);
    let id = found["result"][0]["id"].as_str().expect("id").to_owned();

    let suspended = ok(&server, "1_password_users_suspend", json!({ "id": id })).await;
    assert_eq!(suspended["active"], false);

    // Read it back from the bridge directly, not through us.
    let direct: Value = reqwest::Client::new()
        .get(format!("{}/scim/v2/Users/{id}", sim.base_url()))
        .bearer_auth(sim.token())
        .send()
        .await
        .expect("direct GET")
        .json()
        .await
        .expect("json");
    assert_eq!(direct["active"], false);

    let back = ok(&server, "1_password_users_reactivate", json!({ "id": id })).await;
    assert_eq!(back["active"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_filter_injection_value_is_searched_for_literally() {
    let sim = simulator(SimConfig::default()).await;
    let server = server(&sim);
    let page = ok(
        &server,
        "list_all_1_password_users",
        json!({ "user_name": "a\" or userName pr or \"" }),
    )
    .await;
    assert_eq!(
        page["result_count"], 0,
        "the injected `or userName pr` must not match everyone"
    );
    let page = ok(
        &server,
        "list_all_1_password_users",
        json!({ "email": "\\\"\u{0001}é" }),
    )
    .await;
    assert_eq!(page["result_count"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn forged_and_mismatched_cursors_are_refused_with_instructions() {
    let sim = simulator(SimConfig::default()).await;
    let server = server(&sim);
    let first = ok(&server, "list_all_1_password_users", json!({ "limit": 5 })).await;
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();

    let mut forged = cursor.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    for (arguments, why) in [
        (json!({ "next_cursor": forged }), "forged"),
        (json!({ "next_cursor": "not-a-cursor" }), "garbage"),
        (json!({ "next_cursor": cursor, "active": true }), "other filter"),
    ] {
        let outcome = call(&server, "list_all_1_password_users", arguments).await;
        assert!(outcome.is_error, "{why}");
        assert!(outcome.text.contains("next_cursor"), "{why}: {}", outcome.text);
        assert_eq!(outcome.structured["error"], "invalid_cursor", "{why}");
    }
    // The genuine cursor still works with the filters it was issued for.
    ok(
        &server,
        "list_all_1_password_users",
        json!({ "limit": 5, "next_cursor": cursor }),
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_arguments_name_the_field_and_reach_no_upstream() {
    // A closed port: any upstream request would fail as unreachable, not as invalid arguments.
    let server = server_for("http://127.0.0.1:9", "t", Scope::default());
    for (tool, arguments, needle) in [
        (
            "list_all_1_password_users",
            json!({ "limit": 500 }),
            "`limit` must be at most 100",
        ),
        ("list_all_1_password_users", json!({ "limit": "ten" }), "`limit`"),
        (
            "list_all_1_password_users",
            json!({ "filter": "userName pr" }),
            "unknown field `filter`",
        ),
        (
            "get_single_1_password_user_by_id",
            json!({}),
            "missing field `id`",
        ),
        // Length bounds are no longer published (they cost bytes and guide nothing), but the
        // handler still enforces the spec's.
        (
            "get_single_1_password_user_by_id",
            json!({ "id": "" }),
            "`id` must be at least 1 characters long",
        ),
        (
            "1_password_users_suspend",
            json!({ "id": "A".repeat(257) }),
            "`id` must be at most 256 characters long",
        ),
        (
            "1_password_groups_add_members",
            json!({ "id": "g", "member_ids": [""] }),
            "must be at least 1 characters long",
        ),
        (
            "create_a_1_password_user",
            json!({ "user_name": "not an email" }),
            "`user_name` must be an email",
        ),
        (
            "1_password_groups_add_members",
            json!({ "id": "g", "member_ids": [] }),
            "`member_ids` must hold at least 1",
        ),
    ] {
        let outcome = call(&server, tool, arguments).await;
        assert!(outcome.is_error, "{tool}");
        assert!(outcome.text.contains(needle), "{tool}: {}", outcome.text);
        assert_eq!(outcome.structured["error"], "invalid_arguments");
    }
}

#[tokio::test]
async fn a_tool_outside_the_scope_is_unknown_and_contacts_nobody() {
    let scope = crate::support::scope(&["read"], &[]);
    let server = server_for("http://127.0.0.1:9", "t", scope);
    let names: Vec<String> = server.tools().iter().map(|tool| tool.name.to_string()).collect();
    assert!(names.contains(&"list_all_1_password_users".to_owned()));
    assert!(!names.iter().any(|name| name.contains("suspend")));
    let Value::Object(arguments) = json!({ "id": "X" }) else {
        unreachable!()
    };
    let out_of_scope = server
        .call("1_password_users_suspend", arguments.clone())
        .await
        .expect_err("refused");
    let never_existed = server.call("no_such_tool", arguments).await.expect_err("refused");
    assert_eq!(out_of_scope.code, never_existed.code);
    assert!(out_of_scope.message.contains("Unknown tool"));
}

#[tokio::test]
async fn upstream_errors_become_sentences_and_the_token_never_leaks() {
    let sim = simulator(SimConfig::default()).await;
    let server = server(&sim);

    let missing = call(
        &server,
        "get_single_1_password_user_by_id",
        json!({ "id": "../Groups/x" }),
    )
    .await;
    assert!(missing.is_error);
    assert!(
        missing.text.contains("No 1Password user with id ../Groups/x"),
        "{}",
        missing.text
    );

    let duplicate = call(
        &server,
        "create_a_1_password_user",
        json!({ "user_name": "jane.doe@example.com", "name": { "given_name": "Jane", "family_name": "Doe" } }),
    )
    .await;
    assert!(duplicate.is_error);
    assert!(duplicate.text.contains("409 uniqueness"), "{}", duplicate.text);

    let wrong_token = server_for(&sim.base_url(), "definitely-wrong-token", Scope::default());
    let rejected = call(&wrong_token, "list_all_1_password_users", json!({})).await;
    assert!(rejected.is_error);
    assert!(
        rejected.text.contains("rejected the bearer token (401)"),
        "{}",
        rejected.text
    );
    assert!(
        !rejected.text.contains("definitely-wrong-token")
            && !rejected.structured.to_string().contains("definitely-wrong-token")
    );

    // An unreachable bridge is named with its URL (password masked) and the cause.
    for (url, cause) in [
        ("http://scim:hunter2@127.0.0.1:9", "connection refused"),
        ("http://bridge.invalid", "the host name did not resolve"),
    ] {
        let unreachable = server_for(url, "t", Scope::default());
        let down = call(&unreachable, "list_all_1_password_users", json!({})).await;
        assert_eq!(down.structured["error"], "unreachable");
        let message = down.structured["message"].as_str().unwrap_or_default();
        assert!(message.contains(cause), "{message}");
        assert!(message.contains("Nothing was sent"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    let masked = server_for("http://scim:hunter2@127.0.0.1:9", "t", Scope::default());
    let down = call(&masked, "list_all_1_password_users", json!({})).await;
    let message = down.structured["message"].as_str().unwrap_or_default();
    assert!(message.contains("http://scim:***@127.0.0.1:9"), "{message}");
    sim.shutdown().await;
}

#[tokio::test]
async fn creating_a_user_and_managing_group_membership_shows_on_the_bridge() {
    let sim = simulator(SimConfig::default()).await;
    let server = server(&sim);
    let user = ok(
        &server,
        "create_a_1_password_user",
        json!({ "user_name": "new.hire@example.com", "name": { "given_name": "New", "family_name": "Hire" } }),
    )
    .await;
    let user_id = user["id"].as_str().expect("id").to_owned();
    assert_eq!(user["userName"], "new.hire@example.com");
    let group = ok(
        &server,
        "create_a_1_password_group",
        json!({ "display_name": "Contractors" }),
    )
    .await;
    let group_id = group["id"].as_str().expect("id").to_owned();

    ok(
        &server,
        "1_password_groups_add_members",
        json!({ "id": group_id, "member_ids": [user_id] }),
    )
    .await;
    let read = ok(
        &server,
        "get_single_1_password_group_by_id",
        json!({ "id": group_id }),
    )
    .await;
    let members: Vec<&str> = read["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(members, [user_id.as_str()]);

    ok(
        &server,
        "1_password_groups_remove_members",
        json!({ "id": group_id, "member_ids": [user_id] }),
    )
    .await;
    let read = ok(
        &server,
        "get_single_1_password_group_by_id",
        json!({ "id": group_id }),
    )
    .await;
    assert!(
        read["members"]
            .as_array()
            .is_none_or(|members| members.is_empty()),
        "{read}"
    );

    let deleted = ok(
        &server,
        "delete_a_1_password_group_by_id",
        json!({ "id": group_id }),
    )
    .await;
    assert_eq!(deleted["status"], 204);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_comes_back_at_once_with_retry_after_for_every_header_family() {
    for family in [
        HeaderFamily::Ietf,
        HeaderFamily::IetfLegacy,
        HeaderFamily::XRateLimit,
        HeaderFamily::RetryAfterSeconds,
        HeaderFamily::RetryAfterDate,
    ] {
        let faults = Faults {
            rate_limit: Some(RateLimitFault {
                requests: 2,
                window_secs: 60,
                family,
            }),
            ..Faults::default()
        };
        let sim = simulator(SimConfig {
            faults,
            ..SimConfig::default()
        })
        .await;
        let server = server(&sim);
        let first = call(&server, "list_all_1_password_users", json!({ "limit": 1 })).await;
        assert!(!first.is_error, "{family:?}: {}", first.text);
        let _second = call(&server, "list_all_1_password_users", json!({ "limit": 1 })).await;
        let started = std::time::Instant::now();
        let limited = call(&server, "list_all_1_password_users", json!({ "limit": 1 })).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no hidden waiting"
        );
        assert!(limited.is_error, "{family:?}");
        assert_eq!(limited.structured["error"], "rate_limited", "{family:?}");
        assert_eq!(limited.structured["status"], 429);
        let retry = limited.structured["retryAfterSeconds"].as_u64();
        assert!(
            retry.is_some_and(|s| s > 0 && s <= 61),
            "{family:?}: {}",
            limited.structured
        );
        assert!(
            limited.text.contains("retry after"),
            "{family:?}: {}",
            limited.text
        );
        if matches!(
            family,
            HeaderFamily::Ietf | HeaderFamily::IetfLegacy | HeaderFamily::XRateLimit
        ) {
            let meta = limited.meta.expect("rate-limit meta");
            assert_eq!(meta["com.op-scim-mcp/rateLimit"]["remaining"], 0, "{family:?}");
            assert_eq!(
                first.meta.expect("meta on success")["com.op-scim-mcp/rateLimit"]["limit"],
                2
            );
        }
        sim.shutdown().await;
    }
}

fn server_with(base_url: &str, token: &str, tune: impl FnOnce(&mut UpstreamConfig)) -> McpServer {
    TestServer::new(base_url, token).tune(tune).build()
}

#[tokio::test]
async fn a_slow_bridge_times_out_with_a_clear_result_and_the_server_keeps_serving() {
    let faults = Faults {
        latency_ms: 1_500,
        ..Faults::default()
    };
    let sim = simulator(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let impatient = server_with(&sim.base_url(), sim.token(), |config| {
        config.request_timeout = std::time::Duration::from_millis(300);
    });
    let outcome = call(&impatient, "get_1_password_service_provider_config", json!({})).await;
    assert!(outcome.is_error);
    assert_eq!(outcome.structured["error"], "timeout", "{}", outcome.text);
    assert!(outcome.text.contains("did not answer"), "{}", outcome.text);
    // The same server answers the next call once the bridge is fast enough for it.
    let patient = server_with(&sim.base_url(), sim.token(), |_| {});
    ok(&patient, "get_1_password_service_provider_config", json!({})).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_oversized_answer_becomes_a_clear_error() {
    let sim = simulator(SimConfig::default()).await;
    let small = server_with(&sim.base_url(), sim.token(), |config| {
        config.max_response_bytes = 4_096
    });
    let outcome = call(&small, "list_all_1_password_users", json!({ "limit": 100 })).await;
    assert!(outcome.is_error);
    assert_eq!(
        outcome.structured["error"], "response_too_large",
        "{}",
        outcome.text
    );
    ok(&small, "list_all_1_password_users", json!({ "limit": 1 })).await;
    sim.shutdown().await;
}

/// A peer that answers 200 with a chunked body that never ends: the read must stop at the
/// bound instead of growing without limit.
#[tokio::test]
async fn an_endless_body_is_cut_at_the_bound() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let peer = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return 0usize;
        };
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 && socket.write_all(chunk.as_bytes()).await.is_ok() {
            sent += 1024;
        }
        sent
    });
    let server = server_with(&format!("http://{addr}"), "t", |config| {
        config.max_response_bytes = 64 * 1024
    });
    let outcome = call(&server, "get_1_password_service_provider_config", json!({})).await;
    assert_eq!(
        outcome.structured["error"], "response_too_large",
        "{}",
        outcome.text
    );
    let sent = peer.await.expect("peer");
    assert!(
        sent < 64 * 1024 * 1024,
        "the client kept reading an endless body ({sent} bytes)"
    );
}

#[tokio::test]
async fn server_errors_from_the_bridge_are_reported_not_retried() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let sim = simulator(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let server = server(&sim);
    for _ in 0..4 {
        let outcome = call(&server, "get_1_password_service_provider_config", json!({})).await;
        assert!(outcome.is_error);
        let status = outcome.structured["status"].as_u64().expect("status");
        match status {
            500 => assert!(outcome.text.contains("failed with HTTP 500"), "{}", outcome.text),
            // A 503 with Retry-After is a "come back later": reported like a rate limit.
            503 => assert_eq!(outcome.structured["error"], "rate_limited"),
            other => panic!("unexpected status {other}"),
        }
    }
    sim.shutdown().await;
}

/// Every log line (all levels, all crates) of a test running on one thread is captured.
#[test]
fn the_bearer_token_never_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sim = simulator(SimConfig {
            token: "sekret-bridge-token-123".into(),
            ..SimConfig::default()
        })
        .await;
        let server = server(&sim);
        ok(&server, "list_all_1_password_users", json!({ "limit": 2 })).await;
        call(
            &server,
            "get_single_1_password_user_by_id",
            json!({ "id": "missing" }),
        )
        .await;
        let wrong = server_for(&sim.base_url(), "wrong-sekret-token-456", Scope::default());
        let rejected = call(&wrong, "list_all_1_password_users", json!({})).await;
        assert!(rejected.is_error);
        sim.shutdown().await;
    });
    let logs = captured.text();
    assert!(logs.contains("tool call"), "nothing was captured:\n{logs}");
    assert!(
        !logs.contains("sekret-bridge-token-123"),
        "the bridge token leaked into the logs"
    );
    assert!(
        !logs.contains("wrong-sekret-token-456"),
        "a rejected token leaked into the logs"
    );
}
