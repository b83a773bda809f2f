//! The toy commit protocol (`folio_tests::crash::toy`) run through folio-asyncio's `AsyncVfs`
//! on the simulated disk: the application runs ahead of the writer thread, the power is cut at
//! a write or a sync the writer issues, and after a reboot the store must hold a committed
//! prefix that includes every step at or before the durability watermark the `AsyncVfs`
//! reported before the crash. The same with an I/O error injected at every operation instead
//! of a crash: what is queued behind the error must not be applied (a journal delete behind a
//! failed database write would leave a half-written database without its journal).
//!
//! The async VFS gives up durability: acknowledged steps may be lost, but never past the
//! watermark. Interleavings of the application and the writer vary from run to run; the run
//! seed fixes the workload, the crash point and the artificial delay.
//!
//! Budget: `FOLIO_CRASH_SEEDS` workloads (CI: 3), each crashed at every write and sync the
//! async run issues and faulted at every operation. `FOLIO_SEED=<run seed>` replays one run.

use folio_asyncio::{AsyncVfs, Options, Seq};
use folio_tests::crash::toy::{Pages, Step, ToyStore};
use folio_tests::crash::{run_seed, Report, Subject, Violation};
use folio_vfs::sim::{CrashAt, FaultKind, FaultOp, FaultRule, Rng, SimVfs};
use std::sync::Arc;
use std::time::Duration;

/// Workloads swept in CI.
const CI_SEEDS: u64 = 3;
const FIRST_SEED: u64 = 0xa51c;

/// What one run through the async VFS did before it stopped.
struct AsyncRun {
    /// Steps whose commit returned `Ok`.
    acked: usize,
    /// For each acknowledged step, the last sequence number it was handed.
    step_seqs: Vec<Seq>,
    /// The durability watermark, read after the run: the writer cannot make progress after
    /// the crash or the failure, so this is what it had reached before.
    watermark: Seq,
}

/// Half the runs let the writer keep up; the other half slow it so the queue holds several
/// steps when the power goes.
fn delay_for(run_seed: u64) -> Duration {
    match Rng::new(run_seed ^ 0xde1a).below(4) {
        0 | 1 => Duration::ZERO,
        2 => Duration::from_micros(20),
        _ => Duration::from_micros(100),
    }
}

fn run_steps(store: &ToyStore, disk: &SimVfs, steps: &[Step], delay: Duration) -> AsyncRun {
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    vfs.set_delay(delay);
    let (mut acked, mut step_seqs) = (0, Vec::new());
    for step in steps {
        match store.commit(&vfs, step) {
            Ok(()) => {
                acked += 1;
                step_seqs.push(vfs.queued_seq());
            }
            Err(_) => break,
        }
    }
    // Lets the writer reach a crash point lying after the last step's return; after a crash or
    // an error this fails, which is expected.
    let _ = vfs.flush();
    let watermark = vfs.durable_seq();
    drop(vfs);
    AsyncRun { acked, step_seqs, watermark }
}

fn states(store: &ToyStore, steps: &[Step]) -> Vec<Pages> {
    let mut states = vec![store.initial_state()];
    for step in steps {
        let next = store.model_apply(states.last().expect("initial state"), step);
        states.push(next);
    }
    states
}

impl AsyncRun {
    /// Steps whose every operation is at or before the watermark.
    fn durable_steps(&self) -> usize {
        self.step_seqs.iter().take_while(|&&seq| seq <= self.watermark).count()
    }
}

/// The recovered state must be the state after `k` steps, with every step at or before the
/// watermark included and nothing past the step in flight.
fn judge(states: &[Pages], recovered: Result<Pages, String>, run: &AsyncRun) -> Result<(), String> {
    let state = recovered.map_err(|e| format!("recovery failed: {e}"))?;
    let durable = run.durable_steps();
    let last = (run.acked + 1).min(states.len() - 1);
    if (durable..=last).any(|k| states[k] == state) {
        return Ok(());
    }
    Err(match states.iter().position(|s| *s == state) {
        Some(k) => format!(
            "recovered the state after {k} steps; {durable} were durable (watermark {}), {} \
             acknowledged",
            run.watermark, run.acked
        ),
        None => format!("recovered a state no committed prefix has: {state:?}"),
    })
}

/// Recovers through a fresh async VFS, then checks the disk says the same without it.
fn recover(store: &ToyStore, disk: &SimVfs) -> Result<Pages, String> {
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    let through_queue = store.recover_on(&vfs)?;
    vfs.shutdown();
    let plain = store.recover_on(disk)?;
    if plain != through_queue {
        return Err(format!(
            "reads through the queue showed {through_queue:?}, the disk {plain:?}"
        ));
    }
    Ok(plain)
}

/// One crash run, at the write or sync the run seed names: the steps acknowledged and the
/// steps durable before the crash. `Ok(None)` when the run issued fewer operations than that
/// (merging varies with the interleaving).
fn crash_run(store: &ToyStore, run_seed_: u64) -> Result<Option<(usize, usize)>, Violation> {
    let (workload_seed, at) = (run_seed_ >> 20, crash_point(run_seed_));
    let steps = store.workload(&mut Rng::new(workload_seed));
    let disk = SimVfs::new(store.sim_config(run_seed_));
    let violation =
        |detail: String| Violation { run_seed: run_seed_, at: format!("{at:?}"), detail };
    store.setup(&disk).map_err(violation)?;
    disk.crash_at(match at {
        CrashAt::Write(n) => CrashAt::Write(disk.op_count(FaultOp::Write) + n),
        CrashAt::Sync(n) => CrashAt::Sync(disk.op_count(FaultOp::Sync) + n),
    });
    let run = run_steps(store, &disk, &steps, delay_for(run_seed_));
    let Some(image) = disk.crash_image() else { return Ok(None) };
    let rebooted = SimVfs::from_image(&image, store.sim_config(run_seed_ ^ 0xb007));
    judge(&states(store, &steps), recover(store, &rebooted), &run).map_err(violation)?;
    Ok(Some((run.acked, run.durable_steps())))
}

/// The crash point a run seed's low bits name: writes below `SYNC_POINTS`, syncs above.
const SYNC_POINTS: u64 = 1 << 19;

fn crash_point(run_seed_: u64) -> CrashAt {
    match run_seed_ & ((1 << 20) - 1) {
        p if p < SYNC_POINTS => CrashAt::Write(p + 1),
        p => CrashAt::Sync(p - SYNC_POINTS + 1),
    }
}

/// Writes and syncs a healthy async run of `workload_seed` issues after setup.
fn op_counts(store: &ToyStore, workload_seed: u64) -> (u64, u64) {
    let steps = store.workload(&mut Rng::new(workload_seed));
    let disk = SimVfs::new(store.sim_config(workload_seed));
    store.setup(&disk).expect("setup");
    let (w, s) = (disk.op_count(FaultOp::Write), disk.op_count(FaultOp::Sync));
    let run = run_steps(store, &disk, &steps, Duration::ZERO);
    assert_eq!(run.acked, steps.len(), "a healthy run acknowledges every step");
    (disk.op_count(FaultOp::Write) - w, disk.op_count(FaultOp::Sync) - s)
}

/// What a crash sweep found beside its report.
#[derive(Default)]
struct Tally {
    /// Crash points the run never reached.
    not_reached: u64,
    /// Runs where some acknowledged step was not durable at the crash (the queue was behind).
    behind: u64,
    /// Steps the watermark covered, over all runs (the oracle held them to it).
    durable_steps: usize,
}

fn crash_sweep(store: &ToyStore, workload_seed: u64, tally: &mut Tally) -> Report {
    let (writes, syncs) = op_counts(store, workload_seed);
    let points = (0..writes).chain((0..syncs).map(|s| SYNC_POINTS + s));
    let mut report = Report::default();
    for point in points {
        let seed = run_seed(workload_seed, point);
        match crash_run(store, seed) {
            Ok(Some((acked, durable))) => {
                report.runs += 1;
                tally.behind += u64::from(acked > durable);
                tally.durable_steps += durable;
            }
            Ok(None) => tally.not_reached += 1,
            Err(v) => {
                report.runs += 1;
                report.violations.push(v);
            }
        }
    }
    report
}

fn fault_sweep(store: &ToyStore, workload_seed: u64, kind: FaultKind) -> Report {
    let steps = store.workload(&mut Rng::new(workload_seed));
    let all = states(store, &steps);
    let mut report = Report::default();
    for op in [FaultOp::Write, FaultOp::Sync, FaultOp::Delete] {
        for n in 1.. {
            let seed = run_seed(workload_seed, n);
            let disk = SimVfs::new(store.sim_config(seed));
            store.setup(&disk).expect("setup");
            // A rule counts the operations issued after it is added.
            disk.add_fault(FaultRule::once(op, n, kind));
            let before = disk.op_count(op);
            let run = run_steps(store, &disk, &steps, delay_for(seed));
            if disk.op_count(op) - before < n {
                break; // past the last operation of this kind
            }
            disk.clear_faults();
            report.runs += 1;
            if let Err(detail) = judge(&all, recover(store, &disk), &run) {
                let at = format!("{kind:?} at {op:?} #{n}");
                report.violations.push(Violation { run_seed: seed, at, detail });
            }
        }
    }
    report
}

fn seeds() -> u64 {
    folio_tests::crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(CI_SEEDS)
}

#[test]
fn every_crash_recovers_a_committed_prefix_keeping_everything_durable() {
    let store = ToyStore::correct();
    if std::env::var("FOLIO_SEED").is_ok() {
        let seed = folio_vfs::seed::from_env_or(0);
        eprintln!("replaying run seed {seed:#x} ({:?})", crash_point(seed));
        crash_run(&store, seed).unwrap_or_else(|v| panic!("{v}"));
        return;
    }
    let (mut report, mut tally) = (Report::default(), Tally::default());
    for workload_seed in FIRST_SEED..FIRST_SEED + seeds() {
        let r = crash_sweep(&store, workload_seed, &mut tally);
        report.runs += r.runs;
        report.violations.extend(r.violations);
    }
    eprintln!(
        "async toy protocol: {} crash runs, {} violations; {} points past the end, {} runs with \
         acknowledged steps not yet durable, {} durable steps held to the oracle",
        report.runs,
        report.violations.len(),
        tally.not_reached,
        tally.behind,
        tally.durable_steps
    );
    let cell = folio_tests::crash::Cell {
        suite: "async",
        subject: "toy",
        mode: "-".to_string(),
        sync: "-".to_string(),
        device: "NoPsow/-".to_string(),
    };
    folio_tests::crash::print_report(&cell, &report);
    report.assert_clean("toy protocol on the async VFS");
    assert!(report.runs > 20 * seeds(), "suspiciously few crash points: {}", report.runs);
    // Missed points depend on the OS's scheduling of the two threads: only a sweep that
    // misses most of them fails.
    assert!(
        tally.not_reached < report.runs,
        "most crash points were never reached ({} of {})",
        tally.not_reached,
        report.runs + tally.not_reached
    );
    // The oracle had teeth: the watermark covered steps, and the queue ran behind the
    // application often enough for acknowledged steps to be at stake.
    assert!(
        tally.durable_steps > 0 && tally.behind > 0,
        "durable {} behind {}",
        tally.durable_steps,
        tally.behind
    );
}

#[test]
fn the_canary_missing_one_sync_is_caught_through_the_queue_too() {
    let store = ToyStore::broken();
    let mut tally = Tally::default();
    let report = crash_sweep(&store, FIRST_SEED, &mut tally);
    assert!(!report.violations.is_empty(), "{} runs found nothing", report.runs);
}

#[test]
fn an_io_error_at_any_operation_leaves_a_committed_prefix() {
    let store = ToyStore::correct();
    let mut report = Report::default();
    for workload_seed in FIRST_SEED..FIRST_SEED + seeds() {
        for kind in [FaultKind::Io, FaultKind::ShortWrite] {
            let r = fault_sweep(&store, workload_seed, kind);
            report.runs += r.runs;
            report.violations.extend(r.violations);
        }
    }
    eprintln!(
        "async toy protocol: {} fault runs, {} violations",
        report.runs,
        report.violations.len()
    );
    report.assert_clean("toy protocol on the async VFS under I/O errors");
    assert!(report.runs > 30 * seeds(), "suspiciously few fault points: {}", report.runs);
}
