//! Evaluation: versioned models, each subject's current rating per model and the history of its
//! ratings, batch evaluation runs with their progress, and the rural credit policy.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
    columns: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table.into_iden());
    for column in columns {
        statement.col(column);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement.to_owned()).await
}

/// The columns a rating has, current or past.
fn rating_columns(table: &mut TableCreateStatement) {
    table
        .col(big_integer(Rating::SubjectId))
        .col(big_integer(Rating::ModelId))
        .col(string_len(Rating::ModelCode, 64))
        .col(integer(Rating::ModelVersion))
        .col(integer(Rating::Score))
        .col(string_len(Rating::Grade, 8))
        .col(string_len(Rating::GradeClass, 1))
        .col(string_len(Rating::SupervisionLevel, 16))
        .col(text(Rating::Factors))
        .col(date(Rating::AsOf))
        .col(date_null(Rating::ValidUntil))
        .col(timestamp_with_time_zone(Rating::RatedAt))
        .col(string_len(Rating::Cause, 32))
        .col(big_integer_null(Rating::RunId));
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EvaluationModel::Table)
                    .col(big_pk_auto(EvaluationModel::Id))
                    .col(string_len(EvaluationModel::Code, 64))
                    .col(integer(EvaluationModel::Version))
                    .col(string_len(EvaluationModel::Name, 200))
                    .col(text(EvaluationModel::Description))
                    .col(string_len(EvaluationModel::Status, 16))
                    .col(text(EvaluationModel::Definition))
                    .col(string_len(EvaluationModel::CreatedBy, 64))
                    .col(timestamp_with_time_zone(EvaluationModel::CreatedAt))
                    .col(timestamp_with_time_zone_null(EvaluationModel::ActivatedAt))
                    .col(timestamp_with_time_zone_null(EvaluationModel::RetiredAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_evaluation_model_code_version",
            EvaluationModel::Table,
            vec![
                EvaluationModel::Code.into_iden(),
                EvaluationModel::Version.into_iden(),
            ],
            true,
        )
        .await?;

        // One current rating per subject and model: what every read serves.
        let mut current = Table::create();
        current.table(Rating::Table).col(big_pk_auto(Rating::Id));
        rating_columns(&mut current);
        current.foreign_key(
            ForeignKey::create()
                .name("fk_rating_subject")
                .from(Rating::Table, Rating::SubjectId)
                .to(Subject::Table, Subject::Id),
        );
        manager.create_table(current.to_owned()).await?;
        index(
            manager,
            "uq_rating_subject_model",
            Rating::Table,
            vec![Rating::SubjectId.into_iden(), Rating::ModelCode.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "idx_rating_model_level",
            Rating::Table,
            vec![
                Rating::ModelCode.into_iden(),
                Rating::SupervisionLevel.into_iden(),
                Rating::SubjectId.into_iden(),
            ],
            false,
        )
        .await?;

        // Every rating ever made, append-only.
        let mut history = Table::create();
        history
            .table(RatingHistory::Table)
            .col(big_pk_auto(RatingHistory::Id));
        rating_columns(&mut history);
        manager.create_table(history.to_owned()).await?;
        index(
            manager,
            "idx_rating_history_subject_model",
            RatingHistory::Table,
            vec![
                Rating::SubjectId.into_iden(),
                Rating::ModelCode.into_iden(),
                RatingHistory::Id.into_iden(),
            ],
            false,
        )
        .await?;
        // A run rates each subject once, even when two nodes work on it or it resumes.
        index(
            manager,
            "uq_rating_history_run_subject_model",
            RatingHistory::Table,
            vec![
                Rating::RunId.into_iden(),
                Rating::SubjectId.into_iden(),
                Rating::ModelCode.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(EvaluationRun::Table)
                    .col(big_pk_auto(EvaluationRun::Id))
                    .col(string_len(EvaluationRun::ModelCode, 64))
                    .col(big_integer(EvaluationRun::ModelId))
                    .col(integer(EvaluationRun::ModelVersion))
                    .col(date(EvaluationRun::AsOf))
                    .col(string_len(EvaluationRun::Status, 16))
                    .col(big_integer(EvaluationRun::Total))
                    .col(big_integer(EvaluationRun::Done))
                    .col(big_integer(EvaluationRun::LastSubjectId))
                    .col(string_len(EvaluationRun::StartedBy, 64))
                    .col(timestamp_with_time_zone(EvaluationRun::StartedAt))
                    .col(timestamp_with_time_zone(EvaluationRun::UpdatedAt))
                    .col(timestamp_with_time_zone_null(EvaluationRun::FinishedAt))
                    .col(text_null(EvaluationRun::Message))
                    .to_owned(),
            )
            .await?;
        // At most one running evaluation per model: a second start joins the first.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_evaluation_run_running ON evaluation_run (model_code) \
                 WHERE status = 'RUNNING'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RuralCreditPolicy::Table)
                    .col(big_pk_auto(RuralCreditPolicy::Id))
                    .col(string_len_uniq(RuralCreditPolicy::Version, 64))
                    .col(date(RuralCreditPolicy::EffectiveFrom))
                    .col(string_len(RuralCreditPolicy::ModelCode, 64))
                    .col(text(RuralCreditPolicy::HouseholdClasses))
                    .col(integer(RuralCreditPolicy::VillagePercent))
                    .col(integer(RuralCreditPolicy::TownshipPercent))
                    .col(integer(RuralCreditPolicy::CountyPercent))
                    .col(text(RuralCreditPolicy::Source))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RuralCreditPolicy::Table.into_iden(),
            EvaluationRun::Table.into_iden(),
            RatingHistory::Table.into_iden(),
            Rating::Table.into_iden(),
            EvaluationModel::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EvaluationModel {
    Table,
    Id,
    Code,
    Version,
    Name,
    Description,
    Status,
    Definition,
    CreatedBy,
    CreatedAt,
    ActivatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum Rating {
    Table,
    Id,
    SubjectId,
    ModelId,
    ModelCode,
    ModelVersion,
    Score,
    Grade,
    GradeClass,
    SupervisionLevel,
    Factors,
    AsOf,
    ValidUntil,
    RatedAt,
    Cause,
    RunId,
}

#[derive(DeriveIden)]
enum RatingHistory {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EvaluationRun {
    Table,
    Id,
    ModelCode,
    ModelId,
    ModelVersion,
    AsOf,
    Status,
    Total,
    Done,
    LastSubjectId,
    StartedBy,
    StartedAt,
    UpdatedAt,
    FinishedAt,
    Message,
}

#[derive(DeriveIden)]
enum RuralCreditPolicy {
    Table,
    Id,
    Version,
    EffectiveFrom,
    ModelCode,
    HouseholdClasses,
    VillagePercent,
    TownshipPercent,
    CountyPercent,
    Source,
}
