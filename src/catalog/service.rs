//! Reading and editing the catalog. An edit raises the item's version; records keep the version
//! (and the category, polarity and disclosure) they were accepted under.

use std::collections::HashMap;

use entity::catalog_item;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder,
};

use super::rules::{FieldSpec, check_specs};
use super::{CatalogItem, Disclosure, Polarity, RecordCategory};
use crate::audit::{self, Actor, AuditEntry};
use crate::error::{AppError, FieldError, UserErrorCode};

/// Turns a row into the rules' item; a row that does not read is an internal fault.
pub fn from_row(row: catalog_item::Model) -> Result<CatalogItem, AppError> {
    let bad =
        |what: &str| AppError::internal(format!("catalog item {} has a bad {what}", row.code));
    Ok(CatalogItem {
        id: row.id,
        category: RecordCategory::parse(&row.category).ok_or_else(|| bad("category"))?,
        polarity: Polarity::parse(&row.polarity).ok_or_else(|| bad("polarity"))?,
        disclosure: Disclosure::parse(&row.disclosure).ok_or_else(|| bad("disclosure"))?,
        providers: serde_json::from_str(&row.providers).map_err(|_| bad("provider list"))?,
        fields: serde_json::from_str(&row.fields).map_err(|_| bad("field list"))?,
        code: row.code,
        name: row.name,
        repairable: row.repairable,
        version: row.version,
        active: row.active,
    })
}

/// The whole catalog, ordered by code.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<CatalogItem>, AppError> {
    catalog_item::Entity::find()
        .order_by_asc(catalog_item::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The items with these codes, by code.
pub async fn by_codes(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<HashMap<String, CatalogItem>, AppError> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    catalog_item::Entity::find()
        .filter(catalog_item::Column::Code.is_in(codes.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| from_row(row).map(|item| (item.code.clone(), item)))
        .collect()
}

/// An item as an admin defines it.
#[derive(Debug, Clone)]
pub struct ItemDefinition {
    pub code: String,
    pub name: String,
    pub category: RecordCategory,
    pub polarity: Polarity,
    pub disclosure: Disclosure,
    pub providers: Vec<String>,
    pub fields: Vec<FieldSpec>,
    pub repairable: bool,
    pub active: bool,
}

/// Creates an item, or changes one (raising its version). Accepted records are not touched.
pub async fn define(
    db: &DatabaseConnection,
    actor: &Actor,
    definition: ItemDefinition,
) -> Result<Result<CatalogItem, Vec<FieldError>>, AppError> {
    let mut errors = Vec::new();
    let code = definition.code.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > 64
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        errors.push(FieldError::new(
            &["code"],
            UserErrorCode::InvalidFormat,
            "the code is 1-64 characters of A-Z, 0-9 and _",
        ));
    }
    if definition.name.trim().is_empty() {
        errors.push(FieldError::new(
            &["name"],
            UserErrorCode::Required,
            "the name is required",
        ));
    }
    if let Err(mut field_errors) = check_specs(&definition.fields) {
        errors.append(&mut field_errors);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = chrono::Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let existing = catalog_item::Entity::find()
        .filter(catalog_item::Column::Code.eq(code.as_str()))
        .one(&txn)
        .await?;
    let providers = serde_json::to_string(&definition.providers).map_err(AppError::internal)?;
    let fields = serde_json::to_string(&definition.fields).map_err(AppError::internal)?;
    let saved = match existing {
        Some(row) => {
            let version = row.version + 1;
            let mut active: catalog_item::ActiveModel = row.into();
            active.name = Set(definition.name.trim().to_owned());
            active.category = Set(definition.category.as_str().to_owned());
            active.polarity = Set(definition.polarity.as_str().to_owned());
            active.disclosure = Set(definition.disclosure.as_str().to_owned());
            active.providers = Set(providers);
            active.fields = Set(fields);
            active.repairable = Set(definition.repairable);
            active.active = Set(definition.active);
            active.version = Set(version);
            active.updated_at = Set(now);
            active.update(&txn).await?
        }
        None => {
            catalog_item::ActiveModel {
                code: Set(code.clone()),
                name: Set(definition.name.trim().to_owned()),
                category: Set(definition.category.as_str().to_owned()),
                polarity: Set(definition.polarity.as_str().to_owned()),
                disclosure: Set(definition.disclosure.as_str().to_owned()),
                providers: Set(providers),
                fields: Set(fields),
                repairable: Set(definition.repairable),
                version: Set(1),
                active: Set(definition.active),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    audit::record(
        &txn,
        actor,
        vec![
            AuditEntry::new("defineCatalogItem", None).detail(serde_json::json!({
                "code": saved.code,
                "version": saved.version,
            })),
        ],
    )
    .await?;
    txn.commit().await?;
    from_row(saved).map(Ok)
}
