//! The add/edit endpoint form: the values it shows (from an endpoint, or
//! from a rejected post with the error beside its field) and how a posted
//! form becomes the service's `EndpointInput`.

use std::collections::BTreeMap;

use hookline_core::{Endpoint, PayloadMode};

use super::csrf::FormData;
use crate::service::endpoints::EndpointInput;
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
            error_field: String::new(),
            error: String::new(),
        }
    }

    /// The posted form again, with `error` beside its field.
    pub(crate) fn from_form(state: &AppState, form: &FormData, error: &ServiceError) -> Self {
        FormValues {
            url: form.get("url").unwrap_or_default(),
            description: form.get("description").unwrap_or_default(),
            types: type_choices(state, &form.all("event_types")),
            thin: form.get("payload").as_deref() == Some("thin"),
            headers: form.get("headers").unwrap_or_default(),
            rate_limit: form.get("rate_limit_per_sec").unwrap_or_default(),
            error_field: error.field().unwrap_or("form").to_string(),
            error: error.to_string(),
        }
    }
}

fn type_choices(state: &AppState, chosen: &[String]) -> Vec<(String, bool)> {
    state
        .catalogue
        .names()
        .into_iter()
        .map(|n| {
            let on = chosen.contains(&n);
            (n, on)
        })
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
        rate_limit_per_sec: Some(rate),
        metadata: None,
    })
}
