//! 信易+ benefits and credit financing: scenarios as data (a FINANCING scenario is a bank's loan
//! product, with its amounts and term), the uses apps record, the catalog items of loan outcomes
//! (以贷促信), and `credit_state`, each subject's facts as eligibility reads them — its active
//! list entries and negative records — which every write keeps current in its own transaction,
//! so that an eligibility check is one indexed read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SCENARIOS: &str = include_str!("../data/benefit-scenarios.json");

fn seed_error(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("seed data: {e}"))
}

/// The catalog items of loan outcomes a bank feeds back: code, name, polarity.
const LOAN_ITEMS: [(&str, &str, &str); 3] = [
    ("LOAN_GRANTED", "信用贷款发放信息", "NEUTRAL"),
    ("LOAN_REPAID_ON_TIME", "信用贷款按期还款信息", "POSITIVE"),
    ("LOAN_OVERDUE", "信用贷款逾期信息", "NEGATIVE"),
];

fn loan_fields() -> serde_json::Value {
    serde_json::json!([
        {"code": "DKBH", "key": "loanRef", "name": "贷款合同编号", "kind": "TEXT", "required": true, "maxLength": 128, "role": "SOURCE_REF"},
        {"code": "RQ", "key": "date", "name": "发生日期", "kind": "DATE", "required": true, "role": "DECISION_DATE"},
        {"code": "CP", "key": "product", "name": "贷款产品", "kind": "TEXT", "required": true, "maxLength": 64},
        {"code": "JE", "key": "amount", "name": "金额（万元）", "kind": "AMOUNT_WAN", "required": true},
        {"code": "YQTS", "key": "overdueDays", "name": "逾期天数", "kind": "TEXT", "required": false, "maxLength": 8},
        {"code": "JG", "key": "lender", "name": "放贷机构", "kind": "TEXT", "required": true, "maxLength": 200}
    ])
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BenefitScenario::Table)
                    .col(big_pk_auto(BenefitScenario::Id))
                    .col(string_len_uniq(BenefitScenario::Code, 64))
                    .col(string_len(BenefitScenario::Name, 200))
                    .col(string_len(BenefitScenario::Category, 16))
                    .col(string_len(BenefitScenario::Provider, 64))
                    .col(text(BenefitScenario::Benefit))
                    .col(text(BenefitScenario::Rule))
                    .col(string_len(BenefitScenario::Status, 16))
                    .col(big_integer_null(BenefitScenario::LoanAmountMinYuan))
                    .col(big_integer_null(BenefitScenario::LoanAmountMaxYuan))
                    .col(integer_null(BenefitScenario::LoanTermMonths))
                    .col(text_null(BenefitScenario::LoanRateNote))
                    .col(string_len(BenefitScenario::UpdatedBy, 64))
                    .col(timestamp_with_time_zone(BenefitScenario::CreatedAt))
                    .col(timestamp_with_time_zone(BenefitScenario::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BenefitUse::Table)
                    .col(big_pk_auto(BenefitUse::Id))
                    .col(string_len(BenefitUse::Scenario, 64))
                    .col(big_integer(BenefitUse::SubjectId))
                    .col(string_len(BenefitUse::RecordedBy, 64))
                    .col(string_len(BenefitUse::ExternalId, 128))
                    .col(string_len(BenefitUse::ContentHash, 64))
                    .col(date(BenefitUse::UsedOn))
                    .col(string_len_null(BenefitUse::Grade, 8))
                    .col(text_null(BenefitUse::Note))
                    .col(string_len_null(BenefitUse::RequestId, 64))
                    .col(timestamp_with_time_zone(BenefitUse::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, table, columns, unique) in [
            (
                "uq_benefit_use_recorder_external_id",
                BenefitUse::Table,
                vec![BenefitUse::RecordedBy, BenefitUse::ExternalId],
                true,
            ),
            (
                "ix_benefit_use_scenario_used_on",
                BenefitUse::Table,
                vec![BenefitUse::Scenario, BenefitUse::UsedOn],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
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
                    .table(CreditState::Table)
                    .col(big_integer(CreditState::SubjectId).primary_key())
                    .col(text(CreditState::Facts))
                    .col(timestamp_with_time_zone(CreditState::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        let now = chrono::Utc::now();
        let scenarios: Vec<serde_json::Value> =
            serde_json::from_str(SCENARIOS).map_err(seed_error)?;
        let mut insert = Query::insert();
        insert.into_table(BenefitScenario::Table).columns([
            BenefitScenario::Code,
            BenefitScenario::Name,
            BenefitScenario::Category,
            BenefitScenario::Provider,
            BenefitScenario::Benefit,
            BenefitScenario::Rule,
            BenefitScenario::Status,
            BenefitScenario::LoanAmountMinYuan,
            BenefitScenario::LoanAmountMaxYuan,
            BenefitScenario::LoanTermMonths,
            BenefitScenario::LoanRateNote,
            BenefitScenario::UpdatedBy,
            BenefitScenario::CreatedAt,
            BenefitScenario::UpdatedAt,
        ]);
        for s in &scenarios {
            let text = |key: &str| s[key].as_str().unwrap_or_default().to_owned();
            let loan = &s["loan"];
            insert
                .values([
                    text("code").into(),
                    text("name").into(),
                    text("category").into(),
                    text("provider").into(),
                    text("benefit").into(),
                    s["rule"].to_string().into(),
                    "ACTIVE".into(),
                    loan["amountMinYuan"].as_i64().into(),
                    loan["amountMaxYuan"].as_i64().into(),
                    loan["termMonths"].as_i64().map(|t| t as i32).into(),
                    loan["rateNote"].as_str().map(str::to_owned).into(),
                    "PLATFORM".into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(insert).await?;

        let mut items = Query::insert();
        items.into_table(CatalogItem::Table).columns([
            CatalogItem::Code,
            CatalogItem::Name,
            CatalogItem::Category,
            CatalogItem::Polarity,
            CatalogItem::Disclosure,
            CatalogItem::Providers,
            CatalogItem::Fields,
            CatalogItem::Repairable,
            CatalogItem::Version,
            CatalogItem::Active,
            CatalogItem::CreatedAt,
            CatalogItem::UpdatedAt,
        ]);
        for (code, name, polarity) in LOAN_ITEMS {
            items
                .values([
                    code.into(),
                    name.into(),
                    "OTHER".into(),
                    polarity.into(),
                    "AUTHORIZED".into(),
                    "[]".into(),
                    loan_fields().to_string().into(),
                    (polarity == "NEGATIVE").into(),
                    1.into(),
                    true.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(items).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(CatalogItem::Table)
                    .and_where(Expr::col(CatalogItem::Code).is_in(LOAN_ITEMS.map(|i| i.0)))
                    .to_owned(),
            )
            .await?;
        for table in [
            CreditState::Table.into_iden(),
            BenefitUse::Table.into_iden(),
            BenefitScenario::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum BenefitScenario {
    Table,
    Id,
    Code,
    Name,
    Category,
    Provider,
    Benefit,
    Rule,
    Status,
    LoanAmountMinYuan,
    LoanAmountMaxYuan,
    LoanTermMonths,
    LoanRateNote,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BenefitUse {
    Table,
    Id,
    Scenario,
    SubjectId,
    RecordedBy,
    ExternalId,
    ContentHash,
    UsedOn,
    Grade,
    Note,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CreditState {
    Table,
    SubjectId,
    Facts,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CatalogItem {
    Table,
    Code,
    Name,
    Category,
    Polarity,
    Disclosure,
    Providers,
    Fields,
    Repairable,
    Version,
    Active,
    CreatedAt,
    UpdatedAt,
}
