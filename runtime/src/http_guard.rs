//! What every request to `/mcp` and `/admin` passes before it is served: the Host and Origin
//! checks (DNS-rebinding protection, not authentication), and a request body that arrives in
//! time and reads as JSON-RPC.
//!
//! rmcp checks Host and Origin too, with the same lists; this layer runs first so that a
//! refusal says what to do (which flag to set, what is allowed now), and so that the admin
//! API, which rmcp does not serve, is checked the same way.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use serde_json::{Value, json};
use tower::Service;

/// The loopback names a server always answers to, so local checks and probes work whatever
/// public host is configured. They do not weaken DNS-rebinding protection: a rebinding page's
/// requests carry its own host name, never these.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The largest `/mcp` request body read (rmcp's own limit).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The Host names and browser Origins the guarded endpoints accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRules {
    /// `name` (any port) or `name:port`; always starts with [`LOOPBACK_HOSTS`].
    pub allowed_hosts: Vec<String>,
    /// Exact origins (`https://app.example.com`); the server's own loopback origins are added
    /// once its port is known.
    pub allowed_origins: Vec<String>,
}

impl HostRules {
    /// The loopback names plus `extra_hosts`; `origins` as given.
    pub fn new(extra_hosts: &[String], origins: &[String]) -> Self {
        let mut allowed_hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|host| (*host).to_owned()).collect();
        for host in extra_hosts {
            let host = host.trim();
            if !host.is_empty() && !allowed_hosts.iter().any(|known| known.eq_ignore_ascii_case(host)) {
                allowed_hosts.push(host.to_owned());
            }
        }
        Self {
            allowed_hosts,
            allowed_origins: origins.iter().map(|origin| origin.trim().to_owned()).collect(),
        }
    }

    /// The same rules, also accepting the pages this server itself serves on `port`.
    pub fn with_own_origins(mut self, port: u16) -> Self {
        for name in LOOPBACK_HOSTS {
            let origin = if name.contains(':') {
                format!("http://[{name}]:{port}")
            } else {
                format!("http://{name}:{port}")
            };
            if !self.allowed_origins.contains(&origin) {
                self.allowed_origins.push(origin);
            }
        }
        self
    }
}

/// [`HostRules`] with every entry parsed once, as each request is checked against them.
#[derive(Clone, Debug)]
pub struct HostGuard {
    rules: HostRules,
    /// Each allowed host as a lower-case name and the port it names, if any.
    hosts: Vec<(String, Option<u16>)>,
    /// Each allowed origin that parses, normalized.
    origins: Vec<String>,
}

impl HostGuard {
    pub fn new(rules: HostRules) -> Self {
        let hosts = rules
            .allowed_hosts
            .iter()
            .map(|allowed| {
                split_authority(allowed)
                    .map(|(name, port)| (name.to_ascii_lowercase(), port))
                    // A bare IPv6 address (`::1`) is not an authority without brackets.
                    .unwrap_or_else(|| (allowed.trim().to_ascii_lowercase(), None))
            })
            .collect();
        let origins = rules
            .allowed_origins
            .iter()
            .filter_map(|allowed| normalize_origin(allowed))
            .collect();
        Self {
            rules,
            hosts,
            origins,
        }
    }

    /// Why a request's Host or Origin is refused, in a sentence that says what to change.
    pub fn refusal(&self, headers: &HeaderMap) -> Option<(StatusCode, String)> {
        let Some(host) = headers.get(header::HOST).and_then(|value| value.to_str().ok()) else {
            return Some((
                StatusCode::BAD_REQUEST,
                "the request has no readable Host header".into(),
            ));
        };
        let Some((name, port)) = split_authority(host) else {
            return Some((
                StatusCode::BAD_REQUEST,
                format!("the Host header `{host}` is malformed"),
            ));
        };
        let allowed = self.hosts.iter().any(|(allowed, allowed_port)| {
            allowed.eq_ignore_ascii_case(name) && allowed_port.is_none_or(|allowed| Some(allowed) == port)
        });
        if !allowed {
            return Some((
                StatusCode::FORBIDDEN,
                format!(
                    "Host `{host}` is not allowed: this server answers to {}. If clients reach it under \
                     that name, add it with --allowed-host (OP_SCIM_ALLOWED_HOSTS).",
                    self.rules.allowed_hosts.join(", ")
                ),
            ));
        }
        let origin = headers.get(header::ORIGIN)?;
        let origin_text = origin.to_str().unwrap_or("(not text)");
        let allowed = origin
            .to_str()
            .ok()
            .and_then(normalize_origin)
            .is_some_and(|origin| self.origins.contains(&origin));
        (!allowed).then(|| {
            (
                StatusCode::FORBIDDEN,
                format!(
                    "Origin `{origin_text}` is not allowed: browser pages may call this server only from {}. \
                     Add the page's origin with --allowed-origin (OP_SCIM_ALLOWED_ORIGINS).",
                    self.rules.allowed_origins.join(", ")
                ),
            )
        })
    }
}

/// Refuses a request whose Host or Origin is not allowed, saying why; passes the others to the
/// inner service.
///
/// A tower service rather than an axum `from_fn` middleware: that one clones the service
/// behind it and boxes a future for every request.
#[derive(Clone)]
pub(crate) struct CheckHostAndOrigin<S> {
    guard: Arc<HostGuard>,
    inner: S,
}

impl<S> CheckHostAndOrigin<S> {
    pub(crate) fn new(guard: Arc<HostGuard>, inner: S) -> Self {
        Self { guard, inner }
    }
}

impl<S> Service<Request> for CheckHostAndOrigin<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.guard.refusal(request.headers()) {
            Some((status, message)) => {
                tracing::info!(status = status.as_u16(), reason = %message, "request refused");
                let refusal = (status, axum::Json(json!({ "error": message }))).into_response();
                Checked::Refused {
                    response: std::future::ready(Ok(refusal)),
                }
            }
            None => Checked::Admitted {
                response: self.inner.call(request),
            },
        }
    }
}

pin_project! {
    /// The refusal, or the inner service's response on its way.
    #[project = CheckedProjection]
    pub(crate) enum Checked<F> {
        Refused { response: std::future::Ready<Result<Response, Infallible>> },
        Admitted { #[pin] response: F },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Checked<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CheckedProjection::Refused { response } => Pin::new(response).poll(cx),
            CheckedProjection::Admitted { response } => response.poll(cx),
        }
    }
}

/// The token of `Authorization: Bearer <token>`, trimmed (possibly empty), if the request
/// sends one: what every gate in front of `/mcp` and `/admin` reads.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A request body read whole within `timeout` of its headers and no larger than
/// [`MAX_BODY_BYTES`], or the answer that says which of the two it broke.
pub async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, Response> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                plain(
                    StatusCode::BAD_REQUEST,
                    format!("the request body could not be read: {error}"),
                )
            })
        }
        Err(_) => Err(plain(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} ms of its headers",
                timeout.as_millis()
            ),
        )),
    }
}

/// What JSON-RPC over HTTP answers to a body rmcp refused with HTTP 415 though it came as JSON:
/// HTTP 400 with a -32700 parse error (not JSON) or a -32600 invalid request (JSON, but not a
/// message).
pub(crate) fn json_rpc_error(body: &Bytes) -> Response {
    let (id, code, message) = match serde_json::from_slice::<Value>(body) {
        Err(error) => (
            Value::Null,
            -32700,
            format!("Parse error: the request body is not JSON ({error})"),
        ),
        Ok(value) => (
            value.get("id").cloned().unwrap_or(Value::Null),
            -32600,
            "Invalid Request: the body is JSON but not a JSON-RPC 2.0 message: it needs \"jsonrpc\": \"2.0\", \
             a \"method\" string, and an \"id\" for a request"
                .to_owned(),
        ),
    };
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn plain(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        })
}

/// `name` and port of a Host header value; `[::1]:80` gives `::1`.
fn split_authority(host: &str) -> Option<(&str, Option<u16>)> {
    let host = host.trim();
    let authority: http::uri::Authority = host.parse().ok()?;
    let port = authority.port_u16();
    // The name as sent, without brackets: `Authority::host` borrows from `authority`.
    let name = match port {
        Some(_) => host.rsplit_once(':').map_or(host, |(name, _)| name),
        None => host,
    };
    Some((name.trim_start_matches('[').trim_end_matches(']'), port))
}

/// `scheme://host:port` with the scheme's default port filled in; `null` stays `null`.
fn normalize_origin(origin: &str) -> Option<String> {
    let origin = origin.trim();
    if origin.eq_ignore_ascii_case("null") {
        return Some("null".into());
    }
    let uri: http::Uri = origin.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = authority.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    let host = authority.host().to_ascii_lowercase();
    Some(format!("{scheme}://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().expect("host"));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().expect("origin"));
        }
        headers
    }

    #[test]
    fn loopback_names_stay_allowed_beside_a_public_host() {
        let rules = HostRules::new(&["mcp.example.com".into()], &[]);
        assert_eq!(
            rules.allowed_hosts,
            ["localhost", "127.0.0.1", "::1", "mcp.example.com"]
        );
        let guard = HostGuard::new(rules);
        for host in [
            "localhost:8787",
            "127.0.0.1:8787",
            "[::1]:8787",
            "[::1]",
            "localhost",
            "MCP.example.com",
        ] {
            assert_eq!(guard.refusal(&headers(host, None)), None, "{host}");
        }
    }

    #[test]
    fn a_foreign_host_is_refused_naming_the_flag_and_what_is_allowed() {
        let guard = HostGuard::new(HostRules::new(&["mcp.example.com:443".into()], &[]));
        let (status, message) = guard
            .refusal(&headers("evil.example:8787", None))
            .expect("refused");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("--allowed-host"), "{message}");
        assert!(
            message.contains("localhost, 127.0.0.1, ::1, mcp.example.com:443"),
            "{message}"
        );
        // A port in the allowed entry must match.
        assert!(guard.refusal(&headers("mcp.example.com:8443", None)).is_some());
        assert!(guard.refusal(&headers("mcp.example.com:443", None)).is_none());
    }

    #[test]
    fn origins_must_be_listed_or_the_servers_own() {
        let guard =
            HostGuard::new(HostRules::new(&[], &["https://app.example.com".into()]).with_own_origins(8787));
        assert_eq!(
            guard.refusal(&headers("localhost:8787", Some("https://app.example.com:443"))),
            None
        );
        assert_eq!(
            guard.refusal(&headers("localhost:8787", Some("http://localhost:8787"))),
            None
        );
        let (status, message) = guard
            .refusal(&headers("localhost:8787", Some("https://evil.example")))
            .expect("refused");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("--allowed-origin"), "{message}");
        assert!(message.contains("https://app.example.com"), "{message}");
    }

    #[test]
    fn a_body_that_is_not_json_rpc_gets_the_json_rpc_error_codes() {
        let parse = json_rpc_error(&Bytes::from_static(b"{bad"));
        assert_eq!(parse.status(), StatusCode::BAD_REQUEST);
        let invalid = json_rpc_error(&Bytes::from_static(br#"{"id": 7, "foo": 1}"#));
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_refused_request_never_reaches_the_service_behind_the_check() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let reached = Arc::new(AtomicUsize::new(0));
        let counter = reached.clone();
        let app = axum::Router::new().route(
            "/mcp",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "served" }
            }),
        );
        let mut service = CheckHostAndOrigin::new(Arc::new(HostGuard::new(HostRules::new(&[], &[]))), app);
        let mut send = async |host: &str| {
            let mut request = Request::post("/mcp").body(Body::empty()).expect("request");
            request
                .headers_mut()
                .insert(header::HOST, host.parse().expect("host"));
            std::future::poll_fn(|cx| service.poll_ready(cx))
                .await
                .expect("ready");
            service.call(request).await.expect("infallible")
        };
        let refused = send("rebound.example.com").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(refused.into_body(), 4096)
            .await
            .expect("body");
        let message: Value = serde_json::from_slice(&body).expect("json");
        assert!(
            message["error"]
                .as_str()
                .is_some_and(|text| text.contains("--allowed-host")),
            "{message}"
        );
        assert_eq!(reached.load(Ordering::SeqCst), 0);
        let served = send("127.0.0.1:8787").await;
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(reached.load(Ordering::SeqCst), 1);
    }
}
