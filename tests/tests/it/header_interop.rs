//! The database-header codec (`folio_pager::header`) against files written by stock sqlite3:
//! page sizes including 65536 (stored as 1), the in-header size, and one change-counter bump
//! per rollback-mode commit with version-valid-for kept equal
//! (<https://sqlite.org/fileformat2.html#the_database_header>).

use folio_pager::header::{file_version, DbHeader};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use std::path::Path;

fn header_of(db: &Path) -> DbHeader {
    let bytes = std::fs::read(db).unwrap();
    DbHeader::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", db.display()))
}

/// SQLITE_VERSION_NUMBER of the `sqlite3` CLI (X.Y.Z → X*1000000 + Y*1000 + Z).
fn cli_version_number(db: &Path) -> u32 {
    let out = run_sqlite3_cli(db, "SELECT sqlite_version();");
    let text = out.expect_ok().trim().to_string();
    let parts: Vec<u32> = text.split('.').map(|p| p.parse().unwrap()).collect();
    parts[0] * 1_000_000 + parts[1] * 1000 + parts[2]
}

#[test]
fn headers_written_by_sqlite3_decode() {
    for page_size in [512u32, 4096, 65536] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db");
        let sql = format!(
            "PRAGMA page_size={page_size}; CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(3000));"
        );
        run_sqlite3_cli(&db, &sql).expect_ok();
        let file_len = std::fs::metadata(&db).unwrap().len();
        let h = header_of(&db);
        assert_eq!(h.page_size, page_size);
        assert_eq!((h.write_version, h.read_version, h.reserved_bytes), (1, 1, 0));
        assert!(h.size_is_valid(), "{h:?}");
        assert_eq!(u64::from(h.db_size_pages) * u64::from(page_size), file_len);
        assert_eq!(h.size_in_pages(file_len), u64::from(h.db_size_pages));
        assert_eq!(h.sqlite_version, cli_version_number(&db));

        // One more rollback-mode commit: the counter moves by exactly one and valid-for follows.
        let before = std::fs::read(&db).unwrap();
        run_sqlite3_cli(&db, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);").expect_ok();
        let after = header_of(&db);
        // Two autocommit statements are two transactions.
        assert_eq!(after.change_counter, h.change_counter + 2);
        assert_eq!(after.version_valid_for, after.change_counter);
        assert_ne!(file_version(&before), file_version(&std::fs::read(&db).unwrap()));
    }
}

#[test]
fn a_wal_database_has_format_versions_two() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    run_sqlite3_cli(&db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);").expect_ok();
    let h = header_of(&db);
    assert!(h.is_wal());
    assert_eq!(h.write_version, 2);
}

#[test]
fn the_schema_layer_fields_decode_as_sqlite3_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    // Three tables (three schema changes), ten pages freed by a drop, and the pragmas that set
    // the other fields.
    run_sqlite3_cli(
        &db,
        "PRAGMA page_size=1024; PRAGMA user_version=7; PRAGMA application_id=305419896;
         PRAGMA encoding='UTF-16le'; PRAGMA default_cache_size=-500;
         CREATE TABLE a(x); CREATE TABLE b(x); CREATE TABLE c(x);
         INSERT INTO c VALUES (zeroblob(10000)); DROP TABLE c;",
    )
    .expect_ok();
    let h = header_of(&db);
    let pragma = |name: &str| -> u32 {
        let out = run_sqlite3_cli(&db, &format!("PRAGMA {name};"));
        out.expect_ok().trim().parse::<i64>().unwrap() as u32
    };
    assert_eq!((h.user_version, h.application_id), (7, 0x1234_5678));
    assert_eq!(h.text_encoding, 2, "UTF-16le");
    assert_eq!(h.schema_cookie, pragma("schema_version"));
    assert_eq!(h.freelist_pages, pragma("freelist_count"));
    assert!(h.freelist_pages >= 10 && h.freelist_trunk != 0, "{h:?}");
    assert_eq!(h.schema_format, 4);
    assert_eq!(h.default_cache_size, 500, "SQLite stores the size without its sign");
    assert_eq!((h.largest_root_page, h.incremental_vacuum), (0, 0));
    let h = {
        run_sqlite3_cli(&db, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;").expect_ok();
        header_of(&db)
    };
    assert_eq!(h.incremental_vacuum, 1);
    assert!(h.largest_root_page >= 3, "{h:?}");
    assert_eq!(h.freelist_pages, 0, "VACUUM emptied the freelist");
}
