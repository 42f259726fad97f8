//! `credit_state`: each subject's facts as eligibility reads them, written by every write that
//! changes them (in its transaction), and the hot-path read of a subject's state by code.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{NaiveDate, Utc};
use entity::credit_state;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use super::rules::{Facts, Grade, Negative, OnList};
use crate::catalog::{Polarity, RecordCategory};
use crate::error::AppError;
use crate::ratings::rules::{self as ratings, GradeClass};
use crate::state::AppState;
use crate::subjects::SubjectKind;

/// The eligibility facts of a subject's rating facts: list entries and negative records.
pub fn facts_of(f: &ratings::Facts) -> Facts {
    Facts {
        lists: f.lists.iter().map(|l| OnList(l.list, l.until)).collect(),
        negatives: f
            .records
            .iter()
            .filter(|r| r.polarity == Polarity::Negative)
            .filter_map(|r| {
                r.severity.map(|s| {
                    Negative(
                        s,
                        r.decision_date,
                        r.public_until,
                        r.category == RecordCategory::CommitmentBreach,
                    )
                })
            })
            .collect(),
    }
}

/// Writes the facts of these subjects (insert or replace), in the caller's transaction (on
/// PostgreSQL one statement with the batch as one JSON parameter). A subject whose stored facts
/// are already these keeps its row untouched: an evaluation run re-reads every subject's facts,
/// and most are unchanged.
pub async fn store(
    txn: &impl ConnectionTrait,
    facts: &HashMap<i64, ratings::Facts>,
) -> Result<(), AppError> {
    if facts.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let mut ids: Vec<&i64> = facts.keys().collect();
    ids.sort_unstable();
    let now = Utc::now();
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let text = serde_json::to_string(&facts_of(&facts[id]))
            .map_err(|e| AppError::internal(format!("credit state of {id}: {e}")))?;
        rows.push((*id, text));
    }
    if backend != DbBackend::Postgres {
        // Multi-row statements in runs of powers of two (SQLite reads a JSON parameter's
        // objects slowly; see `ratings::service::store`).
        let models: Vec<credit_state::ActiveModel> = rows
            .into_iter()
            .map(|(id, text)| credit_state::ActiveModel {
                subject_id: Set(id),
                facts: Set(text),
                updated_at: Set(now),
            })
            .collect();
        for run in crate::db::power_of_two_runs(models.len(), 1024) {
            credit_state::Entity::insert_many(models[run].to_vec())
                .on_conflict(
                    OnConflict::column(credit_state::Column::SubjectId)
                        .update_columns([
                            credit_state::Column::Facts,
                            credit_state::Column::UpdatedAt,
                        ])
                        .action_and_where(Expr::cust("credit_state.facts IS NOT excluded.facts"))
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        return Ok(());
    }
    let (subject_ids, texts): (Vec<i64>, Vec<String>) = rows.into_iter().unzip();
    let mut columns = crate::db::Columns::default();
    columns
        .push("subject_id", "bigint", subject_ids)
        .push("facts", "text", texts);
    let sql = format!(
        "INSERT INTO credit_state (subject_id, facts, updated_at) \
         SELECT subject_id, facts, $1::timestamptz FROM ({}) AS t \
         ON CONFLICT (subject_id) DO UPDATE SET facts = excluded.facts, \
         updated_at = excluded.updated_at WHERE credit_state.facts IS DISTINCT FROM excluded.facts",
        columns.select(2)
    );
    let mut values = vec![now.into()];
    values.extend(columns.into_values());
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Of the subjects with ids in `first..=last`, those that have a stored state.
pub async fn stored_in_range(
    db: &impl ConnectionTrait,
    first: i64,
    last: i64,
) -> Result<std::collections::HashSet<i64>, AppError> {
    Ok(credit_state::Entity::find()
        .select_only()
        .column(credit_state::Column::SubjectId)
        .filter(credit_state::Column::SubjectId.between(first, last))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// A subject as the hot path reads it.
#[derive(Debug, Clone)]
pub struct SubjectState {
    pub subject_id: i64,
    pub lookup_key: String,
    pub kind: SubjectKind,
    /// None when no write has stored them yet or the subject waits in the rating queue (the
    /// caller computes them).
    pub facts: Option<Facts>,
    /// The current rating under the asked model, with the last day it is exact; None as for
    /// `facts`, or when the model does not rate the subject.
    pub rating: Option<(Grade, Option<NaiveDate>)>,
}

/// A subject waiting in the rating queue (`ratings::queue`) has records its stored state and
/// ratings may not count yet: `queued` tells the caller to compute both. SQLite's statement;
/// without `ANALYZE` statistics (we keep none) its planner takes every table for a large one and
/// probes the indexes, whatever the tables hold.
const COLUMNS: &str = "s.id, s.lookup_key, s.kind, cs.facts, r.grade, r.grade_class, r.score, r.valid_until, \
    q.subject_id AS queued \
    FROM subject s LEFT JOIN credit_state cs ON cs.subject_id = s.id \
    LEFT JOIN rating_queue q ON q.subject_id = s.id \
    LEFT JOIN rating r ON r.subject_id = s.id AND r.model_code = ";

/// The hot statement on PostgreSQL: [`COLUMNS`]' columns, each table probed by the subject's id.
/// The keys are at most a thousand of the subjects, so probes are the right plan at any size of
/// the tables; but a session keeps the generic plan it made for a statement, and one made while
/// a table was small (the rating queue between two uploads, the ratings before the first
/// evaluation) scanned or hashed that whole table for every check once it had grown, until an
/// `ANALYZE` happened to invalidate the plan: at 1,000,000 subjects with 200,000 queued, 55 ms a
/// check instead of 0.19. Subqueries the planner cannot flatten into joins (scalar ones, and a
/// lateral one with an `OFFSET`) are run for each subject with its id, and
/// [`POSTGRES_SETTINGS`] make each of those runs an index probe. One hazard is left: on a nearly
/// empty `rating` its two indexes cost the same, and the plan may take the one that leads with
/// the model; the table only grows, autovacuum analyzes it as it does, and an evaluation run
/// analyzes it when it ends (`ratings::evaluation::work`).
const POSTGRES_READ: &str = "SELECT s.id, s.lookup_key, s.kind, \
    (SELECT cs.facts FROM credit_state cs WHERE cs.subject_id = s.id) AS facts, \
    r.grade, r.grade_class, r.score, r.valid_until, \
    (SELECT q.subject_id FROM rating_queue q WHERE q.subject_id = s.id) AS queued \
    FROM subject s LEFT JOIN LATERAL (SELECT r.grade, r.grade_class, r.score, r.valid_until \
    FROM rating r WHERE r.subject_id = s.id AND r.model_code = $2 OFFSET 0) r ON true \
    WHERE s.lookup_key = ANY($1::text[])";

/// The planner settings of every PostgreSQL session that runs [`read_sql`]: no scan of a table
/// where its index can be probed (an empty table would be scanned, at no cost then), so that no
/// plan, however small the tables were when it was made, reads more than the subjects asked
/// about. The hot path's connections open with them; [`read_many`] sets them for its statement.
pub const POSTGRES_SETTINGS: [(&str, &str); 1] = [("enable_seqscan", "off")];

/// The statements that set [`POSTGRES_SETTINGS`] for the rest of a transaction.
pub fn postgres_settings_locally() -> &'static str {
    static SET_LOCAL: LazyLock<String> = LazyLock::new(|| {
        POSTGRES_SETTINGS
            .iter()
            .map(|(name, value)| format!("SET LOCAL {name} = {value};"))
            .collect()
    });
    &SET_LOCAL
}

/// The hot path's statement on a backend: parameter 1 the look-up keys (a `text[]` on
/// PostgreSQL, a JSON array of strings on SQLite), 2 the model's code.
pub fn read_sql(backend: DbBackend) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {COLUMNS}?2 WHERE s.lookup_key IN (SELECT value FROM json_each(?1))")
    });
    match backend {
        DbBackend::Postgres => POSTGRES_READ,
        _ => &SQLITE,
    }
}

/// The hot path's statement for one key on SQLite, as `hot_path` runs it on the calling thread:
/// parameter 1 the look-up key, 2 the model's code; the columns of [`read_sql`]'s, in order.
pub fn sqlite_one_sql() -> &'static str {
    static ONE: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {COLUMNS}?2 WHERE s.lookup_key = ?1"));
    &ONE
}

/// The state of the subject stored under `key`, with its rating under `model`: one indexed
/// statement, shared with the checks that arrived meanwhile when the node is busy (see
/// `hot_path`).
pub async fn read(
    state: &AppState,
    key: &str,
    model: &str,
) -> Result<Option<SubjectState>, AppError> {
    match &state.hot_path {
        Some(hot) => hot.read(key, model).await,
        None => Ok(read_many(&state.db, &[key.to_owned()], model)
            .await?
            .remove(key)),
    }
}

/// The states of the subjects stored under `keys`, by look-up key. On PostgreSQL the statement
/// runs in a transaction of its own under [`POSTGRES_SETTINGS`]: three round trips more, on a
/// read of up to a thousand subjects from a connection of the node's pool.
pub async fn read_many(
    db: &DatabaseConnection,
    keys: &[String],
    model: &str,
) -> Result<HashMap<String, SubjectState>, AppError> {
    let mut found = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(found);
    }
    let backend = db.get_database_backend();
    let keys = if backend == DbBackend::Postgres {
        sea_orm::Value::from(keys.to_vec())
    } else {
        serde_json::to_string(keys)
            .map_err(|e| AppError::internal(format!("keys as JSON: {e}")))?
            .into()
    };
    let statement =
        Statement::from_sql_and_values(backend, read_sql(backend), [keys, model.into()]);
    let rows = if backend == DbBackend::Postgres {
        let txn = db.begin().await?;
        txn.execute_unprepared(postgres_settings_locally()).await?;
        let rows = txn.query_all_raw(statement).await?;
        txn.commit().await?;
        rows
    } else {
        db.query_all_raw(statement).await?
    };
    for row in rows {
        if let Some(state) = parse(&row)? {
            found.insert(state.lookup_key.clone(), state);
        }
    }
    Ok(found)
}

/// One row of the hot statement, as either driver reads it.
pub(crate) struct Row {
    pub id: i64,
    pub lookup_key: String,
    pub kind: String,
    pub facts: Option<String>,
    pub grade: Option<String>,
    pub grade_class: Option<String>,
    pub score: Option<i32>,
    pub valid_until: Option<NaiveDate>,
    /// The subject waits in the rating queue.
    pub queued: bool,
}

impl Row {
    /// The subject's state; None for a kind this build does not know.
    pub(crate) fn state(self) -> Result<Option<SubjectState>, AppError> {
        let Some(kind) = SubjectKind::parse(&self.kind) else {
            return Ok(None);
        };
        // A queued subject's stored state and rating are read as absent: the caller computes
        // them.
        let (facts, grade) = if self.queued {
            (None, None)
        } else {
            (self.facts, self.grade)
        };
        let facts = match facts {
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| AppError::internal(format!("stored credit state: {e}")))?,
            ),
            None => None,
        };
        let class = self.grade_class.as_deref().and_then(GradeClass::parse);
        let rating = match (grade, class, self.score) {
            (Some(grade), Some(class), Some(score)) => Some((
                Grade {
                    grade,
                    class,
                    score,
                },
                self.valid_until,
            )),
            _ => None,
        };
        Ok(Some(SubjectState {
            subject_id: self.id,
            lookup_key: self.lookup_key,
            kind,
            facts,
            rating,
        }))
    }
}

pub(crate) fn parse(row: &sea_orm::QueryResult) -> Result<Option<SubjectState>, AppError> {
    Row {
        id: row.try_get("", "id")?,
        lookup_key: row.try_get("", "lookup_key")?,
        kind: row.try_get("", "kind")?,
        facts: row.try_get("", "facts")?,
        grade: row.try_get("", "grade")?,
        grade_class: row.try_get("", "grade_class")?,
        score: row.try_get("", "score")?,
        valid_until: row.try_get("", "valid_until")?,
        queued: row.try_get::<Option<i64>>("", "queued")?.is_some(),
    }
    .state()
}
