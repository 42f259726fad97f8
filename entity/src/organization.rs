//! An organization that calls the API: the platform operator, a department, an approval hall,
//! a bank, an app or a partner system.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Stable short code, e.g. `PLATFORM` or `MARKET_REGULATION`.
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// PLATFORM, DEPARTMENT, APPROVAL_HALL, BANK, APP or PARTNER.
    pub kind: String,
    /// The organization's own unified social credit code, where known.
    pub uscc: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
