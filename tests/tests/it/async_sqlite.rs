//! Stock SQLite (rusqlite, bundled) on folio-asyncio's `AsyncVfs` over Folio's OS VFS, through
//! folio-sqlite-bridge: the realistic workload (`stock_sqlite::workload`: indexes, overflow
//! rows, many transactions, a rollback, a savepoint) in DELETE, TRUNCATE, PERSIST and WAL
//! modes, checked in process (`PRAGMA integrity_check`, the rows against the model and against
//! the same workload run on the plain OS VFS), then, after the queue is flushed and the writer
//! joined, by the stock `sqlite3` shell in another process on the file the writer left.
//!
//! **WAL over the async VFS.** `AsyncVfs` does not pass shared memory through (its `shm_map`
//! reports `Unsupported`, as SQLite's own async module had io_methods version 1): a wal-index
//! in a mapped `-shm` could run ahead of WAL frames still in the queue. So WAL runs as
//! SQLite's async module required: `PRAGMA locking_mode=EXCLUSIVE` *before* switching to WAL,
//! which makes SQLite keep the wal-index in heap memory and never call `xShmMap`. No `-shm`
//! file is ever created. The suite also shows what happens without it: SQLite's first use of
//! the WAL fails loudly with `SQLITE_IOERR_SHMMAP`, and the database is left intact.
//!
//! Beside that: the whole workload runs with the writer halted (every read SQLite makes is
//! served by the queue's read-through, the disk has nothing yet) and then drains to a file the
//! shell accepts; and a small bound with a slow writer makes SQLite's commits wait rather than
//! grow the queue.

use folio_asyncio::{AsyncVfs, HaltMode, Options};
use folio_sqlite_bridge::last_error;
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_tests::stock_sqlite::workload::{self, Shop, SUMMARY_SQL};
use folio_tests::stock_sqlite::{
    assert_mode_signature, extended_code, integrity_check, BridgedVfs, JournalMode,
};
use folio_vfs::os::OsVfs;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const SEED: u64 = 0x5eed_a51c;
const N_TXNS: usize = 30;
/// `SQLITE_IOERR_SHMMAP` (sqlite.h: `SQLITE_IOERR | (21 << 8)`).
const SQLITE_IOERR_SHMMAP: i32 = 10 | (21 << 8);

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Puts `conn` in `mode`. On the async VFS, WAL needs exclusive locking mode first (no shared
/// memory); `exclusive_for_wal` says whether to set it.
fn set_mode(conn: &Connection, mode: JournalMode, exclusive_for_wal: bool) {
    if mode == JournalMode::Wal && exclusive_for_wal {
        let answer: String = conn
            .query_row("PRAGMA locking_mode=EXCLUSIVE", [], |r| r.get(0))
            .expect("locking_mode=EXCLUSIVE");
        assert_eq!(answer, "exclusive");
    }
    mode.set(conn).unwrap_or_else(|e| panic!("journal_mode={}: {e}", mode.pragma()));
}

/// Creates the schema, runs the workload with `seed`, and checks it in process; returns the
/// model.
fn run_workload(conn: &mut Connection, mode: JournalMode, seed: u64, what: &str) -> Shop {
    workload::create_schema(conn).expect("schema");
    let model = workload::run(conn, seed, N_TXNS)
        .unwrap_or_else(|e| panic!("{what}: workload (seed {seed:#x}): {e}"));
    assert!(model.n_overflowing() > 10, "the workload made too few overflow rows: {model:?}");
    check_in_process(conn, &model, &format!("{what}, {mode:?}"));
    model
}

fn check_in_process(conn: &Connection, model: &Shop, what: &str) {
    assert_eq!(integrity_check(conn).unwrap(), "ok", "{what}");
    let read = workload::read(conn).expect("read back");
    assert!(read == *model, "{what}: read back {read:?}, the model says {model:?}");
}

/// The shell's output for integrity and the summary of the database at `db`; asserts it is
/// `ok` and the model's summary.
fn check_with_stock_sqlite3(db: &Path, model: &Shop, what: &str) -> String {
    let out = run_sqlite3_cli(db, &format!("PRAGMA integrity_check;\n{SUMMARY_SQL}"));
    let stdout = out.expect_ok().to_string();
    let expected = format!("ok\n{}\n", model.summary());
    assert!(
        stdout == expected,
        "{what}: stock sqlite3 says\n{stdout}\nbut the model says\n{expected}"
    );
    stdout
}

/// The workload on the plain OS VFS (normal locking mode): the reference the async runs must
/// match. Returns what the database holds, read back, and the shell's verdict.
fn reference_run(mode: JournalMode, seed: u64) -> (Shop, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let vfs = BridgedVfs::register("folio-os", Arc::new(OsVfs::new()));
    let mut conn = vfs.open(path_str(&db)).unwrap();
    set_mode(&conn, mode, false);
    let model = run_workload(&mut conn, mode, seed, "plain OS VFS");
    let rows = workload::read(&conn).unwrap();
    conn.close().map_err(|(_, e)| e).expect("close");
    drop(vfs);
    let cli = check_with_stock_sqlite3(&db, &model, &format!("plain OS VFS, {mode:?}"));
    (rows, cli)
}

#[test]
fn stock_sqlite_runs_the_workload_on_the_async_vfs_in_every_mode_and_stock_sqlite3_agrees() {
    let seed = folio_vfs::seed::from_env_or(SEED);
    eprintln!("workload seed {seed:#x} (replay with FOLIO_SEED={seed:#x})");
    for mode in JournalMode::ALL {
        let (reference_rows, reference_cli) = reference_run(mode, seed);

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        let async_vfs = Arc::new(AsyncVfs::new(Arc::new(OsVfs::new()), Options::default()));
        let vfs = BridgedVfs::register("folio-async", async_vfs.clone());
        let mut conn = vfs.open(path_str(&db)).unwrap();
        set_mode(&conn, mode, true);
        let what = format!("async VFS, {mode:?} (seed {seed:#x})");
        let model = run_workload(&mut conn, mode, seed, &what);
        let rows = workload::read(&conn).unwrap();
        assert!(rows == reference_rows, "{what}: {rows:?}, the OS VFS holds {reference_rows:?}");
        conn.close().map_err(|(_, e)| e).expect("close");
        assert_eq!(vfs.open_files(), 0, "{what}: files left open after close");
        drop(vfs);

        async_vfs.flush().unwrap_or_else(|e| panic!("{what}: flush: {e}"));
        let stats = async_vfs.stats();
        async_vfs.shutdown();
        eprintln!(
            "{what}: {} requests ({} merged), {} performed in {} batches, peak {} ops / {} \
             bytes queued",
            stats.n_requested,
            stats.n_merged,
            stats.n_performed,
            stats.n_batches,
            stats.peak_ops,
            stats.peak_bytes
        );
        assert!(stats.n_performed > 100, "{what}: the queue did little: {stats:?}");
        assert_eq!(stats.queued_ops, 0, "{what}: flushed, yet {stats:?}");
        assert_eq!(
            stats.durable_seq, stats.queued_seq,
            "{what}: every operation of a closed, flushed database is durable: {stats:?}"
        );
        assert_eq!(stats.n_dropped, 0, "{what}: {stats:?}");

        assert_mode_signature(dir.path(), "shop.db", mode);
        let cli = check_with_stock_sqlite3(&db, &model, &what);
        assert_eq!(cli, reference_cli, "{what}: the shell sees something else than on the OS VFS");
    }
}

#[test]
fn with_the_writer_halted_sqlite_runs_on_the_queue_alone_and_the_drained_file_is_sound() {
    let seed = folio_vfs::seed::from_env_or(SEED ^ 0x4a17);
    eprintln!("workload seed {seed:#x} (replay with FOLIO_SEED={seed:#x})");
    for mode in [JournalMode::Delete, JournalMode::Wal] {
        let what = format!("halted async VFS, {mode:?} (seed {seed:#x})");
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        // Room for the whole workload: a halted writer makes a full queue fail, not wait.
        let options =
            Options { max_queued_bytes: 1 << 30, max_queued_ops: 1 << 20, ..Options::default() };
        let async_vfs = Arc::new(AsyncVfs::new(Arc::new(OsVfs::new()), options));
        async_vfs.set_halt(HaltMode::Now);
        let vfs = BridgedVfs::register("folio-async-halted", async_vfs.clone());
        let mut conn = vfs.open(path_str(&db)).unwrap();
        set_mode(&conn, mode, true);
        let model = run_workload(&mut conn, mode, seed, &what);

        // Everything SQLite read back (b-tree pages, the journal's or WAL's own bytes) came
        // from the queue: the writer has not performed a single operation.
        let stats = async_vfs.stats();
        assert_eq!(stats.n_performed, 0, "{what}: the halted writer worked: {stats:?}");
        assert!(stats.queued_bytes > 500_000, "{what}: little was queued: {stats:?}");
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "{what}: the disk has data");
        eprintln!(
            "{what}: {} operations, {} bytes queued and read through",
            stats.queued_ops, stats.queued_bytes
        );

        conn.close().map_err(|(_, e)| e).expect("close");
        drop(vfs);
        async_vfs.set_halt(HaltMode::Never);
        async_vfs.flush().unwrap_or_else(|e| panic!("{what}: flush: {e}"));
        async_vfs.shutdown();
        assert_mode_signature(dir.path(), "shop.db", mode);
        check_with_stock_sqlite3(&db, &model, &what);
    }
}

#[test]
fn wal_without_exclusive_locking_fails_loudly_on_the_async_vfs_and_harms_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let async_vfs = Arc::new(AsyncVfs::new(Arc::new(OsVfs::new()), Options::default()));
    let vfs = BridgedVfs::register("folio-async-shm", async_vfs.clone());
    let conn = vfs.open(path_str(&db)).unwrap();
    conn.execute_batch(
        "CREATE TABLE t(x);
         INSERT INTO t VALUES (1), (2), (3);",
    )
    .unwrap();
    // SQLite believes WAL is possible (the bridge's io_methods have xShmMap), so the switch
    // itself goes through and rewrites the header; the first use of the wal-index then asks for
    // shared memory, which the async VFS refuses.
    let switched =
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).and_then(|_| {
            conn.execute("INSERT INTO t VALUES (4)", [])?;
            conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        });
    let err = switched.expect_err("WAL in normal locking mode on a VFS without shared memory");
    assert_eq!(extended_code(&err), Some(SQLITE_IOERR_SHMMAP), "{err}");
    let last = last_error().expect("the bridge recorded the refusal");
    assert!(last.message.contains("no shared memory"), "{last:?}");
    drop(conn);
    // The closed connection's unlock waits in the queue behind its operations (the module's
    // deferred unlock): until the writer gets there, the parent file is still locked and a new
    // connection, with no busy timeout, would get SQLITE_BUSY.
    async_vfs.flush().expect("flush");

    // The same database, reopened as the module requires, holds the rows committed before.
    let conn = vfs.open(path_str(&db)).unwrap();
    set_mode(&conn, JournalMode::Wal, true);
    let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 3);
    conn.execute("INSERT INTO t VALUES (4)", []).unwrap();
    assert_eq!(integrity_check(&conn).unwrap(), "ok");
    conn.close().map_err(|(_, e)| e).expect("close");
    drop(vfs);
    async_vfs.flush().unwrap();
    async_vfs.shutdown();
    let out = run_sqlite3_cli(&db, "PRAGMA integrity_check;\nSELECT group_concat(x) FROM t;");
    assert_eq!(out.expect_ok(), "ok\n1,2,3,4\n");
}

#[test]
fn a_small_bound_makes_sqlite_wait_for_a_slow_writer_instead_of_queueing_more() {
    let seed = folio_vfs::seed::from_env_or(SEED ^ 0xb0d);
    eprintln!("workload seed {seed:#x} (replay with FOLIO_SEED={seed:#x})");
    let what = format!("bounded async VFS (seed {seed:#x})");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let options = Options { max_queued_bytes: 64 << 10, max_queued_ops: 24, ..Options::default() };
    let async_vfs = Arc::new(AsyncVfs::new(Arc::new(OsVfs::new()), options.clone()));
    async_vfs.set_delay(Duration::from_micros(200));
    let vfs = BridgedVfs::register("folio-async-bounded", async_vfs.clone());
    let mut conn = vfs.open(path_str(&db)).unwrap();
    set_mode(&conn, JournalMode::Delete, true);
    let model = run_workload(&mut conn, JournalMode::Delete, seed, &what);
    conn.close().map_err(|(_, e)| e).expect("close");
    drop(vfs);
    async_vfs.flush().unwrap();
    let stats = async_vfs.stats();
    async_vfs.shutdown();
    eprintln!(
        "{what}: peak {} ops / {} bytes queued (caps {} / {}), {} waits",
        stats.peak_ops,
        stats.peak_bytes,
        options.max_queued_ops,
        options.max_queued_bytes,
        stats.n_waits
    );
    assert!(stats.peak_ops <= options.max_queued_ops, "{what}: {stats:?}");
    // SQLite writes a page (4 KiB here) at a time, far below the byte cap.
    assert!(stats.peak_bytes <= options.max_queued_bytes, "{what}: {stats:?}");
    assert!(stats.n_waits > 0, "{what}: SQLite never had to wait: {stats:?}");
    check_with_stock_sqlite3(&db, &model, &what);
}
