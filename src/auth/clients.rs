//! API clients: created by the operator, each bound to one organization and one role, with a
//! secret that is shown once and stored only as an argon2id hash.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use entity::{api_client, organization};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::{KNOWN_SCOPES, Principal, Role, secrets::random_secret};
use crate::error::AppError;

/// A newly created client; `secret` exists only here and is never stored.
#[derive(Debug)]
pub struct CreatedClient {
    pub client_id: String,
    pub secret: String,
    pub organization: String,
    pub role: Role,
    pub scopes: Vec<String>,
}

/// Finds an organization by code, with a message that names it when it is unknown.
pub async fn organization_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<organization::Model, AppError> {
    organization::Entity::find()
        .filter(organization::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no organization with the code {code}")))
}

/// Checks that a role fits the organization and that the scopes belong to the role.
pub fn check_role_and_scopes(
    org: &organization::Model,
    role: Role,
    scopes: &[String],
) -> Result<(), AppError> {
    if org.kind != role.organization_kind() {
        return Err(AppError::bad_input(
            "role",
            format!(
                "the role {} is for {} organizations; {} is a {} organization",
                role.as_str(),
                role.organization_kind(),
                org.code,
                org.kind
            ),
        ));
    }
    for scope in scopes {
        if !KNOWN_SCOPES.contains(&scope.as_str()) {
            return Err(AppError::bad_input(
                "scopes",
                format!(
                    "unknown scope {scope}; known scopes: {}",
                    KNOWN_SCOPES.join(" ")
                ),
            ));
        }
        if !role.default_scopes().contains(&scope.as_str()) {
            return Err(AppError::bad_input(
                "scopes",
                format!(
                    "the scope {scope} is not available to the role {}",
                    role.as_str()
                ),
            ));
        }
    }
    Ok(())
}

fn hash_secret(secret: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("argon2: {e}")))
}

/// Creates a client for an organization; the secret is returned once.
pub async fn create(
    db: &impl ConnectionTrait,
    organization_code: &str,
    role: Role,
    name: &str,
    scopes: Option<Vec<String>>,
) -> Result<CreatedClient, AppError> {
    let org = organization_by_code(db, organization_code).await?;
    let scopes = scopes.unwrap_or_else(|| {
        role.default_scopes()
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    check_role_and_scopes(&org, role, &scopes)?;
    let client_id = format!("ch_{}", uuid::Uuid::new_v4().simple());
    let secret = random_secret()?;
    let secret_hash = hash_secret(&secret)?;
    api_client::ActiveModel {
        client_id: Set(client_id.clone()),
        name: Set(name.to_owned()),
        organization_id: Set(org.id),
        role: Set(role.as_str().to_owned()),
        scopes: Set(scopes.join(" ")),
        secret_hash: Set(secret_hash),
        disabled_at: Set(None),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(CreatedClient {
        client_id,
        secret,
        organization: org.code,
        role,
        scopes,
    })
}

/// Every client with its organization code, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
) -> Result<Vec<(api_client::Model, Option<organization::Model>)>, AppError> {
    Ok(api_client::Entity::find()
        .find_also_related(organization::Entity)
        .order_by_desc(api_client::Column::Id)
        .all(db)
        .await?)
}

/// Disables a client: its secret stops working at once; tokens already issued expire by `exp`.
pub async fn disable(db: &impl ConnectionTrait, client_id: &str) -> Result<(), AppError> {
    let client = api_client::Entity::find()
        .filter(api_client::Column::ClientId.eq(client_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no client {client_id}")))?;
    let mut active: api_client::ActiveModel = client.into();
    active.disabled_at = Set(Some(chrono::Utc::now()));
    active.update(db).await?;
    Ok(())
}

/// Checks a client's credentials; `None` for an unknown, disabled or wrong-secret client alike.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    client_id: &str,
    secret: &str,
) -> Result<Option<Principal>, AppError> {
    let found = api_client::Entity::find()
        .filter(api_client::Column::ClientId.eq(client_id))
        .find_also_related(organization::Entity)
        .one(db)
        .await?;
    let Some((client, Some(org))) = found else {
        return Ok(None);
    };
    if client.disabled_at.is_some() {
        return Ok(None);
    }
    let hash = client.secret_hash.clone();
    let secret = secret.to_owned();
    // argon2 is deliberately slow: keep it off the async workers.
    let verified = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(secret.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(AppError::internal)?;
    if !verified {
        return Ok(None);
    }
    let Some(role) = Role::parse(&client.role) else {
        return Err(AppError::internal(format!(
            "client {} has an unknown role {}",
            client.client_id, client.role
        )));
    };
    Ok(Some(Principal {
        client_id: client.client_id,
        organization: org.code,
        role,
        scopes: client
            .scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    }))
}
