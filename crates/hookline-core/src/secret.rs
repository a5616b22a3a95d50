//! Endpoint signing secrets and API tokens: generation and hashing helpers.
//!
//! A signing secret is `whsec_` + base64 of random bytes (the Standard
//! Webhooks format). API keys and the admin token are random strings that
//! are stored only as SHA-256 hashes; the hashing itself lives in the server,
//! which owns the crypto crates, so this module only generates.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

/// A fresh `whsec_` secret of 32 random bytes.
pub fn generate_signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// Whether `secret` is `whsec_` + base64 of 24 to 64 bytes.
pub fn is_valid_signing_secret(secret: &str) -> bool {
    secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .is_some_and(|bytes| (24..=64).contains(&bytes.len()))
}

/// A fresh bearer token with a readable prefix (`hk_live_…`, `hk_admin_…`).
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(prefix.len() + 48);
    out.push_str(prefix);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_valid() {
        assert!(is_valid_signing_secret(&generate_signing_secret()));
        assert!(!is_valid_signing_secret("whsec_c2hvcnQ="));
        assert!(!is_valid_signing_secret("nope"));
    }
}
