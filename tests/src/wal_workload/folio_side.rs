//! Our side of the live WAL workload: the loop the `folio-wal-worker` binary runs on
//! folio-pager in WAL mode, and the re-read a test does after a run.
//!
//! A snapshot check is one read transaction that walks the whole table through
//! [`Pager::get`] and passes [`Layout::check`]. A transfer is one write transaction started from
//! idle (so the pager's busy timeout covers a stale snapshot too): it checks the snapshot it
//! starts from the same way, and that its own counter holds exactly the commits it made, then
//! rewrites the 8-byte values it changes (its transfers' rows and its counter) in place through
//! [`Pager::page_mut`] and commits.

use super::{Layout, Report, Role, Snapshot, WorkerArgs, MAX_TRANSFER, MAX_VALUE, MIN_VALUE};
use crate::fixed_table::{scan_table, write_value, Row};
use folio_pager::{Checkpoint, CheckpointMode, JournalMode, Pager, PagerOptions, Synchronous};
use folio_vfs::os::OsVfs;
use folio_vfs::sim::Rng;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The busy timeout of every pager here, as the stock peers' `busy_timeout=5000`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens `db` (an existing WAL database) on the OS VFS in WAL mode with [`BUSY_TIMEOUT`],
/// `synchronous=NORMAL`, as the stock peers (SQLite's advice for WAL: commits skip the sync,
/// checkpoints sync, so a run of seconds packs more interleavings), and `wal_autocheckpoint`
/// `autockpt`.
pub fn open_wal(db: &Path, autockpt: u32) -> Result<Pager, String> {
    let opts = PagerOptions {
        journal_mode: JournalMode::Wal,
        synchronous: Synchronous::Normal,
        busy_timeout: BUSY_TIMEOUT,
        wal_autocheckpoint: autockpt,
        create: false,
        ..PagerOptions::default()
    };
    Pager::open(Arc::new(OsVfs::new()), db, opts)
        .map_err(|e| format!("opening {}: {e}", db.display()))
}

/// Every row of the table, read through `pager` in its open transaction.
pub fn read_rows(pager: &mut Pager, layout: &Layout) -> Result<Vec<Row>, String> {
    scan_table(layout.root, |page_no| pager.get(page_no)).map_err(|e| e.to_string())
}

/// Opens `db` with our pager and starts and ends one read transaction, so the pager holds its
/// shared lock on the database from then on (as SQLite's connections do in WAL mode), which
/// keeps any other connection's close from checkpointing and removing the log.
pub fn open_and_hold(db: &Path) -> Pager {
    let mut pager = open_wal(db, 1000).unwrap_or_else(|e| panic!("{e}"));
    pager.begin_read().and_then(|()| pager.end_read()).expect("a first read transaction");
    pager
}

/// After a run: checks through `pager` one snapshot of the table against `layout` and that each
/// writer slot's counter shows exactly the commits it reported (`commits`).
pub fn check_after_run(pager: &mut Pager, layout: &Layout, commits: &BTreeMap<u32, u64>) {
    pager.begin_read().unwrap_or_else(|e| panic!("begin_read after the run: {e}"));
    let rows = read_rows(pager, layout).unwrap_or_else(|e| panic!("reading t: {e}"));
    let snapshot = layout.check(&rows).unwrap_or_else(|e| panic!("our re-read after the run: {e}"));
    for slot in 1..=layout.n_counters {
        let want = commits.get(&slot).copied().unwrap_or(0);
        assert_eq!(
            snapshot.of(slot),
            want as i64,
            "lost update: writer slot {slot} reported {want} commits, its counter shows {}",
            snapshot.of(slot)
        );
    }
    pager.end_read().expect("end_read");
}

/// Runs one peer's workload on our pager (the `folio-wal-worker` binary's whole job).
pub fn run_worker(args: &WorkerArgs) -> Result<Report, String> {
    let mut worker = Worker {
        pager: open_wal(&args.db, args.autockpt)?,
        args,
        rng: Rng::new(args.seed),
        last: None,
        my_commits: 0,
        counts: BTreeMap::new(),
        seen: vec![0; args.layout.n_counters as usize],
    };
    let deadline = Instant::now() + Duration::from_millis(args.ms);
    let mut ops = 0u64;
    while Instant::now() < deadline {
        let write = match args.role {
            Role::Writer => true,
            Role::Reader => false,
            Role::Mixed => worker.rng.below(2) == 0,
        };
        if write {
            worker.transfer()?;
        } else {
            worker.check_snapshot()?;
        }
        ops += 1;
        if args.pause_us > 0 {
            let pause = worker.rng.below(args.pause_us);
            std::thread::sleep(Duration::from_micros(pause));
        }
        if args.ckpt_every > 0 && ops.is_multiple_of(u64::from(args.ckpt_every)) {
            let idx = (ops / u64::from(args.ckpt_every) - 1) as usize % args.ckpt_modes.len();
            worker.checkpoint(args.ckpt_modes[idx])?;
        }
    }
    let Worker { pager, counts, seen, .. } = worker;
    pager.close().map_err(|e| format!("close: {e}"))?;
    let mut report = Report(counts);
    for key in ["commits", "snapshots", "distinct", "checkpoints", "ckpt_busy", "busy"] {
        report.0.entry(key.to_owned()).or_insert(0);
    }
    for (idx, n) in seen.into_iter().enumerate() {
        report.0.insert(format!("seen{}", idx + 1), n as u64);
    }
    Ok(report)
}

struct Worker<'a> {
    pager: Pager,
    args: &'a WorkerArgs,
    rng: Rng,
    /// The newest state this process knows to be committed (no later snapshot may be older).
    last: Option<Snapshot>,
    my_commits: i64,
    counts: BTreeMap<String, u64>,
    seen: Vec<i64>,
}

impl Worker<'_> {
    fn count(&mut self, key: &str) {
        *self.counts.entry(key.to_owned()).or_insert(0) += 1;
    }

    /// Checks `rows` as a snapshot of this process: the invariants, no time travel, and (for
    /// a writer) its own counter.
    fn observe(&mut self, rows: &[Row], what: &str) -> Result<Snapshot, String> {
        let layout = &self.args.layout;
        let snapshot = layout.check(rows).map_err(|e| format!("{what}: {e}"))?;
        if let Some(last) = &self.last {
            snapshot.follows(last).map_err(|e| format!("{what}: {e}"))?;
        }
        let slot = self.args.slot;
        if slot > 0 && snapshot.of(slot) != self.my_commits {
            return Err(format!(
                "{what}: lost update: my counter (slot {slot}) shows {} commits, I made {}",
                snapshot.of(slot),
                self.my_commits
            ));
        }
        for (seen, &now) in self.seen.iter_mut().zip(&snapshot.commits) {
            *seen = (*seen).max(now);
        }
        Ok(snapshot)
    }

    fn check_snapshot(&mut self) -> Result<(), String> {
        match self.pager.begin_read() {
            Ok(()) => {}
            Err(e) if e.is_busy() => {
                self.count("busy");
                return Ok(());
            }
            Err(e) => return Err(format!("begin_read: {e}")),
        }
        let rows = read_rows(&mut self.pager, &self.args.layout);
        self.pager.end_read().map_err(|e| format!("end_read: {e}"))?;
        let snapshot = self.observe(&rows?, "snapshot")?;
        self.count("snapshots");
        if self.last.as_ref().is_none_or(|last| last.total() != snapshot.total()) {
            self.count("distinct");
        }
        self.last = Some(snapshot);
        Ok(())
    }

    fn transfer(&mut self) -> Result<(), String> {
        match self.pager.begin_write() {
            Ok(()) => {}
            Err(e) if e.is_busy() => {
                self.count("busy");
                return Ok(());
            }
            Err(e) => return Err(format!("begin_write: {e}")),
        }
        let outcome = self.transfer_in_transaction();
        if outcome.is_err() {
            // The error is what gets reported; a failed rollback adds nothing to it.
            let _ = self.pager.rollback();
        }
        outcome
    }

    fn transfer_in_transaction(&mut self) -> Result<(), String> {
        let rows = read_rows(&mut self.pager, &self.args.layout)?;
        let mut snapshot = self.observe(&rows, "write transaction")?;
        let changes = self.plan(&rows)?;
        for (row, value) in changes {
            let page = self
                .pager
                .page_mut(row.page_no)
                .map_err(|e| format!("page_mut({}): {e}", row.page_no))?;
            write_value(page, row.value_offset, value)
                .ok_or_else(|| format!("value of row {} past its page", row.rowid))?;
        }
        self.pager.commit().map_err(|e| format!("commit: {e}"))?;
        self.my_commits += 1;
        self.count("commits");
        snapshot.commits[self.args.slot as usize - 1] += 1;
        self.last = Some(snapshot);
        Ok(())
    }

    /// The new values of one write transaction: `pairs` transfers of a random amount from a
    /// row `a` to a row `b` (preferably on another page), 1 from a random row to this writer's
    /// counter; no counter row gives or takes anything else.
    fn plan(&mut self, rows: &[Row]) -> Result<Vec<(Row, i64)>, String> {
        let layout = &self.args.layout;
        let ids = layout.transfer_ids();
        let span = u64::from(ids.end() - ids.start() + 1);
        let pick = |rng: &mut Rng| rows[(*ids.start() + rng.below(span) as u32) as usize - 1];
        let mut transfers: BTreeMap<i64, (Row, i64)> = BTreeMap::new();
        for _ in 0..self.args.pairs {
            let (a, mut b) = (pick(&mut self.rng), pick(&mut self.rng));
            for _ in 0..8 {
                if a.page_no != b.page_no {
                    break;
                }
                b = pick(&mut self.rng);
            }
            while a.rowid == b.rowid {
                b = pick(&mut self.rng);
            }
            let d = 1 + self.rng.below(MAX_TRANSFER as u64) as i64;
            transfers.entry(a.rowid).or_insert((a, 0)).1 -= d;
            transfers.entry(b.rowid).or_insert((b, 0)).1 += d;
        }
        let giver = pick(&mut self.rng);
        let counter = rows[self.args.slot as usize - 1];
        let new_values = |sign: i64| -> Option<Vec<(Row, i64)>> {
            let mut deltas = transfers.clone();
            for (_, delta) in deltas.values_mut() {
                *delta *= sign;
            }
            deltas.entry(giver.rowid).or_insert((giver, 0)).1 -= 1;
            deltas.insert(counter.rowid, (counter, 1));
            let changes: Vec<(Row, i64)> =
                deltas.into_values().map(|(row, d)| (row, row.value + d)).collect();
            changes.iter().all(|(_, v)| (MIN_VALUE..MAX_VALUE).contains(v)).then_some(changes)
        };
        // Turned around if it would take a value out of its range (never, in runs of
        // seconds: the range is 2^49 wide), so every value keeps its 8-byte encoding.
        new_values(1)
            .or_else(|| new_values(-1))
            .ok_or_else(|| "a transfer would take a value out of its range".to_owned())
    }

    fn checkpoint(&mut self, mode: &str) -> Result<(), String> {
        let ckpt_mode = match mode {
            "passive" => CheckpointMode::Passive,
            "full" => CheckpointMode::Full,
            "restart" => CheckpointMode::Restart,
            "truncate" => CheckpointMode::Truncate,
            other => return Err(format!("unknown checkpoint mode {other}")),
        };
        match self.pager.checkpoint(ckpt_mode) {
            Ok(Checkpoint { busy, log, checkpointed }) => {
                self.count("checkpoints");
                if busy {
                    self.count("ckpt_busy");
                }
                check_checkpoint(mode, busy, i64::from(log), i64::from(checkpointed))
            }
            Err(e) if e.is_busy() => {
                self.count("ckpt_busy");
                Ok(())
            }
            Err(e) => Err(format!("checkpoint({mode}): {e}")),
        }
    }
}

/// What `PRAGMA wal_checkpoint(mode)` may answer
/// (<https://sqlite.org/c3ref/wal_checkpoint_v2.html>): never more checkpointed than logged; a
/// non-passive checkpoint that is not busy has checkpointed everything; a truncating one has also
/// emptied the log.
pub fn check_checkpoint(mode: &str, busy: bool, log: i64, checkpointed: i64) -> Result<(), String> {
    let fine = checkpointed <= log
        && (busy || mode == "passive" || checkpointed == log)
        && (busy || mode != "truncate" || (log, checkpointed) == (0, 0));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "checkpoint({mode}) returned busy={busy} log={log} checkpointed={checkpointed}"
        ))
    }
}
