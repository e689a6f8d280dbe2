//! The registry's storage behaviour, one suite run against every store: the embedded SQLite
//! file and a real PostgreSQL server (started by `testkit::TempPostgres`, never skipped), plus
//! what only PostgreSQL is for: several replicas on one database, and restarts.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use registry::{
    AccessDenied, KeyKind, NewServer, Registry, RegistryError, RegistryLocation, RegistryStore, open_store,
};
use testkit::TempPostgres;

use crate::support::Wait as _;

/// Every behaviour below runs once per store: `on_sqlite::<name>` and `on_postgres::<name>`.
macro_rules! on_every_store {
    ($($behaviour:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $behaviour() { super::$behaviour(super::Backend::Sqlite) } )*
        }
        mod on_postgres {
            $( #[test] fn $behaviour() { super::$behaviour(super::Backend::Postgres) } )*
        }
    };
}

on_every_store!(
    a_created_server_authorizes_its_token_only,
    a_server_reads_back_as_it_was_created,
    expiry_is_enforced_to_the_second_and_purged,
    creation_refuses_bad_input_with_the_field_named,
    api_tokens_are_required_when_asked_for_and_revocation_is_immediate,
    servers_are_revoked_by_id_or_by_name,
    keys_are_kept_apart_by_kind_and_revoked_by_id_or_name,
    the_database_holds_no_token,
    reopening_keeps_the_entries,
    two_stores_on_one_database_see_each_others_writes_at_once,
    a_working_store_answers_a_ping,
    replicas_connecting_at_once_to_a_fresh_database_all_migrate,
);

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database, and what keeps it alive.
struct Database {
    location: RegistryLocation,
    _dir: Option<TempDir>,
    _server: Option<Arc<TempPostgres>>,
}

impl Backend {
    fn fresh(self) -> Database {
        match self {
            Self::Sqlite => {
                let dir = TempDir::new();
                Database {
                    location: RegistryLocation::Sqlite(dir.0.join("registry.db")),
                    _dir: Some(dir),
                    _server: None,
                }
            }
            Self::Postgres => {
                let server = TempPostgres::shared();
                let url = server.fresh_database();
                Database {
                    location: RegistryLocation::parse(&url).expect("a valid URL"),
                    _dir: None,
                    _server: Some(server),
                }
            }
        }
    }
}

impl Backend {
    /// A registry on a fresh database; the database lives as long as the first half.
    fn fresh_registry(self) -> (Database, Registry) {
        let database = self.fresh();
        let registry = database.registry();
        (database, registry)
    }
}

impl Database {
    fn store(&self) -> Box<dyn RegistryStore> {
        open_store(&self.location).wait().expect("store opens")
    }

    fn registry(&self) -> Registry {
        Registry::new(self.store())
    }

    /// Everything the database holds, as text, to look for secrets in.
    fn raw_contents(&self) -> String {
        match &self.location {
            RegistryLocation::Sqlite(path) => {
                String::from_utf8_lossy(&std::fs::read(path).expect("database file")).into_owned()
            }
            RegistryLocation::Postgres(url) => {
                let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
                let rows = client
                    .query(
                        "SELECT s::text FROM servers s UNION ALL SELECT k::text FROM keys k",
                        &[],
                    )
                    .expect("dump");
                rows.iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let unique: u64 = rand_suffix();
        let path = std::env::temp_dir().join(format!("op-scim-stores-{}-{unique:x}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(Instant::now())
}

fn read_only() -> NewServer {
    NewServer {
        name: "Auditor".into(),
        methods: Some(vec!["read".into()]),
        ..NewServer::default()
    }
}

fn named(name: &str) -> NewServer {
    NewServer {
        name: name.into(),
        ..read_only()
    }
}

fn a_created_server_authorizes_its_token_only(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let (entry, token) = registry
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    assert_eq!(
        registry
            .authorize(Some(token.reveal()), None, now)
            .wait()
            .expect("authorized"),
        (entry, None)
    );
    assert_eq!(
        registry.authorize(Some("nope"), None, now).wait(),
        Err(AccessDenied::UnknownToken)
    );
    assert_eq!(
        registry.authorize(None, None, now).wait(),
        Err(AccessDenied::MissingToken)
    );
}

fn a_server_reads_back_as_it_was_created(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let full = NewServer {
        name: "Provisioner".into(),
        methods: Some(vec!["read, create".into(), "update".into()]),
        tags: Some(vec!["directory, admin".into()]),
        expires_at: Some(now + Duration::from_secs(3600)),
        require_api_token_auth: true,
    };
    let (created, _) = registry
        .create_server(full, now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let (bare, _) = registry
        .create_server(
            named("Bare"),
            now + Duration::from_secs(1),
            &crate::support::vocabulary(),
            |_| true,
        )
        .wait()
        .expect("created");
    assert_eq!(created.methods, ["read", "create", "update"]);
    assert_eq!(created.tags, ["directory", "admin"]);
    assert_eq!(registry.list_servers().wait().expect("list"), vec![created, bare]);
}

fn expiry_is_enforced_to_the_second_and_purged(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let expiring = NewServer {
        expires_at: Some(now + Duration::from_secs(61)),
        ..read_only()
    };
    let (_, token) = registry
        .create_server(expiring, now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let (_, lasting) = registry
        .create_server(named("Lasting"), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let just_before = now + Duration::from_secs(60);
    assert!(
        registry
            .authorize(Some(token.reveal()), None, just_before)
            .wait()
            .is_ok()
    );
    let at = now + Duration::from_secs(61);
    assert!(matches!(
        registry.authorize(Some(token.reveal()), None, at).wait(),
        Err(AccessDenied::Expired(_))
    ));
    assert!(
        registry
            .purge_expired(just_before)
            .wait()
            .expect("purge")
            .is_empty()
    );
    let purged = registry.purge_expired(at).wait().expect("purge");
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].name, "Auditor");
    assert_eq!(
        registry.authorize(Some(token.reveal()), None, just_before).wait(),
        Err(AccessDenied::UnknownToken)
    );
    assert!(
        registry
            .authorize(Some(lasting.reveal()), None, at)
            .wait()
            .is_ok()
    );
}

fn creation_refuses_bad_input_with_the_field_named(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let soon = NewServer {
        expires_at: Some(now + Duration::from_secs(30)),
        ..read_only()
    };
    assert!(matches!(
        registry
            .create_server(soon, now, &crate::support::vocabulary(), |_| true)
            .wait(),
        Err(RegistryError::ExpiresTooSoon(_))
    ));
    assert!(matches!(
        registry
            .create_server(read_only(), now, &crate::support::vocabulary(), |_| false)
            .wait(),
        Err(RegistryError::EmptyScope(_))
    ));
    assert!(matches!(
        registry
            .create_server(named(" "), now, &crate::support::vocabulary(), |_| true)
            .wait(),
        Err(RegistryError::EmptyName)
    ));
    registry
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("first");
    match registry
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
    {
        Err(RegistryError::DuplicateName(name)) => assert_eq!(name, "Auditor"),
        other => panic!("expected DuplicateName, got {other:?}"),
    }
    // The refused duplicate left the store usable.
    assert_eq!(registry.list_servers().wait().expect("list").len(), 1);
}

fn api_tokens_are_required_when_asked_for_and_revocation_is_immediate(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let guarded = NewServer {
        require_api_token_auth: true,
        ..read_only()
    };
    let (entry, token) = registry
        .create_server(guarded, now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let (api_entry, api) = registry
        .create_key(KeyKind::ApiToken, "ci", now)
        .wait()
        .expect("api token");
    assert_eq!(
        registry.authorize(Some(token.reveal()), None, now).wait(),
        Err(AccessDenied::ApiTokenRequired)
    );
    assert_eq!(
        registry
            .authorize(Some(token.reveal()), Some("wrong"), now)
            .wait(),
        Err(AccessDenied::BadApiToken)
    );
    let (_, used) = registry
        .authorize(Some(token.reveal()), Some(api.reveal()), now)
        .wait()
        .expect("admitted");
    assert_eq!(used.map(|key| key.id), Some(api_entry.id));
    registry.revoke_server(&entry.name).wait().expect("revoke");
    assert_eq!(
        registry
            .authorize(Some(token.reveal()), Some(api.reveal()), now)
            .wait(),
        Err(AccessDenied::UnknownToken)
    );
}

fn servers_are_revoked_by_id_or_by_name(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let (first, _) = registry
        .create_server(named("First"), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let (second, _) = registry
        .create_server(named("Second"), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    assert_eq!(
        registry.revoke_server(&first.id).wait().expect("by id"),
        Some(first.clone())
    );
    assert_eq!(
        registry.revoke_server("Second").wait().expect("by name"),
        Some(second)
    );
    assert_eq!(registry.revoke_server(&first.id).wait().expect("again"), None);
    assert!(registry.list_servers().wait().expect("list").is_empty());
}

fn keys_are_kept_apart_by_kind_and_revoked_by_id_or_name(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    let now = SystemTime::now();
    let (api, api_token) = registry
        .create_key(KeyKind::ApiToken, "ci", now)
        .wait()
        .expect("api token");
    let (admin, admin_key) = registry
        .create_key(KeyKind::AdminKey, "ops", now)
        .wait()
        .expect("admin key");
    assert_eq!(
        registry.list_keys(KeyKind::ApiToken).wait().expect("list"),
        vec![api.clone()]
    );
    assert_eq!(
        registry.list_keys(KeyKind::AdminKey).wait().expect("list"),
        vec![admin.clone()]
    );
    assert_eq!(
        registry.check_key(KeyKind::AdminKey, admin_key.reveal()).wait(),
        Ok(admin.clone())
    );
    assert_eq!(
        registry.check_key(KeyKind::AdminKey, api_token.reveal()).wait(),
        Err(AccessDenied::UnknownToken)
    );
    // A key of the other kind is not revoked by name.
    assert_eq!(
        registry
            .revoke_key(KeyKind::AdminKey, "ci")
            .wait()
            .expect("revoke"),
        None
    );
    assert_eq!(
        registry
            .revoke_key(KeyKind::ApiToken, "ci")
            .wait()
            .expect("by name"),
        Some(api)
    );
    assert_eq!(
        registry
            .revoke_key(KeyKind::AdminKey, &admin.id)
            .wait()
            .expect("by id"),
        Some(admin)
    );
    assert_eq!(
        registry.check_key(KeyKind::AdminKey, admin_key.reveal()).wait(),
        Err(AccessDenied::UnknownToken)
    );
    assert_eq!(
        registry.check_key(KeyKind::ApiToken, api_token.reveal()).wait(),
        Err(AccessDenied::UnknownToken)
    );
}

fn the_database_holds_no_token(backend: Backend) {
    let database = backend.fresh();
    let registry = database.registry();
    let now = SystemTime::now();
    let (server, token) = registry
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let (_, admin) = registry
        .create_key(KeyKind::AdminKey, "ops", now)
        .wait()
        .expect("admin key");
    drop(registry);
    let contents = database.raw_contents();
    assert!(contents.contains(&server.id), "the dump shows the stored rows");
    assert!(!contents.contains(token.reveal()) && !contents.contains(admin.reveal()));
}

fn reopening_keeps_the_entries(backend: Backend) {
    let database = backend.fresh();
    let now = SystemTime::now();
    let (entry, token) = database
        .registry()
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let reopened = database.registry();
    assert_eq!(reopened.list_servers().wait().expect("list"), vec![entry]);
    assert!(reopened.authorize(Some(token.reveal()), None, now).wait().is_ok());
}

fn two_stores_on_one_database_see_each_others_writes_at_once(backend: Backend) {
    let database = backend.fresh();
    let (one, two) = (database.registry(), database.registry());
    let now = SystemTime::now();
    let (entry, token) = one
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    assert_eq!(
        two.authorize(Some(token.reveal()), None, now).wait(),
        Ok((entry.clone(), None))
    );
    assert!(matches!(
        two.create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
            .wait(),
        Err(RegistryError::DuplicateName(_))
    ));
    assert_eq!(two.revoke_server(&entry.id).wait().expect("revoke"), Some(entry));
    assert_eq!(
        one.authorize(Some(token.reveal()), None, now).wait(),
        Err(AccessDenied::UnknownToken)
    );
}

fn a_working_store_answers_a_ping(backend: Backend) {
    let (_database, registry) = backend.fresh_registry();
    registry.ping().wait().expect("ping");
}

// Processes opening one fresh database together; then what only PostgreSQL does: schema
// versions across replicas, restarts.

fn replicas_connecting_at_once_to_a_fresh_database_all_migrate(backend: Backend) {
    let database = backend.fresh();
    let replicas = 4;
    let start = Barrier::new(replicas);
    let opened: Vec<Result<Box<dyn RegistryStore>, RegistryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..replicas)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    open_store(&database.location).wait()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("thread"))
            .collect()
    });
    let stores: Vec<Registry> = opened
        .into_iter()
        .map(|store| Registry::new(store.expect("every replica opens")))
        .collect();
    let now = SystemTime::now();
    let (entry, token) = stores[0]
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    for store in &stores {
        assert_eq!(
            store.authorize(Some(token.reveal()), None, now).wait(),
            Ok((entry.clone(), None))
        );
    }
}

#[test]
fn a_database_with_a_newer_schema_is_refused() {
    let database = Backend::Postgres.fresh();
    drop(database.store());
    let RegistryLocation::Postgres(url) = &database.location else {
        unreachable!("a PostgreSQL database")
    };
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
    client
        .batch_execute("UPDATE registry_schema SET version = version + 1")
        .expect("bump the version");
    match open_store(&database.location).wait() {
        Err(RegistryError::Storage(message)) => {
            assert!(message.contains("newer than this binary knows"), "{message}");
        }
        Err(other) => panic!("expected a storage error, got {other}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[test]
fn the_store_heals_after_a_database_restart() {
    let server = TempPostgres::start();
    let location = RegistryLocation::parse(&server.fresh_database()).expect("URL");
    let registry = Registry::new(open_store(&location).wait().expect("store"));
    let now = SystemTime::now();
    let (entry, token) = registry
        .create_server(read_only(), now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    // Several calls at once leave several connections idle in the pool, all of which die.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..20 {
                    registry.list_servers().wait().expect("list");
                }
            });
        }
    });
    server.restart();
    let first = registry.ping().wait();
    assert!(
        matches!(first, Ok(()) | Err(RegistryError::Storage(_))),
        "the first call after a restart: {first:?}"
    );
    assert_eq!(
        registry.authorize(Some(token.reveal()), None, now).wait(),
        Ok((entry, None))
    );
    assert_eq!(registry.list_servers().wait().expect("list").len(), 1);
}

#[test]
fn idle_connections_closed_behind_the_pools_back_never_fail_a_call() {
    // What a NAT or a database failover does to a pool: its idle connections die while nobody
    // uses them. The pool checks each one on checkout, so not even the first call fails.
    let server = TempPostgres::shared();
    let url = server.fresh_database();
    let location = RegistryLocation::parse(&url).expect("URL");
    let registry = Registry::new(open_store(&location).wait().expect("store"));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..20 {
                    registry.list_servers().wait().expect("list");
                }
            });
        }
    });
    let killed = crate::support::terminate_connections(&url, "op-scim-mcp");
    assert!(killed > 0, "the pool held no idle connection");
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        assert_eq!(registry.ping().wait().ok(), Some(()));
    }
    assert!(registry.list_servers().wait().expect("list").is_empty());
}

#[test]
fn a_stopped_database_answers_with_an_error_in_bounded_time() {
    let server = TempPostgres::start();
    let location = RegistryLocation::parse(&server.fresh_database()).expect("URL");
    let registry = Registry::new(open_store(&location).wait().expect("store"));
    server.stop();
    let started = Instant::now();
    for _ in 0..2 {
        assert!(matches!(registry.ping().wait(), Err(RegistryError::Storage(_))));
    }
    assert_eq!(
        registry.authorize(Some("any"), None, SystemTime::now()).wait(),
        Err(AccessDenied::Unavailable)
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(open_store(&location).wait().is_err());
}

#[test]
fn a_wrong_password_is_an_error_that_does_not_show_it() {
    let server = TempPostgres::shared();
    let url = server.fresh_database();
    let (user, rest) = url.split_once('@').expect("user part");
    let (prefix, _) = user.rsplit_once(':').expect("password");
    let wrong = format!("{prefix}:not-the-password-xyz@{rest}");
    let location = RegistryLocation::parse(&wrong).expect("URL");
    match open_store(&location).wait() {
        Err(error) => assert!(!error.to_string().contains("not-the-password-xyz"), "{error}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
}
