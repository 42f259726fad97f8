//! The calendar as GraphQL: which years are loaded, working days between dates, and loading.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use super::rules::{CalendarDay, DayKind, covered_years, parse_calendar_csv};
use super::service;
use crate::auth::Role;
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::graphql::ContextExt;
use crate::graphql::types::UserError;

/// A year whose official holiday notice is loaded.
#[derive(SimpleObject)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// Where its days come from (the State Council notice).
    pub source: String,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// Working days between two dates.
#[derive(SimpleObject)]
pub struct WorkingDayCount {
    /// Working days after `from` up to and including `to`.
    pub working_days: u32,
    /// The `deadline`th working day after `from`, when a deadline was asked for.
    pub deadline_date: Option<NaiveDate>,
    /// False when a year in the range has no calendar data and only weekends were skipped.
    pub calendar_complete: bool,
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The years whose holiday notices are loaded; other years count weekends only.
    async fn calendar_years(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CalendarYear>> {
        let state = ctx.state()?;
        Ok(service::years(&state.db)
            .await?
            .into_iter()
            .map(|y| CalendarYear {
                year: y.year,
                source: y.source,
                loaded_at: y.loaded_at,
            })
            .collect())
    }

    /// Counts working days after `from` up to and including `to` (the 双公示 count: a report on
    /// the 7th working day after the decision is on time, on the 8th late).
    async fn working_days(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The decision date; counting starts the day after.")] from: NaiveDate,
        #[graphql(desc = "The report date, counted if it is a working day.")] to: NaiveDate,
        #[graphql(desc = "Also answer the date of this many working days after `from`.")]
        deadline: Option<u32>,
    ) -> async_graphql::Result<WorkingDayCount> {
        if (to - from).num_days().abs() > 3660 {
            return Err(AppError::bad_input("to", "the range may span at most ten years").into());
        }
        let state = ctx.state()?;
        let calendar = service::load(&state.db).await?;
        let count = calendar.working_days_between(from, to);
        Ok(WorkingDayCount {
            working_days: count.days,
            deadline_date: deadline
                .filter(|d| *d <= 1000)
                .map(|d| calendar.nth_working_day_after(from, d)),
            calendar_complete: count.calendar_complete,
        })
    }
}

/// One exceptional day.
#[derive(InputObject)]
pub struct CalendarDayInput {
    /// The date.
    pub date: NaiveDate,
    /// HOLIDAY for a day off, WORKDAY for a make-up working weekend day.
    pub kind: String,
    /// The holiday's name, e.g. 国庆节.
    pub name: String,
}

/// The input of `loadCalendar`: either `csv` (lines `date,kind,holiday`, as the State Council
/// fixture) or `days`.
#[derive(InputObject)]
pub struct LoadCalendarInput {
    /// The notice's days as CSV text: `2026-10-01,HOLIDAY,国庆节` per line (header optional).
    pub csv: Option<String>,
    /// The notice's days as a list.
    pub days: Option<Vec<CalendarDayInput>>,
    /// The years the notice covers; default: every year with at least four days in the input.
    pub years: Option<Vec<i32>>,
    /// Where the days come from, e.g. 国办发明电〔2025〕7号.
    pub source: String,
}

/// The answer of `loadCalendar`.
#[derive(SimpleObject)]
pub struct LoadCalendarPayload {
    /// How many days were stored.
    pub days_loaded: i32,
    /// The years now marked as covered.
    pub years: Vec<i32>,
    /// What was wrong with the input; nothing is stored then.
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Loads a year's official holidays and make-up working days. ADMIN only.
    async fn load_calendar(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The days and the years they cover.")] input: LoadCalendarInput,
    ) -> async_graphql::Result<LoadCalendarPayload> {
        ctx.caller()
            .require("loadCalendar", &[Role::Admin], "admin")?;
        let state = ctx.state()?;
        let refuse = |errors: Vec<FieldError>| LoadCalendarPayload {
            days_loaded: 0,
            years: Vec::new(),
            user_errors: errors.into_iter().map(UserError::from).collect(),
        };
        let mut days: Vec<CalendarDay> = Vec::new();
        if let Some(csv) = &input.csv {
            match parse_calendar_csv(csv) {
                Ok(parsed) => days.extend(parsed),
                Err(errors) => {
                    return Ok(refuse(
                        errors
                            .into_iter()
                            .map(|e| {
                                FieldError::new(
                                    &["csv", &e.line.to_string()],
                                    UserErrorCode::InvalidFormat,
                                    format!("line {}: {}", e.line, e.message),
                                )
                            })
                            .collect(),
                    ));
                }
            }
        }
        let mut errors = Vec::new();
        for (i, day) in input.days.unwrap_or_default().into_iter().enumerate() {
            match DayKind::parse(&day.kind) {
                Some(kind) => days.push(CalendarDay {
                    date: day.date,
                    kind,
                    name: day.name,
                }),
                None => errors.push(FieldError::new(
                    &["days", &i.to_string(), "kind"],
                    UserErrorCode::InvalidFormat,
                    "kind must be HOLIDAY or WORKDAY",
                )),
            }
        }
        if days.is_empty() && errors.is_empty() {
            errors.push(FieldError::new(
                &["csv"],
                UserErrorCode::Required,
                "send the days as csv or as days",
            ));
        }
        if input.source.trim().is_empty() {
            errors.push(FieldError::new(
                &["source"],
                UserErrorCode::Required,
                "name the notice the days come from",
            ));
        }
        if !errors.is_empty() {
            return Ok(refuse(errors));
        }
        let years: Vec<i32> = match input.years {
            Some(y) => y,
            None => covered_years(&days).into_iter().collect(),
        };
        service::import(&state.db, &ctx.actor(), &days, &years, input.source.trim()).await?;
        Ok(LoadCalendarPayload {
            days_loaded: days.len() as i32,
            years,
            user_errors: Vec::new(),
        })
    }
}
