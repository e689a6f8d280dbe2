//! A PostgreSQL URL taken apart: what the client library is given, and how TLS is wanted.
//!
//! TLS follows the URL's `sslmode` and `sslrootcert` as libpq reads them (see [`TlsMode`] for
//! the one deviation); both are taken out of the URL here, because the client library knows
//! neither `verify-*` nor `sslrootcert`, and the certificate checks are ours.

use std::path::PathBuf;
use std::str::FromStr as _;

use runtime::redact::redact_url;

use crate::error::RegistryError;

/// A PostgreSQL URL taken apart: what the client library is given, and how TLS is wanted.
pub(crate) struct PostgresTarget {
    /// The connection settings, without the TLS settings the client library does not know.
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: TlsSettings,
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
pub(crate) fn postgres_config(url: &str) -> Result<PostgresTarget, RegistryError> {
    let invalid = |problem: String| {
        RegistryError::Storage(format!(
            "the PostgreSQL URL {} is not valid: {problem}",
            redact_url(url)
        ))
    };
    let (client_url, tls) = take_tls_settings(url).map_err(invalid)?;
    let config = tokio_postgres::Config::from_str(&client_url).map_err(|error| invalid(error.to_string()))?;
    if config.get_ssl_negotiation() == tokio_postgres::config::SslNegotiation::Direct
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
    use crate::location::RegistryLocation;

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
}
