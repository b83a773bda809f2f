//! POSIX advisory record locks (`fcntl` `F_SETLK` / `F_GETLK`) on byte ranges: the
//! process-level half of SQLite's lock protocol, for database files and `-shm` files alike.
//!
//! `F_GETLK` goes through rustix's `fcntl_getlk`, which takes a byte range. rustix's
//! `fcntl_lock` sets only whole-file locks (`l_start` and `l_len` 0: `flock`-style), and SQLite's
//! lock bytes need ranges, so `F_SETLK` calls libc directly.

use crate::lock::{ByteRange, ProcessLocks, RecordLock};
use crate::{Error, Op, Result};
use rustix::io::Errno;
use rustix::process::{Flock, FlockOffsetType, FlockType};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// Record locks taken through one descriptor of the file. POSIX locks belong to the process, so
/// any descriptor of the inode acts for the whole process.
pub(crate) struct FcntlLocks<'a> {
    pub(crate) fd: BorrowedFd<'a>,
    pub(crate) path: &'a Path,
    pub(crate) op: Op,
}

/// The `struct flock` for `F_SETLK` of `lock` on `range`.
fn flock(range: ByteRange, lock: RecordLock) -> libc::flock {
    // SAFETY: `libc::flock` is a plain C struct for which all-zero bytes are a valid value (some
    // platforms have fields beyond the POSIX ones, which must be zero).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = match lock {
        RecordLock::Read => libc::F_RDLCK,
        RecordLock::Write => libc::F_WRLCK,
        RecordLock::Unlock => libc::F_UNLCK,
    } as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = range.start as libc::off_t;
    fl.l_len = range.len as libc::off_t;
    fl
}

impl FcntlLocks<'_> {
    fn error(&self, range: ByteRange, err: io::Error) -> Error {
        Error::io_at(self.op, self.path, range.start, err)
    }

    /// `F_GETLK` for `lock` (`Read` or `Write`) on `range`: the kind of the first conflicting
    /// lock another process holds ([`RecordLock::Read`] or [`RecordLock::Write`]), or `None`
    /// if the lock could be granted.
    pub(crate) fn conflicting(
        &self,
        range: ByteRange,
        lock: RecordLock,
    ) -> Result<Option<RecordLock>> {
        let typ = match lock {
            RecordLock::Read => FlockType::ReadLock,
            RecordLock::Write => FlockType::WriteLock,
            RecordLock::Unlock => FlockType::Unlocked,
        };
        let query = Flock {
            start: range.start,
            length: range.len,
            pid: None,
            typ,
            offset_type: FlockOffsetType::Set,
        };
        let found = rustix::process::fcntl_getlk(self.fd, &query)
            .map_err(|e| self.error(range, e.into()))?;
        Ok(found.map(|held| match held.typ {
            FlockType::ReadLock => RecordLock::Read,
            // F_GETLK reports only F_RDLCK or F_WRLCK for a lock found.
            FlockType::WriteLock | FlockType::Unlocked => RecordLock::Write,
        }))
    }
}

impl ProcessLocks for FcntlLocks<'_> {
    fn set(&self, range: ByteRange, lock: RecordLock) -> Result<bool> {
        let fl = flock(range, lock);
        loop {
            // SAFETY: F_SETLK only reads the `flock` struct, which outlives the call; the
            // descriptor is borrowed, hence open.
            let rc = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_SETLK, &fl) };
            if rc == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match Errno::from_io_error(&err) {
                Some(Errno::INTR) => continue,
                // Another process holds a conflicting lock.
                Some(Errno::AGAIN | Errno::ACCESS) if lock != RecordLock::Unlock => {
                    return Ok(false)
                }
                _ => return Err(self.error(range, err)),
            }
        }
    }

    fn is_locked_elsewhere(&self, range: ByteRange) -> Result<bool> {
        Ok(self.conflicting(range, RecordLock::Write)?.is_some())
    }
}
