//! What every dashboard page would otherwise read from the store besides
//! its session: the CSRF key (created once per database, never changed) and
//! the account's brand. Both are kept in memory; a brand is forgotten when
//! this node changes it and, for a change made on another node of a fleet,
//! after [`BRAND_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hookline_store::{Branding, StoreResult};
use tokio::sync::OnceCell;

/// How long a brand read from the store is used before it is read again.
pub(crate) const BRAND_TTL: Duration = Duration::from_secs(30);
/// Most brands kept; past that the cache starts over.
const MAX_BRANDS: usize = 10_000;

/// The cached values; one per node, in `AppState`.
#[derive(Default)]
pub(crate) struct PageCache {
    csrf_key: OnceCell<Vec<u8>>,
    brands: Mutex<HashMap<String, (Instant, Option<Branding>)>>,
}

impl PageCache {
    /// The CSRF key, loaded (or created) by `load` the first time only; a
    /// failed load is tried again next time.
    pub(crate) async fn csrf_key<F, Fut>(&self, load: F) -> StoreResult<Vec<u8>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = StoreResult<Vec<u8>>>,
    {
        self.csrf_key.get_or_try_init(load).await.cloned()
    }

    /// The account's brand if it was read less than [`BRAND_TTL`] ago.
    pub(crate) fn brand(&self, account_id: &str) -> Option<Option<Branding>> {
        let brands = self
            .brands
            .lock()
            .expect("the brand cache is never poisoned");
        brands
            .get(account_id)
            .filter(|(at, _)| at.elapsed() < BRAND_TTL)
            .map(|(_, brand)| brand.clone())
    }

    /// Keeps the account's brand as just read from the store.
    pub(crate) fn keep_brand(&self, account_id: &str, brand: Option<Branding>) {
        let mut brands = self
            .brands
            .lock()
            .expect("the brand cache is never poisoned");
        if brands.len() >= MAX_BRANDS {
            brands.clear();
        }
        brands.insert(account_id.to_string(), (Instant::now(), brand));
    }

    /// Forgets the account's brand (it changed, or the account is gone).
    pub(crate) fn forget_brand(&self, account_id: &str) {
        self.brands
            .lock()
            .expect("the brand cache is never poisoned")
            .remove(account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_key_is_loaded_once() {
        let cache = PageCache::default();
        let first = cache
            .csrf_key(|| async { Ok(b"k1".to_vec()) })
            .await
            .unwrap();
        let second = cache
            .csrf_key(|| async { Ok(b"k2".to_vec()) })
            .await
            .unwrap();
        assert_eq!((first, second), (b"k1".to_vec(), b"k1".to_vec()));
    }

    #[test]
    fn brands_are_kept_until_forgotten() {
        let cache = PageCache::default();
        assert_eq!(cache.brand("acct_1"), None);
        cache.keep_brand("acct_1", None);
        assert_eq!(cache.brand("acct_1"), Some(None));
        cache.forget_brand("acct_1");
        assert_eq!(cache.brand("acct_1"), None);
    }
}
