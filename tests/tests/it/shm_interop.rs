//! The `-shm` wal-index against stock sqlite3 in another process
//! (<https://sqlite.org/walformat.html>).
//!
//! * Theirs seen by us: a stock reader's read-mark slot and a stock writer's WAL_WRITE_LOCK
//!   make our exclusive requests on those slots `Busy`; mapping a `-shm` that a live process
//!   uses keeps its contents (we are not the first opener).
//! * Ours seen by them: our WRITE and CKPT slots stop stock SQLite's writer and checkpointer,
//!   and `F_GETLK` from its process finds our bytes 120 + slot and our shared DMS lock on 128.
//! * The dead-man switch: the first opener reinitialises a stale `-shm`; a stock process that
//!   arrives while we hold the DMS lock leaves our mapping intact.

use crate::support::{
    expect_busy, open_db, shm_path, SHM_DMS_BYTE, SHM_LOCK_BYTE0, WAL_INDEX_VERSION,
};
use folio_tests::sqlite_child::{LockKind, SqliteChild, LOCKED};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_vfs::os::OsVfs;
use folio_vfs::sync::atomic::Ordering;
use folio_vfs::{LockLevel, ShmLockKind, ShmRegion, VfsFile, SHM_REGION_SIZE};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Slot numbers (<https://sqlite.org/walformat.html>).
const WAL_WRITE_LOCK: usize = 0;
const WAL_CKPT_LOCK: usize = 1;
const WAL_READ_LOCK_0: usize = 3;
const N_READ_LOCKS: usize = 5;

/// A WAL-mode database with table `t` holding rows 1, 2, 3, made by stock SQLite, and the child
/// that made it, with its connection `a` still open (so the `-wal` and `-shm` stay in use).
fn wal_db() -> (TempDir, PathBuf, SqliteChild) {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("test.db");
    let mut child = SqliteChild::spawn(&db);
    child.open("a");
    assert_eq!(child.ok("a", "PRAGMA journal_mode=WAL"), r#"[["wal"]]"#);
    child.ok("a", "CREATE TABLE t(x)");
    child.ok("a", "INSERT INTO t VALUES(1),(2),(3)");
    (dir, db, child)
}

/// A WAL-mode database with rows 1, 2, 3 that no process uses: the `sqlite3` shell made it and
/// exited, and its last-close cleanup removed the `-wal` and `-shm` (wal.c, `sqlite3WalClose`).
fn idle_wal_db() -> (TempDir, PathBuf) {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("test.db");
    let sql = "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1),(2),(3);";
    assert_eq!(run_sqlite3_cli(&db, sql).expect_ok(), "wal\n");
    assert!(!shm_path(&db).exists(), "sqlite3's last close deletes the -shm");
    (dir, db)
}

/// Opens `db` as a WAL connection does: SHARED on the database file for as long as the
/// wal-index is in use (os_unix.c, `unixLock`), then region 0 of the `-shm`.
fn map_as_wal_connection(vfs: &OsVfs, db: &Path, extend: bool) -> (Box<dyn VfsFile>, ShmRegion) {
    let file = open_db(vfs, db);
    file.lock(LockLevel::Shared).expect("SHARED on the database file");
    let region = file
        .shm_map(0, extend)
        .expect("shm_map(0)")
        .expect("region 0 of the -shm exists (or was created)");
    (file, region)
}

/// Tries `slot` exclusive; on success gives it back at once. True if it was busy.
fn exclusive_is_busy(file: &dyn VfsFile, slot: usize) -> bool {
    match file.shm_lock(slot, 1, ShmLockKind::Exclusive) {
        Ok(()) => {
            file.shm_lock(slot, 1, ShmLockKind::UnlockExclusive).unwrap();
            false
        }
        Err(e) if e.is_busy() => true,
        Err(e) => panic!("shm slot {slot} exclusive: {e}"),
    }
}

/// The first column of `PRAGMA wal_checkpoint`'s row: 1 if the checkpoint was blocked (busy).
fn checkpoint_busy(child: &mut SqliteChild) -> bool {
    let row = child.ok("a", "PRAGMA wal_checkpoint");
    match row.strip_prefix("[[").and_then(|r| r.split(',').next()) {
        Some("0") => false,
        Some("1") => true,
        _ => panic!("unexpected wal_checkpoint row {row}"),
    }
}

// ---- Theirs seen by us ------------------------------------------------------------------------

#[test]
fn their_read_and_write_slots_are_busy_for_us() {
    let (_dir, db, mut child) = wal_db();
    let shm = shm_path(&db);
    child.ok("a", "BEGIN");
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[3]]");

    // Which read-mark slots the reader holds, as the kernel reports to a third process.
    let mut observer = SqliteChild::spawn(&db);
    let theirs: Vec<usize> = (WAL_READ_LOCK_0..WAL_READ_LOCK_0 + N_READ_LOCKS)
        .filter(|&slot| {
            observer.getlk(&shm, SHM_LOCK_BYTE0 + slot as u64, 1).is_some_and(|lock| {
                assert_eq!((lock.kind, lock.pid), (LockKind::Read, child.pid()));
                true
            })
        })
        .collect();
    assert!(!theirs.is_empty(), "a stock reader holds a read-mark slot");

    let vfs = OsVfs::new();
    let (ours, region) = map_as_wal_connection(&vfs, &db, false);
    // They hold the DMS lock, so we were not first and kept their wal-index: both header
    // copies carry the version (a reinitialised -shm would have been cut to 3 bytes and
    // shm_map(0, false) would have found no region at all).
    assert_eq!(region.load_u32(0, Ordering::Acquire), WAL_INDEX_VERSION);
    assert_eq!(region.load_u32(48, Ordering::Acquire), WAL_INDEX_VERSION);

    let busy: Vec<usize> = (WAL_READ_LOCK_0..WAL_READ_LOCK_0 + N_READ_LOCKS)
        .filter(|&slot| exclusive_is_busy(&*ours, slot))
        .collect();
    assert_eq!(busy, theirs, "exactly their read-mark slots are busy");
    expect_busy(
        ours.shm_lock(WAL_READ_LOCK_0, N_READ_LOCKS, ShmLockKind::Exclusive),
        "all read slots while they read",
    );

    child.ok("a", "COMMIT");
    ours.shm_lock(WAL_READ_LOCK_0, N_READ_LOCKS, ShmLockKind::Exclusive)
        .expect("all read slots once their reader left");
    ours.shm_lock(WAL_READ_LOCK_0, N_READ_LOCKS, ShmLockKind::UnlockExclusive).unwrap();

    // A stock writer holds WAL_WRITE_LOCK from its first write to its commit.
    child.ok("a", "BEGIN IMMEDIATE");
    child.ok("a", "INSERT INTO t VALUES(4)");
    let write = observer.getlk(&shm, SHM_LOCK_BYTE0, 1).expect("their WAL_WRITE_LOCK");
    assert_eq!((write.kind, write.pid), (LockKind::Write, child.pid()));
    assert!(exclusive_is_busy(&*ours, WAL_WRITE_LOCK), "WAL_WRITE_LOCK while they write");
    child.ok("a", "COMMIT");
    assert!(!exclusive_is_busy(&*ours, WAL_WRITE_LOCK), "WAL_WRITE_LOCK after their commit");

    // Our mapping disturbed nothing of theirs.
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[4]]");
    ours.shm_unmap(false).unwrap();
    ours.unlock(LockLevel::None).unwrap();
}

// ---- Ours seen by them ------------------------------------------------------------------------

#[test]
fn our_write_and_checkpoint_slots_stop_them() {
    let (_dir, db, mut child) = wal_db();
    let shm = shm_path(&db);
    let me = std::process::id();
    let vfs = OsVfs::new();
    let (ours, _region) = map_as_wal_connection(&vfs, &db, false);

    let dms = child.getlk(&shm, SHM_DMS_BYTE, 1).expect("our DMS lock while mapped");
    assert_eq!((dms.kind, dms.pid, dms.start, dms.len), (LockKind::Read, me, SHM_DMS_BYTE, 1));

    ours.shm_lock(WAL_WRITE_LOCK, 1, ShmLockKind::Exclusive).unwrap();
    let write = child.getlk(&shm, SHM_LOCK_BYTE0, 1).expect("our WAL_WRITE_LOCK");
    assert_eq!((write.kind, write.pid), (LockKind::Write, me));
    assert_eq!(write.start, SHM_LOCK_BYTE0);
    assert_eq!(child.exec("a", "INSERT INTO t VALUES(4)"), Err(LOCKED.to_owned()));
    ours.shm_lock(WAL_WRITE_LOCK, 1, ShmLockKind::UnlockExclusive).unwrap();
    assert_eq!(child.getlk(&shm, SHM_LOCK_BYTE0, 1), None);
    child.ok("a", "INSERT INTO t VALUES(4)");

    ours.shm_lock(WAL_CKPT_LOCK, 1, ShmLockKind::Exclusive).unwrap();
    let ckpt = child.getlk(&shm, SHM_LOCK_BYTE0 + 1, 1).expect("our WAL_CKPT_LOCK");
    assert_eq!((ckpt.kind, ckpt.pid, ckpt.start), (LockKind::Write, me, SHM_LOCK_BYTE0 + 1));
    assert!(checkpoint_busy(&mut child), "their checkpoint while we hold WAL_CKPT_LOCK");
    ours.shm_lock(WAL_CKPT_LOCK, 1, ShmLockKind::UnlockExclusive).unwrap();
    assert!(!checkpoint_busy(&mut child), "their checkpoint once we let go");

    // Unmapping releases the DMS byte: nothing of ours is left on bytes 120..=128.
    ours.shm_unmap(false).unwrap();
    assert_eq!(child.getlk(&shm, SHM_LOCK_BYTE0, 9), None);
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[4]]");
    ours.unlock(LockLevel::None).unwrap();
}

#[test]
fn our_downgraded_read_slot_and_one_call_release_look_like_sqlites_locks() {
    let (_dir, db, mut child) = wal_db();
    let shm = shm_path(&db);
    let me = std::process::id();
    let vfs = OsVfs::new();
    let (ours, _region) = map_as_wal_connection(&vfs, &db, false);
    let read2 = WAL_READ_LOCK_0 + 2;
    let byte = |slot: usize| SHM_LOCK_BYTE0 + slot as u64;

    // A read-mark claim: exclusive, then kept as shared without a moment free.
    ours.shm_lock(read2, 1, ShmLockKind::Exclusive).unwrap();
    let claim = child.getlk(&shm, byte(read2), 1).expect("our claim");
    assert_eq!((claim.kind, claim.pid, claim.start), (LockKind::Write, me, byte(read2)));
    ours.shm_lock(read2, 1, ShmLockKind::Downgrade).unwrap();
    let held = child.getlk(&shm, byte(read2), 1).expect("our read lock after the downgrade");
    assert_eq!((held.kind, held.pid, held.start, held.len), (LockKind::Read, me, byte(read2), 1));
    // A stock writer still writes (WRITE is free) and reads its own rows.
    child.ok("a", "INSERT INTO t VALUES(4)");
    assert_eq!(child.ok("a", "SELECT count(*) FROM t"), "[[4]]");

    // A writer's transaction end: WRITE and the read slot released by one call.
    ours.shm_lock(WAL_WRITE_LOCK, 1, ShmLockKind::Exclusive).unwrap();
    assert_eq!(child.exec("a", "INSERT INTO t VALUES(5)"), Err(LOCKED.to_owned()));
    ours.shm_lock(WAL_WRITE_LOCK, read2 + 1, ShmLockKind::UnlockHeld).unwrap();
    assert_eq!(child.getlk(&shm, SHM_LOCK_BYTE0, 8), None, "none of our slots stay locked");
    let dms = child.getlk(&shm, SHM_DMS_BYTE, 1).expect("the DMS lock is not a slot");
    assert_eq!((dms.kind, dms.pid), (LockKind::Read, me));
    child.ok("a", "INSERT INTO t VALUES(5)");
    assert!(!checkpoint_busy(&mut child), "their checkpoint once we let go");
    ours.shm_unmap(false).unwrap();
    ours.unlock(LockLevel::None).unwrap();
}

// ---- The dead-man switch ----------------------------------------------------------------------

#[test]
fn first_opener_reinitialises_a_stale_shm() {
    let (_dir, db) = idle_wal_db();
    // A -shm left behind by a crash: two regions of garbage, and no process holds byte 128.
    std::fs::write(shm_path(&db), vec![0xa5; 2 * SHM_REGION_SIZE]).unwrap();

    let vfs = OsVfs::new();
    let (ours, region) = map_as_wal_connection(&vfs, &db, true);
    // SQLite truncates to 3 bytes, not 0 (a debugging aid, os_unix.c, `unixOpenSharedMemory`), so
    // bytes 0..3 may keep their stale contents; byte 3 onwards must read zero. (The stale bytes are
    // harmless: they make the two header copies differ, which forces recovery.)
    let first_word = region.load_u32(0, Ordering::Acquire).to_ne_bytes();
    assert_eq!(first_word[3], 0, "stale byte 3 of {first_word:x?}");
    for offset in [4, 48, 96, 136, 16_384, 30_000, SHM_REGION_SIZE - 4] {
        assert_eq!(region.load_u32(offset, Ordering::Acquire), 0, "stale word at {offset}");
    }
    // The truncation dropped the stale second region too.
    assert!(ours.shm_map(1, false).unwrap().is_none(), "region 1 survived the truncation");
    assert_eq!(std::fs::metadata(shm_path(&db)).unwrap().len(), SHM_REGION_SIZE as u64);

    ours.shm_unmap(false).unwrap();
    ours.unlock(LockLevel::None).unwrap();
    drop(ours);
    // Stock SQLite is happy with the database afterwards.
    assert_eq!(run_sqlite3_cli(&db, "SELECT count(*) FROM t;").expect_ok(), "3\n");
}

/// Why this proves that stock SQLite saw our DMS lock: had it found byte 128 unlocked, it would
/// have believed itself the first user and truncated the `-shm` to 3 bytes before re-extending
/// it. Our mapping is `MAP_SHARED` over the same file pages, so the truncation would have
/// discarded the page holding our marker and it would read back as 0. Instead the marker is
/// intact, and the wal-index header that the shell's recovery wrote (the version word, which
/// we left zero) shows up in our mapping, proving that the shell worked in the very memory we
/// map rather than in a file of its own.
#[test]
fn our_dms_lock_keeps_sqlite3_from_reinitialising() {
    let (_dir, db) = idle_wal_db();
    let vfs = OsVfs::new();
    let (ours, region) = map_as_wal_connection(&vfs, &db, true);
    assert_eq!(region.load_u32(0, Ordering::Acquire), 0, "we were first: a fresh wal-index");
    // Offset 30000 lies in region 0's hash table, which nobody writes while the WAL is empty.
    region.store_u32(30_000, 0xdead_beef, Ordering::Release);

    assert_eq!(run_sqlite3_cli(&db, "SELECT count(*) FROM t;").expect_ok(), "3\n");

    assert_eq!(region.load_u32(30_000, Ordering::Acquire), 0xdead_beef, "marker lost");
    assert_eq!(region.load_u32(0, Ordering::Acquire), WAL_INDEX_VERSION, "their header");
    // Our SHARED lock on the database stopped the shell's last-close cleanup (wal.c,
    // `sqlite3WalClose`).
    assert!(shm_path(&db).exists());

    ours.shm_unmap(false).unwrap();
    ours.unlock(LockLevel::None).unwrap();
    drop(ours);
    assert_eq!(run_sqlite3_cli(&db, "PRAGMA integrity_check;").expect_ok(), "ok\n");
}
