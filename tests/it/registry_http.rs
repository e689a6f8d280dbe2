//! Scoped, expiring, authenticated servers over real HTTP: the admin API, both token forms,
//! API-token second factor, expiry, revocation, and the audit log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bridge_sim::{RunningSim, SimConfig};
use generated_server::{CATALOGS, TOOLS};
use registry::http::RegistryHttp;
use registry::{KeyKind, MIN_LIFETIME, NewServer, Registry, SqliteStore};
use runtime::Scope;
use runtime::audit::AuditLog;
use runtime::serve::{HttpSettings, serve_http};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{Captured, TestServer, mcp, rpc, simulator};

struct Fixture {
    sim: RunningSim,
    base: String,
    registry: Arc<Registry>,
    admin_key: String,
    audit: Captured,
    shutdown: CancellationToken,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start() -> Fixture {
    let sim = simulator(SimConfig::default()).await;
    let dir = std::env::temp_dir().join(format!("op-scim-it-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let registry = Arc::new(Registry::new(Box::new(
        SqliteStore::open(&dir.join("state.db")).expect("store"),
    )));
    let (_, admin) = registry
        .create_key(KeyKind::AdminKey, "ops", SystemTime::now())
        .await
        .expect("admin key");
    let audit = Captured::default();
    let audit_log = Arc::new(AuditLog::to_writer(Box::new(audit.clone())));
    let server = TestServer::new(&sim.base_url(), sim.token())
        .audit(audit_log.clone())
        .build();
    let shutdown = CancellationToken::new();
    let (ready, address) = tokio::sync::oneshot::channel();
    let extension = RegistryHttp::new(registry.clone(), CATALOGS, "", "op-scim-mcp").with_audit(audit_log);
    let settings = HttpSettings::default().with_extension(Arc::new(extension));
    let token = shutdown.clone();
    tokio::spawn(async move {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let _ = serve_http(server, loopback, &settings, token, move |addr| {
            let _ = ready.send(addr);
        })
        .await;
    });
    let addr = address.await.expect("listening");
    Fixture {
        sim,
        base: format!("http://{addr}"),
        registry,
        admin_key: admin.reveal().to_owned(),
        audit,
        shutdown,
        _dir: TempDir(dir),
    }
}

fn rand_suffix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

async fn tool_names(url: &str, bearer: Option<&str>) -> Vec<String> {
    let answer: Value = mcp(url, bearer, &rpc("tools/list", json!({})))
        .await
        .json()
        .await
        .expect("json");
    answer["result"]["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn create(fixture: &Fixture, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/admin/servers", fixture.base))
        .bearer_auth(&fixture.admin_key)
        .json(&body)
        .send()
        .await
        .expect("admin post")
}

fn url_of(fixture: &Fixture, created: &Value) -> String {
    format!("{}{}", fixture.base, created["url"].as_str().expect("url"))
}

fn token_of(created: &Value) -> String {
    created["url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .expect("token")
        .to_owned()
}

#[tokio::test]
async fn a_read_only_server_created_through_the_api_works_at_once_and_refuses_writes() {
    let fixture = start().await;
    let unauthorized = reqwest::Client::new()
        .post(format!("{}/admin/servers", fixture.base))
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .expect("post");
    assert_eq!(unauthorized.status(), 401);

    let response = create(
        &fixture,
        json!({ "name": "Auditor", "config": { "methods": ["read"] } }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["config"]["methods"], json!(["read"]));
    let url = url_of(&fixture, &created);

    let names = tool_names(&url, None).await;
    assert!(
        names.contains(&"list_all_1_password_users".to_owned()),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|name| name.contains("suspend") || name.starts_with("create")),
        "{names:?}"
    );

    let call = rpc(
        "tools/call",
        json!({ "name": "1_password_users_suspend", "arguments": { "id": "X" } }),
    );
    let refused: Value = mcp(&url, None, &call).await.json().await.expect("json");
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        fixture.audit.text().is_empty() || !fixture.audit.text().contains("tool_call"),
        "nothing ran"
    );

    // The header form serves the same scoped set.
    let bearer_names = tool_names(&format!("{}/mcp", fixture.base), Some(&token_of(&created))).await;
    assert_eq!(bearer_names, names);

    // The listing never shows a token.
    let listing = reqwest::Client::new()
        .get(format!("{}/admin/servers", fixture.base))
        .bearer_auth(&fixture.admin_key)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(listing.contains("Auditor") && !listing.contains(&token_of(&created)));
    assert!(
        fixture.audit.text().contains("\"event\":\"server.create\""),
        "{}",
        fixture.audit.text()
    );
    assert!(
        !fixture.audit.text().contains(&token_of(&created))
            && !fixture.audit.text().contains(&fixture.admin_key)
    );
    fixture.shutdown.cancel();
    fixture.sim.shutdown().await;
}

#[tokio::test]
async fn tags_hide_admin_tools_and_bad_bodies_name_the_field() {
    let fixture = start().await;
    let created: Value = create(
        &fixture,
        json!({ "name": "Directory", "config": { "methods": ["read", "custom"], "tags": ["directory"] } }),
    )
    .await
    .json()
    .await
    .expect("json");
    let names = tool_names(&url_of(&fixture, &created), None).await;
    assert!(names.contains(&"1_password_users_suspend".to_owned()));
    assert!(
        !names
            .iter()
            .any(|name| name.contains("service_provider_config") || name.contains("schemas")),
        "{names:?}"
    );

    let bad = create(&fixture, json!({ "name": "x", "config": { "methods": 5 } })).await;
    assert_eq!(bad.status(), 400);
    let message: Value = bad.json().await.expect("json");
    assert!(
        message["error"]
            .as_str()
            .is_some_and(|m| m.contains("config.methods")),
        "{message}"
    );
    let empty = create(
        &fixture,
        json!({ "name": "y", "config": { "methods": ["read"], "tags": ["nothing"] } }),
    )
    .await;
    assert_eq!(empty.status(), 400);
    let soon = create(
        &fixture,
        json!({ "name": "z", "expires_at": "2000-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(soon.status(), 400);
    fixture.shutdown.cancel();
    fixture.sim.shutdown().await;
}

#[tokio::test]
async fn expiry_revocation_and_api_tokens_are_enforced_on_the_next_request() {
    let fixture = start().await;
    let tools = TOOLS;
    let allows = |scope: &Scope| tools.iter().any(|tool| scope.allows(&tool.spec));
    // Created in the past with the registry's minimum lifetime, so that it expires four seconds
    // from now: time enough to be served first even on a loaded machine (one second was not,
    // in a CI run).
    let now = SystemTime::now();
    let past = now - (MIN_LIFETIME - Duration::from_secs(4));
    let new = NewServer {
        name: "Short".into(),
        expires_at: Some(past + MIN_LIFETIME),
        ..NewServer::default()
    };
    let (entry, token) = fixture
        .registry
        .create_server(new, past, &crate::support::vocabulary(), allows)
        .await
        .expect("created");
    let url = format!("{}/mcp/{}", fixture.base, token.reveal());
    let served = tool_names(&url, None).await;
    assert!(
        !served.is_empty(),
        "not served {:?} after it was created",
        now.elapsed().unwrap_or_default()
    );
    let expiry = entry.expires_at.expect("expiry");
    loop {
        let response = mcp(&url, None, &rpc("tools/list", json!({}))).await;
        if response.status() == 401 {
            let message: Value = response.json().await.expect("json");
            assert!(
                message["error"]
                    .as_str()
                    .is_some_and(|m| m.contains("expired at")),
                "{message}"
            );
            break;
        }
        assert!(
            SystemTime::now() < expiry + Duration::from_secs(1),
            "still served a second after expires_at"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let created: Value = create(&fixture, json!({ "name": "Revoked" }))
        .await
        .json()
        .await
        .expect("json");
    let url = url_of(&fixture, &created);
    assert!(!tool_names(&url, None).await.is_empty());
    let revoked = reqwest::Client::new()
        .delete(format!(
            "{}/admin/servers/{}",
            fixture.base,
            created["id"].as_str().expect("id")
        ))
        .bearer_auth(&fixture.admin_key)
        .send()
        .await
        .expect("delete");
    assert_eq!(revoked.status(), 204);
    let after = mcp(&url, None, &rpc("tools/list", json!({}))).await;
    assert_eq!(after.status(), 401);
    assert!(after.headers().get("www-authenticate").is_some());

    let created: Value = create(
        &fixture,
        json!({ "name": "Second factor", "config": { "methods": ["read", "custom"], "require_api_token_auth": true } }),
    )
    .await
    .json()
    .await
    .expect("json");
    let url = url_of(&fixture, &created);
    let missing = mcp(&url, None, &rpc("tools/list", json!({}))).await;
    assert_eq!(missing.status(), 401);
    let message: Value = missing.json().await.expect("json");
    assert!(
        message["error"]
            .as_str()
            .is_some_and(|m| m.contains("API token required")),
        "{message}"
    );
    let (api_entry, api) = fixture
        .registry
        .create_key(KeyKind::ApiToken, "agent", SystemTime::now())
        .await
        .expect("api token");
    assert!(
        tool_names(&url, Some(api.reveal()))
            .await
            .contains(&"1_password_users_suspend".to_owned())
    );

    // A custom call through it is audited with the entry, the tool and the target id.
    let users: Value = mcp(
        &url,
        Some(api.reveal()),
        &rpc(
            "tools/call",
            json!({ "name": "list_all_1_password_users", "arguments": { "limit": 1 } }),
        ),
    )
    .await
    .json()
    .await
    .expect("json");
    let id = users["result"]["structuredContent"]["result"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let suspend = rpc(
        "tools/call",
        json!({ "name": "1_password_users_suspend", "arguments": { "id": id } }),
    );
    let done: Value = mcp(&url, Some(api.reveal()), &suspend)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(done["result"]["isError"], false, "{done}");
    // Two lines with one call id: the attempt, written before the bridge is called, and the
    // outcome.
    let audit = fixture.audit.text();
    let lines: Vec<Value> = audit
        .lines()
        .filter(|line| line.contains("\"tool_call\""))
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2, "{audit}");
    let (attempt, outcome) = (&lines[0], &lines[1]);
    assert_eq!(attempt["phase"], "attempt");
    assert_eq!(outcome["phase"], "outcome");
    assert_eq!(attempt["call_id"], outcome["call_id"]);
    for line in [attempt, outcome] {
        assert_eq!(line["tool"], "1_password_users_suspend");
        assert_eq!(line["server_name"], "Second factor");
        assert_eq!(line["targets"], json!([id]));
        assert_eq!(line["api_token_id"], json!(api_entry.id));
    }
    assert_eq!(outcome["outcome"], "ok");
    assert_eq!(outcome["upstream_status"], 200);
    assert!(!audit.contains(api.reveal()) && !audit.contains(&token_of(&created)));
    fixture.shutdown.cancel();
    fixture.sim.shutdown().await;
}

async fn refused_body(fixture: &Fixture, body: Value) -> String {
    let response = create(fixture, body.clone()).await;
    assert_eq!(response.status(), 400, "{body}");
    let answer: Value = response.json().await.expect("json");
    answer["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_admin_api_defaults_to_read_only_and_refuses_what_could_widen_a_scope_later() {
    let fixture = start().await;
    let created: Value = create(&fixture, json!({ "name": "No config" }))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(created["config"]["methods"], json!(["read"]), "{created}");
    let names = tool_names(&url_of(&fixture, &created), None).await;
    assert!(
        !names.is_empty()
            && names
                .iter()
                .all(|name| name.starts_with("list_all") || name.starts_with("get_")),
        "{names:?}"
    );

    for (methods, expected) in [
        (json!([""]), "methods list is empty"),
        (json!([]), "methods list is empty"),
        (
            json!(["read", "nope"]),
            "`nope` is not one of the methods: use read, write, custom,",
        ),
    ] {
        let message = refused_body(&fixture, json!({ "name": "x", "config": { "methods": methods } })).await;
        assert!(message.contains(expected), "{message}");
    }
    let message = refused_body(
        &fixture,
        json!({ "name": "x", "config": { "tags": ["directory", "nope"] } }),
    )
    .await;
    assert!(
        message.contains("`nope` is not one of the tags: use admin, directory"),
        "{message}"
    );
    let message = refused_body(&fixture, json!({ "name": "evil\u{202e}gpj.exe" })).await;
    assert!(message.contains("U+202E"), "{message}");
    let message = refused_body(&fixture, json!({ "name": "x".repeat(201) })).await;
    assert!(message.contains("at most 200"), "{message}");
    let message = refused_body(
        &fixture,
        json!({ "name": "x", "expires_at": "2099-12-31T23:59:59" }),
    )
    .await;
    assert!(message.contains("with an offset"), "{message}");
    let offset: Value = create(
        &fixture,
        json!({ "name": "Offset", "expires_at": "2099-12-31T23:59:59+02:00" }),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(offset["expires_at"], "2099-12-31T21:59:59Z", "{offset}");

    // Same Host rules as /mcp.
    let foreign = reqwest::Client::new()
        .get(format!("{}/admin/servers", fixture.base))
        .bearer_auth(&fixture.admin_key)
        .header("host", "evil.example")
        .send()
        .await
        .expect("get");
    assert_eq!(foreign.status(), 403);
    // A request without a token is told both ways to send one.
    let missing = mcp(
        &format!("{}/mcp", fixture.base),
        None,
        &rpc("tools/list", json!({})),
    )
    .await;
    assert_eq!(missing.status(), 401);
    let message: Value = missing.json().await.expect("json");
    let message = message["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("/mcp/<token>") && message.contains("Authorization: Bearer"),
        "{message}"
    );
    fixture.shutdown.cancel();
    fixture.sim.shutdown().await;
}

/// A writer that fails every write, as a full disk does.
struct Full;

impl std::io::Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("No space left on device"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_change_that_cannot_be_audited_is_refused_before_it_reaches_the_bridge() {
    let sim = simulator(SimConfig::default()).await;
    let audit = Arc::new(AuditLog::to_writer(Box::new(Full)));
    let server = TestServer::new(&sim.base_url(), sim.token()).audit(audit).build();
    let listed = server
        .call(
            "list_all_1_password_users",
            serde_json::Map::from_iter([("limit".to_owned(), json!(1))]),
        )
        .await
        .expect("reads are not audited, so they still run");
    let user = listed.structured_content.expect("structured")["result"][0].clone();
    assert_eq!(user["active"], true);
    let id = user["id"].as_str().expect("id").to_owned();
    let refused = server
        .call(
            "1_password_users_suspend",
            serde_json::Map::from_iter([("id".to_owned(), json!(id))]),
        )
        .await
        .expect("a result");
    assert_eq!(refused.is_error, Some(true));
    let text = serde_json::to_string(&refused.content).expect("json");
    assert!(
        text.contains("audit log") && text.contains("nothing was sent"),
        "{text}"
    );
    let still = server
        .call(
            "get_single_1_password_user_by_id",
            serde_json::Map::from_iter([("id".to_owned(), json!(id))]),
        )
        .await
        .expect("read back");
    assert_eq!(
        still.structured_content.expect("structured")["active"],
        true,
        "the user was suspended"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_created_user_or_group_is_audited_by_the_name_it_was_given() {
    let sim = simulator(SimConfig::default()).await;
    let audit = Captured::default();
    let server = TestServer::new(&sim.base_url(), sim.token())
        .audit(Arc::new(AuditLog::to_writer(Box::new(audit.clone()))))
        .build();
    for (tool, arguments, target) in [
        (
            "create_a_1_password_user",
            json!({ "user_name": "new.hire@example.com" }),
            "new.hire@example.com",
        ),
        (
            "create_a_1_password_group",
            json!({ "display_name": "Contractors" }),
            "Contractors",
        ),
    ] {
        let Value::Object(arguments) = arguments else {
            unreachable!()
        };
        let result = server.call(tool, arguments).await.expect("a result");
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let lines: Vec<Value> = audit
            .text()
            .lines()
            .map(|line| serde_json::from_str(line).expect("json"))
            .filter(|line: &Value| line["tool"] == tool)
            .collect();
        assert_eq!(lines.len(), 2, "{}", audit.text());
        assert!(
            lines.iter().all(|line| line["targets"] == json!([target])),
            "{}",
            audit.text()
        );
    }
    sim.shutdown().await;
}
