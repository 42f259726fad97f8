//! Group commit: small writes from many concurrent requests share one transaction, so that one
//! commit (one fsync on SQLite, one WAL flush on PostgreSQL) and one multi-row statement serve
//! many of them.
//!
//! A request hands its item to a [`Batcher`] and waits. A writer task takes every item waiting
//! (up to [`MAX_BATCH`]) and calls the batch function, which writes them all in one transaction
//! and answers each; only after the commit does each request get its answer. If the batch
//! fails, every item of it gets the error and nothing of it was written: the items are
//! idempotent writes (by a natural key) that the caller may retry. Business outcomes (a
//! conflict, a replay) are answers, not errors.
//!
//! On SQLite, where writers take turns on one lock, one writer task also replaces the busy-wait
//! of concurrent writers (sleeps of up to 100 ms between tries) with a queue. On PostgreSQL
//! [`PG_WRITERS`] tasks keep batches in flight while others wait for their commit; batch
//! functions write their rows in key order, so that concurrent batches lock alike.
//!
//! The same queue coalesces the hot path's reads ([`Batcher::start_with`]): there the batch
//! function is one statement reading every subject asked about while the readers were busy.

use std::future::Future;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::AppError;

/// The most items one transaction takes.
pub const MAX_BATCH: usize = 256;
/// Group transactions in flight at once on PostgreSQL.
pub const PG_WRITERS: usize = 4;

type Item<I, O> = (I, oneshot::Sender<Result<O, AppError>>);

/// The handle requests use; cheap to clone.
pub struct Batcher<I, O> {
    items: mpsc::Sender<Item<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            items: self.items.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the writer tasks of `write`, which writes a batch in one transaction and answers
    /// one output per item, in order.
    pub fn start<F, Fut>(db: DatabaseConnection, name: &'static str, write: F) -> Self
    where
        F: Fn(DatabaseConnection, Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, AppError>> + Send + 'static,
    {
        let writers = match db.get_database_backend() {
            DbBackend::Postgres => PG_WRITERS,
            _ => 1,
        };
        Self::start_with(db, writers, name, write)
    }

    /// Starts `tasks` tasks that each take what is waiting and call `batch` with `context`,
    /// which answers one output per item, in order.
    pub fn start_with<C, F, Fut>(context: C, tasks: usize, name: &'static str, batch: F) -> Self
    where
        C: Clone + Send + 'static,
        F: Fn(C, Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, AppError>> + Send + 'static,
    {
        let (items, queue) = mpsc::channel::<Item<I, O>>(4 * MAX_BATCH);
        let queue = Arc::new(Mutex::new(queue));
        let batch = Arc::new(batch);
        for _ in 0..tasks.max(1) {
            tokio::spawn(run(context.clone(), queue.clone(), batch.clone(), name));
        }
        Self { items }
    }

    /// Whether the tasks are gone (their runtime has ended): nothing submitted would be answered.
    pub fn is_closed(&self) -> bool {
        self.items.is_closed()
    }

    /// Writes `item` in the next group transaction and answers once that has committed.
    pub async fn submit(&self, item: I) -> Result<O, AppError> {
        let (tx, rx) = oneshot::channel();
        self.items
            .send((item, tx))
            .await
            .map_err(|_| AppError::internal("the writer has stopped"))?;
        // A batch that failed answers its error; one whose writer vanished answers nothing:
        // the database is the likely cause, and the write may be retried.
        rx.await.unwrap_or(Err(AppError::Unavailable))
    }
}

async fn run<I, O, C, F, Fut>(
    context: C,
    queue: Arc<Mutex<mpsc::Receiver<Item<I, O>>>>,
    write: Arc<F>,
    name: &'static str,
) where
    C: Clone,
    F: Fn(C, Vec<I>) -> Fut,
    Fut: Future<Output = Result<Vec<O>, AppError>>,
{
    let mut batch: Vec<Item<I, O>> = Vec::with_capacity(MAX_BATCH);
    loop {
        // One writer at a time takes what is waiting; the others run their batches meanwhile.
        let taken = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
        let (inputs, answers): (Vec<I>, Vec<_>) = std::mem::take(&mut batch).into_iter().unzip();
        metrics::histogram!("credit_hub_batch_items", "batcher" => name).record(taken as f64);
        match write(context.clone(), inputs).await {
            Ok(outputs) if outputs.len() == answers.len() => {
                for (answer, output) in answers.into_iter().zip(outputs) {
                    let _ = answer.send(Ok(output));
                }
            }
            Ok(outputs) => {
                tracing::error!(
                    batcher = name,
                    items = answers.len(),
                    outputs = outputs.len(),
                    "a batch answered the wrong number of items"
                );
                for answer in answers {
                    let _ = answer.send(Err(AppError::internal("a batch lost count")));
                }
            }
            Err(e) => {
                tracing::warn!(batcher = name, error = %e.detail(), items = answers.len(), "a batch failed; each of its items was answered with the error (nothing of a write batch was written)");
                let unavailable = matches!(e, AppError::Unavailable);
                let detail = e.detail();
                for answer in answers {
                    let _ = answer.send(Err(if unavailable {
                        AppError::Unavailable
                    } else {
                        AppError::internal(detail.clone())
                    }));
                }
            }
        }
    }
}
