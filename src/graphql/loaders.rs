//! Per-request loaders: batched look-ups whose answers depend on the caller (what a caller may
//! see), so they cannot be shared by the schema like the reference and model loaders.

use std::sync::OnceLock;

use async_graphql::dataloader::DataLoader;

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
