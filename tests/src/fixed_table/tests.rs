//! The fixed-table reader against databases written by stock SQLite (rusqlite, bundled), read
//! straight from the file's bytes.

use super::{read_value, scan_table, write_value, Row, ScanError};
use folio_vfs::sim::Rng;
use rusqlite::Connection;
use std::convert::Infallible;
use std::path::Path;

const BASE: i64 = 1 << 50;

/// Makes `t(id INTEGER PRIMARY KEY, v INTEGER)` at `db` with one row per id, `v` = `BASE` +
/// a spread of offsets (negative ones too), and returns its root page.
fn make_table(db: &Path, page_size: u32, ids: &[i64]) -> u32 {
    let conn = Connection::open(db).expect("open");
    conn.execute_batch(&format!(
        "PRAGMA page_size={page_size}; PRAGMA journal_mode=DELETE;
         CREATE TABLE pad(x); INSERT INTO pad VALUES (randomblob(3000));
         CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER);"
    ))
    .expect("schema");
    // One transaction: one sync for all the rows.
    let txn = conn.unchecked_transaction().expect("begin");
    let mut insert = txn.prepare("INSERT INTO t VALUES (?1, ?2)").expect("prepare");
    for (i, &id) in ids.iter().enumerate() {
        let i = i as i64;
        insert.execute((id, BASE + i * 7919 - 1_000_000)).expect("insert");
    }
    drop(insert);
    txn.commit().expect("commit");
    conn.query_row("SELECT rootpage FROM sqlite_schema WHERE name='t'", [], |r| r.get(0))
        .expect("rootpage")
}

fn expected_rows(db: &Path) -> (Vec<(i64, i64)>, i64) {
    let conn = Connection::open(db).expect("open");
    let mut stmt = conn.prepare("SELECT id, v FROM t ORDER BY id").expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<Vec<(i64, i64)>, _>>()
        .expect("rows");
    let sum = conn.query_row("SELECT sum(v) FROM t", [], |r| r.get(0)).expect("sum");
    (rows, sum)
}

fn pages_of<'a>(
    file: &'a [u8],
    page_size: usize,
) -> impl FnMut(u32) -> Result<&'a [u8], Infallible> + 'a {
    move |page_no| {
        let start = (page_no as usize - 1) * page_size;
        Ok(file.get(start..start + page_size).unwrap_or(&[]))
    }
}

#[test]
fn scan_finds_every_row_sqlite_wrote_at_its_value_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    for page_size in [512u32, 1024, 4096] {
        let db = dir.path().join(format!("t{page_size}.db"));
        // Rowids of every varint length around the boundaries, and enough rows for a
        // three-level tree at 512-byte pages.
        let mut ids: Vec<i64> = (1..=3000).collect();
        ids.extend([16383, 16384, 1 << 21, (1 << 28) + 5, (1 << 40) + 3, (1 << 56) + 1]);
        ids.extend([i64::MAX - 1, i64::MAX]);
        ids.sort_unstable();
        ids.dedup();
        let root = make_table(&db, page_size, &ids);
        let (want, want_sum) = expected_rows(&db);

        let file = std::fs::read(&db).expect("read db");
        let rows = scan_table(root, pages_of(&file, page_size as usize)).expect("scan");
        let got: Vec<(i64, i64)> = rows.iter().map(|r| (r.rowid, r.value)).collect();
        assert_eq!(got, want, "page size {page_size}");
        let sum: i64 = rows.iter().map(|r| r.value).sum();
        assert_eq!(sum, want_sum, "page size {page_size}");
        let leaves: std::collections::BTreeSet<u32> = rows.iter().map(|r| r.page_no).collect();
        assert!(leaves.len() > 3, "page size {page_size}: only {} leaves", leaves.len());
        for row in &rows {
            let start = (row.page_no as usize - 1) * page_size as usize;
            let page = &file[start..start + page_size as usize];
            assert_eq!(read_value(page, row.value_offset), Some(row.value));
        }
    }
}

#[test]
fn values_rewritten_in_place_are_what_sqlite_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let ids: Vec<i64> = (1..=600).collect();
    let root = make_table(&db, 1024, &ids);
    let (_, sum_before) = expected_rows(&db);

    let mut file = std::fs::read(&db).expect("read db");
    let rows = scan_table(root, pages_of(&file, 1024)).expect("scan");
    let (a, b): (Row, Row) = (rows[3], rows[590]);
    assert_ne!(a.page_no, b.page_no);
    for (row, delta) in [(a, -12345i64), (b, 12345)] {
        let start = (row.page_no as usize - 1) * 1024;
        write_value(&mut file[start..start + 1024], row.value_offset, row.value + delta)
            .expect("in the page");
    }
    std::fs::write(&db, &file).expect("write db");

    let (after, sum_after) = expected_rows(&db);
    assert_eq!(sum_after, sum_before);
    assert_eq!(after[3], (a.rowid, a.value - 12345));
    assert_eq!(after[590], (b.rowid, b.value + 12345));
    let conn = Connection::open(&db).expect("open");
    let check: String =
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(check, "ok");
}

#[test]
fn unexpected_bytes_are_errors_naming_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let ids: Vec<i64> = (1..=600).collect();
    let root = make_table(&db, 1024, &ids);
    let file = std::fs::read(&db).expect("read db");
    let page = |n: u32| file[(n as usize - 1) * 1024..n as usize * 1024].to_vec();

    // Not a table b-tree page.
    let mut bad = file.clone();
    bad[(root as usize - 1) * 1024] = 0x0a;
    match scan_table(root, pages_of(&bad, 1024)) {
        Err(ScanError::Corrupt { page_no, offset: 0, .. }) => assert_eq!(page_no, root),
        other => panic!("expected Corrupt at the root's type byte, got {other:?}"),
    }
    // A short page.
    let short = scan_table(root, |n| Ok::<_, Infallible>(page(n)[..50].to_vec()));
    assert!(matches!(short, Err(ScanError::Corrupt { .. })), "{short:?}");
    // A v that is not an 8-byte integer: the root of another table (a blob in `pad`).
    assert!(matches!(scan_table(2, pages_of(&file, 1024)), Err(ScanError::Corrupt { .. })));
    // A child pointing back at the root.
    let rows = scan_table(root, pages_of(&file, 1024)).expect("scan");
    let mut cyclic = file.clone();
    let right_at = (root as usize - 1) * 1024 + 8;
    cyclic[right_at..right_at + 4].copy_from_slice(&root.to_be_bytes());
    assert!(matches!(scan_table(root, pages_of(&cyclic, 1024)), Err(ScanError::Corrupt { .. })));
    // The source's own errors come back as such.
    let failing = scan_table(root, |n| if n == root { Ok(page(n)) } else { Err("gone") });
    assert!(matches!(failing, Err(ScanError::Page { error: "gone", .. })), "{failing:?}");

    // Random damage anywhere on the table's pages: an error or some rows, never a panic.
    let pages: std::collections::BTreeSet<u32> =
        rows.iter().map(|r| r.page_no).chain([root]).collect();
    let pages: Vec<u32> = pages.into_iter().collect();
    let mut rng = Rng::new(0x5eed_f1e1d);
    for _ in 0..2000 {
        let mut damaged = file.clone();
        let page_no = pages[rng.below(pages.len() as u64) as usize];
        for _ in 0..=rng.below(4) {
            let at = (page_no as usize - 1) * 1024 + rng.below(1024) as usize;
            damaged[at] = rng.next_u64() as u8;
        }
        let _ = scan_table(root, pages_of(&damaged, 1024));
    }
}
