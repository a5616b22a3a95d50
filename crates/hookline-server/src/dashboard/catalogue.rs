//! The event-type catalogue page: every type an account can subscribe to,
//! with its description, example payload and JSON Schema, so a merchant
//! knows what each webhook will carry before adding an endpoint. The admin
//! also registers types and edits a custom type's schema here, by the same
//! rules and with the same errors as the API (`service::event_types`); a
//! merchant's session sees the catalogue only, and a read-only portal
//! session is refused every change by the guard.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookline_core::catalogue::builtin_event_types;
use serde_json::Value;

use super::csrf::FormData;
use super::session::Session;
use super::{check_csrf, failure, page_with_status, AccountPage, Layout};
use crate::scope::Scoped;
use crate::service::event_types::{self as service, NewType, TypeChanges};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

struct TypeRow {
    name: String,
    description: String,
    example: String,
    /// Pretty JSON of the schema; empty without one.
    schema: String,
    builtin: bool,
}

/// What a form sent, shown again with the error that refused it.
#[derive(Default)]
struct Draft {
    /// The type being edited; empty for the registration form.
    editing: String,
    name: String,
    description: String,
    schema: String,
    example: String,
    error: String,
    error_field: String,
}

#[derive(Template)]
#[template(path = "event_types.html")]
struct EventTypesPage {
    layout: Layout,
    types: Vec<TypeRow>,
    /// Whether this session may register and edit types (the admin's).
    can_edit: bool,
    base: String,
    draft: Draft,
    notice: String,
}

fn base(account: &str) -> String {
    format!("/dashboard/accounts/{account}/event-types")
}

fn render(
    state: &AppState,
    session: &Session,
    account: &str,
    status: StatusCode,
    draft: Draft,
    notice: &str,
) -> Response {
    let builtin: Vec<String> = builtin_event_types().into_iter().map(|t| t.name).collect();
    let types = state
        .catalogue
        .all()
        .into_iter()
        .map(|t| TypeRow {
            example: serde_json::to_string_pretty(&t.example).unwrap_or_default(),
            schema: t
                .schema
                .as_ref()
                .map(|s| serde_json::to_string_pretty(s).unwrap_or_default())
                .unwrap_or_default(),
            builtin: builtin.contains(&t.name),
            name: t.name,
            description: t.description,
        })
        .collect();
    page_with_status(
        status,
        &EventTypesPage {
            layout: Layout::new(session, "Event types", Some(account), "event-types"),
            types,
            can_edit: session.is_admin() && !session.read_only && !session.portal,
            base: base(account),
            draft,
            notice: notice.to_string(),
        },
    )
}

/// The catalogue, built-in and custom types alike.
pub(super) async fn list(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    uri: axum::http::Uri,
) -> Response {
    let notice = match uri.query().unwrap_or("") {
        q if q.contains("registered") => "The event type was registered.",
        q if q.contains("saved") => "The event type was saved.",
        _ => "",
    };
    render(
        &state,
        &session,
        &account,
        StatusCode::OK,
        Draft::default(),
        notice,
    )
}

/// A JSON field of a form: `None` when left empty.
fn json_field(form: &FormData, field: &'static str) -> ServiceResult<Option<Value>> {
    let text = form.get(field).unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| {
        ServiceError::invalid_field(field, format!("`{field}` is not valid JSON: {e}"))
    })
}

fn draft_of(form: &FormData, editing: &str) -> Draft {
    Draft {
        editing: editing.to_string(),
        name: form.get("name").unwrap_or_else(|| editing.to_string()),
        description: form.get("description").unwrap_or_default(),
        schema: form.get("schema").unwrap_or_default(),
        example: form.get("example").unwrap_or_default(),
        ..Draft::default()
    }
}

/// The page again with the form as sent and why it was refused; a
/// database failure is the usual "try again" page.
fn refused(
    state: &AppState,
    session: &Session,
    account: &str,
    mut draft: Draft,
    err: ServiceError,
) -> Response {
    let status = match &err {
        ServiceError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        // A taken name, beside the registration form.
        ServiceError::Conflict(_) if draft.editing.is_empty() => StatusCode::CONFLICT,
        // A built-in type has no form to show it beside.
        ServiceError::Conflict(_) => return failure(session, "Not saved", "", &err),
        ServiceError::Forbidden(_)
        | ServiceError::NotFound { .. }
        | ServiceError::Unavailable(_) => {
            return failure(session, "Not saved", "There is no such event type.", &err)
        }
    };
    draft.error_field = err.field().unwrap_or_default().to_string();
    draft.error = err.to_string();
    render(state, session, account, status, draft, "")
}

/// Registers a type (admin).
pub(super) async fn register(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if let Err(r) = check_csrf(&session, &form) {
        return r;
    }
    let draft = draft_of(&form, "");
    let new = (|| {
        Ok::<_, ServiceError>(NewType {
            name: form.get("name").unwrap_or_default().trim().to_string(),
            description: form.get("description").unwrap_or_default(),
            schema: json_field(&form, "schema")?,
            example: json_field(&form, "example")?,
        })
    })();
    let result = match new {
        Ok(new) => service::register(&state, &session.caller, new).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(t) => Redirect::to(&format!("{}?registered#{}", base(&account), t.name)).into_response(),
        Err(err) => refused(&state, &session, &account, draft, err),
    }
}

/// Saves a custom type's description, schema and example (admin); an
/// empty schema removes it.
pub(super) async fn update(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if let Err(r) = check_csrf(&session, &form) {
        return r;
    }
    let draft = draft_of(&form, &name);
    let changes = (|| {
        Ok::<_, ServiceError>(TypeChanges {
            description: form.get("description"),
            schema: Some(json_field(&form, "schema")?),
            example: json_field(&form, "example")?,
        })
    })();
    let result = match changes {
        Ok(changes) => service::update(&state, &session.caller, &name, changes).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(t) => Redirect::to(&format!("{}?saved#{}", base(&account), t.name)).into_response(),
        Err(err) => refused(&state, &session, &account, draft, err),
    }
}
