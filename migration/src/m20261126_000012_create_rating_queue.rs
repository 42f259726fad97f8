//! The subjects whose records changed in bulk and whose ratings are still to follow. A batch of
//! submitted records enters its subjects here in its own transaction; a worker re-rates them
//! once no more have come for a moment (`ratings::queue`), many batches' subjects at a time, and
//! removes them in the transaction that writes their ratings. Until then every read of such a subject's rating or
//! eligibility computes it from the records themselves.
//!
//! Before this, each batch re-rated its subjects inside its own transaction: under every model
//! that applies, one rating row and one history row each, ten for an industry-C enterprise —
//! measured on the ingest benchmark as three quarters of a batch's time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RatingQueue::Table)
                    .col(big_integer(RatingQueue::SubjectId).primary_key())
                    // Milliseconds since the epoch: the first change still to be rated, and
                    // when to rate it (a quiet moment after the last change, at the latest a
                    // bound after the first).
                    .col(big_integer(RatingQueue::QueuedAtMs))
                    .col(big_integer(RatingQueue::DueAtMs))
                    .to_owned(),
            )
            .await?;
        // What the worker looks for: the subjects due, earliest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_rating_queue_due_at")
                    .table(RatingQueue::Table)
                    .col(RatingQueue::DueAtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RatingQueue::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RatingQueue {
    Table,
    SubjectId,
    QueuedAtMs,
    DueAtMs,
}
