//! Which stored values are sealed (see [`crate::sealer`]), written once for
//! both backends: an account's signing secret; an endpoint's current and
//! previous secret, custom header values and URL password; the password of
//! an event's own `webhook_url` and of a delivery's URL. Each backend seals
//! a domain value before it writes it and opens what it read before
//! answering, so SQL only ever sees stored forms.
//!
//! A URL keeps everything but its password in the clear (host and path stay
//! readable and masking works as before); header names stay plain too.

use std::collections::BTreeMap;

use hookline_core::{Delivery, Endpoint, Event, Page};

use crate::sealer::{OpenError, Sealer, SEALED_PREFIX};
use crate::types::{DueDelivery, ListedEvent, PublishOutcome, StoredResponse};
use crate::{StoreError, StoreResult};

impl From<OpenError> for StoreError {
    fn from(err: OpenError) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

/// How a sealed column holds its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// The whole value is a secret.
    Secret,
    /// A URL whose password is the secret.
    Url,
    /// JSON text of a header map whose values are secrets.
    Headers,
}

/// A table with sealed columns, for re-sealing it batch by batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    Accounts,
    Endpoints,
    Events,
    Deliveries,
    /// Answers remembered for the `idempotency-key` header (12 hours): the
    /// body of a secret's rotation or reveal holds the secret. Rows have no
    /// `seq`: a batch takes rows not yet under the sealing key.
    IdempotencyKeys,
}

impl SealedTable {
    /// Every table with sealed columns, in the order `hookline reseal` walks them.
    pub const ALL: [SealedTable; 5] = [
        SealedTable::Accounts,
        SealedTable::Endpoints,
        SealedTable::Events,
        SealedTable::Deliveries,
        SealedTable::IdempotencyKeys,
    ];

    /// The table's name (its rows are walked by `seq`).
    pub fn name(self) -> &'static str {
        match self {
            SealedTable::Accounts => "accounts",
            SealedTable::Endpoints => "endpoints",
            SealedTable::Events => "events",
            SealedTable::Deliveries => "deliveries",
            SealedTable::IdempotencyKeys => "idempotency_keys",
        }
    }

    /// Its sealed columns and how each holds its secret.
    pub(crate) fn columns(self) -> &'static [(&'static str, Form)] {
        match self {
            SealedTable::Accounts => &[("signing_secret", Form::Secret)],
            SealedTable::Endpoints => &[
                ("url", Form::Url),
                ("headers", Form::Headers),
                ("secret", Form::Secret),
                ("previous_secret", Form::Secret),
            ],
            SealedTable::Events => &[("webhook_url", Form::Url)],
            SealedTable::Deliveries => &[("url", Form::Url)],
            SealedTable::IdempotencyKeys => &[("body", Form::Secret)],
        }
    }

    /// A condition that skips rows with nothing to seal: a URL without
    /// user info has no password (most events and deliveries).
    pub(crate) fn worth_reading(self) -> &'static str {
        match self {
            SealedTable::Accounts | SealedTable::Endpoints => "TRUE",
            SealedTable::Events => "webhook_url LIKE '%@%'",
            SealedTable::Deliveries => "url LIKE '%@%'",
            SealedTable::IdempotencyKeys => "TRUE",
        }
    }
}

/// What re-sealing one batch of a table did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealBatch {
    /// Rows read.
    pub scanned: u64,
    /// Rows rewritten with the sealing key.
    pub resealed: u64,
    /// The `seq` to continue after; `None` when the table is done.
    pub next_after: Option<i64>,
}

impl Sealer {
    /// A secret's stored form. No plain value may look sealed, with or
    /// without a key, or it would be read back as a sealed one.
    pub(crate) fn seal_secret(&self, plain: &str) -> StoreResult<String> {
        if plain.starts_with(SEALED_PREFIX) {
            return Err(StoreError::Invalid(format!(
                "a secret, URL password or header value may not begin with `{SEALED_PREFIX}`"
            )));
        }
        Ok(self.seal(plain))
    }

    /// A URL's stored form: its password sealed, the rest as it is, byte
    /// for byte (the URL given back by [`Sealer::open_url`] is the one given).
    pub(crate) fn seal_url(&self, raw: &str) -> StoreResult<String> {
        // Where this code and the URL parser that sends the request would
        // see a different password, seal the parser's own form of the URL.
        let text = match url::Url::parse(raw) {
            Ok(url)
                if url.password()
                    != parsed_password(password_span(raw).map(|s| &raw[s])).as_deref() =>
            {
                url.to_string()
            }
            _ => raw.to_string(),
        };
        let Some(span) = password_span(&text) else {
            return Ok(text);
        };
        let sealed = self.seal_secret(&text[span.clone()])?;
        Ok(format!(
            "{}{sealed}{}",
            &text[..span.start],
            &text[span.end..]
        ))
    }

    /// A stored URL, its password opened.
    pub(crate) fn open_url(&self, stored: &str) -> StoreResult<String> {
        let Some(span) =
            password_span(stored).filter(|s| stored[s.clone()].starts_with(SEALED_PREFIX))
        else {
            return Ok(stored.to_string());
        };
        let plain = self.open(&stored[span.clone()])?;
        Ok(format!(
            "{}{plain}{}",
            &stored[..span.start],
            &stored[span.end..]
        ))
    }

    fn seal_headers(
        &self,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<BTreeMap<String, String>> {
        headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), self.seal_secret(value)?)))
            .collect()
    }

    fn open_headers(
        &self,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<BTreeMap<String, String>> {
        headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), self.open(value)?)))
            .collect()
    }

    /// An endpoint as it is stored: secrets, header values and URL password sealed.
    pub(crate) fn seal_endpoint(&self, endpoint: &Endpoint) -> StoreResult<Endpoint> {
        Ok(Endpoint {
            url: self.seal_url(&endpoint.url)?,
            headers: self.seal_headers(&endpoint.headers)?,
            secret: self.seal_secret(&endpoint.secret)?,
            previous_secret: endpoint
                .previous_secret
                .as_deref()
                .map(|s| self.seal_secret(s))
                .transpose()?,
            ..endpoint.clone()
        })
    }

    /// A remembered answer as it is stored: its body sealed whole (a JSON
    /// body never begins like a sealed value).
    pub(crate) fn seal_answer(&self, answer: &StoredResponse) -> StoredResponse {
        StoredResponse {
            body: self.seal(&answer.body),
            ..answer.clone()
        }
    }

    /// A stored answer, opened.
    pub(crate) fn open_answer(&self, mut answer: StoredResponse) -> StoreResult<StoredResponse> {
        answer.body = self.open(&answer.body)?;
        Ok(answer)
    }

    /// The `LIKE` pattern of values sealed with the sealing key, to find
    /// those that are not.
    pub(crate) fn current_pattern(&self) -> Option<String> {
        self.sealing_key_id()
            .map(|id| format!("{SEALED_PREFIX}{id}.%"))
    }

    /// A stored endpoint, opened.
    pub(crate) fn open_endpoint(&self, mut endpoint: Endpoint) -> StoreResult<Endpoint> {
        endpoint.url = self.open_url(&endpoint.url)?;
        endpoint.headers = self.open_headers(&endpoint.headers)?;
        endpoint.secret = self.open(&endpoint.secret)?;
        endpoint.previous_secret = endpoint
            .previous_secret
            .map(|s| self.open(&s))
            .transpose()?;
        Ok(endpoint)
    }

    /// A page of stored endpoints, opened.
    pub(crate) fn open_endpoints(&self, page: Page<Endpoint>) -> StoreResult<Page<Endpoint>> {
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|e| self.open_endpoint(e))
                .collect::<StoreResult<_>>()?,
            next_cursor: page.next_cursor,
            prev_cursor: page.prev_cursor,
        })
    }

    /// An event as it is stored: the password of its own URL sealed.
    pub(crate) fn seal_event(&self, event: &Event) -> StoreResult<Event> {
        Ok(Event {
            webhook_url: event
                .webhook_url
                .as_deref()
                .map(|u| self.seal_url(u))
                .transpose()?,
            ..event.clone()
        })
    }

    /// A stored event, opened.
    pub(crate) fn open_event(&self, mut event: Event) -> StoreResult<Event> {
        event.webhook_url = event.webhook_url.map(|u| self.open_url(&u)).transpose()?;
        Ok(event)
    }

    /// A page of listed events, opened.
    pub(crate) fn open_listed(&self, page: Page<ListedEvent>) -> StoreResult<Page<ListedEvent>> {
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|mut listed| {
                    listed.event = self.open_event(listed.event)?;
                    Ok(listed)
                })
                .collect::<StoreResult<_>>()?,
            next_cursor: page.next_cursor,
            prev_cursor: page.prev_cursor,
        })
    }

    /// Stored deliveries, opened.
    pub(crate) fn open_deliveries(&self, deliveries: Vec<Delivery>) -> StoreResult<Vec<Delivery>> {
        deliveries
            .into_iter()
            .map(|mut d| {
                d.url = self.open_url(&d.url)?;
                Ok(d)
            })
            .collect()
    }

    /// A leased delivery read in stored form, opened: URL, headers, secrets.
    fn open_due(&self, mut due: DueDelivery) -> StoreResult<DueDelivery> {
        due.url = self.open_url(&due.url)?;
        due.headers = self.open_headers(&due.headers)?;
        due.secrets = due
            .secrets
            .iter()
            .map(|s| self.open(s))
            .collect::<Result<_, _>>()?;
        Ok(due)
    }

    /// Leased deliveries, opened. One that does not open (its key is not
    /// configured) is logged and left out rather than failing the batch:
    /// its lease runs out and it is tried again once the key is back, while
    /// every other delivery goes out.
    pub(crate) fn open_due_batch(&self, due: Vec<DueDelivery>) -> Vec<DueDelivery> {
        due.into_iter()
            .filter_map(|d| {
                let id = d.delivery_id.clone();
                match self.open_due(d) {
                    Ok(d) => Some(d),
                    Err(err) => {
                        tracing::error!(delivery_id = %id, error = %err, "cannot open the delivery's secrets; it waits for its lease to end");
                        None
                    }
                }
            })
            .collect()
    }

    /// A publish's answer, opened.
    pub(crate) fn open_outcome(&self, outcome: PublishOutcome) -> StoreResult<PublishOutcome> {
        Ok(match outcome {
            PublishOutcome::Created {
                event,
                deliveries,
                leased,
            } => PublishOutcome::Created {
                event: self.open_event(event)?,
                deliveries,
                leased: self.open_due_batch(leased),
            },
            PublishOutcome::Duplicate(event) => PublishOutcome::Duplicate(self.open_event(event)?),
            PublishOutcome::Conflict => PublishOutcome::Conflict,
        })
    }

    /// `stored` re-sealed with the sealing key, or `None` when it already
    /// is (or holds nothing to seal).
    pub(crate) fn reseal(&self, form: Form, stored: &str) -> StoreResult<Option<String>> {
        match form {
            Form::Secret if self.is_current(stored) => Ok(None),
            Form::Secret => Ok(Some(self.seal(&self.open(stored)?))),
            Form::Url => {
                let password = password_span(stored).map(|span| &stored[span]);
                match password {
                    Some(p) if !self.is_current(p) => {
                        Ok(Some(self.seal_url(&self.open_url(stored)?)?))
                    }
                    _ => Ok(None),
                }
            }
            Form::Headers => {
                let headers: BTreeMap<String, String> =
                    serde_json::from_str(stored).map_err(|e| {
                        StoreError::Unavailable(format!("bad JSON in the database: {e}"))
                    })?;
                if headers.values().all(|v| self.is_current(v)) {
                    return Ok(None);
                }
                let sealed: BTreeMap<String, String> = headers
                    .iter()
                    .map(|(name, value)| Ok((name.clone(), self.seal(&self.open(value)?))))
                    .collect::<StoreResult<_>>()?;
                Ok(Some(crate::encode::to_json(&sealed)))
            }
        }
    }
}

/// Where the password of a URL's user info (`scheme://user:PASSWORD@host…`)
/// is in its text, if it has a non-empty one.
fn password_span(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some(start + colon + 1..start + at).filter(|span| !span.is_empty())
}

/// `password` as the URL parser holds it (its own percent-encoding), to
/// compare with what it parsed.
fn parsed_password(password: Option<&str>) -> Option<String> {
    let mut probe = url::Url::parse("http://user@host/").expect("a valid URL");
    probe.set_password(password).ok()?;
    probe.password().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed() -> Sealer {
        Sealer::parse(&Sealer::generate_key()).expect("a valid key")
    }

    #[test]
    fn a_url_keeps_all_but_its_password_in_the_clear() {
        let s = keyed();
        let stored = s
            .seal_url("https://shop:p%40ss:w@hooks.example.com:8443/in?x=1")
            .expect("seals");
        assert!(!stored.contains("p%40ss"), "{stored}");
        let url = url::Url::parse(&stored).expect("still a URL");
        assert_eq!(url.username(), "shop");
        assert_eq!(url.host_str(), Some("hooks.example.com"));
        assert_eq!(url.path(), "/in");
        assert!(url.password().is_some_and(|p| p.starts_with(SEALED_PREFIX)));
        assert_eq!(
            s.open_url(&stored).expect("opens"),
            "https://shop:p%40ss:w@hooks.example.com:8443/in?x=1"
        );
        assert_eq!(
            hookline_core::net::mask_url(&stored),
            "https://shop:****@hooks.example.com:8443/in?x=1"
        );
        // The rest of the URL is kept byte for byte, not normalised.
        for given in [
            "https://u:pw@Example.com",
            "http://u:p%3Aw@[::1]:8080/a/../b#f",
        ] {
            let stored = s.seal_url(given).expect("seals");
            assert!(
                !stored.contains(":pw@") && !stored.contains("p%3Aw"),
                "{stored}"
            );
            assert_eq!(s.open_url(&stored).expect("opens"), given);
        }
        // No password, nothing to seal: the URL is stored as given.
        for plain in [
            "https://hooks.example.com/in",
            "https://user@hooks.example.com",
            "https://user:@hooks.example.com",
        ] {
            assert_eq!(s.seal_url(plain).expect("seals"), plain);
            assert_eq!(s.reseal(Form::Url, plain).expect("reseals"), None);
        }
    }

    #[test]
    fn values_that_look_sealed_are_refused_even_without_a_key() {
        for s in [keyed(), Sealer::none()] {
            assert!(s.seal_secret("sealed.v1.abcd.xyz").is_err());
            assert!(s
                .seal_url("https://u:sealed.v1.ab.cd@example.com/")
                .is_err());
        }
        assert_eq!(
            Sealer::none()
                .seal_url("https://u:pw@Example.com")
                .expect("plain"),
            "https://u:pw@Example.com",
            "without a key the URL is stored as given"
        );
    }

    #[test]
    fn reseal_moves_every_form_to_the_first_key_once() {
        let old_key = Sealer::generate_key();
        let old = Sealer::parse(&old_key).expect("key");
        let new = Sealer::parse(&format!("{},{old_key}", Sealer::generate_key())).expect("keys");
        let headers = crate::encode::to_json(&BTreeMap::from([(
            "X-Api-Key".to_string(),
            old.seal("k-123"),
        )]));
        let cases = [
            (Form::Secret, old.seal("whsec_x"), "whsec_x".to_string()),
            (
                Form::Secret,
                "whsec_plain".to_string(),
                "whsec_plain".to_string(),
            ),
            (
                Form::Url,
                old.seal_url("https://u:pw@example.com/").expect("seals"),
                "https://u:pw@example.com/".to_string(),
            ),
            (
                Form::Url,
                "https://u:pw@example.com/".to_string(),
                "https://u:pw@example.com/".to_string(),
            ),
        ];
        for (form, stored, plain) in cases {
            let resealed = new
                .reseal(form, &stored)
                .expect("reseals")
                .expect("changed");
            assert_eq!(
                new.reseal(form, &resealed).expect("reseals"),
                None,
                "idempotent"
            );
            let opened = match form {
                Form::Url => new.open_url(&resealed).expect("opens"),
                _ => new.open(&resealed).expect("opens"),
            };
            assert_eq!(opened, plain);
        }
        let resealed = new
            .reseal(Form::Headers, &headers)
            .expect("reseals")
            .expect("changed");
        let map: BTreeMap<String, String> = serde_json::from_str(&resealed).expect("json");
        assert!(new.is_current(&map["X-Api-Key"]));
        assert_eq!(new.open(&map["X-Api-Key"]).expect("opens"), "k-123");
        assert_eq!(new.reseal(Form::Headers, &resealed).expect("reseals"), None);
    }
}
