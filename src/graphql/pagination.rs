//! Relay connection helpers shared by both schemas: every listing answers a
//! [`CountedConnection`] built by [`connection`] from a [`Page`], so cursors, `pageInfo`
//! and `totalCount` are made in one place.

use async_graphql::connection::{
    Connection, ConnectionNameType, DefaultConnectionName, DefaultEdgeName, Edge, EdgeNameType, EmptyFields,
};
use async_graphql::{Context, OutputType, SimpleObject};

use crate::config::ApiLimits;
use crate::error::{Error, Result};
use crate::ledger::paging::{Page, Total};

/// Extra connection field of API.md: the number of items across all pages.
#[derive(SimpleObject)]
pub struct ConnectionTotals {
    pub total_count: u64,
}

/// A connection of API.md: `edges { cursor node }`, `nodes`, `pageInfo`, `totalCount`.
/// `Name` and `EdgeName` rename its types where API.md does (`LedgerConnection`).
pub type CountedConnection<Node, Name = DefaultConnectionName, EdgeName = DefaultEdgeName> =
    Connection<String, Node, ConnectionTotals, EmptyFields, Name, EdgeName>;

/// The connection of one page: an edge per row, with the cursor `cursor` gives the row
/// and the node `node` makes of it. `has_previous` says whether the page starts after a
/// cursor. `totalCount` is the page's total; a page that was not counted (its total
/// unselected, see [`total_wanted`]) answers 0, which no client then reads.
pub fn connection<Row, Node, Name, EdgeName>(
    page: Page<Row>,
    has_previous: bool,
    cursor: impl Fn(&Row) -> String,
    node: impl Fn(Row) -> Node,
) -> CountedConnection<Node, Name, EdgeName>
where
    Node: OutputType,
    Name: ConnectionNameType,
    EdgeName: EdgeNameType,
{
    let totals = ConnectionTotals {
        total_count: page.total.unwrap_or_default(),
    };
    let mut connection = Connection::with_additional_fields(has_previous, page.has_next, totals);
    connection.edges = page
        .rows
        .into_iter()
        .map(|row| Edge::new(cursor(&row), node(row)))
        .collect();
    connection
}

/// Whether the connection being resolved selects `totalCount`: counting every page
/// costs a statement (or a window over all matching rows), so it is done only when asked.
pub fn total_wanted(ctx: &Context<'_>) -> Total {
    Total::wanted_if(ctx.look_ahead().field("totalCount").exists())
}

/// `first`, checked (not negative) and capped at the configured page size (default 200).
pub fn page_size(ctx: &Context<'_>, first: Option<i32>, default: i32) -> Result<u64> {
    let max = ctx
        .data_opt::<ApiLimits>()
        .map(|l| l.max_page_size)
        .unwrap_or(ApiLimits::default().max_page_size);
    clamp_page(first, default, max)
}

fn clamp_page(first: Option<i32>, default: i32, max: i32) -> Result<u64> {
    let first = first.unwrap_or(default);
    if first < 0 {
        return Err(Error::bad_input("first", "first must not be negative"));
    }
    Ok(first.min(max) as u64)
}

/// Items an unpaged list (an account's `children`, an entry's `lines`) counts for in
/// the complexity limit: such lists have no `first`, so nesting them (`children {
/// children { ... } }`) multiplies the estimate by this at each level and is refused
/// long before it could build a response of millions of values.
pub const UNPAGED_LIST_ITEMS: usize = 10;

/// Query cost of an unpaged list: [`UNPAGED_LIST_ITEMS`] times the cost of one item.
pub fn list_cost(child_complexity: usize) -> usize {
    1 + UNPAGED_LIST_ITEMS.saturating_mul(child_complexity)
}

/// Query cost of a page: its size times the cost of one item (for complexity limits).
pub fn page_cost(first: Option<i32>, default: i32, child_complexity: usize) -> usize {
    let size = first.unwrap_or(default).clamp(0, ApiLimits::default().max_page_size) as usize;
    1 + size.max(1) * child_complexity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_is_capped_and_checked() {
        assert_eq!(clamp_page(None, 50, 200).ok(), Some(50));
        assert_eq!(clamp_page(Some(10_000), 50, 200).ok(), Some(200));
        assert_eq!(clamp_page(Some(0), 50, 200).ok(), Some(0));
        assert!(clamp_page(Some(-1), 50, 200).is_err());
        assert_eq!(page_cost(Some(10), 50, 3), 31);
        assert_eq!(page_cost(Some(1_000_000), 50, 1), 201);
    }

    #[test]
    fn a_page_becomes_a_connection() {
        let page = Page::from_overfetched(vec![1, 2, 3], 2, Some(7));
        let built: CountedConnection<String> = connection(page, true, |n| format!("c{n}"), |n| n.to_string());
        let cursors: Vec<&str> = built.edges.iter().map(|e| e.cursor.as_str()).collect();
        assert_eq!(cursors, ["c1", "c2"], "the extra row only tells that more follow");
        assert_eq!(built.edges[1].node, "2");
        assert!(built.has_previous_page && built.has_next_page);
        assert_eq!(built.additional_fields.total_count, 7);
        let last: CountedConnection<i32> = connection(
            Page::from_overfetched(vec![1], 2, None),
            false,
            |n| n.to_string(),
            |n| n,
        );
        assert!(!last.has_next_page && !last.has_previous_page);
        assert_eq!(last.additional_fields.total_count, 0, "not counted");
    }
}
