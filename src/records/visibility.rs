//! Who may see which records (DESIGN.md, Credit records): the public sees PUBLIC records inside
//! their publicity period that are neither repaired nor revoked; departments and approval halls
//! also GOVERNMENT ones; AUTHORIZED records only the providing department and admins (until
//! consent exists); the providing department sees all of its own.

use chrono::NaiveDate;
use entity::credit_record;
use sea_orm::{ColumnTrait, Condition};

use crate::auth::{Caller, Role};

/// Whether the caller sees government-shared data.
pub fn is_government(caller: &Caller) -> bool {
    matches!(
        caller.role(),
        Some(Role::Admin | Role::Department | Role::ApprovalHall)
    )
}

/// The SQL condition of the records a caller may see on `today`.
pub fn condition(caller: &Caller, today: NaiveDate) -> Condition {
    if caller.is_admin() {
        return Condition::all();
    }
    let public = Condition::all()
        .add(credit_record::Column::Disclosure.eq("PUBLIC"))
        .add(credit_record::Column::Status.eq("ACTIVE"))
        .add(credit_record::Column::Published.eq(true))
        .add(
            Condition::any()
                .add(credit_record::Column::PublicUntil.is_null())
                .add(credit_record::Column::PublicUntil.gte(today)),
        );
    let mut visible = Condition::any().add(public);
    if is_government(caller) {
        visible = visible.add(
            Condition::all()
                .add(credit_record::Column::Disclosure.is_in(["PUBLIC", "GOVERNMENT"]))
                .add(credit_record::Column::Status.eq("ACTIVE")),
        );
    }
    if let Some(principal) = caller.principal()
        && principal.role == Role::Department
    {
        visible =
            visible.add(credit_record::Column::Department.eq(principal.organization.as_str()));
    }
    visible
}

/// The same rule for one record in memory.
pub fn can_see(caller: &Caller, record: &credit_record::Model, today: NaiveDate) -> bool {
    if caller.is_admin() {
        return true;
    }
    if let Some(p) = caller.principal()
        && p.role == Role::Department
        && p.organization == record.department
    {
        return true;
    }
    let active = record.status == "ACTIVE";
    if is_government(caller)
        && active
        && matches!(record.disclosure.as_str(), "PUBLIC" | "GOVERNMENT")
    {
        return true;
    }
    active
        && record.disclosure == "PUBLIC"
        && record.published
        && record.public_until.is_none_or(|until| until >= today)
}

/// Whether the caller may change the record: its providing department, or an admin.
pub fn can_change(caller: &Caller, record: &credit_record::Model) -> bool {
    caller.is_admin()
        || caller
            .principal()
            .is_some_and(|p| p.role == Role::Department && p.organization == record.department)
}
