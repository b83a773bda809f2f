//! Stock SQLite (rusqlite, bundled) on Folio's VFSes through folio-sqlite-bridge, checked by
//! SQLite itself and by the stock `sqlite3` shell in another process:
//!
//! * the realistic workload (`stock_sqlite::workload`: indexes, overflow rows, many
//!   transactions, a rollback, a savepoint) on the OS VFS in DELETE, TRUNCATE, PERSIST and WAL
//!   (normal locking, shared memory bridged) modes, on the memory VFS in each mode, and with
//!   `PRAGMA mmap_size` on so SQLite reads through `xFetch`;
//! * a live WAL database shared with a stock sqlite3 process through the `-shm` file, both ways.
//!
//! Every run reads the rows back and compares them with the workload's model, runs
//! `PRAGMA integrity_check` in process, then has the shell run it and print the summary line.

use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_tests::stock_sqlite::counting::CountingVfs;
use folio_tests::stock_sqlite::workload::{self, Shop, SUMMARY_SQL};
use folio_tests::stock_sqlite::{assert_mode_signature, integrity_check, BridgedVfs, JournalMode};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::os::OsVfs;
use folio_vfs::{FileKind, OpenFlags, ReadOutcome, Vfs};
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;

const SEED: u64 = 0x5eed_b41d;
const N_TXNS: usize = 30;

/// Runs the workload on a fresh database at `path` in `mode` and checks it in process.
fn run_workload(conn: &mut Connection, mode: JournalMode, seed: u64) -> Shop {
    mode.set(conn).unwrap_or_else(|e| panic!("journal_mode={}: {e}", mode.pragma()));
    workload::create_schema(conn).expect("schema");
    let model = workload::run(conn, seed, N_TXNS)
        .unwrap_or_else(|e| panic!("workload in {mode:?} mode (seed {seed:#x}): {e}"));
    assert!(model.n_overflowing() > 10, "the workload made too few overflow rows: {model:?}");
    check_in_process(conn, &model, mode);
    model
}

fn check_in_process(conn: &Connection, model: &Shop, mode: JournalMode) {
    assert_eq!(integrity_check(conn).unwrap(), "ok", "{mode:?}");
    let read = workload::read(conn).expect("read back");
    assert!(read == *model, "{mode:?}: read back {read:?}, the model says {model:?}");
}

/// The shell's verdict on the database at `db`: integrity ok and the model's summary.
fn check_with_stock_sqlite3(db: &Path, model: &Shop, what: &str) {
    let out = run_sqlite3_cli(db, &format!("PRAGMA integrity_check;\n{SUMMARY_SQL}"));
    let stdout = out.expect_ok();
    let expected = format!("ok\n{}\n", model.summary());
    assert!(
        stdout == expected,
        "{what}: stock sqlite3 says\n{stdout}\nbut the model says\n{expected}"
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn the_os_vfs_runs_the_workload_in_every_journal_mode_and_stock_sqlite3_agrees() {
    for mode in JournalMode::ALL {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        let vfs = BridgedVfs::register("folio-os", Arc::new(OsVfs::new()));
        let mut conn = vfs.open(path_str(&db)).unwrap();
        let model = run_workload(&mut conn, mode, SEED);
        conn.close().map_err(|(_, e)| e).expect("close");
        assert_eq!(vfs.open_files(), 0, "{mode:?}: files left open after close");
        drop(vfs);

        // What SQLite left beside the database is the mode's signature.
        assert_mode_signature(dir.path(), "shop.db", mode);
        check_with_stock_sqlite3(&db, &model, &format!("OS VFS, {mode:?}"));
    }
}

#[test]
fn the_memory_vfs_runs_the_workload_in_every_journal_mode() {
    for mode in JournalMode::ALL {
        let memory = MemoryVfs::new();
        let vfs = BridgedVfs::register("folio-memory", Arc::new(memory.clone()));
        let mut conn = vfs.open("/mem/shop.db").unwrap();
        let model = run_workload(&mut conn, mode, SEED ^ 1);
        // A second connection sees the same committed data (in WAL mode through the shared
        // wal-index while the first is still open).
        let second = vfs.open("/mem/shop.db").unwrap();
        check_in_process(&second, &model, mode);
        drop(second);
        conn.close().map_err(|(_, e)| e).expect("close");
        drop(vfs);

        // The database file, copied out of memory, is one stock sqlite3 reads.
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        let file = memory
            .open(Some(Path::new("/mem/shop.db")), OpenFlags::read_only(FileKind::MainDb))
            .unwrap();
        let mut bytes = vec![0; file.size().unwrap() as usize];
        assert_eq!(file.read_at(0, &mut bytes).unwrap(), ReadOutcome::Full);
        std::fs::write(&db, &bytes).unwrap();
        check_with_stock_sqlite3(&db, &model, &format!("memory VFS, {mode:?}"));
    }
}

#[test]
fn with_mmap_on_sqlite_reads_pages_through_xfetch_and_returns_them_all() {
    for mode in [JournalMode::Delete, JournalMode::Wal] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        let counting = CountingVfs::new(Arc::new(OsVfs::new()));
        let counts = counting.counts();
        let vfs = BridgedVfs::register("folio-counting", Arc::new(counting));
        let mut conn = vfs.open(path_str(&db)).unwrap();
        let mmap_size: i64 =
            conn.query_row("PRAGMA mmap_size=268435456", [], |r| r.get(0)).expect("mmap_size");
        assert_eq!(mmap_size, 268_435_456, "SQLite reports the cap the bridge set");
        let model = run_workload(&mut conn, mode, SEED ^ 2);
        if mode == JournalMode::Wal {
            // SQLite maps only pages that are not in the WAL: move them to the database.
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .expect("checkpoint");
            assert_eq!(busy, 0, "the checkpoint was blocked");
        }
        // Reading everything again in a read transaction: pages come from the map.
        let before = counts.fetched();
        check_in_process(&conn, &model, mode);
        assert!(
            counts.fetched() > before,
            "{mode:?}: no page was fetched while reading {} customers",
            model.customers.len()
        );
        conn.close().map_err(|(_, e)| e).expect("close");
        assert_eq!(counts.outstanding(), 0, "{mode:?}: pages never given back through xUnfetch");
        eprintln!("mmap, {mode:?}: {} pages fetched", counts.fetched());
        drop(vfs);
        check_with_stock_sqlite3(&db, &model, &format!("OS VFS with mmap, {mode:?}"));
    }
}

#[test]
fn a_live_wal_database_is_shared_with_a_stock_sqlite3_process_through_the_shm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let vfs = BridgedVfs::register("folio-os", Arc::new(OsVfs::new()));
    let mut conn = vfs.open(path_str(&db)).unwrap();
    // Keep every commit in the WAL: the other process must find it through the wal-index.
    conn.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
    let model = run_workload(&mut conn, JournalMode::Wal, SEED ^ 3);
    let wal_len = std::fs::metadata(dir.path().join("shop.db-wal")).unwrap().len();
    assert!(wal_len > 100_000, "the WAL holds the workload ({wal_len} bytes)");
    assert!(dir.path().join("shop.db-shm").exists(), "the -shm is Folio's, mapped for SQLite");

    // Stock sqlite3 reads our uncheckpointed commits, then commits one of its own...
    check_with_stock_sqlite3(&db, &model, "stock sqlite3 beside a live bridged connection");
    let out = run_sqlite3_cli(
        &db,
        "INSERT INTO customers(id, name, email) VALUES (100000, 'from sqlite3', 'cli@example.com');",
    );
    out.expect_ok();
    // ...which the bridged connection sees through the same wal-index.
    let name: String = conn
        .query_row("SELECT name FROM customers WHERE id = 100000", [], |r| r.get(0))
        .expect("the row stock sqlite3 committed");
    assert_eq!(name, "from sqlite3");
    assert_eq!(integrity_check(&conn).unwrap(), "ok");

    let mut with_cli_row = model.clone();
    with_cli_row.customers.insert(
        100_000,
        workload::Customer {
            name: "from sqlite3".into(),
            email: "cli@example.com".into(),
            notes: Vec::new(),
        },
    );
    check_in_process(&conn, &with_cli_row, JournalMode::Wal);
    conn.close().map_err(|(_, e)| e).expect("close");
    drop(vfs);
    check_with_stock_sqlite3(&db, &with_cli_row, "after the bridged connection closed");
}
