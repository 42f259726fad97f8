//! The one application error and the closed set of codes clients can match on.
//!
//! Internal detail (database messages, SQL, I/O errors) is logged with the request id and never
//! returned: `From<DbErr>` keeps the text for the log and gives clients only a code.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// The codes of top-level GraphQL errors (`extensions.code`), stable for clients to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    NotFound,
    Conflict,
    RateLimited,
    MaxCostExceeded,
    ServiceUnavailable,
    Timeout,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::MaxCostExceeded => "MAX_COST_EXCEEDED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Timeout => "TIMEOUT",
            Self::Internal => "INTERNAL",
        }
    }
}

/// Everything that can go wrong while serving a request.
///
/// Deliberately not `Display`: async-graphql converts any `Display` type into an error without
/// `extensions.code`, so `?` on an `AppError` would lose the code. The conversion below keeps it.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated(String),
    Forbidden(String),
    /// Bad input to a query (mutations report theirs as userErrors). `field` names the argument.
    BadUserInput {
        field: String,
        message: String,
    },
    NotFound(String),
    Conflict(String),
    /// The database cannot be reached; the caller should retry later.
    Unavailable,
    /// Something failed inside; the detail is only in the log, never in `message`.
    Internal(String),
}

impl AppError {
    /// The message a client may see: never internal detail.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m) => m.clone(),
            Self::BadUserInput { message, .. } => message.clone(),
            Self::Unavailable => {
                "the service cannot reach its database right now; retry shortly".into()
            }
            Self::Internal(_) => {
                "an internal error occurred; quote the request id when reporting it".into()
            }
        }
    }

    /// The full text for logs and the command line, internal detail included.
    pub fn detail(&self) -> String {
        match self {
            Self::Internal(detail) => detail.clone(),
            other => other.message(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Unavailable => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

/// Whether a database error means the database is unreachable rather than the query wrong.
pub fn is_connection_error(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => matches!(
            e.as_ref(),
            sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed
                | sea_orm::sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_connection_error(&err) {
            tracing::warn!(error = %err, "database unreachable");
            Self::Unavailable
        } else {
            tracing::error!(error = %err, "database error");
            Self::Internal(err.to_string())
        }
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code().as_str());
            if let Self::BadUserInput { field, .. } = self {
                e.set("field", field.as_str());
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}

/// The result type of resolvers: `?` on an [`AppError`] gives a coded GraphQL error.
pub type AppResult<T> = Result<T, AppError>;

/// The machine codes of `userErrors`: what rule a field of a mutation's input broke.
#[derive(async_graphql::Enum, serde::Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserErrorCode {
    /// A required field is missing or empty.
    Required,
    /// The value does not have the required format (length, characters, structure).
    InvalidFormat,
    /// The check character of a USCC or resident ID does not match the rest of the code.
    InvalidCheckCharacter,
    /// The code belongs to another kind of subject than the one given.
    KindMismatch,
    /// The region code is not in the region reference data.
    UnknownRegion,
    /// The industry code is not a GB/T 4754 section of the reference data.
    UnknownIndustry,
    /// The value is longer than allowed.
    TooLong,
    /// The same key appears more than once in one batch; only the first is processed.
    DuplicateInBatch,
    /// The caller may not use this field or value.
    NotAllowed,
    /// The thing the input names does not exist (or is not visible to the caller).
    NotFound,
    /// A field name that the catalog item does not have.
    UnknownField,
    /// A catalog item code that the catalog does not have.
    UnknownCatalogItem,
    /// No subject is registered under the code; register it first with `registerSubjects`.
    SubjectNotRegistered,
    /// The caller's department does not provide this catalog item.
    NotAProvider,
    /// The same key with different content: send a correction instead.
    Conflict,
    /// Two parts of the input disagree (e.g. `sourceRef` and the document-number field).
    Mismatch,
    /// The date is impossible here (in the future, or before the date it must follow).
    InvalidDate,
    /// A number outside the range the rule allows.
    OutOfRange,
    /// The rule contradicts another part of the definition or the rules of the model language
    /// (e.g. a negative record that would raise a score, grades out of order).
    InvalidRule,
    /// The thing is not in a state that allows this change (e.g. activating a retired model).
    InvalidState,
    /// The subject does not meet the scenario's rule (see `eligibility` for the reasons).
    NotEligible,
}

/// One broken rule in a mutation's input: the path of the field, the rule's code and a message
/// a clerk can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Vec<String>,
    pub code: UserErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.iter().map(|s| (*s).to_owned()).collect(),
            code,
            message: message.into(),
        }
    }

    /// The same error under a path prefix, e.g. `["subjects", "3"]`.
    pub fn under(mut self, prefix: &[String]) -> Self {
        let mut field = prefix.to_vec();
        field.append(&mut self.field);
        self.field = field;
        self
    }
}

/// Checks a text's presence and length (in characters, after trimming).
pub fn text_rule(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    let chars = value.trim().chars().count();
    if chars == 0 {
        errors.push(FieldError::new(
            &[field],
            UserErrorCode::Required,
            format!("{field} is required"),
        ));
    } else if chars > max {
        errors.push(FieldError::new(
            &[field],
            UserErrorCode::TooLong,
            format!("{field} may have at most {max} characters"),
        ));
    }
}
