//! `/v1/operational-endpoints` (admin): the platform's own endpoints, which
//! receive `endpoint.disabled`, `endpoint.failing`, `endpoint.recovered` and
//! `delivery.exhausted` about every account's endpoints. Same shape and
//! rules as an account's endpoints: they are the endpoints of the internal
//! platform account (`hookline_core::operational`), delivered, signed,
//! retried and logged by the same engine.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookline_core::operational::PLATFORM_ACCOUNT_ID;
use hookline_store::AttemptsOf;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::endpoints::{EndpointBody, EndpointOut, PublicKeyOut, RotateBody, RotatedOut};
use super::events::{AttemptOut, EventOut};
use super::extract::{ApiJson, ApiQuery, ListParams, ListResponse};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::service::endpoints as service;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_operational, create_operational))
        .routes(routes!(
            get_operational,
            update_operational,
            delete_operational
        ))
        .routes(routes!(operational_public_key))
        .routes(routes!(rotate_operational_secret))
        .routes(routes!(test_operational))
        .routes(routes!(operational_attempts))
}

fn admin(caller: &Caller) -> ApiResult<()> {
    match caller {
        Caller::Admin => Ok(()),
        Caller::Account(_) => Err(ApiError::forbidden(
            "operational endpoints belong to the platform: use the admin token",
        )),
    }
}

fn what(id: &str) -> String {
    format!("operational endpoint {id}")
}

/// List the operational endpoints, oldest first.
#[utoipa::path(get, path = "/v1/operational-endpoints", tag = "operational", params(ListParams),
    responses((status = 200, body = ListResponse<EndpointOut>), (status = 403, body = ErrorBody)))]
async fn list_operational(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    admin(&caller)?;
    let page = match state
        .store
        .list_endpoints(PLATFORM_ACCOUNT_ID, params.page()?)
        .await
    {
        Err(hookline_store::StoreError::NotFound) => hookline_core::Page::empty(),
        other => other?,
    };
    Ok(Json(ListResponse::from_page(page, |e| {
        EndpointOut::new(e, false)
    })))
}

/// Register an operational endpoint; `event_types` are operational types
/// (absent: all four). The answer is the only one with its `secret`.
#[utoipa::path(post, path = "/v1/operational-endpoints", tag = "operational", request_body = EndpointBody,
    responses((status = 201, body = EndpointOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_operational(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EndpointBody>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    admin(&caller)?;
    service::ensure_platform_account(&state).await?;
    let endpoint = service::create(&state, PLATFORM_ACCOUNT_ID, body.into()).await?;
    Ok((StatusCode::CREATED, Json(EndpointOut::new(endpoint, true))))
}

/// Get an operational endpoint.
#[utoipa::path(get, path = "/v1/operational-endpoints/{endpoint_id}", tag = "operational",
    responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody)))]
async fn get_operational(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<EndpointOut>> {
    admin(&caller)?;
    let endpoint = service::get(&state, PLATFORM_ACCOUNT_ID, &endpoint_id)
        .await
        .map_err(|_| ApiError::not_found(&what(&endpoint_id)))?;
    Ok(Json(EndpointOut::new(endpoint, false)))
}

/// Change an operational endpoint (only the fields given).
#[utoipa::path(patch, path = "/v1/operational-endpoints/{endpoint_id}", tag = "operational",
    request_body = EndpointBody,
    responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_operational(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
    ApiJson(body): ApiJson<EndpointBody>,
) -> ApiResult<Json<EndpointOut>> {
    admin(&caller)?;
    let endpoint = service::update(&state, PLATFORM_ACCOUNT_ID, &endpoint_id, body.into()).await?;
    Ok(Json(EndpointOut::new(endpoint, false)))
}

/// Delete an operational endpoint; its pending deliveries fail.
#[utoipa::path(delete, path = "/v1/operational-endpoints/{endpoint_id}", tag = "operational",
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_operational(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<StatusCode> {
    admin(&caller)?;
    state
        .store
        .delete_endpoint(PLATFORM_ACCOUNT_ID, &endpoint_id)
        .await
        .map_err(|e| ApiError::from_store(e, &what(&endpoint_id)))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public key of an ed25519 operational endpoint (`409` for HMAC).
#[utoipa::path(get, path = "/v1/operational-endpoints/{endpoint_id}/public-key", tag = "operational",
    responses((status = 200, body = PublicKeyOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn operational_public_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
) -> ApiResult<Json<PublicKeyOut>> {
    admin(&caller)?;
    let endpoint = service::get(&state, PLATFORM_ACCOUNT_ID, &endpoint_id)
        .await
        .map_err(|_| ApiError::not_found(&what(&endpoint_id)))?;
    PublicKeyOut::of(&endpoint).map(Json)
}

/// Rotate the signing key; for 24 hours deliveries carry both signatures.
#[utoipa::path(post, path = "/v1/operational-endpoints/{endpoint_id}/secret/rotate", tag = "operational",
    request_body = RotateBody,
    responses((status = 200, body = RotatedOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rotate_operational_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
    ApiJson(body): ApiJson<RotateBody>,
) -> ApiResult<Json<RotatedOut>> {
    admin(&caller)?;
    let secret =
        service::rotate_secret(&state, PLATFORM_ACCOUNT_ID, &endpoint_id, body.secret).await?;
    Ok(Json(RotatedOut::of(secret)))
}

/// Which operational sample to send.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperationalTestBody {
    /// An operational type; `endpoint.failing` if absent.
    #[schema(pattern = r"^(endpoint\.(disabled|failing|recovered)|delivery\.exhausted)$")]
    event_type: Option<String>,
}

/// Send an example of an operational type (`event_type`, absent:
/// `endpoint.failing`) to this operational endpoint only.
#[utoipa::path(post, path = "/v1/operational-endpoints/{endpoint_id}/test", tag = "operational",
    request_body = OperationalTestBody,
    responses((status = 202, body = EventOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_operational(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
    ApiJson(body): ApiJson<OperationalTestBody>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    admin(&caller)?;
    let event = crate::service::events::send_test(
        &state,
        PLATFORM_ACCOUNT_ID,
        &endpoint_id,
        body.event_type,
    )
    .await
    .map_err(|e| match e {
        crate::service::ServiceError::NotFound { .. } => ApiError::not_found(&what(&endpoint_id)),
        other => other.into(),
    })?;
    Ok((StatusCode::ACCEPTED, Json(EventOut::new(event, None, None))))
}

/// Attempts to this operational endpoint, newest first.
#[utoipa::path(get, path = "/v1/operational-endpoints/{endpoint_id}/attempts", tag = "operational",
    params(ListParams),
    responses((status = 200, body = ListResponse<AttemptOut>), (status = 404, body = ErrorBody)))]
async fn operational_attempts(
    State(state): State<AppState>,
    caller: Caller,
    Path(endpoint_id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    admin(&caller)?;
    let page = state
        .store
        .list_attempts(
            PLATFORM_ACCOUNT_ID,
            AttemptsOf::Endpoint(endpoint_id.clone()),
            params.page()?,
        )
        .await
        .map_err(|e| ApiError::from_store(e, &what(&endpoint_id)))?;
    Ok(Json(ListResponse::from_page(page, AttemptOut::from)))
}
