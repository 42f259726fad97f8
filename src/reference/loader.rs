//! Batched look-ups of regions and industries for nested fields.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use entity::{industry, region};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::AppError;

/// Loads regions by code and industries by code, one query per batch.
pub struct ReferenceLoader {
    db: DatabaseConnection,
}

impl ReferenceLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A region code, as a loader key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegionCode(pub String);

/// An industry code, as a loader key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndustryCode(pub String);

impl Loader<RegionCode> for ReferenceLoader {
    type Value = region::Model;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[RegionCode],
    ) -> Result<HashMap<RegionCode, Self::Value>, Self::Error> {
        let rows = region::Entity::find()
            .filter(region::Column::Code.is_in(keys.iter().map(|k| k.0.clone())))
            .all(&self.db)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows
            .into_iter()
            .map(|r| (RegionCode(r.code.clone()), r))
            .collect())
    }
}

impl Loader<IndustryCode> for ReferenceLoader {
    type Value = industry::Model;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[IndustryCode],
    ) -> Result<HashMap<IndustryCode, Self::Value>, Self::Error> {
        let rows = industry::Entity::find()
            .filter(industry::Column::Code.is_in(keys.iter().map(|k| k.0.clone())))
            .all(&self.db)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows
            .into_iter()
            .map(|r| (IndustryCode(r.code.clone()), r))
            .collect())
    }
}
