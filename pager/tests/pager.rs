//! folio-pager's behaviour on the memory VFS, the simulated disk and the OS VFS: transactions,
//! the header it maintains, journal modes, spills, rollback, busy locks, hot journals, mmap,
//! read-only opens, corrupt files and poisoning.

use folio_pager::header::DbHeader;
use folio_pager::{Error, JournalMode, LockingMode, Pager, PagerOptions, Synchronous};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::os::OsVfs;
use folio_vfs::sim::{FaultKind, FaultOp, FaultRule, SimConfig, SimVfs};
use folio_vfs::{AccessCheck, DeviceCharacteristics, FileKind, LockLevel, OpenFlags, Vfs};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const DB: &str = "/db";
const PS: usize = 4096;

fn opts() -> PagerOptions {
    PagerOptions::default()
}

fn open(vfs: &Arc<dyn Vfs>, opts: PagerOptions) -> Pager {
    Pager::open(Arc::clone(vfs), Path::new(DB), opts).unwrap()
}

fn memory() -> Arc<dyn Vfs> {
    Arc::new(MemoryVfs::new())
}

fn page(fill: u8) -> Vec<u8> {
    vec![fill; PS]
}

/// Writes pages `2..=n` filled with `fill` in one transaction.
fn write_pages(pager: &mut Pager, n: u32, fill: u8) {
    pager.begin_write().unwrap();
    for p in 2..=n {
        pager.write(p, &page(fill)).unwrap();
    }
    pager.commit().unwrap();
}

fn read_all(pager: &mut Pager) -> Vec<Vec<u8>> {
    pager.begin_read().unwrap();
    let pages = (1..=pager.page_count()).map(|p| pager.get(p).unwrap().to_vec()).collect();
    pager.end_read().unwrap();
    pages
}

fn file(vfs: &Arc<dyn Vfs>, path: &str) -> Option<Vec<u8>> {
    if !vfs.access(Path::new(path), AccessCheck::Exists).unwrap() {
        return None;
    }
    let f = vfs.open(Some(Path::new(path)), OpenFlags::read_only(FileKind::MainJournal)).unwrap();
    let mut bytes = vec![0u8; f.size().unwrap() as usize];
    f.read_at(0, &mut bytes).unwrap();
    Some(bytes)
}

fn header(vfs: &Arc<dyn Vfs>) -> DbHeader {
    DbHeader::decode(&file(vfs, DB).unwrap()).unwrap()
}

#[test]
fn commits_stamp_the_header_and_bump_the_counter_once_each() {
    let vfs = memory();
    let mut pager = open(&vfs, opts());
    write_pages(&mut pager, 3, 1);
    let h = header(&vfs);
    assert_eq!((h.page_size, h.change_counter, h.version_valid_for), (4096, 1, 1));
    assert_eq!((h.db_size_pages, h.write_version, h.read_version), (3, 1, 1));
    assert_eq!(h.sqlite_version, folio_pager::WRITER_VERSION);
    // A transaction touching many pages still bumps the counter by exactly one.
    write_pages(&mut pager, 10, 2);
    let h = header(&vfs);
    assert_eq!((h.change_counter, h.version_valid_for, h.db_size_pages), (2, 2, 10));
    assert_eq!(file(&vfs, DB).unwrap().len(), 10 * PS);
    // A transaction that changes nothing writes nothing.
    pager.begin_write().unwrap();
    pager.commit().unwrap();
    assert_eq!(header(&vfs).change_counter, 2);
    let pages = read_all(&mut pager);
    assert!(pages[9].iter().all(|&b| b == 2));
}

#[test]
fn rollback_restores_pages_and_size_even_after_spills() {
    for journal_mode in
        [JournalMode::Delete, JournalMode::Truncate, JournalMode::Persist, JournalMode::Memory]
    {
        let vfs = memory();
        let mut pager = open(&vfs, PagerOptions { journal_mode, cache_size: 4, ..opts() });
        write_pages(&mut pager, 20, 1);
        let before = file(&vfs, DB).unwrap();
        pager.begin_write().unwrap();
        for p in 2..=40 {
            pager.write(p, &page(9)).unwrap();
        }
        assert!(pager.stats().spills > 0, "{journal_mode}: a 4-page cache must spill");
        assert_ne!(file(&vfs, DB).unwrap(), before, "{journal_mode}: spills wrote the file");
        pager.rollback().unwrap();
        assert_eq!(file(&vfs, DB).unwrap(), before, "{journal_mode}: rollback restored the file");
        assert_eq!(pager.stats().file_rollbacks, 1);
        let pages = read_all(&mut pager);
        assert_eq!(pages.len(), 20);
        assert!(pages[19].iter().all(|&b| b == 1));
    }
}

#[test]
fn truncation_is_journaled_and_a_regrown_page_reads_as_zeros() {
    let vfs = memory();
    let mut pager = open(&vfs, opts());
    write_pages(&mut pager, 8, 5);
    pager.begin_write().unwrap();
    pager.truncate(3).unwrap();
    assert_eq!(pager.page_count(), 3);
    pager.page_mut(6).unwrap()[0] = 1; // grow again: 4, 5 and the rest of 6 are zeros
    assert_eq!(pager.page_count(), 6);
    assert!(pager.get(5).unwrap().iter().all(|&b| b == 0));
    assert_eq!(pager.get(6).unwrap()[..2], [1, 0]);
    pager.commit().unwrap();
    assert_eq!(file(&vfs, DB).unwrap().len(), 6 * PS);

    let before = file(&vfs, DB).unwrap();
    pager.begin_write().unwrap();
    pager.truncate(2).unwrap();
    pager.rollback().unwrap();
    assert_eq!(file(&vfs, DB).unwrap(), before);
    // Committed truncation: the journal held pages 3..6, the file shrinks.
    pager.begin_write().unwrap();
    pager.truncate(2).unwrap();
    pager.commit().unwrap();
    assert_eq!(file(&vfs, DB).unwrap().len(), 2 * PS);
    assert_eq!(header(&vfs).db_size_pages, 2);
}

#[test]
fn journal_modes_finalize_as_sqlite_does() {
    let journal = "/db-journal";
    for (mode, expect) in [
        (JournalMode::Delete, None),
        (JournalMode::Truncate, Some(0)),
        (JournalMode::Persist, Some(usize::MAX)),
        (JournalMode::Memory, None),
        (JournalMode::Off, None),
    ] {
        let vfs = memory();
        let mut pager = open(&vfs, PagerOptions { journal_mode: mode, ..opts() });
        write_pages(&mut pager, 4, 1);
        write_pages(&mut pager, 4, 2);
        let left = file(&vfs, journal);
        match expect {
            None => assert!(left.is_none(), "{mode}: no journal file after commit"),
            Some(0) => assert_eq!(left.unwrap().len(), 0, "{mode}: truncated"),
            Some(_) => {
                let left = left.unwrap();
                assert!(left.len() > 512, "{mode}: the file stays");
                assert!(left[..28].iter().all(|&b| b == 0), "{mode}: 28 header bytes zeroed");
                assert!(left[28..512].iter().all(|&b| b == 0), "sector padding");
                assert_ne!(left[512..].iter().filter(|&&b| b != 0).count(), 0, "records stay");
            }
        }
    }
    // journal_size_limit trims a PERSIST journal after the commit; 0 truncates it.
    let vfs = memory();
    let mut pager = open(
        &vfs,
        PagerOptions { journal_mode: JournalMode::Persist, journal_size_limit: 1000, ..opts() },
    );
    write_pages(&mut pager, 6, 1);
    write_pages(&mut pager, 6, 2);
    assert_eq!(file(&vfs, journal).unwrap().len(), 1000);
    pager.set_journal_size_limit(0);
    write_pages(&mut pager, 6, 3);
    assert_eq!(file(&vfs, journal).unwrap().len(), 0);
    // Leaving PERSIST for DELETE deletes the leftover journal.
    pager.set_journal_size_limit(-1);
    write_pages(&mut pager, 6, 4);
    assert!(file(&vfs, journal).is_some());
    pager.set_journal_mode(JournalMode::Delete).unwrap();
    assert!(file(&vfs, journal).is_none());
    // So does leaving TRUNCATE (its empty journal file).
    pager.set_journal_mode(JournalMode::Truncate).unwrap();
    write_pages(&mut pager, 6, 5);
    assert_eq!(file(&vfs, journal).unwrap().len(), 0);
    pager.set_journal_mode(JournalMode::Delete).unwrap();
    assert!(file(&vfs, journal).is_none());
}

#[test]
fn sync_counts_follow_the_synchronous_level() {
    // (mode, level) -> file syncs of one small commit (SQLite's pager.c, `syncJournal`): FULL syncs
    // the journal before and after writing its record count, NORMAL once; the database once;
    // TRUNCATE (FULL) and PERSIST (unless OFF) sync the finalized journal. Directory syncs are not
    // counted here.
    let cases = [
        (JournalMode::Delete, Synchronous::Off, 0),
        (JournalMode::Delete, Synchronous::Normal, 2),
        (JournalMode::Delete, Synchronous::Full, 3),
        (JournalMode::Truncate, Synchronous::Full, 4),
        (JournalMode::Persist, Synchronous::Full, 4),
        (JournalMode::Persist, Synchronous::Normal, 3),
        (JournalMode::Memory, Synchronous::Full, 1),
        (JournalMode::Off, Synchronous::Full, 1),
    ];
    for (journal_mode, synchronous, want) in cases {
        let sim = SimVfs::new(
            SimConfig::new(7).with_characteristics(DeviceCharacteristics::POWERSAFE_OVERWRITE),
        );
        let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
        let mut pager = open(&vfs, PagerOptions { journal_mode, synchronous, ..opts() });
        write_pages(&mut pager, 3, 1); // creates the file and (for file modes) the journal
        let before = sim.op_count(FaultOp::Sync);
        write_pages(&mut pager, 3, 2);
        let syncs = sim.op_count(FaultOp::Sync) - before;
        assert_eq!(syncs, want, "{journal_mode} {synchronous}: syncs of a one-page commit");
    }
}

#[test]
fn another_connections_commit_resets_the_cache() {
    let vfs = memory();
    let mut a = open(&vfs, opts());
    let mut b = open(&vfs, opts());
    write_pages(&mut a, 3, 1);
    assert!(read_all(&mut b)[2].iter().all(|&x| x == 1));
    write_pages(&mut a, 3, 2);
    let pages = read_all(&mut b);
    assert!(pages[2].iter().all(|&x| x == 2), "b saw a's second commit");
    assert_eq!(b.stats().cache_resets, 1);
    // Nothing changed: the cache is kept.
    read_all(&mut b);
    assert_eq!(b.stats().cache_resets, 1);
    assert!(b.stats().cache_hits > 0);
}

#[test]
fn writers_exclude_each_other_and_readers_delay_the_commit() {
    let vfs = memory();
    let mut a = open(&vfs, opts());
    let mut b = open(&vfs, opts());
    write_pages(&mut a, 2, 1);
    a.begin_write().unwrap();
    a.write(2, &page(3)).unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    b.set_busy_handler(move |n| {
        seen.fetch_add(1, Ordering::Relaxed);
        n < 2
    });
    let err = b.begin_write().unwrap_err();
    assert!(err.is_busy(), "{err}");
    assert_eq!(calls.load(Ordering::Relaxed), 3, "the handler was asked three times");
    // b reads while a is writing; a's commit then cannot get EXCLUSIVE.
    b.begin_read().unwrap();
    assert!(b.get(2).unwrap().iter().all(|&x| x == 1), "b sees the committed state");
    let err = a.commit().unwrap_err();
    assert!(err.is_busy(), "{err}");
    assert!(a.in_write_transaction(), "a busy commit leaves the transaction open");
    b.end_read().unwrap();
    a.commit().unwrap();
    assert!(read_all(&mut b)[1].iter().all(|&x| x == 3));
}

#[test]
fn a_busy_timeout_waits_then_gives_up() {
    let vfs = memory();
    let mut a = open(&vfs, opts());
    write_pages(&mut a, 2, 1);
    a.begin_write().unwrap();
    let mut b =
        open(&vfs, PagerOptions { busy_timeout: std::time::Duration::from_millis(30), ..opts() });
    let start = std::time::Instant::now();
    assert!(b.begin_write().unwrap_err().is_busy());
    assert!(start.elapsed() >= std::time::Duration::from_millis(25), "{:?}", start.elapsed());
}

#[test]
fn a_failed_sync_poisons_the_pager_and_the_next_opener_rolls_back() {
    let sim = SimVfs::new(SimConfig::new(3));
    let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let mut pager = open(&vfs, opts());
    write_pages(&mut pager, 5, 1);
    let before = file(&vfs, DB).unwrap();
    // Fail the database sync of the next commit (the journal's syncs come first).
    sim.add_fault(FaultRule::once(FaultOp::Sync, 1, FaultKind::Io).on_paths_ending_with("/db"));
    pager.begin_write().unwrap();
    for p in 2..=5 {
        pager.write(p, &page(2)).unwrap();
    }
    let err = pager.commit().unwrap_err();
    assert!(matches!(err, Error::Vfs(_)), "{err}");
    assert_eq!(pager.lock_level(), LockLevel::None, "the poisoned pager let go of its locks");
    let err = pager.begin_read().unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    assert!(file(&vfs, "/db-journal").is_some(), "the hot journal stays for the next opener");
    let mut again = open(&vfs, opts());
    let pages = read_all(&mut again);
    assert_eq!(again.stats().hot_rollbacks, 1);
    assert!(pages[4].iter().all(|&b| b == 1), "rolled back to the last commit");
    assert_eq!(file(&vfs, DB).unwrap(), before);
    assert!(file(&vfs, "/db-journal").is_none());
}

#[test]
fn an_io_error_while_writing_rolls_the_transaction_back() {
    let sim = SimVfs::new(SimConfig::new(4));
    let vfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let mut pager = open(&vfs, PagerOptions { cache_size: 2, ..opts() });
    write_pages(&mut pager, 6, 1);
    let before = file(&vfs, DB).unwrap();
    pager.begin_write().unwrap();
    pager.write(2, &page(2)).unwrap();
    pager.write(3, &page(2)).unwrap();
    sim.add_fault(
        FaultRule::once(FaultOp::Write, 2, FaultKind::DiskFull).on_paths_ending_with("/db"),
    );
    let mut failed = None;
    for p in 4..=6 {
        if let Err(e) = pager.write(p, &page(2)) {
            failed = Some(e);
            break;
        }
    }
    let err = failed.expect("the second spill write fails");
    assert!(err.is_disk_full(), "{err}");
    assert!(!pager.in_transaction(), "the transaction ended");
    assert_eq!(file(&vfs, DB).unwrap(), before, "and was rolled back");
    // Not a sync failure: the pager is still usable.
    write_pages(&mut pager, 6, 3);
    assert!(read_all(&mut pager)[5].iter().all(|&b| b == 3));
}

#[test]
fn read_only_pagers_never_write() {
    let vfs = memory();
    let mut w = open(&vfs, opts());
    write_pages(&mut w, 3, 1);
    let mut r = open(&vfs, PagerOptions { read_only: true, ..opts() });
    assert!(read_all(&mut r)[2].iter().all(|&b| b == 1));
    assert!(matches!(r.begin_write().unwrap_err(), Error::ReadOnly { .. }));
    // A hot journal cannot be rolled back read-only.
    let sim = SimVfs::new(SimConfig::new(5));
    let svfs: Arc<dyn Vfs> = Arc::new(sim.clone());
    let mut w = open(&svfs, opts());
    write_pages(&mut w, 3, 1);
    sim.add_fault(FaultRule::once(FaultOp::Sync, 1, FaultKind::Io).on_paths_ending_with("/db"));
    w.begin_write().unwrap();
    w.write(2, &page(2)).unwrap();
    w.commit().unwrap_err();
    let mut r = open(&svfs, PagerOptions { read_only: true, ..opts() });
    assert!(matches!(r.begin_read().unwrap_err(), Error::ReadOnlyRollback { .. }));
}

#[test]
fn a_newer_write_version_is_read_only_and_leaves_no_lock() {
    let vfs = memory();
    let mut pager = open(&vfs, opts());
    write_pages(&mut pager, 3, 1);
    let raw = vfs.open(Some(Path::new(DB)), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    raw.write_at(18, &[3]).unwrap(); // file-format write version 3: readable, not writable
    let mut other = open(&vfs, opts());
    assert!(read_all(&mut other)[2].iter().all(|&b| b == 1));
    let err = other.begin_write().unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
    assert_eq!(other.lock_level(), LockLevel::None, "the failed begin let go of its lock");
}

#[test]
fn bad_files_are_errors_not_panics() {
    let vfs = memory();
    let raw = vfs.open(Some(Path::new(DB)), OpenFlags::create(FileKind::MainDb)).unwrap();
    raw.write_at(0, b"this is not a database, just some text").unwrap();
    let mut pager = open(&vfs, opts());
    let err = pager.begin_read().unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert_eq!(pager.lock_level(), LockLevel::None);
    // A header that promises more pages than the file holds.
    let vfs = memory();
    let mut pager = open(&vfs, opts());
    write_pages(&mut pager, 4, 1);
    let raw = vfs.open(Some(Path::new(DB)), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    raw.truncate(2 * PS as u64).unwrap();
    let err = pager.begin_read().unwrap_err();
    assert!(err.is_corrupt() && err.to_string().contains("4 pages"), "{err}");
}

#[test]
fn misuse_is_reported() {
    let vfs = memory();
    let mut pager = open(&vfs, opts());
    assert!(matches!(pager.get(1).unwrap_err(), Error::Misuse { .. }));
    assert!(matches!(pager.commit().unwrap_err(), Error::Misuse { .. }));
    pager.begin_write().unwrap();
    assert!(matches!(pager.page_mut(0).unwrap_err(), Error::Misuse { .. }));
    let lock_byte = pager.lock_byte_page();
    assert_eq!(lock_byte, 262_145);
    assert!(matches!(pager.page_mut(lock_byte).unwrap_err(), Error::Misuse { .. }));
    assert!(matches!(pager.write(2, &[0; 10]).unwrap_err(), Error::Misuse { .. }));
    pager.write(2, &page(1)).unwrap();
    assert!(matches!(pager.get(3).unwrap_err(), Error::Misuse { .. }));
    assert!(matches!(pager.set_journal_mode(JournalMode::Off).unwrap_err(), Error::Misuse { .. }));
    pager.commit().unwrap();
    assert!(matches!(pager.set_page_size(1024).unwrap_err(), Error::Misuse { .. }));
}

#[test]
fn page_size_and_reserved_bytes_of_a_new_database() {
    let vfs = memory();
    let mut pager = open(&vfs, opts());
    pager.set_page_size(1024).unwrap();
    pager.set_reserved_bytes(8).unwrap();
    assert_eq!(pager.usable_size(), 1016);
    pager.begin_write().unwrap();
    pager.write(2, &[4; 1024]).unwrap();
    pager.commit().unwrap();
    let h = header(&vfs);
    assert_eq!((h.page_size, h.reserved_bytes, h.db_size_pages), (1024, 8, 2));
    // A fresh pager adopts the header's geometry, not its options.
    let mut other = open(&vfs, PagerOptions { page_size: 8192, ..opts() });
    other.begin_read().unwrap();
    assert_eq!((other.page_size(), other.usable_size()), (1024, 1016));
    other.end_read().unwrap();
    // 65536-byte pages are stored as 1.
    let vfs = memory();
    let mut big = open(&vfs, PagerOptions { page_size: 65536, ..opts() });
    big.begin_write().unwrap();
    big.page_mut(1).unwrap();
    big.commit().unwrap();
    assert_eq!(file(&vfs, DB).unwrap()[16..18], [0, 1]);
}

#[test]
fn exclusive_locking_mode_keeps_the_lock() {
    let vfs = memory();
    let mut a = open(&vfs, PagerOptions { locking_mode: LockingMode::Exclusive, ..opts() });
    write_pages(&mut a, 3, 1);
    assert_eq!(a.lock_level(), LockLevel::Exclusive);
    let mut b = open(&vfs, opts());
    assert!(b.begin_read().unwrap_err().is_busy());
    write_pages(&mut a, 3, 2);
    assert_eq!(a.stats().cache_resets, 0);
    a.set_locking_mode(LockingMode::Normal).unwrap();
    assert_eq!(a.lock_level(), LockLevel::None);
    assert!(read_all(&mut b)[2].iter().all(|&x| x == 2));
}

#[test]
fn pages_come_from_the_map_only_in_read_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new());
    let path = dir.path().join("m.db");
    let o = PagerOptions { mmap_size: 1 << 20, ..opts() };
    let mut pager = Pager::open(Arc::clone(&vfs), &path, o.clone()).unwrap();
    write_pages(&mut pager, 6, 4);
    let mut reader = Pager::open(Arc::clone(&vfs), &path, o).unwrap();
    reader.begin_read().unwrap();
    let p1 = reader.get(1).unwrap();
    let p5 = reader.get(5).unwrap();
    assert!(!p1.is_mapped(), "page 1 is never mapped");
    assert!(p5.is_mapped() && p5.iter().all(|&b| b == 4));
    assert_eq!(reader.stats().mmap_reads, 1);
    let err = reader.end_read().unwrap_err();
    assert!(err.to_string().contains("mapped"), "{err}");
    let err = reader.begin_write().unwrap_err();
    assert!(err.to_string().contains("mapped"), "{err}");
    drop(p5);
    reader.begin_write().unwrap();
    let p5 = reader.get(5).unwrap();
    assert!(!p5.is_mapped(), "no mapped pages inside a write transaction");
    reader.page_mut(5).unwrap()[0] = 9;
    assert_eq!(p5[0], 4, "a page held while it is modified keeps its bytes");
    reader.commit().unwrap();
    drop((p1, p5));
    reader.begin_read().unwrap();
    let p5 = reader.get(5).unwrap();
    assert_eq!(p5[..2], [9, 4]);
    drop(p5);
    reader.end_read().unwrap();
}

#[test]
fn pages_beyond_the_mapped_region_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new());
    let path = dir.path().join("m.db");
    let mut pager = Pager::open(Arc::clone(&vfs), &path, opts()).unwrap();
    write_pages(&mut pager, 8, 6);
    // The map covers the first three pages only.
    let o = PagerOptions { mmap_size: 3 * PS as u64, ..opts() };
    let mut reader = Pager::open(Arc::clone(&vfs), &path, o).unwrap();
    reader.begin_read().unwrap();
    let mapped: Vec<bool> = (2..=8).map(|p| reader.get(p).unwrap().is_mapped()).collect();
    assert_eq!(mapped, [true, true, false, false, false, false, false]);
    assert!(reader.get(8).unwrap().iter().all(|&b| b == 6));
    reader.end_read().unwrap();
    // mmap_size 0 turns the map off.
    reader.set_mmap_size(0).unwrap();
    reader.begin_read().unwrap();
    assert!(!reader.get(2).unwrap().is_mapped());
    reader.end_read().unwrap();
}

#[test]
fn large_sectors_journal_every_page_of_the_sector() {
    // No powersafe overwrite, 4096-byte sectors, 1024-byte pages: four pages share a sector.
    let vfs: Arc<dyn Vfs> = Arc::new(
        MemoryVfs::builder()
            .sector_size(4096)
            .device_characteristics(DeviceCharacteristics::NONE)
            .build(),
    );
    let mut pager =
        open(&vfs, PagerOptions { page_size: 1024, journal_mode: JournalMode::Persist, ..opts() });
    pager.begin_write().unwrap();
    for p in 1..=12 {
        pager.write(p, &[1; 1024]).unwrap();
    }
    pager.commit().unwrap();
    pager.begin_write().unwrap();
    pager.write(6, &[2; 1024]).unwrap();
    pager.commit().unwrap();
    // Header sector (4096) + records for pages 5..8 and 1..4 (page 1 for the counter).
    let journal = file(&vfs, "/db-journal").unwrap();
    let record = 4 + 1024 + 4;
    let mut pages: Vec<u32> = (0..8)
        .map(|i| {
            let at = 4096 + i * record;
            u32::from_be_bytes(journal[at..at + 4].try_into().unwrap())
        })
        .collect();
    pages.sort_unstable();
    assert_eq!(pages, [1, 2, 3, 4, 5, 6, 7, 8]);
}
