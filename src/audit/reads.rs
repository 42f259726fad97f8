//! The audit of reads on the hot path (eligibility checks): appended by a background writer in
//! batches instead of one insert per request, so that a check costs one read. Writes are never
//! audited here — theirs is in their own transaction.
//!
//! A read's entry is queued before its answer leaves; the writer inserts what gathered in the
//! last 100 ms in one statement (up to 1000 rows, and at once again if more wait). When the queue
//! is full the entry is written at once instead, so nothing is dropped while the node runs. A
//! node that stops gracefully writes what is queued after its last request ([`ReadAudit::flush`]);
//! one that crashes loses the entries of its last 100 ms.

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::{Actor, AuditEntry, Row, stamp};
use crate::error::AppError;

/// Entries queued at most; beyond, a read writes its own.
const QUEUE: usize = 50_000;
/// Rows per flush at most.
const BATCH: usize = 1000;
/// How long entries gather before an insert, unless a whole batch is already waiting.
const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

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
    /// Starts the writer for `db`.
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, rows) = mpsc::channel(QUEUE);
        tokio::spawn(write(db, rows));
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

async fn write(db: DatabaseConnection, mut queue: mpsc::Receiver<Queued>) {
    let mut received = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while queue.recv_many(&mut received, BATCH).await > 0 {
        // Let a moment's entries gather: one insert (one commit, one fsync on SQLite) per
        // interval instead of one per handful of reads (measured at 20,000 subjects: writing as
        // soon as anything was queued cost a third of the eligibility throughput). A whole batch
        // already waiting, or a flush, is written at once: sleeping then too capped the writer
        // below the read rate, and the queue grew by tens of megabytes under load.
        let flush = received.iter().any(|q| matches!(q, Queued::Flush(_)));
        if received.len() < BATCH && !flush {
            tokio::time::sleep(FLUSH_INTERVAL).await;
            while received.len() < BATCH {
                match queue.try_recv() {
                    Ok(q) => received.push(q),
                    Err(_) => break,
                }
            }
        }
        for q in received.drain(..) {
            match q {
                Queued::Row(row) => batch.push(row),
                Queued::Flush(done) => waiting.push(done),
            }
        }
        let count = batch.len();
        // Twice, a moment apart: a busy SQLite or a reconnecting pool gets a second chance.
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

/// Inserts the rows in one transaction.
async fn insert(db: &DatabaseConnection, rows: &[Row]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    super::insert(&txn, rows).await?;
    txn.commit().await
}
