//! The nouns of the contract: accounts, endpoints, events, deliveries, attempts.
//!
//! These are domain types, not the wire format: the API maps them to its own
//! DTOs. Raw event data is kept as the exact JSON text the platform sent, so
//! a delivery signs and sends stored bytes without re-serialising them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Time as stored and shown: UTC with millisecond precision.
pub type Timestamp = DateTime<Utc>;

/// A merchant account: the unit of tenancy.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// The platform's own unique key for the account (Svix's application
    /// `uid`), usable wherever the id is on the Svix-compatible API.
    pub uid: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the body of a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PayloadMode {
    /// The whole event, `data` included.
    #[default]
    Full,
    /// Only the envelope; the receiver fetches `data` through the API.
    Thin,
}

impl PayloadMode {
    /// The stable name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadMode::Full => "full",
            PayloadMode::Thin => "thin",
        }
    }

    /// Parses the stable name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(PayloadMode::Full),
            "thin" => Some(PayloadMode::Thin),
            _ => None,
        }
    }
}

/// Whether an endpoint's deliveries keep the events' publish order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOrder {
    /// Deliveries run independently, as many at a time as the endpoint allows.
    #[default]
    Unordered,
    /// A delivery starts only once every earlier one (by publish order) with
    /// the same `ordering_key` has succeeded or finally failed.
    Ordered,
}

impl DeliveryOrder {
    /// The stable name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOrder::Unordered => "unordered",
            DeliveryOrder::Ordered => "ordered",
        }
    }

    /// Parses the stable name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "unordered" => Some(DeliveryOrder::Unordered),
            "ordered" => Some(DeliveryOrder::Ordered),
            _ => None,
        }
    }
}

/// How deliveries to an endpoint are signed (Standard Webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SignatureScheme {
    /// `v1`: HMAC-SHA256 with a shared `whsec_` secret.
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// `v1a`: ed25519 with a `whsk_` key Hookline keeps; receivers verify
    /// with the `whpk_` public key.
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl SignatureScheme {
    /// The stable name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::HmacSha256 => "hmac-sha256",
            SignatureScheme::Ed25519 => "ed25519",
        }
    }

    /// Parses the stable name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "hmac-sha256" => Some(SignatureScheme::HmacSha256),
            "ed25519" => Some(SignatureScheme::Ed25519),
            _ => None,
        }
    }

    /// The scheme a stored key belongs to: its prefix says (`whsk_` is
    /// ed25519, `whsec_` HMAC), so no separate column can disagree with it.
    pub fn of_key(key: &str) -> Self {
        if key.starts_with("whsk_") {
            SignatureScheme::Ed25519
        } else {
            SignatureScheme::HmacSha256
        }
    }
}

/// A merchant's webhook endpoint.
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub account_id: String,
    /// The URL exactly as configured, user info included (never logged).
    pub url: String,
    pub description: String,
    /// Subscribed types; empty means every type.
    pub event_types: Vec<String>,
    /// Conditions on the event's type and data (see [`crate::filter`]);
    /// `None` lets every subscribed event through.
    pub filter: Option<crate::filter::Filter>,
    /// Channels listened to; empty means every event, whatever its channels.
    pub channels: Vec<String>,
    /// The account's own unique key for the endpoint (Svix's `uid`).
    pub uid: Option<String>,
    /// Svix's endpoint `version` (kept and shown; it changes nothing).
    pub version: u32,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub payload: PayloadMode,
    pub headers: BTreeMap<String, String>,
    /// The signing key: a `whsec_` secret, or a `whsk_` ed25519 key (see
    /// [`Endpoint::signature_scheme`]).
    pub secret: String,
    /// The key replaced by the last rotation (of either scheme), still used
    /// to sign until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<Timestamp>,
    pub rate_limit_per_sec: Option<u32>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Start of the current run of failed attempts; `None` after a success.
    pub failing_since: Option<Timestamp>,
    pub delivery_order: DeliveryOrder,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Endpoint {
    /// Whether an event of `event_type` fans out to this endpoint.
    pub fn accepts(&self, event_type: &str) -> bool {
        !self.disabled
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }

    /// How deliveries are signed, read from the current key.
    pub fn signature_scheme(&self) -> SignatureScheme {
        SignatureScheme::of_key(&self.secret)
    }

    /// The previous key while it still signs (the 24 hours after a rotation).
    pub fn live_previous_secret(&self, now: Timestamp) -> Option<&str> {
        match (&self.previous_secret, self.previous_secret_expires_at) {
            (Some(previous), Some(until)) if now < until => Some(previous),
            _ => None,
        }
    }

    /// Whether `event` fans out to this endpoint: its type is accepted and,
    /// when the endpoint lists channels, the event is on one of them.
    pub fn receives(&self, event: &Event) -> bool {
        self.accepts(&event.event_type)
            && (self.channels.is_empty()
                || self.channels.iter().any(|c| event.channels.contains(c)))
    }

    /// The secrets a delivery made at `now` is signed with: the current one,
    /// plus the previous one during the 24 hours after a rotation.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<String> {
        let mut secrets = vec![self.secret.clone()];
        secrets.extend(self.live_previous_secret(now).map(str::to_string));
        secrets
    }
}

/// Secrets stay out of `Debug` so they cannot leak into logs.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("url", &crate::net::mask_url(&self.url))
            .field("event_types", &self.event_types)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// An event as published: immutable once stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub account_id: String,
    pub event_type: String,
    /// The `data` object exactly as received (JSON text).
    pub data: String,
    /// Sends the event to this URL instead of the account's endpoints.
    pub webhook_url: Option<String>,
    /// The sender's own unique id for the event (Svix's `eventId`), unique
    /// in the account; `None` when not given.
    pub external_id: Option<String>,
    /// Channels the event is on; endpoints that list channels receive only
    /// events on one of theirs.
    pub channels: Vec<String>,
    /// What the delivered body and headers look like.
    pub format: EventFormat,
    /// Hash of type + data + webhook_url, to tell a retry of the same publish
    /// from a conflicting reuse of its id.
    pub payload_hash: String,
    /// Orders this event's deliveries to ordered endpoints among the events
    /// with the same key (e.g. a payment id); `None` joins the endpoint's
    /// one sequence of unkeyed events.
    pub ordering_key: Option<String>,
    pub created_at: Timestamp,
}

impl Event {
    /// The JSON body delivered for this event in `mode`, built from the stored
    /// bytes of `data` (no re-serialisation).
    pub fn body(&self, mode: PayloadMode) -> String {
        delivery_body(
            self.format,
            &self.id,
            &self.event_type,
            self.created_at,
            &self.account_id,
            &self.data,
            mode,
        )
    }
}

/// How an event's deliveries look on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventFormat {
    /// Hookline's envelope (`id`, `type`, `created_at`, `account_id`, `data`).
    #[default]
    Hookline,
    /// Sent through the Svix-compatible API: the body is `data` exactly as
    /// given (no envelope, so thin payloads do not apply) and the signature
    /// headers come twice, as `webhook-*` and as `svix-*`.
    Svix,
}

impl EventFormat {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Hookline => "hookline",
            EventFormat::Svix => "svix",
        }
    }

    /// Parses the stable name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "hookline" => Some(EventFormat::Hookline),
            "svix" => Some(EventFormat::Svix),
            _ => None,
        }
    }
}

/// The body delivered for an event of `format` in payload `mode`; `data` is
/// the stored JSON text, never re-serialised.
pub fn delivery_body(
    format: EventFormat,
    id: &str,
    event_type: &str,
    created_at: Timestamp,
    account_id: &str,
    data: &str,
    mode: PayloadMode,
) -> String {
    match format {
        EventFormat::Svix => data.to_string(),
        EventFormat::Hookline => build_body(
            id,
            event_type,
            created_at,
            account_id,
            (mode == PayloadMode::Full).then_some(data),
        ),
    }
}

/// Builds a delivery body; `data` is raw JSON text or `None` for thin payloads.
pub fn build_body(
    id: &str,
    event_type: &str,
    created_at: Timestamp,
    account_id: &str,
    data: Option<&str>,
) -> String {
    // Ids and type names are restricted to characters that need no escaping.
    let created = format_time(created_at);
    let mut body = String::with_capacity(128 + data.map_or(0, str::len));
    body.push_str("{\"id\":\"");
    body.push_str(id);
    body.push_str("\",\"type\":");
    body.push_str(&serde_json::Value::from(event_type).to_string());
    body.push_str(",\"created_at\":\"");
    body.push_str(&created);
    body.push_str("\",\"account_id\":\"");
    body.push_str(account_id);
    body.push('"');
    if let Some(data) = data {
        body.push_str(",\"data\":");
        body.push_str(data);
    }
    body.push('}');
    body
}

/// RFC 3339 with milliseconds and a `Z`, the one time format of the API.
pub fn format_time(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    /// The stable name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the stable name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event's journey to one URL: retried until it succeeds or fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub account_id: String,
    /// `None` for a delivery to the event's own `webhook_url`.
    pub endpoint_id: Option<String>,
    /// The target URL, user info included (mask before showing).
    pub url: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<u16>,
    /// On an ordered endpoint, the event whose pending delivery this one
    /// waits behind (the head of its key), computed on read.
    pub waiting_for: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The closed list of things an attempt can end in, stored as stable strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx within the timeout.
    Succeeded,
    /// Any other status code (redirects included: they are never followed).
    HttpError,
    /// The request did not finish within the timeout.
    Timeout,
    /// DNS, connect, TLS, reset: the receiver could not be reached.
    ConnectionError,
    /// The address is not allowed (SSRF protection) or the URL is invalid.
    Blocked,
}

impl AttemptOutcome {
    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::HttpError => "http_error",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::ConnectionError => "connection_error",
            AttemptOutcome::Blocked => "blocked",
        }
    }

    /// Parses the stable name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "succeeded" => AttemptOutcome::Succeeded,
            "http_error" => AttemptOutcome::HttpError,
            "timeout" => AttemptOutcome::Timeout,
            "connection_error" => AttemptOutcome::ConnectionError,
            "blocked" => AttemptOutcome::Blocked,
            _ => return None,
        })
    }
}

/// One HTTP request made for a delivery, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub event_id: String,
    pub account_id: String,
    pub endpoint_id: Option<String>,
    /// The target URL with user info masked.
    pub url: String,
    /// 1 for the first attempt of the delivery.
    pub attempt: u32,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    pub outcome: AttemptOutcome,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// At most 4 KiB of the response body.
    pub response_body: String,
    /// Whether its delivery was asked for by someone (a resend or a
    /// recovery) rather than made by the fan-out; the store fills it in from
    /// the delivery when it records the attempt.
    pub manual: bool,
    /// The headers sent and received; `None` for attempts logged before
    /// Hookline kept them.
    pub exchange: Option<Exchange>,
}

/// What an attempt's page shows beyond status and body: the request's
/// headers as sent (signatures included) and the response's, both bounded.
/// The request body is not kept: it is rebuilt exactly from the stored
/// event and the payload mode it was sent with ([`Event::body`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exchange {
    /// In the order sent; a password taken from the URL is masked.
    pub request_headers: Vec<(String, String)>,
    /// Whether the body sent carried `data`.
    pub payload: PayloadMode,
    /// In the order received, at most [`Exchange::MAX_HEADERS`] of them
    /// and [`Exchange::MAX_HEADER_BYTES`] in all.
    pub response_headers: Vec<(String, String)>,
}

impl Exchange {
    /// Most headers of a response kept.
    pub const MAX_HEADERS: usize = 64;
    /// Most bytes of names and values kept, per list of headers.
    pub const MAX_HEADER_BYTES: usize = 4096;
    /// Most bytes of one header value kept.
    pub const MAX_VALUE_BYTES: usize = 512;

    /// `headers` cut to the bounds: each value to [`Self::MAX_VALUE_BYTES`]
    /// (on a character boundary, marked `…`), then the list to
    /// [`Self::MAX_HEADERS`] and [`Self::MAX_HEADER_BYTES`].
    pub fn bounded(headers: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
        let mut kept = Vec::new();
        let mut bytes = 0;
        for (name, mut value) in headers {
            if value.len() > Self::MAX_VALUE_BYTES {
                let mut cut = Self::MAX_VALUE_BYTES;
                while !value.is_char_boundary(cut) {
                    cut -= 1;
                }
                value.truncate(cut);
                value.push('…');
            }
            bytes += name.len() + value.len();
            if kept.len() == Self::MAX_HEADERS || bytes > Self::MAX_HEADER_BYTES {
                break;
            }
            kept.push((name, value));
        }
        kept
    }
}

/// A registered event type.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    pub name: String,
    pub description: String,
    pub example: serde_json::Value,
    pub schema: Option<serde_json::Value>,
    /// When it was registered; `None` for the built-in catalogue.
    pub created_at: Option<Timestamp>,
}

/// A page of a list and the cursors of the pages on either side.
///
/// Both cursors are `None` on an empty page. Otherwise a cursor is `None`
/// only where the query that made the page looked and found no more rows:
/// forwards for `next_cursor` of a forward page, backwards for
/// `prev_cursor` of a backward one. The other side is not looked at, so
/// its cursor is always given (rows may still arrive there: an event
/// published after the first page was read lies before it).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The last item's cursor: the page after this one starts there.
    pub next_cursor: Option<String>,
    /// The first item's cursor: the page before this one ends there.
    pub prev_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page with nothing in it and nothing on either side.
    pub fn empty() -> Self {
        Page {
            items: Vec::new(),
            next_cursor: None,
            prev_cursor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_headers_are_bounded() {
        let long = "é".repeat(600);
        let kept = Exchange::bounded([("x-long".to_string(), long)]);
        assert!(kept[0].1.len() <= Exchange::MAX_VALUE_BYTES + '…'.len_utf8());
        assert!(kept[0].1.ends_with('…'));
        let many = (0..200).map(|i| (format!("x-{i}"), "v".repeat(100)));
        let kept = Exchange::bounded(many);
        let bytes: usize = kept.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(kept.len() <= Exchange::MAX_HEADERS && bytes <= Exchange::MAX_HEADER_BYTES);
        assert!(!kept.is_empty());
    }

    fn endpoint(types: &[&str]) -> Endpoint {
        let now = Utc::now();
        Endpoint {
            id: "ep_1".into(),
            account_id: "acct_1".into(),
            url: "https://u:p@example.com/hook".into(),
            description: String::new(),
            event_types: types.iter().map(|t| t.to_string()).collect(),
            filter: None,
            channels: Vec::new(),
            uid: None,
            version: 1,
            disabled: false,
            disabled_reason: None,
            payload: PayloadMode::Full,
            headers: BTreeMap::new(),
            secret: "whsec_new".into(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_expires_at: Some(now + chrono::Duration::hours(24)),
            rate_limit_per_sec: None,
            metadata: Default::default(),
            failing_since: None,
            delivery_order: DeliveryOrder::Unordered,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn filters_match_listed_types_or_everything() {
        assert!(endpoint(&[]).accepts("payment.completed"));
        assert!(endpoint(&["payment.completed"]).accepts("payment.completed"));
        assert!(!endpoint(&["refund.completed"]).accepts("payment.completed"));
        let mut disabled = endpoint(&[]);
        disabled.disabled = true;
        assert!(!disabled.accepts("payment.completed"));
    }

    #[test]
    fn previous_secret_signs_only_until_it_expires() {
        let ep = endpoint(&[]);
        let now = Utc::now();
        assert_eq!(ep.signing_secrets(now).len(), 2);
        assert_eq!(
            ep.signing_secrets(now + chrono::Duration::hours(25)).len(),
            1
        );
    }

    #[test]
    fn the_key_prefix_names_the_scheme() {
        let mut ep = endpoint(&[]);
        assert_eq!(ep.signature_scheme(), SignatureScheme::HmacSha256);
        ep.secret = "whsk_abc".into();
        assert_eq!(ep.signature_scheme(), SignatureScheme::Ed25519);
        assert_eq!(
            SignatureScheme::parse("ed25519"),
            Some(SignatureScheme::Ed25519)
        );
        assert_eq!(SignatureScheme::parse("rsa"), None);
        assert_eq!(
            serde_json::to_value(SignatureScheme::HmacSha256).unwrap(),
            "hmac-sha256"
        );
    }

    #[test]
    fn body_keeps_data_bytes_and_thin_drops_them() {
        let event = Event {
            id: "evt_1".into(),
            account_id: "acct_1".into(),
            event_type: "payment.completed".into(),
            data: "{\"amount\": 100}".into(),
            webhook_url: None,
            external_id: None,
            channels: Vec::new(),
            format: EventFormat::Hookline,
            payload_hash: String::new(),
            ordering_key: None,
            created_at: DateTime::from_timestamp(0, 0).expect("valid"),
        };
        let full: serde_json::Value = serde_json::from_str(&event.body(PayloadMode::Full)).unwrap();
        assert_eq!(full["data"]["amount"], 100);
        assert_eq!(full["created_at"], "1970-01-01T00:00:00.000Z");
        assert!(event.body(PayloadMode::Full).contains("{\"amount\": 100}"));
        let thin: serde_json::Value = serde_json::from_str(&event.body(PayloadMode::Thin)).unwrap();
        assert!(thin.get("data").is_none());
        assert_eq!(thin["id"], "evt_1");
        let svix = Event {
            format: EventFormat::Svix,
            ..event
        };
        assert_eq!(svix.body(PayloadMode::Full), "{\"amount\": 100}");
        assert_eq!(svix.body(PayloadMode::Thin), "{\"amount\": 100}");
    }

    #[test]
    fn channels_narrow_an_endpoint_only_when_it_lists_some() {
        let mut event = Event {
            id: "evt_1".into(),
            account_id: "acct_1".into(),
            event_type: "payment.completed".into(),
            data: "{}".into(),
            webhook_url: None,
            external_id: None,
            channels: vec!["eu".into()],
            format: EventFormat::Svix,
            payload_hash: String::new(),
            ordering_key: None,
            created_at: Utc::now(),
        };
        let mut ep = endpoint(&[]);
        assert!(ep.receives(&event));
        ep.channels = vec!["us".into()];
        assert!(!ep.receives(&event));
        event.channels.push("us".into());
        assert!(ep.receives(&event));
        event.channels.clear();
        assert!(!ep.receives(&event));
    }
}
