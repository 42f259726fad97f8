//! Adding, removing and reading list entries.

use chrono::{NaiveDate, Utc};
use entity::list_entry;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::ListKind;
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::{Caller, Role};
use crate::error::{AppError, FieldError, UserErrorCode, text_rule};
use crate::ratings::service::{self as ratings, Cause};
use crate::records::service::china_today;
use crate::records::visibility::is_government;

/// A new entry, validated by `add`.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub subject_id: i64,
    pub list: ListKind,
    pub reason: String,
    pub legal_basis: String,
    pub decided_on: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// Checks an entry's own rules.
pub fn check(entry: &NewEntry, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    text_rule("reason", &entry.reason, 2000, &mut errors);
    text_rule("legalBasis", &entry.legal_basis, 2000, &mut errors);
    if entry.decided_on > today {
        errors.push(FieldError::new(
            &["decidedOn"],
            UserErrorCode::InvalidDate,
            "the decision date is in the future",
        ));
    }
    if let Some(until) = entry.until
        && until < entry.decided_on
    {
        errors.push(FieldError::new(
            &["until"],
            UserErrorCode::InvalidDate,
            "until is before the decision date",
        ));
    }
    errors
}

/// Adds an entry for the caller's organization, audited in the same transaction.
pub async fn add(
    db: &DatabaseConnection,
    actor: &Actor,
    entry: NewEntry,
) -> Result<Result<list_entry::Model, Vec<FieldError>>, AppError> {
    let errors = check(&entry, china_today());
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let department = actor
        .principal
        .as_ref()
        .map_or_else(|| "PLATFORM".to_owned(), |p| p.organization.clone());
    let txn = crate::db::begin_write(db).await?;
    let duplicate = list_entry::Entity::find()
        .filter(list_entry::Column::SubjectId.eq(entry.subject_id))
        .filter(list_entry::Column::List.eq(entry.list.as_str()))
        .filter(list_entry::Column::Department.eq(department.as_str()))
        .filter(list_entry::Column::Status.eq("ACTIVE"))
        .one(&txn)
        .await?;
    if duplicate.is_some() {
        return Ok(Err(vec![FieldError::new(
            &["list"],
            UserErrorCode::Conflict,
            format!(
                "the subject is already on {} by {department}",
                entry.list.as_str()
            ),
        )]));
    }
    let saved = list_entry::ActiveModel {
        subject_id: Set(entry.subject_id),
        list: Set(entry.list.as_str().to_owned()),
        reason: Set(entry.reason.trim().to_owned()),
        legal_basis: Set(entry.legal_basis.trim().to_owned()),
        department: Set(department),
        decided_on: Set(entry.decided_on),
        until: Set(entry.until),
        status: Set("ACTIVE".to_owned()),
        removed_reason: Set(None),
        removed_at: Set(None),
        request_id: Set(actor.request_id.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("addListEntry", Some(saved.subject_id))
                .detail(json!({"entryId": saved.id, "list": saved.list})),
        ],
    )
    .await?;
    ratings::rerate(&txn, &[saved.subject_id], Cause::List).await?;
    txn.commit().await?;
    Ok(Ok(saved))
}

/// Removes an entry (by the department that added it, or an admin), keeping it as REMOVED.
pub async fn remove(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Result<list_entry::Model, Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    text_rule("reason", reason, 2000, &mut errors);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let found = list_entry::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|e| {
            caller.is_admin()
                || caller
                    .principal()
                    .is_some_and(|p| p.role == Role::Department && p.organization == e.department)
        });
    let Some(entry) = found else {
        return Ok(Err(vec![FieldError::new(
            &["id"],
            UserErrorCode::NotFound,
            "no entry of your department has this id",
        )]));
    };
    if entry.status != "ACTIVE" {
        return Ok(Err(vec![FieldError::new(
            &["id"],
            UserErrorCode::NotAllowed,
            format!("the entry is already {}", entry.status),
        )]));
    }
    let mut active: list_entry::ActiveModel = entry.into();
    active.status = Set("REMOVED".to_owned());
    active.removed_reason = Set(Some(reason.trim().to_owned()));
    active.removed_at = Set(Some(Utc::now()));
    let saved = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("removeListEntry", Some(saved.subject_id))
                .detail(json!({"entryId": saved.id, "list": saved.list, "reason": reason.trim()})),
        ],
    )
    .await?;
    ratings::rerate(&txn, &[saved.subject_id], Cause::List).await?;
    txn.commit().await?;
    Ok(Ok(saved))
}

/// Entries in force on `today`: active and not past `until`.
fn in_force(today: NaiveDate) -> Condition {
    Condition::all()
        .add(list_entry::Column::Status.eq("ACTIVE"))
        .add(
            Condition::any()
                .add(list_entry::Column::Until.is_null())
                .add(list_entry::Column::Until.gte(today)),
        )
}

/// The entries of a list the caller may see, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &Caller,
    kind: ListKind,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Option<(Vec<list_entry::Model>, bool, u64)>, AppError> {
    if !kind.is_public() && !is_government(caller) {
        return Ok(None);
    }
    let base = list_entry::Entity::find()
        .filter(list_entry::Column::List.eq(kind.as_str()))
        .filter(in_force(china_today()));
    let total = base.clone().count(db).await?;
    let mut page = base.order_by_desc(list_entry::Column::Id);
    if let Some(after) = after_id {
        page = page.filter(list_entry::Column::Id.lt(after));
    }
    let mut rows = page.limit(limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(Some((rows, has_next, total)))
}

/// A subject's entries the caller may see: the public sees public lists in force; government
/// roles every list in force; admins and the adding department also removed entries.
pub async fn for_subject(
    db: &impl ConnectionTrait,
    caller: &Caller,
    subject_id: i64,
) -> Result<Vec<list_entry::Model>, AppError> {
    let rows = list_entry::Entity::find()
        .filter(list_entry::Column::SubjectId.eq(subject_id))
        .order_by_desc(list_entry::Column::Id)
        .all(db)
        .await?;
    let today = china_today();
    Ok(rows
        .into_iter()
        .filter(|e| {
            let own = caller.is_admin()
                || caller
                    .principal()
                    .is_some_and(|p| p.role == Role::Department && p.organization == e.department);
            let current = e.status == "ACTIVE" && e.until.is_none_or(|u| u >= today);
            let public = ListKind::parse(&e.list).is_some_and(ListKind::is_public);
            own || (current && (public || is_government(caller)))
        })
        .collect())
}

/// An entry by id, if the caller may see it.
pub async fn find_visible(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: i64,
) -> Result<Option<list_entry::Model>, AppError> {
    let Some(entry) = list_entry::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let visible = for_subject(db, caller, entry.subject_id)
        .await?
        .into_iter()
        .any(|e| e.id == entry.id);
    Ok(visible.then_some(entry))
}
