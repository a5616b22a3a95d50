//! Secrets at rest: the [`Sealer`] encrypts the values a stolen database
//! file would give away (signing secrets, URL passwords, custom header
//! values) with XChaCha20-Poly1305 under the keys of
//! `HOOKLINE_ENCRYPTION_KEY`. It knows only strings and their sealed form;
//! which fields of which rows are sealed is `stored.rs`'s business.
//!
//! A sealed value reads `sealed.v1.<key id>.<base64url(nonce ‖ ciphertext)>`:
//! every character is unreserved in a URL, so a sealed password keeps its
//! URL valid, and the key id says which key opens it. A value without the
//! prefix is a plain one (written before a key was set) and opens as itself.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// The environment variable holding the keys, named in every message.
pub const ENCRYPTION_KEY_VAR: &str = "HOOKLINE_ENCRYPTION_KEY";

/// What every sealed value starts with; no plain value may.
pub const SEALED_PREFIX: &str = "sealed.v1.";

const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Seals new values with the first key of its list and opens values sealed
/// with any of them. Without keys it seals nothing (values stay plain).
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Sealer {
    keys: Arc<[SealingKey]>,
}

struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// Why `HOOKLINE_ENCRYPTION_KEY` cannot be used. The key itself is never
/// part of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{ENCRYPTION_KEY_VAR}: key {position} of the list is not base64 of 32 bytes; \
         generate one with `hookline encryption-key` (or `openssl rand -base64 32`), \
         and separate keys with commas, newest first"
    )]
    Malformed { position: usize },
    #[error("{ENCRYPTION_KEY_VAR}: key {position} repeats an earlier key (id {key_id}); list each key once")]
    Repeated { position: usize, key_id: String },
}

/// Why a stored value cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(
        "a stored secret is sealed with encryption key {key_id}, which {ENCRYPTION_KEY_VAR} \
         does not hold; add that key to the list (after the newest)"
    )]
    UnknownKey { key_id: String },
    #[error(
        "a stored secret sealed with key {key_id} does not open: it was altered or is damaged"
    )]
    Damaged { key_id: String },
}

impl Sealer {
    /// A sealer without keys: values are stored and read plain.
    pub fn none() -> Sealer {
        Sealer::default()
    }

    /// Parses `HOOKLINE_ENCRYPTION_KEY`: comma-separated base64 32-byte
    /// keys, newest (the one that seals) first. Blank means no keys.
    pub fn parse(list: &str) -> Result<Sealer, KeyError> {
        let mut keys: Vec<SealingKey> = Vec::new();
        for (index, text) in list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .enumerate()
        {
            let position = index + 1;
            let bytes = STANDARD
                .decode(text)
                .ok()
                .filter(|b| b.len() == KEY_LEN)
                .ok_or(KeyError::Malformed { position })?;
            let id = key_id(&bytes);
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyError::Repeated {
                    position,
                    key_id: id,
                });
            }
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes).expect("the key is 32 bytes");
            keys.push(SealingKey { id, cipher });
        }
        Ok(Sealer { keys: keys.into() })
    }

    /// A fresh random key in the form [`Sealer::parse`] reads.
    pub fn generate_key() -> String {
        STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// Whether values are sealed at all.
    pub fn is_active(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The id of the key that seals new values.
    pub fn sealing_key_id(&self) -> Option<&str> {
        self.keys.first().map(|k| k.id.as_str())
    }

    /// The ids of every key that opens values, sealing key first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// `plain` sealed with the first key, or as it is without keys.
    pub fn seal(&self, plain: &str) -> String {
        let Some(key) = self.keys.first() else {
            return plain.to_string();
        };
        let header = format!("{SEALED_PREFIX}{}.", key.id);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: header.as_bytes(),
                },
            )
            .expect("encrypting a string in memory cannot fail");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        format!("{header}{}", URL_SAFE_NO_PAD.encode(body))
    }

    /// The plain value of `stored`: a plain value as it is, a sealed one
    /// opened with the key its id names.
    pub fn open(&self, stored: &str) -> Result<String, OpenError> {
        let Some((key_id, body_text)) = split_sealed(stored) else {
            return Ok(stored.to_string());
        };
        let key =
            self.keys
                .iter()
                .find(|k| k.id == key_id)
                .ok_or_else(|| OpenError::UnknownKey {
                    key_id: key_id.to_string(),
                })?;
        let damaged = || OpenError::Damaged {
            key_id: key_id.to_string(),
        };
        let body = URL_SAFE_NO_PAD.decode(body_text).map_err(|_| damaged())?;
        if body.len() < NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let header = &stored[..stored.len() - body_text.len()];
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: header.as_bytes(),
                },
            )
            .map_err(|_| damaged())?;
        String::from_utf8(plain).map_err(|_| damaged())
    }

    /// Whether `stored` is already sealed with the key that seals now (or,
    /// without keys, is plain): re-sealing it would change nothing.
    pub fn is_current(&self, stored: &str) -> bool {
        match split_sealed(stored) {
            Some((key_id, _)) => self.sealing_key_id() == Some(key_id),
            None => !self.is_active(),
        }
    }
}

/// The key id and body of a sealed value; `None` for a plain one.
pub(crate) fn split_sealed(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(SEALED_PREFIX)?.split_once('.')
}

/// The public name of a key: the first 4 bytes of a SHA-256 of it, in hex.
/// It tells keys apart and reveals nothing usable about the key.
fn key_id(key: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"hookline sealing key id\0")
        .chain_update(key)
        .finalize();
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys and ids never reach a log through `Debug`; the ids are public.
impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(keys: &[&str]) -> Sealer {
        Sealer::parse(&keys.join(",")).expect("valid keys")
    }

    #[test]
    fn seals_and_opens_with_a_fresh_nonce_each_time() {
        let key = Sealer::generate_key();
        let s = sealer(&[&key]);
        let a = s.seal("whsec_secret");
        let b = s.seal("whsec_secret");
        assert_ne!(a, b, "a random nonce per value");
        assert!(a.starts_with(SEALED_PREFIX) && !a.contains("whsec_secret"));
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)));
        assert_eq!(s.open(&a).expect("opens"), "whsec_secret");
        assert_eq!(s.open("plain value").expect("plain"), "plain value");
        assert!(s.is_current(&a) && !s.is_current("plain value"));
    }

    #[test]
    fn rotation_opens_with_old_keys_and_seals_with_the_first() {
        let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
        let before = sealer(&[&old]).seal("p@ss");
        let rotated = sealer(&[&new, &old]);
        assert_eq!(rotated.open(&before).expect("opens"), "p@ss");
        assert!(!rotated.is_current(&before));
        let after = rotated.seal("p@ss");
        assert_eq!(split_sealed(&after).map(|s| s.0), rotated.sealing_key_id());
        let err = sealer(&[&new]).open(&before).expect_err("old key gone");
        assert!(matches!(err, OpenError::UnknownKey { .. }), "{err}");
        assert!(err.to_string().contains(ENCRYPTION_KEY_VAR));
    }

    #[test]
    fn altered_values_do_not_open() {
        let s = sealer(&[&Sealer::generate_key()]);
        let sealed = s.seal("value");
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ascii");
        assert!(matches!(s.open(&altered), Err(OpenError::Damaged { .. })));
        // The key id is bound to the ciphertext: a relabelled value fails too.
        let (id, body) = split_sealed(&sealed).expect("sealed");
        let relabelled = format!("{SEALED_PREFIX}{id}.x{body}");
        assert!(s.open(&relabelled).is_err());
        assert!(s.open(&format!("{SEALED_PREFIX}{id}.")).is_err());
    }

    #[test]
    fn malformed_and_repeated_keys_are_refused_without_echoing_them() {
        let err = Sealer::parse("c2hvcnQ=").expect_err("short");
        assert_eq!(err, KeyError::Malformed { position: 1 });
        assert!(!err.to_string().contains("c2hvcnQ="));
        let key = Sealer::generate_key();
        let err = Sealer::parse(&format!("{key}, not-base64!")).expect_err("bad second");
        assert_eq!(err, KeyError::Malformed { position: 2 });
        assert!(matches!(
            Sealer::parse(&format!("{key},{key}")),
            Err(KeyError::Repeated { position: 2, .. })
        ));
        assert!(!Sealer::parse("  ").expect("blank").is_active());
        let none = Sealer::none();
        assert_eq!(none.seal("x"), "x");
        assert!(none.is_current("x"));
        assert!(!format!("{:?}", sealer(&[&key])).contains(&key));
    }
}
