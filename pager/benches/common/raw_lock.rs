//! Raw `fcntl` byte-range locks for the benchmarks' limits: the system call alone, none of
//! folio-vfs's lock code around it (the one benchmark file allowed `unsafe`, see xtask's tidy).

use std::fs::File;

/// One `fcntl(F_SETLK)` of `len` bytes at `start` of `file`, which must succeed (nobody else
/// locks the benchmark's file).
pub fn setlk(file: &File, kind: libc::c_int, start: i64, len: i64) {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` is plain data, zero is a valid value for every field.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start as libc::off_t;
    lock.l_len = len as libc::off_t;
    // SAFETY: F_SETLK reads the `flock` we pass, which lives across the call; the descriptor
    // is open while `file` is borrowed.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
    assert_eq!(rc, 0, "fcntl F_SETLK: {}", std::io::Error::last_os_error());
}
