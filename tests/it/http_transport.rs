//! The Streamable HTTP transport, in process: Host/Origin guards, protocol versions,
//! RateLimit-* response headers, and graceful shutdown with a call in flight.

use std::net::SocketAddr;
use std::time::Duration;

use bridge_sim::{Faults, HeaderFamily, RateLimitFault, RunningSim, SimConfig};
use runtime::serve::{HttpSettings, serve_http};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{TestServer, simulator};

struct Running {
    sim: RunningSim,
    url: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start(config: SimConfig) -> Running {
    let sim = simulator(config).await;
    let server = TestServer::new(&sim.base_url(), sim.token()).build();
    let shutdown = CancellationToken::new();
    let (ready, address) = tokio::sync::oneshot::channel();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        serve_http(server, loopback, &HttpSettings::default(), token, move |addr| {
            let _ = ready.send(addr);
        })
        .await
        .expect("serves");
    });
    let addr = address.await.expect("listening");
    Running {
        sim,
        url: format!("http://{addr}/mcp"),
        shutdown,
        task,
    }
}

/// A simulated bridge that answers with IETF `RateLimit-*` headers, `requests` a minute.
fn rate_limited(requests: u32) -> SimConfig {
    SimConfig {
        faults: Faults {
            rate_limit: Some(RateLimitFault {
                requests,
                window_secs: 60,
                family: HeaderFamily::Ietf,
            }),
            ..Faults::default()
        },
        ..SimConfig::default()
    }
}

fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

fn post(url: &str, version: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", version)
        .json(body)
}

/// The JSON body of the answer to `request`.
async fn answer_to(request: reqwest::RequestBuilder) -> Value {
    request.send().await.expect("post").json().await.expect("json")
}

fn initialize(version: &str) -> Value {
    rpc(
        1,
        "initialize",
        json!({ "protocolVersion": version, "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } }),
    )
}

#[tokio::test]
async fn host_and_origin_are_checked_and_loopback_is_served() {
    let running = start(SimConfig::default()).await;
    let fine = post(&running.url, "2025-11-25", &initialize("2025-11-25"))
        .send()
        .await
        .expect("post");
    assert_eq!(fine.status(), 200);
    let rebinding = post(&running.url, "2025-11-25", &initialize("2025-11-25"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(rebinding.status(), 403, "a foreign Host must be refused");
    let message: Value = rebinding.json().await.expect("json");
    let message = message["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("`evil.example`")
            && message.contains("--allowed-host")
            && message.contains("localhost, 127.0.0.1, ::1"),
        "{message}"
    );
    let cross_site = post(&running.url, "2025-11-25", &initialize("2025-11-25"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(cross_site.status(), 403, "an unlisted Origin must be refused");
    let message: Value = cross_site.json().await.expect("json");
    let message = message["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("--allowed-origin") && message.contains("http://evil.example"),
        "{message}"
    );
    running.shutdown.cancel();
    running.sim.shutdown().await;
}

#[tokio::test]
async fn clients_of_three_protocol_versions_are_served() {
    let running = start(SimConfig::default()).await;
    for version in ["2025-06-18", "2025-11-25"] {
        let answer: Value = answer_to(post(&running.url, version, &initialize(version))).await;
        assert_eq!(answer["result"]["protocolVersion"], version, "{answer}");
        let list: Value = answer_to(post(&running.url, version, &rpc(2, "tools/list", json!({})))).await;
        assert_eq!(
            list["result"]["tools"].as_array().map(Vec::len),
            Some(17),
            "{version}: {list}"
        );
    }
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" },
    });
    let list: Value = answer_to(
        post(
            &running.url,
            "2026-07-28",
            &rpc(3, "tools/list", json!({ "_meta": meta })),
        )
        .header("mcp-method", "tools/list"),
    )
    .await;
    assert_eq!(
        list["result"]["tools"].as_array().map(Vec::len),
        Some(17),
        "2026-07-28: {list}"
    );
    let call: Value = answer_to(
        post(
            &running.url,
            "2026-07-28",
            &rpc(
                4,
                "tools/call",
                json!({ "name": "list_all_1_password_users", "arguments": { "limit": 1 }, "_meta": meta }),
            ),
        )
        .header("mcp-method", "tools/call")
        .header("mcp-name", "list_all_1_password_users"),
    )
    .await;
    assert_eq!(
        call["result"]["structuredContent"]["result_count"], 1,
        "2026-07-28: {call}"
    );
    running.shutdown.cancel();
    running.sim.shutdown().await;
}

#[tokio::test]
async fn a_tool_call_response_carries_ratelimit_headers_and_unknown_tools_are_protocol_errors() {
    let running = start(rate_limited(100)).await;
    let call = rpc(
        5,
        "tools/call",
        json!({ "name": "list_all_1_password_users", "arguments": { "limit": 1 } }),
    );
    let response = post(&running.url, "2025-11-25", &call)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("ratelimit-limit").as_deref(), Some("100"));
    assert!(header("ratelimit-remaining").is_some_and(|r| r.parse::<u64>().is_ok_and(|r| r < 100)));
    assert!(header("ratelimit-reset").is_some());

    let unknown = rpc(
        6,
        "tools/call",
        json!({ "name": "no_such_tool", "arguments": {} }),
    );
    let answer: Value = answer_to(post(&running.url, "2025-11-25", &unknown)).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    running.shutdown.cancel();
    running.sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_the_call_in_flight_finish() {
    let faults = Faults {
        latency_ms: 700,
        ..Faults::default()
    };
    let running = start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let call = rpc(
        7,
        "tools/call",
        json!({ "name": "get_1_password_service_provider_config", "arguments": {} }),
    );
    let request = tokio::spawn(post(&running.url, "2025-11-25", &call).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    running.shutdown.cancel();
    let response = request
        .await
        .expect("task")
        .expect("the in-flight call was answered");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    tokio::time::timeout(Duration::from_secs(5), running.task)
        .await
        .expect("server stopped")
        .expect("clean exit");
    running.sim.shutdown().await;
}

async fn post_raw(url: &str, body: &'static str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_requests_get_the_json_rpc_error_that_names_the_problem() {
    let running = start(SimConfig::default()).await;
    let (status, answer) = post_raw(&running.url, "{not json").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    assert_eq!(answer["id"], Value::Null);
    let (status, answer) = post_raw(&running.url, r#"{"id": 3, "hello": "world"}"#).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    assert_eq!(answer["id"], 3);
    for (body, field) in [
        (
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{}}"#,
            "params.name",
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":7}}"#,
            "params.name",
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{}}"#,
            "params.uri",
        ),
    ] {
        let (status, answer) = post_raw(&running.url, body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["error"]["code"], -32602, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {message}");
    }
    let (_, answer) = post_raw(
        &running.url,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/nope","params":{}}"#,
    )
    .await;
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    running.shutdown.cancel();
    running.sim.shutdown().await;
}

/// Status, content type, rate-limit header names, and the body with the upstream's rate-limit
/// counters taken out (they count down from call to call).
async fn comparable(response: reqwest::Response) -> (u16, String, Vec<String>, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut rate_limit_headers: Vec<String> = response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("ratelimit"))
        .collect();
    rate_limit_headers.sort();
    let mut body: Value = response.json().await.expect("a JSON body");
    forget_remaining(&mut body);
    (status, content_type, rate_limit_headers, body)
}

/// Every rate-limit `remaining` counter in `value`, wherever it is, set to null.
fn forget_remaining(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "remaining" {
                    *inner = Value::Null;
                } else {
                    forget_remaining(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(forget_remaining),
        _ => {}
    }
}

/// Plain `tools/call` and `ping` requests are answered by the server itself, not by rmcp's
/// per-request service (`runtime::plain_http`); a weight in `Accept` sends the same request to
/// rmcp. Both must give the same answer.
#[tokio::test]
async fn plain_requests_are_answered_as_rmcp_answers_them() {
    let running = start(rate_limited(1000)).await;
    let listed: Value = answer_to(post(
        &running.url,
        "2025-11-25",
        &rpc(
            1,
            "tools/call",
            json!({ "name": "list_all_1_password_users", "arguments": { "limit": 1 } }),
        ),
    ))
    .await;
    let user_id = listed["result"]["structuredContent"]["result"][0]["id"].clone();
    assert!(user_id.is_string(), "{listed}");
    let requests = [
        json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }),
        json!({ "jsonrpc": "2.0", "id": "ping-2", "method": "ping" }),
        rpc(
            3,
            "tools/call",
            json!({ "name": "get_single_1_password_user_by_id", "arguments": { "id": user_id } }),
        ),
        json!({ "jsonrpc": "2.0", "id": "4", "method": "tools/call",
                "params": { "name": "get_single_1_password_user_by_id", "arguments": { "id": "NO-SUCH-USER" } } }),
        rpc(
            5,
            "tools/call",
            json!({ "name": "get_single_1_password_user_by_id", "arguments": { "id": 7 } }),
        ),
        rpc(
            6,
            "tools/call",
            json!({ "name": "get_single_1_password_user_by_id" }),
        ),
        rpc(
            7,
            "tools/call",
            json!({ "name": "no_such_tool", "arguments": {} }),
        ),
        rpc(
            8,
            "tools/call",
            json!({ "name": "get_1_password_service_provider_config", "arguments": {} }),
        ),
        rpc(
            9,
            "tools/call",
            json!({ "name": "list_all_1_password_users", "arguments": { "limit": 2 } }),
        ),
    ];
    for version in [None, Some("2024-11-05"), Some("2025-06-18"), Some("2025-11-25")] {
        for request in &requests {
            let send = |accept: &'static str| {
                let mut builder = reqwest::Client::new()
                    .post(&running.url)
                    .header("content-type", "application/json")
                    .header("accept", accept)
                    .json(request);
                if let Some(version) = version {
                    builder = builder.header("mcp-protocol-version", version);
                }
                builder.send()
            };
            let plain = comparable(send("application/json, text/event-stream").await.expect("post")).await;
            let through_rmcp = comparable(
                send("application/json;q=1, text/event-stream;q=0.9")
                    .await
                    .expect("post"),
            )
            .await;
            assert_eq!(plain, through_rmcp, "{version:?} {request}");
            assert_eq!(plain.0, 200, "{version:?} {request}");
        }
    }
    running.shutdown.cancel();
    running.sim.shutdown().await;
}
