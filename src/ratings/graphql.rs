//! The GraphQL adapter of evaluation: models (`evaluationModels`, `defineEvaluationModel`,
//! `activateEvaluationModel`, `retireEvaluationModel`), ratings (`Subject.rating`,
//! `Subject.ratings`), batch runs (`runEvaluation`, `evaluationRun`, `evaluationRuns`),
//! tiered supervision (`supervisedSubjects`, `supervisionSample`) and rural credit
//! (`ruralCredit`).

use async_graphql::{
    Context, ErrorExtensions, ID, InputObject, Object, SimpleObject, dataloader::DataLoader,
};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{evaluation_run, rating, rating_history};

use super::evaluation;
use super::loader::{ModelLoader, ModelVersionId};
use super::rules::{
    Definition, FactorNote, GradeClass, GradeDefinition, OverrideDefinition, RuleDefinition,
    StoredFactor, SupervisionLevel,
};
use super::rural::{self, RuralRollup, VillageCredit};
use super::service::{self, LoadedModel, StatusChange};
use super::supervision::{self, Scope};
use crate::auth::Role;
use crate::catalog::{Polarity, RecordCategory};
use crate::error::AppError;
use crate::graphql::ContextExt;
use crate::graphql::types::{
    CountedConnection, IdCursor, NodeKind, UserError, global_id, page, page_size,
};
use crate::lists::ListKind;
use crate::records::rules::Severity;
use crate::records::service::china_today;
use crate::subjects::SubjectKind;
use crate::subjects::graphql::Subject;

/// The roles that may read ratings.
pub const RATING_READERS: [Role; 4] = [
    Role::Admin,
    Role::Department,
    Role::ApprovalHall,
    Role::Bank,
];

/// The life of a model version.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStatus {
    /// Defined, not yet used for ratings.
    Draft,
    /// The version every new rating of the model uses (one per model code).
    Active,
    /// No longer used; ratings made with it keep it.
    Retired,
}

/// What a scoring rule matches.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactSource {
    /// Credit records (by polarity, category, item, severity, department).
    Record,
    /// List entries in force.
    List,
}

/// What caused a rating.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingCause {
    /// The subject was registered, or its kind or industry changed.
    Subject,
    /// A record was added, corrected, revoked or repaired.
    Record,
    /// A list entry was added or removed.
    List,
    /// A commitment was breached.
    Commitment,
    /// A batch evaluation (or, with `computedOnRead`, the read itself).
    Evaluation,
}

/// One scoring rule of a model.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "ScoringRuleInput")]
pub struct ScoringRule {
    /// The rule's code, unique in the model (A-Z, 0-9, _); factors name it.
    pub code: String,
    /// What the rule means, shown with every point it gives or takes.
    pub description: String,
    /// Whether it matches records or list entries.
    pub source: FactSource,
    /// RECORD rules: the polarity matched. A rule on NEGATIVE records may only take points, one
    /// on POSITIVE records only give them.
    pub polarity: Option<Polarity>,
    /// RECORD rules: only these categories (empty: any).
    #[graphql(default)]
    pub categories: Vec<RecordCategory>,
    /// RECORD rules: only these catalog item codes (empty: any).
    #[graphql(default)]
    pub items: Vec<String>,
    /// RECORD rules: only records of these severities (empty: any, including none).
    #[graphql(default)]
    pub severities: Vec<Severity>,
    /// RECORD rules: only records provided by these organization codes (empty: any).
    #[graphql(default)]
    pub departments: Vec<String>,
    /// LIST rules: the lists matched.
    #[graphql(default)]
    pub lists: Vec<ListKind>,
    /// Points per matching fact: negative takes, positive gives; never 0.
    pub points: i32,
    /// Only facts decided within this many months before the evaluation date count; null: all.
    pub window_months: Option<u32>,
    /// The most the rule may give or take in total (a positive number); null: no cap.
    pub cap: Option<i32>,
}

/// One grade of a model, from the best down.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "GradeBandInput")]
pub struct GradeBand {
    /// The grade's label: A, B, C, D, or a finer one such as A+ or C-.
    pub grade: String,
    /// The class of the 2026 rule the grade belongs to.
    pub grade_class: GradeClass,
    /// The lowest score with this grade.
    pub min_score: i32,
    /// The supervision level of subjects with this grade.
    pub supervision_level: SupervisionLevel,
}

/// A list that caps the grade of a subject on it.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "GradeOverrideInput")]
pub struct GradeOverride {
    /// The list.
    pub list: ListKind,
    /// The best grade a subject on the list can have (a grade of the model).
    pub grade: String,
}

/// A model's definition, as an admin writes it.
#[derive(InputObject)]
pub struct EvaluationModelDefinitionInput {
    /// The score of a subject without any fact.
    pub base_score: i32,
    /// The lowest score.
    pub min_score: i32,
    /// The highest score.
    pub max_score: i32,
    /// The kinds of subject the model rates.
    pub subject_kinds: Vec<SubjectKind>,
    /// GB/T 4754 sections (A to T) the model is for; empty: every industry.
    #[graphql(default)]
    pub industries: Vec<String>,
    /// The scoring rules.
    pub rules: Vec<ScoringRule>,
    /// The grades from the best down; the last must take every score down to `minScore`.
    pub grades: Vec<GradeBand>,
    /// Lists that cap the grade (SERIOUS_DISHONESTY → D).
    #[graphql(default)]
    pub overrides: Vec<GradeOverride>,
}

fn source_str(s: FactSource) -> &'static str {
    match s {
        FactSource::Record => "RECORD",
        FactSource::List => "LIST",
    }
}

impl From<EvaluationModelDefinitionInput> for Definition {
    fn from(i: EvaluationModelDefinitionInput) -> Self {
        Definition {
            base_score: i.base_score,
            min_score: i.min_score,
            max_score: i.max_score,
            subject_kinds: i
                .subject_kinds
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            industries: i.industries.iter().map(|s| s.trim().to_owned()).collect(),
            rules: i
                .rules
                .into_iter()
                .map(|r| RuleDefinition {
                    code: r.code.trim().to_owned(),
                    description: r.description,
                    source: source_str(r.source).to_owned(),
                    polarity: r.polarity.map(|p| p.as_str().to_owned()),
                    categories: r.categories.iter().map(|c| c.as_str().to_owned()).collect(),
                    items: r.items,
                    severities: r.severities.iter().map(|s| s.as_str().to_owned()).collect(),
                    departments: r.departments,
                    lists: r.lists.iter().map(|l| l.as_str().to_owned()).collect(),
                    points: r.points,
                    window_months: r.window_months,
                    cap: r.cap,
                })
                .collect(),
            grades: i
                .grades
                .into_iter()
                .map(|g| GradeDefinition {
                    grade: g.grade.trim().to_owned(),
                    class: g.grade_class.as_str().to_owned(),
                    min_score: g.min_score,
                    supervision: g.supervision_level.as_str().to_owned(),
                })
                .collect(),
            overrides: i
                .overrides
                .into_iter()
                .map(|o| OverrideDefinition {
                    list: o.list.as_str().to_owned(),
                    grade: o.grade,
                })
                .collect(),
        }
    }
}

/// A version of an evaluation model: rules as data.
pub struct EvaluationModel(pub LoadedModel);

/// A version of an evaluation model (信用评价模型). Ratings name the version they were made
/// with; an admin defines new versions, activates one per code and retires old ones.
#[Object]
impl EvaluationModel {
    /// The model's code, e.g. PUBLIC_COMPREHENSIVE or FOOD_DRUG; pass it to `Subject.rating`.
    async fn code(&self) -> &str {
        &self.0.row.code
    }

    /// The version, from 1.
    async fn version(&self) -> i32 {
        self.0.row.version
    }

    /// The Chinese name.
    async fn name(&self) -> &str {
        &self.0.row.name
    }

    /// What the model is for and how it scores.
    async fn description(&self) -> &str {
        &self.0.row.description
    }

    /// DRAFT, ACTIVE or RETIRED.
    async fn status(&self) -> ModelStatus {
        match self.0.row.status.as_str() {
            "ACTIVE" => ModelStatus::Active,
            "RETIRED" => ModelStatus::Retired,
            _ => ModelStatus::Draft,
        }
    }

    /// The kinds of subject it rates.
    async fn subject_kinds(&self) -> &[SubjectKind] {
        &self.0.model.subject_kinds
    }

    /// The GB/T 4754 sections it is for; empty: every industry.
    async fn industries(&self) -> &[String] {
        &self.0.model.industries
    }

    /// The score of a subject without any fact.
    async fn base_score(&self) -> i32 {
        self.0.model.base_score
    }

    /// The lowest score.
    async fn min_score(&self) -> i32 {
        self.0.model.min_score
    }

    /// The highest score.
    async fn max_score(&self) -> i32 {
        self.0.model.max_score
    }

    /// The scoring rules, in the order they apply.
    async fn rules(&self) -> Vec<ScoringRule> {
        self.0
            .definition
            .rules
            .iter()
            .map(|r| ScoringRule {
                code: r.code.clone(),
                description: r.description.clone(),
                source: if r.source == "LIST" {
                    FactSource::List
                } else {
                    FactSource::Record
                },
                polarity: r.polarity.as_deref().and_then(Polarity::parse),
                categories: r
                    .categories
                    .iter()
                    .filter_map(|c| RecordCategory::parse(c))
                    .collect(),
                items: r.items.clone(),
                severities: r
                    .severities
                    .iter()
                    .filter_map(|s| Severity::parse(s))
                    .collect(),
                departments: r.departments.clone(),
                lists: r.lists.iter().filter_map(|l| ListKind::parse(l)).collect(),
                points: r.points,
                window_months: r.window_months,
                cap: r.cap,
            })
            .collect()
    }

    /// The grades from the best down, with their supervision levels.
    async fn grades(&self) -> Vec<GradeBand> {
        self.0
            .model
            .bands
            .iter()
            .map(|b| GradeBand {
                grade: b.grade.clone(),
                grade_class: b.class,
                min_score: b.min_score,
                supervision_level: b.supervision,
            })
            .collect()
    }

    /// Lists that cap the grade of a subject on them.
    async fn overrides(&self) -> Vec<GradeOverride> {
        self.0
            .model
            .overrides
            .iter()
            .map(|(list, band)| GradeOverride {
                list: *list,
                grade: self.0.model.bands[*band].grade.clone(),
            })
            .collect()
    }

    /// The organization that defined the version.
    async fn created_by(&self) -> &str {
        &self.0.row.created_by
    }

    /// When it was defined.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }

    /// When it became active.
    async fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.activated_at
    }

    /// When it was retired.
    async fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.retired_at
    }
}

/// One line of a rating's explanation.
#[derive(SimpleObject)]
pub struct RatingFactor {
    /// The code of the model rule (or SCORE_BOUNDS, OVERRIDE_<LIST>).
    pub rule: String,
    /// What the rule means.
    pub description: String,
    /// The record that moved the score (its global id; `node(id)` reads it if the caller may).
    pub record_id: Option<ID>,
    /// The list entry that moved the score or capped the grade.
    pub list_entry_id: Option<ID>,
    /// The decision date of the record or entry.
    pub date: Option<NaiveDate>,
    /// The points it gave (positive) or took (negative); all factors add up to score − base.
    pub points: i32,
    /// The first day of the rule's window; null when the rule looks back without limit.
    pub window_from: Option<NaiveDate>,
    /// The last day of the window: the evaluation date.
    pub window_to: NaiveDate,
    /// CAPPED, BOUNDED or OVERRIDE where the points are not simply the rule's.
    pub note: Option<FactorNote>,
}

/// A subject's rating under one model version.
pub struct Rating {
    row: rating::Model,
    computed_on_read: bool,
}

impl From<rating_history::Model> for Rating {
    fn from(h: rating_history::Model) -> Self {
        Rating {
            row: rating::Model {
                id: h.id,
                subject_id: h.subject_id,
                model_id: h.model_id,
                model_code: h.model_code,
                model_version: h.model_version,
                score: h.score,
                grade: h.grade,
                grade_class: h.grade_class,
                supervision_level: h.supervision_level,
                factors: h.factors,
                as_of: h.as_of,
                valid_until: h.valid_until,
                rated_at: h.rated_at,
                cause: h.cause,
                run_id: h.run_id,
            },
            computed_on_read: false,
        }
    }
}

/// A subject's credit rating (信用评价结果) under one model version, with the factors that
/// explain every point.
#[Object]
impl Rating {
    /// The model's code.
    async fn model(&self) -> &str {
        &self.row.model_code
    }

    /// The model version the rating was made with.
    async fn model_version(&self) -> i32 {
        self.row.model_version
    }

    /// The score.
    async fn score(&self) -> i32 {
        self.row.score
    }

    /// The model's grade label (A, B, C, D or a finer one).
    async fn grade(&self) -> &str {
        &self.row.grade
    }

    /// The grade's class under the 2026 rule: A, B, C or D.
    async fn grade_class(&self) -> Option<GradeClass> {
        GradeClass::parse(&self.row.grade_class)
    }

    /// How closely regulators watch the subject (分级分类监管).
    async fn supervision_level(&self) -> Option<SupervisionLevel> {
        SupervisionLevel::parse(&self.row.supervision_level)
    }

    /// What moved the score, fact by fact; the points add up to score − the model's base score.
    async fn factors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RatingFactor>> {
        let stored: Vec<StoredFactor> = serde_json::from_str(&self.row.factors)
            .map_err(|e| AppError::internal(format!("rating factors: {e}")))?;
        let model = ctx
            .data::<DataLoader<ModelLoader>>()?
            .load_one(ModelVersionId(self.row.model_id))
            .await
            .map_err(|e| e.as_ref().extend())?
            .ok_or_else(|| AppError::internal("a rating's model version is missing"))?;
        Ok(model
            .model
            .explain(&stored, self.row.as_of)
            .into_iter()
            .map(|f| RatingFactor {
                rule: f.rule,
                description: f.description,
                record_id: f.record_id.map(|id| global_id(NodeKind::CreditRecord, id)),
                list_entry_id: f.list_entry_id.map(|id| global_id(NodeKind::ListEntry, id)),
                date: f.date,
                points: f.points,
                window_from: f.window_from,
                window_to: f.window_to,
                note: f.note,
            })
            .collect())
    }

    /// The day the rating was computed for.
    async fn as_of(&self) -> NaiveDate {
        self.row.as_of
    }

    /// The last day the rating stays exact without any new fact (a record leaves its window
    /// after it); null when no date changes it. Reads after that day compute a fresh rating.
    async fn valid_until(&self) -> Option<NaiveDate> {
        self.row.valid_until
    }

    /// When it was computed.
    async fn rated_at(&self) -> DateTime<Utc> {
        self.row.rated_at
    }

    /// What caused it.
    async fn cause(&self) -> RatingCause {
        match self.row.cause.as_str() {
            "SUBJECT" => RatingCause::Subject,
            "RECORD" => RatingCause::Record,
            "LIST" => RatingCause::List,
            "COMMITMENT" => RatingCause::Commitment,
            _ => RatingCause::Evaluation,
        }
    }

    /// True when computed for this read (nothing stored yet, the stored rating passed its
    /// `validUntil`, or records submitted in the last seconds are still to be stored in it);
    /// false when read as stored.
    async fn computed_on_read(&self) -> bool {
        self.computed_on_read
    }

    /// The evaluation run that made it, if any.
    async fn evaluation_run_id(&self) -> Option<ID> {
        self.row.run_id.map(|id| ID(id.to_string()))
    }
}

/// `Subject.rating`: the current rating, audited for non-public readers.
pub async fn subject_rating(
    ctx: &Context<'_>,
    subject: &entity::subject::Model,
    model: &str,
) -> async_graphql::Result<Option<Rating>> {
    ctx.caller()
        .require("Subject.rating", &RATING_READERS, "subjects:read")?;
    let state = ctx.state()?;
    let served = service::current(&state.db, subject, model).await?;
    crate::audit::record(
        &state.db,
        &ctx.actor(),
        vec![
            crate::audit::AuditEntry::new("readRating", Some(subject.id))
                .detail(serde_json::json!({"model": model})),
        ],
    )
    .await?;
    Ok(served.map(|s| Rating {
        row: s.row,
        computed_on_read: s.computed_on_read,
    }))
}

/// `Subject.ratings`: the history, newest first.
pub async fn subject_ratings(
    ctx: &Context<'_>,
    subject_id: i64,
    model: Option<&str>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<CountedConnection<Rating>> {
    ctx.caller()
        .require("Subject.ratings", &RATING_READERS, "subjects:read")?;
    let state = ctx.state()?;
    let limit = page_size(first)?;
    let after_id = after
        .as_deref()
        .map(IdCursor::parse)
        .transpose()?
        .map(|c| c.0);
    let (rows, has_next, total) =
        service::history(&state.db, subject_id, model, after_id, limit).await?;
    crate::audit::record(
        &state.db,
        &ctx.actor(),
        vec![crate::audit::AuditEntry::new(
            "readRatings",
            Some(subject_id),
        )],
    )
    .await?;
    Ok(page(
        rows,
        |r| r.id,
        Rating::from,
        after_id.is_some(),
        has_next,
        total,
    ))
}

/// A batch evaluation and its progress.
pub struct EvaluationRun(pub evaluation_run::Model);

/// A batch evaluation of every subject under one model (年度公共信用综合评价), with its progress.
#[Object]
impl EvaluationRun {
    /// The run's id; pass it to `evaluationRun`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The model's code.
    async fn model(&self) -> &str {
        &self.0.model_code
    }

    /// The model version it rates with.
    async fn model_version(&self) -> i32 {
        self.0.model_version
    }

    /// The evaluation date.
    async fn as_of(&self) -> NaiveDate {
        self.0.as_of
    }

    /// RUNNING, COMPLETED or FAILED.
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// Subjects the model applied to when the run started.
    async fn total(&self) -> i64 {
        self.0.total
    }

    /// Subjects rated so far.
    async fn done(&self) -> i64 {
        self.0.done
    }

    /// done / total, from 0 to 1 (1 for an empty run).
    async fn progress(&self) -> f64 {
        if self.0.total <= 0 {
            1.0
        } else {
            (self.0.done as f64 / self.0.total as f64).min(1.0)
        }
    }

    /// Who started it.
    async fn started_by(&self) -> &str {
        &self.0.started_by
    }

    /// When it started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// When it last advanced.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// When it completed.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }

    /// A note for the operator, such as why it paused.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
}

/// A subject with its current rating under the model asked about.
pub struct SupervisedSubject {
    rating: rating::Model,
    subject: entity::subject::Model,
}

/// A subject with its rating, in a supervision listing.
#[Object]
impl SupervisedSubject {
    /// The subject.
    async fn subject(&self) -> Subject {
        Subject(self.subject.clone())
    }

    /// Its current rating under the model.
    async fn rating(&self) -> Rating {
        Rating {
            row: self.rating.clone(),
            computed_on_read: false,
        }
    }
}

/// One supervision level's random draw.
pub struct SupervisionSampleGroup {
    level: SupervisionLevel,
    population: u64,
    subjects: Vec<entity::subject::Model>,
}

/// The subjects drawn for inspection at one supervision level.
#[Object]
impl SupervisionSampleGroup {
    /// The supervision level.
    async fn level(&self) -> SupervisionLevel {
        self.level
    }

    /// How many subjects in the scope are at this level.
    async fn population(&self) -> u64 {
        self.population
    }

    /// The subjects drawn, by id.
    async fn subjects(&self) -> Vec<Subject> {
        self.subjects.iter().cloned().map(Subject).collect()
    }
}

/// A village's rural credit.
pub struct VillageCreditView(VillageCredit);

/// A village's households and whether it is a 信用村.
#[Object(name = "VillageCredit")]
impl VillageCreditView {
    /// The village's 12-digit code.
    async fn region_code(&self) -> &str {
        &self.0.region.code
    }

    /// The village's name.
    async fn region_name(&self) -> &str {
        &self.0.region.name
    }

    /// Households and farmer cooperatives registered in the village.
    async fn households(&self) -> u64 {
        self.0.units
    }

    /// Of those, 信用户: rated in a grade class the policy names.
    async fn credit_households(&self) -> u64 {
        self.0.credit_units
    }

    /// Of those, not yet rated by the policy's model.
    async fn unrated(&self) -> u64 {
        self.0.unrated
    }

    /// Whether the village is a 信用村 (信用户 share at least the policy's percentage).
    async fn is_credit_village(&self) -> bool {
        self.0.is_credit_village
    }
}

/// A region's rural credit roll-up.
pub struct RuralCredit(RuralRollup);

/// Rural credit for a village, township or the district (信用户 → 信用村 → 信用乡 / 信用县).
#[Object]
impl RuralCredit {
    /// The region's code.
    async fn region_code(&self) -> &str {
        &self.0.region.code
    }

    /// The region's name.
    async fn region_name(&self) -> &str {
        &self.0.region.name
    }

    /// DISTRICT, TOWNSHIP or VILLAGE.
    async fn level(&self) -> &str {
        &self.0.region.level
    }

    /// The rural credit policy version applied.
    async fn policy_version(&self) -> &str {
        &self.0.policy.version
    }

    /// The model whose grades decide 信用户.
    async fn model(&self) -> &str {
        &self.0.policy.model_code
    }

    /// The grade classes that make a 信用户.
    async fn household_grade_classes(&self) -> Vec<GradeClass> {
        serde_json::from_str::<Vec<String>>(&self.0.policy.household_classes)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| GradeClass::parse(c))
            .collect()
    }

    /// 信用村 threshold: percent of households that are 信用户.
    async fn village_percent(&self) -> i32 {
        self.0.policy.village_percent
    }

    /// 信用乡(镇) threshold: percent of villages that are 信用村.
    async fn township_percent(&self) -> i32 {
        self.0.policy.township_percent
    }

    /// 信用县 threshold: percent of villages that are 信用村.
    async fn county_percent(&self) -> i32 {
        self.0.policy.county_percent
    }

    /// Households and farmer cooperatives in the region.
    async fn households(&self) -> u64 {
        self.0.units
    }

    /// Of those, 信用户.
    async fn credit_households(&self) -> u64 {
        self.0.credit_units
    }

    /// Villages in the region (reference data).
    async fn village_count(&self) -> u64 {
        self.0.villages.len() as u64
    }

    /// Of those, 信用村.
    async fn credit_villages(&self) -> u64 {
        self.0.credit_villages
    }

    /// Whether the region earns its title: 信用村 for a village, 信用乡(镇) for a township,
    /// 信用县 for the district.
    async fn qualifies(&self) -> bool {
        self.0.qualifies
    }

    /// The title the region earns when it qualifies.
    async fn title(&self) -> &str {
        match self.0.region.level.as_str() {
            "VILLAGE" => "信用村",
            "TOWNSHIP" => "信用乡(镇)",
            _ => "信用县",
        }
    }

    /// Each village of the region.
    async fn villages(&self) -> Vec<VillageCreditView> {
        self.0
            .villages
            .iter()
            .cloned()
            .map(VillageCreditView)
            .collect()
    }
}

/// The scope of a supervision query: the model must be active and the region known.
async fn supervision_scope(
    ctx: &Context<'_>,
    model_code: String,
    level: Option<SupervisionLevel>,
    industry_code: Option<String>,
    region_code: Option<String>,
) -> async_graphql::Result<Scope> {
    let state = ctx.state()?;
    if service::active_model(&state.db, &model_code)
        .await?
        .is_none()
    {
        return Err(AppError::bad_input(
            "model",
            format!("no active evaluation model {model_code} (see `evaluationModels`)"),
        )
        .into());
    }
    let region_prefix = match region_code {
        None => None,
        Some(code) => match crate::reference::region(&state.db, &code).await? {
            Some(row) => Some(crate::reference::region_prefix(&row.code, &row.level)),
            None => {
                return Err(AppError::bad_input(
                    "regionCode",
                    format!("{code} is not a region of the reference data (see `regions`)"),
                )
                .into());
            }
        },
    };
    Ok(Scope {
        model_code,
        level,
        industry_code,
        region_prefix,
    })
}

#[derive(Default)]
pub struct RatingsQuery;

#[Object]
impl RatingsQuery {
    /// Evaluation models and their versions, newest version first per code. Public: how
    /// subjects are rated is no secret.
    async fn evaluation_models(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this model code.")] code: Option<String>,
        #[graphql(desc = "Only versions in this status (ACTIVE for the ones in use).")]
        status: Option<ModelStatus>,
    ) -> async_graphql::Result<Vec<EvaluationModel>> {
        let state = ctx.state()?;
        let wanted = status.map(|s| match s {
            ModelStatus::Draft => "DRAFT",
            ModelStatus::Active => "ACTIVE",
            ModelStatus::Retired => "RETIRED",
        });
        Ok(service::models(&state.db, code.as_deref())
            .await?
            .into_iter()
            .filter(|m| wanted.is_none_or(|w| m.row.status == w))
            .map(EvaluationModel)
            .collect())
    }

    /// One batch evaluation and its progress (ADMIN and DEPARTMENT).
    async fn evaluation_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id from `runEvaluation`.")] id: ID,
    ) -> async_graphql::Result<Option<EvaluationRun>> {
        ctx.caller().require(
            "evaluationRun",
            &[Role::Admin, Role::Department],
            "subjects:read",
        )?;
        let state = ctx.state()?;
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        Ok(evaluation::find(&state.db, id).await?.map(EvaluationRun))
    }

    /// Batch evaluations, newest first (ADMIN and DEPARTMENT).
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn evaluation_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only runs of this model.")] model: Option<String>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<EvaluationRun>> {
        ctx.caller().require(
            "evaluationRuns",
            &[Role::Admin, Role::Department],
            "subjects:read",
        )?;
        let state = ctx.state()?;
        let limit = page_size(first)?;
        let after_id = after
            .as_deref()
            .map(IdCursor::parse)
            .transpose()?
            .map(|c| c.0);
        let (rows, has_next, total) =
            evaluation::list(&state.db, model.as_deref(), after_id, limit).await?;
        Ok(page(
            rows,
            |r| r.id,
            EvaluationRun,
            after_id.is_some(),
            has_next,
            total,
        ))
    }

    /// Subjects by supervision level under a model, within an industry and a region, in id
    /// order (ADMIN and DEPARTMENT; audited). Only rated subjects are listed: run the model's
    /// evaluation to rate everyone. Listed as stored: records sent with `submitCreditRecords`
    /// are stored in the ratings once their upload pauses (2 s after a subject's last record,
    /// 30 s after its first at the latest, by default); `Subject.rating` counts them at once.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn supervised_subjects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's code.", default = "PUBLIC_COMPREHENSIVE")] model: String,
        #[graphql(desc = "Only this level.")] level: Option<SupervisionLevel>,
        #[graphql(desc = "Only this GB/T 4754 section (A to T).")] industry_code: Option<String>,
        #[graphql(desc = "Only this region and the divisions under it (see `regions`).")]
        region_code: Option<String>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<SupervisedSubject>> {
        ctx.caller().require(
            "supervisedSubjects",
            &[Role::Admin, Role::Department],
            "subjects:read",
        )?;
        let state = ctx.state()?;
        let limit = page_size(first)?;
        let after_id = after
            .as_deref()
            .map(IdCursor::parse)
            .transpose()?
            .map(|c| c.0);
        let scope = supervision_scope(ctx, model, level, industry_code, region_code).await?;
        let (rows, has_next, total) = supervision::list(&state.db, &scope, after_id, limit).await?;
        let ids: Vec<i64> = rows.iter().map(|(r, _)| r.subject_id).collect();
        let visible =
            crate::subjects::service::visible_by_ids(&state.db, ctx.caller(), &ctx.actor(), &ids)
                .await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|(r, _)| visible.contains_key(&r.subject_id))
            .collect();
        crate::audit::record(
            &state.db,
            &ctx.actor(),
            vec![
                crate::audit::AuditEntry::new("readSupervision", None).detail(serde_json::json!({
                    "model": scope.model_code,
                    "level": level.map(|l| l.as_str()),
                    "industryCode": scope.industry_code,
                    "region": scope.region_prefix,
                    "returned": rows.len(),
                })),
            ],
        )
        .await?;
        Ok(page(
            rows,
            |(r, _)| r.subject_id,
            |(rating, subject)| SupervisedSubject { rating, subject },
            after_id.is_some(),
            has_next,
            total,
        ))
    }

    /// A reproducible random sample for 双随机、一公开 inspections: `size` subjects drawn at each
    /// supervision level (or only `level`) of the rated subjects in the scope. The same scope
    /// and seed give the same sample on any node; publish the seed with the inspection plan.
    /// Drawn from the stored ratings, like `supervisedSubjects`. ADMIN and DEPARTMENT; audited.
    #[graphql(complexity = "size.max(0) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn supervision_sample(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's code.", default = "PUBLIC_COMPREHENSIVE")] model: String,
        #[graphql(desc = "Subjects to draw per level, 1 to 100.")] size: i32,
        #[graphql(desc = "The seed of the draw, e.g. the inspection plan's number.")] seed: String,
        #[graphql(desc = "Only this level.")] level: Option<SupervisionLevel>,
        #[graphql(desc = "Only this GB/T 4754 section (A to T).")] industry_code: Option<String>,
        #[graphql(desc = "Only this region and the divisions under it.")] region_code: Option<
            String,
        >,
    ) -> async_graphql::Result<Vec<SupervisionSampleGroup>> {
        ctx.caller().require(
            "supervisionSample",
            &[Role::Admin, Role::Department],
            "subjects:read",
        )?;
        if !(1..=100).contains(&size) {
            return Err(AppError::bad_input("size", "size must be 1 to 100 per level").into());
        }
        let seed = seed.trim().to_owned();
        if seed.is_empty() || seed.chars().count() > 200 {
            return Err(AppError::bad_input("seed", "seed must be 1 to 200 characters").into());
        }
        let state = ctx.state()?;
        let scope = supervision_scope(ctx, model, level, industry_code, region_code).await?;
        let groups = supervision::sample(&state.db, &scope, &seed, |_| size as usize).await?;
        let ids: Vec<i64> = groups
            .iter()
            .flat_map(|g| g.subject_ids.iter().copied())
            .collect();
        let subjects =
            crate::subjects::service::visible_by_ids(&state.db, ctx.caller(), &ctx.actor(), &ids)
                .await?;
        crate::audit::record(
            &state.db,
            &ctx.actor(),
            vec![
                crate::audit::AuditEntry::new("drawSupervisionSample", None).detail(
                    serde_json::json!({"model": scope.model_code, "seed": seed, "size": size,
                        "drawn": ids}),
                ),
            ],
        )
        .await?;
        Ok(groups
            .into_iter()
            .map(|g| SupervisionSampleGroup {
                level: g.level,
                population: g.population,
                subjects: g
                    .subject_ids
                    .iter()
                    .filter_map(|id| subjects.get(id).cloned())
                    .collect(),
            })
            .collect())
    }

    /// Rural credit of a village, township or the district: 信用户 per village, 信用村 per
    /// township, and whether the region earns its title under the rural credit policy in force.
    /// Public, as the titles are publicized; only counts are shown. Counted from the stored
    /// ratings, like `supervisedSubjects`.
    async fn rural_credit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A region's 12-digit code (see `regions`).")] region_code: String,
    ) -> async_graphql::Result<Option<RuralCredit>> {
        let state = ctx.state()?;
        let Some(region) = crate::reference::region(&state.db, &region_code).await? else {
            return Err(AppError::bad_input(
                "regionCode",
                format!("{region_code} is not a region of the reference data (see `regions`)"),
            )
            .into());
        };
        Ok(rural::rollup(&state.db, region, china_today())
            .await?
            .map(RuralCredit))
    }
}

/// The input of `defineEvaluationModel`.
#[derive(InputObject)]
pub struct DefineEvaluationModelInput {
    /// The model's code (A-Z, 0-9, _): an existing code gets a new version.
    pub code: String,
    /// The Chinese name.
    pub name: String,
    /// What the model is for and how it scores.
    pub description: String,
    /// The rules.
    pub definition: EvaluationModelDefinitionInput,
}

/// The answer of `defineEvaluationModel`, `activateEvaluationModel` and `retireEvaluationModel`.
#[derive(SimpleObject)]
pub struct EvaluationModelPayload {
    /// The version as saved; null when refused.
    pub model: Option<EvaluationModel>,
    /// What was wrong (field paths start at the input); nothing is saved then.
    pub user_errors: Vec<UserError>,
}

/// Names one version of a model.
#[derive(InputObject)]
pub struct ModelVersionInput {
    /// The model's code.
    pub code: String,
    /// The version.
    pub version: i32,
}

/// The input of `runEvaluation`.
#[derive(InputObject)]
pub struct RunEvaluationInput {
    /// The model's code (its active version rates).
    #[graphql(default = "PUBLIC_COMPREHENSIVE")]
    pub model: String,
    /// The evaluation date (default: today in China); not in the future.
    pub as_of: Option<NaiveDate>,
}

/// The answer of `runEvaluation`.
#[derive(SimpleObject)]
pub struct RunEvaluationPayload {
    /// The run (a new one, or the one of this model already going); follow it with
    /// `evaluationRun(id)`.
    pub run: Option<EvaluationRun>,
    /// What was wrong.
    pub user_errors: Vec<UserError>,
}

fn model_payload(
    result: Result<entity::evaluation_model::Model, Vec<crate::error::FieldError>>,
) -> async_graphql::Result<EvaluationModelPayload> {
    Ok(match result {
        Ok(row) => EvaluationModelPayload {
            model: Some(EvaluationModel(service::loaded(row)?)),
            user_errors: Vec::new(),
        },
        Err(errors) => EvaluationModelPayload {
            model: None,
            user_errors: errors.into_iter().map(UserError::from).collect(),
        },
    })
}

async fn change_model_status(
    ctx: &Context<'_>,
    action: &str,
    input: ModelVersionInput,
    change: StatusChange,
) -> async_graphql::Result<EvaluationModelPayload> {
    ctx.caller().require(action, &[Role::Admin], "admin")?;
    let state = ctx.state()?;
    model_payload(
        service::change_status(
            &state.db,
            &ctx.actor(),
            input.code.trim(),
            input.version,
            change,
        )
        .await?,
    )
}

#[derive(Default)]
pub struct RatingsMutation;

#[Object]
impl RatingsMutation {
    /// Defines a new version of an evaluation model as a DRAFT (ADMIN). The definition is
    /// validated as a whole: every error names its field, such as
    /// `["definition", "rules", "3", "points"]`.
    async fn define_evaluation_model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model version.")] input: DefineEvaluationModelInput,
    ) -> async_graphql::Result<EvaluationModelPayload> {
        ctx.caller()
            .require("defineEvaluationModel", &[Role::Admin], "admin")?;
        let state = ctx.state()?;
        let new = service::NewModel {
            code: input.code.trim().to_owned(),
            name: input.name,
            description: input.description,
            definition: input.definition.into(),
        };
        model_payload(service::define(&state.db, &ctx.actor(), new).await?)
    }

    /// Activates a version (ADMIN); the version active before retires. Ratings already made keep
    /// their version; writes and evaluation runs from now on use this one.
    async fn activate_evaluation_model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version to activate.")] input: ModelVersionInput,
    ) -> async_graphql::Result<EvaluationModelPayload> {
        change_model_status(
            ctx,
            "activateEvaluationModel",
            input,
            StatusChange::Activate,
        )
        .await
    }

    /// Retires a version (ADMIN). A model without an active version rates no one until another
    /// version is activated.
    async fn retire_evaluation_model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version to retire.")] input: ModelVersionInput,
    ) -> async_graphql::Result<EvaluationModelPayload> {
        change_model_status(ctx, "retireEvaluationModel", input, StatusChange::Retire).await
    }

    /// Starts the batch evaluation of every subject a model applies to (ADMIN), in the
    /// background; follow it with `evaluationRun(id)`. Starting a model that is already running
    /// answers the running one. The same work as `credit-hub evaluate`.
    async fn run_evaluation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model and the date.")] input: RunEvaluationInput,
    ) -> async_graphql::Result<RunEvaluationPayload> {
        ctx.caller()
            .require("runEvaluation", &[Role::Admin], "admin")?;
        let state = ctx.state()?;
        Ok(
            match evaluation::start(
                &state.db,
                &ctx.actor(),
                input.model.trim(),
                input.as_of,
                evaluation::CHUNK,
            )
            .await?
            {
                Ok(run) => {
                    evaluation::spawn(&state.runtime, state.db.clone(), run.id);
                    RunEvaluationPayload {
                        run: Some(EvaluationRun(run)),
                        user_errors: Vec::new(),
                    }
                }
                Err(errors) => RunEvaluationPayload {
                    run: None,
                    user_errors: errors.into_iter().map(UserError::from).collect(),
                },
            },
        )
    }
}
