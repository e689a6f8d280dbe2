//! The HTTP client that reads an authorization server's metadata and keys: bounded in time
//! and size, no redirects, and only from URLs [`check_url`] accepts.

use std::time::Duration;

use serde::de::DeserializeOwned;

/// The most a metadata document or key set may weigh; real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Each fetch, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {reason}")]
    Failed { url: String, reason: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error("{url}: not the JSON expected ({reason})")]
    NotJson { url: String, reason: String },
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

impl FetchError {
    /// Whether the server refused the request (4xx): there is no document for us there, so
    /// another well-known location may be tried.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::Status {
                status: 400..=499,
                ..
            }
        )
    }
}

/// Where an authorization server's documents may be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `https://` only.
    Https,
    /// `https://`, or `http://` to a loopback address: for tests against a local provider.
    HttpsOrLoopback,
}

/// Reads JSON documents from authorization servers.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    pub transport: Transport,
}

impl Fetcher {
    pub fn new(transport: Transport) -> Result<Self, FetchError> {
        // One TLS stack (rustls with ring); installing the provider twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("op-scim-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| FetchError::Client(error.to_string()))?;
        Ok(Self { client, transport })
    }

    /// The JSON document at `url`, read whole and parsed as `T`.
    pub async fn json<T: DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let failed = |reason: String| FetchError::Failed {
            url: url.to_owned(),
            reason,
        };
        let mut response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| failed(describe(error)))?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| failed(describe(error)))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge { url: url.to_owned() });
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|error| FetchError::NotJson {
            url: url.to_owned(),
            reason: error.to_string(),
        })
    }
}

/// Why a request failed, in a few words, without the URL (which the error names already).
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", FETCH_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}

/// `url` when an authorization server's document may be read from it under `transport`: an
/// absolute `https://` URL (or `http://` to loopback, when allowed) without a fragment.
pub fn check_url(url: &str, transport: Transport) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("`{url}` is not a URL ({error})"))?;
    if parsed.fragment().is_some() {
        return Err(format!("`{url}` has a fragment (#...)"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{url}` carries credentials"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if transport == Transport::HttpsOrLoopback && is_loopback(&parsed) => Ok(parsed),
        "http" if transport == Transport::HttpsOrLoopback => Err(format!(
            "`{url}` is http:// to a host that is not loopback; only https:// is accepted there"
        )),
        "http" => Err(format!(
            "`{url}` is http://: an authorization server must be reached over https:// (tests against a \
             provider on loopback may say --oauth-insecure-loopback-issuer)"
        )),
        other => Err(format!("`{url}` is a {other} URL; give an https:// URL")),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}
