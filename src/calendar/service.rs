//! Reading and loading the calendar.

use entity::{calendar_day, calendar_year};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder,
    sea_query::OnConflict,
};

use super::rules::{CalendarDay, DayKind, WorkCalendar};
use crate::audit::{self, Actor, AuditEntry};
use crate::error::AppError;

/// The whole calendar (a few hundred rows at most).
pub async fn load(db: &impl ConnectionTrait) -> Result<WorkCalendar, AppError> {
    let days = calendar_day::Entity::find().all(db).await?;
    let years = calendar_year::Entity::find()
        .order_by_asc(calendar_year::Column::Year)
        .all(db)
        .await?;
    Ok(WorkCalendar::new(
        days.into_iter().filter_map(|d| {
            DayKind::parse(&d.kind).map(|kind| CalendarDay {
                date: d.day,
                kind,
                name: d.name,
            })
        }),
        years.into_iter().map(|y| y.year),
    ))
}

/// Every loaded year, with its source.
pub async fn years(db: &impl ConnectionTrait) -> Result<Vec<calendar_year::Model>, AppError> {
    Ok(calendar_year::Entity::find()
        .order_by_asc(calendar_year::Column::Year)
        .all(db)
        .await?)
}

/// Stores days (replacing what a day said before) and marks `covered_years` as loaded, in one
/// transaction with its audit entry.
pub async fn import(
    db: &DatabaseConnection,
    actor: &Actor,
    days: &[CalendarDay],
    covered_years: &[i32],
    source: &str,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    for chunk in days.chunks(500) {
        let rows = chunk.iter().map(|d| calendar_day::ActiveModel {
            day: Set(d.date),
            kind: Set(d.kind.as_str().to_owned()),
            name: Set(d.name.clone()),
        });
        calendar_day::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(calendar_day::Column::Day)
                    .update_columns([calendar_day::Column::Kind, calendar_day::Column::Name])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    let now = chrono::Utc::now();
    if !covered_years.is_empty() {
        let rows = covered_years.iter().map(|y| calendar_year::ActiveModel {
            year: Set(*y),
            source: Set(source.chars().take(500).collect()),
            loaded_at: Set(now),
        });
        calendar_year::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(calendar_year::Column::Year)
                    .update_columns([
                        calendar_year::Column::Source,
                        calendar_year::Column::LoadedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("loadCalendar", None).detail(serde_json::json!({
                "days": days.len(),
                "years": covered_years,
                "source": source,
            })),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
