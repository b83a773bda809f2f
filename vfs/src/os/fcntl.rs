//! POSIX advisory record locks (`fcntl` `F_SETLK` / `F_GETLK`) on byte ranges: the
//! process-level half of SQLite's lock protocol, for database files and `-shm` files alike.
//!
//! rustix exposes only whole-file `fcntl` locks, so this module calls libc directly.

use crate::lock::{ByteRange, ProcessLocks, RecordLock};
use crate::{Error, Op, Result};
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

fn flock(range: ByteRange, lock: RecordLock) -> libc::flock {
    // SAFETY: `libc::flock` is a plain C struct for which all-zero bytes are a valid value.
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

    /// `F_GETLK` for `lock` on `range`: the type of a conflicting lock held by another process
    /// (`F_RDLCK` or `F_WRLCK`), or `None` if the lock could be granted.
    pub(crate) fn conflicting(&self, range: ByteRange, lock: RecordLock) -> Result<Option<i32>> {
        let mut fl = flock(range, lock);
        // SAFETY: F_GETLK reads and writes the `flock` struct we pass, which lives on our stack
        // for the duration of the call; the descriptor is borrowed, hence open.
        let rc = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GETLK, &mut fl) };
        if rc != 0 {
            return Err(self.error(range, io::Error::last_os_error()));
        }
        let ty = i32::from(fl.l_type);
        Ok((ty != libc::F_UNLCK).then_some(ty))
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
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Another process holds a conflicting lock.
                Some(libc::EAGAIN | libc::EACCES) if lock != RecordLock::Unlock => {
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
