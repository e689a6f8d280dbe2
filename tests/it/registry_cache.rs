//! The cache of token lookups on a shared PostgreSQL registry: two replicas (two registries,
//! each with its own pool and listener) on one database, as two processes would be. A change
//! made through one must take effect on the other within a second, also when the other's
//! listener connection is killed; an expiry takes effect with no notification at all.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use registry::{AccessDenied, NewServer, Registry, RegistryLocation, SecretToken, ServerEntry, open_store};
use testkit::TempPostgres;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::support::Wait as _;

/// How long a change may take to reach another replica.
const WITHIN: Duration = Duration::from_secs(1);

/// A replica: a registry whose cache its store's listener keeps fresh while it lives.
struct Replica {
    registry: Arc<Registry>,
    _stop: DropGuard,
}

impl Replica {
    fn on(location: &RegistryLocation) -> Self {
        let registry = Arc::new(Registry::new(open_store(location).wait().expect("store opens")));
        let stop = CancellationToken::new();
        let watcher = registry.clone().keep_fresh(stop.clone());
        async { drop(tokio::spawn(watcher)) }.wait();
        let replica = Self {
            registry,
            _stop: stop.drop_guard(),
        };
        replica.until_fresh(Duration::from_secs(10));
        replica
    }

    fn until_fresh(&self, limit: Duration) {
        let started = Instant::now();
        while !self.registry.cache_is_fresh() {
            assert!(
                started.elapsed() < limit,
                "the cache was not fresh within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn create(&self, name: &str) -> (ServerEntry, SecretToken) {
        let new = NewServer {
            name: name.into(),
            methods: Some(vec!["read".into()]),
            expires_at: Some(SystemTime::now() + Duration::from_secs(3600)),
            ..NewServer::default()
        };
        self.registry
            .create_server(new, SystemTime::now(), &crate::support::vocabulary(), |_| true)
            .wait()
            .expect("created")
    }

    fn admits(&self, token: &SecretToken) -> Result<ServerEntry, AccessDenied> {
        self.registry
            .authorize(Some(token.reveal()), None, SystemTime::now())
            .wait()
            .map(|(entry, _)| entry)
    }

    /// Waits until this replica refuses `token` as unknown; fails if it still admits it
    /// [`WITHIN`] after `since`.
    fn refuses_within(&self, token: &SecretToken, since: Instant) {
        loop {
            match self.admits(token) {
                Err(AccessDenied::UnknownToken) => return,
                Ok(_) => assert!(
                    since.elapsed() < WITHIN,
                    "still admitted {:?} after the revocation",
                    since.elapsed()
                ),
                Err(other) => panic!("unexpected refusal: {other}"),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn database() -> (Arc<TempPostgres>, String, RegistryLocation) {
    let server = TempPostgres::shared();
    let url = server.fresh_database();
    let location = RegistryLocation::parse(&url).expect("a valid URL");
    (server, url, location)
}

#[test]
fn a_token_revoked_on_one_replica_is_refused_by_the_other_within_a_second() {
    let (_server, _url, location) = database();
    let (a, b) = (Replica::on(&location), Replica::on(&location));
    // A new token works on the other replica at once: unknown tokens are never cached.
    let (entry, token) = a.create("Auditor");
    assert_eq!(b.admits(&token), Ok(entry.clone()));
    assert_eq!(
        b.admits(&token),
        Ok(entry.clone()),
        "answered again, from the cache"
    );
    assert!(b.registry.cache_is_fresh());
    a.registry.revoke_server(&entry.id).wait().expect("revoked");
    let revoked = Instant::now();
    assert_eq!(a.admits(&token), Err(AccessDenied::UnknownToken), "at once on A");
    b.refuses_within(&token, revoked);
}

#[test]
fn an_entry_cached_on_a_replica_is_refused_at_its_expiry_without_any_notification() {
    let (_server, _url, location) = database();
    let (a, b) = (Replica::on(&location), Replica::on(&location));
    let (entry, token) = a.create("Short-lived");
    for _ in 0..2 {
        assert_eq!(b.admits(&token), Ok(entry.clone()));
    }
    let expiry = entry.expires_at.expect("an expiry");
    // Nothing is written at expiry (the purge comes later), so nothing is notified.
    for at in [expiry, expiry + Duration::from_secs(1)] {
        assert!(matches!(
            b.registry.authorize(Some(token.reveal()), None, at).wait(),
            Err(AccessDenied::Expired(_))
        ));
    }
}

#[test]
fn a_killed_listener_leaves_no_stale_answer_and_the_cache_recovers() {
    let (_server, url, location) = database();
    let (a, b) = (Replica::on(&location), Replica::on(&location));
    let (first, first_token) = a.create("First");
    let (second, second_token) = a.create("Second");
    for _ in 0..2 {
        assert_eq!(b.admits(&first_token), Ok(first.clone()));
        assert_eq!(b.admits(&second_token), Ok(second.clone()));
    }
    // Every listener on this database is cut off (A's and B's), and a token is revoked while
    // they are down: no notification of it can reach B.
    let killed = crate::support::terminate_connections(&url, "op-scim-mcp-listener");
    assert_eq!(killed, 2, "one listener per replica");
    a.registry.revoke_server(&first.id).wait().expect("revoked");
    let revoked = Instant::now();
    b.refuses_within(&first_token, revoked);
    assert_eq!(
        b.admits(&second_token),
        Ok(second.clone()),
        "the store still answers"
    );
    // The listener reconnects and the cache answers again, and hears changes again.
    b.until_fresh(Duration::from_secs(5));
    assert_eq!(b.admits(&second_token), Ok(second.clone()));
    a.registry.revoke_server(&second.id).wait().expect("revoked");
    b.refuses_within(&second_token, Instant::now());
}

#[test]
fn a_write_made_outside_the_product_is_heard_too() {
    // An operator deleting a row in psql, or an older binary without the notifying code:
    // the trigger notifies from the writing transaction, whoever writes.
    let (_server, url, location) = database();
    let b = Replica::on(&location);
    let a = Registry::new(open_store(&location).wait().expect("store opens"));
    let (entry, token) = a
        .create_server(
            NewServer {
                name: "Manual".into(),
                ..NewServer::default()
            },
            SystemTime::now(),
            &crate::support::vocabulary(),
            |_| true,
        )
        .wait()
        .expect("created");
    for _ in 0..2 {
        assert_eq!(b.admits(&token), Ok(entry.clone()));
    }
    let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
    admin
        .execute("DELETE FROM servers WHERE id = $1", &[&entry.id])
        .expect("deleted by hand");
    b.refuses_within(&token, Instant::now());
}
