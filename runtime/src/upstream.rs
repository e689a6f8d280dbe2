//! The HTTP client to the SCIM bridge: one request per call, no retries, bounded answers.
//!
//! The agent owns its retry loop: a 429 or 503 comes straight back (see `ToolError`), and this
//! module never sleeps, retries or backs off.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::error::{ScimError, ToolError};
use crate::metrics::Metrics;
use crate::ratelimit::{self, RateLimitInfo};

/// Everything outside RFC 3986 `unreserved` is encoded, so a value is always one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub const SCIM_JSON: &str = "application/scim+json";

/// A secret that never shows itself in `Debug` or `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// The base URL, e.g. `https://scim.example.com` or `.../scim/v2`.
    pub base_url: String,
    pub bearer_token: Secret,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    /// The media type of request and response bodies (the spec's): `Accept` and `Content-Type`.
    pub media_type: &'static str,
    /// Where error bodies hold their message, as field paths (the generator reads them from the
    /// spec's error responses: `detail` for SCIM, `Error.Message` for the Events API).
    pub error_messages: &'static [&'static [&'static str]],
    /// What the readiness probe GETs, relative to the base URL: a small authenticated read,
    /// so one request proves both reachability and that the token is accepted.
    pub probe_path: &'static str,
}

impl UpstreamConfig {
    /// A SCIM upstream (`application/scim+json`, messages in `detail`); the `with_*` methods
    /// describe another API.
    pub fn new(base_url: impl Into<String>, bearer_token: Secret) -> Self {
        Self {
            base_url: base_url.into(),
            bearer_token,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 8 * 1024 * 1024,
            media_type: SCIM_JSON,
            error_messages: &[&["detail"]],
            probe_path: SCIM_PROBE_PATH,
        }
    }

    pub fn with_probe_path(mut self, path: &'static str) -> Self {
        self.probe_path = path;
        self
    }

    pub fn with_media_type(mut self, media_type: &'static str) -> Self {
        self.media_type = media_type;
        self
    }

    pub fn with_error_messages(mut self, paths: &'static [&'static [&'static str]]) -> Self {
        self.error_messages = paths;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamConfigError {
    #[error("`{0}` is not an http(s) URL")]
    InvalidUrl(String),
    #[error("the bearer token is empty")]
    EmptyToken,
    #[error("the bearer token holds characters an HTTP header cannot carry")]
    TokenNotHeaderSafe,
    #[error("the media type `{0}` cannot be an HTTP header value")]
    InvalidMediaType(&'static str),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// The bridge client, shared by every call. Cloning shares the connection pool.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: reqwest::Client,
    base_url: String,
    /// `base_url` parsed once: a call sets only the path and query on a copy of it, rather
    /// than handing reqwest a string whose scheme and host it would parse again every time.
    base: reqwest::Url,
    /// `Bearer <token>`, marked sensitive, and the media type: built once rather than
    /// formatted and validated again on every call.
    authorization: HeaderValue,
    media_type: HeaderValue,
    /// The base URL as messages and logs show it: its password, if any, masked.
    shown_url: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_response_bytes: usize,
    /// Where every answer's status and rate-limit state is counted, if anywhere.
    metrics: Option<Arc<Metrics>>,
    error_messages: &'static [&'static [&'static str]],
    probe_path: &'static str,
}

/// Why a readiness probe of the bridge got no HTTP answer. Deliberately short: the text is
/// shown on `/readyz`, which anyone who can reach the port may read, so it never carries the
/// URL (which could hold credentials) or the token.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// Why no connection was made (DNS, refused, TLS); never the URL.
    #[error("{0}")]
    Connect(String),
    #[error("the connection broke off")]
    Broken,
}

/// The path the readiness probe of a SCIM upstream reads: RFC 7644 §4 discovery, which the
/// bridge serves behind the bearer token.
const SCIM_PROBE_PATH: &str = "ServiceProviderConfig";

impl Upstream {
    pub fn new(config: UpstreamConfig) -> Result<Self, UpstreamConfigError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|_| UpstreamConfigError::InvalidUrl(crate::redact::redact_url(&base_url)))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(UpstreamConfigError::InvalidUrl(crate::redact::redact_url(
                &base_url,
            )));
        }
        if config.bearer_token.expose().trim().is_empty() {
            return Err(UpstreamConfigError::EmptyToken);
        }
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", config.bearer_token.expose()))
            .map_err(|_| UpstreamConfigError::TokenNotHeaderSafe)?;
        authorization.set_sensitive(true);
        let media_type = HeaderValue::from_str(config.media_type)
            .map_err(|_| UpstreamConfigError::InvalidMediaType(config.media_type))?;
        // One TLS stack (rustls with ring); installing the provider twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("op-scim-mcp/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| UpstreamConfigError::Client(error.to_string()))?;
        Ok(Self {
            client,
            shown_url: crate::redact::redact_url(&base_url),
            base_url,
            base: parsed,
            authorization,
            media_type,
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            max_response_bytes: config.max_response_bytes,
            metrics: None,
            error_messages: config.error_messages,
            probe_path: config.probe_path.trim_start_matches('/'),
        })
    }

    /// Counts every answer of [`Upstream::send`] in `metrics` from now on.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = Some(metrics);
    }

    /// One authenticated `GET ServiceProviderConfig` bounded by `timeout`, for readiness: the
    /// status the bridge answered, whatever it is; the body is not read. Not counted in the
    /// metrics, which describe the traffic of tool calls.
    pub async fn probe(&self, timeout: Duration) -> Result<u16, ProbeError> {
        let url = format!("{}/{}", self.base_url, self.probe_path);
        let answer = self.authorized(Method::GET, url).timeout(timeout).send().await;
        match answer {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) if error.is_connect() => {
                Err(ProbeError::Connect(connect_cause(&error, self.connect_timeout)))
            }
            Err(error) if error.is_timeout() => Err(ProbeError::Timeout(timeout)),
            Err(_) => Err(ProbeError::Broken),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The path [`Upstream::probe`] reads, for messages.
    pub fn probe_path(&self) -> &'static str {
        self.probe_path
    }

    /// The base URL with its password (if any) masked: what may be printed or logged.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Sends one request and reads the whole (bounded) answer. Non-2xx answers are errors.
    pub async fn send(&self, request: &UpstreamRequest) -> Result<UpstreamResponse, ToolError> {
        let url = request.url_on(&self.base)?;
        let mut builder = self.authorized(request.method.clone(), url);
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, self.media_type.clone())
                .body(body.clone());
        }
        let mut response = builder
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status().as_u16();
        // Taken, not cloned: the response is read only for its body from here on.
        let headers = std::mem::take(response.headers_mut());
        let rate_limit = ratelimit::normalize(status, &headers, SystemTime::now());
        if let Some(metrics) = &self.metrics {
            metrics.upstream_response(&request.method, status, rate_limit.as_ref());
        }
        if let Some(length) = response.content_length()
            && length > self.max_response_bytes as u64
        {
            return Err(ToolError::ResponseTooLarge {
                limit: self.max_response_bytes,
            });
        }
        let mut body = Vec::with_capacity(response.content_length().map_or(0, |length| length as usize));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(&error))?
        {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(ToolError::ResponseTooLarge {
                    limit: self.max_response_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let answer = UpstreamResponse {
            status,
            headers,
            body,
            rate_limit,
        };
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(answer.into_error(request.target(), self.error_messages))
        }
    }

    /// A request to the upstream with its token and the media type it answers in.
    fn authorized(&self, method: Method, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .header(header::ACCEPT, self.media_type.clone())
            .header(header::AUTHORIZATION, self.authorization.clone())
    }

    fn transport_error(&self, error: &reqwest::Error) -> ToolError {
        if error.is_connect() {
            ToolError::Unreachable {
                url: self.shown_url.clone(),
                cause: connect_cause(error, self.connect_timeout),
                maybe_sent: false,
            }
        } else if error.is_timeout() {
            ToolError::Timeout(self.request_timeout.as_secs())
        } else {
            tracing::warn!(url = %self.shown_url, error = %error_chain(error), "upstream transport error");
            ToolError::Unreachable {
                url: self.shown_url.clone(),
                cause: "the connection broke off".to_owned(),
                maybe_sent: true,
            }
        }
    }
}

/// Why a connection could not be made, in words an operator acts on: the name did not resolve,
/// nothing listens, the certificate was refused, or no answer in time.
fn connect_cause(error: &reqwest::Error, connect_timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut dns = false;
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return format!("the TLS handshake failed ({tls})");
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return "connection refused (nothing listens on that port)".to_owned();
                }
                std::io::ErrorKind::TimedOut => {
                    return format!("no connection within {} s", connect_timeout.as_secs());
                }
                _ if dns => return format!("the host name did not resolve ({io})"),
                _ => {}
            }
        }
        // hyper-util says "dns error" and keeps the resolver's own message as the source.
        dns |= current.to_string().starts_with("dns error");
        source = current.source();
    }
    if dns {
        "the host name did not resolve".to_owned()
    } else if error.is_timeout() {
        format!("no connection within {} s", connect_timeout.as_secs())
    } else {
        format!("the connection failed ({})", error_chain(error))
    }
}

/// An error and its sources, `: `-joined, for the log and (as a last resort) the model.
/// reqwest's own message names the request URL, which may hold the bridge URL's password: the
/// URL is shown masked. The token travels in a header and never appears.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), &crate::redact::redact_url(url.as_str()));
    }
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        let next = current.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = current.source();
    }
    text
}

#[derive(Clone, Debug)]
enum Segment {
    Literal(&'static str),
    Param(String),
}

/// One request to the bridge, built by generated handlers.
#[derive(Clone, Debug)]
pub struct UpstreamRequest {
    method: Method,
    segments: Vec<Segment>,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl UpstreamRequest {
    pub fn new(method: Method) -> Self {
        Self {
            method,
            segments: Vec::new(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn literal(mut self, segment: &'static str) -> Self {
        self.segments.push(Segment::Literal(segment));
        self
    }

    /// A path parameter: always exactly one segment, percent-encoded when the URL is built.
    pub fn param(mut self, value: &str) -> Self {
        self.segments.push(Segment::Param(value.to_owned()));
        self
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// A query parameter from a typed value: strings as they are, other scalars as JSON.
    pub fn query_value<T: Serialize>(self, name: &'static str, value: &T) -> Result<Self, ToolError> {
        let rendered = match serde_json::to_value(value) {
            Ok(serde_json::Value::String(text)) => text,
            Ok(other @ (serde_json::Value::Bool(_) | serde_json::Value::Number(_))) => other.to_string(),
            Ok(_) => {
                return Err(ToolError::Internal(format!(
                    "query parameter `{name}` is not a scalar"
                )));
            }
            Err(error) => return Err(ToolError::Internal(error.to_string())),
        };
        Ok(self.query(name, rendered))
    }

    pub fn query_optional<T: Serialize>(
        self,
        name: &'static str,
        value: Option<&T>,
    ) -> Result<Self, ToolError> {
        match value {
            Some(value) => self.query_value(name, value),
            None => Ok(self),
        }
    }

    pub fn json_body<T: Serialize>(mut self, body: &T) -> Result<Self, ToolError> {
        let bytes = serde_json::to_vec(body).map_err(|error| ToolError::Internal(error.to_string()))?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    /// A GET of the same resource: same path, no query, no body.
    pub fn read_back(&self) -> Self {
        Self {
            method: Method::GET,
            segments: self.segments.clone(),
            query: Vec::new(),
            body: None,
        }
    }

    /// The last path parameter, which names the resource the request is about.
    pub fn target(&self) -> Option<String> {
        self.segments.iter().rev().find_map(|segment| match segment {
            Segment::Param(value) => Some(value.clone()),
            Segment::Literal(_) => None,
        })
    }

    /// The full URL. A parameter that is empty, `.` or `..` is refused: URL normalization
    /// would turn it into a different endpoint even when percent-encoded.
    pub fn url(&self, base_url: &str) -> Result<String, ToolError> {
        let mut url = base_url.trim_end_matches('/').to_owned();
        self.push_path(&mut url)?;
        if let Some(query) = self.query_string() {
            url.push('?');
            url.push_str(&query);
        }
        Ok(url)
    }

    /// The same URL as [`UpstreamRequest::url`], on a base parsed once: only the path and the
    /// query are parsed again.
    pub fn url_on(&self, base: &reqwest::Url) -> Result<reqwest::Url, ToolError> {
        let mut path = base.path().trim_end_matches('/').to_owned();
        self.push_path(&mut path)?;
        let mut url = base.clone();
        url.set_path(&path);
        url.set_query(self.query_string().as_deref());
        Ok(url)
    }

    /// Appends `/segment` for each path segment, each parameter encoded into one segment.
    fn push_path(&self, path: &mut String) -> Result<(), ToolError> {
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Literal(text) => path.push_str(text),
                Segment::Param(value) => {
                    if value.is_empty() || value == "." || value == ".." {
                        return Err(ToolError::InvalidArguments(vec![format!(
                            "the id `{value}` is not a valid resource id"
                        )]));
                    }
                    path.extend(utf8_percent_encode(value, SEGMENT));
                }
            }
        }
        Ok(())
    }

    /// `name=value&...`, each encoded; `None` without query parameters.
    fn query_string(&self) -> Option<String> {
        if self.query.is_empty() {
            return None;
        }
        let mut query = String::new();
        for (index, (name, value)) in self.query.iter().enumerate() {
            if index > 0 {
                query.push('&');
            }
            query.extend(utf8_percent_encode(name, SEGMENT));
            query.push('=');
            query.extend(utf8_percent_encode(value, SEGMENT));
        }
        Some(query)
    }
}

/// A 2xx answer, read whole.
#[derive(Clone, Debug)]
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub rate_limit: Option<RateLimitInfo>,
}

impl UpstreamResponse {
    fn into_error(self, target: Option<String>, messages: &[&[&str]]) -> ToolError {
        if self.status == 429 || (self.status == 503 && self.headers.contains_key(header::RETRY_AFTER)) {
            return ToolError::RateLimited {
                status: self.status,
                retry_after_seconds: self.rate_limit.as_ref().and_then(|info| info.retry_after_seconds),
                rate_limit: self.rate_limit.map(Box::new),
            };
        }
        let scim = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .map(|body| ScimError {
                scim_type: body.get("scimType").and_then(|v| v.as_str()).map(str::to_owned),
                detail: messages
                    .iter()
                    .find_map(|path| path.iter().try_fold(&body, |value, key| value.get(key))?.as_str())
                    .map(|d| d.chars().take(500).collect()),
            })
            .unwrap_or_default();
        ToolError::Upstream {
            status: self.status,
            scim,
            target,
            rate_limit: self.rate_limit.map(Box::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traversal_id_stays_one_segment() {
        let request = UpstreamRequest::new(Method::GET)
            .literal("Users")
            .param("../Groups/x");
        let url = request.url("http://bridge/scim/v2/").unwrap();
        assert_eq!(url, "http://bridge/scim/v2/Users/..%2FGroups%2Fx");
        let request = UpstreamRequest::new(Method::GET)
            .literal("Users")
            .param("a/b?c#d");
        assert_eq!(
            request.url("http://bridge").unwrap(),
            "http://bridge/Users/a%2Fb%3Fc%23d"
        );
    }

    #[test]
    fn dot_segments_and_empty_ids_are_refused() {
        for id in ["", ".", ".."] {
            let request = UpstreamRequest::new(Method::GET).literal("Users").param(id);
            assert!(
                matches!(request.url("http://bridge"), Err(ToolError::InvalidArguments(_))),
                "{id:?}"
            );
        }
    }

    #[test]
    fn query_values_are_encoded() {
        let request = UpstreamRequest::new(Method::GET)
            .literal("Users")
            .query("filter", "userName eq \"a&b=c\"")
            .query("count", "5");
        assert_eq!(
            request.url("http://bridge").unwrap(),
            "http://bridge/Users?filter=userName%20eq%20%22a%26b%3Dc%22&count=5"
        );
    }

    /// The URL a call sends is the one `url` describes, whatever the base looks like.
    #[test]
    fn a_url_on_a_parsed_base_equals_the_described_one() {
        let requests = [
            UpstreamRequest::new(Method::GET)
                .literal("Users")
                .param("../Groups/x"),
            UpstreamRequest::new(Method::GET)
                .literal("Users")
                .param("a/b?c#d é"),
            UpstreamRequest::new(Method::GET)
                .literal("Users")
                .query("filter", "userName eq \"a&b=c\"")
                .query("count", "5"),
            UpstreamRequest::new(Method::POST).literal("api/v2/signinattempts"),
        ];
        for base in [
            "http://bridge",
            "http://bridge/",
            "https://bridge.example.com:8443/scim/v2/",
            "http://user:pw@10.0.0.5/prefix",
        ] {
            let parsed = reqwest::Url::parse(base).unwrap();
            for request in &requests {
                assert_eq!(
                    request.url_on(&parsed).unwrap().as_str(),
                    request.url(base).unwrap(),
                    "{base}"
                );
            }
        }
        let parsed = reqwest::Url::parse("http://bridge").unwrap();
        let refused = UpstreamRequest::new(Method::GET).literal("Users").param("..");
        assert!(matches!(
            refused.url_on(&parsed),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[tokio::test]
    async fn a_transport_error_never_shows_the_urls_password() {
        let upstream = Upstream::new(UpstreamConfig::new(
            "http://scim:hunter2@127.0.0.1:9",
            Secret::new("token"),
        ))
        .expect("upstream");
        let error = upstream
            .client
            .get("http://scim:hunter2@127.0.0.1:9/Users")
            .send()
            .await
            .expect_err("nothing listens on port 9");
        let text = error_chain(&error);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!connect_cause(&error, Duration::from_secs(1)).contains("hunter2"));
        let refused = upstream
            .send(&UpstreamRequest::new(Method::GET).literal("Users"))
            .await
            .expect_err("refused");
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
