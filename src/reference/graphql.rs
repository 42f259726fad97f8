//! The reference data as GraphQL: regions and industries, readable by everyone.

use async_graphql::{Context, Enum, ErrorExtensions, Object, dataloader::DataLoader};
use entity::{industry, region};

use super::loader::{ReferenceLoader, RegionCode};
use crate::graphql::ContextExt;

/// The level of an administrative division.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionLevel {
    /// The district (区/县), e.g. 柴桑区.
    District,
    /// A township, town, subdistrict or state farm (乡/镇/街道/场).
    Township,
    /// A village or residents' community (村/社区).
    Village,
}

impl RegionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::District => "DISTRICT",
            Self::Township => "TOWNSHIP",
            Self::Village => "VILLAGE",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "DISTRICT" => Self::District,
            "TOWNSHIP" => Self::Township,
            _ => Self::Village,
        }
    }
}

/// An administrative division of the district, by its 12-digit statistical division code.
pub struct Region(pub region::Model);

/// An administrative division of the district (district, township or village).
#[Object]
impl Region {
    /// The 12-digit statistical division code (统计用区划代码), e.g. `360404104000` for 港口街镇.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The Chinese name, e.g. 港口街镇.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// District, township or village.
    async fn level(&self) -> RegionLevel {
        RegionLevel::parse(&self.0.level)
    }

    /// The division this one belongs to; null for the district.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Region>> {
        let Some(parent) = &self.0.parent_code else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<ReferenceLoader>>()?;
        Ok(loader
            .load_one(RegionCode(parent.clone()))
            .await
            .map_err(|e| e.as_ref().extend())?
            .map(Region))
    }
}

/// An industry section of GB/T 4754-2017 (国民经济行业分类门类).
pub struct Industry(pub industry::Model);

/// An industry section of GB/T 4754-2017 (国民经济行业分类门类).
#[Object]
impl Industry {
    /// The section letter, A to T (e.g. `H` for accommodation and catering).
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The Chinese name of the section.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The English name of the section.
    async fn name_en(&self) -> &str {
        &self.0.name_en
    }
}

#[derive(Default)]
pub struct ReferenceQuery;

#[Object]
impl ReferenceQuery {
    /// The district's administrative divisions, ordered by code. Use them as `regionCode` when
    /// registering subjects.
    async fn regions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the divisions directly under this code.")] parent_code: Option<
            String,
        >,
        #[graphql(desc = "Only divisions of this level.")] level: Option<RegionLevel>,
    ) -> async_graphql::Result<Vec<Region>> {
        let state = ctx.state()?;
        let rows = super::regions(
            &state.db,
            parent_code.as_deref(),
            level.map(RegionLevel::as_str),
        )
        .await?;
        Ok(rows.into_iter().map(Region).collect())
    }

    /// The GB/T 4754-2017 industry sections, A to T. Use them as `industryCode`.
    async fn industries(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Industry>> {
        let state = ctx.state()?;
        let rows = super::industries(&state.db).await?;
        Ok(rows.into_iter().map(Industry).collect())
    }
}
