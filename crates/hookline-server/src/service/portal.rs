//! Portal links and account brands: the rules behind
//! `POST …/portal-sessions` and `PUT …/branding`. A portal link is a random
//! token kept hashed as a one-time `link` row (see `dashboard/portal.rs`,
//! which opens it); it and the session it opens end at `expires_at`.

use chrono::{Duration, Utc};
use hookline_core::Timestamp;
use hookline_store::{Branding, DashboardSession, SessionKind};

use crate::auth::hash_token;
use crate::config::{is_hex_color, is_logo_url};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// Default life of a portal link and its session.
pub(crate) const DEFAULT_EXPIRES_IN_SECS: u64 = 3600;
/// Longest life of a portal link and its session.
pub(crate) const MAX_EXPIRES_IN_SECS: u64 = 7 * 24 * 3600;

/// What the platform asks for.
#[derive(Debug, Default, Clone)]
pub(crate) struct PortalRequest {
    pub(crate) expires_in_secs: Option<u64>,
    pub(crate) read_only: bool,
    pub(crate) return_url: Option<String>,
}

/// A created link: the token to put in the URL and when it (and the
/// session it opens) ends.
#[derive(Debug, Clone)]
pub(crate) struct PortalLink {
    pub(crate) token: String,
    pub(crate) expires_at: Timestamp,
}

/// Creates a one-time link into `account_id`'s dashboard. `api_key_hash`
/// names the key that asked (deleting it ends the session); `None` for the
/// admin token.
pub(crate) async fn create_link(
    state: &AppState,
    account_id: &str,
    api_key_hash: Option<String>,
    request: PortalRequest,
) -> ServiceResult<PortalLink> {
    let secs = request.expires_in_secs.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
    if !(1..=MAX_EXPIRES_IN_SECS).contains(&secs) {
        return Err(ServiceError::invalid_field(
            "expires_in",
            format!("`expires_in` must be 1 to {MAX_EXPIRES_IN_SECS} seconds (7 days)"),
        ));
    }
    let return_url = request
        .return_url
        .filter(|u| !u.is_empty())
        .map(|u| checked_return_url(&u))
        .transpose()?;
    let token = hookline_core::secret::generate_token("");
    let now = Utc::now();
    let expires_at = now + Duration::seconds(secs as i64);
    let link = DashboardSession {
        id_hash: hash_token(&token),
        kind: SessionKind::Link,
        account_id: Some(account_id.to_string()),
        api_key_hash,
        read_only: request.read_only,
        portal: true,
        return_url,
        created_at: now,
        expires_at,
    };
    state
        .store
        .create_dashboard_session(&link)
        .await
        .map_err(ServiceError::store(&format!("account {account_id}")))?;
    Ok(PortalLink { token, expires_at })
}

fn checked_return_url(text: &str) -> ServiceResult<String> {
    let ok = text.len() <= 2048
        && url::Url::parse(text)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if ok {
        Ok(text.to_string())
    } else {
        Err(ServiceError::invalid_field(
            "return_url",
            "`return_url` must be an absolute http(s) URL of at most 2048 characters",
        ))
    }
}

/// Validates and stores an account's brand (absent fields use the node's).
pub(crate) async fn set_branding(
    state: &AppState,
    account_id: &str,
    branding: Branding,
) -> ServiceResult<Branding> {
    // The limit is on the name as given (what the API's document says).
    if branding
        .product_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 60)
    {
        return Err(ServiceError::invalid_field(
            "product_name",
            "`product_name` must be at most 60 characters",
        ));
    }
    if branding
        .logo_url
        .as_deref()
        .is_some_and(|l| !is_logo_url(l))
    {
        return Err(ServiceError::invalid_field(
            "logo_url",
            "`logo_url` must be an https: or data:image/ URL (the dashboard loads no other images)",
        ));
    }
    if branding
        .accent_color
        .as_deref()
        .is_some_and(|c| !is_hex_color(c))
    {
        return Err(ServiceError::invalid_field(
            "accent_color",
            "`accent_color` must be #rrggbb, such as #0a7cff",
        ));
    }
    let product_name = branding
        .product_name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let branding = Branding {
        product_name,
        logo_url: branding.logo_url,
        accent_color: branding.accent_color.map(|c| c.to_ascii_lowercase()),
    };
    state
        .store
        .set_account_branding(account_id, &branding)
        .await
        .map_err(ServiceError::store(&format!("account {account_id}")))?;
    state.page_cache.forget_brand(account_id);
    Ok(branding)
}
