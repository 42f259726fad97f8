//! An item of the public credit information catalog (公共信用信息目录).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// BASIC, LICENSE, PENALTY, … (the GraphQL enum RecordCategory).
    pub category: String,
    /// POSITIVE, NEUTRAL or NEGATIVE.
    pub polarity: String,
    /// PUBLIC, AUTHORIZED or GOVERNMENT.
    pub disclosure: String,
    /// JSON array of the organization codes that provide the item; empty: every department.
    pub providers: String,
    /// JSON array of field specifications.
    pub fields: String,
    pub repairable: bool,
    /// Raised on every change; records keep the version they were accepted under.
    pub version: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
