//! The GraphQL adapter of lists: `lists`, `addListEntry`, `removeListEntry`, `ListEntry`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::list_entry;

use super::ListKind;
use super::service::{self, NewEntry};
use crate::auth::Role;
use crate::error::{FieldError, UserErrorCode};
use crate::graphql::ContextExt;
use crate::graphql::types::{
    CountedConnection, IdCursor, NodeKind, UserError, decode_global_id, global_id, page, page_size,
};
use crate::subjects::SubjectKind;
use crate::subjects::service as subjects;

/// An entry of a subject on a list.
pub struct ListEntry(pub list_entry::Model);

/// An entry of a subject on a list (RED, SERIOUS_DISHONESTY or KEY_ATTENTION).
#[Object]
impl ListEntry {
    /// Opaque global id; pass it to `removeListEntry`.
    pub async fn id(&self) -> ID {
        global_id(NodeKind::ListEntry, self.0.id)
    }

    /// The list.
    async fn list(&self) -> Option<ListKind> {
        ListKind::parse(&self.0.list)
    }

    /// Why the subject is on it.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The legal basis of the listing.
    async fn legal_basis(&self) -> &str {
        &self.0.legal_basis
    }

    /// The deciding department's code.
    async fn department(&self) -> &str {
        &self.0.department
    }

    /// When it was decided.
    async fn decided_on(&self) -> NaiveDate {
        self.0.decided_on
    }

    /// The last day it applies; null without an end.
    async fn until(&self) -> Option<NaiveDate> {
        self.0.until
    }

    /// ACTIVE, REMOVED or REPAIRED.
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// Why it was removed.
    async fn removed_reason(&self) -> Option<&str> {
        self.0.removed_reason.as_deref()
    }

    /// When it was removed.
    async fn removed_at(&self) -> Option<DateTime<Utc>> {
        self.0.removed_at
    }

    /// The subject on the list.
    async fn subject(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::subjects::graphql::Subject>> {
        Ok(
            crate::subjects::loader::visible_subject(ctx, self.0.subject_id)
                .await?
                .map(crate::subjects::graphql::Subject),
        )
    }
}

#[derive(Default)]
pub struct ListsQuery;

#[Object]
impl ListsQuery {
    /// The entries in force on a list, newest first. RED and SERIOUS_DISHONESTY are public;
    /// KEY_ATTENTION is for ADMIN, DEPARTMENT and APPROVAL_HALL callers (others get FORBIDDEN).
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn lists(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which list.")] list: ListKind,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<CountedConnection<ListEntry>> {
        let state = ctx.state()?;
        let limit = page_size(first)?;
        let after_id = after
            .as_deref()
            .map(IdCursor::parse)
            .transpose()?
            .map(|c| c.0);
        let Some((rows, has_next, total)) =
            service::list(&state.db, ctx.caller(), list, after_id, limit).await?
        else {
            return Err(crate::error::AppError::Forbidden(
                "lists: KEY_ATTENTION is for ADMIN, DEPARTMENT and APPROVAL_HALL callers".into(),
            )
            .into());
        };
        Ok(page(
            rows,
            |m| m.id,
            ListEntry,
            after_id.is_some(),
            has_next,
            total,
        ))
    }
}

/// The input of `addListEntry`.
#[derive(InputObject)]
pub struct AddListEntryInput {
    /// The subject's USCC or resident ID.
    pub subject_code: String,
    /// HOUSEHOLD when `subjectCode` is a householder's resident ID.
    pub subject_kind: Option<SubjectKind>,
    /// The list.
    pub list: ListKind,
    /// Why (认定事由).
    pub reason: String,
    /// The legal basis (认定依据).
    pub legal_basis: String,
    /// The date of the decision.
    pub decided_on: NaiveDate,
    /// The last day the entry applies; null without an end.
    pub until: Option<NaiveDate>,
}

/// The input of `removeListEntry`.
#[derive(InputObject)]
pub struct RemoveListEntryInput {
    /// The entry's id.
    pub id: ID,
    /// Why it is removed.
    pub reason: String,
}

/// The answer of `addListEntry` and `removeListEntry`.
#[derive(SimpleObject)]
pub struct ListEntryPayload {
    /// The entry as it is now; null when refused.
    pub entry: Option<ListEntry>,
    /// Why it was refused.
    pub user_errors: Vec<UserError>,
}

fn refused(errors: Vec<FieldError>) -> ListEntryPayload {
    ListEntryPayload {
        entry: None,
        user_errors: errors.into_iter().map(UserError::from).collect(),
    }
}

#[derive(Default)]
pub struct ListsMutation;

#[Object]
impl ListsMutation {
    /// Puts a subject on a list, for the caller's department. For DEPARTMENT and ADMIN.
    async fn add_list_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subject, the list and the decision.")] input: AddListEntryInput,
    ) -> async_graphql::Result<ListEntryPayload> {
        ctx.caller().require(
            "addListEntry",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let subject = match subjects::registered(
            &state.db,
            &state.person_keys,
            &input.subject_code,
            input.subject_kind,
        )
        .await?
        {
            Ok(s) => s,
            Err(e) => return Ok(refused(vec![e])),
        };
        let entry = NewEntry {
            subject_id: subject.id,
            list: input.list,
            reason: input.reason,
            legal_basis: input.legal_basis,
            decided_on: input.decided_on,
            until: input.until,
        };
        Ok(match service::add(&state.db, &ctx.actor(), entry).await? {
            Ok(m) => ListEntryPayload {
                entry: Some(ListEntry(m)),
                user_errors: Vec::new(),
            },
            Err(errors) => refused(errors),
        })
    }

    /// Takes a subject off a list, keeping the entry as REMOVED with the reason. For the
    /// department that added it and ADMIN.
    async fn remove_list_entry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entry and the reason.")] input: RemoveListEntryInput,
    ) -> async_graphql::Result<ListEntryPayload> {
        ctx.caller().require(
            "removeListEntry",
            &[Role::Admin, Role::Department],
            "subjects:write",
        )?;
        let state = ctx.state()?;
        let Some((NodeKind::ListEntry, id)) = decode_global_id(&input.id) else {
            return Ok(refused(vec![FieldError::new(
                &["id"],
                UserErrorCode::NotFound,
                "no entry has this id",
            )]));
        };
        Ok(
            match service::remove(&state.db, ctx.caller(), &ctx.actor(), id, &input.reason).await? {
                Ok(m) => ListEntryPayload {
                    entry: Some(ListEntry(m)),
                    user_errors: Vec::new(),
                },
                Err(errors) => refused(errors),
            },
        )
    }
}
