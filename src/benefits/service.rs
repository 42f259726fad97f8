//! Scenarios, eligibility decisions, benefit uses and loan outcomes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{benefit_scenario, benefit_use, credit_record, subject};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryTrait, Statement,
    sea_query::OnConflict,
};
use serde_json::{Map, Value, json};

use super::rules::{self, Decision, Grade, Rule, RuleDefinition};
use super::state::{self, SubjectState};
use super::{Purpose, ScenarioCategory};
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::{Caller, Principal, Role};
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::ratings::service::{self as ratings, Cause};
use crate::records::service::{PlatformRecord, china_today, insert_platform_record};
use crate::state::AppState;

/// A scenario as served: its row and its compiled rule.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub row: benefit_scenario::Model,
    pub category: ScenarioCategory,
    pub rule: Rule,
}

impl Scenario {
    pub fn is_active(&self) -> bool {
        self.row.status == "ACTIVE"
    }
}

fn compiled(row: benefit_scenario::Model) -> Result<Scenario, AppError> {
    let definition: RuleDefinition = serde_json::from_str(&row.rule)
        .map_err(|e| AppError::internal(format!("scenario {} rule: {e}", row.code)))?;
    let rule = rules::compile(&definition)
        .map_err(|e| AppError::internal(format!("scenario {} rule: {e:?}", row.code)))?;
    let category = ScenarioCategory::parse(&row.category)
        .ok_or_else(|| AppError::internal(format!("scenario {} category", row.code)))?;
    Ok(Scenario {
        row,
        category,
        rule,
    })
}

/// How long a node serves scenarios before reading them again (changes made on this node are
/// seen at once; another node's after at most this long).
pub const SCENARIO_TTL: Duration = Duration::from_secs(5);

type Scenarios = Arc<HashMap<String, Arc<Scenario>>>;

/// Every scenario by code, read at most once per [`SCENARIO_TTL`].
#[derive(Default)]
pub struct ScenarioCache(RwLock<Option<(Instant, Scenarios)>>);

impl ScenarioCache {
    pub async fn all(&self, db: &impl ConnectionTrait) -> Result<Scenarios, AppError> {
        if let Ok(guard) = self.0.read()
            && let Some((at, scenarios)) = guard.as_ref()
            && at.elapsed() < SCENARIO_TTL
        {
            return Ok(scenarios.clone());
        }
        let mut map = HashMap::new();
        for row in benefit_scenario::Entity::find().all(db).await? {
            let scenario = compiled(row)?;
            map.insert(scenario.row.code.clone(), Arc::new(scenario));
        }
        let scenarios: Scenarios = Arc::new(map);
        if let Ok(mut guard) = self.0.write() {
            *guard = Some((Instant::now(), scenarios.clone()));
        }
        Ok(scenarios)
    }

    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.0.write() {
            *guard = None;
        }
    }
}

/// The active scenario with `code`, or NOT_FOUND.
pub async fn scenario(state: &AppState, code: &str) -> Result<Arc<Scenario>, AppError> {
    state
        .scenarios
        .all(&state.db)
        .await?
        .get(code.trim())
        .filter(|s| s.is_active())
        .cloned()
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "no active benefit scenario {code} (see `benefitScenarios`)"
            ))
        })
}

/// Whether the caller may ask about a scenario, and with which purpose: an APP only about its
/// own organization's scenarios; a BANK only about FINANCING ones, naming its purpose;
/// government roles about any.
pub fn may_ask(
    caller: &Caller,
    scenario: &Scenario,
    purpose: Option<Purpose>,
) -> Result<(), AppError> {
    let p = caller.require(
        "eligibility",
        &[
            Role::Admin,
            Role::Department,
            Role::ApprovalHall,
            Role::Bank,
            Role::App,
        ],
        "subjects:read",
    )?;
    match p.role {
        Role::App if scenario.row.provider != p.organization => Err(AppError::Forbidden(format!(
            "an APP asks about its own organization's scenarios; {} is provided by {}",
            scenario.row.code, scenario.row.provider
        ))),
        Role::Bank if scenario.category != ScenarioCategory::Financing => {
            Err(AppError::Forbidden(format!(
                "a BANK asks about FINANCING scenarios; {} is {}",
                scenario.row.code, scenario.row.category
            )))
        }
        _ => require_purpose(p, purpose),
    }
}

/// A bank's credit check names its purpose, as credit-reporting law asks.
pub fn require_purpose(p: &Principal, purpose: Option<Purpose>) -> Result<(), AppError> {
    if p.role == Role::Bank && purpose.is_none() {
        return Err(AppError::bad_input(
            "purpose",
            "a bank's credit check names its purpose (LOAN_APPLICATION, POST_LOAN_MONITORING …)",
        ));
    }
    Ok(())
}

/// Whether the caller sees a scenario among its benefits (the ones it may ask about).
pub fn may_see(caller: &Caller, scenario: &Scenario) -> bool {
    match caller.principal() {
        Some(p) => match p.role {
            Role::App => scenario.row.provider == p.organization,
            Role::Bank => scenario.category == ScenarioCategory::Financing,
            Role::Admin | Role::Department | Role::ApprovalHall => true,
            Role::Partner => false,
        },
        None => false,
    }
}

/// One answer of `eligibility`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub scenario: Arc<Scenario>,
    pub subject_id: Option<i64>,
    pub decision: Decision,
    pub grade: Option<Grade>,
    pub evaluated_at: DateTime<Utc>,
}

fn not_registered(scenario: Arc<Scenario>, now: DateTime<Utc>) -> Answer {
    Answer {
        scenario,
        subject_id: None,
        decision: Decision {
            eligible: false,
            reasons: vec![rules::Reason {
                code: rules::ReasonCode::NotRegistered,
                met: false,
                zh: "该代码未登记为信用主体".into(),
                en: "no subject is registered under this code".into(),
            }],
        },
        grade: None,
        evaluated_at: now,
    }
}

/// Decides a subject's state: from what every write stored, falling back to computing the facts
/// or the rating when they are missing or past their exact date (a record left its window).
async fn decide_state(
    db: &impl ConnectionTrait,
    scenario: Arc<Scenario>,
    found: SubjectState,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Answer, AppError> {
    let facts = match found.facts {
        Some(f) => f,
        None => {
            let all = ratings::facts_of(db, &[found.subject_id]).await?;
            all.get(&found.subject_id)
                .map(state::facts_of)
                .unwrap_or_default()
        }
    };
    let grade = match found.rating {
        Some((grade, valid_until)) if valid_until.is_none_or(|d| d >= today) => Some(grade),
        _ => recompute_grade(db, found.subject_id, &scenario.rule.model).await?,
    };
    let decision = rules::decide(&scenario.rule, found.kind, grade.as_ref(), &facts, today);
    Ok(Answer {
        scenario,
        subject_id: Some(found.subject_id),
        decision,
        grade,
        evaluated_at: now,
    })
}

/// The grade computed now, when the stored one is missing or stale.
async fn recompute_grade(
    db: &impl ConnectionTrait,
    subject_id: i64,
    model: &str,
) -> Result<Option<Grade>, AppError> {
    let Some(subject) = subject::Entity::find_by_id(subject_id).one(db).await? else {
        return Ok(None);
    };
    let served = match ratings::current(db, &subject, model).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(served.and_then(|s| {
        crate::ratings::rules::GradeClass::parse(&s.row.grade_class).map(|class| Grade {
            grade: s.row.grade.clone(),
            class,
            score: s.row.score,
        })
    }))
}

/// Decides one subject under one scenario and audits the check.
pub async fn eligibility(
    state: &AppState,
    actor: &Actor,
    keys: &[String],
    scenario: Arc<Scenario>,
    purpose: Option<Purpose>,
) -> Result<Answer, AppError> {
    let today = china_today();
    let now = Utc::now();
    let mut found = None;
    for key in keys {
        if let Some(s) = state::read(state, key, &scenario.rule.model).await? {
            found = Some(s);
            break;
        }
    }
    let answer = match found {
        Some(f) => decide_state(&state.db, scenario, f, today, now).await?,
        None => not_registered(scenario, now),
    };
    audit_checks(state, actor, std::slice::from_ref(&answer), purpose).await?;
    Ok(answer)
}

/// Decides many subjects (each by its look-up keys) under one scenario, in input order.
pub async fn eligibilities(
    state: &AppState,
    actor: &Actor,
    keys: &[Vec<String>],
    scenario: Arc<Scenario>,
    purpose: Option<Purpose>,
) -> Result<Vec<Answer>, AppError> {
    let today = china_today();
    let now = Utc::now();
    let all: Vec<String> = keys.iter().flatten().cloned().collect();
    let mut found = state::read_many(&state.db, &all, &scenario.rule.model).await?;
    let mut answers = Vec::with_capacity(keys.len());
    for k in keys {
        let hit = k.iter().find_map(|key| found.get(key).cloned());
        answers.push(match hit {
            Some(f) => decide_state(&state.db, scenario.clone(), f, today, now).await?,
            None => not_registered(scenario.clone(), now),
        });
    }
    found.clear();
    audit_checks(state, actor, &answers, purpose).await?;
    Ok(answers)
}

/// Every scenario the caller may see, decided for one subject (`Subject.benefits`), or only
/// FINANCING ones (`loanProducts`).
pub async fn for_subject(
    state: &AppState,
    caller: &Caller,
    actor: &Actor,
    subject: &subject::Model,
    only: Option<ScenarioCategory>,
    purpose: Option<Purpose>,
) -> Result<Vec<Answer>, AppError> {
    let scenarios = state.scenarios.all(&state.db).await?;
    let mut visible: Vec<Arc<Scenario>> = scenarios
        .values()
        .filter(|s| s.is_active() && may_see(caller, s))
        .filter(|s| only.is_none_or(|c| s.category == c))
        .cloned()
        .collect();
    visible.sort_by(|a, b| a.row.code.cmp(&b.row.code));
    let today = china_today();
    let now = Utc::now();
    let mut answers = Vec::with_capacity(visible.len());
    // Most scenarios read the same model's grade: one read per model, not per scenario.
    let mut by_model: HashMap<String, Option<SubjectState>> = HashMap::new();
    for scenario in visible {
        let model = scenario.rule.model.clone();
        let found = match by_model.get(&model) {
            Some(found) => found.clone(),
            None => {
                let found = state::read(state, &subject.lookup_key, &model).await?;
                by_model.insert(model, found.clone());
                found
            }
        };
        answers.push(match found {
            Some(f) => decide_state(&state.db, scenario, f, today, now).await?,
            None => not_registered(scenario, now),
        });
    }
    audit_checks(state, actor, &answers, purpose).await?;
    Ok(answers)
}

/// Queues the audit entries of eligibility checks (one per subject decided).
async fn audit_checks(
    state: &AppState,
    actor: &Actor,
    answers: &[Answer],
    purpose: Option<Purpose>,
) -> Result<(), AppError> {
    let entries = answers
        .iter()
        .filter_map(|a| {
            a.subject_id.map(|id| {
                let mut entry = AuditEntry::new("eligibility", Some(id)).detail(json!({
                    "scenario": a.scenario.row.code,
                    "eligible": a.decision.eligible,
                }));
                entry.purpose = purpose.map(|p| p.as_str().to_owned());
                entry
            })
        })
        .collect::<Vec<_>>();
    if entries.is_empty() {
        return Ok(());
    }
    state.read_audit.record(&state.db, actor, entries).await
}

/// A scenario as an admin or a bank defines it.
#[derive(Debug, Clone)]
pub struct ScenarioDraft {
    pub code: String,
    pub name: String,
    pub category: ScenarioCategory,
    pub provider: Option<String>,
    pub benefit: String,
    pub rule: Value,
    pub active: bool,
    pub loan: Option<LoanTerms>,
}

/// A loan product's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoanTerms {
    pub amount_min_yuan: i64,
    pub amount_max_yuan: i64,
    pub term_months: i32,
}

fn check_draft(d: &ScenarioDraft) -> (Vec<FieldError>, Option<Rule>) {
    let mut errors = Vec::new();
    let code_ok = (3..=64).contains(&d.code.len())
        && d.code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !code_ok {
        errors.push(FieldError::new(
            &["code"],
            UserErrorCode::InvalidFormat,
            "code is 3 to 64 characters of A-Z, 0-9 and _",
        ));
    }
    crate::error::text_rule("name", &d.name, 200, &mut errors);
    crate::error::text_rule("benefit", &d.benefit, 2000, &mut errors);
    let rule = match serde_json::from_value::<RuleDefinition>(d.rule.clone()) {
        Ok(def) => match rules::compile(&def) {
            Ok(rule) => Some(rule),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        },
        Err(e) => {
            errors.push(FieldError::new(
                &["rule"],
                UserErrorCode::InvalidRule,
                format!("the rule is not a rule object: {e}"),
            ));
            None
        }
    };
    match (d.category, d.loan) {
        (ScenarioCategory::Financing, None) => errors.push(FieldError::new(
            &["loan"],
            UserErrorCode::Required,
            "a FINANCING scenario is a loan product: give its amounts and term",
        )),
        (ScenarioCategory::Financing, Some(l)) => {
            if l.amount_min_yuan <= 0 || l.amount_max_yuan < l.amount_min_yuan {
                errors.push(FieldError::new(
                    &["loan", "amountMaxYuan"],
                    UserErrorCode::OutOfRange,
                    "amounts are positive and amountMinYuan ≤ amountMaxYuan",
                ));
            }
            if !(1..=360).contains(&l.term_months) {
                errors.push(FieldError::new(
                    &["loan", "termMonths"],
                    UserErrorCode::OutOfRange,
                    "termMonths is 1 to 360",
                ));
            }
        }
        (_, Some(_)) => errors.push(FieldError::new(
            &["loan"],
            UserErrorCode::NotAllowed,
            "loan terms are for FINANCING scenarios",
        )),
        (_, None) => {}
    }
    (errors, rule)
}

/// Defines or changes a scenario. ADMIN: any; BANK: FINANCING scenarios it provides (its loan
/// products). The rule's model must be an active evaluation model.
pub async fn define(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    draft: ScenarioDraft,
    rate_note: Option<String>,
) -> Result<Result<benefit_scenario::Model, Vec<FieldError>>, AppError> {
    let (mut errors, rule) = check_draft(&draft);
    let provider = match principal.role {
        Role::Bank => {
            if draft.category != ScenarioCategory::Financing {
                errors.push(FieldError::new(
                    &["category"],
                    UserErrorCode::NotAllowed,
                    "a bank publishes FINANCING scenarios (loan products)",
                ));
            }
            if draft
                .provider
                .as_deref()
                .is_some_and(|p| p.trim() != principal.organization)
            {
                errors.push(FieldError::new(
                    &["provider"],
                    UserErrorCode::NotAllowed,
                    "a bank publishes its own products",
                ));
            }
            principal.organization.clone()
        }
        _ => draft
            .provider
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .unwrap_or(&principal.organization)
            .to_owned(),
    };
    if let Some(rule) = &rule
        && ratings::active_model(&state.db, &rule.model)
            .await?
            .is_none()
    {
        errors.push(FieldError::new(
            &["rule", "model"],
            UserErrorCode::NotFound,
            format!("{} is not an active evaluation model", rule.model),
        ));
    }
    if state
        .organizations
        .kind_of(&state.db, &provider)
        .await?
        .is_none()
    {
        errors.push(FieldError::new(
            &["provider"],
            UserErrorCode::NotFound,
            format!("no organization has the code {provider}"),
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let existing = benefit_scenario::Entity::find()
        .filter(benefit_scenario::Column::Code.eq(draft.code.as_str()))
        .one(&txn)
        .await?;
    if let Some(e) = &existing
        && principal.role == Role::Bank
        && e.provider != principal.organization
    {
        return Ok(Err(vec![FieldError::new(
            &["code"],
            UserErrorCode::NotAllowed,
            format!("{} is another organization's scenario", draft.code),
        )]));
    }
    let now = Utc::now();
    let rule_text =
        serde_json::to_string(&draft.rule).map_err(|e| AppError::internal(format!("rule: {e}")))?;
    let mut row = benefit_scenario::ActiveModel {
        code: Set(draft.code.clone()),
        name: Set(draft.name.trim().to_owned()),
        category: Set(draft.category.as_str().to_owned()),
        provider: Set(provider),
        benefit: Set(draft.benefit.trim().to_owned()),
        rule: Set(rule_text),
        status: Set(if draft.active { "ACTIVE" } else { "RETIRED" }.to_owned()),
        loan_amount_min_yuan: Set(draft.loan.map(|l| l.amount_min_yuan)),
        loan_amount_max_yuan: Set(draft.loan.map(|l| l.amount_max_yuan)),
        loan_term_months: Set(draft.loan.map(|l| l.term_months)),
        loan_rate_note: Set(rate_note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())),
        updated_by: Set(principal.organization.clone()),
        updated_at: Set(now),
        ..Default::default()
    };
    let saved = match existing {
        Some(e) => {
            row.id = Set(e.id);
            row.created_at = Set(e.created_at);
            sea_orm::ActiveModelTrait::update(row, &txn).await?
        }
        None => {
            row.created_at = Set(now);
            sea_orm::ActiveModelTrait::insert(row, &txn).await?
        }
    };
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("defineBenefitScenario", None)
                .detail(json!({"scenario": saved.code, "status": saved.status})),
        ],
    )
    .await?;
    txn.commit().await?;
    state.scenarios.invalidate();
    Ok(Ok(saved))
}

/// All scenarios, active first then by code; `category` narrows them.
pub async fn list(
    state: &AppState,
    category: Option<ScenarioCategory>,
    include_retired: bool,
) -> Result<Vec<Arc<Scenario>>, AppError> {
    let all = state.scenarios.all(&state.db).await?;
    let mut out: Vec<Arc<Scenario>> = all
        .values()
        .filter(|s| include_retired || s.is_active())
        .filter(|s| category.is_none_or(|c| s.category == c))
        .cloned()
        .collect();
    out.sort_by(|a, b| (!a.is_active(), &a.row.code).cmp(&(!b.is_active(), &b.row.code)));
    Ok(out)
}

/// A benefit use as an app reports it.
#[derive(Debug, Clone)]
pub struct UseDraft {
    pub external_id: String,
    pub used_on: Option<NaiveDate>,
    pub note: Option<String>,
}

/// What `record_use` did.
#[derive(Debug)]
pub enum Used {
    Created(benefit_use::Model),
    Replayed(benefit_use::Model),
}

/// Records one use of a benefit by an eligible subject, idempotently on (app, externalId).
pub async fn record_use(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    keys: &[String],
    scenario: Arc<Scenario>,
    draft: UseDraft,
) -> Result<Result<Used, Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    crate::error::text_rule(
        "externalId",
        &draft.external_id,
        crate::commitments::rules::MAX_EXTERNAL_ID,
        &mut errors,
    );
    if let Some(note) = &draft.note
        && note.chars().count() > 2000
    {
        errors.push(FieldError::new(
            &["note"],
            UserErrorCode::TooLong,
            "note may have at most 2000 characters",
        ));
    }
    let today = china_today();
    let used_on = draft.used_on.unwrap_or(today);
    if used_on > today {
        errors.push(FieldError::new(
            &["usedOn"],
            UserErrorCode::InvalidDate,
            format!("usedOn {used_on} is in the future"),
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let answer = eligibility(
        state,
        actor,
        keys,
        scenario.clone(),
        Some(Purpose::BenefitGrant),
    )
    .await?;
    let Some(subject_id) = answer.subject_id else {
        return Ok(Err(vec![FieldError::new(
            &["subjectCode"],
            UserErrorCode::SubjectNotRegistered,
            "no subject is registered under this code",
        )]));
    };
    let hash = crate::digest::fingerprint([
        scenario.row.code.as_str(),
        &subject_id.to_string(),
        &draft.used_on.map(|d| d.to_string()).unwrap_or_default(),
        draft.note.as_deref().unwrap_or_default().trim(),
    ]);
    let row = benefit_use::ActiveModel {
        scenario: Set(scenario.row.code.clone()),
        subject_id: Set(subject_id),
        recorded_by: Set(principal.organization.clone()),
        external_id: Set(draft.external_id.trim().to_owned()),
        content_hash: Set(hash.clone()),
        used_on: Set(used_on),
        grade: Set(answer.grade.as_ref().map(|g| g.grade.clone())),
        note: Set(draft
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())),
        request_id: Set(actor.request_id.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let eligible = answer.decision.eligible;
    let failed: Vec<String> = answer
        .decision
        .reasons
        .iter()
        .filter(|r| !r.met)
        .map(|r| r.en.clone())
        .collect();
    state
        .benefit_uses
        .submit(PendingUse {
            row,
            organization: principal.organization.clone(),
            external_id: draft.external_id.trim().to_owned(),
            hash,
            eligible,
            failed,
            actor: actor.clone(),
        })
        .await
}

/// A benefit use waiting for its group transaction.
pub struct PendingUse {
    row: benefit_use::ActiveModel,
    organization: String,
    external_id: String,
    hash: String,
    eligible: bool,
    failed: Vec<String>,
    actor: Actor,
}

/// The answer to one recorded use.
pub type UseOutcome = Result<Used, Vec<FieldError>>;

/// Writes a batch of benefit uses in one transaction, in key order.
pub async fn insert_use_batch(
    db: DatabaseConnection,
    mut items: Vec<PendingUse>,
) -> Result<Vec<UseOutcome>, AppError> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| {
        (&items[*a].organization, &items[*a].external_id)
            .cmp(&(&items[*b].organization, &items[*b].external_id))
    });
    let txn = crate::db::begin_write(&db).await?;
    let mut outcomes: Vec<Option<UseOutcome>> = (0..items.len()).map(|_| None).collect();
    for i in order {
        let item = std::mem::replace(
            &mut items[i],
            PendingUse {
                row: Default::default(),
                organization: String::new(),
                external_id: String::new(),
                hash: String::new(),
                eligible: false,
                failed: Vec::new(),
                actor: Actor::default(),
            },
        );
        outcomes[i] = Some(insert_use(&txn, item).await?);
    }
    txn.commit().await?;
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| AppError::internal("a benefit use of the batch went unanswered")))
        .collect()
}

async fn insert_use(txn: &DatabaseTransaction, item: PendingUse) -> Result<UseOutcome, AppError> {
    let PendingUse {
        row,
        organization,
        external_id,
        hash,
        eligible,
        failed,
        actor,
    } = item;
    let existing = benefit_use::Entity::find()
        .filter(benefit_use::Column::RecordedBy.eq(organization.as_str()))
        .filter(benefit_use::Column::ExternalId.eq(external_id.as_str()))
        .one(txn)
        .await?;
    if let Some(found) = existing {
        return Ok(if found.content_hash == hash {
            Ok(Used::Replayed(found))
        } else {
            Err(vec![FieldError::new(
                &["externalId"],
                UserErrorCode::Conflict,
                format!("externalId {external_id} was recorded before with different content"),
            )])
        });
    }
    if !eligible {
        return Ok(Err(vec![FieldError::new(
            &["subjectCode"],
            UserErrorCode::NotEligible,
            format!("the subject is not eligible: {}", failed.join("; ")),
        )]));
    }
    let mut insert = benefit_use::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                benefit_use::Column::RecordedBy,
                benefit_use::Column::ExternalId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .into_query();
    insert.returning_all();
    let Some(inserted) = txn.query_one(&insert).await? else {
        return Err(AppError::internal(
            "a benefit use's key was taken within its batch",
        ));
    };
    let saved = benefit_use::Model::from_query_result(&inserted, "")?;
    audit::record(
        txn,
        &actor,
        vec![
            AuditEntry::new("recordBenefitUse", Some(saved.subject_id))
                .detail(json!({"scenario": saved.scenario, "useId": saved.id})),
        ],
    )
    .await?;
    Ok(Ok(Used::Created(saved)))
}

/// Uses per scenario and month (`YYYY-MM`, China time), with the number of distinct subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub scenario: String,
    pub month: String,
    pub uses: u64,
    pub subjects: u64,
}

/// The usage of the scenarios the caller may see, between two days.
pub async fn usage(
    state: &AppState,
    caller: &Caller,
    scenario: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Usage>, AppError> {
    let scenarios = state.scenarios.all(&state.db).await?;
    let mut visible: Vec<&str> = scenarios
        .iter()
        .filter(|(code, s)| {
            (caller.is_admin() || may_see(caller, s))
                && scenario.is_none_or(|wanted| wanted.trim() == code.as_str())
        })
        .map(|(code, _)| code.as_str())
        .collect();
    if visible.is_empty() {
        return Ok(Vec::new());
    }
    visible.sort_unstable();
    // Counted by the database, per scenario and month, on the (scenario, used_on) index: a
    // year of an app's uses never comes into memory.
    let backend = state.db.get_database_backend();
    let (month, range) = match backend {
        DbBackend::Postgres => ("to_char(used_on, 'YYYY-MM')", "$2 AND $3"),
        _ => ("substr(used_on, 1, 7)", "?2 AND ?3"),
    };
    let sql = format!(
        "SELECT scenario, {month} AS month, COUNT(*) AS uses, \
         COUNT(DISTINCT subject_id) AS subjects FROM benefit_use \
         WHERE {} AND used_on BETWEEN {range} GROUP BY 1, 2 ORDER BY 1, 2",
        crate::db::text_among(backend, "scenario", 1)
    );
    let rows = state
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                crate::db::json_parameter(backend, serde_json::json!(visible)),
                from.into(),
                to.into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            let uses: i64 = row.try_get("", "uses")?;
            let subjects: i64 = row.try_get("", "subjects")?;
            Ok(Usage {
                scenario: row.try_get("", "scenario")?,
                month: row.try_get("", "month")?,
                uses: u64::try_from(uses).unwrap_or(0),
                subjects: u64::try_from(subjects).unwrap_or(0),
            })
        })
        .collect()
}

/// What a bank reports about a loan (以贷促信).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum LoanOutcome {
    /// The loan was granted: a NEUTRAL record.
    Granted,
    /// Repaid on time: a POSITIVE record.
    RepaidOnTime,
    /// Overdue: a NEGATIVE record (GENERAL; SERIOUS from 90 days overdue).
    Overdue,
}

impl LoanOutcome {
    fn item(self) -> &'static str {
        match self {
            Self::Granted => "LOAN_GRANTED",
            Self::RepaidOnTime => "LOAN_REPAID_ON_TIME",
            Self::Overdue => "LOAN_OVERDUE",
        }
    }
}

/// A loan outcome as the bank sends it.
#[derive(Debug, Clone)]
pub struct LoanReport {
    pub loan_ref: String,
    pub product: String,
    pub outcome: LoanOutcome,
    pub date: NaiveDate,
    pub amount_yuan: i64,
    pub overdue_days: Option<u32>,
}

/// Writes a loan outcome as a catalog record of the bank and re-rates the subject; the same
/// report twice answers the first record.
pub async fn record_loan_outcome(
    db: &DatabaseConnection,
    principal: &Principal,
    actor: &Actor,
    subject_id: i64,
    report: LoanReport,
) -> Result<Result<(credit_record::Model, bool), Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    crate::error::text_rule("loanRef", &report.loan_ref, 100, &mut errors);
    if report.date > china_today() {
        errors.push(FieldError::new(
            &["date"],
            UserErrorCode::InvalidDate,
            format!("date {} is in the future", report.date),
        ));
    }
    if report.amount_yuan <= 0 {
        errors.push(FieldError::new(
            &["amountYuan"],
            UserErrorCode::OutOfRange,
            "amountYuan is positive",
        ));
    }
    match (report.outcome, report.overdue_days) {
        (LoanOutcome::Overdue, None | Some(0)) => errors.push(FieldError::new(
            &["overdueDays"],
            UserErrorCode::Required,
            "an OVERDUE report gives overdueDays (1 or more)",
        )),
        (LoanOutcome::Granted | LoanOutcome::RepaidOnTime, Some(_)) => {
            errors.push(FieldError::new(
                &["overdueDays"],
                UserErrorCode::NotAllowed,
                "overdueDays is for OVERDUE reports",
            ))
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let source_ref = format!("{}/{}", report.loan_ref.trim(), report.outcome.item());
    let mut fields = Map::new();
    fields.insert("loanRef".into(), source_ref.clone().into());
    fields.insert("date".into(), report.date.to_string().into());
    fields.insert("product".into(), report.product.clone().into());
    fields.insert("amount".into(), json!(report.amount_yuan as f64 / 10_000.0));
    if let Some(days) = report.overdue_days {
        fields.insert("overdueDays".into(), days.to_string().into());
    }
    fields.insert("lender".into(), principal.organization.clone().into());
    let severity = match report.outcome {
        LoanOutcome::Overdue if report.overdue_days.is_some_and(|d| d >= 90) => {
            Some(crate::records::rules::Severity::Serious)
        }
        LoanOutcome::Overdue => Some(crate::records::rules::Severity::General),
        _ => None,
    };
    let txn = crate::db::begin_write(db).await?;
    let before = credit_record::Entity::find()
        .filter(credit_record::Column::Department.eq(principal.organization.as_str()))
        .filter(credit_record::Column::SourceRef.eq(source_ref.as_str()))
        .one(&txn)
        .await?;
    if let Some(before) = before {
        let same = before.subject_id == subject_id && before.decision_date == report.date;
        return Ok(if same {
            Ok((before, false))
        } else {
            Err(vec![FieldError::new(
                &["loanRef"],
                UserErrorCode::Conflict,
                format!("{source_ref} was reported before with other content"),
            )])
        });
    }
    let record = insert_platform_record(
        &txn,
        actor,
        PlatformRecord {
            item: report.outcome.item(),
            subject_id,
            department: principal.organization.clone(),
            source_ref,
            decision_date: report.date,
            severity,
            fields,
        },
    )
    .await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("recordLoanOutcome", Some(subject_id))
                .detail(json!({"recordId": record.id, "outcome": report.outcome.item()})),
        ],
    )
    .await?;
    ratings::rerate(&txn, &[subject_id], Cause::Record).await?;
    txn.commit().await?;
    Ok(Ok((record, true)))
}
