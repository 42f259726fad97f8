//! Credit commitments (信用承诺) and the answers kept for `Idempotency-Key` replays.
//!
//! A commitment is keyed for its recorder by (recorded_by, external_id): the unique index is
//! what makes fifty concurrent retries of one partner request store one row. Overdue listings
//! read (department, status, verify_by). An idempotency key belongs to one client; its answer
//! is kept until `expires_at` (at least 24 hours), a running request holds it until
//! `lease_until`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(Commitment::Table)
            .col(big_pk_auto(Commitment::Id))
            .col(big_integer(Commitment::SubjectId))
            .col(string_len(Commitment::SubjectKind, 32))
            .col(string_len(Commitment::Kind, 32))
            .col(string_len(Commitment::Matter, 200))
            .col(text(Commitment::Content))
            .col(date(Commitment::MadeOn))
            .col(date(Commitment::VerifyBy))
            .col(string_len(Commitment::Department, 64))
            .col(string_len(Commitment::RecordedBy, 64))
            .col(string_len(Commitment::ExternalId, 128))
            .col(string_len(Commitment::ContentHash, 64))
            .col(string_len(Commitment::Status, 24))
            .col(date_null(Commitment::VerifiedOn))
            .col(string_len_null(Commitment::VerifiedBy, 64))
            .col(text_null(Commitment::VerificationNote))
            .col(big_integer_null(Commitment::BreachRecordId))
            .col(text_null(Commitment::WithdrawnReason))
            .col(boolean(Commitment::TypicalCase).default(false))
            .col(text_null(Commitment::TypicalNote))
            .col(string_len_null(Commitment::RequestId, 64))
            .col(timestamp_with_time_zone(Commitment::CreatedAt))
            .col(timestamp_with_time_zone(Commitment::UpdatedAt));
        // The subject is always a row the service just read, and subjects are never deleted.
        // On PostgreSQL the foreign key's trigger costs each insert more than the insert's
        // own indexes (measured on records, migration 000007), so only SQLite keeps it.
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            table.foreign_key(
                ForeignKey::create()
                    .name("fk_commitment_subject")
                    .from(Commitment::Table, Commitment::SubjectId)
                    .to(Subject::Table, Subject::Id),
            );
        }
        manager.create_table(table.to_owned()).await?;
        for (name, columns, unique) in [
            (
                "uq_commitment_recorder_external_id",
                vec![Commitment::RecordedBy, Commitment::ExternalId],
                true,
            ),
            (
                "ix_commitment_subject",
                vec![Commitment::SubjectId, Commitment::Id],
                false,
            ),
            (
                "ix_commitment_department_due",
                vec![
                    Commitment::Department,
                    Commitment::Status,
                    Commitment::VerifyBy,
                ],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Commitment::Table);
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKey::Table)
                    .col(string_len(IdempotencyKey::ClientId, 200))
                    .col(string_len(IdempotencyKey::Key, 255))
                    .col(string_len(IdempotencyKey::RequestHash, 64))
                    .col(string_len(IdempotencyKey::State, 16))
                    .col(integer_null(IdempotencyKey::StatusCode))
                    .col(text_null(IdempotencyKey::Response))
                    .col(timestamp_with_time_zone(IdempotencyKey::LeaseUntil))
                    .col(timestamp_with_time_zone(IdempotencyKey::ExpiresAt))
                    .col(timestamp_with_time_zone(IdempotencyKey::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKey::ClientId)
                            .col(IdempotencyKey::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_key_expires_at")
                    .table(IdempotencyKey::Table)
                    .col(IdempotencyKey::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKey::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Commitment::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Commitment {
    Table,
    Id,
    SubjectId,
    SubjectKind,
    Kind,
    Matter,
    Content,
    MadeOn,
    VerifyBy,
    Department,
    RecordedBy,
    ExternalId,
    ContentHash,
    Status,
    VerifiedOn,
    VerifiedBy,
    VerificationNote,
    BreachRecordId,
    WithdrawnReason,
    TypicalCase,
    TypicalNote,
    RequestId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    ClientId,
    Key,
    RequestHash,
    State,
    StatusCode,
    Response,
    LeaseUntil,
    ExpiresAt,
    CreatedAt,
}
