//! A version of an evaluation model. Versions are never edited: an admin defines a new one
//! (DRAFT), activates it (the active version of the same code retires) and may retire it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evaluation_model")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub code: String,
    pub version: i32,
    pub name: String,
    pub description: String,
    /// DRAFT, ACTIVE or RETIRED.
    pub status: String,
    /// The model's definition as JSON (see the service's `rules::Definition`).
    pub definition: String,
    /// The organization that defined it.
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
