//! Migrations of credit-hub: one file per change, applied in order by `credit-hub migrate` and
//! at the start of `credit-hub serve`. A migration that has landed is never edited; add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_base_tables;
mod m20261125_000002_seed_reference_data;
mod m20261125_000003_create_records_tables;
mod m20261125_000004_seed_catalog_policies_calendar;
mod m20261125_000005_create_evaluation_tables;
mod m20261125_000006_seed_evaluation_models;
mod m20261125_000007_drop_record_foreign_keys;
mod m20261125_000008_tune_rating_writes;
mod m20261125_000009_create_commitments;
mod m20261125_000010_create_benefits;
mod m20261126_000011_create_evaluation_chunks;
mod m20261126_000012_create_rating_queue;

/// Every migration, in the order it runs.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_base_tables::Migration),
            Box::new(m20261125_000002_seed_reference_data::Migration),
            Box::new(m20261125_000003_create_records_tables::Migration),
            Box::new(m20261125_000004_seed_catalog_policies_calendar::Migration),
            Box::new(m20261125_000005_create_evaluation_tables::Migration),
            Box::new(m20261125_000006_seed_evaluation_models::Migration),
            Box::new(m20261125_000007_drop_record_foreign_keys::Migration),
            Box::new(m20261125_000008_tune_rating_writes::Migration),
            Box::new(m20261125_000009_create_commitments::Migration),
            Box::new(m20261125_000010_create_benefits::Migration),
            Box::new(m20261126_000011_create_evaluation_chunks::Migration),
            Box::new(m20261126_000012_create_rating_queue::Migration),
        ]
    }
}
