//! Prefixed, sortable identifiers (`acct_…`, `evt_…`).
//!
//! An id is a prefix plus a 26-character suffix: 10 characters of millisecond
//! time then 16 random characters, all Crockford base32, so ids sort by
//! creation time. That ordering is what cursor pagination relies on.

use std::fmt;

use chrono::Utc;
use rand::Rng;

/// The kinds of object that carry an id, each with its fixed prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Account,
    Endpoint,
    Event,
    Delivery,
    Attempt,
    ApiKey,
}

impl IdKind {
    /// The prefix, including the underscore.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "acct_",
            IdKind::Endpoint => "ep_",
            IdKind::Event => "evt_",
            IdKind::Delivery => "del_",
            IdKind::Attempt => "att_",
            IdKind::ApiKey => "key_",
        }
    }
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Namespace for id generation and validation; ids travel as `String`.
pub struct Id;

impl Id {
    /// A new time-ordered id of `kind`.
    pub fn generate(kind: IdKind) -> String {
        let mut out = String::with_capacity(kind.prefix().len() + 26);
        out.push_str(kind.prefix());
        let millis = Utc::now().timestamp_millis().max(0) as u64;
        for i in (0..10).rev() {
            out.push(ALPHABET[((millis >> (i * 5)) & 31) as usize] as char);
        }
        let mut rng = rand::thread_rng();
        for _ in 0..16 {
            out.push(ALPHABET[rng.gen_range(0..32)] as char);
        }
        out
    }

    /// Whether `value` is a well-formed id of `kind` (client-supplied ids may
    /// use any suffix of 1 to 100 characters from `[A-Za-z0-9_-]`).
    pub fn is_valid(kind: IdKind, value: &str) -> bool {
        match value.strip_prefix(kind.prefix()) {
            Some(rest) => {
                !rest.is_empty()
                    && rest.len() <= 100
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            }
            None => false,
        }
    }
}

/// Displays an id kind as its prefix without the underscore, e.g. in errors.
impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix().trim_end_matches('_'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_ordered() {
        let a = Id::generate(IdKind::Event);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Id::generate(IdKind::Event);
        assert!(Id::is_valid(IdKind::Event, &a));
        assert!(a.starts_with("evt_") && a.len() == 30);
        assert!(a < b);
    }

    #[test]
    fn validation_rejects_wrong_prefix_and_characters() {
        assert!(!Id::is_valid(IdKind::Event, "ep_123"));
        assert!(!Id::is_valid(IdKind::Event, "evt_"));
        assert!(!Id::is_valid(IdKind::Event, "evt_a b"));
        assert!(Id::is_valid(IdKind::Event, "evt_order-42_paid"));
    }
}
