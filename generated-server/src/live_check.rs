//! `config check --live`: each upstream (and a PostgreSQL registry) asked once, as serving would.

use std::time::Duration;

use registry::{RegistryLocation, open_store};
use runtime::ops::upstream_verdict;
use runtime::upstream::Upstream;

use crate::settings::{ServeConfig, Upstreams};

/// How long each check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Each check's name with what it found: a sentence when fine, the problem when not.
pub async fn run(config: &ServeConfig) -> Vec<(&'static str, Result<String, String>)> {
    let mut checks = Vec::new();
    match &config.upstreams {
        Upstreams::Demo { .. } => checks.push((
            "upstreams",
            Ok("the built-in simulated SCIM bridge and Events API start with the server".to_owned()),
        )),
        Upstreams::Remote(remotes) => {
            for remote in remotes {
                checks.push((remote.integration.name, upstream(&remote.upstream).await));
            }
        }
    }
    if let Some(location @ RegistryLocation::Postgres(_)) = &config.registry {
        checks.push(("registry", registry(location.clone()).await));
    }
    checks
}

async fn upstream(upstream: &Upstream) -> Result<String, String> {
    let url = format!("{}/{}", upstream.shown_url(), upstream.probe_path());
    let status = upstream
        .probe(CHECK_TIMEOUT)
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    upstream_verdict(status).map_err(|failed| format!("GET {url}: {failed}"))?;
    if (200..300).contains(&status) {
        Ok(format!(
            "GET {url} answered {status}: reachable, and the bearer token is accepted"
        ))
    } else {
        Ok(format!(
            "GET {url} answered {status}: reachable (the token was not refused)"
        ))
    }
}

async fn registry(location: RegistryLocation) -> Result<String, String> {
    let shown = location.redacted();
    let opened = match open_store(&location).await {
        Ok(store) => store.ping().await,
        Err(error) => Err(error),
    };
    opened
        .map(|()| format!("{shown} answers, and its schema is current"))
        .map_err(|error| format!("{shown}: {error}"))
}

/// Each OAuth issuer's metadata and key set, fetched once as serving would.
pub async fn oauth_issuers(config: &ServeConfig) -> Vec<(&'static str, Result<String, String>)> {
    let Some(settings) = &config.oauth else {
        return Vec::new();
    };
    oauth::fetch_issuer_keys(settings)
        .await
        .into_iter()
        .map(|(issuer, outcome)| {
            (
                "oauth issuer",
                outcome
                    .map(|keys| format!("{issuer}: metadata found, {keys} signing key(s) usable"))
                    .map_err(|problem| format!("{issuer}: {problem}")),
            )
        })
        .collect()
}
