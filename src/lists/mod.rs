//! Lists (名单): RED (守信激励), SERIOUS_DISHONESTY (严重失信主体名单) and KEY_ATTENTION (重点关注).
//! Departments and admins add and remove entries; the RED and SERIOUS_DISHONESTY lists are public.

pub mod graphql;
pub mod service;

use async_graphql::Enum;

/// The lists a subject can be on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ListKind {
    /// 守信激励名单 (red list): incentives.
    Red,
    /// 严重失信主体名单: joint sanctions; forces grade D in evaluations.
    SeriousDishonesty,
    /// 重点关注名单 (e.g. repeat offenders): government only.
    KeyAttention,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Red => "RED",
            Self::SeriousDishonesty => "SERIOUS_DISHONESTY",
            Self::KeyAttention => "KEY_ATTENTION",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RED" => Some(Self::Red),
            "SERIOUS_DISHONESTY" => Some(Self::SeriousDishonesty),
            "KEY_ATTENTION" => Some(Self::KeyAttention),
            _ => None,
        }
    }

    /// Whether the public may see the list.
    pub fn is_public(self) -> bool {
        !matches!(self, Self::KeyAttention)
    }
}
