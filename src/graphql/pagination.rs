//! Relay connection helpers shared by both schemas.

use async_graphql::SimpleObject;

use crate::error::{Error, Result};

/// Largest page any connection returns.
pub const MAX_PAGE_SIZE: i32 = 200;

/// Extra connection field of API.md: the number of items across all pages.
#[derive(SimpleObject)]
pub struct ConnectionTotals {
    pub total_count: u64,
}

/// Checks `first`: at least 0, and capped at [`MAX_PAGE_SIZE`].
pub fn page_size(first: Option<i32>, default: i32) -> Result<u64> {
    let first = first.unwrap_or(default);
    if first < 0 {
        return Err(Error::bad_input("first", "first must not be negative"));
    }
    Ok(first.min(MAX_PAGE_SIZE) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_is_capped_and_checked() {
        assert_eq!(page_size(None, 50).ok(), Some(50));
        assert_eq!(page_size(Some(10_000), 50).ok(), Some(200));
        assert_eq!(page_size(Some(0), 50).ok(), Some(0));
        assert!(page_size(Some(-1), 50).is_err());
    }
}
