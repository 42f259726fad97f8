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
//! **On PostgreSQL, per HTTP worker.** Each HTTP worker executes its checks in place and has a
//! reader of its own, on a connection opened on the worker's runtime ([`Worker`]): the batch is
//! the checks that worker queued while its reader waited. The node's readers answer calls made
//! off the HTTP workers.
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
//! **On SQLite, in place.** A check on a SQLite file is read by the thread that executes it, on
//! a connection of that thread's own (`rusqlite`, see [`Here`]); the queue is its fallback. Each
//! hand-off to another thread is a wake-up of a core that may be asleep, and sqlx's SQLite
//! connections answer from threads of their own, so the queue cost a check two or three.
//! Measured on 2 cores, 1,000,000 subjects (`benches/eligibility`, release builds, interleaved
//! runs of 15 s): at a fixed 2,500 checks/s the server's own mean 486–548 → 176–190 µs, oha's
//! p99 2.55–3.28 → 1.94–2.51 ms; at 32 connections it costs throughput, 11,800–12,600 →
//! 9,100–10,800 checks/s (p99 6.2–7.3 → 8.5–9.8 ms), since a read no longer shares a
//! statement with the others waiting. The fixed rate was the target missed; both stay within
//! the 32-connection ones.
//!
//! A check that times out only stops waiting: the reader finishes its statement and drops that
//! answer, so no statement is cut short and no connection is left with an answer still to read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
/// An HTTP worker's own hot-path connection as `pg_stat_activity` shows it (see [`Worker`]).
pub const WORKER_APPLICATION_NAME: &str = "credit-hub hot path, HTTP worker";
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

/// How many readers the node's queue has: on PostgreSQL one per two cores (a batch's keys are
/// read by one server process; fewer, larger batches cost it least), on SQLite one per core
/// (reading is CPU on each connection's own thread). On PostgreSQL they read only for calls made
/// off the HTTP workers, which have readers of their own ([`Worker`]), and open their
/// connections on first use.
pub fn readers(backend: DbBackend) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    match backend {
        DbBackend::Postgres => cores.div_ceil(2),
        _ => cores,
    }
}

/// The hot path: its readers' connections, and the queue of checks they read; on SQLite also
/// the file each thread reads on its own connection.
pub struct HotPath {
    queue: Queue,
    here: Option<Here>,
    worker: Option<Worker>,
}

impl HotPath {
    /// `readers` connections like the node pool's (same database, same options), and the tasks
    /// that read the queue with them; none when the pool's options cannot be read back (a
    /// connection other than sqlx's).
    pub fn start(db: &DatabaseConnection, readers: usize, sqlite_cache_mb: u32) -> Option<Self> {
        let readers = readers.max(1);
        let connections = Arc::new(Connections::new(db, readers)?);
        let here = match db.get_database_backend() {
            DbBackend::Sqlite => Here::new(
                &db.get_sqlite_connection_pool().connect_options(),
                sqlite_cache_mb,
            ),
            _ => None,
        };
        let worker = match &connections.pool.manager().0 {
            Options::Postgres(options) => Some(Worker::new(options)),
            Options::Sqlite(_) => None,
        };
        Some(Self {
            queue: Batcher::start_with(connections, readers, "hot_path_reads", read_batch),
            here,
            worker,
        })
    }

    /// The state of the subject stored under `key`, with its rating under `model`: on SQLite
    /// read on this thread, on PostgreSQL by this HTTP worker's reader ([`Worker`]) with the
    /// checks waiting for it; elsewhere, or when SQLite's read here failed, by the next of the
    /// node's readers free, with the other checks waiting.
    pub async fn read(&self, key: &str, model: &str) -> Result<Option<SubjectState>, AppError> {
        if let Some(here) = &self.here {
            match here.read(key, model) {
                Ok(found) => return Ok(found),
                Err(e) => {
                    metrics::counter!("credit_hub_hot_path_fallbacks_total").increment(1);
                    tracing::debug!(error = %e.detail(), "the hot path's read on this thread failed; queued instead");
                }
            }
        }
        let ask = Ask {
            key: key.to_owned(),
            model: model.to_owned(),
        };
        match self.worker.as_ref().and_then(Worker::reader) {
            Some(reader) => reader.submit(ask).await,
            None => self.queue.submit(ask).await,
        }
    }
}

/// PostgreSQL's reads on the HTTP worker's own runtime: each worker (a single-threaded runtime
/// that executes what it reads, see `http::graphql::execute`) keeps a reader of its own, with
/// one connection opened there, and its checks queue for that reader. A check's wake-ups are
/// then the database's process and the worker itself, no thread of another runtime between
/// them: measured in `http::graphql::execute`. Two readers on one worker gained nothing (at 32
/// connections 13,258–13,557 against 13,638–13,806 checks/s, p99 7.6–8.1 against 4.5 ms). Only
/// calls on a single-threaded runtime have such a reader; others go to the node's readers. A
/// read that failed on the worker's connection (after its one retry on a new connection) is an
/// error, as it would be on the node's readers: the same database.
struct Worker {
    /// Tells this node's readers from another's in the same process (tests run many).
    node: u64,
    options: Arc<PgConnectOptions>,
}

type Queue = Batcher<Ask, Option<SubjectState>>;

thread_local! {
    /// This thread's readers, by [`Worker::node`], the most recently made last.
    static WORKER_READERS: std::cell::RefCell<Vec<(u64, Queue)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Worker {
    fn new(options: &PgConnectOptions) -> Self {
        static NODES: AtomicU64 = AtomicU64::new(0);
        Self {
            node: NODES.fetch_add(1, Ordering::Relaxed),
            options: Arc::new(options.clone().application_name(WORKER_APPLICATION_NAME)),
        }
    }

    /// This thread's reader, started on first use; none off a single-threaded runtime.
    fn reader(&self) -> Option<Queue> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            return None;
        }
        WORKER_READERS.with_borrow_mut(|readers| {
            // A reader whose runtime has ended (its task gone with it) is replaced.
            readers.retain(|(_, reader)| !reader.is_closed());
            if let Some((_, reader)) = readers.iter().find(|(node, _)| *node == self.node) {
                return Some(reader.clone());
            }
            let pool = Pool::builder(Connector(Options::Postgres(self.options.clone())))
                .max_size(1)
                .build()
                .ok()?;
            let reader = Batcher::start_with(
                Arc::new(Connections { pool }),
                1,
                "hot_path_worker_reads",
                read_batch,
            );
            if readers.len() >= HERE_KEPT {
                readers.remove(0);
            }
            readers.push((self.node, reader.clone()));
            Some(reader)
        })
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

/// SQLite's reads on the calling thread: each thread that checks keeps a connection of its own
/// to the node's file (opened on its first check, read-only by `query_only`) and runs the hot
/// statement there, in place. No hand-off to another thread and back: with sqlx every
/// statement is a message to its connection's thread, and the readers' queue one more hop,
/// each a chance to wait for a core behind other work. A read is CPU work either way (an
/// indexed look-up in pages the operating system holds); here it is done by the thread that
/// needs it. A statement waits for a lock at most [`HERE_BUSY`], and any failure closes the
/// thread's connection and sends the check to the readers' queue, as on PostgreSQL.
struct Here {
    /// Tells this node's connections from another's in the same process (tests run many).
    node: u64,
    path: std::path::PathBuf,
    /// The connections' `cache_size` pragma, as the node pool's (`Settings::sqlite_cache_mb`).
    cache_kib: i64,
}

/// How long a read on the calling thread waits for a lock before the check is queued instead.
const HERE_BUSY: Duration = Duration::from_millis(50);
/// The nodes whose connection one thread keeps at most (one outside tests).
const HERE_KEPT: usize = 4;

thread_local! {
    /// This thread's connections, by [`Here::node`], the most recently used last.
    static HERE_OPEN: std::cell::RefCell<Vec<(u64, rusqlite::Connection)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Here {
    /// None for a database that is not a plain file (in memory, a URI).
    fn new(options: &SqliteConnectOptions, cache_mb: u32) -> Option<Self> {
        static NODES: AtomicU64 = AtomicU64::new(0);
        let path = options.get_filename();
        let name = path.to_str()?;
        if name.is_empty() || name.starts_with("file:") || name.starts_with(':') {
            return None;
        }
        Some(Self {
            node: NODES.fetch_add(1, Ordering::Relaxed),
            path: path.to_owned(),
            cache_kib: -i64::from(cache_mb) * 1024,
        })
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let c = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(HERE_BUSY)?;
        c.pragma_update(None, "query_only", true)?;
        c.pragma_update(None, "cache_size", self.cache_kib)?;
        Ok(c)
    }

    fn read(&self, key: &str, model: &str) -> Result<Option<SubjectState>, AppError> {
        HERE_OPEN.with_borrow_mut(|open| {
            let at = match open.iter().position(|(node, _)| *node == self.node) {
                Some(at) => at,
                None => {
                    let c = self.open().map_err(here_error)?;
                    if open.len() >= HERE_KEPT {
                        open.remove(0);
                    }
                    open.push((self.node, c));
                    open.len() - 1
                }
            };
            let read = read_here(&open[at].1, key, model);
            if read.is_err() {
                open.remove(at);
            }
            read
        })
    }
}

fn here_error(e: rusqlite::Error) -> AppError {
    AppError::internal(format!("hot path read on this thread: {e}"))
}

/// The hot statement for one key on `c`.
fn read_here(
    c: &rusqlite::Connection,
    key: &str,
    model: &str,
) -> Result<Option<SubjectState>, AppError> {
    let mut statement = c
        .prepare_cached(state::sqlite_one_sql())
        .map_err(here_error)?;
    let mut rows = statement.query((key, model)).map_err(here_error)?;
    let Some(row) = rows.next().map_err(here_error)? else {
        return Ok(None);
    };
    let valid_until: Option<String> = row.get(7).map_err(here_error)?;
    let valid_until = match valid_until {
        Some(text) => Some(
            chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|e| AppError::internal(format!("rating.valid_until {text:?}: {e}")))?,
        ),
        None => None,
    };
    let found = state::Row {
        id: row.get(0).map_err(here_error)?,
        lookup_key: row.get(1).map_err(here_error)?,
        kind: row.get(2).map_err(here_error)?,
        facts: row.get(3).map_err(here_error)?,
        grade: row.get(4).map_err(here_error)?,
        grade_class: row.get(5).map_err(here_error)?,
        score: row.get(6).map_err(here_error)?,
        valid_until,
        queued: row.get::<_, Option<i64>>(8).map_err(here_error)?.is_some(),
    };
    found.state()
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
                Options::Postgres(Arc::new(
                    (*node)
                        .clone()
                        .application_name(APPLICATION_NAME)
                        .options(state::POSTGRES_SETTINGS),
                ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::demo::bulk::{Plan, generate};
    use sea_orm::ConnectionTrait;

    const MODEL: &str = "PUBLIC_COMPREHENSIVE";

    /// A SQLite node with generated subjects, rated, in a directory of its own.
    async fn node() -> (DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("node.db");
        let settings = Settings {
            database_url: format!("sqlite://{}?mode=rwc", file.display()),
            ..Settings::default()
        };
        let db = crate::db::connect(&settings).await.expect("connect");
        crate::db::migrate(&db).await.expect("migrate");
        let plan = Plan {
            subjects: 40,
            records_per_subject: 2,
            seed: 7,
        };
        generate(&db, plan, &["360404104000".to_owned()], |_, _| {})
            .await
            .expect("generate");
        (db, dir)
    }

    /// The subjects' look-up keys, and one no subject has.
    async fn keys(db: &DatabaseConnection) -> Vec<String> {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "SELECT lookup_key FROM subject ORDER BY id LIMIT 10",
            ))
            .await
            .expect("keys");
        let mut keys: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index(0).expect("lookup_key"))
            .collect();
        keys.push("no-such-subject".to_owned());
        keys
    }

    fn kept(node: u64) -> bool {
        HERE_OPEN.with_borrow(|open| open.iter().any(|(n, _)| *n == node))
    }

    #[tokio::test]
    async fn sqlite_checks_read_in_place_answer_as_the_shared_statement_does() {
        let (db, _dir) = node().await;
        let keys = keys(&db).await;
        let expected = state::read_many(&db, &keys, MODEL).await.expect("read");
        assert_eq!(
            expected.len(),
            keys.len() - 1,
            "every generated subject found"
        );
        let hot = HotPath::start(&db, 1, 2).expect("hot path");
        let here = hot.here.as_ref().expect("a SQLite file is read in place");
        for key in &keys {
            let found = hot.read(key, MODEL).await.expect("read in place");
            assert_eq!(
                format!("{found:?}"),
                format!("{:?}", expected.get(key)),
                "{key}"
            );
        }
        assert!(kept(here.node), "the thread keeps its connection");
    }

    /// A connection that cannot read (here: a file that is not a database) is not kept, and
    /// the check is answered by the readers' queue all the same.
    #[tokio::test]
    async fn a_failed_read_in_place_is_answered_by_the_queue() {
        let (db, dir) = node().await;
        let keys = keys(&db).await;
        let expected = state::read_many(&db, &keys, MODEL).await.expect("read");
        let junk = dir.path().join("not-a-database");
        std::fs::write(
            &junk,
            "not a database, and longer than a header would be ".repeat(20),
        )
        .expect("write");
        let mut hot = HotPath::start(&db, 1, 2).expect("hot path");
        let broken = Here::new(&SqliteConnectOptions::new().filename(&junk), 2).expect("a file");
        assert!(
            broken.read(&keys[0], MODEL).is_err(),
            "the junk file cannot be read"
        );
        let node = broken.node;
        hot.here = Some(broken);
        for key in &keys {
            let found = hot.read(key, MODEL).await.expect("read by the queue");
            assert_eq!(
                format!("{found:?}"),
                format!("{:?}", expected.get(key)),
                "{key}"
            );
            assert!(!kept(node), "a connection that failed is closed");
        }
    }

    #[test]
    fn only_plain_files_are_read_in_place() {
        for name in [":memory:", "file:shared?mode=memory&cache=shared", ""] {
            let options = SqliteConnectOptions::new().filename(name);
            assert!(Here::new(&options, 2).is_none(), "{name:?}");
        }
        let file = SqliteConnectOptions::new().filename("/var/lib/credit-hub/node.db");
        assert!(Here::new(&file, 2).is_some());
    }
}
