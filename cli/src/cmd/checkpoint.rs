//! `folio checkpoint DB --mode MODE`: `PRAGMA wal_checkpoint(MODE)` on the database.

use crate::{CliError, Report};
use folio_pager::CheckpointMode;
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// What a checkpoint did; the `--json` schema:
/// `{"database": str, "mode": "passive"|"full"|"restart"|"truncate", "wal": bool,
///   "busy": bool, "log_frames": int|null, "checkpointed_frames": int|null}`.
/// As `PRAGMA wal_checkpoint`'s row: the frames in the log and the frames copied, `null` (SQLite:
/// -1) for a database not in WAL mode.
#[derive(Debug, Serialize)]
pub struct CheckpointReport {
    /// The database file.
    pub database: String,
    /// The mode asked for.
    pub mode: &'static str,
    /// True if the database is in WAL mode.
    pub wal: bool,
    /// The checkpoint could not finish what its mode asks (readers or a writer in the way).
    pub busy: bool,
    /// Frames in the log.
    pub log_frames: Option<u32>,
    /// Frames of the log now in the database file.
    pub checkpointed_frames: Option<u32>,
}

impl Report for CheckpointReport {}

impl fmt::Display for CheckpointReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.log_frames, self.checkpointed_frames) {
            (Some(log), Some(copied)) => {
                writeln!(
                    f,
                    "{}: {} checkpoint: {copied} of {log} log frame(s) in the database{}",
                    self.database,
                    self.mode,
                    if self.busy {
                        " (busy: readers or a writer kept it from finishing)"
                    } else {
                        ""
                    }
                )
            }
            _ => writeln!(f, "{}: not in WAL mode; nothing to checkpoint", self.database),
        }
    }
}

/// Checkpoints `db` in `mode`.
pub(crate) fn run(db: &Path, mode: CheckpointMode) -> Result<CheckpointReport, CliError> {
    let mut pager = super::open_existing(db, false)?;
    let done = pager.checkpoint(mode)?;
    let wal = pager.in_wal_mode();
    pager.close()?;
    Ok(CheckpointReport {
        database: db.display().to_string(),
        mode: match mode {
            CheckpointMode::Passive => "passive",
            CheckpointMode::Full => "full",
            CheckpointMode::Restart => "restart",
            CheckpointMode::Truncate => "truncate",
        },
        wal,
        busy: done.busy,
        log_frames: wal.then_some(done.log),
        checkpointed_frames: wal.then_some(done.checkpointed),
    })
}
