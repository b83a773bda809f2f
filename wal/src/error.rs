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
#[derive(Debug, Clone, thiserror::Error)]
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
    /// A write or checkpoint on a read-only connection, or a read or recovery a read-only
    /// `-shm` cannot support (`SQLITE_READONLY` and its extended codes).
    #[error("{}: read-only connection cannot {refused}", path.display())]
    ReadOnly {
        /// The WAL file.
        path: PathBuf,
        /// What was refused.
        refused: ReadOnlyRefusal,
    },
    /// The WAL or database is inconsistent with what the wal-index says (`SQLITE_CORRUPT`).
    #[error("{}: {check}", path.display())]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// Which check failed, with the frame, page or offset it concerns.
        check: Corruption,
    },
    /// The API was used out of order (a bug in the caller).
    #[error("misuse of the WAL {}: {rule}", path.display())]
    Misuse {
        /// The WAL file.
        path: PathBuf,
        /// The broken rule.
        rule: Misuse,
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

/// Which check of the WAL, the wal-index header or the database failed ([`Error::Corrupt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The wal-index header's page size field (offset 14) encodes no valid page size.
    #[error("wal-index header page size field {sz_page} is invalid")]
    IndexPageSize {
        /// The field as stored.
        sz_page: u16,
    },
    /// The wal-index header's version (offset 0) is not 3007000 (`SQLITE_CANTOPEN`).
    #[error("wal-index header version {version} is not 3007000 (SQLITE_CANTOPEN)")]
    IndexVersion {
        /// The version stored.
        version: u32,
    },
    /// Frames the wal-index lists end before their last byte in the WAL file.
    #[error(
        "frames {first}..={last} at offset {offset} are cut short ({n_read} of {len} bytes) \
         though the wal-index lists them"
    )]
    FramesCutShort {
        /// The first frame read.
        first: u32,
        /// The last frame read.
        last: u32,
        /// The byte offset of the read in the WAL file.
        offset: u64,
        /// Bytes read.
        n_read: usize,
        /// Bytes asked for.
        len: usize,
    },
    /// A checkpoint found the log's page size different from the database's.
    #[error("the log holds {log}-byte pages but the database's are {database} bytes")]
    CheckpointPageSize {
        /// The log's page size.
        log: u32,
        /// The database's page size.
        database: u32,
    },
    /// Frames written to a log whose page size differs from theirs.
    #[error("the log holds {log}-byte pages; frames of {frames} bytes cannot join it")]
    FramePageSize {
        /// The log's page size.
        log: u32,
        /// The frames' page size.
        frames: u32,
    },
    /// The log's database size (in its last commit frame) is more than the database file and
    /// the log's frames together can hold (SQLite's walCheckpoint check).
    #[error(
        "the log says the database has {n_page} pages; the file's {db_size} bytes and the \
         log's {max_frame} frames cannot make that many"
    )]
    DatabaseSize {
        /// The database size in pages the log records.
        n_page: u32,
        /// The database file's size in bytes.
        db_size: u64,
        /// The log's last valid frame.
        max_frame: u32,
    },
}

/// What a read-only connection or `-shm` refused ([`Error::ReadOnly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadOnlyRefusal {
    /// A write transaction.
    #[error("write")]
    Write,
    /// A checkpoint.
    #[error("checkpoint")]
    Checkpoint,
    /// A read transaction: no read mark fits the snapshot and the `-shm` is read-only, so none
    /// can be set (SQLite's `SQLITE_READONLY_CANTINIT` from walTryBeginRead).
    #[error("read: no read mark fits the snapshot and the -shm is read-only")]
    NoReadMark,
    /// Rebuilding the wal-index, which a read-only `-shm` cannot hold (SQLite's
    /// `SQLITE_READONLY_RECOVERY`).
    #[error("recover the wal-index: the -shm is read-only")]
    Recover,
}

/// Which rule of the WAL API a caller broke ([`Error::Misuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// `begin_read` while a read transaction is open.
    #[error("begin_read inside a read transaction")]
    BeginReadInRead,
    /// A frame lookup with no read transaction open.
    #[error("find a frame outside a read transaction")]
    FindOutsideRead,
    /// `read_frame` into a buffer that is not one page long.
    #[error("read_frame into a {len}-byte buffer, not one {page_size}-byte page")]
    ReadBuffer {
        /// The buffer's length.
        len: usize,
        /// The log's page size.
        page_size: u32,
    },
    /// `begin_write` with no read transaction open.
    #[error("begin_write outside a read transaction")]
    BeginWriteOutsideRead,
    /// `write_frames` with no write transaction open.
    #[error("write frames outside a write transaction")]
    WriteOutsideWrite,
    /// `write_frames` with no pages.
    #[error("write frames: no pages")]
    NoPages,
    /// `write_frames` of page 0, which does not exist.
    #[error("write frames: page 0")]
    PageZero,
    /// `write_frames` of a page image that is not one page long.
    #[error(
        "write frames: the image of page {page} is {len} bytes, not one {page_size}-byte page"
    )]
    ImageSize {
        /// The page.
        page: u32,
        /// The image's length.
        len: usize,
        /// The page size.
        page_size: u32,
    },
    /// `write_frames` with a page size SQLite does not allow.
    #[error("write frames of invalid page size {0}")]
    PageSize(u32),
    /// A checkpoint while a read or write transaction is open.
    #[error("checkpoint inside a transaction")]
    CheckpointInTransaction,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shows(error: &Error, parts: &[&str]) {
        let text = error.to_string();
        for part in parts {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
    }

    fn wal() -> PathBuf {
        PathBuf::from("/d/a.db-wal")
    }

    #[test]
    fn each_variant_names_its_file_and_numbers() {
        let vfs = folio_vfs::Error::ReadOnly { op: folio_vfs::Op::Write, path: wal() };
        shows(&Error::from(vfs), &["write /d/a.db-wal", "read-only"]);
        let e = Error::UnsupportedVersion { path: wal(), version: 3007001 };
        shows(&e, &["/d/a.db-wal", "3007001", "offset 4"]);
        let e = Error::BusySnapshot { path: wal(), snapshot: 5, live: 9 };
        shows(&e, &["/d/a.db-wal", "frame 5", "frame 9"]);
        shows(&Error::BusyRecovery { path: wal() }, &["/d/a.db-wal", "recovering"]);
        shows(&Error::Protocol { path: wal(), attempts: 100 }, &["/d/a.db-wal", "100 attempts"]);
        let refusals = [
            (ReadOnlyRefusal::Write, "cannot write"),
            (ReadOnlyRefusal::Checkpoint, "cannot checkpoint"),
            (ReadOnlyRefusal::NoReadMark, "no read mark fits"),
            (ReadOnlyRefusal::Recover, "cannot recover the wal-index"),
        ];
        for (refused, words) in refusals {
            shows(&Error::ReadOnly { path: wal(), refused }, &["/d/a.db-wal", words]);
        }
        shows(&Error::RegionMissing { region: 3, mapped: 2 }, &["region 3", "2 regions"]);
    }

    #[test]
    fn index_corrupt_names_the_region_page_and_frame() {
        let what = IndexCorruption::LookupProbesExhausted { page_no: 17, probes: 8192 };
        shows(&Error::IndexCorrupt { region: 2, what }, &["region 2", "page 17", "8192 probes"]);
        let what = IndexCorruption::InsertProbesExhausted { frame_no: 40, page_no: 7, probes: 9 };
        shows(&Error::IndexCorrupt { region: 0, what }, &["region 0", "frame 40", "page 7", "9"]);
    }

    #[test]
    fn corrupt_names_the_file_and_the_check() {
        use Corruption::*;
        let checks = [
            (IndexPageSize { sz_page: 3 }, vec!["page size field 3"]),
            (IndexVersion { version: 7 }, vec!["version 7", "3007000"]),
            (
                FramesCutShort { first: 4, last: 6, offset: 32, n_read: 10, len: 99 },
                vec!["frames 4..=6", "offset 32", "10 of 99 bytes"],
            ),
            (CheckpointPageSize { log: 1024, database: 4096 }, vec!["1024-byte", "4096 bytes"]),
            (FramePageSize { log: 1024, frames: 512 }, vec!["1024-byte", "512 bytes"]),
            (
                DatabaseSize { n_page: 50, db_size: 8192, max_frame: 3 },
                vec!["50 pages", "8192 bytes", "3 frames"],
            ),
        ];
        for (check, words) in checks {
            let mut words = words;
            words.push("/d/a.db-wal");
            shows(&Error::Corrupt { path: wal(), check }, &words);
        }
    }

    #[test]
    fn misuse_names_the_file_and_the_rule() {
        use Misuse::*;
        let rules = [
            (BeginReadInRead, "begin_read inside"),
            (FindOutsideRead, "outside a read transaction"),
            (ReadBuffer { len: 100, page_size: 4096 }, "100-byte buffer, not one 4096-byte page"),
            (BeginWriteOutsideRead, "begin_write outside"),
            (WriteOutsideWrite, "outside a write transaction"),
            (NoPages, "no pages"),
            (PageZero, "page 0"),
            (ImageSize { page: 9, len: 10, page_size: 512 }, "page 9 is 10 bytes"),
            (PageSize(1000), "invalid page size 1000"),
            (CheckpointInTransaction, "checkpoint inside"),
        ];
        for (rule, words) in rules {
            shows(&Error::Misuse { path: wal(), rule }, &["misuse of the WAL /d/a.db-wal", words]);
        }
    }
}
