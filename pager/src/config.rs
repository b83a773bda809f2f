//! The pager's settings, named and valued as SQLite's pragmas are (`journal_mode`,
//! `synchronous`, `locking_mode`, `cache_size`, `mmap_size`, `journal_size_limit`, `page_size`,
//! `busy_timeout`), with parsers that turn a garbage value into a clear error.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `PRAGMA journal_mode` for rollback-journal databases (SQLite's pager.c,
/// `pager_end_transaction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JournalMode {
    /// The journal is deleted to commit (SQLite's default).
    #[default]
    Delete,
    /// The journal is truncated to zero bytes to commit.
    Truncate,
    /// The journal's header is zeroed to commit; the file stays.
    Persist,
    /// The journal lives in memory: a crash mid-commit can corrupt the database.
    Memory,
    /// No journal: no rollback after a spill, and a crash mid-commit can corrupt the database.
    Off,
    /// Write-ahead log (`<db>-wal` and the wal-index `<db>-shm`): commits append frames to
    /// the log, readers keep their snapshot while a writer commits, checkpoints copy the log
    /// back into the database. Persistent: the database header says so (bytes 18/19 = 2).
    Wal,
}

impl JournalMode {
    /// True for the modes with a journal file on disk.
    pub fn has_journal_file(self) -> bool {
        matches!(self, JournalMode::Delete | JournalMode::Truncate | JournalMode::Persist)
    }
}

/// `PRAGMA synchronous`. In WAL mode FULL and EXTRA sync the log at every commit; NORMAL syncs
/// it only at checkpoints (a power loss may lose the last commits, never consistency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Synchronous {
    /// No syncs at all.
    Off,
    /// Journal synced once, database synced once per commit — SQLite's sequence, with
    /// SQLite's documented exposure: a power loss at the wrong moment can leave a journal whose
    /// record count reached the disk before all its records did, or (TRUNCATE) bring back a
    /// journal whose truncation was lost and which the next transaction partly overwrote;
    /// rolling such a journal back damages the database. DELETE may also lose the last commit.
    /// The crash suite measures both. Use FULL when a power loss must never corrupt.
    Normal,
    /// NORMAL plus a journal sync before its record count is written and after finalizing
    /// (SQLite's default).
    #[default]
    Full,
    /// FULL plus a directory sync after deleting the journal.
    Extra,
}

/// `PRAGMA locking_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LockingMode {
    /// Locks are released at the end of each transaction.
    #[default]
    Normal,
    /// Locks, once taken, are kept until the mode goes back to NORMAL and a transaction ends.
    Exclusive,
}

/// SQLite's default `cache_size`: -2000, i.e. about 2000 KiB of pages.
pub const DEFAULT_CACHE_SIZE: i64 = -2000;
/// SQLite's default page size for a new database.
pub const DEFAULT_PAGE_SIZE: u32 = 4096;
/// SQLite's default `wal_autocheckpoint` (`SQLITE_DEFAULT_WAL_AUTOCHECKPOINT`).
pub const DEFAULT_WAL_AUTOCHECKPOINT: u32 = 1000;
/// Bytes of bookkeeping charged to each cached page when `cache_size` is given in KiB
/// (SQLite charges the size of its page headers the same way).
pub const PAGE_OVERHEAD: u64 = 136;

/// Pages the cache may hold for `cache_size` (positive: pages; negative: -KiB) at `page_size`,
/// as SQLite's `numberOfCachePages` computes it; never less than 1.
pub fn cache_pages(cache_size: i64, page_size: u32) -> usize {
    let pages = if cache_size >= 0 {
        cache_size.unsigned_abs()
    } else {
        cache_size.unsigned_abs().saturating_mul(1024) / (u64::from(page_size) + PAGE_OVERHEAD)
    };
    usize::try_from(pages).unwrap_or(usize::MAX).max(1)
}

/// Settings a pager opens with; every one but `powersafe_overwrite` can also be changed on an
/// open pager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerOptions {
    /// How the journal is committed.
    pub journal_mode: JournalMode,
    /// How hard commits sync.
    pub synchronous: Synchronous,
    /// Whether locks are kept between transactions.
    pub locking_mode: LockingMode,
    /// `cache_size`: positive = pages, negative = KiB.
    pub cache_size: i64,
    /// `mmap_size`: bytes of the database file to read through a memory map (0 = off).
    pub mmap_size: u64,
    /// `journal_size_limit`: bytes a PERSIST journal may keep after a commit (-1 = no limit).
    pub journal_size_limit: i64,
    /// Page size of a new (empty) database; an existing database's header wins.
    pub page_size: u32,
    /// Bytes reserved at the end of each page of a new database.
    pub reserved_bytes: u8,
    /// Open read-only.
    pub read_only: bool,
    /// Create the file if it does not exist (ignored when read-only).
    pub create: bool,
    /// How long to retry when a lock is busy (0: fail at once).
    pub busy_timeout: Duration,
    /// `wal_autocheckpoint`: after a commit leaves at least this many frames in the log, run a
    /// PASSIVE checkpoint (0 disables).
    pub wal_autocheckpoint: u32,
    /// Refuse a database name that leads through a symbolic link (SQLite's
    /// `SQLITE_OPEN_NOFOLLOW`). Without it links are followed and the journal and log are
    /// named after the file the links lead to, as SQLite names them.
    pub no_follow: bool,
    /// `SQLITE_FCNTL_CHUNK_SIZE` on the database file (0: none): the file grows and shrinks in
    /// whole chunks of this many bytes, a commit that grows it preallocating the chunks
    /// (`SQLITE_FCNTL_SIZE_HINT`) where the VFS can.
    pub chunk_size: u32,
    /// `SQLITE_FCNTL_PERSIST_WAL`: in WAL mode, the last connection's close keeps the `-wal`
    /// (truncated to 0 bytes when `journal_size_limit` ≥ 0) and the `-shm` instead of deleting
    /// them.
    pub persist_wal: bool,
    /// `SQLITE_FCNTL_POWERSAFE_OVERWRITE` (the `psow` URI parameter): with `false` the pager
    /// never assumes powersafe overwrite, whatever the VFS says, so journal records cover whole
    /// sectors of the VFS's sector size and WAL commits at FULL are padded out to a sector;
    /// `true` takes the VFS's word. Fixed at open, as SQLite's unix VFS fixes it at the first
    /// ask.
    pub powersafe_overwrite: bool,
    /// SQLite's `readonly_shm=1`: open the `-shm` read-only (never creating it), so that in WAL
    /// mode this connection reads the wal-index without ever writing it (or, with nobody live
    /// keeping it, reads the log through a private index). Such a connection cannot write or
    /// checkpoint a WAL database; pair it with `read_only`.
    pub readonly_shm: bool,
}

impl Default for PagerOptions {
    fn default() -> Self {
        PagerOptions {
            journal_mode: JournalMode::Delete,
            synchronous: Synchronous::Full,
            locking_mode: LockingMode::Normal,
            cache_size: DEFAULT_CACHE_SIZE,
            mmap_size: 0,
            journal_size_limit: -1,
            page_size: DEFAULT_PAGE_SIZE,
            reserved_bytes: 0,
            read_only: false,
            create: true,
            busy_timeout: Duration::ZERO,
            wal_autocheckpoint: DEFAULT_WAL_AUTOCHECKPOINT,
            no_follow: false,
            chunk_size: 0,
            persist_wal: false,
            powersafe_overwrite: true,
            readonly_shm: false,
        }
    }
}

/// Checks a page size: a power of two in 512..=65536.
pub fn check_page_size(page_size: u32) -> Result<u32> {
    if folio_vfs::format::valid_page_size(page_size) {
        Ok(page_size)
    } else {
        Err(Error::InvalidValue {
            setting: "page_size",
            value: page_size.to_string(),
            expected: "a power of two from 512 to 65536",
        })
    }
}

fn invalid(setting: &'static str, value: &str, expected: &'static str) -> Error {
    Error::InvalidValue { setting, value: value.to_string(), expected }
}

impl FromStr for JournalMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "delete" => JournalMode::Delete,
            "truncate" => JournalMode::Truncate,
            "persist" => JournalMode::Persist,
            "memory" => JournalMode::Memory,
            "off" => JournalMode::Off,
            "wal" => JournalMode::Wal,
            _ => {
                return Err(invalid(
                    "journal_mode",
                    s,
                    "DELETE, TRUNCATE, PERSIST, MEMORY, WAL or OFF",
                ))
            }
        })
    }
}

impl FromStr for Synchronous {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "0" | "off" | "no" | "false" => Synchronous::Off,
            "1" | "normal" => Synchronous::Normal,
            "2" | "full" | "on" | "yes" | "true" => Synchronous::Full,
            "3" | "extra" => Synchronous::Extra,
            _ => return Err(invalid("synchronous", s, "OFF, NORMAL, FULL, EXTRA or 0..3")),
        })
    }
}

impl FromStr for LockingMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "normal" => LockingMode::Normal,
            "exclusive" => LockingMode::Exclusive,
            _ => return Err(invalid("locking_mode", s, "NORMAL or EXCLUSIVE")),
        })
    }
}

impl fmt::Display for JournalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
            JournalMode::Memory => "memory",
            JournalMode::Off => "off",
            JournalMode::Wal => "wal",
        })
    }
}

impl fmt::Display for Synchronous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Synchronous::Off => "off",
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
            Synchronous::Extra => "extra",
        })
    }
}

impl fmt::Display for LockingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockingMode::Normal => "normal",
            LockingMode::Exclusive => "exclusive",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_size_follows_sqlite_units() {
        assert_eq!(cache_pages(100, 4096), 100);
        // -2000 KiB of 4096-byte pages with their overhead: 2_048_000 / 4232.
        assert_eq!(cache_pages(-2000, 4096), 483);
        assert_eq!(cache_pages(0, 4096), 1);
        assert_eq!(cache_pages(-1, 65536), 1);
    }

    #[test]
    fn garbage_pragma_values_are_named_errors() {
        assert_eq!("PERSIST".parse::<JournalMode>().unwrap(), JournalMode::Persist);
        assert_eq!("Wal".parse::<JournalMode>().unwrap(), JournalMode::Wal);
        assert_eq!(" extra ".parse::<Synchronous>().unwrap(), Synchronous::Extra);
        assert_eq!("1".parse::<Synchronous>().unwrap(), Synchronous::Normal);
        assert_eq!("Exclusive".parse::<LockingMode>().unwrap(), LockingMode::Exclusive);
        let err = "wal2".parse::<JournalMode>().unwrap_err().to_string();
        assert!(err.contains("journal_mode") && err.contains("wal2"), "{err}");
        assert!("4".parse::<Synchronous>().is_err());
        assert!("shared".parse::<LockingMode>().is_err());
        assert!(check_page_size(1000).is_err());
        assert!(check_page_size(256).is_err());
        assert!(check_page_size(131072).is_err());
        assert_eq!(check_page_size(65536).unwrap(), 65536);
    }
}
