//! Tests of the loom runner's output reading.

use super::{passed_in, MODELS};

#[test]
fn passed_count_is_read_from_libtest_summaries() {
    let ok = "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; \
              finished in 1.20s\n";
    assert_eq!(passed_in(ok), Some(3));
    let failed = "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured";
    assert_eq!(passed_in(failed), Some(1));
    assert_eq!(passed_in("test result: ok. 0 passed; 0 failed;"), Some(0));
    assert_eq!(passed_in("running 3 tests"), None);
    assert_eq!(passed_in("test models::header_retry ... ok"), None);
}

#[test]
fn every_listed_model_file_exists_and_is_a_loom_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    for expected in ["folio-vfs", "folio-asyncio", "folio-wal"] {
        assert!(MODELS.iter().any(|&(package, _)| package == expected), "{expected} is listed");
    }
    for &(package, tests) in MODELS {
        let text = std::fs::read_to_string(root.join(tests))
            .unwrap_or_else(|e| panic!("{package}: cannot read {tests}: {e}"));
        assert!(text.contains("#![cfg(loom)]"), "{tests} is not gated on cfg(loom)");
        assert!(text.contains("loom::model"), "{tests} holds no loom model");
    }
}
