//! Stock SQLite (bundled) on folio-asyncio's `AsyncVfs` on the simulated disk, through
//! folio-sqlite-bridge: rusqlite → bridge → `AsyncVfs` → `SimVfs`. The application commits
//! seeded transactions (the `StockSqlite` crash subject's key-value workload and model) while
//! the async writer thread trails behind it; the power is cut at a write or a sync the writer
//! issues, every one of a healthy run's in turn. After the reboot the database is recovered:
//!
//! * through a fresh `AsyncVfs` on the rebooted disk (SQLite's own hot-journal rollback or WAL
//!   recovery, its writes queued and drained), then through the bridge on the disk directly,
//!   which must read the same rows;
//! * for a sample of crash points, by the stock `sqlite3` shell on the crash image written to a
//!   real directory, which must recover the same rows.
//!
//! The oracle: `PRAGMA integrity_check` is `ok`, every value is one a transaction wrote, and the
//! rows are those after `k` committed transactions, where `k` is at most one past the last
//! acknowledged commit and at least the number of commits at or before the **durability
//! watermark**. After each acknowledged commit the test records `AsyncVfs::queued_seq()` (the
//! last operation of that commit); a commit is covered when the watermark
//! (`AsyncVfs::durable_seq()`, read after the writer stopped at the crash) reached it. Every
//! third commit also waits with `AsyncVfs::wait_durable` for its own sequence number; a wait that
//! returned `Ok` must be covered (and is then held to survive like the rest).
//!
//! Synchronous levels as in the bridge crash suite: EXTRA in DELETE mode (only EXTRA syncs the
//! directory after deleting the journal, which the watermark counts as durable once performed),
//! FULL otherwise. WAL runs in `locking_mode=EXCLUSIVE` (the async VFS has no shared memory, see
//! `async_sqlite`); recovery through the async VFS uses it too, the direct reopen does not.
//! A canary runs DELETE at FULL: the watermark then covers a journal deletion the disk can
//! undo, and the sweep must catch commits lost below the watermark.
//!
//! Budget: `FOLIO_CRASH_SEEDS` workloads per mode (CI: 1), each crashed at every write and sync
//! of a healthy async run. `FOLIO_SEED=<run seed>` replays one run in every mode. Interleavings
//! of SQLite and the writer vary from run to run (the run seed fixes the workload, the crash
//! point, the disk's decisions and the writer's artificial delay), so a point a run does not
//! reach is counted, not failed.

use folio_asyncio::{AsyncVfs, Options, Seq};
use folio_tests::crash::{run_seed, Subject, Violation};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_tests::stock_sqlite::crash_subject::{commit_step, value, Change, Rows, StockSqlite, DB};
use folio_tests::stock_sqlite::{BridgedConnection, BridgedVfs, JournalMode};
use folio_vfs::sim::{CrashAt, CrashImage, FaultOp, Rng, SimVfs};
use folio_vfs::{FileKind, OpenFlags, Vfs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Workloads swept per mode in CI.
const CI_SEEDS: u64 = 1;
const FIRST_SEED: u64 = 0xa5_5715;
/// Transactions per workload.
const STEPS: usize = 8;
/// Every `CLI_EVERY`-th crash point also goes to the stock sqlite3 shell.
const CLI_EVERY: u64 = 9;
/// A commit whose index is `WAIT_EVERY - 1` modulo this waits until it is durable.
const WAIT_EVERY: usize = 3;

/// A journal mode and the synchronous level it runs at.
#[derive(Debug, Clone, Copy)]
struct Case {
    mode: JournalMode,
    synchronous: &'static str,
}

impl Case {
    /// The level that makes every commit durable once the writer has performed it.
    fn durable(mode: JournalMode) -> Case {
        let synchronous = if mode == JournalMode::Delete { "EXTRA" } else { "FULL" };
        Case { mode, synchronous }
    }

    /// The workload, model and recovery checks of the stock-SQLite crash subject.
    fn subject(self) -> StockSqlite {
        StockSqlite::new(self.mode).with_steps(STEPS)
    }

    /// What every connection of the async run says first. WAL needs exclusive locking mode on
    /// the async VFS, before anything reads the database.
    fn pragmas(self) -> String {
        let exclusive =
            if self.mode == JournalMode::Wal { "PRAGMA locking_mode=EXCLUSIVE;\n" } else { "" };
        format!(
            "{exclusive}PRAGMA journal_mode={};\nPRAGMA synchronous={};\n\
             PRAGMA wal_autocheckpoint=8;",
            self.mode.pragma(),
            self.synchronous
        )
    }
}

/// Creates the schema on the plain simulated disk (before crash points are counted) and makes
/// it durable: a closed database, its directory synced.
fn setup(disk: &SimVfs, mode: JournalMode) -> Result<(), String> {
    let conn = BridgedConnection::on_sim(disk, DB).map_err(|e| format!("opening {DB}: {e}"))?;
    let sql = format!(
        "PRAGMA page_size=1024;
         PRAGMA journal_mode={};
         CREATE TABLE kv(k INTEGER PRIMARY KEY, tag TEXT NOT NULL, v BLOB NOT NULL);
         CREATE INDEX kv_tag ON kv(tag, k);",
        mode.pragma()
    );
    conn.execute_batch(&sql).map_err(|e| format!("creating the schema: {e}"))?;
    conn.close().map_err(|e| format!("closing after setup: {e}"))?;
    let marker = Path::new("/stock/.setup");
    disk.open(Some(marker), OpenFlags::create(FileKind::MainDb)).map_err(|e| e.to_string())?;
    disk.delete(marker, true).map_err(|e| e.to_string())
}

/// What one run through the async VFS did before it stopped.
#[derive(Debug, Default)]
struct AsyncRun {
    /// Commits that returned `Ok`.
    acked: usize,
    /// For each acknowledged commit, the last sequence number handed out when it returned.
    step_seqs: Vec<Seq>,
    /// Commits up to and including the last one whose `wait_durable` returned `Ok`.
    waited: usize,
    /// The durability watermark once the writer stopped (after the crash nothing more can
    /// become durable, so this is what it reached before the cut).
    watermark: Seq,
}

impl AsyncRun {
    /// Commits whose every operation is at or before the watermark.
    fn durable_steps(&self) -> usize {
        self.step_seqs.iter().take_while(|&&seq| seq <= self.watermark).count()
    }
}

/// The writer's artificial delays: a quarter of the runs let it keep up, the rest slow it so
/// that the queue holds several commits when the power goes.
const DELAYS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_micros(10),
    Duration::from_micros(30),
    Duration::from_micros(80),
];

/// The delay class of a run seed (an index into [`DELAYS`]).
fn delay_class(run_seed: u64) -> usize {
    Rng::new(run_seed ^ 0xde1a).below(DELAYS.len() as u64) as usize
}

/// Runs the workload through the async VFS on `disk` until a commit fails or all are done.
fn run_steps(disk: &SimVfs, case: Case, steps: &[Vec<Change>], delay: Duration) -> AsyncRun {
    let async_vfs = Arc::new(AsyncVfs::new(Arc::new(disk.clone()), Options::default()));
    async_vfs.set_delay(delay);
    let bridged = BridgedVfs::register("folio-async-sim", async_vfs.clone());
    let mut run = AsyncRun::default();
    if let Ok(mut conn) = bridged.open(DB) {
        if conn.execute_batch(&case.pragmas()).is_ok() {
            for step in steps {
                if commit_step(&mut conn, step).is_err() {
                    break;
                }
                run.acked += 1;
                let seq = async_vfs.queued_seq();
                run.step_seqs.push(seq);
                if run.acked % WAIT_EVERY == 0 {
                    match async_vfs.wait_durable(seq) {
                        Ok(()) => run.waited = run.acked,
                        Err(_) => break,
                    }
                }
            }
        }
        // On a crashed disk the close fails part way; SQLite still lets the handles go.
        drop(conn);
    }
    drop(bridged);
    // Lets the writer reach a crash point after the last commit returned; after the crash
    // this fails, as expected.
    let _ = async_vfs.flush();
    run.watermark = async_vfs.durable_seq();
    run
}

/// Reads the rows through a fresh async VFS on the rebooted disk (SQLite recovers there),
/// drains it, then reads them through the bridge on the disk itself: both must agree.
fn recover(disk: &SimVfs, case: Case) -> Result<Rows, String> {
    let async_vfs = Arc::new(AsyncVfs::new(Arc::new(disk.clone()), Options::default()));
    let bridged = BridgedVfs::register("folio-async-recover", async_vfs.clone());
    let conn = bridged.open(DB).map_err(|e| format!("opening through the async VFS: {e}"))?;
    if case.mode == JournalMode::Wal {
        conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE").map_err(|e| e.to_string())?;
    }
    let through_queue =
        StockSqlite::read_rows(&conn).map_err(|e| format!("through the async VFS: {e}"))?;
    conn.close().map_err(|(_, e)| format!("closing the async recovery: {e}"))?;
    drop(bridged);
    async_vfs.flush().map_err(|e| format!("draining the async recovery: {e}"))?;
    async_vfs.shutdown();

    let conn = BridgedConnection::on_sim(disk, DB).map_err(|e| format!("reopening: {e}"))?;
    let direct = StockSqlite::read_rows(&conn).map_err(|e| format!("reopened directly: {e}"))?;
    conn.close().map_err(|e| format!("closing: {e}"))?;
    if direct != through_queue {
        return Err(format!(
            "the async VFS recovered {through_queue:?}, the disk then reads {direct:?}"
        ));
    }
    Ok(direct)
}

/// The committed states of `steps`: index `k` is the state after `k` commits.
fn states(subject: &StockSqlite, steps: &[Vec<Change>]) -> Vec<Rows> {
    let mut states = vec![subject.initial_state()];
    for step in steps {
        let next = subject.model_apply(states.last().expect("initial state"), step);
        states.push(next);
    }
    states
}

/// The recovered rows must be the state after `k` commits, `durable <= k <= acked + 1`.
fn judge(states: &[Rows], recovered: &Rows, run: &AsyncRun) -> Result<(), String> {
    let durable = run.durable_steps();
    if run.waited > durable {
        return Err(format!(
            "wait_durable returned Ok for commit {}, but the watermark {} covers only {durable}",
            run.waited, run.watermark
        ));
    }
    let last = (run.acked + 1).min(states.len() - 1);
    if (durable..=last).any(|k| states[k] == *recovered) {
        return Ok(());
    }
    Err(match states.iter().position(|s| s == recovered) {
        Some(k) => format!(
            "recovered the state after {k} commits; {durable} were durable (watermark {}, \
             commit seqs {:?}), {} acknowledged",
            run.watermark, run.step_seqs, run.acked
        ),
        None => format!("recovered rows no committed prefix has: {recovered:?}"),
    })
}

/// The rows the stock sqlite3 shell recovers from `image`, as the bridge's `Rows` print.
fn rows_by_stock_sqlite3(image: &CrashImage) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    image.write_to_dir(dir.path()).expect("writing the crash image");
    let db = dir.path().join(Path::new(DB).file_name().expect("a file name"));
    let out = run_sqlite3_cli(
        &db,
        "PRAGMA integrity_check;\nSELECT k, tag, length(v), hex(substr(v, 1, 1)) FROM kv ORDER BY k;",
    );
    out.expect_ok().to_string()
}

fn rows_as_stock_sqlite3_prints_them(rows: &Rows) -> String {
    let mut out = String::from("ok\n");
    for (key, row) in &rows.0 {
        let first = value(*key, row.len, row.fill);
        let hex = first.first().map(|b| format!("{b:02X}")).unwrap_or_default();
        out.push_str(&format!("{key}|t{}|{}|{hex}\n", row.tag, row.len));
    }
    out
}

/// The crash point a run seed's low bits name: writes below `SYNC_POINTS`, syncs above.
const SYNC_POINTS: u64 = 1 << 19;

fn crash_point(run_seed_: u64) -> CrashAt {
    match run_seed_ & ((1 << 20) - 1) {
        p if p < SYNC_POINTS => CrashAt::Write(p + 1),
        p => CrashAt::Sync(p - SYNC_POINTS + 1),
    }
}

/// What one crash run found, when it reached its crash point.
struct Reached {
    acked: usize,
    durable: usize,
    waited: usize,
    cli_checked: bool,
}

/// One crash run at the point `run_seed_` names. `Ok(None)`: the run issued fewer operations
/// (merging varies with the interleaving).
fn crash_run(case: Case, run_seed_: u64, with_cli: bool) -> Result<Option<Reached>, Violation> {
    let subject = case.subject();
    let (workload_seed, at) = (run_seed_ >> 20, crash_point(run_seed_));
    let violation = |detail: String| Violation {
        run_seed: run_seed_,
        at: format!("{:?} at {at:?}", case.mode),
        detail,
    };
    let steps = subject.workload(&mut Rng::new(workload_seed));
    let disk = SimVfs::new(subject.sim_config(run_seed_));
    setup(&disk, case.mode).map_err(violation)?;
    disk.crash_at(match at {
        CrashAt::Write(n) => CrashAt::Write(disk.op_count(FaultOp::Write) + n),
        CrashAt::Sync(n) => CrashAt::Sync(disk.op_count(FaultOp::Sync) + n),
    });
    let run = run_steps(&disk, case, &steps, DELAYS[delay_class(run_seed_)]);
    let Some(image) = disk.crash_image() else { return Ok(None) };
    let rebooted = SimVfs::from_image(&image, subject.sim_config(run_seed_ ^ 0xb007));
    let recovered = recover(&rebooted, case).map_err(|e| violation(format!("recovery: {e}")))?;
    judge(&states(&subject, &steps), &recovered, &run).map_err(violation)?;
    if with_cli {
        let stock = rows_by_stock_sqlite3(&image);
        let ours = rows_as_stock_sqlite3_prints_them(&recovered);
        if stock != ours {
            return Err(violation(format!(
                "stock sqlite3 recovered\n{stock}\nthe bridge on the async VFS recovered\n{ours}"
            )));
        }
    }
    Ok(Some(Reached {
        acked: run.acked,
        durable: run.durable_steps(),
        waited: run.waited,
        cli_checked: with_cli,
    }))
}

/// Writes and syncs a healthy async run of `workload_seed` issues after setup, with `delay`.
fn op_counts(case: Case, workload_seed: u64, delay: Duration) -> (u64, u64) {
    let subject = case.subject();
    let steps = subject.workload(&mut Rng::new(workload_seed));
    let disk = SimVfs::new(subject.sim_config(workload_seed));
    setup(&disk, case.mode).expect("setup on a healthy disk");
    let (w, s) = (disk.op_count(FaultOp::Write), disk.op_count(FaultOp::Sync));
    let run = run_steps(&disk, case, &steps, delay);
    assert_eq!(run.acked, steps.len(), "{case:?}: a healthy run acknowledges every commit");
    assert_eq!(run.durable_steps(), steps.len(), "{case:?}: a drained healthy run is durable");
    (disk.op_count(FaultOp::Write) - w, disk.op_count(FaultOp::Sync) - s)
}

/// What a sweep tried and found.
#[derive(Default)]
struct Tally {
    runs: u64,
    violations: Vec<Violation>,
    /// Crash points a run never reached.
    not_reached: u64,
    /// Runs where some acknowledged commit was not yet durable at the cut.
    behind: u64,
    /// Commits the watermark covered, over all runs (held to survive).
    durable_steps: usize,
    /// Commits covered by a successful `wait_durable`, over all runs.
    waited_steps: usize,
    /// Crash images the stock sqlite3 shell recovered too.
    cli_checks: u64,
}

impl Tally {
    fn count(&mut self, result: Result<Option<Reached>, Violation>) {
        match result {
            Ok(Some(r)) => {
                self.runs += 1;
                self.behind += u64::from(r.acked > r.durable);
                self.durable_steps += r.durable;
                self.waited_steps += r.waited;
                self.cli_checks += u64::from(r.cli_checked);
            }
            Ok(None) => self.not_reached += 1,
            Err(v) => {
                self.runs += 1;
                self.violations.push(v);
            }
        }
    }

    fn line(&self) -> String {
        format!(
            "{} crash runs, {} violations; {} points not reached, {} runs with acknowledged \
             commits not yet durable, {} durable commits and {} waited-for commits held to \
             survive, {} images checked by stock sqlite3",
            self.runs,
            self.violations.len(),
            self.not_reached,
            self.behind,
            self.durable_steps,
            self.waited_steps,
            self.cli_checks
        )
    }
}

/// Every write and sync of a healthy run of each workload, crashed in turn. The writer merges
/// more when it runs behind, so the points come from a healthy run with the same delay: each
/// point index runs once, in the delay class its run seed names.
fn sweep(case: Case, first_seed: u64, n_workloads: u64, tally: &mut Tally) {
    for workload_seed in first_seed..first_seed + n_workloads {
        let counts: Vec<(u64, u64)> =
            DELAYS.iter().map(|&delay| op_counts(case, workload_seed, delay)).collect();
        eprintln!(
            "  {:?}, workload {workload_seed:#x}: (writes, syncs) by delay {counts:?}",
            case.mode
        );
        let max_writes = counts.iter().map(|c| c.0).max().unwrap_or(0);
        let max_syncs = counts.iter().map(|c| c.1).max().unwrap_or(0);
        let writes = (0..max_writes).map(|w| (w, 0));
        let syncs = (0..max_syncs).map(|s| (s, 1));
        let mut n = 0u64;
        for (index, kind) in writes.chain(syncs) {
            let point = index + kind * SYNC_POINTS;
            let seed = run_seed(workload_seed, point);
            let (writes, syncs) = counts[delay_class(seed)];
            if index >= if kind == 0 { writes } else { syncs } {
                continue;
            }
            tally.count(crash_run(case, seed, n.is_multiple_of(CLI_EVERY)));
            n += 1;
        }
    }
}

fn seeds() -> u64 {
    folio_tests::crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(CI_SEEDS)
}

fn assert_clean(tally: &Tally, what: &str) {
    if !tally.violations.is_empty() {
        let lines: Vec<String> = tally.violations.iter().take(10).map(|v| v.to_string()).collect();
        panic!(
            "{what}: {} violation(s) in {} runs; replay with the seed shown:\n{}",
            tally.violations.len(),
            tally.runs,
            lines.join("\n")
        );
    }
}

#[test]
fn stock_sqlite_on_the_async_vfs_recovers_a_committed_prefix_keeping_the_watermark() {
    if std::env::var("FOLIO_SEED").is_ok() {
        let seed = folio_vfs::seed::from_env_or(0);
        for mode in JournalMode::ALL {
            eprintln!("replaying run seed {seed:#x} in {mode:?} mode ({:?})", crash_point(seed));
            match crash_run(Case::durable(mode), seed, true) {
                Ok(Some(r)) => eprintln!("{} acknowledged, {} durable: ok", r.acked, r.durable),
                Ok(None) => eprintln!("the run did not reach its crash point"),
                Err(v) => panic!("{v}"),
            }
        }
        return;
    }
    let mut all = Tally::default();
    for mode in JournalMode::ALL {
        let start = Instant::now();
        let mut tally = Tally::default();
        sweep(Case::durable(mode), FIRST_SEED, seeds(), &mut tally);
        eprintln!(
            "stock SQLite on the async VFS, {mode:?}: {}, {:.1?}",
            tally.line(),
            start.elapsed()
        );
        let report = folio_tests::crash::Report {
            runs: tally.runs,
            violations: tally.violations.clone(),
            allowed_losses: 0,
            normal_exposures: 0,
        };
        let cell = folio_tests::crash::Cell {
            suite: "async",
            subject: "sqlite",
            mode: format!("{mode:?}").to_lowercase(),
            sync: Case::durable(mode).subject().synchronous().to_lowercase(),
            device: "None/1024".to_string(),
        };
        folio_tests::crash::print_report(&cell, &report);
        assert_clean(&tally, &format!("stock SQLite on the async VFS in {mode:?} mode"));
        assert!(tally.runs > 30 * seeds(), "{mode:?}: suspiciously few crash points");
        // How many points a run misses depends on how the OS schedules the application and
        // the writer thread (a loaded machine let the writer merge more: 30 missed beside 95
        // runs once), so only a sweep that misses most of them fails.
        assert!(
            tally.not_reached < tally.runs,
            "{mode:?}: most points never reached ({} of {})",
            tally.not_reached,
            tally.runs + tally.not_reached
        );
        assert!(tally.cli_checks > 0, "{mode:?}: the shell checked nothing");
        all.runs += tally.runs;
        all.not_reached += tally.not_reached;
        all.behind += tally.behind;
        all.durable_steps += tally.durable_steps;
        all.waited_steps += tally.waited_steps;
        all.cli_checks += tally.cli_checks;
    }
    eprintln!("stock SQLite on the async VFS, all modes: {}", all.line());
    // The oracle had teeth: the watermark covered commits, waits succeeded, and the queue ran
    // behind the application often enough for acknowledged commits to be at stake.
    assert!(all.durable_steps > 0 && all.waited_steps > 0 && all.behind > 0, "{}", all.line());
}

#[test]
fn the_canary_delete_mode_at_full_loses_commits_below_the_watermark() {
    // At FULL, DELETE mode deletes the journal without syncing its directory. The watermark
    // counts the delete as durable once performed (the bet SQLite's FULL makes), but the
    // simulated disk can bring the journal back after a power loss, and SQLite then rolls a
    // covered commit back. The sweep must see that: a clean sweep above means something.
    let mut tally = Tally::default();
    let case = Case { mode: JournalMode::Delete, synchronous: "FULL" };
    sweep(case, FIRST_SEED, 1, &mut tally);
    eprintln!(
        "canary DELETE at FULL on the async VFS: {}; first: {}",
        tally.line(),
        tally.violations.first().map(ToString::to_string).unwrap_or_default()
    );
    assert!(!tally.violations.is_empty(), "{}", tally.line());
    for v in &tally.violations {
        assert!(v.detail.contains("were durable"), "not just a lost durable commit: {v}");
    }
}
