//! The connection pool: deadpool-postgres, with the checks a long-lived pool behind load
//! balancers and NATs needs.
//!
//! - Every idle connection is checked on checkout (a round trip, `RecyclingMethod::Verified`),
//!   within [`RECYCLE_TIMEOUT`]: one that a NAT or a database restart killed while it sat idle is
//!   dropped and another is taken, so the caller never sees the dead one.
//! - A connection idle for longer than [`IDLE_TIMEOUT`], or open for longer than
//!   [`MAX_LIFETIME`], is dropped on checkout instead of being used: connections turn over, and
//!   a server that moved (a failover behind one name) is reached again.
//! - Waiting for a free connection and opening one are bounded, so a dead database answers with
//!   an error in bounded time.

use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime, TimeoutType,
};

use super::tls::{self, Connector};
use super::url::TlsSettings;
use crate::error::RegistryError;

/// How long checking an idle connection may take before it is given up for another.
pub const RECYCLE_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection unused this long is closed rather than reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// A connection open this long is closed rather than reused.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

pub(super) struct Pool {
    inner: deadpool_postgres::Pool,
    /// For connection errors: which CAs a rejected certificate was checked against.
    tls: TlsSettings,
    max_open: usize,
    wait: Duration,
}

impl Pool {
    /// A pool of at most `max_open` connections to `config`; a call waits at most `wait` for a
    /// free one, and opening one may take at most `connect`.
    pub(super) fn new(
        config: tokio_postgres::Config,
        connector: &Connector,
        tls: TlsSettings,
        max_open: usize,
        wait: Duration,
        connect: Duration,
    ) -> Result<Self, RegistryError> {
        let manager = connector.manager(
            config,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let max_open = max_open.max(1);
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(max_open)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(connect))
            .recycle_timeout(Some(RECYCLE_TIMEOUT))
            .pre_recycle(Hook::sync_fn(|_, metrics| {
                if metrics.age() >= MAX_LIFETIME {
                    Err(HookError::message("the connection reached its maximum lifetime"))
                } else if metrics.last_used() >= IDLE_TIMEOUT {
                    Err(HookError::message("the connection was idle too long"))
                } else {
                    Ok(())
                }
            }))
            .build()
            .map_err(|error| RegistryError::Storage(format!("PostgreSQL pool: {error}")))?;
        Ok(Self {
            inner,
            tls,
            max_open,
            wait,
        })
    }

    /// A checked connection, returned to the pool when dropped.
    pub(super) async fn get(&self) -> Result<Object, RegistryError> {
        self.inner.get().await.map_err(|error| match error {
            PoolError::Backend(error) => tls::connect_error(error, &self.tls),
            PoolError::Timeout(TimeoutType::Wait) => RegistryError::Storage(format!(
                "all {} PostgreSQL connections stayed busy for {:?}",
                self.max_open, self.wait
            )),
            PoolError::Timeout(_) => RegistryError::Storage("connecting to PostgreSQL timed out".into()),
            other => RegistryError::Storage(format!("PostgreSQL pool: {other}")),
        })
    }
}
