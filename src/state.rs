//! What every request shares: the database, the settings, the token keys and the ID hasher.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::token::TokenKeys;
use crate::config::Settings;
use crate::subjects::rules::PersonKeyHasher;

/// The application's shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub tokens: Arc<TokenKeys>,
    pub person_keys: Arc<PersonKeyHasher>,
}
