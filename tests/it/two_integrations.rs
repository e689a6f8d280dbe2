//! One server over both integrations, as the binary builds it: each tool calls its own
//! upstream, a scope covers both, and the product's prompts take the place of an integration's
//! prompt of the same name only where every tool they use is in scope.

use std::sync::Arc;

use bridge_sim::{RunningSim, SimConfig};
use generated_server::{EVENTS, GeneratedIntegration, PRODUCT_PROMPTS, SCIM};
use runtime::cursor::{CursorCodec, CursorKey};
use runtime::server::{Integration, ServerBuildError};
use runtime::upstream::Secret;
use runtime::{McpServer, Scope, ServerSettings, ToolNaming};
use serde_json::{Map, Value, json};

use crate::support::{scope, simulator};

const SIGN_INS: &str = "list_all_1_password_sign_in_attempts";

fn integration(generated: &GeneratedIntegration, sim: &RunningSim, token: &str) -> Integration {
    let upstream = generated
        .upstream(sim.base_url(), Secret::new(token))
        .expect("upstream");
    let shared = generated.shared(upstream, CursorCodec::new(CursorKey::random()));
    Integration {
        shared: Arc::new(shared),
        catalog: generated.catalog,
    }
}

fn settings(scope: Scope) -> ServerSettings {
    ServerSettings {
        naming: ToolNaming::Default,
        scope,
        server_name: "test".into(),
        server_version: "0".into(),
    }
}

/// The SCIM bridge and, when `with_events`, the Events API, both simulated by `sim`.
fn server(sim: &RunningSim, with_events: bool, scope: Scope) -> McpServer {
    let mut integrations = vec![integration(&SCIM, sim, sim.token())];
    if with_events {
        integrations.push(integration(&EVENTS, sim, sim.events_token()));
    }
    McpServer::serving(integrations, PRODUCT_PROMPTS, settings(scope)).expect("server")
}

fn names(server: &McpServer) -> Vec<String> {
    server
        .tools()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect()
}

fn prompt_names(server: &McpServer) -> Vec<String> {
    server.prompts().into_iter().map(|prompt| prompt.name).collect()
}

fn audit_text(server: &McpServer) -> String {
    let Value::Object(arguments) = json!({ "email_domain": "example.com", "suspend": "false" }) else {
        unreachable!("an object literal")
    };
    server
        .render_prompt("audit_contractor_access", &arguments)
        .expect("the audit prompt is offered")
}

#[tokio::test]
async fn each_tool_calls_its_own_upstream_with_its_own_token() {
    let sim = simulator(SimConfig::default()).await;
    let server = server(&sim, true, Scope::everything());
    assert_eq!(names(&server).len(), 21, "{:?}", names(&server));

    let users = server
        .call(
            "list_all_1_password_users",
            Map::from_iter([("limit".into(), json!(2))]),
        )
        .await
        .expect("known tool");
    assert_ne!(users.is_error, Some(true), "{users:?}");
    assert_eq!(
        users
            .structured_content
            .as_ref()
            .map(|page| page["result_count"].clone()),
        Some(json!(2))
    );

    // The Events API refuses the bridge's token; this call succeeds only with its own.
    let introspect = server
        .call("1_password_events_introspect", Map::new())
        .await
        .expect("known tool");
    assert_ne!(introspect.is_error, Some(true), "{introspect:?}");
    let features = introspect.structured_content.unwrap_or_default()["features"].clone();
    assert!(
        features
            .as_array()
            .is_some_and(|f| f.contains(&json!("signinattempts"))),
        "{features}"
    );
}

#[tokio::test]
async fn a_scope_covers_both_integrations() {
    let sim = simulator(SimConfig::default()).await;
    let events_only = server(&sim, true, scope(&[], &["events"]));
    assert_eq!(
        names(&events_only),
        [
            "1_password_events_introspect",
            "list_all_1_password_audit_events",
            "list_all_1_password_item_usages",
            SIGN_INS,
        ]
    );
    let read = server(&sim, true, scope(&["read"], &[]));
    assert_eq!(names(&read).len(), 11, "{:?}", names(&read));
    assert!(
        names(&read)
            .iter()
            .all(|name| !name.contains("suspend") && !name.starts_with("delete"))
    );
}

#[tokio::test]
async fn the_product_prompt_replaces_the_integrations_only_where_its_tools_are_served() {
    let sim = simulator(SimConfig::default()).await;

    let both = server(&sim, true, Scope::everything());
    assert!(prompt_names(&both).contains(&"investigate_user_activity".to_owned()));
    let names = prompt_names(&both);
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(names, unique, "one prompt per name");
    assert!(
        audit_text(&both).contains(SIGN_INS),
        "the product's audit asks for sign-ins"
    );

    // Without the Events API, or scoped away from it: the SCIM integration's own audit prompt,
    // and no prompt that needs the Events tools.
    for server in [
        server(&sim, false, Scope::everything()),
        server(&sim, true, scope(&[], &["directory"])),
    ] {
        let text = audit_text(&server);
        assert!(
            !text.contains(SIGN_INS) && text.contains("list_all_1_password_users"),
            "{text}"
        );
        assert!(!prompt_names(&server).contains(&"investigate_user_activity".to_owned()));
        assert!(prompt_names(&server).contains(&"offboard_user".to_owned()));
    }
}

#[tokio::test]
async fn an_integration_served_twice_is_refused_by_name() {
    let sim = simulator(SimConfig::default()).await;
    let twice = vec![
        integration(&SCIM, &sim, sim.token()),
        integration(&SCIM, &sim, sim.token()),
    ];
    let error = McpServer::serving(twice, &[], settings(Scope::everything()))
        .expect_err("two integrations publishing one tool name are refused");
    assert!(matches!(error, ServerBuildError::DuplicateTool(_)), "{error}");
    let error = McpServer::serving(Vec::new(), &[], settings(Scope::everything()))
        .expect_err("a server without integrations is refused");
    assert!(matches!(error, ServerBuildError::NoIntegration), "{error}");
}
