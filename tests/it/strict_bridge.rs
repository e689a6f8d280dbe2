//! A bridge that accepts only some filter operators (the real one may accept `eq` alone): the
//! list tool evaluates a refused filter itself, and finds the same users as a bridge that
//! knows the whole grammar.

use bridge_sim::SimConfig;
use bridge_sim::filter::CompareOp;
use runtime::McpServer;
use serde_json::{Value, json};

use crate::support::{TestServer, simulator};

/// Every user the list tool returns for `filters`, paging with `limit` 7; and the calls made.
async fn all_users(server: &McpServer, filters: &Value) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for calls in 1..200 {
        let mut arguments = filters.clone();
        arguments["limit"] = json!(7);
        if let Some(cursor) = &cursor {
            arguments["next_cursor"] = json!(cursor);
        }
        let Value::Object(arguments) = arguments else {
            unreachable!()
        };
        let result = server
            .call("list_all_1_password_users", arguments)
            .await
            .expect("a result");
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let page = result.structured_content.expect("structured");
        ids.extend(
            page["result"]
                .as_array()
                .expect("result")
                .iter()
                .map(|user| user["id"].as_str().unwrap_or_default().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, calls),
        }
    }
    panic!("the listing never ended");
}

#[tokio::test]
async fn a_refused_filter_is_evaluated_here_and_finds_the_same_users() {
    let full = simulator(SimConfig::default()).await;
    let strict = simulator(SimConfig {
        filter_operators: Some(vec![CompareOp::Eq]),
        ..SimConfig::default()
    })
    .await;
    let on_full = TestServer::new(&full.base_url(), full.token()).build();
    let on_strict = TestServer::new(&strict.base_url(), strict.token()).build();
    for filters in [
        json!({ "email": "@external-agency.com" }),
        json!({ "email": "@external-agency.com", "active": true }),
        json!({ "email": "EXAMPLE.COM", "active": false }),
    ] {
        let (expected, _) = all_users(&on_full, &filters).await;
        let (found, calls) = all_users(&on_strict, &filters).await;
        assert!(!expected.is_empty(), "{filters}: the fixture must match someone");
        assert_eq!(found, expected, "{filters}");
        let mut unique = found.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), found.len(), "{filters}: a user was repeated");
        assert!(calls >= 1);
    }
    // `eq` alone is still sent to the strict bridge, which filters it itself.
    let (jane, calls) = all_users(&on_strict, &json!({ "user_name": "jane.doe@example.com" })).await;
    assert_eq!((jane.len(), calls), (1, 1));
    full.shutdown().await;
    strict.shutdown().await;
}
