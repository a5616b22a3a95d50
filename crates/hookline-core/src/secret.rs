//! Endpoint signing secrets and API tokens: generation and hashing helpers.
//!
//! A signing secret is `whsec_` + base64 of random bytes (the Standard
//! Webhooks format); an ed25519 signing key is `whsk_` + base64 of a random
//! 32-byte seed (`hookline-verify` derives the key pair from it). API keys and the admin token are random strings that
//! are stored only as SHA-256 hashes; the hashing itself lives in the server,
//! which owns the crypto crates, so this module only generates.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use crate::SignatureScheme;

/// A fresh `whsec_` secret of 32 random bytes.
pub fn generate_signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// A fresh `whsk_` ed25519 signing key: a random 32-byte seed.
pub fn generate_ed25519_key() -> String {
    let mut seed = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut seed);
    format!("whsk_{}", STANDARD.encode(seed))
}

/// A fresh signing key of `scheme`.
pub fn generate_signing_key(scheme: SignatureScheme) -> String {
    match scheme {
        SignatureScheme::HmacSha256 => generate_signing_secret(),
        SignatureScheme::Ed25519 => generate_ed25519_key(),
    }
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
        let key = generate_signing_key(SignatureScheme::Ed25519);
        assert_eq!(SignatureScheme::of_key(&key), SignatureScheme::Ed25519);
        assert!(!is_valid_signing_secret(&key));
    }
}
