//! The default public credit information catalog (every category, with the national 双公示 data
//! items for licenses and penalties), the publicity policies in force since 2023-05-01, and the
//! working-day calendar 2023–2025 from the State Council notices.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CATALOG: &str = include_str!("../data/default-catalog.json");
const CALENDAR: &str = include_str!("../data/cn-workday-calendar.csv");
const CALENDAR_SOURCE: &str =
    "国办发明电〔2022〕16号, 〔2023〕7号, 〔2024〕12号 (State Council holiday notices 2023-2025)";

/// Publicity rules as data (REGULATIONS.md §2.2): NDRC Order 58 from 2023-05-01, and the NDRC
/// 信用修复管理办法 that replaced it from 2026-04-01 with the same periods.
const POLICIES: &[(&str, &str)] = &[
    ("NDRC-ORDER-58", "2023-05-01"),
    ("NDRC-CREDIT-REPAIR-2026", "2026-04-01"),
];

fn seed_error(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("seed data: {e}"))
}

fn policy_rules(version: &str, effective_from: &str) -> String {
    serde_json::json!({
        "version": version,
        "effective_from": effective_from,
        "report_deadline_working_days": 7,
        "general_min_months": 3,
        "general_max_months": 12,
        "serious_min_months": 12,
        "serious_max_months": 36,
        "serious_types": ["吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业"],
        "minor_types": ["警告", "通报批评"]
    })
    .to_string()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now = chrono::Utc::now();
        let items: Vec<serde_json::Value> = serde_json::from_str(CATALOG).map_err(seed_error)?;
        let mut insert = Query::insert();
        insert.into_table(CatalogItem::Table).columns([
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
        for item in &items {
            let text = |key: &str| item[key].as_str().unwrap_or_default().to_owned();
            insert
                .values([
                    text("code").into(),
                    text("name").into(),
                    text("category").into(),
                    text("polarity").into(),
                    text("disclosure").into(),
                    item["providers"].to_string().into(),
                    item["fields"].to_string().into(),
                    item["repairable"].as_bool().unwrap_or(false).into(),
                    1.into(),
                    true.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(insert).await?;

        let mut policies = Query::insert();
        policies.into_table(PublicityPolicy::Table).columns([
            PublicityPolicy::Version,
            PublicityPolicy::EffectiveFrom,
            PublicityPolicy::Rules,
            PublicityPolicy::CreatedAt,
        ]);
        for (version, from) in POLICIES {
            let date = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d").map_err(seed_error)?;
            policies
                .values([
                    (*version).into(),
                    date.into(),
                    policy_rules(version, from).into(),
                    now.into(),
                ])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(policies).await?;

        let mut days = Query::insert();
        days.into_table(CalendarDay::Table).columns([
            CalendarDay::Day,
            CalendarDay::Kind,
            CalendarDay::Name,
        ]);
        for line in CALENDAR.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let mut parts = line.splitn(3, ',');
            let day = parts.next().unwrap_or_default();
            let kind = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(seed_error)?;
            days.values([day.into(), kind.into(), name.into()])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(days).await?;

        let mut years = Query::insert();
        years.into_table(CalendarYear::Table).columns([
            CalendarYear::Year,
            CalendarYear::Source,
            CalendarYear::LoadedAt,
        ]);
        for year in 2023..=2025 {
            years
                .values([year.into(), CALENDAR_SOURCE.into(), now.into()])
                .map_err(seed_error)?;
        }
        manager.exec_stmt(years).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CalendarYear::Table.into_iden(),
            CalendarDay::Table.into_iden(),
            PublicityPolicy::Table.into_iden(),
            CatalogItem::Table.into_iden(),
        ] {
            manager
                .exec_stmt(Query::delete().from_table(table).to_owned())
                .await?;
        }
        Ok(())
    }
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

#[derive(DeriveIden)]
enum PublicityPolicy {
    Table,
    Version,
    EffectiveFrom,
    Rules,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CalendarDay {
    Table,
    Day,
    Kind,
    Name,
}

#[derive(DeriveIden)]
enum CalendarYear {
    Table,
    Year,
    Source,
    LoadedAt,
}
