//! A submitted row that was refused, kept with its reasons: nothing a department sends is lost,
//! and error rates can be computed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refused_record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub department: String,
    pub item_code: Option<String>,
    pub category: Option<String>,
    pub source_ref: Option<String>,
    pub decision_date: Option<Date>,
    pub submitted_at: DateTimeUtc,
    /// The submission's date in China (UTC+8).
    pub submitted_on: Date,
    /// JSON array of the user errors.
    pub errors: String,
    pub request_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
