//! Hot rollback journals left by a stock sqlite3 killed mid-transaction (SQLite's pager.c,
//! `hasHotJournal`), for the suites that check someone else rolls them back exactly as sqlite3
//! itself does.
//!
//! The recipe: a [`SqliteChild`] builds a database of table `t` ([`make_db`], [`T_ROWS`] rows),
//! lowers its cache so the next transaction spills dirty pages into the database (and starts
//! new journal segments), and is killed with the transaction open
//! ([`kill_mid_transaction`]). [`copy_with_journal`] then gives each recoverer — sqlite3, and
//! the code under test — its own copy of the database and its journal.

use crate::sqlite_child::SqliteChild;
use std::path::{Path, PathBuf};

/// Rows of table `t` in the database [`make_db`] builds (and after any rollback).
pub const T_ROWS: u32 = 300;

/// `<db>-journal`.
pub fn journal_path(db: &Path) -> PathBuf {
    folio_vfs::format::Sidecar::Journal.path_of(db)
}

/// Builds, on connection `w` of `child` (opened here), a database of `page_size` in journal
/// mode `mode` with table `t(id INTEGER PRIMARY KEY, v TEXT)` holding [`T_ROWS`] rows of 100
/// characters: enough to span several pages.
pub fn make_db(child: &mut SqliteChild, page_size: u32, mode: &str) {
    child.open("w");
    child.ok("w", &format!("PRAGMA page_size={page_size}"));
    child.ok("w", &format!("PRAGMA journal_mode={mode}"));
    child.ok("w", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    child.ok(
        "w",
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<{T_ROWS}) \
             INSERT INTO t SELECT i, printf('%0100d', i) FROM n"
        ),
    );
}

/// Makes `db` with [`make_db`], then has sqlite3 run a transaction that doubles every row and
/// the row count with a 5-page cache, so it spills into the database before committing, and
/// kills the process with the transaction open. Returns the database's bytes from before the
/// transaction; `db` and its journal are left as the dead process left them (a hot journal).
/// Panics if the transaction did not spill (the database file would be unchanged).
pub fn kill_mid_transaction(db: &Path, page_size: u32, mode: &str) -> Vec<u8> {
    let mut child = SqliteChild::spawn(db);
    make_db(&mut child, page_size, mode);
    let before = read(db);
    // A cache of 5 pages makes the transaction spill dirty pages into the database (and, with
    // no SAFE_APPEND, start new journal segments) before it commits.
    child.ok("w", "PRAGMA cache_size=5");
    child.ok("w", "BEGIN");
    child.ok("w", "UPDATE t SET v = v || v");
    child.ok("w", "INSERT INTO t SELECT id + 1000, v FROM t");
    assert_ne!(read(db), before, "{mode}, page size {page_size}: the transaction never spilled");
    child.crash();
    assert!(journal_path(db).exists(), "{mode}: the killed sqlite3 left no journal");
    before
}

/// Copies `db` and its journal into `dir` as `crashed.db` and `crashed.db-journal`, returning
/// the copy's path.
pub fn copy_with_journal(db: &Path, dir: &Path) -> PathBuf {
    let to = dir.join("crashed.db");
    copy(db, &to);
    copy(&journal_path(db), &journal_path(&to));
    to
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}
