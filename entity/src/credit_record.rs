//! A credit record (信用信息) about a subject, accepted against a catalog item. What the item
//! said when the record was accepted (category, polarity, disclosure) is copied, so that a later
//! change of the catalog never rewrites accepted records.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject_id: i64,
    pub catalog_item_id: i64,
    pub catalog_version: i32,
    pub item_code: String,
    pub category: String,
    pub polarity: String,
    pub disclosure: String,
    /// Code of the providing organization.
    pub department: String,
    /// The department's own document number; unique per department.
    pub source_ref: String,
    pub severity: Option<String>,
    pub decision_date: Date,
    pub reported_at: DateTimeUtc,
    /// The report's date in China (UTC+8), from which working days are counted.
    pub reported_on: Date,
    /// Working days from decision to report (licenses and penalties).
    pub working_days: Option<i32>,
    /// More than the policy's deadline (7 working days).
    pub late: Option<bool>,
    /// False when a year crossed had no calendar data (weekends-only fallback).
    pub calendar_complete: Option<bool>,
    /// False for records that are never published (minor misconduct).
    pub published: bool,
    /// The last day the record is public; none for records without an end.
    pub public_until: Option<Date>,
    /// The first day the subject may apply for repair.
    pub repairable_from: Option<Date>,
    pub policy_version: Option<String>,
    /// ACTIVE, REPAIRED or REVOKED (EXPIRED is computed from `public_until`, never stored).
    pub status: String,
    /// JSON object of the item's fields, by national code; ID numbers only masked.
    pub fields: String,
    /// SHA-256 of what was submitted, to tell a resubmission from a change.
    pub content_hash: String,
    pub revision: i32,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
