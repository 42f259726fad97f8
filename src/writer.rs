//! Group commit: small writes from many concurrent requests share one transaction, so that one
//! commit (one fsync on SQLite, one WAL flush on PostgreSQL) acknowledges many of them.
//!
//! A request hands its work to the writer and waits. The writer takes every job waiting (up to
//! [`MAX_BATCH`]), runs them one after another in one transaction and commits; only then does
//! each request get its answer. If any statement fails or the commit does, every job of the
//! batch gets an error and nothing of it is acknowledged: the jobs are idempotent writes (by a
//! natural key) that the caller may retry. Business outcomes (a conflict, a replay) are answers,
//! not errors, so they never abort a batch.
//!
//! On SQLite, where writers take turns on one lock, this also replaces the busy-wait of
//! concurrent writers (sleeps of up to 100 ms between tries) with a queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::AppError;

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 256;
/// Group transactions in flight at once on PostgreSQL.
pub const PG_WRITERS: usize = 4;

/// What a committed (or failed) batch tells each job: `Err((unavailable, detail))` on failure.
type Deliver = Box<dyn FnOnce(Result<(), (bool, String)>) + Send>;
type Run = Box<
    dyn for<'t> FnOnce(
            &'t DatabaseTransaction,
        ) -> Pin<Box<dyn Future<Output = Result<Deliver, DbErr>> + Send + 't>>
        + Send,
>;

/// A job: its ordering key (jobs of a batch run in key order) and its work.
struct Job {
    key: String,
    run: Run,
}

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// What a job's work returns: its answer, or a database error that aborts the batch.
pub type Work<'t, T> = Pin<Box<dyn Future<Output = Result<T, AppError>> + Send + 't>>;

impl Writer {
    /// Starts the writer tasks for `db`: one on SQLite, whose writers take turns anyway; on
    /// PostgreSQL [`PG_WRITERS`], so that one batch runs while another waits for its commit.
    pub fn start(db: DatabaseConnection) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>(4 * MAX_BATCH);
        let queue = Arc::new(Mutex::new(queue));
        let writers = match db.get_database_backend() {
            DbBackend::Postgres => PG_WRITERS,
            _ => 1,
        };
        for _ in 0..writers {
            tokio::spawn(run(db.clone(), queue.clone()));
        }
        Self { jobs }
    }

    /// Runs `work` in the next group transaction and answers its result once that transaction
    /// has committed. An error of the work (or of any other job in the batch, or of the commit)
    /// means nothing was written. `key` orders the jobs of a batch (pass the natural key the
    /// work writes), so that concurrent batches take their row locks in the same order and
    /// cannot deadlock.
    pub async fn write<T, F>(&self, key: String, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> Work<'t, T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, AppError>>();
        let job: Run = Box::new(move |txn| {
            Box::pin(async move {
                match work(txn).await {
                    Ok(value) => {
                        let deliver: Deliver = Box::new(move |committed| {
                            let _ = tx.send(match committed {
                                Ok(()) => Ok(value),
                                Err((true, _)) => Err(AppError::Unavailable),
                                Err((false, detail)) => Err(AppError::internal(detail)),
                            });
                        });
                        Ok(deliver)
                    }
                    Err(other) => {
                        let message = other.detail();
                        let _ = tx.send(Err(other));
                        Err(DbErr::Custom(message))
                    }
                }
            })
        });
        self.jobs
            .send(Job { key, run: job })
            .await
            .map_err(|_| AppError::internal("the writer has stopped"))?;
        // A batch whose transaction could not begin drops its jobs unanswered: the database
        // is the likely cause, and the write may be retried.
        rx.await.unwrap_or(Err(AppError::Unavailable))
    }
}

async fn run(db: DatabaseConnection, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        // One writer at a time takes what is waiting; the others run their batches meanwhile.
        let taken = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
        let mut jobs = std::mem::take(&mut batch);
        jobs.sort_by(|a, b| a.key.cmp(&b.key));
        let count = jobs.len();
        let outcome = commit_batch(&db, jobs).await;
        metrics::histogram!("credit_hub_group_commit_jobs").record(count as f64);
        if let Err(e) = outcome {
            tracing::warn!(error = %e, jobs = count, "a group transaction failed; its writes were not acknowledged");
        }
    }
}

async fn commit_batch(db: &DatabaseConnection, jobs: Vec<Job>) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut delivers = Vec::with_capacity(jobs.len());
    for job in jobs {
        match (job.run)(&txn).await {
            Ok(deliver) => delivers.push(deliver),
            Err(e) => {
                // The failed job has its error; the rest of the batch (run or not) gets one too
                // when its sender drops.
                let failure = (crate::error::is_connection_error(&e), e.to_string());
                let _ = txn.rollback().await;
                for deliver in delivers {
                    deliver(Err(failure.clone()));
                }
                return Err(e);
            }
        }
    }
    let committed = txn.commit().await;
    let result = committed
        .as_ref()
        .map(|_| ())
        .map_err(|e| (crate::error::is_connection_error(e), e.to_string()));
    for deliver in delivers {
        deliver(result.clone());
    }
    committed
}
