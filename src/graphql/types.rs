//! GraphQL types shared by every capability: user errors, opaque cursors and global ids.

use async_graphql::{
    ID, SimpleObject,
    connection::{CursorType, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{AppError, FieldError, UserErrorCode};

/// A rule the input of a mutation broke. Business and validation failures come back here,
/// never as top-level errors.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// Path of the offending field inside the mutation's `input`, e.g. `["subjects", "3", "code"]`.
    pub field: Vec<String>,
    /// Machine-readable rule code; match on this, not on the message.
    pub code: UserErrorCode,
    /// What is wrong and how to fix it, in words a clerk can act on.
    pub message: String,
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            code: e.code,
            message: e.message,
        }
    }
}

/// The most a page may hold, and the size when `first` is not given.
pub const MAX_PAGE_SIZE: i32 = 100;
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// The most elements a list argument may hold.
pub const MAX_LIST_ARGUMENT: usize = 1000;

/// Checks `first` against the page-size limit and defaults it.
pub fn page_size(first: Option<i32>) -> Result<u64, AppError> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE as u64),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n as u64),
        Some(n) => Err(AppError::bad_input(
            "first",
            format!("first must be between 1 and {MAX_PAGE_SIZE}; it was {n}"),
        )),
    }
}

/// Checks a list argument against the list limit.
pub fn check_list_len(field: &str, len: usize) -> Result<(), AppError> {
    if len > MAX_LIST_ARGUMENT {
        return Err(AppError::bad_input(
            field,
            format!("{field} may hold at most {MAX_LIST_ARGUMENT} elements; it has {len}"),
        ));
    }
    Ok(())
}

/// An opaque cursor over rows ordered by their numeric id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCursor(pub i64);

impl IdCursor {
    /// Decodes an `after` argument, refusing cursors this API did not hand out.
    pub fn parse(s: &str) -> Result<Self, AppError> {
        let bad = || AppError::bad_input("after", "the cursor is not one this API handed out");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let id = text
            .strip_prefix("c:")
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(bad)?;
        Ok(Self(id))
    }
}

/// A cursor that does not decode.
#[derive(Debug)]
pub struct BadCursor;

impl std::fmt::Display for BadCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cursor is not one this API handed out")
    }
}

impl CursorType for IdCursor {
    type Error = BadCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s).map_err(|_| BadCursor)
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("c:{}", self.0))
    }
}

/// The fields every connection has besides edges and pageInfo.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ConnectionTotals {
    /// How many items match the filter in all, across every page.
    pub total_count: u64,
}

/// A Relay connection with `totalCount`.
pub type CountedConnection<Node> =
    async_graphql::connection::Connection<IdCursor, Node, ConnectionTotals, EmptyFields>;

/// One page of rows as a Relay connection: each row's id is its cursor.
pub fn page<Row, Node: async_graphql::OutputType>(
    rows: Vec<Row>,
    id: impl Fn(&Row) -> i64,
    node: impl Fn(Row) -> Node,
    has_previous: bool,
    has_next: bool,
    total: u64,
) -> CountedConnection<Node> {
    let mut connection = async_graphql::connection::Connection::with_additional_fields(
        has_previous,
        has_next,
        ConnectionTotals { total_count: total },
    );
    connection.edges = rows
        .into_iter()
        .map(|row| async_graphql::connection::Edge::new(IdCursor(id(&row)), node(row)))
        .collect();
    connection
}

/// The kinds of object a global id can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Subject,
    CreditRecord,
    ListEntry,
    Commitment,
    BenefitUse,
}

impl NodeKind {
    const ALL: [NodeKind; 5] = [
        Self::Subject,
        Self::CreditRecord,
        Self::ListEntry,
        Self::Commitment,
        Self::BenefitUse,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Self::Subject => "Subject",
            Self::CreditRecord => "CreditRecord",
            Self::ListEntry => "ListEntry",
            Self::Commitment => "Commitment",
            Self::BenefitUse => "BenefitUse",
        }
    }
}

/// An opaque global id (`node(id)`): base64url of `Kind:id`.
pub fn global_id(kind: NodeKind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.prefix())))
}

/// Decodes a global id; `None` for anything this API did not hand out.
pub fn decode_global_id(id: &str) -> Option<(NodeKind, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (kind, n) = text.split_once(':')?;
    let kind = NodeKind::ALL.into_iter().find(|k| k.prefix() == kind)?;
    Some((kind, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_reject_garbage() {
        let id = global_id(NodeKind::Subject, 42);
        assert_eq!(decode_global_id(&id), Some((NodeKind::Subject, 42)));
        assert_eq!(decode_global_id("not-an-id"), None);
        assert_eq!(decode_global_id(&URL_SAFE_NO_PAD.encode("Other:1")), None);
    }

    #[test]
    fn cursors_round_trip() {
        let c = IdCursor(7).encode_cursor();
        assert_eq!(IdCursor::parse(&c).ok(), Some(IdCursor(7)));
        assert!(IdCursor::parse("zzz").is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).ok(), Some(20));
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(0)).is_err());
    }
}
