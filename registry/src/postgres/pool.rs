//! A tiny connection pool: an idle stack behind a mutex, a bound on open connections, connect on
//! demand.
//!
//! A connection that failed at the connection level is dropped together with every idle one
//! (they all talked to the same server, which most likely restarted), so the next call
//! reconnects and a database restart heals by itself after at most one failed call.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::postgres::{Client, Config};

use super::tls::{self, Connector};
use super::url::TlsSettings;
use crate::error::RegistryError;

pub(super) struct Pool {
    config: Config,
    connector: Connector,
    /// For connection errors: which CAs a rejected certificate was checked against.
    tls: TlsSettings,
    state: Mutex<State>,
    freed: Condvar,
    max_open: usize,
    /// How long a call waits for a connection when `max_open` are busy.
    wait: Duration,
}

struct State {
    idle: Vec<Client>,
    open: usize,
}

/// Whether a connection may serve another call after an error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Health {
    Usable,
    Broken,
}

impl Pool {
    pub(super) fn new(
        config: Config,
        connector: Connector,
        tls: TlsSettings,
        max_open: usize,
        wait: Duration,
    ) -> Self {
        Self {
            config,
            connector,
            tls,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            max_open: max_open.max(1),
            wait,
        }
    }

    /// Runs `work` on a pooled connection.
    pub(super) fn with<T>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, ::postgres::Error>,
    ) -> Result<T, RegistryError> {
        let mut lease = self.checkout()?;
        let Some(client) = lease.client.as_mut() else {
            return Err(RegistryError::Storage("no connection".into()));
        };
        let outcome = work(client);
        if let Err(error) = &outcome {
            lease.health = health_after(error, client);
        }
        outcome.map_err(super::storage)
    }

    fn checkout(&self) -> Result<Lease<'_>, RegistryError> {
        let deadline = Instant::now() + self.wait;
        let mut state = self.lock();
        loop {
            if let Some(client) = state.idle.pop() {
                return Ok(self.lease(client));
            }
            if state.open < self.max_open {
                state.open += 1;
                drop(state);
                return match self.connector.connect(&self.config) {
                    Ok(client) => Ok(self.lease(client)),
                    Err(error) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(tls::connect_error(error, &self.tls))
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RegistryError::Storage(format!(
                    "all {} PostgreSQL connections stayed busy for {:?}",
                    self.max_open, self.wait
                )));
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn lease(&self, client: Client) -> Lease<'_> {
        Lease {
            pool: self,
            client: Some(client),
            health: Health::Usable,
        }
    }

    fn checkin(&self, client: Client, health: Health) {
        let stale = {
            let mut state = self.lock();
            match health {
                Health::Usable => {
                    state.idle.push(client);
                    Vec::new()
                }
                Health::Broken => {
                    let mut stale = std::mem::take(&mut state.idle);
                    stale.push(client);
                    state.open -= stale.len();
                    stale
                }
            }
        };
        self.freed.notify_all();
        // Closed outside the lock: closing a dead connection may take a network timeout.
        drop(stale);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Pool {
    /// Each client closes by blocking on its own small runtime, which panics inside an async
    /// task; the last owner of a store may well be one, so idle clients close on a thread.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.lock().idle);
        if idle.is_empty() {
            return;
        }
        if let Ok(closing) = std::thread::Builder::new()
            .name("registry-pg-close".into())
            .spawn(move || drop(idle))
        {
            let _ = closing.join();
        }
    }
}

/// A checked-out connection; returns to the pool (or is dropped, if broken) even on panic.
struct Lease<'pool> {
    pool: &'pool Pool,
    client: Option<Client>,
    health: Health,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let health = if std::thread::panicking() {
                Health::Broken
            } else {
                self.health
            };
            self.pool.checkin(client, health);
        }
    }
}

/// An error the server reported at `ERROR` severity (a constraint, a statement timeout) leaves
/// the connection usable; anything else (I/O, `FATAL`, a closed socket) does not.
fn health_after(error: &::postgres::Error, client: &Client) -> Health {
    let statement_level = error
        .as_db_error()
        .is_some_and(|db| db.parsed_severity() == Some(::postgres::error::Severity::Error));
    if statement_level && !client.is_closed() {
        Health::Usable
    } else {
        Health::Broken
    }
}
