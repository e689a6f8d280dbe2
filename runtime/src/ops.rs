//! Operations endpoints: `GET /healthz` (liveness), `GET /readyz` (readiness) and
//! `GET /metrics` (Prometheus).
//!
//! They sit in front of the MCP Host/Origin allow-list and the registry gate (see
//! [`crate::serve::serve_http`]): Kubernetes probes send `Host: <pod-ip>:<port>`, which the
//! DNS-rebinding guard of `/mcp` rightly refuses, and probes carry no token. They reveal
//! nothing secret: check names and short reasons, counters without user data.
//!
//! Readiness is a list of [`ReadinessCheck`]s run concurrently, each bounded by a timeout; the
//! verdict is cached briefly and computed by one probe at a time, so a storm of probes costs
//! the bridge at most one request per cache period. Once shutdown has begun the answer is 503
//! at once, so a load balancer stops routing to a draining replica.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::context::Shared;
use crate::metrics::{METRICS_CONTENT_TYPE, Metrics};
use crate::tool::BoxFuture;

/// How long a readiness verdict is reused.
pub const READINESS_CACHE: Duration = Duration::from_secs(2);

/// How long one readiness check may take before it counts as failed. The checks run
/// concurrently, so a probe answers within about this long: give the probe a timeout above it
/// (Kubernetes `timeoutSeconds: 2` or more).
pub const READINESS_CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why a readiness check failed: a short sentence safe to show to anyone who can reach the
/// port (no URL, no token, no upstream body).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

/// One dependency the server needs to be useful. Implementations must be cheap: a readiness
/// probe runs every check (at most once per [`READINESS_CACHE`]).
pub trait ReadinessCheck: Send + Sync {
    /// The check's name in `/readyz` answers, e.g. `1Password SCIM bridge`, `registry`.
    fn name(&self) -> &'static str;

    /// Ok when the dependency is usable now.
    fn check(&self) -> BoxFuture<'_, Result<(), CheckFailed>>;
}

/// An integration's upstream is reachable with our token: one small authenticated GET
/// ([`crate::upstream::Upstream::probe`]). Named after the upstream (`1Password SCIM bridge`),
/// so a server of several integrations says which one is down.
///
/// Any HTTP answer counts as reachable except 5xx (the upstream is failing) and 401/403 (our
/// token is refused, so every call would fail). A 429 counts as reachable: the upstream is up and
/// protecting itself, every replica shares its quota, and pulling replicas out of rotation would
/// only turn a slowdown into an outage.
pub struct UpstreamCheck {
    shared: Arc<Shared>,
    timeout: Duration,
}

impl UpstreamCheck {
    pub fn new(shared: Arc<Shared>, timeout: Duration) -> Self {
        Self { shared, timeout }
    }
}

impl ReadinessCheck for UpstreamCheck {
    fn name(&self) -> &'static str {
        self.shared.upstream_name
    }

    fn check(&self) -> BoxFuture<'_, Result<(), CheckFailed>> {
        Box::pin(async move {
            let status = self
                .shared
                .upstream
                .probe(self.timeout)
                .await
                .map_err(|error| CheckFailed(format!("unreachable: {error}")))?;
            upstream_verdict(status)
        })
    }
}

/// Whether an HTTP answer of an upstream to the probe means it is usable (see [`UpstreamCheck`]).
pub fn upstream_verdict(status: u16) -> Result<(), CheckFailed> {
    match status {
        401 | 403 => Err(CheckFailed(format!(
            "the bearer token was refused (HTTP {status})"
        ))),
        500.. => Err(CheckFailed(format!("answered HTTP {status}"))),
        _ => Ok(()),
    }
}

/// The readiness verdict, its cache, and the drain flag.
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
    check_timeout: Duration,
    cache_for: Duration,
    /// Cancelled once shutdown has begun.
    draining: CancellationToken,
    /// Held while checks run, so concurrent probes wait for one verdict instead of each asking.
    last: tokio::sync::Mutex<Option<(Instant, Verdict)>>,
    /// Shown in every answer: what an operator must know about how this server runs.
    notices: Vec<String>,
}

/// What the checks said: each check's name with its failure, if it failed.
#[derive(Clone, Debug)]
struct Verdict(Vec<(&'static str, Option<CheckFailed>)>);

impl Readiness {
    /// Readiness over `checks`, answering "draining" once `draining` is cancelled.
    pub fn new(checks: Vec<Arc<dyn ReadinessCheck>>, draining: CancellationToken) -> Self {
        Self {
            checks,
            check_timeout: READINESS_CHECK_TIMEOUT,
            cache_for: READINESS_CACHE,
            draining,
            last: tokio::sync::Mutex::new(None),
            notices: Vec::new(),
        }
    }

    /// Warnings every answer carries in its `warnings` field (e.g. that the server is open to
    /// anyone); they do not make the server unready.
    pub fn with_notices(mut self, notices: Vec<String>) -> Self {
        self.notices = notices;
        self
    }

    pub fn with_check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    pub fn with_cache_for(mut self, cache_for: Duration) -> Self {
        self.cache_for = cache_for;
        self
    }

    /// The `/readyz` answer: 200 when every check passes, else 503 naming the failed ones.
    pub async fn answer(&self) -> Response {
        if self.draining.is_cancelled() {
            return not_ready(json!({ "status": "draining" }));
        }
        let verdict = self.verdict().await;
        let failed: Vec<&str> = verdict
            .0
            .iter()
            .filter(|(_, failure)| failure.is_some())
            .map(|(name, _)| *name)
            .collect();
        let checks: Map<String, Value> = verdict
            .0
            .iter()
            .map(|(name, failure)| {
                let text = failure
                    .as_ref()
                    .map_or_else(|| "ok".to_owned(), ToString::to_string);
                ((*name).to_owned(), Value::String(text))
            })
            .collect();
        let mut body = if failed.is_empty() {
            json!({ "status": "ready", "checks": checks })
        } else {
            tracing::warn!(failed = ?failed, "not ready");
            json!({ "status": "not_ready", "failed": failed, "checks": checks })
        };
        if !self.notices.is_empty() {
            body["warnings"] = json!(self.notices);
        }
        if failed.is_empty() {
            (StatusCode::OK, Json(body)).into_response()
        } else {
            not_ready(body)
        }
    }

    async fn verdict(&self) -> Verdict {
        let mut last = self.last.lock().await;
        if let Some((at, verdict)) = last.as_ref()
            && at.elapsed() < self.cache_for
        {
            return verdict.clone();
        }
        let verdict = self.run_checks().await;
        *last = Some((Instant::now(), verdict.clone()));
        verdict
    }

    async fn run_checks(&self) -> Verdict {
        let mut running = tokio::task::JoinSet::new();
        for (index, check) in self.checks.iter().enumerate() {
            let check = check.clone();
            let timeout = self.check_timeout;
            running.spawn(async move {
                let outcome = match tokio::time::timeout(timeout, check.check()).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(CheckFailed(format!(
                        "no answer within {} ms",
                        timeout.as_millis()
                    ))),
                };
                (index, outcome.err())
            });
        }
        let mut failures: Vec<Option<CheckFailed>> = vec![None; self.checks.len()];
        let mut finished = vec![false; self.checks.len()];
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((index, failure)) => {
                    if let Some(slot) = failures.get_mut(index) {
                        *slot = failure;
                    }
                    if let Some(done) = finished.get_mut(index) {
                        *done = true;
                    }
                }
                Err(error) => tracing::error!(error = %error, "a readiness check panicked"),
            }
        }
        Verdict(
            self.checks
                .iter()
                .zip(failures.into_iter().zip(finished))
                .map(|(check, (failure, done))| {
                    let failure = if done {
                        failure
                    } else {
                        Some(CheckFailed("the check failed".to_owned()))
                    };
                    (check.name(), failure)
                })
                .collect(),
        )
    }
}

fn not_ready(body: Value) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// The operations routes; state is the metrics to render and the readiness to answer.
pub fn ops_router(metrics: Arc<Metrics>, readiness: Arc<Readiness>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route(
            "/readyz",
            axum::routing::get(
                |State(readiness): State<Arc<Readiness>>| async move { readiness.answer().await },
            )
            .with_state(readiness),
        )
        .route(
            "/metrics",
            axum::routing::get(|State(metrics): State<Arc<Metrics>>| async move { render(&metrics) })
                .with_state(metrics),
        )
}

/// Liveness: the process serves HTTP. Deliberately checks nothing else, so a failing bridge
/// makes the replica unready, never restarted.
async fn healthz() -> &'static str {
    "ok"
}

fn render(metrics: &Metrics) -> Response {
    match metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(METRICS_CONTENT_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %error, "rendering metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_is_reachable_and_5xx_or_a_refused_token_is_not() {
        for reachable in [200, 204, 404, 429] {
            assert_eq!(upstream_verdict(reachable), Ok(()), "{reachable}");
        }
        for failing in [401, 403, 500, 502, 503] {
            assert!(upstream_verdict(failing).is_err(), "{failing}");
        }
    }

    struct Counting(std::sync::atomic::AtomicUsize);

    impl ReadinessCheck for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }

        fn check(&self) -> BoxFuture<'_, Result<(), CheckFailed>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_verdict_is_reused_within_the_cache_period_and_draining_is_unready() {
        let counting = Arc::new(Counting(std::sync::atomic::AtomicUsize::new(0)));
        let draining = CancellationToken::new();
        let readiness = Readiness::new(vec![counting.clone()], draining.clone());
        for _ in 0..5 {
            assert_eq!(readiness.answer().await.status(), StatusCode::OK);
        }
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        draining.cancel();
        assert_eq!(readiness.answer().await.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
