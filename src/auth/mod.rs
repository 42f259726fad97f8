//! Who is calling: roles, organizations, bearer tokens, API clients, and the guards resolvers use.

pub mod clients;
pub mod graphql;
pub mod secrets;
pub mod token;

use async_graphql::Enum;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The role a token carries; it decides what the caller may do (each field's description names
/// the roles it serves).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// The platform operator: everything, including catalog, models, clients and the audit log.
    Admin,
    /// A department: submits records for its catalog items, manages list entries, verifies
    /// commitments, decides repairs of its own records, reads government-shared data.
    Department,
    /// An approval hall window: screens applicants, records commitments, reads government-shared data.
    ApprovalHall,
    /// A bank: ratings and financing eligibility; non-public data only under the subject's consent.
    Bank,
    /// A mobile or sector app: eligibility for its own organization's scenarios; records benefit use.
    App,
    /// A partner system (association, platform): records commitments, reads its own.
    Partner,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Department,
        Role::ApprovalHall,
        Role::Bank,
        Role::App,
        Role::Partner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Department => "DEPARTMENT",
            Self::ApprovalHall => "APPROVAL_HALL",
            Self::Bank => "BANK",
            Self::App => "APP",
            Self::Partner => "PARTNER",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// The organization kind a client of this role must belong to.
    pub fn organization_kind(self) -> &'static str {
        match self {
            Self::Admin => "PLATFORM",
            other => other.as_str(),
        }
    }

    /// The scopes a client of this role gets unless it is created with fewer.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Self::Admin => &[
                "subjects:read",
                "subjects:write",
                "persons:read",
                "audit:read",
                "admin",
            ],
            Self::Department => &["subjects:read", "subjects:write", "persons:read"],
            Self::ApprovalHall => &["subjects:read", "subjects:write", "persons:read"],
            Self::Bank => &["subjects:read", "persons:read"],
            Self::App => &["subjects:read"],
            Self::Partner => &["subjects:read"],
        }
    }
}

/// The scopes this service knows; a client or token may hold a subset of its role's.
pub const KNOWN_SCOPES: [&str; 5] = [
    "subjects:read",
    "subjects:write",
    "persons:read",
    "audit:read",
    "admin",
];

/// An authenticated caller, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The client id (`sub`).
    pub client_id: String,
    /// The organization code (`org`).
    pub organization: String,
    pub role: Role,
    pub scopes: Vec<String>,
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Authenticated(Principal),
}

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::Anonymous => None,
            Self::Authenticated(p) => Some(p),
        }
    }

    pub fn role(&self) -> Option<Role> {
        self.principal().map(|p| p.role)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.principal()
            .is_some_and(|p| p.scopes.iter().any(|s| s == scope))
    }

    /// Allows the call when the caller has one of `roles` and the `scope`; otherwise a
    /// FORBIDDEN error (or UNAUTHENTICATED for anonymous callers) naming what `action` needs.
    pub fn require(
        &self,
        action: &str,
        roles: &[Role],
        scope: &str,
    ) -> Result<&Principal, AppError> {
        let Some(p) = self.principal() else {
            return Err(AppError::Unauthenticated(format!(
                "{action} needs a bearer token (one of the roles {})",
                role_list(roles)
            )));
        };
        if !roles.contains(&p.role) {
            return Err(AppError::Forbidden(format!(
                "{action} is for the roles {}; this token has the role {}",
                role_list(roles),
                p.role.as_str()
            )));
        }
        if !p.scopes.iter().any(|s| s == scope) {
            return Err(AppError::Forbidden(format!(
                "{action} needs the scope `{scope}`, which this token does not carry"
            )));
        }
        Ok(p)
    }
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
