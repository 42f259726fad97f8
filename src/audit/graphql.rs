//! `auditLog`: the operator reads who did what to which subject, and why.

use async_graphql::{
    Context, ID, InputObject, Object, SimpleObject,
    connection::{Connection, Edge},
};
use chrono::{DateTime, Utc};
use entity::audit_log;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::Role;
use crate::error::AppError;
use crate::graphql::ContextExt;
use crate::graphql::types::{
    ConnectionTotals, CountedConnection, IdCursor, NodeKind, decode_global_id, global_id, page_size,
};

/// One audited action.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "AuditEntry")]
pub struct AuditEntryView {
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The x-request-id of the HTTP request (or `cli:…` for command-line actions).
    pub request_id: Option<String>,
    /// The client id of the caller; null for anonymous callers and the command line.
    pub actor: Option<String>,
    /// The caller's organization code.
    pub organization_code: Option<String>,
    /// The caller's role.
    pub role: Option<String>,
    /// What was done, e.g. `registerSubject`, `updateSubject`, `readPerson`.
    pub action: String,
    /// Global id of the subject concerned, if any.
    pub subject_id: Option<ID>,
    /// The purpose the caller named, where one is required.
    pub purpose: Option<String>,
    /// The consent the read relied on, where one is required.
    pub consent_ref: Option<String>,
    /// Details as JSON text (changed fields, waiver reasons …); never an ID number in the clear.
    pub detail: Option<String>,
}

/// Which audit entries to list.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Only entries about this subject (its global id).
    pub subject_id: Option<ID>,
    /// Only entries by callers of this organization.
    pub organization_code: Option<String>,
    /// Only entries of this action.
    pub action: Option<String>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first. ADMIN only (scope `audit:read`).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which entries to list; all when omitted.")] filter: Option<
            AuditLogFilter,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last entry of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<AuditEntryView>> {
        ctx.caller()
            .require("auditLog", &[Role::Admin], "audit:read")?;
        let state = ctx.state()?;
        let limit = page_size(first)?;
        let filter = filter.unwrap_or_default();
        let mut query = audit_log::Entity::find();
        if let Some(id) = &filter.subject_id {
            let subject = match decode_global_id(id) {
                Some((NodeKind::Subject, n)) => n,
                _ => {
                    return Err(AppError::bad_input(
                        "filter.subjectId",
                        "not a subject id handed out by this API",
                    )
                    .into());
                }
            };
            query = query.filter(audit_log::Column::SubjectId.eq(subject));
        }
        if let Some(org) = &filter.organization_code {
            query = query.filter(audit_log::Column::OrganizationCode.eq(org.as_str()));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_log::Column::Action.eq(action.as_str()));
        }
        let total = query
            .clone()
            .count(&state.db)
            .await
            .map_err(AppError::from)?;
        if let Some(after) = after {
            let cursor = IdCursor::parse(&after)?;
            query = query.filter(audit_log::Column::Id.lt(cursor.0));
        }
        let rows = query
            .order_by_desc(audit_log::Column::Id)
            .limit(limit + 1)
            .all(&state.db)
            .await
            .map_err(AppError::from)?;
        let has_next = rows.len() as u64 > limit;
        let mut connection = Connection::with_additional_fields(
            false,
            has_next,
            ConnectionTotals { total_count: total },
        );
        connection.edges = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| {
                Edge::new(
                    IdCursor(r.id),
                    AuditEntryView {
                        occurred_at: r.occurred_at,
                        request_id: r.request_id,
                        actor: r.actor,
                        organization_code: r.organization_code,
                        role: r.role,
                        action: r.action,
                        subject_id: r.subject_id.map(|id| global_id(NodeKind::Subject, id)),
                        purpose: r.purpose,
                        consent_ref: r.consent_ref,
                        detail: r.detail,
                    },
                )
            })
            .collect();
        Ok(connection)
    }
}
