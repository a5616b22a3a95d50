//! `/v1/accounts`: merchant accounts, their signing secret and API keys.
//! Admin token only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use hookline_core::operational::PLATFORM_ACCOUNT_ID;
use hookline_core::secret::{generate_signing_secret, generate_token};
use hookline_core::{format_time, Account, Id, IdKind};
use hookline_store::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiQuery, ListParams, ListResponse};
use crate::auth::{hash_token, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(signing_secret))
        .routes(routes!(create_api_key))
        .routes(routes!(delete_api_key))
}

/// A merchant account.
#[derive(Serialize, ToSchema)]
pub(crate) struct AccountOut {
    id: String,
    name: String,
    created_at: String,
    updated_at: String,
}

impl From<Account> for AccountOut {
    fn from(a: Account) -> Self {
        AccountOut {
            id: a.id,
            name: a.name,
            created_at: format_time(a.created_at),
            updated_at: format_time(a.updated_at),
        }
    }
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAccount {
    /// Display name, e.g. the merchant's company: 1 to 200 characters, not
    /// only spaces, no control characters (kept without surrounding spaces;
    /// the pattern is `checked_name`'s rule).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// Your own id (`acct_…`), to mirror your platform's ids; generated if absent.
    #[schema(pattern = r"^acct_[A-Za-z0-9_-]{1,100}$")]
    id: Option<String>,
}

/// Changes to an account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateAccount {
    /// As on creation.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
}

/// A signing secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct SecretOut {
    /// `whsec_` + base64 of the key.
    pub(crate) secret: String,
}

/// A new API key; `key` is shown only in this answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiKeyOut {
    id: String,
    account_id: String,
    key: String,
    created_at: String,
}

fn admin_only(caller: &Caller) -> ApiResult<()> {
    match caller {
        Caller::Admin => Ok(()),
        Caller::Account(_) => Err(ApiError::forbidden(
            "managing accounts needs the admin token; an account API key only acts on its own endpoints and events",
        )),
    }
}

/// The internal platform account (operational webhooks) is no merchant
/// account: these routes answer as if it did not exist.
fn merchant(account_id: &str) -> ApiResult<()> {
    if account_id == PLATFORM_ACCOUNT_ID {
        return Err(ApiError::not_found(&format!("account {account_id}")));
    }
    Ok(())
}

fn checked_name(name: &str) -> ApiResult<String> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > 200 {
        return Err(ApiError::invalid_field(
            "name",
            "`name` must be 1 to 200 characters, not only spaces",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            "`name` may not hold control characters (line breaks, tabs, …)",
        ));
    }
    Ok(name.trim().to_string())
}

/// List accounts, oldest first.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(ListParams),
    responses((status = 200, body = ListResponse<AccountOut>), (status = 401, body = ErrorBody)))]
async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<AccountOut>>> {
    admin_only(&caller)?;
    let page = state.store.list_accounts(params.page()?).await?;
    Ok(Json(ListResponse::from_page(page, AccountOut::from)))
}

/// Create an account.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = CreateAccount,
    responses((status = 201, body = AccountOut), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountOut>)> {
    admin_only(&caller)?;
    let id = match body.id {
        Some(id) if id == PLATFORM_ACCOUNT_ID => {
            return Err(ApiError::invalid_field(
                "id",
                format!("`{id}` is reserved for the internal account of operational webhooks"),
            ))
        }
        Some(id) if Id::is_valid(IdKind::Account, &id) => id,
        Some(id) => {
            return Err(ApiError::invalid_field(
                "id",
                format!("`{id}` is not a valid account id: use `acct_` followed by letters, digits, `_` or `-`"),
            ))
        }
        None => Id::generate(IdKind::Account),
    };
    let now = Utc::now();
    let account = Account {
        id,
        name: checked_name(&body.name)?,
        uid: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .create_account(&account, &generate_signing_secret())
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Get an account.
#[utoipa::path(get, path = "/v1/accounts/{account_id}", tag = "accounts",
    responses((status = 200, body = AccountOut), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> ApiResult<Json<AccountOut>> {
    admin_only(&caller)?;
    merchant(&account_id)?;
    let account = state
        .store
        .get_account(&account_id)
        .await
        .map_err(|e| ApiError::from_store(e, &format!("account {account_id}")))?;
    Ok(Json(account.into()))
}

/// Rename an account.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}", tag = "accounts", request_body = UpdateAccount,
    responses((status = 200, body = AccountOut), (status = 404, body = ErrorBody)))]
async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<UpdateAccount>,
) -> ApiResult<Json<AccountOut>> {
    admin_only(&caller)?;
    merchant(&account_id)?;
    let not_found = |e| ApiError::from_store(e, &format!("account {account_id}"));
    let mut account = state
        .store
        .get_account(&account_id)
        .await
        .map_err(not_found)?;
    if let Some(name) = body.name {
        account.name = checked_name(&name)?;
    }
    account.updated_at = Utc::now();
    state
        .store
        .update_account(&account)
        .await
        .map_err(not_found)?;
    Ok(Json(account.into()))
}

/// Delete an account with its keys, endpoints, events and attempts.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}", tag = "accounts",
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    merchant(&account_id)?;
    state
        .store
        .delete_account(&account_id)
        .await
        .map_err(|e| ApiError::from_store(e, &format!("account {account_id}")))?;
    state.auth.forget_keys();
    Ok(StatusCode::NO_CONTENT)
}

/// The secret that signs deliveries to per-event `webhook_url`s.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/signing-secret", tag = "accounts",
    responses((status = 200, body = SecretOut), (status = 404, body = ErrorBody)))]
async fn signing_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> ApiResult<Json<SecretOut>> {
    if !caller.can_access(&account_id) {
        return Err(ApiError::not_found(&format!("account {account_id}")));
    }
    merchant(&account_id)?;
    let secret = state
        .store
        .account_signing_secret(&account_id)
        .await
        .map_err(|e| ApiError::from_store(e, &format!("account {account_id}")))?;
    Ok(Json(SecretOut { secret }))
}

/// Create an API key for the account; the key is shown once and stored hashed.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/api-keys", tag = "accounts",
    responses((status = 201, body = ApiKeyOut), (status = 404, body = ErrorBody)))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> ApiResult<(StatusCode, Json<ApiKeyOut>)> {
    admin_only(&caller)?;
    merchant(&account_id)?;
    let key = generate_token("hk_live_");
    let record = ApiKey {
        id: Id::generate(IdKind::ApiKey),
        account_id: account_id.clone(),
        key_hash: hash_token(&key),
        created_at: Utc::now(),
    };
    state
        .store
        .create_api_key(&record)
        .await
        .map_err(|e| ApiError::from_store(e, &format!("account {account_id}")))?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyOut {
            id: record.id,
            account_id,
            key,
            created_at: format_time(record.created_at),
        }),
    ))
}

/// Delete an API key: it stops working at once on this node (within 30 s on
/// the others) and every dashboard session it opened ends.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/api-keys/{key_id}", tag = "accounts",
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    merchant(&account_id)?;
    state
        .store
        .delete_api_key(&account_id, &key_id)
        .await
        .map_err(|e| ApiError::from_store(e, &format!("API key {key_id}")))?;
    state.auth.forget_keys();
    Ok(StatusCode::NO_CONTENT)
}
