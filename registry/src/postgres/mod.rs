//! The PostgreSQL store, for several replicas sharing one registry.
//!
//! It behaves as [`crate::SqliteStore`] does, table for table. It is async to the socket:
//! rust-postgres's tokio client, on the server's own runtime, pooled by deadpool-postgres
//! (see [`pool`] for the checks on idle connections).
//!
//! A dead database answers with an error in bounded time: connecting gives up after
//! [`CONNECT_TIMEOUT`], and each statement after [`STATEMENT_TIMEOUT`] (on the server) or when
//! the socket has been silent for [`SOCKET_TIMEOUT`] (on the client).
//!
//! Every write notifies the replicas' listeners (see [`listen`]), so each can answer token
//! lookups from memory and still drop a revoked token within a second.

mod listen;
mod pool;
mod tls;
pub(crate) mod url;

use std::time::{Duration, SystemTime};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, Transaction};

use runtime::tool::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::cache::Freshness;
use crate::entry::{KeyEntry, KeyKind, ServerEntry, TokenHash, from_unix, to_unix};
use crate::error::RegistryError;
use crate::store::{RegistryStore, StoreFuture};
use listen::Listener;
use pool::Pool;
use tls::Connector;
use url::postgres_config;

/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server lets one statement run (`statement_timeout`).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long sent data may stay unacknowledged before the socket is given up (`TCP_USER_TIMEOUT`).
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections per store: registry calls are short, so a few serve many requests.
const MAX_CONNECTIONS: usize = 8;

/// Migrations in order; the one row of `registry_schema` records how many have run.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE servers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL CONSTRAINT servers_name_unique UNIQUE,
        methods TEXT NOT NULL,
        tags TEXT NOT NULL,
        expires_at BIGINT,
        require_api_token_auth BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        token_hash BYTEA NOT NULL UNIQUE
    );
    CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        key_hash BYTEA NOT NULL UNIQUE
    );",
    // Every change to what a lookup returns notifies the listeners, from the writing
    // transaction itself, so it is delivered at commit whoever writes. A row trigger: a
    // statement that changes nothing (a purge with nothing to purge) notifies nobody, and one
    // that changes many rows notifies once (PostgreSQL folds identical notifications of a
    // transaction into one).
    "CREATE FUNCTION op_scim_mcp_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('op_scim_mcp_registry', '');
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER servers_changed AFTER INSERT OR UPDATE OR DELETE ON servers
        FOR EACH ROW EXECUTE FUNCTION op_scim_mcp_registry_changed();
    CREATE TRIGGER servers_truncated AFTER TRUNCATE ON servers
        FOR EACH STATEMENT EXECUTE FUNCTION op_scim_mcp_registry_changed();
    CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE ON keys
        FOR EACH ROW EXECUTE FUNCTION op_scim_mcp_registry_changed();
    CREATE TRIGGER keys_truncated AFTER TRUNCATE ON keys
        FOR EACH STATEMENT EXECUTE FUNCTION op_scim_mcp_registry_changed();",
];

/// The advisory lock that serialises migrations across replicas starting together
/// (the bytes of "opscimrg").
const MIGRATION_LOCK: i64 = 0x6f70_7363_696d_7267;

const SERVER_COLUMNS: &str =
    "id, name, methods, tags, expires_at, require_api_token_auth, created_at, token_hash";

pub struct PostgresStore {
    pool: Pool,
    listener: Listener,
}

impl PostgresStore {
    /// Connects to the database at `url` and runs pending migrations.
    ///
    /// TLS follows the URL's `sslmode` and `sslrootcert` as libpq does, except that `require`
    /// checks the certificate as `verify-full` does (the modes are described on `TlsMode`).
    /// A named `sslrootcert` file is read here, and a problem with it is an error naming it.
    pub async fn connect(url: &str) -> Result<Self, RegistryError> {
        let target = postgres_config(url)?;
        // Reading the CA file or the system's trust store is blocking file I/O.
        let settings = target.tls.clone();
        let connector = tokio::task::spawn_blocking(move || Connector::new(&settings))
            .await
            .map_err(|error| RegistryError::Storage(format!("loading the TLS roots: {error}")))??;
        let mut config = target.config;
        let options = format!(
            "{} -c statement_timeout={}",
            config.get_options().unwrap_or_default(),
            STATEMENT_TIMEOUT.as_millis()
        );
        config
            .options(options.trim_start())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_user_timeout(SOCKET_TIMEOUT)
            .keepalives(true);
        if config.get_application_name().is_none() {
            config.application_name("op-scim-mcp");
        }
        let listener = Listener::new(config.clone(), connector.clone(), target.tls.clone());
        let store = Self {
            listener,
            pool: Pool::new(
                config,
                &connector,
                target.tls,
                MAX_CONNECTIONS,
                CONNECT_TIMEOUT,
                CONNECT_TIMEOUT * 2,
            )?,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Runs pending migrations in one transaction, under a transaction-scoped advisory lock so
    /// that a second replica waits, then finds the work done.
    async fn migrate(&self) -> Result<(), RegistryError> {
        let mut db = self.pool.get().await?;
        let transaction = db.transaction().await.map_err(storage)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(storage)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS registry_schema (
                    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                    version INTEGER NOT NULL
                );
                INSERT INTO registry_schema (only_row, version) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;",
            )
            .await
            .map_err(storage)?;
        let applied: i32 = transaction
            .query_one("SELECT version FROM registry_schema", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(storage)?;
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > MIGRATIONS.len() {
            return Err(RegistryError::Storage(format!(
                "the database is at schema version {applied}, newer than this binary knows ({}); \
                 run a newer op-scim-mcp",
                MIGRATIONS.len()
            )));
        }
        run_pending(&transaction, applied).await.map_err(storage)?;
        transaction.commit().await.map_err(storage)
    }
}

async fn run_pending(transaction: &Transaction<'_>, applied: usize) -> Result<(), tokio_postgres::Error> {
    for migration in MIGRATIONS.iter().skip(applied) {
        transaction.batch_execute(migration).await?;
    }
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    transaction
        .execute("UPDATE registry_schema SET version = $1", &[&known])
        .await?;
    Ok(())
}

/// The error as the operator sees it. The client's messages never contain the password, nor
/// do the server's; a server error is shown with its message (the client's own text for it is
/// just "db error").
fn storage(error: tokio_postgres::Error) -> RegistryError {
    match error.as_db_error() {
        Some(db) => RegistryError::Storage(format!("PostgreSQL: {db}")),
        None => RegistryError::Storage(format!("PostgreSQL: {error}")),
    }
}

fn is_duplicate_name(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some("servers_name_unique")
    })
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::ApiToken => "api_token",
        KeyKind::AdminKey => "admin_key",
    }
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A stored hash of the wrong length reads as all zeroes, which no presented token matches.
fn stored_hash(bytes: &[u8]) -> TokenHash {
    TokenHash::try_from(bytes).unwrap_or([0u8; 32])
}

fn server_row(row: &Row) -> Result<(ServerEntry, TokenHash), tokio_postgres::Error> {
    let entry = ServerEntry {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        methods: split(row.try_get(2)?),
        tags: split(row.try_get(3)?),
        expires_at: row.try_get::<_, Option<i64>>(4)?.map(from_unix),
        require_api_token_auth: row.try_get(5)?,
        created_at: from_unix(row.try_get(6)?),
    };
    Ok((entry, stored_hash(row.try_get(7)?)))
}

fn key_row(row: &Row) -> Result<(KeyEntry, TokenHash), tokio_postgres::Error> {
    let entry = KeyEntry {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        created_at: from_unix(row.try_get(2)?),
    };
    Ok((entry, stored_hash(row.try_get(3)?)))
}

fn first<T>(
    rows: Vec<Row>,
    read: impl Fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> Result<Option<T>, tokio_postgres::Error> {
    rows.first().map(read).transpose()
}

impl PostgresStore {
    /// The rows `query` returns with `params`, on a pooled connection.
    async fn rows(
        &self,
        query: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, RegistryError> {
        let db = self.pool.get().await?;
        db.query(query, params).await.map_err(storage)
    }
}

impl RegistryStore for PostgresStore {
    fn insert_server<'a>(&'a self, entry: &'a ServerEntry, token_hash: &'a TokenHash) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let db = self.pool.get().await?;
            let inserted = db
                .execute(
                    &format!(
                        "INSERT INTO servers ({SERVER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ),
                    &[
                        &entry.id,
                        &entry.name,
                        &entry.methods.join(","),
                        &entry.tags.join(","),
                        &entry.expires_at.map(to_unix),
                        &entry.require_api_token_auth,
                        &to_unix(entry.created_at),
                        &token_hash.as_slice(),
                    ],
                )
                .await;
            match inserted {
                Err(error) if is_duplicate_name(&error) => {
                    Err(RegistryError::DuplicateName(entry.name.clone()))
                }
                other => other.map(|_| ()).map_err(storage),
            }
        })
    }

    fn list_servers(&self) -> StoreFuture<'_, Vec<ServerEntry>> {
        Box::pin(async move {
            self.rows(
                &format!("SELECT {SERVER_COLUMNS} FROM servers ORDER BY created_at, id"),
                &[],
            )
            .await?
            .iter()
            .map(|row| server_row(row).map(|(entry, _)| entry).map_err(storage))
            .collect()
        })
    }

    fn server_by_hash<'a>(
        &'a self,
        token_hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(ServerEntry, TokenHash)>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    &format!("SELECT {SERVER_COLUMNS} FROM servers WHERE token_hash = $1"),
                    &[&token_hash.as_slice()],
                )
                .await?;
            first(rows, server_row).map_err(storage)
        })
    }

    fn delete_server<'a>(&'a self, id_or_name: &'a str) -> StoreFuture<'a, Option<ServerEntry>> {
        // One statement: an id is matched first, so a server named like another's id is not
        // the one deleted by that id.
        Box::pin(async move {
            let rows = self
                .rows(
                    &format!(
                        "DELETE FROM servers WHERE id = (
                            SELECT id FROM servers WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1
                        ) RETURNING {SERVER_COLUMNS}"
                    ),
                    &[&id_or_name],
                )
                .await?;
            Ok(first(rows, server_row).map_err(storage)?.map(|(entry, _)| entry))
        })
    }

    fn purge_expired(&self, now: SystemTime) -> StoreFuture<'_, Vec<ServerEntry>> {
        Box::pin(async move {
            self.rows(
                &format!(
                    "DELETE FROM servers WHERE expires_at IS NOT NULL AND expires_at <= $1 RETURNING {SERVER_COLUMNS}"
                ),
                &[&to_unix(now)],
            )
            .await?
            .iter()
            .map(|row| server_row(row).map(|(entry, _)| entry).map_err(storage))
            .collect()
        })
    }

    fn insert_key<'a>(
        &'a self,
        kind: KeyKind,
        entry: &'a KeyEntry,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let db = self.pool.get().await?;
            db.execute(
                "INSERT INTO keys (id, kind, name, created_at, key_hash) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &entry.id,
                    &kind_name(kind),
                    &entry.name,
                    &to_unix(entry.created_at),
                    &hash.as_slice(),
                ],
            )
            .await
            .map(|_| ())
            .map_err(storage)
        })
    }

    fn list_keys(&self, kind: KeyKind) -> StoreFuture<'_, Vec<KeyEntry>> {
        Box::pin(async move {
            self.rows(
                "SELECT id, name, created_at, key_hash FROM keys WHERE kind = $1 ORDER BY created_at, id",
                &[&kind_name(kind)],
            )
            .await?
            .iter()
            .map(|row| key_row(row).map(|(entry, _)| entry).map_err(storage))
            .collect()
        })
    }

    fn key_by_hash<'a>(
        &'a self,
        kind: KeyKind,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(KeyEntry, TokenHash)>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT id, name, created_at, key_hash FROM keys WHERE kind = $1 AND key_hash = $2",
                    &[&kind_name(kind), &hash.as_slice()],
                )
                .await?;
            first(rows, key_row).map_err(storage)
        })
    }

    fn delete_key<'a>(&'a self, kind: KeyKind, id_or_name: &'a str) -> StoreFuture<'a, Option<KeyEntry>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "DELETE FROM keys WHERE id = (
                        SELECT id FROM keys WHERE kind = $1 AND (id = $2 OR name = $2)
                        ORDER BY (id = $2) DESC, created_at, id LIMIT 1
                    ) RETURNING id, name, created_at, key_hash",
                    &[&kind_name(kind), &id_or_name],
                )
                .await?;
            Ok(first(rows, key_row).map_err(storage)?.map(|(entry, _)| entry))
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let db = self.pool.get().await?;
            db.batch_execute("SELECT 1").await.map_err(storage)
        })
    }

    fn watch(&self, freshness: Freshness, stop: CancellationToken) -> BoxFuture<'_, ()> {
        Box::pin(self.listener.run(freshness, stop))
    }
}
