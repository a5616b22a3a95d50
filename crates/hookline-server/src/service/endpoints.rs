//! Creating, changing and rotating endpoints, with the contract's rules:
//! http(s) URLs that pass the SSRF check, known event types, payload
//! filters checked by `hookline_core::filter` (the error names the bad
//! part), sane custom
//! headers, well-formed keys of the endpoint's signature scheme (`whsec_`
//! for HMAC-SHA256, `whsk_` for ed25519; switching scheme rotates the key).

use std::collections::BTreeMap;

use chrono::Utc;
use hookline_core::operational::{is_operational_type, EVENT_TYPES, PLATFORM_ACCOUNT_ID};
use hookline_core::secret::{generate_signing_key, is_valid_signing_secret};
use hookline_core::{DeliveryOrder, Endpoint, Id, IdKind, PayloadMode, SignatureScheme};
use hookline_store::HourlyStats;

use super::error::{ServiceError, ServiceResult};
use crate::state::AppState;

/// How long the previous secret keeps signing after a rotation.
const ROTATION_OVERLAP_HOURS: i64 = 24;

/// Headers Hookline sets itself, which an endpoint may not override.
pub(crate) const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "content-type",
    "content-length",
    "content-encoding",
    "user-agent",
    "host",
];

/// Hop-by-hop headers (RFC 9110 §7.6.1) and `Expect`: they steer the
/// connection, not the receiver, so a custom one would break or smuggle
/// requests.
pub(crate) const HOP_BY_HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "http2-settings",
];

/// Most custom headers on one endpoint.
pub(crate) const MAX_CUSTOM_HEADERS: usize = 20;

/// Most bytes of custom header names and values together: receivers and
/// proxies refuse requests whose headers pass 8 KiB, so every attempt would fail.
pub(crate) const MAX_CUSTOM_HEADER_BYTES: usize = 4096;

/// Fields of an endpoint as given on create (all) or update (any).
#[derive(Debug, Default, Clone)]
pub(crate) struct EndpointInput {
    pub(crate) url: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) event_types: Option<Vec<String>>,
    pub(crate) disabled: Option<bool>,
    pub(crate) payload: Option<PayloadMode>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    pub(crate) secret: Option<String>,
    /// `Some(None)` removes the payload filter.
    pub(crate) filter: Option<Option<serde_json::Value>>,
    /// A change of scheme rotates to a new key of that scheme.
    pub(crate) signature_scheme: Option<SignatureScheme>,
    /// `Some(None)` clears the limit.
    pub(crate) rate_limit_per_sec: Option<Option<u32>>,
    pub(crate) metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) delivery_order: Option<DeliveryOrder>,
    /// Channels to listen to (empty: every event).
    pub(crate) channels: Option<Vec<String>>,
    /// `Some(None)` clears the uid.
    pub(crate) uid: Option<Option<String>>,
    pub(crate) version: Option<u32>,
}

/// Most channels an endpoint may list, as on Svix.
const MAX_CHANNELS: usize = 10;

/// Whether `key` is a valid platform-chosen key (a `uid` or channel name):
/// 1 to `max` letters, digits, `.`, `_` or `-`.
pub(crate) fn is_valid_key(key: &str, max: usize) -> bool {
    (1..=max).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Creates an endpoint; the answer carries its secret.
pub(crate) async fn create(
    state: &AppState,
    account_id: &str,
    input: EndpointInput,
) -> ServiceResult<Endpoint> {
    let url = input.url.clone().ok_or_else(|| {
        ServiceError::invalid_field("url", "`url` is required: where should webhooks be sent?")
    })?;
    let now = Utc::now();
    // A key given without a scheme names its own, so the new endpoint starts
    // with it (no rotation away from a generated key).
    let scheme = input
        .signature_scheme
        .or_else(|| input.secret.as_deref().map(scheme_of))
        .unwrap_or_default();
    let mut endpoint = Endpoint {
        id: Id::generate(IdKind::Endpoint),
        account_id: account_id.to_string(),
        url,
        description: String::new(),
        event_types: Vec::new(),
        channels: Vec::new(),
        uid: None,
        version: 1,
        disabled: false,
        disabled_reason: None,
        payload: PayloadMode::Full,
        headers: BTreeMap::new(),
        secret: generate_signing_key(scheme),
        previous_secret: None,
        previous_secret_expires_at: None,
        rate_limit_per_sec: None,
        metadata: Default::default(),
        failing_since: None,
        filter: None,
        delivery_order: DeliveryOrder::Unordered,
        created_at: now,
        updated_at: now,
    };
    apply(state, &mut endpoint, input).await?;
    state
        .store
        .create_endpoint(&endpoint)
        .await
        .map_err(|e| ServiceError::from_store(e, "the account"))?;
    Ok(endpoint)
}

/// Applies the given fields to an endpoint of the account.
pub(crate) async fn update(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    input: EndpointInput,
) -> ServiceResult<Endpoint> {
    let mut endpoint = get(state, account_id, endpoint_id).await?;
    apply(state, &mut endpoint, input).await?;
    endpoint.updated_at = Utc::now();
    state
        .store
        .update_endpoint(&endpoint)
        .await
        .map_err(|e| ServiceError::from_store(e, "the endpoint"))?;
    if !endpoint.disabled {
        // Deliveries parked while it was disabled may be due now.
        state.services.intake.wake();
    }
    Ok(endpoint)
}

/// Creates the internal platform account that owns operational endpoints,
/// unless it exists.
pub(crate) async fn ensure_platform_account(state: &AppState) -> ServiceResult<()> {
    let now = Utc::now();
    let account = hookline_core::Account {
        id: PLATFORM_ACCOUNT_ID.to_string(),
        name: "Hookline platform (operational webhooks)".to_string(),
        uid: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
    };
    match state
        .store
        .create_account(&account, &generate_signing_key(SignatureScheme::HmacSha256))
        .await
    {
        Ok(()) | Err(hookline_store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(ServiceError::from_store(e, "the platform account")),
    }
}

/// The endpoint, or 404.
pub(crate) async fn get(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
) -> ServiceResult<Endpoint> {
    state
        .store
        .get_endpoint(account_id, endpoint_id)
        .await
        .map_err(|e| ServiceError::from_store(e, &format!("endpoint {endpoint_id}")))
}

/// Deletes an endpoint of the account; its pending deliveries fail.
pub(crate) async fn delete(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
) -> ServiceResult<()> {
    state
        .store
        .delete_endpoint(account_id, endpoint_id)
        .await
        .map_err(ServiceError::store(&format!("endpoint {endpoint_id}")))
}

/// The endpoint's attempt counts per hour over the last 24 hours.
pub(crate) async fn last_day(
    state: &AppState,
    endpoint: &Endpoint,
) -> ServiceResult<Vec<HourlyStats>> {
    let since = Utc::now() - chrono::Duration::hours(24);
    state
        .store
        .endpoint_hourly_stats(&endpoint.account_id, &endpoint.id, since)
        .await
        .map_err(ServiceError::store(&format!("endpoint {}", endpoint.id)))
}

/// Replaces the secret (with `new_secret` or a generated one); the old one
/// keeps signing for 24 hours so receivers can switch without dropping any.
pub(crate) async fn rotate_secret(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    new_secret: Option<String>,
) -> ServiceResult<String> {
    let mut endpoint = get(state, account_id, endpoint_id).await?;
    // A key of the other scheme switches the endpoint to it, as a PATCH of
    // `signature_scheme` would: both keep signing for 24 hours.
    let secret = match new_secret {
        Some(s) => {
            let scheme = scheme_of(&s);
            checked_secret(s, scheme)?
        }
        None => generate_signing_key(endpoint.signature_scheme()),
    };
    rotate_to(&mut endpoint, secret.clone());
    state
        .store
        .update_endpoint(&endpoint)
        .await
        .map_err(|e| ServiceError::from_store(e, "the endpoint"))?;
    Ok(secret)
}

/// Makes `secret` the signing key; the old one keeps signing for 24 hours.
fn rotate_to(endpoint: &mut Endpoint, secret: String) {
    let now = Utc::now();
    endpoint.previous_secret = Some(std::mem::replace(&mut endpoint.secret, secret));
    endpoint.previous_secret_expires_at =
        Some(now + chrono::Duration::hours(ROTATION_OVERLAP_HOURS));
    endpoint.updated_at = now;
}

/// The endpoint's `whpk_` public key and, while it still signs, the
/// previous one; `None` for an HMAC endpoint.
pub(crate) fn public_keys(endpoint: &Endpoint) -> Option<(String, Option<String>)> {
    let public = |key: &str| {
        hookline_verify::SigningKey::parse(key)
            .ok()
            .map(|k| k.public_key().to_whpk())
    };
    let current = public(&endpoint.secret)?;
    let previous = endpoint.live_previous_secret(Utc::now()).and_then(public);
    Some((current, previous))
}

/// The scheme a key is for: its prefix says (`whsk_` ed25519, else HMAC).
fn scheme_of(key: &str) -> SignatureScheme {
    if key.trim_start().starts_with("whsk_") {
        SignatureScheme::Ed25519
    } else {
        SignatureScheme::HmacSha256
    }
}

/// The key as stored: without the spaces or line break a copy and paste
/// leaves around it.
fn checked_secret(secret: String, scheme: SignatureScheme) -> ServiceResult<String> {
    let secret = secret.trim().to_string();
    let valid = match scheme {
        SignatureScheme::HmacSha256 => is_valid_signing_secret(&secret),
        SignatureScheme::Ed25519 => hookline_verify::SigningKey::parse(&secret).is_ok(),
    };
    match (valid, scheme) {
        (true, _) => Ok(secret),
        (false, SignatureScheme::HmacSha256) => Err(ServiceError::invalid_field(
            "secret",
            "`secret` must be `whsec_` followed by base64 of 24 to 64 bytes (or set `signature_scheme` to `ed25519` for a `whsk_` key); omit it to have one generated",
        )),
        (false, SignatureScheme::Ed25519) => Err(ServiceError::invalid_field(
            "secret",
            "an ed25519 endpoint's `secret` must be `whsk_` followed by base64 of a 32-byte seed or 64-byte key pair; omit it to have one generated",
        )),
    }
}

async fn apply(
    state: &AppState,
    endpoint: &mut Endpoint,
    input: EndpointInput,
) -> ServiceResult<()> {
    if let Some(url) = input.url {
        let url = hookline_core::net::validate_url(&url, state.config.allow_private_networks)
            .map_err(|e| ServiceError::invalid_field("url", e.to_string()))?;
        endpoint.url = url.into();
    }
    if let Some(order) = input.delivery_order {
        endpoint.delivery_order = order;
    }
    if let Some(description) = input.description {
        if description.chars().count() > 1000 {
            return Err(ServiceError::invalid_field(
                "description",
                "`description` is limited to 1000 characters",
            ));
        }
        endpoint.description = description;
    }
    if let Some(types) = input.event_types {
        // The platform's operational endpoints subscribe to operational types.
        let operational = endpoint.account_id == PLATFORM_ACCOUNT_ID;
        let mut unknown = Vec::new();
        for t in &types {
            let known = if operational {
                is_operational_type(t)
            } else {
                state.catalogue.contains(t).await?
            };
            if !known {
                unknown.push(t.clone());
            }
        }
        if !unknown.is_empty() {
            let names = if operational {
                EVENT_TYPES.iter().map(|(t, _)| t.to_string()).collect()
            } else {
                state.catalogue.names()
            };
            return Err(ServiceError::invalid_field(
                "event_types",
                format!(
                    "unknown event types: {}; known types are: {}",
                    unknown.join(", "),
                    names.join(", ")
                ),
            ));
        }
        let mut types = types;
        types.sort();
        types.dedup();
        endpoint.event_types = types;
    }
    if let Some(filter) = input.filter {
        endpoint.filter = filter.as_ref().map(checked_filter).transpose()?;
    }
    if let Some(disabled) = input.disabled {
        if endpoint.disabled != disabled {
            endpoint.disabled = disabled;
            endpoint.disabled_reason = disabled.then(|| "disabled by a user".to_string());
            endpoint.failing_since = None;
        }
    }
    if let Some(payload) = input.payload {
        endpoint.payload = payload;
    }
    if let Some(headers) = input.headers {
        endpoint.headers = checked_headers(headers)?;
    }
    // A key given without a scheme names its own (`whsk_`: ed25519).
    let scheme = input
        .signature_scheme
        .or_else(|| input.secret.as_deref().map(scheme_of));
    match (scheme, input.secret) {
        (Some(scheme), secret) if scheme != endpoint.signature_scheme() => {
            // A new scheme needs a new key: rotate, so receivers verifying
            // the old signature keep working for 24 hours.
            let key = match secret {
                Some(s) => checked_secret(s, scheme)?,
                None => generate_signing_key(scheme),
            };
            rotate_to(endpoint, key);
        }
        (_, Some(secret)) => {
            endpoint.secret = checked_secret(secret, endpoint.signature_scheme())?;
        }
        (_, None) => {}
    }
    if let Some(limit) = input.rate_limit_per_sec {
        if limit == Some(0) {
            return Err(ServiceError::invalid_field(
                "rate_limit_per_sec",
                "`rate_limit_per_sec` must be at least 1, or null for no limit",
            ));
        }
        endpoint.rate_limit_per_sec = limit;
    }
    if let Some(metadata) = input.metadata {
        endpoint.metadata = metadata;
    }
    if let Some(channels) = input.channels {
        if channels.len() > MAX_CHANNELS || !channels.iter().all(|c| is_valid_key(c, 128)) {
            return Err(ServiceError::invalid_field(
                "channels",
                format!("`channels` takes at most {MAX_CHANNELS} names of 1 to 128 letters, digits, `.`, `_` or `-`"),
            ));
        }
        let mut channels = channels;
        channels.sort();
        channels.dedup();
        endpoint.channels = channels;
    }
    if let Some(uid) = input.uid {
        if uid.as_deref().is_some_and(|u| !is_valid_key(u, 256)) {
            return Err(ServiceError::invalid_field(
                "uid",
                "`uid` must be 1 to 256 letters, digits, `.`, `_` or `-`",
            ));
        }
        endpoint.uid = uid;
    }
    if let Some(version) = input.version {
        if version == 0 {
            return Err(ServiceError::invalid_field(
                "version",
                "`version` must be at least 1",
            ));
        }
        endpoint.version = version;
    }
    Ok(())
}

/// A filter, or a 422 on `filter` that points at the bad part.
pub(crate) fn checked_filter(
    filter: &serde_json::Value,
) -> ServiceResult<hookline_core::filter::Filter> {
    hookline_core::filter::Filter::parse(filter)
        .map_err(|e| ServiceError::invalid_field("filter", format!("`filter` {e}")))
}

fn checked_headers(headers: BTreeMap<String, String>) -> ServiceResult<BTreeMap<String, String>> {
    let invalid = |message: String| Err(ServiceError::invalid_field("headers", message));
    if headers.len() > MAX_CUSTOM_HEADERS {
        return invalid(format!(
            "{} custom headers given; an endpoint may have at most {MAX_CUSTOM_HEADERS}",
            headers.len()
        ));
    }
    let size: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if size > MAX_CUSTOM_HEADER_BYTES {
        return invalid(format!(
            "the custom headers take {size} bytes; names and values together may take at most {MAX_CUSTOM_HEADER_BYTES}"
        ));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let shown: String = name.chars().take(100).collect();
        if axum::http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return invalid(format!("`{shown}` is not a valid header name"));
        }
        if axum::http::HeaderValue::from_str(&value).is_err() {
            return invalid(format!(
                "the value of header `{shown}` is not valid: use visible ASCII, no line breaks"
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return invalid(format!(
                "header `{shown}` is set by Hookline itself and cannot be overridden"
            ));
        }
        if HOP_BY_HOP_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
            return invalid(format!(
                "header `{shown}` controls the connection or a proxy, not the receiver, and cannot be set"
            ));
        }
        if out.insert(lower, value).is_some() {
            return invalid(format!(
                "header `{shown}` is given twice (names ignore case)"
            ));
        }
    }
    Ok(out)
}
