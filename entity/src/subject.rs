//! A credit subject (信用主体): an organization keyed by its unified social credit code, or a
//! natural person / household keyed by a keyed hash of the resident ID.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subject")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// ENTERPRISE, INDIVIDUAL_BUSINESS, … (see the GraphQL enum SubjectKind).
    pub kind: String,
    /// The unique look-up key: the USCC for organizations; for natural persons and households an
    /// HMAC-SHA256 of the resident ID (hex), so the ID itself is never stored.
    #[sea_orm(unique)]
    pub lookup_key: String,
    /// What may be shown: the USCC, or the masked resident ID (`3604**********123X`).
    pub display_code: String,
    pub name: String,
    pub region_code: String,
    pub industry_code: Option<String>,
    /// USCC position 1 (登记管理部门代码); none for persons.
    pub registering_authority: Option<String>,
    /// USCC positions 1–2 (机构类别代码); none for persons.
    pub organization_category: Option<String>,
    /// USCC positions 3–8: region code of the registering authority; none for persons.
    pub registration_region: Option<String>,
    /// Set when an ADMIN registered a code that fails the check character, with the reason.
    pub check_waiver_reason: Option<String>,
    /// Code of the organization that registered the subject.
    pub registered_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
