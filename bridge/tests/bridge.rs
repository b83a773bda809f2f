//! The bridge through its public API and rusqlite, as an application uses it: registration
//! rules (unique names, refusing to unregister under a live connection, handing the VFS back),
//! registrations from many threads at once, stock SQLite on each Folio VFS (rollback and WAL
//! with two live connections sharing the bridged wal-index), and SQLite's view of errors.
//!
//! The cross-crate checks (the stock sqlite3 shell, crash sweeps on the simulated disk) live in
//! folio-tests (`bridge_interop`, `bridge_crash`).

use folio_sqlite_bridge::{
    is_registered, last_error, open_files, register, unregister, Error, Registration,
};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::sim::{FaultKind, FaultOp, FaultRule, SimConfig, SimVfs};
use folio_vfs::Vfs;
use rusqlite::{Connection, OpenFlags};
use std::sync::Arc;

fn open(name: &str, path: &str) -> Connection {
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        name,
    )
    .unwrap_or_else(|e| panic!("opening {path} on VFS {name}: {e}"));
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    conn
}

fn extended_code(error: &rusqlite::Error) -> Option<i32> {
    match error {
        rusqlite::Error::SqliteFailure(e, _) => Some(e.extended_code),
        _ => None,
    }
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

#[test]
fn names_are_unique_checked_and_unregistering_waits_for_the_connections() {
    let vfs: Arc<dyn Vfs> = Arc::new(MemoryVfs::new());
    let name = format!("bridge-test-rules-{}", std::process::id());
    register(&name, Arc::clone(&vfs), false).unwrap();
    assert!(is_registered(&name));
    assert!(matches!(
        register(&name, Arc::new(MemoryVfs::new()), false),
        Err(Error::NameTaken { .. })
    ));
    // SQLite's own VFS names are taken too.
    assert!(matches!(
        register("unix", Arc::new(MemoryVfs::new()), false),
        Err(Error::NameTaken { .. })
    ));
    assert!(matches!(
        register("", Arc::new(MemoryVfs::new()), false),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        register("a\0b", Arc::new(MemoryVfs::new()), false),
        Err(Error::InvalidName { .. })
    ));

    let conn = open(&name, "/rules.db");
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    assert_eq!(open_files(&name), Some(1));
    match unregister(&name) {
        Err(Error::InUse { open_files: 1, .. }) => {}
        Err(e) => panic!("unregistering under a live connection: {e}"),
        Ok(_) => panic!("unregistered a VFS a live connection uses"),
    }
    assert!(is_registered(&name), "a refused unregister leaves the registration in place");
    drop(conn);
    let back = unregister(&name).unwrap();
    assert!(Arc::ptr_eq(&back, &vfs), "unregister hands back the VFS it was given");
    assert!(!is_registered(&name));
    assert!(matches!(unregister(&name), Err(Error::NotRegistered { .. })));
    let err = Connection::open_with_flags_and_vfs("/rules.db", OpenFlags::default(), name.as_str())
        .expect_err("opening on an unregistered VFS");
    assert!(err.to_string().contains("no such vfs"), "{err}");

    // The data outlived the registration (it lives in the memory VFS), and a new
    // registration of the same VFS under the same name finds it.
    register(&name, back, false).unwrap();
    let conn = open(&name, "/rules.db");
    assert_eq!(count(&conn, "t"), 1);
    drop(conn);
    unregister(&name).unwrap();
}

#[test]
fn dropping_a_registration_before_its_connection_panics_loudly() {
    let registration =
        Registration::unique("bridge-test-order", Arc::new(MemoryVfs::new())).unwrap();
    let conn = open(registration.name(), "/order.db");
    conn.execute_batch("CREATE TABLE t(x)").unwrap();
    let name = registration.name().to_string();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(registration)))
        .expect_err("the drop must refuse");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("still open"), "{message}");
    // The connection still works: its VFS was kept.
    conn.execute_batch("INSERT INTO t VALUES (1)").unwrap();
    drop(conn);
    unregister(&name).unwrap();
}

#[test]
fn many_threads_register_and_use_their_own_vfs_at_once() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                for round in 0..5 {
                    let reg =
                        Registration::unique("bridge-test-thread", Arc::new(MemoryVfs::new()))
                            .unwrap();
                    let conn = open(reg.name(), "/thread.db");
                    conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x);").unwrap();
                    for j in 0..20 {
                        conn.execute("INSERT INTO t VALUES (?1)", [i * 1000 + round * 100 + j])
                            .unwrap();
                    }
                    assert_eq!(count(&conn, "t"), 20);
                    drop(conn);
                    drop(reg);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a thread failed");
    }
}

#[test]
fn wal_with_normal_locking_shares_the_wal_index_between_connections() {
    // Two connections of one process on the memory VFS: the writer's commits are found by the
    // reader through the bridged shared memory, and a reader's snapshot holds until it ends.
    let reg = Registration::unique("bridge-test-wal", Arc::new(MemoryVfs::new())).unwrap();
    let writer = open(reg.name(), "/wal.db");
    let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let locking: String = writer.query_row("PRAGMA locking_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(locking, "normal");
    writer.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();

    let reader = open(reg.name(), "/wal.db");
    assert_eq!(count(&reader, "t"), 1);
    reader.execute_batch("BEGIN").unwrap();
    assert_eq!(count(&reader, "t"), 1, "the snapshot starts here");
    writer.execute_batch("INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);").unwrap();
    assert_eq!(count(&reader, "t"), 1, "a read transaction keeps its snapshot");
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&reader, "t"), 3, "a new read transaction sees the commits");

    // A checkpoint cannot pass a reader's snapshot; a second writer is refused at once.
    reader.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
    writer.execute_batch("INSERT INTO t VALUES (4)").unwrap();
    let (busy, log, done): (i64, i64, i64) = writer
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert_eq!(busy, 0);
    assert!(done < log, "the checkpoint copied frames past the reader's snapshot: {done}/{log}");
    reader.execute_batch("COMMIT").unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = reader.execute_batch("BEGIN IMMEDIATE").expect_err("two writers");
    assert_eq!(extended_code(&err), Some(5), "SQLITE_BUSY: {err}");
    writer.execute_batch("COMMIT").unwrap();
    let (busy, log, done): (i64, i64, i64) = writer
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert_eq!((busy, log, done), (0, 0, 0), "a full checkpoint with no reader left");
    let integrity: String = reader.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(count(&reader, "t"), 4);
}

#[test]
fn rollback_journal_modes_work_on_the_simulated_disk() {
    for mode in ["delete", "truncate", "persist", "memory", "off"] {
        let sim = SimVfs::new(SimConfig::new(0x51a));
        let reg = Registration::unique("bridge-test-sim", Arc::new(sim.clone())).unwrap();
        let conn = open(reg.name(), "/sim/modes.db");
        let got: String =
            conn.query_row(&format!("PRAGMA journal_mode={mode}"), [], |r| r.get(0)).unwrap();
        assert_eq!(got, mode);
        conn.execute_batch(
            "CREATE TABLE t(x PRIMARY KEY, y);
             INSERT INTO t SELECT value, randomblob(3000) FROM
                 (WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n
                  WHERE value < 50) SELECT value FROM n);
             BEGIN; DELETE FROM t WHERE x % 2 = 0; ROLLBACK;",
        )
        .unwrap();
        assert_eq!(count(&conn, "t"), 50, "{mode}: the rollback restored the rows");
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok", "{mode}");
        let journal_exists = sim.file_names().iter().any(|p| p.ends_with("modes.db-journal"));
        let expected = matches!(mode, "truncate" | "persist");
        assert_eq!(journal_exists, expected, "{mode}: journal left behind: {:?}", sim.file_names());
        assert!(sim.op_count(FaultOp::Sync) > 0 || mode == "off", "{mode}: SQLite never synced");
    }
}

#[test]
fn sqlite_sees_the_bridges_error_codes_and_the_message_says_where() {
    let sim = SimVfs::new(SimConfig::new(0xe220));
    let reg = Registration::unique("bridge-test-errors", Arc::new(sim.clone())).unwrap();
    let conn = open(reg.name(), "/sim/errors.db");
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (zeroblob(5000));").unwrap();

    sim.add_fault(FaultRule::once(FaultOp::Write, 1, FaultKind::Io));
    let err = conn.execute("INSERT INTO t VALUES (zeroblob(5000))", []).expect_err("EIO");
    assert_eq!(extended_code(&err), Some(778), "SQLITE_IOERR_WRITE: {err}");
    let last = last_error().expect("recorded on this thread");
    assert_eq!(last.errno, Some(5));
    assert!(last.message.contains("/sim/errors.db"), "{last:?}");

    sim.add_fault(FaultRule::once(FaultOp::Write, 1, FaultKind::DiskFull));
    let err = conn.execute("INSERT INTO t VALUES (zeroblob(5000))", []).expect_err("ENOSPC");
    assert_eq!(extended_code(&err), Some(13), "SQLITE_FULL: {err}");

    // A fresh connection (its page cache empty), then a failing read.
    drop(conn);
    let conn = open(reg.name(), "/sim/errors.db");
    sim.add_fault(FaultRule::once(FaultOp::Read, 1, FaultKind::Io));
    let err =
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).expect_err("EIO");
    assert_eq!(extended_code(&err), Some(266), "SQLITE_IOERR_READ: {err}");
    assert_eq!(count(&conn, "t"), 1, "nothing the failed statements wrote is visible");
}

/// The in-process oracle is the SQLite users run today: at least 3.51.3, the release that fixed
/// the WAL-reset race (a checkpoint run right after a complete one could miss that another
/// connection had just restarted the log, and mark unbackfilled frames as copied;
/// <https://sqlite.org/releaselog/3_51_3.html>). A rusqlite downgrade that bundles an older
/// SQLite fails here, not somewhere deep in an interop test.
#[test]
fn the_bundled_sqlite_oracle_has_the_wal_reset_fix() {
    let conn = Connection::open_in_memory().unwrap();
    let reported: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0)).unwrap();
    assert_eq!(reported, rusqlite::version(), "one SQLite is linked");
    assert!(
        rusqlite::version_number() >= 3_051_003,
        "the bundled SQLite is {reported}; the oracle must be 3.51.3 or newer"
    );
}
