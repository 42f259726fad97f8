//! The thresholds of rural credit (信用户 / 信用村 / 信用乡 / 信用县), as data with a start date.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rural_credit_policy")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub version: String,
    pub effective_from: Date,
    /// The model whose grades make a 信用户.
    pub model_code: String,
    /// JSON array of the grade classes that make a 信用户, e.g. `["A"]`.
    pub household_classes: String,
    /// 信用村: at least this percentage of its households are 信用户.
    pub village_percent: i32,
    /// 信用乡(镇): at least this percentage of its villages are 信用村.
    pub township_percent: i32,
    /// 信用县: at least this percentage of its villages are 信用村.
    pub county_percent: i32,
    pub source: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
