//! Credit subjects (信用主体): registration in bulk, update, look-up by code, filtered listing.
//! Organizations are keyed by their USCC; natural persons and households by a keyed hash of the
//! resident ID, which is never stored or returned in the clear.

pub mod graphql;
pub mod loader;
pub mod rules;
pub mod service;

use async_graphql::Enum;

/// The kinds of credit subject (信用主体): organizations, natural persons and rural households.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// An enterprise (企业), USCC category 91.
    Enterprise,
    /// An individual business (个体工商户), USCC category 92.
    IndividualBusiness,
    /// A farmers' specialized cooperative (农民专业合作社), USCC category 93.
    FarmerCooperative,
    /// A social organization (社会团体、民办非企业单位、基金会), USCC categories 5x.
    SocialOrganization,
    /// A public institution (事业单位), USCC category 12.
    PublicInstitution,
    /// A government agency (机关), USCC category 11 — the subject of government integrity (政务诚信).
    GovernmentAgency,
    /// A natural person, keyed by the resident ID number.
    NaturalPerson,
    /// A rural household (农户), keyed by the householder's resident ID number.
    Household,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 8] = [
        Self::Enterprise,
        Self::IndividualBusiness,
        Self::FarmerCooperative,
        Self::SocialOrganization,
        Self::PublicInstitution,
        Self::GovernmentAgency,
        Self::NaturalPerson,
        Self::Household,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "ENTERPRISE",
            Self::IndividualBusiness => "INDIVIDUAL_BUSINESS",
            Self::FarmerCooperative => "FARMER_COOPERATIVE",
            Self::SocialOrganization => "SOCIAL_ORGANIZATION",
            Self::PublicInstitution => "PUBLIC_INSTITUTION",
            Self::GovernmentAgency => "GOVERNMENT_AGENCY",
            Self::NaturalPerson => "NATURAL_PERSON",
            Self::Household => "HOUSEHOLD",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Natural persons and households are keyed by a resident ID, not a USCC.
    pub fn is_person(self) -> bool {
        matches!(self, Self::NaturalPerson | Self::Household)
    }

    /// The tag that separates a person's key from a household's with the same ID.
    pub fn person_tag(self) -> &'static str {
        if self == Self::Household { "H" } else { "P" }
    }

    /// The kind a USCC's organization category (positions 1–2) implies, where it implies one.
    pub fn implied_by_category(category: &str) -> Option<Self> {
        Some(match category {
            "91" => Self::Enterprise,
            "92" => Self::IndividualBusiness,
            "93" => Self::FarmerCooperative,
            "11" => Self::GovernmentAgency,
            "12" => Self::PublicInstitution,
            "51" | "52" | "53" => Self::SocialOrganization,
            _ => return None,
        })
    }
}
