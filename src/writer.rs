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

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::error::AppError;

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 256;

/// What a committed (or failed) batch tells each job: `Err((unavailable, detail))` on failure.
type Deliver = Box<dyn FnOnce(Result<(), (bool, String)>) + Send>;
type Run = Box<
    dyn for<'t> FnOnce(
            &'t DatabaseTransaction,
        ) -> Pin<Box<dyn Future<Output = Result<Deliver, DbErr>> + Send + 't>>
        + Send,
>;

/// The handle requests use; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Run>,
}

/// What a job's work returns: its answer, or a database error that aborts the batch.
pub type Work<'t, T> = Pin<Box<dyn Future<Output = Result<T, AppError>> + Send + 't>>;

impl Writer {
    /// Starts the writer task for `db`.
    pub fn start(db: DatabaseConnection) -> Self {
        let (jobs, queue) = mpsc::channel::<Run>(4 * MAX_BATCH);
        tokio::spawn(run(db, queue));
        Self { jobs }
    }

    /// Runs `work` in the next group transaction and answers its result once that transaction
    /// has committed. An error of the work (or of any other job in the batch, or of the commit)
    /// means nothing was written.
    pub async fn write<T, F>(&self, work: F) -> Result<T, AppError>
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
            .send(job)
            .await
            .map_err(|_| AppError::internal("the writer has stopped"))?;
        // A batch whose transaction could not begin drops its jobs unanswered: the database
        // is the likely cause, and the write may be retried.
        rx.await.unwrap_or(Err(AppError::Unavailable))
    }
}

async fn run(db: DatabaseConnection, mut queue: mpsc::Receiver<Run>) {
    let mut batch: Vec<Run> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        let count = jobs.len();
        let outcome = commit_batch(&db, jobs).await;
        metrics::histogram!("credit_hub_group_commit_jobs").record(count as f64);
        if let Err(e) = outcome {
            tracing::warn!(error = %e, jobs = count, "a group transaction failed; its writes were not acknowledged");
        }
    }
}

async fn commit_batch(db: &DatabaseConnection, jobs: Vec<Run>) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut delivers = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    for job in jobs.by_ref() {
        match job(&txn).await {
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
