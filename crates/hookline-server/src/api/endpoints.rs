//! `/v1/accounts/{account_id}/endpoints`: an account's webhook endpoints,
//! their signing keys (an HMAC secret, or an ed25519 key whose public half
//! is served), test sends, attempt log and recovery.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use hookline_core::{format_time, DeliveryOrder, Endpoint, PayloadMode, SignatureScheme};
use hookline_store::OutcomeFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::SecretOut;
use super::events::{AttemptOut, EventOut};
use super::extract::{some, some_whole, AccountScope, ApiJson, ApiQuery, ListParams, ListResponse};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::scope::Scoped;
use crate::service::attempts as attempt_service;
use crate::service::endpoints::{self as service, EndpointInput};
use crate::service::events as event_service;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(get_secret))
        .routes(routes!(get_public_key))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_endpoint_attempts))
        .routes(routes!(recover))
}

/// A webhook endpoint. `secret` appears only in the answer to its creation,
/// and only for an HMAC endpoint: an ed25519 endpoint's signing key stays
/// with Hookline and `public_key` is what receivers verify with.
#[derive(Serialize, ToSchema)]
pub(crate) struct EndpointOut {
    id: String,
    account_id: String,
    /// The URL, with any password masked.
    url: String,
    description: String,
    /// Subscribed event types; empty means all.
    event_types: Vec<String>,
    /// Conditions on the event's `type` and `data` an event must meet to be
    /// delivered here (`null`: none). See docs/api.md, "Payload filters".
    #[schema(value_type = Option<Object>)]
    filter: Option<serde_json::Value>,
    disabled: bool,
    /// Why the endpoint was disabled (by a user, `410 Gone`, or failing for 5 days).
    disabled_reason: Option<String>,
    #[schema(value_type = String, example = "full")]
    payload: PayloadMode,
    headers: BTreeMap<String, String>,
    rate_limit_per_sec: Option<u32>,
    /// `hmac-sha256` (`v1` signatures, shared `whsec_` secret) or `ed25519`
    /// (`v1a` signatures, verified with `public_key`).
    #[schema(value_type = String, example = "hmac-sha256")]
    signature_scheme: SignatureScheme,
    /// `whpk_…` of an ed25519 endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[schema(value_type = Object)]
    metadata: serde_json::Map<String, serde_json::Value>,
    /// Start of the current run of failed attempts, if failing.
    failing_since: Option<String>,
    /// `unordered` or `ordered` (one delivery at a time per `ordering_key`, in publish order).
    #[schema(value_type = String, example = "unordered")]
    delivery_order: DeliveryOrder,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl EndpointOut {
    pub(super) fn new(e: Endpoint, with_secret: bool) -> Self {
        let scheme = e.signature_scheme();
        let public_key = service::public_keys(&e).map(|(current, _)| current);
        EndpointOut {
            url: hookline_core::net::mask_url(&e.url),
            secret: (with_secret && scheme == SignatureScheme::HmacSha256).then_some(e.secret),
            signature_scheme: scheme,
            public_key,
            id: e.id,
            account_id: e.account_id,
            description: e.description,
            event_types: e.event_types,
            filter: e.filter.map(|f| f.source().clone()),
            disabled: e.disabled,
            disabled_reason: e.disabled_reason,
            payload: e.payload,
            headers: e.headers,
            rate_limit_per_sec: e.rate_limit_per_sec,
            metadata: e.metadata,
            failing_since: e.failing_since.map(format_time),
            delivery_order: e.delivery_order,
            created_at: format_time(e.created_at),
            updated_at: format_time(e.updated_at),
        }
    }
}

/// Fields of an endpoint; on create `url` is required, on update every field is optional.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointBody {
    /// `https://…` (user info becomes an `Authorization: Basic` header).
    url: Option<String>,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// Types to receive; absent or empty means every type.
    event_types: Option<Vec<String>>,
    /// Payload filter, e.g. `{"data.amount": {"$gte": 10000}, "data.currency": "EUR"}`;
    /// `null` removes it. Checked here: a mistake answers 422 naming the bad part.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<Object>)]
    filter: Option<Option<serde_json::Value>>,
    disabled: Option<bool>,
    /// `full` (default) or `thin` (no `data`; fetch it from the API).
    #[schema(value_type = Option<String>)]
    payload: Option<PayloadMode>,
    /// Extra headers sent with every delivery.
    headers: Option<BTreeMap<String, String>>,
    /// `whsec_…` (or `whsk_…` for ed25519); generated if absent.
    secret: Option<String>,
    /// `hmac-sha256` (default) or `ed25519`. Changing it rotates to a new key
    /// of that scheme; the old one keeps signing for 24 hours.
    #[schema(value_type = Option<String>)]
    signature_scheme: Option<SignatureScheme>,
    /// Most deliveries per second to this endpoint; `null` for no limit.
    #[serde(default, deserialize_with = "some_whole")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 4294967295_u64)]
    rate_limit_per_sec: Option<Option<u32>>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// `unordered` (default) or `ordered`: a delivery starts only once every
    /// earlier event with the same `ordering_key` has succeeded or finally
    /// failed (events without a key form one sequence).
    #[schema(value_type = Option<String>)]
    delivery_order: Option<DeliveryOrder>,
}

impl From<EndpointBody> for EndpointInput {
    fn from(b: EndpointBody) -> Self {
        EndpointInput {
            url: b.url,
            description: b.description,
            event_types: b.event_types,
            filter: b.filter,
            disabled: b.disabled,
            payload: b.payload,
            headers: b.headers,
            secret: b.secret,
            signature_scheme: b.signature_scheme,
            rate_limit_per_sec: b.rate_limit_per_sec,
            metadata: b.metadata,
            delivery_order: b.delivery_order,
            ..EndpointInput::default()
        }
    }
}

/// Optional new key for a rotation.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    /// `whsec_…` or `whsk_…`; a key of the other scheme switches the
    /// endpoint to it. Generated (of the endpoint's scheme) if absent.
    pub(super) secret: Option<String>,
}

/// The new key after a rotation: the secret of an HMAC endpoint, the public
/// key of an ed25519 one (its signing key is never shown).
#[derive(Serialize, ToSchema)]
pub(crate) struct RotatedOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
}

impl RotatedOut {
    /// The answer for a rotation to `secret`.
    pub(super) fn of(secret: String) -> Self {
        match hookline_verify::SigningKey::parse(&secret) {
            Ok(key) => RotatedOut {
                secret: None,
                public_key: Some(key.public_key().to_whpk()),
            },
            Err(_) => RotatedOut {
                secret: Some(secret),
                public_key: None,
            },
        }
    }
}

/// What receivers of an ed25519 endpoint verify with.
#[derive(Serialize, ToSchema)]
pub(crate) struct PublicKeyOut {
    /// `whpk_` + base64 of the 32-byte ed25519 public key.
    public_key: String,
    /// The key replaced by the last rotation, while it still signs (24 hours).
    previous_public_key: Option<String>,
    /// When the previous key stops signing.
    previous_expires_at: Option<String>,
}

/// Which sample to send.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestBody {
    /// A catalogue type; `payment.completed` if absent (for an
    /// operational endpoint an operational type; `endpoint.failing`).
    pub(super) event_type: Option<String>,
}

/// Since when to resend failures.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoverBody {
    /// RFC 3339 time.
    #[schema(value_type = String, format = DateTime)]
    since: DateTime<Utc>,
}

/// How many deliveries recovery created.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecoverOut {
    deliveries: u64,
}

/// List the account's endpoints, oldest first.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/endpoints", tag = "endpoints", params(ListParams),
    responses((status = 200, body = ListResponse<EndpointOut>), (status = 404, body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let page = state
        .store
        .list_endpoints(&account_id, params.page()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, |e| {
        EndpointOut::new(e, false)
    })))
}

/// Create an endpoint; the answer is the only one that includes its `secret`.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/endpoints", tag = "endpoints", request_body = EndpointBody,
    responses((status = 201, body = EndpointOut), (status = 422, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    ApiJson(body): ApiJson<EndpointBody>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let endpoint = service::create(&state, &account_id, body.into()).await?;
    Ok((StatusCode::CREATED, Json(EndpointOut::new(endpoint, true))))
}

/// Get an endpoint.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}", tag = "endpoints",
    responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let endpoint = service::get(&state, &account_id, &endpoint_id).await?;
    Ok(Json(EndpointOut::new(endpoint, false)))
}

/// Change an endpoint (only the fields given).
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}", tag = "endpoints",
    request_body = EndpointBody,
    responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<EndpointBody>,
) -> ApiResult<Json<EndpointOut>> {
    let endpoint = service::update(&state, &account_id, &endpoint_id, body.into()).await?;
    Ok(Json(EndpointOut::new(endpoint, false)))
}

/// Delete an endpoint; its pending deliveries fail.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}", tag = "endpoints",
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    service::delete(&state, &account_id, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reveal the endpoint's signing secret (HMAC endpoints; an ed25519
/// endpoint's key is never shown: `409`, use its public key).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}/secret", tag = "endpoints",
    responses((status = 200, body = SecretOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn get_secret(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    let endpoint = service::get(&state, &account_id, &endpoint_id).await?;
    if endpoint.signature_scheme() == SignatureScheme::Ed25519 {
        return Err(ApiError::conflict(format!(
            "endpoint {endpoint_id} signs with ed25519: Hookline keeps its signing key; receivers verify with its public key (GET …/endpoints/{endpoint_id}/public-key)"
        )));
    }
    Ok(Json(SecretOut {
        secret: endpoint.secret,
    }))
}

/// The public key receivers of an ed25519 endpoint verify `v1a` signatures
/// with (`409` for an HMAC endpoint, which has none).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}/public-key", tag = "endpoints",
    responses((status = 200, body = PublicKeyOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn get_public_key(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<PublicKeyOut>> {
    let endpoint = service::get(&state, &account_id, &endpoint_id).await?;
    PublicKeyOut::of(&endpoint).map(Json)
}

impl PublicKeyOut {
    /// The endpoint's public keys, or `409` for an HMAC endpoint.
    pub(super) fn of(endpoint: &Endpoint) -> ApiResult<Self> {
        let Some((public_key, previous_public_key)) = service::public_keys(endpoint) else {
            return Err(ApiError::conflict(format!(
                "endpoint {} signs with HMAC-SHA256 (a shared whsec_ secret) and has no public key; set `signature_scheme` to `ed25519` to sign with a key pair",
                endpoint.id
            )));
        };
        let previous_expires_at = previous_public_key
            .as_ref()
            .and(endpoint.previous_secret_expires_at)
            .map(format_time);
        Ok(PublicKeyOut {
            public_key,
            previous_public_key,
            previous_expires_at,
        })
    }
}

/// Rotate the signing key (of the endpoint's scheme); for 24 hours deliveries
/// carry signatures of the old and the new one.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}/secret/rotate", tag = "endpoints",
    request_body = RotateBody,
    responses((status = 200, body = RotatedOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RotateBody>,
) -> ApiResult<Json<RotatedOut>> {
    let secret = service::rotate_secret(&state, &account_id, &endpoint_id, body.secret).await?;
    Ok(Json(RotatedOut::of(secret)))
}

/// Send the catalogue example of a type to this endpoint only.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}/test", tag = "endpoints",
    request_body = TestBody,
    responses((status = 202, body = EventOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_test(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TestBody>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    let event =
        event_service::send_test(&state, &account_id, &endpoint_id, body.event_type).await?;
    Ok((StatusCode::ACCEPTED, Json(EventOut::new(event, None, None))))
}

/// `?outcome=&limit=&cursor=` of an endpoint's attempts.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AttemptListParams {
    /// `succeeded`, `failed` (anything but a 2xx), `pending` (failed, and
    /// its delivery will be tried again), or one outcome: `http_error`,
    /// `timeout`, `connection_error`, `blocked`.
    #[param(
        pattern = r"^(|any|succeeded|failed|pending|http_error|timeout|connection_error|blocked)$"
    )]
    outcome: Option<String>,
    /// Rows per page, 1 to 250 (default 50).
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (empty: the first page).
    #[param(pattern = r"^[0-9]{0,18}$")]
    cursor: Option<String>,
}

/// Attempts to this endpoint, newest first; `outcome` keeps only those that ended so.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}/attempts", tag = "endpoints",
    params(AttemptListParams),
    responses((status = 200, body = ListResponse<AttemptOut>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_endpoint_attempts(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<AttemptListParams>,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let given = params.outcome.as_deref().unwrap_or_default();
    let outcome = OutcomeFilter::parse(given).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`outcome` must be succeeded, failed, pending, http_error, timeout, \
             connection_error or blocked, not `{given}`"
        ))
    })?;
    let page = ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page()?;
    let page =
        attempt_service::of_endpoint(&state, &account_id, &endpoint_id, outcome, page).await?;
    Ok(Json(ListResponse::from_page(page, AttemptOut::from)))
}

/// Resend every delivery to this endpoint that failed since `since`.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/endpoints/{endpoint_id}/recover", tag = "endpoints",
    request_body = RecoverBody,
    responses((status = 202, body = RecoverOut), (status = 404, body = ErrorBody)))]
async fn recover(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, endpoint_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RecoverBody>,
) -> ApiResult<(StatusCode, Json<RecoverOut>)> {
    let deliveries = event_service::recover(&state, &account_id, &endpoint_id, body.since).await?;
    Ok((StatusCode::ACCEPTED, Json(RecoverOut { deliveries })))
}
