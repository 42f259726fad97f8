//! The audit of reads on the hot path (eligibility checks): appended by a background writer in
//! batches instead of one insert per request, so that a check costs one read. Writes are never
//! audited here — theirs is in their own transaction.
//!
//! A read's entry is queued before its answer leaves; the writer inserts what gathered in one
//! statement, after 100 ms or once enough rows wait (on PostgreSQL 50, on SQLite 1000), at most
//! 1000 rows, and at once again if more wait. When the queue is full the entry is written at
//! once instead, so nothing is dropped while the node runs. On PostgreSQL the writer has a pool
//! of its own ([`crate::db::connect_audit_writer`]), which pings its connection before each
//! batch. A node that stops gracefully writes what is queued after its last request
//! ([`ReadAudit::flush`]); one that crashes loses the entries of its last 100 ms.

use sea_orm::{DatabaseConnection, DbBackend, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::{Actor, AuditEntry, Row, stamp};
use crate::error::AppError;

/// Entries queued at most; beyond, a read writes its own.
const QUEUE: usize = 50_000;
/// Rows per flush at most.
const BATCH: usize = 1000;
/// Rows enough for an insert on PostgreSQL: once this many wait, they are written without
/// waiting longer (see [`gather`]). On SQLite a whole batch: there every commit also empties the
/// page cache of every connection reading the file, and costs an fsync.
const ENOUGH: usize = 50;
/// How long entries gather at most before an insert, when fewer than [`ENOUGH`] wait.
const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// How often the writer looks how many rows wait, while they gather.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(5);

/// What the writer is sent: a row, or a request to write everything before it now.
enum Queued {
    Row(Row),
    Flush(oneshot::Sender<()>),
}

/// The handle reads use; cheap to clone.
#[derive(Clone)]
pub struct ReadAudit {
    queue: mpsc::Sender<Queued>,
}

impl ReadAudit {
    /// Starts the writer, which writes through `db` (on PostgreSQL a pool of its own, see
    /// [`crate::db::connect_audit_writer`]).
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, rows) = mpsc::channel(QUEUE);
        let enough = match db.get_database_backend() {
            DbBackend::Postgres => ENOUGH,
            _ => BATCH,
        };
        tokio::spawn(write(db, rows, enough));
        Self { queue }
    }

    /// Queues the entries of one read; writes them at once if the queue is full.
    pub async fn record(
        &self,
        db: &DatabaseConnection,
        actor: &Actor,
        entries: Vec<AuditEntry>,
    ) -> Result<(), AppError> {
        let mut overflow = Vec::new();
        for row in stamp(actor, entries) {
            if let Err(
                mpsc::error::TrySendError::Full(queued) | mpsc::error::TrySendError::Closed(queued),
            ) = self.queue.try_send(Queued::Row(row))
                && let Queued::Row(row) = queued
            {
                overflow.push(row);
            }
        }
        super::insert(db, &overflow).await?;
        Ok(())
    }

    /// Returns once every entry queued before the call is written (or its failure logged): what
    /// a node does after its last request, before it exits.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write(db: DatabaseConnection, mut queue: mpsc::Receiver<Queued>, enough: usize) {
    let mut received = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while queue.recv_many(&mut received, BATCH).await > 0 {
        gather(&mut queue, &mut received, enough).await;
        for q in received.drain(..) {
            match q {
                Queued::Row(row) => batch.push(row),
                Queued::Flush(done) => waiting.push(done),
            }
        }
        let count = batch.len();
        // Twice, a moment apart: a busy SQLite or a restarting PostgreSQL gets a second chance.
        let mut result = insert(&db, &batch).await;
        if result.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            result = insert(&db, &batch).await;
        }
        match result {
            Ok(()) => metrics::histogram!("credit_hub_read_audit_batch").record(count as f64),
            Err(e) => {
                tracing::error!(error = %e, lost = count, "read audit entries could not be written")
            }
        }
        batch.clear();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Adds to `received` (which holds what arrived first) what arrives until `enough` rows or a
/// flush request wait, or [`FLUSH_INTERVAL`] has passed: one insert (one commit, one fsync on
/// SQLite) per moment instead of one per handful of reads (measured at 20,000 subjects: writing
/// as soon as anything was queued cost a third of the eligibility throughput), and no more rows
/// at once than a moment's. On PostgreSQL each row is an insert at a random place of the
/// subject index, and the first change of an index page after a checkpoint writes the whole
/// page to the WAL: 250 rows at once (100 ms at 2,500 checks/s) kept a core busy long enough to
/// be seen in the checks' latency. Measured on 2 cores, 1,000,000 subjects, a fixed 2,500
/// checks/s (`benches/eligibility`, alternating runs): oha's p99 3.2–4.2 ms with 100 ms
/// batches, 2.4–2.9 ms with 50 rows, 2.2–2.3 ms with no audit at all. Under load, rows gather
/// while the previous insert runs, so batches grow with the rate and the inserts do not
/// outnumber what the connection can commit.
async fn gather(queue: &mut mpsc::Receiver<Queued>, received: &mut Vec<Queued>, enough: usize) {
    let deadline = tokio::time::Instant::now() + FLUSH_INTERVAL;
    loop {
        while received.len() < BATCH {
            match queue.try_recv() {
                Ok(q) => received.push(q),
                Err(_) => break,
            }
        }
        let rows = received
            .iter()
            .filter(|q| matches!(q, Queued::Row(_)))
            .count();
        let flush = received.iter().any(|q| matches!(q, Queued::Flush(..)));
        let now = tokio::time::Instant::now();
        if rows >= enough || flush || now >= deadline {
            return;
        }
        // A look every few milliseconds rather than a wake-up for every row queued: each
        // would wake a thread of the runtime, once for each check.
        tokio::time::sleep_until(deadline.min(now + LOOK_EVERY)).await;
    }
}

/// Inserts the rows in one transaction.
async fn insert(db: &DatabaseConnection, rows: &[Row]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    super::insert(&txn, rows).await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{Duration, Instant};

    fn row() -> Queued {
        Queued::Row(Row {
            occurred_at: chrono::Utc::now(),
            request_id: None,
            actor: None,
            organization_code: None,
            role: None,
            action: "TEST_READ",
            subject_id: Some(1),
            purpose: None,
            consent_ref: None,
            detail: None,
        })
    }

    /// The first of `rows` as `write` has it (taken by its `recv_many`), the rest queued.
    async fn queued(rows: usize) -> (mpsc::Sender<Queued>, mpsc::Receiver<Queued>, Vec<Queued>) {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        for _ in 0..rows {
            tx.send(row()).await.expect("queued");
        }
        let mut received = Vec::new();
        rx.recv_many(&mut received, 1).await;
        (tx, rx, received)
    }

    #[tokio::test(start_paused = true)]
    async fn a_few_rows_wait_the_interval_then_go_together() {
        let (tx, mut rx, mut received) = queued(ENOUGH - 1).await;
        let started = Instant::now();
        gather(&mut rx, &mut received, ENOUGH).await;
        assert_eq!(received.len(), ENOUGH - 1, "every queued row taken");
        assert!(started.elapsed() >= FLUSH_INTERVAL, "waited for more");
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn enough_rows_go_at_once() {
        let (tx, mut rx, mut received) = queued(ENOUGH + 10).await;
        let started = Instant::now();
        gather(&mut rx, &mut received, ENOUGH).await;
        assert_eq!(received.len(), ENOUGH + 10);
        assert_eq!(started.elapsed(), Duration::ZERO, "no wait");
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn rows_arriving_while_gathering_end_the_wait_once_enough() {
        let (tx, mut rx, mut received) = queued(10).await;
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            for _ in 0..ENOUGH {
                tx.send(row()).await.expect("queued");
            }
            tx
        });
        let started = Instant::now();
        gather(&mut rx, &mut received, ENOUGH).await;
        let waited = started.elapsed();
        assert_eq!(received.len(), 10 + ENOUGH);
        assert!(
            waited >= Duration::from_millis(20) && waited <= Duration::from_millis(20) + LOOK_EVERY,
            "gathered until the rows came, looking every {LOOK_EVERY:?}: {waited:?}"
        );
        drop(late.await.expect("sender"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_request_ends_the_wait() {
        let (tx, mut rx, mut received) = queued(3).await;
        let (done, _written) = oneshot::channel();
        tx.send(Queued::Flush(done)).await.expect("queued");
        let started = Instant::now();
        gather(&mut rx, &mut received, ENOUGH).await;
        assert_eq!(received.len(), 4);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_a_batch_is_taken() {
        let (tx, mut rx, mut received) = queued(BATCH + 5).await;
        gather(&mut rx, &mut received, ENOUGH).await;
        assert_eq!(received.len(), BATCH);
        assert_eq!(rx.len(), 5, "the rest waits for the next insert");
        drop(tx);
    }
}
