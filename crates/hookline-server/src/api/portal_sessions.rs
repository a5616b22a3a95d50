//! `POST /v1/accounts/{account_id}/portal-sessions`: the platform signs its
//! merchant in to the dashboard with one call, to show it inside its own
//! product (an iframe on an origin listed in `HOOKLINE_PORTAL_FRAME_ANCESTORS`)
//! or by redirecting; and `…/branding`, the account's own brand there.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use hookline_core::format_time;
use hookline_store::Branding;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{optional_whole, AccountScope, ApiJson};
use crate::auth::{bearer, hash_token, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::scope::Scoped;
use crate::service::portal::{self as service, PortalRequest};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_portal_session))
        .routes(routes!(get_branding, set_branding))
}

/// What the portal session may do.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePortalSession {
    /// Seconds until the link and the session it opens end: 1 to 604800
    /// (7 days), default 3600.
    #[serde(default, deserialize_with = "optional_whole")]
    #[schema(minimum = 1, maximum = 604800)]
    expires_in: Option<u64>,
    /// Show everything, change nothing, reveal no secret (default false).
    read_only: Option<bool>,
    /// Where the dashboard's "back" link leads (your own page).
    return_url: Option<String>,
}

/// A one-time sign-in URL.
#[derive(Serialize, ToSchema)]
pub(crate) struct PortalSessionOut {
    /// Open it (redirect or iframe `src`) once, before `expires_at`.
    url: String,
    expires_at: String,
    read_only: bool,
}

/// Where browsers reach this node: `HOOKLINE_PUBLIC_URL`, else the Host
/// the caller used.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.as_str().trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
        .map_or_else(|| state.config.listen.to_string(), str::to_string);
    format!("http://{host}")
}

/// Create a portal session: a one-time URL that signs a browser in to this
/// account's dashboard only. It works once, until `expires_at`; the session
/// it opens ends then too, or when the account or the API key that created
/// it is deleted. Admin token or the account's own key.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/portal-sessions", tag = "portal",
    request_body = CreatePortalSession,
    responses((status = 201, body = PortalSessionOut), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn create_portal_session(
    State(state): State<AppState>,
    Scoped {
        account_id,
        who: caller,
    }: AccountScope,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreatePortalSession>,
) -> ApiResult<(StatusCode, Json<PortalSessionOut>)> {
    let key_hash = match caller {
        Caller::Admin => None,
        Caller::Account(_) => {
            let header = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            Some(hash_token(bearer(header)?))
        }
    };
    let read_only = body.read_only.unwrap_or(false);
    let request = PortalRequest {
        expires_in_secs: body.expires_in,
        read_only,
        return_url: body.return_url,
    };
    let link = service::create_link(&state, &account_id, key_hash, request).await?;
    Ok((
        StatusCode::CREATED,
        Json(PortalSessionOut {
            url: format!(
                "{}/dashboard/portal/{}",
                public_base(&state, &headers),
                link.token
            ),
            expires_at: format_time(link.expires_at),
            read_only,
        }),
    ))
}

/// An account's brand on the dashboard; `null` fields use the node's
/// (`HOOKLINE_BRAND_*`).
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct BrandingBody {
    /// Product name shown on every page, at most 60 characters (only
    /// spaces: the node's).
    #[schema(max_length = 60)]
    product_name: Option<String>,
    /// An `https:` or `data:image/` URL, at most 65536 characters, without
    /// quotes, spaces or angle brackets.
    #[schema(max_length = 65536)]
    logo_url: Option<String>,
    /// `#rrggbb`.
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    accent_color: Option<String>,
}

impl From<Branding> for BrandingBody {
    fn from(b: Branding) -> Self {
        BrandingBody {
            product_name: b.product_name,
            logo_url: b.logo_url,
            accent_color: b.accent_color,
        }
    }
}

/// The account's own brand on the dashboard.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/branding", tag = "portal",
    responses((status = 200, body = BrandingBody), (status = 404, body = ErrorBody)))]
async fn get_branding(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
) -> ApiResult<Json<BrandingBody>> {
    let branding = state
        .store
        .account_branding(&account_id)
        .await?
        .unwrap_or_default();
    Ok(Json(branding.into()))
}

/// Replace the account's brand (admin token): a reseller's name, logo and
/// colour on every page of this account's dashboard, its login page aside.
#[utoipa::path(put, path = "/v1/accounts/{account_id}/branding", tag = "portal",
    request_body = BrandingBody,
    responses((status = 200, body = BrandingBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_branding(
    State(state): State<AppState>,
    Scoped {
        account_id,
        who: caller,
    }: AccountScope,
    ApiJson(body): ApiJson<BrandingBody>,
) -> ApiResult<Json<BrandingBody>> {
    if caller != Caller::Admin {
        return Err(ApiError::forbidden(
            "an account's brand is set by the platform with the admin token",
        ));
    }
    let branding = Branding {
        product_name: body.product_name,
        logo_url: body.logo_url,
        accent_color: body.accent_color,
    };
    let saved = service::set_branding(&state, &account_id, branding).await?;
    Ok(Json(saved.into()))
}
