//! The registry over HTTP: `/mcp/<token>` and `/mcp` with `Authorization: Bearer`, the admin API
//! under `/admin`, expired entries purged in the background, the storage reported to `/readyz`.
//! [`RegistryHttp`] brings all of it to the runtime's server as one [`HttpExtension`].
//!
//! Checks run on every request. A created server takes effect at once everywhere (only live
//! tokens are cached); an expired one at its expiry (checked on every request, cached or not);
//! a revoked one at once on the replica that revoked it and within [`crate::FRESH_FOR`] on the
//! others, whose caches the store's watcher empties.
//! Logs name the server entry, never a token or key.
//!
//! Every registry call is awaited through [`RegistryHttp::on_registry`], which counts storage
//! failures by operation. The stores are async ([`crate::RegistryStore`]), so no call blocks
//! the async workers that serve every other request.

mod admin;
mod gate;
mod purge;
mod refusal;

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use runtime::audit::AuditLog;
use runtime::extension::HttpExtension;
use runtime::ops::{CheckFailed, ReadinessCheck};
use runtime::tool::BoxFuture;
use runtime::{Catalog, Metrics};
use tokio_util::sync::CancellationToken;

use crate::{AccessDenied, Registry, RegistryError};

/// How often expired entries are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(30);

/// The registry's face on the HTTP server. Cheap to clone: handlers share it as their state.
#[derive(Clone, Debug)]
pub struct RegistryHttp {
    registry: Arc<Registry>,
    /// Every integration the process knows: what a new server's scope may name and must match.
    catalogs: &'static [Catalog],
    /// Base of the URLs handed out, e.g. `https://mcp.example.com`.
    public_url: String,
    audit: Option<Arc<AuditLog>>,
    metrics: RegistryMetrics,
    /// `WWW-Authenticate` of every 401: the scheme and the realm that names the product.
    challenge: HeaderValue,
}

impl RegistryHttp {
    /// Serves `registry` for the tools of every catalog in `catalogs`; handed-out URLs start
    /// with `public_url`, and `realm` (the product's name) is what 401 answers name.
    pub fn new(
        registry: Arc<Registry>,
        catalogs: &'static [Catalog],
        public_url: impl Into<String>,
        realm: &str,
    ) -> Self {
        let challenge = HeaderValue::from_str(&format!("Bearer realm=\"{}\"", realm.replace('"', "")))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        Self {
            registry,
            catalogs,
            public_url: public_url.into(),
            audit: None,
            metrics: RegistryMetrics::default(),
            challenge,
        }
    }

    /// Records every registry change (create, revoke, purge) in `audit`.
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Counts storage failures and lookups (answered from memory or the store) in `metrics`
    /// (the instance `/metrics` renders); call before the metrics are shared.
    pub fn with_metrics_in(mut self, metrics: &mut Metrics) -> Self {
        self.metrics = RegistryMetrics::registered_in(metrics);
        metrics.register(
            "registry_lookups",
            "Token and key lookups, by where they were answered (memory or store)",
            self.registry.lookups().family.clone(),
        );
        self
    }

    /// The refusal of a caller that is not admitted, with this product's challenge.
    fn deny(&self, denial: AccessDenied) -> refusal::Refusal {
        refusal::Refusal::Denied {
            denial,
            challenge: self.challenge.clone(),
        }
    }

    /// Records a registry change in the audit log, if there is one.
    async fn audit(&self, event: &str, record: serde_json::Value) -> Result<(), runtime::audit::AuditError> {
        match &self.audit {
            Some(audit) => audit.record(event, record).await,
            None => Ok(()),
        }
    }

    /// Awaits `work`, a call to the registry, and counts a storage failure under `operation`
    /// (a fixed name such as `authorize`, used as a metric label).
    async fn on_registry<T, E: RegistryFailure>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let outcome = work.await;
        if let Err(error) = &outcome
            && error.is_storage_failure()
        {
            self.metrics.storage_error(operation);
        }
        outcome
    }
}

impl HttpExtension for RegistryHttp {
    /// Admits a request to `/mcp` only for a live entry; the `/mcp/<token>` form is rewritten
    /// to `/mcp` before routing, so both forms reach one route.
    fn layer(&self, mcp: axum::Router) -> axum::Router {
        gate::admit_entries(self.clone(), mcp)
    }

    fn routes(&self) -> axum::Router {
        admin::routes(self.clone())
    }

    fn readiness_checks(&self) -> Vec<Arc<dyn ReadinessCheck>> {
        vec![Arc::new(RegistryCheck(self.clone()))]
    }

    /// Purges expired entries, and keeps the cache of token lookups fresh with the store's
    /// watcher (a `LISTEN` connection, or a poll of the SQLite file).
    fn background_tasks(&self, stop: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        vec![
            Box::pin(purge::purge_periodically(self.clone(), PURGE_EVERY, stop.clone())),
            Box::pin(self.registry.clone().keep_fresh(stop)),
        ]
    }
}

/// A registry result whose error may be a storage failure (counted in the metrics) rather than
/// a refusal or a bad request (not counted).
trait RegistryFailure {
    fn is_storage_failure(&self) -> bool;
}

impl RegistryFailure for AccessDenied {
    fn is_storage_failure(&self) -> bool {
        *self == AccessDenied::Unavailable
    }
}

impl RegistryFailure for RegistryError {
    fn is_storage_failure(&self) -> bool {
        matches!(self, RegistryError::Storage(_))
    }
}

/// The registry is reachable, for `/readyz`.
///
/// A dead listener (or SQLite poller) does not make a replica unready: its cache then answers
/// nothing and every lookup goes to the store, which is slower but as correct, and this check
/// pings that store. Taking replicas out of the balancer for it would turn a blip of one
/// connection into an outage of all of them.
struct RegistryCheck(RegistryHttp);

impl ReadinessCheck for RegistryCheck {
    fn name(&self) -> &'static str {
        "registry"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), CheckFailed>> {
        Box::pin(async move {
            self.0
                .on_registry("ping", self.0.registry.ping())
                .await
                .map_err(|error| {
                    tracing::warn!(error = %error, "registry readiness check failed");
                    CheckFailed("registry unavailable".to_owned())
                })
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// `registry_errors`: storage failures, by operation (a closed set of names).
#[derive(Clone, Debug, Default)]
struct RegistryMetrics {
    errors: Family<OperationLabels, Counter>,
}

impl RegistryMetrics {
    fn registered_in(metrics: &mut Metrics) -> Self {
        let registered = Self::default();
        metrics.register(
            "registry_errors",
            "Registry storage failures, by operation",
            registered.errors.clone(),
        );
        registered
    }

    fn storage_error(&self, operation: &'static str) {
        self.errors.get_or_create(&OperationLabels { operation }).inc();
    }
}
