//! Recording, verifying, withdrawing and reading commitments.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use entity::{commitment, subject};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryTrait, sea_query::OnConflict,
};
use serde_json::{Map, Value, json};

use super::rules::{self, Draft};
use super::{CommitmentKind, CommitmentStatus, VerificationOutcome};
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::{Caller, Principal, Role};
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::ratings::service::{self as ratings, Cause};
use crate::records::rules::Severity;
use crate::records::service::{PlatformRecord, china_today, insert_platform_record};
use crate::state::AppState;
use crate::subjects::SubjectKind;
use crate::writer::MAX_BATCH;

/// What `record` did.
#[derive(Debug)]
pub enum Recorded {
    /// A new commitment.
    Created(commitment::Model),
    /// The recorder sent this `externalId` with the same content before: the first one.
    Replayed(commitment::Model),
}

fn not_found() -> Vec<FieldError> {
    vec![FieldError::new(
        &["id"],
        UserErrorCode::NotFound,
        "no commitment you may change has this id",
    )]
}

/// The error naming `department` when the code is not a department's.
async fn check_department(state: &AppState, code: &str) -> Result<Option<FieldError>, AppError> {
    Ok(
        match state
            .organizations
            .kind_of(&state.db, code)
            .await?
            .as_deref()
        {
            Some("DEPARTMENT") => None,
            Some(other) => Some(FieldError::new(
                &["department"],
                UserErrorCode::NotAllowed,
                format!("{code} is a {other}, not a department that can verify a commitment"),
            )),
            None => Some(FieldError::new(
                &["department"],
                UserErrorCode::NotFound,
                format!("no organization has the code {code}"),
            )),
        },
    )
}

async fn by_external_id(
    db: &impl ConnectionTrait,
    organization: &str,
    external_id: &str,
) -> Result<Option<commitment::Model>, AppError> {
    Ok(commitment::Entity::find()
        .filter(commitment::Column::RecordedBy.eq(organization))
        .filter(commitment::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// Records a commitment for the caller's organization, idempotently on (organization,
/// externalId): the same content answers the first commitment, other content is a CONFLICT.
/// The write goes through the group commit: it is acknowledged once its transaction committed.
pub async fn record(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    subject: &subject::Model,
    draft: Draft,
) -> Result<Result<Recorded, Vec<FieldError>>, AppError> {
    let today = china_today();
    let errors = rules::check(&draft, today);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let department = draft.department.trim().to_owned();
    if let Some(error) = check_department(state, &department).await? {
        return Ok(Err(vec![error]));
    }
    let hash = rules::content_hash(subject.id, &draft);
    let now = Utc::now();
    let row = commitment::ActiveModel {
        subject_id: Set(subject.id),
        subject_kind: Set(subject.kind.clone()),
        kind: Set(draft.kind.as_str().to_owned()),
        matter: Set(draft.matter.trim().to_owned()),
        content: Set(draft.content.trim().to_owned()),
        made_on: Set(draft.made_on.unwrap_or(today)),
        verify_by: Set(draft.verify_by),
        department: Set(department),
        recorded_by: Set(principal.organization.clone()),
        external_id: Set(draft.external_id.trim().to_owned()),
        content_hash: Set(hash.clone()),
        status: Set(CommitmentStatus::PendingVerification.as_str().to_owned()),
        verified_on: Set(None),
        verified_by: Set(None),
        verification_note: Set(None),
        breach_record_id: Set(None),
        withdrawn_reason: Set(None),
        typical_case: Set(false),
        typical_note: Set(None),
        request_id: Set(actor.request_id.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let key = Key {
        organization: principal.organization.clone(),
        external_id: draft.external_id.trim().to_owned(),
        hash,
    };
    state
        .commitments
        .submit(Pending {
            row,
            key,
            actor: actor.clone(),
        })
        .await
}

/// What tells a retry from a new commitment: the recorder's key and the content's hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    organization: String,
    external_id: String,
    hash: String,
}

/// A commitment waiting for its group transaction.
pub struct Pending {
    row: commitment::ActiveModel,
    key: Key,
    actor: Actor,
}

/// The answer to one recorded commitment.
pub type RecordOutcome = Result<Recorded, Vec<FieldError>>;

/// Writes a batch of commitments in one transaction: one multi-row insert in key order that
/// skips taken (recorder, externalId) keys, a look-up of those taken, and their audit entries.
/// A taken key with the same content is a replay, with other content a conflict.
pub async fn insert_batch(
    db: DatabaseConnection,
    items: Vec<Pending>,
) -> Result<Vec<RecordOutcome>, AppError> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| items[*a].key.cmp(&items[*b].key));
    let txn = crate::db::begin_write(&db).await?;
    let mut inserted: HashMap<(String, String), commitment::Model> = HashMap::new();
    for run in crate::db::power_of_two_runs(order.len(), MAX_BATCH) {
        let mut insert =
            commitment::Entity::insert_many(order[run].iter().map(|i| items[*i].row.clone()))
                .on_conflict(
                    OnConflict::columns([
                        commitment::Column::RecordedBy,
                        commitment::Column::ExternalId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .into_query();
        insert.returning_all();
        for row in txn.query_all(&insert).await? {
            let m = <commitment::Model as sea_orm::FromQueryResult>::from_query_result(&row, "")?;
            inserted.insert((m.recorded_by.clone(), m.external_id.clone()), m);
        }
    }
    // Keys another transaction (or an earlier item of this batch) holds.
    let mut taken: HashMap<(String, String), commitment::Model> = HashMap::new();
    let missing: Vec<&Key> = items
        .iter()
        .map(|p| &p.key)
        .filter(|k| !inserted.contains_key(&(k.organization.clone(), k.external_id.clone())))
        .collect();
    for k in missing {
        let pair = (k.organization.clone(), k.external_id.clone());
        if !taken.contains_key(&pair)
            && let Some(found) = by_external_id(&txn, &k.organization, &k.external_id).await?
        {
            taken.insert(pair, found);
        }
    }
    let mut outcomes: Vec<Option<RecordOutcome>> = (0..items.len()).map(|_| None).collect();
    let mut audit_rows = Vec::new();
    for i in order {
        let Pending { key, actor, .. } = &items[i];
        let pair = (key.organization.clone(), key.external_id.clone());
        let outcome = if let Some(created) = inserted.remove(&pair) {
            audit_rows.extend(crate::audit::stamp(
                actor,
                vec![
                    AuditEntry::new("recordCommitment", Some(created.subject_id)).detail(json!({
                        "commitmentId": created.id,
                        "externalId": created.external_id,
                        "kind": created.kind,
                    })),
                ],
            ));
            // A later item of this batch with the same key meets this one.
            taken.insert(pair, created.clone());
            Ok(Recorded::Created(created))
        } else {
            match taken.get(&pair) {
                Some(found) if found.content_hash == key.hash => {
                    Ok(Recorded::Replayed(found.clone()))
                }
                Some(_) => Err(vec![FieldError::new(
                    &["externalId"],
                    UserErrorCode::Conflict,
                    format!(
                        "externalId {} was recorded before with different content; \
                         a changed commitment needs a new externalId",
                        key.external_id
                    ),
                )]),
                None => {
                    return Err(AppError::internal(
                        "a commitment's insert was skipped but no row holds its key",
                    ));
                }
            }
        };
        outcomes[i] = Some(outcome);
    }
    crate::audit::insert(&txn, &audit_rows).await?;
    // A pending commitment is not a fact any model scores (the models score records and list
    // entries), so no subject's ratings change here; a breach re-rates.
    txn.commit().await?;
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| AppError::internal("a commitment of the batch went unanswered")))
        .collect()
}

/// Whether the caller may verify the commitment: the responsible department or an admin.
fn may_verify(caller: &Caller, c: &commitment::Model) -> bool {
    caller.is_admin()
        || caller
            .principal()
            .is_some_and(|p| p.role == Role::Department && p.organization == c.department)
}

/// Whether the caller may withdraw the commitment: its recorder or an admin.
fn may_withdraw(caller: &Caller, c: &commitment::Model) -> bool {
    caller.is_admin()
        || caller
            .principal()
            .is_some_and(|p| p.organization == c.recorded_by)
}

fn invalid_state(c: &commitment::Model, wanted: &str) -> Vec<FieldError> {
    vec![FieldError::new(
        &["id"],
        UserErrorCode::InvalidState,
        format!(
            "the commitment is {}; only a PENDING_VERIFICATION commitment can be {wanted}",
            c.status
        ),
    )]
}

/// Moves a pending commitment to `status` with `changes`, only if it is still pending: two
/// verifiers at once cannot both win.
async fn leave_pending(
    txn: &impl ConnectionTrait,
    id: i64,
    mut changes: commitment::ActiveModel,
) -> Result<bool, AppError> {
    changes.updated_at = Set(Utc::now());
    let result = commitment::Entity::update_many()
        .set(changes)
        .filter(commitment::Column::Id.eq(id))
        .filter(commitment::Column::Status.eq(CommitmentStatus::PendingVerification.as_str()))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A verification as the department sends it.
#[derive(Debug, Clone)]
pub struct Verification {
    pub id: i64,
    pub outcome: VerificationOutcome,
    pub note: String,
    pub verified_on: Option<NaiveDate>,
    pub severity: Option<Severity>,
}

/// Verifies a pending commitment. A breach writes a COMMITMENT_BREACH record for the
/// responsible department and re-rates the subject, in the same transaction as the change.
pub async fn verify(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    v: Verification,
) -> Result<Result<commitment::Model, Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    crate::error::text_rule("note", &v.note, 2000, &mut errors);
    if v.outcome == VerificationOutcome::Fulfilled && v.severity.is_some() {
        errors.push(FieldError::new(
            &["severity"],
            UserErrorCode::NotAllowed,
            "severity is for a BREACHED outcome",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let Some(found) = commitment::Entity::find_by_id(v.id)
        .one(&txn)
        .await?
        .filter(|c| may_verify(caller, c))
    else {
        return Ok(Err(not_found()));
    };
    if found.status != CommitmentStatus::PendingVerification.as_str() {
        return Ok(Err(invalid_state(&found, "verified")));
    }
    let today = china_today();
    let verified_on = v.verified_on.unwrap_or(today);
    if let Some(error) = rules::check_verified_on(verified_on, found.made_on, today) {
        return Ok(Err(vec![error]));
    }
    let note = v.note.trim().to_owned();
    let verifier = actor
        .principal
        .as_ref()
        .map_or_else(|| "PLATFORM".to_owned(), |p| p.organization.clone());
    let breach = if v.outcome == VerificationOutcome::Breached {
        let mut fields = Map::new();
        fields.insert(
            "content".into(),
            Value::String(format!("违背{}承诺：{note}", found.matter)),
        );
        fields.insert("documentNumber".into(), breach_ref(found.id).into());
        fields.insert("decisionDate".into(), verified_on.to_string().into());
        fields.insert(
            "legalBasis".into(),
            Value::String(format!(
                "信用承诺 {}（{}），承诺日期 {}，核查期限 {}",
                found.external_id, found.kind, found.made_on, found.verify_by
            )),
        );
        fields.insert("authority".into(), found.department.clone().into());
        let record = insert_platform_record(
            &txn,
            actor,
            PlatformRecord {
                item: "COMMITMENT_BREACH",
                subject_id: found.subject_id,
                department: found.department.clone(),
                source_ref: breach_ref(found.id),
                decision_date: verified_on,
                severity: Some(v.severity.unwrap_or(Severity::General)),
                fields,
            },
        )
        .await?;
        Some(record.id)
    } else {
        None
    };
    let changed = leave_pending(
        &txn,
        found.id,
        commitment::ActiveModel {
            status: Set(v.outcome.status().as_str().to_owned()),
            verified_on: Set(Some(verified_on)),
            verified_by: Set(Some(verifier)),
            verification_note: Set(Some(note.clone())),
            breach_record_id: Set(breach),
            ..Default::default()
        },
    )
    .await?;
    if !changed {
        // Another verification committed between the read and the update.
        txn.rollback().await?;
        return Ok(Err(invalid_state(
            &commitment::Model {
                status: "verified by someone else meanwhile".into(),
                ..found
            },
            "verified",
        )));
    }
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("verifyCommitment", Some(found.subject_id)).detail(json!({
                "commitmentId": found.id,
                "outcome": v.outcome.status().as_str(),
                "breachRecordId": breach,
            })),
        ],
    )
    .await?;
    if breach.is_some() {
        ratings::rerate(&txn, &[found.subject_id], Cause::Commitment).await?;
    }
    let saved = commitment::Entity::find_by_id(found.id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("a verified commitment vanished"))?;
    txn.commit().await?;
    Ok(Ok(saved))
}

/// The sourceRef of the breach record of a commitment: unique per responsible department.
fn breach_ref(id: i64) -> String {
    format!("COMMITMENT-{id}")
}

/// Withdraws a pending commitment, by its recorder or an admin.
pub async fn withdraw(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Result<commitment::Model, Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    crate::error::text_rule("reason", reason, 2000, &mut errors);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let Some(found) = commitment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|c| may_withdraw(caller, c))
    else {
        return Ok(Err(not_found()));
    };
    let changed = leave_pending(
        &txn,
        id,
        commitment::ActiveModel {
            status: Set(CommitmentStatus::Withdrawn.as_str().to_owned()),
            withdrawn_reason: Set(Some(reason.trim().to_owned())),
            ..Default::default()
        },
    )
    .await?;
    if !changed {
        txn.rollback().await?;
        return Ok(Err(invalid_state(&found, "withdrawn")));
    }
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("withdrawCommitment", Some(found.subject_id))
                .detail(json!({"commitmentId": id, "reason": reason.trim()})),
        ],
    )
    .await?;
    let saved = commitment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("a withdrawn commitment vanished"))?;
    txn.commit().await?;
    Ok(Ok(saved))
}

/// Marks (or unmarks) a verified commitment as a typical case (典型案例). Admins only.
pub async fn mark_typical(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    typical: bool,
    note: Option<&str>,
) -> Result<Result<commitment::Model, Vec<FieldError>>, AppError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note
        && n.chars().count() > 2000
    {
        return Ok(Err(vec![FieldError::new(
            &["note"],
            UserErrorCode::TooLong,
            "note may have at most 2000 characters",
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    let Some(found) = commitment::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(Err(not_found()));
    };
    let verified = [CommitmentStatus::Fulfilled, CommitmentStatus::Breached]
        .iter()
        .any(|s| s.as_str() == found.status);
    if typical && !verified {
        return Ok(Err(vec![FieldError::new(
            &["id"],
            UserErrorCode::InvalidState,
            format!(
                "the commitment is {}; a typical case is a FULFILLED or BREACHED one",
                found.status
            ),
        )]));
    }
    commitment::Entity::update_many()
        .set(commitment::ActiveModel {
            typical_case: Set(typical),
            typical_note: Set(note.filter(|_| typical).map(str::to_owned)),
            updated_at: Set(Utc::now()),
            ..Default::default()
        })
        .filter(commitment::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("markTypicalCommitment", Some(found.subject_id))
                .detail(json!({"commitmentId": id, "typical": typical})),
        ],
    )
    .await?;
    let saved = commitment::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("a marked commitment vanished"))?;
    txn.commit().await?;
    Ok(Ok(saved))
}

/// Whether the caller sees a commitment in full (its `externalId`, a withdrawn one): its
/// recorder, its responsible department and admins.
pub fn is_party(caller: &Caller, c: &commitment::Model) -> bool {
    caller.is_admin()
        || caller
            .principal()
            .is_some_and(|p| p.organization == c.recorded_by || p.organization == c.department)
}

/// The commitments the caller may see: the public listing (信用承诺公示: every commitment that
/// was not withdrawn, persons' and households' only for callers who may read persons), and in
/// full those the caller's organization recorded or is responsible for.
pub fn visible(caller: &Caller) -> Condition {
    if caller.is_admin() {
        return Condition::all();
    }
    let mut public =
        Condition::all().add(commitment::Column::Status.ne(CommitmentStatus::Withdrawn.as_str()));
    if !crate::subjects::service::may_read_persons(caller) {
        public = public.add(commitment::Column::SubjectKind.is_not_in([
            SubjectKind::NaturalPerson.as_str(),
            SubjectKind::Household.as_str(),
        ]));
    }
    let mut any = Condition::any().add(public);
    if let Some(p) = caller.principal() {
        any = any
            .add(commitment::Column::RecordedBy.eq(p.organization.as_str()))
            .add(commitment::Column::Department.eq(p.organization.as_str()));
    }
    any
}

/// The filter of `commitments`.
#[derive(Debug, Clone, Default)]
pub struct CommitmentFilter {
    pub subject_id: Option<i64>,
    pub kind: Option<CommitmentKind>,
    pub status: Option<CommitmentStatus>,
    pub typical_case: Option<bool>,
    /// Only those recorded by this organization.
    pub recorded_by: Option<String>,
    /// Only those this department is responsible for.
    pub department: Option<String>,
    /// Only pending ones past their verification date on this day.
    pub overdue_on: Option<NaiveDate>,
}

/// One page of the commitments the caller may see under the filter, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &Caller,
    filter: &CommitmentFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<(Vec<commitment::Model>, bool, u64), AppError> {
    let mut query = commitment::Entity::find().filter(visible(caller));
    if let Some(id) = filter.subject_id {
        query = query.filter(commitment::Column::SubjectId.eq(id));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(commitment::Column::Kind.eq(kind.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(commitment::Column::Status.eq(status.as_str()));
    }
    if let Some(typical) = filter.typical_case {
        query = query.filter(commitment::Column::TypicalCase.eq(typical));
    }
    if let Some(org) = &filter.recorded_by {
        query = query.filter(commitment::Column::RecordedBy.eq(org.as_str()));
    }
    if let Some(department) = &filter.department {
        query = query.filter(commitment::Column::Department.eq(department.as_str()));
    }
    if let Some(day) = filter.overdue_on {
        query = query
            .filter(commitment::Column::Status.eq(CommitmentStatus::PendingVerification.as_str()))
            .filter(commitment::Column::VerifyBy.lt(day));
    }
    Ok(crate::db::newest_first(db, query, commitment::Column::Id, before, limit).await?)
}

/// A commitment by id, if the caller may see it.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
) -> Result<Option<commitment::Model>, AppError> {
    Ok(commitment::Entity::find_by_id(id)
        .filter(visible(caller))
        .one(db)
        .await?)
}
