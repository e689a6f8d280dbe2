//! Where the registry lives: a SQLite file (one replica) or a PostgreSQL database (several).
//!
//! A PostgreSQL URL carries a password, so this type never prints one: its `Debug` and
//! [`RegistryLocation::redacted`] replace it with `***`, and parse errors name the problem, not
//! the text.
//!
//! TLS to PostgreSQL follows the URL's `sslmode` and `sslrootcert` as libpq reads them (see
//! [`TlsMode`] for the one deviation); both are taken out of the URL here, because the client
//! library knows neither `verify-*` nor `sslrootcert`, and the certificate checks are ours.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr as _;

use super::postgres::PostgresStore;
use super::{RegistryError, RegistryStore, SqliteStore};
use crate::redact::redact_url;

/// The registry's storage, as configured (`--registry`).
#[derive(Clone, PartialEq, Eq)]
pub enum RegistryLocation {
    /// A SQLite database file, created on first use.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, checked by [`RegistryLocation::parse`].
    Postgres(String),
}

impl RegistryLocation {
    /// A `postgres://` or `postgresql://` URL names PostgreSQL; anything else is a SQLite path.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let text = text.trim();
        if !is_postgres_url(text) {
            return Ok(Self::Sqlite(PathBuf::from(text)));
        }
        postgres_config(text)?;
        Ok(Self::Postgres(text.to_owned()))
    }

    /// How the connection to a PostgreSQL registry is protected, in words, and whether the
    /// server is authenticated (its certificate checked); `None` for SQLite.
    pub fn transport_security(&self) -> Option<(&'static str, bool)> {
        let Self::Postgres(url) = self else {
            return None;
        };
        let tls = postgres_config(url).ok()?.tls;
        let checked = tls.root_cert.is_some();
        Some(match tls.mode {
            TlsMode::Disable => ("plain text (sslmode=disable)", false),
            TlsMode::Prefer if checked => ("TLS if the server offers it, certificate checked", false),
            TlsMode::Prefer => ("TLS if the server offers it, certificate NOT checked", false),
            TlsMode::Require | TlsMode::VerifyFull => ("TLS, certificate and host name checked", true),
            TlsMode::VerifyCa => ("TLS, certificate checked (not the host name)", true),
        })
    }

    /// The location as it may be logged: a URL's password (in the user part or as a
    /// `password=` parameter) is replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_url(url),
        }
    }
}

impl fmt::Debug for RegistryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.debug_tuple("Postgres").field(&self.redacted()).finish(),
        }
    }
}

impl fmt::Display for RegistryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Opens the store at `location`, running pending schema migrations.
pub fn open_store(location: &RegistryLocation) -> Result<Box<dyn RegistryStore>, RegistryError> {
    match location {
        RegistryLocation::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
        RegistryLocation::Postgres(url) => Ok(Box::new(PostgresStore::connect(url)?)),
    }
}

fn is_postgres_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A PostgreSQL URL taken apart: what the client library is given, and how TLS is wanted.
pub(super) struct PostgresTarget {
    /// The connection settings, without the TLS settings the client library does not know.
    pub(super) config: postgres::Config,
    pub(super) tls: TlsSettings,
}

/// The URL's `sslmode` and `sslrootcert`, following libpq with one deviation (see
/// [`TlsMode::Require`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: TlsMode,
    /// `sslrootcert`: the CAs a server certificate must chain to; `None` means the system's
    /// trust store.
    pub(crate) root_cert: Option<RootCert>,
}

/// `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// Plain text, always.
    Disable,
    /// The default: TLS if the server offers it, plain text if it does not, as libpq does.
    /// Without `sslrootcert` the certificate is not checked (as in libpq), which keeps out a
    /// passive eavesdropper but not an active attacker; with `sslrootcert` it is checked as in
    /// `verify-full`. Ask for `verify-full` where the network is not trusted.
    Prefer,
    /// TLS, or no connection. libpq checks no certificate here unless it finds a root
    /// certificate; this binary always checks the chain and the host name, as in `verify-full`,
    /// because encryption to an unauthenticated server is not a security boundary.
    Require,
    /// TLS, with a certificate chaining to a trusted CA, for any host name.
    VerifyCa,
    /// TLS, with a certificate chaining to a trusted CA and naming the host connected to.
    VerifyFull,
}

/// Where the trusted CAs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// `sslrootcert=system`: the system's trust store (as libpq 16 spells it).
    System,
    /// `sslrootcert=<path>`: a PEM file of CA certificates.
    File(PathBuf),
}

/// Parses and checks a PostgreSQL URL; errors name the problem and show the URL redacted.
pub(super) fn postgres_config(url: &str) -> Result<PostgresTarget, RegistryError> {
    let invalid = |problem: String| {
        RegistryError::Storage(format!(
            "the PostgreSQL URL {} is not valid: {problem}",
            redact_url(url)
        ))
    };
    let (client_url, tls) = take_tls_settings(url).map_err(invalid)?;
    let config = postgres::Config::from_str(&client_url).map_err(|error| invalid(error.to_string()))?;
    if config.get_ssl_negotiation() == postgres::config::SslNegotiation::Direct
        && matches!(tls.mode, TlsMode::Disable | TlsMode::Prefer)
    {
        return Err(invalid(
            "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full".into(),
        ));
    }
    if config.get_hosts().is_empty() {
        return Err(invalid("no host".into()));
    }
    Ok(PostgresTarget { config, tls })
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query: the client library knows only
/// `disable`, `prefer` and `require`, and no `sslrootcert`. What it gets back asks for
/// `require` whenever TLS is mandatory; the certificate checks are this crate's own.
fn take_tls_settings(url: &str) -> Result<(String, TlsSettings), String> {
    let mut settings = TlsSettings {
        mode: TlsMode::Prefer,
        root_cert: None,
    };
    let (before, Some(query)) = split_query(url) else {
        return Ok((url.to_owned(), settings));
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        match key {
            "sslrootcert" if value.is_empty() => return Err("sslrootcert is empty".into()),
            "sslrootcert" if value == "system" => settings.root_cert = Some(RootCert::System),
            "sslrootcert" => settings.root_cert = Some(RootCert::File(PathBuf::from(&*value))),
            "sslmode" => {
                settings.mode = match &*value {
                    "disable" => TlsMode::Disable,
                    "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                        ));
                    }
                };
            }
            _ => kept.push(pair),
        }
    }
    kept.push(match settings.mode {
        TlsMode::Disable => "sslmode=disable",
        TlsMode::Prefer => "sslmode=prefer",
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => "sslmode=require",
    });
    Ok((format!("{before}?{}", kept.join("&")), settings))
}

/// The URL before its query, and the query. The user part ends at the last `@`, so a `?` in
/// an unencoded password does not start the query.
fn split_query(url: &str) -> (&str, Option<&str>) {
    let after_user = url.rfind('@').map_or(0, |at| at + 1);
    match url[after_user..].find('?') {
        Some(question) => (
            &url[..after_user + question],
            Some(&url[after_user + question + 1..]),
        ),
        None => (url, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_recognised_and_everything_else_is_a_sqlite_path() {
        for url in ["postgres://app@db/registry", "postgresql://app@db:5433/registry"] {
            assert!(
                matches!(RegistryLocation::parse(url), Ok(RegistryLocation::Postgres(_))),
                "{url}"
            );
        }
        assert_eq!(
            RegistryLocation::parse("state/registry.db").ok(),
            Some(RegistryLocation::Sqlite(PathBuf::from("state/registry.db")))
        );
    }

    #[test]
    fn the_password_is_redacted_wherever_it_is_written() {
        let location = RegistryLocation::parse("postgres://app:s3cr%2Ft@db:5432/registry?application_name=x")
            .expect("valid");
        assert_eq!(
            location.redacted(),
            "postgres://app:***@db:5432/registry?application_name=x"
        );
        assert!(!format!("{location:?}").contains("s3cr"));
        assert!(!location.to_string().contains("s3cr"));
        let in_query =
            RegistryLocation::parse("postgresql://db/registry?user=app&password=hunter2").expect("valid");
        assert_eq!(
            in_query.redacted(),
            "postgresql://db/registry?user=app&password=***"
        );
        assert_eq!(
            redact_url("postgres://app:pa/ss@word@db/x"),
            "postgres://app:***@db/x"
        );
    }

    #[test]
    fn an_invalid_url_names_the_problem_without_the_password() {
        let error = RegistryLocation::parse("postgres://app:hunter2@db:notaport/registry")
            .expect_err("bad port")
            .to_string();
        assert!(error.contains("port"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    fn tls_of(url: &str) -> (String, TlsSettings) {
        take_tls_settings(url).expect("valid")
    }

    #[test]
    fn sslmode_follows_libpq_and_the_client_library_is_asked_for_tls_when_it_is_mandatory() {
        let (client_url, tls) = tls_of("postgres://app:hunter2@db/registry");
        assert_eq!((tls.mode, tls.root_cert), (TlsMode::Prefer, None));
        assert_eq!(client_url, "postgres://app:hunter2@db/registry");
        for (mode, expected, client_mode) in [
            ("disable", TlsMode::Disable, "disable"),
            ("prefer", TlsMode::Prefer, "prefer"),
            ("require", TlsMode::Require, "require"),
            ("verify-ca", TlsMode::VerifyCa, "require"),
            ("verify-full", TlsMode::VerifyFull, "require"),
        ] {
            let url = format!("postgres://app@db/registry?application_name=x&sslmode={mode}");
            let (client_url, tls) = tls_of(&url);
            assert_eq!(tls.mode, expected, "{mode}");
            assert_eq!(
                client_url,
                format!("postgres://app@db/registry?application_name=x&sslmode={client_mode}")
            );
            assert!(RegistryLocation::parse(&url).is_ok(), "{url}");
        }
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_url_and_decoded() {
        let (client_url, tls) = tls_of(
            "postgres://app:pw@db/registry?sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&sslmode=verify-full",
        );
        assert_eq!(
            tls.root_cert,
            Some(RootCert::File(PathBuf::from("/etc/ca dir/ca.pem")))
        );
        assert_eq!(client_url, "postgres://app:pw@db/registry?sslmode=require");
        let (_, system) = tls_of("postgres://db/registry?sslrootcert=system");
        assert_eq!(system.root_cert, Some(RootCert::System));
    }

    #[test]
    fn a_question_mark_in_the_password_does_not_start_the_query() {
        let (client_url, tls) = tls_of("postgres://app:a?sslmode=disable@db/registry");
        assert_eq!(tls.mode, TlsMode::Prefer);
        assert_eq!(client_url, "postgres://app:a?sslmode=disable@db/registry");
    }

    #[test]
    fn an_unknown_sslmode_or_an_empty_sslrootcert_is_named_without_the_password() {
        for (query, named) in [
            ("sslmode=verify-everything", "sslmode=verify-everything"),
            ("sslrootcert=", "sslrootcert"),
            ("sslmode=prefer&sslnegotiation=direct", "sslnegotiation=direct"),
        ] {
            let url = format!("postgres://app:hunter2@db/registry?{query}");
            let error = RegistryLocation::parse(&url).expect_err(query).to_string();
            assert!(error.contains(named), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn the_redacted_location_keeps_the_tls_settings() {
        let location = RegistryLocation::parse(
            "postgres://app:hunter2@db/registry?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .expect("valid");
        assert_eq!(
            location.redacted(),
            "postgres://app:***@db/registry?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        );
    }
}
