//! An authorization server for the OAuth cases: RFC 8414 metadata and a one-key set served on
//! loopback, and RS256 access tokens (the commonest kind an IdP issues) signed with a 2048-bit
//! key that `openssl` makes for the run.

use std::process::Command;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The origin the server under test is told it is reached at: tokens name its `/mcp`.
pub const PUBLIC_URL: &str = "https://mcp.bench.test";

pub struct BenchIssuer {
    pub url: String,
    key: EncodingKey,
}

impl BenchIssuer {
    /// Serves the metadata and key set on an ephemeral loopback port, until the runtime ends.
    pub async fn start() -> Result<Self> {
        let key = rsa_key()?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).context("public key")?;
        jwk.common.key_id = Some("bench".into());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let metadata = json!({ "issuer": url, "jwks_uri": format!("{url}/keys") });
        let keys = JwkSet { keys: vec![jwk] };
        let router = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || async move { axum::Json(metadata) }),
            )
            .route(
                "/keys",
                axum::routing::get(move || {
                    let keys = keys.clone();
                    async move { axum::Json(keys) }
                }),
            );
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { url, key })
    }

    /// A token for the server at [`PUBLIC_URL`] granting `scope`, valid for an hour.
    pub fn token(&self, scope: &str) -> Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("bench".into());
        header.typ = Some("at+jwt".into());
        let claims = json!({
            "iss": self.url,
            "aud": format!("{PUBLIC_URL}/mcp"),
            "sub": "bench@example.test",
            "client_id": "bench",
            "scope": scope,
            "iat": now,
            "exp": now + 3600,
        });
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }

    /// The serve arguments that accept this issuer's tokens.
    pub fn serve_args(&self) -> Vec<String> {
        [
            "--public-url",
            PUBLIC_URL,
            "--oauth-issuer",
            &self.url,
            "--oauth-insecure-loopback-issuer",
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// A fresh RSA key, as PKCS#1 DER from `openssl genrsa -traditional`.
fn rsa_key() -> Result<EncodingKey> {
    let out = Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .context("running openssl (Debian: apt-get install openssl)")?;
    if !out.status.success() {
        bail!("openssl genrsa: {}", String::from_utf8_lossy(&out.stderr));
    }
    let pem = String::from_utf8(out.stdout)?;
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body)?;
    Ok(EncodingKey::from_rsa_der(&der))
}
