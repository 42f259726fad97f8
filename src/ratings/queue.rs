//! Ratings that follow submitted records a moment later (table `rating_queue`).
//!
//! `submitCreditRecords` enters the subjects of its accepted rows here, in the transaction that
//! stores them, instead of re-rating them there: under every model that applies a rating row and
//! a history row each, ten rows for an industry-C enterprise's one penalty, which was three
//! quarters of a batch's time. A subject is due `rating_delay_ms` after its last change, and at
//! the latest `rating_max_delay_ms` after its first: an upload of many batches is rated once,
//! when it ends, and a feed that never pauses is still rated regularly. A worker on each node
//! re-rates the due subjects, a thousand at a time, in the transaction that removes them from the
//! queue: a crash leaves them queued, and on PostgreSQL nodes claim different subjects
//! (`FOR UPDATE SKIP LOCKED`).
//!
//! Reads never see a stale rating: while a subject is queued, its ratings and its eligibility are
//! computed from its records on every read (`ratings::service::current`,
//! `benefits::state::read`). Only the lists built from stored ratings (supervision levels,
//! inspection samples, rural credit, the rating history) wait for the worker.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::Notify;

use super::service::{Cause, rerate};
use crate::error::AppError;

/// Subjects re-rated in one transaction.
const CLAIM: i64 = 1000;

/// How often a node looks for subjects other nodes queued (it is woken at once for its own).
const POLL: Duration = Duration::from_secs(1);

/// The longest a failing worker waits before trying again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Whether `subject_id` waits in the queue: its stored ratings may not count its latest records.
pub async fn is_queued(db: &impl ConnectionTrait, subject_id: i64) -> Result<bool, AppError> {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        "SELECT 1 AS queued FROM rating_queue WHERE subject_id = $1"
    } else {
        "SELECT 1 AS queued FROM rating_queue WHERE subject_id = ?1"
    };
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [subject_id.into()],
        ))
        .await?
        .is_some())
}

/// The number of subjects waiting in the queue.
pub async fn pending(db: &impl ConnectionTrait) -> Result<i64, AppError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM rating_queue",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    })
}

/// The node's worker, woken by the submissions that queue subjects, and the delays they queue
/// them with.
#[derive(Clone)]
pub struct RatingQueue {
    wake: Arc<Notify>,
    delay_ms: i64,
    max_delay_ms: i64,
}

impl RatingQueue {
    /// Starts the node's worker on the current runtime. A subject is due `delay` after its last
    /// change and at the latest `max_delay` after its first.
    pub fn start(db: DatabaseConnection, delay: Duration, max_delay: Duration) -> Self {
        let wake = Arc::new(Notify::new());
        tokio::spawn(work(db, wake.clone()));
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self {
            wake,
            delay_ms: ms(delay),
            max_delay_ms: ms(max_delay.max(delay)),
        }
    }

    /// Tells the worker that subjects were queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Puts subjects in the queue, inside the transaction of their change; a subject already
    /// queued is due a delay after this change, but never later than the bound after its first.
    pub async fn enqueue(
        &self,
        txn: &impl ConnectionTrait,
        subject_ids: &[i64],
    ) -> Result<(), AppError> {
        let mut ids = subject_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let due = now.saturating_add(self.delay_ms);
        let backend = txn.get_database_backend();
        let statement = if backend == DbBackend::Postgres {
            // Updating a queued row also locks it, so that a worker claiming it (SKIP LOCKED)
            // leaves it for after this commit rather than rating the subject without this change
            // and removing it from the queue; and a row a worker has just claimed makes this
            // wait for the worker's commit, then queue the subject anew.
            Statement::from_sql_and_values(
                backend,
                "INSERT INTO rating_queue (subject_id, queued_at_ms, due_at_ms) \
                 SELECT id, $2, $3 FROM unnest($1::bigint[]) AS u(id) \
                 ON CONFLICT (subject_id) DO UPDATE SET due_at_ms = \
                 LEAST(excluded.due_at_ms, rating_queue.queued_at_ms + $4)",
                [ids.into(), now.into(), due.into(), self.max_delay_ms.into()],
            )
        } else {
            // SQLite's writers take turns: nothing can claim the row meanwhile.
            Statement::from_sql_and_values(
                backend,
                "INSERT INTO rating_queue (subject_id, queued_at_ms, due_at_ms) \
                 SELECT value, ?2, ?3 FROM json_each(?1) WHERE true \
                 ON CONFLICT (subject_id) DO UPDATE SET due_at_ms = \
                 MIN(excluded.due_at_ms, rating_queue.queued_at_ms + ?4)",
                [
                    crate::db::json_parameter(backend, serde_json::json!(ids)),
                    now.into(),
                    due.into(),
                    self.max_delay_ms.into(),
                ],
            )
        };
        txn.execute_raw(statement).await?;
        Ok(())
    }
}

async fn work(db: DatabaseConnection, wake: Arc<Notify>) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let wait = match rate_due(&db).await {
            Ok(next) => {
                backoff = Duration::from_millis(500);
                next.unwrap_or(POLL).min(POLL)
            }
            Err(e) => {
                tracing::warn!(error = %e.detail(), retry_in_ms = backoff.as_millis() as u64, "re-rating queued subjects failed");
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Re-rates every subject due; answers how long until the next queued one is due, or `None`
/// when the queue is empty.
async fn rate_due(db: &DatabaseConnection) -> Result<Option<Duration>, AppError> {
    loop {
        let backend = db.get_database_backend();
        // A read first, so that an idle queue never takes SQLite's write lock.
        let next: Option<i64> = match db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT MIN(due_at_ms) AS next FROM rating_queue",
            ))
            .await?
        {
            Some(row) => row.try_get("", "next")?,
            None => None,
        };
        let Some(next) = next else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp_millis();
        if next > now {
            return Ok(Some(Duration::from_millis((next - now).unsigned_abs())));
        }
        let rated = rate_chunk(db, now).await?;
        if rated == 0 {
            // Due, but claimed by another node or locked by a batch still being stored: look
            // again shortly rather than at once.
            return Ok(Some(Duration::from_millis(100)));
        }
        metrics::counter!("credit_hub_queued_ratings_total").increment(rated as u64);
    }
}

/// Claims up to [`CLAIM`] subjects due at `now_ms` and re-rates them, in one transaction; answers
/// how many.
async fn rate_chunk(db: &DatabaseConnection, now_ms: i64) -> Result<usize, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        "DELETE FROM rating_queue WHERE subject_id IN (SELECT subject_id FROM rating_queue \
         WHERE due_at_ms <= $1 ORDER BY due_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING subject_id"
    } else {
        "DELETE FROM rating_queue WHERE subject_id IN (SELECT subject_id FROM rating_queue \
         WHERE due_at_ms <= ?1 ORDER BY due_at_ms LIMIT ?2) RETURNING subject_id"
    };
    let mut ids = Vec::new();
    for row in txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [now_ms.into(), CLAIM.into()],
        ))
        .await?
    {
        ids.push(row.try_get::<i64>("", "subject_id")?);
    }
    if ids.is_empty() {
        // Another node took them.
        txn.rollback().await?;
        return Ok(0);
    }
    rerate(&txn, &ids, Cause::Record).await?;
    txn.commit().await?;
    Ok(ids.len())
}

/// Runs the queue dry now, whatever the subjects' due times (tests use it to see the stored
/// ratings without waiting).
pub async fn rate_all(db: &DatabaseConnection) -> Result<(), AppError> {
    while rate_chunk(db, i64::MAX).await? > 0 {}
    Ok(())
}
