//! Reads, sizes and existence checks see the queue: queued writes, truncates, deletes and
//! creations are visible before the writer performs them (the writer is halted, or slowed by
//! the artificial delay), and a random sequence of operations through the async VFS matches a
//! `Vec` model.

use folio_asyncio::{AsyncVfs, HaltMode, Options};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::{AccessCheck, FileKind, OpenFlags, ReadOutcome, SyncFlags, Vfs, VfsFile};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn setup() -> (MemoryVfs, AsyncVfs) {
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    (disk, vfs)
}

fn on_disk(disk: &MemoryVfs, path: &str) -> Option<Vec<u8>> {
    let file = disk.open(Some(Path::new(path)), OpenFlags::read_only(FileKind::MainDb)).ok()?;
    let mut bytes = vec![0; file.size().unwrap() as usize];
    file.read_at(0, &mut bytes).unwrap();
    Some(bytes)
}

fn read(file: &dyn VfsFile, offset: u64, len: usize) -> (Vec<u8>, ReadOutcome) {
    let mut buf = vec![0xee; len];
    let outcome = file.read_at(offset, &mut buf).unwrap();
    (buf, outcome)
}

#[test]
fn a_read_after_a_write_sees_it_before_the_disk_does() {
    let (disk, vfs) = setup();
    let db = vfs.open(Some(Path::new("/t.db")), OpenFlags::create(FileKind::MainDb)).unwrap();
    vfs.set_halt(HaltMode::Now);
    db.write_at(0, b"0123456789").unwrap();
    db.write_at(4, b"ab").unwrap();
    db.truncate(8).unwrap();
    db.write_at(12, b"zz").unwrap();
    assert_eq!(on_disk(&disk, "/t.db").unwrap(), b"", "the writer is halted");
    // The second write lies inside the first, still queued: merged into it.
    assert_eq!((vfs.stats().queued_ops, vfs.stats().n_merged), (3, 1));
    assert_eq!(db.size().unwrap(), 14);
    assert_eq!(read(&*db, 0, 14), (b"0123ab67\0\0\0\0zz".to_vec(), ReadOutcome::Full));
    // Past the effective end: short read, the rest zero-filled.
    assert_eq!(read(&*db, 12, 4), (b"zz\0\0".to_vec(), ReadOutcome::Short { n_read: 2 }));
    assert_eq!(read(&*db, 20, 2), (vec![0, 0], ReadOutcome::Short { n_read: 0 }));
    vfs.set_halt(HaltMode::Never);
    vfs.flush().unwrap();
    assert_eq!(on_disk(&disk, "/t.db").unwrap(), b"0123ab67\0\0\0\0zz");
    assert_eq!(read(&*db, 0, 14), (b"0123ab67\0\0\0\0zz".to_vec(), ReadOutcome::Full));
}

#[test]
fn a_chunk_size_rounds_queued_truncates_and_size_hints_and_the_parent_agrees() {
    let (disk, vfs) = setup();
    let db = vfs.open(Some(Path::new("/c.db")), OpenFlags::create(FileKind::MainDb)).unwrap();
    vfs.set_halt(HaltMode::Now);
    db.write_at(0, &[5; 3000]).unwrap();
    db.set_chunk_size(1024);
    assert_eq!(db.chunk_size(), 1024);
    db.truncate(1500).unwrap();
    assert_eq!(db.size().unwrap(), 2048, "truncate to 1500 with 1 KiB chunks");
    db.size_hint(4097).unwrap();
    assert_eq!(db.size().unwrap(), 5120, "a hint of 4097 bytes");
    db.size_hint(1).unwrap();
    assert_eq!(db.size().unwrap(), 5120, "a hint never shrinks");
    assert_eq!(on_disk(&disk, "/c.db").unwrap(), b"", "the writer is halted");
    vfs.set_halt(HaltMode::Never);
    vfs.flush().unwrap();
    let mut expected = vec![5; 2048];
    expected.resize(5120, 0);
    assert_eq!(on_disk(&disk, "/c.db").unwrap(), expected);
}

#[test]
fn another_handle_of_the_same_file_sees_the_queue_too() {
    let (_disk, vfs) = setup();
    let a = vfs.open(Some(Path::new("/s.db")), OpenFlags::create(FileKind::MainDb)).unwrap();
    let b = vfs.open(Some(Path::new("/s.db")), OpenFlags::read_only(FileKind::MainDb)).unwrap();
    vfs.set_halt(HaltMode::Now);
    a.write_at(0, b"shared").unwrap();
    assert_eq!(b.size().unwrap(), 6);
    assert_eq!(read(&*b, 0, 6).0, b"shared");
    vfs.set_halt(HaltMode::Never);
}

#[test]
fn deletes_and_creations_are_seen_by_access_open_and_delete() {
    let (disk, vfs) = setup();
    let journal = Path::new("/j.db-journal");
    let first = vfs.open(Some(journal), OpenFlags::create(FileKind::MainJournal)).unwrap();
    first.write_at(0, b"old journal").unwrap();
    vfs.flush().unwrap();
    drop(first);
    vfs.set_halt(HaltMode::Now);
    vfs.delete(journal, false).unwrap();
    assert!(on_disk(&disk, "/j.db-journal").is_some(), "not deleted yet");
    assert!(!vfs.access(journal, AccessCheck::Exists).unwrap());
    let err = vfs.delete(journal, false).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(2), "deleting a deleted file: {err}");
    assert!(vfs.open(Some(journal), OpenFlags::read_write(FileKind::MainJournal)).is_err());

    // Created again while the delete is queued: a new, empty file, opened by the writer.
    let second = vfs.open(Some(journal), OpenFlags::create(FileKind::MainJournal)).unwrap();
    assert!(vfs.access(journal, AccessCheck::Exists).unwrap());
    assert_eq!(second.size().unwrap(), 0, "the old bytes are not this file's");
    second.write_at(0, b"new").unwrap();
    assert_eq!(read(&*second, 0, 4), (b"new\0".to_vec(), ReadOutcome::Short { n_read: 3 }));
    let exclusive = OpenFlags::create(FileKind::MainJournal).exclusive();
    assert!(vfs.open(Some(journal), exclusive).is_err(), "its creation is queued");
    assert_eq!(on_disk(&disk, "/j.db-journal").unwrap(), b"old journal");

    vfs.set_halt(HaltMode::Never);
    vfs.barrier(journal).unwrap();
    assert_eq!(on_disk(&disk, "/j.db-journal").unwrap(), b"new");
    assert_eq!(read(&*second, 0, 3).0, b"new");
}

#[test]
fn a_main_database_opened_behind_a_queued_delete_waits_for_it() {
    let (disk, vfs) = setup();
    let path = Path::new("/m.db");
    let db = vfs.open(Some(path), OpenFlags::create(FileKind::MainDb)).unwrap();
    db.write_at(0, b"gone").unwrap();
    drop(db);
    vfs.set_delay(Duration::from_millis(5));
    vfs.delete(path, false).unwrap();
    let db = vfs.open(Some(path), OpenFlags::create(FileKind::MainDb)).unwrap();
    assert_eq!(db.size().unwrap(), 0);
    assert_eq!(vfs.stats().queued_ops, 0, "the open waited for the delete");
    assert_eq!(on_disk(&disk, "/m.db").unwrap(), b"");
}

#[test]
fn temporary_and_delete_on_close_files_go_away_after_their_queue() {
    let (disk, vfs) = setup();
    let tmp = vfs.open(None, OpenFlags::create(FileKind::TempDb)).unwrap();
    let name = tmp.path().to_path_buf();
    tmp.write_at(0, b"scratch").unwrap();
    assert_eq!(read(&*tmp, 0, 7).0, b"scratch");
    vfs.set_halt(HaltMode::Now);
    drop(tmp);
    assert!(!vfs.access(&name, AccessCheck::Exists).unwrap(), "its close deletes it");
    vfs.set_halt(HaltMode::Never);
    vfs.flush().unwrap();
    assert!(!disk.access(&name, AccessCheck::Exists).unwrap());
}

// ---- the model --------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum FileOp {
    Write { offset: u16, len: u16, fill: u8 },
    Truncate { size: u16 },
    Read { offset: u16, len: u16 },
    Size,
    Sync,
    Flush,
}

fn file_op() -> impl Strategy<Value = FileOp> {
    prop_oneof![
        4 => (0u16..3000, 1u16..600, any::<u8>())
            .prop_map(|(offset, len, fill)| FileOp::Write { offset, len, fill }),
        1 => (0u16..3000).prop_map(|size| FileOp::Truncate { size }),
        3 => (0u16..3600, 1u16..700).prop_map(|(offset, len)| FileOp::Read { offset, len }),
        1 => Just(FileOp::Size),
        1 => Just(FileOp::Sync),
        1 => Just(FileOp::Flush),
    ]
}

fn check(
    disk: &MemoryVfs,
    vfs: &AsyncVfs,
    name: &str,
    ops: &[FileOp],
) -> Result<(), TestCaseError> {
    let fail = |e: folio_vfs::Error| TestCaseError::fail(e.to_string());
    let file =
        vfs.open(Some(Path::new(name)), OpenFlags::create(FileKind::MainDb)).map_err(fail)?;
    let mut model: Vec<u8> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            FileOp::Write { offset, len, fill } => {
                let (offset, len) = (offset as usize, len as usize);
                file.write_at(offset as u64, &vec![fill; len]).map_err(fail)?;
                if model.len() < offset + len {
                    model.resize(offset + len, 0);
                }
                model[offset..offset + len].fill(fill);
            }
            FileOp::Truncate { size } => {
                file.truncate(u64::from(size)).map_err(fail)?;
                model.resize(size as usize, 0);
            }
            FileOp::Read { offset, len } => {
                let (offset, len) = (offset as usize, len as usize);
                let mut buf = vec![0xee; len];
                let outcome = file.read_at(offset as u64, &mut buf).map_err(fail)?;
                let n = model.len().saturating_sub(offset).min(len);
                let mut want = vec![0; len];
                want[..n]
                    .copy_from_slice(&model[offset.min(model.len())..offset.min(model.len()) + n]);
                let want_outcome =
                    if n == len { ReadOutcome::Full } else { ReadOutcome::Short { n_read: n } };
                prop_assert_eq!(outcome, want_outcome, "step {}: {:?}", step, op);
                prop_assert!(buf == want, "step {}: {:?}: bytes differ", step, op);
            }
            FileOp::Size => {
                prop_assert_eq!(file.size().map_err(fail)?, model.len() as u64, "step {}", step)
            }
            FileOp::Sync => file.sync(SyncFlags::NORMAL).map_err(fail)?,
            FileOp::Flush => vfs.flush().map_err(fail)?,
        }
    }
    vfs.flush().map_err(fail)?;
    prop_assert_eq!(file.size().map_err(fail)?, model.len() as u64, "final size");
    // Flushed: the disk holds exactly what the reads promised.
    prop_assert!(on_disk(disk, name) == Some(model), "the disk differs from the model");
    Ok(())
}

#[test]
fn random_operations_through_a_slow_queue_match_a_vec_model() {
    let seed = folio_vfs::seed::from_env_or(0xa51c_0001);
    println!("seed {seed:#x} (replay with FOLIO_SEED={seed:#x})");
    let disk = MemoryVfs::new();
    let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
    // A slow disk, so that the queue is rarely empty when reads look at it.
    vfs.set_delay(Duration::from_micros(200));
    let config = Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    let n_case = AtomicUsize::new(0);
    let n_nonempty = AtomicUsize::new(0);
    let result = TestRunner::new(config).run(&vec(file_op(), 1..60), |ops| {
        let name = format!("/model-{}.db", n_case.fetch_add(1, Ordering::Relaxed));
        let outcome = check(&disk, &vfs, &name, &ops);
        if vfs.stats().peak_ops > 1 {
            n_nonempty.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    });
    if let Err(e) = result {
        panic!("{e}\nreplay with FOLIO_SEED={seed:#x}");
    }
    let stats = vfs.stats();
    println!("{stats:?}");
    assert!(n_case.load(Ordering::Relaxed) >= 48);
    assert!(stats.peak_ops >= 5, "the queue never held much: {stats:?}");
    assert!(stats.n_merged > 0, "no write was ever merged: {stats:?}");
}
