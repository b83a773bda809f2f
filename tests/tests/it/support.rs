//! Helpers shared by the interop suites: the byte offsets of <https://sqlite.org/fileformat2.html>
//! (written out here, not taken from folio-vfs, so the tests check the VFS against SQLite rather
//! than against itself), opening a database through the OS VFS, and checking for `Busy`.

use folio_vfs::os::OsVfs;
use folio_vfs::{FileKind, OpenFlags, Vfs, VfsFile};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

/// The PENDING byte of the database file (SQLite's os.h, `PENDING_BYTE`).
pub const PENDING_BYTE: u64 = 0x4000_0000;
/// The RESERVED byte.
pub const RESERVED_BYTE: u64 = 0x4000_0001;
/// First byte of the range readers lock shared.
pub const SHARED_FIRST: u64 = 0x4000_0002;
/// Length of that range.
pub const SHARED_SIZE: u64 = 510;

/// Byte of the `-shm` file that carries lock slot 0; slot `i` is byte `120 + i`
/// (<https://sqlite.org/walformat.html>).
pub const SHM_LOCK_BYTE0: u64 = 120;
/// The dead-man-switch byte of the `-shm` file (os_unix.c, `unixLockSharedMemory`).
pub const SHM_DMS_BYTE: u64 = 128;
/// The wal-index version word, at offset 0 (and 48) of region 0
/// (<https://sqlite.org/walformat.html>).
pub const WAL_INDEX_VERSION: u32 = 3_007_000;

/// Opens `db` read-write through `vfs` as a main database file.
pub fn open_db(vfs: &OsVfs, db: &Path) -> Box<dyn VfsFile> {
    vfs.open(Some(db), OpenFlags::create(FileKind::MainDb))
        .unwrap_or_else(|e| panic!("opening {} through OsVfs: {e}", db.display()))
}

/// `<db>-shm`.
pub fn shm_path(db: &Path) -> PathBuf {
    folio_vfs::format::Sidecar::Shm.path_of(db)
}

/// Asserts that `result` is `Err(Busy)`.
#[track_caller]
pub fn expect_busy<T: Debug>(result: folio_vfs::Result<T>, what: &str) {
    match result {
        Err(e) if e.is_busy() => {}
        other => panic!("{what}: expected Busy, got {other:?}"),
    }
}

/// Whether stock SQLite managed (`Ok`) or was refused with "database is locked" (`Err`);
/// any other error fails the test.
#[track_caller]
pub fn allowed(sql: &str, result: Result<String, String>) -> bool {
    match result {
        Ok(_) => true,
        Err(message) if message == folio_tests::sqlite_child::LOCKED => false,
        Err(message) => panic!("stock SQLite failed {sql:?} with {message:?}, not busy"),
    }
}
