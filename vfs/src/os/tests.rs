//! Unit tests of what only the OS VFS does: the mmap fetch path, open errors from the OS,
//! permission inheritance, read-only fallback and temporary files. The behaviour shared with the
//! memory VFS is in `vfs/tests/conformance.rs`; interop with sqlite3 processes is in folio-tests.

use super::*;
use crate::{FileKind, OpenFlags, Vfs, VfsFile};

fn db(dir: &tempfile::TempDir, name: &str) -> (PathBuf, Box<dyn VfsFile>) {
    let path = dir.path().join(name);
    let file = OsVfs::new().open(Some(&path), OpenFlags::create(FileKind::MainDb)).unwrap();
    (path, file)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn fetched_pages_equal_what_read_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "a.db");
    file.write_at(0, &pattern(4096 * 8, 7)).unwrap();
    assert_eq!(file.set_mmap_limit(1 << 20).unwrap(), 1 << 20);
    for page in 0..8u64 {
        let mapped = file.fetch(page * 4096, 4096).unwrap().expect("page inside file and cap");
        let mut read = vec![0; 4096];
        assert_eq!(file.read_at(page * 4096, &mut read).unwrap(), ReadOutcome::Full);
        assert_eq!(&*mapped, &read[..], "page {page}");
    }
}

#[test]
fn no_page_beyond_the_cap_or_past_end_of_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "a.db");
    file.write_at(0, &pattern(4096 * 4, 1)).unwrap();
    // Mapping is off by default.
    assert!(file.fetch(0, 4096).unwrap().is_none());
    file.set_mmap_limit(4096 * 2).unwrap();
    assert!(file.fetch(0, 4096).unwrap().is_some());
    assert!(file.fetch(4096, 4096).unwrap().is_some());
    assert!(file.fetch(4096 * 2, 4096).unwrap().is_none(), "beyond the cap");
    assert!(file.fetch(4096 + 1, 4096).unwrap().is_none(), "straddles the cap");
    file.set_mmap_limit(1 << 30).unwrap();
    assert!(file.fetch(4096 * 3, 4096).unwrap().is_some());
    assert!(file.fetch(4096 * 4, 4096).unwrap().is_none(), "past end of file");
    assert!(file.fetch(4096 * 3 + 1, 4096).unwrap().is_none(), "straddles end of file");
    assert!(file.fetch(u64::MAX - 10, 4096).unwrap().is_none(), "offset overflow");
}

#[test]
fn the_cap_is_clamped_to_sqlites_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "a.db");
    assert_eq!(file.set_mmap_limit(u64::MAX).unwrap(), crate::MAX_MMAP_SIZE);
    assert_eq!(file.set_mmap_limit(0).unwrap(), 0);
}

#[test]
fn a_growing_file_is_remapped_and_old_pages_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "a.db");
    file.set_mmap_limit(1 << 20).unwrap();
    file.write_at(0, &pattern(4096, 3)).unwrap();
    let first = file.fetch(0, 4096).unwrap().unwrap();
    assert!(file.fetch(4096, 4096).unwrap().is_none());
    // Another handle (as another connection would) grows the file.
    let other =
        OsVfs::new().open(Some(file.path()), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    other.write_at(4096, &pattern(4096 * 3, 9)).unwrap();
    let grown = file.fetch(4096 * 3, 4096).unwrap().expect("remapped after growth");
    assert_eq!(&*grown, &pattern(4096 * 3, 9)[4096 * 2..]);
    // The page fetched before the remap still reads the same bytes.
    assert_eq!(&*first, &pattern(4096, 3)[..]);
}

#[test]
fn truncate_hides_pages_past_the_new_end() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "a.db");
    file.set_mmap_limit(1 << 20).unwrap();
    file.write_at(0, &pattern(4096 * 4, 5)).unwrap();
    assert!(file.fetch(4096 * 3, 4096).unwrap().is_some());
    file.truncate(4096 * 2).unwrap();
    assert!(file.fetch(4096 * 3, 4096).unwrap().is_none());
    assert!(file.fetch(4096 * 2, 4096).unwrap().is_none());
    assert_eq!(&*file.fetch(4096, 4096).unwrap().unwrap(), &pattern(4096 * 4, 5)[4096..8192]);
}

#[test]
fn writes_through_pwrite_are_seen_by_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "a.db");
    file.set_mmap_limit(1 << 20).unwrap();
    file.write_at(0, &pattern(8192, 0)).unwrap();
    let page = file.fetch(4096, 4096).unwrap().unwrap();
    file.write_at(4096, &[0xAB; 16]).unwrap();
    // MAP_SHARED over the unified page cache: the map sees the write at once. (This is why a
    // page may only be held under a lock that keeps writers out.)
    assert_eq!(&page[..16], &[0xAB; 16]);
    file.unmap();
    assert_eq!(&page[..16], &[0xAB; 16], "unmap keeps outstanding pages alive");
}

#[test]
fn journal_and_wal_inherit_the_database_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _file) = db(&dir, "a.db");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    for (suffix, kind) in [("-journal", FileKind::MainJournal), ("-wal", FileKind::Wal)] {
        let log = PathBuf::from(format!("{}{suffix}", path.display()));
        let _f = OsVfs::new().open(Some(&log), OpenFlags::create(kind)).unwrap();
        let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{suffix}");
    }
}

#[test]
fn open_errors_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = OsVfs::new();
    let err = vfs
        .open(Some(&dir.path().join("no/such/dir/a.db")), OpenFlags::create(FileKind::MainDb))
        .unwrap_err();
    assert!(matches!(err, Error::CantOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir/a.db"), "{err}");
    let err = vfs.open(Some(dir.path()), OpenFlags::read_only(FileKind::MainDb)).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

#[test]
fn an_unwritable_database_opens_read_only() {
    if running_as_root() {
        // Root ignores permission bits, so the file stays writable; check the other half: the
        // open succeeds read-write.
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = db(&dir, "a.db");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let f = OsFile::open(Some(&path), OpenFlags::read_write(FileKind::MainDb)).unwrap();
        assert!(!f.is_read_only());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = db(&dir, "a.db");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let f = OsFile::open(Some(&path), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    assert!(f.is_read_only());
    assert!(matches!(f.write_at(0, b"x").unwrap_err(), Error::ReadOnly { op: Op::Write, .. }));
}

/// True when the test runs as root (permission bits do not bind).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

#[test]
fn temporary_files_vanish_on_close() {
    let vfs = OsVfs::new();
    let file = vfs.open(None, OpenFlags::create(FileKind::TempDb)).unwrap();
    let path = file.path().to_path_buf();
    file.write_at(0, b"scratch").unwrap();
    assert!(path.exists());
    drop(file);
    assert!(!path.exists());
}

#[test]
fn read_write_access_asks_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = db(&dir, "a.db");
    let vfs = OsVfs::new();
    assert!(vfs.access(&path, AccessCheck::ReadWrite).unwrap());
    assert!(!vfs.access(&dir.path().join("missing"), AccessCheck::ReadWrite).unwrap());
    assert!(!vfs.access(&dir.path().join("missing"), AccessCheck::Exists).unwrap());
}

#[test]
fn full_path_resolves_relative_names() {
    let vfs = OsVfs::new();
    let full = vfs.full_path(Path::new("some.db")).unwrap();
    assert!(full.is_absolute());
    assert_eq!(full.file_name().unwrap(), "some.db");
    assert_eq!(full.parent().unwrap(), std::fs::canonicalize(".").unwrap());
}

#[test]
fn randomness_differs_between_calls() {
    let vfs = OsVfs::new();
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    vfs.randomness(&mut a).unwrap();
    vfs.randomness(&mut b).unwrap();
    assert_ne!(a, b);
}

#[test]
fn delete_on_close_never_removes_a_newer_file_with_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scratch");
    let vfs = OsVfs::new();
    let old = vfs.open(Some(&path), OpenFlags::create(FileKind::TempDb).delete_on_close()).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"someone else's").unwrap();
    drop(old);
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
}

/// How many of this process's descriptors are open on `path` (from `/proc/self/fd`), so a
/// count is not disturbed by other tests opening other files meanwhile.
fn descriptors_on(path: &Path) -> usize {
    let path = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == path)
        .count()
}

#[test]
fn a_parked_descriptor_is_taken_back_by_the_next_open_so_none_pile_up() {
    let dir = tempfile::tempdir().unwrap();
    let (path, live) = db(&dir, "a.db");
    live.write_at(0, &pattern(4096, 1)).unwrap();
    // The live handle holds SHARED for good, as an idle WAL connection does: every other
    // handle's descriptor must be parked when it closes, and taken back by the next open.
    live.lock(LockLevel::Shared).unwrap();
    let before = descriptors_on(&path);
    for cycle in 0..10_000 {
        let other =
            OsVfs::new().open(Some(&path), OpenFlags::read_write(FileKind::MainDb)).unwrap();
        other.lock(LockLevel::Shared).unwrap();
        let mut buf = [0u8; 16];
        other.read_at(0, &mut buf).unwrap();
        assert_eq!(buf[..], pattern(4096, 1)[..16], "cycle {cycle}");
        other.unlock(LockLevel::None).unwrap();
        drop(other);
        assert!(descriptors_on(&path) <= before + 1, "cycle {cycle}: descriptors pile up");
    }
    // A read-only open never takes a read-write descriptor (nor the other way round).
    let reader = OsVfs::new().open(Some(&path), OpenFlags::read_only(FileKind::MainDb)).unwrap();
    assert!(matches!(reader.write_at(0, b"x").unwrap_err(), Error::ReadOnly { .. }));
    drop(reader);
    let writer = OsVfs::new().open(Some(&path), OpenFlags::read_write(FileKind::MainDb)).unwrap();
    writer.write_at(4096, b"still writable").unwrap();
    drop(writer);
    // The live handle's lock survived every close (its POSIX lock was never dropped) ...
    assert_eq!(live.lock_level(), LockLevel::Shared);
    // ... and when it goes, the parked descriptors are closed with it.
    live.unlock(LockLevel::None).unwrap();
    drop(live);
    assert_eq!(descriptors_on(&path), 0);
}

#[test]
fn symbolic_links_resolve_as_sqlite_resolves_them() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("real.db"), b"").unwrap();
    // A chain of relative links, one through a directory link.
    symlink("sub/second", root.join("first")).unwrap();
    symlink("../real.db", root.join("sub/second")).unwrap();
    symlink("sub", root.join("subdir")).unwrap();
    let vfs = OsVfs::new();
    let resolved = vfs.canonical_path(&root.join("first")).unwrap();
    assert_eq!(resolved, CanonicalPath { path: root.join("real.db"), via_symlink: true });
    assert_eq!(vfs.full_path(&root.join("first")).unwrap(), root.join("real.db"));
    // `..` after a directory link leaves the directory the link leads to.
    let through = vfs.canonical_path(&root.join("subdir/../real.db")).unwrap();
    assert_eq!(through, CanonicalPath { path: root.join("real.db"), via_symlink: true });
    // No link: the name as given, made absolute; a file that does not exist yet is fine.
    let plain = vfs.canonical_path(&root.join("sub/./new.db")).unwrap();
    assert_eq!(plain, CanonicalPath { path: root.join("sub/new.db"), via_symlink: false });
    // A dangling link names the file it would create.
    symlink("/nonexistent-folio-dir/x.db", root.join("dangling")).unwrap();
    assert_eq!(
        vfs.full_path(&root.join("dangling")).unwrap(),
        Path::new("/nonexistent-folio-dir/x.db")
    );
    // A loop is refused after SQLite's limit, with the name and the reason.
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    let err = vfs.full_path(&root.join("loop-a")).unwrap_err();
    assert!(matches!(err, Error::Io { op: Op::FullPath, .. }), "{err:?}");
    assert!(err.to_string().contains("more than 100 symbolic links"), "{err}");
    assert!(err.to_string().contains("loop-a"), "{err}");
}

#[test]
fn no_follow_refuses_a_symbolic_link_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _file) = db(&dir, "real.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let vfs = OsVfs::new();
    let flags = OpenFlags::read_write(FileKind::MainDb).no_follow();
    let err = vfs.open(Some(&link), flags).unwrap_err();
    assert!(matches!(err, Error::CantOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(err.to_string().contains("link.db"), "{err}");
    vfs.open(Some(&path), flags).expect("the file itself opens with no_follow");
    vfs.open(Some(&link), OpenFlags::read_write(FileKind::MainDb)).expect("links are followed");
}

#[test]
fn a_file_renamed_deleted_or_replaced_has_moved() {
    let dir = tempfile::tempdir().unwrap();
    let (path, file) = db(&dir, "a.db");
    assert!(!file.has_moved().unwrap());
    std::fs::rename(&path, dir.path().join("b.db")).unwrap();
    assert!(file.has_moved().unwrap(), "renamed");
    std::fs::write(&path, b"another file under the old name").unwrap();
    assert!(file.has_moved().unwrap(), "replaced");
    std::fs::remove_file(&path).unwrap();
    std::fs::rename(dir.path().join("b.db"), &path).unwrap();
    assert!(!file.has_moved().unwrap(), "back under its name");
    std::fs::hard_link(&path, dir.path().join("c.db")).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(file.has_moved().unwrap(), "its name removed, another link left");
    std::fs::remove_file(dir.path().join("c.db")).unwrap();
    assert!(file.has_moved().unwrap(), "deleted");
}

#[test]
fn sidecar_files_get_the_database_mode_whatever_the_umask_and_its_owner_as_root() {
    let dir = tempfile::tempdir().unwrap();
    let (path, file) = db(&dir, "a.db");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let owner = if running_as_root() {
        std::os::unix::fs::chown(&path, Some(4242), Some(4343)).unwrap();
        (4242, 4343)
    } else {
        let meta = std::fs::metadata(&path).unwrap();
        (meta.uid(), meta.gid())
    };
    // The usual umask cuts group and other write bits from every file created; SQLite gives a
    // journal, WAL and -shm the database's own mode all the same (`robust_open`'s fchmod).
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let files: Vec<PathBuf> = [("-journal", FileKind::MainJournal), ("-wal", FileKind::Wal)]
        .into_iter()
        .map(|(suffix, kind)| {
            let log = PathBuf::from(format!("{}{suffix}", path.display()));
            OsVfs::new().open(Some(&log), OpenFlags::create(kind)).unwrap();
            log
        })
        .collect();
    file.shm_map(0, true).unwrap();
    rustix::process::umask(old);
    for sidecar in files.iter().chain([&PathBuf::from(format!("{}-shm", path.display()))]) {
        let meta = std::fs::metadata(sidecar).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o666, "{}", sidecar.display());
        assert_eq!((meta.uid(), meta.gid()), owner, "{}", sidecar.display());
    }
    file.shm_unmap(true).unwrap();
}

#[test]
fn with_a_chunk_size_truncate_keeps_whole_chunks_and_a_size_hint_grows_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = db(&dir, "chunk.db");
    let bytes = pattern(40_000, 3);
    file.write_at(0, &bytes).unwrap();
    // No chunk size: a hint does nothing.
    file.size_hint(100_000).unwrap();
    assert_eq!(file.size().unwrap(), 40_000, "a hint without a chunk size");
    file.set_chunk_size(32768);
    assert_eq!(file.chunk_size(), 32768);
    file.truncate(4097).unwrap();
    assert_eq!(file.size().unwrap(), 32768, "truncate to 4097 with 32 KiB chunks");
    file.size_hint(70_000).unwrap();
    assert_eq!(file.size().unwrap(), 3 * 32768, "a hint of 70000 bytes");
    file.size_hint(10).unwrap();
    assert_eq!(file.size().unwrap(), 3 * 32768, "a hint below the size never shrinks");
    let mut all = vec![0xaa; 3 * 32768];
    assert_eq!(file.read_at(0, &mut all).unwrap(), ReadOutcome::Full);
    assert_eq!(&all[..32768], &bytes[..32768], "the bytes the truncate kept");
    assert!(all[32768..].iter().all(|&b| b == 0), "preallocated bytes read as zeros");
}

#[test]
fn blocks_written_one_byte_each_reach_the_rounded_size_with_zeros() {
    // The fallback where the file system has no fallocate, driven directly.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks");
    let file =
        std::fs::OpenOptions::new().create_new(true).read(true).write(true).open(&path).unwrap();
    file.write_all_at(&pattern(5000, 9), 0).unwrap();
    write_blocks(&file, 5000, 20_000, 4096).map_err(|(at, e)| format!("at {at}: {e}")).unwrap();
    assert_eq!(file.metadata().unwrap().len(), 20_000);
    let mut all = vec![0xaa; 20_000];
    file.read_exact_at(&mut all, 0).unwrap();
    assert_eq!(&all[..5000], &pattern(5000, 9)[..]);
    assert!(all[5000..].iter().all(|&b| b == 0));
}

#[test]
fn temp_file_names_are_fresh_absolute_and_unused() {
    let vfs = OsVfs::new();
    let a = vfs.temp_file_name().expect("the OS VFS names temporary files");
    let b = vfs.temp_file_name().unwrap();
    assert_ne!(a, b);
    assert!(a.is_absolute(), "{a:?}");
    assert!(!a.exists(), "{a:?} already exists");
}
