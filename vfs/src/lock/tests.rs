//! Unit tests of the in-process lock table against SQLite's locking matrix (SQLite's
//! os_unix.c, `unixLock`): conflicts between handles of one process, the exact sequence of
//! process-level record locks (`fcntl` calls in the OS VFS), conflicts reported by "another
//! process", and `on_idle`.
#![cfg(not(loom))]

use super::*;
use std::cell::{Cell, RefCell};
use std::io;

use LockLevel::{Exclusive, None as NoLock, Pending, Reserved, Shared};
use RecordLock::{Read, Unlock, Write};

const P: ByteRange = ByteRange::PENDING;
const R: ByteRange = ByteRange::RESERVED;
const S: ByteRange = ByteRange::SHARED;
const PR: ByteRange = ByteRange::PENDING_AND_RESERVED;
const ALL: ByteRange = ByteRange::WHOLE_FILE;

/// A fake process-lock layer: records every call and plays "another process" that holds read or
/// write locks on some ranges (so requests overlapping them are refused), or fails with an OS
/// error on a chosen call.
#[derive(Default)]
struct FakeOs {
    calls: RefCell<Vec<(ByteRange, RecordLock)>>,
    foreign_read: RefCell<Vec<ByteRange>>,
    foreign_write: RefCell<Vec<ByteRange>>,
    /// Fail the call with this index (0-based, counting from the start) with EIO.
    fail_call: Cell<Option<usize>>,
}

fn overlaps(a: ByteRange, b: ByteRange) -> bool {
    let end = |r: ByteRange| if r.len == 0 { u64::MAX } else { r.start + r.len };
    a.start < end(b) && b.start < end(a)
}

impl FakeOs {
    fn take_calls(&self) -> Vec<(ByteRange, RecordLock)> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }

    fn foreign_holds(&self, range: ByteRange, lock: RecordLock) {
        match lock {
            Read => self.foreign_read.borrow_mut().push(range),
            Write => self.foreign_write.borrow_mut().push(range),
            Unlock => panic!("use foreign_leaves"),
        }
    }

    fn foreign_leaves(&self) {
        self.foreign_read.borrow_mut().clear();
        self.foreign_write.borrow_mut().clear();
    }
}

impl ProcessLocks for FakeOs {
    fn set(&self, range: ByteRange, lock: RecordLock) -> Result<bool> {
        let index = self.calls.borrow().len();
        self.calls.borrow_mut().push((range, lock));
        if self.fail_call.get() == Some(index) {
            return Err(Error::io(Op::Lock, "fake", io::Error::from_raw_os_error(libc::EIO)));
        }
        let hits =
            |ranges: &RefCell<Vec<ByteRange>>| ranges.borrow().iter().any(|&f| overlaps(f, range));
        Ok(match lock {
            Read => !hits(&self.foreign_write),
            Write => !hits(&self.foreign_write) && !hits(&self.foreign_read),
            Unlock => true,
        })
    }

    fn is_locked_elsewhere(&self, range: ByteRange) -> Result<bool> {
        let hits =
            |ranges: &RefCell<Vec<ByteRange>>| ranges.borrow().iter().any(|&f| overlaps(f, range));
        Ok(hits(&self.foreign_write) || hits(&self.foreign_read))
    }
}

/// One inode, a fake OS, and a few handles' lock levels, with helpers that keep the levels.
struct Rig {
    locks: InodeLocks<u32>,
    os: FakeOs,
    held: Vec<LockLevel>,
}

impl Rig {
    fn new(n_handles: usize) -> Self {
        Rig { locks: InodeLocks::new(), os: FakeOs::default(), held: vec![NoLock; n_handles] }
    }

    fn lock(&mut self, handle: usize, want: LockLevel) -> Result<()> {
        self.locks.lock(&mut self.held[handle], want, &self.os, Path::new("/db"))
    }

    /// Unlocks; `on_idle` increments the payload counter.
    fn unlock(&mut self, handle: usize, want: LockLevel) -> Result<()> {
        self.locks.unlock(&mut self.held[handle], want, &self.os, Path::new("/db"), |n| *n += 1)
    }

    fn ok(&mut self, handle: usize, want: LockLevel) {
        self.lock(handle, want).unwrap_or_else(|e| panic!("handle {handle} to {want}: {e}"));
        assert_eq!(self.held[handle], want);
    }

    fn busy(&mut self, handle: usize, want: LockLevel) {
        match self.lock(handle, want) {
            Err(Error::Busy { op: Op::Lock, path, lock }) => {
                assert_eq!(path, Path::new("/db"));
                assert_eq!(lock, crate::Lock::File(want));
            }
            other => panic!("handle {handle} to {want}: expected Busy, got {other:?}"),
        }
    }

    fn down(&mut self, handle: usize, want: LockLevel) {
        self.unlock(handle, want).unwrap();
        assert_eq!(self.held[handle], want);
    }

    fn inode(&self) -> (LockLevel, u32, u32) {
        let s = self.locks.state();
        (s.level, s.n_shared, s.n_lock)
    }

    fn idle_count(&self) -> u32 {
        self.locks.state().extra
    }
}

// ---- the in-process matrix -----------------------------------------------------------------

#[test]
fn many_readers_share() {
    let mut rig = Rig::new(3);
    for h in 0..3 {
        rig.ok(h, Shared);
    }
    assert_eq!(rig.inode(), (Shared, 3, 3));
}

#[test]
fn one_reserved_among_readers() {
    let mut rig = Rig::new(3);
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    rig.ok(1, Reserved);
    // New readers are still welcome while someone is RESERVED.
    rig.ok(2, Shared);
    assert_eq!(rig.inode(), (Reserved, 3, 3));
    // A second RESERVED is refused, and the loser keeps its SHARED lock.
    rig.busy(0, Reserved);
    assert_eq!(rig.held[0], Shared);
    rig.busy(2, Exclusive);
    assert_eq!(rig.held[2], Shared);
}

#[test]
fn exclusive_waits_in_pending_for_readers_to_leave() {
    let mut rig = Rig::new(3);
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    rig.ok(1, Reserved);
    rig.busy(1, Exclusive);
    assert_eq!(rig.held[1], Pending, "a failed EXCLUSIVE leaves the handle PENDING");
    assert_eq!(rig.inode().0, Pending);
    // PENDING admits no new reader and no other writer.
    rig.busy(2, Shared);
    assert_eq!(rig.held[2], NoLock);
    rig.busy(0, Reserved);
    // Once the reader leaves, EXCLUSIVE from PENDING goes through.
    rig.down(0, NoLock);
    rig.ok(1, Exclusive);
    assert_eq!(rig.inode(), (Exclusive, 1, 1));
    rig.busy(2, Shared);
    rig.busy(0, Shared);
}

#[test]
fn exclusive_straight_from_shared_for_hot_journal_rollback() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(0, Exclusive);
    rig.busy(1, Shared);
    rig.down(0, Shared);
    rig.ok(1, Shared);
}

#[test]
fn shared_is_refused_while_another_handle_is_pending_or_exclusive() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(0, Exclusive);
    rig.busy(1, Shared);
    rig.down(0, NoLock);
    rig.ok(1, Shared);
}

#[test]
fn unlock_to_shared_then_none() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(0, Reserved);
    rig.ok(0, Exclusive);
    rig.down(0, Shared);
    assert_eq!(rig.inode(), (Shared, 1, 1));
    // Others may read and reserve again.
    rig.ok(1, Shared);
    rig.ok(1, Reserved);
    rig.down(1, NoLock);
    rig.down(0, NoLock);
    assert_eq!(rig.inode(), (NoLock, 0, 0));
    // Unlocking what is not held is a no-op.
    rig.down(0, NoLock);
    rig.ok(0, Shared);
    rig.down(0, Shared);
    assert_eq!(rig.inode(), (Shared, 1, 1));
}

#[test]
fn pending_handle_can_give_up() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    rig.busy(1, Exclusive);
    assert_eq!(rig.held[1], Pending);
    rig.down(1, Shared);
    assert_eq!(rig.inode(), (Shared, 2, 2));
    // PENDING is gone: another handle may reserve.
    rig.ok(0, Reserved);
    rig.down(0, Shared);
    rig.down(1, NoLock);
    rig.down(0, NoLock);
    assert_eq!(rig.inode(), (NoLock, 0, 0));
}

#[test]
fn asking_for_a_level_already_held_or_lower_does_nothing() {
    let mut rig = Rig::new(1);
    rig.ok(0, Shared);
    rig.ok(0, Reserved);
    rig.os.take_calls();
    rig.ok(0, Reserved);
    rig.lock(0, Shared).unwrap();
    rig.lock(0, NoLock).unwrap();
    assert_eq!(rig.held[0], Reserved);
    assert!(rig.os.take_calls().is_empty());
}

#[test]
fn check_reserved_sees_reserved_pending_and_exclusive() {
    let mut rig = Rig::new(2);
    let reserved = |rig: &Rig| rig.locks.check_reserved(&rig.os).unwrap();
    assert!(!reserved(&rig));
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    assert!(!reserved(&rig));
    rig.ok(1, Reserved);
    assert!(reserved(&rig));
    rig.busy(1, Exclusive);
    assert!(reserved(&rig), "PENDING");
    rig.down(0, NoLock);
    rig.ok(1, Exclusive);
    assert!(reserved(&rig));
    rig.down(1, Shared);
    assert!(!reserved(&rig));
    // No in-process writer: the answer comes from the other processes.
    rig.os.foreign_holds(R, Write);
    rig.os.take_calls();
    assert!(reserved(&rig));
    assert_eq!(rig.os.take_calls(), [], "a check takes no lock");
}

#[test]
fn misuse_is_reported_not_performed() {
    let mut rig = Rig::new(2);
    let misuse = |r: Result<()>| match r {
        Err(Error::Misuse { path, rule }) => {
            assert_eq!(path, Path::new("/db"));
            rule
        }
        other => panic!("expected Misuse, got {other:?}"),
    };
    assert_eq!(
        misuse(rig.lock(0, Reserved)),
        Misuse::LockTransition { from: NoLock, to: Reserved }
    );
    misuse(rig.lock(0, Exclusive));
    misuse(rig.lock(0, Pending));
    rig.ok(0, Shared);
    misuse(rig.lock(0, Pending));
    misuse(rig.unlock(0, Reserved));
    misuse(rig.unlock(0, Pending));
    assert_eq!(misuse(rig.unlock(0, Exclusive)), Misuse::UnlockAbove(Exclusive));
    assert_eq!(rig.held[0], Shared);
    assert_eq!(rig.inode(), (Shared, 1, 1));
    rig.os.take_calls();
    misuse(rig.lock(1, Reserved));
    assert!(rig.os.take_calls().is_empty());
}

#[test]
fn on_idle_runs_exactly_when_the_last_lock_goes() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    rig.ok(1, Reserved);
    rig.down(1, Shared);
    rig.down(1, NoLock);
    assert_eq!(rig.idle_count(), 0, "handle 0 still holds SHARED");
    rig.down(0, NoLock);
    assert_eq!(rig.idle_count(), 1);
    rig.down(0, NoLock);
    assert_eq!(rig.idle_count(), 1, "a no-op unlock is not the last lock going");
    rig.ok(0, Shared);
    rig.ok(0, Exclusive);
    rig.down(0, NoLock);
    assert_eq!(rig.idle_count(), 2);
}

// ---- the exact record-lock sequence (SQLite's fcntl calls) ---------------------------------

#[test]
fn shared_takes_pending_transiently() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    assert_eq!(rig.os.take_calls(), [(P, Read), (S, Read), (P, Unlock)]);
    // A second in-process reader is only counted.
    rig.ok(1, Shared);
    assert_eq!(rig.os.take_calls(), []);
}

#[test]
fn reserved_write_locks_the_reserved_byte() {
    let mut rig = Rig::new(1);
    rig.ok(0, Shared);
    rig.os.take_calls();
    rig.ok(0, Reserved);
    assert_eq!(rig.os.take_calls(), [(R, Write)]);
}

#[test]
fn exclusive_write_locks_pending_then_the_shared_range() {
    for via_reserved in [false, true] {
        let mut rig = Rig::new(1);
        rig.ok(0, Shared);
        if via_reserved {
            rig.ok(0, Reserved);
        }
        rig.os.take_calls();
        rig.ok(0, Exclusive);
        assert_eq!(rig.os.take_calls(), [(P, Write), (S, Write)], "via RESERVED: {via_reserved}");
    }
}

#[test]
fn unlock_to_shared_downgrades_before_releasing_pending_and_reserved() {
    let mut rig = Rig::new(1);
    rig.ok(0, Shared);
    rig.ok(0, Reserved);
    rig.ok(0, Exclusive);
    rig.os.take_calls();
    rig.down(0, Shared);
    assert_eq!(rig.os.take_calls(), [(S, Read), (PR, Unlock)]);

    rig.ok(0, Reserved);
    rig.os.take_calls();
    rig.down(0, Shared);
    assert_eq!(rig.os.take_calls(), [(S, Read), (PR, Unlock)]);
}

#[test]
fn unlock_to_none_releases_the_whole_file_when_the_last_reader_goes() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    rig.ok(1, Reserved);
    rig.os.take_calls();
    rig.down(1, NoLock);
    assert_eq!(rig.os.take_calls(), [(PR, Unlock)], "handle 0 still reads: keep the range");
    rig.down(0, NoLock);
    assert_eq!(rig.os.take_calls(), [(ALL, Unlock)]);

    rig.ok(0, Shared);
    rig.ok(0, Exclusive);
    rig.os.take_calls();
    rig.down(0, NoLock);
    assert_eq!(rig.os.take_calls(), [(PR, Unlock), (ALL, Unlock)]);
}

#[test]
fn in_process_conflicts_make_no_record_lock_calls() {
    let mut rig = Rig::new(3);
    rig.ok(0, Shared);
    rig.ok(1, Shared);
    rig.ok(1, Reserved);
    rig.os.take_calls();
    rig.busy(0, Reserved);
    assert_eq!(rig.os.take_calls(), []);
    // EXCLUSIVE with another in-process reader: PENDING is taken (and kept), the range is not
    // even tried.
    rig.busy(1, Exclusive);
    assert_eq!(rig.os.take_calls(), [(P, Write)]);
    rig.busy(2, Shared);
    assert_eq!(rig.os.take_calls(), []);
    // The reader leaving makes no call (the process still holds the range), and the retry from
    // PENDING goes straight for the range.
    rig.down(0, NoLock);
    assert_eq!(rig.os.take_calls(), []);
    rig.ok(1, Exclusive);
    assert_eq!(rig.os.take_calls(), [(S, Write)]);
}

// ---- conflicts with other processes ---------------------------------------------------------

#[test]
fn a_foreign_pending_writer_keeps_new_readers_out() {
    let mut rig = Rig::new(1);
    rig.os.foreign_holds(P, Write);
    rig.busy(0, Shared);
    assert_eq!(rig.os.take_calls(), [(P, Read)]);
    assert_eq!(rig.inode(), (NoLock, 0, 0));
    rig.os.foreign_leaves();
    rig.ok(0, Shared);
}

#[test]
fn a_foreign_exclusive_writer_keeps_readers_out_and_pending_is_released() {
    let mut rig = Rig::new(1);
    rig.os.foreign_holds(S, Write);
    rig.busy(0, Shared);
    assert_eq!(rig.os.take_calls(), [(P, Read), (S, Read), (P, Unlock)]);
    assert_eq!(rig.inode(), (NoLock, 0, 0));
    assert_eq!(rig.idle_count(), 0);
}

#[test]
fn a_foreign_reader_leaves_our_exclusive_pending_until_it_goes() {
    let mut rig = Rig::new(2);
    rig.ok(0, Shared);
    rig.ok(0, Reserved);
    rig.os.foreign_holds(S, Read);
    rig.os.take_calls();
    rig.busy(0, Exclusive);
    assert_eq!(rig.held[0], Pending);
    assert_eq!(rig.os.take_calls(), [(P, Write), (S, Write)]);
    // Still refused while the foreign reader stays; each retry asks for the range only.
    rig.busy(0, Exclusive);
    assert_eq!(rig.os.take_calls(), [(S, Write)]);
    rig.os.foreign_leaves();
    rig.ok(0, Exclusive);
    assert_eq!(rig.os.take_calls(), [(S, Write)]);
    rig.busy(1, Shared);
}

#[test]
fn a_foreign_reserved_lock_refuses_ours_and_is_reported() {
    let mut rig = Rig::new(1);
    rig.ok(0, Shared);
    rig.os.foreign_holds(R, Write);
    rig.busy(0, Reserved);
    assert_eq!(rig.held[0], Shared);
    assert_eq!(rig.inode(), (Shared, 1, 1));
    assert!(rig.locks.check_reserved(&rig.os).unwrap());
}

#[test]
fn os_errors_propagate_and_still_drop_the_transient_pending_lock() {
    let mut rig = Rig::new(1);
    // Call 1 is the read lock of the shared range.
    rig.os.fail_call.set(Some(1));
    let err = rig.lock(0, Shared).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO));
    assert_eq!(rig.os.take_calls(), [(P, Read), (S, Read), (P, Unlock)]);
    assert_eq!(rig.held[0], NoLock);
    assert_eq!(rig.inode(), (NoLock, 0, 0));
}

#[test]
fn unlock_errors_are_reported_as_unlock_errors() {
    let mut rig = Rig::new(1);
    rig.ok(0, Shared);
    rig.ok(0, Reserved);
    let next = rig.os.calls.borrow().len();
    rig.os.fail_call.set(Some(next + 1));
    match rig.unlock(0, Shared).unwrap_err() {
        Error::Io { op: Op::Unlock, path, .. } => assert_eq!(path, Path::new("/db")),
        e => panic!("{e:?}"),
    }
}

#[test]
fn an_os_error_on_exclusive_still_tracks_pending() {
    // The PENDING write lock is taken, then the shared-range write lock fails with an OS error
    // (not a conflict): the handle must be left at PENDING so that unlocking releases the byte.
    let mut rig = Rig::new(1);
    rig.ok(0, Shared);
    rig.os.take_calls();
    rig.os.fail_call.set(Some(1));
    rig.lock(0, Exclusive).unwrap_err();
    rig.os.fail_call.set(None);
    assert_eq!(rig.held[0], Pending);
    rig.os.take_calls();
    rig.down(0, Shared);
    assert_eq!(rig.os.take_calls(), [(S, Read), (PR, Unlock)]);
}
