//! Reference data every installation starts with: the platform operator `PLATFORM`, the
//! industry sections of GB/T 4754-2017 and the administrative divisions of 柴桑区.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// GB/T 4754-2017 sections: code, Chinese name, English name.
const INDUSTRIES: &[(&str, &str, &str)] = &[
    (
        "A",
        "农、林、牧、渔业",
        "Agriculture, forestry, animal husbandry and fishery",
    ),
    ("B", "采矿业", "Mining"),
    ("C", "制造业", "Manufacturing"),
    (
        "D",
        "电力、热力、燃气及水生产和供应业",
        "Electricity, heat, gas and water production and supply",
    ),
    ("E", "建筑业", "Construction"),
    ("F", "批发和零售业", "Wholesale and retail trade"),
    (
        "G",
        "交通运输、仓储和邮政业",
        "Transport, storage and postal services",
    ),
    ("H", "住宿和餐饮业", "Accommodation and catering"),
    (
        "I",
        "信息传输、软件和信息技术服务业",
        "Information transmission, software and IT services",
    ),
    ("J", "金融业", "Finance"),
    ("K", "房地产业", "Real estate"),
    ("L", "租赁和商务服务业", "Leasing and business services"),
    (
        "M",
        "科学研究和技术服务业",
        "Scientific research and technical services",
    ),
    (
        "N",
        "水利、环境和公共设施管理业",
        "Water conservancy, environment and public facilities management",
    ),
    (
        "O",
        "居民服务、修理和其他服务业",
        "Resident services, repair and other services",
    ),
    ("P", "教育", "Education"),
    ("Q", "卫生和社会工作", "Health and social work"),
    (
        "R",
        "文化、体育和娱乐业",
        "Culture, sports and entertainment",
    ),
    (
        "S",
        "公共管理、社会保障和社会组织",
        "Public administration, social security and social organizations",
    ),
    ("T", "国际组织", "International organizations"),
];

/// 柴桑区 (GB/T 2260 360404) and its townships and villages: code, name, level, parent.
const REGIONS: &[(&str, &str, &str, Option<&str>)] = include!("chaisang_regions.in");

fn statement_error(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("seed statement: {e}"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut organizations = Query::insert();
        organizations
            .into_table(Organization::Table)
            .columns([
                Organization::Code,
                Organization::Name,
                Organization::Kind,
                Organization::CreatedAt,
            ])
            .values([
                "PLATFORM".into(),
                "柴桑区公共信用信息平台（区发展和改革委员会）".into(),
                "PLATFORM".into(),
                chrono::Utc::now().into(),
            ])
            .map_err(statement_error)?
            .on_conflict(
                OnConflict::column(Organization::Code)
                    .do_nothing()
                    .to_owned(),
            );
        manager.exec_stmt(organizations).await?;

        let mut industries = Query::insert();
        industries.into_table(Industry::Table).columns([
            Industry::Code,
            Industry::Name,
            Industry::NameEn,
        ]);
        for (code, name, name_en) in INDUSTRIES {
            industries
                .values([(*code).into(), (*name).into(), (*name_en).into()])
                .map_err(statement_error)?;
        }
        manager.exec_stmt(industries).await?;

        // Parents precede children in REGIONS, so one statement satisfies the foreign key.
        let mut regions = Query::insert();
        regions.into_table(Region::Table).columns([
            Region::Code,
            Region::Name,
            Region::Level,
            Region::ParentCode,
        ]);
        for (code, name, level, parent) in REGIONS {
            regions
                .values([
                    (*code).into(),
                    (*name).into(),
                    (*level).into(),
                    parent.map(str::to_owned).into(),
                ])
                .map_err(statement_error)?;
        }
        manager.exec_stmt(regions).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(Query::delete().from_table(Region::Table).to_owned())
            .await?;
        manager
            .exec_stmt(Query::delete().from_table(Industry::Table).to_owned())
            .await?;
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Organization::Table)
                    .and_where(Expr::col(Organization::Code).eq("PLATFORM"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organization {
    Table,
    Code,
    Name,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Industry {
    Table,
    Code,
    Name,
    NameEn,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    Code,
    Name,
    Level,
    ParentCode,
}
