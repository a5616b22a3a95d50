//! `/api/v1/app`: Svix applications, which are Hookline accounts. An
//! application's `uid` (the platform's own key) works wherever its id does.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use hookline_core::secret::generate_signing_secret;
use hookline_core::{format_time, Account, Id, IdKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{SvixError, SvixErrorBody, SvixResult, SvixValidationBody};
use super::extract::{
    find_application, metadata_in, metadata_out, nullable, ListParams, SvixApp, SvixCaller,
    SvixJson, SvixList, SvixQuery,
};
use crate::auth::Caller;
use crate::service::endpoints::is_valid_key;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_applications, create_application))
        .routes(routes!(
            get_application,
            upsert_application,
            patch_application,
            delete_application
        ))
}

/// An application (a Hookline account).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationOut {
    id: String,
    uid: Option<String>,
    name: String,
    metadata: BTreeMap<String, String>,
    /// Always `null`: Hookline limits rates per endpoint (`throttleRate`).
    rate_limit: Option<u32>,
    /// Always `null`, as `rateLimit`.
    throttle_rate: Option<u32>,
    created_at: String,
    updated_at: String,
}

impl From<Account> for ApplicationOut {
    fn from(a: Account) -> Self {
        ApplicationOut {
            metadata: metadata_out(&a.metadata),
            id: a.id,
            uid: a.uid,
            name: a.name,
            rate_limit: None,
            throttle_rate: None,
            created_at: format_time(a.created_at),
            updated_at: format_time(a.updated_at),
        }
    }
}

/// An application to create or replace.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationIn {
    pub(crate) name: String,
    /// Your own unique key: 1 to 256 of `A-Z a-z 0-9 . _ -`.
    pub(crate) uid: Option<String>,
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
    /// Not supported (must be absent or `null`): set `throttleRate` on endpoints.
    pub(crate) rate_limit: Option<u32>,
    /// Not supported, as `rateLimit`.
    pub(crate) throttle_rate: Option<u32>,
}

/// Fields of an application to change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationPatch {
    name: Option<String>,
    /// `null` removes the uid.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    uid: Option<Option<String>>,
    metadata: Option<BTreeMap<String, String>>,
    rate_limit: Option<u32>,
    throttle_rate: Option<u32>,
}

/// `?get_if_exists=`.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CreateParams {
    /// Answer `200` with the existing application when the `uid` is taken.
    #[serde(default)]
    get_if_exists: bool,
}

fn checked_name(name: &str) -> SvixResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(SvixError::invalid_body(
            "name",
            "`name` must be 1 to 200 characters",
        ));
    }
    Ok(name.to_string())
}

fn checked_uid(uid: Option<String>) -> SvixResult<Option<String>> {
    match uid {
        Some(u) if !is_valid_key(&u, 256) => Err(SvixError::invalid_body(
            "uid",
            "`uid` must be 1 to 256 letters, digits, `.`, `_` or `-`",
        )),
        other => Ok(other),
    }
}

fn no_rate_limit(rate_limit: Option<u32>, throttle_rate: Option<u32>) -> SvixResult<()> {
    match (rate_limit, throttle_rate) {
        (None, None) => Ok(()),
        (Some(_), _) => Err(SvixError::invalid_body("rateLimit", RATE_LIMIT)),
        (_, Some(_)) => Err(SvixError::invalid_body("throttleRate", RATE_LIMIT)),
    }
}

const RATE_LIMIT: &str =
    "Hookline limits rates per endpoint: set `throttleRate` on the application's endpoints instead";

/// Creates an application from Svix's fields (admin only; the caller checks).
pub(crate) async fn create(state: &AppState, body: ApplicationIn) -> SvixResult<Account> {
    no_rate_limit(body.rate_limit, body.throttle_rate)?;
    let now = Utc::now();
    let account = Account {
        id: Id::generate(IdKind::Account),
        name: checked_name(&body.name)?,
        uid: checked_uid(body.uid)?,
        metadata: metadata_in(body.metadata),
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .create_account(&account, &generate_signing_secret())
        .await
        .map_err(|e| SvixError::from_store(e, "the application"))?;
    Ok(account)
}

/// List applications (an account API key sees only its own).
#[utoipa::path(get, path = "/api/v1/app", tag = "svix", params(ListParams),
    responses((status = 200, body = SvixList<ApplicationOut>), (status = 422, body = SvixValidationBody)))]
async fn list_applications(
    State(state): State<AppState>,
    caller: SvixCaller,
    SvixQuery(params): SvixQuery<ListParams>,
) -> SvixResult<Json<SvixList<ApplicationOut>>> {
    let page = params.page()?;
    match &caller.0 {
        Caller::Admin => {
            let found = state.store.list_accounts(page).await?;
            Ok(Json(SvixList::from_page(
                found,
                page.direction,
                ApplicationOut::from,
            )))
        }
        Caller::Account(own) => {
            let account = state.store.get_account(own).await?;
            Ok(Json(SvixList::all(vec![account.into()])))
        }
    }
}

/// Create an application (admin token). With `?get_if_exists=true` a taken
/// `uid` answers `200` with the existing application instead of `409`.
#[utoipa::path(post, path = "/api/v1/app", tag = "svix", params(CreateParams), request_body = ApplicationIn,
    responses((status = 201, body = ApplicationOut), (status = 200, description = "It existed (get_if_exists)", body = ApplicationOut),
        (status = 409, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn create_application(
    State(state): State<AppState>,
    caller: SvixCaller,
    SvixQuery(params): SvixQuery<CreateParams>,
    SvixJson(body): SvixJson<ApplicationIn>,
) -> SvixResult<(StatusCode, Json<ApplicationOut>)> {
    caller.require_admin("creating an application")?;
    if let Some(uid) = &body.uid {
        if let Ok(existing) = state.store.get_account_by_uid(uid).await {
            return if params.get_if_exists {
                Ok((StatusCode::OK, Json(existing.into())))
            } else {
                Err(SvixError::conflict(format!(
                    "an application with uid {uid} already exists"
                )))
            };
        }
    }
    let account = create(&state, body).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Get an application by id or uid.
#[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = "svix",
    responses((status = 200, body = ApplicationOut), (status = 404, body = SvixErrorBody)))]
async fn get_application(
    State(state): State<AppState>,
    app: SvixApp,
) -> SvixResult<Json<ApplicationOut>> {
    Ok(Json(state.store.get_account(&app.account_id).await?.into()))
}

/// Replace an application; one that does not exist is created (admin
/// token), taking `app_id` as its uid when the body names none.
#[utoipa::path(put, path = "/api/v1/app/{app_id}", tag = "svix", request_body = ApplicationIn,
    responses((status = 200, body = ApplicationOut), (status = 201, body = ApplicationOut),
        (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn upsert_application(
    State(state): State<AppState>,
    caller: SvixCaller,
    Path(app_id): Path<String>,
    SvixJson(body): SvixJson<ApplicationIn>,
) -> SvixResult<(StatusCode, Json<ApplicationOut>)> {
    no_rate_limit(body.rate_limit, body.throttle_rate)?;
    if find_application(&state, &app_id).await?.is_none() {
        caller.require_admin("creating an application")?;
        let mut body = body;
        if body.uid.is_none() {
            body.uid = Some(app_id);
        }
        let account = create(&state, body).await?;
        return Ok((StatusCode::CREATED, Json(account.into())));
    }
    let app = SvixApp::check(&state, caller, app_id, true).await?;
    let mut account = state.store.get_account(&app.account_id).await?;
    account.name = checked_name(&body.name)?;
    if body.uid.is_some() {
        account.uid = checked_uid(body.uid)?;
    }
    account.metadata = metadata_in(body.metadata);
    account.updated_at = Utc::now();
    state
        .store
        .update_account(&account)
        .await
        .map_err(|e| SvixError::from_store(e, "the application"))?;
    Ok((StatusCode::OK, Json(account.into())))
}

/// Change the fields given.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}", tag = "svix", request_body = ApplicationPatch,
    responses((status = 200, body = ApplicationOut), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn patch_application(
    State(state): State<AppState>,
    app: SvixApp,
    SvixJson(body): SvixJson<ApplicationPatch>,
) -> SvixResult<Json<ApplicationOut>> {
    no_rate_limit(body.rate_limit, body.throttle_rate)?;
    let mut account = state.store.get_account(&app.account_id).await?;
    if let Some(name) = &body.name {
        account.name = checked_name(name)?;
    }
    if let Some(uid) = body.uid {
        account.uid = checked_uid(uid)?;
    }
    if let Some(metadata) = body.metadata {
        account.metadata = metadata_in(metadata);
    }
    account.updated_at = Utc::now();
    state
        .store
        .update_account(&account)
        .await
        .map_err(|e| SvixError::from_store(e, "the application"))?;
    Ok(Json(account.into()))
}

/// Delete an application and everything it owns (admin token).
#[utoipa::path(delete, path = "/api/v1/app/{app_id}", tag = "svix",
    responses((status = 204), (status = 404, body = SvixErrorBody)))]
async fn delete_application(
    State(state): State<AppState>,
    app: SvixApp,
    Path(app_id): Path<String>,
) -> SvixResult<StatusCode> {
    app.who.require_admin("deleting an application")?;
    state
        .store
        .delete_account(&app.account_id)
        .await
        .map_err(|e| SvixError::from_store(e, &format!("application {app_id}")))?;
    state.auth.forget_keys();
    Ok(StatusCode::NO_CONTENT)
}
