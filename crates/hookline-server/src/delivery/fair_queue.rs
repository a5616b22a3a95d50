//! Deliveries admitted on this node and waiting to be sent, taken in
//! round-robin over accounts, then over each account's endpoints.
//!
//! An account with 100,000 waiting deliveries gets one turn per round like
//! an account with one, and within an account a slow endpoint gets one turn
//! like a fast one; an endpoint that cannot send now (its concurrency, its
//! rate limit, a `Retry-After`) passes its turn without holding anyone up.
//! Within one endpoint deliveries leave in the order they arrived. The
//! queue only orders; what may be sent is the caller's `ready` check.

use std::collections::{HashMap, VecDeque};

/// Waiting items, keyed by account and then endpoint.
pub(super) struct FairQueue<T> {
    /// Accounts with waiting items, in turn order.
    turns: VecDeque<String>,
    accounts: HashMap<String, AccountQueue<T>>,
    len: usize,
}

struct AccountQueue<T> {
    /// Endpoints with waiting items, in turn order.
    turns: VecDeque<String>,
    endpoints: HashMap<String, VecDeque<T>>,
}

impl<T> Default for FairQueue<T> {
    fn default() -> Self {
        FairQueue {
            turns: VecDeque::new(),
            accounts: HashMap::new(),
            len: 0,
        }
    }
}

impl<T> FairQueue<T> {
    /// Items waiting.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds `item` behind the others of its endpoint; a new account or
    /// endpoint takes its turn after those already waiting.
    pub(super) fn push(&mut self, account: &str, endpoint: &str, item: T) {
        let queue = self.accounts.entry(account.to_string()).or_insert_with(|| {
            self.turns.push_back(account.to_string());
            AccountQueue {
                turns: VecDeque::new(),
                endpoints: HashMap::new(),
            }
        });
        queue
            .endpoints
            .entry(endpoint.to_string())
            .or_insert_with(|| {
                queue.turns.push_back(endpoint.to_string());
                VecDeque::new()
            })
            .push_back(item);
        self.len += 1;
    }

    /// The next item whose endpoint is `ready`: the account whose turn it is
    /// gives it from its first ready endpoint, then both go to the back of
    /// their turns. `None` when no waiting endpoint is ready.
    pub(super) fn pop(&mut self, mut ready: impl FnMut(&str) -> bool) -> Option<T> {
        for _ in 0..self.turns.len() {
            let account = self.turns.pop_front()?;
            let queue = self
                .accounts
                .get_mut(&account)
                .expect("every account in turn has a queue");
            match queue.pop(&mut ready) {
                Some(item) => {
                    self.len -= 1;
                    if queue.endpoints.is_empty() {
                        self.accounts.remove(&account);
                    } else {
                        self.turns.push_back(account);
                    }
                    return Some(item);
                }
                None => self.turns.push_back(account),
            }
        }
        None
    }

    /// Empties the queue.
    pub(super) fn drain(&mut self) -> Vec<T> {
        self.turns.clear();
        self.len = 0;
        self.accounts
            .drain()
            .flat_map(|(_, q)| q.endpoints.into_values().flatten())
            .collect()
    }

    /// Takes out every item `keep` refuses, answering them; the others keep
    /// their places.
    pub(super) fn remove_unless(&mut self, mut keep: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut removed = Vec::new();
        for queue in self.accounts.values_mut() {
            for items in queue.endpoints.values_mut() {
                let mut kept = VecDeque::with_capacity(items.len());
                for item in items.drain(..) {
                    if keep(&item) {
                        kept.push_back(item);
                    } else {
                        removed.push(item);
                    }
                }
                *items = kept;
            }
            queue.endpoints.retain(|_, items| !items.is_empty());
            let endpoints = &queue.endpoints;
            queue.turns.retain(|e| endpoints.contains_key(e));
        }
        self.accounts.retain(|_, q| !q.endpoints.is_empty());
        let accounts = &self.accounts;
        self.turns.retain(|a| accounts.contains_key(a));
        self.len -= removed.len();
        removed
    }

    /// The endpoints with waiting items.
    pub(super) fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.accounts
            .values()
            .flat_map(|q| q.endpoints.keys().map(String::as_str))
    }
}

impl<T> AccountQueue<T> {
    fn pop(&mut self, ready: &mut impl FnMut(&str) -> bool) -> Option<T> {
        for _ in 0..self.turns.len() {
            let endpoint = self.turns.pop_front()?;
            if !ready(&endpoint) {
                self.turns.push_back(endpoint);
                continue;
            }
            let items = self
                .endpoints
                .get_mut(&endpoint)
                .expect("every endpoint in turn has items");
            let item = items.pop_front();
            if items.is_empty() {
                self.endpoints.remove(&endpoint);
            } else {
                self.turns.push_back(endpoint);
            }
            return item;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ready(_: &str) -> bool {
        true
    }

    fn take_all(q: &mut FairQueue<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| q.pop(all_ready)).collect()
    }

    #[test]
    fn a_flooding_account_gets_one_turn_per_round() {
        let mut q = FairQueue::default();
        for item in ["n1", "n2", "n3", "n4"] {
            q.push("noisy", "ep_n", item);
        }
        q.push("quiet", "ep_q", "q1");
        q.push("quiet", "ep_q", "q2");
        assert_eq!(q.len(), 6);
        assert_eq!(take_all(&mut q), ["n1", "q1", "n2", "q2", "n3", "n4"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn endpoints_of_an_account_take_turns_in_order_of_arrival() {
        let mut q = FairQueue::default();
        q.push("a", "slow", "s1");
        q.push("a", "slow", "s2");
        q.push("a", "fast", "f1");
        q.push("a", "fast", "f2");
        assert_eq!(take_all(&mut q), ["s1", "f1", "s2", "f2"]);
    }

    #[test]
    fn an_endpoint_that_is_not_ready_passes_its_turn() {
        let mut q = FairQueue::default();
        q.push("a", "busy", "b1");
        q.push("a", "free", "f1");
        q.push("b", "busy2", "x1");
        let not_busy = |e: &str| !e.starts_with("busy");
        assert_eq!(q.pop(not_busy), Some("f1"));
        assert_eq!(q.pop(not_busy), None);
        assert_eq!(q.len(), 2);
        // Ready again: the waiting ones go, oldest account first.
        assert_eq!(take_all(&mut q), ["x1", "b1"]);
    }

    #[test]
    fn removed_items_leave_the_others_in_turn() {
        let mut q = FairQueue::default();
        q.push("a", "e", 1);
        q.push("a", "e", 2);
        q.push("b", "f", 3);
        q.push("c", "g", 4);
        q.push("c", "g", 5);
        let mut removed = q.remove_unless(|n| n % 2 == 1);
        removed.sort();
        assert_eq!(removed, [2, 4]);
        assert_eq!(q.len(), 3);
        assert_eq!(
            std::iter::from_fn(|| q.pop(|_| true)).collect::<Vec<_>>(),
            [1, 3, 5]
        );
        q.push("d", "h", 6);
        assert_eq!(q.remove_unless(|_| false), [6]);
        assert_eq!((q.len(), q.pop(|_| true)), (0, None));
    }

    #[test]
    fn drain_gives_back_everything_waiting() {
        let mut q = FairQueue::default();
        q.push("a", "e", 1);
        q.push("b", "e", 2);
        q.push("b", "f", 3);
        let mut endpoints: Vec<_> = q.endpoints().collect();
        endpoints.sort();
        assert_eq!(endpoints, ["e", "e", "f"]);
        let mut all = q.drain();
        all.sort();
        assert_eq!(all, [1, 2, 3]);
        assert_eq!((q.len(), q.pop(|_| true)), (0, None));
    }
}
