//! The compiled output of the vendor's Events API spec and of the todo fixture, served: each
//! publishes exactly the tools its docs YAML names, and the vendor-generated sign-in list reads
//! the simulated Events API as the simulator records it.

use std::net::SocketAddr;
use std::sync::Arc;

use bridge_sim::SimConfig;
use bridge_sim::events::log::Kind;
use generated_fixtures::{todo, vendor_events};
use runtime::cursor::{CursorCodec, CursorKey};
use runtime::upstream::{Secret, Upstream, UpstreamConfig};
use runtime::{Catalog, McpServer, Scope, ServerSettings, Shared, ToolNaming};
use serde_json::{Value, json};

/// What a generated registry says about its upstream, for building a server over it.
struct Integration {
    catalog: Catalog,
    label: &'static str,
    upstream_name: &'static str,
    media_type: &'static str,
    error_messages: &'static [&'static [&'static str]],
}

/// What the generated registry of module `$generated` says about its upstream.
macro_rules! integration {
    ($generated:ident) => {{
        use $generated::{prompts, registry};
        Integration {
            catalog: Catalog {
                tools: registry::TOOLS,
                prompts: prompts::PROMPTS,
                references: prompts::REFERENCES,
            },
            label: registry::INTEGRATION_LABEL,
            upstream_name: registry::UPSTREAM_NAME,
            media_type: registry::MEDIA_TYPE,
            error_messages: registry::ERROR_MESSAGES,
        }
    }};
}

fn vendor_events() -> Integration {
    integration!(vendor_events)
}

fn todo() -> Integration {
    integration!(todo)
}

/// Every tool in scope, over `base_url`; building it checks each published schema.
fn server(integration: Integration, base_url: &str, token: &str) -> McpServer {
    let config = UpstreamConfig::new(base_url, Secret::new(token))
        .with_media_type(integration.media_type)
        .with_error_messages(integration.error_messages);
    let upstream = Upstream::new(config).expect("upstream");
    let shared = Shared::new(upstream, CursorCodec::new(CursorKey::random()), integration.label)
        .with_upstream_name(integration.upstream_name);
    let settings = ServerSettings {
        naming: ToolNaming::Default,
        scope: Scope::everything(),
        server_name: "generated-fixtures".into(),
        server_version: "0".into(),
    };
    McpServer::new(Arc::new(shared), integration.catalog, settings).expect("server")
}

/// The published tool names, as a client lists them. No call is made, so the upstream is a
/// closed loopback port.
fn published(integration: Integration) -> Vec<String> {
    server(integration, "http://127.0.0.1:9", "unused")
        .tools()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect()
}

#[test]
fn the_vendor_events_output_publishes_exactly_the_four_tools_its_docs_name() {
    assert_eq!(
        published(vendor_events()),
        [
            "1_password_events_introspect",
            "list_all_1_password_audit_events",
            "list_all_1_password_item_usages",
            "list_all_1_password_sign_in_attempts",
        ]
    );
}

#[test]
fn the_todo_output_publishes_exactly_the_three_tools_its_docs_name() {
    // deleteTodo is excluded by the docs YAML, so there is no delete tool.
    assert_eq!(
        published(todo()),
        [
            "create_a_acme_todo",
            "get_single_acme_todo_by_id",
            "list_all_acme_todos",
        ]
    );
}

/// One call of the vendor-generated list over a window of ten of the simulator's sign-in
/// attempts: the same items, whole and in order, and nothing more to page. The items pass
/// through the types generated from the vendor's schemas, so a field those types lost or
/// mistyped would show here.
#[tokio::test]
async fn the_vendor_generated_sign_in_list_returns_the_simulators_window() {
    let sim = bridge_sim::spawn(SimConfig::default(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts");
    let all = sim.events(Kind::SignInAttempts);
    assert!(all.len() > 20, "{} sign-in attempts seeded", all.len());
    let timestamp = |index: usize| all[index]["timestamp"].as_str().expect("timestamp").to_owned();
    let (since, until) = (timestamp(all.len() / 2), timestamp(all.len() / 2 + 10));
    // The API's window: from `start_time` inclusive to `end_time` exclusive. Its times are
    // fixed-width RFC 3339 UTC, so they order as strings.
    let truth: Vec<Value> = all
        .iter()
        .filter(|event| {
            event["timestamp"]
                .as_str()
                .is_some_and(|at| at >= since.as_str() && at < until.as_str())
        })
        .map(without_nulls)
        .collect();
    assert!(truth.len() >= 2, "the window holds {} attempts", truth.len());

    let server = server(vendor_events(), &sim.base_url(), sim.events_token());
    let Value::Object(arguments) = json!({ "since": since, "until": until, "limit": 50 }) else {
        unreachable!("a JSON object literal")
    };
    let result = server
        .call("list_all_1_password_sign_in_attempts", arguments)
        .await
        .expect("a known tool");
    let page = result.structured_content.unwrap_or(Value::Null);
    assert_ne!(result.is_error, Some(true), "{page}");
    assert_eq!(page["result"], Value::Array(truth.clone()), "{page}");
    assert_eq!(page["result_count"], json!(truth.len()), "{page}");
    assert_eq!(page["next_cursor"], Value::Null, "{page}");
    sim.shutdown().await;
}

/// `value` without its null object members, at any depth. The API writes an empty optional
/// field as `null` (`"details": null`); the generated types read it as absent and leave it out,
/// which means the same to a client.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(_, field)| !field.is_null())
                .map(|(name, field)| (name.clone(), without_nulls(field)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
