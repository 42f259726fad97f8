//! The GraphQL adapter of records: `submitCreditRecords`, `correctCreditRecord`,
//! `revokeCreditRecord`, `declareDecisionCounts`, `publicityReport`, and the `CreditRecord` type.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::credit_record;
use serde_json::{Map, Value};

use super::report::{self, PublicityFigures, ReportPeriod};
use super::rules::Severity;
use super::service::{self, Correction, RecordRow, RowOutcome, china_today};
use super::visibility;
use crate::auth::Role;
use crate::catalog::{Disclosure, Polarity, RecordCategory};
use crate::error::{FieldError, UserErrorCode};
use crate::graphql::ContextExt;
use crate::graphql::types::{NodeKind, UserError, check_list_len, decode_global_id, global_id};
use crate::subjects::SubjectKind;

/// The state of a record.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    /// In force.
    Active,
    /// Its publicity period has ended (computed from `publicUntil`, never by a job); it stays
    /// available to authorized users.
    Expired,
    /// Repaired (信用修复): no longer public or shared.
    Repaired,
    /// Revoked by the providing department (撤销).
    Revoked,
}

/// A credit record about a subject.
pub struct CreditRecord(pub credit_record::Model);

impl CreditRecord {
    fn status_on(&self, today: NaiveDate) -> RecordStatus {
        match self.0.status.as_str() {
            "REPAIRED" => RecordStatus::Repaired,
            "REVOKED" => RecordStatus::Revoked,
            _ if self.0.public_until.is_some_and(|u| u < today) => RecordStatus::Expired,
            _ => RecordStatus::Active,
        }
    }
}

/// An earlier version of a record.
#[derive(SimpleObject)]
pub struct RecordRevision {
    /// The revision this was.
    pub revision: i32,
    /// CORRECTED or REVOKED: what replaced this version.
    pub action: String,
    /// Why it was replaced.
    pub reason: Option<String>,
    /// The fields as they were.
    pub fields: Json<Value>,
    /// The severity as it was.
    pub severity: Option<String>,
    /// The decision date as it was.
    pub decision_date: NaiveDate,
    /// When it was replaced.
    pub at: DateTime<Utc>,
}

/// A credit record about a subject, accepted against a catalog item; what a caller sees of it
/// follows the item's disclosure and the record's publicity period.
#[Object]
impl CreditRecord {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        global_id(NodeKind::CreditRecord, self.0.id)
    }

    /// The catalog item's code, e.g. `ADMIN_PENALTY`.
    async fn item(&self) -> &str {
        &self.0.item_code
    }

    /// The catalog version the record was accepted under.
    async fn catalog_version(&self) -> i32 {
        self.0.catalog_version
    }

    /// The category (as the catalog said when the record was accepted).
    async fn category(&self) -> Option<RecordCategory> {
        RecordCategory::parse(&self.0.category)
    }

    /// Positive, neutral or negative.
    async fn polarity(&self) -> Option<Polarity> {
        Polarity::parse(&self.0.polarity)
    }

    /// Who may see it.
    async fn disclosure(&self) -> Option<Disclosure> {
        Disclosure::parse(&self.0.disclosure)
    }

    /// The providing department's code.
    async fn department(&self) -> &str {
        &self.0.department
    }

    /// The department's document number (处罚决定书文号 …), unique per department.
    async fn source_ref(&self) -> &str {
        &self.0.source_ref
    }

    /// MINOR, GENERAL or SERIOUS, for negative records.
    async fn severity(&self) -> Option<Severity> {
        self.0.severity.as_deref().and_then(Severity::parse)
    }

    /// The decision date (作出决定日期).
    async fn decision_date(&self) -> NaiveDate {
        self.0.decision_date
    }

    /// When the platform received it.
    async fn reported_at(&self) -> DateTime<Utc> {
        self.0.reported_at
    }

    /// Working days from decision to report (licenses and penalties).
    async fn working_days(&self) -> Option<i32> {
        self.0.working_days
    }

    /// Whether it arrived later than the 7 working days 双公示 allows.
    async fn late(&self) -> Option<bool> {
        self.0.late
    }

    /// False when a year of the count had no calendar data and only weekends were skipped.
    async fn calendar_complete(&self) -> Option<bool> {
        self.0.calendar_complete
    }

    /// Whether it is published at all (minor misconduct never is).
    async fn published(&self) -> bool {
        self.0.published
    }

    /// The last day it is public; null when publicity has no end.
    async fn public_until(&self) -> Option<NaiveDate> {
        self.0.public_until
    }

    /// The first day the subject may apply for repair; null when it cannot be repaired.
    async fn repairable_from(&self) -> Option<NaiveDate> {
        self.0.repairable_from
    }

    /// The version of the publicity rules applied.
    async fn policy_version(&self) -> Option<&str> {
        self.0.policy_version.as_deref()
    }

    /// ACTIVE, EXPIRED, REPAIRED or REVOKED, today.
    async fn status(&self) -> RecordStatus {
        self.status_on(china_today())
    }

    /// Whether the public sees it today.
    async fn is_public(&self) -> bool {
        visibility::can_see(&crate::auth::Caller::Anonymous, &self.0, china_today())
    }

    /// The item's fields by national code; ID numbers are masked.
    async fn fields(&self) -> Json<Value> {
        Json(serde_json::from_str(&self.0.fields).unwrap_or(Value::Null))
    }

    /// 1 for the original, raised by every correction and the revocation.
    async fn revision(&self) -> i32 {
        self.0.revision
    }

    /// The earlier versions, oldest first: for the providing department and admins only
    /// (empty for others).
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RecordRevision>> {
        if !visibility::can_change(ctx.caller(), &self.0) {
            return Ok(Vec::new());
        }
        let state = ctx.state()?;
        Ok(service::history(&state.db, self.0.id)
            .await?
            .into_iter()
            .map(|r| RecordRevision {
                revision: r.revision,
                action: r.action,
                reason: r.reason,
                fields: Json(serde_json::from_str(&r.fields).unwrap_or(Value::Null)),
                severity: r.severity,
                decision_date: r.decision_date,
                at: r.at,
            })
            .collect())
    }
}

/// One record to submit. Subject code, document number and decision date may come from the
/// item's fields (e.g. `CF_XDR_SHXYM`, `CF_WSH`, `CF_JDRQ`) instead of the top-level arguments;
/// when both are sent they must agree.
#[derive(InputObject)]
pub struct CreditRecordInput {
    /// The catalog item's code, e.g. `ADMIN_PENALTY` (see `catalog`).
    pub item: String,
    /// The subject's USCC, or a natural person's resident ID.
    pub subject_code: Option<String>,
    /// HOUSEHOLD when `subjectCode` is a householder's resident ID.
    pub subject_kind: Option<SubjectKind>,
    /// The department's own document number (处罚决定书文号 …); resending it is idempotent.
    pub source_ref: Option<String>,
    /// The decision date.
    pub decision_date: Option<NaiveDate>,
    /// For negative records: MINOR, GENERAL or SERIOUS. Penalties derive it from their types
    /// (CF_CFLB) when omitted; a type such as 吊销许可证件 always makes them SERIOUS.
    pub severity: Option<Severity>,
    /// The item's fields, by national code (`CF_WSH`) or English key (`decisionNumber`).
    pub fields: Json<Map<String, Value>>,
}

/// The input of `submitCreditRecords`.
#[derive(InputObject)]
pub struct SubmitCreditRecordsInput {
    /// The records, at most 1000 per call.
    pub records: Vec<CreditRecordInput>,
}

/// What happened to one submitted row.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionStatus {
    /// Accepted now.
    Accepted,
    /// The same row (department, sourceRef and content) was accepted before; nothing changed.
    Duplicate,
    /// Refused; `userErrors` says which field broke which rule. The row is kept with its reasons.
    Refused,
}

/// The answer for one row, in input order.
#[derive(SimpleObject)]
pub struct RecordSubmission {
    /// The row's 0-based position in `input.records`.
    pub index: i32,
    /// Accepted, duplicate or refused.
    pub status: SubmissionStatus,
    /// The record, unless refused.
    pub record: Option<CreditRecord>,
    /// Why the row was refused. Fields are paths into `input`.
    pub user_errors: Vec<UserError>,
}

/// The answer of `submitCreditRecords`.
#[derive(SimpleObject)]
pub struct SubmitCreditRecordsPayload {
    /// One result per row, in input order.
    pub results: Vec<RecordSubmission>,
    /// Rows accepted now.
    pub accepted_count: i32,
    /// Rows accepted before.
    pub duplicate_count: i32,
    /// Rows refused.
    pub refused_count: i32,
    /// Accepted licenses and penalties that arrived after their 7 working days.
    pub late_count: i32,
    /// Every refused row's errors, flattened.
    pub user_errors: Vec<UserError>,
}

/// The input of `correctCreditRecord`. Name the record by `id` or by your `sourceRef`.
#[derive(InputObject)]
pub struct CorrectCreditRecordInput {
    /// The record's id.
    pub id: Option<ID>,
    /// Or the record's document number (of the caller's department).
    pub source_ref: Option<String>,
    /// Why it is corrected (kept in the history).
    pub reason: String,
    /// The complete corrected fields; omitted: unchanged.
    pub fields: Option<Json<Map<String, Value>>>,
    /// The corrected decision date.
    pub decision_date: Option<NaiveDate>,
    /// The corrected severity.
    pub severity: Option<Severity>,
}

/// The input of `revokeCreditRecord`.
#[derive(InputObject)]
pub struct RevokeCreditRecordInput {
    /// The record's id.
    pub id: Option<ID>,
    /// Or the record's document number (of the caller's department).
    pub source_ref: Option<String>,
    /// Why it is revoked (kept in the history).
    pub reason: String,
}

/// The answer of `correctCreditRecord` and `revokeCreditRecord`.
#[derive(SimpleObject)]
pub struct ChangeCreditRecordPayload {
    /// The record as it is now; null when refused.
    pub record: Option<CreditRecord>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

/// The input of `declareDecisionCounts`.
#[derive(InputObject)]
pub struct DeclareDecisionCountsInput {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// License decisions made that month.
    pub licenses: i32,
    /// Penalty decisions made that month.
    pub penalties: i32,
    /// ADMIN only: the department declared for; others declare for their own.
    pub department: Option<String>,
}

/// The answer of `declareDecisionCounts`.
#[derive(SimpleObject)]
pub struct DeclareDecisionCountsPayload {
    /// The department declared for.
    pub department: Option<String>,
    /// The month.
    pub month: Option<String>,
    /// Why the declaration was refused.
    pub user_errors: Vec<UserError>,
}

fn changed(outcome: Result<credit_record::Model, Vec<FieldError>>) -> ChangeCreditRecordPayload {
    match outcome {
        Ok(m) => ChangeCreditRecordPayload {
            record: Some(CreditRecord(m)),
            user_errors: Vec::new(),
        },
        Err(errors) => refuse_change(errors),
    }
}

fn refuse_change(errors: Vec<FieldError>) -> ChangeCreditRecordPayload {
    ChangeCreditRecordPayload {
        record: None,
        user_errors: errors.into_iter().map(UserError::from).collect(),
    }
}

/// The record a correction or revocation names, if the caller may change it.
async fn change_target(
    ctx: &Context<'_>,
    id: &Option<ID>,
    source_ref: Option<&str>,
) -> async_graphql::Result<Result<credit_record::Model, ChangeCreditRecordPayload>> {
    let state = ctx.state()?;
    let id = match record_id(id) {
        Ok(id) => id,
        Err(e) => return Ok(Err(refuse_change(vec![e]))),
    };
    Ok(
        match service::find_for_change(&state.db, ctx.caller(), id, source_ref).await? {
            Some(record) => Ok(record),
            None => Err(refuse_change(vec![FieldError::new(
                &["id"],
                UserErrorCode::NotFound,
                "no record of your department has this id or sourceRef",
            )])),
        },
    )
}

fn record_id(id: &Option<ID>) -> Result<Option<i64>, FieldError> {
    match id {
        None => Ok(None),
        Some(id) => match decode_global_id(id) {
            Some((NodeKind::CreditRecord, n)) => Ok(Some(n)),
            _ => Err(FieldError::new(
                &["id"],
                UserErrorCode::NotFound,
                "no record has this id",
            )),
        },
    }
}

/// One department's (or the district's) 双公示 figures for a period.
#[derive(SimpleObject)]
pub struct PublicityReportRow {
    /// The department's code; null for the district total.
    pub department: Option<String>,
    /// Licenses and penalties received in the period.
    pub submitted: u64,
    /// Of those, received after their 7 working days (迟报).
    pub late: u64,
    /// Rows refused in the period (差错), kept with their reasons.
    pub refused: u64,
    /// Decisions the department declared for the period's months; null for a week.
    pub declared: Option<u64>,
    /// Decisions of the period's months received so far; null for a week.
    pub received: Option<u64>,
    /// Declared minus received, at least 0 (漏报); null for a week.
    pub missing: Option<u64>,
    /// late / submitted (迟报率); null when nothing was submitted.
    pub late_rate: Option<f64>,
    /// refused / (submitted + refused) (差错率).
    pub error_rate: Option<f64>,
    /// missing / declared (漏报率).
    pub missing_rate: Option<f64>,
}

impl From<PublicityFigures> for PublicityReportRow {
    fn from(f: PublicityFigures) -> Self {
        Self {
            late_rate: f.late_rate(),
            error_rate: f.error_rate(),
            missing_rate: f.missing_rate(),
            department: f.department,
            submitted: f.submitted,
            late: f.late,
            refused: f.refused,
            declared: f.declared,
            received: f.received,
            missing: f.missing,
        }
    }
}

/// The 双公示 report of a period.
#[derive(SimpleObject)]
pub struct PublicityReport {
    /// The period's length.
    pub period: ReportPeriod,
    /// Its first day.
    pub start: NaiveDate,
    /// Its last day.
    pub end: NaiveDate,
    /// One row per department.
    pub departments: Vec<PublicityReportRow>,
    /// The district's total.
    pub total: PublicityReportRow,
    /// Whether every day of the period has calendar data (otherwise lateness counted weekends only).
    pub calendar_complete: bool,
    /// Why some figures are null (e.g. decision counts are declared per month, not per week).
    pub notes: Vec<String>,
}

#[derive(Default)]
pub struct RecordsQuery;

#[Object]
impl RecordsQuery {
    /// The 双公示 report: per department, licenses and penalties received, late, refused and
    /// missing in a week, month or quarter, with the three rates. ADMIN sees every department; a
    /// DEPARTMENT sees its own.
    async fn publicity_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "WEEK, MONTH or QUARTER.")] period: ReportPeriod,
        #[graphql(desc = "Any day inside the period.")] date: NaiveDate,
        #[graphql(desc = "Only this department (a DEPARTMENT always gets its own).")]
        department: Option<String>,
    ) -> async_graphql::Result<PublicityReport> {
        let principal = ctx.caller().require(
            "publicityReport",
            &[Role::Admin, Role::Department],
            "subjects:read",
        )?;
        let department = if principal.role == Role::Department {
            Some(principal.organization.clone())
        } else {
            department
        };
        let state = ctx.state()?;
        let (start, end, rows, total) =
            report::publicity_report(&state.db, period, date, department.as_deref()).await?;
        let calendar = crate::calendar::service::load(&state.db).await?;
        let calendar_complete =
            calendar.covers(start.year_ce().1 as i32) && calendar.covers(end.year_ce().1 as i32);
        let mut notes = Vec::new();
        if period == ReportPeriod::Week {
            notes.push(
                "declared, received and missing are null: decision counts are declared per month"
                    .into(),
            );
        }
        if !calendar_complete {
            notes.push(
                "the period has no working-day calendar data; lateness counted weekends only"
                    .into(),
            );
        }
        Ok(PublicityReport {
            period,
            start,
            end,
            departments: rows.into_iter().map(PublicityReportRow::from).collect(),
            total: total.into(),
            calendar_complete,
            notes,
        })
    }
}

#[derive(Default)]
pub struct RecordsMutation;

#[Object]
impl RecordsMutation {
    /// Submits records (at most 1000), answered row by row: ACCEPTED, DUPLICATE, or REFUSED with
    /// the field and the rule. Idempotent on (department, sourceRef); a changed row with a known
    /// sourceRef is refused (send it with `correctCreditRecord`). Accepted rows commit together;
    /// refused rows are kept with their reasons. For DEPARTMENT (its catalog items) and ADMIN.
    async fn submit_credit_records(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The records.")] input: SubmitCreditRecordsInput,
    ) -> async_graphql::Result<SubmitCreditRecordsPayload> {
        ctx.caller().require(
            "submitCreditRecords",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        check_list_len("input.records", input.records.len())?;
        let state = ctx.state()?;
        let rows: Vec<RecordRow> = input
            .records
            .into_iter()
            .map(|r| RecordRow {
                item: r.item,
                subject_code: r.subject_code,
                subject_kind: r.subject_kind,
                source_ref: r.source_ref,
                decision_date: r.decision_date,
                severity: r.severity,
                fields: r.fields.0,
                reported_at: None,
            })
            .collect();
        let outcomes = service::submit(
            &state.db,
            &ctx.actor(),
            &state.person_keys,
            &state.rating_queue,
            &rows,
        )
        .await?;
        let mut payload = SubmitCreditRecordsPayload {
            results: Vec::with_capacity(outcomes.len()),
            accepted_count: 0,
            duplicate_count: 0,
            refused_count: 0,
            late_count: 0,
            user_errors: Vec::new(),
        };
        for (index, outcome) in outcomes.into_iter().enumerate() {
            let (status, record, errors) = match outcome {
                RowOutcome::Accepted(m) => {
                    payload.accepted_count += 1;
                    if m.late == Some(true) {
                        payload.late_count += 1;
                    }
                    (
                        SubmissionStatus::Accepted,
                        Some(CreditRecord(*m)),
                        Vec::new(),
                    )
                }
                RowOutcome::Duplicate(m) => {
                    payload.duplicate_count += 1;
                    (
                        SubmissionStatus::Duplicate,
                        Some(CreditRecord(*m)),
                        Vec::new(),
                    )
                }
                RowOutcome::Refused(errors) => {
                    payload.refused_count += 1;
                    let prefix = ["records".to_owned(), index.to_string()];
                    let errors: Vec<UserError> = errors
                        .into_iter()
                        .map(|e| UserError::from(e.under(&prefix)))
                        .collect();
                    (SubmissionStatus::Refused, None, errors)
                }
            };
            payload.user_errors.extend(errors.iter().cloned());
            payload.results.push(RecordSubmission {
                index: index as i32,
                status,
                record,
                user_errors: errors,
            });
        }
        Ok(payload)
    }

    /// Corrects a record with a reason, keeping the previous version in its history; severity
    /// and publicity are recomputed. For the providing department and ADMIN.
    async fn correct_credit_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record and its corrected content.")] input: CorrectCreditRecordInput,
    ) -> async_graphql::Result<ChangeCreditRecordPayload> {
        ctx.caller().require(
            "correctCreditRecord",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let record = match change_target(ctx, &input.id, input.source_ref.as_deref()).await? {
            Ok(record) => record,
            Err(refused) => return Ok(refused),
        };
        let correction = Correction {
            fields: input.fields.map(|f| f.0),
            decision_date: input.decision_date,
            severity: input.severity,
            reason: input.reason,
        };
        Ok(changed(
            service::correct(&state.db, &ctx.actor(), record, correction).await?,
        ))
    }

    /// Revokes a record with a reason (撤销): it stops counting and being shown; its history
    /// stays. For the providing department and ADMIN.
    async fn revoke_credit_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The record and the reason.")] input: RevokeCreditRecordInput,
    ) -> async_graphql::Result<ChangeCreditRecordPayload> {
        ctx.caller().require(
            "revokeCreditRecord",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let record = match change_target(ctx, &input.id, input.source_ref.as_deref()).await? {
            Ok(record) => record,
            Err(refused) => return Ok(refused),
        };
        Ok(changed(
            service::revoke(&state.db, &ctx.actor(), record, &input.reason).await?,
        ))
    }

    /// Declares how many license and penalty decisions a department made in a month; the report's
    /// missing count (漏报) is declared minus received. A new declaration replaces the old one.
    /// For DEPARTMENT (its own) and ADMIN (any department).
    async fn declare_decision_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The month and the counts.")] input: DeclareDecisionCountsInput,
    ) -> async_graphql::Result<DeclareDecisionCountsPayload> {
        let principal = ctx.caller().require(
            "declareDecisionCounts",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let mut errors = Vec::new();
        let month_ok = input.month.len() == 7
            && NaiveDate::parse_from_str(&format!("{}-01", input.month), "%Y-%m-%d").is_ok();
        if !month_ok {
            errors.push(FieldError::new(
                &["month"],
                UserErrorCode::InvalidFormat,
                "the month is YYYY-MM",
            ));
        }
        for (field, n) in [("licenses", input.licenses), ("penalties", input.penalties)] {
            if !(0..=1_000_000).contains(&n) {
                errors.push(FieldError::new(
                    &[field],
                    UserErrorCode::InvalidFormat,
                    format!("{field} must be between 0 and 1000000"),
                ));
            }
        }
        let department = match (principal.role, input.department) {
            (Role::Admin, Some(d)) => {
                if crate::auth::clients::organization_by_code(&state.db, &d)
                    .await
                    .is_err()
                {
                    errors.push(FieldError::new(
                        &["department"],
                        UserErrorCode::NotFound,
                        format!("there is no organization {d}"),
                    ));
                }
                d
            }
            (Role::Admin, None) => {
                errors.push(FieldError::new(
                    &["department"],
                    UserErrorCode::Required,
                    "an ADMIN names the department",
                ));
                String::new()
            }
            (_, Some(d)) if d != principal.organization => {
                errors.push(FieldError::new(
                    &["department"],
                    UserErrorCode::NotAllowed,
                    "a department declares its own counts",
                ));
                d
            }
            _ => principal.organization.clone(),
        };
        if !errors.is_empty() {
            return Ok(DeclareDecisionCountsPayload {
                department: None,
                month: None,
                user_errors: errors.into_iter().map(UserError::from).collect(),
            });
        }
        service::declare_decision_counts(
            &state.db,
            &ctx.actor(),
            &department,
            &input.month,
            input.licenses,
            input.penalties,
        )
        .await?;
        Ok(DeclareDecisionCountsPayload {
            department: Some(department),
            month: Some(input.month),
            user_errors: Vec::new(),
        })
    }
}
