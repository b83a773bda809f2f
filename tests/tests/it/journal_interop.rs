//! The journal codec (`folio_journal::format`) against journals written by stock sqlite3: a
//! live journal read while a sqlite3 process holds its write transaction open, and the header a
//! PERSIST-mode commit leaves behind (fact sheet §3.2, §3.3, §3.6).

use folio_journal::format::{self, EndOfJournal, JournalHeader};
use folio_tests::sqlite_child::SqliteChild;
use std::path::{Path, PathBuf};

fn journal_path(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-journal", db.display()))
}

/// A database of `page_size` with enough rows to span several pages.
fn make_db(child: &mut SqliteChild, page_size: u32, mode: &str) {
    child.open("w");
    child.ok("w", &format!("PRAGMA page_size={page_size}"));
    child.ok("w", &format!("PRAGMA journal_mode={mode}"));
    child.ok("w", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    child.ok("w", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<300) INSERT INTO t SELECT i, printf('%0100d', i) FROM n");
}

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
        // Before its first sync SQLite leaves magic and record count zero (§3.2, normal mode).
        assert_eq!(&journal[..12], &[0u8; 12], "page size {page_size}");
        assert_eq!(JournalHeader::decode(&journal), Err(EndOfJournal::BadMagic));
        // Put the magic in to read the rest of the header with our decoder.
        let mut sector = journal[..512].to_vec();
        sector[..8].copy_from_slice(&format::MAGIC);
        let header = JournalHeader::decode(&sector).unwrap();
        assert_eq!(header.page_size, page_size);
        assert_eq!(header.sector_size, 512, "PSOW on Linux: 512-byte journal headers (§3.1)");
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
