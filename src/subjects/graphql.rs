//! The GraphQL adapter of subjects: `subject`, `subjects`, `node`, `registerSubjects`,
//! `updateSubject`.

use async_graphql::{
    Context, Enum, ErrorExtensions, ID, InputObject, Interface, Object, SimpleObject,
    dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use entity::subject;

use super::SubjectKind;
use super::rules::{organization_category_name, registering_authority_name};
use super::service::{
    self, Registration, SubjectChanges, SubjectDraft, SubjectFilter as ServiceFilter, UpdateOutcome,
};
use crate::auth::Role;
use crate::catalog::RecordCategory;
use crate::error::{AppError, FieldError};
use crate::graphql::ContextExt;
use crate::graphql::types::{
    CountedConnection, IdCursor, NodeKind, UserError, check_list_len, decode_global_id, global_id,
    page, page_size,
};
use crate::lists::graphql::ListEntry;
use crate::lists::service as lists;
use crate::records::graphql::{CreditRecord, RecordStatus};
use crate::records::service::{self as records, RecordFilter};
use crate::reference::graphql::{Industry, Region};
use crate::reference::loader::{IndustryCode, ReferenceLoader, RegionCode};

/// Anything with a global id, fetchable by `node(id)`.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Opaque global id; pass it to `node(id)` to fetch the object again."
))]
pub enum Node {
    Subject(Subject),
    CreditRecord(CreditRecord),
    ListEntry(ListEntry),
    Commitment(crate::commitments::graphql::Commitment),
}

/// What positions 1–8 of a unified social credit code say about an organization (GB 32100).
#[derive(SimpleObject, Debug, Clone)]
pub struct UsccRegistration {
    /// Position 1: the registering authority code (登记管理部门代码), e.g. `9` for market regulation.
    pub authority_code: String,
    /// The registering authority's name, e.g. 工商（市场监管）.
    pub authority_name: Option<String>,
    /// Positions 1–2: the organization category code (机构类别代码), e.g. `91` for an enterprise.
    pub category_code: String,
    /// The organization category's name, e.g. 企业.
    pub category_name: Option<String>,
    /// Positions 3–8: the GB/T 2260 region code of the registering authority (e.g. 360404 柴桑区,
    /// or 360421 for the former 九江县, which stays valid on older codes).
    pub region_code: String,
}

/// A credit subject (信用主体): an organization, a natural person or a household.
pub struct Subject(pub subject::Model);

/// A credit subject (信用主体): an organization keyed by its unified social credit code, or a
/// natural person or household keyed by a resident ID that is shown only masked.
#[Object]
impl Subject {
    /// Opaque global id; pass it to `node(id)` to fetch the subject again.
    async fn id(&self) -> ID {
        global_id(NodeKind::Subject, self.0.id)
    }

    /// The kind of subject.
    async fn kind(&self) -> async_graphql::Result<SubjectKind> {
        SubjectKind::parse(&self.0.kind)
            .ok_or_else(|| AppError::internal(format!("unknown kind {}", self.0.kind)).into())
    }

    /// The unified social credit code; for natural persons and households the masked resident ID
    /// (`3604**********123X`), since the ID itself is never stored.
    async fn code(&self) -> &str {
        &self.0.display_code
    }

    /// The registered name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The administrative division the subject belongs to.
    async fn region(&self, ctx: &Context<'_>) -> async_graphql::Result<Region> {
        let loader = ctx.data::<DataLoader<ReferenceLoader>>()?;
        loader
            .load_one(RegionCode(self.0.region_code.clone()))
            .await
            .map_err(|e| e.as_ref().extend())?
            .map(Region)
            .ok_or_else(|| AppError::internal("subject region missing").into())
    }

    /// The GB/T 4754 industry section; null for natural persons registered without one.
    async fn industry(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Industry>> {
        let Some(code) = &self.0.industry_code else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<ReferenceLoader>>()?;
        Ok(loader
            .load_one(IndustryCode(code.clone()))
            .await
            .map_err(|e| e.as_ref().extend())?
            .map(Industry))
    }

    /// What the unified social credit code says about the organization; null for persons and
    /// households.
    async fn registration(&self) -> Option<UsccRegistration> {
        let authority = self.0.registering_authority.clone()?;
        let category = self.0.organization_category.clone()?;
        Some(UsccRegistration {
            authority_name: authority
                .chars()
                .next()
                .and_then(registering_authority_name)
                .map(str::to_owned),
            authority_code: authority,
            category_name: organization_category_name(&category).map(str::to_owned),
            category_code: category,
            region_code: self.0.registration_region.clone().unwrap_or_default(),
        })
    }

    /// True when an ADMIN registered this code although its check character fails (some early
    /// real codes do); the reason is in the audit log.
    async fn check_waived(&self) -> bool {
        self.0.check_waiver_reason.is_some()
    }

    /// Code of the organization that registered the subject.
    async fn registered_by(&self) -> &str {
        &self.0.registered_by
    }

    /// When the subject was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the subject's data last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The subject's credit records the caller may see, newest first: anonymous callers see
    /// PUBLIC records inside their publicity period that are neither repaired nor revoked;
    /// departments and approval halls also GOVERNMENT ones; AUTHORIZED records only the providing
    /// department and admins.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn records(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this category.")] category: Option<RecordCategory>,
        #[graphql(desc = "Only records in this state today.")] status: Option<RecordStatus>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<CreditRecord>> {
        let state = ctx.state()?;
        let limit = page_size(first)?;
        let after_id = after
            .as_deref()
            .map(IdCursor::parse)
            .transpose()?
            .map(|c| c.0);
        let (rows, has_next, total) = records::for_subject(
            &state.db,
            ctx.caller(),
            self.0.id,
            RecordFilter { category, status },
            after_id,
            limit,
        )
        .await?;
        audit_non_public_read(ctx, self.0.id, "readRecords").await?;
        Ok(page(
            rows,
            |m| m.id,
            CreditRecord,
            after_id.is_some(),
            has_next,
            total,
        ))
    }

    /// Everything the caller may see about the subject, grouped by category, with ID numbers
    /// masked: the public credit report (公共信用信息报告) as this caller may read it.
    #[graphql(complexity = "50 * child_complexity")]
    async fn credit_report(&self, ctx: &Context<'_>) -> async_graphql::Result<CreditReport> {
        let state = ctx.state()?;
        let rows = records::all_visible(&state.db, ctx.caller(), self.0.id).await?;
        let entries = lists::for_subject(&state.db, ctx.caller(), self.0.id).await?;
        audit_non_public_read(ctx, self.0.id, "readCreditReport").await?;
        let mut sections: Vec<CreditReportSection> = Vec::new();
        for row in rows {
            let Some(category) = RecordCategory::parse(&row.category) else {
                continue;
            };
            match sections.iter_mut().find(|s| s.category == category) {
                Some(section) => section.records.push(CreditRecord(row)),
                None => sections.push(CreditReportSection {
                    category,
                    category_name: category.name_zh().to_owned(),
                    records: vec![CreditRecord(row)],
                }),
            }
        }
        sections.sort_by_key(|s| s.category.as_str());
        Ok(CreditReport {
            subject_name: self.0.name.clone(),
            subject_code: self.0.display_code.clone(),
            generated_at: Utc::now(),
            as_of: records::china_today(),
            sections,
            list_entries: entries.into_iter().map(ListEntry).collect(),
        })
    }

    /// The subject's current rating under a model (ADMIN, DEPARTMENT, APPROVAL_HALL and BANK;
    /// audited): score, grade, supervision level and the factors behind every point. Null when
    /// the model does not rate subjects of this kind or industry (see `evaluationModels`).
    async fn rating(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's code.", default = "PUBLIC_COMPREHENSIVE")] model: String,
    ) -> async_graphql::Result<Option<crate::ratings::graphql::Rating>> {
        crate::ratings::graphql::subject_rating(ctx, &self.0, model.trim()).await
    }

    /// The subject's ratings over time, newest first: every evaluation run and every change of
    /// score or grade as stored (ADMIN, DEPARTMENT, APPROVAL_HALL and BANK; audited). Records
    /// sent with `submitCreditRecords` are stored in the ratings once their upload pauses, so
    /// an upload's records for one subject make one entry here.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn ratings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only ratings of this model.")] model: Option<String>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<crate::ratings::graphql::Rating>> {
        crate::ratings::graphql::subject_ratings(ctx, self.0.id, model.as_deref(), first, after)
            .await
    }

    /// The subject's commitments the caller may see, newest first: the public listing (not
    /// withdrawn), and in full those the caller's organization recorded or verifies.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn commitments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this status.")] status: Option<crate::commitments::CommitmentStatus>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<crate::commitments::graphql::Commitment>> {
        let filter = crate::commitments::service::CommitmentFilter {
            subject_id: Some(self.0.id),
            status,
            ..Default::default()
        };
        crate::commitments::graphql::commitments_page(ctx, filter, first, after).await
    }

    /// The 信易+ benefits the subject qualifies for, one decision per scenario the caller may
    /// ask about (an APP its own, a BANK FINANCING ones naming `purpose`, government roles
    /// all), with the reasons. Audited.
    async fn benefits(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Why you ask; required for BANK callers.")] purpose: Option<
            crate::benefits::Purpose,
        >,
    ) -> async_graphql::Result<Vec<crate::benefits::graphql::Eligibility>> {
        crate::benefits::graphql::subject_benefits(ctx, &self.0, purpose).await
    }

    /// The subject's list entries the caller may see: the public sees RED and
    /// SERIOUS_DISHONESTY entries in force; government roles every list.
    async fn list_entries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ListEntry>> {
        let state = ctx.state()?;
        Ok(lists::for_subject(&state.db, ctx.caller(), self.0.id)
            .await?
            .into_iter()
            .map(ListEntry)
            .collect())
    }
}

/// Records reads of non-public data by government roles and banks in the audit log.
async fn audit_non_public_read(
    ctx: &Context<'_>,
    subject_id: i64,
    action: &'static str,
) -> async_graphql::Result<()> {
    if matches!(
        ctx.caller().role(),
        Some(Role::Department | Role::ApprovalHall | Role::Bank)
    ) {
        let state = ctx.state()?;
        crate::audit::record(
            &state.db,
            &ctx.actor(),
            vec![crate::audit::AuditEntry::new(action, Some(subject_id))],
        )
        .await?;
    }
    Ok(())
}

/// One category of a credit report.
#[derive(SimpleObject)]
pub struct CreditReportSection {
    /// The category.
    pub category: RecordCategory,
    /// Its Chinese name.
    pub category_name: String,
    /// Its records, newest decision first.
    pub records: Vec<CreditRecord>,
}

/// A subject's credit report as the caller may read it.
#[derive(SimpleObject)]
pub struct CreditReport {
    /// The subject's name.
    pub subject_name: String,
    /// The USCC, or the masked resident ID.
    pub subject_code: String,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The day (China time) publicity was judged on.
    pub as_of: chrono::NaiveDate,
    /// The records, by category.
    pub sections: Vec<CreditReportSection>,
    /// The list entries the caller may see.
    pub list_entries: Vec<ListEntry>,
}

/// Which subjects to list. Filters combine with AND.
#[derive(InputObject, Default)]
pub struct SubjectFilter {
    /// Only subjects of this kind.
    pub kind: Option<SubjectKind>,
    /// Only subjects in this division or any division under it (a 12-digit code from `regions`).
    pub region_code: Option<String>,
    /// Only subjects of this GB/T 4754 section (A-T).
    pub industry_code: Option<String>,
    /// Only subjects whose name contains this text (at most 50 characters).
    pub name_contains: Option<String>,
}

#[derive(Default)]
pub struct SubjectsQuery;

#[Object]
impl SubjectsQuery {
    /// A subject by its code: a unified social credit code, or a resident ID number (persons and
    /// households are visible only to callers with the `persons:read` scope, and every such read
    /// is audited). Null when no subject is registered under the code.
    async fn subject(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A unified social credit code (18 characters) or a resident ID number.")]
        code: String,
        #[graphql(
            desc = "Which kind the code names, when it matters: HOUSEHOLD to find a household by the householder's ID (a resident ID otherwise finds the natural person)."
        )]
        kind: Option<SubjectKind>,
    ) -> async_graphql::Result<Option<Subject>> {
        let state = ctx.state()?;
        let found = service::find_by_code(
            &state.db,
            ctx.caller(),
            &ctx.actor(),
            &state.person_keys,
            &code,
            kind,
        )
        .await?;
        Ok(found.map(Subject))
    }

    /// Subjects matching a filter, in registration order, as a Relay connection. Persons and
    /// households are listed only for ADMIN, DEPARTMENT and APPROVAL_HALL callers.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn subjects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which subjects; all when omitted.")] filter: Option<SubjectFilter>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<Subject>> {
        let state = ctx.state()?;
        let limit = page_size(first)?;
        let after_id = after
            .as_deref()
            .map(IdCursor::parse)
            .transpose()?
            .map(|c| c.0);
        let filter = filter.unwrap_or_default();
        let region_prefix = match &filter.region_code {
            None => None,
            Some(code) => {
                let row = crate::reference::region(&state.db, code).await?;
                let Some(row) = row else {
                    return Err(AppError::bad_input(
                        "filter.regionCode",
                        format!("{code} is not a region of the reference data (see `regions`)"),
                    )
                    .into());
                };
                Some(crate::reference::region_prefix(&row.code, &row.level))
            }
        };
        if let Some(name) = &filter.name_contains
            && name.chars().count() > 50
        {
            return Err(AppError::bad_input(
                "filter.nameContains",
                "nameContains may have at most 50 characters",
            )
            .into());
        }
        let service_filter = ServiceFilter {
            kind: filter.kind,
            region_prefix,
            industry_code: filter.industry_code.map(|c| c.trim().to_ascii_uppercase()),
            name_contains: filter
                .name_contains
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
        };
        let (rows, has_next, total) = service::list(
            &state.db,
            ctx.caller(),
            &ctx.actor(),
            &service_filter,
            after_id,
            limit,
        )
        .await?;
        Ok(page(
            rows,
            |m| m.id,
            Subject,
            after_id.is_some(),
            has_next,
            total,
        ))
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id. Null for ids this API did not hand out and for objects the
    /// caller may not see (both answer alike).
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id from an `id` field.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        let state = ctx.state()?;
        match decode_global_id(&id) {
            Some((NodeKind::Subject, n)) => {
                Ok(
                    service::find_by_id(&state.db, ctx.caller(), &ctx.actor(), n)
                        .await?
                        .map(|m| Node::Subject(Subject(m))),
                )
            }
            Some((NodeKind::CreditRecord, n)) => {
                Ok(records::find_visible(&state.db, ctx.caller(), n)
                    .await?
                    .map(|r| Node::CreditRecord(CreditRecord(r))))
            }
            Some((NodeKind::ListEntry, n)) => Ok(lists::find_visible(&state.db, ctx.caller(), n)
                .await?
                .map(|e| Node::ListEntry(ListEntry(e)))),
            Some((NodeKind::Commitment, n)) => {
                Ok(
                    crate::commitments::service::find_visible(&state.db, ctx.caller(), n)
                        .await?
                        .map(|c| Node::Commitment(crate::commitments::graphql::Commitment(c))),
                )
            }
            // A benefit use is answered in its payload only.
            Some((NodeKind::BenefitUse, _)) | None => Ok(None),
        }
    }
}

/// One subject to register.
#[derive(InputObject, Clone)]
pub struct SubjectInput {
    /// The kind of subject; it must agree with the code's organization category.
    pub kind: SubjectKind,
    /// The unified social credit code (18 characters, GB 32100), or for NATURAL_PERSON and
    /// HOUSEHOLD the resident ID number (GB 11643; a legacy 15-digit number is upgraded). The
    /// resident ID is stored only as a keyed hash and shown masked.
    pub code: String,
    /// The registered name (at most 200 characters).
    pub name: String,
    /// The 12-digit statistical division code of the subject's region (see `regions`).
    pub region_code: String,
    /// The GB/T 4754 section letter A-T (see `industries`); optional for NATURAL_PERSON only.
    pub industry_code: Option<String>,
    /// ADMIN only: register a USCC whose check character fails (some early real codes do), for
    /// this reason, which is audited.
    pub check_waiver_reason: Option<String>,
}

/// The input of `registerSubjects`.
#[derive(InputObject)]
pub struct RegisterSubjectsInput {
    /// The subjects, at most 1000 per call.
    pub subjects: Vec<SubjectInput>,
}

/// What happened to one row of `registerSubjects`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    /// The subject was registered now.
    Created,
    /// A subject with this code was already registered; nothing changed (use `updateSubject`).
    AlreadyKnown,
    /// The row was refused; `userErrors` says which field broke which rule.
    Refused,
}

/// The answer for one row of `registerSubjects`, in input order.
#[derive(SimpleObject)]
pub struct SubjectRegistration {
    /// The row's 0-based position in `input.subjects`.
    pub index: i32,
    /// Created, already known, or refused.
    pub status: RegistrationStatus,
    /// The subject, unless the row was refused.
    pub subject: Option<Subject>,
    /// Why the row was refused; empty otherwise. Fields are paths into `input`.
    pub user_errors: Vec<UserError>,
}

/// The answer of `registerSubjects`: one result per row, and the counts.
#[derive(SimpleObject)]
pub struct RegisterSubjectsPayload {
    /// One result per input row, in input order.
    pub results: Vec<SubjectRegistration>,
    /// How many rows were registered now.
    pub created_count: i32,
    /// How many rows named subjects already registered.
    pub already_known_count: i32,
    /// How many rows were refused.
    pub refused_count: i32,
    /// Every refused row's errors, flattened (the same as in `results`).
    pub user_errors: Vec<UserError>,
}

/// The input of `updateSubject`. Omitted fields keep their values.
#[derive(InputObject)]
pub struct UpdateSubjectInput {
    /// The code of the subject to change (USCC or resident ID).
    pub code: String,
    /// HOUSEHOLD when `code` is a householder's resident ID.
    pub kind: Option<SubjectKind>,
    /// The new name (at most 200 characters).
    pub name: Option<String>,
    /// The new 12-digit region code (see `regions`).
    pub region_code: Option<String>,
    /// The new GB/T 4754 section letter A-T.
    pub industry_code: Option<String>,
}

/// The answer of `updateSubject`.
#[derive(SimpleObject)]
pub struct UpdateSubjectPayload {
    /// The subject as it is now; null when the update was refused.
    pub subject: Option<Subject>,
    /// Why the update was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

fn user_errors(errors: Vec<FieldError>, prefix: &[String]) -> Vec<UserError> {
    errors
        .into_iter()
        .map(|e| UserError::from(e.under(prefix)))
        .collect()
}

#[derive(Default)]
pub struct SubjectsMutation;

#[Object]
impl SubjectsMutation {
    /// Registers subjects in bulk (at most 1000), answered row by row: CREATED, ALREADY_KNOWN,
    /// or REFUSED with the field and the rule. For ADMIN, DEPARTMENT and APPROVAL_HALL callers.
    async fn register_subjects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subjects to register.")] input: RegisterSubjectsInput,
    ) -> async_graphql::Result<RegisterSubjectsPayload> {
        ctx.caller().require(
            "registerSubjects",
            &[Role::Admin, Role::Department, Role::ApprovalHall],
            "subjects:write",
        )?;
        check_list_len("input.subjects", input.subjects.len())?;
        let state = ctx.state()?;
        let drafts: Vec<SubjectDraft> = input
            .subjects
            .into_iter()
            .map(|s| SubjectDraft {
                kind: s.kind,
                code: s.code,
                name: s.name,
                region_code: s.region_code,
                industry_code: s.industry_code,
                check_waiver_reason: s.check_waiver_reason,
            })
            .collect();
        let outcomes =
            service::register(&state.db, &ctx.actor(), &state.person_keys, &drafts).await?;
        let mut payload = RegisterSubjectsPayload {
            results: Vec::with_capacity(outcomes.len()),
            created_count: 0,
            already_known_count: 0,
            refused_count: 0,
            user_errors: Vec::new(),
        };
        for (index, outcome) in outcomes.into_iter().enumerate() {
            let (status, subject, errors) = match outcome {
                Registration::Created(m) => {
                    payload.created_count += 1;
                    (RegistrationStatus::Created, Some(Subject(m)), Vec::new())
                }
                Registration::AlreadyKnown(m) => {
                    payload.already_known_count += 1;
                    (
                        RegistrationStatus::AlreadyKnown,
                        Some(Subject(m)),
                        Vec::new(),
                    )
                }
                Registration::Refused(errors) => {
                    payload.refused_count += 1;
                    let prefix = ["subjects".to_owned(), index.to_string()];
                    (
                        RegistrationStatus::Refused,
                        None,
                        user_errors(errors, &prefix),
                    )
                }
            };
            payload.user_errors.extend(errors.iter().cloned());
            payload.results.push(SubjectRegistration {
                index: index as i32,
                status,
                subject,
                user_errors: errors,
            });
        }
        Ok(payload)
    }

    /// Changes a subject's name, region or industry; the change is audited with the old and new
    /// values. For ADMIN and DEPARTMENT callers.
    async fn update_subject(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subject and the changes.")] input: UpdateSubjectInput,
    ) -> async_graphql::Result<UpdateSubjectPayload> {
        ctx.caller().require(
            "updateSubject",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let outcome = service::update(
            &state.db,
            &ctx.actor(),
            &state.person_keys,
            &input.code,
            input.kind,
            SubjectChanges {
                name: input.name,
                region_code: input.region_code,
                industry_code: input.industry_code,
            },
        )
        .await?;
        Ok(match outcome {
            UpdateOutcome::Updated(m) => UpdateSubjectPayload {
                subject: Some(Subject(*m)),
                user_errors: Vec::new(),
            },
            UpdateOutcome::Refused(errors) => UpdateSubjectPayload {
                subject: None,
                user_errors: user_errors(errors, &[]),
            },
        })
    }
}
