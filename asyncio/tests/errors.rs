//! An I/O error in the writer thread is never lost: it is reported on the next call on that
//! file, and again on every call until the file is reopened; nothing queued behind it is
//! applied. Faults come from the simulated disk's rules.

use folio_asyncio::{AsyncVfs, HaltMode, Options};
use folio_vfs::sim::{FaultKind, FaultOp, FaultRule, SimConfig, SimVfs};
use folio_vfs::{AccessCheck, FileKind, OpenFlags, SyncFlags, Vfs, VfsFile};
use std::path::Path;
use std::sync::Arc;

fn setup() -> (SimVfs, AsyncVfs) {
    let disk = SimVfs::new(SimConfig::new(0xe4404));
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    (disk, vfs)
}

fn open(vfs: &dyn Vfs, path: &str, kind: FileKind) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(kind)).unwrap()
}

/// Makes the `n`th write from now fail (once): a rule counts from when it is added.
fn fail_write(disk: &SimVfs, n: u64, kind: FaultKind) {
    disk.add_fault(FaultRule::once(FaultOp::Write, n, kind));
}

#[test]
fn a_failed_background_write_is_reported_on_every_call_until_reopened() {
    let (disk, vfs) = setup();
    let db = open(&vfs, "/e.db", FileKind::MainDb);
    vfs.set_halt(HaltMode::Now);
    fail_write(&disk, 2, FaultKind::DiskFull);
    db.write_at(0, b"first").unwrap();
    db.write_at(100, b"fails").unwrap();
    db.write_at(200, b"behind").unwrap();
    db.sync(SyncFlags::FULL).unwrap();
    vfs.set_halt(HaltMode::Never);
    let err = vfs.flush().unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert!(err.to_string().contains("/e.db") && err.to_string().contains("100"), "{err}");
    // Sticky: every call, of every kind, until the handle goes.
    let mut buf = [0; 5];
    for _ in 0..3 {
        assert!(db.read_at(0, &mut buf).unwrap_err().is_disk_full());
        assert!(db.write_at(0, b"x").unwrap_err().is_disk_full());
        assert!(db.size().unwrap_err().is_disk_full());
        assert!(db.sync(SyncFlags::FULL).unwrap_err().is_disk_full());
    }
    // Nothing behind the failure was applied, and the sync never ran.
    assert_eq!(disk.contents(Path::new("/e.db")).unwrap(), b"first");
    assert_eq!(vfs.stats().n_dropped, 2);
    assert!(vfs.durable_seq() < 2);
    // A reopened file works (the fault was once only); the old handle still reports.
    let again = open(&vfs, "/e.db", FileKind::MainDb);
    again.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"first");
    again.write_at(5, b"!").unwrap();
    vfs.flush().unwrap();
    assert_eq!(disk.contents(Path::new("/e.db")).unwrap(), b"first!");
    assert!(db.read_at(0, &mut buf).is_err());
}

#[test]
fn every_open_handle_hears_of_the_failure_and_a_reopened_file_works() {
    // The application may already depend on the failed operation in another file (a database
    // write after a journal sync that was dropped), so every open handle is poisoned.
    let (disk, vfs) = setup();
    let quiet = open(&vfs, "/quiet.db", FileKind::MainDb);
    quiet.write_at(0, b"calm").unwrap();
    vfs.flush().unwrap();
    let db = open(&vfs, "/loud.db", FileKind::MainDb);
    fail_write(&disk, 1, FaultKind::Io);
    db.write_at(0, b"boom").unwrap();
    assert!(vfs.flush().is_err());
    assert_eq!(db.size().unwrap_err().raw_os_error(), Some(5), "EIO");
    assert_eq!(quiet.write_at(4, b"!").unwrap_err().raw_os_error(), Some(5));
    drop(quiet);
    let quiet = open(&vfs, "/quiet.db", FileKind::MainDb);
    quiet.write_at(4, b"!").unwrap();
    vfs.flush().unwrap();
    assert_eq!(disk.contents(Path::new("/quiet.db")).unwrap(), b"calm!");
}

#[test]
fn a_commit_queued_behind_a_failed_database_write_is_not_applied() {
    // The journal's delete (the commit) is queued behind the database write that fails: it
    // must not happen, or the database would be half written with no journal to undo it.
    let (disk, vfs) = setup();
    let db = open(&vfs, "/c.db", FileKind::MainDb);
    let journal = open(&vfs, "/c.db-journal", FileKind::MainJournal);
    vfs.set_halt(HaltMode::Now);
    journal.write_at(0, b"undo records").unwrap();
    journal.sync(SyncFlags::FULL).unwrap();
    fail_write(&disk, 2, FaultKind::Io);
    db.write_at(0, b"page one").unwrap();
    db.sync(SyncFlags::FULL).unwrap();
    drop(journal);
    vfs.delete(Path::new("/c.db-journal"), true).unwrap();
    assert!(!vfs.access(Path::new("/c.db-journal"), AccessCheck::Exists).unwrap());
    vfs.set_halt(HaltMode::Never);
    assert!(vfs.flush().is_err());
    assert!(disk.access(Path::new("/c.db-journal"), AccessCheck::Exists).unwrap());
    assert!(vfs.access(Path::new("/c.db-journal"), AccessCheck::Exists).unwrap());
    assert_eq!(disk.contents(Path::new("/c.db-journal")).unwrap(), b"undo records");
    // The journal's name had no open handle: its next open reports the error once.
    let flags = OpenFlags::read_write(FileKind::MainJournal);
    let err = vfs.open(Some(Path::new("/c.db-journal")), flags).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(5), "{err}");
    vfs.open(Some(Path::new("/c.db-journal")), flags).unwrap();
    assert!(db.read_at(0, &mut [0; 4]).is_err(), "the database handle is poisoned too");
}

#[test]
fn a_file_closed_before_its_write_failed_reports_at_the_next_open() {
    let (disk, vfs) = setup();
    let db = open(&vfs, "/closed.db", FileKind::MainDb);
    vfs.set_halt(HaltMode::Now);
    fail_write(&disk, 1, FaultKind::Io);
    db.write_at(0, b"lost").unwrap();
    drop(db);
    vfs.set_halt(HaltMode::Never);
    assert!(vfs.flush().is_err());
    let err = vfs.open(Some(Path::new("/closed.db")), OpenFlags::create(FileKind::MainDb));
    assert!(err.is_err(), "the error must reach someone");
    let db = open(&vfs, "/closed.db", FileKind::MainDb);
    assert_eq!(db.size().unwrap(), 0);
}

#[test]
fn waiting_for_durability_past_a_failure_returns_the_failure() {
    let (disk, vfs) = setup();
    let db = open(&vfs, "/d.db", FileKind::MainDb);
    db.write_at(0, b"ok").unwrap();
    db.sync(SyncFlags::FULL).unwrap();
    let good = vfs.queued_seq();
    vfs.wait_durable(good).unwrap();
    disk.add_fault(FaultRule::once(FaultOp::Sync, 1, FaultKind::Io));
    db.write_at(2, b"more").unwrap();
    db.sync(SyncFlags::FULL).unwrap();
    let bad = vfs.queued_seq();
    let err = vfs.wait_durable(bad).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(5), "{err}");
    assert!(vfs.durable_seq() >= good && vfs.durable_seq() < bad);
}

#[test]
fn an_unlock_queued_behind_a_failure_still_releases_the_lock() {
    let (disk, vfs) = setup();
    let db = open(&vfs, "/u.db", FileKind::MainDb);
    let reader = open(&vfs, "/other.db", FileKind::MainDb);
    let plain = open(&disk, "/other.db", FileKind::MainDb);
    vfs.set_halt(HaltMode::Now);
    fail_write(&disk, 1, FaultKind::Io);
    db.write_at(0, b"fails").unwrap();
    reader.lock(folio_vfs::LockLevel::Shared).unwrap();
    reader.unlock(folio_vfs::LockLevel::None).unwrap();
    vfs.set_halt(HaltMode::Never);
    assert!(vfs.flush().is_err());
    // Only an unlock of /other.db was behind the failure: it still ran.
    plain.lock(folio_vfs::LockLevel::Shared).unwrap();
    plain.lock(folio_vfs::LockLevel::Reserved).unwrap();
    plain.lock(folio_vfs::LockLevel::Exclusive).unwrap();
    plain.unlock(folio_vfs::LockLevel::None).unwrap();
    assert!(reader.lock(folio_vfs::LockLevel::Shared).is_err(), "every open handle hears of it");
    assert!(db.size().is_err());
}

#[test]
fn a_delete_is_refused_until_the_poisoned_handles_have_heard() {
    // Deleting a journal commits; the transaction may be the one that lost its writes.
    let (disk, vfs) = setup();
    let db = open(&vfs, "/del.db", FileKind::MainDb);
    drop(open(&vfs, "/del.db-journal", FileKind::MainJournal));
    vfs.flush().unwrap();
    fail_write(&disk, 1, FaultKind::Io);
    db.write_at(0, b"lost").unwrap();
    assert!(vfs.flush().is_err());
    let journal = Path::new("/del.db-journal");
    assert!(vfs.delete(journal, true).is_err(), "the db handle has not reported yet");
    assert!(db.size().is_err());
    vfs.delete(journal, true).unwrap();
    vfs.flush().unwrap();
    assert!(!disk.access(journal, AccessCheck::Exists).unwrap());
}
