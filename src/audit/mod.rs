//! The audit log writer: every write, and every read of a natural person or of non-public data,
//! appended in the same transaction as the thing it records.

pub mod graphql;
pub mod reads;

use entity::audit_log;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

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
    let rows = rows(actor, entries);
    audit_log::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The rows of one actor's entries, stamped now.
pub(crate) fn rows(actor: &Actor, entries: Vec<AuditEntry>) -> Vec<audit_log::ActiveModel> {
    let now = chrono::Utc::now();
    entries
        .into_iter()
        .map(|e| audit_log::ActiveModel {
            occurred_at: Set(now),
            request_id: Set(actor.request_id.clone()),
            actor: Set(actor.principal.as_ref().map(|p| p.client_id.clone())),
            organization_code: Set(actor.principal.as_ref().map(|p| p.organization.clone())),
            role: Set(actor.principal.as_ref().map(|p| p.role.as_str().to_owned())),
            action: Set(e.action.to_owned()),
            subject_id: Set(e.subject_id),
            purpose: Set(e.purpose),
            consent_ref: Set(e.consent_ref),
            detail: Set(e.detail.map(|d| d.to_string())),
            ..Default::default()
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
