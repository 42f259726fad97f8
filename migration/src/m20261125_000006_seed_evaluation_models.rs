//! The default evaluation models, active from the start: PUBLIC_COMPREHENSIVE (the annual public
//! credit comprehensive evaluation), one model for each industry the work plan names, and
//! RURAL_HOUSEHOLD; and the default rural credit policy (REGULATIONS.md §8).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const MODELS: &str = include_str!("../data/evaluation-models.json");

fn seed_error(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("seed data: {e}"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now = chrono::Utc::now();
        let models: Vec<serde_json::Value> = serde_json::from_str(MODELS).map_err(seed_error)?;
        let mut insert = Query::insert();
        insert.into_table(EvaluationModel::Table).columns([
            EvaluationModel::Code,
            EvaluationModel::Version,
            EvaluationModel::Name,
            EvaluationModel::Description,
            EvaluationModel::Status,
            EvaluationModel::Definition,
            EvaluationModel::CreatedBy,
            EvaluationModel::CreatedAt,
            EvaluationModel::ActivatedAt,
        ]);
        for model in &models {
            let text = |key: &str| model[key].as_str().unwrap_or_default().to_owned();
            insert
                .values([
                    text("code").into(),
                    1.into(),
                    text("name").into(),
                    text("description").into(),
                    "ACTIVE".into(),
                    model["definition"].to_string().into(),
                    "PLATFORM".into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(insert).await?;

        let policy = Query::insert()
            .into_table(RuralCreditPolicy::Table)
            .columns([
                RuralCreditPolicy::Version,
                RuralCreditPolicy::EffectiveFrom,
                RuralCreditPolicy::ModelCode,
                RuralCreditPolicy::HouseholdClasses,
                RuralCreditPolicy::VillagePercent,
                RuralCreditPolicy::TownshipPercent,
                RuralCreditPolicy::CountyPercent,
                RuralCreditPolicy::Source,
            ])
            .values([
                "RURAL-DEFAULT-1".into(),
                chrono::NaiveDate::from_ymd_opt(2020, 1, 1).into(),
                "RURAL_HOUSEHOLD".into(),
                r#"["A"]"#.into(),
                70.into(),
                50.into(),
                60.into(),
                "信用村: 信用户 ≥ 70 % of households; 信用乡(镇): 信用村 ≥ 50 % of villages; \
                 信用县: 信用村 ≥ 60 % of villages (a prefecture's PBoC-led 细则, \
                 REGULATIONS.md §8). A 信用户 is a household graded A by RURAL_HOUSEHOLD."
                    .into(),
            ])
            .map_err(seed_error)?
            .to_owned();
        manager.exec_stmt(policy).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(RuralCreditPolicy::Table)
                    .and_where(Expr::col(RuralCreditPolicy::Version).eq("RURAL-DEFAULT-1"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(EvaluationModel::Table)
                    .and_where(Expr::col(EvaluationModel::Version).eq(1))
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum EvaluationModel {
    Table,
    Code,
    Version,
    Name,
    Description,
    Status,
    Definition,
    CreatedBy,
    CreatedAt,
    ActivatedAt,
}

#[derive(DeriveIden)]
enum RuralCreditPolicy {
    Table,
    Version,
    EffectiveFrom,
    ModelCode,
    HouseholdClasses,
    VillagePercent,
    TownshipPercent,
    CountyPercent,
    Source,
}
