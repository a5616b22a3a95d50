//! The dashboard's brand: product name, logo and accent colour, from the
//! node's configuration with each field overridable per account (a
//! platform's own brand, or a reseller's). Every page wears it, the login
//! page included. The accent reaches CSS through a tiny stylesheet named by
//! the colour, so no inline style is needed under the Content-Security-Policy.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::config::is_hex_color;
use crate::state::AppState;

/// What a page shows of the brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Look {
    pub(crate) product_name: String,
    pub(crate) logo_url: Option<String>,
    /// `#rrggbb`.
    pub(crate) accent_color: String,
}

impl Look {
    /// The node's configured brand.
    pub(crate) fn configured(state: &AppState) -> Look {
        let brand = &state.config.brand;
        Look {
            product_name: brand.product_name.clone(),
            logo_url: brand.logo_url.clone(),
            accent_color: brand.accent_color.clone(),
        }
    }

    /// The stylesheet that sets the accent.
    pub(crate) fn accent_href(&self) -> String {
        format!(
            "/dashboard/assets/accent/{}.css",
            self.accent_color.trim_start_matches('#')
        )
    }
}

/// The brand of `account`'s pages (the configured one for the admin or
/// when the account set none; a store failure falls back to it too). The
/// account's own is read from the store at most every
/// `page_cache::BRAND_TTL` (and again after this node changes it).
pub(crate) async fn look(state: &AppState, account: Option<&str>) -> Look {
    let mut look = Look::configured(state);
    let Some(account) = account else {
        return look;
    };
    let own = match state.page_cache.brand(account) {
        Some(cached) => Ok(cached),
        None => {
            let read = state.store.account_branding(account).await;
            if let Ok(own) = &read {
                state.page_cache.keep_brand(account, own.clone());
            }
            read
        }
    };
    match own {
        Ok(Some(own)) => {
            if let Some(name) = own.product_name {
                look.product_name = name;
            }
            if own.logo_url.is_some() {
                look.logo_url = own.logo_url;
            }
            if let Some(color) = own.accent_color {
                look.accent_color = color;
            }
        }
        Ok(None) => {}
        Err(err) => {
            tracing::warn!(error = %err, account_id = account, "could not read the account's brand")
        }
    }
    look
}

/// `/dashboard/assets/accent/{rrggbb}.css`: the accent as CSS variables.
pub(super) async fn accent_stylesheet(Path(file): Path<String>) -> Response {
    let hex = file.strip_suffix(".css").unwrap_or_default();
    let color = format!("#{hex}");
    if !is_hex_color(&color) {
        return (StatusCode::NOT_FOUND, "no such colour").into_response();
    }
    let dark = darker(&color);
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400, immutable"),
        ],
        format!(":root {{ --brand: {color}; --brand-dark: {dark}; }}\n"),
    )
        .into_response()
}

/// The colour at 75 % brightness, for hover states.
fn darker(color: &str) -> String {
    let channel = |i: usize| {
        u8::from_str_radix(&color[i..i + 2], 16).map_or(0, |c| (u16::from(c) * 3 / 4) as u8)
    };
    format!("#{:02x}{:02x}{:02x}", channel(1), channel(3), channel(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hover_colour_is_darker() {
        assert_eq!(darker("#ffffff"), "#bfbfbf");
        assert_eq!(darker("#4f46e5"), "#3b34ab");
    }
}
