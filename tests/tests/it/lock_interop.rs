//! Database-file locks against stock sqlite3 in another process (SQLite's os_unix.c, `unixLock`).
//!
//! Both directions of SQLite's lock matrix:
//! * theirs seen by us: while a stock SQLite connection holds SHARED, RESERVED, PENDING or
//!   EXCLUSIVE, our `lock`/`check_reserved_lock` succeed or fail with `Busy` exactly where
//!   SQLite's would (a second child process confirms with `F_GETLK` which bytes the first one
//!   holds, so each scenario is known to be set up as claimed);
//! * ours seen by them: while we hold each level, stock SQLite can read, `BEGIN IMMEDIATE` and
//!   commit exactly where it should, and `F_GETLK` from its process sees our exact bytes;
//! * the close pitfall: dropping one of our handles must not drop the locks of another.
//!
//! Matrix (a request conflicts with the holder's bytes; os_unix.c, `unixLock`):
//!
//! | held \ wanted | SHARED | RESERVED | EXCLUSIVE  |
//! |---------------|--------|----------|------------|
//! | SHARED        | ok     | ok       | busy       |
//! | RESERVED      | ok     | busy     | busy       |
//! | PENDING       | busy   | busy     | busy       |
//! | EXCLUSIVE     | busy   | busy     | busy       |

use crate::support::{
    allowed, expect_busy, open_db, PENDING_BYTE, RESERVED_BYTE, SHARED_FIRST, SHARED_SIZE,
};
use folio_tests::sqlite_child::{LockKind, SqliteChild, LOCKED};
use folio_vfs::os::OsVfs;
use folio_vfs::LockLevel;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A rollback-mode database with table `t` (one row), made by stock SQLite, and the child that
/// made it, with its connection `a` open and idle.
fn rollback_db() -> (TempDir, PathBuf, SqliteChild) {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("test.db");
    let mut child = SqliteChild::spawn(&db);
    child.open("a");
    child.ok("a", "CREATE TABLE t(x)");
    child.ok("a", "INSERT INTO t VALUES(1)");
    (dir, db, child)
}

/// What another process sees on the three lock areas of a database file.
#[derive(Debug, PartialEq, Eq)]
struct LockBytes {
    pending: Option<LockKind>,
    reserved: Option<LockKind>,
    shared: Option<LockKind>,
}

impl LockBytes {
    const NONE: LockBytes = LockBytes { pending: None, reserved: None, shared: None };
    const SHARED: LockBytes = LockBytes { shared: Some(LockKind::Read), ..Self::NONE };
    const RESERVED: LockBytes = LockBytes { reserved: Some(LockKind::Write), ..Self::SHARED };
    /// PENDING on the way from RESERVED (a committing writer).
    const PENDING_FROM_RESERVED: LockBytes =
        LockBytes { pending: Some(LockKind::Write), ..Self::RESERVED };
    /// PENDING straight from SHARED (allowed: hot-journal rollback does it, os_unix.c, `unixLock`).
    const PENDING_FROM_SHARED: LockBytes =
        LockBytes { pending: Some(LockKind::Write), ..Self::SHARED };
    const EXCLUSIVE_FROM_RESERVED: LockBytes = LockBytes {
        pending: Some(LockKind::Write),
        reserved: Some(LockKind::Write),
        shared: Some(LockKind::Write),
    };
}

/// Probes the PENDING byte, the RESERVED byte and the shared range of `db` from `observer`'s
/// process; every lock found must belong to `holder` and span the whole probe.
fn lock_bytes(observer: &mut SqliteChild, db: &Path, holder: u32) -> LockBytes {
    let mut probe = |start: u64, len: u64| {
        observer.getlk(db, start, len).map(|lock| {
            assert_eq!(lock.pid, holder, "lock at {start:#x} held by an unexpected process");
            assert!(lock.covers(start, len), "{lock:?} does not span {start:#x}+{len}");
            lock.kind
        })
    };
    LockBytes {
        pending: probe(PENDING_BYTE, 1),
        reserved: probe(RESERVED_BYTE, 1),
        shared: probe(SHARED_FIRST, SHARED_SIZE),
    }
}

/// What stock SQLite (connection `a` of `child`, idle) can do on table `t` right now.
#[derive(Debug, PartialEq, Eq)]
struct TheyCan {
    /// An autocommit `SELECT` (needs SHARED).
    read: bool,
    /// `BEGIN IMMEDIATE` (needs RESERVED); rolled back at once when it succeeds.
    begin_immediate: bool,
    /// An autocommit `INSERT`, whose commit needs EXCLUSIVE; it inserts a row when it succeeds.
    write: bool,
}

impl TheyCan {
    const EVERYTHING: TheyCan = TheyCan { read: true, begin_immediate: true, write: true };
    const NOTHING: TheyCan = TheyCan { read: false, begin_immediate: false, write: false };
}

fn what_they_can_do(child: &mut SqliteChild) -> TheyCan {
    let mut attempt = |sql: &str| allowed(sql, child.exec("a", sql));
    let read = attempt("SELECT count(*) FROM t");
    let begin_immediate = attempt("BEGIN IMMEDIATE");
    if begin_immediate {
        assert!(attempt("ROLLBACK"), "ROLLBACK needs no lock");
    }
    let write = attempt("INSERT INTO t VALUES(2)");
    TheyCan { read, begin_immediate, write }
}

// ---- Theirs seen by us ------------------------------------------------------------------------

#[test]
fn their_shared_lets_us_read_and_reserve_but_not_write() {
    let (_dir, db, mut child) = rollback_db();
    child.ok("a", "BEGIN");
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[1]]");
    let mut observer = SqliteChild::spawn(&db);
    assert_eq!(lock_bytes(&mut observer, &db, child.pid()), LockBytes::SHARED);

    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    assert!(!ours.check_reserved_lock().unwrap(), "a reader is not a writer");
    ours.lock(LockLevel::Shared).expect("SHARED beside their SHARED");
    ours.lock(LockLevel::Reserved).expect("RESERVED beside their SHARED");
    assert!(ours.check_reserved_lock().unwrap(), "our own RESERVED counts");
    expect_busy(ours.lock(LockLevel::Exclusive), "EXCLUSIVE while they read");
    assert_eq!(ours.lock_level(), LockLevel::Pending, "a failed EXCLUSIVE leaves PENDING");
    ours.unlock(LockLevel::None).unwrap();
    // Only their lock is left: our unlock released every byte we had.
    assert_eq!(lock_bytes(&mut observer, &db, child.pid()), LockBytes::SHARED);

    // Their reader leaves: now the same request succeeds, so the Busy above was theirs.
    child.ok("a", "COMMIT");
    ours.lock(LockLevel::Shared).unwrap();
    ours.lock(LockLevel::Exclusive).expect("EXCLUSIVE with no other reader");
    ours.unlock(LockLevel::None).unwrap();
}

#[test]
fn their_reserved_lets_us_read_only() {
    let (_dir, db, mut child) = rollback_db();
    child.ok("a", "BEGIN IMMEDIATE");
    child.ok("a", "INSERT INTO t VALUES(2)");
    let mut observer = SqliteChild::spawn(&db);
    assert_eq!(lock_bytes(&mut observer, &db, child.pid()), LockBytes::RESERVED);

    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    assert!(ours.check_reserved_lock().unwrap(), "their RESERVED byte is seen");
    ours.lock(LockLevel::Shared).expect("SHARED beside their RESERVED");
    assert!(ours.check_reserved_lock().unwrap());
    expect_busy(ours.lock(LockLevel::Reserved), "RESERVED while they hold it");
    assert_eq!(ours.lock_level(), LockLevel::Shared);
    // The PENDING byte is free, so we get PENDING, then their read lock on the shared range
    // stops us.
    expect_busy(ours.lock(LockLevel::Exclusive), "EXCLUSIVE while they hold RESERVED");
    assert_eq!(ours.lock_level(), LockLevel::Pending);
    // And our PENDING stops their commit from reaching EXCLUSIVE.
    assert_eq!(child.exec("a", "COMMIT"), Err(LOCKED.to_owned()));
    ours.unlock(LockLevel::None).unwrap();

    child.ok("a", "COMMIT");
    assert!(!ours.check_reserved_lock().unwrap(), "their commit released RESERVED");
    ours.lock(LockLevel::Shared).unwrap();
    ours.lock(LockLevel::Reserved).expect("RESERVED once theirs is gone");
    ours.unlock(LockLevel::None).unwrap();
}

/// Puts `child` at PENDING: connection `a` reads, connection `b` (same process) writes and
/// tries to commit. SQLite takes the PENDING byte, then finds its sibling still reading and
/// returns busy without undoing PENDING; the transaction stays open (SQLite's os_unix.c,
/// `unixLock`).
fn child_to_pending(child: &mut SqliteChild) {
    child.ok("a", "BEGIN");
    child.ok("a", "SELECT count(*) FROM t");
    child.open("b");
    child.ok("b", "BEGIN IMMEDIATE");
    child.ok("b", "INSERT INTO t VALUES(2)");
    assert_eq!(child.exec("b", "COMMIT"), Err(LOCKED.to_owned()));
}

#[test]
fn their_pending_admits_no_new_reader() {
    let (_dir, db, mut child) = rollback_db();
    child_to_pending(&mut child);
    let mut observer = SqliteChild::spawn(&db);
    assert_eq!(lock_bytes(&mut observer, &db, child.pid()), LockBytes::PENDING_FROM_RESERVED);

    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    expect_busy(ours.lock(LockLevel::Shared), "SHARED while they are PENDING");
    assert_eq!(ours.lock_level(), LockLevel::None);
    assert!(ours.check_reserved_lock().unwrap());

    // Their reader leaves and their writer commits; then we are welcome again.
    child.ok("a", "COMMIT");
    child.ok("b", "COMMIT");
    assert!(!ours.check_reserved_lock().unwrap());
    ours.lock(LockLevel::Shared).expect("SHARED after their commit");
    ours.unlock(LockLevel::None).unwrap();
}

#[test]
fn their_pending_blocks_our_reserved_and_exclusive() {
    let (_dir, db, mut child) = rollback_db();
    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    ours.lock(LockLevel::Shared).unwrap();
    child_to_pending(&mut child);
    // We read-lock the shared range too, so probe only the bytes that are theirs alone.
    let mut observer = SqliteChild::spawn(&db);
    for byte in [PENDING_BYTE, RESERVED_BYTE] {
        let lock = observer.getlk(&db, byte, 1).expect("their PENDING and RESERVED bytes");
        assert_eq!((lock.kind, lock.pid), (LockKind::Write, child.pid()), "byte {byte:#x}");
    }

    assert!(ours.check_reserved_lock().unwrap());
    expect_busy(ours.lock(LockLevel::Reserved), "RESERVED while they are PENDING");
    assert_eq!(ours.lock_level(), LockLevel::Shared);
    // Their write lock on the PENDING byte stops us before we reach PENDING ourselves.
    expect_busy(ours.lock(LockLevel::Exclusive), "EXCLUSIVE while they are PENDING");
    assert_eq!(ours.lock_level(), LockLevel::Shared);

    // Their sibling reader leaves, but our SHARED still keeps their writer out.
    child.ok("a", "COMMIT");
    assert_eq!(child.exec("b", "COMMIT"), Err(LOCKED.to_owned()));
    child.ok("b", "ROLLBACK");
    ours.lock(LockLevel::Reserved).expect("RESERVED after they gave up");
    ours.lock(LockLevel::Exclusive).expect("EXCLUSIVE after they gave up");
    ours.unlock(LockLevel::None).unwrap();
}

#[test]
fn their_exclusive_shuts_us_out() {
    let (_dir, db, mut child) = rollback_db();
    child.ok("a", "BEGIN EXCLUSIVE");
    child.ok("a", "INSERT INTO t VALUES(2)");
    let mut observer = SqliteChild::spawn(&db);
    assert_eq!(lock_bytes(&mut observer, &db, child.pid()), LockBytes::EXCLUSIVE_FROM_RESERVED);

    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    assert!(ours.check_reserved_lock().unwrap());
    expect_busy(ours.lock(LockLevel::Shared), "SHARED while they are EXCLUSIVE");
    assert_eq!(ours.lock_level(), LockLevel::None);

    child.ok("a", "COMMIT");
    ours.lock(LockLevel::Shared).expect("SHARED after their commit");
    assert!(!ours.check_reserved_lock().unwrap());
    ours.unlock(LockLevel::None).unwrap();
}

// ---- Ours seen by them ------------------------------------------------------------------------

#[test]
fn our_shared_blocks_only_their_commit() {
    let (_dir, db, mut child) = rollback_db();
    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    let me = std::process::id();

    ours.lock(LockLevel::Shared).unwrap();
    assert_eq!(lock_bytes(&mut child, &db, me), LockBytes::SHARED);
    let exact = child.getlk(&db, SHARED_FIRST, SHARED_SIZE).unwrap();
    assert_eq!((exact.start, exact.len), (SHARED_FIRST, SHARED_SIZE), "the 510-byte range");
    assert_eq!(
        what_they_can_do(&mut child),
        TheyCan { read: true, begin_immediate: true, write: false }
    );

    ours.unlock(LockLevel::None).unwrap();
    assert_eq!(child.getlk(&db, 0, 0), None, "nothing locked after unlock to NONE");
    assert_eq!(what_they_can_do(&mut child), TheyCan::EVERYTHING);
}

#[test]
fn our_reserved_blocks_their_writers() {
    let (_dir, db, mut child) = rollback_db();
    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    let me = std::process::id();

    ours.lock(LockLevel::Shared).unwrap();
    ours.lock(LockLevel::Reserved).unwrap();
    assert_eq!(lock_bytes(&mut child, &db, me), LockBytes::RESERVED);
    assert_eq!(
        what_they_can_do(&mut child),
        TheyCan { read: true, begin_immediate: false, write: false }
    );

    // Back to SHARED: RESERVED goes, the read lock stays.
    ours.unlock(LockLevel::Shared).unwrap();
    assert_eq!(lock_bytes(&mut child, &db, me), LockBytes::SHARED);
    ours.unlock(LockLevel::None).unwrap();
    assert_eq!(child.getlk(&db, 0, 0), None, "nothing locked after unlock to NONE");
    assert_eq!(what_they_can_do(&mut child), TheyCan::EVERYTHING);
}

#[test]
fn our_pending_blocks_their_new_readers() {
    let (_dir, db, mut child) = rollback_db();
    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    let me = std::process::id();

    ours.lock(LockLevel::Shared).unwrap();
    child.ok("a", "BEGIN");
    child.ok("a", "SELECT count(*) FROM t");
    expect_busy(ours.lock(LockLevel::Exclusive), "EXCLUSIVE while they read");
    assert_eq!(ours.lock_level(), LockLevel::Pending);
    // Their reader finishes; our PENDING keeps every new one out.
    child.ok("a", "COMMIT");
    assert_eq!(lock_bytes(&mut child, &db, me), LockBytes::PENDING_FROM_SHARED);
    let exact = child.getlk(&db, PENDING_BYTE, 1).unwrap();
    assert_eq!((exact.start, exact.len), (PENDING_BYTE, 1), "just the PENDING byte");
    assert_eq!(what_they_can_do(&mut child), TheyCan::NOTHING);

    // A retry from PENDING goes straight for the shared range and now succeeds.
    ours.lock(LockLevel::Exclusive).expect("EXCLUSIVE once the reader left");
    assert_eq!(ours.lock_level(), LockLevel::Exclusive);
    ours.unlock(LockLevel::None).unwrap();
    assert_eq!(child.getlk(&db, 0, 0), None, "nothing locked after unlock to NONE");
    assert_eq!(what_they_can_do(&mut child), TheyCan::EVERYTHING);
}

#[test]
fn our_exclusive_blocks_everything_and_downgrades() {
    let (_dir, db, mut child) = rollback_db();
    let vfs = OsVfs::new();
    let ours = open_db(&vfs, &db);
    let me = std::process::id();

    ours.lock(LockLevel::Shared).unwrap();
    ours.lock(LockLevel::Reserved).unwrap();
    ours.lock(LockLevel::Exclusive).unwrap();
    assert_eq!(lock_bytes(&mut child, &db, me), LockBytes::EXCLUSIVE_FROM_RESERVED);
    assert_eq!(what_they_can_do(&mut child), TheyCan::NOTHING);

    // Downgrade to SHARED: the range becomes a read lock, PENDING and RESERVED go.
    ours.unlock(LockLevel::Shared).unwrap();
    assert_eq!(lock_bytes(&mut child, &db, me), LockBytes::SHARED);
    assert_eq!(
        what_they_can_do(&mut child),
        TheyCan { read: true, begin_immediate: true, write: false }
    );

    // EXCLUSIVE straight from SHARED, as hot-journal rollback does.
    ours.lock(LockLevel::Exclusive).unwrap();
    let shared = child.getlk(&db, SHARED_FIRST, SHARED_SIZE).unwrap();
    assert_eq!((shared.kind, shared.pid), (LockKind::Write, me));
    assert_eq!(what_they_can_do(&mut child), TheyCan::NOTHING);

    ours.unlock(LockLevel::None).unwrap();
    assert_eq!(child.getlk(&db, 0, 0), None, "nothing locked after unlock to NONE");
    assert_eq!(what_they_can_do(&mut child), TheyCan::EVERYTHING);
}

// ---- The close pitfall ------------------------------------------------------------------------

/// POSIX record locks belong to the process, and `close()` of *any* descriptor of a file drops
/// every lock the process holds on it (SQLite's os_unix.c, `unixInodeInfo`). Handle A's SHARED lock
/// must survive handles B and C of the same file being closed. Without the per-inode table (which
/// counts the process's locks and parks B's and C's descriptors until no lock remains), dropping B
/// would close its descriptor, the kernel would silently release A's read lock on the shared range,
/// and stock SQLite would commit under A's feet: the `INSERT` below would succeed and `F_GETLK`
/// would find nothing, so this test fails.
#[test]
fn closing_a_second_handle_keeps_our_locks() {
    let (_dir, db, mut child) = rollback_db();
    let vfs = OsVfs::new();
    let me = std::process::id();
    let a = open_db(&vfs, &db);
    a.lock(LockLevel::Shared).unwrap();

    // B never locks anything; C takes a lock and gives it back before being dropped.
    let b = open_db(&vfs, &db);
    drop(b);
    let c = open_db(&vfs, &db);
    c.lock(LockLevel::Shared).unwrap();
    c.unlock(LockLevel::None).unwrap();
    drop(c);

    let lock = child.getlk(&db, SHARED_FIRST, SHARED_SIZE).expect("A's read lock survived");
    assert_eq!(lock.kind, LockKind::Read);
    assert_eq!(lock.pid, me);
    assert_eq!((lock.start, lock.len), (SHARED_FIRST, SHARED_SIZE));
    assert_eq!(child.exec("a", "INSERT INTO t VALUES(2)"), Err(LOCKED.to_owned()));
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[1]]");

    a.unlock(LockLevel::None).unwrap();
    drop(a);
    assert_eq!(child.getlk(&db, 0, 0), None, "nothing locked once A is gone");
    child.ok("a", "INSERT INTO t VALUES(2)");
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[2]]");
}
