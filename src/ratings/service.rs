//! Models as versioned data, and ratings kept current: `rerate` runs inside the transaction of
//! every write that changes a subject's facts, so a read never serves a stale grade.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{NaiveDate, Utc};
use entity::{evaluation_model, rating, rating_history, subject};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::NotSet,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Statement,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::rules::{
    self, Definition, Evaluation, Facts, ListFact, Model, RecordFact, StoredFactor,
};
use crate::audit::{self, Actor, AuditEntry};
use crate::catalog::{Polarity, RecordCategory};
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::lists::ListKind;
use crate::records::rules::Severity;
use crate::records::service::china_today;
use crate::subjects::SubjectKind;

/// The model everything defaults to: the annual public credit comprehensive evaluation.
pub const DEFAULT_MODEL: &str = "PUBLIC_COMPREHENSIVE";

/// A stored model version with its compiled rules.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub row: evaluation_model::Model,
    pub definition: Arc<Definition>,
    pub model: Arc<Model>,
}

/// Parses and compiles a stored version.
pub fn loaded(row: evaluation_model::Model) -> Result<LoadedModel, AppError> {
    let (definition, model) = compiled(&row.definition)
        .map_err(|e| AppError::internal(format!("model {} v{}: {e}", row.code, row.version)))?;
    Ok(LoadedModel {
        row,
        definition,
        model,
    })
}

type Compiled = (Arc<Definition>, Arc<Model>);

/// Parses and compiles a stored definition once per process. A version's definition is never
/// edited, so its text is a safe key whatever database or node it comes from; every write
/// re-rates under all active models, and reads explain factors with the version's rules.
fn compiled(text: &str) -> Result<Compiled, String> {
    static CACHE: LazyLock<Mutex<HashMap<String, Compiled>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if let Ok(cache) = CACHE.lock()
        && let Some(hit) = cache.get(text)
    {
        return Ok(hit.clone());
    }
    let definition: Definition =
        serde_json::from_str(text).map_err(|e| format!("does not parse: {e}"))?;
    let model = rules::compile(&definition).map_err(|e| format!("does not compile: {e:?}"))?;
    let entry = (Arc::new(definition), Arc::new(model));
    if let Ok(mut cache) = CACHE.lock() {
        cache.insert(text.to_owned(), entry.clone());
    }
    Ok(entry)
}

/// Every version of every model (or of one code), newest version first per code.
pub async fn models(
    db: &impl ConnectionTrait,
    code: Option<&str>,
) -> Result<Vec<LoadedModel>, AppError> {
    let mut query = evaluation_model::Entity::find()
        .order_by_asc(evaluation_model::Column::Code)
        .order_by_desc(evaluation_model::Column::Version);
    if let Some(code) = code {
        query = query.filter(evaluation_model::Column::Code.eq(code));
    }
    query.all(db).await?.into_iter().map(loaded).collect()
}

/// Model versions by id.
pub async fn models_by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<LoadedModel>, AppError> {
    evaluation_model::Entity::find()
        .filter(evaluation_model::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(loaded)
        .collect()
}

/// The active version of every model.
pub async fn active_models(db: &impl ConnectionTrait) -> Result<Vec<LoadedModel>, AppError> {
    evaluation_model::Entity::find()
        .filter(evaluation_model::Column::Status.eq("ACTIVE"))
        .order_by_asc(evaluation_model::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(loaded)
        .collect()
}

/// The active version of one model; none when the code has no active version.
pub async fn active_model(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<LoadedModel>, AppError> {
    evaluation_model::Entity::find()
        .filter(evaluation_model::Column::Code.eq(code))
        .filter(evaluation_model::Column::Status.eq("ACTIVE"))
        .one(db)
        .await?
        .map(loaded)
        .transpose()
}

/// What an admin gives to define a model version.
#[derive(Debug, Clone)]
pub struct NewModel {
    pub code: String,
    pub name: String,
    pub description: String,
    pub definition: Definition,
}

fn is_model_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Stores a new DRAFT version of a model (version = the highest so far + 1), after validating it.
pub async fn define(
    db: &DatabaseConnection,
    actor: &Actor,
    new: NewModel,
) -> Result<Result<evaluation_model::Model, Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    if !is_model_code(&new.code) {
        errors.push(FieldError::new(
            &["code"],
            UserErrorCode::InvalidFormat,
            "a model code is 1 to 64 of A-Z, 0-9 and _",
        ));
    }
    for (field, value, max) in [
        ("name", &new.name, 200),
        ("description", &new.description, 4000),
    ] {
        let n = value.trim().chars().count();
        if n == 0 || n > max {
            errors.push(FieldError::new(
                &[field],
                UserErrorCode::Required,
                format!("{field} is required, at most {max} characters"),
            ));
        }
    }
    if let Err(rule_errors) = rules::compile(&new.definition) {
        let prefix = vec!["definition".to_owned()];
        errors.extend(rule_errors.into_iter().map(|e| e.under(&prefix)));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let definition = serde_json::to_string(&new.definition).map_err(AppError::internal)?;
    let txn = crate::db::begin_write(db).await?;
    let latest = evaluation_model::Entity::find()
        .filter(evaluation_model::Column::Code.eq(new.code.as_str()))
        .order_by_desc(evaluation_model::Column::Version)
        .one(&txn)
        .await?;
    let row = evaluation_model::ActiveModel {
        code: Set(new.code.clone()),
        version: Set(latest.map_or(1, |m| m.version + 1)),
        name: Set(new.name.trim().to_owned()),
        description: Set(new.description.trim().to_owned()),
        status: Set("DRAFT".into()),
        definition: Set(definition),
        created_by: Set(actor
            .principal
            .as_ref()
            .map_or_else(|| "CLI".to_owned(), |p| p.organization.clone())),
        created_at: Set(Utc::now()),
        activated_at: Set(None),
        retired_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("defineEvaluationModel", None)
                .detail(serde_json::json!({"code": row.code, "version": row.version})),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(row))
}

/// How a model version's status changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Activate,
    Retire,
}

/// Activates a version (the active version of the same code retires) or retires one. Ratings
/// already made keep the version they were made with; the next write or evaluation uses the new.
pub async fn change_status(
    db: &DatabaseConnection,
    actor: &Actor,
    code: &str,
    version: i32,
    change: StatusChange,
) -> Result<Result<evaluation_model::Model, Vec<FieldError>>, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let Some(row) = evaluation_model::Entity::find()
        .filter(evaluation_model::Column::Code.eq(code))
        .filter(evaluation_model::Column::Version.eq(version))
        .one(&txn)
        .await?
    else {
        return Ok(Err(vec![FieldError::new(
            &["version"],
            UserErrorCode::NotFound,
            format!("model {code} has no version {version}"),
        )]));
    };
    let now = Utc::now();
    let wanted = match change {
        StatusChange::Activate => "ACTIVE",
        StatusChange::Retire => "RETIRED",
    };
    if row.status == wanted {
        return Ok(Ok(row));
    }
    if change == StatusChange::Activate && row.status == "RETIRED" {
        return Ok(Err(vec![FieldError::new(
            &["version"],
            UserErrorCode::InvalidState,
            "a retired version stays retired; define a new version with its definition",
        )]));
    }
    if change == StatusChange::Activate {
        evaluation_model::Entity::update_many()
            .col_expr(
                evaluation_model::Column::Status,
                sea_orm::sea_query::Expr::value("RETIRED"),
            )
            .col_expr(
                evaluation_model::Column::RetiredAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(evaluation_model::Column::Code.eq(code))
            .filter(evaluation_model::Column::Status.eq("ACTIVE"))
            .exec(&txn)
            .await?;
    }
    let mut active = row.into_active_model();
    active.status = Set(wanted.into());
    match change {
        StatusChange::Activate => active.activated_at = Set(Some(now)),
        StatusChange::Retire => active.retired_at = Set(Some(now)),
    }
    let row = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new(
                match change {
                    StatusChange::Activate => "activateEvaluationModel",
                    StatusChange::Retire => "retireEvaluationModel",
                },
                None,
            )
            .detail(serde_json::json!({"code": code, "version": version})),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(row))
}

/// The kind and industry of subjects, by id; with `lock`, their rows are also locked until the
/// transaction ends (see [`lock_subjects`]), in one statement.
pub async fn subject_profiles(
    db: &impl ConnectionTrait,
    ids: &[i64],
    lock: bool,
) -> Result<HashMap<i64, (SubjectKind, Option<String>)>, AppError> {
    let mut out = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    let backend = db.get_database_backend();
    let lock = if lock && backend == DbBackend::Postgres {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, kind, industry_code FROM subject WHERE {}{lock}",
        crate::db::id_among(backend, "id", 1)
    );
    let parameter = crate::db::json_parameter(backend, serde_json::json!(ids));
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [parameter]))
        .await?
    {
        let kind: String = row.try_get("", "kind")?;
        if let Some(kind) = SubjectKind::parse(&kind) {
            out.insert(
                row.try_get("", "id")?,
                (kind, row.try_get("", "industry_code")?),
            );
        }
    }
    Ok(out)
}

/// The facts of subjects: their ACTIVE records (neither revoked nor repaired) and ACTIVE list
/// entries, by subject id. Subjects without facts get an empty entry.
pub async fn facts_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Facts>, AppError> {
    let mut out: HashMap<i64, Facts> = ids.iter().map(|id| (*id, Facts::default())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let backend = db.get_database_backend();
    facts_where(
        db,
        &mut out,
        &crate::db::id_among(backend, "subject_id", 1),
        vec![crate::db::json_parameter(backend, serde_json::json!(ids))],
    )
    .await?;
    Ok(out)
}

/// The facts of the subjects with ids in `first..=last` (one range scan of each index, for the
/// batch evaluation, which goes through subjects in id order), for those in `ids`.
pub async fn facts_in_range(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Facts>, AppError> {
    let mut out: HashMap<i64, Facts> = ids.iter().map(|id| (*id, Facts::default())).collect();
    let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(out);
    };
    let range = match db.get_database_backend() {
        DbBackend::Postgres => "subject_id BETWEEN $1 AND $2",
        _ => "subject_id BETWEEN ?1 AND ?2",
    };
    facts_where(db, &mut out, range, vec![(*first).into(), (*last).into()]).await?;
    Ok(out)
}

/// A record fact as SQLite's aggregated read carries it: the columns of [`RECORD_FACT_COLUMNS`],
/// in order.
type RecordFactRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    NaiveDate,
    Option<NaiveDate>,
);

/// What the engine reads of a record.
const RECORD_FACT_COLUMNS: &str =
    "id, item_code, category, polarity, severity, department, decision_date, public_until";

/// A record's fact, or None for a category or polarity this build does not know.
fn record_fact(row: RecordFactRow) -> Option<RecordFact> {
    let (id, item_code, category, polarity, severity, department, decision_date, public_until) =
        row;
    Some(RecordFact {
        id,
        item_code,
        category: RecordCategory::parse(&category)?,
        polarity: Polarity::parse(&polarity)?,
        severity: severity.as_deref().and_then(Severity::parse),
        department,
        decision_date,
        public_until,
    })
}

/// Reads the facts of the subjects a condition on `subject_id` selects (bound to `values`) into
/// `out`, for the subjects it already holds.
///
/// On SQLite a subject's records come as one row, aggregated to a JSON array by the database:
/// each row a statement yields is handed from sqlx's worker thread to the caller on its own,
/// which cost ten times what reading it did (an evaluation chunk of 1000 subjects, 10,000
/// records: 39 ms, against 6 ms for the same statement in the `sqlite3` shell).
async fn facts_where(
    db: &impl ConnectionTrait,
    out: &mut HashMap<i64, Facts>,
    condition: &str,
    values: Vec<sea_orm::Value>,
) -> Result<(), AppError> {
    let backend = db.get_database_backend();
    let records = if backend == DbBackend::Postgres {
        format!(
            "SELECT subject_id, {RECORD_FACT_COLUMNS} FROM credit_record \
             WHERE {condition} AND status = 'ACTIVE'"
        )
    } else {
        format!(
            "SELECT subject_id, json_group_array(json_array({RECORD_FACT_COLUMNS})) AS facts \
             FROM credit_record WHERE {condition} AND status = 'ACTIVE' GROUP BY subject_id"
        )
    };
    for row in db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            records,
            values.clone(),
        ))
        .await?
    {
        let subject_id: i64 = row.try_get("", "subject_id")?;
        let Some(facts) = out.get_mut(&subject_id) else {
            continue;
        };
        if backend == DbBackend::Postgres {
            let fact = record_fact((
                row.try_get("", "id")?,
                row.try_get("", "item_code")?,
                row.try_get("", "category")?,
                row.try_get("", "polarity")?,
                row.try_get("", "severity")?,
                row.try_get("", "department")?,
                row.try_get("", "decision_date")?,
                row.try_get("", "public_until")?,
            ));
            facts.records.extend(fact);
        } else {
            let text: String = row.try_get("", "facts")?;
            let rows: Vec<RecordFactRow> = serde_json::from_str(&text).map_err(|e| {
                AppError::internal(format!("the records of subject {subject_id}: {e}"))
            })?;
            facts
                .records
                .extend(rows.into_iter().filter_map(record_fact));
        }
    }
    let entries = format!(
        "SELECT id, subject_id, \"list\", decided_on, \"until\" FROM list_entry \
         WHERE {condition} AND status = 'ACTIVE'"
    );
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, entries, values))
        .await?
    {
        let subject_id: i64 = row.try_get("", "subject_id")?;
        let Some(facts) = out.get_mut(&subject_id) else {
            continue;
        };
        let list: String = row.try_get("", "list")?;
        let Some(list) = ListKind::parse(&list) else {
            continue;
        };
        facts.lists.push(ListFact {
            id: row.try_get("", "id")?,
            list,
            decided_on: row.try_get("", "decided_on")?,
            until: row.try_get("", "until")?,
        });
    }
    Ok(())
}

/// Why a subject was re-rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Registered, or its kind or industry changed.
    Subject,
    /// A record was added, corrected, revoked or repaired.
    Record,
    /// A list entry was added or removed.
    List,
    /// A commitment was breached.
    Commitment,
    /// A batch evaluation run.
    Evaluation,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "SUBJECT",
            Self::Record => "RECORD",
            Self::List => "LIST",
            Self::Commitment => "COMMITMENT",
            Self::Evaluation => "EVALUATION",
        }
    }
}

/// A rating row from an evaluation.
pub fn rating_row(
    subject_id: i64,
    model: &LoadedModel,
    evaluation: &Evaluation,
    as_of: NaiveDate,
    cause: Cause,
    run_id: Option<i64>,
) -> rating::Model {
    rating::Model {
        id: 0,
        subject_id,
        model_id: model.row.id,
        model_code: model.row.code.clone(),
        model_version: model.row.version,
        score: evaluation.score,
        grade: evaluation.grade.clone(),
        grade_class: evaluation.class.as_str().to_owned(),
        supervision_level: evaluation.supervision.as_str().to_owned(),
        factors: serde_json::to_string(
            &evaluation
                .factors
                .iter()
                .map(StoredFactor::from)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_else(|_| "[]".into()),
        as_of,
        valid_until: evaluation.valid_until,
        rated_at: Utc::now(),
        cause: cause.as_str().to_owned(),
        run_id,
    }
}

/// The columns a rating row has, current or past.
const RATING_COLUMNS: [&str; 14] = [
    "subject_id",
    "model_id",
    "model_code",
    "model_version",
    "score",
    "grade",
    "grade_class",
    "supervision_level",
    "factors",
    "as_of",
    "valid_until",
    "rated_at",
    "cause",
    "run_id",
];

/// A batch of ratings as PostgreSQL's column arrays (see [`crate::db::Columns`]).
fn rating_arrays(rows: &[rating::Model]) -> crate::db::Columns {
    use crate::db::column;
    let mut columns = crate::db::Columns::default();
    columns
        .push("subject_id", "bigint", column(rows, |r| r.subject_id))
        .push("model_id", "bigint", column(rows, |r| r.model_id))
        .push("model_code", "text", column(rows, |r| r.model_code.clone()))
        .push(
            "model_version",
            "integer",
            column(rows, |r| r.model_version),
        )
        .push("score", "integer", column(rows, |r| r.score))
        .push("grade", "text", column(rows, |r| r.grade.clone()))
        .push(
            "grade_class",
            "text",
            column(rows, |r| r.grade_class.clone()),
        )
        .push(
            "supervision_level",
            "text",
            column(rows, |r| r.supervision_level.clone()),
        )
        .push("factors", "text", column(rows, |r| r.factors.clone()))
        .push("as_of", "date", column(rows, |r| r.as_of))
        .push_nullable("valid_until", "date", column(rows, |r| r.valid_until))
        .push("rated_at", "timestamptz", column(rows, |r| r.rated_at))
        .push("cause", "text", column(rows, |r| r.cause.clone()))
        .push_nullable("run_id", "bigint", column(rows, |r| r.run_id));
    columns
}

/// PostgreSQL's statement that stores a batch of ratings bound as column arrays (`rows` is their
/// `SELECT`): the upsert and the history insert as parts of one query, the history compared with
/// the ratings as they were before it.
fn store_sql(always_history: bool, rows: &str) -> String {
    let list = RATING_COLUMNS.join(", ");
    let updates = RATING_COLUMNS
        .iter()
        .filter(|n| !matches!(**n, "subject_id" | "model_code"))
        .map(|n| format!("{n} = excluded.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    // A run as of an earlier day never replaces a newer rating; a run writes each subject once
    // (the run's unique index guards it should a chunk ever be rated twice).
    let upsert_tail = format!(
        "ON CONFLICT (subject_id, model_code) DO UPDATE SET {updates} \
         WHERE rating.as_of <= excluded.as_of"
    );
    let history_tail =
        "ON CONFLICT (run_id, subject_id, model_code) WHERE run_id IS NOT NULL DO NOTHING";
    let changed = "b.subject_id IS NULL OR b.score IS DISTINCT FROM i.score \
         OR b.grade IS DISTINCT FROM i.grade OR b.model_version IS DISTINCT FROM i.model_version";
    let qualified = RATING_COLUMNS
        .iter()
        .map(|n| format!("i.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let input = format!("input AS ({rows})");
    let upsert =
        format!("upsert AS (INSERT INTO rating ({list}) SELECT {list} FROM input {upsert_tail})");
    if always_history {
        format!(
            "WITH {input}, {upsert} INSERT INTO rating_history ({list}) \
             SELECT {list} FROM input {history_tail}"
        )
    } else {
        // The main query reads `rating` in the statement's snapshot: as it was before the
        // upsert beside it.
        format!(
            "WITH {input}, {upsert} \
             INSERT INTO rating_history ({list}) SELECT {qualified} FROM input i \
             LEFT JOIN rating b ON b.subject_id = i.subject_id AND b.model_code = i.model_code \
             WHERE {changed} {history_tail}"
        )
    }
}

/// SQLite's store: the ratings being replaced are read first (the history keeps only changes),
/// then multi-row statements in runs of powers of two, so each connection prepares a handful of
/// shapes. (Unpacking a JSON parameter there costs more than binding: SQLite turns each element
/// back into text to read each field, measured at a third of the ingest benchmark's time.)
async fn store_sqlite(
    txn: &impl ConnectionTrait,
    rows: Vec<rating::Model>,
    always_history: bool,
) -> Result<(), AppError> {
    let mut before: HashMap<(i64, String), (i32, String, i32)> = HashMap::new();
    if !always_history {
        let mut ids: Vec<i64> = rows.iter().map(|r| r.subject_id).collect();
        ids.dedup();
        let sql = format!(
            "SELECT subject_id, model_code, score, grade, model_version FROM rating WHERE {}",
            crate::db::id_among(DbBackend::Sqlite, "subject_id", 1)
        );
        let parameter = crate::db::json_parameter(DbBackend::Sqlite, serde_json::json!(ids));
        for row in txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                [parameter],
            ))
            .await?
        {
            before.insert(
                (
                    row.try_get("", "subject_id")?,
                    row.try_get("", "model_code")?,
                ),
                (
                    row.try_get("", "score")?,
                    row.try_get("", "grade")?,
                    row.try_get("", "model_version")?,
                ),
            );
        }
    }
    let history: Vec<rating_history::ActiveModel> = rows
        .iter()
        .filter(|r| {
            always_history
                || before.get(&(r.subject_id, r.model_code.clone()))
                    != Some(&(r.score, r.grade.clone(), r.model_version))
        })
        .map(|r| history_row(r.clone()))
        .collect();
    let current: Vec<rating::ActiveModel> = rows
        .into_iter()
        .map(|r| {
            let mut active = r.into_active_model().reset_all();
            active.id = NotSet;
            active
        })
        .collect();
    // 14 columns × 1024 rows stay under SQLite's 32,766 parameters.
    for run in crate::db::power_of_two_runs(current.len(), 1024) {
        rating::Entity::insert_many(current[run].to_vec())
            .on_conflict(
                OnConflict::columns([rating::Column::SubjectId, rating::Column::ModelCode])
                    .update_columns([
                        rating::Column::ModelId,
                        rating::Column::ModelVersion,
                        rating::Column::Score,
                        rating::Column::Grade,
                        rating::Column::GradeClass,
                        rating::Column::SupervisionLevel,
                        rating::Column::Factors,
                        rating::Column::AsOf,
                        rating::Column::ValidUntil,
                        rating::Column::RatedAt,
                        rating::Column::Cause,
                        rating::Column::RunId,
                    ])
                    // A run as of an earlier day never replaces a newer rating.
                    .action_and_where(
                        Expr::col((rating::Entity, rating::Column::AsOf))
                            .lte(Expr::cust("excluded.as_of")),
                    )
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    for run in crate::db::power_of_two_runs(history.len(), 1024) {
        rating_history::Entity::insert_many(history[run].to_vec())
            // A run writes each subject once (the unique index guards it should a chunk ever
            // be rated twice).
            .on_conflict(
                OnConflict::columns([
                    rating_history::Column::RunId,
                    rating_history::Column::SubjectId,
                    rating_history::Column::ModelCode,
                ])
                .target_and_where(Expr::col(rating_history::Column::RunId).is_not_null())
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

fn history_row(r: rating::Model) -> rating_history::ActiveModel {
    rating_history::ActiveModel {
        id: NotSet,
        subject_id: Set(r.subject_id),
        model_id: Set(r.model_id),
        model_code: Set(r.model_code),
        model_version: Set(r.model_version),
        score: Set(r.score),
        grade: Set(r.grade),
        grade_class: Set(r.grade_class),
        supervision_level: Set(r.supervision_level),
        factors: Set(r.factors),
        as_of: Set(r.as_of),
        valid_until: Set(r.valid_until),
        rated_at: Set(r.rated_at),
        cause: Set(r.cause),
        run_id: Set(r.run_id),
    }
}

/// Writes ratings: each replaces the subject's current rating under its model, and goes into the
/// history when it differs from the one it replaces (or always, for an evaluation run).
pub async fn store(
    txn: &impl ConnectionTrait,
    rows: Vec<rating::Model>,
    always_history: bool,
) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        return store_sqlite(txn, rows, always_history).await;
    }
    let columns = rating_arrays(&rows);
    let sql = store_sql(always_history, &columns.select(1));
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        columns.into_values(),
    ))
    .await?;
    Ok(())
}

/// Locks subjects' rows until the transaction ends (PostgreSQL; SQLite's writers are already
/// serialized), so that a re-rating and an evaluation chunk touching the same subject take turns:
/// whichever comes second reads the facts the first committed.
pub async fn lock_subjects(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), AppError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    subject_profiles(txn, ids, true).await.map(drop)
}

/// Re-rates subjects under every active model that applies to them. Call it inside the
/// transaction that changed their facts, after the change.
pub async fn rerate(
    txn: &impl ConnectionTrait,
    subject_ids: &[i64],
    cause: Cause,
) -> Result<(), AppError> {
    if subject_ids.is_empty() {
        return Ok(());
    }
    let mut ids = subject_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let profiles = subject_profiles(txn, &ids, true).await?;
    let models = active_models(txn).await?;
    let facts = facts_of(txn, &ids).await?;
    let today = china_today();
    let mut rows = Vec::new();
    for id in &ids {
        let Some((kind, industry)) = profiles.get(id) else {
            continue;
        };
        let empty = Facts::default();
        let subject_facts = facts.get(id).unwrap_or(&empty);
        for model in &models {
            if model.model.applies_to(*kind, industry.as_deref()) {
                let evaluation = rules::evaluate(&model.model, subject_facts, today);
                rows.push(rating_row(*id, model, &evaluation, today, cause, None));
            }
        }
    }
    if cause == Cause::Subject {
        // A changed industry can take a subject out of a model: drop the ratings that no
        // longer apply, so supervision listings never show them.
        for model in &models {
            let gone: Vec<i64> = ids
                .iter()
                .filter(|id| {
                    profiles.get(id).is_some_and(|(kind, industry)| {
                        !model.model.applies_to(*kind, industry.as_deref())
                    })
                })
                .copied()
                .collect();
            for chunk in gone.chunks(1000) {
                rating::Entity::delete_many()
                    .filter(rating::Column::ModelCode.eq(model.row.code.as_str()))
                    .filter(rating::Column::SubjectId.is_in(chunk.iter().copied()))
                    .exec(txn)
                    .await?;
            }
        }
    }
    store(txn, rows, false).await?;
    crate::benefits::state::store(txn, &facts).await
}

/// A rating as served: stored, or computed on read when the stored one has passed its
/// `valid_until` (a fact left its window), none was stored yet, or the subject waits in the
/// rating queue (`ratings::queue`). Reads never write.
#[derive(Debug, Clone)]
pub struct ServedRating {
    pub row: rating::Model,
    /// True when computed for this read rather than read from the store.
    pub computed_on_read: bool,
}

/// The subject's current rating under a model, or none when the model does not rate subjects of
/// its kind and industry. Unknown or inactive model codes are NOT_FOUND.
pub async fn current(
    db: &impl ConnectionTrait,
    subject: &subject::Model,
    model_code: &str,
) -> Result<Option<ServedRating>, AppError> {
    let Some(model) = active_model(db, model_code).await? else {
        return Err(AppError::NotFound(format!(
            "no active evaluation model {model_code} (see `evaluationModels`)"
        )));
    };
    let Some(kind) = SubjectKind::parse(&subject.kind) else {
        return Ok(None);
    };
    if !model
        .model
        .applies_to(kind, subject.industry_code.as_deref())
    {
        return Ok(None);
    }
    let today = china_today();
    // A queued subject's stored ratings may not count its latest records yet. Asked first, in
    // its own query, so that the answer's cause says why it was computed even if the worker
    // stores the rating meanwhile.
    let queued = super::queue::is_queued(db, subject.id).await?;
    let stored = if queued {
        None
    } else {
        rating::Entity::find()
            .filter(rating::Column::SubjectId.eq(subject.id))
            .filter(rating::Column::ModelCode.eq(model_code))
            .one(db)
            .await?
    };
    if let Some(row) = stored
        && row.as_of <= today
        && row.valid_until.is_none_or(|v| v >= today)
    {
        return Ok(Some(ServedRating {
            row,
            computed_on_read: false,
        }));
    }
    let facts = facts_of(db, &[subject.id]).await?;
    let empty = Facts::default();
    let evaluation = rules::evaluate(
        &model.model,
        facts.get(&subject.id).unwrap_or(&empty),
        today,
    );
    Ok(Some(ServedRating {
        row: rating_row(
            subject.id,
            &model,
            &evaluation,
            today,
            if queued {
                Cause::Record
            } else {
                Cause::Evaluation
            },
            None,
        ),
        computed_on_read: true,
    }))
}

/// A page of a subject's rating history, newest first.
pub async fn history(
    db: &impl ConnectionTrait,
    subject_id: i64,
    model_code: Option<&str>,
    after_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<rating_history::Model>, bool, u64), AppError> {
    let mut query =
        rating_history::Entity::find().filter(rating_history::Column::SubjectId.eq(subject_id));
    if let Some(code) = model_code {
        query = query.filter(rating_history::Column::ModelCode.eq(code));
    }
    Ok(crate::db::newest_first(db, query, rating_history::Column::Id, after_id, limit).await?)
}
