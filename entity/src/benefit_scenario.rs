//! A 信易+ benefit scenario: what a trustworthy subject gets, from whom, under which rule. A
//! FINANCING scenario is a bank's loan product and carries its amounts, term and rate note.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "benefit_scenario")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// APPROVAL, FINANCING, RENTAL, TRANSPORT, TOURISM, READING, MEDICAL, PROCUREMENT or OTHER.
    pub category: String,
    /// The code of the organization that grants the benefit.
    pub provider: String,
    /// What the subject gets.
    pub benefit: String,
    /// The eligibility rule as JSON (`benefits::rules::RuleDefinition`).
    pub rule: String,
    /// ACTIVE or RETIRED.
    pub status: String,
    pub loan_amount_min_yuan: Option<i64>,
    pub loan_amount_max_yuan: Option<i64>,
    pub loan_term_months: Option<i32>,
    pub loan_rate_note: Option<String>,
    pub updated_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
