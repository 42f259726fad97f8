//! An entry of a subject on a list: RED (守信激励), SERIOUS_DISHONESTY (严重失信主体名单) or
//! KEY_ATTENTION (重点关注).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "list_entry")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject_id: i64,
    pub list: String,
    pub reason: String,
    pub legal_basis: String,
    pub department: String,
    pub decided_on: Date,
    pub until: Option<Date>,
    /// ACTIVE, REMOVED or REPAIRED.
    pub status: String,
    pub removed_reason: Option<String>,
    pub removed_at: Option<DateTimeUtc>,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
