//! Expired entries deleted in the background, each deletion audited with `expiry` as the actor.
//! Expiry is enforced on every request regardless; the purge only keeps the registry tidy.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::RegistryHttp;
use crate::view::change_record;

/// Deletes expired entries every `every`, until `stop` fires.
pub(super) async fn purge_periodically(http: RegistryHttp, every: Duration, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => match http
                .on_registry("purge_expired", http.registry.purge_expired(SystemTime::now()))
                .await
            {
                Ok(purged) if purged.is_empty() => {}
                Ok(purged) => {
                    tracing::info!(count = purged.len(), "purged expired servers");
                    for entry in &purged {
                        if let Err(error) = http.audit("server.purge", change_record(entry, "expiry")).await {
                            tracing::error!(error = %error, server_id = %entry.id, "could not audit a purge");
                        }
                    }
                }
                Err(error) => tracing::warn!(error = %error, "purging expired servers failed"),
            },
            () = stop.cancelled() => return,
        }
    }
}
