//! The pager's error type: what went wrong, in which file, at which page or offset.

use std::path::PathBuf;

/// `Result` with the pager's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the pager. I/O and lock conflicts come from the VFS unchanged
/// ([`Error::Vfs`]); the rest is the pager's own judgement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The VFS failed (I/O error, lock conflict, cannot open, …).
    #[error(transparent)]
    Vfs(#[from] folio_vfs::Error),
    /// The write-ahead log or its wal-index failed (lock conflicts and I/O errors included).
    #[error(transparent)]
    Wal(#[from] folio_wal::Error),
    /// The file's bytes break a rule of the format (SQLITE_CORRUPT).
    #[error("database disk image is malformed: {}{}: {what}", path.display(), at(*page, *offset))]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The page concerned, if one.
        page: Option<u32>,
        /// The byte offset in the file, if known.
        offset: Option<u64>,
        /// Which check failed.
        what: String,
    },
    /// The file is not an SQLite database (SQLITE_NOTADB).
    #[error("file is not a database: {} (header offset {offset}: {what})", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// The header field that is wrong.
        offset: usize,
        /// What is wrong with it.
        what: String,
    },
    /// A write on a read-only pager (SQLITE_READONLY).
    #[error("attempt to write a readonly database: {}: {what}", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// What was attempted.
        what: String,
    },
    /// The database file was renamed or deleted (or another file took its name) since it was
    /// opened, so a journal made now would sit beside the wrong file: writing is refused
    /// (SQLITE_READONLY_DBMOVED). Reading goes on; reopen the database under its new name.
    #[error("{} was moved or deleted while open; refusing to write it (reopen it by its new name)", path.display())]
    Moved {
        /// The name the database was opened under.
        path: PathBuf,
    },
    /// A hot journal must be rolled back but this pager is read-only (SQLITE_READONLY_ROLLBACK).
    #[error("{} has a hot journal that a read-only connection cannot roll back", path.display())]
    ReadOnlyRollback {
        /// The database file.
        path: PathBuf,
    },
    /// An earlier failure left the pager unusable; reopen it (the hot journal it left, if any,
    /// is rolled back then).
    #[error("the pager of {} is unusable after an earlier failure ({cause}); reopen it", path.display())]
    Poisoned {
        /// The database file.
        path: PathBuf,
        /// The failure that poisoned it.
        cause: String,
    },
    /// The caller broke the API's rules (no transaction open, page 0, …) (SQLITE_MISUSE).
    #[error("misuse of the pager of {}: {what}", path.display())]
    Misuse {
        /// The database file.
        path: PathBuf,
        /// The broken rule.
        what: String,
    },
    /// A setting or pragma value that is not one of the accepted ones.
    #[error("invalid {setting} {value:?}: expected {expected}")]
    InvalidValue {
        /// The setting (e.g. `journal_mode`).
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Not supported (yet): for example a WAL database before the WAL issue lands.
    #[error("{}: {what} is not supported", path.display())]
    Unsupported {
        /// The database file.
        path: PathBuf,
        /// What is not supported.
        what: String,
    },
}

fn at(page: Option<u32>, offset: Option<u64>) -> String {
    match (page, offset) {
        (Some(p), Some(o)) => format!(" page {p} (offset {o})"),
        (Some(p), None) => format!(" page {p}"),
        (None, Some(o)) => format!(" offset {o}"),
        (None, None) => String::new(),
    }
}

impl Error {
    /// True when a lock was not available: retrying later may succeed (SQLITE_BUSY).
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Vfs(e) => e.is_busy(),
            Error::Wal(e) => e.is_busy(),
            _ => false,
        }
    }

    /// True when a WAL read transaction's snapshot is stale and cannot become a write
    /// transaction (SQLITE_BUSY_SNAPSHOT): end the read transaction and start again.
    pub fn is_busy_snapshot(&self) -> bool {
        matches!(self, Error::Wal(folio_wal::Error::BusySnapshot { .. }))
    }

    /// The VFS error underneath, if any (directly or through the WAL).
    pub fn vfs_error(&self) -> Option<&folio_vfs::Error> {
        match self {
            Error::Vfs(e) | Error::Wal(folio_wal::Error::Vfs(e)) => Some(e),
            _ => None,
        }
    }

    /// True for [`Error::Corrupt`] and [`Error::NotADatabase`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Corrupt { .. } | Error::NotADatabase { .. })
    }

    /// True when the failure was a full disk (SQLITE_FULL).
    pub fn is_disk_full(&self) -> bool {
        self.vfs_error().is_some_and(|e| e.is_disk_full())
    }
}
