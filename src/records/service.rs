//! Submitting, correcting and revoking records, and reading them as a caller may.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use entity::{
    credit_record, credit_record_revision, decision_count, publicity_policy, refused_record,
    subject,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
    sea_query::{OnConflict, Query},
};
use serde_json::{Map, Value, json};

use super::rules::{
    PublicityPolicy, Severity, default_policies, policy_on, split_penalty_types, timeliness,
};
use super::visibility;
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::{Caller, Role};
use crate::calendar;
use crate::catalog::rules::{FieldRole, parse_date, validate_fields};
use crate::catalog::{self, CatalogItem, Polarity, RecordCategory};
use crate::db::json_parameter;
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::ratings::service::{self as ratings, Cause};
use crate::subjects::SubjectKind;
use crate::subjects::rules::PersonKeyHasher;
use crate::subjects::service::lookup_keys;

/// The date in China (UTC+8), from which working days and publicity are counted.
pub fn china_today() -> NaiveDate {
    china_date(Utc::now())
}

/// The longest `sourceRef`.
pub const MAX_SOURCE_REF: usize = 128;

/// A row as a department sends it.
#[derive(Debug, Clone, Default)]
pub struct RecordRow {
    pub item: String,
    pub subject_code: Option<String>,
    pub subject_kind: Option<SubjectKind>,
    pub source_ref: Option<String>,
    pub decision_date: Option<NaiveDate>,
    pub severity: Option<Severity>,
    pub fields: Map<String, Value>,
    /// When the platform received the row. The API always uses the present; only internal
    /// loaders of historical data (the demo data set) set it.
    pub reported_at: Option<DateTime<Utc>>,
}

/// The date in China (UTC+8) of an instant.
pub fn china_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(8)).date_naive()
}

/// What happened to one row.
#[derive(Debug, Clone)]
pub enum RowOutcome {
    Accepted(Box<credit_record::Model>),
    /// The same row was accepted before (same department, sourceRef and content).
    Duplicate(Box<credit_record::Model>),
    Refused(Vec<FieldError>),
}

/// The publicity policies as stored (falling back to the defaults if none are).
pub async fn policies(db: &impl ConnectionTrait) -> Result<Vec<PublicityPolicy>, AppError> {
    let rows = publicity_policy::Entity::find().all(db).await?;
    let mut policies = Vec::with_capacity(rows.len());
    for row in rows {
        let policy: PublicityPolicy = serde_json::from_str(&row.rules)
            .map_err(|e| AppError::internal(format!("publicity policy {}: {e}", row.version)))?;
        policies.push(policy);
    }
    if policies.is_empty() {
        policies = default_policies();
    }
    Ok(policies)
}

/// The policy for a decision date; decisions older than every policy use the oldest one.
fn policy_for(policies: &[PublicityPolicy], date: NaiveDate) -> Option<&PublicityPolicy> {
    policy_on(policies, date).or_else(|| policies.iter().min_by_key(|p| p.effective_from))
}

/// The fields as stored: a JSON object keyed by national code, in the catalog's field order.
fn fields_text(fields: &Map<String, Value>) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_owned())
}

/// SHA-256 of what identifies a row's content, to tell a resubmission from a change.
fn content_hash(
    item: &str,
    subject_id: i64,
    source_ref: &str,
    date: NaiveDate,
    severity: Option<Severity>,
    fields_text: &str,
) -> String {
    crate::digest::fingerprint([
        item,
        &subject_id.to_string(),
        source_ref,
        &date.to_string(),
        severity.map_or("", Severity::as_str),
        fields_text,
    ])
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The raw text a refused row sent for a field role (its document number, its decision date), so
/// that the kept row can be found and fixed.
fn raw_role(item: Option<&CatalogItem>, row: &RecordRow, role: FieldRole) -> Option<String> {
    item?
        .fields
        .iter()
        .filter(|spec| spec.role == Some(role))
        .find_map(|spec| {
            row.fields
                .get(&spec.code)
                .or_else(|| row.fields.get(&spec.key))
        })
        .and_then(text)
        .filter(|t| !t.is_empty())
}

/// A row that passed every rule that needs no database.
struct Checked {
    item: CatalogItem,
    keys: Vec<String>,
    source_ref: String,
    decision_date: NaiveDate,
    severity: Option<Severity>,
    fields: Map<String, Value>,
}

/// The derived values of a record: severity window and policy.
pub(crate) struct Derived {
    pub severity: Option<Severity>,
    pub published: bool,
    pub public_until: Option<NaiveDate>,
    pub repairable_from: Option<NaiveDate>,
    pub policy_version: Option<String>,
}

/// What a record's item, severity and decision date give under the policies.
pub(crate) fn derive(
    item: &CatalogItem,
    severity: Option<Severity>,
    decided_on: NaiveDate,
    policies: &[PublicityPolicy],
) -> Derived {
    let policy = policy_for(policies, decided_on);
    match (item.polarity, severity, policy) {
        (Polarity::Negative, Some(severity), Some(policy)) => {
            let window = policy.window(severity, decided_on);
            Derived {
                severity: Some(severity),
                published: window.published,
                public_until: window.public_until,
                repairable_from: window.repairable_from.filter(|_| item.repairable),
                policy_version: Some(policy.version.clone()),
            }
        }
        _ => Derived {
            severity,
            published: true,
            public_until: None,
            repairable_from: None,
            policy_version: policy.map(|p| p.version.clone()),
        },
    }
}

/// Resolves a top-level value against the field with the same role; both must agree.
fn resolve(
    top: Option<String>,
    from_fields: Option<String>,
    field: &str,
    role_name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match (top, from_fields) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(&b) => {
            errors.push(FieldError::new(
                &[field],
                UserErrorCode::Mismatch,
                format!("{field} is \"{a}\" but the {role_name} field says \"{b}\""),
            ));
            None
        }
        (Some(a), _) | (None, Some(a)) => Some(a),
        (None, None) => {
            errors.push(FieldError::new(
                &[field],
                UserErrorCode::Required,
                format!("{field} is required (or the item's {role_name} field)"),
            ));
            None
        }
    }
}

fn check_severity(
    item: &CatalogItem,
    row_severity: Option<Severity>,
    fields: &crate::catalog::rules::ValidatedFields,
    decided_on: Option<NaiveDate>,
    policies: &[PublicityPolicy],
    errors: &mut Vec<FieldError>,
) -> Option<Severity> {
    if item.polarity != Polarity::Negative {
        if row_severity.is_some() {
            errors.push(FieldError::new(
                &["severity"],
                UserErrorCode::NotAllowed,
                format!(
                    "severity is for negative records; {} is not negative",
                    item.code
                ),
            ));
        }
        return None;
    }
    let types = fields
        .by_role(&item.fields, FieldRole::PenaltyTypes)
        .and_then(text)
        .map(|t| split_penalty_types(&t));
    let policy = decided_on.and_then(|d| policy_for(policies, d));
    let derived = match (&types, policy) {
        (Some(types), Some(policy)) => Some(policy.severity_of(types)),
        _ => None,
    };
    match (row_severity, derived) {
        (Some(given), Some(Severity::Serious)) if given < Severity::Serious => {
            errors.push(FieldError::new(
                &["severity"],
                UserErrorCode::Mismatch,
                "the penalty types include one that makes the decision SERIOUS (吊销许可证件, 责令停产停业 …)",
            ));
            None
        }
        (Some(given), _) => Some(given),
        (None, Some(derived)) => Some(derived),
        (None, None) => {
            errors.push(FieldError::new(
                &["severity"],
                UserErrorCode::Required,
                "negative records need a severity: MINOR, GENERAL or SERIOUS",
            ));
            None
        }
    }
}

fn check_row(
    row: &RecordRow,
    items: &HashMap<String, CatalogItem>,
    department: &str,
    is_admin: bool,
    policies: &[PublicityPolicy],
    hasher: &PersonKeyHasher,
    today: NaiveDate,
) -> Result<Checked, Vec<FieldError>> {
    let code = row.item.trim().to_ascii_uppercase();
    let Some(item) = items.get(&code) else {
        return Err(vec![FieldError::new(
            &["item"],
            UserErrorCode::UnknownCatalogItem,
            format!("{} is not an item of the catalog (see `catalog`)", row.item),
        )]);
    };
    let mut errors = Vec::new();
    if !item.active {
        errors.push(FieldError::new(
            &["item"],
            UserErrorCode::NotAllowed,
            format!("{code} accepts no new records"),
        ));
    }
    if !is_admin && !item.provided_by(department) {
        errors.push(FieldError::new(
            &["item"],
            UserErrorCode::NotAProvider,
            format!(
                "{department} does not provide {code}; its providers are {}",
                item.providers.join(", ")
            ),
        ));
    }
    let fields = match validate_fields(&item.fields, &row.fields) {
        Ok(f) => f,
        Err(mut e) => {
            // What depends on the fields (subject, document number, date, severity) is judged
            // once the fields are right.
            errors.append(&mut e);
            return Err(errors);
        }
    };
    let f = &fields;
    let subject_code = resolve(
        row.subject_code.as_ref().map(|s| s.trim().to_owned()),
        f.subject_code.clone(),
        "subjectCode",
        "subject code",
        &mut errors,
    );
    let source_ref = resolve(
        row.source_ref
            .as_ref()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        f.by_role(&item.fields, FieldRole::SourceRef).and_then(text),
        "sourceRef",
        "document number",
        &mut errors,
    );
    if let Some(s) = &source_ref
        && s.chars().count() > MAX_SOURCE_REF
    {
        errors.push(FieldError::new(
            &["sourceRef"],
            UserErrorCode::TooLong,
            format!("sourceRef may have at most {MAX_SOURCE_REF} characters"),
        ));
    }
    let decision_date = resolve(
        row.decision_date.map(|d| d.to_string()),
        f.by_role(&item.fields, FieldRole::DecisionDate)
            .and_then(text),
        "decisionDate",
        "decision date",
        &mut errors,
    )
    .and_then(|d| parse_date(&d));
    if let Some(d) = decision_date {
        if d > today {
            errors.push(FieldError::new(
                &["decisionDate"],
                UserErrorCode::InvalidDate,
                format!("the decision date {d} is in the future"),
            ));
        } else if d.year_ce().1 < 1990 {
            errors.push(FieldError::new(
                &["decisionDate"],
                UserErrorCode::InvalidDate,
                format!("the decision date {d} is before 1990"),
            ));
        }
    }
    let severity = check_severity(item, row.severity, f, decision_date, policies, &mut errors);
    let keys = match subject_code
        .as_deref()
        .map(|c| lookup_keys(c, row.subject_kind, hasher))
    {
        Some(Ok(keys)) => keys,
        Some(Err(e)) => {
            errors.push(FieldError::new(
                &["subjectCode"],
                UserErrorCode::InvalidFormat,
                e.message(),
            ));
            Vec::new()
        }
        None => Vec::new(),
    };
    match (errors.is_empty(), source_ref, decision_date) {
        (true, Some(source_ref), Some(decision_date)) => Ok(Checked {
            item: item.clone(),
            keys,
            source_ref,
            decision_date,
            severity,
            fields: fields.values,
        }),
        _ => Err(errors),
    }
}

/// The ids of the subjects stored under these look-up keys.
async fn subject_ids_by_keys(
    db: &impl ConnectionTrait,
    keys: &[String],
) -> Result<HashMap<String, i64>, AppError> {
    let mut found: HashMap<String, i64> = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(found);
    }
    if db.get_database_backend() == DbBackend::Postgres {
        // One JSON parameter instead of a thousand: one statement shape, prepared once per
        // connection.
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT id, lookup_key FROM subject WHERE {}",
                crate::db::text_among(DbBackend::Postgres, "lookup_key", 1)
            ),
            [json_parameter(DbBackend::Postgres, json!(keys))],
        );
        for row in db.query_all_raw(statement).await? {
            found.insert(row.try_get("", "lookup_key")?, row.try_get("", "id")?);
        }
        return Ok(found);
    }
    for chunk in keys.chunks(1000) {
        let rows: Vec<(i64, String)> = subject::Entity::find()
            .select_only()
            .column(subject::Column::Id)
            .column(subject::Column::LookupKey)
            .filter(subject::Column::LookupKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|(id, key)| (key, id)));
    }
    Ok(found)
}

/// What a department already holds under these sourceRefs, by sourceRef.
async fn existing_by_refs(
    db: &impl ConnectionTrait,
    department: &str,
    refs: &[String],
) -> Result<HashMap<String, credit_record::Model>, AppError> {
    let mut found = HashMap::new();
    if refs.is_empty() {
        return Ok(found);
    }
    if db.get_database_backend() == DbBackend::Postgres {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT * FROM credit_record WHERE department = $1 AND {}",
                crate::db::text_among(DbBackend::Postgres, "source_ref", 2)
            ),
            [
                department.into(),
                json_parameter(DbBackend::Postgres, json!(refs)),
            ],
        );
        for r in credit_record::Entity::find()
            .from_raw_sql(statement)
            .all(db)
            .await?
        {
            found.insert(r.source_ref.clone(), r);
        }
        return Ok(found);
    }
    for chunk in refs.chunks(1000) {
        for r in credit_record::Entity::find()
            .filter(credit_record::Column::Department.eq(department))
            .filter(credit_record::Column::SourceRef.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            found.insert(r.source_ref.clone(), r);
        }
    }
    Ok(found)
}

/// A batch of new records as PostgreSQL's column arrays, for the insert in [`insert_records`]
/// (one statement whatever the count: binding 27,000 parameters and planning a 1000-row VALUES
/// list cost more than the insert itself).
fn record_arrays(rows: &[&credit_record::Model]) -> crate::db::Columns {
    use crate::db::column;
    let mut columns = crate::db::Columns::default();
    columns
        .push("subject_id", "bigint", column(rows, |m| m.subject_id))
        .push(
            "catalog_item_id",
            "bigint",
            column(rows, |m| m.catalog_item_id),
        )
        .push(
            "catalog_version",
            "integer",
            column(rows, |m| m.catalog_version),
        )
        .push("item_code", "text", column(rows, |m| m.item_code.clone()))
        .push("category", "text", column(rows, |m| m.category.clone()))
        .push("polarity", "text", column(rows, |m| m.polarity.clone()))
        .push("disclosure", "text", column(rows, |m| m.disclosure.clone()))
        .push("department", "text", column(rows, |m| m.department.clone()))
        .push("source_ref", "text", column(rows, |m| m.source_ref.clone()))
        .push_nullable("severity", "text", column(rows, |m| m.severity.clone()))
        .push("decision_date", "date", column(rows, |m| m.decision_date))
        .push(
            "reported_at",
            "timestamptz",
            column(rows, |m| m.reported_at),
        )
        .push("reported_on", "date", column(rows, |m| m.reported_on))
        .push_nullable("working_days", "integer", column(rows, |m| m.working_days))
        .push_nullable("late", "boolean", column(rows, |m| m.late))
        .push_nullable(
            "calendar_complete",
            "boolean",
            column(rows, |m| m.calendar_complete),
        )
        .push("published", "boolean", column(rows, |m| m.published))
        .push_nullable("public_until", "date", column(rows, |m| m.public_until))
        .push_nullable(
            "repairable_from",
            "date",
            column(rows, |m| m.repairable_from),
        )
        .push_nullable(
            "policy_version",
            "text",
            column(rows, |m| m.policy_version.clone()),
        )
        .push("status", "text", column(rows, |m| m.status.clone()))
        .push("fields", "text", column(rows, |m| m.fields.clone()))
        .push(
            "content_hash",
            "text",
            column(rows, |m| m.content_hash.clone()),
        )
        .push("revision", "integer", column(rows, |m| m.revision))
        .push_nullable("request_id", "text", column(rows, |m| m.request_id.clone()))
        .push("created_at", "timestamptz", column(rows, |m| m.created_at))
        .push("updated_at", "timestamptz", column(rows, |m| m.updated_at));
    columns
}

/// Inserts new records, skipping any (department, sourceRef) a concurrent submission stored
/// first, and answers the ids of those inserted with their sourceRefs.
async fn insert_records(
    txn: &impl ConnectionTrait,
    rows: &[&credit_record::Model],
) -> Result<Vec<(i64, String)>, AppError> {
    let mut ids = Vec::with_capacity(rows.len());
    if rows.is_empty() {
        return Ok(ids);
    }
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        return insert_records_sqlite(txn, rows).await;
    }
    let columns = record_arrays(rows);
    let sql = format!(
        "INSERT INTO credit_record ({}) {} \
         ON CONFLICT (department, source_ref) DO NOTHING RETURNING id, source_ref",
        columns.names(),
        columns.select(1)
    );
    let statement = Statement::from_sql_and_values(backend, sql, columns.into_values());
    for row in txn.query_all_raw(statement).await? {
        ids.push((row.try_get("", "id")?, row.try_get("", "source_ref")?));
    }
    Ok(ids)
}

/// SQLite's insert of new records: multi-row statements in runs of powers of two, so each
/// connection prepares a handful of shapes. (Unpacking a JSON parameter there costs more than
/// binding: SQLite turns each element back into text to read each field, measured at a third of
/// the benchmark's time.)
async fn insert_records_sqlite(
    txn: &impl ConnectionTrait,
    rows: &[&credit_record::Model],
) -> Result<Vec<(i64, String)>, AppError> {
    let mut ids = Vec::with_capacity(rows.len());
    let models: Vec<credit_record::ActiveModel> = rows
        .iter()
        .map(|m| {
            let mut active = (*m).clone().into_active_model().reset_all();
            active.id = NotSet;
            active
        })
        .collect();
    // 27 columns × 1024 rows stay under SQLite's 32,766 parameters.
    for run in crate::db::power_of_two_runs(models.len(), 1024) {
        // Only the new ids come back: the rest of each row is already in memory.
        let mut statement = credit_record::Entity::insert_many(models[run].to_vec())
            .on_conflict(
                OnConflict::columns([
                    credit_record::Column::Department,
                    credit_record::Column::SourceRef,
                ])
                .do_nothing()
                .to_owned(),
            )
            .into_query();
        statement.returning(
            Query::returning()
                .columns([credit_record::Column::Id, credit_record::Column::SourceRef]),
        );
        for row in txn.query_all(&statement).await? {
            ids.push((row.try_get("", "id")?, row.try_get("", "source_ref")?));
        }
    }
    Ok(ids)
}

/// Submits a batch for the caller's organization. Accepted rows commit in one transaction with
/// the refused rows (kept with their reasons) and the audit entry; the answer is row by row.
pub async fn submit(
    db: &DatabaseConnection,
    actor: &Actor,
    hasher: &PersonKeyHasher,
    rating_queue: &crate::ratings::queue::RatingQueue,
    rows: &[RecordRow],
) -> Result<Vec<RowOutcome>, AppError> {
    let principal = actor
        .principal
        .as_ref()
        .ok_or_else(|| AppError::Unauthenticated("submitting records needs a token".into()))?;
    let department = principal.organization.clone();
    let is_admin = principal.role == Role::Admin;
    let today = china_today();
    let now = Utc::now();

    let codes: Vec<String> = rows
        .iter()
        .map(|r| r.item.trim().to_ascii_uppercase())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let items = catalog::service::by_codes(db, &codes).await?;
    let policies = policies(db).await?;
    let calendar = calendar::service::load(db).await?;

    let mut checked: Vec<Result<Checked, Vec<FieldError>>> = rows
        .iter()
        .map(|r| {
            let today = r.reported_at.map_or(today, china_date);
            check_row(r, &items, &department, is_admin, &policies, hasher, today)
        })
        .collect();

    // Subjects, in one query.
    let all_keys: Vec<String> = checked
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .flat_map(|c| c.keys.iter().cloned())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let subjects = subject_ids_by_keys(db, &all_keys).await?;
    let mut subject_of: Vec<Option<i64>> = vec![None; rows.len()];
    for (i, row) in checked.iter_mut().enumerate() {
        if let Ok(c) = row {
            match c.keys.iter().find_map(|k| subjects.get(k)) {
                Some(id) => subject_of[i] = Some(*id),
                None => {
                    *row = Err(vec![FieldError::new(
                        &["subjectCode"],
                        UserErrorCode::SubjectNotRegistered,
                        "no subject is registered under this code; register it first with registerSubjects",
                    )])
                }
            }
        }
    }

    // What this department already holds under these sourceRefs.
    let refs: Vec<String> = checked
        .iter()
        .filter_map(|c| c.as_ref().ok().map(|c| c.source_ref.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let existing = existing_by_refs(db, &department, &refs).await?;

    let conflict = |source_ref: &str| {
        vec![FieldError::new(
            &["sourceRef"],
            UserErrorCode::Conflict,
            format!(
                "{source_ref} was accepted before with different content; send the change with correctCreditRecord"
            ),
        )]
    };
    let mut outcomes: Vec<Option<RowOutcome>> = vec![None; rows.len()];
    let mut to_insert: Vec<(usize, credit_record::Model)> = Vec::new();
    let mut hashes: Vec<Option<String>> = vec![None; rows.len()];
    let mut in_batch: HashMap<String, (usize, String)> = HashMap::new();
    for (i, row) in checked.iter().enumerate() {
        let c = match row {
            Ok(c) => c,
            Err(errors) => {
                outcomes[i] = Some(RowOutcome::Refused(errors.clone()));
                continue;
            }
        };
        let Some(subject_id) = subject_of[i] else {
            continue;
        };
        let stored_fields = fields_text(&c.fields);
        let hash = content_hash(
            &c.item.code,
            subject_id,
            &c.source_ref,
            c.decision_date,
            c.severity,
            &stored_fields,
        );
        hashes[i] = Some(hash.clone());
        if let Some(before) = existing.get(&c.source_ref) {
            outcomes[i] = Some(if before.content_hash == hash {
                RowOutcome::Duplicate(Box::new(before.clone()))
            } else {
                RowOutcome::Refused(conflict(&c.source_ref))
            });
            continue;
        }
        if let Some((first, first_hash)) = in_batch.get(&c.source_ref) {
            outcomes[i] = Some(RowOutcome::Refused(vec![FieldError::new(
                &["sourceRef"],
                if *first_hash == hash {
                    UserErrorCode::DuplicateInBatch
                } else {
                    UserErrorCode::Conflict
                },
                format!("{} is already row {first} of this batch", c.source_ref),
            )]));
            continue;
        }
        in_batch.insert(c.source_ref.clone(), (i, hash.clone()));
        let reported_at = rows[i].reported_at.unwrap_or(now);
        let today = china_date(reported_at);
        let derived = derive(&c.item, c.severity, c.decision_date, &policies);
        let (working_days, late, complete) = if c.item.category.is_double_publicity() {
            let deadline = policy_for(&policies, c.decision_date)
                .map_or(7, |p| p.report_deadline_working_days);
            let t = timeliness(&calendar, c.decision_date, today, deadline);
            (
                Some(t.working_days.days as i32),
                Some(t.late),
                Some(t.working_days.calendar_complete),
            )
        } else {
            (None, None, None)
        };
        to_insert.push((
            i,
            credit_record::Model {
                id: 0,
                subject_id,
                catalog_item_id: c.item.id,
                catalog_version: c.item.version,
                item_code: c.item.code.clone(),
                category: c.item.category.as_str().to_owned(),
                polarity: c.item.polarity.as_str().to_owned(),
                disclosure: c.item.disclosure.as_str().to_owned(),
                department: department.clone(),
                source_ref: c.source_ref.clone(),
                severity: derived.severity.map(|s| s.as_str().to_owned()),
                decision_date: c.decision_date,
                reported_at,
                reported_on: today,
                working_days,
                late,
                calendar_complete: complete,
                published: derived.published,
                public_until: derived.public_until,
                repairable_from: derived.repairable_from,
                policy_version: derived.policy_version,
                status: "ACTIVE".to_owned(),
                fields: stored_fields,
                content_hash: hash,
                revision: 1,
                request_id: actor.request_id.clone(),
                created_at: now,
                updated_at: now,
            },
        ));
    }

    let txn = crate::db::begin_write(db).await?;
    let mut inserted: HashMap<String, credit_record::Model> = HashMap::new();
    let indices: Vec<usize> = to_insert.iter().map(|(i, _)| *i).collect();
    let mut pending: HashMap<String, credit_record::Model> = to_insert
        .into_iter()
        .map(|(_, m)| (m.source_ref.clone(), m))
        .collect();
    let new_rows: Vec<&credit_record::Model> = pending.values().collect();
    for (id, source_ref) in insert_records(&txn, &new_rows).await? {
        if let Some(mut model) = pending.remove(&source_ref) {
            model.id = id;
            inserted.insert(source_ref, model);
        }
    }
    // Rows a concurrent submission stored first.
    let lost: Vec<String> = indices
        .iter()
        .filter_map(|i| checked[*i].as_ref().ok().map(|c| c.source_ref.clone()))
        .filter(|r| !inserted.contains_key(r))
        .collect();
    let raced = existing_by_refs(&txn, &department, &lost).await?;
    for i in indices {
        let Ok(c) = &checked[i] else { continue };
        outcomes[i] = Some(match inserted.remove(&c.source_ref) {
            Some(model) => RowOutcome::Accepted(Box::new(model)),
            None => match raced.get(&c.source_ref) {
                Some(model) if Some(&model.content_hash) == hashes[i].as_ref() => {
                    RowOutcome::Duplicate(Box::new(model.clone()))
                }
                _ => RowOutcome::Refused(conflict(&c.source_ref)),
            },
        });
    }

    let outcomes: Vec<RowOutcome> = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| RowOutcome::Refused(Vec::new())))
        .collect();
    let refused: Vec<refused_record::ActiveModel> =
        outcomes
            .iter()
            .zip(rows)
            .filter_map(|(o, row)| match o {
                RowOutcome::Refused(errors) => {
                    let code = row.item.trim().to_ascii_uppercase();
                    let item = items.get(&code);
                    Some(refused_record::ActiveModel {
                        department: Set(department.clone()),
                        item_code: Set(item.map(|i| i.code.clone())),
                        category: Set(item.map(|i| i.category.as_str().to_owned())),
                        source_ref: Set(row
                            .source_ref
                            .clone()
                            .or_else(|| raw_role(item, row, FieldRole::SourceRef))
                            .map(|s| s.chars().take(MAX_SOURCE_REF).collect())),
                        decision_date: Set(row.decision_date.or_else(|| {
                            raw_role(item, row, FieldRole::DecisionDate)
                                .and_then(|d| parse_date(&d))
                        })),
                        submitted_at: Set(row.reported_at.unwrap_or(now)),
                        submitted_on: Set(row.reported_at.map_or(today, china_date)),
                        errors: Set(json!(errors
                        .iter()
                        .map(|e| json!({"field": e.field, "code": e.code, "message": e.message}))
                        .collect::<Vec<_>>())
                        .to_string()),
                        request_id: Set(actor.request_id.clone()),
                        ..Default::default()
                    })
                }
                _ => None,
            })
            .collect();
    let refused_count = refused.len();
    for chunk in refused.chunks(500) {
        refused_record::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    let accepted: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            RowOutcome::Accepted(m) => Some(m.id),
            _ => None,
        })
        .collect();
    audit::record(
        &txn,
        actor,
        vec![AuditEntry::new("submitCreditRecords", None).detail(json!({
            "rows": rows.len(),
            "accepted": accepted.len(),
            "refused": refused_count,
            "firstRecordId": accepted.iter().min(),
            "lastRecordId": accepted.iter().max(),
        }))],
    )
    .await?;
    let rated: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            RowOutcome::Accepted(m) => Some(m.subject_id),
            _ => None,
        })
        .collect();
    // Their ratings follow (`ratings::queue`); reads compute them until then.
    rating_queue.enqueue(&txn, &rated).await?;
    txn.commit().await?;
    rating_queue.wake();
    Ok(outcomes)
}

/// A record the platform writes itself on a department's behalf (a commitment breach), inside
/// the caller's transaction: validated against its catalog item like a submitted row, but with
/// no provider check, since the department did not send it.
#[derive(Debug, Clone)]
pub(crate) struct PlatformRecord {
    pub item: &'static str,
    pub subject_id: i64,
    pub department: String,
    pub source_ref: String,
    pub decision_date: NaiveDate,
    pub severity: Option<Severity>,
    pub fields: Map<String, Value>,
}

/// Writes a [`PlatformRecord`] in `txn` and answers it as stored. A field the catalog item
/// refuses is an internal fault here (the platform built the row), never the caller's.
pub(crate) async fn insert_platform_record(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    record: PlatformRecord,
) -> Result<credit_record::Model, AppError> {
    let items = catalog::service::by_codes(txn, &[record.item.to_owned()]).await?;
    let item = items
        .get(record.item)
        .ok_or_else(|| AppError::internal(format!("catalog item {} is missing", record.item)))?;
    let fields = validate_fields(&item.fields, &record.fields).map_err(|errors| {
        AppError::internal(format!(
            "{} rejected a platform row: {errors:?}",
            record.item
        ))
    })?;
    let policies = policies(txn).await?;
    let derived = derive(item, record.severity, record.decision_date, &policies);
    let stored_fields = fields_text(&fields.values);
    let now = Utc::now();
    let mut model = credit_record::Model {
        id: 0,
        subject_id: record.subject_id,
        catalog_item_id: item.id,
        catalog_version: item.version,
        item_code: item.code.clone(),
        category: item.category.as_str().to_owned(),
        polarity: item.polarity.as_str().to_owned(),
        disclosure: item.disclosure.as_str().to_owned(),
        department: record.department,
        source_ref: record.source_ref,
        severity: derived.severity.map(|s| s.as_str().to_owned()),
        decision_date: record.decision_date,
        reported_at: now,
        reported_on: china_date(now),
        working_days: None,
        late: None,
        calendar_complete: None,
        published: derived.published,
        public_until: derived.public_until,
        repairable_from: derived.repairable_from,
        policy_version: derived.policy_version,
        status: "ACTIVE".to_owned(),
        content_hash: String::new(),
        fields: stored_fields,
        revision: 1,
        request_id: actor.request_id.clone(),
        created_at: now,
        updated_at: now,
    };
    model.content_hash = content_hash(
        &model.item_code,
        model.subject_id,
        &model.source_ref,
        model.decision_date,
        derived.severity,
        &model.fields,
    );
    let inserted = insert_records(txn, &[&model]).await?;
    let Some((id, _)) = inserted.into_iter().next() else {
        return Err(AppError::internal(format!(
            "{} {} of {} exists already",
            model.item_code, model.source_ref, model.department
        )));
    };
    model.id = id;
    Ok(model)
}

/// What a correction changes; omitted parts keep their values.
#[derive(Debug, Clone, Default)]
pub struct Correction {
    pub fields: Option<Map<String, Value>>,
    pub decision_date: Option<NaiveDate>,
    pub severity: Option<Severity>,
    pub reason: String,
}

/// Finds a record the caller may change: by id, or by the caller's own sourceRef.
pub async fn find_for_change(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: Option<i64>,
    source_ref: Option<&str>,
) -> Result<Option<credit_record::Model>, AppError> {
    let found = match (id, source_ref) {
        (Some(id), _) => credit_record::Entity::find_by_id(id).one(db).await?,
        (None, Some(r)) => {
            let Some(p) = caller.principal() else {
                return Ok(None);
            };
            credit_record::Entity::find()
                .filter(credit_record::Column::Department.eq(p.organization.as_str()))
                .filter(credit_record::Column::SourceRef.eq(r.trim()))
                .one(db)
                .await?
        }
        (None, None) => None,
    };
    Ok(found.filter(|r| visibility::can_change(caller, r)))
}

fn revision_of(
    record: &credit_record::Model,
    action: &str,
    reason: &str,
    actor: &Actor,
) -> credit_record_revision::ActiveModel {
    credit_record_revision::ActiveModel {
        record_id: Set(record.id),
        revision: Set(record.revision),
        action: Set(action.to_owned()),
        reason: Set(Some(reason.to_owned())),
        fields: Set(record.fields.clone()),
        severity: Set(record.severity.clone()),
        decision_date: Set(record.decision_date),
        status: Set(record.status.clone()),
        actor: Set(actor.principal.as_ref().map(|p| p.client_id.clone())),
        request_id: Set(actor.request_id.clone()),
        at: Set(Utc::now()),
        ..Default::default()
    }
}

fn check_reason(reason: &str) -> Result<(), FieldError> {
    let chars = reason.trim().chars().count();
    if chars == 0 {
        return Err(FieldError::new(
            &["reason"],
            UserErrorCode::Required,
            "a reason is required",
        ));
    }
    if chars > 1000 {
        return Err(FieldError::new(
            &["reason"],
            UserErrorCode::TooLong,
            "the reason may have at most 1000 characters",
        ));
    }
    Ok(())
}

/// Corrects a record: validates the new content like a submission, keeps the previous content
/// as a revision, recomputes severity and publicity (the report's timeliness stays as it was).
pub async fn correct(
    db: &DatabaseConnection,
    actor: &Actor,
    record: credit_record::Model,
    correction: Correction,
) -> Result<Result<credit_record::Model, Vec<FieldError>>, AppError> {
    if let Err(e) = check_reason(&correction.reason) {
        return Ok(Err(vec![e]));
    }
    if record.status == "REVOKED" {
        return Ok(Err(vec![FieldError::new(
            &["id"],
            UserErrorCode::NotAllowed,
            "a revoked record cannot be corrected",
        )]));
    }
    let items = catalog::service::by_codes(db, std::slice::from_ref(&record.item_code)).await?;
    let Some(item) = items.get(&record.item_code) else {
        return Err(AppError::internal(format!(
            "catalog item {} vanished",
            record.item_code
        )));
    };
    // Validate against the item's fields as they are now; the record keeps its category,
    // polarity and disclosure from when it was accepted.
    let current: Map<String, Value> = serde_json::from_str(&record.fields).unwrap_or_default();
    let input = correction.fields.clone().unwrap_or(current);
    let validated = match validate_fields(&item.fields, &input) {
        Ok(v) => v,
        Err(errors) => return Ok(Err(errors)),
    };
    let policies = policies(db).await?;
    let mut errors = Vec::new();
    let decided_on = correction
        .decision_date
        .or_else(|| {
            validated
                .by_role(&item.fields, FieldRole::DecisionDate)
                .and_then(text)
                .and_then(|d| parse_date(&d))
        })
        .unwrap_or(record.decision_date);
    if decided_on > china_today() {
        errors.push(FieldError::new(
            &["decisionDate"],
            UserErrorCode::InvalidDate,
            "the decision date is in the future",
        ));
    }
    // An explicit severity is checked against the penalty types; without one, penalties derive
    // theirs again and other negative records keep the one they had.
    let mut severity_errors = Vec::new();
    let mut severity = check_severity(
        item,
        correction.severity,
        &validated,
        Some(decided_on),
        &policies,
        &mut severity_errors,
    );
    if correction.severity.is_none()
        && severity.is_none()
        && severity_errors
            .iter()
            .all(|e| e.code == UserErrorCode::Required)
    {
        severity = record.severity.as_deref().and_then(Severity::parse);
        severity_errors.clear();
    }
    errors.append(&mut severity_errors);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let derived = derive(item, severity, decided_on, &policies);
    let txn = crate::db::begin_write(db).await?;
    credit_record_revision::Entity::insert(revision_of(
        &record,
        "CORRECTED",
        correction.reason.trim(),
        actor,
    ))
    .exec_without_returning(&txn)
    .await?;
    let stored_fields = fields_text(&validated.values);
    let hash = content_hash(
        &record.item_code,
        record.subject_id,
        &record.source_ref,
        decided_on,
        severity,
        &stored_fields,
    );
    let revision = record.revision + 1;
    let id = record.id;
    let mut active: credit_record::ActiveModel = record.into();
    active.fields = Set(stored_fields);
    active.decision_date = Set(decided_on);
    active.severity = Set(derived.severity.map(|s| s.as_str().to_owned()));
    active.published = Set(derived.published);
    active.public_until = Set(derived.public_until);
    active.repairable_from = Set(derived.repairable_from);
    active.policy_version = Set(derived.policy_version);
    active.content_hash = Set(hash);
    active.revision = Set(revision);
    active.updated_at = Set(Utc::now());
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("correctCreditRecord", Some(updated.subject_id)).detail(
                json!({"recordId": id, "revision": revision, "reason": correction.reason.trim()}),
            ),
        ],
    )
    .await?;
    ratings::rerate(&txn, &[updated.subject_id], Cause::Record).await?;
    txn.commit().await?;
    Ok(Ok(updated))
}

/// Revokes a record (撤销): it stops counting and stops being shown, and its history stays.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Actor,
    record: credit_record::Model,
    reason: &str,
) -> Result<Result<credit_record::Model, Vec<FieldError>>, AppError> {
    if let Err(e) = check_reason(reason) {
        return Ok(Err(vec![e]));
    }
    if record.status == "REVOKED" {
        return Ok(Err(vec![FieldError::new(
            &["id"],
            UserErrorCode::NotAllowed,
            "the record is already revoked",
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    credit_record_revision::Entity::insert(revision_of(&record, "REVOKED", reason.trim(), actor))
        .exec_without_returning(&txn)
        .await?;
    let revision = record.revision + 1;
    let id = record.id;
    let mut active: credit_record::ActiveModel = record.into();
    active.status = Set("REVOKED".to_owned());
    active.revision = Set(revision);
    active.updated_at = Set(Utc::now());
    let updated = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("revokeCreditRecord", Some(updated.subject_id))
                .detail(json!({"recordId": id, "reason": reason.trim()})),
        ],
    )
    .await?;
    ratings::rerate(&txn, &[updated.subject_id], Cause::Record).await?;
    txn.commit().await?;
    Ok(Ok(updated))
}

/// The earlier versions of a record, oldest first.
pub async fn history(
    db: &impl ConnectionTrait,
    record_id: i64,
) -> Result<Vec<credit_record_revision::Model>, AppError> {
    Ok(credit_record_revision::Entity::find()
        .filter(credit_record_revision::Column::RecordId.eq(record_id))
        .order_by_asc(credit_record_revision::Column::Revision)
        .all(db)
        .await?)
}

/// Which records of a subject to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordFilter {
    pub category: Option<RecordCategory>,
    pub status: Option<super::graphql::RecordStatus>,
}

/// One page of a subject's records as the caller may see them, newest decision first.
pub async fn for_subject(
    db: &impl ConnectionTrait,
    caller: &Caller,
    subject_id: i64,
    filter: RecordFilter,
    after_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<credit_record::Model>, bool, u64), AppError> {
    let today = china_today();
    let mut condition = Condition::all()
        .add(credit_record::Column::SubjectId.eq(subject_id))
        .add(visibility::condition(caller, today));
    if let Some(category) = filter.category {
        condition = condition.add(credit_record::Column::Category.eq(category.as_str()));
    }
    if let Some(status) = filter.status {
        use super::graphql::RecordStatus;
        condition = condition.add(match status {
            RecordStatus::Active => Condition::all()
                .add(credit_record::Column::Status.eq("ACTIVE"))
                .add(
                    Condition::any()
                        .add(credit_record::Column::PublicUntil.is_null())
                        .add(credit_record::Column::PublicUntil.gte(today)),
                ),
            RecordStatus::Expired => Condition::all()
                .add(credit_record::Column::Status.eq("ACTIVE"))
                .add(credit_record::Column::PublicUntil.lt(today)),
            RecordStatus::Repaired => {
                Condition::all().add(credit_record::Column::Status.eq("REPAIRED"))
            }
            RecordStatus::Revoked => {
                Condition::all().add(credit_record::Column::Status.eq("REVOKED"))
            }
        });
    }
    let base = credit_record::Entity::find().filter(condition);
    let total = base.clone().count(db).await?;
    let mut page = base.order_by_desc(credit_record::Column::Id);
    if let Some(after) = after_id {
        page = page.filter(credit_record::Column::Id.lt(after));
    }
    let mut rows = page.limit(limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_next, total))
}

/// Every record of a subject the caller may see (for the credit report), newest first.
pub async fn all_visible(
    db: &impl ConnectionTrait,
    caller: &Caller,
    subject_id: i64,
) -> Result<Vec<credit_record::Model>, AppError> {
    Ok(credit_record::Entity::find()
        .filter(credit_record::Column::SubjectId.eq(subject_id))
        .filter(visibility::condition(caller, china_today()))
        .order_by_desc(credit_record::Column::DecisionDate)
        .limit(1000)
        .all(db)
        .await?)
}

/// Stores a department's declared decision counts for a month (replacing an earlier declaration),
/// audited in the same transaction.
pub async fn declare_decision_counts(
    db: &DatabaseConnection,
    actor: &Actor,
    department: &str,
    month: &str,
    licenses: i32,
    penalties: i32,
) -> Result<(), AppError> {
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let rows = [("LICENSE", licenses), ("PENALTY", penalties)].map(|(category, count)| {
        decision_count::ActiveModel {
            department: Set(department.to_owned()),
            month: Set(month.to_owned()),
            category: Set(category.to_owned()),
            count: Set(count),
            declared_by: Set(actor.principal.as_ref().map(|p| p.client_id.clone())),
            declared_at: Set(now),
            ..Default::default()
        }
    });
    decision_count::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                decision_count::Column::Department,
                decision_count::Column::Month,
                decision_count::Column::Category,
            ])
            .update_columns([
                decision_count::Column::Count,
                decision_count::Column::DeclaredBy,
                decision_count::Column::DeclaredAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("declareDecisionCounts", None).detail(json!({
                "department": department,
                "month": month,
                "licenses": licenses,
                "penalties": penalties,
            })),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A record by id, if the caller may see it.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
) -> Result<Option<credit_record::Model>, AppError> {
    Ok(credit_record::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|r| visibility::can_see(caller, r, china_today())))
}
