//! The rules SQLite's file formats share, each written once: which page sizes a database, a
//! rollback journal and a WAL may carry, which sector sizes a journal header may claim, and the
//! names of a database's sidecar files (`<db>-journal`, `<db>-wal`, `<db>-shm`).
//!
//! This is the lowest crate the journal, WAL and pager codecs all depend on, so their common
//! rules live here; the layouts of their structures stay in their own crates.

use std::path::{Path, PathBuf};

/// The smallest page size.
pub const MIN_PAGE_SIZE: u32 = 512;
/// The largest page size (`SQLITE_MAX_PAGE_SIZE`).
pub const MAX_PAGE_SIZE: u32 = 65536;

/// True for the page sizes SQLite's formats allow: powers of two in 512..=65536 (the database
/// header's check in `lockBtree`, the journal header's in `readJournalHdr`, the WAL header's in
/// `walIndexRecover`).
#[inline]
pub const fn valid_page_size(page_size: u32) -> bool {
    page_size.is_power_of_two() && MIN_PAGE_SIZE <= page_size && page_size <= MAX_PAGE_SIZE
}

/// The smallest sector size a journal header may claim; below it SQLite's `sqlite3SectorSize`
/// uses 512 instead of what the VFS reports.
pub const MIN_SECTOR_SIZE: u32 = 32;
/// The largest sector size (pager.c `MAX_SECTOR_SIZE`); larger reports are capped to it.
pub const MAX_SECTOR_SIZE: u32 = 65536;

/// True for the sector sizes a journal header may claim: powers of two in 32..=65536
/// (`readJournalHdr`).
#[inline]
pub const fn valid_sector_size(sector_size: u32) -> bool {
    sector_size.is_power_of_two()
        && MIN_SECTOR_SIZE <= sector_size
        && sector_size <= MAX_SECTOR_SIZE
}

/// The sector size SQLite works with for a file whose VFS reports `reported` (pager.c
/// `sqlite3SectorSize`): below [`MIN_SECTOR_SIZE`] it is taken as 512, above
/// [`MAX_SECTOR_SIZE`] capped to it. The rollback journal aligns its headers to it and a WAL
/// commit pads its last frame to it (without powersafe overwrite).
#[inline]
pub const fn sector_size_in_use(reported: u32) -> u32 {
    if reported < MIN_SECTOR_SIZE {
        512
    } else if reported > MAX_SECTOR_SIZE {
        MAX_SECTOR_SIZE
    } else {
        reported
    }
}

/// A file SQLite keeps beside a database, named by appending a suffix to the database's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sidecar {
    /// The rollback journal, `<db>-journal`.
    Journal,
    /// The write-ahead log, `<db>-wal`.
    Wal,
    /// The wal-index, `<db>-shm`.
    Shm,
}

impl Sidecar {
    /// The suffix appended to the database's path.
    pub const fn suffix(self) -> &'static str {
        match self {
            Sidecar::Journal => "-journal",
            Sidecar::Wal => "-wal",
            Sidecar::Shm => "-shm",
        }
    }

    /// The sidecar's path for the database at `db`: the path with the suffix appended to its
    /// last component, byte for byte (no normalization, any encoding).
    pub fn path_of(self, db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(self.suffix());
        PathBuf::from(name)
    }

    /// The database a sidecar at `path` belongs to: `path` without the suffix; `None` if it does
    /// not end in the suffix or is not UTF-8.
    pub fn database_of(self, path: &Path) -> Option<PathBuf> {
        path.to_str()?.strip_suffix(self.suffix()).map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests;
