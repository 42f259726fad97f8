//! The evaluation engine: pure code over a subject's facts, no I/O.
//!
//! A model ([`Definition`], stored as JSON) has a base score, scoring rules that match records
//! (by polarity, category, item, severity, department) or list entries, each with points per
//! fact, an optional window in months and an optional cap on the rule's total; grade bands from
//! the best down, each with its supervision level; and overrides that cap the grade of a subject
//! on a list (SERIOUS_DISHONESTY → D). [`compile`] validates a definition with errors that name
//! the field; [`evaluate`] rates one subject's facts and explains every point.
//!
//! The guarantees the property tests hold it to: the same facts in any order give the same
//! rating; a new negative record never raises the score or the grade (compile refuses a rule
//! that would let it); an override never raises a grade.

use std::cmp::Reverse;

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Polarity, RecordCategory};
use crate::error::{FieldError, UserErrorCode};
use crate::lists::ListKind;
use crate::records::rules::Severity;
use crate::subjects::SubjectKind;

/// Grade classes of the 2026 State Council rule for public credit evaluation (国办发〔2026〕8号).
/// A model may name finer grades (A+, C−, …); each belongs to one class.
#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize,
)]
pub enum GradeClass {
    /// 诚信 / trustworthy.
    A,
    /// 基本诚信 / minor dishonesty.
    B,
    /// 一般失信 / general dishonesty.
    C,
    /// 严重失信 / serious dishonesty.
    D,
}

impl GradeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "A" => Some(Self::A),
            "B" => Some(Self::B),
            "C" => Some(Self::C),
            "D" => Some(Self::D),
            _ => None,
        }
    }
}

/// How closely regulators watch a subject (分级分类监管), from its grade.
#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize,
)]
pub enum SupervisionLevel {
    /// 信用好: the lowest random-inspection ratio and frequency, "无事不扰".
    Light,
    /// 常规: the ordinary ratio and frequency.
    Normal,
    /// 关注: a higher ratio and frequency of inspections.
    Enhanced,
    /// 重点监管: key supervision, inspections at the highest ratio and on-site checks.
    Key,
}

impl SupervisionLevel {
    pub const ALL: [Self; 4] = [Self::Light, Self::Normal, Self::Enhanced, Self::Key];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "LIGHT",
            Self::Normal => "NORMAL",
            Self::Enhanced => "ENHANCED",
            Self::Key => "KEY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "LIGHT" => Some(Self::Light),
            "NORMAL" => Some(Self::Normal),
            "ENHANCED" => Some(Self::Enhanced),
            "KEY" => Some(Self::Key),
            _ => None,
        }
    }
}

/// A model as stored (JSON) and as an admin defines it. Enumerations are their GraphQL names.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    pub base_score: i32,
    pub min_score: i32,
    pub max_score: i32,
    /// The kinds of subject the model rates.
    pub subject_kinds: Vec<String>,
    /// GB/T 4754 sections the model is for; empty: every industry.
    #[serde(default)]
    pub industries: Vec<String>,
    pub rules: Vec<RuleDefinition>,
    /// Best first; the last is the catch-all.
    pub grades: Vec<GradeDefinition>,
    #[serde(default)]
    pub overrides: Vec<OverrideDefinition>,
}

/// One scoring rule as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleDefinition {
    pub code: String,
    pub description: String,
    /// RECORD or LIST.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polarity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<String>,
    pub points: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_months: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<i32>,
}

/// One grade band as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GradeDefinition {
    pub grade: String,
    pub class: String,
    pub min_score: i32,
    pub supervision: String,
}

/// One override as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverrideDefinition {
    pub list: String,
    pub grade: String,
}

/// What a rule matches.
#[derive(Clone, Debug, PartialEq)]
pub enum Matcher {
    Record {
        polarity: Polarity,
        categories: Vec<RecordCategory>,
        items: Vec<String>,
        severities: Vec<Severity>,
        departments: Vec<String>,
    },
    List {
        lists: Vec<ListKind>,
    },
}

/// A validated scoring rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoringRule {
    pub code: String,
    pub description: String,
    pub matcher: Matcher,
    pub points: i32,
    pub window_months: Option<u32>,
    pub cap: Option<i32>,
}

/// A validated grade band.
#[derive(Clone, Debug, PartialEq)]
pub struct GradeBand {
    pub grade: String,
    pub class: GradeClass,
    pub min_score: i32,
    pub supervision: SupervisionLevel,
}

/// A validated model: what [`evaluate`] runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub base_score: i32,
    pub min_score: i32,
    pub max_score: i32,
    pub subject_kinds: Vec<SubjectKind>,
    pub industries: Vec<String>,
    pub rules: Vec<ScoringRule>,
    pub bands: Vec<GradeBand>,
    /// (list, index of the band that is the best a subject on that list can get).
    pub overrides: Vec<(ListKind, usize)>,
}

impl Model {
    /// Whether the model rates subjects of this kind and industry.
    pub fn applies_to(&self, kind: SubjectKind, industry: Option<&str>) -> bool {
        self.subject_kinds.contains(&kind)
            && (self.industries.is_empty()
                || industry.is_some_and(|i| self.industries.iter().any(|m| m == i)))
    }

    /// The band a score falls in.
    fn band_index(&self, score: i32) -> usize {
        self.bands
            .iter()
            .position(|b| score >= b.min_score)
            .unwrap_or(self.bands.len().saturating_sub(1))
    }
}

const MAX_POINTS: i32 = 100_000;
const MAX_RULES: usize = 200;
const MAX_BANDS: usize = 12;

fn err(path: &[String], code: UserErrorCode, message: impl Into<String>) -> FieldError {
    FieldError {
        field: path.to_vec(),
        code,
        message: message.into(),
    }
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

fn parse_all<T>(
    values: &[String],
    at: &[String],
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        match parse(v) {
            Some(t) => out.push(t),
            None => {
                let mut p = at.to_vec();
                p.push(i.to_string());
                errors.push(err(
                    &p,
                    UserErrorCode::InvalidFormat,
                    format!("`{v}` is not a {what}"),
                ));
            }
        }
    }
    out
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Validates a definition. Every error names its field (`rules.3.points`) and its rule.
pub fn compile(def: &Definition) -> Result<Model, Vec<FieldError>> {
    let mut errors = Vec::new();
    let range = -MAX_POINTS..=MAX_POINTS;
    for (name, v) in [
        ("baseScore", def.base_score),
        ("minScore", def.min_score),
        ("maxScore", def.max_score),
    ] {
        if !range.contains(&v) {
            errors.push(err(
                &path(&[name]),
                UserErrorCode::OutOfRange,
                format!("{name} must be between -{MAX_POINTS} and {MAX_POINTS}"),
            ));
        }
    }
    if def.min_score >= def.max_score {
        errors.push(err(
            &path(&["maxScore"]),
            UserErrorCode::InvalidRule,
            "maxScore must be greater than minScore",
        ));
    } else if !(def.min_score..=def.max_score).contains(&def.base_score) {
        errors.push(err(
            &path(&["baseScore"]),
            UserErrorCode::InvalidRule,
            "baseScore must lie between minScore and maxScore",
        ));
    }

    let kinds = parse_all(
        &def.subject_kinds,
        &path(&["subjectKinds"]),
        SubjectKind::parse,
        "subject kind",
        &mut errors,
    );
    if def.subject_kinds.is_empty() {
        errors.push(err(
            &path(&["subjectKinds"]),
            UserErrorCode::Required,
            "name at least one kind of subject the model rates",
        ));
    }
    for (i, industry) in def.industries.iter().enumerate() {
        let ok = industry.len() == 1 && matches!(industry.as_bytes()[0], b'A'..=b'T');
        if !ok {
            errors.push(err(
                &path(&["industries", &i.to_string()]),
                UserErrorCode::UnknownIndustry,
                format!("`{industry}` is not a GB/T 4754 section (one letter, A to T)"),
            ));
        }
    }

    if def.rules.len() > MAX_RULES {
        errors.push(err(
            &path(&["rules"]),
            UserErrorCode::OutOfRange,
            format!("a model has at most {MAX_RULES} rules"),
        ));
    }
    let mut rules = Vec::with_capacity(def.rules.len());
    for (i, r) in def.rules.iter().enumerate() {
        let at = path(&["rules", &i.to_string()]);
        let field = |name: &str| {
            let mut p = at.clone();
            p.push(name.to_owned());
            p
        };
        if !is_code(&r.code) {
            errors.push(err(
                &field("code"),
                UserErrorCode::InvalidFormat,
                "a rule code is 1 to 64 of A-Z, 0-9 and _",
            ));
        } else if def.rules[..i].iter().any(|o| o.code == r.code) {
            errors.push(err(
                &field("code"),
                UserErrorCode::DuplicateInBatch,
                format!("rule code {} is used twice", r.code),
            ));
        }
        let chars = r.description.trim().chars().count();
        if chars == 0 || chars > 500 {
            errors.push(err(
                &field("description"),
                UserErrorCode::Required,
                "describe the rule in 1 to 500 characters; it is shown with every point it gives",
            ));
        }
        if r.points == 0 || !range.contains(&r.points) {
            errors.push(err(
                &field("points"),
                UserErrorCode::OutOfRange,
                format!("points must be non-zero and between -{MAX_POINTS} and {MAX_POINTS}"),
            ));
        }
        if let Some(w) = r.window_months
            && !(1..=240).contains(&w)
        {
            errors.push(err(
                &field("windowMonths"),
                UserErrorCode::OutOfRange,
                "windowMonths must be 1 to 240 (omit it for no window)",
            ));
        }
        if let Some(cap) = r.cap
            && (cap <= 0 || cap < r.points.saturating_abs() || cap > MAX_POINTS)
        {
            errors.push(err(
                &field("cap"),
                UserErrorCode::OutOfRange,
                "cap is the most the rule may add or take in total: positive, at least |points|",
            ));
        }
        let matcher = match r.source.as_str() {
            "RECORD" => {
                if !r.lists.is_empty() {
                    errors.push(err(
                        &field("lists"),
                        UserErrorCode::NotAllowed,
                        "a RECORD rule matches records; match lists with a LIST rule",
                    ));
                }
                let polarity = match r.polarity.as_deref().map(|p| (p, Polarity::parse(p))) {
                    None => {
                        errors.push(err(
                            &field("polarity"),
                            UserErrorCode::Required,
                            "a RECORD rule names the polarity it matches",
                        ));
                        None
                    }
                    Some((p, None)) => {
                        errors.push(err(
                            &field("polarity"),
                            UserErrorCode::InvalidFormat,
                            format!("`{p}` is not POSITIVE, NEUTRAL or NEGATIVE"),
                        ));
                        None
                    }
                    Some((_, Some(p))) => Some(p),
                };
                match polarity {
                    Some(Polarity::Negative) if r.points > 0 => errors.push(err(
                        &field("points"),
                        UserErrorCode::InvalidRule,
                        "a rule on NEGATIVE records may only take points (points < 0)",
                    )),
                    Some(Polarity::Positive) if r.points < 0 => errors.push(err(
                        &field("points"),
                        UserErrorCode::InvalidRule,
                        "a rule on POSITIVE records may only give points (points > 0)",
                    )),
                    _ => {}
                }
                let categories = parse_all(
                    &r.categories,
                    &field("categories"),
                    RecordCategory::parse,
                    "record category",
                    &mut errors,
                );
                let severities = parse_all(
                    &r.severities,
                    &field("severities"),
                    Severity::parse,
                    "severity (MINOR, GENERAL, SERIOUS)",
                    &mut errors,
                );
                polarity.map(|polarity| Matcher::Record {
                    polarity,
                    categories,
                    items: r.items.clone(),
                    severities,
                    departments: r.departments.clone(),
                })
            }
            "LIST" => {
                for (name, empty) in [
                    ("polarity", r.polarity.is_none()),
                    ("categories", r.categories.is_empty()),
                    ("items", r.items.is_empty()),
                    ("severities", r.severities.is_empty()),
                    ("departments", r.departments.is_empty()),
                ] {
                    if !empty {
                        errors.push(err(
                            &field(name),
                            UserErrorCode::NotAllowed,
                            format!(
                                "a LIST rule matches list entries only; {name} is for RECORD rules"
                            ),
                        ));
                    }
                }
                if r.lists.is_empty() {
                    errors.push(err(
                        &field("lists"),
                        UserErrorCode::Required,
                        "a LIST rule names the lists it matches",
                    ));
                }
                let lists = parse_all(
                    &r.lists,
                    &field("lists"),
                    ListKind::parse,
                    "list (RED, SERIOUS_DISHONESTY, KEY_ATTENTION)",
                    &mut errors,
                );
                for list in &lists {
                    let negative = !matches!(list, ListKind::Red);
                    if (negative && r.points > 0) || (!negative && r.points < 0) {
                        errors.push(err(
                            &field("points"),
                            UserErrorCode::InvalidRule,
                            format!(
                                "the {} list may only {} points",
                                list.as_str(),
                                if negative { "take" } else { "give" }
                            ),
                        ));
                    }
                }
                Some(Matcher::List { lists })
            }
            other => {
                errors.push(err(
                    &field("source"),
                    UserErrorCode::InvalidFormat,
                    format!("`{other}` is not RECORD or LIST"),
                ));
                None
            }
        };
        if let Some(matcher) = matcher {
            rules.push(ScoringRule {
                code: r.code.clone(),
                description: r.description.trim().to_owned(),
                matcher,
                points: r.points,
                window_months: r.window_months,
                cap: r.cap,
            });
        }
    }

    let mut bands: Vec<GradeBand> = Vec::with_capacity(def.grades.len());
    if def.grades.is_empty() || def.grades.len() > MAX_BANDS {
        errors.push(err(
            &path(&["grades"]),
            UserErrorCode::OutOfRange,
            format!("a model has 1 to {MAX_BANDS} grades, best first"),
        ));
    }
    for (i, g) in def.grades.iter().enumerate() {
        let at = path(&["grades", &i.to_string()]);
        let field = |name: &str| {
            let mut p = at.clone();
            p.push(name.to_owned());
            p
        };
        let label_ok = !g.grade.is_empty()
            && g.grade.chars().count() <= 8
            && g.grade.chars().all(|c| !c.is_whitespace());
        if !label_ok {
            errors.push(err(
                &field("grade"),
                UserErrorCode::InvalidFormat,
                "a grade is 1 to 8 characters without spaces, such as A, A+ or C-",
            ));
        } else if def.grades[..i].iter().any(|o| o.grade == g.grade) {
            errors.push(err(
                &field("grade"),
                UserErrorCode::DuplicateInBatch,
                format!("grade {} is defined twice", g.grade),
            ));
        }
        let class = GradeClass::parse(&g.class);
        if class.is_none() {
            errors.push(err(
                &field("class"),
                UserErrorCode::InvalidFormat,
                format!("`{}` is not a grade class (A, B, C, D)", g.class),
            ));
        }
        let supervision = SupervisionLevel::parse(&g.supervision);
        if supervision.is_none() {
            errors.push(err(
                &field("supervision"),
                UserErrorCode::InvalidFormat,
                format!(
                    "`{}` is not a supervision level (LIGHT, NORMAL, ENHANCED, KEY)",
                    g.supervision
                ),
            ));
        }
        if let Some(prev) = bands.last() {
            if g.min_score >= prev.min_score {
                errors.push(err(
                    &field("minScore"),
                    UserErrorCode::InvalidRule,
                    "grades go from the best down: each minScore below the one before",
                ));
            }
            if class.is_some_and(|c| c < prev.class) {
                errors.push(err(
                    &field("class"),
                    UserErrorCode::InvalidRule,
                    "a lower grade cannot belong to a better class than the grade before it",
                ));
            }
        }
        if let (Some(class), Some(supervision)) = (class, supervision) {
            bands.push(GradeBand {
                grade: g.grade.clone(),
                class,
                min_score: g.min_score,
                supervision,
            });
        }
    }
    if let Some(last) = def.grades.last()
        && last.min_score > def.min_score
    {
        errors.push(err(
            &path(&["grades", &(def.grades.len() - 1).to_string(), "minScore"]),
            UserErrorCode::InvalidRule,
            "the last grade must take every score down to minScore (its minScore ≤ minScore)",
        ));
    }

    let mut overrides = Vec::with_capacity(def.overrides.len());
    for (i, o) in def.overrides.iter().enumerate() {
        let at = path(&["overrides", &i.to_string()]);
        let list = ListKind::parse(&o.list);
        if list.is_none() {
            let mut p = at.clone();
            p.push("list".into());
            errors.push(err(
                &p,
                UserErrorCode::InvalidFormat,
                format!("`{}` is not a list", o.list),
            ));
        }
        let band = def.grades.iter().position(|g| g.grade == o.grade);
        if band.is_none() {
            let mut p = at.clone();
            p.push("grade".into());
            errors.push(err(
                &p,
                UserErrorCode::NotFound,
                format!("grade {} is not one of the model's grades", o.grade),
            ));
        }
        if let (Some(list), Some(band)) = (list, band) {
            overrides.push((list, band));
        }
    }

    if errors.is_empty() {
        Ok(Model {
            base_score: def.base_score,
            min_score: def.min_score,
            max_score: def.max_score,
            subject_kinds: kinds,
            industries: def.industries.clone(),
            rules,
            bands,
            overrides,
        })
    } else {
        Err(errors)
    }
}

/// A record as the engine sees it: only ACTIVE records (neither revoked nor repaired) are facts.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordFact {
    pub id: i64,
    pub item_code: String,
    pub category: RecordCategory,
    pub polarity: Polarity,
    pub severity: Option<Severity>,
    pub department: String,
    pub decision_date: NaiveDate,
    /// The last day of its publicity; none for records without an end.
    pub public_until: Option<NaiveDate>,
}

/// A list entry as the engine sees it: only ACTIVE entries are facts.
#[derive(Clone, Debug, PartialEq)]
pub struct ListFact {
    pub id: i64,
    pub list: ListKind,
    pub decided_on: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// Everything a rating depends on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub records: Vec<RecordFact>,
    pub lists: Vec<ListFact>,
}

/// Why a factor's points are what they are, where it is not simply the rule's points.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FactorNote {
    /// The rule's cap was reached: this fact gave fewer points, or none.
    Capped,
    /// The score was held inside the model's minScore..maxScore.
    Bounded,
    /// A list entry capped the grade (the points are 0; the grade is the override's).
    Override,
}

/// One line of a rating's explanation. The points of all factors add up to score − base.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    pub rule: String,
    pub description: String,
    pub record_id: Option<i64>,
    pub list_entry_id: Option<i64>,
    /// The decision date of the record or entry.
    pub date: Option<NaiveDate>,
    pub points: i32,
    /// First day of the rule's window; none when the rule looks back without limit.
    pub window_from: Option<NaiveDate>,
    /// Last day of the window: the evaluation date.
    pub window_to: NaiveDate,
    pub note: Option<FactorNote>,
}

/// A factor as stored with a rating: only what the model version cannot give back. The rule's
/// description and window come from the version at read time ([`Model::explain`]), which keeps
/// each stored rating about a quarter of the size (ingest writes thousands per batch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredFactor {
    #[serde(rename = "r")]
    pub rule: String,
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<i64>,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub list_entry_id: Option<i64>,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    #[serde(rename = "p")]
    pub points: i32,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub note: Option<FactorNote>,
}

impl From<&Factor> for StoredFactor {
    fn from(f: &Factor) -> Self {
        StoredFactor {
            rule: f.rule.clone(),
            record_id: f.record_id,
            list_entry_id: f.list_entry_id,
            date: f.date,
            points: f.points,
            note: f.note,
        }
    }
}

const SCORE_BOUNDS: &str = "SCORE_BOUNDS";
const OVERRIDE_PREFIX: &str = "OVERRIDE_";

impl Model {
    fn bounds_description(&self) -> String {
        format!(
            "the score is held between {} and {}",
            self.min_score, self.max_score
        )
    }

    fn override_description(&self, list: ListKind) -> String {
        let grade = self
            .overrides
            .iter()
            .find(|(l, _)| *l == list)
            .map_or("?", |(_, band)| self.bands[*band].grade.as_str());
        format!(
            "a subject on the {} list is graded {grade} at best",
            list.as_str()
        )
    }

    fn window_from(&self, window_months: Option<u32>, as_of: NaiveDate) -> Option<NaiveDate> {
        window_months
            .and_then(|m| as_of.checked_sub_months(Months::new(m)))
            .and_then(|d| d.checked_add_days(Days::new(1)))
    }

    /// Gives stored factors back their descriptions and windows, as `evaluate` made them.
    pub fn explain(&self, stored: &[StoredFactor], as_of: NaiveDate) -> Vec<Factor> {
        stored
            .iter()
            .map(|s| {
                let rule = self.rules.iter().find(|r| r.code == s.rule);
                let description = match rule {
                    Some(r) => r.description.clone(),
                    None if s.rule == SCORE_BOUNDS => self.bounds_description(),
                    None => s
                        .rule
                        .strip_prefix(OVERRIDE_PREFIX)
                        .and_then(ListKind::parse)
                        .map_or_else(|| s.rule.clone(), |l| self.override_description(l)),
                };
                Factor {
                    rule: s.rule.clone(),
                    description,
                    record_id: s.record_id,
                    list_entry_id: s.list_entry_id,
                    date: s.date,
                    points: s.points,
                    window_from: rule.and_then(|r| self.window_from(r.window_months, as_of)),
                    window_to: as_of,
                    note: s.note,
                }
            })
            .collect()
    }
}

/// A subject's rating under one model on one date.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub score: i32,
    pub grade: String,
    pub class: GradeClass,
    pub supervision: SupervisionLevel,
    pub factors: Vec<Factor>,
    /// The last day this rating stays exact without any write: the day before a counted fact
    /// leaves its window, a list entry ends, or a dated fact starts to count.
    pub valid_until: Option<NaiveDate>,
}

fn record_matches(matcher: &Matcher, r: &RecordFact) -> bool {
    match matcher {
        Matcher::Record {
            polarity,
            categories,
            items,
            severities,
            departments,
        } => {
            *polarity == r.polarity
                && (categories.is_empty() || categories.contains(&r.category))
                && (items.is_empty() || items.contains(&r.item_code))
                && (severities.is_empty() || r.severity.is_some_and(|s| severities.contains(&s)))
                && (departments.is_empty() || departments.contains(&r.department))
        }
        Matcher::List { .. } => false,
    }
}

fn earliest(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Rates one subject's facts on `as_of`. Facts are taken in a fixed order (newest first, then by
/// id), so their order in the input never matters; a cap stops the oldest facts counting.
pub fn evaluate(model: &Model, facts: &Facts, as_of: NaiveDate) -> Evaluation {
    let mut factors = Vec::new();
    let mut total: i64 = 0;
    let mut valid_until: Option<NaiveDate> = None;
    let day_before = |d: NaiveDate| d.checked_sub_days(Days::new(1));

    for rule in &model.rules {
        let window_from = model.window_from(rule.window_months, as_of);
        // (date, id, is_list)
        let mut matched: Vec<(NaiveDate, i64, bool)> = Vec::new();
        match &rule.matcher {
            Matcher::Record { .. } => {
                for r in facts
                    .records
                    .iter()
                    .filter(|r| record_matches(&rule.matcher, r))
                {
                    if r.decision_date > as_of {
                        valid_until = earliest(valid_until, day_before(r.decision_date));
                        continue;
                    }
                    if window_from.is_some_and(|from| r.decision_date < from) {
                        continue;
                    }
                    if let Some(m) = rule.window_months {
                        // It stops counting on decision + m months.
                        let leaves = r.decision_date.checked_add_months(Months::new(m));
                        valid_until = earliest(valid_until, leaves.and_then(day_before));
                    }
                    matched.push((r.decision_date, r.id, false));
                }
            }
            Matcher::List { lists } => {
                for e in facts.lists.iter().filter(|e| lists.contains(&e.list)) {
                    if e.decided_on > as_of {
                        valid_until = earliest(valid_until, day_before(e.decided_on));
                        continue;
                    }
                    if e.until.is_some_and(|u| u < as_of) {
                        continue;
                    }
                    if window_from.is_some_and(|from| e.decided_on < from) {
                        continue;
                    }
                    valid_until = earliest(valid_until, e.until);
                    if let Some(m) = rule.window_months {
                        let leaves = e.decided_on.checked_add_months(Months::new(m));
                        valid_until = earliest(valid_until, leaves.and_then(day_before));
                    }
                    matched.push((e.decided_on, e.id, true));
                }
            }
        }
        matched.sort_by_key(|&(date, id, _)| (Reverse(date), Reverse(id)));
        let mut rule_total: i32 = 0;
        for (date, id, is_list) in matched {
            let mut points = rule.points;
            let mut note = None;
            if let Some(cap) = rule.cap {
                let room = cap - rule_total.saturating_abs();
                if points.saturating_abs() > room {
                    points = room.max(0) * points.signum();
                    note = Some(FactorNote::Capped);
                }
            }
            rule_total = rule_total.saturating_add(points);
            factors.push(Factor {
                rule: rule.code.clone(),
                description: rule.description.clone(),
                record_id: (!is_list).then_some(id),
                list_entry_id: is_list.then_some(id),
                date: Some(date),
                points,
                window_from,
                window_to: as_of,
                note,
            });
        }
        total += i64::from(rule_total);
    }

    let raw = i64::from(model.base_score) + total;
    let score = raw.clamp(i64::from(model.min_score), i64::from(model.max_score));
    if score != raw {
        factors.push(Factor {
            rule: SCORE_BOUNDS.into(),
            description: model.bounds_description(),
            record_id: None,
            list_entry_id: None,
            date: None,
            points: i32::try_from(score - raw).unwrap_or(0),
            window_from: None,
            window_to: as_of,
            note: Some(FactorNote::Bounded),
        });
    }
    let score = i32::try_from(score).unwrap_or(model.min_score);

    let mut band = model.band_index(score);
    for (list, cap_band) in &model.overrides {
        // The earliest entry in force explains the override, whatever the input order.
        let on_list = facts
            .lists
            .iter()
            .filter(|e| {
                e.list == *list && e.decided_on <= as_of && e.until.is_none_or(|u| u >= as_of)
            })
            .min_by_key(|e| (e.decided_on, e.id, e.until));
        if let Some(entry) = on_list {
            valid_until = earliest(valid_until, entry.until);
            if *cap_band > band {
                band = *cap_band;
            }
            factors.push(Factor {
                rule: format!("{OVERRIDE_PREFIX}{}", list.as_str()),
                description: model.override_description(*list),
                record_id: None,
                list_entry_id: Some(entry.id),
                date: Some(entry.decided_on),
                points: 0,
                window_from: None,
                window_to: as_of,
                note: Some(FactorNote::Override),
            });
        }
    }
    for e in &facts.lists {
        if e.decided_on > as_of && model.overrides.iter().any(|(l, _)| *l == e.list) {
            valid_until = earliest(valid_until, day_before(e.decided_on));
        }
    }
    let b = &model.bands[band.min(model.bands.len() - 1)];
    Evaluation {
        score,
        grade: b.grade.clone(),
        class: b.class,
        supervision: b.supervision,
        factors,
        valid_until,
    }
}

/// A reproducible random sample for 双随机 inspections: each id is ordered by SHA-256 of the seed
/// and the id, and the first `n` are drawn. The same population and seed always give the same
/// sample, on any machine and either database; a different seed gives an independent draw.
pub fn random_sample(population: &[i64], seed: &str, n: usize) -> Vec<i64> {
    let mut keyed: Vec<([u8; 8], i64)> = population
        .iter()
        .map(|id| {
            let mut hasher = Sha256::new();
            hasher.update(seed.as_bytes());
            hasher.update([0u8]);
            hasher.update(id.to_be_bytes());
            let digest = hasher.finalize();
            let mut key = [0u8; 8];
            key.copy_from_slice(&digest[..8]);
            (key, *id)
        })
        .collect();
    keyed.sort_unstable();
    keyed.dedup_by_key(|(_, id)| *id);
    let mut sample: Vec<i64> = keyed.into_iter().take(n).map(|(_, id)| id).collect();
    sample.sort_unstable();
    sample
}

/// Whether `yes` of `all` reach `percent` percent; an empty population never qualifies.
pub fn reaches(yes: u64, all: u64, percent: u32) -> bool {
    all > 0 && yes * 100 >= u64::from(percent) * all
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn definition() -> Definition {
        serde_json::from_value(serde_json::json!({
            "baseScore": 1000, "minScore": 0, "maxScore": 1200,
            "subjectKinds": ["ENTERPRISE", "INDIVIDUAL_BUSINESS"],
            "rules": [
                {"code": "PENALTY_SERIOUS", "description": "严重行政处罚", "source": "RECORD",
                 "polarity": "NEGATIVE", "categories": ["PENALTY"], "severities": ["SERIOUS"],
                 "points": -150, "windowMonths": 36, "cap": 450},
                {"code": "PENALTY_GENERAL", "description": "一般行政处罚", "source": "RECORD",
                 "polarity": "NEGATIVE", "categories": ["PENALTY"], "severities": ["GENERAL"],
                 "points": -40, "windowMonths": 12, "cap": 200},
                {"code": "BREACH", "description": "违背信用承诺", "source": "RECORD",
                 "polarity": "NEGATIVE", "categories": ["COMMITMENT_BREACH"],
                 "points": -80, "windowMonths": 24},
                {"code": "HONOR", "description": "表彰奖励", "source": "RECORD",
                 "polarity": "POSITIVE", "categories": ["HONOR"], "points": 20, "cap": 60},
                {"code": "RED", "description": "守信激励名单", "source": "LIST",
                 "lists": ["RED"], "points": 50},
                {"code": "DISHONEST", "description": "严重失信主体名单", "source": "LIST",
                 "lists": ["SERIOUS_DISHONESTY"], "points": -300}
            ],
            "grades": [
                {"grade": "A", "class": "A", "minScore": 950, "supervision": "LIGHT"},
                {"grade": "B", "class": "B", "minScore": 850, "supervision": "NORMAL"},
                {"grade": "C", "class": "C", "minScore": 700, "supervision": "ENHANCED"},
                {"grade": "D", "class": "D", "minScore": 0, "supervision": "KEY"}
            ],
            "overrides": [{"list": "SERIOUS_DISHONESTY", "grade": "D"}]
        }))
        .unwrap_or_else(|e| panic!("definition: {e}"))
    }

    fn model() -> Model {
        compile(&definition()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn penalty(id: i64, severity: Severity, on: &str) -> RecordFact {
        RecordFact {
            id,
            item_code: "ADMIN_PENALTY".into(),
            category: RecordCategory::Penalty,
            polarity: Polarity::Negative,
            severity: Some(severity),
            department: "MARKET_REGULATION".into(),
            decision_date: date(on),
            public_until: None,
        }
    }

    #[test]
    fn a_clean_subject_gets_the_base_score() {
        let e = evaluate(&model(), &Facts::default(), date("2026-11-25"));
        assert_eq!((e.score, e.grade.as_str()), (1000, "A"));
        assert_eq!(e.supervision, SupervisionLevel::Light);
        assert!(e.factors.is_empty());
        assert_eq!(e.valid_until, None);
    }

    #[test]
    fn factors_explain_every_point_and_caps_stop_the_oldest() {
        let facts = Facts {
            records: (1..=5)
                .map(|i| penalty(i, Severity::Serious, &format!("2026-0{i}-10")))
                .collect(),
            lists: vec![],
        };
        let e = evaluate(&model(), &facts, date("2026-11-25"));
        assert_eq!(e.score, 1000 - 450);
        assert_eq!(e.grade, "D");
        let sum: i32 = e.factors.iter().map(|f| f.points).sum();
        assert_eq!(sum, e.score - 1000);
        // Newest first: records 5, 4, 3 count; 2 and 1 are capped at 0.
        let capped: Vec<i64> = e
            .factors
            .iter()
            .filter(|f| f.note == Some(FactorNote::Capped))
            .filter_map(|f| f.record_id)
            .collect();
        assert_eq!(capped, vec![2, 1]);
        assert_eq!(e.factors[0].window_from, Some(date("2023-11-26")));
    }

    #[test]
    fn a_record_leaves_its_window_and_the_rating_says_when() {
        let facts = Facts {
            records: vec![penalty(1, Severity::General, "2025-12-01")],
            lists: vec![],
        };
        let e = evaluate(&model(), &facts, date("2026-11-25"));
        assert_eq!(e.score, 960);
        assert_eq!(e.valid_until, Some(date("2026-11-30")));
        let later = evaluate(&model(), &facts, date("2026-12-01"));
        assert_eq!(later.score, 1000);
        let last = evaluate(&model(), &facts, date("2026-11-30"));
        assert_eq!(last.score, 960);
    }

    #[test]
    fn serious_dishonesty_forces_d_whatever_the_score() {
        let facts = Facts {
            records: vec![],
            lists: vec![
                ListFact {
                    id: 7,
                    list: ListKind::SeriousDishonesty,
                    decided_on: date("2026-01-01"),
                    until: None,
                },
                ListFact {
                    id: 8,
                    list: ListKind::Red,
                    decided_on: date("2026-01-01"),
                    until: None,
                },
            ],
        };
        let mut m = model();
        m.rules.retain(|r| r.code != "DISHONEST");
        let e = evaluate(&m, &facts, date("2026-11-25"));
        assert_eq!(e.score, 1050);
        assert_eq!((e.grade.as_str(), e.class), ("D", GradeClass::D));
        assert!(
            e.factors
                .iter()
                .any(|f| f.note == Some(FactorNote::Override))
        );
    }

    #[test]
    fn scores_stay_within_bounds_and_say_so() {
        let facts = Facts {
            records: (1..=40)
                .map(|i| RecordFact {
                    id: i,
                    item_code: "CB".into(),
                    category: RecordCategory::CommitmentBreach,
                    polarity: Polarity::Negative,
                    severity: None,
                    department: "X".into(),
                    decision_date: date("2026-06-01"),
                    public_until: None,
                })
                .collect(),
            lists: vec![],
        };
        let e = evaluate(&model(), &facts, date("2026-11-25"));
        assert_eq!(e.score, 0);
        let sum: i32 = e.factors.iter().map(|f| f.points).sum();
        assert_eq!(sum, -1000);
        assert!(
            e.factors
                .iter()
                .any(|f| f.note == Some(FactorNote::Bounded))
        );
    }

    fn field_of(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(|e| e.field.join(".")).collect()
    }

    #[test]
    fn compile_names_the_field_and_the_rule() {
        let mut d = definition();
        d.rules[0].points = 10;
        d.grades[2].min_score = 900;
        d.overrides[0].grade = "E".into();
        d.rules[1].severities = vec!["HUGE".into()];
        let errors = compile(&d).err().unwrap_or_default();
        assert_eq!(
            field_of(&errors),
            vec![
                "rules.0.points",
                "rules.1.severities.0",
                "grades.2.minScore",
                "overrides.0.grade"
            ]
        );
        assert_eq!(errors[0].code, UserErrorCode::InvalidRule);
    }

    #[test]
    fn compile_refuses_a_grade_ladder_with_a_gap_at_the_bottom() {
        let mut d = definition();
        d.grades[3].min_score = 100;
        let errors = compile(&d).err().unwrap_or_default();
        assert_eq!(field_of(&errors), vec!["grades.3.minScore"]);
    }

    #[test]
    fn the_seeded_models_compile_and_cover_the_work_plan() {
        let seeded: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../migration/data/evaluation-models.json"))
                .unwrap_or_default();
        let codes: Vec<&str> = seeded.iter().filter_map(|m| m["code"].as_str()).collect();
        for code in [
            "PUBLIC_COMPREHENSIVE",
            "FOOD_DRUG",
            "CONSTRUCTION",
            "BIDDING",
            "WORK_SAFETY",
            "FIRE_SAFETY",
            "MEDICAL",
            "MEDICAL_INSURANCE",
            "ENVIRONMENT",
            "ELDERLY_CARE",
            "FISCAL_FUNDS",
            "GOVERNMENT_PROCUREMENT",
            "RURAL_HOUSEHOLD",
        ] {
            assert!(codes.contains(&code), "{code} is seeded");
        }
        for m in &seeded {
            let definition: Definition = serde_json::from_value(m["definition"].clone())
                .unwrap_or_else(|e| panic!("{}: {e}", m["code"]));
            let model = compile(&definition).unwrap_or_else(|e| panic!("{}: {e:?}", m["code"]));
            assert_eq!(
                model
                    .overrides
                    .first()
                    .map(|(l, b)| (*l, model.bands[*b].class)),
                Some((ListKind::SeriousDishonesty, GradeClass::D)),
                "{}",
                m["code"]
            );
        }
    }

    #[test]
    fn samples_are_reproducible_and_seeded() {
        let ids: Vec<i64> = (1..=1000).collect();
        let a = random_sample(&ids, "2026-Q4", 25);
        assert_eq!(a, random_sample(&ids, "2026-Q4", 25));
        assert_ne!(a, random_sample(&ids, "2027-Q1", 25));
        assert_eq!(a.len(), 25);
        assert_eq!(random_sample(&ids[..10], "s", 25).len(), 10);
    }

    #[test]
    fn thresholds_are_inclusive_and_need_a_population() {
        assert!(reaches(7, 10, 70));
        assert!(!reaches(6, 10, 70));
        assert!(!reaches(0, 0, 0));
    }

    fn arb_record() -> impl Strategy<Value = RecordFact> {
        (
            1i64..10_000,
            prop_oneof![
                Just(RecordCategory::Penalty),
                Just(RecordCategory::CommitmentBreach),
                Just(RecordCategory::Honor),
                Just(RecordCategory::License),
            ],
            prop_oneof![
                Just(None),
                Just(Some(Severity::Minor)),
                Just(Some(Severity::General)),
                Just(Some(Severity::Serious)),
            ],
            0u32..1500,
        )
            .prop_map(|(id, category, severity, back)| RecordFact {
                id,
                item_code: "ITEM".into(),
                category,
                polarity: match category {
                    RecordCategory::Honor => Polarity::Positive,
                    RecordCategory::License => Polarity::Neutral,
                    _ => Polarity::Negative,
                },
                severity,
                department: "MARKET_REGULATION".into(),
                decision_date: date("2026-11-25") - chrono::Duration::days(i64::from(back)),
                public_until: None,
            })
    }

    fn arb_list() -> impl Strategy<Value = ListFact> {
        (
            1i64..1000,
            prop_oneof![
                Just(ListKind::Red),
                Just(ListKind::SeriousDishonesty),
                Just(ListKind::KeyAttention)
            ],
            0u32..800,
            proptest::option::of(0u32..800),
        )
            .prop_map(|(id, list, back, until)| ListFact {
                id,
                list,
                decided_on: date("2026-11-25") - chrono::Duration::days(i64::from(back)),
                until: until.map(|u| date("2025-06-01") + chrono::Duration::days(i64::from(u))),
            })
    }

    fn arb_facts() -> impl Strategy<Value = Facts> {
        (
            proptest::collection::vec(arb_record(), 0..30),
            proptest::collection::vec(arb_list(), 0..3),
        )
            .prop_map(|(records, lists)| Facts { records, lists })
    }

    proptest! {
        #[test]
        fn a_new_negative_record_never_raises_the_score_or_grade(
            facts in arb_facts(),
            extra in arb_record(),
        ) {
            let m = model();
            let as_of = date("2026-11-25");
            let before = evaluate(&m, &facts, as_of);
            let mut more = facts.clone();
            let mut negative = extra;
            negative.polarity = Polarity::Negative;
            negative.id += 100_000;
            more.records.push(negative);
            let after = evaluate(&m, &more, as_of);
            prop_assert!(after.score <= before.score);
            prop_assert!(after.class >= before.class);
        }

        #[test]
        fn the_same_facts_in_any_order_give_the_same_rating(
            facts in arb_facts(),
            seed in any::<u64>(),
        ) {
            let m = model();
            let as_of = date("2026-11-25");
            let mut shuffled = facts.clone();
            let n = shuffled.records.len();
            if n > 1 {
                let k = (seed as usize) % n;
                shuffled.records.rotate_left(k);
                shuffled.records.reverse();
            }
            shuffled.lists.reverse();
            prop_assert_eq!(evaluate(&m, &facts, as_of), evaluate(&m, &shuffled, as_of));
        }

        #[test]
        fn serious_dishonesty_always_means_d(facts in arb_facts(), back in 0u32..500) {
            let m = model();
            let as_of = date("2026-11-25");
            let mut on_list = facts.clone();
            on_list.lists.push(ListFact {
                id: 99_999,
                list: ListKind::SeriousDishonesty,
                decided_on: as_of - chrono::Duration::days(i64::from(back)),
                until: None,
            });
            prop_assert_eq!(evaluate(&m, &on_list, as_of).class, GradeClass::D);
        }

        #[test]
        fn stored_factors_explain_as_evaluated(facts in arb_facts()) {
            let m = model();
            let as_of = date("2026-11-25");
            let e = evaluate(&m, &facts, as_of);
            let stored: Vec<StoredFactor> = e.factors.iter().map(StoredFactor::from).collect();
            let text = serde_json::to_string(&stored).unwrap_or_default();
            let back: Vec<StoredFactor> = serde_json::from_str(&text).unwrap_or_default();
            prop_assert_eq!(m.explain(&back, as_of), e.factors);
        }

        #[test]
        fn factors_always_add_up_to_the_score(facts in arb_facts()) {
            let m = model();
            let e = evaluate(&m, &facts, date("2026-11-25"));
            let sum: i32 = e.factors.iter().map(|f| f.points).sum();
            prop_assert_eq!(sum, e.score - m.base_score);
            prop_assert!(e.score >= m.min_score && e.score <= m.max_score);
        }

        #[test]
        fn a_rating_holds_until_its_valid_until(facts in arb_facts(), days in 1i64..400) {
            let m = model();
            let as_of = date("2026-11-25");
            let e = evaluate(&m, &facts, as_of);
            let later = as_of + chrono::Duration::days(days);
            if e.valid_until.is_none_or(|v| later <= v) {
                let again = evaluate(&m, &facts, later);
                prop_assert_eq!((again.score, again.grade), (e.score, e.grade));
            }
        }

        #[test]
        fn a_sample_is_a_subset_without_repeats(
            ids in proptest::collection::vec(1i64..5000, 0..300),
            n in 0usize..100,
            seed in "[a-z0-9]{1,12}",
        ) {
            let s = random_sample(&ids, &seed, n);
            let mut unique = ids.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(s.len(), n.min(unique.len()));
            prop_assert!(s.iter().all(|id| unique.binary_search(id).is_ok()));
            prop_assert!(s.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
