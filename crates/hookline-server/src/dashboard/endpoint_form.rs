//! The add/edit endpoint form: the values it shows (from an endpoint, or
//! from a rejected post with the error beside its field), how a posted
//! form becomes the service's `EndpointInput`, and "Test filter", which
//! tries the payload filter being written on a catalogue example or a
//! recent event without saving anything.

use std::collections::BTreeMap;

use hookline_core::{DeliveryOrder, Endpoint, PayloadMode, SignatureScheme};

use super::csrf::FormData;
use crate::service::endpoints::EndpointInput;
use crate::service::filters::{self, Sample};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// The values shown in the add/edit form.
pub(crate) struct FormValues {
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) types: Vec<(String, bool)>,
    pub(crate) thin: bool,
    pub(crate) headers: String,
    pub(crate) rate_limit: String,
    pub(crate) ed25519: bool,
    /// The payload filter as JSON text (empty: none).
    pub(crate) filter: String,
    /// What the filter can be tried on: (value, label, selected).
    pub(crate) samples: Vec<(String, String, bool)>,
    /// The outcome of "Test filter", if it was pressed.
    pub(crate) trial: String,
    pub(crate) trial_matches: bool,
    pub(crate) error_field: String,
    pub(crate) error: String,
}

impl FormValues {
    /// The form for a new endpoint (`None`) or filled from one.
    pub(crate) fn new(state: &AppState, e: Option<&Endpoint>) -> Self {
        let chosen: Vec<String> = e.map(|e| e.event_types.clone()).unwrap_or_default();
        FormValues {
            url: e
                .map(|e| hookline_core::net::mask_url(&e.url))
                .unwrap_or_default(),
            description: e.map(|e| e.description.clone()).unwrap_or_default(),
            types: type_choices(state, &chosen),
            thin: e.is_some_and(|e| e.payload == PayloadMode::Thin),
            headers: e
                .map(|e| {
                    e.headers
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            rate_limit: e
                .and_then(|e| e.rate_limit_per_sec)
                .map(|r| r.to_string())
                .unwrap_or_default(),
            ed25519: e.is_some_and(|e| e.signature_scheme() == SignatureScheme::Ed25519),
            filter: e
                .and_then(|e| e.filter.as_ref())
                .and_then(|f| serde_json::to_string_pretty(f.source()).ok())
                .unwrap_or_default(),
            samples: Vec::new(),
            trial: String::new(),
            trial_matches: false,
            error_field: String::new(),
            error: String::new(),
        }
    }

    /// The posted form again, with `error` beside its field.
    pub(crate) fn from_form(state: &AppState, form: &FormData, error: &ServiceError) -> Self {
        let mut values = Self::posted(state, form);
        values.error_field = error.field().unwrap_or("form").to_string();
        values.error = error.to_string();
        values
    }

    /// The posted form again, as it was.
    pub(crate) fn posted(state: &AppState, form: &FormData) -> Self {
        FormValues {
            url: form.get("url").unwrap_or_default(),
            description: form.get("description").unwrap_or_default(),
            types: type_choices(state, &form.all("event_types")),
            thin: form.get("payload").as_deref() == Some("thin"),
            headers: form.get("headers").unwrap_or_default(),
            rate_limit: form.get("rate_limit_per_sec").unwrap_or_default(),
            ed25519: form.get("signature_scheme").as_deref() == Some("ed25519"),
            filter: form.get("filter").unwrap_or_default(),
            samples: Vec::new(),
            trial: String::new(),
            trial_matches: false,
            error_field: String::new(),
            error: String::new(),
        }
    }

    /// Adds what the filter can be tried on: each type's catalogue example
    /// and the account's latest events; `chosen` stays selected. On the
    /// platform account the types to tick are the operational ones.
    pub(crate) async fn with_samples(
        mut self,
        state: &AppState,
        account: &str,
        chosen: &str,
    ) -> Self {
        if account == hookline_core::operational::PLATFORM_ACCOUNT_ID {
            let ticked: Vec<String> = self
                .types
                .iter()
                .filter(|(_, on)| *on)
                .map(|(t, _)| t.clone())
                .collect();
            self.types = hookline_core::operational::EVENT_TYPES
                .iter()
                .map(|(t, _)| (t.to_string(), ticked.iter().any(|x| x == t)))
                .collect();
        }
        let mut samples: Vec<(String, String)> = state
            .catalogue
            .names()
            .into_iter()
            .map(|t| (format!("type:{t}"), format!("Catalogue example of {t}")))
            .collect();
        let recent = filters::recent_events(state, account, 10)
            .await
            .unwrap_or_default();
        samples.extend(
            recent
                .into_iter()
                .map(|(id, t)| (format!("event:{id}"), format!("Recent event {id} ({t})"))),
        );
        self.samples = samples
            .into_iter()
            .map(|(value, label)| {
                let selected = value == chosen;
                (value, label, selected)
            })
            .collect();
        self
    }

    /// Runs "Test filter" on the posted form: the outcome, or the error
    /// beside the filter field. Nothing is saved.
    pub(crate) async fn try_filter(
        mut self,
        state: &AppState,
        account: &str,
        form: &FormData,
    ) -> Self {
        let sample = form.get("sample").unwrap_or_default();
        let trial = match filter_value(form) {
            Ok(None) => Err(ServiceError::invalid_field(
                "filter",
                "write a filter first, e.g. {\"data.currency\": \"EUR\"}",
            )),
            Ok(Some(filter)) => {
                let picked = match sample.split_once(':') {
                    Some(("event", id)) => Sample::Event(id.to_string()),
                    Some(("type", t)) => Sample::Example(t.to_string()),
                    _ => Sample::Example("payment.completed".into()),
                };
                filters::try_filter(state, account, &filter, picked).await
            }
            Err(e) => Err(e),
        };
        match trial {
            Ok(trial) => {
                self.trial_matches = trial.matches;
                self.trial = if trial.matches {
                    format!(
                        "{} passes this filter: it would be delivered.",
                        trial.sample
                    )
                } else {
                    format!(
                        "{} does not pass this filter: it would not be delivered.",
                        trial.sample
                    )
                };
            }
            Err(e) => {
                self.error_field = e.field().unwrap_or("filter").to_string();
                self.error = e.to_string();
            }
        }
        self.with_samples(state, account, &sample).await
    }
}

/// Whether the form was posted with "Test filter" rather than "Save".
pub(crate) fn wants_filter_trial(form: &FormData) -> bool {
    form.get("intent").as_deref() == Some("test-filter")
}

/// The filter field: empty is no filter; anything else must be JSON.
fn filter_value(form: &FormData) -> ServiceResult<Option<serde_json::Value>> {
    let text = form.get("filter").unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| {
        ServiceError::invalid_field("filter", format!("the filter is not valid JSON: {e}"))
    })
}

/// The catalogue's types, ticked if chosen, and any chosen type it does not
/// list (an operational endpoint's), ticked.
fn type_choices(state: &AppState, chosen: &[String]) -> Vec<(String, bool)> {
    let names = state.catalogue.names();
    let others: Vec<(String, bool)> = chosen
        .iter()
        .filter(|c| !names.contains(c))
        .map(|c| (c.clone(), true))
        .collect();
    names
        .into_iter()
        .map(|n| {
            let on = chosen.contains(&n);
            (n, on)
        })
        .chain(others)
        .collect()
}

/// Reads the add/edit form; a masked password (`****`) keeps the stored URL.
pub(crate) fn input_from(
    form: &FormData,
    current: Option<&Endpoint>,
) -> ServiceResult<EndpointInput> {
    let mut headers = BTreeMap::new();
    for line in form
        .get("headers")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let (name, value) = line.split_once(':').ok_or_else(|| {
            ServiceError::invalid_field(
                "headers",
                format!("`{}` is not `Name: value`", line.trim()),
            )
        })?;
        headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    let rate = match form.get("rate_limit_per_sec") {
        None => None,
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            ServiceError::invalid_field(
                "rate_limit_per_sec",
                "the rate limit must be a whole number of requests per second",
            )
        })?),
    };
    let url = form.get("url");
    let unchanged = current
        .is_some_and(|e| url.as_deref() == Some(hookline_core::net::mask_url(&e.url).as_str()));
    Ok(EndpointInput {
        url: if unchanged { None } else { url },
        description: Some(form.get("description").unwrap_or_default()),
        event_types: Some(form.all("event_types")),
        disabled: None,
        payload: Some(if form.get("payload").as_deref() == Some("thin") {
            PayloadMode::Thin
        } else {
            PayloadMode::Full
        }),
        headers: Some(headers),
        secret: None,
        signature_scheme: form
            .get("signature_scheme")
            .and_then(|s| SignatureScheme::parse(&s)),
        filter: Some(filter_value(form)?),
        rate_limit_per_sec: Some(rate),
        metadata: None,
        delivery_order: form
            .get("delivery_order")
            .and_then(|v| DeliveryOrder::parse(&v)),
        ..EndpointInput::default()
    })
}
