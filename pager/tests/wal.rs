//! folio-pager in WAL mode: snapshots, stale snapshots, spills, rollbacks, checkpoints,
//! auto-checkpoint and the hook, journal-mode switches persisting in the header, the last
//! connection's cleanup, exclusive locking mode's heap wal-index, read-only opens and mmap.

use folio_pager::header::DbHeader;
use folio_pager::{
    CheckpointMode, Error, JournalMode, LockingMode, Pager, PagerOptions, Synchronous,
};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::os::OsVfs;
use folio_vfs::{AccessCheck, FileKind, OpenFlags, Vfs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const PS: usize = 1024;

fn wal_opts() -> PagerOptions {
    PagerOptions { journal_mode: JournalMode::Wal, page_size: PS as u32, ..Default::default() }
}

fn open(vfs: &Arc<dyn Vfs>, path: &Path, opts: PagerOptions) -> Pager {
    Pager::open(Arc::clone(vfs), path, opts).unwrap()
}

fn write_pages(pager: &mut Pager, pages: impl IntoIterator<Item = u32>, fill: u8) {
    pager.begin_write().unwrap();
    for p in pages {
        pager.write(p, &vec![fill; PS]).unwrap();
    }
    pager.commit().unwrap();
}

fn fill_of(pager: &mut Pager, page: u32) -> u8 {
    let data = pager.get(page).unwrap();
    assert!(data.iter().all(|&b| b == data[0]), "page {page} is not uniform");
    data[0]
}

fn exists(vfs: &Arc<dyn Vfs>, path: &Path, suffix: &str) -> bool {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    vfs.access(&PathBuf::from(name), AccessCheck::Exists).unwrap()
}

fn db_header(vfs: &Arc<dyn Vfs>, path: &Path) -> DbHeader {
    let f = vfs.open(Some(path), OpenFlags::read_only(FileKind::MainDb)).unwrap();
    let mut bytes = [0u8; 100];
    f.read_at(0, &mut bytes).unwrap();
    DbHeader::decode(&bytes).unwrap()
}

fn temp_db() -> (tempfile::TempDir, PathBuf, Arc<dyn Vfs>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    (dir, path, Arc::new(OsVfs::new()))
}

#[test]
fn readers_keep_their_snapshot_while_a_writer_commits() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let path = Path::new("/db");
    let mut w = open(&vfs, path, wal_opts());
    write_pages(&mut w, 2..=4, 1);
    let mut r = open(&vfs, path, wal_opts());
    r.begin_read().unwrap();
    assert_eq!((r.page_count(), fill_of(&mut r, 3)), (4, 1));
    write_pages(&mut w, [3, 5], 2);
    // The open snapshot does not move; a new one sees the commit.
    assert_eq!((r.page_count(), fill_of(&mut r, 3)), (4, 1));
    r.end_read().unwrap();
    r.begin_read().unwrap();
    assert_eq!((r.page_count(), fill_of(&mut r, 3), fill_of(&mut r, 5)), (5, 2, 2));
    r.end_read().unwrap();
    assert!(w.in_wal_mode() && r.in_wal_mode());
    assert!(db_header(&vfs, path).is_wal(), "the header says WAL (bytes 18/19 = 2)");
}

#[test]
fn a_stale_snapshot_cannot_write_but_a_fresh_one_can() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let path = Path::new("/db");
    let mut a = open(&vfs, path, wal_opts());
    write_pages(&mut a, 2..=3, 1);
    let mut b = open(&vfs, path, wal_opts());
    b.begin_read().unwrap();
    write_pages(&mut a, [2], 2);
    let err = b.begin_write().unwrap_err();
    assert!(err.is_busy_snapshot() && err.is_busy(), "{err}");
    b.end_read().unwrap();
    // From no transaction, begin_write takes a fresh snapshot.
    write_pages(&mut b, [3], 3);
    let mut c = open(&vfs, path, wal_opts());
    c.begin_read().unwrap();
    assert_eq!((fill_of(&mut c, 2), fill_of(&mut c, 3)), (2, 3));
    c.end_read().unwrap();
    // Two writers exclude each other.
    a.begin_write().unwrap();
    let err = c.begin_write().unwrap_err();
    assert!(err.is_busy() && !err.is_busy_snapshot(), "{err}");
    a.rollback().unwrap();
}

#[test]
fn spills_rollbacks_and_truncation_in_the_log() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let path = Path::new("/db");
    let mut w = open(&vfs, path, PagerOptions { cache_size: 3, ..wal_opts() });
    write_pages(&mut w, 2..=20, 1);
    // A transaction larger than the cache spills frames before its commit, and rewrites
    // pages it spilled (overwritten in place in the log).
    w.begin_write().unwrap();
    for round in 0..3u8 {
        for p in 2..=20 {
            w.write(p, &vec![10 + round; PS]).unwrap();
        }
    }
    assert!(w.stats().spills > 0, "{:?}", w.stats());
    w.commit().unwrap();
    // A rolled-back transaction that spilled leaves nothing visible.
    w.begin_write().unwrap();
    for p in 2..=20 {
        w.write(p, &vec![99; PS]).unwrap();
    }
    w.rollback().unwrap();
    // Shrink, then grow again: the regrown page reads as zeros.
    w.begin_write().unwrap();
    w.truncate(10).unwrap();
    w.write(12, &vec![5; PS]).unwrap();
    w.commit().unwrap();
    let mut r = open(&vfs, path, wal_opts());
    r.begin_read().unwrap();
    assert_eq!(r.page_count(), 12);
    assert_eq!(fill_of(&mut r, 2), 12);
    assert_eq!(fill_of(&mut r, 10), 12);
    assert_eq!(fill_of(&mut r, 11), 0);
    assert_eq!(fill_of(&mut r, 12), 5);
    r.end_read().unwrap();
    // After a checkpoint the database file alone holds the same.
    let c = r.checkpoint(CheckpointMode::Truncate).unwrap();
    assert_eq!((c.busy, c.log, c.checkpointed), (false, 0, 0));
    r.begin_read().unwrap();
    assert_eq!((r.page_count(), fill_of(&mut r, 10), fill_of(&mut r, 12)), (12, 12, 5));
    r.end_read().unwrap();
}

#[test]
fn checkpoint_modes_report_like_sqlite() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let path = Path::new("/db");
    let mut w = open(&vfs, path, PagerOptions { wal_autocheckpoint: 0, ..wal_opts() });
    write_pages(&mut w, 2..=5, 1); // frames: page 1 + 4 pages = 5
    let mut reader = open(&vfs, path, wal_opts());
    reader.begin_read().unwrap();
    write_pages(&mut w, 2..=3, 2); // 2 more frames
    let passive = w.checkpoint(CheckpointMode::Passive).unwrap();
    // The reader's mark stops the copy at the end of its snapshot.
    assert_eq!((passive.busy, passive.log, passive.checkpointed), (false, 7, 5));
    let full = w.checkpoint(CheckpointMode::Full).unwrap();
    assert!(full.busy, "FULL cannot finish while a reader needs the log: {full:?}");
    reader.end_read().unwrap();
    let full = w.checkpoint(CheckpointMode::Full).unwrap();
    assert_eq!((full.busy, full.log, full.checkpointed), (false, 7, 7));
    let restart = w.checkpoint(CheckpointMode::Restart).unwrap();
    assert_eq!((restart.busy, restart.log, restart.checkpointed), (false, 7, 7));
    // The next writer starts the log over.
    write_pages(&mut w, [4], 3);
    let passive = w.checkpoint(CheckpointMode::Passive).unwrap();
    assert_eq!((passive.log, passive.checkpointed), (1, 1));
    reader.begin_read().unwrap();
    assert_eq!((fill_of(&mut reader, 3), fill_of(&mut reader, 4)), (2, 3));
    reader.end_read().unwrap();
}

#[test]
fn auto_checkpoint_and_the_hook() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let path = Path::new("/db");
    let mut w = open(&vfs, path, PagerOptions { wal_autocheckpoint: 4, ..wal_opts() });
    write_pages(&mut w, [2], 1); // 2 frames (page 1 grows the database)
    assert_eq!(w.stats().checkpoints, 0);
    write_pages(&mut w, [2, 3], 2); // 5 frames ≥ 4
    assert_eq!(w.stats().checkpoints, 1);
    let seen = Arc::new(AtomicU32::new(0));
    let seen2 = Arc::clone(&seen);
    w.set_wal_hook(move |frames| {
        seen2.store(frames, Ordering::SeqCst);
        (frames >= 100).then_some(CheckpointMode::Passive)
    });
    for i in 0..10u8 {
        write_pages(&mut w, [2], i);
    }
    assert_eq!(w.stats().checkpoints, 1, "the hook replaced auto-checkpoint");
    assert!(seen.load(Ordering::SeqCst) >= 10);
    w.set_wal_autocheckpoint(0);
    write_pages(&mut w, [2], 7);
    assert_eq!(w.stats().checkpoints, 1);
}

#[test]
fn last_close_checkpoints_and_deletes_the_log() {
    let (_dir, path, vfs) = temp_db();
    let mut a = open(&vfs, &path, wal_opts());
    write_pages(&mut a, 2..=6, 4);
    let mut b = open(&vfs, &path, wal_opts());
    b.begin_read().unwrap();
    b.end_read().unwrap();
    assert!(exists(&vfs, &path, "-wal") && exists(&vfs, &path, "-shm"));
    a.close().unwrap();
    assert!(exists(&vfs, &path, "-wal"), "another connection still uses the log");
    b.close().unwrap();
    assert!(!exists(&vfs, &path, "-wal") && !exists(&vfs, &path, "-shm"));
    // WAL mode persists across reopen through the header, and the content is in the file.
    assert!(db_header(&vfs, &path).is_wal());
    let mut c = open(&vfs, &path, PagerOptions { page_size: PS as u32, ..Default::default() });
    c.begin_read().unwrap();
    assert!(c.in_wal_mode());
    assert_eq!((c.page_count(), fill_of(&mut c, 6)), (6, 4));
    c.end_read().unwrap();
}

#[test]
fn leaving_wal_mode_and_coming_back() {
    let (_dir, path, vfs) = temp_db();
    let mut a = open(&vfs, &path, wal_opts());
    write_pages(&mut a, 2..=3, 1);
    let mut b = open(&vfs, &path, wal_opts());
    b.begin_read().unwrap();
    b.end_read().unwrap();
    let err = a.set_journal_mode(JournalMode::Delete).unwrap_err();
    assert!(err.is_busy(), "leaving WAL needs every other connection gone: {err}");
    drop(b);
    a.set_journal_mode(JournalMode::Delete).unwrap();
    assert!(!a.in_wal_mode());
    assert!(!db_header(&vfs, &path).is_wal());
    assert!(!exists(&vfs, &path, "-wal") && !exists(&vfs, &path, "-shm"));
    write_pages(&mut a, [3], 2);
    assert!(exists(&vfs, &path, "-journal") || !exists(&vfs, &path, "-wal"));
    a.set_journal_mode(JournalMode::Wal).unwrap();
    write_pages(&mut a, [2], 3);
    assert!(a.in_wal_mode() && db_header(&vfs, &path).is_wal());
    a.begin_read().unwrap();
    assert_eq!((fill_of(&mut a, 2), fill_of(&mut a, 3)), (3, 2));
    a.end_read().unwrap();
}

#[test]
fn exclusive_locking_mode_uses_a_heap_index_and_no_shm_file() {
    let (_dir, path, vfs) = temp_db();
    let opts = PagerOptions { locking_mode: LockingMode::Exclusive, ..wal_opts() };
    let mut a = open(&vfs, &path, opts.clone());
    write_pages(&mut a, 2..=4, 8);
    write_pages(&mut a, [3], 9);
    assert!(exists(&vfs, &path, "-wal"));
    assert!(!exists(&vfs, &path, "-shm"), "a heap wal-index has no -shm");
    let mut other = open(&vfs, &path, wal_opts());
    assert!(other.begin_read().unwrap_err().is_busy(), "EXCLUSIVE keeps others out");
    drop(a);
    assert!(!exists(&vfs, &path, "-wal"));
    other.begin_read().unwrap();
    assert_eq!((fill_of(&mut other, 3), fill_of(&mut other, 4)), (9, 8));
    other.end_read().unwrap();
}

#[test]
fn read_only_connections_read_the_log_but_never_write_or_clean_up() {
    let (_dir, path, vfs) = temp_db();
    let mut w = open(&vfs, &path, wal_opts());
    write_pages(&mut w, 2..=3, 6);
    let ro = PagerOptions { read_only: true, page_size: PS as u32, ..Default::default() };
    let mut r = open(&vfs, &path, ro);
    r.begin_read().unwrap();
    assert!(r.in_wal_mode());
    assert_eq!(fill_of(&mut r, 3), 6);
    r.end_read().unwrap();
    assert!(matches!(r.begin_write().unwrap_err(), Error::ReadOnly { .. }));
    assert!(matches!(r.checkpoint(CheckpointMode::Passive).unwrap_err(), Error::ReadOnly { .. }));
    drop(w);
    drop(r);
    // The writer closed first while the reader held SHARED: the log stays for the next one.
    let mut again = open(&vfs, &path, wal_opts());
    again.begin_read().unwrap();
    assert_eq!(fill_of(&mut again, 2), 6);
    again.end_read().unwrap();
}

#[test]
fn mmap_reads_pages_not_in_the_log() {
    let (_dir, path, vfs) = temp_db();
    let opts = PagerOptions { mmap_size: 1 << 20, wal_autocheckpoint: 0, ..wal_opts() };
    let mut w = open(&vfs, &path, opts.clone());
    write_pages(&mut w, 2..=8, 1);
    w.checkpoint(CheckpointMode::Passive).unwrap();
    write_pages(&mut w, [3], 2);
    let mut r = open(&vfs, &path, opts);
    r.begin_read().unwrap();
    assert_eq!((fill_of(&mut r, 3), fill_of(&mut r, 5)), (2, 1));
    let stats = r.stats();
    assert!(stats.mmap_reads >= 1 && stats.wal_reads >= 1, "{stats:?}");
    r.end_read().unwrap();
}

#[test]
fn synchronous_levels_all_commit() {
    for sync in [Synchronous::Off, Synchronous::Normal, Synchronous::Full, Synchronous::Extra] {
        let (_dir, path, vfs) = temp_db();
        let mut w = open(&vfs, &path, PagerOptions { synchronous: sync, ..wal_opts() });
        write_pages(&mut w, 2..=3, 1);
        write_pages(&mut w, [2], 2);
        drop(w);
        let mut r = open(&vfs, &path, wal_opts());
        r.begin_read().unwrap();
        assert_eq!((fill_of(&mut r, 2), fill_of(&mut r, 3)), (2, 1), "{sync:?}");
        r.end_read().unwrap();
    }
}
