//! The first answer to a mutation sent with an `Idempotency-Key` header, kept per client so a
//! retry with the same key replays it instead of running again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key")]
pub struct Model {
    /// `organization/client id` of the token that sent the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// SHA-256 of the request body: the same key with another body is refused.
    pub request_hash: String,
    /// RUNNING while the first request runs, DONE once its answer is kept.
    pub state: String,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    /// Until when a RUNNING request holds the key; after it a retry may run it again.
    pub lease_until: DateTimeUtc,
    /// When the kept answer may be forgotten.
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
