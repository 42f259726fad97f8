//! The hot path's reads (`benefits::state::read`): coalesced, and on connections of their own.
//!
//! **Coalesced.** A check does not take a connection: it queues the key it asks about
//! (`writer::Batcher`), and one of a few reader tasks, each reading on one connection, takes
//! every key queued while it was busy and reads them all in one statement
//! (`lookup_key = ANY($1)`). At low load a batch holds one key and costs what a read of one did;
//! under load, the checks that arrived while the readers were busy share one statement, one
//! round trip and one wake-up of the database's process. Measured on 2 cores, 1,000,000
//! subjects, 32 connections (`benches/eligibility`, release builds, the same minutes):
//! PostgreSQL 8,300–8,700 → 10,400–12,500 checks/s, the server's CPU per check 99–109 → 70–88 µs,
//! with one reader (two: 10,100–10,300; four: 9,100; eight: 7,600); SQLite 11,000 → 11,600–13,800
//! with two (one: 7,200: SQLite's reading is CPU on the connection's own thread), 137–143 →
//! 115–132 µs. Reading by itself when a reader was free (no queue at low load) gained nothing
//! measurable at a fixed 2,500 checks/s and was dropped.
//!
//! **Own connections**, kept in a pool of their own rather than borrowed from sqlx's, which
//! tests every connection given back with a round trip — a `Sync` and its `ReadyForQuery` on
//! PostgreSQL, a message to the connection's thread and back on SQLite — as much again as the
//! read itself. Seen with `strace` on the eligibility benchmark: two PostgreSQL round trips per
//! check, the second after the answer had left. Here a connection given back is only tested
//! when it has been idle for a while (a proxy or a restart may have dropped it), as the node's
//! pool tests the ones it hands out; one that failed is closed, and the read is tried once more
//! on a new one.
//!
//! A check that times out only stops waiting: the reader finishes its statement and drops that
//! answer, so no statement is cut short and no connection is left with an answer still to read.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, Pool, RecycleResult};
use sea_orm::sqlx::{
    self, Connection, PgConnection, SqliteConnection, postgres::PgConnectOptions,
    sqlite::SqliteConnectOptions,
};
use sea_orm::{DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr};

use crate::benefits::state::{self, SubjectState};
use crate::error::AppError;
use crate::writer::Batcher;

/// Idle this long, a connection is tested before it is used again.
const TEST_IF_IDLE_FOR: Duration = Duration::from_secs(30);
/// The hot path's PostgreSQL connections as `pg_stat_activity` shows them.
pub const APPLICATION_NAME: &str = "credit-hub hot path";
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

enum Options {
    Postgres(Arc<PgConnectOptions>),
    Sqlite(Arc<SqliteConnectOptions>),
}

/// One kept connection.
enum Kept {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Opens connections with the node pool's options (statement timeout, pragmas and all).
struct Connector(Options);

impl managed::Manager for Connector {
    type Type = Kept;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<Kept, sqlx::Error> {
        let open = async {
            Ok(match &self.0 {
                Options::Postgres(o) => Kept::Postgres(PgConnection::connect_with(o).await?),
                Options::Sqlite(o) => Kept::Sqlite(SqliteConnection::connect_with(o).await?),
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }

    async fn recycle(&self, kept: &mut Kept, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() > TEST_IF_IDLE_FOR {
            match kept {
                Kept::Postgres(c) => c.ping().await?,
                Kept::Sqlite(c) => c.ping().await?,
            }
        }
        Ok(())
    }
}

/// How many readers the hot path has: on PostgreSQL one per two cores (a batch's keys are read
/// by one server process; fewer, larger batches cost it least), on SQLite one per core (reading
/// is CPU on each connection's own thread).
pub fn readers(backend: DbBackend) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    match backend {
        DbBackend::Postgres => cores.div_ceil(2),
        _ => cores,
    }
}

/// The hot path: its readers' connections, and the queue of checks they read.
pub struct HotPath {
    queue: Batcher<Ask, Option<SubjectState>>,
}

impl HotPath {
    /// `readers` connections like the node pool's (same database, same options), and the tasks
    /// that read the queue with them; none when the pool's options cannot be read back (a
    /// connection other than sqlx's).
    pub fn start(db: &DatabaseConnection, readers: usize) -> Option<Self> {
        let readers = readers.max(1);
        let connections = Arc::new(Connections::new(db, readers)?);
        Some(Self {
            queue: Batcher::start_with(connections, readers, "hot_path_reads", read_batch),
        })
    }

    /// The state of the subject stored under `key`, with its rating under `model`, read by the
    /// next reader free with the other checks waiting.
    pub async fn read(&self, key: &str, model: &str) -> Result<Option<SubjectState>, AppError> {
        self.queue
            .submit(Ask {
                key: key.to_owned(),
                model: model.to_owned(),
            })
            .await
    }
}

/// One check's question: the subject stored under `key`, rated under `model`.
pub struct Ask {
    key: String,
    model: String,
}

/// The answers to `asks`, in order: one statement per model asked about (nearly always one).
async fn read_batch(
    connections: Arc<Connections>,
    asks: Vec<Ask>,
) -> Result<Vec<Option<SubjectState>>, AppError> {
    let sql = state::read_sql(connections.backend());
    let mut found: HashMap<(&str, &str), SubjectState> = HashMap::with_capacity(asks.len());
    let mut models: Vec<&str> = asks.iter().map(|a| a.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    for model in models {
        let mut keys: Vec<&str> = asks
            .iter()
            .filter(|a| a.model == model)
            .map(|a| a.key.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for row in connections.query_keys(sql, &keys, model).await? {
            if let Some(state) = state::parse(&row)?
                && let Ok(i) = keys.binary_search(&state.lookup_key.as_str())
            {
                found.insert((keys[i], model), state);
            }
        }
    }
    Ok(asks
        .iter()
        .map(|a| found.get(&(a.key.as_str(), a.model.as_str())).cloned())
        .collect())
}

/// The readers' connections, opened on first use.
struct Connections {
    pool: Pool<Connector>,
}

impl Connections {
    fn new(db: &DatabaseConnection, readers: usize) -> Option<Self> {
        let options = match db.get_database_backend() {
            DbBackend::Postgres => {
                let node = db.get_postgres_connection_pool().connect_options();
                Options::Postgres(Arc::new((*node).clone().application_name(APPLICATION_NAME)))
            }
            DbBackend::Sqlite => Options::Sqlite(db.get_sqlite_connection_pool().connect_options()),
            _ => return None,
        };
        Pool::builder(Connector(options))
            .max_size(readers)
            .build()
            .ok()
            .map(|pool| Self { pool })
    }

    /// The database the connections are to.
    fn backend(&self) -> DbBackend {
        match &self.pool.manager().0 {
            Options::Postgres(_) => DbBackend::Postgres,
            Options::Sqlite(_) => DbBackend::Sqlite,
        }
    }

    /// Runs `sql`, whose first parameter is the list of `keys` (a `text[]` on PostgreSQL, a JSON
    /// array of strings on SQLite) and whose second is `text`, and answers all its rows.
    async fn query_keys(
        &self,
        sql: &'static str,
        keys: &[&str],
        text: &str,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let mut retried = false;
        loop {
            let mut kept = self.pool.get().await.map_err(|e| match e {
                managed::PoolError::Backend(e) => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))),
                other => DbErr::Conn(RuntimeErr::Internal(other.to_string())),
            })?;
            let answer = match &mut *kept {
                Kept::Postgres(c) => rows(c, sqlx::query(sql).bind(keys).bind(text)).await,
                Kept::Sqlite(c) => {
                    let keys = serde_json::to_string(keys)
                        .map_err(|e| DbErr::Custom(format!("keys as JSON: {e}")))?;
                    rows(c, sqlx::query(sql).bind(keys).bind(text)).await
                }
            };
            match answer {
                Ok(rows) => return Ok(rows),
                Err(e) => {
                    // Whatever went wrong, this connection is not trusted again, and the read
                    // (which changes nothing) is tried once more on a new one: a connection the
                    // server ended (a restart, `pg_terminate_backend`) answers its next statement
                    // with a FATAL error or a closed socket, not with the rows.
                    drop(Object::take(kept));
                    if !retried {
                        retried = true;
                        continue;
                    }
                    return Err(DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))));
                }
            }
        }
    }
}

/// The rows of `query` on one connection.
async fn rows<'c, 'q, DB, E>(
    connection: E,
    query: sqlx::query::Query<'q, DB, DB::Arguments>,
) -> Result<Vec<QueryResult>, sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    QueryResult: From<DB::Row>,
    'q: 'c,
{
    Ok(query
        .fetch_all(connection)
        .await?
        .into_iter()
        .map(QueryResult::from)
        .collect())
}
