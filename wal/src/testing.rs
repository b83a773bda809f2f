//! Seeded randomness for this crate's unit tests: every random test draws from one seed
//! (`FOLIO_SEED` replays it) and names the seed when it fails.

use folio_vfs::rng::Rng;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The run's seed: `FOLIO_SEED`, or one derived from the clock (printed either way).
pub fn seed(test: &str) -> u64 {
    folio_vfs::seed::announce(test)
}

/// A generator for `test`, seeded and announced.
pub fn rng(test: &str) -> (u64, Rng) {
    let seed = seed(test);
    (seed, Rng::new(seed))
}

/// Runs a proptest property from the run's seed; a failure names the seed and the minimal
/// failing input.
pub fn check<S: Strategy>(
    test: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), proptest::test_runner::TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seed = seed(test);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    if let Err(e) = runner.run(&strategy, property) {
        panic!("{test} failed with FOLIO_SEED={}: {e}", folio_vfs::seed::show(seed));
    }
}
