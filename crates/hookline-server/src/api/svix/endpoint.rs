//! `/api/v1/app/{app_id}/endpoint`: an application's endpoints, their
//! secrets, headers, recovery and statistics, in Svix's shapes and mapped
//! onto the endpoint service. Both SDK generations are understood:
//! `filterTypes` and `rateLimit` (1.x) and `eventTypes` and `throttleRate`
//! (2.x), and answers carry both names.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use hookline_core::{format_time, Endpoint};
use hookline_store::TimeWindow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{SvixError, SvixErrorBody, SvixResult, SvixValidationBody};
use super::extract::{
    endpoint, metadata_in, metadata_out, nullable, opt_time, time, ListParams, SvixApp, SvixJson,
    SvixList, SvixQuery,
};
use crate::service::endpoints::{self as service, EndpointInput};
use crate::service::events as event_service;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(
            get_endpoint,
            upsert_endpoint,
            patch_endpoint,
            delete_endpoint
        ))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(recover))
        .routes(routes!(stats))
        .routes(routes!(get_headers, set_headers, patch_headers))
}

/// An endpoint in Svix's shape.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixEndpointOut {
    id: String,
    /// The URL, with any password masked.
    url: String,
    version: u32,
    description: String,
    /// Subscribed types (`null`: every type); the 1.x name.
    filter_types: Option<Vec<String>>,
    /// The same, under the 2.x name.
    event_types: Option<Vec<String>>,
    /// Channels listened to (`null`: every message).
    channels: Option<Vec<String>>,
    disabled: bool,
    /// Most deliveries per second; the 1.x name.
    rate_limit: Option<u32>,
    /// The same, under the 2.x name.
    throttle_rate: Option<u32>,
    uid: Option<String>,
    metadata: BTreeMap<String, String>,
    created_at: String,
    updated_at: String,
}

impl From<Endpoint> for SvixEndpointOut {
    fn from(e: Endpoint) -> Self {
        let types = (!e.event_types.is_empty()).then_some(e.event_types);
        SvixEndpointOut {
            url: hookline_core::net::mask_url(&e.url),
            metadata: metadata_out(&e.metadata),
            id: e.id,
            version: e.version,
            description: e.description,
            filter_types: types.clone(),
            event_types: types,
            channels: (!e.channels.is_empty()).then_some(e.channels),
            disabled: e.disabled,
            rate_limit: e.rate_limit_per_sec,
            throttle_rate: e.rate_limit_per_sec,
            uid: e.uid,
            created_at: format_time(e.created_at),
            updated_at: format_time(e.updated_at),
        }
    }
}

/// Fields of an endpoint. On create `url` is required; on `PUT` every
/// field left out takes its default; on `PATCH` only the fields given change.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixEndpointIn {
    url: Option<String>,
    description: Option<String>,
    /// Types to receive; `null` for every type (`[]` is refused, as on Svix).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    filter_types: Option<Option<Vec<String>>>,
    /// The 2.x name of `filterTypes`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    event_types: Option<Option<Vec<String>>>,
    /// Channels to listen to; `null` for every message.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    channels: Option<Option<Vec<String>>>,
    disabled: Option<bool>,
    /// Most deliveries per second (`null`: no limit); the 1.x name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    rate_limit: Option<Option<u32>>,
    /// The 2.x name of `rateLimit`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    throttle_rate: Option<Option<u32>>,
    /// `whsec_…` (the prefix may be left out); generated if absent.
    secret: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    uid: Option<Option<String>>,
    metadata: Option<BTreeMap<String, String>>,
    /// Extra headers sent with every delivery.
    headers: Option<BTreeMap<String, String>>,
    version: Option<u32>,
}

impl SvixEndpointIn {
    /// The service's input; `replace` gives every absent field its default (PUT).
    fn into_input(self, replace: bool) -> SvixResult<EndpointInput> {
        let types = self.event_types.or(self.filter_types);
        if let Some(Some(list)) = &types {
            if list.is_empty() {
                return Err(SvixError::invalid_body(
                    "filterTypes",
                    "`filterTypes` may not be empty: leave it out or send null to receive every type",
                ));
            }
        }
        let channels = self.channels;
        if let Some(Some(list)) = &channels {
            if list.is_empty() {
                return Err(SvixError::invalid_body(
                    "channels",
                    "`channels` may not be empty: leave it out or send null to receive every message",
                ));
            }
        }
        let rate = self.throttle_rate.or(self.rate_limit);
        let defaults = |v: Option<Option<Vec<String>>>| match (v, replace) {
            (Some(list), _) => Some(list.unwrap_or_default()),
            (None, true) => Some(Vec::new()),
            (None, false) => None,
        };
        let secret = self.secret.map(|s| {
            if s.starts_with("whsec_") {
                s
            } else {
                format!("whsec_{s}")
            }
        });
        Ok(EndpointInput {
            url: self.url,
            description: self.description.or_else(|| replace.then(String::new)),
            event_types: defaults(types),
            channels: defaults(channels),
            disabled: self.disabled.or(replace.then_some(false)),
            rate_limit_per_sec: rate.or(replace.then_some(None)),
            secret,
            uid: self.uid.or(replace.then_some(None)),
            metadata: self
                .metadata
                .map(metadata_in)
                .or_else(|| replace.then(Default::default)),
            headers: self.headers,
            version: self.version.or(replace.then_some(1)),
            ..EndpointInput::default()
        })
    }
}

/// The endpoint's signing secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct EndpointSecretOut {
    /// `whsec_…`
    key: String,
}

/// A new secret for a rotation.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RotateIn {
    /// `whsec_…`; generated if absent or `null`.
    key: Option<String>,
    /// Not supported: the previous secret always signs for 24 hours.
    grace_period_seconds: Option<u64>,
}

/// Which failures to send again.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixRecoverIn {
    /// Failed since this time (RFC 3339; no offset means UTC).
    #[serde(deserialize_with = "time")]
    #[schema(value_type = String)]
    since: chrono::DateTime<Utc>,
    /// And before this time, if given.
    #[serde(default, deserialize_with = "opt_time")]
    #[schema(value_type = Option<String>)]
    until: Option<chrono::DateTime<Utc>>,
}

/// The recovery, done by the time it answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixRecoverOut {
    id: String,
    /// `finished`: the deliveries were created before the answer.
    status: &'static str,
    task: &'static str,
    updated_at: String,
}

/// `?since=&until=` of the statistics.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    since: Option<chrono::DateTime<Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    until: Option<chrono::DateTime<Utc>>,
}

/// The endpoint's messages by where their delivery stands.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatsOut {
    success: u64,
    pending: u64,
    sending: u64,
    fail: u64,
    /// Always 0: Hookline does not cancel deliveries.
    canceled: u64,
}

/// Extra headers of the endpoint. None are hidden, so `sensitive` is empty.
#[derive(Serialize, ToSchema)]
pub(crate) struct HeadersOut {
    headers: BTreeMap<String, String>,
    sensitive: Vec<String>,
}

/// Headers to set (`PUT`: all of them).
#[derive(Deserialize, ToSchema)]
pub(crate) struct HeadersIn {
    headers: BTreeMap<String, String>,
}

/// Headers to change (`PATCH`): `null` removes one.
#[derive(Deserialize, ToSchema)]
pub(crate) struct HeadersPatch {
    headers: BTreeMap<String, Option<String>>,
}

/// List the application's endpoints, oldest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint", tag = "svix", params(ListParams),
    responses((status = 200, body = SvixList<SvixEndpointOut>), (status = 404, body = SvixErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    app: SvixApp,
    Path(_app_id): Path<String>,
    SvixQuery(params): SvixQuery<ListParams>,
) -> SvixResult<Json<SvixList<SvixEndpointOut>>> {
    let account_id = app.account_id.as_str();
    let request = params.page()?;
    let page = state.store.list_endpoints(account_id, request).await?;
    Ok(Json(SvixList::from_page(
        page,
        request.direction,
        SvixEndpointOut::from,
    )))
}

/// Create an endpoint.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint", tag = "svix", request_body = SvixEndpointIn,
    responses((status = 201, body = SvixEndpointOut), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    app: SvixApp,
    Path(_app_id): Path<String>,
    SvixJson(body): SvixJson<SvixEndpointIn>,
) -> SvixResult<(StatusCode, Json<SvixEndpointOut>)> {
    let account_id = app.account_id.as_str();
    let created = service::create(&state, account_id, body.into_input(false)?).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Get an endpoint by id or uid.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "svix",
    responses((status = 200, body = SvixEndpointOut), (status = 404, body = SvixErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
) -> SvixResult<Json<SvixEndpointOut>> {
    let account_id = app.account_id.as_str();
    Ok(Json(
        endpoint(&state, account_id, &endpoint_id).await?.into(),
    ))
}

/// Replace an endpoint; one that does not exist is created with
/// `endpoint_id` as its uid (unless the body names one).
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "svix", request_body = SvixEndpointIn,
    responses((status = 200, body = SvixEndpointOut), (status = 201, body = SvixEndpointOut),
        (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn upsert_endpoint(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixJson(body): SvixJson<SvixEndpointIn>,
) -> SvixResult<(StatusCode, Json<SvixEndpointOut>)> {
    let account_id = app.account_id.as_str();
    if body.url.is_none() {
        return Err(SvixError::invalid_body("url", "`url` is required"));
    }
    match endpoint(&state, account_id, &endpoint_id).await {
        Ok(existing) => {
            let mut input = body.into_input(true)?;
            if input.uid == Some(None) {
                // Addressed by its uid and given none: it keeps it.
                input.uid = Some(existing.uid.clone());
            }
            let updated = service::update(&state, account_id, &existing.id, input).await?;
            Ok((StatusCode::OK, Json(updated.into())))
        }
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            let mut input = body.into_input(true)?;
            if input.uid == Some(None) {
                input.uid = Some(Some(endpoint_id));
            }
            let created = service::create(&state, account_id, input).await?;
            Ok((StatusCode::CREATED, Json(created.into())))
        }
        Err(e) => Err(e),
    }
}

/// Change the fields given; `null` clears `filterTypes`, `channels`,
/// `throttleRate` and `uid`.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "svix", request_body = SvixEndpointIn,
    responses((status = 200, body = SvixEndpointOut), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn patch_endpoint(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixJson(body): SvixJson<SvixEndpointIn>,
) -> SvixResult<Json<SvixEndpointOut>> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    let updated =
        service::update(&state, account_id, &existing.id, body.into_input(false)?).await?;
    Ok(Json(updated.into()))
}

/// Delete an endpoint; its pending deliveries fail.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "svix",
    responses((status = 204), (status = 404, body = SvixErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
) -> SvixResult<StatusCode> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    state
        .store
        .delete_endpoint(account_id, &existing.id)
        .await
        .map_err(|e| SvixError::from_store(e, &format!("endpoint {endpoint_id}")))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's signing secret.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = "svix",
    responses((status = 200, body = EndpointSecretOut), (status = 404, body = SvixErrorBody)))]
async fn get_secret(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
) -> SvixResult<Json<EndpointSecretOut>> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    Ok(Json(EndpointSecretOut {
        key: existing.secret,
    }))
}

/// Rotate the secret; for 24 hours deliveries are signed with the old and
/// the new one. Answers the new secret.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = "svix",
    request_body = RotateIn,
    responses((status = 200, body = EndpointSecretOut), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixJson(body): SvixJson<RotateIn>,
) -> SvixResult<Json<EndpointSecretOut>> {
    if body.grace_period_seconds.is_some() {
        return Err(SvixError::invalid_body(
            "gracePeriodSeconds",
            "the previous secret always keeps signing for 24 hours; leave `gracePeriodSeconds` out",
        ));
    }
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    let key = body.key.map(|k| {
        if k.starts_with("whsec_") {
            k
        } else {
            format!("whsec_{k}")
        }
    });
    let key = service::rotate_secret(&state, account_id, &existing.id, key).await?;
    Ok(Json(EndpointSecretOut { key }))
}

/// Send again every message whose delivery to this endpoint failed in the window.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", tag = "svix",
    request_body = SvixRecoverIn,
    responses((status = 202, body = SvixRecoverOut), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn recover(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixJson(body): SvixJson<SvixRecoverIn>,
) -> SvixResult<(StatusCode, Json<SvixRecoverOut>)> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    event_service::recover_between(&state, account_id, &existing.id, body.since, body.until)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SvixRecoverOut {
            id: format!(
                "qtask_{}",
                hookline_core::Id::generate(hookline_core::IdKind::Delivery)
                    .trim_start_matches("del_")
            ),
            status: "finished",
            task: "endpoint.recover",
            updated_at: format_time(Utc::now()),
        }),
    ))
}

/// Messages to this endpoint by where their delivery stands (created in the window).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = "svix",
    params(StatsParams),
    responses((status = 200, body = StatsOut), (status = 404, body = SvixErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixQuery(params): SvixQuery<StatsParams>,
) -> SvixResult<Json<StatsOut>> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    let window = TimeWindow {
        since: params.since,
        until: params.until,
    };
    let counts = state
        .store
        .endpoint_delivery_counts(account_id, &existing.id, window)
        .await?;
    Ok(Json(StatsOut {
        success: counts.succeeded,
        pending: counts.pending,
        sending: counts.sending,
        fail: counts.failed,
        canceled: 0,
    }))
}

/// The extra headers sent with every delivery.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "svix",
    responses((status = 200, body = HeadersOut), (status = 404, body = SvixErrorBody)))]
async fn get_headers(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
) -> SvixResult<Json<HeadersOut>> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    Ok(Json(HeadersOut {
        headers: existing.headers,
        sensitive: Vec::new(),
    }))
}

/// Replace the extra headers.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "svix",
    request_body = HeadersIn,
    responses((status = 204), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn set_headers(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixJson(body): SvixJson<HeadersIn>,
) -> SvixResult<StatusCode> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    let input = EndpointInput {
        headers: Some(body.headers),
        ..EndpointInput::default()
    };
    service::update(&state, account_id, &existing.id, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add, change or (with `null`) remove extra headers.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "svix",
    request_body = HeadersPatch,
    responses((status = 204), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn patch_headers(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixJson(body): SvixJson<HeadersPatch>,
) -> SvixResult<StatusCode> {
    let account_id = app.account_id.as_str();
    let existing = endpoint(&state, account_id, &endpoint_id).await?;
    let mut headers = existing.headers.clone();
    for (name, value) in body.headers {
        let name = name.to_ascii_lowercase();
        match value {
            Some(v) => headers.insert(name, v),
            None => headers.remove(&name),
        };
    }
    let input = EndpointInput {
        headers: Some(headers),
        ..EndpointInput::default()
    };
    service::update(&state, account_id, &existing.id, input).await?;
    Ok(StatusCode::NO_CONTENT)
}
