//! Which encryption keys may have sealed values in this database, kept as
//! a setting (key ids only) so that a node started without one of them
//! stops at once with a message saying which, instead of failing one
//! delivery at a time. Every node records its sealing key at start;
//! `hookline reseal`, once every row is sealed with the newest key, forgets
//! the others ([`retire_older_keys`]).

use crate::sealer::{Sealer, ENCRYPTION_KEY_VAR};
use crate::{Store, StoreError, StoreResult};

/// The setting holding the comma-separated ids of keys that sealed values.
pub const KEY_IDS_SETTING: &str = "sealing_key_ids";

/// Refuses a sealer lacking a key that sealed values here, then records
/// the sealer's own sealing key.
pub async fn admit(store: &dyn Store, sealer: &Sealer) -> StoreResult<()> {
    let mut registered = registered(store).await?;
    let held = sealer.key_ids();
    let missing: Vec<&str> = registered
        .iter()
        .map(String::as_str)
        .filter(|id| !held.contains(id))
        .collect();
    if !missing.is_empty() {
        let missing = missing.join(", ");
        return Err(StoreError::Invalid(if held.is_empty() {
            format!(
                "the database holds secrets sealed with encryption key {missing}, but \
                 {ENCRYPTION_KEY_VAR} is not set; set it to that key (keys newest first, \
                 comma-separated)"
            )
        } else {
            format!(
                "the database holds secrets sealed with encryption key {missing}, which \
                 {ENCRYPTION_KEY_VAR} (keys {}) does not hold; add that key after the newest \
                 one, and remove it only after `hookline reseal` has run",
                held.join(", ")
            )
        }));
    }
    if let Some(current) = sealer.sealing_key_id() {
        if !registered.iter().any(|id| id.as_str() == current) {
            registered.push(current.to_string());
            store
                .set_setting(KEY_IDS_SETTING, &registered.join(","))
                .await?;
        }
    }
    Ok(())
}

/// After a complete re-seal: only the sealing key has values here now.
pub async fn retire_older_keys(store: &dyn Store, sealer: &Sealer) -> StoreResult<Vec<String>> {
    let Some(current) = sealer.sealing_key_id() else {
        return Ok(Vec::new());
    };
    let retired: Vec<String> = registered(store)
        .await?
        .into_iter()
        .filter(|id| id.as_str() != current)
        .collect();
    store.set_setting(KEY_IDS_SETTING, current).await?;
    Ok(retired)
}

/// The ids of keys recorded as having sealed values.
pub async fn registered(store: &dyn Store) -> StoreResult<Vec<String>> {
    Ok(store
        .setting(KEY_IDS_SETTING)
        .await?
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect())
}
