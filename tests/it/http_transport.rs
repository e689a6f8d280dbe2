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
        let answer: Value = post(&running.url, version, &initialize(version))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["result"]["protocolVersion"], version, "{answer}");
        let list: Value = post(&running.url, version, &rpc(2, "tools/list", json!({})))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
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
    let list: Value = post(
        &running.url,
        "2026-07-28",
        &rpc(3, "tools/list", json!({ "_meta": meta })),
    )
    .header("mcp-method", "tools/list")
    .send()
    .await
    .expect("post")
    .json()
    .await
    .expect("json");
    assert_eq!(
        list["result"]["tools"].as_array().map(Vec::len),
        Some(17),
        "2026-07-28: {list}"
    );
    let call: Value = post(
        &running.url,
        "2026-07-28",
        &rpc(
            4,
            "tools/call",
            json!({ "name": "list_all_1_password_users", "arguments": { "limit": 1 }, "_meta": meta }),
        ),
    )
    .header("mcp-method", "tools/call")
    .header("mcp-name", "list_all_1_password_users")
    .send()
    .await
    .expect("post")
    .json()
    .await
    .expect("json");
    assert_eq!(
        call["result"]["structuredContent"]["result_count"], 1,
        "2026-07-28: {call}"
    );
    running.shutdown.cancel();
    running.sim.shutdown().await;
}

#[tokio::test]
async fn a_tool_call_response_carries_ratelimit_headers_and_unknown_tools_are_protocol_errors() {
    let faults = Faults {
        rate_limit: Some(RateLimitFault {
            requests: 100,
            window_secs: 60,
            family: HeaderFamily::Ietf,
        }),
        ..Faults::default()
    };
    let running = start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
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
    let answer: Value = post(&running.url, "2025-11-25", &unknown)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
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
