//! Registering and changing custom event types, for the API and the
//! dashboard alike: only the admin may (a merchant's key or session, and
//! any read-only portal session, see the catalogue but never change it);
//! a name is `noun.verb`, an example is a JSON object, a schema is a valid
//! JSON Schema its example passes. Built-in types ship with Hookline and
//! are not changed.

use hookline_core::catalogue::{builtin_event_types, is_valid_type_name};
use hookline_core::EventType;
use serde_json::Value;

use super::error::{ServiceError, ServiceResult};
use super::schemas::check_new_type;
use crate::auth::Caller;
use crate::state::AppState;

/// A type to register.
pub(crate) struct NewType {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) schema: Option<Value>,
    pub(crate) example: Option<Value>,
}

/// Changes to a custom type: each field given replaces the stored one
/// (`schema: Some(None)` removes the schema).
#[derive(Default)]
pub(crate) struct TypeChanges {
    pub(crate) description: Option<String>,
    pub(crate) schema: Option<Option<Value>>,
    pub(crate) example: Option<Value>,
}

fn admin_only(caller: &Caller) -> ServiceResult<()> {
    match caller {
        Caller::Admin => Ok(()),
        Caller::Account(_) => Err(ServiceError::Forbidden(
            "event types are the platform's: registering or changing one needs the admin token"
                .into(),
        )),
    }
}

fn check_example(example: Option<&Value>) -> ServiceResult<()> {
    if example.is_some_and(|e| !e.is_object()) {
        return Err(ServiceError::invalid_field(
            "example",
            "`example` must be a JSON object",
        ));
    }
    Ok(())
}

/// Registers a custom type.
pub(crate) async fn register(
    state: &AppState,
    caller: &Caller,
    new: NewType,
) -> ServiceResult<EventType> {
    admin_only(caller)?;
    if !is_valid_type_name(&new.name) {
        return Err(ServiceError::invalid_field(
            "name",
            format!("`{}` is not a valid type name: use lowercase words joined by dots, e.g. invoice.paid", new.name),
        ));
    }
    check_example(new.example.as_ref())?;
    check_new_type(new.schema.as_ref(), new.example.as_ref())?;
    let event_type = EventType {
        name: new.name,
        description: new.description,
        example: new.example.unwrap_or_else(|| serde_json::json!({})),
        schema: new.schema,
        created_at: Some(chrono::Utc::now()),
    };
    state
        .catalogue
        .register(event_type.clone())
        .await
        .map_err(ServiceError::store("the event type"))?;
    Ok(event_type)
}

/// Changes a custom type; the result passes the same rules as a new one.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    name: &str,
    changes: TypeChanges,
) -> ServiceResult<EventType> {
    admin_only(caller)?;
    if builtin_event_types().iter().any(|t| t.name == name) {
        return Err(ServiceError::Conflict(format!(
            "`{name}` is a built-in type and ships with its schema; register a type of your own to change one"
        )));
    }
    let what = format!("event type {name}");
    let mut event_type = state
        .catalogue
        .get(name)
        .await
        .map_err(ServiceError::store(&what))?
        .ok_or_else(|| ServiceError::not_found(&what))?;
    if let Some(description) = changes.description {
        event_type.description = description;
    }
    if let Some(example) = changes.example {
        check_example(Some(&example))?;
        event_type.example = example;
    }
    if let Some(schema) = changes.schema {
        event_type.schema = schema;
    }
    check_new_type(event_type.schema.as_ref(), Some(&event_type.example))?;
    state
        .catalogue
        .update(event_type.clone())
        .await
        .map_err(ServiceError::store(&what))?;
    Ok(event_type)
}
