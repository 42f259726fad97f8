//! Reference data: the district's regions (district → township → village) and the GB/T 4754
//! industry sections, seeded by migration.

pub mod graphql;
pub mod loader;

use entity::{industry, region};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashSet;

use crate::error::AppError;

/// Which of `codes` are known regions.
pub async fn known_regions(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<HashSet<String>, AppError> {
    if codes.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<String> = region::Entity::find()
        .select_only()
        .column(region::Column::Code)
        .filter(region::Column::Code.is_in(codes.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found.into_iter().collect())
}

/// Which of `codes` are known industry sections.
pub async fn known_industries(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<HashSet<String>, AppError> {
    if codes.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<String> = industry::Entity::find()
        .select_only()
        .column(industry::Column::Code)
        .filter(industry::Column::Code.is_in(codes.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found.into_iter().collect())
}

/// A region by its code.
pub async fn region(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<region::Model>, AppError> {
    Ok(region::Entity::find_by_id(code.to_owned()).one(db).await?)
}

/// The regions under `parent_code` (or all) of a level (or all), ordered by code.
pub async fn regions(
    db: &impl ConnectionTrait,
    parent_code: Option<&str>,
    level: Option<&str>,
) -> Result<Vec<region::Model>, AppError> {
    let mut query = region::Entity::find().order_by_asc(region::Column::Code);
    if let Some(parent) = parent_code {
        query = query.filter(region::Column::ParentCode.eq(parent));
    }
    if let Some(level) = level {
        query = query.filter(region::Column::Level.eq(level));
    }
    Ok(query.all(db).await?)
}

/// Every industry section, A to T.
pub async fn industries(db: &impl ConnectionTrait) -> Result<Vec<industry::Model>, AppError> {
    Ok(industry::Entity::find()
        .order_by_asc(industry::Column::Code)
        .all(db)
        .await?)
}

/// The code prefix shared by a region and everything under it: statistical codes are
/// 6 digits of county, 3 of township, 3 of village, with zeros below the region's level.
pub fn region_prefix(code: &str, level: &str) -> String {
    let len = match level {
        "DISTRICT" => 6,
        "TOWNSHIP" => 9,
        _ => code.len(),
    };
    code.chars().take(len).collect()
}

#[cfg(test)]
mod tests {
    use super::region_prefix;

    #[test]
    fn prefixes_follow_the_level() {
        assert_eq!(region_prefix("360404000000", "DISTRICT"), "360404");
        assert_eq!(region_prefix("360404104000", "TOWNSHIP"), "360404104");
        assert_eq!(region_prefix("360404104206", "VILLAGE"), "360404104206");
    }
}
