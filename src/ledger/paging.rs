//! One page of a listing in keyset order, and the number of matching rows across all
//! pages only when the caller asks for it (GraphQL `totalCount`).
//!
//! On a first page the total comes from the same statement, as an uncorrelated scalar
//! subquery (`(SELECT count(*) ... ) AS total`, evaluated once; unlike a window count it
//! leaves the page free to stop at its `LIMIT` on an index), so a first page with its
//! total is one round trip. After a cursor the total is a separate `count(*)`, since the
//! page's own condition then differs from the listing's.

use sea_orm::sea_query::Expr;
use sea_orm::{
    Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QueryResult, QuerySelect, QueryTrait,
};

use crate::error::Result;

/// Column alias of the total.
const TOTAL: &str = "page_total_count";

/// A page of rows, whether another page follows, and the total when it was asked for.
#[derive(Debug)]
pub struct Page<M> {
    pub rows: Vec<M>,
    pub has_next: bool,
    pub total: Option<u64>,
}

impl<M> Page<M> {
    /// A page from rows fetched with a limit of `first + 1`: the extra row, dropped,
    /// only tells that another page follows.
    pub fn from_overfetched(mut rows: Vec<M>, first: u64, total: Option<u64>) -> Self {
        let has_next = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        Page { rows, has_next, total }
    }
}

/// Whether to count the rows of every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Total {
    Wanted,
    NotWanted,
}

impl Total {
    pub fn wanted_if(wanted: bool) -> Self {
        if wanted {
            Total::Wanted
        } else {
            Total::NotWanted
        }
    }
}

/// A row with the total next to it.
struct Counted<M> {
    row: M,
    total: i64,
}

impl<M: FromQueryResult> FromQueryResult for Counted<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Counted {
            row: M::from_query_result(res, pre)?,
            total: res.try_get(pre, TOTAL)?,
        })
    }
}

/// Rows of `E` matching `matching`, ordered ascending by `order` (a unique key), the
/// first `first` of them after the keyset condition `after`.
pub async fn fetch<E>(
    db: &impl ConnectionTrait,
    matching: Condition,
    order: &[E::Column],
    after: Option<Condition>,
    first: u64,
    total: Total,
) -> Result<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    let mut query = E::find().filter(matching.clone());
    for column in order {
        query = query.order_by_asc(*column);
    }
    // One row more than asked tells whether another page follows.
    let query = query.limit(first + 1);
    let (rows, total) = match (after, total) {
        (None, Total::Wanted) => {
            let count_all = E::find()
                .filter(matching)
                .select_only()
                .expr(Expr::cust("count(*)"))
                .into_query();
            let counted: Vec<Counted<E::Model>> =
                query.expr_as(Expr::from(count_all), TOTAL).into_model().all(db).await?;
            // No row on a first page means nothing matches at all.
            let total = counted.first().map_or(0, |c| c.total.max(0) as u64);
            (counted.into_iter().map(|c| c.row).collect(), Some(total))
        }
        (Some(after), Total::Wanted) => {
            let total = E::find().filter(matching).count(db).await?;
            (query.filter(after).all(db).await?, Some(total))
        }
        (after, Total::NotWanted) => {
            let query = match after {
                Some(after) => query.filter(after),
                None => query,
            };
            (query.all(db).await?, None)
        }
    };
    Ok(Page::from_overfetched(rows, first, total))
}
