use std::time::{Duration, SystemTime};

use super::*;

fn registry() -> Registry {
    Registry::new(Box::new(SqliteStore::in_memory().expect("store")))
}

fn read_only() -> NewServer {
    NewServer {
        name: "Auditor".into(),
        methods: vec!["read".into()],
        ..NewServer::default()
    }
}

#[test]
fn a_created_server_authorizes_its_token_only() {
    let registry = registry();
    let now = SystemTime::now();
    let (entry, token) = registry
        .create_server(read_only(), now, |_| true)
        .expect("created");
    assert_eq!(
        registry
            .authorize(Some(token.reveal()), None, now)
            .expect("authorized"),
        entry
    );
    assert_eq!(
        registry.authorize(Some("nope"), None, now),
        Err(AccessDenied::UnknownToken)
    );
    assert_eq!(
        registry.authorize(None, None, now),
        Err(AccessDenied::MissingToken)
    );
}

#[test]
fn expiry_is_enforced_to_the_second_and_purged() {
    let registry = registry();
    let now = SystemTime::now();
    let new = NewServer {
        expires_at: Some(now + Duration::from_secs(61)),
        ..read_only()
    };
    let (_, token) = registry.create_server(new, now, |_| true).expect("created");
    let just_before = now + Duration::from_secs(60);
    assert!(
        registry
            .authorize(Some(token.reveal()), None, just_before)
            .is_ok()
    );
    let at = now + Duration::from_secs(61);
    assert!(matches!(
        registry.authorize(Some(token.reveal()), None, at),
        Err(AccessDenied::Expired(_))
    ));
    assert_eq!(registry.purge_expired(at).expect("purge"), 1);
    assert_eq!(
        registry.authorize(Some(token.reveal()), None, just_before),
        Err(AccessDenied::UnknownToken)
    );
}

#[test]
fn creation_refuses_bad_input_with_the_field_named() {
    let registry = registry();
    let now = SystemTime::now();
    let soon = NewServer {
        expires_at: Some(now + Duration::from_secs(30)),
        ..read_only()
    };
    assert!(matches!(
        registry.create_server(soon, now, |_| true),
        Err(RegistryError::ExpiresTooSoon(_))
    ));
    assert!(matches!(
        registry.create_server(read_only(), now, |_| false),
        Err(RegistryError::EmptyScope(_))
    ));
    let unnamed = NewServer {
        name: " ".into(),
        ..read_only()
    };
    assert!(matches!(
        registry.create_server(unnamed, now, |_| true),
        Err(RegistryError::EmptyName)
    ));
    registry.create_server(read_only(), now, |_| true).expect("first");
    assert!(matches!(
        registry.create_server(read_only(), now, |_| true),
        Err(RegistryError::DuplicateName(_))
    ));
}

#[test]
fn api_tokens_are_required_when_asked_for_and_revocation_is_immediate() {
    let registry = registry();
    let now = SystemTime::now();
    let new = NewServer {
        require_api_token_auth: true,
        ..read_only()
    };
    let (entry, token) = registry.create_server(new, now, |_| true).expect("created");
    let (_, api) = registry
        .create_key(KeyKind::ApiToken, "ci", now)
        .expect("api token");
    assert_eq!(
        registry.authorize(Some(token.reveal()), None, now),
        Err(AccessDenied::ApiTokenRequired)
    );
    assert_eq!(
        registry.authorize(Some(token.reveal()), Some("wrong"), now),
        Err(AccessDenied::BadApiToken)
    );
    assert!(
        registry
            .authorize(Some(token.reveal()), Some(api.reveal()), now)
            .is_ok()
    );
    registry.revoke_server(&entry.name).expect("revoke");
    assert_eq!(
        registry.authorize(Some(token.reveal()), Some(api.reveal()), now),
        Err(AccessDenied::UnknownToken)
    );
}

#[test]
fn the_database_file_holds_no_token() {
    let dir = std::env::temp_dir().join(format!("op-scim-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    let registry = Registry::new(Box::new(SqliteStore::open(&path).expect("store")));
    let now = SystemTime::now();
    let (_, token) = registry
        .create_server(read_only(), now, |_| true)
        .expect("created");
    let (_, admin) = registry.create_key(KeyKind::AdminKey, "ops", now).expect("admin");
    drop(registry);
    let bytes = std::fs::read(&path).expect("db file");
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(!haystack.contains(token.reveal()) && !haystack.contains(admin.reveal()));
    // Reopening runs no migration twice and keeps the entries.
    let reopened = Registry::new(Box::new(SqliteStore::open(&path).expect("reopen")));
    assert_eq!(reopened.list_servers().expect("list").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_working_store_answers_a_ping() {
    registry().ping().expect("ping");
}

#[test]
fn a_database_file_with_a_newer_schema_is_refused() {
    let dir = std::env::temp_dir().join(format!("op-scim-registry-newer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    drop(SqliteStore::open(&path).expect("store"));
    let connection = rusqlite::Connection::open(&path).expect("open");
    connection
        .pragma_update(None, "user_version", 99)
        .expect("bump the version");
    drop(connection);
    match SqliteStore::open(&path) {
        Err(RegistryError::Storage(message)) => assert!(message.contains("newer than this binary knows")),
        Err(other) => panic!("expected a storage error, got {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
