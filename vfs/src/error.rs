//! The error type of folio-vfs: what happened, to which file, during which operation.
//!
//! Variants follow SQLite's result vocabulary where a user of SQLite would expect it
//! (`Busy`, `ReadOnly`, `CantOpen`, I/O errors with the OS error attached, disk full).

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::{LockLevel, OpenFlags, ShmLockKind};

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

/// The lock a [`Error::Busy`] wanted and could not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lock {
    /// A database file lock level.
    File(LockLevel),
    /// Shared-memory lock slots `slot..slot + n` of the `-shm`.
    Shm {
        /// The first slot.
        slot: usize,
        /// How many slots.
        n: usize,
        /// What was asked of them.
        kind: ShmLockKind,
        /// The `-shm` is open read-only, so a write lock cannot be taken on it at all.
        read_only: bool,
    },
    /// The dead-man switch of the `-shm` (byte 128), which decides whether the first opener
    /// resets the shared memory.
    DeadManSwitch,
    /// Room in a bounded asynchronous write queue.
    QueueRoom {
        /// The queue's writer has stopped, so the queue will not drain.
        halted: bool,
    },
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lock::File(level) => write!(f, "{level}"),
            Lock::Shm { slot, n, kind, read_only } => {
                write!(f, "shm slots {slot}..{} {kind:?}", slot + n)?;
                if *read_only {
                    f.write_str(": the -shm is open read-only")?;
                }
                Ok(())
            }
            Lock::DeadManSwitch => f.write_str("dead-man switch (byte 128)"),
            Lock::QueueRoom { halted } => {
                f.write_str("the async write queue is full")?;
                if *halted {
                    f.write_str("; the writer is halted")?;
                }
                Ok(())
            }
        }
    }
}

/// Why a file could not be opened ([`Error::CantOpen`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CantOpenReason {
    /// The flags ask to create a file but not to write it.
    #[error("cannot create a file opened read-only")]
    CreateReadOnly,
    /// The file may not be written and could not be opened for reading either.
    #[error("cannot open for reading")]
    ReadFallback,
    /// The directory the file would be created in does not exist.
    #[error("its directory does not exist")]
    NoDirectory,
    /// The file does not exist and the flags do not create it.
    #[error("no such file")]
    NotFound,
    /// An exclusive create found the file already there.
    #[error("it already exists (exclusive create)")]
    Exists,
    /// The OS refused access.
    #[error("permission denied")]
    PermissionDenied,
    /// The name is a directory.
    #[error("it is a directory")]
    IsDirectory,
    /// The name is a symbolic link and the open asked not to follow links.
    #[error("it is a symbolic link and the open asked not to follow links")]
    SymlinkNotFollowed,
    /// The name leads through a symbolic link (in a directory) and links are not to be
    /// followed.
    #[error("the name leads through a symbolic link and no_follow is set")]
    ThroughSymlink,
    /// The OS refused for another reason (see the source error).
    #[error("the OS refused")]
    OsRefused,
    /// The opened file's metadata could not be read.
    #[error("cannot stat")]
    Stat,
    /// The path does not name a file (for example `/`).
    #[error("not a file name")]
    NotAFileName,
    /// The `-shm` could not be opened.
    #[error("{}", if *readonly_shm {
        "cannot open the -shm read-only (readonly_shm: it is never created)"
    } else {
        "cannot open the -shm read-write or read-only"
    })]
    Shm {
        /// The database was opened with `readonly_shm`, so the `-shm` is only ever read.
        readonly_shm: bool,
    },
    /// A simulated device was told to fail this open.
    #[error("injected fault")]
    InjectedFault,
    /// The file's delete is queued (asynchronous I/O), so it does not exist for this open.
    #[error("no such file (its delete is queued)")]
    DeleteQueued,
    /// The file's creation is queued (asynchronous I/O) and the open is an exclusive create.
    #[error("it already exists (exclusive create; its creation is queued)")]
    CreationQueued,
}

/// Which rule of the VFS protocol a caller broke ([`Error::Misuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A lock request that is not one of SQLite's legal transitions (for example RESERVED
    /// without SHARED).
    #[error("lock from {from} to {to}")]
    LockTransition {
        /// The level held.
        from: LockLevel,
        /// The level asked for.
        to: LockLevel,
    },
    /// An unlock to a level above SHARED.
    #[error("unlock to {0}")]
    UnlockAbove(LockLevel),
    /// A shared-memory lock before the shared memory was opened by a map.
    #[error("shm_lock before shm_map")]
    ShmLockBeforeMap,
    /// A shared-memory lock request outside the slots, empty, or a shared request on more than
    /// one slot.
    #[error("shm lock of slots {slot}..{} as {kind:?}", slot + n)]
    ShmLockSlots {
        /// The first slot.
        slot: usize,
        /// How many slots.
        n: usize,
        /// What was asked.
        kind: ShmLockKind,
    },
    /// A downgrade of a shared-memory slot that is not held exclusive.
    #[error("shm downgrade of slot {slot}, not held exclusive")]
    ShmDowngradeNotHeld {
        /// The slot.
        slot: usize,
    },
    /// Open flags that contradict each other (create without write, exclusive without create).
    #[error("open with inconsistent flags {0:?}")]
    OpenFlags(OpenFlags),
    /// An operation on a handle whose underlying file is not open.
    #[error("{0} on a handle whose file is not open")]
    FileNotOpen(Op),
    /// A queued operation reached the writer for a handle whose underlying file is not open.
    #[error("queued {0} on a handle whose file is not open")]
    QueuedFileNotOpen(Op),
    /// A queued file operation reached the writer without its handle.
    #[error("a queued file operation without its handle")]
    QueuedWithoutHandle,
    /// A wait on an asynchronous writer that has halted with operations still queued.
    #[error("{waiting}: the async writer is halted with {queued} operation(s) queued")]
    WriterHalted {
        /// What was waiting.
        waiting: &'static str,
        /// Operations still queued.
        queued: usize,
    },
    /// A wait for the durability of a sequence number not yet handed out.
    #[error("wait_durable({seq}): only {last} sequence numbers were handed out")]
    DurableBeyondLast {
        /// The sequence number waited for.
        seq: u64,
        /// The last one handed out.
        last: u64,
    },
    /// A wait for durability that nothing queued can satisfy: a write before it has no sync of
    /// its file after it.
    #[error(
        "wait_durable({seq}): the queue is empty and the watermark is {watermark}: \
         a write before it has no sync of its file after it"
    )]
    DurableNeverSynced {
        /// The sequence number waited for.
        seq: u64,
        /// The durable watermark reached.
        watermark: u64,
    },
}

/// A folio-vfs error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another connection (in this process or another) holds a conflicting lock (SQLITE_BUSY).
    #[error("database is locked: cannot {op} {} ({lock})", path.display())]
    Busy {
        /// The operation that found the conflict.
        op: Op,
        /// The file.
        path: PathBuf,
        /// Which lock was wanted.
        lock: Lock,
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
        /// Why.
        reason: CantOpenReason,
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
    #[error("misuse of {}: {rule}", path.display())]
    Misuse {
        /// The file.
        path: PathBuf,
        /// The rule broken.
        rule: Misuse,
    },
}

/// A copy of the error, for keeping a failure that is also returned (a poisoned handle reports
/// its cause again). The OS error is rebuilt from its number, or from its kind and message.
impl Clone for Error {
    fn clone(&self) -> Self {
        fn copy_io(source: &io::Error) -> io::Error {
            match source.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(source.kind(), source.to_string()),
            }
        }
        match self {
            Error::Busy { op, path, lock } => {
                Error::Busy { op: *op, path: path.clone(), lock: *lock }
            }
            Error::Io { op, path, offset, source } => {
                Error::Io { op: *op, path: path.clone(), offset: *offset, source: copy_io(source) }
            }
            Error::CantOpen { path, reason, source } => Error::CantOpen {
                path: path.clone(),
                reason: *reason,
                source: source.as_ref().map(copy_io),
            },
            Error::ReadOnly { op, path } => Error::ReadOnly { op: *op, path: path.clone() },
            Error::Unsupported { op, path, why } => {
                Error::Unsupported { op: *op, path: path.clone(), why }
            }
            Error::Misuse { path, rule } => Error::Misuse { path: path.clone(), rule: *rule },
        }
    }
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
    pub fn busy(op: Op, path: impl Into<PathBuf>, lock: Lock) -> Self {
        Error::Busy { op, path: path.into(), lock }
    }

    /// Builds an [`Error::CantOpen`].
    pub fn cant_open(
        path: impl Into<PathBuf>,
        reason: CantOpenReason,
        source: Option<io::Error>,
    ) -> Self {
        Error::CantOpen { path: path.into(), reason, source }
    }

    /// Builds an [`Error::Misuse`].
    pub fn misuse(path: impl Into<PathBuf>, rule: Misuse) -> Self {
        Error::Misuse { path: path.into(), rule }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shows(error: &Error, parts: &[&str]) {
        let text = error.to_string();
        for part in parts {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
    }

    #[test]
    fn busy_names_the_file_and_the_lock() {
        let db = PathBuf::from("/d/a.db");
        shows(
            &Error::busy(Op::Lock, &db, Lock::File(LockLevel::Exclusive)),
            &["/d/a.db", "EXCLUSIVE"],
        );
        let shm = Lock::Shm { slot: 3, n: 2, kind: ShmLockKind::Exclusive, read_only: false };
        shows(
            &Error::busy(Op::ShmLock, &db, shm),
            &["lock shared memory of /d/a.db", "slots 3..5"],
        );
        let shm = Lock::Shm { slot: 0, n: 1, kind: ShmLockKind::Exclusive, read_only: true };
        shows(&Error::busy(Op::ShmLock, &db, shm), &["slots 0..1", "open read-only"]);
        shows(&Error::busy(Op::ShmOpen, &db, Lock::DeadManSwitch), &["/d/a.db", "byte 128"]);
        let room = Lock::QueueRoom { halted: true };
        shows(&Error::busy(Op::Write, &db, room), &["/d/a.db", "queue is full", "halted"]);
    }

    #[test]
    fn io_names_the_operation_file_and_offset() {
        let e = Error::io_at(Op::Read, "/d/a.db", 4096, io::Error::from_raw_os_error(libc::EIO));
        shows(&e, &["read /d/a.db", "offset 4096"]);
        shows(&Error::io(Op::Sync, "/d/a.db", io::Error::other("x")), &["sync /d/a.db"]);
    }

    #[test]
    fn cant_open_names_the_file_and_each_reason() {
        use CantOpenReason::*;
        let reasons = [
            (CreateReadOnly, "create a file opened read-only"),
            (ReadFallback, "for reading"),
            (NoDirectory, "directory does not exist"),
            (NotFound, "no such file"),
            (Exists, "already exists"),
            (PermissionDenied, "permission denied"),
            (IsDirectory, "is a directory"),
            (SymlinkNotFollowed, "symbolic link"),
            (ThroughSymlink, "through a symbolic link"),
            (OsRefused, "OS refused"),
            (Stat, "stat"),
            (NotAFileName, "not a file name"),
            (Shm { readonly_shm: true }, "readonly_shm"),
            (Shm { readonly_shm: false }, "read-write or read-only"),
            (InjectedFault, "injected"),
            (DeleteQueued, "delete is queued"),
            (CreationQueued, "creation is queued"),
        ];
        for (reason, words) in reasons {
            shows(&Error::cant_open("/d/a.db", reason, None), &["cannot open /d/a.db", words]);
        }
    }

    #[test]
    fn a_clone_keeps_the_os_error_and_the_message() {
        let e = Error::io_at(Op::Write, "/d/a.db", 8, io::Error::from_raw_os_error(libc::ENOSPC));
        let copy = e.clone();
        assert_eq!(copy.to_string(), e.to_string());
        assert!(copy.is_disk_full());
    }

    #[test]
    fn read_only_and_unsupported_name_the_operation_and_file() {
        shows(&Error::ReadOnly { op: Op::Write, path: "/d/a.db".into() }, &["write /d/a.db"]);
        let e = Error::Unsupported { op: Op::ShmMap, path: "/d/j".into(), why: "no shm" };
        shows(&e, &["map shared memory of /d/j", "no shm"]);
    }

    #[test]
    fn misuse_names_the_file_and_the_rule() {
        use Misuse::*;
        let rules = [
            (
                LockTransition { from: LockLevel::None, to: LockLevel::Reserved },
                "lock from NONE to RESERVED",
            ),
            (UnlockAbove(LockLevel::Exclusive), "unlock to EXCLUSIVE"),
            (ShmLockBeforeMap, "shm_lock before shm_map"),
            (ShmLockSlots { slot: 7, n: 2, kind: ShmLockKind::Shared }, "slots 7..9 as Shared"),
            (ShmDowngradeNotHeld { slot: 4 }, "downgrade of slot 4"),
            (OpenFlags(crate::OpenFlags::read_only(crate::FileKind::MainDb)), "inconsistent flags"),
            (FileNotOpen(Op::Read), "read on a handle whose file is not open"),
            (QueuedFileNotOpen(Op::Sync), "queued sync"),
            (QueuedWithoutHandle, "without its handle"),
            (
                WriterHalted { waiting: "flush", queued: 3 },
                "flush: the async writer is halted with 3",
            ),
            (DurableBeyondLast { seq: 9, last: 4 }, "wait_durable(9): only 4"),
            (DurableNeverSynced { seq: 9, watermark: 2 }, "watermark is 2"),
        ];
        for (rule, words) in rules {
            shows(&Error::misuse("/d/a.db", rule), &["misuse of /d/a.db", words]);
        }
    }
}
