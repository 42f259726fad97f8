//! Batched look-ups of model versions for nested fields: a page of ratings explains its
//! factors with one query for all the versions it names.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::DatabaseConnection;

use super::service::{self, LoadedModel};
use crate::error::AppError;

/// Loads model versions by id, one query per batch.
pub struct ModelLoader {
    db: DatabaseConnection,
}

impl ModelLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A model version's id, as a loader key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelVersionId(pub i64);

impl Loader<ModelVersionId> for ModelLoader {
    type Value = LoadedModel;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[ModelVersionId],
    ) -> Result<HashMap<ModelVersionId, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        Ok(service::models_by_ids(&self.db, &ids)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .map(|m| (ModelVersionId(m.row.id), m))
            .collect())
    }
}
