//! `auditLog`: the operator reads who did what to which subject, and why.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::Role;
use crate::error::AppError;
use crate::graphql::ContextExt;
use crate::graphql::types::{
    CountedConnection, IdCursor, NodeKind, decode_global_id, global_id, page, page_size,
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
        let subject_id = match &filter.subject_id {
            None => None,
            Some(id) => match decode_global_id(id) {
                Some((NodeKind::Subject, n)) => Some(n),
                _ => {
                    return Err(AppError::bad_input(
                        "filter.subjectId",
                        "not a subject id handed out by this API",
                    )
                    .into());
                }
            },
        };
        let after_id = after
            .as_deref()
            .map(IdCursor::parse)
            .transpose()?
            .map(|c| c.0);
        let (rows, has_next, total) = super::list(
            &state.db,
            &super::AuditFilter {
                subject_id,
                organization_code: filter.organization_code,
                action: filter.action,
            },
            after_id,
            limit,
        )
        .await?;
        Ok(page(
            rows,
            |r| r.id,
            |r| AuditEntryView {
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
            after_id.is_some(),
            has_next,
            total,
        ))
    }
}
