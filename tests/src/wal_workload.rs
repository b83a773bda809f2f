//! The live WAL workload: processes of ours and stock sqlite3 processes reading and writing one
//! WAL database at the same time, every transaction keeping an invariant every reader checks.
//!
//! The database ([`Layout::create`], made by the stock `sqlite3` shell) is
//! `t(id INTEGER PRIMARY KEY, v INTEGER)` with rows `1..=n_rows`, `v = BASE + id` at first, so
//! every `v` is an 8-byte integer that our side updates in place ([`crate::fixed_table`]).
//! Rows `1..=n_counters` are *counters*: writer `slot` owns row `slot`, and each of its commits
//! adds 1 to it and takes 1 from another row, besides moving random amounts (at most
//! [`MAX_TRANSFER`] each) between other rows ([`WorkerArgs::pairs`] transfers). So:
//!
//! * **sum**: `sum(v)` never changes; a reader that sees any other sum saw a torn snapshot (part
//!   of a commit, or pages of two different commits);
//! * **no lost update**: counter `slot` is `BASE + slot + (commits writer slot made)`; a writer
//!   checks that of its own row inside each write transaction, and the test checks it at the end
//!   against the commit count each writer reports. A commit overwritten by another writer's
//!   stale page, or dropped by a checkpoint, breaks it (and usually the sum too);
//! * **no time travel**: one process's successive snapshots never see a counter go down.
//!
//! Every `v` stays in `[MIN_VALUE, MAX_VALUE)` (transfers that would leave it are turned
//! around), so it keeps its 8-byte encoding whoever writes it.
//!
//! A process is a [`Peer`]: our worker binary (`folio-wal-worker`, the loop in
//! [`folio_side`]) or the stock side (`scripts/wal_peer.py`, Python's `sqlite3` module). Both
//! take the same [`WorkerArgs`], play one [`Role`], check every snapshot and write transaction,
//! checkpoint every `ckpt_every` operations in turn through the given modes, and end with one
//! line of counts, the [`Report`]. A violation makes the process exit non-zero with its seed in
//! the message; [`wait_all`] bounds every wait and fails the test with every peer's command line
//! and output.
//!
//! [`run_live`] is a whole test run: the database, the peers ([`PeerSpec`]), the waits, and the
//! checks from both sides afterwards.

pub mod folio_side;

use crate::pipe;
use crate::sqlite_cli::run_sqlite3_cli;
use folio_vfs::format::Sidecar;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The value around which every `v` starts: 2^50.
pub const BASE: i64 = 1 << 50;
/// The smallest `v` a transfer may leave (2^49, far from ±2^47 where SQLite would pick a
/// shorter integer encoding).
pub const MIN_VALUE: i64 = 1 << 49;
/// One past the largest `v` a transfer may leave.
pub const MAX_VALUE: i64 = 1 << 51;
/// The largest amount one transfer moves.
pub const MAX_TRANSFER: i64 = 1000;

/// The environment variable that sets how long each live run lasts, in milliseconds.
pub const LIVE_MS_ENV: &str = "FOLIO_WAL_LIVE_MS";
/// How long each live run lasts without [`LIVE_MS_ENV`].
pub const DEFAULT_LIVE_MS: u64 = 2000;
/// How much longer than its run a peer may take before it is killed as hung (a busy timeout
/// is 5 s, and a loaded CI machine is slow to start Python).
pub const HANG_MARGIN: Duration = Duration::from_secs(60);
/// The environment variable that names the Python interpreter (default `python3`).
pub const PYTHON_ENV: &str = crate::sqlite_child::PYTHON_ENV;

/// How long each live run lasts: [`LIVE_MS_ENV`] or [`DEFAULT_LIVE_MS`].
pub fn live_ms() -> u64 {
    match std::env::var(LIVE_MS_ENV) {
        Ok(ms) => {
            ms.trim().parse().unwrap_or_else(|_| panic!("{LIVE_MS_ENV}={ms:?}: not a number"))
        }
        Err(_) => DEFAULT_LIVE_MS,
    }
}

/// The table as the test made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Root page of `t`.
    pub root: u32,
    /// Rows `1..=n_rows`.
    pub n_rows: u32,
    /// Rows `1..=n_counters` are the writers' counters.
    pub n_counters: u32,
    /// `sum(v)`, forever.
    pub sum: i64,
}

/// What one snapshot showed, once it passed [`Layout::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Commits of each writer slot `1..=n_counters` (index 0 is slot 1).
    pub commits: Vec<i64>,
}

impl Snapshot {
    /// Commits of all writers together.
    pub fn total(&self) -> i64 {
        self.commits.iter().sum()
    }

    /// Commits of writer `slot` (1-based).
    pub fn of(&self, slot: u32) -> i64 {
        self.commits[slot as usize - 1]
    }

    /// Checks that `self` is not older than `earlier` (no counter went down).
    pub fn follows(&self, earlier: &Snapshot) -> Result<(), String> {
        for (idx, (now, then)) in self.commits.iter().zip(&earlier.commits).enumerate() {
            if now < then {
                return Err(format!(
                    "time travel: counter {} went from {then} to {now} commits between two \
                     snapshots of one process",
                    idx + 1
                ));
            }
        }
        Ok(())
    }
}

impl Layout {
    /// Creates `db` with the stock `sqlite3` shell: page size `page_size`, WAL mode, table `t`
    /// with `n_rows` rows of which the first `n_counters` are counters. The shell's close
    /// checkpoints and removes the `-wal`, leaving a WAL-mode database (header bytes 18/19 = 2).
    pub fn create(db: &Path, n_rows: u32, n_counters: u32, page_size: u32) -> Layout {
        assert!(n_counters + 2 < n_rows, "transfers need two rows besides the counters");
        let sql = format!(
            "PRAGMA page_size={page_size};\nPRAGMA journal_mode=WAL;\n\
             CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER);\n\
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<{n_rows}) \
             INSERT INTO t SELECT i, {BASE} + i FROM c;\n\
             SELECT rootpage FROM sqlite_schema WHERE name='t';\nSELECT sum(v) FROM t;"
        );
        let out = run_sqlite3_cli(db, &sql);
        let lines: Vec<&str> = out.expect_ok().lines().collect();
        let [mode, root, sum] = lines[..] else { panic!("creating {}: {lines:?}", db.display()) };
        assert_eq!(mode, "wal", "creating {}", db.display());
        let n = i64::from(n_rows);
        let layout = Layout {
            root: root.parse().expect("rootpage"),
            n_rows,
            n_counters,
            sum: n * BASE + n * (n + 1) / 2,
        };
        assert_eq!(sum, layout.sum.to_string(), "sum(v) of the new table");
        layout
    }

    /// Checks one snapshot's rows (in rowid order) against the invariants of the module
    /// documentation and returns the counters.
    pub fn check(&self, rows: &[crate::fixed_table::Row]) -> Result<Snapshot, String> {
        if rows.len() != self.n_rows as usize {
            return Err(format!("{} rows, expected {}", rows.len(), self.n_rows));
        }
        let mut sum = 0i128;
        for (row, id) in rows.iter().zip(1i64..) {
            if row.rowid != id {
                return Err(format!("rowid {} where {id} belongs", row.rowid));
            }
            if !(MIN_VALUE..MAX_VALUE).contains(&row.value) {
                return Err(format!("row {id}: v = {} out of its range", row.value));
            }
            sum += i128::from(row.value);
        }
        if sum != i128::from(self.sum) {
            return Err(format!(
                "torn snapshot: sum(v) = {sum}, expected {} (off by {})",
                self.sum,
                sum - i128::from(self.sum)
            ));
        }
        let commits = rows[..self.n_counters as usize]
            .iter()
            .map(|row| row.value - BASE - row.rowid)
            .collect::<Vec<_>>();
        if let Some(idx) = commits.iter().position(|&c| c < 0) {
            return Err(format!("counter {} at {} commits", idx + 1, commits[idx]));
        }
        Ok(Snapshot { commits })
    }

    /// The rows a transfer may take from or give to (not counters).
    pub fn transfer_ids(&self) -> std::ops::RangeInclusive<u32> {
        self.n_counters + 1..=self.n_rows
    }

    /// Checks `db` with the stock `sqlite3` shell after a run: `PRAGMA integrity_check` is
    /// `ok`, `t` has its rows and its sum, each counter `slot` shows `commits[slot]`, and the
    /// database is still in WAL mode.
    pub fn check_with_sqlite3(&self, db: &Path, commits: &BTreeMap<u32, u64>) {
        let sql = format!(
            "PRAGMA integrity_check;\nSELECT count(*), sum(v) FROM t;\n\
             SELECT id, v - {BASE} - id FROM t WHERE id <= {} ORDER BY id;\nPRAGMA journal_mode;",
            self.n_counters
        );
        let out = run_sqlite3_cli(db, &sql);
        let mut want = format!("ok\n{}|{}\n", self.n_rows, self.sum);
        for slot in 1..=self.n_counters {
            let n = commits.get(&slot).copied().unwrap_or(0);
            want.push_str(&format!("{slot}|{n}\n"));
        }
        want.push_str("wal\n");
        assert_eq!(out.expect_ok(), want, "stock sqlite3 on {} after the run", db.display());
    }
}

/// What a peer does in each operation of its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Transfers only (each write transaction also checks the snapshot it starts from).
    Writer,
    /// Snapshot checks only.
    Reader,
    /// A coin toss per operation.
    Mixed,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Reader => "reader",
            Role::Mixed => "mixed",
        }
    }
}

/// The checkpoint modes of `PRAGMA wal_checkpoint`
/// (<https://sqlite.org/c3ref/wal_checkpoint_v2.html>), by their pragma names.
pub const CKPT_MODES: [&str; 4] = ["passive", "full", "restart", "truncate"];

/// Everything a peer needs; both sides take it as the same command-line options.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// The database.
    pub db: PathBuf,
    /// The table.
    pub layout: Layout,
    /// What each operation is.
    pub role: Role,
    /// The counter row this peer's commits count in (`1..=n_counters`); 0 for a reader.
    pub slot: u32,
    /// How long to run.
    pub ms: u64,
    /// Every random choice comes from it.
    pub seed: u64,
    /// Checkpoint after every this many operations (0: never).
    pub ckpt_every: u32,
    /// The modes to checkpoint with, in turn, from [`CKPT_MODES`].
    pub ckpt_modes: Vec<&'static str>,
    /// After each operation, pause for a random time below this many microseconds (0: none).
    ///
    /// Think time, not synchronisation: a writer that takes the write lock again the moment
    /// it let go of it starves every other writer, whose busy handler polls at SQLite's backoff
    /// (up to 100 ms apart) and always finds the lock taken; real writers pause between
    /// transactions, and so do these.
    pub pause_us: u64,
    /// Transfers per write transaction (at least 1): more rows, so more pages per commit.
    pub pairs: u32,
    /// `wal_autocheckpoint` of the peer's connection (SQLite's default 1000; 0 turns it off).
    pub autockpt: u32,
}

impl WorkerArgs {
    /// The command-line options.
    pub fn to_args(&self) -> Vec<String> {
        let layout = &self.layout;
        let mut args: Vec<String> = Vec::new();
        let mut push = |key: &str, value: String| {
            args.push(format!("--{key}"));
            args.push(value);
        };
        push("db", self.db.to_str().expect("test paths are UTF-8").to_owned());
        push("root", layout.root.to_string());
        push("rows", layout.n_rows.to_string());
        push("counters", layout.n_counters.to_string());
        push("sum", layout.sum.to_string());
        push("role", self.role.name().to_owned());
        push("slot", self.slot.to_string());
        push("ms", self.ms.to_string());
        push("seed", self.seed.to_string());
        push("ckpt-every", self.ckpt_every.to_string());
        push("ckpt-modes", self.ckpt_modes.join(","));
        push("pause-us", self.pause_us.to_string());
        push("pairs", self.pairs.to_string());
        push("autockpt", self.autockpt.to_string());
        args
    }

    /// Parses [`WorkerArgs::to_args`]'s options (in any order; all of them are required).
    pub fn parse(args: &[String]) -> Result<WorkerArgs, String> {
        let mut map = BTreeMap::new();
        let mut iter = args.iter();
        while let Some(key) = iter.next() {
            let key = key.strip_prefix("--").ok_or_else(|| format!("expected --option: {key}"))?;
            let value = iter.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), value.clone());
        }
        let get = |key: &str| map.get(key).ok_or_else(|| format!("missing --{key}"));
        fn num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
            value.parse().map_err(|_| format!("--{key} {value:?} is not a number"))
        }
        let role = match get("role")?.as_str() {
            "writer" => Role::Writer,
            "reader" => Role::Reader,
            "mixed" => Role::Mixed,
            other => return Err(format!("unknown --role {other}")),
        };
        let ckpt_modes = get("ckpt-modes")?
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| {
                CKPT_MODES.iter().copied().find(|&k| k == m).ok_or(format!("unknown mode {m}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let layout = Layout {
            root: num("root", get("root")?)?,
            n_rows: num("rows", get("rows")?)?,
            n_counters: num("counters", get("counters")?)?,
            sum: num("sum", get("sum")?)?,
        };
        let parsed = WorkerArgs {
            db: PathBuf::from(get("db")?),
            layout,
            role,
            slot: num("slot", get("slot")?)?,
            ms: num("ms", get("ms")?)?,
            seed: num("seed", get("seed")?)?,
            ckpt_every: num("ckpt-every", get("ckpt-every")?)?,
            ckpt_modes,
            pause_us: num("pause-us", get("pause-us")?)?,
            pairs: num("pairs", get("pairs")?)?,
            autockpt: num("autockpt", get("autockpt")?)?,
        };
        if parsed.pairs == 0 {
            return Err("--pairs must be at least 1".into());
        }
        if parsed.role != Role::Reader && !(1..=layout.n_counters).contains(&parsed.slot) {
            return Err(format!("a {} needs a --slot in 1..={}", role.name(), layout.n_counters));
        }
        if parsed.ckpt_every > 0 && parsed.ckpt_modes.is_empty() {
            return Err("--ckpt-every without --ckpt-modes".into());
        }
        Ok(parsed)
    }
}

/// A peer's counts, from its last stdout line `done key=value ...`.
///
/// Keys: `commits` (write transactions committed), `snapshots` (read transactions checked),
/// `distinct` (checked snapshots that showed a different commit total than the one before),
/// `checkpoints` (checkpoints that ran), `ckpt_busy` (of those or refused, the ones that
/// reported busy), `busy` (transactions that could not start for a busy lock), and `seen<slot>`
/// (the most commits of writer `slot` this peer saw).
#[derive(Debug, Clone, Default)]
pub struct Report(pub BTreeMap<String, u64>);

impl Report {
    /// Parses the `done ...` line.
    pub fn parse(line: &str) -> Option<Report> {
        let mut map = BTreeMap::new();
        for word in line.strip_prefix("done ")?.split_whitespace() {
            let (key, value) = word.split_once('=')?;
            map.insert(key.to_owned(), value.parse().ok()?);
        }
        Some(Report(map))
    }

    /// The count under `key` (0 if absent).
    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// The most commits of writer `slot` this peer saw.
    pub fn seen(&self, slot: u32) -> u64 {
        self.get(&format!("seen{slot}"))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "done")?;
        for (key, value) in &self.0 {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// Which implementation a peer runs.
#[derive(Debug, Clone)]
pub enum Side {
    /// Our worker binary (its path: `env!("CARGO_BIN_EXE_folio-wal-worker")` in the suites).
    Folio(PathBuf),
    /// Stock SQLite: `scripts/wal_peer.py` under Python ([`PYTHON_ENV`]).
    Stock,
}

/// One running peer process; killed if dropped before [`wait_all`] collected it.
pub struct Peer {
    name: String,
    command: String,
    seed: u64,
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Peer {
    /// Starts `args` as a peer of `side`, named `name` in failure messages. Panics with install
    /// instructions if the program cannot start.
    pub fn spawn(name: &str, side: &Side, args: &WorkerArgs) -> Peer {
        let (program, mut argv) = match side {
            Side::Folio(exe) => (exe.clone(), Vec::new()),
            Side::Stock => {
                let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/wal_peer.py");
                (PathBuf::from(python), vec![script.to_str().expect("UTF-8 path").to_owned()])
            }
        };
        argv.extend(args.to_args());
        let command = format!("{} {}", program.display(), argv.join(" "));
        let mut child = Command::new(&program)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {name}: `{command}`: {e}\nthe live WAL suites need Python 3 \
                     with its `sqlite3` module (or FOLIO_PYTHON pointing at one); they never skip"
                )
            });
        let stdout = pipe::all(child.stdout.take().expect("piped stdout"));
        let stderr = pipe::all(child.stderr.take().expect("piped stderr"));
        Peer { name: name.to_owned(), command, seed: args.seed, child, stdout, stderr }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only reached when the peer was not collected (a panic before `wait_all`), or after
        // it exited; killing an exited child is harmless.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for every peer, each for at most `timeout` from now (a hung one is killed), and
/// returns their reports in order. Panics if any peer hung, failed or reported nothing,
/// with every peer's command line (seeds included), exit status and output.
pub fn wait_all(mut peers: Vec<Peer>, timeout: Duration) -> Vec<Report> {
    // What a killed peer still had in its pipes arrives soon after the kill.
    const AFTER_KILL: Duration = Duration::from_secs(5);
    let deadline = Instant::now() + timeout;
    let mut reports = Vec::new();
    let mut failures = String::new();
    for peer in &mut peers {
        let stdout = peer.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let hung = matches!(stdout, Err(RecvTimeoutError::Timeout));
        if hung {
            let _ = peer.child.kill();
        }
        let stdout = stdout.or_else(|_| peer.stdout.recv_timeout(AFTER_KILL)).unwrap_or_default();
        // Stdout is closed, so the peer is exiting: its stderr follows at once.
        let stderr = peer.stderr.recv_timeout(AFTER_KILL).unwrap_or_default();
        let status = peer.child.wait();
        let report = stdout.lines().last().and_then(Report::parse);
        match (&report, &status) {
            (Some(_), Ok(status)) if status.success() && !hung => {}
            _ => failures.push_str(&format!(
                "\n=== {} (seed {:#x}) {} ({status:?}): {}\n--- stdout ---\n{stdout}\n\
                 --- stderr ---\n{stderr}",
                peer.name,
                peer.seed,
                if hung { "HUNG, killed" } else { "failed" },
                peer.command,
            )),
        }
        reports.push(report.unwrap_or_default());
    }
    if !failures.is_empty() {
        panic!("live WAL peers failed (replay with the seeds below):{failures}");
    }
    reports
}

/// One peer of a [`run_live`] run: [`PeerSpec::new`] and the adjustments after it.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// Its name in failure messages.
    pub name: &'static str,
    /// Ours or stock.
    pub side: Side,
    /// What it does.
    pub role: Role,
    /// Its counter row (writers and mixed peers), or 0.
    pub slot: u32,
    /// Checkpoint every this many operations (0: never), through `ckpt_modes` in turn, each
    /// peer starting at a different one.
    pub ckpt_every: u32,
    /// The checkpoint modes, from [`CKPT_MODES`].
    pub ckpt_modes: &'static [&'static str],
    /// [`WorkerArgs::pause_us`].
    pub pause_us: u64,
    /// [`WorkerArgs::pairs`].
    pub pairs: u32,
    /// [`WorkerArgs::autockpt`].
    pub autockpt: u32,
}

/// Think time of peers that write, in microseconds (see [`WorkerArgs::pause_us`]).
pub const WRITER_PAUSE_US: u64 = 2000;
/// Think time of readers: a little, so four processes share two cores with the writers.
pub const READER_PAUSE_US: u64 = 300;

impl PeerSpec {
    /// A peer that never checkpoints by itself (but auto-checkpoints at SQLite's default
    /// 1000 frames), one transfer per write transaction, [`WRITER_PAUSE_US`] or
    /// [`READER_PAUSE_US`] of think time, and no counter (set one with [`PeerSpec::slot`] for
    /// a writer or a mixed peer).
    pub fn new(name: &'static str, side: Side, role: Role) -> PeerSpec {
        let pause_us = if role == Role::Reader { READER_PAUSE_US } else { WRITER_PAUSE_US };
        PeerSpec {
            name,
            side,
            role,
            slot: 0,
            ckpt_every: 0,
            ckpt_modes: &CKPT_MODES,
            pause_us,
            pairs: 1,
            autockpt: 1000,
        }
    }

    /// Counts its commits in counter row `slot`.
    pub fn slot(self, slot: u32) -> PeerSpec {
        PeerSpec { slot, ..self }
    }

    /// Checkpoints every `every` operations in every mode in turn.
    pub fn checkpoint_every(self, every: u32) -> PeerSpec {
        PeerSpec { ckpt_every: every, ..self }
    }

    /// Checkpoints only in `modes` (in turn).
    pub fn modes(self, modes: &'static [&'static str]) -> PeerSpec {
        PeerSpec { ckpt_modes: modes, ..self }
    }

    /// Pauses below `pause_us` microseconds after each operation.
    pub fn pause_us(self, pause_us: u64) -> PeerSpec {
        PeerSpec { pause_us, ..self }
    }

    /// Makes `pairs` transfers per write transaction.
    pub fn pairs(self, pairs: u32) -> PeerSpec {
        PeerSpec { pairs, ..self }
    }

    /// Sets `wal_autocheckpoint` (0: off).
    pub fn autocheckpoint(self, frames: u32) -> PeerSpec {
        PeerSpec { autockpt: frames, ..self }
    }
}

/// A finished [`run_live`]: the database (still there) and every peer's report.
pub struct LiveRun {
    /// The table.
    pub layout: Layout,
    /// The database.
    pub db: PathBuf,
    /// The reports, in the order of the specs.
    pub reports: Vec<Report>,
    /// Commits per writer slot, summed over the reports.
    pub commits: BTreeMap<u32, u64>,
    /// Frames in the `-wal` file when the last peer had exited (its size over the frame
    /// size), before the checks after the run.
    pub wal_frames_after_run: u64,
    _dir: tempfile::TempDir,
}

/// A seed for peer `idx` of a run with base seed `seed`.
pub fn peer_seed(seed: u64, idx: usize) -> u64 {
    folio_vfs::sim::Rng::new(seed ^ (idx as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

/// Makes a fresh WAL database ([`Layout::create`]: `n_rows` rows at `page_size`, one counter
/// per writer slot), opens our pager on it and leaves it idle (so no peer's close removes the
/// log: it is there to be read after the run), runs every peer of `specs` on it at once for
/// [`live_ms`] (seeds derived from `seed`), waits for all of them ([`wait_all`]), then checks
/// the database:
///
/// 1. our idle pager re-reads the whole table, through the log the peers left: the invariants
///    hold and each writer slot's counter shows exactly the commits its writer reported (no
///    lost update);
/// 2. with our pager still open, the stock shell agrees: integrity check `ok`, the same rows,
///    sum and counters, still WAL;
/// 3. our pager closes last, so it checkpoints and removes the `-wal` and `-shm` (SQLite's
///    wal.c, `sqlite3WalClose`); the stock shell checks the database once more.
pub fn run_live(seed: u64, n_rows: u32, page_size: u32, specs: &[PeerSpec]) -> LiveRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("live.db");
    let n_counters = specs.iter().map(|s| s.slot).max().unwrap_or(0).max(1);
    let layout = Layout::create(&db, n_rows, n_counters, page_size);
    let ms = live_ms();
    let mut ours = folio_side::open_and_hold(&db);
    println!(
        "live WAL run: seed {seed:#x} (FOLIO_SEED), {ms} ms ({LIVE_MS_ENV}), {}",
        db.display()
    );

    let peers: Vec<Peer> = specs
        .iter()
        .enumerate()
        .map(|(idx, spec)| {
            let mut ckpt_modes = spec.ckpt_modes.to_vec();
            if !ckpt_modes.is_empty() {
                let turn = idx % ckpt_modes.len();
                ckpt_modes.rotate_left(turn);
            }
            let args = WorkerArgs {
                db: db.clone(),
                layout,
                role: spec.role,
                slot: spec.slot,
                ms,
                seed: peer_seed(seed, idx),
                ckpt_every: spec.ckpt_every,
                ckpt_modes,
                pause_us: spec.pause_us,
                pairs: spec.pairs,
                autockpt: spec.autockpt,
            };
            Peer::spawn(spec.name, &spec.side, &args)
        })
        .collect();
    let reports = wait_all(peers, Duration::from_millis(ms) + HANG_MARGIN);
    let wal_frames_after_run = std::fs::metadata(Sidecar::Wal.path_of(&db))
        .map_or(0, |m| m.len().saturating_sub(WAL_HEADER_BYTES) / (24 + u64::from(page_size)));
    for (spec, report) in specs.iter().zip(&reports) {
        println!("{:>24}: {report}", spec.name);
    }
    println!("{:>24}: {wal_frames_after_run} frames", "-wal after the run");

    let mut commits = BTreeMap::new();
    for (spec, report) in specs.iter().zip(&reports) {
        if spec.slot > 0 {
            *commits.entry(spec.slot).or_insert(0) += report.get("commits");
        }
    }
    folio_side::check_after_run(&mut ours, &layout, &commits);
    layout.check_with_sqlite3(&db, &commits);
    ours.close()
        .unwrap_or_else(|e| panic!("closing our pager after the run (seed {seed:#x}): {e}"));
    for sidecar in [Sidecar::Wal, Sidecar::Shm] {
        let path = sidecar.path_of(&db);
        assert!(
            !path.exists(),
            "our pager closed the last connection but left {} (seed {seed:#x})",
            path.display()
        );
    }
    layout.check_with_sqlite3(&db, &commits);
    LiveRun { layout, db, reports, commits, wal_frames_after_run, _dir: dir }
}

/// Bytes of the WAL header (<https://sqlite.org/fileformat2.html#wal_file_format>); each frame adds
/// a 24-byte header and a page.
const WAL_HEADER_BYTES: u64 = 32;
