//! What is particular to the SQLite file; the behaviour every store shares is one suite run
//! against each store, in tests/it/registry_stores.rs.

use std::time::SystemTime;

use super::*;

fn read_only() -> NewServer {
    NewServer {
        name: "Auditor".into(),
        methods: vec!["read".into()],
        ..NewServer::default()
    }
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
