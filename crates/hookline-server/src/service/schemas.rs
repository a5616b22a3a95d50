//! Event schemas: each type's JSON Schema of `data`, compiled once when the
//! catalogue loads, refused at registration when it is not a valid schema
//! (or its example does not match it), and enforced at publish, where a
//! violation answers `422` naming the path and the rule. Only the schema
//! itself is read: no remote or file references are fetched.

use jsonschema::Validator;
use serde_json::Value;

use super::error::{ServiceError, ServiceResult};

/// Compiles `schema`, or says why it is not a usable JSON Schema.
pub(crate) fn compile(schema: &Value) -> Result<Validator, String> {
    if !schema.is_object() {
        return Err("a schema is a JSON object, such as {\"type\": \"object\"}".into());
    }
    jsonschema::validator_for(schema).map_err(|e| {
        let at = e.instance_path().to_string();
        if at.is_empty() {
            e.to_string()
        } else {
            format!("at `{at}`: {e}")
        }
    })
}

/// The first way `data` breaks `schema`, as "at `data.amount`: … (rule `type`)".
pub(crate) fn violation(schema: &Validator, data: &Value) -> Option<String> {
    let error = schema.iter_errors(data).next()?;
    let path: String = error
        .instance_path()
        .to_string()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!(".{}", s.replace("~1", "/").replace("~0", "~")))
        .collect();
    Some(format!(
        "at `data{path}`: {error} (rule `{}`)",
        error.kind().keyword()
    ))
}

/// The rules of a type being registered: a valid schema, and an example
/// that passes it.
pub(crate) fn check_new_type(schema: Option<&Value>, example: Option<&Value>) -> ServiceResult<()> {
    let Some(schema) = schema else {
        return Ok(());
    };
    let compiled = compile(schema).map_err(|e| {
        ServiceError::invalid_field(
            "schema",
            format!("`schema` is not a valid JSON Schema: {e}"),
        )
    })?;
    if let Some(problem) = example.and_then(|example| violation(&compiled, example)) {
        return Err(ServiceError::invalid_field(
            "example",
            format!("`example` does not match `schema`: {problem}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookline_core::catalogue::builtin_event_types;
    use serde_json::json;

    #[test]
    fn every_built_in_example_matches_its_schema() {
        for t in builtin_event_types() {
            let schema = t.schema.as_ref().expect("built-in types have schemas");
            let compiled = compile(schema).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert_eq!(violation(&compiled, &t.example), None, "{}", t.name);
        }
    }

    #[test]
    fn built_in_schemas_refuse_malformed_values_and_name_path_and_rule() {
        let types = builtin_event_types();
        let payment = types
            .iter()
            .find(|t| t.name == "payment.completed")
            .unwrap();
        let compiled = compile(payment.schema.as_ref().unwrap()).unwrap();
        let problem = violation(&compiled, &json!({"amount": -5})).unwrap();
        assert!(problem.starts_with("at `data.amount`:"), "{problem}");
        assert!(problem.ends_with("(rule `anyOf`)"), "{problem}");
        let problem = violation(&compiled, &json!({"currency": "euro"})).unwrap();
        assert!(
            problem.contains("data.currency") && problem.contains("`pattern`"),
            "{problem}"
        );
        let problem = violation(&compiled, &json!({"method": {"last4": 4242}})).unwrap();
        assert!(problem.starts_with("at `data.method.last4`:"), "{problem}");
        assert_eq!(
            violation(&compiled, &json!({"amount": "0.01523", "currency": "USDC"})),
            None
        );
        assert_eq!(violation(&compiled, &json!({"anything": "else"})), None);
    }

    #[test]
    fn invalid_schemas_and_mismatched_examples_are_refused() {
        assert!(compile(&json!({"type": "objekt"})).is_err());
        assert!(compile(&json!({"minimum": "ten"})).is_err());
        assert!(compile(&json!("object")).is_err());
        assert!(
            compile(&json!({"$ref": "https://schemas.example/invoice.json"})).is_err(),
            "remote references are not fetched"
        );
        let schema = json!({"type": "object", "required": ["invoice_id"]});
        assert!(check_new_type(Some(&schema), Some(&json!({"invoice_id": "inv_1"}))).is_ok());
        let refused = check_new_type(Some(&schema), Some(&json!({}))).unwrap_err();
        assert_eq!(refused.field(), Some("example"));
        assert!(
            refused.to_string().contains("(rule `required`)"),
            "{refused}"
        );
        let refused = check_new_type(Some(&json!({"type": 3})), None).unwrap_err();
        assert_eq!(refused.field(), Some("schema"));
    }
}
