//! Credit commitments (信用承诺): recorded idempotently by approval halls, partners and
//! departments; verified by the department responsible for the matter; a breach enters the
//! subject's credit record as a COMMITMENT_BREACH record and re-rates it in the same
//! transaction; public as 信用承诺公示, with typical cases (典型案例) an admin marks.

pub mod graphql;
pub mod rules;
pub mod service;

use async_graphql::Enum;

/// The kinds of credit commitment (信用承诺): 审批型 (notification-commitment), 主动型, 行业自律型
/// and 修复型.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitmentKind {
    /// 证明事项告知承诺: a certificate replaced by the applicant's written commitment.
    CertificationNotification,
    /// 涉企经营许可事项告知承诺: a business licence granted on commitment.
    BusinessNotification,
    /// 主动型: a commitment the subject makes of its own accord and publishes.
    Voluntary,
    /// 行业自律型: a commitment made to an industry association.
    IndustrySelfDiscipline,
    /// 信用修复承诺: made when applying for credit repair.
    CreditRepair,
}

impl CommitmentKind {
    pub const ALL: [Self; 5] = [
        Self::CertificationNotification,
        Self::BusinessNotification,
        Self::Voluntary,
        Self::IndustrySelfDiscipline,
        Self::CreditRepair,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CertificationNotification => "CERTIFICATION_NOTIFICATION",
            Self::BusinessNotification => "BUSINESS_NOTIFICATION",
            Self::Voluntary => "VOLUNTARY",
            Self::IndustrySelfDiscipline => "INDUSTRY_SELF_DISCIPLINE",
            Self::CreditRepair => "CREDIT_REPAIR",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a commitment is in its life: PENDING_VERIFICATION → FULFILLED | BREACHED | WITHDRAWN.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitmentStatus {
    /// Recorded; the responsible department has not verified it yet.
    PendingVerification,
    /// Verified as kept (践诺).
    Fulfilled,
    /// Verified as broken (违诺): a COMMITMENT_BREACH record was written.
    Breached,
    /// Withdrawn by its recorder before verification.
    Withdrawn,
}

impl CommitmentStatus {
    pub const ALL: [Self; 4] = [
        Self::PendingVerification,
        Self::Fulfilled,
        Self::Breached,
        Self::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingVerification => "PENDING_VERIFICATION",
            Self::Fulfilled => "FULFILLED",
            Self::Breached => "BREACHED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a verification found.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationOutcome {
    /// The commitment was kept.
    Fulfilled,
    /// The commitment was broken: a COMMITMENT_BREACH record enters the credit record.
    Breached,
}

impl VerificationOutcome {
    pub fn status(self) -> CommitmentStatus {
        match self {
            Self::Fulfilled => CommitmentStatus::Fulfilled,
            Self::Breached => CommitmentStatus::Breached,
        }
    }
}
