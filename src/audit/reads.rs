//! The audit of reads on the hot path (eligibility checks): appended by a background writer in
//! batches instead of one insert per request, so that a check costs one read. Writes are never
//! audited here — theirs is in their own transaction.
//!
//! A read's entry is queued before its answer leaves; the writer inserts what gathered in the
//! last 100 ms in one statement (up to 1000 rows, and at once again if more wait). When the queue
//! is full the entry is written at once instead, so nothing is dropped while the node runs; a
//! node that stops loses the entries still queued (those of the last 100 ms).

use entity::audit_log;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, TransactionTrait};
use tokio::sync::mpsc;

use super::{Actor, AuditEntry, rows};
use crate::error::AppError;

/// Entries queued at most; beyond, a read writes its own.
const QUEUE: usize = 50_000;
/// Rows per insert: 10 columns, far under SQLite's parameter limit.
const BATCH: usize = 1000;
/// How long entries gather before an insert.
const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The handle reads use; cheap to clone.
#[derive(Clone)]
pub struct ReadAudit {
    queue: mpsc::Sender<audit_log::ActiveModel>,
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
        for row in rows(actor, entries) {
            if let Err(
                mpsc::error::TrySendError::Full(row) | mpsc::error::TrySendError::Closed(row),
            ) = self.queue.try_send(row)
            {
                overflow.push(row);
            }
        }
        if !overflow.is_empty() {
            audit_log::Entity::insert_many(overflow)
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }
}

async fn write(db: DatabaseConnection, mut rows: mpsc::Receiver<audit_log::ActiveModel>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rows.recv_many(&mut batch, BATCH).await > 0 {
        // Let a moment's entries gather: one insert (one commit, one fsync on SQLite) per
        // interval instead of one per handful of reads. Measured at 20,000 subjects, writing
        // as soon as anything was queued cost a third of the eligibility throughput.
        tokio::time::sleep(FLUSH_INTERVAL).await;
        while batch.len() < BATCH {
            match rows.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
        }
        let pending = std::mem::take(&mut batch);
        let count = pending.len();
        // Twice, a moment apart: a busy SQLite or a reconnecting pool gets a second chance.
        let mut result = insert(&db, &pending).await;
        if result.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            result = insert(&db, &pending).await;
        }
        match result {
            Ok(_) => metrics::histogram!("credit_hub_read_audit_batch").record(count as f64),
            Err(e) => {
                tracing::error!(error = %e, lost = count, "read audit entries could not be written")
            }
        }
    }
}

/// Inserts the rows in one transaction, in runs of powers of two (few statement shapes).
async fn insert(db: &DatabaseConnection, rows: &[audit_log::ActiveModel]) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    for run in crate::db::power_of_two_runs(rows.len(), 512) {
        audit_log::Entity::insert_many(rows[run].to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}
