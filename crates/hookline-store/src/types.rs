//! Requests and answers of the [`Store`](crate::Store) that are not domain nouns.

use std::collections::BTreeMap;

use hookline_core::{
    Attempt, AttemptOutcome, DeliveryStatus, Event, EventFormat, PayloadMode, Timestamp,
};

/// The delivery policy's answers, stored as they are (see `hookline_core::policy`).
pub use hookline_core::policy::{EndpointEffect, NextStep};

/// Where a page starts, which way it goes and how long it is.
///
/// Lists are ordered by `seq`: descending (newest first) for events and
/// attempts, ascending (oldest first) for accounts and endpoints. The cursor
/// is an opaque `seq`: a page's [`Page::next_cursor`](hookline_core::Page)
/// or [`Page::prev_cursor`](hookline_core::Page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Exclusive bound the page starts from; `None`: the start of the list
    /// (its end when going [`Direction::Backward`]).
    pub cursor: Option<i64>,
    pub direction: Direction,
}

/// Which way a page lies from its cursor. Either way its items come in the
/// list's own order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    /// The rows just after the cursor (older, for a newest-first list).
    #[default]
    Forward,
    /// The rows just before the cursor (newer, for a newest-first list):
    /// the Svix API's `prevIterator`, which its clients follow back.
    Backward,
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self::after(limit, None)
    }

    /// The `limit` rows after `cursor` (the first page without one).
    pub fn after(limit: u32, cursor: Option<i64>) -> Self {
        PageRequest {
            limit,
            cursor,
            direction: Direction::Forward,
        }
    }

    /// The `limit` rows just before `cursor`, in the list's order.
    pub fn before(limit: u32, cursor: i64) -> Self {
        PageRequest {
            limit,
            cursor: Some(cursor),
            direction: Direction::Backward,
        }
    }
}

/// A hashed account API key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    /// Hex SHA-256 of the key; the key itself is never stored.
    pub key_hash: String,
    pub created_at: Timestamp,
}

/// Who receives a published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every enabled endpoint of the account whose filter matches
    /// (or `event.webhook_url` alone when it is set).
    Subscribed,
    /// Only this endpoint of the account (test sends), even if its filter
    /// would not match; `NotFound` if it is not the account's.
    Endpoint(String),
}

/// An event to store with its fan-out.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub event: Event,
    pub target: Target,
    /// Lease new deliveries to the publishing node at once and hand them
    /// back ready to send, sparing its scheduler a claim (see
    /// [`PublishLease`]). `None`: every delivery waits to be claimed.
    pub lease: Option<PublishLease>,
}

/// How a publishing node takes its event's deliveries straight away. Both
/// stores follow one rule: in target order, enabled endpoints the node has
/// room for, up to `max`; the rest wait to be claimed.
#[derive(Debug, Clone)]
pub struct PublishLease {
    pub node_id: String,
    pub until: Timestamp,
    /// Most deliveries to hand over; the rest wait to be claimed.
    pub max: u32,
    /// Endpoints the node has no room for now: their deliveries wait.
    pub skip_endpoints: Vec<String>,
}

/// What publishing did.
#[derive(Debug, Clone)]
pub enum PublishOutcome {
    /// Stored, with this many deliveries; `leased` of them already leased
    /// to the publishing node (see [`PublishRequest::lease`]).
    Created {
        event: Event,
        deliveries: u32,
        leased: Vec<DueDelivery>,
    },
    /// The id existed with the same payload hash: nothing new was stored.
    Duplicate(Event),
    /// The id existed with a different payload.
    Conflict,
}

/// Filters of the event list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    /// Matches the event's summary status: `pending` if any delivery is
    /// pending, else `failed` if any failed, else `succeeded` (has deliveries,
    /// all succeeded).
    pub status: Option<DeliveryStatus>,
    /// Only events of one of these types (none listed: any type).
    pub event_types: Vec<String>,
    /// Only events on this channel.
    pub channel: Option<String>,
    /// Only events created before this time.
    pub before: Option<Timestamp>,
    /// Only events created after this time.
    pub after: Option<Timestamp>,
}

impl EventFilter {
    /// Whether nothing but `event_type` and `status` narrows the list.
    pub(crate) fn by_status_only(&self) -> bool {
        self.event_types.is_empty()
            && self.channel.is_none()
            && self.before.is_none()
            && self.after.is_none()
    }
}

/// An event in a list, with the summary status of its deliveries
/// (pending over failed over succeeded; `None` when it has none).
#[derive(Debug, Clone)]
pub struct ListedEvent {
    pub event: Event,
    pub status: Option<DeliveryStatus>,
    pub seq: i64,
}

/// Whose attempts to list.
#[derive(Debug, Clone)]
pub enum AttemptsOf {
    Event(String),
    Endpoint(String),
}

/// Narrows an attempt list; the default lists every attempt.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    /// `Some(true)`: only successful attempts; `Some(false)`: only failed ones.
    pub succeeded: Option<bool>,
    /// Only attempts whose status code is in this hundred (`200` for 2xx);
    /// `0` means attempts that got no status code (connection errors, timeouts).
    pub status_code_class: Option<u16>,
    /// Only attempts to this endpoint.
    pub endpoint_id: Option<String>,
    /// Only attempts started before / after these times.
    pub before: Option<Timestamp>,
    pub after: Option<Timestamp>,
    /// Only attempts for events of one of these types (none listed: any).
    pub event_types: Vec<String>,
    /// Only attempts for events on this channel.
    pub channel: Option<String>,
    /// Only attempts that ended so (the dashboard's and `?outcome=`).
    pub outcome: OutcomeFilter,
}

/// Deliveries to one endpoint by where they stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub succeeded: u64,
    /// Pending and not being attempted right now.
    pub pending: u64,
    /// Pending and leased to a node that is attempting it.
    pub sending: u64,
    pub failed: u64,
}

impl DeliveryCounts {
    /// Adds `n` deliveries of a stored status (`sending` for leased pending ones).
    pub(crate) fn add(&mut self, status: &str, n: u64) {
        match status {
            "succeeded" => self.succeeded += n,
            "failed" => self.failed += n,
            "sending" => self.sending += n,
            _ => self.pending += n,
        }
    }
}

/// A span of time; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// From this time on (inclusive).
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
}

/// An answer remembered for an `idempotency-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub created_at: Timestamp,
}

/// Which of an endpoint's attempts to list, by how they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeFilter {
    #[default]
    Any,
    /// A 2xx.
    Succeeded,
    /// Anything but a 2xx.
    Failed,
    /// Failed, and its delivery is still pending: another attempt follows.
    Pending,
    /// Exactly this outcome.
    Outcome(AttemptOutcome),
}

impl OutcomeFilter {
    /// Parses the API's and the dashboard's names: `succeeded`, `failed`,
    /// `pending`, or an outcome's stable name (`http_error`, `timeout`, …).
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "" | "any" => OutcomeFilter::Any,
            "succeeded" => OutcomeFilter::Succeeded,
            "failed" => OutcomeFilter::Failed,
            "pending" => OutcomeFilter::Pending,
            other => OutcomeFilter::Outcome(AttemptOutcome::parse(other)?),
        })
    }

    /// The name [`OutcomeFilter::parse`] reads back; empty for `Any`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeFilter::Any => "",
            OutcomeFilter::Succeeded => "succeeded",
            OutcomeFilter::Failed => "failed",
            OutcomeFilter::Pending => "pending",
            OutcomeFilter::Outcome(o) => o.as_str(),
        }
    }

    /// The SQL parameters of the filter: an exact outcome, "not a
    /// success", "its delivery is pending" (see `sql::outcome_filter`).
    pub(crate) fn params(self) -> (Option<&'static str>, bool, bool) {
        match self {
            OutcomeFilter::Any => (None, false, false),
            OutcomeFilter::Succeeded => (Some("succeeded"), false, false),
            OutcomeFilter::Failed => (None, true, false),
            OutcomeFilter::Pending => (None, true, true),
            OutcomeFilter::Outcome(o) => (Some(o.as_str()), false, false),
        }
    }
}

/// Attempt counts of one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyStats {
    /// Start of the hour.
    pub hour: Timestamp,
    pub succeeded: u64,
    pub failed: u64,
}

/// What the scheduler asks for.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now: Timestamp,
    pub limit: u32,
    pub lease_until: Timestamp,
    /// Names the claiming node in the lease (for operators reading the table).
    pub node_id: String,
    /// Endpoints this node has no room for right now (concurrency or rate limit).
    pub skip_endpoints: Vec<String>,
    /// Accounts holding their share of this node's room right now.
    pub skip_accounts: Vec<String>,
}

/// A leased delivery with everything needed to attempt it without another query.
#[derive(Clone)]
pub struct DueDelivery {
    pub delivery_id: String,
    pub event_id: String,
    pub account_id: String,
    pub endpoint_id: Option<String>,
    /// The target URL, user info included.
    pub url: String,
    /// Attempts already made.
    pub attempts: u32,
    pub first_attempt_at: Option<Timestamp>,
    pub event_type: String,
    pub event_created_at: Timestamp,
    /// Raw JSON text of the event's data.
    pub data: String,
    /// The event's body format (Hookline's envelope, or Svix's bare payload).
    pub format: EventFormat,
    pub payload: PayloadMode,
    pub headers: BTreeMap<String, String>,
    /// Current secret first; the previous one too during a rotation.
    pub secrets: Vec<String>,
    pub rate_limit_per_sec: Option<u32>,
    /// When the endpoint's current run of failures began.
    pub endpoint_failing_since: Option<Timestamp>,
    /// Which lease of the delivery this is (see [`Lease`]).
    pub lease_epoch: i64,
}

impl DueDelivery {
    /// The lease this node holds on the delivery, to record or release it.
    pub fn lease(&self) -> Lease {
        Lease {
            delivery_id: self.delivery_id.clone(),
            epoch: self.lease_epoch,
        }
    }
}

/// One lease of a delivery: every claim (or lease at publish) of a delivery
/// increments its `epoch`, so a node that lost its lease — declared dead
/// while paused, its work taken by another node — cannot record or release
/// over the new holder's: its epoch no longer matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub delivery_id: String,
    pub epoch: i64,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("delivery_id", &self.delivery_id)
            .field("event_id", &self.event_id)
            .field("endpoint_id", &self.endpoint_id)
            .field("attempts", &self.attempts)
            .field("lease_epoch", &self.lease_epoch)
            .finish_non_exhaustive()
    }
}

/// A finished attempt and its consequences.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub attempt: Attempt,
    pub next: NextStep,
    pub endpoint_effect: EndpointEffect,
    /// The lease the attempt was made under: its consequences for the
    /// delivery apply only while that lease is the delivery's latest.
    pub lease_epoch: i64,
}

/// What recording a batch of attempts did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Deliveries whose attempt came under an outdated lease (another node
    /// leased the delivery since), in id order: nothing of such an attempt
    /// is stored — the delivery, its attempt log and its endpoint belong to
    /// the lease's current holder — so the node that made it logs it.
    pub stale: Vec<String>,
    /// Operational events the batch wrote to the outbox, for the platform
    /// account (none when it has no operational endpoint).
    pub operational_events: usize,
}

/// An operational event waiting in the outbox to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Its place in the outbox, to delete it once published.
    pub seq: i64,
    /// The event, in the platform account, under the id it keeps.
    pub event: Event,
}

/// A node of the fleet as registered at start (see
/// [`Store::register_node`](crate::Store::register_node)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistration {
    /// This run's incarnation of the node id: a heartbeat names it, so a
    /// replaced or declared-dead run learns that it is no longer the node.
    pub epoch: i64,
    /// Deliveries a previous run of the same node id held, now due again.
    pub released: u64,
    /// How long before this start the previous run last beat, if one was
    /// registered.
    pub predecessor_silent_ms: Option<i64>,
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// Recorded: this run is still the node.
    Alive,
    /// Another node declared this one dead and released its deliveries.
    Dead,
    /// Another run registered the same node id since.
    Superseded,
}

/// A node found dead and the deliveries it held, now due again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadNode {
    pub node_id: String,
    /// How long it had been silent, by the database's clock.
    pub silent_ms: i64,
    pub released: u64,
}

impl AttemptResult {
    /// Whether the attempt itself succeeded.
    pub fn succeeded(&self) -> bool {
        self.attempt.outcome == AttemptOutcome::Succeeded
    }
}

/// What the embedded store's single writer has done since it opened, for
/// metrics: how often it committed, how many writes those commits carried
/// and how long it was busy — the group commit's health at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriterStats {
    pub commits: u64,
    pub writes: u64,
    pub busy_seconds: f64,
    /// WAL syncs (each makes every commit before it durable) and the time
    /// they took.
    pub syncs: u64,
    pub sync_seconds: f64,
    /// Summed over the committed writes: time queued before their batch
    /// began, and time from queued to answered after the sync — divided
    /// by `writes`, how long a write waits for the writer and for
    /// durability in all.
    pub queue_seconds: f64,
    pub durable_seconds: f64,
}

/// The backlog, for metrics.
#[derive(Debug, Clone, Default)]
pub struct PendingStats {
    pub pending: u64,
    pub oldest_created_at: Option<Timestamp>,
}

/// Whether a [`DashboardSession`] row is a portal link not yet opened or a
/// signed-in browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A one-time portal URL: opening it turns it into a `Session`.
    Link,
    /// A browser's dashboard session (its cookie).
    Session,
}

impl SessionKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Link => "link",
            SessionKind::Session => "session",
        }
    }
}

/// A dashboard session or portal link, kept server-side so that logging out,
/// deleting the account or deleting the API key that made it ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSession {
    /// Hex SHA-256 of the random token in the cookie or the portal URL.
    pub id_hash: String,
    pub kind: SessionKind,
    /// The one account it may see; `None` for the admin.
    pub account_id: Option<String>,
    /// Hash of the API key that created it; `None` when the admin token did.
    /// The session ends when that key is deleted.
    pub api_key_hash: Option<String>,
    /// Shows everything, changes nothing, reveals no secret.
    pub read_only: bool,
    /// Made by `POST …/portal-sessions` (embedded: no global navigation).
    pub portal: bool,
    /// Where the portal's "back" link leads.
    pub return_url: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An account's brand on the dashboard (each field falls back to the
/// node's configured brand).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branding {
    pub product_name: Option<String>,
    /// An `https://` (or `data:`) image URL.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
}
