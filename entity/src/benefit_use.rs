//! One use of a benefit, as the app that granted it recorded it (idempotent per app and
//! `external_id`), with the grade it was granted on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "benefit_use")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The scenario's code.
    pub scenario: String,
    pub subject_id: i64,
    /// The code of the organization that recorded it.
    pub recorded_by: String,
    pub external_id: String,
    pub content_hash: String,
    pub used_on: Date,
    /// The grade the eligibility decision used.
    pub grade: Option<String>,
    pub note: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
