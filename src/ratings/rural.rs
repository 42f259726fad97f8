//! Rural credit (信用户 / 信用村 / 信用乡 / 信用县): households and farmer cooperatives rated by
//! the policy's model roll up to their village, villages to their township and the district,
//! with the thresholds of the rural credit policy in force (data, not code).

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{rating, region, rural_credit_policy, subject};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, JoinType, Query},
};

use super::rules::{GradeClass, reaches};
use crate::error::AppError;
use crate::reference::region_prefix;

/// The rural credit policy in force on a date.
pub async fn policy(
    db: &impl ConnectionTrait,
    on: NaiveDate,
) -> Result<Option<rural_credit_policy::Model>, AppError> {
    Ok(rural_credit_policy::Entity::find()
        .filter(rural_credit_policy::Column::EffectiveFrom.lte(on))
        .order_by_desc(rural_credit_policy::Column::EffectiveFrom)
        .one(db)
        .await?)
}

/// One village's households and whether it is a 信用村.
#[derive(Debug, Clone)]
pub struct VillageCredit {
    pub region: region::Model,
    /// Households and farmer cooperatives registered in the village.
    pub units: u64,
    /// Of those, rated in a 信用户 grade class.
    pub credit_units: u64,
    /// Not rated yet by the policy's model.
    pub unrated: u64,
    pub is_credit_village: bool,
}

/// A region's roll-up: its villages, and for a township or district how many are 信用村.
#[derive(Debug, Clone)]
pub struct RuralRollup {
    pub region: region::Model,
    pub policy: rural_credit_policy::Model,
    pub villages: Vec<VillageCredit>,
    pub units: u64,
    pub credit_units: u64,
    pub credit_villages: u64,
    /// 信用村 for a village, 信用乡(镇) for a township, 信用县 for the district.
    pub qualifies: bool,
}

/// Rolls up a region under the policy in force on `on`. None without a policy.
pub async fn rollup(
    db: &impl ConnectionTrait,
    region: region::Model,
    on: NaiveDate,
) -> Result<Option<RuralRollup>, AppError> {
    let Some(policy) = policy(db, on).await? else {
        return Ok(None);
    };
    let classes: Vec<GradeClass> = serde_json::from_str::<Vec<String>>(&policy.household_classes)
        .map_err(|e| AppError::internal(format!("rural policy classes: {e}")))?
        .iter()
        .filter_map(|c| GradeClass::parse(c))
        .collect();
    let prefix = region_prefix(&region.code, &region.level);

    let villages: Vec<region::Model> = if region.level == "VILLAGE" {
        vec![region.clone()]
    } else {
        region::Entity::find()
            .filter(region::Column::Level.eq("VILLAGE"))
            .filter(region::Column::Code.starts_with(prefix.as_str()))
            .order_by_asc(region::Column::Code)
            .all(db)
            .await?
    };

    // Every household and cooperative in the region with its current grade class, if rated.
    let statement = Query::select()
        .column((subject::Entity, subject::Column::RegionCode))
        .column((rating::Entity, rating::Column::GradeClass))
        .from(subject::Entity)
        .join(
            JoinType::LeftJoin,
            rating::Entity,
            Expr::col((rating::Entity, rating::Column::SubjectId))
                .equals((subject::Entity, subject::Column::Id))
                .and(
                    Expr::col((rating::Entity, rating::Column::ModelCode))
                        .eq(policy.model_code.as_str()),
                ),
        )
        .and_where(
            Expr::col((subject::Entity, subject::Column::Kind))
                .is_in(["HOUSEHOLD", "FARMER_COOPERATIVE"]),
        )
        .and_where(
            Expr::col((subject::Entity, subject::Column::RegionCode)).like(format!("{prefix}%")),
        )
        .to_owned();
    let mut per_village: HashMap<String, (u64, u64, u64)> = HashMap::new();
    for row in db.query_all(&statement).await? {
        let code: String = row.try_get("", "region_code")?;
        let class: Option<String> = row.try_get("", "grade_class")?;
        let entry = per_village.entry(code).or_default();
        entry.0 += 1;
        match class.as_deref().and_then(GradeClass::parse) {
            Some(c) if classes.contains(&c) => entry.1 += 1,
            Some(_) => {}
            None => entry.2 += 1,
        }
    }
    let villages: Vec<VillageCredit> = villages
        .into_iter()
        .map(|v| {
            let (units, credit_units, unrated) =
                per_village.get(&v.code).copied().unwrap_or_default();
            VillageCredit {
                is_credit_village: reaches(
                    credit_units,
                    units,
                    u32::try_from(policy.village_percent).unwrap_or(0),
                ),
                region: v,
                units,
                credit_units,
                unrated,
            }
        })
        .collect();
    let units = villages.iter().map(|v| v.units).sum();
    let credit_units = villages.iter().map(|v| v.credit_units).sum();
    let credit_villages = villages.iter().filter(|v| v.is_credit_village).count() as u64;
    let qualifies = match region.level.as_str() {
        "VILLAGE" => villages.first().is_some_and(|v| v.is_credit_village),
        "TOWNSHIP" => reaches(
            credit_villages,
            villages.len() as u64,
            u32::try_from(policy.township_percent).unwrap_or(0),
        ),
        _ => reaches(
            credit_villages,
            villages.len() as u64,
            u32::try_from(policy.county_percent).unwrap_or(0),
        ),
    };
    Ok(Some(RuralRollup {
        region,
        policy,
        villages,
        units,
        credit_units,
        credit_villages,
        qualifies,
    }))
}
