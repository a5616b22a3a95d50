//! Property test: verification answers `Ok` or `Err` for any input, never panics.

use hookline_verify::{verify, Headers, Options, Secret};
use proptest::prelude::*;

proptest! {
    #[test]
    fn verify_never_panics(
        id in proptest::option::of(".{0,40}"),
        timestamp in proptest::option::of(prop_oneof![".{0,20}", any::<i64>().prop_map(|t| t.to_string())]),
        signature in proptest::option::of(prop_oneof![".{0,200}", "(v1,[A-Za-z0-9+/=]{0,60} ?){0,4}"]),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        key in proptest::collection::vec(any::<u8>(), 0..80),
        now in any::<i64>(),
        tolerance in any::<u64>(),
    ) {
        let headers = Headers { id, timestamp, signature };
        let options = Options { now: Some(now), tolerance_secs: tolerance };
        let _ = verify(&[Secret::from_bytes(&key)], &headers, &body, &options);
    }

    #[test]
    fn secret_parsing_never_panics(text in ".{0,120}") {
        let _ = Secret::parse(&text);
    }
}
