//! SQLite's database lock levels and the in-process lock table (SQLite's os_unix.c, `unixLock`).
//!
//! POSIX record locks belong to the process, so handles of one process never conflict through
//! the OS. SQLite therefore keeps, per inode, the strongest lock the process holds and a count
//! of SHARED holders, and decides conflicts between its own handles before calling `fcntl`
//! (`unixInodeInfo`, `unixLock`, `posixUnlock` in os_unix.c). [`InodeLocks`] is that table
//! entry; a [`ProcessLocks`] performs the process-level steps (real `fcntl` byte-range locks in
//! the OS VFS, nothing in the memory VFS, where this table alone is the whole truth).
//!
//! Byte ranges (os.h): PENDING 0x40000000, RESERVED +1, SHARED range +2 .. +512 (510 bytes).
//!
//! Lock order: a handle's own state is locked before its inode's; [`InodeLocks`] calls only its
//! [`ProcessLocks`] (system calls, no other locks) while holding its mutex.

use crate::sync::{Mutex, MutexGuard};
use crate::{
    Error, Lock, Misuse, Op, Result, PENDING_BYTE, RESERVED_BYTE, SHARED_FIRST, SHARED_SIZE,
};
use std::fmt;
use std::path::Path;

/// SQLite's database lock levels, in increasing strength (os.h `NO_LOCK`..`EXCLUSIVE_LOCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LockLevel {
    /// No lock.
    #[default]
    None = 0,
    /// Reading: many holders.
    Shared = 1,
    /// Intends to write: one holder, readers still welcome.
    Reserved = 2,
    /// Waiting for readers to leave so it can write: no new readers.
    Pending = 3,
    /// Writing the database file: no one else.
    Exclusive = 4,
}

impl fmt::Display for LockLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockLevel::None => "NONE",
            LockLevel::Shared => "SHARED",
            LockLevel::Reserved => "RESERVED",
            LockLevel::Pending => "PENDING",
            LockLevel::Exclusive => "EXCLUSIVE",
        })
    }
}

/// A byte range of a file, for a process-level record lock. `len == 0` means "to the end of the
/// file and beyond" (fcntl's convention), used to drop every lock at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Number of bytes; 0 = everything from `start`.
    pub len: u64,
}

impl ByteRange {
    /// The PENDING byte.
    pub const PENDING: ByteRange = ByteRange { start: PENDING_BYTE, len: 1 };
    /// The RESERVED byte.
    pub const RESERVED: ByteRange = ByteRange { start: RESERVED_BYTE, len: 1 };
    /// The 510-byte SHARED range.
    pub const SHARED: ByteRange = ByteRange { start: SHARED_FIRST, len: SHARED_SIZE };
    /// PENDING and RESERVED together (released in one call when unlocking to SHARED).
    pub const PENDING_AND_RESERVED: ByteRange = ByteRange { start: PENDING_BYTE, len: 2 };
    /// The whole file.
    pub const WHOLE_FILE: ByteRange = ByteRange { start: 0, len: 0 };
}

/// A process-level lock request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordLock {
    /// Shared (`F_RDLCK`).
    Read,
    /// Exclusive (`F_WRLCK`).
    Write,
    /// Release (`F_UNLCK`).
    Unlock,
}

/// Performs process-level record locks for an [`InodeLocks`] table entry.
pub trait ProcessLocks {
    /// Tries to apply `lock` to `range` without waiting. `Ok(false)` means another process holds
    /// a conflicting lock; `Err` is an OS failure other than a conflict.
    fn set(&self, range: ByteRange, lock: RecordLock) -> Result<bool>;

    /// True if another process holds a lock on `range` that conflicts with a write lock
    /// (`F_GETLK`).
    fn is_locked_elsewhere(&self, range: ByteRange) -> Result<bool>;
}

/// Process-level locks for a VFS whose files never leave the process: every request succeeds,
/// so the in-process table is the whole truth.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProcessLocks;

impl ProcessLocks for NoProcessLocks {
    fn set(&self, _range: ByteRange, _lock: RecordLock) -> Result<bool> {
        Ok(true)
    }

    fn is_locked_elsewhere(&self, _range: ByteRange) -> Result<bool> {
        Ok(false)
    }
}

/// The in-process state of one inode's database locks (SQLite's `unixInodeInfo`), plus a
/// payload `X` the VFS keeps under the same mutex (the OS VFS parks descriptors there whose
/// `close` must wait until no lock is held, SQLite's os_unix.c, `unixInodeInfo`).
#[derive(Debug, Default)]
pub struct InodeLocks<X = ()> {
    state: Mutex<InodeState<X>>,
}

/// The fields of an [`InodeLocks`] entry.
#[derive(Debug, Default)]
pub struct InodeState<X> {
    /// Strongest lock any handle of this process holds.
    pub level: LockLevel,
    /// Handles holding SHARED or stronger.
    pub n_shared: u32,
    /// Handles holding any lock; descriptors may be closed only when this is 0.
    pub n_lock: u32,
    /// The VFS's payload.
    pub extra: X,
}

impl<X: Default> InodeLocks<X> {
    /// A table entry with no locks held.
    pub fn new() -> Self {
        InodeLocks { state: Mutex::new(InodeState::default()) }
    }
}

impl<X> InodeLocks<X> {
    /// Locks the entry for inspection or for the VFS's payload.
    pub fn state(&self) -> MutexGuard<'_, InodeState<X>> {
        self.state.lock()
    }

    /// Raises the lock of a handle whose current level is `*held` to `want` (SQLite's
    /// `unixLock`). On success `*held == want`; on a failed EXCLUSIVE, `*held` is left at
    /// PENDING and [`Error::Busy`] is returned.
    pub fn lock(
        &self,
        held: &mut LockLevel,
        want: LockLevel,
        os: &impl ProcessLocks,
        path: &Path,
    ) -> Result<()> {
        use LockLevel::*;
        if *held >= want {
            return Ok(());
        }
        // The transitions SQLite's pager asks for; anything else is a caller bug.
        let legal = match want {
            Shared => *held == None,
            Reserved => *held == Shared,
            Exclusive => *held >= Shared,
            None | Pending => false,
        };
        if !legal {
            return Err(Error::misuse(path, Misuse::LockTransition { from: *held, to: want }));
        }
        let busy = || Error::busy(Op::Lock, path, Lock::File(want));
        let mut inode = self.state.lock();

        // Another handle of this process holds a lock that precludes this one.
        if *held != inode.level && (inode.level >= Pending || want > Shared) {
            return Err(busy());
        }

        // A second reader in this process only needs counting.
        if want == Shared && (inode.level == Shared || inode.level == Reserved) {
            *held = Shared;
            inode.n_shared += 1;
            inode.n_lock += 1;
            return Ok(());
        }

        // New readers and would-be writers must first get the PENDING byte: a read lock for a
        // reader (transient, so that no reader slips in while a writer waits), the write lock
        // (kept: that is the PENDING state) on the way to EXCLUSIVE.
        if want == Shared || (want == Exclusive && *held < Pending) {
            let kind = if want == Shared { RecordLock::Read } else { RecordLock::Write };
            if !os.set(ByteRange::PENDING, kind)? {
                return Err(busy());
            }
        }

        if want == Shared {
            let got = os.set(ByteRange::SHARED, RecordLock::Read);
            // Drop the transient PENDING read lock whatever happened to the shared range.
            let released = os.set(ByteRange::PENDING, RecordLock::Unlock);
            if !got? {
                released?;
                return Err(busy());
            }
            released?;
            *held = Shared;
            inode.level = Shared;
            inode.n_shared = 1;
            inode.n_lock += 1;
            return Ok(());
        }

        let granted = if want == Exclusive && inode.n_shared > 1 {
            // Another handle of this process is still reading.
            false
        } else {
            let range = if want == Reserved { ByteRange::RESERVED } else { ByteRange::SHARED };
            match os.set(range, RecordLock::Write) {
                Ok(granted) => granted,
                Err(e) => {
                    // The PENDING write lock is held whatever went wrong: record it, as SQLite
                    // does for any failed EXCLUSIVE, so that unlocking releases it.
                    if want == Exclusive {
                        *held = Pending;
                        inode.level = Pending;
                    }
                    return Err(e);
                }
            }
        };
        if granted {
            *held = want;
            inode.level = want;
            Ok(())
        } else {
            if want == Exclusive {
                *held = Pending;
                inode.level = Pending;
            }
            Err(busy())
        }
    }

    /// Lowers the lock of a handle at `*held` to `want` (SHARED or NONE; SQLite's
    /// `posixUnlock`). When the process's last lock on the inode goes, `on_idle` runs under the
    /// entry's mutex (the OS VFS closes parked descriptors there).
    pub fn unlock(
        &self,
        held: &mut LockLevel,
        want: LockLevel,
        os: &impl ProcessLocks,
        path: &Path,
        on_idle: impl FnOnce(&mut X),
    ) -> Result<()> {
        use LockLevel::*;
        if want > Shared {
            return Err(Error::misuse(path, Misuse::UnlockAbove(want)));
        }
        if *held <= want {
            return Ok(());
        }
        let mut inode = self.state.lock();
        let unlock_error = |e: Error| match e {
            Error::Io { source, .. } => Error::io(Op::Unlock, path, source),
            other => other,
        };
        if *held > Shared {
            if want == Shared {
                // Downgrade the range to a read lock before letting PENDING/RESERVED go, so no
                // writer can slip in between.
                if !os.set(ByteRange::SHARED, RecordLock::Read).map_err(unlock_error)? {
                    return Err(Error::io(
                        Op::Unlock,
                        path,
                        std::io::Error::other("could not downgrade to a shared lock"),
                    ));
                }
            }
            os.set(ByteRange::PENDING_AND_RESERVED, RecordLock::Unlock).map_err(unlock_error)?;
            inode.level = Shared;
        }
        if want == None {
            inode.n_shared -= 1;
            if inode.n_shared == 0 {
                os.set(ByteRange::WHOLE_FILE, RecordLock::Unlock).map_err(unlock_error)?;
                inode.level = None;
            }
            inode.n_lock -= 1;
            if inode.n_lock == 0 {
                on_idle(&mut inode.extra);
            }
        }
        *held = want;
        Ok(())
    }

    /// True if any handle of this process holds RESERVED or stronger, or another process holds
    /// the RESERVED byte (SQLite's `unixCheckReservedLock`).
    pub fn check_reserved(&self, os: &impl ProcessLocks) -> Result<bool> {
        let inode = self.state.lock();
        if inode.level > LockLevel::Shared {
            return Ok(true);
        }
        os.is_locked_elsewhere(ByteRange::RESERVED)
    }
}

#[cfg(test)]
mod tests;
