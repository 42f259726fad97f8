//! The catalog as GraphQL: `catalog` for everyone, `defineCatalogItem` for admins.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::rules::{FieldKind, FieldRole, FieldSpec, RequiredWhen};
use super::service::{self, ItemDefinition};
use super::{CatalogItem, Disclosure, Polarity, RecordCategory};
use crate::auth::Role;
use crate::graphql::ContextExt;
use crate::graphql::types::UserError;

/// A condition that makes a field required.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "RequiredWhenInput")]
pub struct FieldCondition {
    /// The national code of the field the condition reads, e.g. `CF_CFLB`.
    pub field: String,
    /// The field is required when that field holds this value, e.g. 罚款.
    pub contains: String,
}

/// One field of a catalog item: send it under `code` (the national data-item code) or `key`.
#[derive(SimpleObject)]
pub struct CatalogField {
    /// The national data-item code, e.g. `CF_WSH` (行政处罚决定书文号).
    pub code: String,
    /// The English key, e.g. `decisionNumber`; accepted in place of the code.
    pub key: String,
    /// The Chinese name.
    pub name: String,
    /// The value's type and its rule.
    pub kind: FieldKind,
    /// Always required.
    pub required: bool,
    /// Required only under this condition.
    pub required_when: Option<FieldCondition>,
    /// The longest text allowed, in characters.
    pub max_length: Option<u32>,
    /// The allowed values of ENUM and MULTI_ENUM fields.
    pub values: Vec<String>,
    /// What the field means to the record (subject code, document number, decision date …).
    pub role: Option<FieldRole>,
}

impl From<&FieldSpec> for CatalogField {
    fn from(spec: &FieldSpec) -> Self {
        Self {
            code: spec.code.clone(),
            key: spec.key.clone(),
            name: spec.name.clone(),
            kind: spec.kind,
            required: spec.required,
            required_when: spec.required_when.as_ref().map(|c| FieldCondition {
                field: c.field.clone(),
                contains: c.contains.clone(),
            }),
            max_length: spec.max_length,
            values: spec.values.clone(),
            role: spec.role,
        }
    }
}

/// An item of the public credit information catalog.
pub struct CatalogItemView(pub CatalogItem);

/// An item of the public credit information catalog (公共信用信息目录): what may be recorded, by
/// whom, with which fields, and who may see it.
#[Object(name = "CatalogItem")]
impl CatalogItemView {
    /// The item's code, used as `item` when submitting records, e.g. `ADMIN_PENALTY`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The Chinese name, e.g. 行政处罚信息.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The category.
    async fn category(&self) -> RecordCategory {
        self.0.category
    }

    /// The category's Chinese name.
    async fn category_name(&self) -> &str {
        self.0.category.name_zh()
    }

    /// Positive, neutral or negative information.
    async fn polarity(&self) -> Polarity {
        self.0.polarity
    }

    /// Who may see its records.
    async fn disclosure(&self) -> Disclosure {
        self.0.disclosure
    }

    /// Codes of the organizations that provide it; empty means every department.
    async fn providers(&self) -> &[String] {
        &self.0.providers
    }

    /// The fields a record of this item carries.
    async fn fields(&self) -> Vec<CatalogField> {
        self.0.fields.iter().map(CatalogField::from).collect()
    }

    /// Whether its records can be repaired (信用修复).
    async fn repairable(&self) -> bool {
        self.0.repairable
    }

    /// True for licenses and penalties, which must arrive within 7 working days (双公示).
    async fn double_publicity(&self) -> bool {
        self.0.category.is_double_publicity()
    }

    /// Raised on every change; records keep the version they were accepted under.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Inactive items accept no new records.
    async fn active(&self) -> bool {
        self.0.active
    }
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// The public credit information catalog: what may be recorded, by whom, with which fields.
    async fn catalog(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only items of this category.")] category: Option<RecordCategory>,
        #[graphql(desc = "Include items that accept no new records.", default = false)]
        include_inactive: bool,
    ) -> async_graphql::Result<Vec<CatalogItemView>> {
        let state = ctx.state()?;
        Ok(service::all(&state.db)
            .await?
            .into_iter()
            .filter(|i| category.is_none_or(|c| i.category == c))
            .filter(|i| include_inactive || i.active)
            .map(CatalogItemView)
            .collect())
    }
}

/// One field of an item being defined.
#[derive(InputObject)]
pub struct CatalogFieldInput {
    /// The national data-item code (or an own code), unique in the item.
    pub code: String,
    /// The English key, unique in the item.
    pub key: String,
    /// The Chinese name.
    pub name: String,
    /// The value's type.
    pub kind: FieldKind,
    /// Always required.
    #[graphql(default = false)]
    pub required: bool,
    /// Required only under this condition.
    pub required_when: Option<FieldCondition>,
    /// The longest text allowed.
    pub max_length: Option<u32>,
    /// The allowed values of ENUM and MULTI_ENUM fields.
    #[graphql(default)]
    pub values: Vec<String>,
    /// What the field means to the record.
    pub role: Option<FieldRole>,
}

/// The input of `defineCatalogItem`.
#[derive(InputObject)]
pub struct DefineCatalogItemInput {
    /// The item's code (A-Z, 0-9, _); an existing code changes that item.
    pub code: String,
    /// The Chinese name.
    pub name: String,
    /// The category.
    pub category: RecordCategory,
    /// Positive, neutral or negative.
    pub polarity: Polarity,
    /// Who may see its records.
    pub disclosure: Disclosure,
    /// Organization codes that provide it; empty: every department.
    #[graphql(default)]
    pub providers: Vec<String>,
    /// The fields.
    pub fields: Vec<CatalogFieldInput>,
    /// Whether its records can be repaired.
    #[graphql(default = true)]
    pub repairable: bool,
    /// Whether it accepts new records.
    #[graphql(default = true)]
    pub active: bool,
}

/// The answer of `defineCatalogItem`.
#[derive(SimpleObject)]
pub struct DefineCatalogItemPayload {
    /// The item as saved; null when refused.
    pub item: Option<CatalogItemView>,
    /// What was wrong; nothing is saved then.
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Creates a catalog item or changes one (its version rises). Records already accepted keep
    /// what the item said when they were accepted. ADMIN only.
    async fn define_catalog_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The item.")] input: DefineCatalogItemInput,
    ) -> async_graphql::Result<DefineCatalogItemPayload> {
        ctx.caller()
            .require("defineCatalogItem", &[Role::Admin], "admin")?;
        let state = ctx.state()?;
        let definition = ItemDefinition {
            code: input.code,
            name: input.name,
            category: input.category,
            polarity: input.polarity,
            disclosure: input.disclosure,
            providers: input.providers,
            fields: input
                .fields
                .into_iter()
                .map(|f| FieldSpec {
                    code: f.code.trim().to_owned(),
                    key: f.key.trim().to_owned(),
                    name: f.name.trim().to_owned(),
                    kind: f.kind,
                    required: f.required,
                    required_when: f.required_when.map(|c| RequiredWhen {
                        field: c.field,
                        contains: c.contains,
                    }),
                    max_length: f.max_length,
                    values: f.values,
                    role: f.role,
                })
                .collect(),
            repairable: input.repairable,
            active: input.active,
        };
        Ok(
            match service::define(&state.db, &ctx.actor(), definition).await? {
                Ok(item) => DefineCatalogItemPayload {
                    item: Some(CatalogItemView(item)),
                    user_errors: Vec::new(),
                },
                Err(errors) => DefineCatalogItemPayload {
                    item: None,
                    user_errors: errors.into_iter().map(UserError::from).collect(),
                },
            },
        )
    }
}
