//! What a checkpoint copies, byte for byte: logs whose newest frames fall into many runs (pages
//! with gaps, frames out of page order, pages overwritten by later commits and in place within
//! a transaction, runs longer than one database write, a database that shrinks), at page sizes
//! 512, 4096 and 65536, checkpointed in two steps past a reader; on the OS VFS, where the page
//! images come from a memory map of the log, and on the memory VFS and the simulated disk,
//! where they are read. Then that no map of the log outlives a checkpoint, and that a log
//! shorter than its index says is an error either way.

#[path = "conn/harness.rs"]
#[allow(dead_code)]
mod harness;

use folio_vfs::memory::MemoryVfs;
use folio_vfs::os::OsVfs;
use folio_vfs::sim::{SimConfig, SimVfs};
use folio_vfs::{FileKind, OpenFlags, Vfs};
use folio_wal::{Checkpoint, CheckpointMode, Corruption, Error};
use harness::{image, images, label, Conn, Db, RecordingVfs};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const PASSIVE: CheckpointMode = CheckpointMode::Passive;
const TRUNCATE: CheckpointMode = CheckpointMode::Truncate;

/// Which VFS a test database lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Os,
    Memory,
    Sim,
}

/// A database of `page_size` on `on`, through a [`RecordingVfs`] that counts mapped ranges.
fn db_on(on: On, page_size: u32) -> (Db, RecordingVfs) {
    let (inner, path, dir): (Arc<dyn Vfs>, PathBuf, _) = match on {
        On::Os => {
            let dir = tempfile::tempdir().expect("tempdir");
            (Arc::new(OsVfs::new()), dir.path().join("ckpt.db"), Some(dir))
        }
        On::Memory => (Arc::new(MemoryVfs::new()), PathBuf::from("/m/ckpt.db"), None),
        On::Sim => {
            let seed = folio_vfs::seed::from_env_or(0xc0b1);
            (Arc::new(SimVfs::new(SimConfig::new(seed))), PathBuf::from("/s/ckpt.db"), None)
        }
    };
    let rec = RecordingVfs::new(inner);
    (Db { _dir: dir, ..Db::on(Arc::new(rec.clone()), path, page_size) }, rec)
}

/// The newest committed version of every page, and the database's size in pages.
#[derive(Default)]
struct Model {
    versions: BTreeMap<u32, u32>,
    n_pages: u32,
}

impl Model {
    /// Commits `pages` at `version` on `conn` and in the model.
    fn commit(&mut self, conn: &mut Conn, pages: &[u32], version: u32, n_pages: u32) {
        conn.commit(&images(conn.page_size, pages, version), n_pages);
        self.note(pages, version, n_pages);
    }

    fn note(&mut self, pages: &[u32], version: u32, n_pages: u32) {
        for &p in pages {
            self.versions.insert(p, version);
        }
        self.n_pages = n_pages;
    }

    /// Asserts the database file holds exactly this state's pages (`whole`: and nothing past
    /// them; otherwise only the pages are checked, as a partial checkpoint leaves the size).
    fn assert_db(&self, db: &Db, whole: bool, what: &str) {
        let ps = db.page_size;
        if whole {
            assert_eq!(db.db_size(), u64::from(self.n_pages) * u64::from(ps), "{what}: size");
        }
        for p in 1..=self.n_pages {
            let version = self.versions.get(&p).copied().unwrap_or(0);
            let got = db.db_page(p);
            assert!(
                got == image(ps, p, version),
                "{what}: page {p} should be version {version}, found {:?}",
                label(&got)
            );
        }
    }
}

/// A permutation of `pages` from `seed` (a fixed shuffle: frames out of page order).
fn shuffled(mut pages: Vec<u32>, seed: u64) -> Vec<u32> {
    let mut rng = folio_vfs::rng::Rng::new(seed);
    for i in (1..pages.len()).rev() {
        pages.swap(i, rng.below(i as u64 + 1) as usize);
    }
    pages
}

/// The scenario: a full first generation checkpointed, then a generation whose newest frames
/// make every kind of run, checkpointed up to a reader's snapshot and then to the end.
fn copies_every_run(on: On, page_size: u32) {
    let what = |step: &str| format!("{on:?} {page_size}: {step}");
    let (db, rec) = db_on(on, page_size);
    // 3 MiB of pages: a run of consecutive pages spans many database writes (256 KiB each).
    let n = (3 << 20) / page_size;
    let mut a = db.conn();
    let mut model = Model::default();
    let all: Vec<u32> = (1..=n).collect();
    model.commit(&mut a, &all, 1, n);
    // (On the simulated disk the commit is padded to a sector with copies of its last frame.)
    let log = a.wal().max_frame();
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, log, log));
    model.assert_db(&db, true, &what("first generation"));

    // Gaps and descending frames; every 7th page; every 3rd from the end, descending.
    let mid = n / 2;
    let mut c2: Vec<u32> = (mid..mid + 6).rev().collect();
    c2.extend((2..n).step_by(7).filter(|p| !(mid..mid + 6).contains(p)));
    model.commit(&mut a, &c2, 2, n);
    let c3: Vec<u32> = (1..=n).rev().step_by(3).chain([1]).collect();
    model.commit(&mut a, &c3, 3, n);
    // A long range in shuffled order: consecutive pages in scattered frames.
    model.commit(&mut a, &shuffled((10..=n - 10).collect(), 7), 4, n);

    // A reader keeps this snapshot: the first checkpoint stops at it.
    let mut r = db.conn();
    r.begin_read();
    let reader_saw = 4;

    // A long run of consecutive pages in consecutive frames, longer than one write.
    let long: Vec<u32> = (20..(20 + n / 2).min(n - 5)).collect();
    model.commit(&mut a, &long, 5, n);
    // Spilled frames overwritten in place by the commit of the same transaction.
    a.begin_write().expect("begin_write");
    a.write(&images(page_size, &[5, 6, 7], 6), None);
    a.write(&images(page_size, &[6, 8], 7), Some(n));
    a.wal().end_write();
    a.wal().end_read();
    model.note(&[5, 7], 6, n);
    model.note(&[6, 8], 7, n);
    // The database shrinks: the log's images of the last pages are not copied.
    model.commit(&mut a, &[2, n - 1], 8, n - 3);

    let log = a.wal().max_frame();
    let first = a.checkpoint(PASSIVE);
    assert!(first.checkpointed < log, "{}: the reader caps the copy: {first:?}", what("first"));
    // As SQLite's: a page is copied only from its newest frame, so a page written again after
    // the reader's snapshot waits for the next checkpoint, and so do pages past the newest
    // database size; the others have their newest image.
    let mut first_step = Model { n_pages: n, ..Model::default() };
    for p in 1..=n {
        let newest = model.versions[&p];
        let copied = p <= model.n_pages && newest <= reader_saw;
        first_step.versions.insert(p, if copied { newest } else { 1 });
    }
    first_step.assert_db(&db, false, &what("up to the reader"));
    assert_eq!(rec.mapped_now("-wal"), 0, "{}: a map outlived it", what("first"));

    r.end_read();
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, log, log));
    model.assert_db(&db, true, &what("to the end"));
    assert_eq!(rec.mapped_now("-wal"), 0, "{}: a map outlived it", what("second"));
    let fetched = rec.fetched("-wal");
    match on {
        On::Os => assert!(fetched > 0, "{}: the OS VFS maps the log", what("fetches")),
        On::Memory | On::Sim => assert_eq!(fetched, 0, "{}: nothing to map", what("fetches")),
    }
}

fn ckpt(busy: bool, log: u32, checkpointed: u32) -> Checkpoint {
    Checkpoint { busy, log, checkpointed }
}

#[test]
fn a_checkpoint_copies_every_run_from_the_log_map_on_the_os_vfs() {
    for page_size in [512, 4096, 65536] {
        copies_every_run(On::Os, page_size);
    }
}

#[test]
fn a_checkpoint_copies_every_run_read_from_the_log_in_memory() {
    for page_size in [512, 4096, 65536] {
        copies_every_run(On::Memory, page_size);
    }
}

#[test]
fn a_checkpoint_copies_every_run_read_from_the_log_on_the_simulated_disk() {
    for page_size in [512, 4096, 65536] {
        copies_every_run(On::Sim, page_size);
    }
}

/// True if this process maps `path` (Linux's /proc/self/maps names every file mapping).
#[cfg(target_os = "linux")]
fn mapped_by_this_process(path: &std::path::Path) -> bool {
    let path = std::fs::canonicalize(path).expect("canonical path");
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let name = path.to_string_lossy();
    maps.lines().any(|line| line.ends_with(&*name))
}

#[cfg(target_os = "linux")]
#[test]
fn no_map_of_the_log_outlives_a_checkpoint() {
    let ps = 4096;
    let (db, rec) = db_on(On::Os, ps);
    let mut a = db.conn();
    let mut model = Model::default();
    model.commit(&mut a, &(1..=300).collect::<Vec<_>>(), 1, 300);
    model.commit(&mut a, &[7, 3, 250, 9], 2, 300);

    // The probe sees a map of the log while one is alive.
    let probe = db.vfs.open(Some(&db.wal_path()), OpenFlags::read_only(FileKind::Wal)).unwrap();
    probe.set_mmap_limit(1 << 30).unwrap();
    let page = probe.fetch(0, 4096).unwrap().expect("the log is mapped");
    assert!(mapped_by_this_process(&db.wal_path()), "the probe works");
    drop(page);
    probe.unmap();
    assert!(!mapped_by_this_process(&db.wal_path()), "the probe's map is gone");
    let before = rec.fetched("-wal");

    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 304, 304));
    assert!(rec.fetched("-wal") > before, "the checkpoint read the log through a map");
    assert!(!mapped_by_this_process(&db.wal_path()), "the checkpoint's map is gone");
    model.assert_db(&db, true, "after PASSIVE");

    // The log can be truncated under us and restarted; a later checkpoint maps the new bytes.
    model.commit(&mut a, &[1, 2, 3], 3, 300);
    assert_eq!(a.checkpoint(TRUNCATE), ckpt(false, 0, 0));
    assert_eq!(db.file_size(&db.wal_path()), 0, "TRUNCATE emptied the log");
    model.assert_db(&db, true, "after TRUNCATE");
    model.commit(&mut a, &[299, 4, 5], 4, 301);
    assert_eq!(a.checkpoint(PASSIVE), ckpt(false, 3, 3));
    assert!(!mapped_by_this_process(&db.wal_path()), "no map after the next checkpoint");
    model.assert_db(&db, true, "after the restarted log's checkpoint");

    // A new connection sees the same pages, and the last close deletes the log.
    let mut b = db.conn();
    b.begin_read();
    for p in [1, 4, 7, 250, 299, 300] {
        let version = model.versions.get(&p).copied().unwrap_or(0);
        assert!(b.read(p) == image(ps, p, version), "page {p} read by a new connection");
    }
    b.end_read();
    assert!(!b.close(false));
    assert!(a.close(true), "the last connection deletes the log");
    assert!(!db.exists(&db.wal_path()));
    model.assert_db(&db, true, "after the last close");
}

#[test]
fn a_log_shorter_than_its_index_is_corrupt_whether_mapped_or_read() {
    for on in [On::Os, On::Memory] {
        let ps = 1024;
        let (db, rec) = db_on(on, ps);
        let mut a = db.conn();
        a.commit(&images(ps, &(1..=10).collect::<Vec<_>>(), 1), 10);
        // Cut the last frame behind the wal-index's back.
        let log = db.vfs.open(Some(&db.wal_path()), OpenFlags::read_write(FileKind::Wal)).unwrap();
        let size = log.size().unwrap();
        log.truncate(size - 100).unwrap();
        match a.wal().checkpoint(PASSIVE, ps, None) {
            Err(Error::Corrupt { check: Corruption::FramesCutShort { .. }, .. }) => {}
            other => panic!("{on:?}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(rec.mapped_now("-wal"), 0, "{on:?}: a map outlived the failed checkpoint");
    }
}
