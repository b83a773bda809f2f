//! What long-running SQLite applications rely on from a VFS, run through folio-sqlite-bridge on
//! Folio's OS VFS and, in the same test and the same steps, on SQLite's own unix VFS: the two
//! must agree.
//!
//! * Descriptors: a server that opens a connection per request beside a live connection keeps
//!   a flat descriptor count (closed handles' descriptors are parked while the process holds
//!   locks on the inode, and the next open takes them back, as `findReusableFd` does).
//! * Symbolic links: a WAL database reached through a link names its `-wal` and `-shm` after
//!   the file the link leads to; `SQLITE_OPEN_NOFOLLOW` refuses the link.
//! * A database renamed or deleted while open refuses writes (`SQLITE_READONLY_DBMOVED`) rather
//!   than leaving a journal under its old name.
//! * A journal, WAL and `-shm` get the database's permission bits whatever the umask, and its
//!   owner when the process runs as root.

use folio_tests::stock_sqlite::{extended_code, BridgedVfs};
use folio_vfs::os::OsVfs;
use rusqlite::{Connection, OpenFlags};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `SQLITE_CANTOPEN_SYMLINK`: SQLite refused an `SQLITE_OPEN_NOFOLLOW` name with a link.
const SQLITE_CANTOPEN_SYMLINK: i32 = 14 | (6 << 8);
/// `SQLITE_READONLY_DBMOVED`: the database file was moved while open.
const SQLITE_READONLY_DBMOVED: i32 = 8 | (4 << 8);
/// `SQLITE_OPEN_NOFOLLOW`.
const OPEN_NOFOLLOW: i32 = 0x0100_0000;

/// Which VFS SQLite runs on.
enum Side {
    /// Folio's OS VFS through the bridge.
    Folio(BridgedVfs),
    /// SQLite's own unix VFS.
    Unix,
}

impl Side {
    fn both() -> [Side; 2] {
        [Side::Folio(BridgedVfs::register("folio-apps", Arc::new(OsVfs::new()))), Side::Unix]
    }

    fn name(&self) -> &str {
        match self {
            Side::Folio(vfs) => vfs.name(),
            Side::Unix => "unix",
        }
    }

    fn open_with(&self, path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
        let path = path.to_str().expect("temporary paths are UTF-8");
        Connection::open_with_flags_and_vfs(path, flags, self.name())
    }

    fn open(&self, path: &Path) -> Connection {
        self.open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
            .unwrap_or_else(|e| panic!("{}: opening {}: {e}", self.name(), path.display()))
    }
}

/// `<db><suffix>`.
fn beside(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

/// How many of this process's descriptors are open on `path` (other tests' files do not
/// count, so tests running meanwhile cannot disturb it).
fn descriptors_on(path: &Path) -> usize {
    let path = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == path)
        .count()
}

fn count(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
}

/// Opens, reads and closes a second connection `cycles` times beside `live`, asserting that
/// the descriptors open on `db` stay within one of where they started.
fn cycle_connections(side: &Side, db: &Path, cycles: usize, rows: i64, what: &str) {
    let before = descriptors_on(db);
    for cycle in 0..cycles {
        let conn = side.open(db);
        assert_eq!(count(&conn), rows, "{what} on {}: cycle {cycle}", side.name());
        conn.close().map_err(|(_, e)| e).unwrap();
        if cycle % 500 == 0 || cycle + 1 == cycles {
            let now = descriptors_on(db);
            assert!(
                now <= before + 1,
                "{what} on {}: {now} descriptors on the database after {} open/close cycles \
                 (started with {before})",
                side.name(),
                cycle + 1
            );
        }
    }
}

#[test]
fn descriptors_stay_flat_over_10000_connections_beside_a_live_wal_connection() {
    for side in Side::both() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let live = side.open(&db);
        live.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        // An idle WAL connection keeps SHARED on the database for as long as it is open.
        assert_eq!(count(&live), 1);
        cycle_connections(&side, &db, 10_000, 1, "beside a live WAL connection");
        live.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(count(&live), 2);
    }
}

#[test]
fn descriptors_stay_flat_over_10000_connections_beside_a_rollback_reader() {
    for side in Side::both() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let setup = side.open(&db);
        setup.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").unwrap();
        drop(setup);
        let reader = side.open(&db);
        reader.execute_batch("BEGIN").unwrap();
        assert_eq!(count(&reader), 2, "the reader holds SHARED until COMMIT");
        cycle_connections(&side, &db, 10_000, 2, "beside a reader inside BEGIN");
        reader.execute_batch("COMMIT").unwrap();
        // With no lock left, the parked descriptors are closed.
        drop(reader);
        assert_eq!(descriptors_on(&db), 0, "{}", side.name());
    }
}

#[test]
fn a_wal_database_reached_through_a_symbolic_link_is_one_database_with_its_real_name() {
    let mut full_paths = Vec::new();
    for side in Side::both() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("data")).unwrap();
        let real = root.join("data/real.db");
        // A relative link in another directory.
        std::os::unix::fs::symlink("data/real.db", root.join("link.db")).unwrap();
        let link = root.join("link.db");
        let writer = side.open(&link);
        writer
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let reader = side.open(&real);
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(count(&reader), 2, "{}: the reader by the real name sees the log", side.name());
        assert!(beside(&real, "-wal").exists(), "{}: the log is named after the file", side.name());
        assert!(!beside(&link, "-wal").exists(), "{}: no log named after the link", side.name());
        assert!(!beside(&link, "-shm").exists(), "{}", side.name());
        let file: String = writer
            .query_row("SELECT file FROM pragma_database_list WHERE name='main'", [], |r| r.get(0))
            .unwrap();
        full_paths.push(file.replace(root.to_str().unwrap(), "<dir>"));
        // SQLITE_OPEN_NOFOLLOW refuses the link, and only the link.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::from_bits_retain(OPEN_NOFOLLOW);
        let refused = side.open_with(&link, flags).unwrap_err();
        assert_eq!(
            extended_code(&refused),
            Some(SQLITE_CANTOPEN_SYMLINK),
            "{}: {refused}",
            side.name()
        );
        let direct = side.open_with(&real, flags).unwrap();
        assert_eq!(count(&direct), 2);
    }
    assert_eq!(full_paths[0], full_paths[1], "Folio and SQLite resolve the link alike");
    assert_eq!(full_paths[0], "<dir>/data/real.db");
}

#[test]
fn a_database_renamed_or_deleted_while_open_refuses_writes() {
    for side in Side::both() {
        for deleted in [false, true] {
            let what = format!("{} ({})", side.name(), if deleted { "deleted" } else { "renamed" });
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("a.db");
            let conn = side.open(&db);
            conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
            if deleted {
                std::fs::remove_file(&db).unwrap();
            } else {
                std::fs::rename(&db, dir.path().join("b.db")).unwrap();
            }
            let err = conn.execute("INSERT INTO t VALUES (2)", []).unwrap_err();
            assert_eq!(extended_code(&err), Some(SQLITE_READONLY_DBMOVED), "{what}: {err}");
            assert!(!beside(&db, "-journal").exists(), "{what}: a journal under the old name");
            assert_eq!(count(&conn), 1, "{what}: reading goes on");
        }
    }
}

#[test]
fn journal_wal_and_shm_get_the_database_mode_and_owner() {
    let as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut seen = Vec::new();
    for side in Side::both() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shared.db");
        let conn = side.open(&db);
        conn.execute_batch("PRAGMA journal_mode=PERSIST; CREATE TABLE t(x);").unwrap();
        drop(conn);
        std::fs::remove_file(beside(&db, "-journal")).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
        if as_root {
            std::os::unix::fs::chown(&db, Some(4242), Some(4343)).unwrap();
        }
        let owner = std::fs::metadata(&db).map(|m| (m.uid(), m.gid())).unwrap();
        let conn = side.open(&db);
        conn.execute_batch("PRAGMA journal_mode=PERSIST; INSERT INTO t VALUES (1);").unwrap();
        let journal = std::fs::metadata(beside(&db, "-journal")).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; INSERT INTO t VALUES (2);").unwrap();
        let wal = std::fs::metadata(beside(&db, "-wal")).unwrap();
        let shm = std::fs::metadata(beside(&db, "-shm")).unwrap();
        for (name, meta) in [("-journal", &journal), ("-wal", &wal), ("-shm", &shm)] {
            assert_eq!(meta.mode() & 0o777, 0o666, "{}: {name}", side.name());
            assert_eq!((meta.uid(), meta.gid()), owner, "{}: {name} owner", side.name());
        }
        seen.push([journal.mode(), wal.mode(), shm.mode()]);
    }
    assert_eq!(seen[0], seen[1], "Folio and SQLite's unix VFS give the same modes");
}
