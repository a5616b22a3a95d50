//! Sign and verify webhooks with the [Standard Webhooks] scheme, as Hookline
//! sends them.
//!
//! A webhook carries `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature`: one or more space-separated `v1,<base64>` values, each
//! an HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the decoded secret
//! (`whsec_<base64>`), or `v1a,<base64>` ed25519 signatures of the same
//! message that a `whpk_` public key verifies ([`PublicKey`], [`verify_with`]).
//! This crate checks all of that (HMACs in constant time), with a timestamp
//! tolerance (5 minutes by default) against replays, and accepts several keys
//! so a receiver can rotate without dropping webhooks. It has no async
//! runtime and no server: any HTTP stack can use it.
//!
//! ```
//! use hookline_verify::{sign, verify, Headers, Options, Secret};
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let body = br#"{"type":"payment.completed","data":{"amount":4999}}"#;
//! let now = 1_700_000_000;
//! let signature = sign(&secret, "evt_123", now, body);
//!
//! // What a receiver gets, from any HTTP library:
//! let received = [
//!     ("webhook-id", "evt_123".to_string()),
//!     ("webhook-timestamp", now.to_string()),
//!     ("webhook-signature", signature),
//! ];
//! let headers = Headers::from_pairs(received.iter().map(|(k, v)| (*k, v.as_str())));
//! let options = Options { now: Some(now), ..Options::default() };
//! let verified = verify(&[secret], &headers, body, &options).unwrap();
//! assert_eq!(verified.id, "evt_123");
//!
//! // A tampered body fails.
//! assert!(verify(&[Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()],
//!                &headers, b"{}", &options).is_err());
//! ```
//!
//! An ed25519 endpoint's receiver holds only the public key:
//!
//! ```
//! use hookline_verify::{sign_v1a, verify_with, Headers, Options, SigningKey, VerifyKey};
//!
//! let signing = SigningKey::from_seed(&[7; 32]); // kept by the sender
//! let public = VerifyKey::parse(&signing.public_key().to_whpk()).unwrap(); // whpk_…
//! let signature = sign_v1a(&signing, "evt_123", 1_700_000_000, b"{}");
//! let headers = Headers {
//!     id: Some("evt_123".into()),
//!     timestamp: Some("1700000000".into()),
//!     signature: Some(signature),
//! };
//! let options = Options { now: Some(1_700_000_000), ..Options::default() };
//! assert!(verify_with(&[public], &headers, b"{}", &options).is_ok());
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

mod asymmetric;

pub use asymmetric::{sign_v1a, PublicKey, SigningKey};

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Default tolerance between the webhook's timestamp and the receiver's clock.
pub const DEFAULT_TOLERANCE_SECS: u64 = 5 * 60;

/// A signing secret: the key bytes behind `whsec_<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Parses `whsec_<base64>` (the `whsec_` prefix is optional, as in the
    /// official libraries).
    pub fn parse(text: &str) -> Result<Secret, VerifyError> {
        let b64 = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        match STANDARD.decode(b64) {
            Ok(bytes) if !bytes.is_empty() => Ok(Secret(bytes)),
            _ => Err(VerifyError::InvalidSecret),
        }
    }

    /// A secret with these key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }

    /// The `whsec_<base64>` form.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The key never appears in logs.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// `v1,<base64>` for one secret.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Space-separated signatures for several secrets (during a rotation).
pub fn sign_all(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A key a sender signs with: an HMAC secret (`v1`) or an ed25519
/// signing key (`v1a`).
#[derive(Debug, Clone)]
pub enum Signer {
    Hmac(Secret),
    Ed25519(SigningKey),
}

impl Signer {
    /// Parses `whsk_…` as an ed25519 key and anything else as a `whsec_` secret.
    pub fn parse(text: &str) -> Result<Signer, VerifyError> {
        if text.trim().starts_with("whsk_") {
            SigningKey::parse(text).map(Signer::Ed25519)
        } else {
            Secret::parse(text).map(Signer::Hmac)
        }
    }

    /// `v1,<base64>` or `v1a,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        match self {
            Signer::Hmac(secret) => sign(secret, id, timestamp, body),
            Signer::Ed25519(key) => sign_v1a(key, id, timestamp, body),
        }
    }
}

/// Space-separated signatures of every signer (two during a rotation, of
/// either scheme).
pub fn sign_with(signers: &[Signer], id: &str, timestamp: i64, body: &[u8]) -> String {
    signers
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A key a receiver verifies with: an HMAC secret (checks `v1`) or an
/// ed25519 public key (checks `v1a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyKey {
    Hmac(Secret),
    Ed25519(PublicKey),
}

impl VerifyKey {
    /// Parses `whpk_…` as a public key and anything else as a `whsec_` secret.
    pub fn parse(text: &str) -> Result<VerifyKey, VerifyError> {
        if text.trim().starts_with("whpk_") {
            PublicKey::parse(text).map(VerifyKey::Ed25519)
        } else {
            Secret::parse(text).map(VerifyKey::Hmac)
        }
    }
}

/// The three webhook headers, taken from whatever HTTP library received them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

impl Headers {
    /// Looks the headers up with `get(name)` (names are given in lowercase).
    /// `svix-*` and `x-signature` are accepted as fallbacks.
    pub fn from_fn<F: Fn(&str) -> Option<String>>(get: F) -> Headers {
        let first = |names: &[&str]| names.iter().find_map(|n| get(n));
        Headers {
            id: first(&["webhook-id", "svix-id"]),
            timestamp: first(&["webhook-timestamp", "svix-timestamp"]),
            signature: first(&["webhook-signature", "svix-signature", "x-signature"]),
        }
    }

    /// Builds the headers from `(name, value)` pairs, names compared without case.
    pub fn from_pairs<'a, I>(pairs: I) -> Headers
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let pairs: Vec<(String, &str)> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        Headers::from_fn(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string())
        })
    }
}

/// How strict `verify` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Largest accepted difference between the timestamp and now, either way.
    pub tolerance_secs: u64,
    /// "Now" in unix seconds; `None` reads the system clock (tests set it).
    pub now: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            now: None,
        }
    }
}

/// A webhook that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `webhook-id`: the event id, the same on every retry (dedupe on it).
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
}

/// Why a webhook did not verify. Each message says what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "missing `{0}` header: was this request sent by Hookline (or a Standard Webhooks sender)?"
    )]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not a unix time in seconds")]
    InvalidTimestamp,
    #[error(
        "the timestamp is more than {0} seconds old: a replay, or this server's clock is wrong"
    )]
    TimestampTooOld(u64),
    #[error("the timestamp is more than {0} seconds in the future: check this server's clock")]
    TimestampTooNew(u64),
    #[error("no signature matches: wrong key (check the endpoint's whsec_ secret or whpk_ public key) or the body was changed")]
    NoMatchingSignature,
    #[error("the secret is not `whsec_` followed by base64")]
    InvalidSecret,
    #[error("the signing key is not `whsk_` followed by base64 of an ed25519 key pair (64 bytes) or seed (32 bytes)")]
    InvalidSigningKey,
    #[error("the public key is not `whpk_` followed by base64 of a 32-byte ed25519 public key")]
    InvalidPublicKey,
}

/// Verifies `body` against `headers` with any of `secrets` (`v1` only).
pub fn verify(
    secrets: &[Secret],
    headers: &Headers,
    body: &[u8],
    options: &Options,
) -> Result<Verified, VerifyError> {
    check(headers, options, |version, id, timestamp, tag| {
        version == "v1"
            && secrets
                .iter()
                .any(|secret| secret.mac(id, timestamp, body).verify_slice(tag).is_ok())
    })
}

/// Verifies `body` against `headers` with any of `keys`: `v1` signatures
/// with the secrets, `v1a` signatures with the public keys.
pub fn verify_with(
    keys: &[VerifyKey],
    headers: &Headers,
    body: &[u8],
    options: &Options,
) -> Result<Verified, VerifyError> {
    check(headers, options, |version, id, timestamp, tag| {
        keys.iter().any(|key| match (version, key) {
            // `verify_slice` compares in constant time.
            ("v1", VerifyKey::Hmac(secret)) => {
                secret.mac(id, timestamp, body).verify_slice(tag).is_ok()
            }
            ("v1a", VerifyKey::Ed25519(public)) => public.verifies(id, timestamp, body, tag),
            _ => false,
        })
    })
}

/// The header and timestamp checks common to both schemes; `matches` is
/// asked about each `(version, id, timestamp, decoded signature)`.
fn check(
    headers: &Headers,
    options: &Options,
    matches: impl Fn(&str, &str, i64, &[u8]) -> bool,
) -> Result<Verified, VerifyError> {
    let id = headers
        .id
        .as_deref()
        .ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp_text = headers
        .timestamp
        .as_deref()
        .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signatures = headers
        .signature
        .as_deref()
        .ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let now = options.now.unwrap_or_else(unix_now);
    let tolerance = options.tolerance_secs;
    let tolerance_i = i64::try_from(tolerance).unwrap_or(i64::MAX);
    if now.saturating_sub(timestamp) > tolerance_i {
        return Err(VerifyError::TimestampTooOld(tolerance));
    }
    if timestamp.saturating_sub(now) > tolerance_i {
        return Err(VerifyError::TimestampTooNew(tolerance));
    }
    for candidate in signatures.split(' ') {
        let Some((version, encoded)) = candidate.split_once(',') else {
            continue;
        };
        let Ok(tag) = STANDARD.decode(encoded) else {
            continue;
        };
        if matches(version, id, timestamp, &tag) {
            return Ok(Verified {
                id: id.to_string(),
                timestamp,
            });
        }
    }
    Err(VerifyError::NoMatchingSignature)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(sig: &str, ts: i64) -> Headers {
        Headers {
            id: Some(ID.into()),
            timestamp: Some(ts.to_string()),
            signature: Some(sig.into()),
        }
    }

    fn at(now: i64) -> Options {
        Options {
            now: Some(now),
            ..Options::default()
        }
    }

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(sign(&secret, ID, TS, BODY), EXPECTED);
        let ok = verify(&[secret], &headers(EXPECTED, TS), BODY, &at(TS)).unwrap();
        assert_eq!(
            ok,
            Verified {
                id: ID.into(),
                timestamp: TS
            }
        );
    }

    #[test]
    fn any_of_several_signatures_and_secrets_verifies() {
        let old = Secret::parse(SECRET).unwrap();
        let new = Secret::from_bytes(&[7u8; 32]);
        let both = sign_all(&[new.clone(), old.clone()], ID, TS, BODY);
        assert_eq!(both.split(' ').count(), 2);
        assert!(verify(
            std::slice::from_ref(&old),
            &headers(&both, TS),
            BODY,
            &at(TS)
        )
        .is_ok());
        assert!(verify(
            std::slice::from_ref(&new),
            &headers(&both, TS),
            BODY,
            &at(TS)
        )
        .is_ok());
        let only_new = sign(&new, ID, TS, BODY);
        assert!(verify(
            &[old, new],
            &headers(&format!("v2,xyz {only_new}"), TS),
            BODY,
            &at(TS)
        )
        .is_ok());
    }

    #[test]
    fn failures_say_what_is_wrong() {
        let secret = Secret::parse(SECRET).unwrap();
        let s = std::slice::from_ref(&secret);
        assert_eq!(
            verify(s, &headers(EXPECTED, TS), b"{}", &at(TS)),
            Err(VerifyError::NoMatchingSignature)
        );
        let wrong = Secret::from_bytes(b"another key");
        assert_eq!(
            verify(&[wrong], &headers(EXPECTED, TS), BODY, &at(TS)),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(s, &headers(EXPECTED, TS), BODY, &at(TS + 301)),
            Err(VerifyError::TimestampTooOld(300))
        );
        assert_eq!(
            verify(s, &headers(EXPECTED, TS), BODY, &at(TS - 301)),
            Err(VerifyError::TimestampTooNew(300))
        );
        let mut h = headers(EXPECTED, TS);
        h.timestamp = Some("yesterday".into());
        assert_eq!(
            verify(s, &h, BODY, &at(TS)),
            Err(VerifyError::InvalidTimestamp)
        );
        h.id = None;
        assert_eq!(
            verify(s, &h, BODY, &at(TS)),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert_eq!(Secret::parse("whsec_!!!"), Err(VerifyError::InvalidSecret));
        assert!(VerifyError::NoMatchingSignature
            .to_string()
            .contains("secret"));
    }

    #[test]
    fn headers_are_found_in_any_case_and_under_svix_names() {
        let h = Headers::from_pairs([
            ("Webhook-Id", "a"),
            ("svix-timestamp", "1"),
            ("X-Signature", "v1,x"),
        ]);
        assert_eq!(
            h,
            Headers {
                id: Some("a".into()),
                timestamp: Some("1".into()),
                signature: Some("v1,x".into())
            }
        );
    }

    #[test]
    fn ed25519_signs_v1a_that_only_its_public_key_verifies() {
        let key = SigningKey::from_seed(&[1; 32]);
        let public = VerifyKey::parse(&key.public_key().to_whpk()).unwrap();
        let sig = sign_v1a(&key, ID, TS, BODY);
        assert!(sig.starts_with("v1a,"));
        let ok = verify_with(
            std::slice::from_ref(&public),
            &headers(&sig, TS),
            BODY,
            &at(TS),
        );
        assert_eq!(ok.unwrap().id, ID);
        let tampered = verify_with(
            std::slice::from_ref(&public),
            &headers(&sig, TS),
            b"{}",
            &at(TS),
        );
        assert_eq!(tampered, Err(VerifyError::NoMatchingSignature));
        let other = VerifyKey::Ed25519(SigningKey::from_seed(&[2; 32]).public_key());
        assert_eq!(
            verify_with(&[other], &headers(&sig, TS), BODY, &at(TS)),
            Err(VerifyError::NoMatchingSignature)
        );
        // A v1a signature is never checked as an HMAC, nor the reverse.
        let secret = Secret::parse(SECRET).unwrap();
        assert!(verify(
            std::slice::from_ref(&secret),
            &headers(&sig, TS),
            BODY,
            &at(TS)
        )
        .is_err());
        assert!(verify_with(
            std::slice::from_ref(&public),
            &headers(EXPECTED, TS),
            BODY,
            &at(TS)
        )
        .is_err());
        // The timestamp rules hold for v1a too.
        assert_eq!(
            verify_with(&[public], &headers(&sig, TS), BODY, &at(TS + 301)),
            Err(VerifyError::TimestampTooOld(300))
        );
    }

    #[test]
    fn a_rotation_signs_with_both_schemes_and_either_key_verifies() {
        let old = Signer::parse(SECRET).unwrap();
        let new_key = SigningKey::from_seed(&[3; 32]);
        let new = Signer::parse(&new_key.to_whsk()).unwrap();
        let both = sign_with(&[new, old], ID, TS, BODY);
        assert!(both.starts_with("v1a,") && both.contains(" v1,"));
        let public = VerifyKey::Ed25519(new_key.public_key());
        let secret = VerifyKey::parse(SECRET).unwrap();
        for key in [public, secret] {
            assert!(verify_with(&[key], &headers(&both, TS), BODY, &at(TS)).is_ok());
        }
    }

    #[test]
    fn signing_keys_parse_as_key_pairs_or_seeds_and_stay_out_of_debug() {
        let key = SigningKey::from_seed(&[9; 32]);
        let whsk = key.to_whsk();
        let again = SigningKey::parse(&whsk).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let seed_only = format!("whsk_{}", STANDARD.encode([9u8; 32]));
        assert_eq!(
            SigningKey::parse(&seed_only).unwrap().public_key(),
            key.public_key()
        );
        // A key pair whose public half does not belong to its seed is refused.
        let mut pair = STANDARD.decode(whsk.trim_start_matches("whsk_")).unwrap();
        pair[40] ^= 1;
        let broken = format!("whsk_{}", STANDARD.encode(pair));
        assert_eq!(
            SigningKey::parse(&broken).unwrap_err(),
            VerifyError::InvalidSigningKey
        );
        assert_eq!(
            SigningKey::parse("whsec_abc").unwrap_err(),
            VerifyError::InvalidSigningKey
        );
        assert_eq!(
            PublicKey::parse("whpk_AAAA").unwrap_err(),
            VerifyError::InvalidPublicKey
        );
        assert_eq!(
            PublicKey::parse(&key.public_key().to_whpk()).unwrap(),
            key.public_key()
        );
        assert_eq!(format!("{key:?}"), "SigningKey(****)");
        assert!(matches!(Signer::parse(&whsk), Ok(Signer::Ed25519(_))));
        assert!(matches!(Signer::parse(SECRET), Ok(Signer::Hmac(_))));
    }

    #[test]
    fn secrets_round_trip_and_stay_out_of_debug() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(secret.to_whsec(), SECRET);
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            secret
        );
    }
}
