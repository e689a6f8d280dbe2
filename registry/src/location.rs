//! Where the registry lives: a SQLite file (one replica) or a PostgreSQL database (several).
//!
//! A PostgreSQL URL carries a password, so this type never prints one: its `Debug` and
//! [`RegistryLocation::redacted`] replace it with `***`, and parse errors name the problem, not
//! the text.

use std::fmt;
use std::path::PathBuf;

use runtime::redact::redact_url;

use crate::error::RegistryError;
use crate::postgres::PostgresStore;
use crate::postgres::url::{TlsMode, postgres_config};
use crate::sqlite::SqliteStore;
use crate::store::RegistryStore;

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

/// Opens the store at `location`, running pending schema migrations. A SQLite file is opened
/// on the blocking pool (it is file I/O); PostgreSQL connects asynchronously.
pub async fn open_store(location: &RegistryLocation) -> Result<Box<dyn RegistryStore>, RegistryError> {
    match location {
        RegistryLocation::Sqlite(path) => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|error| RegistryError::Storage(format!("opening the SQLite registry: {error}")))??;
            Ok(Box::new(store))
        }
        RegistryLocation::Postgres(url) => Ok(Box::new(PostgresStore::connect(url).await?)),
    }
}

fn is_postgres_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
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
