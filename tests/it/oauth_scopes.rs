//! The OAuth scope map over the product's tools: the defaults, the hierarchy, and what a bad
//! `--oauth-scope` is told.

use generated_server::{CATALOGS, TOOLS};
use oauth::{ScopeMap, ScopeMapError};
use runtime::ToolSpec;

fn spec(name: &str) -> &'static ToolSpec {
    &TOOLS
        .iter()
        .chain(generated_server::EVENTS.catalog.tools)
        .find(|tool| tool.spec.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
        .spec
}

fn allowed(map: &ScopeMap, granted: &[&str]) -> Vec<&'static str> {
    let grant = map.grant(granted.iter().copied());
    runtime::Catalog::all_tools(CATALOGS)
        .filter(|tool| grant.allows(&tool.spec))
        .map(|tool| tool.spec.name)
        .collect()
}

#[test]
fn the_default_scopes_nest_from_read_to_admin_and_events_stand_apart() {
    let map = ScopeMap::parse(&generated_server::OAUTH_SCOPES, CATALOGS).expect("defaults parse");
    assert_eq!(
        map.names().collect::<Vec<_>>(),
        ["scim:read", "scim:write", "scim:admin", "events:read"]
    );
    assert_eq!(map.narrowest(), ["scim:read", "events:read"]);

    let read = allowed(&map, &["scim:read"]);
    assert!(read.contains(&"list_all_1_password_users"), "{read:?}");
    assert!(
        !read
            .iter()
            .any(|name| name.contains("suspend") || name.starts_with("create")),
        "{read:?}"
    );
    assert!(
        !read.contains(&"list_all_1_password_sign_in_attempts"),
        "{read:?}"
    );

    let write = allowed(&map, &["scim:write"]);
    assert!(
        write.contains(&"list_all_1_password_users"),
        "write implies read: {write:?}"
    );
    assert!(write.contains(&"create_a_1_password_user"), "{write:?}");
    assert!(write.contains(&"1_password_groups_add_members"), "{write:?}");
    assert!(!write.contains(&"1_password_users_suspend"), "{write:?}");
    assert!(!write.contains(&"delete_a_1_password_user_by_id"), "{write:?}");

    let admin = allowed(&map, &["scim:admin"]);
    let scim_tools = TOOLS.len();
    assert_eq!(admin.len(), scim_tools, "admin allows every SCIM tool: {admin:?}");

    let events = allowed(&map, &["events:read"]);
    assert_eq!(
        events.len(),
        generated_server::EVENTS.catalog.tools.len(),
        "{events:?}"
    );
    assert!(events.iter().all(|name| !read.contains(name)));

    assert!(allowed(&map, &["offline_access", "openid", "scim:READ"]).is_empty());
    assert_eq!(
        allowed(&map, &["scim:read", "events:read"]).len(),
        read.len() + events.len()
    );
}

#[test]
fn a_refusal_names_the_narrowest_scopes_that_admit_the_tool() {
    let map = ScopeMap::parse(&generated_server::OAUTH_SCOPES, CATALOGS).expect("defaults parse");
    assert_eq!(map.needed_for(spec("1_password_users_suspend")), ["scim:admin"]);
    assert_eq!(
        map.needed_for(spec("delete_a_1_password_user_by_id")),
        ["scim:admin"]
    );
    assert_eq!(map.needed_for(spec("create_a_1_password_user")), ["scim:write"]);
    assert_eq!(map.needed_for(spec("list_all_1_password_users")), ["scim:read"]);
    assert_eq!(
        map.needed_for(spec("list_all_1_password_sign_in_attempts")),
        ["events:read"]
    );

    // Two unrelated scopes that both admit a tool are both named.
    let map = ScopeMap::parse(
        &[
            "helpdesk methods=suspend,reactivate",
            "iam methods=read,custom tags=directory",
        ],
        CATALOGS,
    )
    .expect("parses");
    assert_eq!(
        map.needed_for(spec("1_password_users_suspend")),
        ["helpdesk", "iam"]
    );
    assert!(map.needed_for(spec("delete_a_1_password_user_by_id")).is_empty());
}

#[test]
fn a_bad_scope_line_is_refused_with_what_to_fix() {
    let refused = |lines: &[&str]| ScopeMap::parse(lines, CATALOGS).expect_err("refused");
    assert_eq!(refused(&[]), ScopeMapError::Empty);
    assert!(matches!(
        refused(&["a\"b methods=read"]),
        ScopeMapError::BadName(_)
    ));
    assert!(matches!(
        refused(&["a methods=read", "a tags=directory"]),
        ScopeMapError::Duplicate(name) if name == "a"
    ));
    assert!(matches!(
        refused(&["offline_access methods=read"]),
        ScopeMapError::OfflineAccess(_)
    ));
    assert!(matches!(refused(&["a"]), ScopeMapError::NoFilter { .. }));
    assert!(matches!(
        refused(&["a methods=read color=red"]),
        ScopeMapError::UnknownItem { .. }
    ));
    assert!(matches!(
        refused(&["a methods=read methods=write"]),
        ScopeMapError::Repeated { .. }
    ));
    let unknown = refused(&["a methods=fly"]).to_string();
    assert!(
        unknown.contains("`fly`") && unknown.contains("suspend"),
        "{unknown}"
    );
    assert!(matches!(
        refused(&["a methods=suspend tags=events"]),
        ScopeMapError::NoTool { .. }
    ));
    assert!(matches!(
        refused(&["a methods=read implies=b"]),
        ScopeMapError::UnknownImplied { .. }
    ));
    assert!(matches!(
        refused(&["a methods=read implies=b", "b methods=read implies=a"]),
        ScopeMapError::Cycle(name) if name == "a"
    ));
}

#[test]
fn a_server_advertises_only_the_scopes_that_reach_a_tool_it_serves() {
    let map = ScopeMap::parse(&generated_server::OAUTH_SCOPES, CATALOGS).expect("defaults parse");
    let scim: Vec<&ToolSpec> = TOOLS.iter().map(|tool| &tool.spec).collect();
    let scim_only = map.serving(&scim).expect("SCIM scopes serve");
    assert_eq!(
        scim_only.names().collect::<Vec<_>>(),
        ["scim:read", "scim:write", "scim:admin"]
    );
    assert_eq!(scim_only.narrowest(), ["scim:read"]);
    // The hierarchy survives the cut.
    assert_eq!(allowed(&scim_only, &["scim:admin"]).len(), TOOLS.len());

    let events: Vec<&ToolSpec> = generated_server::EVENTS
        .catalog
        .tools
        .iter()
        .map(|tool| &tool.spec)
        .collect();
    let events_only = map.serving(&events).expect("the Events scope serves");
    assert_eq!(events_only.names().collect::<Vec<_>>(), ["events:read"]);
    assert!(events_only.grant(["scim:admin"]).is_nothing());

    // Read tools only (--methods read): scim:write still reaches them through scim:read.
    let reads: Vec<&ToolSpec> = scim
        .iter()
        .copied()
        .filter(|spec| spec.method == "list")
        .collect();
    let read_only = map.serving(&reads).expect("serves");
    assert_eq!(
        read_only.names().collect::<Vec<_>>(),
        ["scim:read", "scim:write", "scim:admin"]
    );
    assert!(map.serving(&[]).is_none());
}
