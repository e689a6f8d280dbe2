//! Where the registry lives: a SQLite file (one replica) or a PostgreSQL database (several).
//!
//! A PostgreSQL URL carries a password, so this type never prints one: its `Debug` and
//! [`RegistryLocation::redacted`] replace it with `***`, and parse errors name the problem, not
//! the text.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr as _;

use super::postgres::PostgresStore;
use super::{RegistryError, RegistryStore, SqliteStore};

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

/// Parses and checks a PostgreSQL URL; errors name the problem and show the URL redacted.
pub(super) fn postgres_config(url: &str) -> Result<postgres::Config, RegistryError> {
    let invalid = |problem: String| {
        RegistryError::Storage(format!(
            "the PostgreSQL URL {} is not valid: {problem}",
            redact_url(url)
        ))
    };
    // libpq's certificate-checking modes are not known to the client library; name them here
    // so that asking for them gets the TLS answer below, not a puzzling parse error.
    if let Some(mode) = query_value(url, "sslmode").filter(|mode| mode.starts_with("verify-")) {
        return Err(tls_not_built_in(&format!("sslmode={mode}")));
    }
    let config = postgres::Config::from_str(url).map_err(|error| invalid(error.to_string()))?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(tls_not_built_in("sslmode=require"));
    }
    if config.get_ssl_negotiation() == postgres::config::SslNegotiation::Direct {
        return Err(tls_not_built_in("sslnegotiation=direct"));
    }
    if config.get_hosts().is_empty() {
        return Err(invalid("no host".into()));
    }
    Ok(config)
}

/// TLS was asked for but is not in this build: refusing beats connecting in plain text.
fn tls_not_built_in(asked: &str) -> RegistryError {
    RegistryError::Storage(format!(
        "the PostgreSQL URL asks for TLS ({asked}), but TLS to PostgreSQL is not built into this \
         binary; reach the database over a trusted network or a local TLS tunnel, and drop `{asked}`"
    ))
}

/// The URL with its password replaced by `***`.
///
/// The user part ends at the last `@`, so a password with an unencoded `/`, `?` or `@` is
/// still hidden (at worst more than the password is).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rfind('@') {
        Some(at) => {
            let (userinfo, host_and_more) = rest.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***{host_and_more}"),
                None => rest.to_owned(),
            }
        }
        None => rest.to_owned(),
    };
    let Some((before, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}://{before}?{}", query.join("&"))
}

fn query_value<'a>(url: &'a str, wanted: &str) -> Option<&'a str> {
    let (_, query) = url.rsplit_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == wanted)
        .map(|(_, value)| value)
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
    fn asking_for_tls_is_refused_rather_than_served_in_plain_text() {
        for asked in [
            "sslmode=require",
            "sslmode=verify-full",
            "sslmode=verify-ca",
            "sslnegotiation=direct",
        ] {
            let url = format!("postgres://app:hunter2@db/registry?{asked}");
            let error = RegistryLocation::parse(&url)
                .expect_err("TLS refused")
                .to_string();
            assert!(error.contains("TLS") && error.contains(asked), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
        assert!(RegistryLocation::parse("postgres://app@db/registry?sslmode=disable").is_ok());
    }
}
