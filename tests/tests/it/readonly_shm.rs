//! A read-only `-shm` (SQLite's `readonly_shm=1`): a reader that may only read the wal-index
//! reads a WAL database correctly and never writes it, on the OS VFS (folio-vfs, folio-wal
//! through folio-pager) and through the bridge with stock SQLite, beside SQLite's own unix VFS
//! doing the same steps.
//!
//! * Live: a stock sqlite3 writer in another process keeps the `-shm` (it holds the dead-man
//!   switch) and keeps committing; the reader maps the `-shm` read-only, sees every commit made
//!   before its read transaction and none after, leaves the `-shm`, `-wal` and database bytes
//!   as they were, and cannot checkpoint.
//! * Unreliable: the writer was killed, so nobody holds the dead-man switch and the `-shm` may
//!   not match the log; the reader may not fix it, so it reads the log through a private index
//!   (SQLite's `walBeginShmUnreliable`), again writing nothing; when a live writer comes back
//!   the reader uses the shared wal-index again.
//!
//! Permission bits do not stop root, so the `-shm` is made read-only by asking for it
//! (`OpenFlags::readonly_shm`, `PagerOptions::readonly_shm`, the URI parameter), as SQLite's
//! `readonly_shm=1` does.

use folio_pager::{CheckpointMode, Pager, PagerOptions};
use folio_tests::sqlite_child::SqliteChild;
use folio_tests::stock_sqlite::BridgedVfs;
use folio_vfs::format::Sidecar;
use folio_vfs::os::OsVfs;
use folio_vfs::sync::atomic::Ordering;
use folio_vfs::{Error, FileKind, LockLevel, Op, OpenFlags, ShmLockKind, Vfs, VfsFile};
use folio_wal::{Wal, WalOptions};
use rusqlite::{Connection, OpenFlags as SqlFlags};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;

/// `WAL_READ_LOCK(0)`'s slot.
const READ_LOCK_0: usize = 3;

/// The bytes of the database, its `-wal` and its `-shm` (empty for a missing file).
fn files(db: &Path) -> [Vec<u8>; 3] {
    let [wal, shm] = [Sidecar::Wal, Sidecar::Shm].map(|s| s.path_of(db));
    [db.to_path_buf(), wal, shm].map(|path| std::fs::read(path).unwrap_or_default())
}

#[track_caller]
fn assert_files_unchanged(before: &[Vec<u8>; 3], db: &Path, who: &str) {
    let after = files(db);
    for (i, name) in ["database", "-wal", "-shm"].iter().enumerate() {
        assert!(
            before[i] == after[i],
            "{who} changed the {name} ({} -> {} bytes)",
            before[i].len(),
            after[i].len()
        );
    }
}

/// Row `i`'s text: its marker repeated, about 400 bytes, so each row lies whole in one leaf.
fn row(i: u32) -> String {
    format!("row-{i:06}|").repeat(36)
}

/// The rows whose markers occur in `bytes`.
fn markers_in(bytes: &[u8], out: &mut BTreeSet<u32>) {
    for at in 0..bytes.len().saturating_sub(11) {
        let w = &bytes[at..at + 11];
        if &w[..4] == b"row-" && w[10] == b'|' && w[4..10].iter().all(u8::is_ascii_digit) {
            out.insert(std::str::from_utf8(&w[4..10]).unwrap().parse().unwrap());
        }
    }
}

/// A stock sqlite3 child whose connection `w` made a WAL database with table `t` and rows
/// `0..n`, never checkpointing on its own.
fn writer(db: &Path, n: u32) -> SqliteChild {
    let mut child = SqliteChild::spawn(db);
    child.open("w");
    assert_eq!(child.ok("w", "PRAGMA journal_mode=WAL"), r#"[["wal"]]"#);
    child.ok("w", "PRAGMA wal_autocheckpoint=0");
    child.ok("w", "CREATE TABLE IF NOT EXISTS t(x)");
    for i in 0..n {
        commit(&mut child, i);
    }
    child
}

fn commit(child: &mut SqliteChild, i: u32) {
    child.ok("w", &format!("INSERT INTO t VALUES('{}')", row(i)));
}

/// The expected rows `0..n`.
fn rows(n: u32) -> BTreeSet<u32> {
    (0..n).collect()
}

// ----- folio-vfs ----------------------------------------------------------------------------

fn open_ro_shm(db: &Path) -> Box<dyn VfsFile> {
    let file = OsVfs::new()
        .open(Some(db), OpenFlags::read_only(FileKind::MainDb).readonly_shm())
        .expect("open the database read-only");
    file.lock(LockLevel::Shared).expect("SHARED");
    file
}

#[test]
fn a_live_read_only_shm_is_mapped_read_only_its_slots_shared_only() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let _writer = writer(&db, 3);
    let before = files(&db);
    let file = open_ro_shm(&db);
    let region = file.shm_map(0, false).expect("map").expect("region 0 exists");
    assert!(region.is_read_only(), "a readonly_shm mapping is read-only");
    // The header the writer published is there: version 3007000 in the first word.
    assert_eq!(region.load_u32(0, Ordering::Relaxed), 3_007_000);
    // A store panics before it reaches the PROT_READ page (no SIGSEGV).
    let stored = std::panic::catch_unwind(|| region.store_u32(64, 1, Ordering::Relaxed));
    assert!(stored.is_err(), "a store into a read-only region is refused");
    // Slots: shared works on the O_RDONLY descriptor, exclusive is busy (as SQLite's EBADF).
    file.shm_lock(READ_LOCK_0, 1, ShmLockKind::Shared).expect("READ_LOCK(0) shared");
    file.shm_lock(READ_LOCK_0, 1, ShmLockKind::UnlockShared).unwrap();
    match file.shm_lock(READ_LOCK_0 + 1, 1, ShmLockKind::Exclusive) {
        Err(e) if e.is_busy() => {}
        other => panic!("an exclusive slot on a read-only -shm is busy, got {other:?}"),
    }
    // A region the file does not hold cannot be grown.
    match file.shm_map(3, true) {
        Err(Error::ReadOnly { op: Op::ShmMap, .. }) => {}
        other => panic!("growing a read-only -shm: {other:?}"),
    }
    file.shm_unmap(false).unwrap();
    drop(file);
    assert_files_unchanged(&before, &db, "a readonly_shm mapping");
}

#[test]
fn a_read_only_shm_nobody_keeps_cannot_be_initialised_and_is_never_created() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    writer(&db, 3).crash();
    let before = files(&db);
    assert!(before[2].len() >= 32 * 1024, "the killed writer left its -shm");
    let file = open_ro_shm(&db);
    for _ in 0..2 {
        match file.shm_map(0, false) {
            Err(e) if e.is_shm_cant_init() => {}
            other => panic!("a -shm nobody holds the DMS of, read-only: {other:?}"),
        }
    }
    // Its slots still work (shared): the reader's READ_LOCK(0).
    file.shm_lock(READ_LOCK_0, 1, ShmLockKind::Shared).expect("READ_LOCK(0) shared");
    file.shm_lock(READ_LOCK_0, 1, ShmLockKind::UnlockShared).unwrap();
    assert_files_unchanged(&before, &db, "a read-only -shm nobody keeps");
    // Once a live process keeps it, it maps (read-only).
    let mut live = SqliteChild::spawn(&db);
    live.open("w");
    assert_eq!(live.ok("w", "SELECT count(*) FROM t"), "[[3]]");
    let region = file.shm_map(0, false).expect("map").expect("region 0");
    assert!(region.is_read_only());
    drop(file);

    // With no -shm at all, readonly_shm never creates one.
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    std::fs::write(&db, b"").unwrap();
    let file = open_ro_shm(&db);
    match file.shm_map(0, false) {
        Err(Error::CantOpen { .. }) => {}
        other => panic!("readonly_shm without a -shm: {other:?}"),
    }
    assert!(!Sidecar::Shm.path_of(&db).exists(), "readonly_shm created the -shm");
}

/// The effective user id, from `/proc/self/status`.
fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("Uid:")).expect("a Uid: line");
    line.split_whitespace().nth(2).expect("the effective uid").parse().unwrap()
}

#[test]
fn a_shm_the_process_may_not_write_is_opened_read_only_unless_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let _writer = writer(&db, 3);
    let shm = Sidecar::Shm.path_of(&db);
    std::fs::set_permissions(&shm, std::fs::Permissions::from_mode(0o444)).unwrap();
    let file = OsVfs::new()
        .open(Some(&db), OpenFlags::read_only(FileKind::MainDb))
        .expect("open the database read-only");
    file.lock(LockLevel::Shared).unwrap();
    let region = file.shm_map(0, false).expect("map").expect("region 0");
    if euid() == 0 {
        // Permission bits do not stop root: O_RDWR succeeds and the mapping is writable, as
        // for SQLite's unix VFS; the other tests ask for readonly_shm instead.
        assert!(!region.is_read_only(), "root opened a 0444 -shm read-write, as SQLite does");
    } else {
        // O_RDWR refused: O_RDONLY, as unixOpenSharedMemory falls back.
        assert!(region.is_read_only(), "a -shm we may not write is mapped read-only");
        drop(file);
        let before = files(&db);
        let opts = PagerOptions { read_only: true, ..PagerOptions::default() };
        let mut pager = Pager::open(Arc::new(OsVfs::new()), &db, opts).unwrap();
        assert_eq!(read_rows(&mut pager), rows(3));
        pager.close().unwrap();
        assert_files_unchanged(&before, &db, "a reader of a -shm it may not write");
    }
}

// ----- folio-wal ------------------------------------------------------------------------------

/// A read-only `Wal` on `db` with `readonly_shm`, and the database handle it reads through.
fn ro_wal(db: &Path) -> (Arc<dyn VfsFile>, Wal) {
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new());
    let file: Arc<dyn VfsFile> = Arc::from(open_ro_shm(db));
    let opts = WalOptions { read_only: true, ..WalOptions::default() };
    let wal = Wal::open(vfs, Arc::clone(&file), opts).expect("open the read-only Wal");
    (file, wal)
}

/// The rows in the log frames a read transaction of `wal` finds for the snapshot's pages.
fn rows_in_log(wal: &mut Wal) -> BTreeSet<u32> {
    let pages = wal.db_pages();
    let mut seen = BTreeSet::new();
    let mut buf = vec![0u8; wal.page_size() as usize];
    for p in 1..=pages {
        if let Some(frame) = wal.find_frame(p).expect("find_frame") {
            wal.read_frame(frame, &mut buf).expect("read_frame");
            markers_in(&buf, &mut seen);
        }
    }
    seen
}

#[test]
fn a_read_only_wal_reads_without_claiming_marks_writing_or_checkpointing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut writer = writer(&db, 4);
    let before = files(&db);
    let (_file, mut wal) = ro_wal(&db);
    wal.begin_read().expect("begin_read");
    assert!(wal.shm_read_only() && !wal.shm_unreliable(), "a live -shm, mapped read-only");
    assert_ne!(wal.read_lock(), Some(0), "the log holds commits: a read mark, not READ_LOCK(0)");
    assert_eq!(rows_in_log(&mut wal), rows(4), "the live writer's rows");
    match wal.begin_write() {
        Err(folio_wal::Error::ReadOnly { .. }) => {}
        other => panic!("begin_write on a read-only -shm: {other:?}"),
    }
    wal.end_read();
    match wal.checkpoint(CheckpointMode::Passive, 4096, None) {
        Err(folio_wal::Error::ReadOnly { .. }) => {}
        other => panic!("checkpoint on a read-only -shm: {other:?}"),
    }
    assert_files_unchanged(&before, &db, "a read-only Wal");
    // A commit after the mark this reader used: still no mark claimed, still no write.
    commit(&mut writer, 4);
    let before = files(&db);
    wal.begin_read().expect("begin_read");
    assert_eq!(rows_in_log(&mut wal), rows(5));
    wal.end_read();
    assert_files_unchanged(&before, &db, "a read-only Wal behind the newest mark");
    wal.close(false, false, 4096).unwrap();

    // The writer killed: the private index of the log, under READ_LOCK(0).
    writer.crash();
    let before = files(&db);
    let (_file, mut wal) = ro_wal(&db);
    wal.begin_read().expect("begin_read over an unreliable -shm");
    assert!(wal.shm_unreliable(), "nobody keeps the -shm: the private index");
    assert_eq!(wal.read_lock(), Some(0));
    assert_eq!(rows_in_log(&mut wal), rows(5), "the log through the private index");
    wal.end_read();
    assert!(wal.checkpoint(CheckpointMode::Passive, 4096, None).is_err());
    wal.close(false, false, 4096).unwrap();
    assert_files_unchanged(&before, &db, "a read-only Wal over an unreliable -shm");
}

#[test]
fn a_read_only_reader_never_recovers_the_wal_index_on_either_vfs() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut writer = writer(&db, 3);
    // Both header copies zeroed (as a crash mid-initialisation could leave them) while the
    // writer, alive, still holds the dead-man switch: the index needs recovery.
    {
        use std::os::unix::fs::FileExt;
        let shm = std::fs::OpenOptions::new().write(true).open(Sidecar::Shm.path_of(&db)).unwrap();
        shm.write_all_at(&[0u8; 96], 0).unwrap();
    }
    let before = files(&db);
    let (_file, mut wal) = ro_wal(&db);
    match wal.begin_read() {
        Err(folio_wal::Error::ReadOnly { .. }) => {}
        other => panic!("a read-only Wal facing a header that needs recovery: {other:?}"),
    }
    drop(wal);
    let mut pager = ro_pager(&db);
    assert!(pager.begin_read().is_err(), "a read-only pager recovered the wal-index");
    drop(pager);
    let vfs = BridgedVfs::register("roshm-rec", Arc::new(OsVfs::new()));
    let code = |conn: &Connection| match conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
    {
        Ok(n) => format!("{n} rows"),
        Err(e) => format!("error {:?}", folio_tests::stock_sqlite::extended_code(&e)),
    };
    let ours = code(&bridged_reader(&vfs, &db));
    let unix = code(&unix_reader(&db));
    assert_eq!(ours, unix, "stock SQLite on Folio and on unix, facing an index to recover");
    // SQLITE_READONLY_RECOVERY.
    assert_eq!(unix, format!("error {:?}", Some(8 | (1 << 8))));
    assert_files_unchanged(&before, &db, "read-only readers facing an index to recover");
    // The writer recovers it; then the readers read.
    assert_eq!(writer.ok("w", "SELECT count(*) FROM t"), "[[3]]");
    assert_eq!(code(&bridged_reader(&vfs, &db)), "3 rows");
    assert_eq!(read_rows(&mut ro_pager(&db)), rows(3));
}

// ----- folio-pager ----------------------------------------------------------------------------

fn ro_pager(db: &Path) -> Pager {
    let opts = PagerOptions { read_only: true, readonly_shm: true, ..PagerOptions::default() };
    Pager::open(Arc::new(OsVfs::new()), db, opts).expect("open the read-only pager")
}

/// The rows a read transaction of `pager` sees (every page of its snapshot scanned).
fn read_rows(pager: &mut Pager) -> BTreeSet<u32> {
    pager.begin_read().expect("begin_read");
    let seen = snapshot_rows(pager);
    pager.end_read().unwrap();
    seen
}

fn snapshot_rows(pager: &mut Pager) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    for p in 1..=pager.page_count() {
        markers_in(&pager.get(p).expect("page"), &mut seen);
    }
    seen
}

/// Rows through stock SQLite's unix VFS with `readonly_shm=1`.
fn unix_rows(db: &Path) -> BTreeSet<u32> {
    let conn = unix_reader(db);
    let seen = sql_rows(&conn);
    drop(conn);
    seen
}

fn unix_reader(db: &Path) -> Connection {
    let uri = format!("file:{}?readonly_shm=1", db.display());
    let flags = SqlFlags::SQLITE_OPEN_READ_ONLY | SqlFlags::SQLITE_OPEN_URI;
    Connection::open_with_flags_and_vfs(&uri, flags, "unix").expect("unix VFS, readonly_shm=1")
}

fn sql_rows(conn: &Connection) -> BTreeSet<u32> {
    let mut stmt = conn.prepare("SELECT x FROM t").unwrap();
    let texts = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    let mut seen = BTreeSet::new();
    for text in texts {
        markers_in(text.unwrap().as_bytes(), &mut seen);
    }
    seen
}

#[test]
fn a_read_only_pager_reads_a_live_writers_commits_and_never_writes_the_shm() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut writer = writer(&db, 5);
    let mut pager = ro_pager(&db);
    let mut n = 5;
    for round in 0..12 {
        // The reader's snapshot stays put while the writer commits.
        pager.begin_read().unwrap();
        assert_eq!(snapshot_rows(&mut pager), rows(n), "round {round}: the snapshot");
        commit(&mut writer, n);
        n += 1;
        assert_eq!(snapshot_rows(&mut pager), rows(n - 1), "round {round}: a commit under it");
        pager.end_read().unwrap();
        if round % 4 == 3 {
            // The writer checkpoints (passive: our read mark may cap it).
            writer.ok("w", "PRAGMA wal_checkpoint(PASSIVE)");
        }
        // A quiet read writes nothing.
        let before = files(&db);
        assert_eq!(read_rows(&mut pager), rows(n), "round {round}: the next snapshot");
        assert_files_unchanged(&before, &db, "a read-only pager's read transaction");
    }
    // It cannot checkpoint.
    let before = files(&db);
    let refused = pager.checkpoint(CheckpointMode::Passive);
    assert!(refused.is_err(), "a read-only pager checkpointed: {refused:?}");
    assert_files_unchanged(&before, &db, "a refused checkpoint");
    pager.close().unwrap();
    assert_files_unchanged(&before, &db, "closing the read-only pager");
    // The stock reader on SQLite's unix VFS (once ours is closed: closing a descriptor drops
    // the process's POSIX locks on the file) agrees and writes nothing either.
    assert_eq!(unix_rows(&db), rows(n), "the unix VFS with readonly_shm=1");
    assert_files_unchanged(&before, &db, "the unix VFS's readonly_shm reader");
    // The writer saw nothing odd.
    assert_eq!(writer.ok("w", "PRAGMA integrity_check"), r#"[["ok"]]"#);
}

#[test]
fn a_read_only_pager_reads_a_dead_writers_log_through_a_private_index() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut w = writer(&db, 6);
    w.ok("w", "PRAGMA wal_checkpoint(PASSIVE)");
    for i in 6..9 {
        commit(&mut w, i);
    }
    // Killed: the -wal holds rows 6..9 not yet in the database; nobody keeps the -shm.
    w.crash();
    let before = files(&db);
    let mut pager = ro_pager(&db);
    for _ in 0..3 {
        assert_eq!(read_rows(&mut pager), rows(9), "the log read through a private index");
    }
    assert!(pager.checkpoint(CheckpointMode::Passive).is_err(), "checkpointed a read-only -shm");
    assert_files_unchanged(&before, &db, "a reader of an unreliable -shm");
    // A live writer comes back (its recovery rebuilds the -shm) and commits: the reader moves
    // to the shared wal-index, read-only, and sees the new commit.
    let mut w = SqliteChild::spawn(&db);
    w.open("w");
    commit(&mut w, 9);
    let before = files(&db);
    assert_eq!(read_rows(&mut pager), rows(10), "after a live writer came back");
    assert_files_unchanged(&before, &db, "the reader, back on the shared wal-index");
    pager.close().unwrap();
    drop(w);

    // SQLite's unix VFS, same steps on a fresh dead writer's files, reads the same.
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut w = writer(&db, 6);
    w.ok("w", "PRAGMA wal_checkpoint(PASSIVE)");
    for i in 6..9 {
        commit(&mut w, i);
    }
    w.crash();
    let before = files(&db);
    assert_eq!(unix_rows(&db), rows(9), "the unix VFS over an unreliable -shm");
    assert_files_unchanged(&before, &db, "the unix VFS's reader of an unreliable -shm");
    let mut pager = ro_pager(&db);
    assert_eq!(read_rows(&mut pager), rows(9), "folio on the same files");
    pager.close().unwrap();
    assert_files_unchanged(&before, &db, "folio's reader of an unreliable -shm");
}

/// Rows `0..from` made by a writer that checkpointed after `from - 3` and was killed.
fn dead_writer(db: &Path, from: u32) {
    let mut w = writer(db, from - 3);
    w.ok("w", "PRAGMA wal_checkpoint(PASSIVE)");
    for i in from - 3..from {
        commit(&mut w, i);
    }
    w.crash();
}

#[test]
fn the_private_index_follows_commits_and_restarts_of_writers_that_come_and_go() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    dead_writer(&db, 9);
    let mut pager = ro_pager(&db);
    let mut n = 9;
    for step in 0..4 {
        assert_eq!(read_rows(&mut pager), rows(n), "step {step}: built or kept");
        assert_eq!(read_rows(&mut pager), rows(n), "step {step}: kept");
        // A writer comes (it recovers the -shm), commits and is killed: the salts are the
        // same, a commit follows the private index's last frame.
        let mut w = SqliteChild::spawn(&db);
        w.open("w");
        if step % 2 == 1 {
            // This time it checkpoints everything first, so its commit restarts the log
            // (new salts, frames from 1 again, over the old ones).
            w.ok("w", "PRAGMA wal_checkpoint(PASSIVE)");
        }
        commit(&mut w, n);
        n += 1;
        w.crash();
        let before = files(&db);
        assert_eq!(read_rows(&mut pager), rows(n), "step {step}: after a writer came and went");
        assert_files_unchanged(&before, &db, "a reader of an unreliable -shm");
    }
    pager.close().unwrap();
    assert_eq!(unix_rows(&db), rows(n), "the unix VFS on the same files");
}

#[test]
fn a_read_write_connection_with_readonly_shm_cannot_write_a_wal_database() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut writer = writer(&db, 3);
    let before = files(&db);
    // folio-pager opened read-write, the -shm read-only: it reads, it may not write.
    let opts = PagerOptions { readonly_shm: true, ..PagerOptions::default() };
    let mut pager = Pager::open(Arc::new(OsVfs::new()), &db, opts).unwrap();
    assert_eq!(read_rows(&mut pager), rows(3));
    let refused = pager.begin_write();
    assert!(refused.is_err(), "a write transaction over a read-only -shm: {refused:?}");
    let _ = pager.rollback();
    pager.close().unwrap();
    assert_files_unchanged(&before, &db, "a read-write pager with a read-only -shm");
    // Stock SQLite read-write with readonly_shm=1, on Folio and on unix: the same refusal.
    let vfs = BridgedVfs::register("roshm-rw", Arc::new(OsVfs::new()));
    let uri = format!("file:{}?readonly_shm=1", db.display());
    let flags = SqlFlags::SQLITE_OPEN_READ_WRITE | SqlFlags::SQLITE_OPEN_URI;
    let insert = |conn: Connection| {
        let outcome = match conn.execute("INSERT INTO t VALUES('x')", []) {
            Ok(n) => format!("{n} row(s) inserted"),
            Err(e) => format!("error {:?}", folio_tests::stock_sqlite::extended_code(&e)),
        };
        assert_eq!(sql_rows(&conn), rows(3));
        outcome
    };
    let ours = insert(vfs.open_with(&uri, flags).unwrap());
    let unix = insert(Connection::open_with_flags_and_vfs(&uri, flags, "unix").unwrap());
    assert_eq!(ours, unix, "an insert through a read-only -shm");
    assert!(ours.starts_with("error"), "{ours}");
    assert_files_unchanged(&before, &db, "read-write connections with readonly_shm=1");
    assert_eq!(writer.ok("w", "SELECT count(*) FROM t"), "[[3]]");
}

// ----- the bridge: stock SQLite on the OS VFS -------------------------------------------------

fn bridged_reader(vfs: &BridgedVfs, db: &Path) -> Connection {
    let uri = format!("file:{}?readonly_shm=1", db.display());
    vfs.open_with(&uri, SqlFlags::SQLITE_OPEN_READ_ONLY | SqlFlags::SQLITE_OPEN_URI)
        .expect("bridged reader with readonly_shm=1")
}

/// `PRAGMA wal_checkpoint`'s outcome as text: the row, or the extended error code.
fn checkpoint_outcome(conn: &Connection) -> String {
    match conn.query_row("PRAGMA wal_checkpoint", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    }) {
        Ok(row) => format!("row {row:?}"),
        Err(e) => format!("error {:?}", folio_tests::stock_sqlite::extended_code(&e)),
    }
}

#[test]
fn stock_sqlite_through_the_bridge_honours_readonly_shm_as_the_unix_vfs_does() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("t.db");
    let mut writer = writer(&db, 4);
    let vfs = BridgedVfs::register("roshm", Arc::new(OsVfs::new()));
    let mut n = 4;
    // One round of the same steps on a VFS: a read transaction kept while the writer commits,
    // a quiet read that must write nothing, a checkpoint. Each VFS runs with the other's
    // connection closed: closing a descriptor drops every POSIX lock the process holds on the
    // file, the other VFS's included.
    let mut round = |conn: Connection, what: &str, n: &mut u32| -> String {
        conn.execute_batch("BEGIN").unwrap();
        assert_eq!(sql_rows(&conn), rows(*n), "{what}: the snapshot");
        commit(&mut writer, *n);
        *n += 1;
        assert_eq!(sql_rows(&conn), rows(*n - 1), "{what}: a commit under the snapshot");
        conn.execute_batch("COMMIT").unwrap();
        let before = files(&db);
        assert_eq!(sql_rows(&conn), rows(*n), "{what}: the next snapshot");
        let outcome = checkpoint_outcome(&conn);
        drop(conn);
        assert_files_unchanged(&before, &db, what);
        outcome
    };
    for r in 0..4 {
        let ours = round(bridged_reader(&vfs, &db), &format!("round {r}, Folio"), &mut n);
        let unix = round(unix_reader(&db), &format!("round {r}, unix"), &mut n);
        assert_eq!(ours, unix, "round {r}: checkpoint outcomes");
    }

    // The writer killed: both read the log through SQLite's unreliable-shm path.
    writer.crash();
    let before = files(&db);
    let folio = bridged_reader(&vfs, &db);
    assert_eq!(sql_rows(&folio), rows(n), "the bridge over an unreliable -shm");
    let ours = checkpoint_outcome(&folio);
    drop(folio);
    assert_files_unchanged(&before, &db, "stock SQLite on Folio over an unreliable -shm");
    let unix = unix_reader(&db);
    assert_eq!(sql_rows(&unix), rows(n), "the unix VFS over an unreliable -shm");
    assert_eq!(ours, checkpoint_outcome(&unix), "checkpoint outcomes, unreliable -shm");
    drop(unix);
    assert_files_unchanged(&before, &db, "the unix VFS over an unreliable -shm");
}
