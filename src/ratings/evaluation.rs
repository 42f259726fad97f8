//! The batch evaluation (年度公共信用综合评价): re-rates every subject a model applies to, in
//! chunks of subjects in id order, planned when the run starts (`evaluation_chunk`). A worker
//! claims a pending chunk, rates it and marks it DONE in one transaction, so a run resumes after
//! a crash without rating anyone twice. On PostgreSQL chunks are claimed with `FOR UPDATE SKIP
//! LOCKED`: any number of workers, on one node or several, share a run without waiting for each
//! other or repeating each other's work.

use chrono::{NaiveDate, Utc};
use entity::{evaluation_chunk, evaluation_run, subject};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
    sea_query::{Expr, LockBehavior, LockType},
};

use super::rules::{self, Facts};
use super::service::{self, Cause, LoadedModel};
use crate::audit::{self, Actor, AuditEntry};
use crate::error::{AppError, FieldError, UserErrorCode};
use crate::records::service::china_today;
use crate::subjects::SubjectKind;

/// Subjects per chunk (one transaction each) when the caller does not choose.
pub const CHUNK: u64 = 1000;

fn scope(model: &LoadedModel) -> Condition {
    let mut condition = Condition::all()
        .add(subject::Column::Kind.is_in(model.model.subject_kinds.iter().map(|k| k.as_str())));
    if !model.model.industries.is_empty() {
        condition =
            condition.add(subject::Column::IndustryCode.is_in(model.model.industries.clone()));
    }
    condition
}

/// Starts a run of a model's active version as of a date, in chunks of `chunk` subjects, or
/// joins the run of that model that is already going (at most one runs per model, enforced by a
/// unique index).
pub async fn start(
    db: &DatabaseConnection,
    actor: &Actor,
    model_code: &str,
    as_of: Option<NaiveDate>,
    chunk: u64,
) -> Result<Result<evaluation_run::Model, Vec<FieldError>>, AppError> {
    let today = china_today();
    let as_of = as_of.unwrap_or(today);
    if as_of > today {
        return Ok(Err(vec![FieldError::new(
            &["asOf"],
            UserErrorCode::InvalidDate,
            "an evaluation cannot be as of a day that has not come yet",
        )]));
    }
    let Some(model) = service::active_model(db, model_code).await? else {
        return Ok(Err(vec![FieldError::new(
            &["model"],
            UserErrorCode::NotFound,
            format!("no active evaluation model {model_code} (see `evaluationModels`)"),
        )]));
    };
    if let Some(running) = running(db, model_code).await? {
        return Ok(Ok(running));
    }
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let inserted = evaluation_run::ActiveModel {
        model_code: Set(model.row.code.clone()),
        model_id: Set(model.row.id),
        model_version: Set(model.row.version),
        as_of: Set(as_of),
        status: Set("RUNNING".into()),
        total: Set(0),
        done: Set(0),
        last_subject_id: Set(0),
        started_by: Set(actor
            .principal
            .as_ref()
            .map_or_else(|| "CLI".to_owned(), |p| p.organization.clone())),
        started_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
        message: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let mut run = match inserted {
        Ok(run) => run,
        // Another node started the same model between our look and our insert: join it.
        Err(e) => {
            let _ = txn.rollback().await;
            return match running(db, model_code).await? {
                Some(run) => Ok(Ok(run)),
                None => Err(e.into()),
            };
        }
    };
    plan(&txn, &run, &model, chunk).await?;
    run.total = chunk_subjects(&txn, run.id, false).await?;
    evaluation_run::Entity::update_many()
        .col_expr(evaluation_run::Column::Total, Expr::value(run.total))
        .filter(evaluation_run::Column::Id.eq(run.id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("runEvaluation", None).detail(serde_json::json!({
                "run": run.id, "model": run.model_code, "version": run.model_version,
                "asOf": run.as_of, "total": run.total,
            })),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(run))
}

/// The run of a model that is going, if any.
pub async fn running(
    db: &impl ConnectionTrait,
    model_code: &str,
) -> Result<Option<evaluation_run::Model>, AppError> {
    Ok(evaluation_run::Entity::find()
        .filter(evaluation_run::Column::ModelCode.eq(model_code))
        .filter(evaluation_run::Column::Status.eq("RUNNING"))
        .one(db)
        .await?)
}

/// One run by id.
pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<evaluation_run::Model>, AppError> {
    Ok(evaluation_run::Entity::find_by_id(id).one(db).await?)
}

/// Runs, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    model_code: Option<&str>,
    after_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<evaluation_run::Model>, bool, u64), AppError> {
    let mut query = evaluation_run::Entity::find();
    if let Some(code) = model_code {
        query = query.filter(evaluation_run::Column::ModelCode.eq(code));
    }
    Ok(crate::db::newest_first(db, query, evaluation_run::Column::Id, after_id, limit).await?)
}

/// Works on a run in the background of this node, on `runtime` (the service's, not the HTTP
/// worker that started the run), logging how it ends.
pub fn spawn(runtime: &tokio::runtime::Handle, db: DatabaseConnection, run_id: i64) {
    runtime.spawn(async move {
        match work(&db, run_id, workers(&db), |_, _| {}).await {
            Ok(run) => {
                tracing::info!(run = run.id, status = %run.status, done = run.done, "evaluation run ended")
            }
            Err(e) => tracing::error!(run = run_id, error = %e.detail(), "evaluation run paused"),
        }
    });
}

/// How many chunks a node works on at once. On PostgreSQL twice the cores, at most half the
/// pool: a chunk alternates between the service, the database and the wait for its commit to
/// reach the disk, and chunks claimed with `SKIP LOCKED` never wait for each other (measured on
/// 2 cores, 1,000,000 subjects: 2 workers 51–53 s, 3 40 s, 4 37 s, 6 34 s). On SQLite one: its
/// write transactions take turns anyway.
pub fn workers(db: &DatabaseConnection) -> usize {
    if db.get_database_backend() != DbBackend::Postgres {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let pool = db
        .get_postgres_connection_pool()
        .options()
        .get_max_connections();
    (2 * cores)
        .min(usize::try_from(pool / 2).unwrap_or(1))
        .max(1)
}

/// Every run still marked RUNNING: what a node resumes when it starts.
pub async fn unfinished(db: &impl ConnectionTrait) -> Result<Vec<evaluation_run::Model>, AppError> {
    Ok(evaluation_run::Entity::find()
        .filter(evaluation_run::Column::Status.eq("RUNNING"))
        .all(db)
        .await?)
}

/// What one attempt at a chunk came to.
enum Step {
    /// A chunk was rated and committed.
    Rated,
    /// Every pending chunk is being rated by another worker: look again shortly.
    Wait,
    /// No chunk is pending.
    Finished,
}

/// How long a worker with nothing to claim waits before looking again, while other workers
/// finish the last chunks (or their transactions end because their node died).
const WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Works on a run until it is complete, with `workers` chunks in flight, calling
/// `progress(done, total)` after each chunk. Safe to call on several nodes at once and after a
/// crash. Answers the run as it ends.
pub async fn work(
    db: &DatabaseConnection,
    run_id: i64,
    workers: usize,
    progress: impl FnMut(u64, u64) + Send,
) -> Result<evaluation_run::Model, AppError> {
    let Some(run) = find(db, run_id).await? else {
        return Err(AppError::NotFound(format!("no evaluation run {run_id}")));
    };
    let model = service::models(db, Some(&run.model_code))
        .await?
        .into_iter()
        .find(|m| m.row.id == run.model_id)
        .ok_or_else(|| AppError::internal(format!("run {run_id}: model version missing")))?;
    if run.status != "RUNNING" {
        return Ok(run);
    }
    // A run started before runs had chunks: plan what is left of it.
    let planned = evaluation_chunk::Entity::find()
        .filter(evaluation_chunk::Column::RunId.eq(run_id))
        .count(db)
        .await?;
    if planned == 0 {
        plan(db, &run, &model, CHUNK).await?;
    }
    let progress = std::sync::Mutex::new(progress);
    let worker = |_| async {
        loop {
            match chunk(db, &run, &model).await {
                Ok(Step::Rated) => {
                    let now = advance(db, run_id).await?;
                    if let Ok(mut progress) = progress.lock() {
                        progress(
                            u64::try_from(now.done).unwrap_or(0),
                            u64::try_from(now.total).unwrap_or(0),
                        );
                    }
                    if now.status != "RUNNING" {
                        return Ok(());
                    }
                }
                Ok(Step::Wait) => tokio::time::sleep(WAIT).await,
                Ok(Step::Finished) => return Ok(()),
                Err(e) => {
                    // The run stays RUNNING so that it resumes; the operator sees why it paused.
                    let _ = evaluation_run::Entity::update_many()
                        .col_expr(
                            evaluation_run::Column::Message,
                            Expr::value(format!("paused after an error: {}", e.message())),
                        )
                        .filter(evaluation_run::Column::Id.eq(run_id))
                        .exec(db)
                        .await;
                    return Err(e);
                }
            }
        }
    };
    futures_util::future::try_join_all((0..workers.max(1)).map(worker)).await?;
    let now = Utc::now();
    let done = chunk_subjects(db, run_id, true).await?;
    evaluation_run::Entity::update_many()
        .col_expr(evaluation_run::Column::Status, Expr::value("COMPLETED"))
        .col_expr(evaluation_run::Column::Done, Expr::value(done))
        .col_expr(evaluation_run::Column::FinishedAt, Expr::value(now))
        .col_expr(evaluation_run::Column::UpdatedAt, Expr::value(now))
        .filter(evaluation_run::Column::Id.eq(run_id))
        .filter(evaluation_run::Column::Status.eq("RUNNING"))
        .exec(db)
        .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // A run rewrites a rating for each subject of the scope, the first run writes them all:
        // the plans every session keeps for statements on `rating` are made again for the
        // table as it now is (the eligibility hot path's among them, see
        // `benefits::state::POSTGRES_READ`) rather than when autovacuum next gets to it.
        if let Err(e) = db.execute_unprepared("ANALYZE rating").await {
            tracing::warn!(run_id, error = %e, "ANALYZE rating after the run failed");
        }
    }
    let Some(run) = find(db, run_id).await? else {
        return Err(AppError::NotFound(format!("no evaluation run {run_id}")));
    };
    if let Ok(mut progress) = progress.lock() {
        progress(
            u64::try_from(run.done).unwrap_or(0),
            u64::try_from(run.total).unwrap_or(0),
        );
    }
    Ok(run)
}

/// Plans a run's chunks: the subjects of its model's scope after the run's `last_subject_id`,
/// in id order, `size` to a chunk. Planning twice plans the same chunks once.
async fn plan(
    db: &impl ConnectionTrait,
    run: &evaluation_run::Model,
    model: &LoadedModel,
    size: u64,
) -> Result<(), AppError> {
    let backend = db.get_database_backend();
    let numbered = subject::Entity::find()
        .select_only()
        .column(subject::Column::Id)
        .column_as(
            Expr::cust(format!(
                "(ROW_NUMBER() OVER (ORDER BY id) - 1) / {}",
                size.max(1)
            )),
            "n",
        )
        .filter(scope(model))
        .filter(subject::Column::Id.gt(run.last_subject_id))
        .build(backend);
    let (or_ignore, on_conflict) = match backend {
        DbBackend::Postgres => ("", " ON CONFLICT DO NOTHING"),
        _ => (" OR IGNORE", ""),
    };
    let sql = format!(
        "INSERT{or_ignore} INTO evaluation_chunk \
         (run_id, first_subject_id, last_subject_id, subjects, status) \
         SELECT {}, MIN(id), MAX(id), COUNT(*), 'PENDING' FROM ({}) numbered GROUP BY n{on_conflict}",
        run.id, numbered.sql
    );
    let values = numbered.values.map(|v| v.0).unwrap_or_default();
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// The subjects of a run's chunks (those DONE, with `done`).
async fn chunk_subjects(
    db: &impl ConnectionTrait,
    run_id: i64,
    done: bool,
) -> Result<i64, AppError> {
    let mut query = evaluation_chunk::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(subjects), 0) AS BIGINT)"),
            "n",
        )
        .filter(evaluation_chunk::Column::RunId.eq(run_id));
    if done {
        query = query.filter(evaluation_chunk::Column::Status.eq("DONE"));
    }
    let n: Option<i64> = query.into_tuple().one(db).await?;
    Ok(n.unwrap_or(0))
}

/// Brings a run's progress up to its DONE chunks (after a chunk committed; a crash between the
/// two is mended by the next chunk's call) and answers the run.
async fn advance(db: &DatabaseConnection, run_id: i64) -> Result<evaluation_run::Model, AppError> {
    let done = chunk_subjects(db, run_id, true).await?;
    evaluation_run::Entity::update_many()
        .col_expr(evaluation_run::Column::Done, Expr::value(done))
        .col_expr(evaluation_run::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(evaluation_run::Column::Id.eq(run_id))
        .filter(evaluation_run::Column::Status.eq("RUNNING"))
        .exec(db)
        .await?;
    find(db, run_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no evaluation run {run_id}")))
}

/// Claims the first pending chunk no other worker holds and rates it: its subjects are locked,
/// their facts read, their ratings (and any missing credit state) written and the chunk marked
/// DONE, in one transaction.
async fn chunk(
    db: &DatabaseConnection,
    run: &evaluation_run::Model,
    model: &LoadedModel,
) -> Result<Step, AppError> {
    let txn = crate::db::begin_write(db).await?;
    // SQLite has no row locks and needs none: its write transactions take turns.
    let claimed = evaluation_chunk::Entity::find()
        .filter(evaluation_chunk::Column::RunId.eq(run.id))
        .filter(evaluation_chunk::Column::Status.eq("PENDING"))
        .order_by_asc(evaluation_chunk::Column::FirstSubjectId)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&txn)
        .await?;
    let Some(claimed) = claimed else {
        txn.rollback().await?;
        let pending = evaluation_chunk::Entity::find()
            .filter(evaluation_chunk::Column::RunId.eq(run.id))
            .filter(evaluation_chunk::Column::Status.eq("PENDING"))
            .count(db)
            .await?;
        return Ok(if pending == 0 {
            Step::Finished
        } else {
            Step::Wait
        });
    };
    // The subjects, locked until the transaction ends so that a re-rating of one of them (a
    // record written meanwhile) and this chunk take turns: whichever comes second reads the
    // facts the first committed.
    let subjects: Vec<(i64, String, Option<String>)> = subject::Entity::find()
        .select_only()
        .column(subject::Column::Id)
        .column(subject::Column::Kind)
        .column(subject::Column::IndustryCode)
        .filter(scope(model))
        .filter(subject::Column::Id.between(claimed.first_subject_id, claimed.last_subject_id))
        .order_by_asc(subject::Column::Id)
        .lock(LockType::Update)
        .into_tuple()
        .all(&txn)
        .await?;
    let ids: Vec<i64> = subjects.iter().map(|s| s.0).collect();
    let mut facts = service::facts_in_range(&txn, &ids).await?;
    let empty = Facts::default();
    let mut rows = Vec::with_capacity(ids.len());
    for (id, kind, industry) in &subjects {
        let Some(kind) = SubjectKind::parse(kind) else {
            continue;
        };
        if !model.model.applies_to(kind, industry.as_deref()) {
            continue;
        }
        let evaluation = rules::evaluate(&model.model, facts.get(id).unwrap_or(&empty), run.as_of);
        rows.push(service::rating_row(
            *id,
            model,
            &evaluation,
            run.as_of,
            Cause::Evaluation,
            Some(run.id),
        ));
    }
    service::store(&txn, rows, true).await?;
    // Every write keeps its subjects' credit states, and the generator writes them for what it
    // makes; a subject without one (registered before credit states existed) gets it here.
    let stored = crate::benefits::state::stored_in_range(
        &txn,
        claimed.first_subject_id,
        claimed.last_subject_id,
    )
    .await?;
    facts.retain(|id, _| !stored.contains(id));
    crate::benefits::state::store(&txn, &facts).await?;
    evaluation_chunk::Entity::update_many()
        .col_expr(evaluation_chunk::Column::Status, Expr::value("DONE"))
        .col_expr(evaluation_chunk::Column::DoneAt, Expr::value(Utc::now()))
        .filter(evaluation_chunk::Column::Id.eq(claimed.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Step::Rated)
}
