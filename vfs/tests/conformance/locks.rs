//! Conformance: SQLite's database lock matrix between handles of one file in one process
//! (SQLite's os_unix.c, `unixLock`): the handles exclude each other exactly as two connections
//! would.

use crate::{assert_busy, Env};
use folio_vfs::{Error, FileKind, LockLevel, OpenFlags, VfsFile};

use LockLevel::{Exclusive, None as NoLock, Pending, Reserved, Shared};

fn handles(env: &Env, n: usize) -> Vec<Box<dyn VfsFile>> {
    (0..n).map(|_| env.db("lock.db")).collect()
}

#[track_caller]
fn ok(file: &dyn VfsFile, level: LockLevel) {
    file.lock(level).unwrap_or_else(|e| panic!("lock {level}: {e}"));
    assert_eq!(file.lock_level(), level);
}

#[track_caller]
fn busy(file: &dyn VfsFile, level: LockLevel) {
    let before = file.lock_level();
    assert_busy(file.lock(level));
    let after = file.lock_level();
    if level == Exclusive {
        assert_eq!(after, Pending, "a refused EXCLUSIVE leaves the handle PENDING");
    } else {
        assert_eq!(after, before, "a refused {level} changes nothing");
    }
}

#[track_caller]
fn down(file: &dyn VfsFile, level: LockLevel) {
    file.unlock(level).unwrap_or_else(|e| panic!("unlock to {level}: {e}"));
    assert_eq!(file.lock_level(), level);
}

pub fn new_handles_hold_no_lock(env: &Env) {
    let h = handles(env, 1);
    assert_eq!(h[0].lock_level(), NoLock);
    // Unlocking with nothing held is fine.
    down(&*h[0], NoLock);
}

pub fn readers_share(env: &Env) {
    let h = handles(env, 3);
    for file in &h {
        ok(&**file, Shared);
    }
}

pub fn one_reserved_among_readers(env: &Env) {
    let h = handles(env, 3);
    ok(&*h[0], Shared);
    ok(&*h[1], Shared);
    ok(&*h[1], Reserved);
    // Readers are still welcome while a writer only intends to write.
    ok(&*h[2], Shared);
    busy(&*h[0], Reserved);
    ok(&*h[1], Reserved);
}

pub fn exclusive_waits_in_pending_for_readers(env: &Env) {
    let h = handles(env, 2);
    ok(&*h[0], Shared);
    ok(&*h[1], Shared);
    ok(&*h[1], Reserved);
    busy(&*h[1], Exclusive);
    // Retrying while the reader stays is still refused, and still PENDING.
    busy(&*h[1], Exclusive);
    down(&*h[0], NoLock);
    ok(&*h[1], Exclusive);
    busy(&*h[0], Shared);
}

pub fn pending_keeps_new_readers_out(env: &Env) {
    let h = handles(env, 3);
    ok(&*h[0], Shared);
    ok(&*h[1], Shared);
    busy(&*h[1], Exclusive);
    busy(&*h[2], Shared);
    busy(&*h[0], Reserved);
    // Giving up PENDING lets readers in again.
    down(&*h[1], Shared);
    ok(&*h[2], Shared);
}

pub fn exclusive_straight_from_shared(env: &Env) {
    // Hot-journal rollback goes SHARED -> EXCLUSIVE without RESERVED.
    let h = handles(env, 2);
    ok(&*h[0], Shared);
    ok(&*h[0], Exclusive);
    busy(&*h[1], Shared);
}

pub fn unlock_to_shared_lets_others_in(env: &Env) {
    let h = handles(env, 2);
    ok(&*h[0], Shared);
    ok(&*h[0], Reserved);
    ok(&*h[0], Exclusive);
    down(&*h[0], Shared);
    ok(&*h[1], Shared);
    ok(&*h[1], Reserved);
    busy(&*h[0], Reserved);
    down(&*h[1], Shared);
    ok(&*h[0], Reserved);
}

pub fn unlock_to_none_releases_everything(env: &Env) {
    let h = handles(env, 2);
    ok(&*h[0], Shared);
    ok(&*h[0], Exclusive);
    down(&*h[0], NoLock);
    ok(&*h[1], Shared);
    ok(&*h[1], Exclusive);
    down(&*h[1], NoLock);
    ok(&*h[0], Shared);
}

pub fn dropping_a_handle_releases_its_locks(env: &Env) {
    let mut h = handles(env, 2);
    ok(&*h[0], Shared);
    ok(&*h[0], Exclusive);
    busy(&*h[1], Shared);
    drop(h.remove(0));
    ok(&*h[0], Shared);
    ok(&*h[0], Exclusive);
    // Also from PENDING, and with the reserved lock.
    let waiting = env.db("lock.db");
    down(&*h[0], Shared);
    ok(&*waiting, Shared);
    ok(&*waiting, Reserved);
    busy(&*waiting, Exclusive);
    drop(waiting);
    ok(&*h[0], Reserved);
    ok(&*h[0], Exclusive);
}

pub fn closing_one_handle_keeps_anothers_locks(env: &Env) {
    // POSIX drops every lock of the process when any descriptor of the file closes; the VFS
    // must not let that show.
    let (a, b, c) = (env.db("lock.db"), env.db("lock.db"), env.db("lock.db"));
    ok(&*a, Shared);
    ok(&*b, Shared);
    drop(a);
    // b still reads: c cannot write.
    ok(&*c, Shared);
    busy(&*c, Exclusive);
    down(&*c, NoLock);
    ok(&*b, Reserved);
    // A descriptor opened and closed without locks changes nothing either.
    drop(env.db("lock.db"));
    ok(&*c, Shared);
    busy(&*c, Reserved);
    busy(&*b, Exclusive);
    down(&*c, NoLock);
    ok(&*b, Exclusive);
}

pub fn check_reserved_lock_sees_writers(env: &Env) {
    let h = handles(env, 2);
    assert!(!h[1].check_reserved_lock().unwrap());
    ok(&*h[0], Shared);
    ok(&*h[1], Shared);
    assert!(!h[1].check_reserved_lock().unwrap());
    ok(&*h[0], Reserved);
    assert!(h[1].check_reserved_lock().unwrap());
    assert!(h[0].check_reserved_lock().unwrap());
    busy(&*h[0], Exclusive);
    assert!(h[1].check_reserved_lock().unwrap(), "PENDING counts");
    down(&*h[1], NoLock);
    ok(&*h[0], Exclusive);
    assert!(h[1].check_reserved_lock().unwrap());
    down(&*h[0], Shared);
    assert!(!h[1].check_reserved_lock().unwrap());
}

pub fn lock_misuse_is_an_error(env: &Env) {
    let h = handles(env, 1);
    let misuse = |r: folio_vfs::Result<()>| {
        assert!(matches!(r, Err(Error::Misuse { .. })), "expected Misuse, got {r:?}");
    };
    misuse(h[0].lock(Reserved));
    misuse(h[0].lock(Exclusive));
    misuse(h[0].lock(Pending));
    ok(&*h[0], Shared);
    misuse(h[0].unlock(Reserved));
    assert_eq!(h[0].lock_level(), Shared);
}

pub fn read_only_handle_can_read_lock(env: &Env) {
    drop(env.db("lock.db"));
    let ro = env.open("lock.db", OpenFlags::read_only(FileKind::MainDb)).unwrap();
    let rw = env.db("lock.db");
    ok(&*ro, Shared);
    ok(&*rw, Shared);
    busy(&*rw, Exclusive);
    down(&*ro, NoLock);
    ok(&*rw, Exclusive);
}
