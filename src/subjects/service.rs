//! The rules and writes of subjects. Takes a connection, never sees GraphQL.

use std::collections::{HashMap, HashSet};

use entity::subject;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};
use serde_json::json;

use super::SubjectKind;
use super::rules::{CreditCode, CreditCodeError, PersonKeyHasher, ResidentId, ResidentIdError};
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::ratings::service::{self as ratings, Cause};
use crate::reference;

/// The longest name a subject may have, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest waiver reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A subject as a clerk sends it, not yet validated.
#[derive(Debug, Clone)]
pub struct SubjectDraft {
    pub kind: SubjectKind,
    pub code: String,
    pub name: String,
    pub region_code: String,
    pub industry_code: Option<String>,
    /// ADMIN only: register a USCC whose check character fails, for this reason.
    pub check_waiver_reason: Option<String>,
}

/// A validated subject, ready to insert.
#[derive(Debug, Clone)]
pub struct NewSubject {
    pub kind: SubjectKind,
    pub lookup_key: String,
    pub display_code: String,
    pub name: String,
    pub region_code: String,
    pub industry_code: Option<String>,
    pub registering_authority: Option<String>,
    pub organization_category: Option<String>,
    pub registration_region: Option<String>,
    pub check_waiver_reason: Option<String>,
}

/// What happened to one row of a registration batch.
#[derive(Debug, Clone)]
pub enum Registration {
    Created(subject::Model),
    AlreadyKnown(subject::Model),
    Refused(Vec<FieldError>),
}

fn uscc_error(e: &CreditCodeError) -> FieldError {
    let code = match e {
        CreditCodeError::CheckCharacter { .. } => UserErrorCode::InvalidCheckCharacter,
        _ => UserErrorCode::InvalidFormat,
    };
    FieldError::new(&["code"], code, e.to_string())
}

fn resident_id_error(e: &ResidentIdError) -> FieldError {
    let code = match e {
        ResidentIdError::CheckCharacter { .. } => UserErrorCode::InvalidCheckCharacter,
        _ => UserErrorCode::InvalidFormat,
    };
    FieldError::new(&["code"], code, e.to_string())
}

/// Checks a name: required, trimmed, at most [`MAX_NAME_CHARS`].
pub fn validate_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(FieldError::new(
            &["name"],
            UserErrorCode::Required,
            "the name is required",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(FieldError::new(
            &["name"],
            UserErrorCode::TooLong,
            format!("the name has {chars} characters; at most {MAX_NAME_CHARS} are allowed"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            &["name"],
            UserErrorCode::InvalidFormat,
            "the name contains control characters",
        ));
    }
    Ok(name.to_owned())
}

fn validate_region_format(code: &str) -> Result<String, FieldError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(FieldError::new(
            &["regionCode"],
            UserErrorCode::Required,
            "the region code is required (a 12-digit statistical division code, see `regions`)",
        ));
    }
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            &["regionCode"],
            UserErrorCode::InvalidFormat,
            format!("the region code must be 12 digits (see `regions`); got \"{code}\""),
        ));
    }
    Ok(code.to_owned())
}

fn validate_industry_format(
    code: Option<&str>,
    kind: SubjectKind,
) -> Result<Option<String>, FieldError> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        None if kind == SubjectKind::NaturalPerson => Ok(None),
        None => Err(FieldError::new(
            &["industryCode"],
            UserErrorCode::Required,
            format!(
                "the industry code (a GB/T 4754 section letter A-T, see `industries`) is required for {}",
                kind.as_str()
            ),
        )),
        Some(c) => {
            let upper = c.to_ascii_uppercase();
            if upper.len() == 1 && ("A"..="T").contains(&upper.as_str()) {
                Ok(Some(upper))
            } else {
                Err(FieldError::new(
                    &["industryCode"],
                    UserErrorCode::InvalidFormat,
                    format!(
                        "the industry code must be a GB/T 4754 section letter A-T; got \"{c}\""
                    ),
                ))
            }
        }
    }
}

/// Validates one draft without touching the database (reference codes are checked later).
pub fn validate_draft(
    draft: &SubjectDraft,
    may_waive: bool,
    hasher: &PersonKeyHasher,
) -> Result<NewSubject, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = validate_name(&draft.name).map_err(|e| errors.push(e)).ok();
    let region = validate_region_format(&draft.region_code)
        .map_err(|e| errors.push(e))
        .ok();
    let industry = validate_industry_format(draft.industry_code.as_deref(), draft.kind)
        .map_err(|e| errors.push(e))
        .ok();
    let waiver = draft
        .check_waiver_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if let Some(reason) = waiver {
        if !may_waive {
            errors.push(FieldError::new(
                &["checkWaiverReason"],
                UserErrorCode::NotAllowed,
                "only an ADMIN may waive the check character",
            ));
        } else if draft.kind.is_person() {
            errors.push(FieldError::new(
                &["checkWaiverReason"],
                UserErrorCode::NotAllowed,
                "the check-character waiver is for early USCCs only, not resident IDs",
            ));
        } else if reason.chars().count() > MAX_REASON_CHARS {
            errors.push(FieldError::new(
                &["checkWaiverReason"],
                UserErrorCode::TooLong,
                format!("the waiver reason may have at most {MAX_REASON_CHARS} characters"),
            ));
        }
    }

    struct Keyed {
        lookup_key: String,
        display_code: String,
        authority: Option<String>,
        category: Option<String>,
        region: Option<String>,
        waived: Option<String>,
    }
    let keyed: Option<Keyed> = if draft.code.trim().is_empty() {
        errors.push(FieldError::new(
            &["code"],
            UserErrorCode::Required,
            "the code is required: a unified social credit code, or a resident ID for persons and households",
        ));
        None
    } else if draft.kind.is_person() {
        match ResidentId::parse(&draft.code) {
            Ok(id) => Some(Keyed {
                lookup_key: hasher.key(draft.kind.person_tag(), &id),
                display_code: id.masked(),
                authority: None,
                category: None,
                region: None,
                waived: None,
            }),
            Err(e) => {
                errors.push(resident_id_error(&e));
                None
            }
        }
    } else {
        let parsed = match CreditCode::parse(&draft.code) {
            Ok(code) => Ok((code, None)),
            Err(CreditCodeError::CheckCharacter { .. }) if may_waive && waiver.is_some() => {
                CreditCode::parse_format(&draft.code).map(|c| (c, waiver.map(str::to_owned)))
            }
            Err(e) => Err(e),
        };
        match parsed {
            Ok((code, waived)) => {
                if let Some(implied) =
                    SubjectKind::implied_by_category(code.organization_category())
                    && implied != draft.kind
                {
                    errors.push(FieldError::new(
                        &["kind"],
                        UserErrorCode::KindMismatch,
                        format!(
                            "the code's organization category {} means {}, but the kind given is {}",
                            code.organization_category(),
                            implied.as_str(),
                            draft.kind.as_str()
                        ),
                    ));
                }
                Some(Keyed {
                    lookup_key: code.as_str().to_owned(),
                    display_code: code.as_str().to_owned(),
                    authority: Some(code.registering_authority().to_string()),
                    category: Some(code.organization_category().to_owned()),
                    region: Some(code.registration_region().to_owned()),
                    waived,
                })
            }
            Err(e) => {
                let mut error = uscc_error(&e);
                if matches!(e, CreditCodeError::CheckCharacter { .. }) && may_waive {
                    error.message.push_str(
                        "; if this is a real early code, register it with checkWaiverReason",
                    );
                }
                errors.push(error);
                None
            }
        }
    };

    match (errors.is_empty(), keyed, name, region, industry) {
        (true, Some(k), Some(name), Some(region_code), Some(industry_code)) => Ok(NewSubject {
            kind: draft.kind,
            lookup_key: k.lookup_key,
            display_code: k.display_code,
            name,
            region_code,
            industry_code,
            registering_authority: k.authority,
            organization_category: k.category,
            registration_region: k.region,
            check_waiver_reason: k.waived,
        }),
        _ => Err(errors),
    }
}

/// Registers a batch of subjects, answering row by row. The new rows commit in one transaction
/// with their audit entries; a concurrent registration of the same code answers ALREADY_KNOWN.
pub async fn register(
    db: &DatabaseConnection,
    actor: &Actor,
    hasher: &PersonKeyHasher,
    drafts: &[SubjectDraft],
) -> Result<Vec<Registration>, AppError> {
    let may_waive = actor
        .principal
        .as_ref()
        .is_some_and(|p| p.role == Role::Admin);
    let registered_by = actor
        .principal
        .as_ref()
        .map_or_else(|| "PLATFORM".to_owned(), |p| p.organization.clone());

    let mut validated: Vec<Result<NewSubject, Vec<FieldError>>> = drafts
        .iter()
        .map(|d| validate_draft(d, may_waive, hasher))
        .collect();

    // The same code twice in one batch: the first one counts.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, row) in validated.iter_mut().enumerate() {
        if let Ok(new) = row {
            if let Some(first) = seen.get(&new.lookup_key) {
                *row = Err(vec![FieldError::new(
                    &["code"],
                    UserErrorCode::DuplicateInBatch,
                    format!("the same code is already row {first} of this batch"),
                )]);
            } else {
                seen.insert(new.lookup_key.clone(), i);
            }
        }
    }

    // Reference codes, one query each for the whole batch.
    let region_codes: Vec<String> = validated
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|n| n.region_code.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let industry_codes: Vec<String> = validated
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(|n| n.industry_code.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let regions = reference::known_regions(db, &region_codes).await?;
    let industries = reference::known_industries(db, &industry_codes).await?;
    for row in validated.iter_mut() {
        if let Ok(new) = row {
            let mut errors = Vec::new();
            if !regions.contains(&new.region_code) {
                errors.push(FieldError::new(
                    &["regionCode"],
                    UserErrorCode::UnknownRegion,
                    format!(
                        "{} is not a region of the district's reference data (see `regions`)",
                        new.region_code
                    ),
                ));
            }
            if let Some(industry) = &new.industry_code
                && !industries.contains(industry)
            {
                errors.push(FieldError::new(
                    &["industryCode"],
                    UserErrorCode::UnknownIndustry,
                    format!("{industry} is not an industry section of the reference data"),
                ));
            }
            if !errors.is_empty() {
                *row = Err(errors);
            }
        }
    }

    let keys: Vec<String> = validated
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|n| n.lookup_key.clone()))
        .collect();
    let txn = crate::db::begin_write(db).await?;
    let mut known: HashMap<String, subject::Model> = find_by_keys(&txn, &keys).await?;
    let now = chrono::Utc::now();
    let to_insert: Vec<subject::ActiveModel> = validated
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|n| !known.contains_key(&n.lookup_key))
        .map(|n| subject::ActiveModel {
            kind: Set(n.kind.as_str().to_owned()),
            lookup_key: Set(n.lookup_key.clone()),
            display_code: Set(n.display_code.clone()),
            name: Set(n.name.clone()),
            region_code: Set(n.region_code.clone()),
            industry_code: Set(n.industry_code.clone()),
            registering_authority: Set(n.registering_authority.clone()),
            organization_category: Set(n.organization_category.clone()),
            registration_region: Set(n.registration_region.clone()),
            check_waiver_reason: Set(n.check_waiver_reason.clone()),
            registered_by: Set(registered_by.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    let mut created: HashMap<String, subject::Model> = HashMap::new();
    if !to_insert.is_empty() {
        let inserted = subject::Entity::insert_many(to_insert)
            .on_conflict_do_nothing_on([subject::Column::LookupKey])
            .exec_with_returning_many(&txn)
            .await?;
        if let TryInsertResult::Inserted(rows) = inserted {
            created = rows
                .into_iter()
                .map(|m| (m.lookup_key.clone(), m))
                .collect();
        }
    }
    // Rows a concurrent transaction inserted first are already known.
    let missing: Vec<String> = validated
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|n| n.lookup_key.clone())
        .filter(|k| !known.contains_key(k) && !created.contains_key(k))
        .collect();
    if !missing.is_empty() {
        known.extend(find_by_keys(&txn, &missing).await?);
    }

    let mut entries = Vec::new();
    let mut results = Vec::with_capacity(validated.len());
    for row in validated {
        results.push(match row {
            Err(errors) => Registration::Refused(errors),
            Ok(n) => {
                if let Some(model) = created.remove(&n.lookup_key) {
                    let mut detail = json!({
                        "kind": model.kind,
                        "code": model.display_code,
                        "name": model.name,
                    });
                    if let Some(reason) = &model.check_waiver_reason {
                        detail["checkWaiverReason"] = json!(reason);
                    }
                    entries.push(AuditEntry::new("registerSubject", Some(model.id)).detail(detail));
                    Registration::Created(model)
                } else if let Some(model) = known.get(&n.lookup_key) {
                    Registration::AlreadyKnown(model.clone())
                } else {
                    return Err(AppError::internal(
                        "a registered subject could not be read back",
                    ));
                }
            }
        });
    }
    let rated: Vec<i64> = entries.iter().filter_map(|e| e.subject_id).collect();
    audit::record(&txn, actor, entries).await?;
    ratings::rerate(&txn, &rated, Cause::Subject).await?;
    txn.commit().await?;
    Ok(results)
}

async fn find_by_keys(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<HashMap<String, subject::Model>, AppError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = subject::Entity::find()
        .filter(subject::Column::LookupKey.is_in(keys.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| (m.lookup_key.clone(), m))
        .collect())
}

/// The first subject found under any of `keys`, with no visibility rule (for writes that name
/// a subject, which the caller's role already allows).
pub async fn find_by_keys_public(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<Option<subject::Model>, AppError> {
    let mut found = find_by_keys(db, keys).await?;
    Ok(keys.iter().find_map(|k| found.remove(k)))
}

/// The registered subject a mutation's `subjectCode` names, or the userError on `subjectCode`
/// that says why not: a code that is neither a USCC nor a resident ID, or no subject under it.
pub async fn registered(
    db: &impl ConnectionTrait,
    hasher: &PersonKeyHasher,
    code: &str,
    kind: Option<SubjectKind>,
) -> Result<Result<subject::Model, FieldError>, AppError> {
    let keys = match lookup_keys(code.trim(), kind, hasher) {
        Ok(k) => k,
        Err(e) => {
            return Ok(Err(FieldError::new(
                &["subjectCode"],
                UserErrorCode::InvalidFormat,
                e.message(),
            )));
        }
    };
    Ok(find_by_keys_public(db, &keys).await?.ok_or_else(|| {
        FieldError::new(
            &["subjectCode"],
            UserErrorCode::SubjectNotRegistered,
            "no subject is registered under this code; register it first with registerSubjects",
        )
    }))
}

/// The look-up keys a code may stand for: a USCC, or a resident ID as a person or household.
/// An invalid code is refused with a message naming the rule.
pub fn lookup_keys(
    code: &str,
    kind: Option<SubjectKind>,
    hasher: &PersonKeyHasher,
) -> Result<Vec<String>, AppError> {
    let person = |k: SubjectKind| -> Result<Vec<String>, AppError> {
        let id = ResidentId::parse(code).map_err(|e| AppError::bad_input("code", e.to_string()))?;
        Ok(vec![hasher.key(k.person_tag(), &id)])
    };
    match kind {
        Some(k) if k.is_person() => person(k),
        Some(_) => CreditCode::parse(code)
            .or_else(|_| CreditCode::parse_format(code))
            .map(|c| vec![c.as_str().to_owned()])
            .map_err(|e| AppError::bad_input("code", e.to_string())),
        None => {
            let mut keys = Vec::new();
            if let Ok(c) = CreditCode::parse_format(code) {
                keys.push(c.as_str().to_owned());
            }
            if let Ok(id) = ResidentId::parse(code) {
                keys.push(hasher.key("P", &id));
            }
            if keys.is_empty() {
                let reason = match CreditCode::parse(code) {
                    Err(CreditCodeError::Length(_)) => match ResidentId::parse(code) {
                        Err(e) => e.to_string(),
                        Ok(_) => String::new(),
                    },
                    Err(e) => e.to_string(),
                    Ok(_) => String::new(),
                };
                return Err(AppError::bad_input(
                    "code",
                    format!("not a unified social credit code nor a resident ID number: {reason}"),
                ));
            }
            Ok(keys)
        }
    }
}

/// Whether the caller may see natural persons and households at all (by exact code).
pub fn may_read_persons(caller: &Caller) -> bool {
    caller.has_scope("persons:read")
}

/// Whether the caller may list natural persons and households (government roles only).
pub fn may_list_persons(caller: &Caller) -> bool {
    may_read_persons(caller)
        && matches!(
            caller.role(),
            Some(Role::Admin | Role::Department | Role::ApprovalHall)
        )
}

/// Records reads of persons and households, which the audit log must show.
pub async fn audit_person_reads(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subjects: &[&subject::Model],
) -> Result<(), AppError> {
    let entries = subjects
        .iter()
        .filter(|s| SubjectKind::parse(&s.kind).is_some_and(SubjectKind::is_person))
        .map(|s| AuditEntry::new("readPerson", Some(s.id)))
        .collect();
    audit::record(db, actor, entries).await
}

/// Finds the subject a code names, as the caller may see it (persons only with `persons:read`;
/// the read of a person is audited).
pub async fn find_by_code(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    hasher: &PersonKeyHasher,
    code: &str,
    kind: Option<SubjectKind>,
) -> Result<Option<subject::Model>, AppError> {
    let keys = lookup_keys(code, kind, hasher)?;
    let mut found = find_by_keys(db, &keys).await?;
    let subject = keys.iter().find_map(|k| found.remove(k));
    visible(db, caller, actor, subject).await
}

/// Finds a subject by id, as the caller may see it.
pub async fn find_by_id(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    id: i64,
) -> Result<Option<subject::Model>, AppError> {
    let subject = subject::Entity::find_by_id(id).one(db).await?;
    visible(db, caller, actor, subject).await
}

/// Subjects by id as the caller may see them: natural persons and households only with
/// `persons:read` (and those reads audited), as `find_by_id` does one by one.
pub async fn visible_by_ids(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    ids: &[i64],
) -> Result<HashMap<i64, subject::Model>, AppError> {
    let mut found: Vec<subject::Model> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        found.extend(
            subject::Entity::find()
                .filter(subject::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    let is_person =
        |s: &subject::Model| SubjectKind::parse(&s.kind).is_some_and(SubjectKind::is_person);
    if may_read_persons(caller) {
        let persons: Vec<&subject::Model> = found.iter().filter(|s| is_person(s)).collect();
        if !persons.is_empty() {
            audit_person_reads(db, actor, &persons).await?;
        }
    } else {
        found.retain(|s| !is_person(s));
    }
    Ok(found.into_iter().map(|s| (s.id, s)).collect())
}

async fn visible(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    subject: Option<subject::Model>,
) -> Result<Option<subject::Model>, AppError> {
    let Some(subject) = subject else {
        return Ok(None);
    };
    let is_person = SubjectKind::parse(&subject.kind).is_some_and(SubjectKind::is_person);
    if is_person {
        if !may_read_persons(caller) {
            // Answer as if it did not exist: a person's existence is itself personal data.
            return Ok(None);
        }
        audit_person_reads(db, actor, &[&subject]).await?;
    }
    Ok(Some(subject))
}

/// The filter of `subjects`.
#[derive(Debug, Clone, Default)]
pub struct SubjectFilter {
    pub kind: Option<SubjectKind>,
    /// A region code; subjects in it and in every division under it match.
    pub region_prefix: Option<String>,
    pub industry_code: Option<String>,
    pub name_contains: Option<String>,
}

/// One page of subjects in id order, and the total count of the filter.
pub async fn list(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    filter: &SubjectFilter,
    after_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<subject::Model>, bool, u64), AppError> {
    let mut condition = Condition::all();
    if let Some(kind) = filter.kind {
        condition = condition.add(subject::Column::Kind.eq(kind.as_str()));
    }
    if !may_list_persons(caller) {
        condition = condition.add(subject::Column::Kind.is_not_in([
            SubjectKind::NaturalPerson.as_str(),
            SubjectKind::Household.as_str(),
        ]));
    }
    if let Some(prefix) = &filter.region_prefix {
        condition = condition.add(subject::Column::RegionCode.starts_with(prefix.as_str()));
    }
    if let Some(industry) = &filter.industry_code {
        condition = condition.add(subject::Column::IndustryCode.eq(industry.as_str()));
    }
    if let Some(name) = &filter.name_contains {
        condition = condition.add(subject::Column::Name.contains(name.as_str()));
    }
    let base = subject::Entity::find().filter(condition);
    let total = base.clone().count(db).await?;
    let mut page = base.order_by_asc(subject::Column::Id);
    if let Some(after) = after_id {
        page = page.filter(subject::Column::Id.gt(after));
    }
    let mut rows = page.limit(limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    audit_person_reads(db, actor, &rows.iter().collect::<Vec<_>>()).await?;
    Ok((rows, has_next, total))
}

/// The changes of `updateSubject`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SubjectChanges {
    pub name: Option<String>,
    pub region_code: Option<String>,
    pub industry_code: Option<String>,
}

/// What `update` answers.
#[derive(Debug)]
pub enum UpdateOutcome {
    Updated(Box<subject::Model>),
    Refused(Vec<FieldError>),
}

/// Updates a subject's name, region or industry, audited with the changed fields.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    hasher: &PersonKeyHasher,
    code: &str,
    kind: Option<SubjectKind>,
    changes: SubjectChanges,
) -> Result<UpdateOutcome, AppError> {
    let keys = match lookup_keys(code, kind, hasher) {
        Ok(k) => k,
        Err(AppError::BadUserInput { message, .. }) => {
            return Ok(UpdateOutcome::Refused(vec![FieldError::new(
                &["code"],
                UserErrorCode::InvalidFormat,
                message,
            )]));
        }
        Err(e) => return Err(e),
    };
    let mut errors = Vec::new();
    let name = match changes.name.as_deref().map(validate_name).transpose() {
        Ok(n) => n,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let region = match changes
        .region_code
        .as_deref()
        .map(validate_region_format)
        .transpose()
    {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let Some(r) = &region
        && !reference::known_regions(db, std::slice::from_ref(r))
            .await?
            .contains(r)
    {
        errors.push(FieldError::new(
            &["regionCode"],
            UserErrorCode::UnknownRegion,
            format!("{r} is not a region of the district's reference data (see `regions`)"),
        ));
    }
    let industry = match changes.industry_code.as_deref() {
        None => None,
        Some(c) => match validate_industry_format(Some(c), SubjectKind::Enterprise) {
            Ok(i) => i,
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    if let Some(i) = &industry
        && !reference::known_industries(db, std::slice::from_ref(i))
            .await?
            .contains(i)
    {
        errors.push(FieldError::new(
            &["industryCode"],
            UserErrorCode::UnknownIndustry,
            format!("{i} is not an industry section of the reference data"),
        ));
    }
    if !errors.is_empty() {
        return Ok(UpdateOutcome::Refused(errors));
    }

    let txn = crate::db::begin_write(db).await?;
    let mut found = find_by_keys(&txn, &keys).await?;
    let Some(current) = keys.iter().find_map(|k| found.remove(k)) else {
        return Ok(UpdateOutcome::Refused(vec![FieldError::new(
            &["code"],
            UserErrorCode::NotFound,
            "no subject is registered under this code",
        )]));
    };
    let mut changed = serde_json::Map::new();
    let mut active: subject::ActiveModel = current.clone().into();
    if let Some(name) = name.filter(|n| *n != current.name) {
        changed.insert("name".into(), json!({"from": current.name, "to": name}));
        active.name = Set(name);
    }
    if let Some(region) = region.filter(|r| *r != current.region_code) {
        changed.insert(
            "regionCode".into(),
            json!({"from": current.region_code, "to": region}),
        );
        active.region_code = Set(region);
    }
    if let Some(industry) = industry.filter(|i| Some(i) != current.industry_code.as_ref()) {
        changed.insert(
            "industryCode".into(),
            json!({"from": current.industry_code, "to": industry}),
        );
        active.industry_code = Set(Some(industry));
    }
    if changed.is_empty() {
        return Ok(UpdateOutcome::Updated(Box::new(current)));
    }
    active.updated_at = Set(chrono::Utc::now());
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("updateSubject", Some(updated.id))
                .detail(serde_json::Value::Object(changed)),
        ],
    )
    .await?;
    ratings::rerate(&txn, &[updated.id], Cause::Subject).await?;
    txn.commit().await?;
    Ok(UpdateOutcome::Updated(Box::new(updated)))
}
