//! TLS to PostgreSQL: rustls (with the ring provider, the one TLS stack of this binary) behind
//! rust-postgres's connector trait, with the certificate checks that `sslmode` asks for.
//!
//! The trusted CAs are read once, when the store is opened, so a missing or unreadable
//! `sslrootcert` file is reported at startup, with its path, rather than on the first call.

use std::path::Path;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::url::{RootCert, TlsMode, TlsSettings};
use crate::error::RegistryError;

/// How a pooled connection is opened.
#[derive(Clone)]
pub(super) enum Connector {
    Plain,
    Tls(MakeRustlsConnect),
}

impl Connector {
    /// The connector for `settings`, with its trusted CAs loaded.
    pub(super) fn new(settings: &TlsSettings) -> Result<Self, RegistryError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (settings.mode, &settings.root_cert) {
            (TlsMode::Disable, _) => return Ok(Self::Plain),
            (TlsMode::Prefer, None) => Arc::new(Unchecked(provider.signature_verification_algorithms)),
            (TlsMode::Prefer | TlsMode::Require | TlsMode::VerifyFull, roots) => {
                chain_verifier(roots.as_ref(), &provider)?
            }
            (TlsMode::VerifyCa, roots) => Arc::new(ChainOnly(chain_verifier(roots.as_ref(), &provider)?)),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| tls_setup(&error))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self::Tls(MakeRustlsConnect::new(config)))
    }

    /// The pool's connection manager: `config` over this connector, each idle connection
    /// checked with `recycling` before it is handed out.
    pub(super) fn manager(&self, config: tokio_postgres::Config, recycling: ManagerConfig) -> Manager {
        match self {
            Self::Plain => Manager::from_config(config, NoTls, recycling),
            Self::Tls(tls) => Manager::from_config(config, tls.clone(), recycling),
        }
    }
}

/// A connection error as the operator sees it; a rejected server certificate is described, with
/// where the trusted CAs came from and what to change.
pub(super) fn connect_error(error: tokio_postgres::Error, settings: &TlsSettings) -> RegistryError {
    let Some(rustls::Error::InvalidCertificate(problem)) = rustls_error(&error) else {
        return super::storage(error);
    };
    let advice = match problem {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "connect by a host name the certificate holds (sslmode=verify-ca skips this check)".to_owned()
        }
        _ => {
            let roots = match &settings.root_cert {
                Some(RootCert::File(path)) => {
                    format!("the CA certificates in {} (sslrootcert)", path.display())
                }
                Some(RootCert::System) | None => "the system's trust store".to_owned(),
            };
            format!(
                "it was checked against {roots}; name the CA that signed it with \
                 sslrootcert=<path to a PEM file>"
            )
        }
    };
    let problem = match problem {
        CertificateError::UnknownIssuer => "its issuer is not a trusted CA".to_owned(),
        other => other.to_string(),
    };
    RegistryError::Storage(format!(
        "PostgreSQL: the TLS handshake failed: the server's certificate was rejected ({problem}): {advice}"
    ))
}

/// The rustls error at the root of a failed handshake, if that is what failed.
fn rustls_error(error: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // An `io::Error` reports the source of the error it wraps, not that error itself.
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if wrapped.is_some() {
            return wrapped;
        }
        next = current.source();
    }
    None
}

/// Checks the chain up to a trusted CA and the host name (rustls's own WebPKI verifier).
fn chain_verifier(
    roots: Option<&RootCert>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, RegistryError> {
    let roots = match roots {
        Some(RootCert::File(path)) => file_roots(path)?,
        Some(RootCert::System) | None => system_roots()?,
    };
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|error| tls_setup(&error))?;
    Ok(verifier)
}

fn file_roots(path: &Path) -> Result<RootCertStore, RegistryError> {
    let unusable = |problem: String| {
        RegistryError::Storage(format!(
            "PostgreSQL TLS: the root certificate file {} (sslrootcert) {problem}",
            path.display()
        ))
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| unusable(format!("cannot be read: {error}")))?;
    if certificates.is_empty() {
        return Err(unusable(
            "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for (number, certificate) in certificates.into_iter().enumerate() {
        roots.add(certificate).map_err(|error| {
            unusable(format!(
                "has a certificate (number {}) that is not usable: {error}",
                number + 1
            ))
        })?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, RegistryError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let problems: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(RegistryError::Storage(format!(
            "PostgreSQL TLS: no CA certificate was found in the system's trust store ({}); \
             install the system's CA certificates or name a CA file with sslrootcert=<path>",
            if problems.is_empty() {
                "it is empty".to_owned()
            } else {
                problems.join("; ")
            }
        )));
    }
    Ok(roots)
}

fn tls_setup(error: &dyn std::fmt::Display) -> RegistryError {
    RegistryError::Storage(format!("PostgreSQL TLS: setting up TLS failed: {error}"))
}

/// `verify-ca`: the chain must lead to a trusted CA, the host name is not compared. The WebPKI
/// verifier checks the chain first, so a name mismatch is the only error that is let through.
#[derive(Debug)]
struct ChainOnly(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` without `sslrootcert`, as in libpq: any certificate is taken, so the connection is
/// private from a passive eavesdropper only. The handshake signatures are still checked, so
/// the peer holds the key of the certificate it sent.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
