//! What the resource server counts: requests by outcome, and key-set fetches by issuer (a
//! closed set: the issuers configured) and outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use runtime::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabels {
    issuer: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Default)]
pub struct OAuthMetrics {
    fetches: Family<FetchLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
}

impl OAuthMetrics {
    /// Counters registered in `metrics`, the instance `/metrics` renders.
    pub fn registered_in(metrics: &mut Metrics) -> Self {
        let registered = Self::default();
        metrics.register(
            "oauth_key_set_fetches",
            "Fetches of an OAuth issuer's metadata and key set, by issuer and outcome (ok, error)",
            registered.fetches.clone(),
        );
        metrics.register(
            "oauth_requests",
            "Requests to /mcp checked by the OAuth resource server, by outcome",
            registered.requests.clone(),
        );
        registered
    }

    pub fn key_set_fetch(&self, issuer: &str, outcome: &'static str) {
        self.fetches
            .get_or_create(&FetchLabels {
                issuer: issuer.to_owned(),
                outcome,
            })
            .inc();
    }

    /// `outcome` is one of a fixed set: admitted, no_token, invalid_token, insufficient_scope,
    /// unavailable.
    pub fn request(&self, outcome: &'static str) {
        self.requests.get_or_create(&RequestLabels { outcome }).inc();
    }
}
