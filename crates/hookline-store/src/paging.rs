//! List pages cut by `seq`, either way from a cursor, the same on both
//! stores: a page's query walks `seq` away from its cursor, takes one row
//! more than it shows (to know whether more lie that way), and
//! [`paginate`] turns the rows into a page in the list's own order.

use hookline_core::Page;

use crate::types::{Direction, PageRequest};

/// The order a list is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListOrder {
    /// `seq` descending: events and attempts.
    NewestFirst,
    /// `seq` ascending: accounts and endpoints.
    OldestFirst,
}

/// How a page's query walks `seq`: `WHERE seq {cmp} bound ORDER BY seq
/// {order} LIMIT fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Walk {
    /// `<` or `>`.
    pub(crate) cmp: &'static str,
    /// `DESC` or `ASC`.
    pub(crate) order: &'static str,
    /// The cursor, or the end of `seq` the walk starts from without one.
    pub(crate) bound: i64,
    /// `limit + 1` rows.
    pub(crate) fetch: i64,
}

impl Walk {
    /// The walk for `page` of a list shown in `list` order. A backward page
    /// walks against the list's order, so the rows nearest its cursor come
    /// first and `LIMIT` keeps those.
    pub(crate) fn new(page: PageRequest, list: ListOrder) -> Walk {
        let descending = matches!(
            (list, page.direction),
            (ListOrder::NewestFirst, Direction::Forward)
                | (ListOrder::OldestFirst, Direction::Backward)
        );
        let fetch = i64::from(page.limit) + 1;
        if descending {
            Walk {
                cmp: "<",
                order: "DESC",
                bound: page.cursor.unwrap_or(i64::MAX),
                fetch,
            }
        } else {
            Walk {
                cmp: ">",
                order: "ASC",
                bound: page.cursor.unwrap_or(i64::MIN),
                fetch,
            }
        }
    }
}

/// Turns the `limit + 1` rows (with their `seq`) a [`Walk`] for `page`
/// fetched into the page, in the list's order, and its cursors (see
/// [`Page`]: only the side the walk went is known to end).
pub(crate) fn paginate<T>(mut rows: Vec<(T, i64)>, page: PageRequest) -> Page<T> {
    let more = rows.len() > page.limit as usize;
    rows.truncate(page.limit as usize);
    if page.direction == Direction::Backward {
        rows.reverse();
    }
    let first = rows.first().map(|(_, seq)| seq.to_string());
    let last = rows.last().map(|(_, seq)| seq.to_string());
    let (next_cursor, prev_cursor) = match page.direction {
        Direction::Forward => (last.filter(|_| more), first),
        Direction::Backward => (last, first.filter(|_| more)),
    };
    Page {
        items: rows.into_iter().map(|(item, _)| item).collect(),
        next_cursor,
        prev_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seqs: &[i64]) -> Vec<(i64, i64)> {
        seqs.iter().map(|&s| (s, s)).collect()
    }

    #[test]
    fn forward_pages_know_their_end() {
        let page = paginate(rows(&[9, 8, 7]), PageRequest::first(2));
        assert_eq!(page.items, [9, 8]);
        assert_eq!(page.next_cursor.as_deref(), Some("8"));
        assert_eq!(page.prev_cursor.as_deref(), Some("9"));
        let last = paginate(rows(&[7]), PageRequest::after(2, Some(8)));
        assert_eq!(last.next_cursor, None);
        assert_eq!(last.prev_cursor.as_deref(), Some("7"));
    }

    #[test]
    fn backward_pages_come_in_list_order() {
        // Walked upwards from 5 in a newest-first list: 6, 7, 8.
        let page = paginate(rows(&[6, 7, 8]), PageRequest::before(2, 5));
        assert_eq!(page.items, [7, 6]);
        assert_eq!(page.prev_cursor.as_deref(), Some("7"));
        assert_eq!(page.next_cursor.as_deref(), Some("6"));
        let top = paginate(rows(&[9]), PageRequest::before(2, 8));
        assert_eq!(top.items, [9]);
        assert_eq!(top.prev_cursor, None);
        let empty = paginate(rows(&[]), PageRequest::before(2, 9));
        assert!(empty.items.is_empty() && empty.prev_cursor.is_none());
        assert!(empty.next_cursor.is_none());
    }

    #[test]
    fn walks_turn_against_the_list_to_go_back() {
        let newest = Walk::new(PageRequest::first(5), ListOrder::NewestFirst);
        assert_eq!(
            (newest.cmp, newest.order, newest.bound),
            ("<", "DESC", i64::MAX)
        );
        assert_eq!(newest.fetch, 6);
        let back = Walk::new(PageRequest::before(5, 40), ListOrder::NewestFirst);
        assert_eq!((back.cmp, back.order, back.bound), (">", "ASC", 40));
        let oldest = Walk::new(PageRequest::after(5, Some(3)), ListOrder::OldestFirst);
        assert_eq!((oldest.cmp, oldest.order, oldest.bound), (">", "ASC", 3));
        let back = Walk::new(PageRequest::before(5, 3), ListOrder::OldestFirst);
        assert_eq!((back.cmp, back.order, back.bound), ("<", "DESC", 3));
    }
}
