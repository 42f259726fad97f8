//! `viewer`: who the API thinks the caller is.

use async_graphql::{Context, Object, SimpleObject};

use super::{Principal, Role};
use crate::error::AppError;
use crate::graphql::ContextExt;

/// An organization that uses the API.
#[derive(SimpleObject, Debug, Clone)]
pub struct Organization {
    /// The organization's code, e.g. `PLATFORM` or `MARKET_REGULATION`; the `org` claim of its tokens.
    pub code: String,
    /// The organization's name.
    pub name: String,
    /// PLATFORM, DEPARTMENT, APPROVAL_HALL, BANK, APP or PARTNER.
    pub kind: String,
}

/// The authenticated caller.
pub struct Viewer {
    principal: Principal,
}

/// The authenticated caller: client id, role, scopes and organization.
#[Object]
impl Viewer {
    /// The client id (the token's `sub`).
    async fn client_id(&self) -> &str {
        &self.principal.client_id
    }

    /// The caller's role, which decides what it may do.
    async fn role(&self) -> Role {
        self.principal.role
    }

    /// The scopes the token carries.
    async fn scopes(&self) -> &[String] {
        &self.principal.scopes
    }

    /// The caller's organization; null if the organization was removed after the token was issued.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Organization>> {
        let state = ctx.state()?;
        match super::clients::organization_by_code(&state.db, &self.principal.organization).await {
            Ok(org) => Ok(Some(Organization {
                code: org.code,
                name: org.name,
                kind: org.kind,
            })),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The caller as the API sees it: organization, role and scopes. Null for anonymous callers
    /// (no bearer token), who see public data only.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<Viewer> {
        ctx.caller().principal().map(|p| Viewer {
            principal: p.clone(),
        })
    }
}
