//! Two `op-scim-mcp` processes on one PostgreSQL registry and one cursor key, as behind a load
//! balancer: what one replica creates, the other serves at once, and what it revokes, the other
//! refuses within a second (its cache of lookups hears of it from PostgreSQL); a cursor issued
//! by one pages on the other; killing one mid-load loses no acknowledged change.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::Served;

mod support;

use support::{BINARY, client};

const CURSOR_KEY: &str = "replicas-share-this-cursor-key-0123456789";

/// One replica: a child process on an ephemeral loopback port, killed when dropped.
fn replica(database_url: &str, bridge_url: &str, bridge_token: &str) -> Served {
    let mut command = Command::new(BINARY);
    command
        .args(["--transport", "http", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("OP_SCIM_BRIDGE_URL", bridge_url)
        .env("OP_SCIM_BEARER_TOKEN", bridge_token)
        .env("OP_SCIM_DATABASE_URL", database_url)
        .env("OP_SCIM_CURSOR_KEY", CURSOR_KEY)
        .env("OP_SCIM_SHUTDOWN_GRACE", "5s");
    Served::start(command)
}

fn admin_key(database_url: &str) -> String {
    let output = Command::new(BINARY)
        .env_clear()
        .args([
            "admin-keys",
            "create",
            "--name",
            "ops",
            "--database-url",
            database_url,
        ])
        .output()
        .expect("admin-keys create runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value = serde_json::from_slice(&output.stdout).expect("json");
    created["secret"].as_str().expect("secret").to_owned()
}

/// A server made through `replica`'s admin API: read-only unless `methods` says more.
async fn create_server(replica: &Served, admin: &str, name: &str, methods: &[&str]) -> (String, String) {
    let body = if methods.is_empty() {
        json!({ "name": name })
    } else {
        json!({ "name": name, "config": { "methods": methods } })
    };
    let response = client()
        .post(format!("{}/admin/servers", replica.base))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .expect("admin API answers");
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    let url = created["url"].as_str().expect("url");
    let token = url.rsplit('/').next().expect("token").to_owned();
    (created["id"].as_str().expect("id").to_owned(), token)
}

/// One MCP request to `replica` for the server holding `token`; the HTTP status and JSON body.
async fn mcp(base: &str, token: &str, method: &str, params: Value) -> Result<(u16, Value), String> {
    let response = client()
        .post(format!("{base}/mcp/{token}"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn call_tool(base: &str, token: &str, tool: &str, arguments: Value) -> Result<Value, String> {
    let (status, body) = mcp(
        base,
        token,
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
    )
    .await?;
    let result = &body["result"];
    if status != 200 || result.is_null() || result["isError"] == true {
        return Err(format!("{status}: {body}"));
    }
    Ok(result["structuredContent"].clone())
}

#[test]
fn two_replicas_share_the_registry_cursors_and_survive_the_loss_of_one() {
    // The PostgreSQL client blocks: set up the database before any async runtime runs.
    let postgres = testkit::TempPostgres::start();
    let database_url = postgres.create_database("replicas");
    let admin = admin_key(&database_url);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(scenario(&postgres, &database_url, &admin));
}

async fn scenario(postgres: &testkit::TempPostgres, database_url: &str, admin: &str) {
    let sim = bridge_sim::spawn(
        bridge_sim::SimConfig {
            users: 300,
            ..bridge_sim::SimConfig::default()
        },
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("simulator starts");
    let mut a = replica(database_url, &sim.base_url(), sim.token());
    let b = replica(database_url, &sim.base_url(), sim.token());

    for replica in [&a, &b] {
        let ready = client()
            .get(format!("{}/readyz", replica.base))
            .send()
            .await
            .expect("readyz answers");
        assert_eq!(ready.status(), 200, "{}", replica.log());
    }

    // Created on A, serves on B at once.
    let (id, token) = create_server(&a, admin, "auditor", &[]).await;
    let (status, listed) = mcp(&b.base, &token, "tools/list", json!({}))
        .await
        .expect("B answers");
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["result"]["tools"]
            .as_array()
            .is_some_and(|tools| !tools.is_empty())
    );

    // A cursor issued by A pages on B.
    let first = call_tool(
        &a.base,
        &token,
        "list_all_1_password_users",
        json!({ "limit": 50 }),
    )
    .await
    .expect("first page on A");
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let second = call_tool(
        &b.base,
        &token,
        "list_all_1_password_users",
        json!({ "limit": 50, "next_cursor": cursor }),
    )
    .await
    .expect("second page on B");
    let ids = |page: &Value| -> Vec<String> {
        page["result"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .filter_map(|u| u["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids(&second).len(), 50);
    assert!(
        ids(&second).iter().all(|id| !ids(&first).contains(id)),
        "pages overlap"
    );

    // Revoked on B: refused by B at once, and by A (which has the token in its cache) within a
    // second, when the notification from PostgreSQL has emptied that cache.
    let revoked = client()
        .delete(format!("{}/admin/servers/{id}", b.base))
        .bearer_auth(admin)
        .send()
        .await
        .expect("revoke answers");
    assert_eq!(revoked.status(), 204);
    let revoked_at = Instant::now();
    let (status, _) = mcp(&b.base, &token, "tools/list", json!({}))
        .await
        .expect("B answers");
    assert_eq!(status, 401);
    loop {
        let (status, body) = mcp(&a.base, &token, "tools/list", json!({}))
            .await
            .expect("A answers");
        if status == 401 {
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "A still admits a token revoked on B {:?} later",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Kill A under load: every acknowledged change is kept and B keeps serving.
    let (_, writer) = create_server(&b, admin, "writer", &["read", "write"]).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let served_by_b_after_kill = Arc::new(AtomicUsize::new(0));
    let a_killed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (a_base, b_base, writer) = (a.base.clone(), b.base.clone(), writer.clone());
        let (acknowledged, served, killed, stop) = (
            acknowledged.clone(),
            served_by_b_after_kill.clone(),
            a_killed.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                round += 1;
                let user_name = format!("replica.load.{worker}.{round}@example.com");
                let arguments = json!({ "user_name": user_name });
                // Half the calls go to A; once A is dead they fail and are not acknowledged.
                let base = if round % 2 == 0 { &a_base } else { &b_base };
                let after_kill = killed.load(Ordering::SeqCst);
                let outcome = call_tool(base, &writer, "create_a_1_password_user", arguments).await;
                if let Ok(created) = outcome {
                    if after_kill && base == &b_base {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                    let id = created["id"].as_str().unwrap_or_default().to_owned();
                    acknowledged.lock().expect("acks").push(id);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (late_id, _) = create_server(&a, admin, "acknowledged-by-a-just-before-it-died", &[]).await;
    a.kill();
    a_killed.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("worker");
    }
    let acknowledged = acknowledged.lock().expect("acks").clone();
    assert!(
        served_by_b_after_kill.load(Ordering::SeqCst) > 0,
        "B served nothing after A died"
    );
    let listed: Value = client()
        .get(format!("{}/admin/servers", b.base))
        .bearer_auth(admin)
        .send()
        .await
        .expect("list answers")
        .json()
        .await
        .expect("json");
    assert!(listed.to_string().contains(&late_id), "{listed}");
    let (_, reader) = create_server(&b, admin, "reader", &[]).await;
    for id in &acknowledged {
        assert!(!id.is_empty(), "an acknowledged create without an id");
        call_tool(
            &b.base,
            &reader,
            "get_single_1_password_user_by_id",
            json!({ "id": id }),
        )
        .await
        .unwrap_or_else(|error| panic!("acknowledged user {id} is missing: {error}"));
    }

    // The database goes away: B says it is not ready (naming the registry), then heals.
    postgres.stop();
    let body = wait_for_readiness(&b, 503).await;
    assert!(body.contains("registry"), "{body}");
    let (status, _) = mcp(&b.base, &reader, "tools/list", json!({}))
        .await
        .expect("B answers");
    assert_eq!(status, 503, "a registry outage refuses with 503, never admits");
    postgres.start_again();
    wait_for_readiness(&b, 200).await;
    let (status, _) = mcp(&b.base, &reader, "tools/list", json!({}))
        .await
        .expect("B answers");
    assert_eq!(status, 200, "the pool reconnects after the database comes back");
    sim.shutdown().await;
}

/// Polls `/readyz` until it answers `status` (readiness is cached ~2 s); its body.
async fn wait_for_readiness(replica: &Served, status: u16) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = client()
            .get(format!("{}/readyz", replica.base))
            .send()
            .await
            .expect("readyz answers");
        let answered = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if answered == status {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz stayed {answered}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
