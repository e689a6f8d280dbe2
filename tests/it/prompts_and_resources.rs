//! Workflow prompts and reference resources, generated from the docs YAML.

use bridge_sim::SimConfig;
use runtime::{McpServer, Scope, ToolNaming};
use serde_json::{Map, Value, json};

use crate::support::{TestServer, simulator};

fn server(base_url: &str, token: &str, naming: ToolNaming, scope: Scope) -> McpServer {
    TestServer::new(base_url, token)
        .naming(naming)
        .scope(scope)
        .build()
}

fn offline(naming: ToolNaming, scope: Scope) -> McpServer {
    TestServer::offline().naming(naming).scope(scope).build()
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn snapshot_of_the_prompt_and_resource_lists() {
    let server = offline(ToolNaming::Default, Scope::default());
    let prompts = serde_json::to_value(server.prompts()).expect("json");
    let resources = serde_json::to_value(server.resources()).expect("json");
    insta::with_settings!({ sort_maps => true, prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("prompt_list", prompts);
        insta::assert_json_snapshot!("resource_list", resources);
    });
}

#[test]
fn a_rendered_prompt_names_the_running_servers_tools_and_fills_arguments() {
    let default = offline(ToolNaming::Default, Scope::default());
    let text = default
        .render_prompt("offboard_user", &args(json!({ "email": "jane.doe@example.com" })))
        .expect("renders");
    assert!(
        text.contains("`list_all_1_password_users` with `user_name` set to \"jane.doe@example.com\""),
        "{text}"
    );
    assert!(
        text.contains("`1_password_users_suspend`") && text.contains("`get_single_1_password_user_by_id`")
    );
    assert!(!text.contains("{{"), "no placeholder is left: {text}");

    let portable = offline(ToolNaming::Portable, Scope::default());
    let text = portable
        .render_prompt(
            "audit_contractor_access",
            &args(json!({ "email_domain": "external-agency.com", "suspend": "true" })),
        )
        .expect("renders");
    assert!(text.contains("`one_password_users_suspend`"), "{text}");
    assert!(text.contains("Suspend them: true."), "{text}");
}

#[test]
fn missing_unknown_and_malformed_prompt_arguments_are_refused_clearly() {
    let server = offline(ToolNaming::Default, Scope::default());
    let missing = server
        .render_prompt("offboard_user", &Map::new())
        .expect_err("refused");
    assert!(
        missing.message.contains("needs the argument `email`"),
        "{}",
        missing.message
    );
    let unknown = server
        .render_prompt("offboard_user", &args(json!({ "email": "a@b.co", "mail": "x" })))
        .expect_err("refused");
    assert!(
        unknown.message.contains("no argument `mail`"),
        "{}",
        unknown.message
    );
    let not_boolean = server
        .render_prompt(
            "audit_contractor_access",
            &args(json!({ "email_domain": "x.com", "suspend": "maybe" })),
        )
        .expect_err("refused");
    assert!(
        not_boolean.message.contains("must be true or false"),
        "{}",
        not_boolean.message
    );
    let no_such = server.render_prompt("nope", &Map::new()).expect_err("refused");
    assert!(no_such.message.contains("Unknown prompt"), "{}", no_such.message);
}

#[test]
fn a_prompt_whose_tools_are_out_of_scope_is_not_offered() {
    let read_only = offline(ToolNaming::Default, crate::support::scope(&["read"], &[]));
    let names: Vec<String> = read_only
        .prompts()
        .iter()
        .map(|prompt| prompt.name.clone())
        .collect();
    assert_eq!(names, ["review_group_membership"]);
    assert!(
        read_only
            .render_prompt("offboard_user", &args(json!({ "email": "a@b.co" })))
            .is_err()
    );
}

#[tokio::test]
async fn resources_read_the_scoped_catalogue_and_the_bridges_schemas_live() {
    let sim = simulator(SimConfig::default()).await;
    let scope = crate::support::scope(&["read"], &["directory"]);
    let directory = server(&sim.base_url(), sim.token(), ToolNaming::Default, scope);

    let catalogue = serde_json::to_value(
        directory
            .read("op-scim://tools/catalogue")
            .await
            .expect("catalogue"),
    )
    .expect("json");
    let text = catalogue["text"].as_str().expect("text");
    assert!(text.contains("`list_all_1_password_users`"), "{text}");
    assert!(
        !text.contains("1_password_users_suspend"),
        "the catalogue is scoped: {text}"
    );

    // The bridge's schemas are what the admin-tagged schema tool reads: outside this scope,
    // neither listed nor readable.
    let uris: Vec<String> = directory
        .resources()
        .iter()
        .map(|resource| resource.uri.clone())
        .collect();
    assert_eq!(uris, ["op-scim://tools/catalogue"]);
    let refused = directory
        .read("op-scim://bridge/Schemas")
        .await
        .expect_err("out of scope");
    assert_eq!(refused.code.0, -32002);
    let admin = server(
        &sim.base_url(),
        sim.token(),
        ToolNaming::Default,
        crate::support::scope(&["read"], &["admin"]),
    );
    let uris: Vec<String> = admin
        .resources()
        .iter()
        .map(|resource| resource.uri.clone())
        .collect();
    assert!(uris.contains(&"op-scim://bridge/Schemas".to_owned()), "{uris:?}");
    let schemas =
        serde_json::to_value(admin.read("op-scim://bridge/Schemas").await.expect("schemas")).expect("json");
    assert_eq!(schemas["mimeType"], "application/json");
    assert!(
        schemas["text"]
            .as_str()
            .is_some_and(|t| t.contains("urn:ietf:params:scim:schemas:core:2.0:User"))
    );

    let missing = directory
        .read("op-scim://nothing")
        .await
        .expect_err("unknown uri");
    assert_eq!(missing.code.0, -32002);

    let down = server_down();
    let error = down
        .read("op-scim://bridge/ServiceProviderConfig")
        .await
        .expect_err("unreachable");
    assert!(error.message.contains("Could not reach"), "{}", error.message);
    sim.shutdown().await;
}

fn server_down() -> McpServer {
    offline(ToolNaming::Default, Scope::default())
}
