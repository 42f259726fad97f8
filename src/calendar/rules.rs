//! Working days (工作日): weekends, official holidays and make-up working days (调休) as data.
//! 双公示 counts "7 working days from the decision": the day after the decision is the first day
//! counted, and a record reported on the 7th working day is on time, on the 8th late. A year
//! without calendar data falls back to weekends only, and every answer says whether it did.

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate, Weekday};

/// What the calendar says of a day that is not an ordinary weekday or weekend day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// An official day off (法定节假日 or a day moved off by 调休).
    Holiday,
    /// A weekend day that is worked (调休上班).
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holiday => "HOLIDAY",
            Self::Workday => "WORKDAY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "HOLIDAY" => Some(Self::Holiday),
            "WORKDAY" => Some(Self::Workday),
            _ => None,
        }
    }
}

/// One exceptional day of the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name: String,
}

/// The working-day calendar: exceptional days, and the years whose notices were loaded.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    days: HashMap<NaiveDate, DayKind>,
    covered_years: BTreeSet<i32>,
}

/// A count of working days, and whether every year it crossed had calendar data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingDays {
    pub days: u32,
    /// False when some year in the range had no calendar data and only weekends were skipped.
    pub calendar_complete: bool,
}

impl WorkCalendar {
    pub fn new(
        days: impl IntoIterator<Item = CalendarDay>,
        covered_years: impl IntoIterator<Item = i32>,
    ) -> Self {
        Self {
            days: days.into_iter().map(|d| (d.date, d.kind)).collect(),
            covered_years: covered_years.into_iter().collect(),
        }
    }

    /// Whether the notices of this year are loaded.
    pub fn covers(&self, year: i32) -> bool {
        self.covered_years.contains(&year)
    }

    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.covered_years.iter().copied()
    }

    /// Whether a day is worked: an ordinary weekday that is no holiday, or a make-up weekend day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.days.get(&date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> WorkingDays {
        let mut days = 0u32;
        let mut complete = true;
        let mut day = from;
        while day < to {
            let Some(next) = day.succ_opt() else { break };
            day = next;
            if !self.covers(day.year()) {
                complete = false;
            }
            if self.is_working_day(day) {
                days += 1;
            }
        }
        WorkingDays {
            days,
            calendar_complete: complete,
        }
    }

    /// The `n`th working day after `from` (the deadline of a report due within `n` working days).
    pub fn nth_working_day_after(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut day = from;
        let mut counted = 0;
        while counted < n {
            match day.succ_opt() {
                Some(next) => day = next,
                None => return day,
            }
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        day
    }
}

/// One line of a calendar file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarLineError {
    pub line: usize,
    pub message: String,
}

/// Reads `date,kind,holiday` lines (the format of the State Council notices' fixture). The header
/// line is optional; blank lines are skipped.
pub fn parse_calendar_csv(text: &str) -> Result<Vec<CalendarDay>, Vec<CalendarLineError>> {
    let mut days = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || (index == 0 && line.starts_with("date")) {
            continue;
        }
        let mut parts = line.splitn(3, ',');
        let (date, kind, name) = (parts.next(), parts.next(), parts.next());
        let error = |message: String| CalendarLineError {
            line: index + 1,
            message,
        };
        let Some(date) = date.and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        else {
            errors.push(error("the date must be YYYY-MM-DD".into()));
            continue;
        };
        let Some(kind) = kind.and_then(DayKind::parse) else {
            errors.push(error("the kind must be HOLIDAY or WORKDAY".into()));
            continue;
        };
        if kind == DayKind::Workday && !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            errors.push(error(format!(
                "{date} is a weekday; a make-up WORKDAY is always a Saturday or Sunday"
            )));
            continue;
        }
        days.push(CalendarDay {
            date,
            kind,
            name: name.unwrap_or_default().trim().trim_matches('"').to_owned(),
        });
    }
    if errors.is_empty() {
        Ok(days)
    } else {
        Err(errors)
    }
}

/// The years a file's notices cover: every year with at least four exceptional days (a State
/// Council notice names more than twenty; a lone 31 December belongs to the next year's notice).
pub fn covered_years(days: &[CalendarDay]) -> BTreeSet<i32> {
    let mut counts: HashMap<i32, usize> = HashMap::new();
    for day in days {
        *counts.entry(day.date.year()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n >= 4)
        .map(|(year, _)| year)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture() -> WorkCalendar {
        let text = include_str!("../../migration/data/cn-workday-calendar.csv");
        let days = parse_calendar_csv(text).expect("the fixture parses");
        let years = covered_years(&days);
        WorkCalendar::new(days, years)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_fixture_covers_2023_to_2025() {
        let calendar = fixture();
        assert_eq!(
            calendar.covered_years().collect::<Vec<_>>(),
            vec![2023, 2024, 2025]
        );
    }

    #[test]
    fn the_2023_national_day_holiday_and_its_make_up_weekend() {
        let calendar = fixture();
        // 2023-09-29 .. 10-06 off; Saturday 10-07 and Sunday 10-08 worked.
        assert!(!calendar.is_working_day(date("2023-09-29")));
        assert!(!calendar.is_working_day(date("2023-10-06")));
        assert!(calendar.is_working_day(date("2023-10-07")));
        assert!(calendar.is_working_day(date("2023-10-08")));
        // A decision on Thursday 2023-09-28: working days 1..7 are 10-07, 10-08, 10-09 .. 10-13.
        let decided = date("2023-09-28");
        assert_eq!(
            calendar.nth_working_day_after(decided, 7),
            date("2023-10-13")
        );
        let seventh = calendar.working_days_between(decided, date("2023-10-13"));
        assert_eq!(
            seventh,
            WorkingDays {
                days: 7,
                calendar_complete: true
            }
        );
        let eighth = calendar.working_days_between(decided, date("2023-10-16"));
        assert_eq!(eighth.days, 8);
        // Reported on the make-up Saturday: the first working day.
        assert_eq!(
            calendar
                .working_days_between(decided, date("2023-10-07"))
                .days,
            1
        );
    }

    #[test]
    fn a_year_without_data_falls_back_to_weekends_and_says_so() {
        let calendar = fixture();
        // 2026-01-01 is a Thursday; without 2026 data it counts as a working day.
        let span = calendar.working_days_between(date("2025-12-31"), date("2026-01-02"));
        assert_eq!(
            span,
            WorkingDays {
                days: 2,
                calendar_complete: false
            }
        );
        let inside = calendar.working_days_between(date("2025-12-01"), date("2025-12-05"));
        assert!(inside.calendar_complete);
    }

    #[test]
    fn bad_lines_are_named() {
        let errors = parse_calendar_csv(
            "date,kind,holiday\n2024-13-01,HOLIDAY,x\n2024-01-02,WORKDAY,y\n2024-01-06,OFF,z\n",
        )
        .expect_err("three bad lines");
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert!(errors[1].message.contains("weekday"));
    }

    proptest! {
        #[test]
        fn counting_is_additive_and_matches_the_nth_day(start in 0i64..1500, n in 0u32..40) {
            let calendar = fixture();
            let from = date("2023-01-01") + chrono::Duration::days(start);
            let deadline = calendar.nth_working_day_after(from, n);
            prop_assert_eq!(calendar.working_days_between(from, deadline).days, n);
            if n > 0 {
                prop_assert!(calendar.is_working_day(deadline));
            }
            // Splitting a range anywhere adds up.
            let middle = from + chrono::Duration::days(i64::from(n));
            let end = middle + chrono::Duration::days(10);
            let whole = calendar.working_days_between(from, end).days;
            let parts = calendar.working_days_between(from, middle).days
                + calendar.working_days_between(middle, end).days;
            prop_assert_eq!(whole, parts);
        }

        #[test]
        fn without_data_every_week_has_five_working_days(start in 0i64..3000) {
            let calendar = WorkCalendar::default();
            let from = date("2030-01-01") + chrono::Duration::days(start);
            let week = calendar.working_days_between(from, from + chrono::Duration::days(7));
            prop_assert_eq!(week.days, 5);
            prop_assert!(!week.calendar_complete);
        }
    }
}
