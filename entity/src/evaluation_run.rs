//! A batch evaluation of every subject under one model. Its work is planned as chunks
//! (`evaluation_chunk`), each marked DONE in the transaction that writes its ratings, so a
//! crash resumes where it stopped; `done` follows the chunks.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evaluation_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub model_code: String,
    pub model_id: i64,
    pub model_version: i32,
    pub as_of: Date,
    /// RUNNING, COMPLETED or FAILED.
    pub status: String,
    /// Subjects to rate when the run started.
    pub total: i64,
    /// Subjects rated so far: those of the DONE chunks, brought up to date after each chunk.
    pub done: i64,
    /// Runs started before chunks existed resumed after this subject id; such a run is planned
    /// from it when a worker picks it up. 0 for every run since.
    pub last_subject_id: i64,
    pub started_by: String,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
