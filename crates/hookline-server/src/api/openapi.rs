//! Completes the OpenAPI document with the statuses every route can answer,
//! so the document is true without repeating them on each handler: `401` and
//! `403` where a token is required, `400` where a body or query is parsed,
//! `408`/`413`/`422` where a body is read, `404` where a path names an
//! object, and `503` everywhere. Each is the contract's `ErrorBody`. Path
//! parameters of the template that a handler does not declare itself are
//! declared here (required strings), so every operation is valid OpenAPI.

use utoipa::openapi::content::Content;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::openapi::{OpenApi, PathItem, Ref, RefOr};

/// Adds the statuses each operation can answer and does not list yet.
pub(super) fn complete_responses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in operations(item) {
            declare_path_parameters(path, operation);
            complete_operation(operation);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Declares each `{name}` of `path` the operation does not declare.
fn declare_path_parameters(path: &str, operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for name in path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        let declared = parameters
            .iter()
            .any(|p| p.name == name && matches!(p.parameter_in, ParameterIn::Path));
        if !declared {
            parameters.push(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
        }
    }
}

fn complete_operation(operation: &mut Operation) {
    // `security(())` (one empty requirement) marks a route without a token.
    let open = operation
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let in_query = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let body = operation.request_body.is_some();
    let mut add = |status: &str, why: &str| {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(why));
    };
    if !open {
        add("401", "Missing or unknown token.");
        add(
            "403",
            "The token may not do this (an account key on an admin route).",
        );
    }
    if body {
        add("400", "The body is not one JSON document.");
        add("408", "The body did not arrive in time.");
        add("413", "The body is over the limit.");
        add("422", "The body breaks a rule; the message says which.");
    }
    if in_query {
        add("400", "A query parameter is not understood.");
    }
    if in_path {
        add("404", "No such object in this account.");
    }
    add("503", "The database failed or is full; try again.");
}

fn error_response(description: &str) -> RefOr<Response> {
    let mut response = Response::new(description);
    response.content.insert(
        "application/json".to_string(),
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    RefOr::T(response)
}
