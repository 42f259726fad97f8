//! The subjects whose records changed in bulk and whose ratings are still to follow. A batch of
//! submitted records enters its subjects here in its own transaction; a worker re-rates them a
//! little later (`ratings::queue`), many batches' subjects at a time, and removes them in the
//! transaction that writes their ratings. Until then every read of such a subject's rating or
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
                    // Milliseconds since the epoch of the first change still to be rated: a
                    // subject changed again while queued keeps its place.
                    .col(big_integer(RatingQueue::QueuedAtMs))
                    .to_owned(),
            )
            .await?;
        // What the worker looks for: the subjects queued long enough, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_rating_queue_queued_at")
                    .table(RatingQueue::Table)
                    .col(RatingQueue::QueuedAtMs)
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
}
