//! Batched look-ups of subjects for nested fields (`Commitment.subject`, `ListEntry.subject`):
//! a page of 100 entries reads its subjects in one query, not one each. The loader belongs to one
//! request, since what it answers depends on the caller: natural persons and households only
//! with `persons:read`, and those reads audited, as `service::find_by_id` does one by one.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};
use entity::subject;
use sea_orm::DatabaseConnection;

use crate::audit::Actor;
use crate::auth::Caller;
use crate::error::AppError;
use crate::graphql::ContextExt;

/// Loads the subjects a caller may see, by id, one query per batch.
pub struct SubjectLoader {
    db: DatabaseConnection,
    caller: Caller,
    actor: Actor,
}

impl Loader<i64> for SubjectLoader {
    type Value = subject::Model;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        super::service::visible_by_ids(&self.db, &self.caller, &self.actor, keys)
            .await
            .map_err(Arc::new)
    }
}

/// A request's place for its subject loader, made on first use: most requests never read a
/// nested subject, and the hot path should not pay for one.
#[derive(Default)]
pub struct SubjectLoaderSlot(OnceLock<DataLoader<SubjectLoader>>);

impl SubjectLoaderSlot {
    /// The request's loader, made with its caller the first time it is asked for.
    pub fn get(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        actor: Actor,
    ) -> &DataLoader<SubjectLoader> {
        self.0.get_or_init(|| {
            DataLoader::new(
                SubjectLoader {
                    db: db.clone(),
                    caller: caller.clone(),
                    actor,
                },
                tokio::spawn,
            )
        })
    }
}

/// A subject by id as the caller may see it, through the request's loader (one by one when the
/// request carries no slot, as a schema executed outside the HTTP handler does).
pub async fn visible_subject(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Option<subject::Model>> {
    let state = ctx.state()?;
    match ctx.data_opt::<SubjectLoaderSlot>() {
        Some(slot) => Ok(slot
            .get(&state.db, ctx.caller(), ctx.actor())
            .load_one(id)
            .await
            .map_err(|e| e.as_ref().extend())?),
        None => Ok(super::service::find_by_id(&state.db, ctx.caller(), &ctx.actor(), id).await?),
    }
}
