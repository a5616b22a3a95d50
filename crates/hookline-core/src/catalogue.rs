//! The built-in event types of a payment platform, each with an example.
//!
//! Examples are realistic payloads: test sends and `hookline trigger` deliver
//! them, and the dashboard shows them. Each type has a JSON Schema of its
//! `data` that publishing enforces: it checks the types and formats of the
//! fields a payment platform sends (an amount is a non-negative integer in
//! minor units or a decimal string, a currency is an upper-case code, …) and
//! leaves the presence of fields and any other field to the platform, so a
//! malformed value is refused at once without forcing one shape on every
//! backend. Custom types registered through the API live in the store
//! beside these, with schemas of their own.

use serde_json::{json, Value};

use crate::EventType;

/// The built-in catalogue, in a stable order.
pub fn builtin_event_types() -> Vec<EventType> {
    let payment = |status: &str| {
        json!({
            "payment_id": "pay_3MtwBwLkdIwHu7ix",
            "order_id": "order_10452",
            "amount": 4999,
            "currency": "USD",
            "status": status,
            "method": {"type": "card", "brand": "visa", "last4": "4242"},
            "customer_id": "cus_NffrFeUfNV2Hib",
            "created_at": "2026-11-25T09:30:00Z"
        })
    };
    let refund = |status: &str| {
        json!({
            "refund_id": "re_1Nispe2eZvKYlo2C",
            "payment_id": "pay_3MtwBwLkdIwHu7ix",
            "amount": 1500,
            "currency": "USD",
            "reason": "requested_by_customer",
            "status": status
        })
    };
    let customer = |email: &str| {
        json!({
            "customer_id": "cus_NffrFeUfNV2Hib",
            "email": email,
            "name": "Jenny Rosen",
            "country": "DE",
            "metadata": {"crm_id": "6735"}
        })
    };
    let mut failed = payment("failed");
    failed["failure"] = json!({"code": "card_declined", "message": "The card was declined."});
    let confirmed = json!({
        "payment_id": "pay_9Kc2xQ7mZsL1",
        "order_id": "order_10453",
        "amount": "0.01523",
        "currency": "BTC",
        "status": "confirmed",
        "network": "bitcoin",
        "tx_hash": "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
        "confirmations": 6,
        "block_height": 871204
    });
    let mut refund_confirmed = refund("confirmed");
    refund_confirmed["tx_hash"] =
        json!("9b0fc92260312ce44e74ef369f5c66bbb85848f2eddd5a7a1cde251e54ccfdd5");
    refund_confirmed["confirmations"] = json!(3);
    let chargeback = json!({
        "transaction_id": "txn_1MqqbKLt4dXK03v5",
        "payment_id": "pay_3MtwBwLkdIwHu7ix",
        "change": "chargeback",
        "status": "disputed",
        "amount": 4999,
        "currency": "USD",
        "dispute": {"reason": "fraudulent", "evidence_due_by": "2026-12-09T23:59:59Z"}
    });

    let entries: [(&str, &str, Value); 9] = [
        (
            "payment.completed",
            "A payment succeeded and the funds are captured.",
            payment("completed"),
        ),
        (
            "payment.failed",
            "A payment attempt failed; the failure says why.",
            failed,
        ),
        (
            "payment.confirmed",
            "A crypto payment reached the required confirmations on the blockchain.",
            confirmed,
        ),
        (
            "refund.initiated",
            "A refund was requested and is being processed.",
            refund("initiated"),
        ),
        (
            "refund.completed",
            "A refund was paid out.",
            refund("completed"),
        ),
        (
            "refund.confirmed",
            "A crypto refund was confirmed on the blockchain.",
            refund_confirmed,
        ),
        (
            "customer.created",
            "A customer was created.",
            customer("jenny.rosen@example.com"),
        ),
        (
            "customer.updated",
            "A customer's details changed.",
            customer("jenny@rosen.example"),
        ),
        (
            "transaction.updated",
            "A transaction changed after the fact, e.g. a chargeback.",
            chargeback,
        ),
    ];
    entries
        .into_iter()
        .map(|(name, description, example)| EventType {
            schema: Some(schema_of(name)),
            name: name.to_string(),
            description: description.to_string(),
            example,
            created_at: None,
        })
        .collect()
}

/// The JSON Schema of a built-in type's `data`.
fn schema_of(name: &str) -> Value {
    let text = json!({"type": "string", "minLength": 1});
    let count = json!({"type": "integer", "minimum": 0});
    let time = json!({"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}T"});
    let hash = json!({"type": "string", "pattern": "^(0x)?[0-9a-fA-F]+$"});
    let amount = json!({"anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": "^\\d+(\\.\\d+)?$"}
    ]});
    let currency = json!({"type": "string", "pattern": "^[A-Z]{3,5}$"});
    let properties = match name.split('.').next() {
        Some("payment") => json!({
            "payment_id": text, "order_id": text, "amount": amount, "currency": currency,
            "status": text, "customer_id": text, "created_at": time,
            "method": {"type": "object", "properties": {"type": text, "brand": text,
                "last4": {"type": "string", "pattern": "^\\d{4}$"}}},
            "failure": {"type": "object", "properties": {"code": text, "message": {"type": "string"}}},
            "network": text, "tx_hash": hash, "confirmations": count, "block_height": count
        }),
        Some("refund") => json!({
            "refund_id": text, "payment_id": text, "amount": amount, "currency": currency,
            "reason": text, "status": text, "tx_hash": hash, "confirmations": count
        }),
        Some("customer") => json!({
            "customer_id": text, "name": {"type": "string"},
            "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
            "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "metadata": {"type": "object"}
        }),
        _ => json!({
            "transaction_id": text, "payment_id": text, "change": text, "status": text,
            "amount": amount, "currency": currency,
            "dispute": {"type": "object", "properties": {"reason": text, "evidence_due_by": time}}
        }),
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties
    })
}

/// Whether `name` is an acceptable event type name: `word.word`, lowercase,
/// digits and underscores, at most 100 characters.
pub fn is_valid_type_name(name: &str) -> bool {
    name.len() <= 100
        && name.contains('.')
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_every_contract_type_with_an_object_example() {
        let types = builtin_event_types();
        assert_eq!(types.len(), 9);
        for t in &types {
            assert!(is_valid_type_name(&t.name), "{}", t.name);
            assert!(t.example.is_object());
        }
    }

    #[test]
    fn type_names_are_checked() {
        assert!(is_valid_type_name("invoice.paid"));
        assert!(!is_valid_type_name("Invoice.Paid"));
        assert!(!is_valid_type_name("invoice"));
        assert!(!is_valid_type_name("invoice..paid"));
    }
}
