//! The public credit information catalog (公共信用信息目录) as data: what may be recorded, by
//! whom, with which fields, and who may see it.

pub mod graphql;
pub mod rules;
pub mod service;

use async_graphql::Enum;

use rules::FieldSpec;

/// The categories of the public credit information catalog (公共信用信息目录).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordCategory {
    /// 基础信息: registration and other basic data.
    Basic,
    /// 行政许可 (双公示).
    License,
    /// 行政处罚 (双公示).
    Penalty,
    /// 强制执行 / 失信被执行人.
    Enforcement,
    /// 行政裁决.
    Adjudication,
    /// 司法判决.
    Judicial,
    /// 纳税.
    Tax,
    /// 社会保险.
    SocialSecurity,
    /// 水电气等公用事业.
    Utility,
    /// 住房公积金.
    HousingFund,
    /// 表彰奖励.
    Honor,
    /// 信用承诺.
    Commitment,
    /// 违背信用承诺.
    CommitmentBreach,
    /// 政务诚信: government agencies' dishonesty (arrears to enterprises, unfulfilled judgments).
    GovernmentIntegrity,
    /// 科研诚信.
    ResearchIntegrity,
    /// 知识产权.
    Ip,
    /// 生态环境.
    Environment,
    /// 其他.
    Other,
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

string_enum!(RecordCategory {
    Basic => "BASIC",
    License => "LICENSE",
    Penalty => "PENALTY",
    Enforcement => "ENFORCEMENT",
    Adjudication => "ADJUDICATION",
    Judicial => "JUDICIAL",
    Tax => "TAX",
    SocialSecurity => "SOCIAL_SECURITY",
    Utility => "UTILITY",
    HousingFund => "HOUSING_FUND",
    Honor => "HONOR",
    Commitment => "COMMITMENT",
    CommitmentBreach => "COMMITMENT_BREACH",
    GovernmentIntegrity => "GOVERNMENT_INTEGRITY",
    ResearchIntegrity => "RESEARCH_INTEGRITY",
    Ip => "IP",
    Environment => "ENVIRONMENT",
    Other => "OTHER",
});

impl RecordCategory {
    /// Licenses and penalties: reported within 7 working days (双公示).
    pub fn is_double_publicity(self) -> bool {
        matches!(self, Self::License | Self::Penalty)
    }

    /// The Chinese name of the category.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Basic => "基础信息",
            Self::License => "行政许可",
            Self::Penalty => "行政处罚",
            Self::Enforcement => "强制执行",
            Self::Adjudication => "行政裁决",
            Self::Judicial => "司法判决",
            Self::Tax => "纳税信息",
            Self::SocialSecurity => "社会保险",
            Self::Utility => "公用事业缴费",
            Self::HousingFund => "住房公积金",
            Self::Honor => "表彰奖励",
            Self::Commitment => "信用承诺",
            Self::CommitmentBreach => "违背信用承诺",
            Self::GovernmentIntegrity => "政务诚信",
            Self::ResearchIntegrity => "科研诚信",
            Self::Ip => "知识产权",
            Self::Environment => "生态环境",
            Self::Other => "其他",
        }
    }
}

/// Whether information speaks for or against a subject.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Polarity {
    /// 守信 / incentive information.
    Positive,
    /// Neither: registration, licenses, commitments.
    Neutral,
    /// 失信 information.
    Negative,
}

string_enum!(Polarity {
    Positive => "POSITIVE",
    Neutral => "NEUTRAL",
    Negative => "NEGATIVE",
});

/// Who may see information of a catalog item.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disclosure {
    /// 社会公开: everyone, inside its publicity period.
    Public,
    /// 授权查询: the providing department and admins, and others only with the subject's consent.
    Authorized,
    /// 政务共享: departments and approval halls.
    Government,
}

string_enum!(Disclosure {
    Public => "PUBLIC",
    Authorized => "AUTHORIZED",
    Government => "GOVERNMENT",
});

/// A catalog item as the rules use it.
#[derive(Debug, Clone)]
pub struct CatalogItem {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub category: RecordCategory,
    pub polarity: Polarity,
    pub disclosure: Disclosure,
    /// Organization codes that provide it; empty: every department.
    pub providers: Vec<String>,
    pub fields: Vec<FieldSpec>,
    pub repairable: bool,
    pub version: i32,
    pub active: bool,
}

impl CatalogItem {
    /// Whether an organization may submit records of this item (admins always may).
    pub fn provided_by(&self, organization: &str) -> bool {
        self.providers.is_empty() || self.providers.iter().any(|p| p == organization)
    }
}
