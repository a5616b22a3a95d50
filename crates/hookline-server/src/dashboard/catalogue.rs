//! The event-type catalogue page: every type an account can subscribe to,
//! with its description and an example payload, so a merchant knows what
//! each webhook will carry before adding an endpoint.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{page, AccountPage, Layout};
use crate::scope::Scoped;
use crate::state::AppState;

struct TypeRow {
    name: String,
    description: String,
    example: String,
}

#[derive(Template)]
#[template(path = "event_types.html")]
struct EventTypesPage {
    layout: Layout,
    types: Vec<TypeRow>,
}

/// The catalogue, built-in and custom types alike.
pub(super) async fn list(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
) -> Response {
    let types = state
        .catalogue
        .all()
        .into_iter()
        .map(|t| TypeRow {
            example: serde_json::to_string_pretty(&t.example).unwrap_or_default(),
            name: t.name,
            description: t.description,
        })
        .collect();
    page(&EventTypesPage {
        layout: Layout::new(&session, "Event types", Some(&account), "event-types"),
        types,
    })
}
