//! The embedded SQLite store (default), with versioned migrations.
//!
//! rusqlite is synchronous and SQLite does file I/O, so every call runs on tokio's blocking
//! pool ([`SqliteStore::blocking`]), one at a time on the one connection, never on an async
//! worker. An async SQLite crate would do the same with a thread of its own, for one more
//! dependency.
//!
//! Changes are watched with `PRAGMA data_version`, which moves when another connection (the
//! command line, another replica on the same file) commits: it is read every [`POLL_EVERY`],
//! also on the blocking pool. This process's own writes do not move it; the registry clears
//! its cache after each of them itself.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use runtime::tool::BoxFuture;
use rusqlite::{Connection, OptionalExtension as _, params};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::cache::Freshness;
use crate::entry::{KeyEntry, KeyKind, ServerEntry, TokenHash, from_unix, to_unix};
use crate::error::RegistryError;
use crate::store::{RegistryStore, StoreFuture};

/// How often the watcher asks whether another connection committed: well within
/// [`crate::FRESH_FOR`], so a live watcher keeps the cache answering between two polls.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// Migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &["CREATE TABLE servers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        methods TEXT NOT NULL,
        tags TEXT NOT NULL,
        expires_at INTEGER,
        require_api_token_auth INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        token_hash BLOB NOT NULL UNIQUE
    );
    CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        key_hash BLOB NOT NULL UNIQUE
    );"];

pub struct SqliteStore {
    db: Arc<SqliteDb>,
}

/// The connection and its synchronous calls, run by [`SqliteStore::blocking`].
struct SqliteDb {
    connection: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating on first use, readable by its owner only) the database at `path` and
    /// runs pending migrations. Blocking file I/O: call it off the async workers
    /// ([`crate::open_store`] does).
    pub fn open(path: &Path) -> Result<Self, RegistryError> {
        // SQLite gives its journal files the mode of the database file, so they are private too.
        runtime::files::create_private(path)
            .map_err(|error| RegistryError::Storage(format!("{}: {error}", path.display())))?;
        let connection = Connection::open(path).map_err(storage)?;
        Self::migrate(connection)
    }

    pub fn in_memory() -> Result<Self, RegistryError> {
        Self::migrate(Connection::open_in_memory().map_err(storage)?)
    }

    fn migrate(mut connection: Connection) -> Result<Self, RegistryError> {
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
        // One IMMEDIATE transaction takes the write lock before reading the version, so two
        // processes opening a fresh file at once migrate one after the other, never both.
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(storage)?;
        let applied: i64 = transaction
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(storage)?;
        let applied = usize::try_from(applied).unwrap_or(usize::MAX);
        if applied > MIGRATIONS.len() {
            return Err(RegistryError::Storage(format!(
                "the database is at schema version {applied}, newer than this binary knows ({})",
                MIGRATIONS.len()
            )));
        }
        for migration in MIGRATIONS.iter().skip(applied) {
            transaction.execute_batch(migration).map_err(storage)?;
        }
        transaction
            .pragma_update(
                None,
                "user_version",
                i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX),
            )
            .map_err(storage)?;
        transaction.commit().map_err(storage)?;
        Ok(Self {
            db: Arc::new(SqliteDb {
                connection: Mutex::new(connection),
            }),
        })
    }

    /// Runs `work` on the connection on tokio's blocking pool.
    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SqliteDb) -> Result<T, RegistryError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let db = self.db.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&db))
                .await
                .map_err(|error| RegistryError::Storage(format!("the SQLite task failed: {error}")))?
        })
    }
}

impl SqliteDb {
    fn with<T>(&self, work: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, RegistryError> {
        let connection = self
            .connection
            .lock()
            .map_err(|_| RegistryError::Storage("lock poisoned".into()))?;
        work(&connection).map_err(storage)
    }
}

fn storage(error: rusqlite::Error) -> RegistryError {
    RegistryError::Storage(error.to_string())
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::ApiToken => "api_token",
        KeyKind::AdminKey => "admin_key",
    }
}

fn join(values: &[String]) -> String {
    values.join(",")
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

const SERVER_COLUMNS: &str =
    "id, name, methods, tags, expires_at, require_api_token_auth, created_at, token_hash";

fn server_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ServerEntry, TokenHash)> {
    let hash: Vec<u8> = row.get(7)?;
    let mut stored = [0u8; 32];
    if hash.len() == 32 {
        stored.copy_from_slice(&hash);
    }
    Ok((
        ServerEntry {
            id: row.get(0)?,
            name: row.get(1)?,
            methods: split(&row.get::<_, String>(2)?),
            tags: split(&row.get::<_, String>(3)?),
            expires_at: row.get::<_, Option<i64>>(4)?.map(from_unix),
            require_api_token_auth: row.get::<_, i64>(5)? != 0,
            created_at: from_unix(row.get(6)?),
        },
        stored,
    ))
}

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(KeyEntry, TokenHash)> {
    let hash: Vec<u8> = row.get(3)?;
    let mut stored = [0u8; 32];
    if hash.len() == 32 {
        stored.copy_from_slice(&hash);
    }
    Ok((
        KeyEntry {
            id: row.get(0)?,
            name: row.get(1)?,
            created_at: from_unix(row.get(2)?),
        },
        stored,
    ))
}

/// The calls themselves, synchronous.
impl SqliteDb {
    fn insert_server(&self, entry: &ServerEntry, token_hash: &TokenHash) -> Result<(), RegistryError> {
        let outcome = self.with(|db| {
            db.execute(
                &format!("INSERT INTO servers ({SERVER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    entry.id,
                    entry.name,
                    join(&entry.methods),
                    join(&entry.tags),
                    entry.expires_at.map(to_unix),
                    i64::from(entry.require_api_token_auth),
                    to_unix(entry.created_at),
                    token_hash.as_slice(),
                ],
            )
        });
        match outcome {
            Err(RegistryError::Storage(message)) if message.contains("servers.name") => {
                Err(RegistryError::DuplicateName(entry.name.clone()))
            }
            other => other.map(|_| ()),
        }
    }

    fn list_servers(&self) -> Result<Vec<ServerEntry>, RegistryError> {
        self.with(|db| {
            let mut statement = db.prepare(&format!(
                "SELECT {SERVER_COLUMNS} FROM servers ORDER BY created_at, id"
            ))?;
            let rows = statement.query_map([], server_row)?;
            rows.map(|row| row.map(|(entry, _)| entry)).collect()
        })
    }

    fn server_by_hash(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(ServerEntry, TokenHash)>, RegistryError> {
        self.with(|db| {
            db.query_row(
                &format!("SELECT {SERVER_COLUMNS} FROM servers WHERE token_hash = ?1"),
                [token_hash.as_slice()],
                server_row,
            )
            .optional()
        })
    }

    fn delete_server(&self, id_or_name: &str) -> Result<Option<ServerEntry>, RegistryError> {
        self.with(|db| {
            let found = db
                .query_row(
                    &format!("SELECT {SERVER_COLUMNS} FROM servers WHERE id = ?1 OR name = ?1"),
                    [id_or_name],
                    server_row,
                )
                .optional()?;
            if let Some((entry, _)) = &found {
                db.execute("DELETE FROM servers WHERE id = ?1", [&entry.id])?;
            }
            Ok(found.map(|(entry, _)| entry))
        })
    }

    fn purge_expired(&self, now: SystemTime) -> Result<Vec<ServerEntry>, RegistryError> {
        self.with(|db| {
            let mut statement = db.prepare(&format!(
                "DELETE FROM servers WHERE expires_at IS NOT NULL AND expires_at <= ?1 RETURNING {SERVER_COLUMNS}"
            ))?;
            let rows = statement.query_map([to_unix(now)], server_row)?;
            rows.map(|row| row.map(|(entry, _)| entry)).collect()
        })
    }

    fn insert_key(&self, kind: KeyKind, entry: &KeyEntry, hash: &TokenHash) -> Result<(), RegistryError> {
        self.with(|db| {
            db.execute(
                "INSERT INTO keys (id, kind, name, created_at, key_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    entry.id,
                    kind_name(kind),
                    entry.name,
                    to_unix(entry.created_at),
                    hash.as_slice()
                ],
            )
        })
        .map(|_| ())
    }

    fn list_keys(&self, kind: KeyKind) -> Result<Vec<KeyEntry>, RegistryError> {
        self.with(|db| {
            let mut statement = db.prepare(
                "SELECT id, name, created_at, key_hash FROM keys WHERE kind = ?1 ORDER BY created_at, id",
            )?;
            let rows = statement.query_map([kind_name(kind)], key_row)?;
            rows.map(|row| row.map(|(entry, _)| entry)).collect()
        })
    }

    fn key_by_hash(
        &self,
        kind: KeyKind,
        hash: &TokenHash,
    ) -> Result<Option<(KeyEntry, TokenHash)>, RegistryError> {
        self.with(|db| {
            db.query_row(
                "SELECT id, name, created_at, key_hash FROM keys WHERE kind = ?1 AND key_hash = ?2",
                params![kind_name(kind), hash.as_slice()],
                key_row,
            )
            .optional()
        })
    }

    fn delete_key(&self, kind: KeyKind, id_or_name: &str) -> Result<Option<KeyEntry>, RegistryError> {
        self.with(|db| {
            let found = db
                .query_row(
                    "SELECT id, name, created_at, key_hash FROM keys WHERE kind = ?1 AND (id = ?2 OR name = ?2)",
                    params![kind_name(kind), id_or_name],
                    key_row,
                )
                .optional()?;
            if let Some((entry, _)) = &found {
                db.execute("DELETE FROM keys WHERE id = ?1", [&entry.id])?;
            }
            Ok(found.map(|(entry, _)| entry))
        })
    }

    fn ping(&self) -> Result<(), RegistryError> {
        self.with(|db| db.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)))
            .map(|_| ())
    }

    /// A number that differs from the last one read on this connection when another
    /// connection has committed since.
    fn data_version(&self) -> Result<i64, RegistryError> {
        self.with(|db| db.query_row("PRAGMA data_version", [], |row| row.get(0)))
    }
}

impl SqliteStore {
    /// Polls `PRAGMA data_version` every [`POLL_EVERY`] until `stop` fires.
    async fn poll_changes(&self, freshness: Freshness, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(POLL_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last: Option<i64> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = stop.cancelled() => return,
            }
            // Taken before the read: a commit after this instant is seen by the next poll.
            let as_of = Instant::now();
            match self.blocking(SqliteDb::data_version).await {
                Ok(version) => {
                    if last.is_some_and(|seen| seen != version) {
                        freshness.changed();
                    }
                    last = Some(version);
                    freshness.confirm(as_of);
                }
                Err(error) => {
                    if last.is_some() {
                        tracing::warn!(error = %error, "cannot watch the SQLite registry for changes; looking up every token in it");
                    }
                    last = None;
                    freshness.lost();
                }
            }
        }
    }
}

impl RegistryStore for SqliteStore {
    fn insert_server<'a>(&'a self, entry: &'a ServerEntry, token_hash: &'a TokenHash) -> StoreFuture<'a, ()> {
        let (entry, token_hash) = (entry.clone(), *token_hash);
        self.blocking(move |db| db.insert_server(&entry, &token_hash))
    }

    fn list_servers(&self) -> StoreFuture<'_, Vec<ServerEntry>> {
        self.blocking(SqliteDb::list_servers)
    }

    fn server_by_hash<'a>(
        &'a self,
        token_hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(ServerEntry, TokenHash)>> {
        let token_hash = *token_hash;
        self.blocking(move |db| db.server_by_hash(&token_hash))
    }

    fn delete_server<'a>(&'a self, id_or_name: &'a str) -> StoreFuture<'a, Option<ServerEntry>> {
        let id_or_name = id_or_name.to_owned();
        self.blocking(move |db| db.delete_server(&id_or_name))
    }

    fn purge_expired(&self, now: SystemTime) -> StoreFuture<'_, Vec<ServerEntry>> {
        self.blocking(move |db| db.purge_expired(now))
    }

    fn insert_key<'a>(
        &'a self,
        kind: KeyKind,
        entry: &'a KeyEntry,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, ()> {
        let (entry, hash) = (entry.clone(), *hash);
        self.blocking(move |db| db.insert_key(kind, &entry, &hash))
    }

    fn list_keys(&self, kind: KeyKind) -> StoreFuture<'_, Vec<KeyEntry>> {
        self.blocking(move |db| db.list_keys(kind))
    }

    fn key_by_hash<'a>(
        &'a self,
        kind: KeyKind,
        hash: &'a TokenHash,
    ) -> StoreFuture<'a, Option<(KeyEntry, TokenHash)>> {
        let hash = *hash;
        self.blocking(move |db| db.key_by_hash(kind, &hash))
    }

    fn delete_key<'a>(&'a self, kind: KeyKind, id_or_name: &'a str) -> StoreFuture<'a, Option<KeyEntry>> {
        let id_or_name = id_or_name.to_owned();
        self.blocking(move |db| db.delete_key(kind, &id_or_name))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.blocking(SqliteDb::ping)
    }

    fn watch(&self, freshness: Freshness, stop: CancellationToken) -> BoxFuture<'_, ()> {
        Box::pin(self.poll_changes(freshness, stop))
    }
}
