//! The OAuth resource server over real HTTP, against an authorization server played in process:
//! its metadata and key set served on loopback, its tokens signed with Ed25519 keys made here.
//! (tests/e2e/mcp_client_oauth.py does the same against a real provider, oidc-provider.)

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bridge_sim::{RunningSim, SimConfig};
use generated_server::CATALOGS;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth::{OAuthHttp, OAuthMetrics, OAuthSettings, ScopeMap, Transport};
use rand::RngCore as _;
use runtime::audit::AuditLog;
use runtime::serve::{HttpSettings, serve_http};
use runtime::{McpServer, Metrics};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{Captured, TestServer, mcp, rpc, simulator};

/// The resource's origin: tokens name `{PUBLIC}/mcp`. Nothing resolves it; the audience only
/// has to match.
const PUBLIC: &str = "https://mcp.example.test";

/// An Ed25519 signing key and its public JWK.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn new(kid: &str) -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        // PKCS#8 for an Ed25519 private key: a fixed 16-byte prefix, then the 32-byte seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        let encoding = EncodingKey::from_ed_der(&der);
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            encoding,
            jwk,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// The authorization server: RFC 8414 metadata and a key set, whose fetches it counts.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
}

/// Where an issuer publishes its metadata.
#[derive(Clone, Copy)]
enum Discovery {
    /// RFC 8414's location, the well-known segment before the issuer's path.
    Rfc8414,
    /// OpenID Connect's, after the issuer's path (Keycloak, Entra ID, Okta), with RFC 8414's
    /// refused with 403 rather than 404.
    OpenId,
}

impl Issuer {
    async fn start() -> Self {
        Self::publishing_at(Discovery::Rfc8414).await
    }

    async fn publishing_at(discovery: Discovery) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // A path in the issuer, so the metadata is found where RFC 8414 §3.1 puts it.
        let url = format!("http://{addr}/tenant");
        let keys: Arc<Mutex<Vec<Jwk>>> = Arc::default();
        let fetches: Arc<AtomicUsize> = Arc::default();
        let metadata = json!({
            "issuer": url,
            "jwks_uri": format!("http://{addr}/keys"),
            "token_endpoint": format!("http://{addr}/token"),
        });
        let (served, counted) = (keys.clone(), fetches.clone());
        let serve_metadata = move || async move { axum::Json(metadata) };
        let router = match discovery {
            Discovery::Rfc8414 => axum::Router::new().route(
                "/.well-known/oauth-authorization-server/tenant",
                axum::routing::get(serve_metadata),
            ),
            Discovery::OpenId => axum::Router::new()
                .route(
                    "/.well-known/oauth-authorization-server/tenant",
                    axum::routing::get(|| async { axum::http::StatusCode::FORBIDDEN }),
                )
                .route(
                    "/tenant/.well-known/openid-configuration",
                    axum::routing::get(serve_metadata),
                ),
        };
        let router = router.route(
            "/keys",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let keys = served.lock().expect("keys").clone();
                async move { axum::Json(JwkSet { keys }) }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, keys, fetches }
    }

    fn publish(&self, key: &SigningKey) {
        self.keys.lock().expect("keys").push(key.jwk.clone());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The claims of a good token from `issuer` granting `scope`.
fn claims(issuer: &Issuer, scope: &str) -> Value {
    json!({
        "iss": issuer.url,
        "aud": format!("{PUBLIC}/mcp"),
        "sub": "alice@example.com",
        "client_id": "claude",
        "scope": scope,
        "iat": now(),
        "exp": now() + 300,
    })
}

struct Fixture {
    /// Kept running for the fixture's life.
    _sim: RunningSim,
    issuer: Issuer,
    key: SigningKey,
    url: String,
    base: String,
    audit: Captured,
    shutdown: CancellationToken,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn settings(issuer: &Issuer, cooldown: Duration) -> OAuthSettings {
    OAuthSettings {
        public_url: PUBLIC.to_owned(),
        issuers: vec![issuer.url.clone()],
        transport: Transport::HttpsOrLoopback,
        extra_audiences: Vec::new(),
        algorithms: oauth::ASYMMETRIC.to_vec(),
        require_access_token_type: false,
        leeway: Duration::from_secs(30),
        key_set_cooldown: cooldown,
        key_set_max_age: Duration::from_secs(3600),
        scopes: ScopeMap::parse(&generated_server::OAUTH_SCOPES, CATALOGS).expect("default scopes"),
        resource_name: "op-scim-mcp".to_owned(),
        body_read_timeout: Duration::from_secs(5),
        tokens_beside: false,
    }
}

async fn start(cooldown: Duration) -> Fixture {
    start_with(Discovery::Rfc8414, |settings| {
        settings.key_set_cooldown = cooldown
    })
    .await
}

/// A server over the simulator, admitting the tokens of an issuer that publishes its metadata
/// where `discovery` says, with the test settings as `adjust` leaves them.
async fn start_with(discovery: Discovery, adjust: impl FnOnce(&mut OAuthSettings)) -> Fixture {
    let sim = simulator(SimConfig {
        users: 20,
        ..SimConfig::default()
    })
    .await;
    let issuer = Issuer::publishing_at(discovery).await;
    let key = SigningKey::new("key-1");
    issuer.publish(&key);
    let audit = Captured::default();
    let mut metrics = Metrics::new("test");
    let oauth_metrics = OAuthMetrics::registered_in(&mut metrics);
    let server = TestServer::new(&sim.base_url(), sim.token())
        .audit(Arc::new(AuditLog::to_writer(Box::new(audit.clone()))))
        .metrics(Arc::new(metrics))
        .build();
    let mut settings = settings(&issuer, Duration::from_secs(30));
    adjust(&mut settings);
    let (base, shutdown) = serve(server, settings, oauth_metrics).await;
    Fixture {
        _sim: sim,
        issuer,
        key,
        url: format!("{base}/mcp"),
        base,
        audit,
        shutdown,
    }
}

async fn serve(
    server: McpServer,
    settings: OAuthSettings,
    metrics: OAuthMetrics,
) -> (String, CancellationToken) {
    let oauth = OAuthHttp::new(settings, server.published(), metrics).expect("oauth settings");
    let (base, shutdown) = listen(server, HttpSettings::default().with_extension(Arc::new(oauth))).await;
    until_ready(&base).await;
    (base, shutdown)
}

/// `server` over HTTP on an ephemeral loopback port: its base URL, and what stops it.
async fn listen(server: McpServer, http: HttpSettings) -> (String, CancellationToken) {
    let shutdown = CancellationToken::new();
    let (ready, address) = tokio::sync::oneshot::channel();
    let token = shutdown.clone();
    tokio::spawn(async move {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let _ = serve_http(server, loopback, &http, token, move |addr| {
            let _ = ready.send(addr);
        })
        .await;
    });
    let addr = address.await.expect("listening");
    (format!("http://{addr}"), shutdown)
}

/// Waits for `/readyz`: once the issuer's keys are loaded (the background task's first fetch).
async fn until_ready(base: &str) {
    for _ in 0..100 {
        let ready = reqwest::get(format!("{base}/readyz")).await.expect("readyz");
        if ready.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the OAuth issuer's keys never loaded");
}

/// The tools listed to `bearer` (none when empty).
async fn tool_names(url: &str, bearer: &str) -> Vec<String> {
    let bearer = (!bearer.is_empty()).then_some(bearer);
    let response = mcp(url, bearer, &rpc("tools/list", json!({}))).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    answer["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect()
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn unsigned(claims: &Value, alg: &str) -> String {
    let encode = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.",
        encode(&json!({ "alg": alg, "typ": "at+jwt", "kid": "key-1" })),
        encode(claims)
    )
}

#[tokio::test]
async fn the_metadata_names_the_resource_its_issuer_and_scopes_at_both_locations() {
    let fixture = start(Duration::from_secs(30)).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = reqwest::get(format!("{}{path}", fixture.base))
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let document: Value = response.json().await.expect("json");
        assert_eq!(document["resource"], format!("{PUBLIC}/mcp"), "{path}");
        assert_eq!(document["authorization_servers"], json!([fixture.issuer.url]));
        // This server serves the SCIM tools only, so events:read would grant nothing.
        assert_eq!(
            document["scopes_supported"],
            json!(["scim:read", "scim:write", "scim:admin"])
        );
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
        assert_eq!(document["resource_name"], "op-scim-mcp");
    }
}

#[tokio::test]
async fn no_token_is_a_401_pointing_at_the_metadata_without_an_error_code() {
    let fixture = start(Duration::from_secs(30)).await;
    let response = mcp(&fixture.url, None, &rpc("tools/list", json!({}))).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!(
            "Bearer resource_metadata=\"{PUBLIC}/.well-known/oauth-protected-resource/mcp\", scope=\"scim:read\""
        )
    );
    // Paths under /mcp reach the same MCP service, so they are gated the same way.
    for path in ["/mcp/", "/mcp/x", "/mcp/x/y"] {
        let response = mcp(
            &format!("{}{path}", fixture.base),
            None,
            &rpc("tools/list", json!({})),
        )
        .await;
        assert_eq!(response.status(), 401, "{path}");
        assert!(challenge(&response).contains("resource_metadata"), "{path}");
    }
    // A GET (the SSE stream) is gated the same way.
    let get = reqwest::Client::new()
        .get(&fixture.url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("get");
    assert_eq!(get.status(), 401);
}

#[tokio::test]
async fn a_valid_token_lists_only_what_its_scopes_allow() {
    let fixture = start(Duration::from_secs(30)).await;
    let reader = fixture.key.sign(&claims(&fixture.issuer, "openid scim:read"));
    let names = tool_names(&fixture.url, &reader).await;
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

    let admin = fixture.key.sign(&claims(&fixture.issuer, "scim:admin"));
    let all = tool_names(&fixture.url, &admin).await;
    assert!(all.contains(&"1_password_users_suspend".to_owned()), "{all:?}");
    assert!(all.len() > names.len());

    // A token with none of this resource's scopes is sent to get one; events:read is not one
    // here, since this server serves no Events tool.
    let none = fixture
        .key
        .sign(&claims(&fixture.issuer, "openid profile events:read"));
    let response = mcp(&fixture.url, Some(&none), &rpc("tools/list", json!({}))).await;
    assert_eq!(response.status(), 403);
    assert!(
        challenge(&response).starts_with("Bearer error=\"insufficient_scope\", scope=\"scim:read\""),
        "{}",
        challenge(&response)
    );
}

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_invalid_token_saying_why() {
    let fixture = start(Duration::from_secs(30)).await;
    let good = claims(&fixture.issuer, "scim:read");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        claims
    };
    let stranger = SigningKey::new("key-1");
    let unknown_kid = SigningKey::new("not-published");
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(b"anyone can sign with a shared secret").expect("secret"),
    )
    .expect("hs256");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another resource",
            fixture
                .key
                .sign(&with(&|c| c["aud"] = json!("https://other.example.test/mcp"))),
            "not meant for this resource",
        ),
        (
            "no audience",
            fixture.key.sign(&with(&|c| {
                c.as_object_mut().map(|o| o.remove("aud"));
            })),
            "lacks the `aud` claim",
        ),
        (
            "another issuer",
            fixture
                .key
                .sign(&with(&|c| c["iss"] = json!("https://evil.example.test"))),
            "issuer is not one this server trusts",
        ),
        (
            "expired",
            fixture.key.sign(&with(&|c| c["exp"] = json!(now() - 120))),
            "has expired",
        ),
        (
            "not yet valid",
            fixture.key.sign(&with(&|c| c["nbf"] = json!(now() + 120))),
            "not valid yet",
        ),
        (
            "no identity",
            fixture.key.sign(&with(&|c| {
                c.as_object_mut().map(|o| {
                    o.remove("sub");
                    o.remove("client_id")
                });
            })),
            "neither a subject",
        ),
        (
            "signed by a stranger under a known kid",
            stranger.sign(&good),
            "signature does not verify",
        ),
        (
            "a key the issuer does not publish",
            unknown_kid.sign(&good),
            "does not publish",
        ),
        ("alg none", unsigned(&good, "none"), "signed with `none`"),
        ("HMAC", hmac, "signed with `HS256`"),
        ("not a JWT", "garbage".to_owned(), "not a JWT"),
        ("a JWT-shaped nothing", "a.b.c".to_owned(), "not a JWT"),
    ];
    for (case, token, says) in cases {
        let response = mcp(&fixture.url, Some(&token), &rpc("tools/list", json!({}))).await;
        assert_eq!(response.status(), 401, "{case}");
        let challenge = challenge(&response);
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{case}: {challenge}"
        );
        assert!(
            challenge.contains(&format!(
                "resource_metadata=\"{PUBLIC}/.well-known/oauth-protected-resource/mcp\""
            )),
            "{case}: {challenge}"
        );
        let body: Value = response.json().await.expect("json");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(says), "{case}: {description}");
    }
}

#[tokio::test]
async fn a_call_beyond_the_tokens_scopes_is_a_403_naming_them_and_reaches_nothing() {
    let fixture = start(Duration::from_secs(30)).await;
    let reader = fixture.key.sign(&claims(&fixture.issuer, "scim:read"));
    let admin = fixture.key.sign(&claims(&fixture.issuer, "scim:admin"));
    let listed: Value = mcp(
        &fixture.url,
        Some(&reader),
        &rpc(
            "tools/call",
            json!({ "name": "list_all_1_password_users", "arguments": { "limit": 1 } }),
        ),
    )
    .await
    .json()
    .await
    .expect("json");
    let id = listed["result"]["structuredContent"]["result"][0]["id"]
        .as_str()
        .expect("a user id")
        .to_owned();

    let suspend = rpc(
        "tools/call",
        json!({ "name": "1_password_users_suspend", "arguments": { "id": id } }),
    );
    let refused = mcp(&fixture.url, Some(&reader), &suspend).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        challenge(&refused),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"scim:admin\", resource_metadata=\"{PUBLIC}/.well-known/oauth-protected-resource/mcp\", error_description=\"the tool `1_password_users_suspend` needs the scope scim:admin\""
        )
    );
    assert!(
        !fixture.audit.text().contains("1_password_users_suspend"),
        "nothing was attempted: {}",
        fixture.audit.text()
    );
    let user: Value = mcp(
        &fixture.url,
        Some(&admin),
        &rpc(
            "tools/call",
            json!({ "name": "get_single_1_password_user_by_id", "arguments": { "id": id } }),
        ),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(user["result"]["structuredContent"]["active"], true, "{user}");

    // The admin's call goes through, and the audit log names who made it.
    let done = mcp(&fixture.url, Some(&admin), &suspend).await;
    assert_eq!(done.status(), 200);
    let answer: Value = done.json().await.expect("json");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let audit = fixture.audit.text();
    let line: Value = audit
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["tool"] == "1_password_users_suspend" && line["phase"] == "outcome")
        .unwrap_or_else(|| panic!("no outcome line: {audit}"));
    assert_eq!(line["sub"], "alice@example.com");
    assert_eq!(line["client_id"], "claude");
    assert_eq!(line["issuer"], fixture.issuer.url.as_str());
    assert!(!audit.contains(&admin), "the token is never logged");
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_made_up_kids_cannot_flood_the_issuer() {
    let fixture = start(Duration::from_secs(1)).await;
    let loaded = fixture.issuer.fetches();
    assert_eq!(loaded, 1, "one fetch at start");

    // 300 requests naming made-up keys, 30 at a time: the cooldown holds them to one fetch.
    let url = fixture.url.clone();
    let mut tasks = Vec::new();
    for round in 0..10 {
        for _ in 0..30 {
            let forged = SigningKey::new(&format!("made-up-{round}-{}", rand::rng().next_u64()));
            let token = forged.sign(&claims(&fixture.issuer, "scim:read"));
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                mcp(&url, Some(&token), &rpc("tools/list", json!({})))
                    .await
                    .status()
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), 401);
    }
    let after_flood = fixture.issuer.fetches();
    assert!(
        after_flood - loaded <= 2,
        "{} fetches for 300 made-up kids",
        after_flood - loaded
    );

    // The provider rotates a new key in; after the cooldown, its first token is accepted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = SigningKey::new("key-2");
    fixture.issuer.publish(&rotated);
    let token = rotated.sign(&claims(&fixture.issuer, "scim:read"));
    let names = tool_names(&fixture.url, &token).await;
    assert!(!names.is_empty());
    assert_eq!(
        fixture.issuer.fetches(),
        after_flood + 1,
        "one fetch for the rotated key"
    );
    // Known now: no further fetch.
    tool_names(&fixture.url, &token).await;
    assert_eq!(fixture.issuer.fetches(), after_flood + 1);

    let metrics = reqwest::get(format!("{}/metrics", fixture.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let fetched = format!(
        "op_scim_mcp_oauth_key_set_fetches_total{{issuer=\"{}\",outcome=\"ok\"}} {}",
        fixture.issuer.url,
        after_flood + 1
    );
    assert!(metrics.contains(&fetched), "{fetched}\n{metrics}");
    assert!(
        metrics.contains("op_scim_mcp_oauth_requests_total{outcome=\"invalid_token\"} 300"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_unreachable_issuer_leaves_the_server_unready_and_answers_503_not_401() {
    // An issuer nobody listens at.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let issuer = Issuer {
        url: format!("http://{closed}"),
        keys: Arc::default(),
        fetches: Arc::default(),
    };
    let mut metrics = Metrics::new("test");
    let oauth_metrics = OAuthMetrics::registered_in(&mut metrics);
    let server = TestServer::offline().metrics(Arc::new(metrics)).build();
    let oauth = OAuthHttp::new(
        settings(&issuer, Duration::from_secs(1)),
        server.published(),
        oauth_metrics,
    )
    .expect("settings");
    let (base, shutdown) = listen(server, HttpSettings::default().with_extension(Arc::new(oauth))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let readiness = reqwest::get(format!("{base}/readyz")).await.expect("readyz");
    assert_eq!(readiness.status(), 503);
    let text = readiness.text().await.expect("text");
    assert!(text.contains("OAuth issuer keys not loaded"), "{text}");

    let token = SigningKey::new("k").sign(&claims(&issuer, "scim:read"));
    let response = mcp(
        &format!("{base}/mcp"),
        Some(&token),
        &rpc("tools/list", json!({})),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    shutdown.cancel();
}

#[tokio::test]
async fn registry_tokens_keep_working_beside_oauth_and_advertise_no_oauth_metadata() {
    let sim = simulator(SimConfig {
        users: 5,
        ..SimConfig::default()
    })
    .await;
    let issuer = Issuer::start().await;
    let key = SigningKey::new("key-1");
    issuer.publish(&key);
    let dir = std::env::temp_dir().join(format!(
        "op-scim-oauth-{}-{}",
        std::process::id(),
        rand::rng().next_u64()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let registry = Arc::new(registry::Registry::new(Box::new(
        registry::SqliteStore::open(&dir.join("state.db")).expect("store"),
    )));
    let (_, server_token) = registry
        .create_server(
            registry::NewServer {
                name: "Reader".into(),
                methods: Some(vec!["read".into()]),
                ..registry::NewServer::default()
            },
            SystemTime::now(),
            &crate::support::vocabulary(),
            |_| true,
        )
        .await
        .expect("created");
    let server_token = server_token.reveal().to_owned();

    let mut metrics = Metrics::new("test");
    let oauth_metrics = OAuthMetrics::registered_in(&mut metrics);
    let server = TestServer::new(&sim.base_url(), sim.token())
        .metrics(Arc::new(metrics))
        .build();
    let oauth = OAuthHttp::new(
        OAuthSettings {
            tokens_beside: true,
            ..settings(&issuer, Duration::from_secs(30))
        },
        server.published(),
        oauth_metrics,
    )
    .expect("settings");
    let entries = registry::http::RegistryHttp::new(registry, CATALOGS, "", "op-scim-mcp");
    let http = HttpSettings::default()
        .with_extension(Arc::new(oauth))
        .with_extension(Arc::new(entries));
    let (base, shutdown) = listen(server, http).await;
    let url = format!("{base}/mcp");
    until_ready(&base).await;

    // The registry's two forms, untouched by OAuth.
    let by_path = tool_names(&format!("{url}/{server_token}"), "").await;
    assert!(
        by_path.contains(&"list_all_1_password_users".to_owned()),
        "{by_path:?}"
    );
    assert_eq!(tool_names(&url, &server_token).await, by_path);
    // An OAuth token on the same route, with its own scopes.
    let admin = key.sign(&claims(&issuer, "scim:admin"));
    let all = tool_names(&url, &admin).await;
    assert!(all.contains(&"1_password_users_suspend".to_owned()) && all.len() > by_path.len());

    // A wrong path token gets the registry's challenge, which names no OAuth metadata; /mcp
    // without a token gets OAuth's.
    let wrong = mcp(&format!("{url}/not-a-token"), None, &rpc("tools/list", json!({}))).await;
    assert_eq!(wrong.status(), 401);
    assert!(
        !challenge(&wrong).contains("resource_metadata"),
        "{}",
        challenge(&wrong)
    );
    let bare = mcp(&url, None, &rpc("tools/list", json!({}))).await;
    assert_eq!(bare.status(), 401);
    assert!(
        challenge(&bare).contains("resource_metadata"),
        "{}",
        challenge(&bare)
    );
    // A JWT is OAuth's to judge, even a bad one; a registry token is the registry's.
    let forged = SigningKey::new("key-1").sign(&claims(&issuer, "scim:admin"));
    let refused = mcp(&url, Some(&forged), &rpc("tools/list", json!({}))).await;
    assert!(
        challenge(&refused).contains("invalid_token"),
        "{}",
        challenge(&refused)
    );
    let unknown = mcp(&url, Some("not-a-registry-token"), &rpc("tools/list", json!({}))).await;
    assert_eq!(unknown.status(), 401);
    assert!(
        !challenge(&unknown).contains("resource_metadata"),
        "{}",
        challenge(&unknown)
    );

    shutdown.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_openid_provider_is_found_where_it_publishes_and_okta_s_cid_names_the_client() {
    let fixture = start_with(Discovery::OpenId, |_| {}).await;
    let mut okta = claims(&fixture.issuer, "scim:admin");
    okta.as_object_mut().map(|claims| claims.remove("client_id"));
    okta["cid"] = json!("0oa-okta-client");
    let token = fixture.key.sign(&okta);
    let call = rpc(
        "tools/call",
        json!({ "name": "1_password_users_suspend", "arguments": { "id": "X" } }),
    );
    let response = mcp(&fixture.url, Some(&token), &call).await;
    assert_eq!(response.status(), 200);
    let audit = fixture.audit.text();
    let attempt: Value = audit
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["phase"] == "attempt")
        .unwrap_or_else(|| panic!("no attempt line: {audit}"));
    assert_eq!(attempt["client_id"], "0oa-okta-client");
}

#[tokio::test]
async fn a_token_verified_once_is_reused_but_never_past_its_expiry() {
    let fixture = start_with(Discovery::Rfc8414, |settings| settings.leeway = Duration::ZERO).await;
    let url = &fixture.url;
    let mut short = claims(&fixture.issuer, "scim:read");
    short["exp"] = json!(now() + 2);
    let token = fixture.key.sign(&short);
    for _ in 0..3 {
        assert!(!tool_names(url, &token).await.is_empty());
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let response = mcp(url, Some(&token), &rpc("tools/list", json!({}))).await;
    assert_eq!(response.status(), 401, "reused past its exp");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error_description"], "the access token has expired");
}
