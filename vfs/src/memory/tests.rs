//! Unit tests of what is particular to the memory VFS: sharing between clones, geometry,
//! temporary names, path normalisation, seeded randomness, shm node lifetime. The behaviour it
//! shares with the OS VFS is checked by `vfs/tests/conformance.rs`.
#![cfg(not(loom))]

use super::*;
use crate::sync::atomic::Ordering::SeqCst;

fn db(vfs: &MemoryVfs, path: &str) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(FileKind::MainDb)).unwrap()
}

fn exists(vfs: &MemoryVfs, path: &str) -> bool {
    vfs.access(Path::new(path), AccessCheck::Exists).unwrap()
}

#[test]
fn clones_share_files_and_separate_values_do_not() {
    let a = MemoryVfs::new();
    let b = a.clone();
    let other = MemoryVfs::new();
    assert!(a.same_file_system(&b));
    assert!(!a.same_file_system(&other));

    db(&a, "/x.db").write_at(0, b"hello").unwrap();
    let through_clone = b.open(Some(Path::new("/x.db")), OpenFlags::read_only(FileKind::MainDb));
    let mut buf = [0; 5];
    through_clone.unwrap().read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert!(!exists(&other, "/x.db"));
}

#[test]
fn default_geometry_is_the_unix_vfs_one() {
    let vfs = MemoryVfs::new();
    let file = db(&vfs, "/g.db");
    assert_eq!(file.sector_size(), 4096);
    assert_eq!(file.device_characteristics(), DeviceCharacteristics::POWERSAFE_OVERWRITE);
}

#[test]
fn builder_overrides_geometry() {
    let chars = DeviceCharacteristics::ATOMIC512 | DeviceCharacteristics::SAFE_APPEND;
    let vfs = MemoryVfs::builder().sector_size(512).device_characteristics(chars).build();
    let file = db(&vfs, "/g.db");
    assert_eq!(file.sector_size(), 512);
    assert_eq!(file.device_characteristics(), chars);
    assert!(!file.device_characteristics().contains(DeviceCharacteristics::POWERSAFE_OVERWRITE));
}

#[test]
#[should_panic(expected = "sector size 1000")]
fn builder_rejects_odd_sector_size() {
    let _ = MemoryVfs::builder().sector_size(1000);
}

#[test]
fn temp_files_get_distinct_names_and_vanish_on_close() {
    let vfs = MemoryVfs::new();
    // Read-only flags are overridden: a temporary file is always fresh and writable.
    let a = vfs.open(None, OpenFlags::read_only(FileKind::TempDb)).unwrap();
    let b = vfs.open(None, OpenFlags::create(FileKind::TempJournal)).unwrap();
    let (name_a, name_b) = (a.path().to_path_buf(), b.path().to_path_buf());
    assert_ne!(name_a, name_b);
    assert!(name_a.starts_with(TEMP_DIR), "{name_a:?}");
    a.write_at(0, b"temp").unwrap();
    assert!(vfs.access(&name_a, AccessCheck::Exists).unwrap());
    drop(a);
    assert!(!vfs.access(&name_a, AccessCheck::Exists).unwrap());
    assert!(vfs.access(&name_b, AccessCheck::Exists).unwrap());
    drop(b);
    assert!(!vfs.access(&name_b, AccessCheck::Exists).unwrap());
}

#[test]
fn temp_name_skips_names_in_use() {
    let vfs = MemoryVfs::new();
    // Squat on the name the next temporary file would get.
    let squatter = Path::new(TEMP_DIR).join(format!("etilqs_{:016x}", 0));
    db(&vfs, squatter.to_str().unwrap()).write_at(0, b"mine").unwrap();
    let temp = vfs.open(None, OpenFlags::create(FileKind::TempDb)).unwrap();
    assert_ne!(temp.path(), squatter);
    drop(temp);
    assert!(vfs.access(&squatter, AccessCheck::Exists).unwrap());
}

#[test]
fn delete_on_close_spares_a_recreated_file_of_the_same_name() {
    let vfs = MemoryVfs::new();
    let flags = OpenFlags::create(FileKind::MainJournal).delete_on_close();
    let old = vfs.open(Some(Path::new("/j")), flags).unwrap();
    vfs.delete(Path::new("/j"), false).unwrap();
    let new = db(&vfs, "/j");
    new.write_at(0, b"new").unwrap();
    drop(old);
    assert!(exists(&vfs, "/j"), "closing the old handle deleted the new file");
    assert_eq!(new.size().unwrap(), 3);
}

#[test]
fn paths_are_normalised() {
    let vfs = MemoryVfs::new();
    assert_eq!(vfs.full_path(Path::new("a/./b/../c.db")).unwrap(), Path::new("/a/c.db"));
    assert_eq!(vfs.full_path(Path::new("/../x")).unwrap(), Path::new("/x"));
    db(&vfs, "dir/../c.db").write_at(0, b"1").unwrap();
    assert!(exists(&vfs, "/c.db"));
    let again = vfs.open(Some(Path::new("/./c.db")), OpenFlags::read_write(FileKind::MainDb));
    // The handle keeps the spelling it was opened with.
    assert_eq!(again.unwrap().path(), Path::new("/./c.db"));
    vfs.delete(Path::new("c.db"), false).unwrap();
    assert!(!exists(&vfs, "/c.db"));
}

#[test]
fn the_root_is_not_a_file() {
    let vfs = MemoryVfs::new();
    let err = vfs.open(Some(Path::new("/")), OpenFlags::create(FileKind::MainDb)).unwrap_err();
    assert!(matches!(err, Error::CantOpen { .. }), "{err:?}");
}

#[test]
fn inconsistent_open_flags_are_misuse() {
    let vfs = MemoryVfs::new();
    let create_read_only = OpenFlags { write: false, ..OpenFlags::create(FileKind::MainDb) };
    let err = vfs.open(Some(Path::new("/m")), create_read_only).unwrap_err();
    assert!(matches!(err, Error::Misuse { .. }), "{err:?}");
    let exclusive_no_create = OpenFlags::read_write(FileKind::MainDb).exclusive();
    let err = vfs.open(Some(Path::new("/m")), exclusive_no_create).unwrap_err();
    assert!(matches!(err, Error::Misuse { .. }), "{err:?}");
    assert!(!exists(&vfs, "/m"));
}

#[test]
fn open_errors_carry_path_and_os_error() {
    let vfs = MemoryVfs::new();
    let err = vfs.open(Some(Path::new("/nope")), OpenFlags::read_write(FileKind::MainDb));
    match err.err().unwrap() {
        e @ Error::CantOpen { .. } => {
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
            assert!(e.to_string().contains("/nope"), "{e}");
        }
        e => panic!("expected CantOpen, got {e:?}"),
    }
    db(&vfs, "/yes");
    let err = vfs.open(Some(Path::new("/yes")), OpenFlags::create(FileKind::MainDb).exclusive());
    assert_eq!(err.err().unwrap().raw_os_error(), Some(libc::EEXIST));
}

#[test]
fn read_only_errors_name_the_operation() {
    let vfs = MemoryVfs::new();
    db(&vfs, "/ro");
    let ro = vfs.open(Some(Path::new("/ro")), OpenFlags::read_only(FileKind::MainDb)).unwrap();
    match ro.truncate(0).unwrap_err() {
        Error::ReadOnly { op: Op::Truncate, path } => assert_eq!(path, Path::new("/ro")),
        e => panic!("{e:?}"),
    }
    ro.sync(SyncFlags::FULL).unwrap();
}

#[test]
fn empty_write_past_eof_does_not_extend() {
    let vfs = MemoryVfs::new();
    let file = db(&vfs, "/e");
    file.write_at(1000, &[]).unwrap();
    assert_eq!(file.size().unwrap(), 0);
}

#[test]
fn offsets_beyond_memory_are_efbig() {
    let vfs = MemoryVfs::new();
    let file = db(&vfs, "/big");
    let err = file.write_at(u64::MAX, b"x").unwrap_err();
    assert!(matches!(err, Error::Io { op: Op::Write, offset: Some(u64::MAX), .. }), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EFBIG));
    let mut buf = [7u8; 4];
    assert_eq!(file.read_at(u64::MAX, &mut buf).unwrap(), ReadOutcome::Short { n_read: 0 });
    assert_eq!(buf, [0; 4]);
}

#[test]
fn a_file_system_with_a_maximum_file_size_refuses_to_grow_past_it() {
    let vfs = MemoryVfs::builder().max_file_size(4096).build();
    let file = db(&vfs, "/capped");
    file.write_at(4000, &[1; 96]).unwrap();
    let err = file.write_at(4000, &[1; 97]).unwrap_err();
    assert!(matches!(err, Error::Io { op: Op::Write, offset: Some(4000), .. }), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EFBIG));
    let err = file.truncate(1 << 40).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EFBIG));
    assert_eq!(file.size().unwrap(), 4096, "nothing was written or allocated past the cap");
    file.truncate(10).unwrap();
}

#[test]
fn no_memory_map() {
    let vfs = MemoryVfs::new();
    let file = db(&vfs, "/mm");
    file.write_at(0, &[1; 8192]).unwrap();
    assert_eq!(file.set_mmap_limit(1 << 20).unwrap(), 0);
    assert!(file.fetch(0, 4096).unwrap().is_none());
}

#[test]
fn seeded_randomness_replays_and_differs_between_seeds() {
    let draw = |vfs: &MemoryVfs| {
        let mut buf = [0u8; 37];
        vfs.randomness(&mut buf).unwrap();
        buf
    };
    let a = draw(&MemoryVfs::builder().seed(42).build());
    let b = draw(&MemoryVfs::builder().seed(42).build());
    let c = draw(&MemoryVfs::builder().seed(43).build());
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().any(|&x| x != 0));
    // Successive draws from one value differ, and unseeded values differ from each other.
    let vfs = MemoryVfs::builder().seed(42).build();
    assert_ne!(draw(&vfs), draw(&vfs));
    assert_ne!(draw(&MemoryVfs::new()), draw(&MemoryVfs::new()));
}

#[test]
fn shm_lock_before_shm_map_is_misuse() {
    let vfs = MemoryVfs::new();
    let file = db(&vfs, "/early.db");
    let err = file.shm_lock(0, 1, ShmLockKind::Exclusive).unwrap_err();
    assert!(matches!(err, Error::Misuse { .. }), "{err:?}");
    file.shm_map(0, false).unwrap();
    file.shm_lock(0, 1, ShmLockKind::Exclusive).unwrap();
}

#[test]
fn shm_is_only_for_the_main_database() {
    let vfs = MemoryVfs::new();
    let wal = vfs.open(Some(Path::new("/d-wal")), OpenFlags::create(FileKind::Wal)).unwrap();
    assert!(matches!(wal.shm_map(0, false), Err(Error::Unsupported { op: Op::ShmMap, .. })));
    assert!(matches!(wal.shm_map(0, true), Err(Error::Unsupported { op: Op::ShmMap, .. })));
    let err = wal.shm_lock(0, 1, ShmLockKind::Exclusive).unwrap_err();
    assert!(matches!(err, Error::Unsupported { op: Op::ShmLock, .. }), "{err:?}");
    wal.shm_unmap(true).unwrap();
}

#[test]
fn extending_maps_every_region_up_to_the_one_asked() {
    let vfs = MemoryVfs::new();
    let file = db(&vfs, "/r.db");
    assert!(file.shm_map(3, false).unwrap().is_none());
    let r3 = file.shm_map(3, true).unwrap().unwrap();
    for region in 0..3 {
        let r = file.shm_map(region, false).unwrap().unwrap();
        assert!(!r.same_memory(&r3));
    }
    assert!(file.shm_map(3, false).unwrap().unwrap().same_memory(&r3));
    assert!(file.shm_map(4, false).unwrap().is_none());
}

#[test]
fn shm_node_lives_while_any_handle_is_attached() {
    let vfs = MemoryVfs::new();
    let a = db(&vfs, "/n.db");
    let b = db(&vfs, "/n.db");
    let first = a.shm_map(0, true).unwrap().unwrap();
    first.store_u32(0, 0xfeed, SeqCst);
    // b attaches by asking for a region that does not exist, then a leaves: the node
    // survives for b.
    assert!(b.shm_map(1, false).unwrap().is_none());
    b.shm_lock(2, 1, ShmLockKind::Exclusive).unwrap();
    a.shm_unmap(false).unwrap();
    let seen_by_b = b.shm_map(0, false).unwrap().unwrap();
    assert!(seen_by_b.same_memory(&first));
    // b's drop detaches the last handle; a region clone keeps the old memory readable, but a
    // new first mapper gets a fresh zeroed node.
    drop(b);
    assert_eq!(first.load_u32(0, SeqCst), 0xfeed);
    assert!(a.shm_map(0, false).unwrap().is_none());
    let fresh = a.shm_map(0, true).unwrap().unwrap();
    assert!(!fresh.same_memory(&first));
    assert_eq!(fresh.load_u32(0, SeqCst), 0);
    // b's exclusive slot went with it.
    a.shm_lock(2, 1, ShmLockKind::Exclusive).unwrap();
}

#[test]
fn deleted_database_keeps_its_shm_and_a_new_file_gets_its_own() {
    let vfs = MemoryVfs::new();
    let old = db(&vfs, "/s.db");
    let old_region = old.shm_map(0, true).unwrap().unwrap();
    old.shm_lock(0, 1, ShmLockKind::Exclusive).unwrap();
    vfs.delete(Path::new("/s.db"), false).unwrap();
    old.lock(LockLevel::Shared).unwrap();
    old.lock(LockLevel::Exclusive).unwrap();
    let new = db(&vfs, "/s.db");
    // A different file: its own locks and its own shared memory.
    new.lock(LockLevel::Shared).unwrap();
    new.lock(LockLevel::Exclusive).unwrap();
    assert!(new.shm_map(0, false).unwrap().is_none());
    new.shm_lock(0, 1, ShmLockKind::Exclusive).unwrap();
    assert!(!new.shm_map(0, true).unwrap().unwrap().same_memory(&old_region));
}

#[test]
fn handles_are_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let vfs = MemoryVfs::new();
    let file: Arc<dyn VfsFile> = Arc::from(db(&vfs, "/t.db"));
    assert_send_sync(&vfs);
    assert_send_sync(&file);
    let threads: Vec<_> = (0u8..4)
        .map(|i| {
            let file = Arc::clone(&file);
            crate::sync::thread::spawn(move || {
                for j in 0u64..64 {
                    file.write_at((u64::from(i) * 64 + j) * 16, &[i; 16]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(file.size().unwrap(), 4 * 64 * 16);
    let mut buf = vec![0; 4 * 64 * 16];
    file.read_at(0, &mut buf).unwrap();
    for (i, chunk) in buf.chunks(64 * 16).enumerate() {
        assert!(chunk.iter().all(|&b| usize::from(b) == i), "thread {i}'s bytes");
    }
}

#[test]
fn debug_output_names_the_geometry() {
    let vfs = MemoryVfs::new();
    db(&vfs, "/d");
    let shown = format!("{vfs:?}");
    assert!(shown.contains("n_files: 1") && shown.contains("sector_size: 4096"), "{shown}");
}
