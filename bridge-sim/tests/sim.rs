//! HTTP-level tests of the simulator through its router (and one over a real socket).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bridge_sim::{Faults, HeaderFamily, RateLimitFault, SimConfig, router, spawn};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Reply {
    call_with_token(app, method, uri, body, Some("sim-token")).await
}

async fn call_with_token(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/scim+json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let req = req.body(body).unwrap_or_else(|e| panic!("{e}"));
    let res = app.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn app() -> Router {
    router(SimConfig::default())
}

fn small(users: usize) -> Router {
    router(SimConfig {
        users,
        groups: 3,
        ..SimConfig::default()
    })
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_with_a_scim_error() {
    let app = app();
    // The default token is `sim-token`: one letter off, a prefix and an extension are all wrong.
    for token in [
        None,
        Some("wrong"),
        Some("sim-tokem"),
        Some("sim-toke"),
        Some("sim-token2"),
    ] {
        let r = call_with_token(&app, "GET", "/scim/v2/Users", None, token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(r.body["status"], "401");
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/scim+json");
    }
    let health = call_with_token(&app, "GET", "/health", None, None).await;
    assert_eq!(health.status, StatusCode::UNAUTHORIZED);
    let ping = call_with_token(&app, "GET", "/ping", None, None).await;
    assert_eq!(ping.status, StatusCode::OK);
}

#[tokio::test]
async fn all_three_prefixes_serve_users_and_discovery() {
    let app = app();
    for prefix in ["", "/scim", "/scim/v2"] {
        let r = call(&app, "GET", &format!("{prefix}/Users?count=1"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{prefix}");
        assert_eq!(r.body["Resources"][0]["userName"], "jane.doe@example.com");
        assert!(r.headers.contains_key(header::DATE));
    }
    let spc = call(&app, "GET", "/scim/v2/ServiceProviderConfig", None).await;
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["maxResults"], 10000);
    assert_eq!(spc.body["meta"]["location"], "/scim/v2/ServiceProviderConfig");
    let rt = call(&app, "GET", "/ResourceTypes", None).await;
    assert_eq!(rt.body["startIndex"], 0);
    assert_eq!(rt.body["Resources"][0]["endpoint"], "/scim/v2/User");
    let schemas = call(&app, "GET", "/scim/Schemas", None).await;
    assert_eq!(schemas.body["totalResults"], 2);
    let health = call(&app, "GET", "/health", None).await;
    assert_eq!(health.body["reports"][0]["state"], "healthy");
    let missing = call(&app, "GET", "/scim/v2/Nope", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["status"], "404");
}

#[tokio::test]
async fn post_answers_200_and_a_duplicate_user_name_is_409() {
    let app = app();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "nango.dev@example.com",
        "name": { "givenName": "Nango", "familyName": "Developer" },
        "active": true,
    });
    let r = call(&app, "POST", "/scim/v2/Users", Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["displayName"], "Nango Developer");
    assert_eq!(r.body["meta"], json!({ "resourceType": "User" }));
    let id = r.body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(id.len(), 26);
    let again = call(&app, "POST", "/Users", Some(body)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["scimType"], "uniqueness");
    let got = call(&app, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!(got.body["userName"], "nango.dev@example.com");
}

#[tokio::test]
async fn user_delete_suspends_and_group_delete_removes() {
    let app = small(10);
    let list = call(&app, "GET", "/Users?count=2", None).await;
    let id = list.body["Resources"][1]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let del = call(&app, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let after = call(&app, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.body["active"], false);

    let groups = call(&app, "GET", "/Groups", None).await;
    let gid = groups.body["Resources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        groups.body["Resources"][0]["meta"]["created"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/Groups/{gid}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "GET", &format!("/Groups/{gid}"), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(&app, "GET", "/Groups", None).await.body["totalResults"], 2);
}

#[tokio::test]
async fn pagination_is_one_based_capped_and_stable() {
    let app = router(SimConfig {
        users: 25,
        max_page_size: 10,
        ..SimConfig::default()
    });
    let first = call(&app, "GET", "/Users?startIndex=0&count=500", None).await;
    assert_eq!(first.body["startIndex"], 1);
    assert_eq!(first.body["itemsPerPage"], 10);
    assert_eq!(first.body["totalResults"], 25);
    let third = call(&app, "GET", "/Users?startIndex=21&count=10", None).await;
    assert_eq!(third.body["itemsPerPage"], 5);
    let again = call(&app, "GET", "/Users?startIndex=21&count=10&sortBy=userName", None).await;
    assert_eq!(third.body, again.body);
    let none = call(&app, "GET", "/Users?count=0", None).await;
    assert_eq!(none.body["totalResults"], 25);
    assert_eq!(none.body["itemsPerPage"], 0);
}

#[tokio::test]
async fn filters_select_and_invalid_filters_are_400() {
    let app = small(40);
    let r = call(
        &app,
        "GET",
        "/Users?filter=userName%20eq%20%22JANE.DOE@example.com%22",
        None,
    )
    .await;
    assert_eq!(r.body["totalResults"], 1);
    let r = call(
        &app,
        "GET",
        "/Users?filter=emails%20co%20%22external-agency.com%22%20and%20active%20eq%20true",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for bad in ["userName%20eq", "nickName%20eq%20%22x%22", "active%20gt%20true"] {
        let r = call(&app, "GET", &format!("/Users?filter={bad}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.body["scimType"], "invalidFilter");
    }
    let groups = call(
        &app,
        "GET",
        "/Groups?filter=displayName%20eq%20%22engineering%22&excludedAttributes=members",
        None,
    )
    .await;
    assert_eq!(groups.body["totalResults"], 1);
    assert!(groups.body["Resources"][0].get("members").is_none());
}

#[tokio::test]
async fn patch_over_http_adds_members_and_rejects_atomically() {
    let app = small(5);
    let users = call(&app, "GET", "/Users", None).await;
    let uid = users.body["Resources"][3]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let create = call(&app, "POST", "/Groups", Some(json!({ "displayName": "Pilots" }))).await;
    assert_eq!(create.status, StatusCode::OK);
    let gid = create.body["id"].as_str().unwrap_or_default().to_owned();
    assert!(gid.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    let ops = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Add", "path": "members", "value": [{ "value": uid }] }],
    });
    let r = call(&app, "PATCH", &format!("/scim/v2/Groups/{gid}"), Some(ops)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["members"][0]["value"], uid.as_str());
    let found = call(
        &app,
        "GET",
        &format!("/Groups?filter=members%5Bvalue%20eq%20%22{uid}%22%5D"),
        None,
    )
    .await;
    assert!(found.body["totalResults"].as_u64().is_some_and(|n| n >= 1));

    let failing = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            { "op": "replace", "path": "displayName", "value": "Renamed" },
            { "op": "add", "path": "members", "value": [{ "value": "NOSUCHUSER" }] },
        ],
    });
    let r = call(&app, "PATCH", &format!("/Groups/{gid}"), Some(failing)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidValue");
    let g = call(&app, "GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(g.body["displayName"], "Pilots");
    let bad_json = call(&app, "PUT", &format!("/Groups/{gid}"), Some(json!("nope"))).await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
}

fn limited(family: HeaderFamily) -> Router {
    router(SimConfig {
        users: 3,
        faults: Faults {
            rate_limit: Some(RateLimitFault {
                requests: 2,
                window_secs: 60,
                family,
            }),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
}

#[tokio::test]
async fn rate_limit_answers_429_with_each_header_family() {
    let header = |r: &Reply, name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    for family in [
        HeaderFamily::Ietf,
        HeaderFamily::IetfLegacy,
        HeaderFamily::XRateLimit,
        HeaderFamily::RetryAfterSeconds,
        HeaderFamily::RetryAfterDate,
    ] {
        let app = limited(family);
        let ok = call(&app, "GET", "/Users", None).await;
        assert_eq!(ok.status, StatusCode::OK);
        call(&app, "GET", "/Users", None).await;
        let r = call(&app, "GET", "/Users", None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{family:?}");
        assert_eq!(r.body["status"], "429");
        match family {
            HeaderFamily::Ietf => {
                assert_eq!(header(&ok, "ratelimit"), "\"default\";r=1;t=60");
                assert!(header(&r, "ratelimit").starts_with("\"default\";r=0;t="));
                assert_eq!(header(&r, "ratelimit-policy"), "\"default\";q=2;w=60");
            }
            HeaderFamily::IetfLegacy => {
                assert_eq!(header(&ok, "ratelimit-remaining"), "1");
                assert_eq!(header(&r, "ratelimit-limit"), "2");
                assert_eq!(header(&r, "ratelimit-remaining"), "0");
                assert!(
                    header(&r, "ratelimit-reset")
                        .parse::<u64>()
                        .is_ok_and(|s| (1..=60).contains(&s))
                );
            }
            HeaderFamily::XRateLimit => {
                assert_eq!(header(&r, "x-ratelimit-remaining"), "0");
                assert!(
                    header(&r, "x-ratelimit-reset")
                        .parse::<u64>()
                        .is_ok_and(|s| s > 1_700_000_000)
                );
            }
            HeaderFamily::RetryAfterSeconds => {
                assert!(ok.headers.get("retry-after").is_none());
                assert!(
                    header(&r, "retry-after")
                        .parse::<u64>()
                        .is_ok_and(|s| (1..=60).contains(&s))
                );
            }
            HeaderFamily::RetryAfterDate => {
                assert!(httpdate::parse_http_date(&header(&r, "retry-after")).is_ok());
            }
        }
        // Liveness probes are never throttled.
        assert_eq!(
            call_with_token(&app, "GET", "/ping", None, None).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn error_rate_one_always_fails_with_500_or_503() {
    let app = router(SimConfig {
        users: 2,
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..SimConfig::default()
    });
    let mut seen = Vec::new();
    for _ in 0..20 {
        let r = call(&app, "GET", "/Users", None).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(r.headers["retry-after"], "1");
        }
        seen.push(r.status.as_u16());
    }
    assert!(seen.iter().all(|s| *s == 500 || *s == 503));
    assert!(seen.contains(&500) && seen.contains(&503));
}

#[tokio::test]
async fn same_seed_gives_the_same_directory_over_http() {
    let a = call(&small(30), "GET", "/Users", None).await.body;
    let b = call(&small(30), "GET", "/Users", None).await.body;
    assert_eq!(a, b);
}

#[tokio::test]
async fn spawned_server_answers_over_tcp_and_shuts_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = spawn(
        SimConfig {
            users: 3,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert!(!sim.base_url().ends_with('/'));
    assert_eq!(sim.token(), "sim-token");
    let mut tcp = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let request = "GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sim-token\r\nConnection: close\r\n\r\n";
    tcp.write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    tcp.read_to_string(&mut response)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/scim+json")
    );
    assert!(response.contains("jane.doe@example.com"));
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_method_is_a_scim_405() {
    let r = call(&app(), "POST", "/scim/v2/ServiceProviderConfig", Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["status"], "405");
}

#[tokio::test]
async fn adding_a_primary_email_changes_the_user_name() {
    let app = small(3);
    let list = call(&app, "GET", "/Users?count=1", None).await;
    let id = list.body["Resources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ops = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "emails", "value": [{ "value": "jane@new.example.com", "primary": true }] }],
    });
    let r = call(&app, "PATCH", &format!("/Users/{id}"), Some(ops)).await;
    assert_eq!(r.body["userName"], "jane@new.example.com");
    assert_eq!(
        r.body["emails"],
        json!([{ "value": "jane@new.example.com", "primary": true }])
    );
}

/// scim2-tester `object_query_with_attributes`: `returned: always` attributes survive
/// `attributes` and `excludedAttributes`, on GET and on list.
#[tokio::test]
async fn projection_keeps_attributes_the_schema_returns_always() {
    let app = small(3);
    let schemas = call(&app, "GET", "/Schemas", None).await;
    let always: Vec<String> = schemas.body["Resources"][0]["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["returned"] == "always")
        .filter_map(|a| a["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(always, ["userName", "name", "emails"]);

    let list = call(&app, "GET", "/Users?attributes=externalId", None).await;
    let user = &list.body["Resources"][0];
    for name in &always {
        assert!(user.get(name).is_some(), "{name} missing from {user}");
    }
    assert!(user.get("displayName").is_none(), "{user}");
    let id = user["id"].as_str().unwrap_or_default().to_owned();

    let r = call(
        &app,
        "GET",
        &format!("/Users/{id}?excludedAttributes=userName,displayName"),
        None,
    )
    .await;
    assert!(r.body.get("userName").is_some(), "{}", r.body);
    assert!(r.body.get("displayName").is_none(), "{}", r.body);

    let groups = call(&app, "GET", "/Groups?attributes=externalId", None).await;
    let group = &groups.body["Resources"][0];
    assert!(
        group.get("displayName").is_none() && group.get("members").is_none(),
        "{group}"
    );
}

/// Throughput of `GET /Users?count=100` over 10,000 users, with 8 keep-alive connections.
/// The load generator shares the machine, so the figure is a lower bound. Run with
/// `cargo test --release -p bridge-sim --test sim -- --ignored --nocapture bench`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_list_users_rps() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let config = SimConfig {
        users: 10_000,
        ..SimConfig::default()
    };
    let sim = spawn(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = sim.local_addr();
    let seconds = 5;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move {
                let tcp = tokio::net::TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                tcp.set_nodelay(true).unwrap_or_else(|e| panic!("{e}"));
                let (read, mut write) = tcp.into_split();
                let mut read = BufReader::new(read);
                let request = format!(
                    "GET /scim/v2/Users?count=100&startIndex={} HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer sim-token\r\n\r\n",
                    1 + i * 1000
                );
                let mut done = 0u64;
                let mut line = String::new();
                while Instant::now() < deadline {
                    write.write_all(request.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
                    let mut length = 0usize;
                    loop {
                        line.clear();
                        read.read_line(&mut line).await.unwrap_or_else(|e| panic!("{e}"));
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; length];
                    read.read_exact(&mut body).await.unwrap_or_else(|e| panic!("{e}"));
                    assert!(length > 10_000, "a page of 100 users");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "GET /Users?count=100 over 10,000 users: {} requests/s",
        total / seconds
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_strict_bridge_refuses_operators_it_does_not_know_with_invalid_filter() {
    let app = router(SimConfig {
        users: 20,
        groups: 2,
        filter_operators: Some(vec![bridge_sim::filter::CompareOp::Eq]),
        ..SimConfig::default()
    });
    let r = call(
        &app,
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22jane.doe%40example.com%22",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 1);
    let r = call(
        &app,
        "GET",
        "/scim/v2/Users?filter=emails.value%20co%20%22example%22",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["scimType"], "invalidFilter");
    assert!(
        r.body["detail"].as_str().is_some_and(|d| d.contains("`co`")),
        "{}",
        r.body
    );
}
