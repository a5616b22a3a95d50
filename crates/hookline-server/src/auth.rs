//! Bearer tokens: the admin token and account API keys, stored only as hashes.
//!
//! Tokens are long random strings, so a SHA-256 hash is enough to make a
//! leaked database useless for calling the API. The admin hash is compared in
//! constant time; API key hashes are looked up (a lookup by hash reveals
//! nothing about the key) and cached in memory for a short while, so a key
//! of an account deleted through another node of a fleet stops working soon.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use hookline_store::SharedStore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The platform: every account, accounts and event types.
    Admin,
    /// One account's API key.
    Account(String),
}

impl Caller {
    /// Whether this caller may act on `account_id` (existence is checked by the caller).
    pub(crate) fn can_access(&self, account_id: &str) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Account(own) => own == account_id,
        }
    }
}

/// Hex SHA-256 of a token, as stored.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How long a node trusts a key it has looked up without asking the store.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// Checks tokens against the admin hash and the stored API keys.
pub(crate) struct Authenticator {
    admin_hash: String,
    store: SharedStore,
    /// Key hash → (account id, when it was looked up).
    key_cache: RwLock<HashMap<String, (String, Instant)>>,
}

impl Authenticator {
    /// An authenticator for this admin token hash.
    pub(crate) fn new(admin_hash: String, store: SharedStore) -> Self {
        Authenticator {
            admin_hash,
            store,
            key_cache: RwLock::new(HashMap::new()),
        }
    }

    /// Who `token` belongs to, or 401.
    pub(crate) async fn caller(&self, token: &str) -> Result<Caller, ApiError> {
        let hash = hash_token(token);
        if bool::from(hash.as_bytes().ct_eq(self.admin_hash.as_bytes())) {
            return Ok(Caller::Admin);
        }
        if let Some(account) = self.cached(&hash) {
            return Ok(Caller::Account(account));
        }
        match self.store.account_for_key_hash(&hash).await? {
            Some(account) => {
                self.key_cache
                    .write()
                    .expect("key cache lock is never poisoned")
                    .insert(hash, (account.clone(), Instant::now()));
                Ok(Caller::Account(account))
            }
            None => Err(ApiError::unauthorized(
                "the bearer token is not a valid admin token or API key; check the Authorization header",
            )),
        }
    }

    fn cached(&self, hash: &str) -> Option<String> {
        self.key_cache
            .read()
            .expect("key cache lock is never poisoned")
            .get(hash)
            .filter(|(_, looked_up)| looked_up.elapsed() < KEY_CACHE_TTL)
            .map(|(account, _)| account.clone())
    }

    /// Forgets cached keys (after an account is deleted).
    pub(crate) fn forget_keys(&self) {
        self.key_cache
            .write()
            .expect("key cache lock is never poisoned")
            .clear();
    }
}

/// The token of an `Authorization: Bearer …` header value.
pub(crate) fn bearer(header: Option<&str>) -> Result<&str, ApiError> {
    let value = header.ok_or_else(|| {
        ApiError::unauthorized("missing Authorization header; send `Authorization: Bearer <token>`")
    })?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bearer_header_is_parsed() {
        assert_eq!(bearer(Some("Bearer tok")).unwrap(), "tok");
        assert!(bearer(None).is_err());
        assert!(bearer(Some("Basic abc")).is_err());
        assert!(bearer(Some("Bearer ")).is_err());
    }
}
