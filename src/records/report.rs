//! The 双公示 publicity report: per department and period, how many licenses and penalties
//! arrived, how many late, how many rows were refused, how many declared decisions are missing,
//! and the three rates the work plan wants at zero.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, Months, NaiveDate};
use entity::{credit_record, decision_count, organization, refused_record};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::error::AppError;

/// The length of a report period.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportPeriod {
    /// Monday to Sunday (weekly monitoring).
    Week,
    /// A calendar month (the monthly report).
    Month,
    /// A calendar quarter (the quarterly assessment).
    Quarter,
}

/// The first and last day of the period that contains `date`.
pub fn period_bounds(period: ReportPeriod, date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first_of_month = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    let (start, months) = match period {
        ReportPeriod::Week => {
            let start = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            return (start, start + Duration::days(6));
        }
        ReportPeriod::Month => (first_of_month(date), 1),
        ReportPeriod::Quarter => {
            let month0 = (date.month0() / 3) * 3;
            (
                NaiveDate::from_ymd_opt(date.year(), month0 + 1, 1).unwrap_or(date),
                3,
            )
        }
    };
    let end = start
        .checked_add_months(Months::new(months))
        .and_then(|d| d.pred_opt())
        .unwrap_or(start);
    (start, end)
}

/// The months (`YYYY-MM`) a period spans entirely; none for a week.
pub fn whole_months(period: ReportPeriod, start: NaiveDate) -> Vec<String> {
    let count = match period {
        ReportPeriod::Week => 0,
        ReportPeriod::Month => 1,
        ReportPeriod::Quarter => 3,
    };
    (0..count)
        .filter_map(|i| start.checked_add_months(Months::new(i)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

/// One department's figures (or the district's, when `department` is none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicityFigures {
    pub department: Option<String>,
    pub submitted: u64,
    pub late: u64,
    pub refused: u64,
    /// None for a week: decision counts are declared per month.
    pub declared: Option<u64>,
    pub received: Option<u64>,
    pub missing: Option<u64>,
}

impl PublicityFigures {
    /// late / submitted.
    pub fn late_rate(&self) -> Option<f64> {
        ratio(self.late, self.submitted)
    }

    /// refused / (submitted + refused).
    pub fn error_rate(&self) -> Option<f64> {
        ratio(self.refused, self.submitted + self.refused)
    }

    /// missing / declared.
    pub fn missing_rate(&self) -> Option<f64> {
        ratio(self.missing?, self.declared?)
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

const DOUBLE_PUBLICITY: [&str; 2] = ["LICENSE", "PENALTY"];

/// The report for a period: one row per department (every department, or the one asked for)
/// and the district total.
pub async fn publicity_report(
    db: &impl ConnectionTrait,
    period: ReportPeriod,
    date: NaiveDate,
    department: Option<&str>,
) -> Result<
    (
        NaiveDate,
        NaiveDate,
        Vec<PublicityFigures>,
        PublicityFigures,
    ),
    AppError,
> {
    let (start, end) = period_bounds(period, date);
    let months = whole_months(period, start);

    let mut departments: BTreeSet<String> = organization::Entity::find()
        .filter(organization::Column::Kind.eq("DEPARTMENT"))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.code)
        .collect();

    // Reported in the period: (department, late) → count.
    let reported: Vec<(String, Option<bool>, i64)> = credit_record::Entity::find()
        .select_only()
        .column(credit_record::Column::Department)
        .column(credit_record::Column::Late)
        .column_as(credit_record::Column::Id.count(), "n")
        .filter(credit_record::Column::Category.is_in(DOUBLE_PUBLICITY))
        .filter(credit_record::Column::ReportedOn.between(start, end))
        .group_by(credit_record::Column::Department)
        .group_by(credit_record::Column::Late)
        .into_tuple()
        .all(db)
        .await?;
    let refused: Vec<(String, i64)> = refused_record::Entity::find()
        .select_only()
        .column(refused_record::Column::Department)
        .column_as(refused_record::Column::Id.count(), "n")
        .filter(refused_record::Column::SubmittedOn.between(start, end))
        .filter(
            sea_orm::Condition::any()
                .add(refused_record::Column::Category.is_in(DOUBLE_PUBLICITY))
                .add(refused_record::Column::Category.is_null()),
        )
        .group_by(refused_record::Column::Department)
        .into_tuple()
        .all(db)
        .await?;

    let mut rows: BTreeMap<String, PublicityFigures> = BTreeMap::new();
    fn row<'a>(
        rows: &'a mut BTreeMap<String, PublicityFigures>,
        d: &str,
    ) -> &'a mut PublicityFigures {
        rows.entry(d.to_owned())
            .or_insert_with(|| PublicityFigures {
                department: Some(d.to_owned()),
                ..Default::default()
            })
    }
    for (d, late, n) in reported {
        let r = row(&mut rows, &d);
        r.submitted += n as u64;
        if late == Some(true) {
            r.late += n as u64;
        }
    }
    for (d, n) in refused {
        row(&mut rows, &d).refused += n as u64;
    }

    if !months.is_empty() {
        let declared: Vec<(String, i32)> = decision_count::Entity::find()
            .select_only()
            .column(decision_count::Column::Department)
            .column(decision_count::Column::Count)
            .filter(decision_count::Column::Month.is_in(months.clone()))
            .into_tuple()
            .all(db)
            .await?;
        // Received: decisions made in the period's months, whenever they were reported.
        let received: Vec<(String, i64)> = credit_record::Entity::find()
            .select_only()
            .column(credit_record::Column::Department)
            .column_as(credit_record::Column::Id.count(), "n")
            .filter(credit_record::Column::Category.is_in(DOUBLE_PUBLICITY))
            .filter(credit_record::Column::DecisionDate.between(start, end))
            .filter(credit_record::Column::Status.ne("REVOKED"))
            .group_by(credit_record::Column::Department)
            .into_tuple()
            .all(db)
            .await?;
        for (d, n) in declared {
            let r = row(&mut rows, &d);
            r.declared = Some(r.declared.unwrap_or(0) + n.max(0) as u64);
        }
        for (d, n) in received {
            let r = row(&mut rows, &d);
            r.received = Some(r.received.unwrap_or(0) + n as u64);
        }
        for d in departments.iter() {
            row(&mut rows, d);
        }
        for r in rows.values_mut() {
            let declared = r.declared.unwrap_or(0);
            let received = r.received.unwrap_or(0);
            r.declared = Some(declared);
            r.received = Some(received);
            r.missing = Some(declared.saturating_sub(received));
        }
    }
    departments.extend(rows.keys().cloned());
    let mut list: Vec<PublicityFigures> = departments
        .into_iter()
        .map(|d| {
            rows.get(&d).cloned().unwrap_or_else(|| PublicityFigures {
                department: Some(d.clone()),
                declared: (!months.is_empty()).then_some(0),
                received: (!months.is_empty()).then_some(0),
                missing: (!months.is_empty()).then_some(0),
                ..Default::default()
            })
        })
        .collect();
    if let Some(only) = department {
        list.retain(|r| r.department.as_deref() == Some(only));
    }
    let mut total = PublicityFigures::default();
    for r in &list {
        total.submitted += r.submitted;
        total.late += r.late;
        total.refused += r.refused;
        if let Some(d) = r.declared {
            total.declared = Some(total.declared.unwrap_or(0) + d);
            total.received = Some(total.received.unwrap_or(0) + r.received.unwrap_or(0));
            total.missing = Some(total.missing.unwrap_or(0) + r.missing.unwrap_or(0));
        }
    }
    Ok((start, end, list, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn periods() {
        assert_eq!(
            period_bounds(ReportPeriod::Week, date("2024-05-15")),
            (date("2024-05-13"), date("2024-05-19"))
        );
        assert_eq!(
            period_bounds(ReportPeriod::Month, date("2024-02-10")),
            (date("2024-02-01"), date("2024-02-29"))
        );
        assert_eq!(
            period_bounds(ReportPeriod::Quarter, date("2024-08-31")),
            (date("2024-07-01"), date("2024-09-30"))
        );
        assert_eq!(
            whole_months(ReportPeriod::Quarter, date("2024-07-01")),
            vec!["2024-07", "2024-08", "2024-09"]
        );
        assert!(whole_months(ReportPeriod::Week, date("2024-07-01")).is_empty());
    }

    #[test]
    fn rates() {
        let f = PublicityFigures {
            submitted: 8,
            late: 2,
            refused: 2,
            declared: Some(10),
            received: Some(8),
            missing: Some(2),
            department: None,
        };
        assert_eq!(f.late_rate(), Some(0.25));
        assert_eq!(f.error_rate(), Some(0.2));
        assert_eq!(f.missing_rate(), Some(0.2));
        assert_eq!(PublicityFigures::default().late_rate(), None);
    }
}
