//! Conformance: opening, deleting, reading, writing, truncating and syncing files.

use crate::{assert_cant_open, Env};
use folio_vfs::{AccessCheck, Error, FileKind, Op, OpenFlags, ReadOutcome, SyncFlags};
use std::time::{Duration, Instant};

pub fn create_makes_an_empty_file(env: &Env) {
    assert!(!env.exists("a.db"));
    let file = env.db("a.db");
    assert!(env.exists("a.db"));
    assert_eq!(file.size().unwrap(), 0);
    assert_eq!(file.path(), env.path("a.db"));
    // Opening again with create keeps the contents.
    file.write_at(0, b"kept").unwrap();
    assert_eq!(env.db("a.db").size().unwrap(), 4);
}

pub fn exclusive_create_fails_on_an_existing_file(env: &Env) {
    let flags = OpenFlags::create(FileKind::MainJournal).exclusive();
    let file = env.open("j", flags).unwrap();
    file.write_at(0, b"journal").unwrap();
    let err = assert_cant_open(env.open("j", flags));
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
    // The existing file is untouched.
    assert_eq!(file.size().unwrap(), 7);
}

pub fn missing_file_without_create_is_cant_open(env: &Env) {
    for flags in [OpenFlags::read_write(FileKind::MainDb), OpenFlags::read_only(FileKind::MainDb)] {
        let err = assert_cant_open(env.open("missing.db", flags));
        assert!(err.to_string().contains("missing.db"), "error names the file: {err}");
    }
    assert!(!env.exists("missing.db"), "a failed open created the file");
}

pub fn read_only_handle_refuses_writes(env: &Env) {
    env.db("ro.db").write_at(0, b"abcd").unwrap();
    let ro = env.open("ro.db", OpenFlags::read_only(FileKind::MainDb)).unwrap();
    match ro.write_at(0, b"x") {
        Err(Error::ReadOnly { op: Op::Write, path }) => assert_eq!(path, env.path("ro.db")),
        other => panic!("expected ReadOnly, got {other:?}"),
    }
    assert!(matches!(ro.truncate(0), Err(Error::ReadOnly { op: Op::Truncate, .. })));
    let bufs: [&[u8]; 2] = [b"x", b"y"];
    assert!(matches!(ro.write_vectored_at(0, &bufs), Err(Error::ReadOnly { op: Op::Write, .. })));
    let mut buf = [0; 4];
    assert_eq!(ro.read_at(0, &mut buf).unwrap(), ReadOutcome::Full);
    assert_eq!(&buf, b"abcd");
    assert_eq!(ro.size().unwrap(), 4);
}

/// OS only: the memory VFS has no directories.
pub fn opening_a_directory_is_cant_open(env: &Env) {
    std::fs::create_dir(env.path("sub")).unwrap();
    assert_cant_open(env.open("sub", OpenFlags::read_write(FileKind::MainDb)));
    assert_cant_open(env.open("sub", OpenFlags::create(FileKind::MainDb)));
    assert_cant_open(env.vfs.open(Some(env.dir()), OpenFlags::read_only(FileKind::MainDb)));
}

pub fn delete_removes_the_file(env: &Env) {
    drop(env.db("d.db"));
    env.vfs.delete(&env.path("d.db"), false).unwrap();
    assert!(!env.exists("d.db"));
    drop(env.db("d.db"));
    env.vfs.delete(&env.path("d.db"), true).unwrap();
    assert!(!env.exists("d.db"));
    assert_cant_open(env.open("d.db", OpenFlags::read_write(FileKind::MainDb)));
}

pub fn delete_of_a_missing_file_is_enoent(env: &Env) {
    let err = env.vfs.delete(&env.path("never.db"), false).unwrap_err();
    match &err {
        Error::Io { op: Op::Delete, path, source, .. } => {
            assert_eq!(path, &env.path("never.db"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error from delete, got {other:?}"),
    }
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
}

pub fn delete_keeps_the_data_of_open_handles(env: &Env) {
    let file = env.db("u.db");
    file.write_at(0, b"still here").unwrap();
    env.vfs.delete(&env.path("u.db"), false).unwrap();
    assert!(!env.exists("u.db"));
    // Like unlink: the open handle keeps reading and writing the old file.
    file.write_at(10, b"!").unwrap();
    let mut buf = [0; 11];
    assert_eq!(file.read_at(0, &mut buf).unwrap(), ReadOutcome::Full);
    assert_eq!(&buf, b"still here!");
    // A new file of the same name is a different, empty file.
    let new = env.db("u.db");
    assert_eq!(new.size().unwrap(), 0);
    new.write_at(0, b"new").unwrap();
    assert_eq!(file.size().unwrap(), 11);
}

pub fn delete_on_close_removes_the_file_at_close(env: &Env) {
    let flags = OpenFlags::create(FileKind::SubJournal).delete_on_close();
    let file = env.open("stmt", flags).unwrap();
    file.write_at(0, &[7; 100]).unwrap();
    let mut buf = [0; 100];
    file.read_at(0, &mut buf).unwrap();
    assert_eq!(buf, [7; 100]);
    drop(file);
    assert!(!env.exists("stmt"));
    // Without the flag, the file stays.
    drop(env.open("kept", OpenFlags::create(FileKind::SubJournal)).unwrap());
    assert!(env.exists("kept"));
}

pub fn temp_file_is_usable_and_deleted_on_close(env: &Env) {
    let a = env.vfs.open(None, OpenFlags::create(FileKind::TempDb)).unwrap();
    let b = env.vfs.open(None, OpenFlags::create(FileKind::TempJournal)).unwrap();
    assert_ne!(a.path(), b.path(), "temporary files get distinct names");
    a.write_at(0, b"temp a").unwrap();
    b.write_at(0, b"temp b, longer").unwrap();
    let mut buf = [0; 6];
    a.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"temp a");
    assert_eq!(b.size().unwrap(), 14);
    let path = a.path().to_path_buf();
    drop(a);
    assert!(!env.vfs.access(&path, AccessCheck::Exists).unwrap());
}

pub fn access_reports_existence(env: &Env) {
    let path = env.path("x.db");
    assert!(!env.vfs.access(&path, AccessCheck::Exists).unwrap());
    assert!(!env.vfs.access(&path, AccessCheck::ReadWrite).unwrap());
    drop(env.db("x.db"));
    assert!(env.vfs.access(&path, AccessCheck::Exists).unwrap());
    assert!(env.vfs.access(&path, AccessCheck::ReadWrite).unwrap());
}

pub fn handles_of_one_file_share_its_bytes(env: &Env) {
    let a = env.db("s.db");
    let b = env.db("s.db");
    let ro = env.open("s.db", OpenFlags::read_only(FileKind::MainDb)).unwrap();
    a.write_at(0, &[1; 64]).unwrap();
    b.write_at(32, &[2; 64]).unwrap();
    for file in [&a, &b, &ro] {
        assert_eq!(file.size().unwrap(), 96);
        let mut buf = [0; 96];
        assert_eq!(file.read_at(0, &mut buf).unwrap(), ReadOutcome::Full);
        assert_eq!(buf[..32], [1; 32]);
        assert_eq!(buf[32..], [2; 64]);
    }
    b.truncate(10).unwrap();
    assert_eq!(a.size().unwrap(), 10);
}

pub fn data_survives_reopen(env: &Env) {
    let file = env.db("r.db");
    let page: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    file.write_at(4096, &page).unwrap();
    file.sync(SyncFlags::NORMAL).unwrap();
    drop(file);
    let file = env.open("r.db", OpenFlags::read_write(FileKind::MainDb)).unwrap();
    assert_eq!(file.size().unwrap(), 8192);
    let mut buf = vec![0; 4096];
    file.read_at(4096, &mut buf).unwrap();
    assert_eq!(buf, page);
}

pub fn read_past_eof_is_short(env: &Env) {
    let file = env.db("short.db");
    file.write_at(0, b"0123456789").unwrap();
    // Straddling the end: the real bytes, then zeros (the buffer held garbage before).
    let mut buf = [0xaa; 16];
    assert_eq!(file.read_at(4, &mut buf).unwrap(), ReadOutcome::Short { n_read: 6 });
    assert_eq!(&buf[..6], b"456789");
    assert_eq!(buf[6..], [0; 10]);
    // Entirely past the end.
    let mut buf = [0xaa; 8];
    let outcome = file.read_at(100, &mut buf).unwrap();
    assert_eq!(outcome, ReadOutcome::Short { n_read: 0 });
    assert!(outcome.is_short());
    assert_eq!(buf, [0; 8]);
    // Exactly at the end is also short; exactly to the end is full.
    assert_eq!(file.read_at(10, &mut [0; 1]).unwrap(), ReadOutcome::Short { n_read: 0 });
    assert_eq!(file.read_at(6, &mut [0; 4]).unwrap(), ReadOutcome::Full);
    // An empty file reads as all short.
    let empty = env.db("empty.db");
    assert_eq!(empty.read_at(0, &mut [1; 100]).unwrap(), ReadOutcome::Short { n_read: 0 });
}

pub fn write_past_eof_extends_with_zeros(env: &Env) {
    let file = env.db("hole.db");
    file.write_at(0, b"head").unwrap();
    file.write_at(1000, b"tail").unwrap();
    assert_eq!(file.size().unwrap(), 1004);
    let mut buf = vec![0xaa; 1004];
    assert_eq!(file.read_at(0, &mut buf).unwrap(), ReadOutcome::Full);
    assert_eq!(&buf[..4], b"head");
    assert!(buf[4..1000].iter().all(|&b| b == 0), "the hole reads as zeros");
    assert_eq!(&buf[1000..], b"tail");
    // Overwriting inside the file does not change its size.
    file.write_at(2, b"XY").unwrap();
    assert_eq!(file.size().unwrap(), 1004);
}

/// Writes `bufs` at `offset` with one vectored write into a file holding `before`, and their
/// concatenation with `write_at` into another: both files must end up the same.
fn check_vectored(env: &Env, name: &str, before: &[u8], offset: u64, bufs: &[Vec<u8>]) {
    let (vectored, plain) = (env.db(&format!("{name}-v.db")), env.db(&format!("{name}-c.db")));
    for file in [&vectored, &plain] {
        file.write_at(0, before).unwrap();
    }
    let refs: Vec<&[u8]> = bufs.iter().map(Vec::as_slice).collect();
    vectored.write_vectored_at(offset, &refs).unwrap();
    plain.write_at(offset, &bufs.concat()).unwrap();
    let size = plain.size().unwrap();
    assert_eq!(vectored.size().unwrap(), size, "{name}: size");
    let (mut got, mut want) = (vec![0xaa; size as usize], vec![0x55; size as usize]);
    vectored.read_at(0, &mut got).unwrap();
    plain.read_at(0, &mut want).unwrap();
    assert!(got == want, "{name}: the vectored write differs from its concatenation");
}

/// `n` buffers of lengths 0..=12 (every 13th empty) with distinct bytes.
fn pieces(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| (0..(i * 7) % 13).map(|j| (i * 31 + j * 7) as u8).collect()).collect()
}

/// `start_writeback` is a hint: whatever ranges it is given (inside the file, straddling its
/// end, past it, empty, at the largest offsets, on a read-only handle), the file's bytes and
/// size stay what the writes made them, and a sync afterwards succeeds.
pub fn writeback_hints_change_nothing_a_reader_sees(env: &Env) {
    let file = env.db("wb.db");
    let bytes: Vec<u8> = (0..3 * 4096 + 100).map(|i| (i % 253) as u8).collect();
    file.write_at(0, &bytes).unwrap();
    let size = bytes.len() as u64;
    for (offset, len) in [(0, 4096), (4096, 2 * 4096), (8000, 8000), (size, 4096), (0, 0)] {
        file.start_writeback(offset, len).unwrap_or_else(|e| panic!("{offset}+{len}: {e}"));
    }
    file.start_writeback(u64::MAX - 10, u64::MAX).unwrap();
    file.start_writeback(0, u64::MAX).unwrap();
    file.sync(SyncFlags::NORMAL).unwrap();
    assert_eq!(file.size().unwrap(), size, "a hint changed the size");
    let mut got = vec![0; bytes.len()];
    assert_eq!(file.read_at(0, &mut got).unwrap(), ReadOutcome::Full);
    assert!(got == bytes, "a hint changed the bytes");
    let ro = env.open("wb.db", OpenFlags::read_only(FileKind::MainDb)).unwrap();
    ro.start_writeback(0, size).unwrap();
}

pub fn vectored_write_equals_the_concatenation(env: &Env) {
    let before: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
    check_vectored(env, "inside", &before, 10, &pieces(40));
    check_vectored(env, "straddling", &before, 900, &pieces(40));
    check_vectored(env, "pages", &before, 4096, &[vec![1; 4096], vec![2; 4096], vec![3; 100]]);
    check_vectored(env, "one", &before, 3, &[b"only".to_vec()]);
}

pub fn vectored_write_of_more_than_1024_buffers(env: &Env) {
    // More buffers than one `pwritev` takes (IOV_MAX is 1024 on Linux).
    check_vectored(env, "many", &[7; 100], 50, &pieces(3000));
    let pages: Vec<Vec<u8>> = (0..2100).map(|i| vec![i as u8; 512]).collect();
    check_vectored(env, "many-pages", &[], 512, &pages);
}

pub fn vectored_write_of_empty_buffers_writes_nothing(env: &Env) {
    check_vectored(env, "none", b"abc", 100, &[]);
    check_vectored(env, "empties", b"abc", 100, &[vec![], vec![], vec![]]);
    check_vectored(env, "some-empty", b"abc", 1, &[vec![], b"XY".to_vec(), vec![], vec![]]);
    let file = env.db("none-v.db");
    assert_eq!(file.size().unwrap(), 3, "an empty vectored write does not extend the file");
}

pub fn vectored_write_past_eof_extends_with_zeros(env: &Env) {
    check_vectored(env, "hole", b"head", 10_000, &pieces(30));
    let file = env.db("hole-v.db");
    let mut buf = vec![0xaa; 10_000 - 4];
    file.read_at(4, &mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0), "the hole reads as zeros");
}

pub fn truncate_shrinks_and_extends(env: &Env) {
    let file = env.db("t.db");
    file.write_at(0, &[9; 100]).unwrap();
    file.truncate(40).unwrap();
    assert_eq!(file.size().unwrap(), 40);
    let mut buf = [0; 50];
    assert_eq!(file.read_at(0, &mut buf).unwrap(), ReadOutcome::Short { n_read: 40 });
    // Growing again exposes zeros, not the old bytes.
    file.truncate(100).unwrap();
    assert_eq!(file.size().unwrap(), 100);
    let mut buf = [0xaa; 100];
    assert_eq!(file.read_at(0, &mut buf).unwrap(), ReadOutcome::Full);
    assert_eq!(buf[..40], [9; 40]);
    assert_eq!(buf[40..], [0; 60]);
    file.truncate(0).unwrap();
    assert_eq!(file.size().unwrap(), 0);
}

pub fn size_follows_writes(env: &Env) {
    let file = env.db("z.db");
    let mut expected = 0;
    for (offset, len) in [(0u64, 10usize), (5, 10), (100, 1), (50, 20), (101, 0)] {
        file.write_at(offset, &vec![1; len]).unwrap();
        if len > 0 {
            expected = expected.max(offset + len as u64);
        }
        assert_eq!(file.size().unwrap(), expected, "after writing {len} bytes at {offset}");
    }
}

pub fn sync_succeeds(env: &Env) {
    let file = env.db("sync.db");
    file.write_at(0, b"durable").unwrap();
    for flags in [SyncFlags::NORMAL, SyncFlags::FULL, SyncFlags::DATA_ONLY] {
        file.sync(flags).unwrap();
    }
    let ro = env.open("sync.db", OpenFlags::read_only(FileKind::MainDb)).unwrap();
    ro.sync(SyncFlags::NORMAL).unwrap();
}

pub fn full_path_is_absolute(env: &Env) {
    let full = env.vfs.full_path(&env.path("f.db")).unwrap();
    assert!(full.is_absolute(), "{full:?}");
    assert_eq!(full.file_name().unwrap(), "f.db");
    // Stable: a full path is its own full path.
    assert_eq!(env.vfs.full_path(&full).unwrap(), full);
}

pub fn randomness_fills_the_buffer(env: &Env) {
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    env.vfs.randomness(&mut a).unwrap();
    env.vfs.randomness(&mut b).unwrap();
    assert_ne!(a, b);
    assert!(a.iter().filter(|&&x| x == 0).count() < 16, "{a:?}");
    // Odd lengths are filled too (the last byte is not left at zero every time).
    let filled = (0..16).any(|_| {
        let mut odd = [0u8; 7];
        env.vfs.randomness(&mut odd).unwrap();
        odd[6] != 0
    });
    assert!(filled);
}

pub fn sleep_waits(env: &Env) {
    let start = Instant::now();
    env.vfs.sleep(Duration::from_millis(2));
    assert!(start.elapsed() >= Duration::from_millis(2));
}

pub fn geometry_is_sane(env: &Env) {
    let file = env.db("geo.db");
    let sector = file.sector_size();
    assert!(sector.is_power_of_two() && (512..=65536).contains(&sector), "{sector}");
    // Both VFSes promise powersafe overwrite, as SQLite's unix VFS does by default.
    assert!(file
        .device_characteristics()
        .contains(folio_vfs::DeviceCharacteristics::POWERSAFE_OVERWRITE));
}
