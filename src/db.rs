//! Connecting to SQLite or PostgreSQL with the pool settings each needs, and migrating.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, SqliteTransactionMode, TransactionOptions, TransactionTrait, sqlx::sqlite,
};

use crate::config::Settings;

/// Opens the pool. SQLite files get WAL, a busy timeout, foreign keys and full sync (an
/// acknowledged write survives a power cut); PostgreSQL gets a statement timeout.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = options(settings);
    if settings.is_sqlite() {
        // sqlx pings every connection it hands out unless told otherwise: a second trip to the
        // connection's worker thread for every statement outside a transaction. A file has no
        // network to drop the connection.
        options.test_before_acquire(false);
    } else {
        // Ping only a connection idle long enough for a proxy or a restart to have dropped it,
        // not every one handed out: that ping is a second round trip for every statement
        // outside a transaction, the hot path's one statement included. A request that meets
        // a connection the server ended since fails, and its retry gets another.
        options.test_before_acquire_if_idle_for(Duration::from_secs(30));
    }
    Database::connect(options).await
}

/// The pool of the read audit's writer on PostgreSQL (`audit::reads`): one connection, pinged
/// before each batch. Its entries are acknowledged to no caller who could retry, so a
/// connection the server ended (a restart, `pg_terminate_backend`) is found by the ping and
/// replaced before the insert, not by losing the batch; the ping is one round trip per batch of
/// up to 1000 rows. The connection is opened on the service's runtime, never on an HTTP
/// worker's, so it outlives the workers and writes what the node queued after its last
/// request. `pg_stat_activity` shows it as `credit-hub read audit`.
pub async fn connect_audit_writer(
    settings: &Settings,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = options(settings);
    options
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(true)
        .map_sqlx_postgres_opts(|o| o.application_name("credit-hub read audit"));
    Database::connect(options).await
}

/// What every pool of `settings` shares: its limits, and each backend's settings per
/// connection.
fn options(settings: &Settings) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(settings.db_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .sqlx_logging(false);
    if settings.is_sqlite() {
        let mmap = settings.sqlite_mmap_mb.saturating_mul(1024 * 1024);
        let cache = -i64::from(settings.sqlite_cache_mb) * 1024;
        options.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Bulk work reads through a memory map shared by every connection instead of a
                // pread into each connection's page cache (measured on the evaluation of
                // 100,000 subjects: most of its time went to those system calls) and keeps up
                // to 64 MiB of dirty pages before a transaction spills to the WAL. A server
                // keeps both small: every mapped page it touches, and every connection's
                // cache, counts in its resident memory (see `Settings::for_bulk_work`).
                .pragma("mmap_size", mmap.to_string())
                .pragma("cache_size", cache.to_string())
        });
    } else {
        options.statement_timeout(Duration::from_secs(settings.execution_timeout_seconds));
    }
    options
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    Migrator::up(db, None).await
}

/// One page of `query`, newest first by `id`, after the id `before` (the cursor of the page
/// before), with whether more follow and the total the query counts.
pub async fn newest_first<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    id: E::Column,
    before: Option<i64>,
    limit: u64,
) -> Result<(Vec<E::Model>, bool, u64), sea_orm::DbErr>
where
    E::Model: Sync,
{
    let total = query.clone().count(db).await?;
    let mut query = query;
    if let Some(before) = before {
        query = query.filter(id.lt(before));
    }
    let mut rows = query.order_by_desc(id).limit(limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, has_next, total))
}

/// Splits `len` rows into runs whose lengths are powers of two, at most `max` (a power of two),
/// largest first. A multi-row statement is prepared once per shape and kept in each
/// connection's statement cache: batches of every length from 1 to 1000 would fill it with
/// hundreds of large statements (measured: the server's memory grew by 100 MB under load), runs
/// of powers of two with a dozen.
pub fn power_of_two_runs(len: usize, max: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < len {
        let left = len - start;
        let run = (1usize << (usize::BITS - 1 - left.leading_zeros())).min(max);
        runs.push(start..start + run);
        start += run;
    }
    runs
}

/// A whole list as one parameter: a JSON array the statement unpacks (`jsonb_array_elements_text`
/// on PostgreSQL, `json_each` on SQLite; for rows see [`Columns`]). The statement's
/// text stays the same whatever the list's length, so each connection prepares it once; binding
/// thousands of parameters and planning a long VALUES list cost more than the work itself
/// (measured on the ingest benchmark's statement log). On SQLite use it for arrays of plain
/// values only: reading fields of objects makes SQLite turn each element back into text, once
/// per field.
pub fn json_parameter(backend: DbBackend, value: serde_json::Value) -> sea_orm::Value {
    match backend {
        DbBackend::Postgres => sea_orm::Value::Json(Some(Box::new(value))),
        _ => sea_orm::Value::String(Some(value.to_string())),
    }
}

/// One column of `rows`, for [`Columns::push`].
pub fn column<R, T>(rows: &[R], f: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}

/// A batch of rows for PostgreSQL bound column by column: one typed array per column, read back
/// as rows by `unnest`. The arrays travel in PostgreSQL's binary format, so nothing is escaped on
/// our side or lexed on the server's: measured in psql on 5,000 ratings (2.2 MB), unpacking them
/// as `json_to_recordset` took 20–37 ms and `unnest` of the same columns 5–8 ms. The statement's
/// text stays the same whatever the batch's length, so each connection prepares it once.
///
/// An array element cannot be NULL when bound, so a nullable column travels as two arrays: its
/// values (a placeholder where there is none) and whether each is present.
#[derive(Debug, Default)]
pub struct Columns {
    names: Vec<&'static str>,
    selects: Vec<String>,
    arrays: Vec<(String, &'static str)>,
    values: Vec<sea_orm::Value>,
}

impl Columns {
    /// A column of values, `pg_type` being the element's type as PostgreSQL names it.
    pub fn push<T>(
        &mut self,
        name: &'static str,
        pg_type: &'static str,
        values: Vec<T>,
    ) -> &mut Self
    where
        sea_orm::Value: From<Vec<T>>,
    {
        self.names.push(name);
        self.selects.push(format!("u.{name} AS {name}"));
        self.arrays.push((name.to_owned(), pg_type));
        self.values.push(values.into());
        self
    }

    /// A nullable column: `None` is stored as NULL.
    pub fn push_nullable<T: Default>(
        &mut self,
        name: &'static str,
        pg_type: &'static str,
        values: Vec<Option<T>>,
    ) -> &mut Self
    where
        sea_orm::Value: From<Vec<T>>,
    {
        let present: Vec<bool> = values.iter().map(Option::is_some).collect();
        let values: Vec<T> = values.into_iter().map(Option::unwrap_or_default).collect();
        self.names.push(name);
        self.selects.push(format!(
            "CASE WHEN u.{name}__present THEN u.{name} END AS {name}"
        ));
        self.arrays.push((name.to_owned(), pg_type));
        self.arrays.push((format!("{name}__present"), "boolean"));
        self.values.push(values.into());
        self.values.push(present.into());
        self
    }

    /// The column names, for `INSERT INTO table (…)`.
    pub fn names(&self) -> String {
        self.names.join(", ")
    }

    /// `SELECT <the columns> FROM unnest($first::type[], …) AS u(…)`: the rows, with the arrays
    /// bound from parameter `first` on.
    pub fn select(&self, first: usize) -> String {
        let arrays = self
            .arrays
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| format!("${}::{ty}[]", first + i))
            .collect::<Vec<_>>()
            .join(", ");
        let aliases = self
            .arrays
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {} FROM unnest({arrays}) AS u({aliases})",
            self.selects.join(", ")
        )
    }

    /// The arrays, in the order of [`Columns::select`]'s parameters.
    pub fn into_values(self) -> Vec<sea_orm::Value> {
        self.values
    }
}

/// The condition that `column` is one of the ids in the JSON array bound as parameter `n`.
///
/// On PostgreSQL the ids become an array first (`= ANY(ARRAY(…))`, an init plan run once), so
/// that a plan that does scan the table compares each row with an array, where the semi-join
/// `IN (SELECT jsonb_array_elements_text(…))` unpacked the JSON again for every row of the table
/// (see [`begin_write`] for why such plans happened).
pub fn id_among(backend: DbBackend, column: &str, n: usize) -> String {
    among(backend, column, n, "::bigint")
}

/// The condition that `column` is one of the strings in the JSON array bound as parameter `n`
/// (see [`id_among`]).
pub fn text_among(backend: DbBackend, column: &str, n: usize) -> String {
    among(backend, column, n, "")
}

fn among(backend: DbBackend, column: &str, n: usize, cast: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(${n}::jsonb){cast}))")
        }
        _ => format!("{column} IN (SELECT value FROM json_each(?{n}))"),
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so that a transaction that read first cannot fail to upgrade its lock
/// when another writer got there in between; PostgreSQL ignores the option.
///
/// On PostgreSQL every statement of a write transaction is planned for the tables as they are
/// (`plan_cache_mode = force_custom_plan`). A prepared statement otherwise settles on a generic
/// plan after five executions and keeps it on its connection until the next ANALYZE; one first
/// run while a table was nearly empty keeps scanning it as it grows. Seen with `auto_explain`
/// during the ingest benchmark: the facts of 1000 subjects read by a plan made for an empty
/// `credit_record` took 2–5 s a batch once it held tens of thousands of records (548 records/s
/// over 100,000; 3,892 with plans made per execution). Writes are where tables grow and where
/// statements read by lists of ids; planning costs them well under a millisecond a statement.
/// Reads outside writes keep their cached plans; the eligibility hot path's statement is written
/// so that none of its plans can scan a table (`benefits::state::POSTGRES_READ`).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    let txn = db
        .begin_with_options(TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        })
        .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    Ok(txn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The runs cover every row once, in order, each a power of two of at most `max`.
        #[test]
        fn runs_cover_the_rows_in_powers_of_two(len in 0usize..5000) {
            let runs = power_of_two_runs(len, 512);
            let mut next = 0;
            for run in &runs {
                prop_assert_eq!(run.start, next);
                prop_assert!(run.len().is_power_of_two() && run.len() <= 512);
                next = run.end;
            }
            prop_assert_eq!(next, len);
        }
    }

    /// A nullable column travels as its values and whether each is present; the statement
    /// numbers the arrays from the first parameter it is given.
    #[test]
    fn columns_select_rows_from_typed_arrays() {
        let mut columns = Columns::default();
        columns.push("id", "bigint", vec![1i64, 2]).push_nullable(
            "note",
            "text",
            vec![Some("a".to_owned()), None],
        );
        assert_eq!(columns.names(), "id, note");
        assert_eq!(
            columns.select(2),
            "SELECT u.id AS id, CASE WHEN u.note__present THEN u.note END AS note \
             FROM unnest($2::bigint[], $3::text[], $4::boolean[]) AS u(id, note, note__present)"
        );
        let values = columns.into_values();
        assert_eq!(values.len(), 3);
        assert_eq!(values[2], sea_orm::Value::from(vec![true, false]));
        assert_eq!(
            values[1],
            sea_orm::Value::from(vec!["a".to_owned(), String::new()])
        );
    }
}
