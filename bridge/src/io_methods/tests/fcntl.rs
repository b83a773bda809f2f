//! The file controls SQLite's unix VFS answers (`unixFileControl`), asked of the OS VFS through
//! the bridge and of SQLite's own "unix" VFS in the same process, with the same steps: both must
//! give the same answers and leave files of the same sizes. Steps SQLite drives go through
//! rusqlite and `sqlite3_file_control`; the rest call the io methods as SQLite does.

use super::{open_with, Raw, CREATE_DB};
use crate::Registration;
use folio_vfs::os::OsVfs;
use folio_vfs::sim::{FaultKind, FaultOp, FaultRule, SimConfig, SimVfs};
use folio_vfs::sync::Arc;
use libsqlite3_sys as ffi;
use rusqlite::Connection;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::ptr;

/// SQLite's own unix VFS.
fn unix_vfs() -> *mut ffi::sqlite3_vfs {
    // SAFETY: a NUL-terminated name; the registration below (or any earlier one) initialised
    // SQLite, and the unix VFS is built in.
    let vfs = unsafe { ffi::sqlite3_vfs_find(c"unix".as_ptr()) };
    assert!(!vfs.is_null(), "SQLite has no \"unix\" VFS");
    vfs
}

/// Runs `steps` once on SQLite's "unix" VFS and once on the OS VFS through the bridge, each in a
/// fresh directory, and checks that both give the same result; returns it.
fn same_on_unix_and_folio<T: PartialEq + std::fmt::Debug>(
    what: &str,
    steps: impl Fn(&str, &Path) -> T,
) -> T {
    let folio = Registration::unique("fcntl-os", Arc::new(OsVfs::new())).expect("register");
    let dir = tempfile::tempdir().unwrap();
    let theirs = steps("unix", dir.path());
    let dir = tempfile::tempdir().unwrap();
    let ours = steps(folio.name(), dir.path());
    assert_eq!(ours, theirs, "{what}: the OS VFS (left) and SQLite's unix VFS (right) differ");
    ours
}

fn open(vfs: &str, path: &Path) -> Connection {
    Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), vfs)
        .unwrap_or_else(|e| panic!("open {path:?} with vfs {vfs}: {e}"))
}

/// `sqlite3_file_control(db, "main", op, arg)`: its return code.
fn file_control<T>(conn: &Connection, op: c_int, arg: &mut T) -> c_int {
    // SAFETY: a live connection's handle, a NUL-terminated schema name, and an argument of the
    // type each caller's `op` takes, valid for the call.
    unsafe {
        ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), op, ptr::from_mut(arg).cast())
    }
}

/// A flag control (`int *`) asked with -1: the code and the flag.
fn ask_flag(conn: &Connection, op: c_int) -> (c_int, c_int) {
    let mut value: c_int = -1;
    (file_control(conn, op, &mut value), value)
}

fn set_flag(conn: &Connection, op: c_int, on: bool, vfs: &str) {
    let mut value = c_int::from(on);
    assert_eq!(file_control(conn, op, &mut value), ffi::SQLITE_OK, "{vfs}: set op {op} to {on}");
}

fn pragma(conn: &Connection, sql: &str) -> String {
    conn.query_row(sql, [], |row| row.get::<_, rusqlite::types::Value>(0))
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `n` rows of 500 bytes each, named by their number, in one transaction.
fn insert_rows(conn: &Connection, n: u32) {
    conn.execute(
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1) \
         INSERT INTO t SELECT printf('%0500d', i) FROM c",
        [n],
    )
    .expect("insert rows");
}

fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {path:?}: {e}")).len()
}

/// Every file in `dir` with its size, by name.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name().to_string_lossy().into_owned(), entry.metadata().unwrap().len())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn persist_wal_keeps_the_wal_and_shm_at_the_last_close_as_unix_does() {
    for limit in [-1i64, 0] {
        let files = same_on_unix_and_folio(&format!("journal_size_limit {limit}"), |vfs, dir| {
            let conn = open(vfs, &dir.join("p.db"));
            assert_eq!(pragma(&conn, "PRAGMA journal_mode = WAL"), "Text(\"wal\")", "{vfs}");
            pragma(&conn, &format!("PRAGMA journal_size_limit = {limit}"));
            let before = ask_flag(&conn, ffi::SQLITE_FCNTL_PERSIST_WAL);
            set_flag(&conn, ffi::SQLITE_FCNTL_PERSIST_WAL, true, vfs);
            let after = ask_flag(&conn, ffi::SQLITE_FCNTL_PERSIST_WAL);
            conn.execute_batch("CREATE TABLE t(x)").unwrap();
            insert_rows(&conn, 40);
            conn.close().map_err(|(_, e)| e).expect("close");
            (before, after, listing(dir))
        });
        assert_eq!((files.0, files.1), ((ffi::SQLITE_OK, 0), (ffi::SQLITE_OK, 1)));
        let wal = files.2.iter().find(|(name, _)| name == "p.db-wal");
        let wal = wal.unwrap_or_else(|| panic!("no -wal kept: {:?}", files.2));
        assert_eq!(wal.1 == 0, limit == 0, "limit {limit}: the -wal kept is {} bytes", wal.1);
        assert!(files.2.iter().any(|(name, _)| name == "p.db-shm"), "no -shm kept: {files:?}");
    }
}

#[test]
fn powersafe_overwrite_answers_and_pads_wal_commits_to_sectors_as_unix_does() {
    // Off through the filename's `psow` URI parameter, which both read at open: the WAL pads
    // each FULL commit out to the sector size.
    let run = |uri: &str| {
        same_on_unix_and_folio(&format!("WAL with {uri:?}"), |vfs, dir| {
            let name = format!("file:{}{uri}", dir.join("w.db").display());
            let conn = open(vfs, Path::new(&name));
            let asked = ask_flag(&conn, ffi::SQLITE_FCNTL_POWERSAFE_OVERWRITE);
            pragma(&conn, "PRAGMA journal_mode = WAL");
            conn.execute_batch("PRAGMA synchronous = FULL; CREATE TABLE t(x)").unwrap();
            for n in [3, 1, 7] {
                insert_rows(&conn, n);
            }
            let wal = size_of(&dir.join("w.db-wal"));
            // The flag set and asked again; SQLite was told at open, so the log is as it was.
            set_flag(&conn, ffi::SQLITE_FCNTL_POWERSAFE_OVERWRITE, !uri.is_empty(), vfs);
            let flipped = ask_flag(&conn, ffi::SQLITE_FCNTL_POWERSAFE_OVERWRITE);
            insert_rows(&conn, 2);
            let wal_after = size_of(&dir.join("w.db-wal"));
            drop(conn);
            (asked, flipped, wal, wal_after)
        })
    };
    let ok = ffi::SQLITE_OK;
    let (asked, flipped, padless, _) = run("");
    assert_eq!((asked, flipped), ((ok, 1), (ok, 0)), "on by default, then set off");
    let (asked, flipped, padded, _) = run("?psow=0");
    assert_eq!((asked, flipped), ((ok, 0), (ok, 1)), "off by the URI, then set on");
    assert!(padded > padless, "no padding without powersafe overwrite: {padded} vs {padless}");

    // xDeviceCharacteristics follows the flag as set before the first xDeviceCharacteristics
    // or xSectorSize call, and keeps that answer.
    let folio = Raw::new(Arc::new(OsVfs::new()));
    let dir = tempfile::tempdir().unwrap();
    let bits = |vfs: *mut ffi::sqlite3_vfs, name: &str, ask_first: bool| {
        let path = dir.path().join(name);
        let file = open_with(vfs, Some(path.to_str().unwrap()), CREATE_DB).unwrap();
        let psow = || {
            // SAFETY: an open file.
            let bits = unsafe { file.methods().xDeviceCharacteristics.unwrap()(file.file) };
            bits & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0
        };
        let first = ask_first.then(psow);
        let mut off: c_int = 0;
        let rc = file
            .file_control(ffi::SQLITE_FCNTL_POWERSAFE_OVERWRITE, ptr::from_mut(&mut off).cast());
        (first, rc, psow())
    };
    for ask_first in [false, true] {
        let name = format!("{ask_first}.db");
        let theirs = bits(unix_vfs(), &format!("unix-{name}"), ask_first);
        assert_eq!(bits(folio.vfs, &format!("folio-{name}"), ask_first), theirs);
        let expected = if ask_first { (Some(true), ok, true) } else { (None, ok, false) };
        assert_eq!(theirs, expected, "asked first: {ask_first}");
    }
}

#[test]
fn chunk_size_grows_and_truncates_the_database_in_whole_chunks_as_unix_does() {
    const CHUNK: u64 = 65536;
    let sizes = same_on_unix_and_folio("chunk size 64 KiB", |vfs, dir| {
        let path = dir.join("c.db");
        let conn = open(vfs, &path);
        let mut chunk = CHUNK as c_int;
        assert_eq!(file_control(&conn, ffi::SQLITE_FCNTL_CHUNK_SIZE, &mut chunk), 0, "{vfs}");
        conn.execute_batch("CREATE TABLE t(x)").unwrap();
        // SQLite hints the size at each commit that grows the file (SQLITE_FCNTL_SIZE_HINT).
        insert_rows(&conn, 300);
        let grown = size_of(&path);
        conn.execute_batch("DELETE FROM t WHERE rowid > 10; VACUUM").unwrap();
        let vacuumed = size_of(&path);
        let mut hint: i64 = 300_000;
        let rc = file_control(&conn, ffi::SQLITE_FCNTL_SIZE_HINT, &mut hint);
        (grown, vacuumed, rc, size_of(&path))
    });
    let (grown, vacuumed, rc, hinted) = sizes;
    assert!(grown > CHUNK && grown % CHUNK == 0, "after the inserts: {grown} bytes");
    assert_eq!(vacuumed, CHUNK, "the VACUUM's truncate rounds up to a chunk");
    assert_eq!((rc, hinted), (ffi::SQLITE_OK, 5 * CHUNK), "a hint of 300000 bytes");
}

#[test]
fn tempfilename_hands_out_a_fresh_absolute_name_as_unix_does() {
    let answers = same_on_unix_and_folio("TEMPFILENAME", |vfs, dir| {
        let conn = open(vfs, &dir.join("t.db"));
        let mut names = Vec::new();
        for _ in 0..2 {
            let mut name: *mut c_char = ptr::null_mut();
            let rc = file_control(&conn, ffi::SQLITE_FCNTL_TEMPFILENAME, &mut name);
            assert_eq!(rc, ffi::SQLITE_OK, "{vfs}");
            assert!(!name.is_null(), "{vfs}: no name");
            // SAFETY: a NUL-terminated string from sqlite3_malloc, ours to free once.
            let text = unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_string();
            // SAFETY: as above.
            unsafe { ffi::sqlite3_free(name.cast()) };
            names.push(PathBuf::from(text));
        }
        let fresh = names.iter().all(|n| n.is_absolute() && !n.exists());
        (fresh, names[0] != names[1])
    });
    assert_eq!(answers, (true, true), "absolute, unused and different each time");
}

#[test]
fn lockstate_is_the_files_lock_level_as_unix_does() {
    let levels = same_on_unix_and_folio("LOCKSTATE", |vfs, dir| {
        let conn = open(vfs, &dir.join("l.db"));
        conn.execute_batch("CREATE TABLE t(x)").unwrap();
        let level = || {
            let mut level: c_int = -1;
            let rc = file_control(&conn, ffi::SQLITE_FCNTL_LOCKSTATE, &mut level);
            (rc, level)
        };
        let mut seen = vec![level()];
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        seen.push(level());
        conn.execute_batch("INSERT INTO t VALUES (1); COMMIT; BEGIN EXCLUSIVE").unwrap();
        seen.push(level());
        conn.execute_batch("COMMIT").unwrap();
        seen.push(level());
        seen
    });
    let ok = |level| (ffi::SQLITE_OK, level);
    assert_eq!(
        levels,
        [ok(ffi::SQLITE_LOCK_NONE), ok(ffi::SQLITE_LOCK_RESERVED), ok(ffi::SQLITE_LOCK_EXCLUSIVE)]
            .into_iter()
            .chain([ok(ffi::SQLITE_LOCK_NONE)])
            .collect::<Vec<_>>()
    );
}

/// `EBADF`: 9 on Linux, the BSDs and macOS.
const EBADF: c_int = 9;

/// `SQLITE_FCNTL_LAST_ERRNO` on an open file.
fn last_errno(file: &super::File) -> (c_int, c_int) {
    let mut errno: c_int = -1;
    (file.file_control(ffi::SQLITE_FCNTL_LAST_ERRNO, ptr::from_mut(&mut errno).cast()), errno)
}

#[test]
fn last_errno_is_the_os_error_of_the_last_failed_call_as_unix_does() {
    // A write lock on a descriptor opened read-only fails with EBADF on both.
    let folio = Raw::new(Arc::new(OsVfs::new()));
    let dir = tempfile::tempdir().unwrap();
    let steps = |vfs: *mut ffi::sqlite3_vfs, name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, b"").unwrap();
        let flags = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READONLY;
        let file = open_with(vfs, Some(path.to_str().unwrap()), flags).unwrap();
        let before = last_errno(&file);
        let shared = file.lock(ffi::SQLITE_LOCK_SHARED);
        let reserved = file.lock(ffi::SQLITE_LOCK_RESERVED);
        (before, shared, reserved, last_errno(&file))
    };
    let theirs = steps(unix_vfs(), "unix.db");
    assert_eq!(steps(folio.vfs, "folio.db"), theirs, "the OS VFS (left) and unix (right)");
    let ok = ffi::SQLITE_OK;
    assert_eq!(theirs, ((ok, 0), ok, ffi::SQLITE_IOERR_LOCK, (ok, EBADF)));

    // An injected fault's errno, kept across later calls that succeed.
    let sim = SimVfs::new(SimConfig::new(0xe770));
    let raw = Raw::new(Arc::new(sim.clone()));
    let file = raw.open(Some("/errno/test.db"), CREATE_DB).unwrap();
    assert_eq!(last_errno(&file), (ok, 0));
    sim.add_fault(FaultRule::once(FaultOp::Write, 1, FaultKind::DiskFull));
    assert_eq!(file.write(0, &[1; 512]), ffi::SQLITE_FULL);
    assert_eq!(file.write(0, &[1; 512]), ok);
    assert_eq!(last_errno(&file), (ok, FaultKind::DiskFull.errno()));
}

#[test]
fn mmap_size_stays_put_while_fetched_pages_are_out_as_unix_does() {
    let folio = Raw::new(Arc::new(OsVfs::new()));
    let dir = tempfile::tempdir().unwrap();
    let mmap_size = |file: &super::File, wanted: i64| {
        let mut size = wanted;
        let rc = file.file_control(ffi::SQLITE_FCNTL_MMAP_SIZE, ptr::from_mut(&mut size).cast());
        assert_eq!(rc, ffi::SQLITE_OK);
        size
    };
    let steps = |vfs: *mut ffi::sqlite3_vfs, name: &str| {
        let path = dir.path().join(name);
        let file = open_with(vfs, Some(path.to_str().unwrap()), CREATE_DB).unwrap();
        assert_eq!(file.write(0, &[7; 8192]), ffi::SQLITE_OK);
        assert_eq!(file.lock(ffi::SQLITE_LOCK_SHARED), ffi::SQLITE_OK);
        let mut seen = vec![mmap_size(&file, 1 << 20)];
        let (rc, page) = file.fetch(0, 4096);
        assert!(rc == ffi::SQLITE_OK && !page.is_null(), "{name}: no page mapped");
        // Turning mapping off while the page is out: the old cap is reported and kept.
        seen.push(mmap_size(&file, 0));
        seen.push(mmap_size(&file, -1));
        assert_eq!(file.unfetch(0, page), ffi::SQLITE_OK);
        // With no page out the change is made.
        seen.push(mmap_size(&file, 0));
        seen.push(mmap_size(&file, -1));
        seen
    };
    let theirs = steps(unix_vfs(), "unix.db");
    assert_eq!(steps(folio.vfs, "folio.db"), theirs, "the OS VFS (left) and unix (right)");
    assert_eq!(theirs, [0, 1 << 20, 1 << 20, 1 << 20, 0]);
}
