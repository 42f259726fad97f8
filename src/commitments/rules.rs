//! The rules of a commitment that need no database: what a recorder must send, when it may be
//! verified, and what makes two sends of the same `externalId` the same commitment.

use chrono::{Months, NaiveDate};

use super::CommitmentKind;
use crate::error::{FieldError, UserErrorCode, text_rule};

/// The longest `externalId`.
pub const MAX_EXTERNAL_ID: usize = 128;
/// How far ahead a verification date may lie.
pub const MAX_VERIFY_MONTHS: u32 = 60;

/// A commitment as its recorder sends it, the subject already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub external_id: String,
    pub kind: CommitmentKind,
    pub matter: String,
    pub content: String,
    /// When it was made; `None` means today.
    pub made_on: Option<NaiveDate>,
    pub verify_by: NaiveDate,
    /// The responsible department's code.
    pub department: String,
}

/// Every rule of a draft that needs no database, given today's date in China.
pub fn check(draft: &Draft, today: NaiveDate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    text_rule(
        "externalId",
        &draft.external_id,
        MAX_EXTERNAL_ID,
        &mut errors,
    );
    if draft.external_id.chars().any(char::is_control) {
        errors.push(FieldError::new(
            &["externalId"],
            UserErrorCode::InvalidFormat,
            "externalId may not contain control characters",
        ));
    }
    text_rule("matter", &draft.matter, 200, &mut errors);
    text_rule("content", &draft.content, 4000, &mut errors);
    text_rule("department", &draft.department, 64, &mut errors);
    let made_on = draft.made_on.unwrap_or(today);
    if made_on > today {
        errors.push(FieldError::new(
            &["madeOn"],
            UserErrorCode::InvalidDate,
            format!("madeOn {made_on} is in the future"),
        ));
    }
    if draft.verify_by < made_on {
        errors.push(FieldError::new(
            &["verifyBy"],
            UserErrorCode::InvalidDate,
            format!(
                "verifyBy {} is before the commitment was made ({made_on})",
                draft.verify_by
            ),
        ));
    } else if today
        .checked_add_months(Months::new(MAX_VERIFY_MONTHS))
        .is_some_and(|latest| draft.verify_by > latest)
    {
        errors.push(FieldError::new(
            &["verifyBy"],
            UserErrorCode::OutOfRange,
            format!("verifyBy may be at most {MAX_VERIFY_MONTHS} months ahead"),
        ));
    }
    errors
}

/// SHA-256 (hex) of what a recorder sent for a subject: the same `externalId` with the same
/// hash is a retry, with another hash a different commitment (CONFLICT). Texts are trimmed, so
/// a retry that differs only in surrounding blanks is still the same commitment.
pub fn content_hash(subject_id: i64, draft: &Draft) -> String {
    crate::digest::fingerprint([
        subject_id.to_string().as_str(),
        draft.kind.as_str(),
        draft.matter.trim(),
        draft.content.trim(),
        &draft.made_on.map(|d| d.to_string()).unwrap_or_default(),
        &draft.verify_by.to_string(),
        draft.department.trim(),
    ])
}

/// Checks a verification date: not in the future, not before the commitment was made.
pub fn check_verified_on(
    verified_on: NaiveDate,
    made_on: NaiveDate,
    today: NaiveDate,
) -> Option<FieldError> {
    if verified_on > today {
        Some(FieldError::new(
            &["verifiedOn"],
            UserErrorCode::InvalidDate,
            format!("verifiedOn {verified_on} is in the future"),
        ))
    } else if verified_on < made_on {
        Some(FieldError::new(
            &["verifiedOn"],
            UserErrorCode::InvalidDate,
            format!("verifiedOn {verified_on} is before the commitment was made ({made_on})"),
        ))
    } else {
        None
    }
}

/// Whether a pending commitment is overdue on `today`: its verification date has passed.
pub fn is_overdue(status: &str, verify_by: NaiveDate, today: NaiveDate) -> bool {
    status == super::CommitmentStatus::PendingVerification.as_str() && verify_by < today
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn draft() -> Draft {
        Draft {
            external_id: "HALL-2026-0001".into(),
            kind: CommitmentKind::CertificationNotification,
            matter: "食品经营许可".into(),
            content: "本单位承诺所提交材料真实有效。".into(),
            made_on: None,
            verify_by: date("2026-12-31"),
            department: "MARKET_REGULATION".into(),
        }
    }

    #[test]
    fn a_good_draft_passes() {
        assert!(check(&draft(), date("2026-11-25")).is_empty());
    }

    #[test]
    fn each_rule_names_its_field() {
        let today = date("2026-11-25");
        let mut d = draft();
        d.external_id = " ".into();
        d.content = "x".repeat(4001);
        d.verify_by = date("2026-11-24");
        let fields: Vec<(String, UserErrorCode)> = check(&d, today)
            .into_iter()
            .map(|e| (e.field.join("."), e.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("externalId".into(), UserErrorCode::Required),
                ("content".into(), UserErrorCode::TooLong),
                ("verifyBy".into(), UserErrorCode::InvalidDate),
            ]
        );
    }

    #[test]
    fn verification_date_edges() {
        let today = date("2026-11-25");
        let mut d = draft();
        d.verify_by = today;
        assert!(check(&d, today).is_empty(), "due today is allowed");
        d.verify_by = date("2031-11-25");
        assert!(check(&d, today).is_empty(), "exactly 60 months ahead");
        d.verify_by = date("2031-11-26");
        assert_eq!(check(&d, today)[0].code, UserErrorCode::OutOfRange);
        d.verify_by = date("2026-12-01");
        d.made_on = Some(date("2026-11-26"));
        assert_eq!(check(&d, today)[0].field, vec!["madeOn".to_owned()]);
    }

    #[test]
    fn overdue_only_when_pending_and_past() {
        let today = date("2026-11-25");
        assert!(!is_overdue("PENDING_VERIFICATION", today, today));
        assert!(is_overdue(
            "PENDING_VERIFICATION",
            date("2026-11-24"),
            today
        ));
        assert!(!is_overdue("FULFILLED", date("2026-11-24"), today));
    }

    #[test]
    fn verified_on_edges() {
        let made = date("2026-11-01");
        let today = date("2026-11-25");
        assert!(check_verified_on(made, made, today).is_none());
        assert!(check_verified_on(today, made, today).is_none());
        assert!(check_verified_on(date("2026-10-31"), made, today).is_some());
        assert!(check_verified_on(date("2026-11-26"), made, today).is_some());
    }

    proptest! {
        /// A retry that differs only in blanks around its texts is the same commitment; any
        /// change of substance is another.
        #[test]
        fn hash_tells_retries_from_changes(pad in "[ \t]{0,3}", extra in "[a-z]{1,5}") {
            let d = draft();
            let mut padded = d.clone();
            padded.matter = format!("{pad}{}{pad}", d.matter);
            padded.content = format!("{pad}{}", d.content);
            prop_assert_eq!(content_hash(7, &d), content_hash(7, &padded));
            let mut changed = d.clone();
            changed.content = format!("{}{extra}", d.content);
            prop_assert_ne!(content_hash(7, &d), content_hash(7, &changed));
            prop_assert_ne!(content_hash(7, &d), content_hash(8, &d));
        }
    }
}
