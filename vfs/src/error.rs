//! The error type of folio-vfs: what happened, to which file, during which operation.
//!
//! Variants follow SQLite's result vocabulary where a user of SQLite would expect it
//! (`Busy`, `ReadOnly`, `CantOpen`, I/O errors with the OS error attached, disk full).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias for folio-vfs.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The operation that failed, named as SQLite's VFS methods are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Opening a file.
    Open,
    /// Reading at an offset.
    Read,
    /// Writing at an offset.
    Write,
    /// Truncating or extending a file.
    Truncate,
    /// Syncing a file to stable storage.
    Sync,
    /// Starting the write-back of a range of a file ([`crate::VfsFile::start_writeback`]).
    Writeback,
    /// Syncing a directory (after a create or delete).
    SyncDir,
    /// Asking a file's size.
    Size,
    /// Taking a database lock.
    Lock,
    /// Releasing a database lock.
    Unlock,
    /// Checking for a RESERVED lock held elsewhere.
    CheckReserved,
    /// Deleting a file.
    Delete,
    /// Checking existence or permissions.
    Access,
    /// Resolving a full path.
    FullPath,
    /// Opening the `-shm` file.
    ShmOpen,
    /// Mapping a shared-memory region.
    ShmMap,
    /// Taking or releasing a shared-memory lock slot.
    ShmLock,
    /// Unmapping shared memory.
    ShmUnmap,
    /// Memory-mapping the database file.
    Mmap,
    /// Reading OS randomness.
    Random,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Op::Open => "open",
            Op::Read => "read",
            Op::Write => "write",
            Op::Truncate => "truncate",
            Op::Sync => "sync",
            Op::Writeback => "start write-back of",
            Op::SyncDir => "sync directory of",
            Op::Size => "size of",
            Op::Lock => "lock",
            Op::Unlock => "unlock",
            Op::CheckReserved => "check reserved lock on",
            Op::Delete => "delete",
            Op::Access => "access",
            Op::FullPath => "resolve full path of",
            Op::ShmOpen => "open shared memory of",
            Op::ShmMap => "map shared memory of",
            Op::ShmLock => "lock shared memory of",
            Op::ShmUnmap => "unmap shared memory of",
            Op::Mmap => "mmap",
            Op::Random => "read randomness for",
        };
        f.write_str(s)
    }
}

/// A folio-vfs error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another connection (in this process or another) holds a conflicting lock (SQLITE_BUSY).
    #[error("database is locked: cannot {op} {} ({what})", path.display())]
    Busy {
        /// The operation that found the conflict.
        op: Op,
        /// The file.
        path: PathBuf,
        /// Which lock was wanted, e.g. "EXCLUSIVE" or "shm slot 0..1 exclusive".
        what: String,
    },
    /// The OS reported an error (SQLITE_IOERR, SQLITE_FULL, SQLITE_PERM…); the OS error is kept.
    #[error("cannot {op} {}{}: {source}", path.display(), at_offset(*offset))]
    Io {
        /// The operation.
        op: Op,
        /// The file.
        path: PathBuf,
        /// The byte offset, where the operation has one.
        offset: Option<u64>,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file cannot be opened as asked (SQLITE_CANTOPEN): a directory, a missing parent, …
    #[error("cannot open {}: {reason}", path.display())]
    CantOpen {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
        /// The OS error, if there was one.
        #[source]
        source: Option<io::Error>,
    },
    /// A write-type operation on a file opened read-only (SQLITE_READONLY).
    #[error("cannot {op} {}: opened read-only", path.display())]
    ReadOnly {
        /// The operation refused.
        op: Op,
        /// The file.
        path: PathBuf,
    },
    /// The operation does not apply to this file or VFS (for example shared memory on a journal).
    #[error("cannot {op} {}: {why}", path.display())]
    Unsupported {
        /// The operation.
        op: Op,
        /// The file.
        path: PathBuf,
        /// Why not.
        why: &'static str,
    },
    /// The caller broke the VFS protocol (for example RESERVED without SHARED) (SQLITE_MISUSE).
    #[error("misuse of {}: {what}", path.display())]
    Misuse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
}

fn at_offset(offset: Option<u64>) -> String {
    offset.map(|o| format!(" at offset {o}")).unwrap_or_default()
}

impl Error {
    /// Builds an [`Error::Io`] for `op` on `path`.
    pub fn io(op: Op, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { op, path: path.into(), offset: None, source }
    }

    /// Builds an [`Error::Io`] for `op` on `path` at byte `offset`.
    pub fn io_at(op: Op, path: impl Into<PathBuf>, offset: u64, source: io::Error) -> Self {
        Error::Io { op, path: path.into(), offset: Some(offset), source }
    }

    /// Builds an [`Error::Busy`].
    pub fn busy(op: Op, path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Busy { op, path: path.into(), what: what.into() }
    }

    /// True for [`Error::Busy`]: retrying later may succeed.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Busy { .. })
    }

    /// True for the [`Error::ReadOnly`] of [`crate::VfsFile::shm_map`] on a read-only `-shm`
    /// that no live process has initialised (SQLite's `SQLITE_READONLY_CANTINIT`): its contents
    /// cannot be trusted, and the caller may not fix them.
    pub fn is_shm_cant_init(&self) -> bool {
        matches!(self, Error::ReadOnly { op: Op::ShmOpen, .. })
    }

    /// True when the OS said the disk (or quota) is full (SQLITE_FULL).
    pub fn is_disk_full(&self) -> bool {
        self.raw_os_error().is_some_and(|e| e == libc::ENOSPC || e == libc::EDQUOT)
    }

    /// The OS error number behind this error, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            Error::CantOpen { source: Some(source), .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
