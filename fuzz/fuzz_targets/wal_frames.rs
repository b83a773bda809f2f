//! cargo-fuzz target `wal_frames`: libFuzzer drives `folio_tests::fuzz::wal_frames`, compiled here from
//! the same file (`tests/src/fuzz.rs`) that CI replays the corpus through on stable.
#![no_main]

#[path = "../../tests/src/fuzz.rs"]
#[allow(dead_code)]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::wal_frames(data));
