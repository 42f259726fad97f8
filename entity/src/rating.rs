//! A subject's current rating under one model: one row per subject and model, replaced in the
//! same transaction as any change of the subject's records, list entries or commitments.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rating")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject_id: i64,
    pub model_id: i64,
    pub model_code: String,
    pub model_version: i32,
    pub score: i32,
    /// The model's grade label (A, B, or a finer one such as A+).
    pub grade: String,
    /// A, B, C or D.
    pub grade_class: String,
    /// LIGHT, NORMAL, ENHANCED or KEY.
    pub supervision_level: String,
    /// JSON array of the factors that explain the score.
    pub factors: String,
    /// The date the rating was computed for.
    pub as_of: Date,
    /// The last day the rating stays exact without a write (a fact leaves its window after it).
    pub valid_until: Option<Date>,
    pub rated_at: DateTimeUtc,
    /// What caused the rating: EVALUATION, RECORD, LIST, COMMITMENT, MODEL.
    pub cause: String,
    /// The evaluation run that made it, if any.
    pub run_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
