//! TLS to the PostgreSQL registry, against a real server that accepts TCP over TLS only
//! (`testkit::TempPostgres::start_with_tls`, with a throwaway CA and a certificate for
//! `localhost` and `127.0.0.1`).

use std::sync::Arc;
use std::time::SystemTime;

use registry::{NewServer, Registry, RegistryLocation, open_store};
use testkit::TempPostgres;

use crate::support::Wait as _;

/// A fresh database on the shared TLS server, and the server kept alive with it.
struct Target {
    server: Arc<TempPostgres>,
    url: String,
}

impl Target {
    fn fresh() -> Self {
        let server = TempPostgres::shared_with_tls();
        let url = server.fresh_database();
        Self { server, url }
    }

    fn ca(&self) -> String {
        let ca = self.server.ca_certificate().expect("a TLS server");
        ca.to_str().expect("a UTF-8 path").to_owned()
    }

    /// The database URL with `query` appended.
    fn with(&self, query: &str) -> String {
        format!("{}?{query}", self.url)
    }

    /// The URL asking for host name `host` while connecting to 127.0.0.1 (`hostaddr`).
    fn named_as(&self, host: &str, query: &str) -> String {
        format!(
            "{}?hostaddr=127.0.0.1&{query}",
            self.url.replace("127.0.0.1", host)
        )
    }

    /// Opening the store at `url` fails; the error, checked to hold no password.
    fn refused(&self, url: &str) -> String {
        let location = RegistryLocation::parse(url).expect("a valid URL");
        let error = open_store(&location).wait().err().expect("refused").to_string();
        assert!(!error.contains(self.server.password()), "{error}");
        error
    }
}

/// Creates a server in the registry at `url` and authorizes its token.
fn creates_and_authorizes(url: &str) {
    let location = RegistryLocation::parse(url).expect("a valid URL");
    let registry = Registry::new(open_store(&location).wait().expect("store opens"));
    let now = SystemTime::now();
    let new = NewServer {
        name: "Auditor".into(),
        methods: Some(vec!["read".into()]),
        ..NewServer::default()
    };
    let (entry, token) = registry
        .create_server(new, now, &crate::support::vocabulary(), |_| true)
        .wait()
        .expect("created");
    let authorized = registry
        .authorize(Some(token.reveal()), None, now)
        .wait()
        .expect("authorized");
    assert_eq!(authorized.0.id, entry.id);
}

#[test]
fn verify_full_with_the_servers_ca_works_end_to_end() {
    let target = Target::fresh();
    creates_and_authorizes(&target.with(&format!("sslmode=verify-full&sslrootcert={}", target.ca())));
}

#[test]
fn require_checks_the_certificate_like_verify_full() {
    let target = Target::fresh();
    creates_and_authorizes(&target.with(&format!("sslmode=require&sslrootcert={}", target.ca())));
    let error = target.refused(&target.with("sslmode=require"));
    assert!(error.contains("certificate"), "{error}");
}

#[test]
fn without_the_ca_the_system_roots_reject_the_certificate_clearly() {
    let target = Target::fresh();
    let error = target.refused(&target.with("sslmode=verify-full"));
    assert!(
        error.contains("certificate")
            && error.contains("system's trust store")
            && error.contains("sslrootcert"),
        "{error}"
    );
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let target = Target::fresh();
    let ca = target.ca();
    let error =
        target.refused(&target.named_as("db.invalid", &format!("sslmode=verify-full&sslrootcert={ca}")));
    assert!(
        error.contains("db.invalid") && error.contains("verify-ca"),
        "{error}"
    );
    creates_and_authorizes(&target.named_as("db.invalid", &format!("sslmode=verify-ca&sslrootcert={ca}")));
}

#[test]
fn prefer_uses_tls_when_the_server_offers_it() {
    // The server accepts TCP over TLS only, so this works only if TLS was used.
    creates_and_authorizes(&Target::fresh().url);
}

#[test]
fn disable_is_refused_by_a_server_that_accepts_tls_only() {
    let target = Target::fresh();
    let error = target.refused(&target.with("sslmode=disable"));
    assert!(
        error.contains("pg_hba.conf") && error.contains("no encryption"),
        "{error}"
    );
}

#[test]
fn a_missing_root_certificate_file_is_named() {
    let target = Target::fresh();
    let missing = format!("{}.missing", target.ca());
    let error = target.refused(&target.with(&format!("sslmode=verify-full&sslrootcert={missing}")));
    assert!(
        error.contains(&missing) && error.contains("sslrootcert"),
        "{error}"
    );
}

#[test]
fn a_root_certificate_file_without_a_certificate_is_named() {
    let target = Target::fresh();
    let empty = std::env::temp_dir().join(format!("op-scim-no-ca-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate\n").expect("written");
    let error = target.refused(&target.with(&format!("sslmode=verify-ca&sslrootcert={}", empty.display())));
    let _ = std::fs::remove_file(&empty);
    assert!(
        error.contains(&empty.display().to_string()) && error.contains("no PEM certificate"),
        "{error}"
    );
}
