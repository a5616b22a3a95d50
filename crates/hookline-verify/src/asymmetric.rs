//! Ed25519 signatures, Standard Webhooks' asymmetric scheme (`v1a`).
//!
//! The sender keeps a `whsk_` signing key (base64 of the 64-byte key pair,
//! seed then public key, as libsodium stores it; a bare 32-byte seed is
//! accepted too) and receivers hold only the `whpk_` public key (base64 of
//! its 32 bytes), so a leaked receiver configuration cannot forge webhooks.
//! The signed message is the same `{id}.{timestamp}.{body}` as for `v1`.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer;

use crate::VerifyError;

/// An ed25519 signing key: what `whsk_<base64>` decodes to.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Parses `whsk_<base64>` of a 64-byte key pair (seed, then the public
    /// key it derives) or of a 32-byte seed.
    pub fn parse(text: &str) -> Result<SigningKey, VerifyError> {
        let b64 = text
            .trim()
            .strip_prefix("whsk_")
            .ok_or(VerifyError::InvalidSigningKey)?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| VerifyError::InvalidSigningKey)?;
        let seed: [u8; 32] = bytes
            .get(..32)
            .and_then(|s| s.try_into().ok())
            .ok_or(VerifyError::InvalidSigningKey)?;
        let key = SigningKey::from_seed(&seed);
        match bytes.len() {
            32 => Ok(key),
            64 if bytes[32..] == key.0.verifying_key().to_bytes() => Ok(key),
            _ => Err(VerifyError::InvalidSigningKey),
        }
    }

    /// The key derived from a 32-byte seed (random bytes for a new key).
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The `whsk_` form: base64 of seed and public key (64 bytes).
    pub fn to_whsk(&self) -> String {
        format!("whsk_{}", STANDARD.encode(self.0.to_keypair_bytes()))
    }

    /// The public half, which receivers verify with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign_message(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 64] {
        self.0.sign(&message(id, timestamp, body)).to_bytes()
    }
}

/// The key never appears in logs.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(****)")
    }
}

/// An ed25519 public key: what `whpk_<base64>` decodes to.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses `whpk_<base64>` of 32 bytes.
    pub fn parse(text: &str) -> Result<PublicKey, VerifyError> {
        let b64 = text
            .trim()
            .strip_prefix("whpk_")
            .ok_or(VerifyError::InvalidPublicKey)?;
        let bytes: [u8; 32] = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(VerifyError::InvalidPublicKey)?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| VerifyError::InvalidPublicKey)
    }

    /// The `whpk_` form.
    pub fn to_whpk(&self) -> String {
        format!("whpk_{}", STANDARD.encode(self.0.to_bytes()))
    }

    /// Whether `signature` (64 bytes) signs this message. Strict
    /// verification: no malleable or small-order forms.
    pub(crate) fn verifies(&self, id: &str, timestamp: i64, body: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.0
            .verify_strict(&message(id, timestamp, body), &signature)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_whpk())
    }
}

/// `v1a,<base64>` for one signing key.
pub fn sign_v1a(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1a,{}",
        STANDARD.encode(key.sign_message(id, timestamp, body))
    )
}

fn message(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}
