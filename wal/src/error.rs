//! The error type of folio-wal: what happened and where (file, region, frame, offset, which
//! check failed).
//!
//! A WAL whose bytes fail a check is usually not an error: SQLite ignores an invalid header and
//! stops at the first invalid frame, and so does [`crate::scan()`], reporting why in its result.
//! Errors are what SQLite reports too: I/O errors, a WAL of an unknown version
//! (`SQLITE_CANTOPEN`), and a wal-index that is corrupt (`SQLITE_CORRUPT`) or not mapped.

use std::path::PathBuf;

/// Result alias for folio-wal.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A folio-wal error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O or lock error from the VFS.
    #[error(transparent)]
    Vfs(#[from] folio_vfs::Error),
    /// The WAL header's checksum verifies but its version (bytes 4..8) is not 3007000: SQLite
    /// refuses to open the database (`SQLITE_CANTOPEN`).
    #[error("{}: WAL format version {version} at offset 4 is not 3007000", path.display())]
    UnsupportedVersion {
        /// The WAL file.
        path: PathBuf,
        /// The version it claims.
        version: u32,
    },
    /// The wal-index is inconsistent (`SQLITE_CORRUPT`).
    #[error("wal-index corrupt in region {region}: {what}")]
    IndexCorrupt {
        /// The 32 KiB region.
        region: u32,
        /// Which check failed.
        what: IndexCorruption,
    },
    /// A read transaction's snapshot is older than the live log: another connection committed
    /// since it began, so it cannot become a write transaction (`SQLITE_BUSY_SNAPSHOT`). End
    /// the read transaction and start again.
    #[error("{}: another connection committed since this read transaction began (snapshot at frame {snapshot}, live log at frame {live})", path.display())]
    BusySnapshot {
        /// The WAL file.
        path: PathBuf,
        /// The snapshot's last frame.
        snapshot: u32,
        /// The live log's last frame.
        live: u32,
    },
    /// Another connection is rebuilding the wal-index (`SQLITE_BUSY_RECOVERY`); retry.
    #[error("{}: another connection is recovering the wal-index", path.display())]
    BusyRecovery {
        /// The WAL file.
        path: PathBuf,
    },
    /// A read transaction could not get a consistent snapshot in 100 attempts
    /// (`SQLITE_PROTOCOL`).
    #[error("{}: no consistent wal-index snapshot after {attempts} attempts", path.display())]
    Protocol {
        /// The WAL file.
        path: PathBuf,
        /// Attempts made.
        attempts: u32,
    },
    /// A write or checkpoint on a read-only connection (`SQLITE_READONLY`).
    #[error("{}: read-only connection cannot {what}", path.display())]
    ReadOnly {
        /// The WAL file.
        path: PathBuf,
        /// What was attempted.
        what: &'static str,
    },
    /// The WAL or database is inconsistent with what the wal-index says (`SQLITE_CORRUPT`).
    #[error("{}: {what}", path.display())]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// Which check failed.
        what: String,
    },
    /// The API was used out of order (a bug in the caller).
    #[error("misuse of the WAL {}: {what}", path.display())]
    Misuse {
        /// The WAL file.
        path: PathBuf,
        /// The broken rule.
        what: String,
    },
    /// A wal-index region the operation needs is not among those given (not mapped yet).
    #[error("wal-index region {region} is not mapped ({mapped} regions are)")]
    RegionMissing {
        /// The region needed.
        region: u32,
        /// How many regions were given.
        mapped: usize,
    },
}

impl Error {
    /// True when retrying later may succeed: a lock conflict, a recovery in progress, or a
    /// stale snapshot (after a fresh read transaction) (`SQLITE_BUSY` and its extended codes).
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Vfs(e) => e.is_busy(),
            Error::BusySnapshot { .. } | Error::BusyRecovery { .. } => true,
            _ => false,
        }
    }

    /// True for a plain lock conflict (not a stale snapshot or a recovery).
    pub fn is_lock_busy(&self) -> bool {
        matches!(self, Error::Vfs(e) if e.is_busy())
    }
}

/// Which wal-index check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IndexCorruption {
    /// A lookup probed every hash slot without finding an empty one (`sqlite3WalFindFrame`'s
    /// `nCollide`).
    #[error("lookup of page {page_no} found no empty hash slot in {probes} probes")]
    LookupProbesExhausted {
        /// The page looked up.
        page_no: u32,
        /// Probes made.
        probes: usize,
    },
    /// An insert found more occupied slots on its probe path than entries can exist
    /// (`walIndexAppend`'s `nCollide`).
    #[error("insert of frame {frame_no} (page {page_no}) met {probes} occupied slots")]
    InsertProbesExhausted {
        /// The frame inserted.
        frame_no: u32,
        /// Its page.
        page_no: u32,
        /// Occupied slots met.
        probes: usize,
    },
}
