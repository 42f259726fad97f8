//! The append-only audit log: every write, and every read of non-public data or of a natural
//! person, with who, for which organization, what, about which subject, why and when.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    pub request_id: Option<String>,
    /// The client id (`sub`) of the caller, none for anonymous callers.
    pub actor: Option<String>,
    pub organization_code: Option<String>,
    pub role: Option<String>,
    /// What was done, e.g. `registerSubject`, `readSubject`.
    pub action: String,
    pub subject_id: Option<i64>,
    /// The purpose the caller named, where one is required.
    pub purpose: Option<String>,
    /// The consent the read relied on, where one is required.
    pub consent_ref: Option<String>,
    /// Details as JSON text (changed fields, waiver reason …), never a resident ID in the clear.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
