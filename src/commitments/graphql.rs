//! The GraphQL adapter of commitments: `commitments`, `overdueCommitments`, `recordCommitment`,
//! `verifyCommitment`, `withdrawCommitment`, `markTypicalCommitment`, `Commitment`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::commitment;

use super::rules::{self, Draft};
use super::service::{self, CommitmentFilter, Recorded, Verification};
use super::{CommitmentKind, CommitmentStatus, VerificationOutcome};
use crate::auth::Role;
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::graphql::ContextExt;
use crate::graphql::types::{
    CountedConnection, IdCursor, NodeKind, UserError, decode_global_id, global_id, page, page_size,
};
use crate::records::graphql::CreditRecord;
use crate::records::rules::Severity;
use crate::records::service::china_today;
use crate::subjects::SubjectKind;
use crate::subjects::service as subjects;

/// A credit commitment (信用承诺) and where it is in its life.
pub struct Commitment(pub commitment::Model);

/// A credit commitment (信用承诺): what a subject committed to for a matter, who recorded it,
/// which department verifies it by when, and the outcome. Public as 信用承诺公示, except
/// withdrawn ones and those of natural persons and households.
#[Object]
impl Commitment {
    /// Opaque global id; pass it to `verifyCommitment`, `withdrawCommitment` or `node(id)`.
    pub async fn id(&self) -> ID {
        global_id(NodeKind::Commitment, self.0.id)
    }

    /// The recorder's own id of the commitment. Only for the recording organization, the
    /// responsible department and admins; null for everyone else.
    async fn external_id(&self, ctx: &Context<'_>) -> Option<&str> {
        service::is_party(ctx.caller(), &self.0).then_some(self.0.external_id.as_str())
    }

    /// The kind of commitment.
    async fn kind(&self) -> Option<CommitmentKind> {
        CommitmentKind::parse(&self.0.kind)
    }

    /// The matter committed for, e.g. the approval item (食品经营许可) or the repaired record.
    async fn matter(&self) -> &str {
        &self.0.matter
    }

    /// The text of the commitment (承诺内容).
    async fn content(&self) -> &str {
        &self.0.content
    }

    /// The day the subject made it.
    async fn made_on(&self) -> NaiveDate {
        self.0.made_on
    }

    /// The last day of its verification (核查期限): after it, an unverified commitment is overdue.
    async fn verify_by(&self) -> NaiveDate {
        self.0.verify_by
    }

    /// Whether it is PENDING_VERIFICATION and `verifyBy` has passed (date in China).
    async fn overdue(&self) -> bool {
        rules::is_overdue(&self.0.status, self.0.verify_by, china_today())
    }

    /// The code of the department responsible for the matter, which verifies it.
    async fn department(&self) -> &str {
        &self.0.department
    }

    /// The code of the organization that recorded it (an approval hall, a partner, a department).
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }

    /// PENDING_VERIFICATION, FULFILLED, BREACHED or WITHDRAWN.
    async fn status(&self) -> Option<CommitmentStatus> {
        CommitmentStatus::parse(&self.0.status)
    }

    /// The day it was verified; null while pending.
    async fn verified_on(&self) -> Option<NaiveDate> {
        self.0.verified_on
    }

    /// The code of the organization that verified it.
    async fn verified_by(&self) -> Option<&str> {
        self.0.verified_by.as_deref()
    }

    /// What the verifier found.
    async fn verification_note(&self) -> Option<&str> {
        self.0.verification_note.as_deref()
    }

    /// The COMMITMENT_BREACH record a breach wrote into the subject's credit record, when the
    /// caller may see it (it follows the records' publicity rules).
    async fn breach_record(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<CreditRecord>> {
        let Some(id) = self.0.breach_record_id else {
            return Ok(None);
        };
        Ok(crate::records::loader::visible_record(ctx, id)
            .await?
            .map(CreditRecord))
    }

    /// Why its recorder withdrew it.
    async fn withdrawn_reason(&self) -> Option<&str> {
        self.0.withdrawn_reason.as_deref()
    }

    /// Whether an admin marked it as a typical case (典型案例).
    async fn typical_case(&self) -> bool {
        self.0.typical_case
    }

    /// What the admin wrote about the typical case.
    async fn typical_note(&self) -> Option<&str> {
        self.0.typical_note.as_deref()
    }

    /// When it was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The subject that made it; null when the caller may not see the subject (a natural
    /// person without `persons:read`).
    async fn subject(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::subjects::graphql::Subject>> {
        Ok(
            crate::subjects::loader::visible_subject(ctx, self.0.subject_id)
                .await?
                .map(crate::subjects::graphql::Subject),
        )
    }
}

/// The filter of `commitments`; every part narrows the listing.
#[derive(InputObject, Default)]
pub struct CommitmentFilterInput {
    /// Only the commitments of the subject with this USCC or resident ID.
    pub subject_code: Option<String>,
    /// HOUSEHOLD when `subjectCode` is a householder's resident ID.
    pub subject_kind: Option<SubjectKind>,
    /// Only this kind.
    pub kind: Option<CommitmentKind>,
    /// Only this status.
    pub status: Option<CommitmentStatus>,
    /// true: only typical cases (典型案例); false: only the others.
    pub typical_case: Option<bool>,
    /// true: only those your organization recorded, withdrawn ones included (partners and
    /// approval halls reading their own).
    pub recorded_by_me: Option<bool>,
    /// Only those this department is responsible for.
    pub department: Option<String>,
}

fn decode(id: &ID) -> Option<i64> {
    match decode_global_id(id) {
        Some((NodeKind::Commitment, n)) => Some(n),
        _ => None,
    }
}

fn unknown_id() -> Vec<FieldError> {
    vec![FieldError::new(
        &["id"],
        UserErrorCode::NotFound,
        "no commitment has this id",
    )]
}

/// A page of commitments as the API answers it.
pub async fn commitments_page(
    ctx: &Context<'_>,
    filter: CommitmentFilter,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<CountedConnection<Commitment>> {
    let state = ctx.state()?;
    let limit = page_size(first)?;
    let before = after
        .as_deref()
        .map(IdCursor::parse)
        .transpose()?
        .map(|c| c.0);
    let (rows, has_next, total) =
        service::list(&state.db, ctx.caller(), &filter, before, limit).await?;
    Ok(page(
        rows,
        |m| m.id,
        Commitment,
        before.is_some(),
        has_next,
        total,
    ))
}

#[derive(Default)]
pub struct CommitmentsQuery;

#[Object]
impl CommitmentsQuery {
    /// Commitments, newest first. Anyone sees the public listing (信用承诺公示): every
    /// commitment not withdrawn (natural persons' and households' only with `persons:read`).
    /// The recording organization and the responsible department also see their withdrawn
    /// ones and `externalId`; admins see everything.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn commitments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to list; omit for everything visible.")] filter: Option<
            CommitmentFilterInput,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<Commitment>> {
        let filter = filter.unwrap_or_default();
        let state = ctx.state()?;
        let mut resolved = CommitmentFilter {
            kind: filter.kind,
            status: filter.status,
            typical_case: filter.typical_case,
            department: filter.department.map(|d| d.trim().to_owned()),
            ..Default::default()
        };
        if filter.recorded_by_me == Some(true) {
            let Some(p) = ctx.caller().principal() else {
                return Err(AppError::Unauthenticated(
                    "commitments: recordedByMe needs a bearer token".into(),
                )
                .into());
            };
            resolved.recorded_by = Some(p.organization.clone());
        }
        if let Some(code) = filter.subject_code {
            let keys = subjects::lookup_keys(&code, filter.subject_kind, &state.person_keys)
                .map_err(|e| AppError::bad_input("filter.subjectCode", e.message()))?;
            match subjects::find_by_keys_public(&state.db, &keys).await? {
                Some(s) => resolved.subject_id = Some(s.id),
                None => {
                    return Ok(page(
                        Vec::<commitment::Model>::new(),
                        |m| m.id,
                        Commitment,
                        false,
                        false,
                        0,
                    ));
                }
            }
        }
        commitments_page(ctx, resolved, first, after).await
    }

    /// Commitments past their verification date and not yet verified, newest first: for a
    /// DEPARTMENT those it is responsible for; an ADMIN sees every department's, or one's.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn overdue_commitments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ADMIN only: one department's code; departments always see their own.")]
        department: Option<String>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<Commitment>> {
        let p = ctx.caller().require(
            "overdueCommitments",
            &[Role::Admin, Role::Department],
            "subjects:read",
        )?;
        let department = match p.role {
            Role::Admin => department.map(|d| d.trim().to_owned()),
            _ => {
                if department
                    .as_deref()
                    .is_some_and(|d| d.trim() != p.organization)
                {
                    return Err(AppError::Forbidden(format!(
                        "overdueCommitments: a department sees its own ({}) only",
                        p.organization
                    ))
                    .into());
                }
                Some(p.organization.clone())
            }
        };
        let filter = CommitmentFilter {
            department,
            overdue_on: Some(china_today()),
            ..Default::default()
        };
        commitments_page(ctx, filter, first, after).await
    }
}

/// The input of `recordCommitment`.
#[derive(InputObject)]
pub struct RecordCommitmentInput {
    /// Your own id of this commitment, at most 128 characters. Sending it again with the same
    /// content answers the commitment recorded first (`replayed: true`); with other content it
    /// is refused as CONFLICT.
    pub external_id: String,
    /// The subject's USCC or resident ID; it must be registered.
    pub subject_code: String,
    /// HOUSEHOLD when `subjectCode` is a householder's resident ID.
    pub subject_kind: Option<SubjectKind>,
    /// The kind of commitment.
    pub kind: CommitmentKind,
    /// The matter committed for, e.g. the approval item (at most 200 characters).
    pub matter: String,
    /// The text of the commitment (at most 4000 characters).
    pub content: String,
    /// The day the subject made it; default today (China). Not in the future.
    pub made_on: Option<NaiveDate>,
    /// The last day for the department's verification: from `madeOn` to 60 months ahead.
    pub verify_by: NaiveDate,
    /// The organization code of the department responsible for the matter, which verifies it
    /// (e.g. MARKET_REGULATION; the `department` of the catalog's providers); a DEPARTMENT
    /// recording for itself may omit it.
    pub department: Option<String>,
}

/// The answer of `recordCommitment`.
#[derive(SimpleObject)]
pub struct RecordCommitmentPayload {
    /// The commitment; null when refused.
    pub commitment: Option<Commitment>,
    /// true when this `externalId` was recorded before with the same content and nothing new
    /// was stored.
    pub replayed: bool,
    /// Why it was refused, each with the input field and the rule.
    pub user_errors: Vec<UserError>,
}

/// The input of `verifyCommitment`.
#[derive(InputObject)]
pub struct VerifyCommitmentInput {
    /// The commitment's id.
    pub id: ID,
    /// FULFILLED or BREACHED.
    pub outcome: VerificationOutcome,
    /// What the verification found (at most 2000 characters); on a breach it becomes the
    /// record's 违诺情况.
    pub note: String,
    /// The day of the verification; default today (China). Not before `madeOn`, not in the
    /// future. A breach record is dated on it.
    pub verified_on: Option<NaiveDate>,
    /// BREACHED only: the severity of the breach record, which sets its publicity period
    /// (MINOR records are never public); default GENERAL.
    pub severity: Option<Severity>,
}

/// The input of `withdrawCommitment`.
#[derive(InputObject)]
pub struct WithdrawCommitmentInput {
    /// The commitment's id.
    pub id: ID,
    /// Why it is withdrawn (at most 2000 characters).
    pub reason: String,
}

/// The input of `markTypicalCommitment`.
#[derive(InputObject)]
pub struct MarkTypicalCommitmentInput {
    /// The commitment's id; it must be FULFILLED or BREACHED to be marked.
    pub id: ID,
    /// true marks it as a typical case (典型案例), false takes the mark off.
    pub typical: bool,
    /// Why it is typical, shown with it (at most 2000 characters).
    pub note: Option<String>,
}

/// The answer of `verifyCommitment`, `withdrawCommitment` and `markTypicalCommitment`.
#[derive(SimpleObject)]
pub struct CommitmentPayload {
    /// The commitment as it is now; null when refused.
    pub commitment: Option<Commitment>,
    /// Why it was refused, each with the input field and the rule.
    pub user_errors: Vec<UserError>,
}

fn refused(errors: Vec<FieldError>) -> CommitmentPayload {
    CommitmentPayload {
        commitment: None,
        user_errors: errors.into_iter().map(UserError::from).collect(),
    }
}

fn answered(result: Result<commitment::Model, Vec<FieldError>>) -> CommitmentPayload {
    match result {
        Ok(m) => CommitmentPayload {
            commitment: Some(Commitment(m)),
            user_errors: Vec::new(),
        },
        Err(errors) => refused(errors),
    }
}

#[derive(Default)]
pub struct CommitmentsMutation;

#[Object]
impl CommitmentsMutation {
    /// Records a subject's commitment for the caller's organization (APPROVAL_HALL, PARTNER,
    /// DEPARTMENT, ADMIN). Idempotent twice over: on `externalId`, and on an `Idempotency-Key`
    /// header.
    async fn record_commitment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The commitment.")] input: RecordCommitmentInput,
    ) -> async_graphql::Result<RecordCommitmentPayload> {
        let principal = ctx.caller().require(
            "recordCommitment",
            &[
                Role::ApprovalHall,
                Role::Partner,
                Role::Department,
                Role::Admin,
            ],
            "subjects:read",
        )?;
        let state = ctx.state()?;
        let refuse = |errors: Vec<FieldError>| RecordCommitmentPayload {
            commitment: None,
            replayed: false,
            user_errors: errors.into_iter().map(UserError::from).collect(),
        };
        let department = match input.department.map(|d| d.trim().to_owned()) {
            Some(d) if !d.is_empty() => d,
            _ if principal.role == Role::Department => principal.organization.clone(),
            _ => {
                return Ok(refuse(vec![FieldError::new(
                    &["department"],
                    UserErrorCode::Required,
                    "department is required: the code of the department that verifies the matter",
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
        let draft = Draft {
            external_id: input.external_id,
            kind: input.kind,
            matter: input.matter,
            content: input.content,
            made_on: input.made_on,
            verify_by: input.verify_by,
            department,
        };
        Ok(
            match service::record(state, principal, &ctx.actor(), &subject, draft).await? {
                Ok(Recorded::Created(m)) => RecordCommitmentPayload {
                    commitment: Some(Commitment(m)),
                    replayed: false,
                    user_errors: Vec::new(),
                },
                Ok(Recorded::Replayed(m)) => RecordCommitmentPayload {
                    commitment: Some(Commitment(m)),
                    replayed: true,
                    user_errors: Vec::new(),
                },
                Err(errors) => refuse(errors),
            },
        )
    }

    /// Verifies a pending commitment as FULFILLED or BREACHED (the responsible DEPARTMENT or
    /// ADMIN). A breach writes a COMMITMENT_BREACH record into the subject's credit record and
    /// re-rates the subject in the same transaction.
    async fn verify_commitment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The commitment and the outcome.")] input: VerifyCommitmentInput,
    ) -> async_graphql::Result<CommitmentPayload> {
        ctx.caller().require(
            "verifyCommitment",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let Some(id) = decode(&input.id) else {
            return Ok(refused(unknown_id()));
        };
        let verification = Verification {
            id,
            outcome: input.outcome,
            note: input.note,
            verified_on: input.verified_on,
            severity: input.severity,
        };
        Ok(answered(
            service::verify(&state.db, ctx.caller(), &ctx.actor(), verification).await?,
        ))
    }

    /// Withdraws a commitment before it is verified (its recording organization or ADMIN).
    async fn withdraw_commitment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The commitment and the reason.")] input: WithdrawCommitmentInput,
    ) -> async_graphql::Result<CommitmentPayload> {
        ctx.caller().require(
            "withdrawCommitment",
            &[
                Role::ApprovalHall,
                Role::Partner,
                Role::Department,
                Role::Admin,
            ],
            "subjects:read",
        )?;
        let state = ctx.state()?;
        let Some(id) = decode(&input.id) else {
            return Ok(refused(unknown_id()));
        };
        Ok(answered(
            service::withdraw(&state.db, ctx.caller(), &ctx.actor(), id, &input.reason).await?,
        ))
    }

    /// Marks a FULFILLED or BREACHED commitment as a typical case (典型案例), listed publicly
    /// with `commitments(filter: {typicalCase: true})`, or takes the mark off. ADMIN only.
    async fn mark_typical_commitment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The commitment and the mark.")] input: MarkTypicalCommitmentInput,
    ) -> async_graphql::Result<CommitmentPayload> {
        ctx.caller()
            .require("markTypicalCommitment", &[Role::Admin], "admin")?;
        let state = ctx.state()?;
        let Some(id) = decode(&input.id) else {
            return Ok(refused(unknown_id()));
        };
        Ok(answered(
            service::mark_typical(
                &state.db,
                &ctx.actor(),
                id,
                input.typical,
                input.note.as_deref(),
            )
            .await?,
        ))
    }
}
