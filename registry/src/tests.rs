//! What is particular to the SQLite file; the behaviour every store shares is one suite run
//! against each store, in tests/it/registry_stores.rs.

use std::time::{Duration, SystemTime};

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

/// Creates `new` in `registry`, failing the test if it is refused.
async fn created(registry: &Registry, new: NewServer, now: SystemTime) -> (ServerEntry, SecretToken) {
    registry
        .create_server(new, now, &vocabulary(), |_| true)
        .await
        .expect("created")
}

/// A directory of its own for a test's registry file, and the (not yet existing) file in it.
fn fresh_file(label: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("op-scim-registry-{label}{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.db");
    let _ = std::fs::remove_file(&path);
    (dir, path)
}

#[tokio::test]
async fn the_database_file_holds_no_token() {
    let (dir, path) = fresh_file("");
    let registry = Registry::new(Box::new(SqliteStore::open(&path).expect("store")));
    let now = SystemTime::now();
    let (_, token) = created(&registry, read_only(), now).await;
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
    let (dir, path) = fresh_file("newer-");
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
    let (dir, path) = fresh_file("mode-");
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
    let (entry, _) = created(&registry, unscoped, now).await;
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

/// A store that counts the lookups that reach it, in front of an in-memory SQLite store, and
/// whose watcher keeps the cache fresh for as long as a test runs.
struct Counting {
    inner: SqliteStore,
    lookups: Arc<std::sync::atomic::AtomicUsize>,
}

impl Counting {
    fn count(&self) {
        self.lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl RegistryStore for Counting {
    fn insert_server<'a>(&'a self, entry: &'a ServerEntry, token_hash: &'a TokenHash) -> StoreFuture<'a, ()> {
        self.inner.insert_server(entry, token_hash)
    }
    fn list_servers(&self) -> StoreFuture<'_, Vec<ServerEntry>> {
        self.inner.list_servers()
    }
    fn server_by_hash<'a>(
        &'a self,
        token_hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(ServerEntry, TokenHash)>> {
        self.count();
        self.inner.server_by_hash(token_hash)
    }
    fn delete_server<'a>(&'a self, id_or_name: &'a str) -> StoreFuture<'a, Option<ServerEntry>> {
        self.inner.delete_server(id_or_name)
    }
    fn purge_expired(&self, now: SystemTime) -> StoreFuture<'_, Vec<ServerEntry>> {
        self.inner.purge_expired(now)
    }
    fn insert_key<'a>(
        &'a self,
        kind: KeyKind,
        entry: &'a KeyEntry,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, ()> {
        self.inner.insert_key(kind, entry, hash)
    }
    fn list_keys(&self, kind: KeyKind) -> StoreFuture<'_, Vec<KeyEntry>> {
        self.inner.list_keys(kind)
    }
    fn key_by_hash<'a>(
        &'a self,
        kind: KeyKind,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(KeyEntry, TokenHash)>> {
        self.count();
        self.inner.key_by_hash(kind, hash)
    }
    fn delete_key<'a>(&'a self, kind: KeyKind, id_or_name: &'a str) -> StoreFuture<'a, Option<KeyEntry>> {
        self.inner.delete_key(kind, id_or_name)
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        self.inner.ping()
    }
    /// Vouches for the cache for an hour: these tests count lookups, and a real watcher's
    /// confirmation could lapse on a loaded machine and send a repeat to the store.
    fn watch(&self, freshness: Freshness, stop: CancellationToken) -> runtime::tool::BoxFuture<'_, ()> {
        Box::pin(async move {
            freshness.confirm(std::time::Instant::now() + Duration::from_secs(3600));
            stop.cancelled().await;
        })
    }
}

/// A registry over `store` whose cache is kept fresh until the token is cancelled (on drop).
async fn kept_fresh(store: Box<dyn RegistryStore>) -> (Arc<Registry>, tokio_util::sync::DropGuard) {
    let registry = Arc::new(Registry::new(store));
    let stop = CancellationToken::new();
    tokio::spawn(registry.clone().keep_fresh(stop.clone()));
    let started = std::time::Instant::now();
    while !registry.cache_is_fresh() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the cache never became fresh"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (registry, stop.drop_guard())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_lookup_is_answered_without_the_store() {
    let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let store = Counting {
        inner: SqliteStore::in_memory().expect("store"),
        lookups: lookups.clone(),
    };
    let (registry, _stop) = kept_fresh(Box::new(store)).await;
    let now = SystemTime::now();
    let (entry, token) = created(
        &registry,
        NewServer {
            require_api_token_auth: true,
            ..read_only()
        },
        now,
    )
    .await;
    let (key, api_token) = registry
        .create_key(KeyKind::ApiToken, "agent", now)
        .await
        .expect("api token");
    let expected = Ok((entry.clone(), Some(key)));
    for _ in 0..3 {
        let authorized = registry
            .authorize(Some(token.reveal()), Some(api_token.reveal()), now)
            .await;
        assert_eq!(authorized, expected);
    }
    let reached = lookups.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        reached, 2,
        "one server and one key lookup reach the store, the repeats do not"
    );
    // Unknown tokens are never cached: each one is looked up.
    for _ in 0..2 {
        assert_eq!(
            registry.authorize(Some("made-up"), None, now).await,
            Err(AccessDenied::UnknownToken)
        );
    }
    assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), reached + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_entry_is_refused_at_its_expiry_and_after_its_revocation() {
    let (registry, _stop) = kept_fresh(Box::new(SqliteStore::in_memory().expect("store"))).await;
    let now = SystemTime::now();
    let expires_at = now + Duration::from_secs(3600);
    let (entry, token) = created(
        &registry,
        NewServer {
            expires_at: Some(expires_at),
            ..read_only()
        },
        now,
    )
    .await;
    assert!(registry.authorize(Some(token.reveal()), None, now).await.is_ok());
    assert!(registry.authorize(Some(token.reveal()), None, now).await.is_ok());
    let at_expiry = entry.expires_at.expect("an expiry");
    assert!(matches!(
        registry.authorize(Some(token.reveal()), None, at_expiry).await,
        Err(AccessDenied::Expired(_))
    ));
    registry.revoke_server(&entry.id).await.expect("revoked");
    assert_eq!(
        registry.authorize(Some(token.reveal()), None, now).await,
        Err(AccessDenied::UnknownToken),
        "this process's own revocation takes effect before it returns"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_another_connection_to_the_file_is_honoured_within_a_second() {
    let (dir, path) = fresh_file("watch-");
    let (serving, _stop) = kept_fresh(Box::new(SqliteStore::open(&path).expect("store"))).await;
    // The command line, or another replica on the same file: a connection of its own.
    let other = Registry::new(Box::new(SqliteStore::open(&path).expect("second connection")));
    let now = SystemTime::now();
    let (entry, token) = created(&other, read_only(), now).await;
    for _ in 0..2 {
        assert!(serving.authorize(Some(token.reveal()), None, now).await.is_ok());
    }
    other.revoke_server(&entry.id).await.expect("revoked");
    let revoked = std::time::Instant::now();
    loop {
        match serving.authorize(Some(token.reveal()), None, now).await {
            Err(AccessDenied::UnknownToken) => break,
            Ok(_) => assert!(
                revoked.elapsed() < Duration::from_secs(1),
                "still admitted {:?} after the revocation",
                revoked.elapsed()
            ),
            Err(other) => panic!("unexpected refusal: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        serving.cache_is_fresh(),
        "the cache keeps answering after the change"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_are_counted_by_where_they_were_answered() {
    let store = Counting {
        inner: SqliteStore::in_memory().expect("store"),
        lookups: Arc::default(),
    };
    let (registry, _stop) = kept_fresh(Box::new(store)).await;
    let mut metrics = runtime::Metrics::default();
    let _http =
        crate::http::RegistryHttp::new(registry.clone(), &[], "", "test").with_metrics_in(&mut metrics);
    let now = SystemTime::now();
    let (_, token) = created(&registry, read_only(), now).await;
    for _ in 0..3 {
        assert!(registry.authorize(Some(token.reveal()), None, now).await.is_ok());
    }
    let text = metrics.render().expect("rendered");
    assert!(
        text.contains("registry_lookups_total{source=\"memory\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("registry_lookups_total{source=\"store\"} 1"),
        "{text}"
    );
}
