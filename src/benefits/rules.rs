//! The eligibility engine, pure: a scenario's rule and a subject's current credit state in, a
//! decision with every reason out. No database, no clock: the caller passes today.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, UserErrorCode};
use crate::lists::ListKind;
use crate::ratings::rules::GradeClass;
use crate::records::rules::Severity;
use crate::subjects::SubjectKind;

/// A scenario's rule as stored and as an admin or bank sends it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleDefinition {
    /// The evaluation model whose grade counts (default PUBLIC_COMPREHENSIVE).
    #[serde(default = "default_model")]
    pub model: String,
    /// The worst grade class still eligible: A (best) to D; absent = any grade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_grade_class: Option<String>,
    /// The subject kinds the benefit is for; empty = every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_kinds: Vec<String>,
    /// Lists whose entries exclude a subject (e.g. SERIOUS_DISHONESTY).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_lists: Vec<String>,
    /// Lists a subject must be on (e.g. RED).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_lists: Vec<String>,
    /// No negative record of at least this severity decided in the last `months` months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_negative: Option<NegativeDefinition>,
    /// No open (unrepaired, unexpired) commitment breach.
    #[serde(default)]
    pub no_open_breach: bool,
}

/// "No negative record of severity ≥ `min_severity` in `months` months."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NegativeDefinition {
    pub min_severity: String,
    pub months: u32,
}

fn default_model() -> String {
    "PUBLIC_COMPREHENSIVE".into()
}

/// A rule checked and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub model: String,
    pub min_class: Option<GradeClass>,
    pub kinds: Vec<SubjectKind>,
    pub excluded: Vec<ListKind>,
    pub required: Vec<ListKind>,
    pub no_negative: Option<(Severity, u32)>,
    pub no_open_breach: bool,
}

/// The longest look-back of a negative-record rule.
pub const MAX_MONTHS: u32 = 120;

/// Checks a definition; every error names its path under `rule`.
pub fn compile(def: &RuleDefinition) -> Result<Rule, Vec<FieldError>> {
    let mut errors = Vec::new();
    let at = |path: &[&str]| -> Vec<String> {
        std::iter::once("rule")
            .chain(path.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let mut push = |path: Vec<String>, code, message: String| {
        errors.push(FieldError {
            field: path,
            code,
            message,
        });
    };
    if def.model.trim().is_empty() {
        push(
            at(&["model"]),
            UserErrorCode::Required,
            "model is required".into(),
        );
    }
    let min_class = def.min_grade_class.as_deref().and_then(|c| {
        let parsed = GradeClass::parse(c);
        if parsed.is_none() {
            push(
                at(&["minGradeClass"]),
                UserErrorCode::InvalidFormat,
                format!("minGradeClass is A, B, C or D, not {c}"),
            );
        }
        parsed
    });
    let mut kinds = Vec::new();
    for (i, k) in def.subject_kinds.iter().enumerate() {
        match SubjectKind::parse(k) {
            Some(kind) => kinds.push(kind),
            None => push(
                at(&["subjectKinds", &i.to_string()]),
                UserErrorCode::InvalidFormat,
                format!("{k} is not a subject kind"),
            ),
        }
    }
    let mut lists = |name: &str, values: &[String]| -> Vec<ListKind> {
        let mut out = Vec::new();
        for (i, l) in values.iter().enumerate() {
            match ListKind::parse(l) {
                Some(list) => out.push(list),
                None => push(
                    at(&[name, &i.to_string()]),
                    UserErrorCode::InvalidFormat,
                    format!("{l} is not a list (RED, SERIOUS_DISHONESTY, KEY_ATTENTION)"),
                ),
            }
        }
        out
    };
    let excluded = lists("excludedLists", &def.excluded_lists);
    let required = lists("requiredLists", &def.required_lists);
    if let Some(both) = excluded.iter().find(|l| required.contains(l)) {
        push(
            at(&["requiredLists"]),
            UserErrorCode::InvalidRule,
            format!("{} is both required and excluded", both.as_str()),
        );
    }
    let no_negative = def.no_negative.as_ref().and_then(|n| {
        let severity = Severity::parse(&n.min_severity);
        if severity.is_none() {
            push(
                at(&["noNegative", "minSeverity"]),
                UserErrorCode::InvalidFormat,
                format!(
                    "minSeverity is MINOR, GENERAL or SERIOUS, not {}",
                    n.min_severity
                ),
            );
        }
        if n.months == 0 || n.months > MAX_MONTHS {
            push(
                at(&["noNegative", "months"]),
                UserErrorCode::OutOfRange,
                format!("months is 1 to {MAX_MONTHS}"),
            );
            return None;
        }
        severity.map(|s| (s, n.months))
    });
    if errors.is_empty() {
        Ok(Rule {
            model: def.model.trim().to_owned(),
            min_class,
            kinds,
            excluded,
            required,
            no_negative,
            no_open_breach: def.no_open_breach,
        })
    } else {
        Err(errors)
    }
}

/// A negative record as the state keeps it: severity, decision date, end of publicity, and
/// whether it is a commitment breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negative(
    pub Severity,
    pub NaiveDate,
    pub Option<NaiveDate>,
    #[serde(default)] pub bool,
);

/// An entry on a list: which, and its last day (none = without end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnList(pub ListKind, pub Option<NaiveDate>);

/// What every write keeps current per subject (besides its ratings): its active list entries and
/// its active negative records. Stored as compact JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    #[serde(rename = "l", default)]
    pub lists: Vec<OnList>,
    #[serde(rename = "n", default)]
    pub negatives: Vec<Negative>,
}

/// A subject's grade under the rule's model, as the hot path reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grade {
    pub grade: String,
    pub class: GradeClass,
    pub score: i32,
}

/// The codes of the checks a decision reports.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    /// No subject is registered under the code.
    NotRegistered,
    /// The subject's kind is one the benefit is for.
    SubjectKind,
    /// The grade under the scenario's model meets the minimum.
    Grade,
    /// The subject has no rating under the scenario's model (the model does not rate its kind or
    /// industry).
    NoRating,
    /// The subject is on a list that excludes it.
    ExcludedList,
    /// The subject is on the list the benefit requires.
    RequiredList,
    /// A negative record of the given severity within the look-back period.
    NegativeRecord,
    /// An open commitment breach.
    OpenBreach,
}

/// One check of a decision: its code, whether it was met, and text in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: ReasonCode,
    pub met: bool,
    pub zh: String,
    pub en: String,
}

/// The answer: eligible when every reason is met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub eligible: bool,
    pub reasons: Vec<Reason>,
}

fn list_zh(list: ListKind) -> &'static str {
    match list {
        ListKind::Red => "守信激励名单",
        ListKind::SeriousDishonesty => "严重失信主体名单",
        ListKind::KeyAttention => "重点关注名单",
    }
}

fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::Minor => "轻微",
        Severity::General => "一般",
        Severity::Serious => "严重",
    }
}

/// Whether a list entry is in force on `today`.
fn in_force(entry: &OnList, today: NaiveDate) -> bool {
    entry.1.is_none_or(|until| until >= today)
}

/// Whether a negative record still counts on `today`: its publicity has not ended.
fn counts(n: &Negative, today: NaiveDate) -> bool {
    n.2.is_none_or(|until| until >= today)
}

/// Decides a rule over a subject's kind, grade and facts on `today`.
pub fn decide(
    rule: &Rule,
    kind: SubjectKind,
    grade: Option<&Grade>,
    facts: &Facts,
    today: NaiveDate,
) -> Decision {
    let mut reasons = Vec::new();
    if !rule.kinds.is_empty() {
        let met = rule.kinds.contains(&kind);
        reasons.push(Reason {
            code: ReasonCode::SubjectKind,
            met,
            zh: if met {
                format!("主体类型 {} 属于适用范围", kind.as_str())
            } else {
                format!("主体类型 {} 不在适用范围内", kind.as_str())
            },
            en: if met {
                format!("subject kind {} is covered", kind.as_str())
            } else {
                format!("the benefit is not for subjects of kind {}", kind.as_str())
            },
        });
    }
    if let Some(min) = rule.min_class {
        match grade {
            Some(g) => {
                let met = g.class <= min;
                reasons.push(Reason {
                    code: ReasonCode::Grade,
                    met,
                    zh: format!(
                        "{}评价等级为{}（{}类，{}分），{}{}类",
                        rule.model,
                        g.grade,
                        g.class.as_str(),
                        g.score,
                        if met { "不低于" } else { "低于" },
                        min.as_str()
                    ),
                    en: format!(
                        "grade {} (class {}, score {}) under {} {} the minimum class {}",
                        g.grade,
                        g.class.as_str(),
                        g.score,
                        rule.model,
                        if met { "meets" } else { "is below" },
                        min.as_str()
                    ),
                });
            }
            None => reasons.push(Reason {
                code: ReasonCode::NoRating,
                met: false,
                zh: format!("该主体没有{}评价等级", rule.model),
                en: format!("the subject has no rating under {}", rule.model),
            }),
        }
    }
    for list in &rule.excluded {
        let on = facts
            .lists
            .iter()
            .any(|e| e.0 == *list && in_force(e, today));
        reasons.push(Reason {
            code: ReasonCode::ExcludedList,
            met: !on,
            zh: if on {
                format!("列入{}", list_zh(*list))
            } else {
                format!("未列入{}", list_zh(*list))
            },
            en: if on {
                format!("on the {} list", list.as_str())
            } else {
                format!("not on the {} list", list.as_str())
            },
        });
    }
    for list in &rule.required {
        let on = facts
            .lists
            .iter()
            .any(|e| e.0 == *list && in_force(e, today));
        reasons.push(Reason {
            code: ReasonCode::RequiredList,
            met: on,
            zh: if on {
                format!("已列入{}", list_zh(*list))
            } else {
                format!("未列入{}（须列入）", list_zh(*list))
            },
            en: if on {
                format!("on the {} list, as required", list.as_str())
            } else {
                format!("not on the required {} list", list.as_str())
            },
        });
    }
    if let Some((min, months)) = rule.no_negative {
        let since = today
            .checked_sub_months(Months::new(months))
            .unwrap_or(NaiveDate::MIN);
        let latest = facts
            .negatives
            .iter()
            .filter(|n| n.0 >= min && n.1 > since && counts(n, today))
            .map(|n| n.1)
            .max();
        reasons.push(Reason {
            code: ReasonCode::NegativeRecord,
            met: latest.is_none(),
            zh: match latest {
                Some(d) => format!(
                    "近{months}个月内有{}及以上失信记录（最近一条决定日期 {d}）",
                    severity_zh(min)
                ),
                None => format!("近{months}个月内无{}及以上失信记录", severity_zh(min)),
            },
            en: match latest {
                Some(d) => format!(
                    "a negative record of severity {} or worse in the last {months} months (latest decided {d})",
                    min.as_str()
                ),
                None => format!(
                    "no negative record of severity {} or worse in the last {months} months",
                    min.as_str()
                ),
            },
        });
    }
    if rule.no_open_breach {
        let open = facts.negatives.iter().any(|n| n.3 && counts(n, today));
        reasons.push(Reason {
            code: ReasonCode::OpenBreach,
            met: !open,
            zh: if open {
                "存在未修复的违背信用承诺记录".into()
            } else {
                "无未修复的违背信用承诺记录".into()
            },
            en: if open {
                "an open commitment breach".into()
            } else {
                "no open commitment breach".into()
            },
        });
    }
    Decision {
        eligible: reasons.iter().all(|r| r.met),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn rule(json: &str) -> Rule {
        let def: RuleDefinition = serde_json::from_str(json).expect("definition");
        compile(&def).expect("rule")
    }

    fn grade(class: GradeClass) -> Grade {
        Grade {
            grade: class.as_str().into(),
            class,
            score: 900,
        }
    }

    const TODAY: &str = "2026-11-25";

    #[test]
    fn grade_b_or_better_without_serious_dishonesty() {
        let r = rule(
            r#"{"minGradeClass": "B", "excludedLists": ["SERIOUS_DISHONESTY"], "subjectKinds": ["ENTERPRISE", "INDIVIDUAL_BUSINESS"]}"#,
        );
        let today = date(TODAY);
        let none = Facts::default();
        let kind = SubjectKind::Enterprise;
        assert!(decide(&r, kind, Some(&grade(GradeClass::A)), &none, today).eligible);
        assert!(decide(&r, kind, Some(&grade(GradeClass::B)), &none, today).eligible);
        let c = decide(&r, kind, Some(&grade(GradeClass::C)), &none, today);
        assert!(!c.eligible);
        assert_eq!(
            c.reasons.iter().find(|r| !r.met).map(|r| r.code),
            Some(ReasonCode::Grade)
        );
        let listed = Facts {
            lists: vec![OnList(ListKind::SeriousDishonesty, None)],
            negatives: vec![],
        };
        assert!(!decide(&r, kind, Some(&grade(GradeClass::A)), &listed, today).eligible);
        // An entry that ended yesterday no longer excludes.
        let ended = Facts {
            lists: vec![OnList(
                ListKind::SeriousDishonesty,
                Some(date("2026-11-24")),
            )],
            negatives: vec![],
        };
        assert!(decide(&r, kind, Some(&grade(GradeClass::A)), &ended, today).eligible);
        let person = decide(
            &r,
            SubjectKind::NaturalPerson,
            Some(&grade(GradeClass::A)),
            &none,
            today,
        );
        assert_eq!(person.reasons[0].code, ReasonCode::SubjectKind);
        assert!(!person.eligible);
        let unrated = decide(&r, kind, None, &none, today);
        assert!(
            unrated
                .reasons
                .iter()
                .any(|r| r.code == ReasonCode::NoRating && !r.met)
        );
    }

    #[test]
    fn negative_records_count_inside_the_window_until_their_publicity_ends() {
        let r = rule(r#"{"noNegative": {"minSeverity": "GENERAL", "months": 12}}"#);
        let today = date(TODAY);
        let with = |n: Negative| Facts {
            lists: vec![],
            negatives: vec![n],
        };
        let g = |decided: &str, until: Option<&str>| {
            Negative(Severity::General, date(decided), until.map(date), false)
        };
        let k = SubjectKind::Enterprise;
        assert!(!decide(&r, k, None, &with(g("2026-01-01", None)), today).eligible);
        // Exactly 12 months ago is outside the window; a day later is inside.
        assert!(decide(&r, k, None, &with(g("2025-11-25", None)), today).eligible);
        assert!(!decide(&r, k, None, &with(g("2025-11-26", None)), today).eligible);
        // Expired publicity: no longer counts; expiring today still does.
        assert!(
            decide(
                &r,
                k,
                None,
                &with(g("2026-06-01", Some("2026-11-24"))),
                today
            )
            .eligible
        );
        assert!(!decide(&r, k, None, &with(g("2026-06-01", Some(TODAY))), today).eligible);
        // Below the minimum severity: does not count.
        let minor = Negative(Severity::Minor, date("2026-11-01"), None, false);
        assert!(decide(&r, k, None, &with(minor), today).eligible);
        let serious = Negative(Severity::Serious, date("2026-11-01"), None, false);
        assert!(!decide(&r, k, None, &with(serious), today).eligible);
    }

    #[test]
    fn an_open_breach_excludes_until_it_expires() {
        let r = rule(r#"{"noOpenBreach": true}"#);
        let today = date(TODAY);
        let breach = |until: &str| Facts {
            lists: vec![],
            negatives: vec![Negative(
                Severity::General,
                date("2026-10-01"),
                Some(date(until)),
                true,
            )],
        };
        let k = SubjectKind::Enterprise;
        assert!(!decide(&r, k, None, &breach("2027-10-01"), today).eligible);
        assert!(decide(&r, k, None, &breach("2026-11-24"), today).eligible);
    }

    #[test]
    fn compile_names_every_broken_rule() {
        let def: RuleDefinition = serde_json::from_str(
            r#"{"model": " ", "minGradeClass": "E", "subjectKinds": ["ROBOT"], "excludedLists": ["RED"], "requiredLists": ["RED"], "noNegative": {"minSeverity": "HUGE", "months": 0}}"#,
        )
        .expect("json");
        let paths: Vec<String> = compile(&def)
            .expect_err("errors")
            .into_iter()
            .map(|e| e.field.join("."))
            .collect();
        assert_eq!(
            paths,
            vec![
                "rule.model",
                "rule.minGradeClass",
                "rule.subjectKinds.0",
                "rule.requiredLists",
                "rule.noNegative.minSeverity",
                "rule.noNegative.months",
            ]
        );
        assert!(serde_json::from_str::<RuleDefinition>(r#"{"minGrade": "A"}"#).is_err());
    }

    fn class() -> impl Strategy<Value = GradeClass> {
        prop_oneof![
            Just(GradeClass::A),
            Just(GradeClass::B),
            Just(GradeClass::C),
            Just(GradeClass::D)
        ]
    }

    proptest! {
        /// A better grade never loses a benefit a worse grade has.
        #[test]
        fn a_better_grade_never_loses_eligibility(min in class(), a in class(), b in class()) {
            let r = Rule {
                model: "PUBLIC_COMPREHENSIVE".into(),
                min_class: Some(min),
                kinds: vec![],
                excluded: vec![],
                required: vec![],
                no_negative: None,
                no_open_breach: false,
            };
            let (better, worse) = if a <= b { (a, b) } else { (b, a) };
            let today = date(TODAY);
            let f = Facts::default();
            let k = SubjectKind::Enterprise;
            if decide(&r, k, Some(&grade(worse)), &f, today).eligible {
                prop_assert!(decide(&r, k, Some(&grade(better)), &f, today).eligible);
            }
        }

        /// Another negative record never makes an ineligible subject eligible, and a record
        /// that expired or was removed never makes an eligible subject ineligible.
        #[test]
        fn more_negative_records_never_help(days in 0i64..800, sev in 0usize..3, months in 1u32..36) {
            let r = Rule {
                model: "PUBLIC_COMPREHENSIVE".into(),
                min_class: None,
                kinds: vec![],
                excluded: vec![],
                required: vec![],
                no_negative: Some((Severity::General, months)),
                no_open_breach: true,
            };
            let today = date(TODAY);
            let severity = [Severity::Minor, Severity::General, Severity::Serious][sev];
            let n = Negative(severity, today - chrono::Duration::days(days), None, days % 2 == 0);
            let k = SubjectKind::Enterprise;
            let without = decide(&r, k, None, &Facts::default(), today);
            let with = decide(&r, k, None, &Facts { lists: vec![], negatives: vec![n] }, today);
            prop_assert!(without.eligible);
            prop_assert!(!with.eligible || without.eligible);
            // Every decision is eligible exactly when all its reasons are met.
            prop_assert_eq!(with.eligible, with.reasons.iter().all(|r| r.met));
        }
    }
}
