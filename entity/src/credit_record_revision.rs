//! The history of a credit record: the original submission, each correction and a revocation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_record_revision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub record_id: i64,
    pub revision: i32,
    /// SUBMITTED, CORRECTED or REVOKED.
    pub action: String,
    pub reason: Option<String>,
    pub fields: String,
    pub severity: Option<String>,
    pub decision_date: Date,
    pub status: String,
    pub actor: Option<String>,
    pub request_id: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
