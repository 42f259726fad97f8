//! Tiered supervision (分级分类监管): subjects by supervision level within an industry and a
//! region, and reproducible random samples per level for 双随机 inspections.

use std::collections::BTreeMap;

use entity::{rating, subject};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use super::rules::{SupervisionLevel, random_sample};
use crate::error::AppError;

/// Which subjects a regulator looks at.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub model_code: String,
    pub level: Option<SupervisionLevel>,
    pub industry_code: Option<String>,
    /// Region code prefix (see `reference::region_prefix`).
    pub region_prefix: Option<String>,
}

fn condition(scope: &Scope) -> Condition {
    let mut subjects = Condition::all();
    if let Some(industry) = &scope.industry_code {
        subjects = subjects.add(subject::Column::IndustryCode.eq(industry.as_str()));
    }
    if let Some(prefix) = &scope.region_prefix {
        subjects = subjects.add(subject::Column::RegionCode.starts_with(prefix.as_str()));
    }
    let mut condition =
        Condition::all().add(rating::Column::ModelCode.eq(scope.model_code.as_str()));
    if let Some(level) = scope.level {
        condition = condition.add(rating::Column::SupervisionLevel.eq(level.as_str()));
    }
    if scope.industry_code.is_some() || scope.region_prefix.is_some() {
        condition = condition.add(
            rating::Column::SubjectId.in_subquery(
                subject::Entity::find()
                    .select_only()
                    .column(subject::Column::Id)
                    .filter(subjects)
                    .into_query(),
            ),
        );
    }
    condition
}

/// A page of current ratings in the scope, in subject-id order, with their subjects.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    after_subject_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<(rating::Model, subject::Model)>, bool, u64), AppError> {
    let query = rating::Entity::find().filter(condition(scope));
    let total = query.clone().count(db).await?;
    let mut query = query.order_by_asc(rating::Column::SubjectId);
    if let Some(after) = after_subject_id {
        query = query.filter(rating::Column::SubjectId.gt(after));
    }
    let mut rows = query.limit(limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let ids: Vec<i64> = rows.iter().map(|r| r.subject_id).collect();
    let subjects: std::collections::HashMap<i64, subject::Model> = subject::Entity::find()
        .filter(subject::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let paired = rows
        .into_iter()
        .filter_map(|r| subjects.get(&r.subject_id).cloned().map(|s| (r, s)))
        .collect();
    Ok((paired, has_next, total))
}

/// One level's draw.
#[derive(Debug, Clone)]
pub struct LevelSample {
    pub level: SupervisionLevel,
    /// Subjects at this level in the scope.
    pub population: u64,
    /// The ids drawn, ascending.
    pub subject_ids: Vec<i64>,
}

/// Draws `size_for(level)` subjects per supervision level in the scope, reproducibly from `seed`
/// (see `rules::random_sample`).
pub async fn sample(
    db: &impl ConnectionTrait,
    scope: &Scope,
    seed: &str,
    size_for: impl Fn(SupervisionLevel) -> usize,
) -> Result<Vec<LevelSample>, AppError> {
    let rows: Vec<(i64, String)> = rating::Entity::find()
        .select_only()
        .column(rating::Column::SubjectId)
        .column(rating::Column::SupervisionLevel)
        .filter(condition(scope))
        .into_tuple()
        .all(db)
        .await?;
    let mut by_level: BTreeMap<SupervisionLevel, Vec<i64>> = BTreeMap::new();
    for (id, level) in rows {
        if let Some(level) = SupervisionLevel::parse(&level) {
            by_level.entry(level).or_default().push(id);
        }
    }
    Ok(SupervisionLevel::ALL
        .iter()
        .filter(|l| scope.level.is_none_or(|wanted| wanted == **l))
        .map(|level| {
            let population = by_level.get(level).map_or(&[][..], Vec::as_slice);
            LevelSample {
                level: *level,
                population: population.len() as u64,
                subject_ids: random_sample(
                    population,
                    &format!("{seed}/{}", level.as_str()),
                    size_for(*level),
                ),
            }
        })
        .collect())
}
