//! The audit log writer: every write, and every read of a natural person or of non-public data,
//! appended in the same transaction as the thing it records.

pub mod graphql;
pub mod reads;

use entity::audit_log;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement,
};

use crate::auth::Principal;
use crate::error::AppError;

/// Who is acting, as the audit log records it.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub request_id: Option<String>,
    pub principal: Option<Principal>,
}

impl Actor {
    /// The actor of a command-line action (no HTTP request, no token).
    pub fn cli(action: &str) -> Self {
        Self {
            request_id: Some(format!("cli:{action}")),
            principal: None,
        }
    }
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: &'static str,
    pub subject_id: Option<i64>,
    pub purpose: Option<String>,
    pub consent_ref: Option<String>,
    pub detail: Option<serde_json::Value>,
}

impl AuditEntry {
    pub fn new(action: &'static str, subject_id: Option<i64>) -> Self {
        Self {
            action,
            subject_id,
            purpose: None,
            consent_ref: None,
            detail: None,
        }
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Appends entries for one actor; pass the transaction of the write they record.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    entries: Vec<AuditEntry>,
) -> Result<(), AppError> {
    if entries.is_empty() {
        return Ok(());
    }
    insert(db, &stamp(actor, entries)).await?;
    Ok(())
}

/// Rows per SQLite statement: 640 bound values, prepared once per shape and connection.
const SQLITE_RUN: usize = 64;

/// Inserts many rows at once. PostgreSQL takes them as one statement with the rows as column
/// arrays (prepared once per connection whatever the count); SQLite in multi-row runs of
/// powers of two up to 64 rows (a handful of small shapes in each connection's statement cache —
/// runs of 512 rows made every connection keep megabytes of compiled statements).
pub(crate) async fn insert(db: &impl ConnectionTrait, rows: &[Row]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        use crate::db::column;
        let mut columns = crate::db::Columns::default();
        columns
            .push(
                "occurred_at",
                "timestamptz",
                column(rows, |r| r.occurred_at),
            )
            .push_nullable("request_id", "text", column(rows, |r| r.request_id.clone()))
            .push_nullable("actor", "text", column(rows, |r| r.actor.clone()))
            .push_nullable(
                "organization_code",
                "text",
                column(rows, |r| r.organization_code.clone()),
            )
            .push_nullable("role", "text", column(rows, |r| r.role.map(str::to_owned)))
            .push("action", "text", column(rows, |r| r.action.to_owned()))
            .push_nullable("subject_id", "bigint", column(rows, |r| r.subject_id))
            .push_nullable("purpose", "text", column(rows, |r| r.purpose.clone()))
            .push_nullable(
                "consent_ref",
                "text",
                column(rows, |r| r.consent_ref.clone()),
            )
            .push_nullable("detail", "text", column(rows, |r| r.detail.clone()));
        let sql = format!(
            "INSERT INTO audit_log ({}) {}",
            columns.names(),
            columns.select(1)
        );
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            columns.into_values(),
        ))
        .await?;
        return Ok(());
    }
    for run in crate::db::power_of_two_runs(rows.len(), SQLITE_RUN) {
        audit_log::Entity::insert_many(rows[run].iter().cloned().map(audit_log::ActiveModel::from))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// One audit row as it is queued and written: the table's columns but the id.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    occurred_at: chrono::DateTime<chrono::Utc>,
    request_id: Option<String>,
    actor: Option<String>,
    organization_code: Option<String>,
    role: Option<&'static str>,
    action: &'static str,
    subject_id: Option<i64>,
    purpose: Option<String>,
    consent_ref: Option<String>,
    detail: Option<String>,
}

impl From<Row> for audit_log::ActiveModel {
    fn from(row: Row) -> Self {
        Self {
            occurred_at: Set(row.occurred_at),
            request_id: Set(row.request_id),
            actor: Set(row.actor),
            organization_code: Set(row.organization_code),
            role: Set(row.role.map(str::to_owned)),
            action: Set(row.action.to_owned()),
            subject_id: Set(row.subject_id),
            purpose: Set(row.purpose),
            consent_ref: Set(row.consent_ref),
            detail: Set(row.detail),
            ..Default::default()
        }
    }
}

/// The rows of one actor's entries, stamped now.
pub(crate) fn stamp(actor: &Actor, entries: Vec<AuditEntry>) -> Vec<Row> {
    let now = chrono::Utc::now();
    let principal = actor.principal.as_ref();
    entries
        .into_iter()
        .map(|e| Row {
            occurred_at: now,
            request_id: actor.request_id.clone(),
            actor: principal.map(|p| p.client_id.clone()),
            organization_code: principal.map(|p| p.organization.clone()),
            role: principal.map(|p| p.role.as_str()),
            action: e.action,
            subject_id: e.subject_id,
            purpose: e.purpose,
            consent_ref: e.consent_ref,
            detail: e.detail.map(|d| d.to_string()),
        })
        .collect()
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject_id: Option<i64>,
    pub organization_code: Option<String>,
    pub action: Option<String>,
}

/// One page of the audit log, newest first, and the total count of the filter.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: u64,
) -> Result<(Vec<audit_log::Model>, bool, u64), AppError> {
    let mut query = audit_log::Entity::find();
    if let Some(subject) = filter.subject_id {
        query = query.filter(audit_log::Column::SubjectId.eq(subject));
    }
    if let Some(org) = &filter.organization_code {
        query = query.filter(audit_log::Column::OrganizationCode.eq(org.as_str()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    Ok(crate::db::newest_first(db, query, audit_log::Column::Id, before_id, limit).await?)
}
