//! The GraphQL adapter of 信易+: `benefitScenarios`, `eligibility`, `eligibilities`,
//! `loanProducts`, `benefitUsage`, `Subject.benefits`, `defineBenefitScenario`,
//! `recordBenefitUse`, `recordLoanOutcome`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::rules::ReasonCode;
use super::service::{
    self, Answer, LoanOutcome, LoanReport, LoanTerms, Scenario, ScenarioDraft, UseDraft, Used,
};
use super::{Purpose, ScenarioCategory};
use crate::auth::Role;
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::graphql::ContextExt;
use crate::graphql::types::{NodeKind, UserError, check_list_len, global_id};
use crate::ratings::rules::GradeClass;
use crate::subjects::SubjectKind;
use crate::subjects::rules::ResidentId;
use crate::subjects::service as subjects;

/// A 信易+ benefit scenario: what a trustworthy subject gets, from whom, and the rule that
/// decides who qualifies. A FINANCING scenario is a bank's loan product.
pub struct BenefitScenario(pub Arc<Scenario>);

/// A loan product's terms.
#[derive(SimpleObject)]
pub struct LoanProductTerms {
    /// The smallest loan, in yuan.
    pub amount_min_yuan: i64,
    /// The largest loan, in yuan.
    pub amount_max_yuan: i64,
    /// The term, in months.
    pub term_months: i32,
    /// The rate and repayment terms as the bank words them.
    pub rate_note: Option<String>,
}

#[Object]
impl BenefitScenario {
    /// The scenario's code: pass it as `scenario` to `eligibility`.
    async fn code(&self) -> &str {
        &self.0.row.code
    }

    /// Its name, e.g. 信易批·容缺受理.
    async fn name(&self) -> &str {
        &self.0.row.name
    }

    /// Its category.
    async fn category(&self) -> ScenarioCategory {
        self.0.category
    }

    /// The code of the organization that grants it (an app's, a bank's, a department's).
    async fn provider(&self) -> &str {
        &self.0.row.provider
    }

    /// What an eligible subject gets.
    async fn benefit(&self) -> &str {
        &self.0.row.benefit
    }

    /// The eligibility rule as data: `model`, `minGradeClass`, `subjectKinds`, `excludedLists`,
    /// `requiredLists`, `noNegative {minSeverity, months}`, `noOpenBreach`.
    async fn rule(&self) -> Json<Value> {
        Json(serde_json::from_str(&self.0.row.rule).unwrap_or(Value::Null))
    }

    /// The evaluation model whose grade the rule reads.
    async fn model(&self) -> &str {
        &self.0.rule.model
    }

    /// ACTIVE, or RETIRED (no longer decided).
    async fn status(&self) -> &str {
        &self.0.row.status
    }

    /// For a FINANCING scenario, the loan product's terms; null otherwise.
    async fn loan(&self) -> Option<LoanProductTerms> {
        let row = &self.0.row;
        match (
            row.loan_amount_min_yuan,
            row.loan_amount_max_yuan,
            row.loan_term_months,
        ) {
            (Some(min), Some(max), Some(term)) => Some(LoanProductTerms {
                amount_min_yuan: min,
                amount_max_yuan: max,
                term_months: term,
                rate_note: row.loan_rate_note.clone(),
            }),
            _ => None,
        }
    }

    /// When it was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

/// One check of an eligibility decision.
#[derive(SimpleObject)]
pub struct EligibilityReason {
    /// The check's machine code.
    pub code: ReasonCode,
    /// Whether the subject met it; the subject is eligible when every check is met.
    pub met: bool,
    /// The check and its outcome in Chinese, for a counter clerk or an app's screen.
    pub message_zh: String,
    /// The same in English.
    pub message_en: String,
}

/// Whether a subject qualifies for a scenario, why, and on which grade.
pub struct Eligibility {
    pub code: String,
    pub answer: Answer,
}

#[Object]
impl Eligibility {
    /// The code asked about; resident ID numbers come back masked.
    async fn code(&self) -> String {
        match ResidentId::parse(&self.code) {
            Ok(id) => id.masked(),
            Err(_) => self.code.clone(),
        }
    }

    /// The scenario's code.
    async fn scenario(&self) -> &str {
        &self.answer.scenario.row.code
    }

    /// The scenario's name.
    async fn scenario_name(&self) -> &str {
        &self.answer.scenario.row.name
    }

    /// Whether a subject is registered under the code.
    async fn registered(&self) -> bool {
        self.answer.subject_id.is_some()
    }

    /// Whether the subject qualifies: every reason is met.
    async fn eligible(&self) -> bool {
        self.answer.decision.eligible
    }

    /// Every check the rule makes, met or not, with text in Chinese and English.
    async fn reasons(&self) -> Vec<EligibilityReason> {
        self.answer
            .decision
            .reasons
            .iter()
            .map(|r| EligibilityReason {
                code: r.code,
                met: r.met,
                message_zh: r.zh.clone(),
                message_en: r.en.clone(),
            })
            .collect()
    }

    /// The evaluation model whose grade was used.
    async fn model(&self) -> &str {
        &self.answer.scenario.rule.model
    }

    /// The grade used (e.g. A); null when the model does not rate the subject.
    async fn grade(&self) -> Option<&str> {
        self.answer.grade.as_ref().map(|g| g.grade.as_str())
    }

    /// The class of the grade used.
    async fn grade_class(&self) -> Option<GradeClass> {
        self.answer.grade.as_ref().map(|g| g.class)
    }

    /// The score used.
    async fn score(&self) -> Option<i32> {
        self.answer.grade.as_ref().map(|g| g.score)
    }

    /// When the decision was made: it holds for the facts as they were then.
    async fn evaluated_at(&self) -> DateTime<Utc> {
        self.answer.evaluated_at
    }
}

fn keys_of(
    ctx: &Context<'_>,
    field: &str,
    code: &str,
    kind: Option<SubjectKind>,
) -> async_graphql::Result<Vec<String>> {
    let state = ctx.state()?;
    Ok(subjects::lookup_keys(code, kind, &state.person_keys)
        .map_err(|e| AppError::bad_input(field, e.message()))?)
}

#[derive(Default)]
pub struct BenefitsQuery;

#[Object]
impl BenefitsQuery {
    /// The 信易+ scenarios in force (public): what each gives, who grants it and the rule.
    async fn benefit_scenarios(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this category.")] category: Option<ScenarioCategory>,
        #[graphql(desc = "Also retired scenarios (ADMIN only).", default = false)]
        include_retired: bool,
    ) -> async_graphql::Result<Vec<BenefitScenario>> {
        let state = ctx.state()?;
        let retired = include_retired && ctx.caller().is_admin();
        Ok(service::list(state, category, retired)
            .await?
            .into_iter()
            .map(BenefitScenario)
            .collect())
    }

    /// Whether a subject qualifies for a scenario, with every reason, the grade used and when.
    /// ADMIN, DEPARTMENT and APPROVAL_HALL ask about any scenario; an APP about its own
    /// organization's; a BANK about FINANCING scenarios, naming its `purpose`. Audited.
    async fn eligibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subject's USCC or resident ID.")] code: String,
        #[graphql(desc = "HOUSEHOLD when `code` is a householder's resident ID.")]
        subject_kind: Option<SubjectKind>,
        #[graphql(desc = "The scenario's code (see `benefitScenarios`).")] scenario: String,
        #[graphql(desc = "Why you ask; required for BANK callers.")] purpose: Option<Purpose>,
    ) -> async_graphql::Result<Eligibility> {
        let state = ctx.state()?;
        let scenario = service::scenario(state, &scenario).await?;
        service::may_ask(ctx.caller(), &scenario, purpose)?;
        let keys = keys_of(ctx, "code", code.trim(), subject_kind)?;
        let answer = service::eligibility(state, &ctx.actor(), &keys, scenario, purpose).await?;
        Ok(Eligibility {
            code: code.trim().to_owned(),
            answer,
        })
    }

    /// `eligibility` for up to 1000 codes at once, answered in the order asked.
    async fn eligibilities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "USCCs or resident IDs, at most 1000.")] codes: Vec<String>,
        #[graphql(desc = "HOUSEHOLD when the codes are householders' resident IDs.")]
        subject_kind: Option<SubjectKind>,
        #[graphql(desc = "The scenario's code.")] scenario: String,
        #[graphql(desc = "Why you ask; required for BANK callers.")] purpose: Option<Purpose>,
    ) -> async_graphql::Result<Vec<Eligibility>> {
        check_list_len("codes", codes.len())?;
        let state = ctx.state()?;
        let scenario = service::scenario(state, &scenario).await?;
        service::may_ask(ctx.caller(), &scenario, purpose)?;
        let mut keys = Vec::with_capacity(codes.len());
        for (i, code) in codes.iter().enumerate() {
            keys.push(keys_of(
                ctx,
                &format!("codes.{i}"),
                code.trim(),
                subject_kind,
            )?);
        }
        let answers = service::eligibilities(state, &ctx.actor(), &keys, scenario, purpose).await?;
        Ok(codes
            .into_iter()
            .zip(answers)
            .map(|(code, answer)| Eligibility {
                code: code.trim().to_owned(),
                answer,
            })
            .collect())
    }

    /// The loan products (FINANCING scenarios) a subject qualifies for, with the decision for
    /// each; `includeIneligible` adds the others with their reasons. BANK (naming `purpose`),
    /// ADMIN, DEPARTMENT and APPROVAL_HALL. Audited.
    async fn loan_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subject's USCC or resident ID.")] code: String,
        #[graphql(desc = "HOUSEHOLD when `code` is a householder's resident ID.")]
        subject_kind: Option<SubjectKind>,
        #[graphql(desc = "Why you ask; required for BANK callers.")] purpose: Option<Purpose>,
        #[graphql(
            desc = "Also the products the subject does not qualify for.",
            default = false
        )]
        include_ineligible: bool,
    ) -> async_graphql::Result<Vec<Eligibility>> {
        let p = ctx.caller().require(
            "loanProducts",
            &[
                Role::Admin,
                Role::Department,
                Role::ApprovalHall,
                Role::Bank,
            ],
            "subjects:read",
        )?;
        service::require_purpose(p, purpose)?;
        let state = ctx.state()?;
        let keys = keys_of(ctx, "code", code.trim(), subject_kind)?;
        let Some(subject) = subjects::find_by_keys_public(&state.db, &keys).await? else {
            return Ok(Vec::new());
        };
        let answers = service::for_subject(
            state,
            ctx.caller(),
            &ctx.actor(),
            &subject,
            Some(ScenarioCategory::Financing),
            purpose,
        )
        .await?;
        Ok(answers
            .into_iter()
            .filter(|a| include_ineligible || a.decision.eligible)
            .map(|answer| Eligibility {
                code: code.trim().to_owned(),
                answer,
            })
            .collect())
    }

    /// Benefit uses per scenario and month (China time), with distinct subjects: ADMIN and
    /// DEPARTMENT see every scenario's, an APP its own scenarios'.
    async fn benefit_usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this scenario.")] scenario: Option<String>,
        #[graphql(desc = "The first day counted.")] from: NaiveDate,
        #[graphql(desc = "The last day counted (at most 3 years after `from`).")] to: NaiveDate,
    ) -> async_graphql::Result<Vec<BenefitUsage>> {
        ctx.caller().require(
            "benefitUsage",
            &[Role::Admin, Role::Department, Role::App],
            "subjects:read",
        )?;
        if to < from || (to - from).num_days() > 3 * 366 {
            return Err(
                AppError::bad_input("to", "to is on or after from, at most 3 years later").into(),
            );
        }
        let state = ctx.state()?;
        Ok(
            service::usage(state, ctx.caller(), scenario.as_deref(), from, to)
                .await?
                .into_iter()
                .map(|u| BenefitUsage {
                    scenario: u.scenario,
                    month: u.month,
                    uses: u.uses,
                    subjects: u.subjects,
                })
                .collect(),
        )
    }
}

/// The uses of one scenario in one month.
#[derive(SimpleObject)]
pub struct BenefitUsage {
    /// The scenario's code.
    pub scenario: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// How many uses were recorded.
    pub uses: u64,
    /// How many distinct subjects used it.
    pub subjects: u64,
}

/// The benefits a subject qualifies for, as `Subject.benefits` answers them.
pub async fn subject_benefits(
    ctx: &Context<'_>,
    subject: &entity::subject::Model,
    purpose: Option<Purpose>,
) -> async_graphql::Result<Vec<Eligibility>> {
    let p = ctx.caller().require(
        "Subject.benefits",
        &[
            Role::Admin,
            Role::Department,
            Role::ApprovalHall,
            Role::Bank,
            Role::App,
        ],
        "subjects:read",
    )?;
    service::require_purpose(p, purpose)?;
    let state = ctx.state()?;
    let answers =
        service::for_subject(state, ctx.caller(), &ctx.actor(), subject, None, purpose).await?;
    Ok(answers
        .into_iter()
        .map(|answer| Eligibility {
            code: subject.display_code.clone(),
            answer,
        })
        .collect())
}

/// The loan terms of `defineBenefitScenario`.
#[derive(InputObject)]
pub struct LoanTermsInput {
    /// The smallest loan, in yuan (positive).
    pub amount_min_yuan: i64,
    /// The largest loan, in yuan (at least `amountMinYuan`).
    pub amount_max_yuan: i64,
    /// The term in months, 1 to 360.
    pub term_months: i32,
    /// The rate and repayment terms as you word them.
    pub rate_note: Option<String>,
}

/// The input of `defineBenefitScenario`: a new scenario, or a new text of an existing one.
#[derive(InputObject)]
pub struct DefineBenefitScenarioInput {
    /// The code: 3 to 64 characters of A-Z, 0-9 and _. An existing code is replaced.
    pub code: String,
    /// The name, e.g. 信易租·免押金租赁.
    pub name: String,
    /// The category; a BANK defines FINANCING scenarios only.
    pub category: ScenarioCategory,
    /// The granting organization's code; default your own (a BANK's is always its own).
    pub provider: Option<String>,
    /// What an eligible subject gets.
    pub benefit: String,
    /// The rule: `{"model": "PUBLIC_COMPREHENSIVE", "minGradeClass": "B", "subjectKinds":
    /// ["ENTERPRISE"], "excludedLists": ["SERIOUS_DISHONESTY"], "requiredLists": [],
    /// "noNegative": {"minSeverity": "SERIOUS", "months": 36}, "noOpenBreach": true}`.
    pub rule: Json<Value>,
    /// false retires the scenario (it is no longer decided); default true.
    pub active: Option<bool>,
    /// The loan product's terms: required for FINANCING, refused otherwise.
    pub loan: Option<LoanTermsInput>,
}

/// The answer of `defineBenefitScenario`.
#[derive(SimpleObject)]
pub struct DefineBenefitScenarioPayload {
    /// The scenario as it is now; null when refused.
    pub scenario: Option<BenefitScenario>,
    /// Why it was refused, each with its field path (e.g. `rule.noNegative.months`) and rule.
    pub user_errors: Vec<UserError>,
}

/// The input of `recordBenefitUse`.
#[derive(InputObject)]
pub struct RecordBenefitUseInput {
    /// Your own id of this use, at most 128 characters: the same id and content again answers
    /// the first use (`replayed: true`); other content is a CONFLICT.
    pub external_id: String,
    /// The scenario's code; it must be your organization's.
    pub scenario: String,
    /// The subject's USCC or resident ID.
    pub subject_code: String,
    /// HOUSEHOLD when `subjectCode` is a householder's resident ID.
    pub subject_kind: Option<SubjectKind>,
    /// The day of the use; default today (China). Not in the future.
    pub used_on: Option<NaiveDate>,
    /// A note (at most 2000 characters).
    pub note: Option<String>,
}

/// A recorded use of a benefit.
#[derive(SimpleObject)]
pub struct BenefitUse {
    /// Opaque id of the use.
    pub id: ID,
    /// The scenario's code.
    pub scenario: String,
    /// Your id of the use.
    pub external_id: String,
    /// The day of the use.
    pub used_on: NaiveDate,
    /// The grade the subject had when it used the benefit.
    pub grade: Option<String>,
}

/// The answer of `recordBenefitUse`.
#[derive(SimpleObject)]
pub struct RecordBenefitUsePayload {
    /// The use; null when refused.
    pub benefit_use: Option<BenefitUse>,
    /// true when this externalId was recorded before with the same content.
    pub replayed: bool,
    /// Why it was refused: NOT_ELIGIBLE names the unmet reasons.
    pub user_errors: Vec<UserError>,
}

/// The input of `recordLoanOutcome`.
#[derive(InputObject)]
pub struct RecordLoanOutcomeInput {
    /// Your loan contract number (at most 100 characters); with the outcome it keys the record.
    pub loan_ref: String,
    /// The loan product's scenario code (one of your FINANCING scenarios).
    pub product: String,
    /// The borrower's USCC or resident ID.
    pub subject_code: String,
    /// HOUSEHOLD when `subjectCode` is a householder's resident ID.
    pub subject_kind: Option<SubjectKind>,
    /// GRANTED, REPAID_ON_TIME or OVERDUE.
    pub outcome: LoanOutcome,
    /// The day it happened.
    pub date: NaiveDate,
    /// The amount, in yuan.
    pub amount_yuan: i64,
    /// OVERDUE only: days overdue (90 or more makes the record SERIOUS).
    pub overdue_days: Option<u32>,
}

/// The answer of `recordLoanOutcome`.
#[derive(SimpleObject)]
pub struct RecordLoanOutcomePayload {
    /// The credit record written (AUTHORIZED: visible to you, admins and with consent).
    pub record: Option<crate::records::graphql::CreditRecord>,
    /// true when this report was recorded before and nothing new was written.
    pub replayed: bool,
    /// Why it was refused.
    pub user_errors: Vec<UserError>,
}

fn errors(e: Vec<FieldError>) -> Vec<UserError> {
    e.into_iter().map(UserError::from).collect()
}

#[derive(Default)]
pub struct BenefitsMutation;

#[Object]
impl BenefitsMutation {
    /// Defines or replaces a 信易+ scenario. ADMIN: any; BANK: its own FINANCING scenarios, which
    /// publishes a loan product. The rule's model must be an active evaluation model.
    async fn define_benefit_scenario(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The scenario.")] input: DefineBenefitScenarioInput,
    ) -> async_graphql::Result<DefineBenefitScenarioPayload> {
        let principal = ctx.caller().require(
            "defineBenefitScenario",
            &[Role::Admin, Role::Bank],
            "subjects:read",
        )?;
        let state = ctx.state()?;
        let rate_note = input.loan.as_ref().and_then(|l| l.rate_note.clone());
        let draft = ScenarioDraft {
            code: input.code.trim().to_owned(),
            name: input.name,
            category: input.category,
            provider: input.provider,
            benefit: input.benefit,
            rule: input.rule.0,
            active: input.active.unwrap_or(true),
            loan: input.loan.map(|l| LoanTerms {
                amount_min_yuan: l.amount_min_yuan,
                amount_max_yuan: l.amount_max_yuan,
                term_months: l.term_months,
            }),
        };
        Ok(
            match service::define(state, principal, &ctx.actor(), draft, rate_note).await? {
                Ok(row) => {
                    let scenario = service::list(state, None, true)
                        .await?
                        .into_iter()
                        .find(|s| s.row.id == row.id);
                    DefineBenefitScenarioPayload {
                        scenario: scenario.map(BenefitScenario),
                        user_errors: Vec::new(),
                    }
                }
                Err(e) => DefineBenefitScenarioPayload {
                    scenario: None,
                    user_errors: errors(e),
                },
            },
        )
    }

    /// Records that an eligible subject used a benefit of your organization (APP). Idempotent
    /// on `externalId`; a subject that is not eligible is refused with NOT_ELIGIBLE.
    async fn record_benefit_use(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The use.")] input: RecordBenefitUseInput,
    ) -> async_graphql::Result<RecordBenefitUsePayload> {
        let principal = ctx
            .caller()
            .require("recordBenefitUse", &[Role::App], "subjects:read")?;
        let state = ctx.state()?;
        let scenario = service::scenario(state, &input.scenario).await?;
        if scenario.row.provider != principal.organization {
            return Err(AppError::Forbidden(format!(
                "recordBenefitUse: {} is provided by {}, not by your organization",
                scenario.row.code, scenario.row.provider
            ))
            .into());
        }
        let keys = match subjects::lookup_keys(
            input.subject_code.trim(),
            input.subject_kind,
            &state.person_keys,
        ) {
            Ok(k) => k,
            Err(e) => {
                return Ok(RecordBenefitUsePayload {
                    benefit_use: None,
                    replayed: false,
                    user_errors: errors(vec![FieldError::new(
                        &["subjectCode"],
                        UserErrorCode::InvalidFormat,
                        e.message(),
                    )]),
                });
            }
        };
        let draft = UseDraft {
            external_id: input.external_id,
            used_on: input.used_on,
            note: input.note,
        };
        let view = |m: entity::benefit_use::Model| BenefitUse {
            id: global_id(NodeKind::BenefitUse, m.id),
            scenario: m.scenario,
            external_id: m.external_id,
            used_on: m.used_on,
            grade: m.grade,
        };
        Ok(
            match service::record_use(state, principal, &ctx.actor(), &keys, scenario, draft)
                .await?
            {
                Ok(Used::Created(m)) => RecordBenefitUsePayload {
                    benefit_use: Some(view(m)),
                    replayed: false,
                    user_errors: Vec::new(),
                },
                Ok(Used::Replayed(m)) => RecordBenefitUsePayload {
                    benefit_use: Some(view(m)),
                    replayed: true,
                    user_errors: Vec::new(),
                },
                Err(e) => RecordBenefitUsePayload {
                    benefit_use: None,
                    replayed: false,
                    user_errors: errors(e),
                },
            },
        )
    }

    /// Feeds a loan's outcome back into the borrower's credit record (以贷促信), for BANK
    /// callers and their own products: GRANTED (neutral), REPAID_ON_TIME (positive), OVERDUE
    /// (negative). The record is AUTHORIZED data; the borrower is re-rated at once.
    async fn record_loan_outcome(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The loan and its outcome.")] input: RecordLoanOutcomeInput,
    ) -> async_graphql::Result<RecordLoanOutcomePayload> {
        let principal =
            ctx.caller()
                .require("recordLoanOutcome", &[Role::Bank], "subjects:read")?;
        let state = ctx.state()?;
        let refuse = |e: Vec<FieldError>| RecordLoanOutcomePayload {
            record: None,
            replayed: false,
            user_errors: errors(e),
        };
        let product = service::scenario(state, &input.product).await;
        let product = match product {
            Ok(p)
                if p.category == ScenarioCategory::Financing
                    && p.row.provider == principal.organization =>
            {
                p
            }
            _ => {
                return Ok(refuse(vec![FieldError::new(
                    &["product"],
                    UserErrorCode::NotFound,
                    "product is the code of one of your active FINANCING scenarios",
                )]));
            }
        };
        let subject = match subjects::registered(
            &state.db,
            &state.person_keys,
            &input.subject_code,
            input.subject_kind,
        )
        .await?
        {
            Ok(s) => s,
            Err(e) => return Ok(refuse(vec![e])),
        };
        let report = LoanReport {
            loan_ref: input.loan_ref,
            product: product.row.code.clone(),
            outcome: input.outcome,
            date: input.date,
            amount_yuan: input.amount_yuan,
            overdue_days: input.overdue_days,
        };
        Ok(
            match service::record_loan_outcome(
                &state.db,
                principal,
                &ctx.actor(),
                subject.id,
                report,
            )
            .await?
            {
                Ok((record, created)) => RecordLoanOutcomePayload {
                    record: Some(crate::records::graphql::CreditRecord(record)),
                    replayed: !created,
                    user_errors: Vec::new(),
                },
                Err(e) => refuse(e),
            },
        )
    }
}
