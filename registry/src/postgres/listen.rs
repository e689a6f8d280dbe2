//! The watcher of a PostgreSQL registry: a connection of its own (not from the pool) that
//! `LISTEN`s on [`CHANNEL`], driven on the server's runtime.
//!
//! Triggers on `servers` and `keys` (the second migration) notify [`CHANNEL`] from the very
//! transaction that writes, so PostgreSQL delivers the notification when that transaction
//! commits, whoever wrote: this replica, another one, the command line, an older binary still
//! running during a rolling update, or an operator in `psql`.
//!
//! Notifications alone would leave the cache trusting a connection that died without a word
//! (a network partition sends no reset). So the watcher also sends a heartbeat query every
//! [`HEARTBEAT_EVERY`]: PostgreSQL sends a session its pending notifications before the answer
//! to its next query, and the connection hands messages over in the order they came, so an
//! answered heartbeat proves that every change committed before it was sent has been reported,
//! and the cache is confirmed as of then. The heartbeat also checks that its session is the one
//! that listens (a pooler in transaction mode would hand it another). A heartbeat that fails,
//! or takes longer than [`HEARTBEAT_TIMEOUT`], ends the connection. Whenever the connection ends the cache is told
//! it is lost (emptied, answering nothing), and the watcher reconnects with a growing delay; a
//! new `LISTEN` empties the cache again, since changes made while nobody listened went unheard.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Connection, NoTls, SimpleQueryMessage, Socket};
use tokio_util::sync::CancellationToken;

use super::storage;
use super::tls::{self, Connector};
use super::url::TlsSettings;
use crate::cache::Freshness;
use crate::error::RegistryError;

/// The channel every change to the registry is notified on.
pub const CHANNEL: &str = "op_scim_mcp_registry";
/// How often the listener's connection is proven alive, well within [`crate::FRESH_FOR`].
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);
/// A heartbeat unanswered this long ends the connection (the cache stopped answering long
/// before, when its last confirmation lapsed).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);
/// The first delay before reconnecting, doubled after each failure up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How the listener connects: the store's settings, with a name of its own.
pub(super) struct Listener {
    config: tokio_postgres::Config,
    connector: Connector,
    tls: TlsSettings,
}

impl Listener {
    /// A listener connecting as the pool does, named `<application name>-listener` so an
    /// operator (or a test) can tell it from the pool's connections in `pg_stat_activity`.
    pub(super) fn new(mut config: tokio_postgres::Config, connector: Connector, tls: TlsSettings) -> Self {
        let name = format!(
            "{}-listener",
            config.get_application_name().unwrap_or("op-scim-mcp")
        );
        config.application_name(&name);
        Self {
            config,
            connector,
            tls,
        }
    }

    /// Listens, and reconnects whenever the connection ends, until `stop` fires.
    pub(super) async fn run(&self, freshness: Freshness, stop: CancellationToken) {
        let mut delay = RECONNECT_FIRST;
        let mut was_listening = true;
        loop {
            let ended = tokio::select! {
                ended = self.listen_once(&freshness, &mut delay) => ended,
                () = stop.cancelled() => return,
            };
            freshness.lost();
            if ended.listened || was_listening {
                tracing::warn!(error = %ended.error, "the registry listener is down; every token is looked up in PostgreSQL until it is back");
            } else {
                tracing::debug!(error = %ended.error, "the registry listener could not reconnect");
            }
            was_listening = ended.listened;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.cancelled() => return,
            }
            delay = (delay * 2).min(RECONNECT_MAX);
        }
    }

    async fn listen_once(&self, freshness: &Freshness, delay: &mut Duration) -> Ended {
        match &self.connector {
            Connector::Plain => self.listen_over(NoTls, freshness, delay).await,
            Connector::Tls(tls) => self.listen_over(tls.clone(), freshness, delay).await,
        }
    }

    /// One connection's life: connect, `LISTEN`, then heartbeats until something fails.
    async fn listen_over<T>(&self, tls: T, freshness: &Freshness, delay: &mut Duration) -> Ended
    where
        T: MakeTlsConnect<Socket>,
    {
        let (client, mut connection) = match self.config.connect(tls).await {
            Ok(connected) => connected,
            Err(error) => return Ended::before_listening(tls::connect_error(error, &self.tls)),
        };
        let listen = format!("LISTEN {CHANNEL}");
        match drive(&mut connection, client.batch_execute(&listen), freshness).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Ended::before_listening(storage(error)),
            Err(error) => return Ended::before_listening(error),
        }
        let heartbeat =
            format!("SELECT pg_backend_pid()::text, '{CHANNEL}' IN (SELECT pg_listening_channels())");
        let session = match self
            .check(&client, &mut connection, &heartbeat, None, freshness)
            .await
        {
            Ok(session) => session,
            Err(error) => return Ended::before_listening(error),
        };
        // Changes committed while nobody listened went unheard: start from an empty cache,
        // which lookups refill from the store, now that every later change will be heard.
        freshness.changed();
        freshness.confirm(Instant::now());
        *delay = RECONNECT_FIRST;
        tracing::info!("the registry listener is up; token lookups are answered from memory");
        loop {
            if let Err(error) = drive(&mut connection, tokio::time::sleep(HEARTBEAT_EVERY), freshness).await {
                return Ended::after_listening(error);
            }
            // Taken before the heartbeat is sent: its answer vouches for commits up to here.
            let as_of = Instant::now();
            match self
                .check(&client, &mut connection, &heartbeat, Some(&session), freshness)
                .await
            {
                Ok(_) => freshness.confirm(as_of),
                Err(error) => return Ended::after_listening(error),
            }
        }
    }

    /// Sends `heartbeat` and checks its answer: the session (backend process id) that still
    /// listens on [`CHANNEL`], and the same one as `expected`. A pooler in transaction mode
    /// (PgBouncer) would answer from another session, which hears none of the notifications:
    /// that is an error, and the cache stays off, rather than a cache that is never told.
    async fn check<S, T>(
        &self,
        client: &tokio_postgres::Client,
        connection: &mut Connection<S, T>,
        heartbeat: &str,
        expected: Option<&str>,
        freshness: &Freshness,
    ) -> Result<String, RegistryError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let answer = tokio::time::timeout(HEARTBEAT_TIMEOUT, client.simple_query(heartbeat));
        let messages = match drive(connection, answer, freshness).await? {
            Ok(Ok(messages)) => messages,
            Ok(Err(error)) => return Err(storage(error)),
            Err(_elapsed) => {
                return Err(RegistryError::Storage(format!(
                    "PostgreSQL: the listener's heartbeat went unanswered for {HEARTBEAT_TIMEOUT:?}"
                )));
            }
        };
        let row = messages.iter().find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        });
        let session = row.and_then(|row| row.get(0));
        let listening = row.and_then(|row| row.get(1)) == Some("t");
        match session {
            Some(session) if listening && expected.is_none_or(|expected| expected == session) => {
                Ok(session.to_owned())
            }
            _ => Err(RegistryError::Storage(format!(
                "PostgreSQL: the listener's session does not keep its LISTEN {CHANNEL} \
                 (a connection pooler in transaction mode?); token lookups go to the database"
            ))),
        }
    }
}

/// Why one connection of the listener ended, and whether it had been listening.
struct Ended {
    error: RegistryError,
    listened: bool,
}

impl Ended {
    fn before_listening(error: RegistryError) -> Self {
        Self {
            error,
            listened: false,
        }
    }

    fn after_listening(error: RegistryError) -> Self {
        Self {
            error,
            listened: true,
        }
    }
}

/// Runs `work` (a query on the connection's client, or a pause) while driving `connection`,
/// reporting each notification that arrives meanwhile; an error if the connection ends first.
///
/// The connection is polled before `work`, so a notification that arrived before the answer
/// to a query is reported before that query completes.
async fn drive<S, T, F>(
    connection: &mut Connection<S, T>,
    work: F,
    freshness: &Freshness,
) -> Result<F::Output, RegistryError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
    F: Future,
{
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(_))) => freshness.changed(),
                // Notices (and whatever a later version adds) say nothing about the registry.
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(storage(error)),
                None => {
                    return Err(RegistryError::Storage(
                        "PostgreSQL closed the listener's connection".into(),
                    ));
                }
            },
            output = &mut work => return Ok(output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CHANNEL;

    #[test]
    fn the_trigger_notifies_the_channel_the_listener_listens_on() {
        // The migration is fixed text once released, so the constant must follow it.
        let notifying = super::super::MIGRATIONS
            .iter()
            .any(|migration| migration.contains(&format!("pg_notify('{CHANNEL}'")));
        assert!(notifying, "no migration notifies {CHANNEL}");
    }
}
