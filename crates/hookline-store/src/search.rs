//! The values an event can be found by (docs/adr/0004-event-search.md):
//! its id, and every string and whole number inside its `data`, in
//! document order, the first [`MAX_VALUES`] of 1 to [`MAX_CHARS`]
//! characters. Both backends compute them here, on the caller's task
//! before the publish is queued: SQLite's single writer then only inserts
//! rows (no trigger, no `json_tree`, so no statement journal per publish),
//! and PostgreSQL's publishing statement inserts them beside the event, so
//! the database parses no JSON (until migration 0012 a trigger walked every
//! event's data with `jsonb_path_query`).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Values of one event's `data` that are searchable, at most.
pub(crate) const MAX_VALUES: usize = 64;
/// Longest searchable value, in characters.
pub(crate) const MAX_CHARS: usize = 200;

/// The search tokens of an event: its id, then the values of `data`
/// (repeats removed). `data` that is not JSON yields the id alone.
/// Retention deletes an event's rows by these same tokens, so changing
/// the rule needs a migration that rebuilds `event_search`.
pub(crate) fn tokens(event_id: &str, data: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut de = serde_json::Deserializer::from_str(data);
    if Collect(&mut values).deserialize(&mut de).is_err() {
        values.clear();
    }
    let mut tokens = Vec::with_capacity(values.len() + 1);
    tokens.push(event_id.to_string());
    for value in values {
        if !tokens.contains(&value) {
            tokens.push(value);
        }
    }
    tokens
}

/// Walks a JSON document in order without building it, pushing the
/// searchable values until there are [`MAX_VALUES`].
struct Collect<'a>(&'a mut Vec<String>);

impl Collect<'_> {
    fn push(&mut self, value: String) {
        let chars = value.chars().count();
        if self.0.len() < MAX_VALUES && (1..=MAX_CHARS).contains(&chars) {
            self.0.push(value);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.push(v.to_string());
        Ok(())
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<(), E> {
        self.push(v);
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.push(v.to_string());
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.push(v.to_string());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Collect(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Collect(&mut *self.0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_whole_numbers_in_document_order_after_the_id() {
        let data =
            r#"{"z":"last-key-first","a":{"n":42,"f":1.5,"neg":-7},"l":[true,null,"x"],"e":""}"#;
        assert_eq!(
            tokens("evt_1", data),
            ["evt_1", "last-key-first", "42", "-7", "x"]
        );
    }

    #[test]
    fn repeats_overlong_values_and_the_limit() {
        let long = "y".repeat(MAX_CHARS + 1);
        let exact = "é".repeat(MAX_CHARS);
        let many: Vec<String> = (0..100).map(|i| format!("\"v{i}\"")).collect();
        let data = format!(
            r#"{{"a":"evt_1","b":"{long}","c":"{exact}","d":[{}]}}"#,
            many.join(",")
        );
        let found = tokens("evt_1", &data);
        assert_eq!(found[0], "evt_1");
        assert_eq!(found[1], exact, "200 characters count, not bytes");
        assert!(!found.contains(&long));
        // 64 values were taken (the repeated id among them), then deduplicated.
        assert_eq!(found.len(), MAX_VALUES);
        assert_eq!(found.last().map(String::as_str), Some("v61"));
    }

    /// The rule SQLite's trigger applied before (migration 0003), which
    /// PostgreSQL's still does: the same values in the same order.
    #[test]
    fn the_same_values_as_json_tree() {
        let data = r#"{"payment":{"id":"pay_1","amount":12345,"fee":0.3,"tags":["a","b",7]},"b":"é","none":null,"t":true}"#;
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let mut stmt = db
            .prepare(
                "SELECT CAST(value AS TEXT) FROM json_tree(?1) WHERE type IN ('text', 'integer') \
                 AND length(CAST(value AS TEXT)) BETWEEN 1 AND 200 LIMIT 64",
            )
            .unwrap();
        let sql: Vec<String> = stmt
            .query_map([data], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut expected = vec!["evt_1".to_string()];
        expected.extend(sql);
        assert_eq!(tokens("evt_1", data), expected);
        // Beyond 64 bits SQLite's CAST gave `1.84467440737096e+19`; the
        // whole number is kept, as PostgreSQL's rule does.
        assert_eq!(
            tokens("evt_1", r#"{"big":18446744073709551615}"#),
            ["evt_1", "18446744073709551615"]
        );
    }

    #[test]
    fn data_that_is_not_json_is_found_by_id_only() {
        assert_eq!(tokens("evt_1", "{not json"), ["evt_1"]);
    }
}
