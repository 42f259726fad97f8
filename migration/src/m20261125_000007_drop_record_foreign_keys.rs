//! Drops the foreign keys of `credit_record` on PostgreSQL. Measured with auto_explain on the
//! ingest benchmark: their per-row triggers took 80 of the 125 ms that inserting 1000 records
//! cost, more than the insert and its five indexes together, and they make bulk loads (COPY)
//! of millions of records take many minutes. The service sets both ids from rows it has just
//! read, and neither subjects nor catalog items are ever deleted (they are deactivated), so
//! the keys guarded against nothing the code can do. SQLite keeps them: there a check is an
//! index probe in the same process.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        for name in ["fk_credit_record_subject", "fk_credit_record_catalog_item"] {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name(name)
                        .table(CreditRecord::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        manager
            .create_foreign_key(
                ForeignKey::create()
                    .name("fk_credit_record_subject")
                    .from(CreditRecord::Table, CreditRecord::SubjectId)
                    .to(Subject::Table, Subject::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_foreign_key(
                ForeignKey::create()
                    .name("fk_credit_record_catalog_item")
                    .from(CreditRecord::Table, CreditRecord::CatalogItemId)
                    .to(CatalogItem::Table, CatalogItem::Id)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum CreditRecord {
    Table,
    SubjectId,
    CatalogItemId,
}

#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CatalogItem {
    Table,
    Id,
}
