//! 信易+ benefits and credit financing: scenarios as data with eligibility rules, eligibility in
//! one indexed read (`credit_state` + the current rating), benefit uses recorded by apps, banks'
//! loan products and the loan outcomes they feed back as catalog records (以贷促信).

pub mod graphql;
pub mod rules;
pub mod service;
pub mod state;

use async_graphql::Enum;

/// The categories of 信易+ scenarios.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScenarioCategory {
    /// 信易批: approvals (容缺受理, green channels, notification-commitment).
    Approval,
    /// 信易贷: credit financing; a bank's loan product.
    Financing,
    /// 信易租: rental without deposit.
    Rental,
    /// 信易行: transport and travel.
    Transport,
    /// 信易游: tourism.
    Tourism,
    /// 信易阅: libraries, borrowing without deposit.
    Reading,
    /// 信易医: medical care (treatment first, payment after).
    Medical,
    /// 信易采: public procurement (deposits waived or reduced).
    Procurement,
    /// Anything else.
    Other,
}

impl ScenarioCategory {
    pub const ALL: [Self; 9] = [
        Self::Approval,
        Self::Financing,
        Self::Rental,
        Self::Transport,
        Self::Tourism,
        Self::Reading,
        Self::Medical,
        Self::Procurement,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approval => "APPROVAL",
            Self::Financing => "FINANCING",
            Self::Rental => "RENTAL",
            Self::Transport => "TRANSPORT",
            Self::Tourism => "TOURISM",
            Self::Reading => "READING",
            Self::Medical => "MEDICAL",
            Self::Procurement => "PROCUREMENT",
            Self::Other => "OTHER",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Why a bank (or anyone) checks a subject: the permissible purpose credit-reporting law asks
/// for, recorded in the audit log with every check.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// 贷款审批: a loan application.
    LoanApplication,
    /// 贷后管理: monitoring an outstanding loan.
    PostLoanMonitoring,
    /// 授信额度审查: a credit-limit review.
    CreditLimitReview,
    /// 担保资格审查: a guarantee review.
    GuaranteeReview,
    /// Granting a 信易+ benefit at a counter or in an app.
    BenefitGrant,
    /// An administrative approval.
    AdministrativeApproval,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoanApplication => "LOAN_APPLICATION",
            Self::PostLoanMonitoring => "POST_LOAN_MONITORING",
            Self::CreditLimitReview => "CREDIT_LIMIT_REVIEW",
            Self::GuaranteeReview => "GUARANTEE_REVIEW",
            Self::BenefitGrant => "BENEFIT_GRANT",
            Self::AdministrativeApproval => "ADMINISTRATIVE_APPROVAL",
        }
    }
}
