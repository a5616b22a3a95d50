//! The store's rules, written once for both backends: what a claim does
//! with a delivery (send, park or fail), how a next step is stored, which
//! secrets sign a delivery, what sending to an endpoint needs, and which
//! subscribed endpoints an event's payload filter lets through. The SQL
//! that carries them out is per dialect (`sqlite/`, `postgres/`); the
//! fragments both dialects share are in [`crate::sql`]. The conformance
//! suite checks that the two backends keep to these rules alike.

use hookline_core::filter::Filter;
use hookline_core::{DeliveryOrder, Endpoint, Event, PayloadMode};

use crate::encode::{ms, opt_time};
use crate::types::{DueDelivery, NextStep, PublishLease};
use crate::{StoreError, StoreResult};

/// How long deliveries to a disabled endpoint are parked before being
/// looked at again (re-enabling the endpoint makes them due at once).
pub(crate) const PARK_MS: i64 = 3_600_000;

/// What a claim does with a due delivery it locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Lease it to the claiming node and hand it out.
    Send,
    /// Its endpoint is disabled: push it [`PARK_MS`] away, unleased.
    Park,
    /// Its endpoint (or its event) is gone: nothing left to deliver to.
    Fail,
}

impl Disposition {
    /// The rule: a delivery to the event's own URL (no endpoint) is sent;
    /// one whose endpoint row is gone fails; a disabled endpoint's waits.
    /// `endpoint_disabled` is `None` when the delivery names an endpoint
    /// that no longer exists.
    pub(crate) fn of(names_endpoint: bool, endpoint_disabled: Option<bool>) -> Disposition {
        match (names_endpoint, endpoint_disabled) {
            (false, _) => Disposition::Send,
            (true, None) => Disposition::Fail,
            (true, Some(true)) => Disposition::Park,
            (true, Some(false)) => Disposition::Send,
        }
    }
}

/// Whether a new delivery to an endpoint must wait for a claim instead of
/// being handed over at publish: a disabled endpoint's (a test send) is
/// parked by the claim, and an ordered endpoint's may have an earlier one of
/// its key still pending, which only the claim's rule
/// ([`crate::sql::ORDER_ALLOWS`]) looks at.
pub(crate) fn waits_for_claim(disabled: bool, delivery_order: DeliveryOrder) -> bool {
    disabled || delivery_order == DeliveryOrder::Ordered
}

/// The hand-over rule of a publish: walking its new deliveries in target
/// order, one is leased at insert to the publishing node when the publish
/// asked for a lease, the delivery need not wait for a claim
/// ([`waits_for_claim`]) and the node has room for that endpoint, while the
/// lease's `max` lasts.
pub(crate) struct HandOver<'a> {
    lease: Option<&'a PublishLease>,
    room: u32,
}

impl<'a> HandOver<'a> {
    pub(crate) fn new(lease: Option<&'a PublishLease>) -> HandOver<'a> {
        HandOver {
            lease,
            room: lease.map_or(0, |l| l.max),
        }
    }

    /// The lease (node, until in ms) of the next delivery, to `endpoint`
    /// (id, [`waits_for_claim`]) or to the event's own URL (`None`); `None`
    /// when it waits to be claimed.
    pub(crate) fn take(&mut self, endpoint: Option<(&str, bool)>) -> Option<(&'a str, i64)> {
        let lease = self.lease?;
        let may = match endpoint {
            None => true,
            Some((id, waits)) => !waits && !lease.skip_endpoints.iter().any(|s| s == id),
        };
        if !may || self.room == 0 {
            return None;
        }
        self.room -= 1;
        Some((lease.node_id.as_str(), ms(lease.until)))
    }
}

/// A new delivery of `e`, leased at insert, as a claim would answer it
/// (the caller fills in the send settings or the account's secret).
pub(crate) fn handed_over(
    e: &Event,
    delivery_id: String,
    url: String,
    endpoint_id: Option<&str>,
    secrets: Vec<String>,
) -> DueDelivery {
    DueDelivery {
        delivery_id,
        event_id: e.id.clone(),
        account_id: e.account_id.clone(),
        endpoint_id: endpoint_id.map(str::to_string),
        url,
        attempts: 0,
        first_attempt_at: None,
        event_type: e.event_type.clone(),
        event_created_at: e.created_at,
        data: e.data.clone(),
        format: e.format,
        payload: PayloadMode::Full,
        headers: Default::default(),
        secrets,
        rate_limit_per_sec: None,
        endpoint_failing_since: None,
        lease_epoch: FIRST_LEASE_EPOCH,
    }
}

/// The lease epoch of a delivery inserted already leased (handed over at
/// publish); one never leased has 0, and every claim adds one.
pub(crate) const FIRST_LEASE_EPOCH: i64 = 1;

/// A delivery's stored state after an attempt: its status and when it is
/// due next (`None` once it is finished).
pub(crate) fn stored_next(next: NextStep) -> (&'static str, Option<i64>) {
    match next {
        NextStep::Succeeded => ("succeeded", None),
        NextStep::RetryAt(at) => ("pending", Some(at.timestamp_millis())),
        NextStep::Failed => ("failed", None),
    }
}

/// The secrets a delivery sent at `now_ms` is signed with: the current
/// one, plus the previous one until its rotation window closes (the same
/// rule as `Endpoint::signing_secrets`, over stored columns).
pub(crate) fn signing_secrets(
    secret: &str,
    previous: Option<&str>,
    previous_expires_at: Option<i64>,
    now_ms: i64,
) -> Vec<String> {
    let mut secrets = vec![secret.to_string()];
    if let (Some(previous), Some(until)) = (previous, previous_expires_at) {
        if now_ms < until {
            secrets.push(previous.to_string());
        }
    }
    secrets
}

/// An endpoint's filter as stored: compact JSON text, `NULL` for none.
pub(crate) fn filter_text(endpoint: &Endpoint) -> Option<String> {
    endpoint.filter.as_ref().map(|f| f.source().to_string())
}

/// Reads a stored filter (checked when it was saved).
pub(crate) fn read_filter(text: Option<&str>) -> StoreResult<Option<Filter>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| StoreError::Unavailable(format!("bad filter JSON in the database: {e}")))?;
    Filter::parse(&value)
        .map(Some)
        .map_err(|e| StoreError::Unavailable(format!("bad filter in the database: {e}")))
}

/// Decides, endpoint by endpoint, whether an event passes its stored
/// filter. The event's data is parsed once, and only if some subscribed
/// endpoint has a filter, so publishing to unfiltered endpoints parses no
/// JSON at all.
pub(crate) struct FanOut<'a> {
    event: &'a Event,
    data: Option<serde_json::Value>,
}

impl<'a> FanOut<'a> {
    pub(crate) fn new(event: &'a Event) -> Self {
        FanOut { event, data: None }
    }

    /// Whether the endpoint whose stored filter is `filter` receives the
    /// event. A stored filter that no longer reads (filters are checked
    /// before they are saved) lets the event through, with a warning: a
    /// delivery too many beats a lost one, and one broken row must not fail
    /// the publishes it is batched with.
    pub(crate) fn passes(&mut self, filter: Option<&str>) -> bool {
        let filter = match read_filter(filter) {
            Ok(Some(filter)) => filter,
            Ok(None) => return true,
            Err(err) => {
                tracing::warn!(error = %err, "unreadable endpoint filter; delivering anyway");
                return true;
            }
        };
        if self.data.is_none() {
            // Data that is not JSON (never accepted at publish) is `null`.
            self.data = Some(serde_json::from_str(&self.event.data).unwrap_or_default());
        }
        let data = self.data.as_ref().expect("parsed just above");
        filter.matches(&self.event.event_type, data)
    }
}

/// What sending to an endpoint needs, as stored: the columns of
/// [`crate::sql::SEND_COLUMNS`], in that order. Claims and deliveries
/// handed over at publish fill a [`DueDelivery`] from it, so both send
/// alike on both backends.
#[derive(Debug, Clone)]
pub(crate) struct SendSettings {
    pub(crate) payload: String,
    /// Stored JSON text of the extra headers.
    pub(crate) headers: String,
    pub(crate) secret: String,
    pub(crate) previous_secret: Option<String>,
    pub(crate) previous_secret_expires_at: Option<i64>,
    pub(crate) rate_limit_per_sec: Option<u32>,
    pub(crate) failing_since: Option<i64>,
}

impl SendSettings {
    /// An endpoint's settings, as they would be stored.
    pub(crate) fn of(ep: &hookline_core::Endpoint) -> SendSettings {
        SendSettings {
            payload: ep.payload.as_str().to_string(),
            headers: crate::encode::to_json(&ep.headers),
            secret: ep.secret.clone(),
            previous_secret: ep.previous_secret.clone(),
            previous_secret_expires_at: ep.previous_secret_expires_at.map(crate::encode::ms),
            rate_limit_per_sec: ep.rate_limit_per_sec,
            failing_since: ep.failing_since.map(crate::encode::ms),
        }
    }

    /// Fills in `due`'s payload mode, headers, signing secrets at `now_ms`,
    /// rate limit and failing-since.
    pub(crate) fn apply(&self, due: &mut DueDelivery, now_ms: i64) -> StoreResult<()> {
        due.payload = PayloadMode::parse(&self.payload).unwrap_or_default();
        due.headers = serde_json::from_str(&self.headers)
            .map_err(|e| StoreError::Unavailable(format!("bad JSON in the database: {e}")))?;
        due.secrets = signing_secrets(
            &self.secret,
            self.previous_secret.as_deref(),
            self.previous_secret_expires_at,
            now_ms,
        );
        due.rate_limit_per_sec = self.rate_limit_per_sec;
        due.endpoint_failing_since = opt_time(self.failing_since);
        Ok(())
    }
}

/// How many candidate events a `?status=` listing takes from the
/// deliveries' `(account_id, status, event_seq)` index at a time. An
/// event's summary status is computed from its deliveries, so the index
/// cannot answer it alone, but every event whose summary is `S` has a
/// delivery whose status is `S` (pending over failed over succeeded): the
/// events with such a delivery, newest first, are a superset to check in
/// chunks, and a status few events have costs a few index entries instead
/// of a walk through every event of the account.
pub(crate) const STATUS_CHUNK: u32 = 256;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn the_claim_rule_sends_parks_or_fails() {
        assert_eq!(Disposition::of(false, None), Disposition::Send);
        assert_eq!(Disposition::of(true, None), Disposition::Fail);
        assert_eq!(Disposition::of(true, Some(true)), Disposition::Park);
        assert_eq!(Disposition::of(true, Some(false)), Disposition::Send);
    }

    #[test]
    fn hand_over_takes_enabled_endpoints_with_room_in_order_while_the_max_lasts() {
        let lease = PublishLease {
            node_id: "node-a".into(),
            until: Utc::now(),
            max: 2,
            skip_endpoints: vec!["ep_busy".into()],
        };
        let mut hand_over = HandOver::new(Some(&lease));
        assert!(hand_over.take(Some(("ep_off", true))).is_none(), "disabled");
        assert!(
            hand_over.take(Some(("ep_busy", false))).is_none(),
            "no room"
        );
        assert_eq!(
            hand_over.take(Some(("ep_1", false))),
            Some(("node-a", ms(lease.until)))
        );
        assert!(hand_over.take(None).is_some(), "the event's own URL");
        assert!(
            hand_over.take(Some(("ep_2", false))).is_none(),
            "max reached"
        );
        assert!(HandOver::new(None).take(None).is_none(), "no lease asked");
    }

    #[test]
    fn disabled_or_ordered_endpoints_wait_for_the_claim() {
        assert!(!waits_for_claim(false, DeliveryOrder::Unordered));
        assert!(waits_for_claim(true, DeliveryOrder::Unordered));
        assert!(waits_for_claim(false, DeliveryOrder::Ordered));
    }

    #[test]
    fn next_steps_are_stored_as_status_and_due_time() {
        let at = Utc::now();
        assert_eq!(stored_next(NextStep::Succeeded), ("succeeded", None));
        assert_eq!(stored_next(NextStep::Failed), ("failed", None));
        assert_eq!(
            stored_next(NextStep::RetryAt(at)),
            ("pending", Some(at.timestamp_millis()))
        );
    }

    #[test]
    fn signing_secrets_match_the_endpoints_rule() {
        let now = Utc::now();
        for expires in [now - Duration::seconds(1), now, now + Duration::seconds(1)] {
            let endpoint = hookline_core::Endpoint {
                id: "ep_1".into(),
                account_id: "acct_1".into(),
                url: "https://receiver.example".into(),
                description: String::new(),
                event_types: Vec::new(),
                channels: Vec::new(),
                uid: None,
                version: 1,
                disabled: false,
                disabled_reason: None,
                payload: PayloadMode::Full,
                headers: Default::default(),
                secret: "whsec_current".into(),
                previous_secret: Some("whsec_previous".into()),
                previous_secret_expires_at: Some(expires),
                rate_limit_per_sec: None,
                metadata: Default::default(),
                failing_since: None,
                filter: None,
                delivery_order: DeliveryOrder::Unordered,
                created_at: now,
                updated_at: now,
            };
            assert_eq!(
                signing_secrets(
                    "whsec_current",
                    Some("whsec_previous"),
                    Some(expires.timestamp_millis()),
                    now.timestamp_millis()
                ),
                endpoint.signing_secrets(now),
                "expiring at {expires}"
            );
        }
        assert_eq!(signing_secrets("s", None, Some(i64::MAX), 0), vec!["s"]);
    }

    #[test]
    fn the_fan_out_applies_stored_filters_to_type_and_data() {
        let event = Event {
            id: "evt_1".into(),
            account_id: "acct_1".into(),
            event_type: "payment.completed".into(),
            data: r#"{"amount": 25000, "currency": "EUR"}"#.into(),
            webhook_url: None,
            external_id: None,
            channels: Vec::new(),
            format: Default::default(),
            payload_hash: String::new(),
            ordering_key: None,
            created_at: Utc::now(),
        };
        let mut fan_out = FanOut::new(&event);
        assert!(fan_out.passes(None));
        assert!(fan_out.data.is_none(), "no filter, no parsing");
        assert!(fan_out.passes(Some(
            r#"{"data.amount":{"$gte":10000},"data.currency":"EUR"}"#
        )));
        assert!(!fan_out.passes(Some(r#"{"data.currency":"USD"}"#)));
        assert!(!fan_out.passes(Some(r#"{"type":"refund.completed"}"#)));
        // An unreadable stored filter lets the event through.
        assert!(fan_out.passes(Some("not json")));
        assert!(fan_out.passes(Some(r#"{"$nope":1}"#)));
        assert!(read_filter(Some("not json")).is_err());
    }
}
