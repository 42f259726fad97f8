//! What every request shares: the database, the settings, the token keys and the ID hasher.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use entity::organization;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

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
    /// Group commit of recorded commitments.
    pub commitments: crate::writer::Batcher<
        crate::commitments::service::Pending,
        crate::commitments::service::RecordOutcome,
    >,
    /// Group commit of recorded benefit uses.
    pub benefit_uses: crate::writer::Batcher<
        crate::benefits::service::PendingUse,
        crate::benefits::service::UseOutcome,
    >,
    /// The kinds of organizations by code, as far as they were asked for.
    pub organizations: Arc<OrganizationKinds>,
    /// The 信易+ scenarios, read at most every few seconds.
    pub scenarios: Arc<crate::benefits::service::ScenarioCache>,
    /// Group commit of `Idempotency-Key` claims and answers.
    pub idempotency:
        crate::writer::Batcher<crate::idempotency::Step, crate::idempotency::StepOutcome>,
    /// The worker that re-rates the subjects of submitted records (see `ratings::queue`).
    pub rating_queue: crate::ratings::queue::RatingQueue,
    /// The audit of hot-path reads, written in batches off the request path.
    pub read_audit: crate::audit::reads::ReadAudit,
    /// The hot path's reads, coalesced, on connections of their own (see `hot_path`).
    pub hot_path: Option<Arc<crate::hot_path::HotPath>>,
    /// The runtime the state was made on (the binary's multi-threaded one): the background
    /// writers live there, and so does work a request starts and does not wait for (an
    /// evaluation run), off the HTTP worker that executes the request.
    pub runtime: tokio::runtime::Handle,
}

/// The kind of each organization code asked about (DEPARTMENT, BANK …), read once: an
/// organization never changes its kind, and codes not found are asked again next time, so a
/// new organization is seen at once.
#[derive(Default)]
pub struct OrganizationKinds(RwLock<HashMap<String, String>>);

impl OrganizationKinds {
    /// The kind of the organization with `code`, or `None` when there is none.
    pub async fn kind_of(
        &self,
        db: &impl ConnectionTrait,
        code: &str,
    ) -> Result<Option<String>, crate::error::AppError> {
        if let Some(kind) = self.0.read().ok().and_then(|m| m.get(code).cloned()) {
            return Ok(Some(kind));
        }
        let kind: Option<String> = organization::Entity::find()
            .select_only()
            .column(organization::Column::Kind)
            .filter(organization::Column::Code.eq(code))
            .into_tuple()
            .one(db)
            .await?;
        if let (Some(kind), Ok(mut known)) = (&kind, self.0.write()) {
            known.insert(code.to_owned(), kind.clone());
        }
        Ok(kind)
    }
}
