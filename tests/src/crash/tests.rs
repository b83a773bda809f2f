//! The oracle's rules on hand-made states: which recovered states each [`Durability`] accepts,
//! and how it names what it accepts.

use super::{durable_prefix, judge, Durability, Outcome};

/// States after 0..=5 steps; step 3 changed nothing (a checkpoint, say).
const STATES: [u32; 6] = [10, 11, 12, 12, 13, 14];

fn verdict(state: u32, acked: usize, durability: Durability, durable: usize) -> Option<Outcome> {
    judge(&STATES, Ok(state), acked, durability, durable).ok()
}

#[test]
fn full_durability_accepts_the_acknowledged_state_or_the_one_in_flight() {
    assert_eq!(verdict(13, 4, Durability::Full, 0), Some(Outcome::Kept));
    assert_eq!(verdict(14, 4, Durability::Full, 0), Some(Outcome::Kept));
    assert_eq!(verdict(12, 4, Durability::Full, 0), None);
    assert_eq!(verdict(99, 4, Durability::Full, 0), None);
}

#[test]
fn last_commit_may_be_lost_skips_steps_that_changed_nothing() {
    // Acknowledged 4: the last change is step 4 (12 -> 13); losing it gives 12.
    assert_eq!(verdict(12, 4, Durability::LastCommitMayBeLost, 0), Some(Outcome::AllowedLoss));
    assert_eq!(verdict(11, 4, Durability::LastCommitMayBeLost, 0), None);
    // Acknowledged 3 (step 3 changed nothing): the last change is step 2 (11 -> 12).
    assert_eq!(verdict(11, 3, Durability::LastCommitMayBeLost, 0), Some(Outcome::AllowedLoss));
    assert_eq!(verdict(10, 3, Durability::LastCommitMayBeLost, 0), None);
}

#[test]
fn tail_may_be_lost_keeps_everything_up_to_the_last_durability_point() {
    let tail = Durability::TailMayBeLost;
    // Nothing durable yet: any prefix up to the step in flight.
    for state in [10, 11, 12, 13, 14] {
        assert!(verdict(state, 4, tail, 0).is_some(), "{state}");
    }
    assert_eq!(verdict(10, 4, tail, 0), Some(Outcome::AllowedLoss));
    assert_eq!(verdict(13, 4, tail, 0), Some(Outcome::Kept));
    // Steps 1..=2 durable: losing them is a violation, losing 3 and 4 is not.
    assert_eq!(verdict(11, 4, tail, 2), None);
    assert_eq!(verdict(12, 4, tail, 2), Some(Outcome::AllowedLoss));
    // Everything acknowledged durable: as strict as full durability.
    assert_eq!(verdict(12, 4, tail, 4), None);
    assert_eq!(verdict(13, 4, tail, 4), Some(Outcome::Kept));
    // Never a state that is no prefix's, nor one past the step in flight.
    assert_eq!(verdict(99, 4, tail, 0), None);
    assert_eq!(verdict(14, 3, tail, 0), None);
    // A failed recovery is a violation whatever is promised.
    assert!(judge(&STATES, Err("torn".into()), 4, tail, 0).is_err());
}

#[test]
fn a_violation_says_what_was_lost() {
    let lost = judge(&STATES, Ok(11), 4, Durability::TailMayBeLost, 2).unwrap_err();
    assert!(lost.contains("after 1 steps, but 4 were acknowledged (allowed 2..=5)"), "{lost}");
    let garbage = judge(&STATES, Ok(99), 4, Durability::TailMayBeLost, 2).unwrap_err();
    assert!(garbage.contains("no committed prefix"), "{garbage}");
}

#[test]
fn the_durable_prefix_ends_at_the_last_acknowledged_durability_point() {
    let points = [false, true, false, true, false];
    assert_eq!(durable_prefix(points, 0), 0);
    assert_eq!(durable_prefix(points, 1), 0);
    assert_eq!(durable_prefix(points, 2), 2);
    // A point not acknowledged (step 4) makes nothing durable.
    assert_eq!(durable_prefix(points, 3), 2);
    assert_eq!(durable_prefix(points, 4), 4);
    assert_eq!(durable_prefix(points, 5), 4);
    assert_eq!(durable_prefix([false; 3], 3), 0);
}

/// A subject whose every workload is empty: nothing to write, no crash point.
struct Idle;

impl super::Subject for Idle {
    type State = u32;
    type Step = ();

    fn workload(&self, _rng: &mut folio_vfs::sim::Rng) -> Vec<()> {
        Vec::new()
    }
    fn initial_state(&self) -> u32 {
        0
    }
    fn model_apply(&self, state: &u32, _step: &()) -> u32 {
        *state
    }
    fn setup(&self, _vfs: &folio_vfs::sim::SimVfs) -> Result<(), String> {
        Ok(())
    }
    fn run_step(&self, _vfs: &folio_vfs::sim::SimVfs, _step: &()) -> Result<(), folio_vfs::Error> {
        Ok(())
    }
    fn recover(&self, _vfs: &folio_vfs::sim::SimVfs) -> Result<u32, String> {
        Ok(0)
    }
    fn durability(&self) -> Durability {
        Durability::Full
    }
}

#[test]
fn a_workload_without_io_has_no_crash_point_and_the_sampler_draws_again() {
    // The long run once died here: a sampled workload that wrote nothing panicked the harness.
    assert!(matches!(super::run_one(&Idle, 0x1234_5678), Ok(Outcome::NoCrashPoint)));
    let mut rng = folio_vfs::sim::Rng::new(7);
    let report = super::sample_for(&Idle, &mut rng, std::time::Duration::from_millis(20));
    assert_eq!((report.runs, report.violations.len()), (0, 0), "no run is counted");
    assert_eq!(super::sweep(&Idle, 1, 3).runs, 0);
}
