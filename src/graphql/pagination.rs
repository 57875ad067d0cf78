//! Relay connection helpers shared by both schemas.

use async_graphql::{Context, SimpleObject};

use crate::config::ApiLimits;
use crate::error::{Error, Result};
use crate::ledger::paging::Total;

/// Extra connection field of API.md: the number of items across all pages.
#[derive(SimpleObject)]
pub struct ConnectionTotals {
    pub total_count: u64,
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
}
