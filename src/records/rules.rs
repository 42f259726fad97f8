//! The pure rules of credit records: severity from penalty types, publicity periods by policy
//! version, and the lateness of 双公示 reports. No I/O.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::rules::{WorkCalendar, WorkingDays};

/// How grave a negative record is.
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Minor misconduct (警告、通报批评、简易程序): never published.
    Minor,
    /// General misconduct (一般失信): published at least 3 months, at most 1 year (defaults).
    General,
    /// Serious misconduct (严重失信): published at least 1 year, at most 3 years (defaults).
    Serious,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minor => "MINOR",
            Self::General => "GENERAL",
            Self::Serious => "SERIOUS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MINOR" => Some(Self::Minor),
            "GENERAL" => Some(Self::General),
            "SERIOUS" => Some(Self::Serious),
            _ => None,
        }
    }
}

/// The penalty types of 行政处罚法 (2021) Art. 9, by their Chinese names as CF_CFLB carries them.
pub const PENALTY_TYPES: [&str; 14] = [
    "警告",
    "通报批评",
    "罚款",
    "没收违法所得",
    "没收非法财物",
    "暂扣许可证件",
    "降低资质等级",
    "吊销许可证件",
    "限制开展生产经营活动",
    "责令停产停业",
    "责令关闭",
    "限制从业",
    "行政拘留",
    "其他",
];

/// Splits a multi-valued CF_CFLB (`罚款;吊销许可证件`, `罚款、没收违法所得`, …) into types.
pub fn split_penalty_types(value: &str) -> Vec<String> {
    value
        .split([';', '；', ',', '，', '、', '|', '/'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A version of the publicity rules, in force from a date (NDRC Order 58 from 2023-05-01; the
/// 信用修复管理办法 from 2026-04-01; REGULATIONS.md §2.2, §2.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicityPolicy {
    pub version: String,
    pub effective_from: NaiveDate,
    /// Working days from decision to report for licenses and penalties (双公示).
    pub report_deadline_working_days: u32,
    pub general_min_months: u32,
    pub general_max_months: u32,
    pub serious_min_months: u32,
    pub serious_max_months: u32,
    /// Penalty types that make a decision serious on their own.
    pub serious_types: Vec<String>,
    /// Penalty types that alone leave a decision minor.
    pub minor_types: Vec<String>,
}

impl PublicityPolicy {
    /// The severity a decision of these types has under this policy: the gravest type decides
    /// ("a decision of several types takes the longest period").
    pub fn severity_of(&self, types: &[String]) -> Severity {
        if types.iter().any(|t| self.serious_types.contains(t)) {
            Severity::Serious
        } else if !types.is_empty() && types.iter().all(|t| self.minor_types.contains(t)) {
            Severity::Minor
        } else {
            Severity::General
        }
    }

    /// When a negative record of this severity is public and when its subject may apply for
    /// repair, counted from the decision date.
    pub fn window(&self, severity: Severity, decided_on: NaiveDate) -> PublicityWindow {
        let (min, max) = match severity {
            Severity::Minor => {
                return PublicityWindow {
                    published: false,
                    public_until: None,
                    repairable_from: None,
                };
            }
            Severity::General => (self.general_min_months, self.general_max_months),
            Severity::Serious => (self.serious_min_months, self.serious_max_months),
        };
        let add = |months: u32| decided_on.checked_add_months(Months::new(months));
        PublicityWindow {
            published: true,
            // The last public day: the day before the maximum period ends.
            public_until: add(max).and_then(|d| d.pred_opt()),
            repairable_from: add(min),
        }
    }
}

/// The policy in force on a date: the latest whose `effective_from` is not after it.
pub fn policy_on(policies: &[PublicityPolicy], date: NaiveDate) -> Option<&PublicityPolicy> {
    policies
        .iter()
        .filter(|p| p.effective_from <= date)
        .max_by_key(|p| p.effective_from)
}

/// When a record is public and repairable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicityWindow {
    /// False for minor misconduct, which is never published.
    pub published: bool,
    /// The last day the record is public; none when it has no end (positive records).
    pub public_until: Option<NaiveDate>,
    /// The first day the subject may apply for repair (the minimum period has passed).
    pub repairable_from: Option<NaiveDate>,
}

/// How late a 双公示 report was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeliness {
    pub working_days: WorkingDays,
    pub late: bool,
}

/// Working days from decision to report, and whether that exceeds the deadline.
pub fn timeliness(
    calendar: &WorkCalendar,
    decided_on: NaiveDate,
    reported_on: NaiveDate,
    deadline_working_days: u32,
) -> Timeliness {
    let working_days = calendar.working_days_between(decided_on, reported_on);
    Timeliness {
        working_days,
        late: working_days.days > deadline_working_days,
    }
}

/// The default policies: NDRC Order 58 (2023-05-01) and the 信用修复管理办法 (2026-04-01), with the
/// same periods; the serious types of the 2026 rules.
pub fn default_policies() -> Vec<PublicityPolicy> {
    let serious_types: Vec<String> = [
        "吊销许可证件",
        "限制开展生产经营活动",
        "责令停产停业",
        "责令关闭",
        "限制从业",
    ]
    .map(str::to_owned)
    .to_vec();
    let minor_types: Vec<String> = ["警告", "通报批评"].map(str::to_owned).to_vec();
    let base = |version: &str, from: NaiveDate| PublicityPolicy {
        version: version.to_owned(),
        effective_from: from,
        report_deadline_working_days: 7,
        general_min_months: 3,
        general_max_months: 12,
        serious_min_months: 12,
        serious_max_months: 36,
        serious_types: serious_types.clone(),
        minor_types: minor_types.clone(),
    };
    let mut policies = Vec::new();
    if let Some(from) = NaiveDate::from_ymd_opt(2023, 5, 1) {
        policies.push(base("NDRC-ORDER-58", from));
    }
    if let Some(from) = NaiveDate::from_ymd_opt(2026, 4, 1) {
        policies.push(base("NDRC-CREDIT-REPAIR-2026", from));
    }
    policies
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn types(s: &str) -> Vec<String> {
        split_penalty_types(s)
    }

    #[test]
    fn the_gravest_type_decides() {
        let policy = &default_policies()[0];
        assert_eq!(policy.severity_of(&types("警告")), Severity::Minor);
        assert_eq!(
            policy.severity_of(&types("警告、通报批评")),
            Severity::Minor
        );
        assert_eq!(policy.severity_of(&types("警告;罚款")), Severity::General);
        assert_eq!(
            policy.severity_of(&types("罚款；吊销许可证件")),
            Severity::Serious
        );
        assert_eq!(policy.severity_of(&[]), Severity::General);
    }

    #[test]
    fn periods_per_severity() {
        let policy = &default_policies()[0];
        let decided = date("2024-03-15");
        let general = policy.window(Severity::General, decided);
        assert_eq!(general.public_until, Some(date("2025-03-14")));
        assert_eq!(general.repairable_from, Some(date("2024-06-15")));
        let serious = policy.window(Severity::Serious, decided);
        assert_eq!(serious.public_until, Some(date("2027-03-14")));
        assert_eq!(serious.repairable_from, Some(date("2025-03-15")));
        let minor = policy.window(Severity::Minor, decided);
        assert!(!minor.published);
    }

    #[test]
    fn the_policy_in_force_on_a_date() {
        let policies = default_policies();
        assert_eq!(policy_on(&policies, date("2023-04-30")), None);
        assert_eq!(
            policy_on(&policies, date("2026-03-31")).map(|p| p.version.as_str()),
            Some("NDRC-ORDER-58")
        );
        assert_eq!(
            policy_on(&policies, date("2026-04-01")).map(|p| p.version.as_str()),
            Some("NDRC-CREDIT-REPAIR-2026")
        );
    }

    proptest! {
        #[test]
        fn more_severe_is_never_shorter(days in 0i64..5000) {
            let policy = &default_policies()[0];
            let decided = date("2020-01-01") + chrono::Duration::days(days);
            let g = policy.window(Severity::General, decided);
            let s = policy.window(Severity::Serious, decided);
            prop_assert!(s.public_until >= g.public_until);
            prop_assert!(s.repairable_from >= g.repairable_from);
            prop_assert!(g.repairable_from.map(|r| r > decided).unwrap_or(false));
            prop_assert!(g.public_until >= g.repairable_from);
        }

        #[test]
        fn adding_a_type_never_lowers_severity(picks in proptest::collection::vec(0usize..14, 1..5), extra in 0usize..14) {
            let policy = &default_policies()[0];
            let base: Vec<String> = picks.iter().map(|i| PENALTY_TYPES[*i].to_owned()).collect();
            let mut more = base.clone();
            more.push(PENALTY_TYPES[extra].to_owned());
            prop_assert!(policy.severity_of(&more) >= policy.severity_of(&base));
        }
    }
}
