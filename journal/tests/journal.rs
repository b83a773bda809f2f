//! folio-journal on its own (with folio-vfs's memory VFS and simulated disk): a journal written
//! with `JournalWriter` is played back to the original pages and size; SQLite's hot-journal
//! rules; the sync sequence per synchronous level; garbage stops playback quietly.

use folio_journal::format::{self, EndOfJournal, JournalHeader};
use folio_journal::hot::{self, HotJournal, NotHotBecause};
use folio_journal::playback::{playback, Mode};
use folio_journal::writer::{zero_header, JournalConfig, JournalWriter, SyncPolicy};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::sim::{FaultOp, SimConfig, SimVfs};
use folio_vfs::{DeviceCharacteristics as Dc, FileKind, LockLevel, OpenFlags, Vfs, VfsFile};
use std::path::Path;

const PS: u32 = 1024;
const DB: &str = "/j/test.db";
const JOURNAL: &str = "/j/test.db-journal";

fn open(vfs: &dyn Vfs, path: &str, kind: FileKind) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(kind)).unwrap()
}

fn page(fill: u8) -> Vec<u8> {
    (0..PS as usize).map(|i| fill ^ (i % 251) as u8).collect()
}

/// A database of `n` pages, page `p` filled from `p`.
fn db_with_pages(vfs: &dyn Vfs, n: u32) -> Box<dyn VfsFile> {
    let db = open(vfs, DB, FileKind::MainDb);
    for p in 1..=n {
        db.write_at(u64::from(p - 1) * u64::from(PS), &page(p as u8)).unwrap();
    }
    db
}

fn contents(file: &dyn VfsFile) -> Vec<u8> {
    let mut bytes = vec![0; file.size().unwrap() as usize];
    file.read_at(0, &mut bytes).unwrap();
    bytes
}

fn config(orig_pages: u32) -> JournalConfig {
    JournalConfig {
        page_size: PS,
        sector_size: 512,
        db_orig_pages: orig_pages,
        nonce: 0x1234_5678,
        magic_up_front: false,
    }
}

const FULL: SyncPolicy = SyncPolicy { full: true, device: Dc::POWERSAFE_OVERWRITE };

/// Journals pages `pages` of `db`, then overwrites them and grows the file, as a transaction
/// that got as far as writing the database would.
fn half_committed(vfs: &dyn Vfs, db: &dyn VfsFile, pages: &[u32], sync: bool) -> JournalWriter {
    let orig_pages = (db.size().unwrap() / u64::from(PS)) as u32;
    let mut w = JournalWriter::start(open(vfs, JOURNAL, FileKind::MainJournal), config(orig_pages))
        .unwrap();
    for &p in pages {
        let mut image = vec![0; PS as usize];
        db.read_at(u64::from(p - 1) * u64::from(PS), &mut image).unwrap();
        w.append(p, &image).unwrap();
    }
    if sync {
        w.sync(FULL).unwrap();
    }
    for &p in pages {
        db.write_at(u64::from(p - 1) * u64::from(PS), &page(0xee)).unwrap();
    }
    db.write_at(u64::from(orig_pages + 2) * u64::from(PS), &page(0xdd)).unwrap();
    w
}

#[test]
fn playback_restores_the_original_pages_and_size() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 4);
    let before = contents(&*db);
    let w = half_committed(&vfs, &*db, &[2, 3], true);
    drop(w);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    let done = playback(&*journal, &*db, PS, Mode::Hot).unwrap().expect("a valid journal");
    assert_eq!((done.pages_restored, done.db_orig_pages, done.segments), (2, 4, 1));
    assert_eq!(done.stopped_by, None);
    assert_eq!(contents(&*db), before);
}

#[test]
fn an_unsynced_journal_is_not_hot_but_its_own_connection_can_roll_back() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 3);
    let before = contents(&*db);
    let w = half_committed(&vfs, &*db, &[1, 3], false);
    drop(w);
    assert_eq!(
        hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(),
        HotJournal::NotHot(NotHotBecause::NotCommitted)
    );
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    assert_eq!(playback(&*journal, &*db, PS, Mode::Hot).unwrap(), None, "no magic, not hot");
    let done = playback(&*journal, &*db, PS, Mode::Own { current_header: 0, synced_to: u64::MAX })
        .unwrap()
        .unwrap();
    assert_eq!(done.pages_restored, 2, "record count 0 means: as many as there are");
    assert_eq!(contents(&*db), before);
}

#[test]
fn an_own_rollback_reads_an_empty_earlier_segment_as_empty() {
    // A transaction that first only grew the database (a synced segment with no records), then
    // changed page 2 in the next segment: the empty segment must not swallow the next one.
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 3);
    let before = contents(&*db);
    let mut w =
        JournalWriter::start(open(&vfs, JOURNAL, FileKind::MainJournal), config(3)).unwrap();
    w.sync_and_start_segment(FULL).unwrap();
    w.append(2, &page(2)).unwrap();
    w.sync_and_start_segment(FULL).unwrap();
    db.write_at(u64::from(PS), &page(0xee)).unwrap();
    db.write_at(3 * u64::from(PS), &page(0xef)).unwrap();
    let current_header = w.current_header_offset();
    let synced_to = current_header;
    let mode = Mode::Own { current_header, synced_to };
    let done = playback(w.file(), &*db, PS, mode).unwrap().unwrap();
    assert_eq!((done.segments, done.pages_restored), (3, 1));
    assert_eq!(contents(&*db), before);
}

#[test]
fn segments_after_a_mid_transaction_sync_are_all_played_back() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 5);
    let before = contents(&*db);
    let mut w =
        JournalWriter::start(open(&vfs, JOURNAL, FileKind::MainJournal), config(5)).unwrap();
    for p in [1, 2] {
        w.append(p, &page(p as u8)).unwrap();
    }
    let first_segment_end = w.end_offset();
    w.sync_and_start_segment(FULL).unwrap();
    db.write_at(0, &page(0xaa)).unwrap(); // the spill
                                          // The new header takes the next sector boundary; its records follow it.
    assert_eq!(w.end_offset(), format::header_offset(first_segment_end, 512) + 512);
    assert_ne!(first_segment_end % 512, 0, "the test must cross a partial sector");
    w.append(5, &page(5)).unwrap();
    w.sync(FULL).unwrap();
    db.write_at(u64::from(4 * PS), &page(0xbb)).unwrap();
    drop(w);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    let done = playback(&*journal, &*db, PS, Mode::Hot).unwrap().unwrap();
    assert_eq!((done.segments, done.pages_restored), (2, 3));
    assert_eq!(contents(&*db), before);
}

#[test]
fn a_record_that_does_not_verify_ends_playback_quietly() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 4);
    drop(half_committed(&vfs, &*db, &[1, 2, 3], true));
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    // Spoil one byte of the second record's image at a sampled offset (PS - 200).
    let second = 512 + format::record_len(PS) + 4 + u64::from(PS) - 200;
    journal.write_at(second, &[0x55]).unwrap();
    let done = playback(&*journal, &*db, PS, Mode::Hot).unwrap().unwrap();
    assert_eq!(done.pages_restored, 1);
    assert_eq!(done.stopped_by, Some(EndOfJournal::BadChecksum));
}

#[test]
fn records_beyond_the_original_size_are_skipped() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 2);
    let mut w =
        JournalWriter::start(open(&vfs, JOURNAL, FileKind::MainJournal), config(2)).unwrap();
    w.append(2, &page(2)).unwrap();
    w.append(7, &page(7)).unwrap();
    w.sync(FULL).unwrap();
    drop(w);
    db.write_at(u64::from(6 * PS), &page(0x77)).unwrap();
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    let done = playback(&*journal, &*db, PS, Mode::Hot).unwrap().unwrap();
    assert_eq!(done.pages_restored, 1);
    assert_eq!(db.size().unwrap(), u64::from(2 * PS), "truncated to the original size");
}

#[test]
fn a_database_shorter_than_its_original_size_is_extended_with_a_zero_page() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 2);
    let mut w =
        JournalWriter::start(open(&vfs, JOURNAL, FileKind::MainJournal), config(4)).unwrap();
    w.append(1, &page(1)).unwrap();
    w.sync(FULL).unwrap();
    drop(w);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    playback(&*journal, &*db, PS, Mode::Hot).unwrap().unwrap();
    assert_eq!(db.size().unwrap(), u64::from(4 * PS));
}

#[test]
fn sync_spoils_a_stale_header_beyond_the_records() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 3);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    // A PERSIST leftover: a valid second-segment header right where ours will end.
    let stale_at = format::header_offset(512 + format::record_len(PS), 512);
    let mut stale = vec![0u8; 512];
    JournalHeader { n_rec: 1, nonce: 9, db_orig_pages: 3, sector_size: 512, page_size: PS }
        .encode(&mut stale, true);
    journal.write_at(stale_at, &stale).unwrap();
    let mut record = vec![0u8; format::record_len(PS) as usize];
    format::encode_record(3, &page(0x99), 9, &mut record);
    journal.write_at(stale_at + 512, &record).unwrap();
    drop(journal);

    let mut w =
        JournalWriter::start(open(&vfs, JOURNAL, FileKind::MainJournal), config(3)).unwrap();
    w.append(1, &page(1)).unwrap();
    w.sync(FULL).unwrap();
    drop(w);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    let done = playback(&*journal, &*db, PS, Mode::Hot).unwrap().unwrap();
    assert_eq!((done.segments, done.pages_restored), (1, 1), "the stale segment is not replayed");
    assert_eq!(done.stopped_by, Some(EndOfJournal::BadMagic));
}

#[test]
fn magic_up_front_counts_records_from_the_file_size() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 3);
    let before = contents(&*db);
    let mut w = JournalWriter::start(
        open(&vfs, JOURNAL, FileKind::MainJournal),
        JournalConfig { magic_up_front: true, ..config(3) },
    )
    .unwrap();
    w.append(2, &page(2)).unwrap();
    w.append(3, &page(3)).unwrap();
    drop(w); // never synced: with the magic up front it is hot anyway (synchronous=OFF)
    db.write_at(u64::from(PS), &page(0xcc)).unwrap();
    assert_eq!(hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(), HotJournal::Hot);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    assert_eq!(playback(&*journal, &*db, PS, Mode::Hot).unwrap().unwrap().pages_restored, 2);
    assert_eq!(contents(&*db), before);
}

#[test]
fn hot_journal_rules() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 2);
    assert_eq!(hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(), HotJournal::Absent);
    drop(half_committed(&vfs, &*db, &[1], true));
    assert_eq!(hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(), HotJournal::Hot);

    // A writer still at work: not hot.
    let writer = open(&vfs, DB, FileKind::MainDb);
    writer.lock(LockLevel::Shared).unwrap();
    writer.lock(LockLevel::Reserved).unwrap();
    assert_eq!(
        hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(),
        HotJournal::NotHot(NotHotBecause::WriterActive)
    );
    writer.unlock(LockLevel::None).unwrap();

    // PERSIST finalized it: not hot.
    zero_header(&*open(&vfs, JOURNAL, FileKind::MainJournal)).unwrap();
    assert_eq!(
        hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(),
        HotJournal::NotHot(NotHotBecause::NotCommitted)
    );

    // Beside an empty database: stale.
    drop(half_committed(&vfs, &*db, &[1], true));
    db.truncate(0).unwrap();
    assert_eq!(hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(), HotJournal::Stale);
}

#[test]
fn a_journal_naming_a_vanished_super_journal_is_not_hot() {
    let vfs = MemoryVfs::new();
    let db = db_with_pages(&vfs, 2);
    let w = half_committed(&vfs, &*db, &[1], true);
    let end = w.end_offset();
    drop(w);
    let journal = open(&vfs, JOURNAL, FileKind::MainJournal);
    let super_name = "/j/test.db-mj0123ABCD9EF";
    journal.write_at(end, &format::encode_super_trailer(super_name, PS)).unwrap();
    let sj = open(&vfs, super_name, FileKind::SuperJournal);
    assert_eq!(hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(), HotJournal::Hot);
    drop(sj);
    vfs.delete(Path::new(super_name), false).unwrap();
    assert_eq!(
        hot::check(&vfs, Path::new(JOURNAL), &*db, PS).unwrap(),
        HotJournal::NotHot(NotHotBecause::SuperJournalGone(super_name.to_string()))
    );
}

/// Journal syncs issued by one `sync` on a simulated disk with `device`.
fn journal_syncs(full: bool, device: Dc) -> u64 {
    let vfs = SimVfs::new(SimConfig::new(1).with_characteristics(device));
    let mut w =
        JournalWriter::start(open(&vfs, JOURNAL, FileKind::MainJournal), config(1)).unwrap();
    w.append(1, &page(1)).unwrap();
    let before = vfs.op_count(FaultOp::Sync);
    w.sync(SyncPolicy { full, device }).unwrap();
    vfs.op_count(FaultOp::Sync) - before
}

#[test]
fn sync_counts_follow_the_synchronous_level_and_the_device() {
    // SQLite's pager.c, `syncJournal`: FULL syncs before and after writing the record count,
    // NORMAL after only; a SEQUENTIAL device needs neither; SAFE_APPEND skips the first.
    assert_eq!(journal_syncs(true, Dc::NONE), 2);
    assert_eq!(journal_syncs(false, Dc::NONE), 1);
    assert_eq!(journal_syncs(true, Dc::SEQUENTIAL), 0);
    assert_eq!(journal_syncs(true, Dc::SAFE_APPEND), 1);
}
