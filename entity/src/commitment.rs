//! A credit commitment (信用承诺) a subject made, as an approval hall, partner or department
//! recorded it, and its verification.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commitment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject_id: i64,
    /// The subject's kind when recorded (persons' commitments are not listed publicly).
    pub subject_kind: String,
    /// CERTIFICATION_NOTIFICATION, BUSINESS_NOTIFICATION, VOLUNTARY, INDUSTRY_SELF_DISCIPLINE
    /// or CREDIT_REPAIR.
    pub kind: String,
    /// The matter committed for (an approval item, a licence, a repair).
    pub matter: String,
    pub content: String,
    pub made_on: Date,
    pub verify_by: Date,
    /// The code of the department responsible for the matter, which verifies.
    pub department: String,
    /// The code of the organization that recorded it.
    pub recorded_by: String,
    /// The recorder's own id of the commitment (unique per recorder).
    pub external_id: String,
    /// SHA-256 of what the recorder sent, to tell a retry from a different commitment.
    pub content_hash: String,
    /// PENDING_VERIFICATION, FULFILLED, BREACHED or WITHDRAWN.
    pub status: String,
    pub verified_on: Option<Date>,
    pub verified_by: Option<String>,
    pub verification_note: Option<String>,
    /// The COMMITMENT_BREACH credit record a breach wrote.
    pub breach_record_id: Option<i64>,
    pub withdrawn_reason: Option<String>,
    /// Marked by an admin as a typical case (典型案例), listed publicly.
    pub typical_case: bool,
    pub typical_note: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
