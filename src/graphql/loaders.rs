//! Per-request loaders: batched look-ups whose answers depend on the caller (what a caller may
//! see), so they cannot be shared by the schema like the reference and model loaders.

use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};

use super::ContextExt;
use crate::error::AppError;
use crate::state::AppState;

/// A request's place for one loader, made on first use: most requests never read the nested
/// field it serves, and the eligibility hot path should not pay for one.
pub struct LoaderSlot<L>(OnceLock<DataLoader<L>>);

impl<L> Default for LoaderSlot<L> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<L: Send + Sync + 'static> LoaderSlot<L> {
    /// The request's loader, made by `make` the first time it is asked for.
    pub fn get_or_make(&self, make: impl FnOnce() -> L) -> &DataLoader<L> {
        self.0.get_or_init(|| DataLoader::new(make(), tokio::spawn))
    }
}

/// Loads one value through the request's loader of type `L`, making it with `make` on first use.
/// Every request the HTTP handler executes carries the slot; a missing one is a wiring fault.
pub async fn load_one<K, L>(
    ctx: &Context<'_>,
    key: K,
    make: impl FnOnce(&AppState) -> L,
) -> async_graphql::Result<Option<L::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Arc<AppError>>,
{
    let state = ctx.state()?;
    let slot = ctx
        .data_opt::<LoaderSlot<L>>()
        .ok_or_else(|| AppError::internal("a loader slot is missing from the request data"))?;
    slot.get_or_make(|| make(state))
        .load_one(key)
        .await
        .map_err(|e| e.as_ref().extend())
}
