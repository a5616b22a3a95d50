//! Payload filters: which events an endpoint receives, beyond their type.
//!
//! A filter is a JSON object of conditions on the webhook as delivered,
//! `{"type": …, "data": {…}}`, in a small MongoDB-like language: a path
//! (`"type"`, `"data.customer.country"`) maps to a value (equality) or to
//! operators (`$ne`, `$in`, `$nin`, `$gt`, `$gte`, `$lt`, `$lte`,
//! `$exists`); several conditions all have to hold; `$and` and `$or` take
//! lists of filters. [`Filter::parse`] checks everything once, answering an
//! error that points at the bad part; [`Filter::matches`] never fails.
//! Pure: the store evaluates it while fanning out an event.
//!
//! ```
//! use hookline_core::filter::Filter;
//! use serde_json::json;
//!
//! let big_euro = Filter::parse(&json!({
//!     "data.amount": {"$gte": 10000},
//!     "data.currency": "EUR"
//! })).unwrap();
//! assert!(big_euro.matches("payment.completed", &json!({"amount": 25000, "currency": "EUR"})));
//! assert!(!big_euro.matches("payment.completed", &json!({"amount": 999, "currency": "EUR"})));
//! let err = Filter::parse(&json!({"data.amount": {"$gte": "10000"}})).unwrap_err();
//! assert_eq!(err.at, "data.amount.$gte");
//! ```

use std::fmt;

use serde_json::{Map, Value};

/// Most conditions one filter may hold, so a filter stays cheap to run on
/// every publish.
pub const MAX_CONDITIONS: usize = 64;
/// Deepest nesting of `$and`/`$or`.
pub const MAX_DEPTH: usize = 8;
/// Longest filter, as compact JSON.
pub const MAX_BYTES: usize = 8 * 1024;

const OPERATORS: &str =
    "$ne, $in, $nin, $gt, $gte, $lt, $lte, $exists (or a plain value for equality)";

/// A checked filter, kept with the JSON it was written as.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    source: Value,
    root: Vec<Node>,
}

/// Why a filter was refused: `at` is the path to the bad part
/// (`$or[1].data.amount.$gte`), `message` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at `{at}`: {message}")]
pub struct FilterError {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Vec<Node>>),
    Or(Vec<Vec<Node>>),
    Field(Subject, Vec<Test>),
}

/// What a path names.
#[derive(Debug, Clone, PartialEq)]
enum Subject {
    Type,
    /// Segments below `data` (empty: `data` itself).
    Data(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists(bool),
}

impl Filter {
    /// Checks `source`, answering where and why it is wrong.
    pub fn parse(source: &Value) -> Result<Filter, FilterError> {
        if source.to_string().len() > MAX_BYTES {
            return Err(error(
                "",
                format!("a filter is limited to {MAX_BYTES} bytes of JSON"),
            ));
        }
        let mut budget = Budget { conditions: 0 };
        let root = parse_object(source, "", 0, &mut budget)?;
        Ok(Filter {
            source: source.clone(),
            root,
        })
    }

    /// The filter as written.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Whether an event of `event_type` with `data` passes.
    pub fn matches(&self, event_type: &str, data: &Value) -> bool {
        all(&self.root, event_type, data)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)
    }
}

struct Budget {
    conditions: usize,
}

fn error(at: &str, message: impl Into<String>) -> FilterError {
    FilterError {
        at: at.to_string(),
        message: message.into(),
    }
}

fn join(at: &str, part: &str) -> String {
    if at.is_empty() {
        part.to_string()
    } else {
        format!("{at}.{part}")
    }
}

fn parse_object(
    value: &Value,
    at: &str,
    depth: usize,
    budget: &mut Budget,
) -> Result<Vec<Node>, FilterError> {
    let Value::Object(map) = value else {
        return Err(error(
            at,
            "a filter is a JSON object of conditions, such as {\"data.currency\": \"EUR\"}",
        ));
    };
    if depth > MAX_DEPTH {
        return Err(error(at, format!("$and/$or nest at most {MAX_DEPTH} deep")));
    }
    let mut nodes = Vec::with_capacity(map.len());
    for (key, value) in map {
        budget.conditions += 1;
        if budget.conditions > MAX_CONDITIONS {
            return Err(error(
                at,
                format!("a filter holds at most {MAX_CONDITIONS} conditions"),
            ));
        }
        let here = join(at, key);
        let node = match key.as_str() {
            "$and" => Node::And(parse_list(value, &here, depth, budget)?),
            "$or" => Node::Or(parse_list(value, &here, depth, budget)?),
            k if k.starts_with('$') => {
                return Err(error(&here, format!("unknown operator `{k}` here: a filter's keys are paths (`type`, `data.…`) or $and/$or")));
            }
            path => Node::Field(parse_path(path, &here)?, parse_tests(value, &here)?),
        };
        nodes.push(node);
    }
    Ok(nodes)
}

fn parse_list(
    value: &Value,
    at: &str,
    depth: usize,
    budget: &mut Budget,
) -> Result<Vec<Vec<Node>>, FilterError> {
    match value {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_object(item, &format!("{at}[{i}]"), depth + 1, budget))
            .collect(),
        _ => Err(error(at, "takes a non-empty list of filters, such as [{\"data.currency\": \"EUR\"}, {\"data.currency\": \"USD\"}]")),
    }
}

fn parse_path(path: &str, at: &str) -> Result<Subject, FilterError> {
    if path == "type" {
        return Ok(Subject::Type);
    }
    let below = match path.strip_prefix("data") {
        Some("") => return Ok(Subject::Data(Vec::new())),
        Some(rest) => rest.strip_prefix('.'),
        None => None,
    };
    let Some(below) = below else {
        return Err(error(at, format!("a path is `type` or starts with `data.` (the event's data): did you mean `data.{path}`?")));
    };
    let segments: Vec<String> = below.split('.').map(str::to_string).collect();
    if segments.iter().any(String::is_empty) {
        return Err(error(
            at,
            "a path has an empty segment: use `data.a.b`, without doubled or trailing dots",
        ));
    }
    Ok(Subject::Data(segments))
}

fn parse_tests(value: &Value, at: &str) -> Result<Vec<Test>, FilterError> {
    let Value::Object(map) = value else {
        return Ok(vec![Test::Eq(value.clone())]);
    };
    let operators = map.keys().filter(|k| k.starts_with('$')).count();
    if operators == 0 {
        // An object without operators is a value to compare with.
        return Ok(vec![Test::Eq(value.clone())]);
    }
    if operators != map.len() {
        return Err(error(at, "mixes operators and fields: write either {\"$gte\": 1} or a plain object to compare with"));
    }
    map.iter()
        .map(|(op, operand)| parse_test(op, operand, &join(at, op)))
        .collect()
}

fn parse_test(op: &str, operand: &Value, at: &str) -> Result<Test, FilterError> {
    let number = || {
        operand.as_f64().ok_or_else(|| {
            error(
                at,
                format!("compares numbers: give a number, not {operand}"),
            )
        })
    };
    let list = || match operand {
        Value::Array(items) => Ok(items.clone()),
        _ => Err(error(
            at,
            format!("takes a list of values, such as [\"EUR\", \"USD\"], not {operand}"),
        )),
    };
    Ok(match op {
        "$eq" => Test::Eq(operand.clone()),
        "$ne" => Test::Ne(operand.clone()),
        "$in" => Test::In(list()?),
        "$nin" => Test::Nin(list()?),
        "$gt" => Test::Gt(number()?),
        "$gte" => Test::Gte(number()?),
        "$lt" => Test::Lt(number()?),
        "$lte" => Test::Lte(number()?),
        "$exists" => Test::Exists(
            operand
                .as_bool()
                .ok_or_else(|| error(at, "takes true or false"))?,
        ),
        _ => {
            return Err(error(
                at,
                format!("unknown operator `{op}`; known: {OPERATORS}"),
            ))
        }
    })
}

fn all(nodes: &[Node], event_type: &str, data: &Value) -> bool {
    nodes.iter().all(|node| match node {
        Node::And(lists) => lists.iter().all(|n| all(n, event_type, data)),
        Node::Or(lists) => lists.iter().any(|n| all(n, event_type, data)),
        Node::Field(subject, tests) => {
            let type_value;
            let found = match subject {
                Subject::Type => {
                    type_value = Value::from(event_type);
                    Some(&type_value)
                }
                Subject::Data(segments) => lookup(data, segments),
            };
            tests.iter().all(|test| passes(test, found))
        }
    })
}

/// The value at `segments` below `data`; a numeric segment indexes a list.
fn lookup<'a>(data: &'a Value, segments: &[String]) -> Option<&'a Value> {
    segments
        .iter()
        .try_fold(data, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn passes(test: &Test, found: Option<&Value>) -> bool {
    let number = found.and_then(Value::as_f64);
    match test {
        Test::Eq(want) => found.is_some_and(|v| same(v, want)),
        Test::Ne(want) => !found.is_some_and(|v| same(v, want)),
        Test::In(list) => found.is_some_and(|v| list.iter().any(|w| same(v, w))),
        Test::Nin(list) => !found.is_some_and(|v| list.iter().any(|w| same(v, w))),
        Test::Gt(n) => number.is_some_and(|v| v > *n),
        Test::Gte(n) => number.is_some_and(|v| v >= *n),
        Test::Lt(n) => number.is_some_and(|v| v < *n),
        Test::Lte(n) => number.is_some_and(|v| v <= *n),
        Test::Exists(want) => found.is_some() == *want,
    }
}

/// JSON equality in which `10000` and `10000.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_objects(x, y),
        _ => a == b,
    }
}

fn same_objects(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payment() -> Value {
        json!({
            "amount": 25000,
            "currency": "EUR",
            "status": "completed",
            "refunded": null,
            "method": {"type": "card", "brand": "visa"},
            "customer": {"country": "DE", "tags": ["vip", "b2b"]},
            "items": [{"sku": "A-1", "qty": 2}]
        })
    }

    fn check(filter: Value) -> bool {
        Filter::parse(&filter)
            .unwrap()
            .matches("payment.completed", &payment())
    }

    #[test]
    fn equality_on_type_and_nested_paths() {
        assert!(check(json!({})));
        assert!(check(json!({"type": "payment.completed"})));
        assert!(!check(json!({"type": "refund.completed"})));
        assert!(check(json!({"data.customer.country": "DE"})));
        assert!(!check(json!({"data.customer.country": "FR"})));
        assert!(check(
            json!({"data.method": {"type": "card", "brand": "visa"}})
        ));
        assert!(!check(json!({"data.method": {"type": "card"}})));
        assert!(check(json!({"data.items.0.sku": "A-1"})));
        assert!(!check(json!({"data.items.1.sku": "A-1"})));
        assert!(
            check(json!({"data.amount": 25000.0})),
            "numbers compare by value"
        );
        assert!(check(json!({"data.refunded": null})));
        assert!(check(json!({"data.customer.tags": ["vip", "b2b"]})));
        assert!(check(json!({"data.amount": {"$eq": 25000}})));
    }

    #[test]
    fn operators() {
        assert!(check(json!({"data.currency": {"$ne": "USD"}})));
        assert!(!check(json!({"data.currency": {"$ne": "EUR"}})));
        assert!(
            check(json!({"data.missing": {"$ne": "EUR"}})),
            "$ne matches a missing field"
        );
        assert!(check(json!({"data.currency": {"$in": ["USD", "EUR"]}})));
        assert!(!check(json!({"data.currency": {"$in": ["USD", "GBP"]}})));
        assert!(!check(json!({"data.currency": {"$nin": ["USD", "EUR"]}})));
        assert!(check(json!({"data.missing": {"$nin": ["USD"]}})));
        assert!(check(json!({"data.amount": {"$gt": 10000, "$lte": 25000}})));
        assert!(!check(json!({"data.amount": {"$gt": 25000}})));
        assert!(check(json!({"data.amount": {"$gte": 25000}})));
        assert!(check(json!({"data.amount": {"$lt": 25000.5}})));
        assert!(!check(json!({"data.amount": {"$lt": 25000}})));
        assert!(
            !check(json!({"data.currency": {"$gt": 1}})),
            "a string is not a number"
        );
        assert!(!check(json!({"data.missing": {"$lt": 1}})));
        assert!(
            check(json!({"data.refunded": {"$exists": true}})),
            "null exists"
        );
        assert!(check(json!({"data.nope": {"$exists": false}})));
        assert!(!check(json!({"data.amount": {"$exists": false}})));
    }

    #[test]
    fn and_or_and_implicit_and() {
        let big_eu = json!({"data.amount": {"$gte": 10000}, "data.currency": "EUR"});
        assert!(check(big_eu));
        assert!(!check(
            json!({"data.amount": {"$gte": 10000}, "data.currency": "USD"})
        ));
        assert!(check(
            json!({"$or": [{"data.currency": "USD"}, {"data.customer.country": "DE"}]})
        ));
        assert!(!check(
            json!({"$or": [{"data.currency": "USD"}, {"type": "refund.completed"}]})
        ));
        assert!(check(
            json!({"$and": [{"data.currency": "EUR"}, {"$or": [{"data.amount": {"$lt": 0}}, {"data.method.type": "card"}]}]})
        ));
        assert!(!check(
            json!({"$and": [{"data.currency": "EUR"}, {"data.status": "failed"}]})
        ));
    }

    #[test]
    fn data_that_is_not_an_object_simply_does_not_match() {
        let f = Filter::parse(&json!({"data.a": 1})).unwrap();
        assert!(!f.matches("x.y", &json!([1, 2])));
        assert!(!f.matches("x.y", &json!("text")));
        let whole = Filter::parse(&json!({"data": {"a": 1}})).unwrap();
        assert!(whole.matches("x.y", &json!({"a": 1})));
    }

    fn refused(filter: Value) -> FilterError {
        Filter::parse(&filter).unwrap_err()
    }

    #[test]
    fn errors_point_at_the_bad_part() {
        let e = refused(json!({"customer.country": "DE"}));
        assert_eq!(e.at, "customer.country");
        assert!(
            e.message.contains("did you mean `data.customer.country`"),
            "{e}"
        );
        let e = refused(json!({"data.amount": {"$gte": "10000"}}));
        assert_eq!(e.at, "data.amount.$gte");
        assert!(e.message.contains("numbers"));
        let e = refused(json!({"$or": [{"data.a": 1}, {"data.b": {"$between": [1, 2]}}]}));
        assert_eq!(e.at, "$or[1].data.b.$between");
        assert!(e.message.contains("unknown operator"));
        let e = refused(json!({"$or": []}));
        assert_eq!(e.at, "$or");
        let e = refused(json!({"$or": [1]}));
        assert_eq!(e.at, "$or[0]");
        assert_eq!(refused(json!({"data.a": {"$in": "EUR"}})).at, "data.a.$in");
        assert_eq!(
            refused(json!({"data.a": {"$exists": 1}})).at,
            "data.a.$exists"
        );
        assert_eq!(refused(json!({"data.a": {"$gt": 1, "b": 2}})).at, "data.a");
        assert_eq!(refused(json!({"data..a": 1})).at, "data..a");
        assert_eq!(refused(json!({"$where": "1"})).at, "$where");
        assert_eq!(refused(json!({"datamount": 1})).at, "datamount");
        assert_eq!(refused(json!(["data.a"])).at, "");
        assert!(refused(json!({"data.a": {"$gt": "x"}}))
            .to_string()
            .starts_with("at `data.a.$gt`: compares numbers"));
    }

    #[test]
    fn filters_are_bounded() {
        let mut many = Map::new();
        for i in 0..=MAX_CONDITIONS {
            many.insert(format!("data.f{i}"), json!(i));
        }
        assert!(refused(Value::Object(many)).message.contains("at most"));
        let mut deep = json!({"data.a": 1});
        for _ in 0..=MAX_DEPTH {
            deep = json!({"$and": [deep]});
        }
        assert!(refused(deep).message.contains("nest"));
        let long = json!({"data.a": "x".repeat(MAX_BYTES)});
        assert!(refused(long).message.contains("bytes"));
    }

    #[test]
    fn the_source_is_kept_as_written() {
        let source = json!({"data.currency": {"$in": ["EUR"]}});
        let f = Filter::parse(&source).unwrap();
        assert_eq!(f.source(), &source);
        assert_eq!(Filter::parse(f.source()).unwrap(), f);
    }
}
