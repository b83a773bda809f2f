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
    /// A wal-index region the operation needs is not among those given (not mapped yet).
    #[error("wal-index region {region} is not mapped ({mapped} regions are)")]
    RegionMissing {
        /// The region needed.
        region: u32,
        /// How many regions were given.
        mapped: usize,
    },
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
