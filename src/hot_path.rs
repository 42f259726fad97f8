//! Connections for the hot path's one statement (`benefits::state::read`): kept in a pool of
//! their own rather than borrowed from sqlx's, which tests every connection given back with a
//! round trip — a `Sync` and its `ReadyForQuery` on PostgreSQL, a message to the connection's
//! thread and back on SQLite — as much again as the read itself. Seen with `strace` on the
//! eligibility benchmark: two PostgreSQL round trips per check, the second after the answer had
//! left. Here a connection given back is only tested when it has been idle for a while (a proxy
//! or a restart may have dropped it), as the node's pool tests the ones it hands out; one that
//! failed is closed, and the read is tried once more on a new one.
//!
//! A statement cut short (the request timed out) leaves its connection with an answer still to
//! read; sqlx reads it away before the connection's next statement.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, Pool, RecycleResult};
use sea_orm::sqlx::{
    self, Connection, PgConnection, SqliteConnection, postgres::PgConnectOptions,
    sqlite::SqliteConnectOptions,
};
use sea_orm::{DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr};

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

/// The hot path's connections, at most `size` of them, opened on first use.
pub struct HotPath {
    pool: Pool<Connector>,
}

impl HotPath {
    /// Connections like the node pool's (same database, same options); none when the pool's
    /// options cannot be read back (a connection other than sqlx's).
    pub fn new(db: &DatabaseConnection, size: usize) -> Option<Self> {
        let options = match db.get_database_backend() {
            DbBackend::Postgres => {
                let node = db.get_postgres_connection_pool().connect_options();
                Options::Postgres(Arc::new((*node).clone().application_name(APPLICATION_NAME)))
            }
            DbBackend::Sqlite => Options::Sqlite(db.get_sqlite_connection_pool().connect_options()),
            _ => return None,
        };
        Pool::builder(Connector(options))
            .max_size(size.max(1))
            .build()
            .ok()
            .map(|pool| Self { pool })
    }

    /// Runs `sql` with text parameters and answers its first row.
    pub async fn query_one(
        &self,
        sql: &'static str,
        params: &[&str],
    ) -> Result<Option<QueryResult>, DbErr> {
        let mut retried = false;
        loop {
            let mut kept = self.pool.get().await.map_err(|e| match e {
                managed::PoolError::Backend(e) => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))),
                other => DbErr::Conn(RuntimeErr::Internal(other.to_string())),
            })?;
            let answer = match &mut *kept {
                Kept::Postgres(c) => first_row(c, sql, params).await,
                Kept::Sqlite(c) => first_row(c, sql, params).await,
            };
            match answer {
                Ok(row) => return Ok(row),
                Err(e) => {
                    // Whatever went wrong, this connection is not trusted again, and the read
                    // (which changes nothing) is tried once more on a new one: a connection the
                    // server ended (a restart, `pg_terminate_backend`) answers its next statement
                    // with a FATAL error or a closed socket, not with the row.
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

/// The first row `sql` answers on one connection, its parameters bound as text.
async fn first_row<'c, DB, E>(
    connection: E,
    sql: &'static str,
    params: &[&str],
) -> Result<Option<QueryResult>, sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    QueryResult: From<DB::Row>,
{
    let mut query = sqlx::query::<DB>(sql);
    for p in params {
        query = query.bind(*p);
    }
    Ok(query
        .fetch_optional(connection)
        .await?
        .map(QueryResult::from))
}
