//! Stock SQLite as a crash-harness subject: a key-value table with an index, changed by seeded
//! transactions through one long-lived rusqlite connection on the simulated disk (through the
//! bridge), crashed at every write and sync, rebooted, and reopened through the bridge, where
//! SQLite's own recovery (hot-journal rollback, WAL recovery) runs.
//!
//! The oracle is the harness's: `PRAGMA integrity_check` is `ok`, the rows are exactly those of
//! some committed prefix, and (with the synchronous levels chosen here) no acknowledged commit
//! is lost. DELETE mode runs at `synchronous=EXTRA` because only EXTRA syncs the directory after
//! deleting the journal: at FULL a power loss may bring a committed transaction's journal back,
//! and SQLite then rightly rolls the commit back (a committed prefix still, but not durable).
//!
//! Replay: the crash point and every decision of the simulated disk come from the run seed, but
//! SQLite draws its journal nonces and WAL salts from its own process-wide generator, so a
//! replayed image can differ in those bytes (never in the number or order of writes and syncs).

use super::{integrity_check, BridgedConnection, JournalMode};
use crate::crash::{Durability, Subject};
use folio_vfs::sim::{Rng, SimConfig, SimVfs};
use folio_vfs::{DeviceCharacteristics, FileKind, Op, OpenFlags, Vfs};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The database's path on the simulated disk.
pub const DB: &str = "/stock/crash.db";
/// Keys are drawn below this, so transactions overwrite and delete each other's rows.
const N_KEYS: u64 = 24;

/// One change of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Insert or replace row `key` with a `len`-byte value of pattern `fill` and tag `tag`.
    Put {
        /// The key.
        key: i64,
        /// The indexed tag (`t0`..`t4`).
        tag: u8,
        /// The value's length (up to three 1 KiB pages: overflow chains).
        len: u32,
        /// The value's pattern.
        fill: u8,
    },
    /// Delete row `key` (if there is one).
    Delete {
        /// The key.
        key: i64,
    },
}

/// A row as the model keeps it: the tag and the value's length and pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The tag.
    pub tag: u8,
    /// The value's length.
    pub len: u32,
    /// The value's pattern.
    pub fill: u8,
}

/// The table's contents.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Rows(pub BTreeMap<i64, Row>);

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (i, (key, row)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{key}:t{}/{}/{:02x}", row.tag, row.len, row.fill)?;
        }
        write!(f, "}}")
    }
}

/// The value bytes of a row.
pub fn value(key: i64, len: u32, fill: u8) -> Vec<u8> {
    (0..len).map(|i| fill.wrapping_add((i.wrapping_mul(7) as u8) ^ (key as u8))).collect()
}

/// Stock SQLite in one journal mode, as a [`Subject`].
pub struct StockSqlite {
    /// The journal mode.
    pub mode: JournalMode,
    /// Transactions per workload.
    pub steps: usize,
    /// The simulated device.
    pub device: DeviceCharacteristics,
    /// `PRAGMA synchronous`, when not the level that makes commits durable (canaries).
    synchronous: Option<&'static str>,
    /// The simulated disk's sector size (`None`: the simulator's default).
    sector_size: Option<u32>,
    /// What the oracle holds SQLite to (default: every acknowledged commit survives).
    durability: Durability,
    /// The oracle grants SQLite's documented synchronous=NORMAL exposure (see
    /// [`Subject::recover_without_journal`]); set with the level by [`StockSqlite::at_level`].
    normal_exposure: bool,
    /// The oracle forgives damage done through the journal's unsynced bytes at any level
    /// ([`StockSqlite::granting_unsynced_journal`]).
    unsynced_journal_granted: bool,
    /// The connection of the current run, kept from `setup` to the crash (or to `recover`).
    conn: RefCell<Option<BridgedConnection>>,
}

impl fmt::Debug for StockSqlite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StockSqlite")
            .field("mode", &self.mode)
            .field("steps", &self.steps)
            .field("device", &self.device)
            .field("synchronous", &self.synchronous())
            .finish_non_exhaustive()
    }
}

impl StockSqlite {
    /// `mode` with a small workload on a device with no guarantees (writes tear anywhere).
    pub fn new(mode: JournalMode) -> Self {
        StockSqlite {
            mode,
            steps: 6,
            device: DeviceCharacteristics::NONE,
            synchronous: None,
            sector_size: None,
            durability: Durability::Full,
            normal_exposure: false,
            unsynced_journal_granted: false,
            conn: RefCell::new(None),
        }
    }

    /// The same subject with `steps` transactions per workload.
    pub fn with_steps(self, steps: usize) -> Self {
        StockSqlite { steps, ..self }
    }

    /// The same subject on a device with `device`'s characteristics.
    pub fn with_device(self, device: DeviceCharacteristics) -> Self {
        StockSqlite { device, ..self }
    }

    /// The same subject on the simulated disk `config` describes (its characteristics and
    /// sector size; the seed is the run's): the devices the pager's suite runs on.
    pub fn on_device(self, config: SimConfig) -> Self {
        StockSqlite {
            device: config.characteristics,
            sector_size: Some(config.sector_size),
            ..self
        }
    }

    /// The same subject at `level`, held to what SQLite promises there (`durability`, and at
    /// NORMAL its documented exposure), as the pager's suite holds the pager: the side-by-side
    /// matrix of the long run.
    pub fn at_level(self, level: &'static str, durability: Durability) -> Self {
        StockSqlite {
            synchronous: Some(level),
            durability,
            normal_exposure: level.eq_ignore_ascii_case("NORMAL"),
            ..self
        }
    }

    /// The same subject judged as at NORMAL whatever its level: a run whose recovery fails and
    /// passes with the rollback journal as it was at its last sync
    /// ([`Subject::unsynced_exposure_files`]) is counted as that exposure, not a violation. For
    /// pinning SQLite's exposure in PERSIST mode on a SAFE_APPEND device: there it writes the
    /// journal's count up front (nRec 0xffffffff) and syncs count and records together even at
    /// FULL, though a PERSIST journal is overwritten in place, which SAFE_APPEND does not cover.
    pub fn granting_unsynced_journal(self) -> Self {
        StockSqlite { unsynced_journal_granted: true, ..self }
    }

    /// The same subject at another `PRAGMA synchronous` level (`"OFF"`, `"NORMAL"`, ...): a
    /// canary, since the oracle still holds it to durable commits.
    pub fn with_synchronous(self, level: &'static str) -> Self {
        StockSqlite { synchronous: Some(level), ..self }
    }

    /// The `PRAGMA synchronous` level: by default the one that makes every acknowledged commit
    /// durable.
    pub fn synchronous(&self) -> &'static str {
        match (self.synchronous, self.mode) {
            (Some(level), _) => level,
            (None, JournalMode::Delete) => "EXTRA",
            (None, _) => "FULL",
        }
    }

    /// Reads and checks the table through `conn`: integrity, and every value the pattern of its
    /// row (a value no write produced is an error).
    pub fn read_rows(conn: &rusqlite::Connection) -> Result<Rows, String> {
        let integrity = integrity_check(conn).map_err(|e| format!("integrity_check: {e}"))?;
        if integrity != "ok" {
            return Err(format!("integrity_check: {integrity}"));
        }
        let mut stmt =
            conn.prepare("SELECT k, tag, v FROM kv ORDER BY k").map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?))
            })
            .map_err(|e| e.to_string())?;
        let mut out = Rows::default();
        for row in rows {
            let (key, tag, v) = row.map_err(|e| e.to_string())?;
            let tag = tag
                .strip_prefix('t')
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("row {key} has tag {tag:?}"))?;
            let len = u32::try_from(v.len()).map_err(|_| format!("row {key} is huge"))?;
            let fill = v.first().map_or(0, |b| b.wrapping_sub(key as u8));
            if v != value(key, len, fill) {
                return Err(format!("row {key}: a {len}-byte value no transaction wrote"));
            }
            out.0.insert(key, Row { tag, len, fill });
        }
        Ok(out)
    }

    fn open(&self, vfs: &SimVfs) -> Result<BridgedConnection, String> {
        BridgedConnection::on_sim(vfs, DB).map_err(|e| format!("opening {DB}: {e}"))
    }
}

fn sqlite_failed(e: rusqlite::Error) -> folio_vfs::Error {
    // The harness only needs "the step was not acknowledged"; the cause goes along as text.
    folio_vfs::Error::io(Op::Write, DB, std::io::Error::other(format!("stock SQLite: {e}")))
}

impl Subject for StockSqlite {
    type State = Rows;
    type Step = Vec<Change>;

    fn workload(&self, rng: &mut Rng) -> Vec<Vec<Change>> {
        (0..self.steps)
            .map(|i| {
                let n = if i == 0 { 4 } else { 1 + rng.below(4) };
                (0..n)
                    .map(|_| {
                        let key = rng.below(N_KEYS) as i64;
                        if i > 0 && rng.below(4) == 0 {
                            Change::Delete { key }
                        } else {
                            Change::Put {
                                key,
                                tag: rng.below(5) as u8,
                                len: rng.below(3000) as u32,
                                fill: rng.below(256) as u8,
                            }
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn initial_state(&self) -> Rows {
        Rows::default()
    }

    fn model_apply(&self, state: &Rows, step: &Vec<Change>) -> Rows {
        let mut next = state.clone();
        for change in step {
            match *change {
                Change::Put { key, tag, len, fill } => {
                    // An empty value has no pattern to tell: the state says fill 0 for it.
                    let fill = if len == 0 { 0 } else { fill };
                    next.0.insert(key, Row { tag, len, fill });
                }
                Change::Delete { key } => {
                    next.0.remove(&key);
                }
            }
        }
        next
    }

    fn setup(&self, vfs: &SimVfs) -> Result<(), String> {
        self.conn.borrow_mut().take();
        let conn = self.open(vfs)?;
        let sql = format!(
            "PRAGMA page_size=1024;
             PRAGMA journal_mode={};
             PRAGMA synchronous={};
             PRAGMA wal_autocheckpoint=8;
             CREATE TABLE kv(k INTEGER PRIMARY KEY, tag TEXT NOT NULL, v BLOB NOT NULL);
             CREATE INDEX kv_tag ON kv(tag, k);",
            self.mode.pragma(),
            self.synchronous()
        );
        conn.execute_batch(&sql).map_err(|e| format!("creating the schema: {e}"))?;
        // SQLite never syncs the directory after creating a database; do it here, as an
        // installer would, so the crash points start with a durable, empty database.
        let marker = Path::new("/stock/.setup");
        vfs.open(Some(marker), OpenFlags::create(FileKind::MainDb)).map_err(|e| e.to_string())?;
        vfs.delete(marker, true).map_err(|e| e.to_string())?;
        *self.conn.borrow_mut() = Some(conn);
        Ok(())
    }

    fn run_step(&self, _vfs: &SimVfs, step: &Vec<Change>) -> Result<(), folio_vfs::Error> {
        let mut slot = self.conn.borrow_mut();
        let conn = slot.as_mut().expect("setup opened the connection");
        commit_step(conn, step).map_err(sqlite_failed)
    }

    fn recover(&self, vfs: &SimVfs) -> Result<Rows, String> {
        // The application's connection ends first (on a crashed disk its calls fail; on a
        // healthy one it rolls back what it had in flight), then a new one recovers.
        self.conn.borrow_mut().take();
        let conn = self.open(vfs)?;
        let rows = Self::read_rows(&conn)?;
        conn.close().map_err(|e| format!("closing after recovery: {e}"))?;
        Ok(rows)
    }

    fn durability(&self) -> Durability {
        self.durability
    }

    fn recover_without_journal(&self, vfs: &SimVfs) -> Option<Result<Rows, String>> {
        // The database file alone: the journal deleted before SQLite opens it.
        self.normal_exposure.then(|| {
            let journal = std::path::PathBuf::from(format!("{DB}-journal"));
            if vfs.access(&journal, folio_vfs::AccessCheck::Exists).unwrap_or(false) {
                vfs.delete(&journal, true).map_err(|e| format!("deleting the journal: {e}"))?;
            }
            self.recover(vfs)
        })
    }

    fn unsynced_exposure_files(&self) -> Vec<std::path::PathBuf> {
        // The same NORMAL exposure the pager's subject declares (see the trait): the rollback
        // journal's count is made valid before its records are synced.
        let rollback =
            matches!(self.mode, JournalMode::Delete | JournalMode::Truncate | JournalMode::Persist);
        if rollback && (self.normal_exposure || self.unsynced_journal_granted) {
            vec![std::path::PathBuf::from(format!("{DB}-journal"))]
        } else {
            Vec::new()
        }
    }

    fn sim_config(&self, seed: u64) -> SimConfig {
        let config = SimConfig::new(seed).with_characteristics(self.device);
        match self.sector_size {
            Some(size) => config.with_sector_size(size),
            None => config,
        }
    }
}

/// Commits one step of the workload as one transaction on `conn`.
pub fn commit_step(conn: &mut rusqlite::Connection, step: &[Change]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for change in step {
        match *change {
            Change::Put { key, tag, len, fill } => tx.execute(
                "INSERT OR REPLACE INTO kv(k, tag, v) VALUES (?1, ?2, ?3)",
                rusqlite::params![key, format!("t{tag}"), value(key, len, fill)],
            ),
            Change::Delete { key } => tx.execute("DELETE FROM kv WHERE k = ?1", [key]),
        }?;
    }
    tx.commit()
}
