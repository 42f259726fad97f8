//! An evaluation run's work as chunks of subjects, planned when the run starts. A worker claims
//! one pending chunk at a time (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several workers,
//! on one node or several, each take a different chunk without waiting for the others) and marks
//! it DONE in the transaction that writes its ratings: a crash leaves the chunk PENDING, to be
//! done again by whoever comes next, and a chunk is never rated twice.
//!
//! Before this, a run's progress was one `last_subject_id` that each chunk advanced by
//! compare-and-set in its own transaction, which made two workers take turns instead of sharing
//! the work. Runs started before this migration are planned from their `last_subject_id` when a
//! worker first picks them up.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EvaluationChunk::Table)
                    .col(big_pk_auto(EvaluationChunk::Id))
                    .col(big_integer(EvaluationChunk::RunId))
                    .col(big_integer(EvaluationChunk::FirstSubjectId))
                    .col(big_integer(EvaluationChunk::LastSubjectId))
                    .col(integer(EvaluationChunk::Subjects))
                    .col(string_len(EvaluationChunk::Status, 16))
                    .col(timestamp_with_time_zone_null(EvaluationChunk::DoneAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_evaluation_chunk_run")
                            .from(EvaluationChunk::Table, EvaluationChunk::RunId)
                            .to(EvaluationRun::Table, EvaluationRun::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_evaluation_chunk_run_first")
                    .table(EvaluationChunk::Table)
                    .col(EvaluationChunk::RunId)
                    .col(EvaluationChunk::FirstSubjectId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // What a worker looks for: the pending chunks of a run, in subject order.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_evaluation_chunk_pending \
                 ON evaluation_chunk (run_id, first_subject_id) WHERE status = 'PENDING'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EvaluationChunk::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EvaluationChunk {
    Table,
    Id,
    RunId,
    FirstSubjectId,
    LastSubjectId,
    Subjects,
    Status,
    DoneAt,
}

#[derive(DeriveIden)]
enum EvaluationRun {
    Table,
    Id,
}
