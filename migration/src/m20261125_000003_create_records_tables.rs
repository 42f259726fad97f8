//! Credit records and what surrounds them: the catalog, records with their revisions, refused
//! rows, declared decision counts, the working-day calendar, publicity policies, and lists.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
    columns: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table.into_iden());
    for column in columns {
        statement.col(column);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogItem::Table)
                    .col(big_pk_auto(CatalogItem::Id))
                    .col(string_len_uniq(CatalogItem::Code, 64))
                    .col(string_len(CatalogItem::Name, 200))
                    .col(string_len(CatalogItem::Category, 32))
                    .col(string_len(CatalogItem::Polarity, 16))
                    .col(string_len(CatalogItem::Disclosure, 16))
                    .col(text(CatalogItem::Providers))
                    .col(text(CatalogItem::Fields))
                    .col(boolean(CatalogItem::Repairable))
                    .col(integer(CatalogItem::Version))
                    .col(boolean(CatalogItem::Active))
                    .col(timestamp_with_time_zone(CatalogItem::CreatedAt))
                    .col(timestamp_with_time_zone(CatalogItem::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CreditRecord::Table)
                    .col(big_pk_auto(CreditRecord::Id))
                    .col(big_integer(CreditRecord::SubjectId))
                    .col(big_integer(CreditRecord::CatalogItemId))
                    .col(integer(CreditRecord::CatalogVersion))
                    .col(string_len(CreditRecord::ItemCode, 64))
                    .col(string_len(CreditRecord::Category, 32))
                    .col(string_len(CreditRecord::Polarity, 16))
                    .col(string_len(CreditRecord::Disclosure, 16))
                    .col(string_len(CreditRecord::Department, 64))
                    .col(string_len(CreditRecord::SourceRef, 128))
                    .col(string_len_null(CreditRecord::Severity, 16))
                    .col(date(CreditRecord::DecisionDate))
                    .col(timestamp_with_time_zone(CreditRecord::ReportedAt))
                    .col(date(CreditRecord::ReportedOn))
                    .col(integer_null(CreditRecord::WorkingDays))
                    .col(boolean_null(CreditRecord::Late))
                    .col(boolean_null(CreditRecord::CalendarComplete))
                    .col(boolean(CreditRecord::Published))
                    .col(date_null(CreditRecord::PublicUntil))
                    .col(date_null(CreditRecord::RepairableFrom))
                    .col(string_len_null(CreditRecord::PolicyVersion, 64))
                    .col(string_len(CreditRecord::Status, 16))
                    .col(text(CreditRecord::Fields))
                    .col(string_len(CreditRecord::ContentHash, 64))
                    .col(integer(CreditRecord::Revision))
                    .col(string_len_null(CreditRecord::RequestId, 64))
                    .col(timestamp_with_time_zone(CreditRecord::CreatedAt))
                    .col(timestamp_with_time_zone(CreditRecord::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credit_record_subject")
                            .from(CreditRecord::Table, CreditRecord::SubjectId)
                            .to(Subject::Table, Subject::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credit_record_catalog_item")
                            .from(CreditRecord::Table, CreditRecord::CatalogItemId)
                            .to(CatalogItem::Table, CatalogItem::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_credit_record_department_source_ref",
            CreditRecord::Table,
            vec![
                CreditRecord::Department.into_iden(),
                CreditRecord::SourceRef.into_iden(),
            ],
            true,
        )
        .await?;
        index(
            manager,
            "idx_credit_record_subject_category",
            CreditRecord::Table,
            vec![
                CreditRecord::SubjectId.into_iden(),
                CreditRecord::Category.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_credit_record_department_reported_on",
            CreditRecord::Table,
            vec![
                CreditRecord::Department.into_iden(),
                CreditRecord::ReportedOn.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_credit_record_department_decision_date",
            CreditRecord::Table,
            vec![
                CreditRecord::Department.into_iden(),
                CreditRecord::DecisionDate.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CreditRecordRevision::Table)
                    .col(big_pk_auto(CreditRecordRevision::Id))
                    .col(big_integer(CreditRecordRevision::RecordId))
                    .col(integer(CreditRecordRevision::Revision))
                    .col(string_len(CreditRecordRevision::Action, 16))
                    .col(text_null(CreditRecordRevision::Reason))
                    .col(text(CreditRecordRevision::Fields))
                    .col(string_len_null(CreditRecordRevision::Severity, 16))
                    .col(date(CreditRecordRevision::DecisionDate))
                    .col(string_len(CreditRecordRevision::Status, 16))
                    .col(string_len_null(CreditRecordRevision::Actor, 64))
                    .col(string_len_null(CreditRecordRevision::RequestId, 64))
                    .col(timestamp_with_time_zone(CreditRecordRevision::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credit_record_revision_record")
                            .from(CreditRecordRevision::Table, CreditRecordRevision::RecordId)
                            .to(CreditRecord::Table, CreditRecord::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_credit_record_revision_record",
            CreditRecordRevision::Table,
            vec![CreditRecordRevision::RecordId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefusedRecord::Table)
                    .col(big_pk_auto(RefusedRecord::Id))
                    .col(string_len(RefusedRecord::Department, 64))
                    .col(string_len_null(RefusedRecord::ItemCode, 64))
                    .col(string_len_null(RefusedRecord::Category, 32))
                    .col(string_len_null(RefusedRecord::SourceRef, 128))
                    .col(date_null(RefusedRecord::DecisionDate))
                    .col(timestamp_with_time_zone(RefusedRecord::SubmittedAt))
                    .col(date(RefusedRecord::SubmittedOn))
                    .col(text(RefusedRecord::Errors))
                    .col(string_len_null(RefusedRecord::RequestId, 64))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_refused_record_department_submitted_on",
            RefusedRecord::Table,
            vec![
                RefusedRecord::Department.into_iden(),
                RefusedRecord::SubmittedOn.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(DecisionCount::Table)
                    .col(big_pk_auto(DecisionCount::Id))
                    .col(string_len(DecisionCount::Department, 64))
                    .col(string_len(DecisionCount::Month, 7))
                    .col(string_len(DecisionCount::Category, 32))
                    .col(integer(DecisionCount::Count))
                    .col(string_len_null(DecisionCount::DeclaredBy, 64))
                    .col(timestamp_with_time_zone(DecisionCount::DeclaredAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_decision_count_department_month_category",
            DecisionCount::Table,
            vec![
                DecisionCount::Department.into_iden(),
                DecisionCount::Month.into_iden(),
                DecisionCount::Category.into_iden(),
            ],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CalendarDay::Table)
                    .col(date(CalendarDay::Day).primary_key())
                    .col(string_len(CalendarDay::Kind, 16))
                    .col(string_len(CalendarDay::Name, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CalendarYear::Table)
                    .col(integer(CalendarYear::Year).primary_key())
                    .col(string_len(CalendarYear::Source, 500))
                    .col(timestamp_with_time_zone(CalendarYear::LoadedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PublicityPolicy::Table)
                    .col(string_len(PublicityPolicy::Version, 64).primary_key())
                    .col(date(PublicityPolicy::EffectiveFrom))
                    .col(text(PublicityPolicy::Rules))
                    .col(timestamp_with_time_zone(PublicityPolicy::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ListEntry::Table)
                    .col(big_pk_auto(ListEntry::Id))
                    .col(big_integer(ListEntry::SubjectId))
                    .col(string_len(ListEntry::List, 32))
                    .col(text(ListEntry::Reason))
                    .col(text(ListEntry::LegalBasis))
                    .col(string_len(ListEntry::Department, 64))
                    .col(date(ListEntry::DecidedOn))
                    .col(date_null(ListEntry::Until))
                    .col(string_len(ListEntry::Status, 16))
                    .col(text_null(ListEntry::RemovedReason))
                    .col(timestamp_with_time_zone_null(ListEntry::RemovedAt))
                    .col(string_len_null(ListEntry::RequestId, 64))
                    .col(timestamp_with_time_zone(ListEntry::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_list_entry_subject")
                            .from(ListEntry::Table, ListEntry::SubjectId)
                            .to(Subject::Table, Subject::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_list_entry_subject",
            ListEntry::Table,
            vec![ListEntry::SubjectId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "idx_list_entry_list_status",
            ListEntry::Table,
            vec![ListEntry::List.into_iden(), ListEntry::Status.into_iden()],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ListEntry::Table.into_iden(),
            PublicityPolicy::Table.into_iden(),
            CalendarYear::Table.into_iden(),
            CalendarDay::Table.into_iden(),
            DecisionCount::Table.into_iden(),
            RefusedRecord::Table.into_iden(),
            CreditRecordRevision::Table.into_iden(),
            CreditRecord::Table.into_iden(),
            CatalogItem::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
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
    Code,
    Name,
    Category,
    Polarity,
    Disclosure,
    Providers,
    Fields,
    Repairable,
    Version,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CreditRecord {
    Table,
    Id,
    SubjectId,
    CatalogItemId,
    CatalogVersion,
    ItemCode,
    Category,
    Polarity,
    Disclosure,
    Department,
    SourceRef,
    Severity,
    DecisionDate,
    ReportedAt,
    ReportedOn,
    WorkingDays,
    Late,
    CalendarComplete,
    Published,
    PublicUntil,
    RepairableFrom,
    PolicyVersion,
    Status,
    Fields,
    ContentHash,
    Revision,
    RequestId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CreditRecordRevision {
    Table,
    Id,
    RecordId,
    Revision,
    Action,
    Reason,
    Fields,
    Severity,
    DecisionDate,
    Status,
    Actor,
    RequestId,
    At,
}

#[derive(DeriveIden)]
enum RefusedRecord {
    Table,
    Id,
    Department,
    ItemCode,
    Category,
    SourceRef,
    DecisionDate,
    SubmittedAt,
    SubmittedOn,
    Errors,
    RequestId,
}

#[derive(DeriveIden)]
enum DecisionCount {
    Table,
    Id,
    Department,
    Month,
    Category,
    Count,
    DeclaredBy,
    DeclaredAt,
}

#[derive(DeriveIden)]
enum CalendarDay {
    Table,
    Day,
    Kind,
    Name,
}

#[derive(DeriveIden)]
enum CalendarYear {
    Table,
    Year,
    Source,
    LoadedAt,
}

#[derive(DeriveIden)]
enum PublicityPolicy {
    Table,
    Version,
    EffectiveFrom,
    Rules,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ListEntry {
    Table,
    Id,
    SubjectId,
    List,
    Reason,
    LegalBasis,
    Department,
    DecidedOn,
    Until,
    Status,
    RemovedReason,
    RemovedAt,
    RequestId,
    CreatedAt,
}
