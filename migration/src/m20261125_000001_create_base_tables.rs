//! The skeleton's tables: organizations, API clients, reference data (regions, industries),
//! subjects, the audit log and the installation's own secrets.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organization::Table)
                    .col(big_pk_auto(Organization::Id))
                    .col(string_len_uniq(Organization::Code, 64))
                    .col(string_len(Organization::Name, 200))
                    .col(string_len(Organization::Kind, 32))
                    .col(string_len_null(Organization::Uscc, 18))
                    .col(timestamp_with_time_zone(Organization::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiClient::Table)
                    .col(big_pk_auto(ApiClient::Id))
                    .col(string_len_uniq(ApiClient::ClientId, 64))
                    .col(string_len(ApiClient::Name, 200))
                    .col(big_integer(ApiClient::OrganizationId))
                    .col(string_len(ApiClient::Role, 32))
                    .col(string_len(ApiClient::Scopes, 1000))
                    .col(string_len(ApiClient::SecretHash, 255))
                    .col(timestamp_with_time_zone_null(ApiClient::DisabledAt))
                    .col(timestamp_with_time_zone(ApiClient::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_client_organization")
                            .from(ApiClient::Table, ApiClient::OrganizationId)
                            .to(Organization::Table, Organization::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Region::Table)
                    .col(string_len(Region::Code, 12).primary_key())
                    .col(string_len(Region::Name, 100))
                    .col(string_len(Region::Level, 16))
                    .col(string_len_null(Region::ParentCode, 12))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_region_parent")
                            .from(Region::Table, Region::ParentCode)
                            .to(Region::Table, Region::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_region_parent_code")
                    .table(Region::Table)
                    .col(Region::ParentCode)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Industry::Table)
                    .col(string_len(Industry::Code, 1).primary_key())
                    .col(string_len(Industry::Name, 100))
                    .col(string_len(Industry::NameEn, 200))
                    .to_owned(),
            )
            .await?;

        // Codes are varchar, never char(n): PostgreSQL compares a char column with a text
        // parameter as text and then cannot use the index (DEPENDENCIES.md).
        manager
            .create_table(
                Table::create()
                    .table(Subject::Table)
                    .col(big_pk_auto(Subject::Id))
                    .col(string_len(Subject::Kind, 32))
                    .col(string_len_uniq(Subject::LookupKey, 64))
                    .col(string_len(Subject::DisplayCode, 18))
                    .col(string_len(Subject::Name, 200))
                    .col(string_len(Subject::RegionCode, 12))
                    .col(string_len_null(Subject::IndustryCode, 1))
                    .col(string_len_null(Subject::RegisteringAuthority, 1))
                    .col(string_len_null(Subject::OrganizationCategory, 2))
                    .col(string_len_null(Subject::RegistrationRegion, 6))
                    .col(string_len_null(Subject::CheckWaiverReason, 500))
                    .col(string_len(Subject::RegisteredBy, 64))
                    .col(timestamp_with_time_zone(Subject::CreatedAt))
                    .col(timestamp_with_time_zone(Subject::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_subject_region")
                            .from(Subject::Table, Subject::RegionCode)
                            .to(Region::Table, Region::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_subject_industry")
                            .from(Subject::Table, Subject::IndustryCode)
                            .to(Industry::Table, Industry::Code),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_subject_kind", Subject::Kind),
            ("idx_subject_region_code", Subject::RegionCode),
            ("idx_subject_industry_code", Subject::IndustryCode),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Subject::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::OccurredAt))
                    .col(string_len_null(AuditLog::RequestId, 64))
                    .col(string_len_null(AuditLog::Actor, 64))
                    .col(string_len_null(AuditLog::OrganizationCode, 64))
                    .col(string_len_null(AuditLog::Role, 32))
                    .col(string_len(AuditLog::Action, 64))
                    .col(big_integer_null(AuditLog::SubjectId))
                    .col(string_len_null(AuditLog::Purpose, 64))
                    .col(string_len_null(AuditLog::ConsentRef, 64))
                    .col(text_null(AuditLog::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_subject_id")
                    .table(AuditLog::Table)
                    .col(AuditLog::SubjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_organization_code")
                    .table(AuditLog::Table)
                    .col(AuditLog::OrganizationCode)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InstanceSecret::Table)
                    .col(string_len(InstanceSecret::Name, 64).primary_key())
                    .col(string_len(InstanceSecret::Value, 255))
                    .col(timestamp_with_time_zone(InstanceSecret::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InstanceSecret::Table.into_iden(),
            AuditLog::Table.into_iden(),
            Subject::Table.into_iden(),
            Industry::Table.into_iden(),
            Region::Table.into_iden(),
            ApiClient::Table.into_iden(),
            Organization::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organization {
    Table,
    Id,
    Code,
    Name,
    Kind,
    Uscc,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiClient {
    Table,
    Id,
    ClientId,
    Name,
    OrganizationId,
    Role,
    Scopes,
    SecretHash,
    DisabledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    Code,
    Name,
    Level,
    ParentCode,
}

#[derive(DeriveIden)]
enum Industry {
    Table,
    Code,
    Name,
    NameEn,
}

#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
    Kind,
    LookupKey,
    DisplayCode,
    Name,
    RegionCode,
    IndustryCode,
    RegisteringAuthority,
    OrganizationCategory,
    RegistrationRegion,
    CheckWaiverReason,
    RegisteredBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OccurredAt,
    RequestId,
    Actor,
    OrganizationCode,
    Role,
    Action,
    SubjectId,
    Purpose,
    ConsentRef,
    Detail,
}

#[derive(DeriveIden)]
enum InstanceSecret {
    Table,
    Name,
    Value,
    CreatedAt,
}
