//! Unit tests of the translations: every folio-vfs error to the code SQLite's unix VFS would
//! return, and SQLite's flags to folio-vfs's types. The expected values are SQLite's numbers
//! written out (sqlite.h), not the bindings' constants, so a wrong constant is caught too.

use super::*;
use folio_vfs::{CantOpenReason, FileKind, Lock, LockLevel, Misuse, ShmLockKind};
use std::path::PathBuf;

fn io(op: Op, errno: i32) -> Error {
    Error::io(op, "/db/test.db", io::Error::from_raw_os_error(errno))
}

const EIO: i32 = 5;
const ENOENT: i32 = 2;
const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

#[test]
fn io_errors_map_to_the_extended_code_of_their_operation() {
    let cases = [
        (Op::Read, 266),           // SQLITE_IOERR_READ
        (Op::Write, 778),          // SQLITE_IOERR_WRITE
        (Op::Sync, 1034),          // SQLITE_IOERR_FSYNC
        (Op::SyncDir, 1290),       // SQLITE_IOERR_DIR_FSYNC
        (Op::Truncate, 1546),      // SQLITE_IOERR_TRUNCATE
        (Op::Size, 1802),          // SQLITE_IOERR_FSTAT
        (Op::Unlock, 2058),        // SQLITE_IOERR_UNLOCK
        (Op::Delete, 2570),        // SQLITE_IOERR_DELETE
        (Op::Access, 3338),        // SQLITE_IOERR_ACCESS
        (Op::CheckReserved, 3594), // SQLITE_IOERR_CHECKRESERVEDLOCK
        (Op::Lock, 3850),          // SQLITE_IOERR_LOCK
        (Op::ShmOpen, 4618),       // SQLITE_IOERR_SHMOPEN
        (Op::ShmLock, 5130),       // SQLITE_IOERR_SHMLOCK
        (Op::ShmMap, 5386),        // SQLITE_IOERR_SHMMAP
        (Op::Mmap, 6154),          // SQLITE_IOERR_MMAP
        (Op::Random, 10),          // SQLITE_IOERR
        (Op::Open, 14),            // SQLITE_CANTOPEN
        (Op::FullPath, 782),       // SQLITE_CANTOPEN_FULLPATH
    ];
    for (op, code) in cases {
        assert_eq!(sqlite_code(&io(op, EIO)), code, "EIO during {op:?}");
    }
}

#[test]
fn a_full_disk_is_sqlite_full_whatever_the_operation() {
    for op in [Op::Write, Op::Truncate, Op::Sync, Op::ShmMap] {
        assert_eq!(sqlite_code(&io(op, ENOSPC)), 13, "ENOSPC during {op:?}");
        assert_eq!(sqlite_code(&io(op, EDQUOT)), 13, "EDQUOT during {op:?}");
    }
}

#[test]
fn deleting_a_missing_file_is_delete_noent() {
    assert_eq!(sqlite_code(&io(Op::Delete, ENOENT)), 5898);
    // ENOENT elsewhere is an ordinary I/O error of that operation.
    assert_eq!(sqlite_code(&io(Op::Read, ENOENT)), 266);
}

#[test]
fn the_other_variants_map_to_their_primary_codes() {
    let path = PathBuf::from("/db/test.db");
    let exclusive = Lock::File(LockLevel::Exclusive);
    assert_eq!(sqlite_code(&Error::busy(Op::Lock, &path, exclusive)), 5);
    let slot = Lock::Shm { slot: 0, n: 1, kind: ShmLockKind::Exclusive, read_only: false };
    assert_eq!(sqlite_code(&Error::busy(Op::ShmLock, &path, slot)), 5);
    assert_eq!(sqlite_code(&Error::ReadOnly { op: Op::Write, path: path.clone() }), 8);
    let cant_open =
        Error::CantOpen { path: path.clone(), reason: CantOpenReason::NotFound, source: None };
    assert_eq!(sqlite_code(&cant_open), 14);
    let rule = Misuse::LockTransition { from: LockLevel::None, to: LockLevel::Reserved };
    let misuse = Error::Misuse { path: path.clone(), rule };
    assert_eq!(sqlite_code(&misuse), 21);
    let unsupported = Error::Unsupported { op: Op::ShmMap, path, why: "no shared memory" };
    assert_eq!(sqlite_code(&unsupported), 5386);
}

#[test]
fn open_flags_take_the_file_type_and_the_access_bits() {
    // The flags SQLite's pager passes (sqlite.h values written out).
    let main_db = 0x100 | 0x2 | 0x4; // MAIN_DB | READWRITE | CREATE
    let flags = open_flags(main_db, true);
    assert_eq!(flags, OpenFlags::create(FileKind::MainDb));
    assert_eq!(open_flags(0x100 | 0x1, true), OpenFlags::read_only(FileKind::MainDb));
    assert_eq!(open_flags(0x800 | 0x2 | 0x4, true).kind, FileKind::MainJournal);
    assert_eq!(open_flags(0x80000 | 0x2 | 0x4, true).kind, FileKind::Wal);
    assert_eq!(open_flags(0x4000 | 0x2 | 0x4 | 0x10, true).kind, FileKind::SuperJournal);
    assert_eq!(open_flags(0x2000, false).kind, FileKind::SubJournal);
    assert_eq!(open_flags(0x200, false).kind, FileKind::TempDb);
    assert_eq!(open_flags(0x400, false).kind, FileKind::TempDb);
    assert_eq!(open_flags(0x1000, false).kind, FileKind::TempJournal);
    // A temporary file as SQLite opens one: every bit carried over.
    let temp = open_flags(0x1000 | 0x2 | 0x4 | 0x8 | 0x10, false);
    assert_eq!(
        temp,
        OpenFlags {
            kind: FileKind::TempJournal,
            write: true,
            create: true,
            exclusive: true,
            delete_on_close: true,
            no_follow: false,
            readonly_shm: false,
        }
    );
    // SQLITE_OPEN_NOFOLLOW (0x01000000) asks the OS VFS for O_NOFOLLOW.
    assert!(open_flags(0x100 | 0x2 | 0x0100_0000, true).no_follow);
    assert!(!open_flags(0x100 | 0x2, true).no_follow);
    // No type bit: named means a database, unnamed a temporary one.
    assert_eq!(open_flags(0x2, true).kind, FileKind::MainDb);
    assert_eq!(open_flags(0x2, false).kind, FileKind::TempDb);
}

#[test]
fn lock_levels_sync_flags_and_shm_requests_translate() {
    assert_eq!(lock_level(0), Some(LockLevel::None));
    assert_eq!(lock_level(1), Some(LockLevel::Shared));
    assert_eq!(lock_level(2), Some(LockLevel::Reserved));
    assert_eq!(lock_level(3), Some(LockLevel::Pending));
    assert_eq!(lock_level(4), Some(LockLevel::Exclusive));
    assert_eq!(lock_level(5), None);
    assert_eq!(lock_level(-1), None);

    assert_eq!(sync_flags(2), SyncFlags::NORMAL);
    assert_eq!(sync_flags(3), SyncFlags::FULL);
    assert_eq!(sync_flags(2 | 0x10), SyncFlags::DATA_ONLY);
    assert_eq!(sync_flags(3 | 0x10), SyncFlags { full: true, data_only: true });

    assert_eq!(shm_lock_kind(2 | 4), Some(ShmLockKind::Shared));
    assert_eq!(shm_lock_kind(2 | 8), Some(ShmLockKind::Exclusive));
    assert_eq!(shm_lock_kind(1 | 4), Some(ShmLockKind::UnlockShared));
    assert_eq!(shm_lock_kind(1 | 8), Some(ShmLockKind::UnlockExclusive));
    for bad in [0, 1, 2, 4, 8, 1 | 2 | 4, 2 | 4 | 8] {
        assert_eq!(shm_lock_kind(bad), None, "flags {bad:#x}");
    }
}
