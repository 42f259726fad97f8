//! Reference data: the district's regions (district → township → village) and the GB/T 4754
//! industry sections, seeded by migration.

pub mod graphql;
pub mod loader;

use entity::{industry, region};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
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
