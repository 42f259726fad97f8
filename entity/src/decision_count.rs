//! How many license or penalty decisions a department declares it made in a month; the
//! difference to what it reported is the missing count (漏报).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision_count")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub department: String,
    /// `YYYY-MM`.
    pub month: String,
    /// LICENSE or PENALTY.
    pub category: String,
    pub count: i32,
    pub declared_by: Option<String>,
    pub declared_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
