//! Completes the OpenAPI document with the statuses every route can answer,
//! so the document is true without repeating them on each handler: `401` and
//! `403` where a token is required, `400` where a body or query is parsed,
//! `408`/`413`/`422` where a body is read, `404` where a path names an
//! object, and `503` everywhere. Each is the contract's `ErrorBody`. Path
//! parameters of the template that a handler does not declare itself are
//! declared here (required strings), so every operation is valid OpenAPI.
//! The Svix-compatible routes under `/api/v1` are documented as their
//! handlers declare them and are not completed here.

use hookline_core::net::MAX_URL_LEN;
use serde_json::{json, Value};
use utoipa::openapi::content::Content;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::openapi::{OpenApi, PathItem, Ref, RefOr};

use crate::service::endpoints::{
    HOP_BY_HOP_HEADERS, MAX_CUSTOM_HEADERS, MAX_CUSTOM_HEADER_BYTES, RESERVED_HEADERS,
};

/// Adds the statuses each operation can answer and does not list yet. The
/// Svix-compatible routes under `/api/v1` answer Svix's error shapes and
/// declare their own responses, so they are left as their handlers say.
fn complete_responses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        if path.starts_with(SVIX_PREFIX) {
            continue;
        }
        for operation in operations(item) {
            declare_path_parameters(path, operation);
            complete_operation(operation);
        }
    }
}

/// Where the Svix-compatible API's routes start (`api/svix`).
const SVIX_PREFIX: &str = "/api/";

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

/// What an endpoint or portal URL must look like, as a pattern: http(s), a
/// lower-case host of at most three labels whose last starts with a letter
/// (or a dotted IPv4 address), an optional port, a path. The service's rules
/// (`hookline_core::net::validate_url`) accept more: any host name or IP
/// literal, and spell out the normal form; the description says so.
const HTTP_URL: &str = r"^https?://(([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.){0,2}[a-z]([a-z0-9-]{0,61}[a-z0-9])?|((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))(:[1-9][0-9]{0,3})?/[A-Za-z0-9._~!$&'()*+,;=:@/-]{0,1000}$";

/// `whsec_` + canonical padded base64 of 24 to 64 bytes (what
/// `is_valid_signing_secret` accepts).
const WHSEC: &str = r"^whsec_((?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$";

/// `whsk_` + canonical padded base64 of a 32-byte ed25519 seed.
const WHSK: &str = r"^whsk_(?:[A-Za-z0-9+/]{4}){10}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=$";

/// A custom header name: an HTTP token that is none of the names Hookline
/// sets or that steer the connection (any case).
fn header_names(reserved: &[&str]) -> Value {
    let any_case = |name: &str| -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                } else {
                    regex_escape(c)
                }
            })
            .collect()
    };
    let names: Vec<String> = reserved.iter().map(|n| any_case(n)).collect();
    json!({
        "pattern": r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
        "not": {"pattern": format!("^({}|{}.*)$", names.join("|"), any_case("proxy-"))},
    })
}

fn regex_escape(c: char) -> String {
    if "\\^$.|?*+()[]{}".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// The payload filter language (hookline_core::filter) as a JSON Schema:
/// paths `type` and `data.…` to a value or to operators, `$and`/`$or` to
/// non-empty lists of filters. Its budget (64 conditions, 8 levels, 8 KiB)
/// is in the description.
fn filter_schema() -> Value {
    let operators = json!({
        "type": "object",
        "minProperties": 1,
        "properties": {
            "$eq": {}, "$ne": {},
            "$in": {"type": "array"}, "$nin": {"type": "array"},
            "$gt": {"type": "number"}, "$gte": {"type": "number"},
            "$lt": {"type": "number"}, "$lte": {"type": "number"},
            "$exists": {"type": "boolean"},
        },
        "additionalProperties": false,
    });
    let plain_object = json!({"type": "object", "propertyNames": {"not": {"pattern": r"^\$"}}});
    json!({
        "type": "object",
        "description": "A payload filter (docs/api.md, \"Payload filters\"): paths (`type`, `data.a.b`) \
            to a value (equality) or to operators; `$and`/`$or` take non-empty lists of filters. \
            At most 64 conditions, 8 levels of `$and`/`$or` and 8 KiB of JSON.",
        "maxProperties": 64,
        "propertyNames": {"pattern": r"^(type|data(\.[^.]+)*|\$and|\$or)$"},
        "properties": {
            "$and": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Filter"}},
            "$or": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Filter"}},
        },
        "additionalProperties": {"anyOf": [{"not": {"type": "object"}}, plain_object, operators]},
    })
}

/// The document as served: utoipa's, completed, with the rules the derive
/// cannot say (URL, secret and header patterns, the filter language, the
/// enums of fields typed in hookline-core, create and update bodies apart,
/// operational endpoints' own types).
pub(super) fn document(mut doc: OpenApi) -> Value {
    complete_responses(&mut doc);
    let mut doc = serde_json::to_value(&doc).expect("the OpenAPI document is JSON");
    let schemas = &mut doc["components"]["schemas"];
    schemas["Filter"] = filter_schema();
    let url = json!({"maxLength": MAX_URL_LEN, "pattern": HTTP_URL});
    let mut body = schemas["EndpointBody"].take();
    for (field, values) in [
        ("payload", json!(["full", "thin", null])),
        ("signature_scheme", json!(["hmac-sha256", "ed25519", null])),
        ("delivery_order", json!(["unordered", "ordered", null])),
    ] {
        merge(&mut body["properties"][field], json!({"enum": values}));
    }
    merge(&mut body["properties"]["url"], url.clone());
    merge(
        &mut body["properties"]["filter"],
        json!({"anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/Filter"}]}),
    );
    let mut reserved: Vec<&str> = RESERVED_HEADERS.to_vec();
    reserved.extend(HOP_BY_HOP_HEADERS);
    merge(
        &mut body["properties"]["headers"],
        json!({
            "maxProperties": MAX_CUSTOM_HEADERS,
            "propertyNames": header_names(&reserved),
            "additionalProperties": {"type": "string", "maxLength": MAX_CUSTOM_HEADER_BYTES - 1, "pattern": "^[\t\\x20-\\x7e]*$"},
        }),
    );
    let any_key = json!({"anyOf": [{"type": "null"}, {"pattern": WHSEC}, {"pattern": WHSK}]});
    merge(&mut body["properties"]["secret"], any_key.clone());
    // A scheme given and a key given must agree; a key alone names its scheme.
    body["anyOf"] = json!([
        {"properties": {"signature_scheme": {"const": "ed25519"}, "secret": {"anyOf": [{"type": "null"}, {"pattern": WHSK}]}},
         "required": ["signature_scheme"]},
        {"properties": {"signature_scheme": {"const": "hmac-sha256"}, "secret": {"anyOf": [{"type": "null"}, {"pattern": WHSEC}]}},
         "required": ["signature_scheme"]},
        {"properties": {"signature_scheme": {"type": "null"}}},
    ]);
    let mut new = body.clone();
    new["required"] = json!(["url"]);
    new["properties"]["url"]["type"] = json!("string");
    schemas["NewEndpoint"] = new.clone();
    schemas["EndpointBody"] = body.clone();
    schemas["NewOperationalEndpoint"] = new;
    schemas["OperationalEndpointBody"] = body;
    for (field, values) in [
        ("payload", json!(["full", "thin"])),
        ("signature_scheme", json!(["hmac-sha256", "ed25519"])),
        ("delivery_order", json!(["unordered", "ordered"])),
    ] {
        merge(
            &mut schemas["EndpointOut"]["properties"][field],
            json!({"enum": values}),
        );
    }
    merge(
        &mut schemas["PublishBody"]["properties"]["webhook_url"],
        url.clone(),
    );
    merge(&mut schemas["RotateBody"]["properties"]["secret"], any_key);
    // An empty `return_url` is none.
    merge(
        &mut schemas["CreatePortalSession"]["properties"]["return_url"],
        json!({"maxLength": MAX_URL_LEN, "pattern": format!("^$|{HTTP_URL}")}),
    );
    let https_url = HTTP_URL.replacen("^https?://", "https://", 1);
    merge(
        &mut schemas["BrandingBody"]["properties"]["logo_url"],
        json!({"pattern": format!(r#"^data:image/[^"'<> ]*$|^{https_url}"#)}),
    );
    merge(
        &mut schemas["FilterTestBody"],
        json!({"not": {
            "properties": {"event_id": {"type": "string"}, "event_type": {"type": "string"}},
            "required": ["event_id", "event_type"],
        }}),
    );

    merge(
        &mut schemas["FilterTestBody"]["properties"]["filter"],
        json!({"$ref": "#/components/schemas/Filter"}),
    );
    for (path, method, schema) in [
        ("/v1/accounts/{account_id}/endpoints", "post", "NewEndpoint"),
        (
            "/v1/operational-endpoints",
            "post",
            "NewOperationalEndpoint",
        ),
        (
            "/v1/operational-endpoints/{endpoint_id}",
            "patch",
            "OperationalEndpointBody",
        ),
    ] {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"] =
            json!({"$ref": format!("#/components/schemas/{schema}")});
    }
    optional_bodies(&mut doc);
    doc
}

/// A body whose fields are all optional may be left out (it reads as `{}`).
fn optional_bodies(doc: &mut Value) {
    let schemas = doc["components"]["schemas"].clone();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let Some(body) = operation.get_mut("requestBody") else {
            continue;
        };
        let Some(reference) = body["content"]["application/json"]["schema"]["$ref"].as_str() else {
            continue;
        };
        let name = reference.trim_start_matches("#/components/schemas/");
        let required = schemas[name]["required"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        if !required {
            body["required"] = json!(false);
        }
    }
}

/// The document with the event types known now: publishing, test sends,
/// filter trials and subscriptions take only those (operational endpoints
/// take the operational types).
pub(super) fn with_catalogue(doc: &Value, names: Vec<String>) -> Value {
    let mut doc = doc.clone();
    let schemas = &mut doc["components"]["schemas"];
    let known = json!({"enum": names});
    merge(
        &mut schemas["PublishBody"]["properties"]["type"],
        known.clone(),
    );
    for (schema, field) in [("TestBody", "event_type"), ("FilterTestBody", "event_type")] {
        merge(
            &mut schemas[schema]["properties"][field],
            json!({"anyOf": [{"type": "null"}, known.clone()]}),
        );
    }
    let operational: Vec<&str> = hookline_core::operational::EVENT_TYPES
        .iter()
        .map(|(t, _)| *t)
        .collect();
    for (schema, types) in [
        ("EndpointBody", known.clone()),
        ("NewEndpoint", known),
        ("OperationalEndpointBody", json!({"enum": operational})),
        ("NewOperationalEndpoint", json!({"enum": operational})),
    ] {
        merge(
            &mut schemas[schema]["properties"]["event_types"],
            json!({"items": types}),
        );
    }
    doc
}

/// Adds `extra`'s keys to the schema `target`, which must exist (a schema
/// renamed in the code fails the document's test, not silently).
fn merge(target: &mut Value, extra: Value) {
    assert!(target.is_object(), "no schema to add {extra} to");
    if let (Value::Object(target), Value::Object(extra)) = (target, extra) {
        for (key, value) in extra {
            match target.get_mut(&key) {
                Some(existing) if existing.is_object() && value.is_object() => {
                    merge(existing, value)
                }
                _ => {
                    target.insert(key, value);
                }
            }
        }
    }
}
