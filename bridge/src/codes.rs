//! Translations between SQLite's integer vocabulary and folio-vfs's types, with no FFI:
//! result codes for [`folio_vfs::Error`], open flags, lock levels, sync flags and shm lock
//! requests. Everything here is a pure function, unit-tested on its own.
//!
//! The result codes follow SQLite's unix VFS (`os_unix.c`): a conflict is `SQLITE_BUSY`, a full
//! disk `SQLITE_FULL`, any other OS error the extended `SQLITE_IOERR_*` code of the operation
//! that failed, so `sqlite3_extended_errcode` says where the I/O went wrong.

use folio_vfs::{Error, FileKind, LockLevel, Op, OpenFlags, ShmLockKind, SyncFlags};
use libsqlite3_sys as ffi;
use std::io;
use std::os::raw::c_int;

/// `SQLITE_READONLY_CANTINIT` (SQLite 3.22): not in the 3.14 bindings libsqlite3-sys uses when it
/// links the system's library, so spelled out here.
pub(crate) const SQLITE_READONLY_CANTINIT: c_int = ffi::SQLITE_READONLY | (5 << 8);

/// `SQLITE_OK_SYMLINK` (SQLite 3.31): `xFullPathname` followed a symbolic link; missing from the
/// 3.14 bindings.
pub(crate) const SQLITE_OK_SYMLINK: c_int = ffi::SQLITE_OK | (2 << 8);

/// `SQLITE_OPEN_NOFOLLOW` (SQLite 3.31), likewise missing from the 3.14 bindings.
const SQLITE_OPEN_NOFOLLOW: c_int = 0x0100_0000;

/// `SQLITE_OPEN_SUPER_JOURNAL` (SQLite 3.33's name for `SQLITE_OPEN_MASTER_JOURNAL`), likewise
/// missing from the 3.14 bindings.
const SQLITE_OPEN_SUPER_JOURNAL: c_int = 0x0000_4000;

/// The SQLite result code for `error`: the extended code where SQLite has one.
///
/// | folio-vfs error | SQLite code |
/// |---|---|
/// | `Busy` | `SQLITE_BUSY` |
/// | `ReadOnly` | `SQLITE_READONLY` |
/// | `CantOpen` | `SQLITE_CANTOPEN` |
/// | `Misuse` | `SQLITE_MISUSE` |
/// | `Io` with `ENOSPC` or `EDQUOT` | `SQLITE_FULL` |
/// | `Io` deleting a file that does not exist | `SQLITE_IOERR_DELETE_NOENT` |
/// | `Io` or `Unsupported`, by operation | `SQLITE_IOERR_READ`, `_WRITE`, `_FSYNC`, `_DIR_FSYNC`, `_TRUNCATE`, `_FSTAT`, `_LOCK`, `_UNLOCK`, `_CHECKRESERVEDLOCK`, `_DELETE`, `_ACCESS`, `_SHMOPEN`, `_SHMMAP`, `_SHMLOCK`, `_MMAP`; opening: `SQLITE_CANTOPEN`; resolving a path: `SQLITE_CANTOPEN_FULLPATH` |
///
/// A read lock that fails with an I/O error is `SQLITE_IOERR_RDLOCK`; the xLock callback
/// refines [`Op::Lock`]'s `SQLITE_IOERR_LOCK` to it, since only the caller knows the level.
pub fn sqlite_code(error: &Error) -> c_int {
    match error {
        Error::Busy { .. } => ffi::SQLITE_BUSY,
        Error::ReadOnly { .. } => ffi::SQLITE_READONLY,
        Error::CantOpen { .. } => ffi::SQLITE_CANTOPEN,
        Error::Misuse { .. } => ffi::SQLITE_MISUSE,
        Error::Io { .. } if error.is_disk_full() => ffi::SQLITE_FULL,
        Error::Io { op: Op::Delete, source, .. } if source.kind() == io::ErrorKind::NotFound => {
            ffi::SQLITE_IOERR_DELETE_NOENT
        }
        Error::Io { op, .. } | Error::Unsupported { op, .. } => io_code(*op),
        _ => ffi::SQLITE_IOERR,
    }
}

/// The extended I/O error code of a failed `op`.
fn io_code(op: Op) -> c_int {
    match op {
        Op::Open => ffi::SQLITE_CANTOPEN,
        Op::FullPath => ffi::SQLITE_CANTOPEN_FULLPATH,
        Op::Read => ffi::SQLITE_IOERR_READ,
        Op::Write => ffi::SQLITE_IOERR_WRITE,
        Op::Truncate => ffi::SQLITE_IOERR_TRUNCATE,
        Op::Sync => ffi::SQLITE_IOERR_FSYNC,
        Op::SyncDir => ffi::SQLITE_IOERR_DIR_FSYNC,
        Op::Size => ffi::SQLITE_IOERR_FSTAT,
        Op::Lock => ffi::SQLITE_IOERR_LOCK,
        Op::Unlock => ffi::SQLITE_IOERR_UNLOCK,
        Op::CheckReserved => ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
        Op::Delete => ffi::SQLITE_IOERR_DELETE,
        Op::Access => ffi::SQLITE_IOERR_ACCESS,
        Op::ShmOpen => ffi::SQLITE_IOERR_SHMOPEN,
        // SQLite has no code for a failed unmap; it is part of the shm mapping's life cycle.
        Op::ShmMap | Op::ShmUnmap => ffi::SQLITE_IOERR_SHMMAP,
        Op::ShmLock => ffi::SQLITE_IOERR_SHMLOCK,
        Op::Mmap => ffi::SQLITE_IOERR_MMAP,
        _ => ffi::SQLITE_IOERR,
    }
}

/// SQLite's `xOpen` flags as folio-vfs [`OpenFlags`]. The file type comes from the one
/// `SQLITE_OPEN_*` type bit SQLite sets (a main database if none is set and a name was given, a
/// temporary database otherwise). `readonly_shm` is a URI parameter, not a flag: `xOpen` sets it.
pub fn open_flags(flags: c_int, named: bool) -> OpenFlags {
    let kind = if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        FileKind::MainDb
    } else if flags & ffi::SQLITE_OPEN_MAIN_JOURNAL != 0 {
        FileKind::MainJournal
    } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
        FileKind::Wal
    } else if flags & SQLITE_OPEN_SUPER_JOURNAL != 0 {
        FileKind::SuperJournal
    } else if flags & ffi::SQLITE_OPEN_SUBJOURNAL != 0 {
        FileKind::SubJournal
    } else if flags & (ffi::SQLITE_OPEN_TEMP_DB | ffi::SQLITE_OPEN_TRANSIENT_DB) != 0 {
        FileKind::TempDb
    } else if flags & ffi::SQLITE_OPEN_TEMP_JOURNAL != 0 {
        FileKind::TempJournal
    } else if named {
        FileKind::MainDb
    } else {
        FileKind::TempDb
    };
    OpenFlags {
        kind,
        write: flags & ffi::SQLITE_OPEN_READWRITE != 0,
        create: flags & ffi::SQLITE_OPEN_CREATE != 0,
        exclusive: flags & ffi::SQLITE_OPEN_EXCLUSIVE != 0,
        delete_on_close: flags & ffi::SQLITE_OPEN_DELETEONCLOSE != 0,
        no_follow: flags & SQLITE_OPEN_NOFOLLOW != 0,
        readonly_shm: false,
    }
}

/// SQLite's `SQLITE_LOCK_*` level as a [`LockLevel`]; `None` for a value out of range.
pub fn lock_level(level: c_int) -> Option<LockLevel> {
    Some(match level {
        ffi::SQLITE_LOCK_NONE => LockLevel::None,
        ffi::SQLITE_LOCK_SHARED => LockLevel::Shared,
        ffi::SQLITE_LOCK_RESERVED => LockLevel::Reserved,
        ffi::SQLITE_LOCK_PENDING => LockLevel::Pending,
        ffi::SQLITE_LOCK_EXCLUSIVE => LockLevel::Exclusive,
        _ => return None,
    })
}

/// `xSync`'s flags as [`SyncFlags`]: `SQLITE_SYNC_FULL` in the low bits, `SQLITE_SYNC_DATAONLY`
/// as a bit of its own.
pub fn sync_flags(flags: c_int) -> SyncFlags {
    SyncFlags {
        full: flags & 0x0f == ffi::SQLITE_SYNC_FULL,
        data_only: flags & ffi::SQLITE_SYNC_DATAONLY != 0,
    }
}

/// `xShmLock`'s flags as a [`ShmLockKind`]; `None` unless exactly one of LOCK/UNLOCK and one of
/// SHARED/EXCLUSIVE is set.
pub fn shm_lock_kind(flags: c_int) -> Option<ShmLockKind> {
    const LOCK: c_int = ffi::SQLITE_SHM_LOCK;
    const UNLOCK: c_int = ffi::SQLITE_SHM_UNLOCK;
    const SHARED: c_int = ffi::SQLITE_SHM_SHARED;
    const EXCLUSIVE: c_int = ffi::SQLITE_SHM_EXCLUSIVE;
    match flags {
        f if f == LOCK | SHARED => Some(ShmLockKind::Shared),
        f if f == LOCK | EXCLUSIVE => Some(ShmLockKind::Exclusive),
        f if f == UNLOCK | SHARED => Some(ShmLockKind::UnlockShared),
        f if f == UNLOCK | EXCLUSIVE => Some(ShmLockKind::UnlockExclusive),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
