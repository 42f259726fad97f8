//! The two secrets of an installation: the HS256 signing secret and the key of the resident-ID
//! hash. Production takes them from the configuration; development generates each once, stores
//! it in the database (so every node and every CLI call on that database shares it) and says so
//! loudly. No secret is ever a constant in the code.

use base64::Engine;
use entity::instance_secret;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::config::{JwtAlgorithm, Mode, Settings};
use crate::error::AppError;

/// The secrets the service runs with.
#[derive(Clone)]
pub struct InstanceSecrets {
    pub jwt_secret: Option<String>,
    pub id_hash_key: String,
}

/// 32 random bytes from the operating system, base64url-encoded.
pub fn random_secret() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal(format!("getrandom: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

async fn stored_or_generated(db: &impl ConnectionTrait, name: &str) -> Result<String, AppError> {
    if let Some(found) = instance_secret::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
    {
        return Ok(found.value);
    }
    let candidate = instance_secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(random_secret()?),
        created_at: Set(chrono::Utc::now()),
    };
    // Two nodes starting at once: the first insert wins and both read the winner.
    instance_secret::Entity::insert(candidate)
        .on_conflict_do_nothing_on([instance_secret::Column::Name])
        .exec_without_returning(db)
        .await?;
    let stored = instance_secret::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(format!("instance secret {name} vanished")))?;
    tracing::warn!(
        secret = name,
        "DEVELOPMENT MODE: generated a new random {name} and stored it in the database. \
         Tokens and ID hashes are tied to this database. In production set it explicitly \
         (CREDIT_HUB_{}); production mode refuses to start without it.",
        name.to_ascii_uppercase()
    );
    Ok(stored.value)
}

/// The configured secrets, or in development the stored (generated on first run) ones.
pub async fn resolve(
    db: &impl ConnectionTrait,
    settings: &Settings,
) -> Result<InstanceSecrets, AppError> {
    let jwt_secret = match (&settings.jwt_secret, settings.jwt_algorithm) {
        (Some(s), _) => Some(s.clone()),
        (None, JwtAlgorithm::HS256) if settings.mode == Mode::Development => {
            Some(stored_or_generated(db, "jwt_secret").await?)
        }
        (None, _) => None,
    };
    let id_hash_key = match &settings.id_hash_key {
        Some(k) => k.clone(),
        None if settings.mode == Mode::Development => {
            stored_or_generated(db, "id_hash_key").await?
        }
        None => {
            return Err(AppError::internal(
                "production mode needs CREDIT_HUB_ID_HASH_KEY",
            ));
        }
    };
    Ok(InstanceSecrets {
        jwt_secret,
        id_hash_key,
    })
}
