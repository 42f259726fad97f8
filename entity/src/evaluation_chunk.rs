//! A chunk of an evaluation run: a range of subject ids, planned when the run starts, PENDING
//! until the transaction that writes its ratings marks it DONE.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evaluation_chunk")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    /// The chunk's subjects are those of the run's scope with ids in first..=last.
    pub first_subject_id: i64,
    pub last_subject_id: i64,
    /// How many subjects of the run's scope the range held when the run was planned.
    pub subjects: i32,
    /// PENDING or DONE.
    pub status: String,
    pub done_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
