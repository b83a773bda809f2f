//! `folio check DB [--sqlite3]`: the storage layer's checks of a database and its sidecars,
//! from what `folio info` reads: the header, the size it states against the file, the freelist
//! count, the WAL's frames against the wal-index, a journal a crash left. Each finding is a
//! *problem* (the file is corrupt: exit status 3) or a *note* (what the next connection will
//! do about a crash's leftovers). The b-tree checks (page usage, key order, cell bounds,
//! overflow chains, freelist pages) come with the engine.
//!
//! `--sqlite3` also runs stock `PRAGMA integrity_check` through the `sqlite3` shell, when it is
//! installed, and says plainly when it is not (that is not a pass).

use super::info::{self, InfoReport};
use crate::{CliError, ExitStatus, Report};
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::process::Command;

/// What `folio check` found; the `--json` schema:
/// `{"database": str, "problems": [str], "notes": [str],
///   "sqlite3": {"ran": bool, "result": [str], "why_not": str|null}|null}`.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// The database file.
    pub database: String,
    /// Corruption found: each one sentence naming the structure and what is wrong.
    pub problems: Vec<String>,
    /// Leftovers of a crash or an open connection, which are not corruption.
    pub notes: Vec<String>,
    /// Stock SQLite's `PRAGMA integrity_check`, when `--sqlite3` asked for it.
    pub sqlite3: Option<Sqlite3Check>,
}

/// Stock SQLite's verdict.
#[derive(Debug, Serialize)]
pub struct Sqlite3Check {
    /// True if the `sqlite3` shell ran.
    pub ran: bool,
    /// Its output lines (`["ok"]` for a sound database).
    pub result: Vec<String>,
    /// Why it did not run.
    pub why_not: Option<String>,
}

impl Report for CheckReport {
    fn status(&self) -> ExitStatus {
        let sqlite_objects =
            self.sqlite3.as_ref().is_some_and(|s| s.ran && s.result != ["ok".to_string()]);
        if self.problems.is_empty() && !sqlite_objects {
            ExitStatus::Ok
        } else {
            ExitStatus::Corrupt
        }
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.problems {
            writeln!(f, "problem: {problem}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if let Some(s) = &self.sqlite3 {
            match &s.why_not {
                Some(why) => writeln!(f, "sqlite3: not run: {why}")?,
                None => writeln!(f, "sqlite3 integrity_check: {}", s.result.join("; "))?,
            }
        }
        match self.status() {
            ExitStatus::Ok => writeln!(f, "{}: ok (storage layer)", self.database),
            _ => writeln!(f, "{}: corrupt", self.database),
        }
    }
}

/// Checks `db`; runs stock sqlite3's integrity check too if `with_sqlite3`.
pub(crate) fn run(db: &Path, with_sqlite3: bool) -> Result<CheckReport, CliError> {
    let info = info::run(db)?;
    let (problems, notes) = findings(&info);
    let sqlite3 = with_sqlite3.then(|| sqlite3_integrity_check(db));
    Ok(CheckReport { database: info.database.clone(), problems, notes, sqlite3 })
}

/// The problems and notes in what `folio info` read.
fn findings(info: &InfoReport) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    let Some(h) = &info.header else {
        let why = info.header_error.as_deref().unwrap_or("no header");
        problems.push(format!("the database header is not one SQLite opens: {why}"));
        return (problems, notes);
    };
    let page_size = u64::from(h.page_size);
    if !info.file_size.is_multiple_of(page_size) {
        notes.push(format!(
            "the file's {} bytes are not a whole number of {}-byte pages; SQLite ignores the \
             partial page at the end",
            info.file_size, h.page_size
        ));
    }
    let in_wal = info.wal.as_ref().is_some_and(|w| w.max_frame > 0);
    let file_pages = info.file_size / page_size;
    if h.size_valid && !in_wal && u64::from(h.pages_in_header) > file_pages {
        problems.push(format!(
            "page 1 says the database has {} pages, the file holds {file_pages}",
            h.pages_in_header
        ));
    }
    if u64::from(h.freelist_pages) >= h.pages.max(1) {
        problems.push(format!(
            "page 1 says {} pages are free, of a database of {} pages",
            h.freelist_pages, h.pages
        ));
    }
    if h.freelist_pages > 0 && (h.freelist_trunk == 0 || u64::from(h.freelist_trunk) > h.pages) {
        problems.push(format!(
            "page 1 says {} pages are free but names page {} as the first freelist trunk",
            h.freelist_pages, h.freelist_trunk
        ));
    }
    if let Some(j) = info.journal.as_ref().filter(|j| j.size > 0) {
        notes.push(format!(
            "{} ({} bytes) is left beside the database: if it is hot, the next connection rolls \
             the database back with it",
            j.path, j.size
        ));
    }
    if let Some(w) = &info.wal {
        if let Some(why) = &w.ignored {
            if w.size > 0 {
                notes.push(format!(
                    "{} is ignored ({why}); its frames are not part of the database",
                    w.path
                ));
            }
        } else if w.frames as u64 > u64::from(w.max_frame) {
            notes.push(format!(
                "{} holds {} frame(s) after its last commit (a transaction that never committed); \
                 they are not part of the database",
                w.path,
                w.frames as u64 - u64::from(w.max_frame)
            ));
        }
        if h.journal_mode != "wal" && w.max_frame > 0 {
            notes.push(format!(
                "{} holds committed frames but the header is not in WAL mode; SQLite does not \
                 read them",
                w.path
            ));
        }
    }
    if let (Some(s), Some(w)) = (&info.shm, &info.wal) {
        if s.usable && s.max_frame > w.max_frame {
            notes.push(format!(
                "{} indexes frames up to {} but the log's last valid commit is frame {}; the next \
                 connection rebuilds the index from the log",
                s.path, s.max_frame, w.max_frame
            ));
        }
    }
    (problems, notes)
}

/// Stock SQLite's `PRAGMA integrity_check` on `db` through the `sqlite3` shell.
fn sqlite3_integrity_check(db: &Path) -> Sqlite3Check {
    match Command::new("sqlite3").arg(db).arg("PRAGMA integrity_check;").output() {
        Err(e) => Sqlite3Check {
            ran: false,
            result: Vec::new(),
            why_not: Some(format!("the sqlite3 shell is not installed or cannot start ({e})")),
        },
        Ok(out) => {
            let mut result: Vec<String> =
                String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                result.push(format!("sqlite3 failed ({}): {err}", out.status));
            }
            Sqlite3Check { ran: true, result, why_not: None }
        }
    }
}
