//! The crash harness proving itself on the toy commit protocol (`folio_tests::crash::toy`):
//! the correct protocol survives every crash point and every injected I/O error; the canary,
//! missing one sync, is caught within CI's budget; a run seed replays bit for bit.
//!
//! Budget knobs (read by `cargo xtask crash`): `FOLIO_CRASH_SEEDS` (workloads swept
//! exhaustively, CI default 4), `FOLIO_CRASH_MINUTES` (extra sampled runs), `FOLIO_SEED`
//! (replay one run seed and nothing else).

use folio_tests::crash::toy::ToyStore;
use folio_tests::crash::{self, Report};
use folio_vfs::sim::Rng;

/// The CI budget of workloads swept over every crash point.
const CI_SEEDS: u64 = 4;

#[test]
fn the_correct_protocol_survives_every_crash_point() {
    let store = ToyStore::correct();
    if std::env::var("FOLIO_SEED").is_ok() {
        let seed = folio_vfs::seed::from_env_or(0);
        eprintln!("replaying run seed {seed:#x}");
        crash::run_one(&store, seed).unwrap_or_else(|v| panic!("{v}"));
        return;
    }
    let first = 0x701d;
    let seeds = crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(CI_SEEDS);
    let mut report = crash::sweep(&store, first, seeds);
    if let Some(budget) = crash::sample_budget(0.05) {
        let mut rng = Rng::new(folio_vfs::seed::from_env_or(0x005a_4d9e));
        report.merge(crash::sample_for(&store, &mut rng, budget));
    }
    let cell = crash::Cell {
        suite: "toy",
        subject: "toy",
        mode: "-".to_string(),
        sync: "-".to_string(),
        device: "NoPsow/-".to_string(),
    };
    crash::print_report(&cell, &report);
    report.assert_clean("correct toy protocol");
    assert!(report.runs > 20 * seeds, "suspiciously few crash points: {}", report.runs);
}

#[test]
fn the_canary_missing_one_sync_is_caught_within_the_ci_budget() {
    let report: Report = crash::sweep(&ToyStore::broken(), 0x701d, CI_SEEDS);
    eprintln!(
        "canary: {} crash runs, {} violations; first: {}",
        report.runs,
        report.violations.len(),
        report.violations.first().map(ToString::to_string).unwrap_or_default()
    );
    let first = report.violations.first().expect("the harness missed the missing sync");
    // The reported seed replays the same violation.
    let again = crash::run_one(&ToyStore::broken(), first.run_seed).expect_err("replay");
    assert_eq!(again.detail, first.detail);
    // And the same run on the correct protocol is fine: the sync is what was missing.
    crash::run_one(&ToyStore::correct(), first.run_seed).unwrap_or_else(|v| panic!("{v}"));
}

#[test]
fn single_page_journaling_on_a_device_without_powersafe_overwrite_is_caught() {
    // Torn writes there garble whole 4096-byte sectors, including 512-byte pages the toy never
    // journaled: the reason SQLite journals whole sectors on such devices.
    let store = ToyStore { device: folio_vfs::DeviceCharacteristics::NONE, ..ToyStore::correct() };
    let report = crash::sweep(&store, 0x701d, CI_SEEDS);
    assert!(!report.violations.is_empty(), "{} runs found nothing", report.runs);
}

#[test]
fn a_run_seed_replays_the_same_crash_image_byte_for_byte() {
    let store = ToyStore::correct();
    let mut digests = std::collections::BTreeSet::new();
    for point in [3, 11, 17, 25] {
        let seed = crash::run_seed(0xbeef, point);
        let a = crash::crash_image(&store, seed);
        let b = crash::crash_image(&store, seed);
        assert_eq!(a, b, "run seed {seed:#x} gave two different images");
        digests.insert(a.digest());
    }
    assert!(digests.len() > 1, "different crash points gave identical images");
}

#[test]
fn the_correct_protocol_survives_an_io_error_at_every_operation() {
    let report = crash::fault_sweeps(&ToyStore::correct(), 0xfa17, 2);
    eprintln!("toy protocol: {} fault runs, {} violations", report.runs, report.violations.len());
    assert!(report.runs > 50, "suspiciously few fault points: {}", report.runs);
    report.assert_clean("correct toy protocol under I/O errors");
}
