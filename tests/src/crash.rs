//! The crash-test harness: run a seeded workload on the simulated disk, cut the power at a chosen
//! or sampled point, reboot on the crash image, recover, and check the oracle:
//!
//! * the recovered state equals the state after some committed prefix of the workload;
//! * where the subject promises durability, no step whose commit returned `Ok` is lost;
//! * nothing half-committed is visible (a state that is no prefix's state is a violation);
//! * the subject's own integrity checks pass during recovery.
//!
//! A run is named by one 64-bit **run seed**: the high 44 bits seed the workload and the disk,
//! the low 20 bits pick the crash point (an index into "every write, then every sync" of the
//! workload's dry run). `FOLIO_SEED=<run seed>` replays one run bit for bit.
//!
//! The subject is anything implementing [`Subject`]: the toy commit protocol in [`toy`], and
//! folio-pager in each rollback-journal mode and in WAL mode in [`pager`].

pub mod pager;
pub mod toy;

use folio_vfs::sim::{CrashAt, CrashImage, FaultKind, FaultOp, FaultRule, Rng, SimConfig, SimVfs};
use std::fmt::{self, Debug};
use std::time::{Duration, Instant};

/// What a subject promises about steps whose commit returned `Ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every acknowledged step survives a crash.
    Full,
    /// Every acknowledged step survives a crash except the last acknowledged step that changed
    /// the state, which may come back undone (never an earlier one): SQLite's rollback journal
    /// when the act that commits (unlinking or truncating the journal) is not made durable.
    LastCommitMayBeLost,
    /// Any number of acknowledged steps may be lost from the end, but none up to the last
    /// acknowledged *durability point* (a step for which [`Subject::is_durability_point`] is
    /// true: acknowledging it means every step before it, and itself, reached stable storage).
    /// The recovered state is still a committed prefix: a tail is lost, never a step in the
    /// middle. SQLite's WAL at synchronous=NORMAL: commits append frames without syncing the
    /// log, so a power loss may take the last several; a checkpoint syncs the log before it
    /// copies anything (and the database after a complete copy), so what it saw survives.
    TailMayBeLost,
    /// Acknowledged steps may be lost (a committed prefix is still required).
    None,
}

// `Subject::recover_without_journal` is the one other exception the oracle knows: SQLite's
// documented exposure at synchronous=NORMAL (see there).

/// A system under test: a workload of steps, a model of their effect, and recovery.
pub trait Subject {
    /// The observable state compared with the model after recovery.
    type State: PartialEq + Debug + Clone;
    /// One committed unit of work.
    type Step: Debug + Clone;

    /// A workload drawn from `rng`.
    fn workload(&self, rng: &mut Rng) -> Vec<Self::Step>;
    /// The state before any step.
    fn initial_state(&self) -> Self::State;
    /// The model: the state after `step` is committed on top of `state`.
    fn model_apply(&self, state: &Self::State, step: &Self::Step) -> Self::State;
    /// SQLite's documented exposure at synchronous=NORMAL ("a very small chance" of corruption,
    /// pragma.html#pragma_synchronous): a power loss at the wrong moment can leave a journal
    /// whose records did not all reach the disk (NORMAL writes the record count before the
    /// records are synced), or bring back a finalized journal partly overwritten by the next
    /// transaction (TRUNCATE: the truncation is not synced); playing it back damages a database
    /// file that was itself intact. A subject with that exposure returns the state of the
    /// database file read *without* its journal; a run whose recovery fails the oracle while
    /// the file alone passes it is counted as [`Outcome::NormalExposure`], not a violation —
    /// only when recovery produced no committed state at all (a lost commit is judged by
    /// [`Durability`] alone). Any other failure is still a violation. `None` (the default): no
    /// such exposure.
    ///
    /// WAL mode has the like at NORMAL on a device without powersafe overwrite: SQLite pads a
    /// commit to a sector boundary only when it syncs it (FULL), so the next append can tear
    /// the sector holding frames a checkpoint already copied into the database (and synced),
    /// while a reader kept the log from restarting; recovery then reads an older log prefix
    /// over newer database pages. SQLite's "WAL at NORMAL is safe from corruption" assumes
    /// powersafe overwrite, its default. Such a subject returns the database file read without
    /// its log.
    fn recover_without_journal(&self, vfs: &SimVfs) -> Option<Result<Self::State, String>> {
        let _ = vfs;
        None
    }
    /// The other half of SQLite's exposure at synchronous=NORMAL in the rollback modes: NORMAL
    /// makes a journal segment valid (its record count written) and syncs it once, records and
    /// count together, where FULL syncs the records first (pager.c `syncJournal`: the sync
    /// before the count is taken only with `fullSync`). A power loss before that one sync can
    /// keep the count and lose or tear the records it counts; when the journal is a PERSIST
    /// leftover overwritten in place, a record torn between the old and the new image of page
    /// 1 even passes the sampled checksum (which never reads the change counter or the page
    /// count). Playback then writes such a record over a database that a cache spill had
    /// already changed, so the file alone is no committed state either. The files named here
    /// (the journal, at NORMAL) are checked again as they were at their last sync: a run whose
    /// recovery fails the oracle, and passes it when every unsynced byte of these files is
    /// dropped, did its damage through bytes NORMAL never promised to sync first, and counts
    /// as [`Outcome::NormalExposure`], whether it recovered no committed state or an older one
    /// (a torn page-1 record can bring back an older commit's header and page count). What
    /// remains without those bytes (a database page written before its journal record was
    /// synced, a wrong record synced, a commit acknowledged before its journal was finalized)
    /// is judged as before.
    /// Empty (the default): no such exposure.
    fn unsynced_exposure_files(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
    /// For [`Durability::TailMayBeLost`]: true if the acknowledgement of `step` means that it and
    /// every step before it are durable (a checkpoint that synced the log). Default: none is.
    fn is_durability_point(&self, step: &Self::Step) -> bool {
        let _ = step;
        false
    }
    /// Prepares the disk before crash points are counted (create files, sync directories).
    fn setup(&self, vfs: &SimVfs) -> Result<(), String>;
    /// Performs and commits `step`; `Ok` is the acknowledgement the oracle holds it to.
    fn run_step(&self, vfs: &SimVfs, step: &Self::Step) -> Result<(), folio_vfs::Error>;
    /// Opens the store after a reboot or an error, recovers it, checks its integrity and
    /// returns its state. Errors are integrity failures.
    fn recover(&self, vfs: &SimVfs) -> Result<Self::State, String>;
    /// What the subject promises for acknowledged steps.
    fn durability(&self) -> Durability;
    /// The simulated device to run on, for a given seed.
    fn sim_config(&self, seed: u64) -> SimConfig {
        SimConfig::new(seed)
    }
}

const POINT_BITS: u32 = 20;

/// The number in environment variable `name` (`FOLIO_CRASH_SEEDS`, `FOLIO_CRASH_MINUTES`; hex
/// with `0x` or decimal), if set.
///
/// # Panics
/// If it is set to something that is not a number: a sweep must not run another budget than
/// the one asked for.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        folio_vfs::seed::parse(&v).unwrap_or_else(|| panic!("{name}={v:?} is not a number"))
    })
}

/// How long a test samples random runs in a long run: `fraction` of the run's whole budget.
///
/// `FOLIO_CRASH_MINUTES` (`cargo xtask crash --minutes M`) is the wall-clock budget of the
/// whole long run; the test binary runs as many tests at once as the machine has cores, so the
/// run has `M × cores` minutes of test time to share out. Each test asks for its fraction (the
/// fractions of all sampling tests add up to 1): the pager's rollback suite 0.36 (nine tests),
/// stock SQLite's matrix 0.27 (three), the WAL suite 0.27 (three), the toy protocol and stock
/// SQLite's default levels 0.05 each. `None` when no long run was asked for.
pub fn sample_budget(fraction: f64) -> Option<Duration> {
    let minutes = env_u64("FOLIO_CRASH_MINUTES")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    Some(Duration::from_secs_f64(minutes as f64 * 60.0 * cores * fraction))
}

/// One configuration of a crash suite, as the long run's report table names it.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The suite: `rollback`, `wal`, `toy`, `async`.
    pub suite: &'static str,
    /// Who ran: `folio` or `sqlite`.
    pub subject: &'static str,
    /// Journal mode (`delete`, `persist`, `wal`, ...).
    pub mode: String,
    /// Synchronous level (`normal`, `full`, `extra`).
    pub sync: String,
    /// The simulated device, with the page size where it matters.
    pub device: String,
}

/// Prints `report` for `cell` as one `crash-report` line (tab-separated: suite, subject, mode,
/// sync, device, crash points, violations, allowed losses, NORMAL exposures), then one
/// `crash-violation` line per violation (the test to replay it with, the run seed, the
/// detail), for `cargo xtask crash` to gather into its table. The test is the running test's
/// name (libtest names the thread after it).
pub fn print_report(cell: &Cell, report: &Report) {
    eprintln!(
        "crash-report\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        cell.suite,
        cell.subject,
        cell.mode,
        cell.sync,
        cell.device,
        report.runs,
        report.violations.len(),
        report.allowed_losses,
        report.normal_exposures
    );
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    for v in &report.violations {
        eprintln!(
            "crash-violation\t{test}\t{:#x}\t{} {}: {}",
            v.run_seed, cell.device, v.at, v.detail
        );
    }
}

/// The run seed `FOLIO_SEED` names, when a single run is to be replayed.
pub fn replay_seed() -> Option<u64> {
    std::env::var("FOLIO_SEED").is_ok().then(|| folio_vfs::seed::from_env_or(0))
}

/// Builds a run seed from a workload seed and a crash-point index.
pub fn run_seed(workload_seed: u64, point: u64) -> u64 {
    (workload_seed << POINT_BITS) | (point & ((1 << POINT_BITS) - 1))
}

fn split_seed(run_seed: u64) -> (u64, u64) {
    (run_seed >> POINT_BITS, run_seed & ((1 << POINT_BITS) - 1))
}

/// One oracle violation, with what is needed to replay it.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Replays the run: `FOLIO_SEED=<run_seed>`.
    pub run_seed: u64,
    /// Where the power was cut (or which fault was injected).
    pub at: String,
    /// What the oracle saw.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FOLIO_SEED={:#x} ({}): {}", self.run_seed, self.at, self.detail)
    }
}

/// What a run the oracle accepted recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The state of every acknowledged step (and perhaps the one in flight).
    Kept,
    /// An earlier state, lost acknowledged work the subject's [`Durability`] allows to lose.
    AllowedLoss,
    /// Recovery played back a journal (or read a torn log) that damaged an intact database
    /// file: SQLite's exposure at synchronous=NORMAL ([`Subject::recover_without_journal`]).
    NormalExposure,
    /// The workload does no write and no sync, so there is no point to cut the power at: not
    /// a run (a sampler draws another workload; a sweep has no points for it).
    NoCrashPoint,
}

/// What a sweep tried and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Runs made (one crash or one fault each).
    pub runs: u64,
    /// Violations found.
    pub violations: Vec<Violation>,
    /// Runs that recovered an earlier state than the acknowledged one, as allowed.
    pub allowed_losses: u64,
    /// Runs that hit SQLite's documented synchronous=NORMAL exposure.
    pub normal_exposures: u64,
}

impl Report {
    /// The sum of `reports`.
    pub fn total<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Report {
        let mut sum = Report::default();
        for report in reports {
            sum.merge(report.clone());
        }
        sum
    }

    /// Adds `other`'s counts and violations to this report.
    pub fn merge(&mut self, other: Report) {
        self.runs += other.runs;
        self.violations.extend(other.violations);
        self.allowed_losses += other.allowed_losses;
        self.normal_exposures += other.normal_exposures;
    }

    fn count(&mut self, result: Result<Outcome, Violation>) {
        match result {
            Ok(Outcome::Kept) => {}
            Ok(Outcome::AllowedLoss) => self.allowed_losses += 1,
            Ok(Outcome::NormalExposure) => self.normal_exposures += 1,
            Ok(Outcome::NoCrashPoint) => {}
            Err(v) => self.violations.push(v),
        }
    }

    /// Panics with every violation (and its replay seed) if there is one.
    pub fn assert_clean(&self, what: &str) {
        if !self.violations.is_empty() {
            let lines: Vec<String> =
                self.violations.iter().take(20).map(|v| v.to_string()).collect();
            panic!(
                "{what}: {} violation(s) in {} runs; replay with the seed shown:\n{}",
                self.violations.len(),
                self.runs,
                lines.join("\n")
            );
        }
    }
}

/// The committed states of a workload and its operation counts after setup.
struct DryRun<S> {
    states: Vec<S>,
    writes: u64,
    syncs: u64,
    ops: Vec<(FaultOp, u64)>,
}

fn dry_run<T: Subject>(subject: &T, workload_seed: u64, steps: &[T::Step]) -> DryRun<T::State> {
    let vfs = SimVfs::new(subject.sim_config(workload_seed));
    subject.setup(&vfs).expect("setup on a healthy disk");
    let before: Vec<(FaultOp, u64)> =
        FaultOp::ALL.iter().map(|&op| (op, vfs.op_count(op))).collect();
    let mut states = vec![subject.initial_state()];
    for step in steps {
        subject.run_step(&vfs, step).expect("a step on a healthy disk succeeds");
        let next = subject.model_apply(states.last().expect("initial state"), step);
        states.push(next);
    }
    let ops: Vec<(FaultOp, u64)> =
        before.iter().map(|&(op, n)| (op, vfs.op_count(op) - n)).collect();
    let count = |which| ops.iter().find(|(op, _)| *op == which).map_or(0, |&(_, n)| n);
    DryRun { writes: count(FaultOp::Write), syncs: count(FaultOp::Sync), states, ops }
}

/// How many of the first `acked` steps a durability point among them makes durable: up to and
/// including the last step for which `is_point` is true (0 if none is).
fn durable_prefix(is_point: impl IntoIterator<Item = bool>, acked: usize) -> usize {
    is_point
        .into_iter()
        .take(acked)
        .enumerate()
        .filter(|&(_, p)| p)
        .last()
        .map_or(0, |(i, _)| i + 1)
}

/// [`durable_prefix`] of a subject's workload.
fn durable_steps<T: Subject>(subject: &T, steps: &[T::Step], acked: usize) -> usize {
    durable_prefix(steps.iter().map(|s| subject.is_durability_point(s)), acked)
}

/// Checks a recovered state against the committed states: it must be state `k` with
/// `acked <= k <= acked + 1` (the step in flight may or may not have committed) when the
/// subject promises durability; with [`Durability::LastCommitMayBeLost`] also the state before
/// the last acknowledged step that changed the state; with [`Durability::TailMayBeLost`] any
/// `durable <= k` (`durable`: the steps a durability point made durable, [`durable_steps`]);
/// any `k <= acked + 1` when it promises nothing.
fn judge<S: PartialEq + Debug>(
    states: &[S],
    recovered: Result<S, String>,
    acked: usize,
    durability: Durability,
    durable: usize,
) -> Result<Outcome, String> {
    let state = recovered.map_err(|e| format!("recovery or integrity check failed: {e}"))?;
    let last = (acked + 1).min(states.len() - 1);
    let first = match durability {
        Durability::Full => acked,
        Durability::LastCommitMayBeLost => {
            (1..=acked).rev().find(|&k| states[k] != states[k - 1]).map_or(acked, |k| k - 1)
        }
        Durability::TailMayBeLost => durable.min(acked),
        Durability::None => 0,
    };
    match (first..=last).find(|&k| states[k] == state) {
        Some(k) if k < acked && states[acked] != state => Ok(Outcome::AllowedLoss),
        Some(_) => Ok(Outcome::Kept),
        None => {
            let any = states.iter().position(|s| *s == state);
            Err(match any {
                Some(k) => format!(
                    "recovered the state after {k} steps, but {acked} were acknowledged \
                     (allowed {first}..={last})"
                ),
                None => format!(
                    "recovered a state that no committed prefix has ({acked} steps \
                     acknowledged): {state:?}"
                ),
            })
        }
    }
}

/// One crash run, before judgement.
struct CrashRun<S> {
    at: CrashAt,
    image: CrashImage,
    acked: usize,
    /// Steps a durability point made durable ([`durable_steps`]).
    durable: usize,
    states: Vec<S>,
    /// The subject's [`Subject::unsynced_exposure_files`] as they were at their last sync
    /// (`None`: the name was not durable).
    synced: Vec<(std::path::PathBuf, Option<Vec<u8>>)>,
}

/// One crash run; `Ok(None)` when the workload does no I/O (no point to cut the power at).
fn crash_run<T: Subject>(subject: &T, run_seed: u64) -> Result<Option<CrashRun<T::State>>, String> {
    let (workload_seed, point) = split_seed(run_seed);
    let steps = subject.workload(&mut Rng::new(workload_seed));
    let dry = dry_run(subject, workload_seed, &steps);
    let total = dry.writes + dry.syncs;
    if total == 0 {
        return Ok(None);
    }
    let point = point % total;
    let at = if point < dry.writes {
        CrashAt::Write(point + 1)
    } else {
        CrashAt::Sync(point - dry.writes + 1)
    };
    let vfs = SimVfs::new(subject.sim_config(run_seed));
    subject.setup(&vfs).map_err(|e| format!("setup failed: {e}"))?;
    vfs.crash_at(match at {
        CrashAt::Write(n) => CrashAt::Write(vfs.op_count(FaultOp::Write) + n),
        CrashAt::Sync(n) => CrashAt::Sync(vfs.op_count(FaultOp::Sync) + n),
    });
    let mut acked = 0;
    for step in &steps {
        match subject.run_step(&vfs, step) {
            Ok(()) => acked += 1,
            Err(_) => break,
        }
    }
    let image = vfs
        .crash_image()
        .ok_or_else(|| format!("{at:?}: the workload finished without reaching the crash point"))?;
    let durable = durable_steps(subject, &steps, acked);
    // Only those files are kept (a journal); the image is assembled only for a run the oracle
    // would fail.
    let synced = subject
        .unsynced_exposure_files()
        .into_iter()
        .map(|path| {
            let bytes = vfs.synced_contents(&path);
            (path, bytes)
        })
        .collect();
    Ok(Some(CrashRun { at, image, acked, durable, states: dry.states, synced }))
}

/// The crash image of the run named by `run_seed` (what a reboot finds), for replay checks
/// and for handing the same image to stock sqlite3.
pub fn crash_image<T: Subject>(subject: &T, run_seed: u64) -> CrashImage {
    match crash_run(subject, run_seed) {
        Ok(Some(run)) => run.image,
        Ok(None) => panic!("run {run_seed:#x}: the workload does no I/O: there is no crash image"),
        Err(e) => panic!("run {run_seed:#x}: {e}"),
    }
}

/// A subject that names its configuration and explains a run, for failure messages and
/// replays of a run seed.
pub trait Explained: Subject {
    /// A short name of the configuration.
    fn label(&self) -> String;
    /// Everything about one run (workload, crash point, what recovery found).
    fn explain(&self, run_seed: u64) -> String;
}

/// Replays `seed` on each subject, explaining the run first; panics on a violation.
pub fn replay_explained<S: Explained>(subjects: &[S], seed: u64) {
    for subject in subjects {
        eprintln!("[{}] run seed {seed:#x}:\n{}", subject.label(), subject.explain(seed));
    }
    for subject in subjects {
        match run_one(subject, seed) {
            Ok(outcome) => eprintln!("[{}] run seed {seed:#x}: {outcome:?}", subject.label()),
            Err(v) => panic!("[{}] {v}", subject.label()),
        }
    }
}

/// Replays runs the sweeps found failing, each on its subject; panics with the explanation of
/// every run that still fails.
pub fn check_found<S: Explained>(what: &str, runs: impl IntoIterator<Item = (S, u64)>) {
    let mut failed = Vec::new();
    for (subject, seed) in runs {
        if let Err(v) = run_one(&subject, seed) {
            failed.push(format!("[{}] {v}\n{}", subject.label(), subject.explain(seed)));
        }
    }
    assert!(failed.is_empty(), "{what}:\n{}", failed.join("\n"));
}

/// A canary (a subject whose claim is a lie) must be caught: some violation on `seeds`
/// workloads from `first_seed`, and its first violation must replay with the same detail.
pub fn expect_caught<S: Explained>(what: &str, subject: &S, first_seed: u64, seeds: u64) -> Report {
    let report = sweep(subject, first_seed, seeds);
    eprintln!(
        "canary {what} [{}]: {} crash points, {} violations; first: {}",
        subject.label(),
        report.runs,
        report.violations.len(),
        report.violations.first().map(ToString::to_string).unwrap_or_default()
    );
    let first = report.violations.first().unwrap_or_else(|| panic!("the suite missed {what}"));
    let again = run_one(subject, first.run_seed).expect_err("the violation replays");
    assert_eq!(again.detail, first.detail);
    report
}

/// Runs the single crash run named by `run_seed` and judges it.
pub fn run_one<T: Subject>(subject: &T, run_seed: u64) -> Result<Outcome, Violation> {
    let run = crash_run(subject, run_seed).map_err(|detail| Violation {
        run_seed,
        at: "before the crash".into(),
        detail,
    })?;
    let Some(run) = run else { return Ok(Outcome::NoCrashPoint) };
    let boot = || SimVfs::from_image(&run.image, subject.sim_config(run_seed ^ 0xb007));
    let durability = subject.durability();
    let recovered = subject.recover(&boot());
    let damaged = !matches!(&recovered, Ok(state) if run.states.contains(state));
    match judge(&run.states, recovered, run.acked, durability, run.durable) {
        Ok(outcome) => Ok(outcome),
        Err(detail) => {
            let passes =
                |state| judge(&run.states, state, run.acked, durability, run.durable).is_ok();
            let alone = || subject.recover_without_journal(&boot()).is_some_and(passes);
            let synced = || {
                if run.synced.is_empty() {
                    return false;
                }
                let mut image = run.image.clone();
                for (path, bytes) in &run.synced {
                    match bytes {
                        Some(bytes) => image.files.insert(path.clone(), bytes.clone()),
                        None => image.files.remove(path),
                    };
                }
                let vfs = SimVfs::from_image(&image, subject.sim_config(run_seed ^ 0xb007));
                passes(subject.recover(&vfs))
            };
            // The file alone may excuse damage only (a lost commit is never the file's fault);
            // the journal as last synced excuses whatever unsynced journal bytes did, a lost
            // commit included (a torn page-1 record can restore an older commit's header).
            if (damaged && alone()) || synced() {
                Ok(Outcome::NormalExposure)
            } else {
                Err(Violation { run_seed, at: format!("{:?}", run.at), detail })
            }
        }
    }
}

/// Every crash point of the workloads of `n_workloads` seeds starting at `first_seed`.
pub fn sweep<T: Subject>(subject: &T, first_seed: u64, n_workloads: u64) -> Report {
    let mut report = Report::default();
    for workload_seed in first_seed..first_seed + n_workloads {
        let steps = subject.workload(&mut Rng::new(workload_seed));
        let dry = dry_run(subject, workload_seed, &steps);
        for point in 0..dry.writes + dry.syncs {
            report.runs += 1;
            report.count(run_one(subject, run_seed(workload_seed, point)));
        }
    }
    report
}

/// Random runs (random workload seed and crash point) until `budget` has passed.
pub fn sample_for<T: Subject>(subject: &T, rng: &mut Rng, budget: Duration) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    while start.elapsed() < budget {
        let seed = run_seed(rng.next_u64() >> (POINT_BITS + 1), rng.next_u64());
        let outcome = run_one(subject, seed);
        if matches!(outcome, Ok(Outcome::NoCrashPoint)) {
            // A workload without I/O has no crash point: draw another.
            continue;
        }
        report.runs += 1;
        report.count(outcome);
    }
    report
}

/// An I/O error injected at each operation index of one workload, of every kind the workload
/// performs: the failing step may fail, the application stops, and reopening on the same
/// (still powered) disk must give a committed prefix that keeps every acknowledged step.
pub fn fault_sweep<T: Subject>(subject: &T, workload_seed: u64, kind: FaultKind) -> Report {
    let steps = subject.workload(&mut Rng::new(workload_seed));
    let dry = dry_run(subject, workload_seed, &steps);
    let mut report = Report::default();
    for &(op, count) in &dry.ops {
        for n in 1..=count {
            report.runs += 1;
            let vfs = SimVfs::new(subject.sim_config(workload_seed));
            let at = format!("{kind:?} at {op:?} #{n} after setup");
            let violation = |detail: String| Violation {
                run_seed: run_seed(workload_seed, 0),
                at: at.clone(),
                detail,
            };
            if let Err(e) = subject.setup(&vfs) {
                report.violations.push(violation(format!("setup failed: {e}")));
                continue;
            }
            // A rule counts the operations it sees from when it is added, so `n` is already
            // "the nth after setup".
            vfs.add_fault(FaultRule::once(op, n, kind));
            let mut acked = 0;
            for step in &steps {
                match subject.run_step(&vfs, step) {
                    Ok(()) => acked += 1,
                    Err(_) => break,
                }
            }
            vfs.clear_faults();
            report.count(
                judge(&dry.states, subject.recover(&vfs), acked, Durability::Full, acked)
                    .map_err(violation),
            );
        }
    }
    report
}

/// The workload of `workload_seed` with the `n`th operation of kind `op` after setup failing
/// with `kind`; it stops at the first step that fails. Returns the disk (faults cleared) and the
/// number of acknowledged steps.
fn run_with_fault<T: Subject>(
    subject: &T,
    workload_seed: u64,
    steps: &[T::Step],
    (op, n, kind): (FaultOp, u64, FaultKind),
) -> Result<(SimVfs, usize), String> {
    let vfs = SimVfs::new(subject.sim_config(workload_seed));
    subject.setup(&vfs).map_err(|e| format!("setup failed: {e}"))?;
    vfs.add_fault(FaultRule::once(op, n, kind));
    let mut acked = 0;
    for step in steps {
        match subject.run_step(&vfs, step) {
            Ok(()) => acked += 1,
            Err(_) => break,
        }
    }
    vfs.clear_faults();
    Ok((vfs, acked))
}

/// [`fault_sweep`] with power cuts after the error: for each operation index, two runs. In
/// the first the application stops at the failing step, the store is reopened on the live disk
/// (judged as in [`fault_sweep`]: every acknowledged step kept), then the power is cut and the
/// store recovered from what survives. In the second the power is cut right after the failing
/// step, before anyone recovers. Both crash recoveries are judged by the subject's
/// [`Durability`].
pub fn fault_crash_sweep<T: Subject>(subject: &T, workload_seed: u64, kind: FaultKind) -> Report {
    let steps = subject.workload(&mut Rng::new(workload_seed));
    let dry = dry_run(subject, workload_seed, &steps);
    let durability = subject.durability();
    let reboot =
        |image: &CrashImage| SimVfs::from_image(image, subject.sim_config(workload_seed ^ 0xb007));
    let mut report = Report::default();
    for &(op, count) in &dry.ops {
        for n in 1..=count {
            let violation = |at: &str, detail: String| Violation {
                run_seed: run_seed(workload_seed, 0),
                at: format!("{kind:?} at {op:?} #{n} after setup, {at}"),
                detail,
            };
            report.runs += 2;
            match run_with_fault(subject, workload_seed, &steps, (op, n, kind)) {
                Err(e) => report.violations.push(violation("first run", e)),
                Ok((vfs, acked)) => {
                    let live =
                        judge(&dry.states, subject.recover(&vfs), acked, Durability::Full, acked);
                    report.count(live.map_err(|d| violation("reopened on the live disk", d)));
                    let after = subject.recover(&reboot(&vfs.crash_now()));
                    let durable = durable_steps(subject, &steps, acked);
                    report.count(
                        judge(&dry.states, after, acked, durability, durable)
                            .map_err(|d| violation("power cut after the reopen", d)),
                    );
                }
            }
            match run_with_fault(subject, workload_seed, &steps, (op, n, kind)) {
                Err(e) => report.violations.push(violation("second run", e)),
                Ok((vfs, acked)) => {
                    let after = subject.recover(&reboot(&vfs.crash_now()));
                    let durable = durable_steps(subject, &steps, acked);
                    report.count(
                        judge(&dry.states, after, acked, durability, durable)
                            .map_err(|d| violation("power cut right after the error", d)),
                    );
                }
            }
        }
    }
    report
}

/// Sweeps several workloads, for [`fault_sweep`] over every fault kind that makes sense.
pub fn fault_sweeps<T: Subject>(subject: &T, first_seed: u64, n_workloads: u64) -> Report {
    let mut report = Report::default();
    for seed in first_seed..first_seed + n_workloads {
        for kind in [FaultKind::Io, FaultKind::DiskFull, FaultKind::ShortWrite] {
            report.merge(fault_sweep(subject, seed, kind));
        }
    }
    report
}

#[cfg(test)]
mod tests;
