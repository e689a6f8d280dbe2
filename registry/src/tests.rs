//! What is particular to the SQLite file; the behaviour every store shares is one suite run
//! against each store, in tests/it/registry_stores.rs.

use std::time::SystemTime;

use super::*;

fn vocabulary() -> Vocabulary {
    Vocabulary::from_names(["list", "suspend"], ["directory"])
}

fn read_only() -> NewServer {
    NewServer {
        name: "Auditor".into(),
        methods: Some(vec!["read".into()]),
        ..NewServer::default()
    }
}

#[tokio::test]
async fn the_database_file_holds_no_token() {
    let dir = std::env::temp_dir().join(format!("op-scim-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    let registry = Registry::new(Box::new(SqliteStore::open(&path).expect("store")));
    let now = SystemTime::now();
    let (_, token) = registry
        .create_server(read_only(), now, &vocabulary(), |_| true)
        .await
        .expect("created");
    let (_, admin) = registry
        .create_key(KeyKind::AdminKey, "ops", now)
        .await
        .expect("admin");
    drop(registry);
    let bytes = std::fs::read(&path).expect("db file");
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(!haystack.contains(token.reveal()) && !haystack.contains(admin.reveal()));
    // Reopening runs no migration twice and keeps the entries.
    let reopened = Registry::new(Box::new(SqliteStore::open(&path).expect("reopen")));
    assert_eq!(reopened.list_servers().await.expect("list").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
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

#[test]
fn a_new_database_file_is_readable_by_its_owner_only() {
    let dir = std::env::temp_dir().join(format!("op-scim-registry-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    drop(SqliteStore::open(&path).expect("store"));
    assert_eq!(runtime::files::readable_by_others(&path), None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn names_are_bounded_and_plain() {
    let registry = Registry::new(Box::new(SqliteStore::in_memory().expect("store")));
    let now = SystemTime::now();
    let named = |name: &str| NewServer {
        name: name.into(),
        ..read_only()
    };
    for (name, expected) in [
        ("a".repeat(201), "201 characters"),
        ("evil\u{202E}txt.exe".to_owned(), "U+202E"),
        ("line\nbreak".to_owned(), "U+000A"),
    ] {
        let error = registry
            .create_server(named(&name), now, &vocabulary(), |_| true)
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(expected), "{error}");
        let error = registry
            .create_key(KeyKind::ApiToken, &name, now)
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let (entry, _) = registry
        .create_server(named(&"é".repeat(200)), now, &vocabulary(), |_| true)
        .await
        .expect("200 characters are fine");
    assert_eq!(entry.name.chars().count(), 200);
}

#[tokio::test]
async fn a_server_without_methods_is_read_only_and_an_empty_list_is_refused() {
    let registry = Registry::new(Box::new(SqliteStore::in_memory().expect("store")));
    let now = SystemTime::now();
    let unscoped = NewServer {
        name: "No config".into(),
        ..NewServer::default()
    };
    let (entry, _) = registry
        .create_server(unscoped, now, &vocabulary(), |_| true)
        .await
        .expect("created");
    assert_eq!(entry.methods, ["read"]);
    assert!(entry.tags.is_empty());
    let empty = NewServer {
        name: "Empty".into(),
        methods: Some(vec![String::new()]),
        ..NewServer::default()
    };
    let error = registry
        .create_server(empty, now, &vocabulary(), |_| true)
        .await
        .expect_err("refused");
    assert!(matches!(error, RegistryError::Scope(_)), "{error}");
}
