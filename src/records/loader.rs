//! Batched look-ups of records for nested fields (`Commitment.breachRecord`): a page of breached
//! commitments reads their records in one query. Per request, since what it answers depends on
//! the caller (see `graphql::loaders`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::Loader;
use entity::credit_record;
use sea_orm::{DatabaseConnection, EntityTrait, Statement};

use super::service::china_today;
use super::visibility;
use crate::auth::Caller;
use crate::error::AppError;
use crate::graphql::{ContextExt, loaders};

/// Loads the records a caller may see, by id, one query per batch.
pub struct RecordLoader {
    db: DatabaseConnection,
    caller: Caller,
}

impl Loader<i64> for RecordLoader {
    type Value = credit_record::Model;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let backend = self.db.get_database_backend();
        let today = china_today();
        let statement = Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT * FROM credit_record WHERE {}",
                crate::db::id_among(backend, "id", 1)
            ),
            [crate::db::json_parameter(backend, serde_json::json!(keys))],
        );
        Ok(credit_record::Entity::find()
            .from_raw_sql(statement)
            .all(&self.db)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?
            .into_iter()
            .filter(|r| visibility::can_see(&self.caller, r, today))
            .map(|r| (r.id, r))
            .collect())
    }
}

/// A record by id as the caller may see it, through the request's loader.
pub async fn visible_record(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Option<credit_record::Model>> {
    let caller = ctx.caller().clone();
    loaders::load_one(ctx, id, |state| RecordLoader {
        db: state.db.clone(),
        caller,
    })
    .await
}
