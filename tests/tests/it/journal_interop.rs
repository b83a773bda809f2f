//! folio-journal against stock sqlite3
//! (<https://sqlite.org/fileformat2.html#the_rollback_journal>): the codec on a live journal read
//! while a sqlite3 process holds its write transaction open, and on the header a PERSIST commit
//! leaves; playback of the hot journal a killed sqlite3 leaves (DELETE, TRUNCATE, PERSIST, with
//! cache spills), compared byte for byte with sqlite3's own recovery; and sqlite3 rolling back a
//! hot journal Folio wrote.

use folio_journal::format::{self, EndOfJournal, JournalHeader};
use folio_journal::hot::{self, HotJournal};
use folio_journal::playback::{playback, Mode, Playback};
use folio_journal::writer::{JournalConfig, JournalWriter, SyncPolicy};
use folio_tests::sqlite_child::SqliteChild;
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_tests::sqlite_hot::{copy_with_journal, journal_path, kill_mid_transaction, make_db};
use folio_vfs::os::OsVfs;
use folio_vfs::{FileKind, LockLevel, OpenFlags, SyncFlags, Vfs};
use std::path::Path;

#[test]
fn a_live_sqlite3_journal_decodes_and_every_record_verifies() {
    for page_size in [1024u32, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("j.db");
        let mut child = SqliteChild::spawn(&db);
        make_db(&mut child, page_size, "DELETE");
        let before = std::fs::read(&db).unwrap();
        child.ok("w", "BEGIN");
        child.ok("w", "UPDATE t SET v = upper(v) || 'x' WHERE id % 7 = 0");

        let journal = std::fs::read(journal_path(&db)).expect("sqlite3 has a journal open");
        // Before its first sync SQLite leaves magic and record count zero (pager.c,
        // `writeJournalHdr`, normal mode).
        assert_eq!(&journal[..12], &[0u8; 12], "page size {page_size}");
        assert_eq!(JournalHeader::decode(&journal), Err(EndOfJournal::BadMagic));
        // Put the magic in to read the rest of the header with our decoder.
        let mut sector = journal[..512].to_vec();
        sector[..8].copy_from_slice(&format::MAGIC);
        let header = JournalHeader::decode(&sector).unwrap();
        assert_eq!(header.page_size, page_size);
        assert_eq!(header.sector_size, 512, "PSOW on Linux: 512-byte journal headers");
        assert_eq!(u64::from(header.db_orig_pages) * u64::from(page_size), before.len() as u64);
        // Our encoder writes the same sector, padding included.
        let mut ours = vec![0u8; 512];
        header.encode(&mut ours, false);
        assert_eq!(&ours[12..], &journal[12..512], "page size {page_size}");

        // Every record sqlite3 wrote verifies with our checksum and holds the page's original
        // image.
        let rec_len = format::record_len(page_size) as usize;
        let records: Vec<_> = journal[512..]
            .chunks_exact(rec_len)
            .map(|r| format::decode_record(r, page_size, header.nonce))
            .collect();
        assert!(records.len() >= 2, "expected several journaled pages, got {}", records.len());
        for record in records {
            let record = record.unwrap_or_else(|why| panic!("page size {page_size}: {why:?}"));
            let at = (record.page_no as usize - 1) * page_size as usize;
            assert_eq!(
                record.page,
                &before[at..at + page_size as usize],
                "page {}",
                record.page_no
            );
        }
        child.ok("w", "ROLLBACK");
    }
}

#[test]
fn a_persist_commit_zeroes_exactly_the_header_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let mut child = SqliteChild::spawn(&db);
    make_db(&mut child, 4096, "PERSIST");
    child.ok("w", "UPDATE t SET v = 'changed' WHERE id < 50");
    let journal = std::fs::read(journal_path(&db)).expect("PERSIST keeps the journal");
    assert!(journal.len() > 512);
    assert_eq!(&journal[..format::PERSIST_ZEROED_LEN], &[0u8; format::PERSIST_ZEROED_LEN]);
    assert!(journal[512..].iter().any(|&b| b != 0), "the records are left in place");
    assert_eq!(JournalHeader::decode(&journal), Err(EndOfJournal::BadMagic), "not hot");
}

/// Rolls `db`'s hot journal back the way a Folio reader must: SHARED, SQLite's hot-journal
/// rules, then straight to EXCLUSIVE (never RESERVED), playback, sync, delete the journal.
fn roll_back_with_folio(db: &Path, page_size: u32) -> Playback {
    let vfs = OsVfs::new();
    let file = vfs.open(Some(db), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    file.lock(LockLevel::Shared).unwrap();
    assert_eq!(hot::check(&vfs, &journal_path(db), &*file, page_size).unwrap(), HotJournal::Hot);
    file.lock(LockLevel::Exclusive).unwrap();
    let journal =
        vfs.open(Some(&journal_path(db)), OpenFlags::read_write(FileKind::MainJournal)).unwrap();
    let done = playback(&*journal, &*file, page_size, Mode::Hot).unwrap().expect("hot journal");
    file.sync(SyncFlags::FULL).unwrap();
    drop(journal);
    vfs.delete(&journal_path(db), false).unwrap();
    file.unlock(LockLevel::None).unwrap();
    done
}

#[test]
fn a_hot_journal_of_a_killed_sqlite3_is_rolled_back_exactly_as_sqlite3_does() {
    for mode in ["DELETE", "TRUNCATE", "PERSIST"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let before = kill_mid_transaction(&db, 1024, mode);

        let by_sqlite = tempfile::tempdir().unwrap();
        let by_folio = tempfile::tempdir().unwrap();
        let sqlite_copy = copy_with_journal(&db, by_sqlite.path());
        let folio_copy = copy_with_journal(&db, by_folio.path());
        let check = "PRAGMA integrity_check; SELECT count(*) FROM t;";
        assert_eq!(run_sqlite3_cli(&sqlite_copy, check).expect_ok().trim(), "ok\n300", "{mode}");

        let done = roll_back_with_folio(&folio_copy, 1024);
        assert!(done.pages_restored > 5, "{mode}: {done:?}");
        let ours = std::fs::read(&folio_copy).unwrap();
        assert!(ours == std::fs::read(&sqlite_copy).unwrap(), "{mode}: differs from sqlite3's");
        assert!(ours == before, "{mode}: differs from the state before the transaction");
        assert_eq!(run_sqlite3_cli(&folio_copy, check).expect_ok().trim(), "ok\n300", "{mode}");
        eprintln!("{mode}: {done:?}");
    }
}

#[test]
fn sqlite3_rolls_back_a_hot_journal_written_by_folio() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let mut child = SqliteChild::spawn(&db);
    make_db(&mut child, 4096, "DELETE");
    child.close("w");
    drop(child);
    let before = std::fs::read(&db).unwrap();
    let page_size = 4096u32;
    let orig_pages = (before.len() / page_size as usize) as u32;

    // A transaction that journals every page, syncs the journal, then dies halfway through
    // writing the database (and after growing it).
    let vfs = OsVfs::new();
    let file = vfs.open(Some(&db), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    for level in [LockLevel::Shared, LockLevel::Reserved, LockLevel::Exclusive] {
        file.lock(level).unwrap();
    }
    let mut nonce = [0u8; 4];
    vfs.randomness(&mut nonce).unwrap();
    let journal =
        vfs.open(Some(&journal_path(&db)), OpenFlags::create(FileKind::MainJournal)).unwrap();
    let config = JournalConfig {
        page_size,
        sector_size: 512,
        db_orig_pages: orig_pages,
        nonce: u32::from_ne_bytes(nonce),
        magic_up_front: false,
    };
    let mut writer = JournalWriter::start(journal, config).unwrap();
    for p in 1..=orig_pages {
        let at = (p as usize - 1) * page_size as usize;
        writer.append(p, &before[at..at + page_size as usize]).unwrap();
    }
    writer.sync(SyncPolicy { full: true, device: file.device_characteristics() }).unwrap();
    for p in 1..=orig_pages / 2 + 1 {
        file.write_at(u64::from(p - 1) * u64::from(page_size), &vec![0xee; page_size as usize])
            .unwrap();
    }
    file.write_at(u64::from(orig_pages + 3) * u64::from(page_size), &[0xdd; 4096]).unwrap();
    drop(writer);
    drop(file); // the "crash": locks go, the journal stays

    let check = "PRAGMA integrity_check; SELECT count(*) FROM t;";
    assert_eq!(run_sqlite3_cli(&db, check).expect_ok().trim(), "ok\n300");
    assert!(std::fs::read(&db).unwrap() == before, "sqlite3's rollback restored other bytes");
    assert!(!journal_path(&db).exists(), "sqlite3 finalized the journal");
}
