//! The operations endpoints over real HTTP: `/healthz`, `/readyz` and `/metrics` outside the
//! Host guard and the registry gate, and the bounded drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bridge_sim::{Faults, HeaderFamily, RateLimitFault, RunningSim, SimConfig};
use generated_server::CATALOGS;
use generated_server::generated::registry::UPSTREAM_NAME;
use registry::http::RegistryHttp;
use registry::{Registry, RegistryLocation, open_store};
use runtime::serve::{HttpSettings, ServeError, serve_http};
use runtime::{McpServer, Metrics};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{TestServer, simulator};

struct Running {
    base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

async fn serve(server: McpServer, settings: HttpSettings) -> Running {
    let shutdown = CancellationToken::new();
    let (ready, address) = tokio::sync::oneshot::channel();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        serve_http(server, loopback, &settings, token, move |addr| {
            let _ = ready.send(addr);
        })
        .await
    });
    let addr = address.await.expect("listening");
    Running {
        base: format!("http://{addr}"),
        shutdown,
        task,
    }
}

async fn over_simulator(config: SimConfig, settings: HttpSettings) -> (RunningSim, Running) {
    let sim = simulator(config).await;
    let server = TestServer::new(&sim.base_url(), sim.token()).build();
    let running = serve(server, settings).await;
    (sim, running)
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.expect("get")
}

async fn call_tool(base: &str, name: &str, arguments: Value) -> reqwest::Response {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": name, "arguments": arguments },
    });
    reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .expect("post")
}

async fn tool_result(base: &str, name: &str, arguments: Value) -> Value {
    let answer: Value = call_tool(base, name, arguments).await.json().await.expect("json");
    answer["result"].clone()
}

#[tokio::test]
async fn probes_with_a_pod_ip_host_are_answered_where_mcp_refuses_them() {
    let (sim, running) = over_simulator(SimConfig::default(), HttpSettings::default()).await;
    let client = reqwest::Client::new();
    let probe_host = "10.1.2.3:8787";
    let health = client
        .get(format!("{}/healthz", running.base))
        .header("host", probe_host)
        .send()
        .await
        .expect("get");
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.expect("text"), "ok");
    for path in ["/readyz", "/metrics"] {
        let answer = client
            .get(format!("{}{path}", running.base))
            .header("host", probe_host)
            .send()
            .await
            .expect("get");
        assert_eq!(answer.status(), 200, "{path}");
    }
    let mcp = client
        .post(format!("{}/mcp", running.base))
        .header("host", probe_host)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} }))
        .send()
        .await
        .expect("post");
    assert_eq!(mcp.status(), 403, "the DNS-rebinding guard still protects /mcp");
    running.shutdown.cancel();
    sim.shutdown().await;
}

#[tokio::test]
async fn readyz_is_ready_with_the_bridge_up_and_names_the_upstream_when_it_is_down() {
    let (sim, running) = over_simulator(SimConfig::default(), HttpSettings::default()).await;
    let ready = get(&format!("{}/readyz", running.base)).await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"][UPSTREAM_NAME], "ok", "{body}");
    running.shutdown.cancel();
    sim.shutdown().await;

    let offline = serve(TestServer::offline().build(), HttpSettings::default()).await;
    let unready = get(&format!("{}/readyz", offline.base)).await;
    assert_eq!(unready.status(), 503);
    let body: Value = unready.json().await.expect("json");
    assert_eq!(body["failed"], json!([UPSTREAM_NAME]), "{body}");
    let reason = body["checks"][UPSTREAM_NAME].as_str().unwrap_or_default();
    assert!(reason.contains("unreachable"), "{body}");
    assert!(
        !reason.contains("127.0.0.1") && !reason.contains("http"),
        "no URL: {body}"
    );
    offline.shutdown.cancel();
}

#[tokio::test]
async fn readyz_names_the_registry_when_its_database_goes_away_and_the_errors_are_counted() {
    // A real PostgreSQL registry whose server is then stopped. Starting and stopping the server
    // block (processes, a synchronous client), so they run off the async workers.
    let (postgres, url) = tokio::task::spawn_blocking(|| {
        let postgres = testkit::TempPostgres::start();
        let url = postgres.create_database("ops_registry");
        (postgres, url)
    })
    .await
    .expect("setup");
    let location = RegistryLocation::parse(&url).expect("a valid URL");
    let store = open_store(&location).await.expect("the registry opens");
    let _postgres = tokio::task::spawn_blocking(move || {
        postgres.stop();
        postgres
    })
    .await
    .expect("stop");
    let sim = simulator(SimConfig::default()).await;
    let mut metrics = Metrics::default();
    let registry = RegistryHttp::new(Arc::new(Registry::new(store)), CATALOGS, "", "op-scim-mcp")
        .with_metrics_in(&mut metrics);
    let server = TestServer::new(&sim.base_url(), sim.token())
        .metrics(Arc::new(metrics))
        .build();
    let running = serve(server, HttpSettings::default().with_extension(Arc::new(registry))).await;
    assert_eq!(get(&format!("{}/healthz", running.base)).await.status(), 200);
    let unready = get(&format!("{}/readyz", running.base)).await;
    assert_eq!(unready.status(), 503);
    let body: Value = unready.json().await.expect("json");
    assert_eq!(body["failed"], json!(["registry"]), "{body}");
    assert_eq!(body["checks"][UPSTREAM_NAME], "ok", "{body}");

    let refused = reqwest::Client::new()
        .post(format!("{}/mcp/some-server-token", running.base))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} }))
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 503);
    let metrics = get(&format!("{}/metrics", running.base)).await;
    assert_eq!(metrics.status(), 200, "no token needed in registry mode");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("op_scim_mcp_registry_errors_total{operation=\"authorize\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("op_scim_mcp_registry_errors_total{operation=\"ping\"}"),
        "{text}"
    );
    assert!(!text.contains("some-server-token"), "{text}");
    running.shutdown.cancel();
    sim.shutdown().await;
}

#[tokio::test]
async fn metrics_count_calls_by_tool_and_outcome_and_never_show_what_was_sent() {
    let bearer = "bridge-bearer-0f9e8d7c";
    let config = SimConfig {
        token: bearer.to_owned(),
        faults: Faults {
            rate_limit: Some(RateLimitFault {
                requests: 1000,
                window_secs: 60,
                family: HeaderFamily::Ietf,
            }),
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let (sim, running) = over_simulator(config, HttpSettings::default()).await;
    let email = "jane.doe@example.com";
    let found = tool_result(
        &running.base,
        "list_all_1_password_users",
        json!({ "user_name": email, "limit": 1 }),
    )
    .await;
    let id = found["structuredContent"]["result"][0]["id"]
        .as_str()
        .expect("jane's id")
        .to_owned();
    let fetched = tool_result(
        &running.base,
        "get_single_1_password_user_by_id",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(fetched["isError"], false, "{fetched}");
    let missing = tool_result(
        &running.base,
        "get_single_1_password_user_by_id",
        json!({ "id": "NO-SUCH-USER-7" }),
    )
    .await;
    assert_eq!(missing["isError"], true, "{missing}");
    let invalid = tool_result(
        &running.base,
        "list_all_1_password_users",
        json!({ "limit": 1000 }),
    )
    .await;
    assert_eq!(invalid["isError"], true, "{invalid}");

    let response = get(&format!("{}/metrics", running.base)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4"))
    );
    let text = response.text().await.expect("text");
    for line in [
        "op_scim_mcp_tool_calls_total{tool=\"list_all_1_password_users\",outcome=\"ok\"} 1",
        "op_scim_mcp_tool_calls_total{tool=\"list_all_1_password_users\",outcome=\"invalid_arguments\"} 1",
        "op_scim_mcp_tool_calls_total{tool=\"get_single_1_password_user_by_id\",outcome=\"ok\"} 1",
        "op_scim_mcp_tool_calls_total{tool=\"get_single_1_password_user_by_id\",outcome=\"upstream_error\"} 1",
        "op_scim_mcp_tool_call_duration_seconds_count{tool=\"get_single_1_password_user_by_id\"} 2",
        "op_scim_mcp_tool_call_duration_seconds_bucket{tool=\"list_all_1_password_users\",le=\"+Inf\"} 2",
        "op_scim_mcp_upstream_responses_total{method=\"GET\",status=\"200\"} 2",
        "op_scim_mcp_upstream_responses_total{method=\"GET\",status=\"404\"} 1",
        "op_scim_mcp_build_info{version=",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let remaining = text
        .lines()
        .find_map(|line| line.strip_prefix("op_scim_mcp_upstream_rate_limit_remaining "))
        .and_then(|value| value.trim().parse::<u64>().ok())
        .expect("the rate-limit remaining gauge");
    assert!(remaining < 1000, "{remaining}");
    for secret in [bearer, email, "jane.doe", &id, "NO-SUCH-USER-7"] {
        assert!(!text.contains(secret), "`{secret}` leaked into:\n{text}");
    }
    running.shutdown.cancel();
    sim.shutdown().await;
}

/// A server over a simulator that answers after `latency_ms`, with one tool call in flight
/// for 300 ms by the time this returns.
async fn slow_call_in_flight(
    latency_ms: u64,
    settings: HttpSettings,
) -> (RunningSim, Running, tokio::task::JoinHandle<reqwest::Response>) {
    let config = SimConfig {
        faults: Faults {
            latency_ms,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let (sim, running) = over_simulator(config, settings).await;
    let base = running.base.clone();
    let call =
        tokio::spawn(
            async move { call_tool(&base, "get_1_password_service_provider_config", json!({})).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    (sim, running, call)
}

#[tokio::test]
async fn a_slow_call_finishes_within_the_grace_period_while_readyz_says_draining() {
    let settings = HttpSettings::default().with_shutdown_grace(Duration::from_secs(10));
    let (sim, running, call) = slow_call_in_flight(1500, settings).await;
    running.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let draining = get(&format!("{}/readyz", running.base)).await;
    assert_eq!(draining.status(), 503);
    let body: Value = draining.json().await.expect("json");
    assert_eq!(body["status"], "draining", "{body}");

    let response = call.await.expect("task");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    tokio::time::timeout(Duration::from_secs(5), running.task)
        .await
        .expect("the server stops once the call is done")
        .expect("task")
        .expect("clean exit");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_draining_server_keeps_answering_until_calls_stop_arriving() {
    let quiet = Duration::from_millis(800);
    let settings = HttpSettings::default()
        .with_shutdown_grace(Duration::from_secs(10))
        .with_drain_quiet(quiet);
    let (sim, running) = over_simulator(SimConfig::default(), settings).await;
    let fired = Instant::now();
    running.shutdown.cancel();
    // Nothing is in flight, yet a client whose balancer has not noticed /readyz is still served.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let response = call_tool(&running.base, "get_1_password_service_provider_config", json!({})).await;
        assert_eq!(response.status(), 200, "refused during the drain");
    }
    let last_call = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), running.task)
        .await
        .expect("the server stops once calls stop arriving")
        .expect("task")
        .expect("clean exit");
    assert!(
        last_call.elapsed() >= quiet - Duration::from_millis(50),
        "closed {:?} after the last call, before the quiet period of {quiet:?}",
        last_call.elapsed()
    );
    assert!(
        fired.elapsed() < Duration::from_secs(5),
        "waited for the whole grace period"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_call_outlasting_a_short_grace_is_cut_off_and_the_server_stops_in_time() {
    let grace = Duration::from_millis(500);
    let settings = HttpSettings::default().with_shutdown_grace(grace);
    let (sim, running, call) = slow_call_in_flight(8000, settings).await;
    let fired = Instant::now();
    running.shutdown.cancel();
    tokio::time::timeout(grace + Duration::from_secs(3), running.task)
        .await
        .expect("serve_http returns within the grace period and a margin")
        .expect("task")
        .expect("clean exit");
    let stopped_after = fired.elapsed();
    assert!(
        stopped_after >= grace,
        "stopped before the grace ended: {stopped_after:?}"
    );
    let response = tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .expect("the cut-off call is answered at once")
        .expect("task");
    assert_eq!(response.status(), 503, "cut off, not completed");
    // The simulator still holds the slow request; dropping it stops it without waiting.
    drop(sim);
}
