//! The batch evaluation (年度公共信用综合评价): re-rates every subject a model applies to, in
//! chunks in subject-id order. Each chunk's ratings and the run's progress commit together, and
//! the chunk claims its range by compare-and-set on the run's progress, so a run resumes after a
//! crash without rating anyone twice, and two nodes working on one run never repeat each other.

use chrono::{NaiveDate, Utc};
use entity::{evaluation_run, subject};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
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

/// Starts a run of a model's active version as of a date, or joins the run of that model that
/// is already going (at most one runs per model, enforced by a unique index).
pub async fn start(
    db: &DatabaseConnection,
    actor: &Actor,
    model_code: &str,
    as_of: Option<NaiveDate>,
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
    let total = subject::Entity::find()
        .filter(scope(&model))
        .count(db)
        .await?;
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let inserted = evaluation_run::ActiveModel {
        model_code: Set(model.row.code.clone()),
        model_id: Set(model.row.id),
        model_version: Set(model.row.version),
        as_of: Set(as_of),
        status: Set("RUNNING".into()),
        total: Set(total as i64),
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
    let run = match inserted {
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

/// Works on a run in the background of this node, logging how it ends.
pub fn spawn(db: DatabaseConnection, run_id: i64) {
    tokio::spawn(async move {
        match work(&db, run_id, CHUNK, |_, _| {}).await {
            Ok(run) => {
                tracing::info!(run = run.id, status = %run.status, done = run.done, "evaluation run ended")
            }
            Err(e) => tracing::error!(run = run_id, error = %e.detail(), "evaluation run paused"),
        }
    });
}

/// Every run still marked RUNNING: what a node resumes when it starts.
pub async fn unfinished(db: &impl ConnectionTrait) -> Result<Vec<evaluation_run::Model>, AppError> {
    Ok(evaluation_run::Entity::find()
        .filter(evaluation_run::Column::Status.eq("RUNNING"))
        .all(db)
        .await?)
}

/// Works on a run until it is complete, `chunk` subjects per transaction, calling
/// `progress(done, total)` after each chunk. Safe to call on several nodes at once and after a
/// crash. Answers the run as it ends.
pub async fn work(
    db: &DatabaseConnection,
    run_id: i64,
    chunk_size: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<evaluation_run::Model, AppError> {
    let Some(run) = find(db, run_id).await? else {
        return Err(AppError::NotFound(format!("no evaluation run {run_id}")));
    };
    let model = service::models(db, Some(&run.model_code))
        .await?
        .into_iter()
        .find(|m| m.row.id == run.model_id)
        .ok_or_else(|| AppError::internal(format!("run {run_id}: model version missing")))?;
    let condition = scope(&model);
    loop {
        let Some(run) = find(db, run_id).await? else {
            return Err(AppError::NotFound(format!("no evaluation run {run_id}")));
        };
        progress(
            u64::try_from(run.done).unwrap_or(0),
            u64::try_from(run.total).unwrap_or(0),
        );
        if run.status != "RUNNING" {
            return Ok(run);
        }
        match chunk(db, &run, &model, condition.clone(), Ord::max(chunk_size, 1)).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let now = Utc::now();
                evaluation_run::Entity::update_many()
                    .col_expr(evaluation_run::Column::Status, Expr::value("COMPLETED"))
                    .col_expr(evaluation_run::Column::FinishedAt, Expr::value(now))
                    .col_expr(evaluation_run::Column::UpdatedAt, Expr::value(now))
                    .filter(evaluation_run::Column::Id.eq(run_id))
                    .filter(evaluation_run::Column::Status.eq("RUNNING"))
                    .exec(db)
                    .await?;
            }
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
}

/// Rates the next chunk after the run's progress. None when nothing is left; Some(n) when n
/// subjects were rated (0 when another node took this chunk first).
async fn chunk(
    db: &DatabaseConnection,
    run: &evaluation_run::Model,
    model: &LoadedModel,
    condition: Condition,
    size: u64,
) -> Result<Option<u64>, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let subjects: Vec<(i64, String, Option<String>)> = subject::Entity::find()
        .select_only()
        .column(subject::Column::Id)
        .column(subject::Column::Kind)
        .column(subject::Column::IndustryCode)
        .filter(condition)
        .filter(subject::Column::Id.gt(run.last_subject_id))
        .order_by_asc(subject::Column::Id)
        .limit(size)
        .into_tuple()
        .all(&txn)
        .await?;
    let Some(last) = subjects.last().map(|s| s.0) else {
        return Ok(None);
    };
    // Claim the range: only the transaction that moves the progress from where we read it on
    // gets to write; a concurrent worker finds 0 rows and re-reads.
    let claimed = evaluation_run::Entity::update_many()
        .col_expr(evaluation_run::Column::LastSubjectId, Expr::value(last))
        .col_expr(
            evaluation_run::Column::Done,
            Expr::col(evaluation_run::Column::Done).add(subjects.len() as i64),
        )
        .col_expr(evaluation_run::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(evaluation_run::Column::Id.eq(run.id))
        .filter(evaluation_run::Column::LastSubjectId.eq(run.last_subject_id))
        .filter(evaluation_run::Column::Status.eq("RUNNING"))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(Some(0));
    }
    let ids: Vec<i64> = subjects.iter().map(|s| s.0).collect();
    service::lock_subjects(&txn, &ids).await?;
    let facts = service::facts_in_range(&txn, &ids).await?;
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
    crate::benefits::state::store(&txn, &facts).await?;
    txn.commit().await?;
    Ok(Some(ids.len() as u64))
}
