//! Batched look-ups of subjects for nested fields (`Commitment.subject`, `ListEntry.subject`):
//! a page of 100 entries reads its subjects in one query, not one each. The loader belongs to one
//! request (see `graphql::loaders`), since what it answers depends on the caller: natural persons
//! and households only with `persons:read`, and those reads audited, as `service::find_by_id`
//! does one by one.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::Loader;
use entity::subject;
use sea_orm::DatabaseConnection;

use crate::audit::Actor;
use crate::auth::Caller;
use crate::error::AppError;
use crate::graphql::{ContextExt, loaders};

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

/// A subject by id as the caller may see it, through the request's loader.
pub async fn visible_subject(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Option<subject::Model>> {
    let caller = ctx.caller().clone();
    let actor = ctx.actor();
    loaders::load_one(ctx, id, |state| SubjectLoader {
        db: state.db.clone(),
        caller,
        actor,
    })
    .await
}
