//! Locks as SQLite's async module took them: at once on the parent; an unlock is held back until
//! the operations queued before it (the transaction) have been performed, so another connection
//! cannot lock the file and read it before the data is there.

use folio_asyncio::{AsyncVfs, HaltMode, Options};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::{FileKind, LockLevel, OpenFlags, Vfs, VfsFile};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DB: &str = "/locks.db";

fn open(vfs: &dyn Vfs) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(DB)), OpenFlags::create(FileKind::MainDb)).unwrap()
}

fn write_transaction(db: &dyn VfsFile, bytes: &[u8]) {
    db.lock(LockLevel::Shared).unwrap();
    db.lock(LockLevel::Reserved).unwrap();
    db.lock(LockLevel::Exclusive).unwrap();
    db.write_at(0, bytes).unwrap();
    db.unlock(LockLevel::Shared).unwrap();
    db.unlock(LockLevel::None).unwrap();
}

fn disk_bytes(disk: &MemoryVfs) -> Vec<u8> {
    let file = disk.open(Some(Path::new(DB)), OpenFlags::read_only(FileKind::MainDb)).unwrap();
    let mut bytes = vec![0; file.size().unwrap() as usize];
    file.read_at(0, &mut bytes).unwrap();
    bytes
}

#[test]
fn another_connection_gets_the_lock_only_after_the_transaction_drained() {
    let disk = MemoryVfs::new();
    // Two async VFSes over one disk: two connections that do not share a queue.
    let first = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    let second = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    let (a, b) = (open(&first), open(&second));
    first.set_halt(HaltMode::Now);
    write_transaction(&*a, b"committed");
    assert_eq!(a.lock_level(), LockLevel::None, "the caller sees its lock gone at once");
    let err = b.lock(LockLevel::Shared).unwrap_err();
    assert!(err.is_busy(), "the parent still holds EXCLUSIVE: {err}");
    assert!(b.check_reserved_lock().unwrap(), "a writer's lock is still held");
    first.set_halt(HaltMode::Never);
    first.flush().unwrap();
    b.lock(LockLevel::Shared).unwrap();
    assert!(!b.check_reserved_lock().unwrap());
    let mut buf = [0; 9];
    b.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"committed");
    b.unlock(LockLevel::None).unwrap();
}

#[test]
fn whenever_the_other_connection_gets_the_lock_the_data_is_on_disk() {
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    vfs.set_delay(Duration::from_micros(300));
    let a = open(&vfs);
    let plain = open(&disk);
    for round in 0..20u8 {
        let page = vec![round; 4096];
        if round == 0 {
            // Once with the queue held for certain: the lock is refused.
            vfs.set_halt(HaltMode::Now);
            write_transaction(&*a, &page);
            assert!(plain.lock(LockLevel::Shared).unwrap_err().is_busy());
            vfs.set_halt(HaltMode::Never);
        } else {
            write_transaction(&*a, &page);
        }
        // Polls for the lock, as a busy handler would.
        while let Err(e) = plain.lock(LockLevel::Shared) {
            assert!(e.is_busy(), "{e}");
            std::thread::yield_now();
        }
        let on_disk = disk_bytes(&disk);
        assert!(on_disk[..4096] == page[..], "round {round}: locked before the data was written");
        plain.unlock(LockLevel::None).unwrap();
    }
}

#[test]
fn a_lock_taken_again_before_the_queued_unlock_is_kept() {
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    let a = open(&vfs);
    let plain = open(&disk);
    vfs.set_halt(HaltMode::Now);
    write_transaction(&*a, b"one");
    a.lock(LockLevel::Shared).unwrap();
    a.lock(LockLevel::Reserved).unwrap();
    vfs.set_halt(HaltMode::Never);
    vfs.flush().unwrap();
    // The queued unlocks ran after the new lock: they left it in place. The parent cannot go
    // from EXCLUSIVE to RESERVED (SQLite has no such step), so it keeps EXCLUSIVE, more than
    // the handle reports, until the handle's next unlock: safe, if less concurrent.
    assert_eq!(a.lock_level(), LockLevel::Reserved);
    assert!(plain.check_reserved_lock().unwrap());
    assert!(plain.lock(LockLevel::Shared).unwrap_err().is_busy());
    a.unlock(LockLevel::None).unwrap();
    vfs.flush().unwrap();
    assert!(!plain.check_reserved_lock().unwrap());
    plain.lock(LockLevel::Shared).unwrap();
    plain.unlock(LockLevel::None).unwrap();
}

#[test]
fn without_lock_files_only_handles_of_the_same_async_vfs_exclude_each_other() {
    let disk = MemoryVfs::new();
    let options = Options { lock_files: false, ..Options::default() };
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), options);
    let (a, b) = (open(&vfs), open(&vfs));
    let plain = open(&disk);
    vfs.set_halt(HaltMode::Now);
    a.lock(LockLevel::Shared).unwrap();
    a.lock(LockLevel::Reserved).unwrap();
    assert!(b.check_reserved_lock().unwrap());
    a.lock(LockLevel::Exclusive).unwrap();
    assert!(b.lock(LockLevel::Shared).unwrap_err().is_busy());
    // The unsafe part: the parent file is not locked at all.
    plain.lock(LockLevel::Shared).unwrap();
    plain.unlock(LockLevel::None).unwrap();
    // In process, an unlock takes effect at once: readers here see the queue anyway.
    a.unlock(LockLevel::None).unwrap();
    b.lock(LockLevel::Shared).unwrap();
    assert!(!b.check_reserved_lock().unwrap());
    vfs.set_halt(HaltMode::Never);
}
