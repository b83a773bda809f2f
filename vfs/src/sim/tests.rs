//! Tests of the simulated disk model, one per rule. Rules about what *can* happen are checked
//! over many seeds (it happens for some, not for others); rules about what must never happen are
//! checked over every one of those seeds.

use super::*;
use crate::DeviceCharacteristics as Dc;

const SEEDS: u64 = 200;
const DB: &str = "/d/test.db";

fn open(vfs: &SimVfs, path: &str) -> Box<dyn VfsFile> {
    vfs.open(Some(Path::new(path)), OpenFlags::create(FileKind::MainDb)).unwrap()
}

/// A disk with `path` created and its name made durable.
fn disk_with_file(seed: u64, dc: Dc) -> (SimVfs, Box<dyn VfsFile>) {
    let vfs = SimVfs::new(SimConfig::new(seed).with_characteristics(dc).with_sector_size(512));
    let f = open(&vfs, DB);
    vfs.lock().disk.sync_dir(Path::new("/d"));
    (vfs, f)
}

fn after_crash(vfs: &SimVfs, path: &str) -> Option<Vec<u8>> {
    vfs.crash_now().files.get(Path::new(path)).cloned()
}

fn filled(len: usize, byte: u8) -> Vec<u8> {
    vec![byte; len]
}

#[test]
fn unsynced_writes_can_be_lost_or_kept() {
    let (mut lost, mut kept) = (0, 0);
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        f.write_at(0, &filled(512, 1)).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        f.write_at(0, &filled(512, 2)).unwrap();
        match after_crash(&vfs, DB).unwrap().as_slice() {
            b if b == filled(512, 1) => lost += 1,
            b if b == filled(512, 2) => kept += 1,
            _ => {} // torn
        }
    }
    assert!(lost > 0 && kept > 0, "lost {lost}, kept {kept} of {SEEDS}");
}

#[test]
fn synced_writes_are_never_lost() {
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        f.write_at(0, &filled(1024, 7)).unwrap();
        f.sync(SyncFlags::NORMAL).unwrap();
        // Unsynced activity elsewhere (another sector, another file) cannot harm it.
        f.write_at(4096, &filled(512, 8)).unwrap();
        open(&vfs, "/d/other").write_at(0, b"x").unwrap();
        let bytes = after_crash(&vfs, DB).unwrap();
        assert_eq!(&bytes[..1024], &filled(1024, 7)[..], "seed {seed:#x}");
    }
}

#[test]
fn a_sync_covers_only_its_own_file() {
    let (vfs, f) = disk_with_file(1, Dc::NONE);
    let g = open(&vfs, "/d/g");
    f.write_at(0, b"f").unwrap();
    g.write_at(0, b"g").unwrap();
    f.sync(SyncFlags::FULL).unwrap();
    assert_eq!(vfs.pending().0, 1, "g's write is still pending");
}

/// Sectors of the file that differ from both the old and the new contents.
fn garbage_sectors(result: &[u8], old: &[u8], new: &[u8], sector: usize) -> Vec<usize> {
    (0..result.len().div_ceil(sector))
        .filter(|&s| {
            let r = s * sector..((s + 1) * sector).min(result.len());
            let slice = |b: &[u8]| b.get(r.clone()).map(<[u8]>::to_vec);
            let got = slice(result);
            got != slice(old) && got != slice(new)
        })
        .collect()
}

#[test]
fn tearing_is_sector_granular_and_stays_inside_the_sectors_written() {
    let mut torn = 0;
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        let old = filled(512 * 8, 1);
        f.write_at(0, &old).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        // Sectors 2..=4 touched, 2 and 4 only partly.
        f.write_at(512 * 2 + 100, &filled(512 * 2, 9)).unwrap();
        let mut new = old.clone();
        new[512 * 2 + 100..512 * 4 + 100].fill(9);
        let got = after_crash(&vfs, DB).unwrap();
        assert_eq!(got.len(), old.len(), "seed {seed:#x}");
        for s in [0, 1, 5, 6, 7] {
            assert_eq!(
                &got[s * 512..(s + 1) * 512],
                &old[s * 512..(s + 1) * 512],
                "seed {seed:#x}"
            );
        }
        if got != old && got != new {
            torn += 1;
        }
    }
    assert!(torn > 0, "no torn write in {SEEDS} seeds");
}

#[test]
fn without_powersafe_overwrite_garbage_can_hit_neighbouring_bytes_and_with_it_never() {
    let mut neighbour_hit = 0;
    for (dc, must_spare) in [(Dc::NONE, false), (Dc::POWERSAFE_OVERWRITE, true)] {
        for seed in 0..SEEDS {
            let (vfs, f) = disk_with_file(seed, dc);
            f.write_at(0, &filled(512, 1)).unwrap();
            f.sync(SyncFlags::FULL).unwrap();
            f.write_at(100, &filled(100, 9)).unwrap();
            let got = after_crash(&vfs, DB).unwrap();
            let spared = got[..100] == filled(100, 1)[..] && got[200..] == filled(312, 1)[..];
            if must_spare {
                assert!(spared, "seed {seed:#x}: PSOW write damaged bytes it did not write");
            } else if !spared {
                neighbour_hit += 1;
            }
        }
    }
    assert!(neighbour_hit > 0, "garbage never spilled outside the write without PSOW");
}

#[test]
fn atomic_devices_never_tear() {
    for (dc, len) in [(Dc::ATOMIC, 512 * 5), (Dc::ATOMIC4K, 4096)] {
        for seed in 0..SEEDS {
            let (vfs, f) = disk_with_file(seed, dc);
            let old = filled(8192, 1);
            f.write_at(0, &old).unwrap();
            f.sync(SyncFlags::FULL).unwrap();
            f.write_at(4096, &filled(len, 2)).unwrap();
            let mut new = old.clone();
            new[4096..4096 + len].fill(2);
            let got = after_crash(&vfs, DB).unwrap();
            assert!(got == old || got == new, "seed {seed:#x} {dc:?}: a write was torn");
        }
    }
}

#[test]
fn atomic4k_still_tears_writes_larger_than_the_atomic_unit() {
    let torn = (0..SEEDS).any(|seed| {
        let (vfs, f) = disk_with_file(seed, Dc::ATOMIC4K);
        f.write_at(0, &filled(8192, 1)).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        f.write_at(0, &filled(8192, 2)).unwrap();
        let got = after_crash(&vfs, DB).unwrap();
        !garbage_sectors(&got, &filled(8192, 1), &filled(8192, 2), 512).is_empty()
            || (got != filled(8192, 1) && got != filled(8192, 2))
    });
    assert!(torn, "an 8 KiB write on an ATOMIC4K device was never torn");
}

#[test]
fn safe_append_never_leaves_garbage_past_the_old_end() {
    let mut garbage_without = 0;
    for (dc, safe) in [(Dc::NONE, false), (Dc::SAFE_APPEND, true)] {
        for seed in 0..SEEDS {
            let (vfs, f) = disk_with_file(seed, dc);
            f.write_at(0, &filled(1000, 1)).unwrap();
            f.sync(SyncFlags::FULL).unwrap();
            f.write_at(1000, &filled(3000, 2)).unwrap();
            let got = after_crash(&vfs, DB).unwrap();
            let tail = &got[got.len().min(1000)..];
            let clean = tail.iter().all(|&b| b == 2) && (tail.is_empty() || tail.len() == 3000);
            if safe {
                assert!(clean, "seed {seed:#x}: safe-append left {tail:?}");
            } else if !clean {
                garbage_without += 1;
            }
        }
    }
    assert!(garbage_without > 0, "appends were never damaged without SAFE_APPEND");
}

#[test]
fn safe_append_appends_survive_in_order() {
    // Two appends; the second may only survive if the first did: a file never grows past a
    // lost append (which would leave a hole of zeros that a journal reader would trust).
    let (mut second_only_without, mut both, mut neither) = (0, 0, 0);
    for (dc, safe) in [(Dc::NONE, false), (Dc::SAFE_APPEND, true)] {
        for seed in 0..SEEDS {
            let (vfs, f) = disk_with_file(seed, dc);
            f.write_at(0, &filled(512, 1)).unwrap();
            f.sync(SyncFlags::FULL).unwrap();
            f.write_at(512, &filled(512, 2)).unwrap();
            f.write_at(1024, &filled(512, 3)).unwrap();
            let got = after_crash(&vfs, DB).unwrap();
            let first = got.len() >= 1024 && got[512..1024].iter().all(|&b| b == 2);
            let second = got.len() >= 1536 && got[1024..1536].iter().all(|&b| b == 3);
            if safe {
                assert!(!second || first, "seed {seed:#x}: the second append outlived the first");
                both += usize::from(first && second);
                neither += usize::from(got.len() == 512);
            } else {
                second_only_without += usize::from(second && !first);
            }
        }
    }
    assert!(second_only_without > 0, "without SAFE_APPEND appends are independent");
    assert!(both > 0 && neither > 0, "both {both}, neither {neither}");
}

#[test]
fn a_sequential_device_orders_names_with_data() {
    // A journal created and written, then the database written: on a sequential device the
    // database write can only survive if the journal's name and bytes did.
    let (mut db_kept, mut all_lost) = (0, 0);
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::SEQUENTIAL);
        let j = vfs
            .open(Some(Path::new("/d/test.db-journal")), OpenFlags::create(FileKind::MainJournal))
            .unwrap();
        j.write_at(0, b"journal").unwrap();
        f.write_at(0, b"db").unwrap();
        let image = vfs.crash_now();
        let journal = image.files.get(Path::new("/d/test.db-journal"));
        if image.files[Path::new(DB)].starts_with(b"db") {
            assert_eq!(journal.map(Vec::as_slice), Some(&b"journal"[..]), "seed {seed:#x}");
            db_kept += 1;
        }
        all_lost += usize::from(journal.is_none());
    }
    assert!(db_kept > 0 && all_lost > 0, "db kept {db_kept}, all lost {all_lost}");
}

#[test]
fn a_sequential_device_keeps_a_prefix_of_the_writes() {
    let mut shapes = std::collections::BTreeSet::new();
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::SEQUENTIAL);
        f.write_at(0, &filled(512 * 6, 0)).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        for i in 0..6u64 {
            f.write_at(i * 512, &filled(512, i as u8 + 1)).unwrap();
        }
        let got = after_crash(&vfs, DB).unwrap();
        let survived: Vec<bool> = (0..6).map(|i| got[i * 512] == i as u8 + 1).collect();
        let prefix = survived.iter().take_while(|&&s| s).count();
        assert!(
            survived[prefix..].iter().all(|&s| !s),
            "seed {seed:#x}: {survived:?} is no prefix"
        );
        shapes.insert(prefix);
    }
    assert!(shapes.len() > 3, "cut points seen: {shapes:?}");
}

#[test]
fn a_sequential_sync_makes_every_earlier_write_durable() {
    let (vfs, f) = disk_with_file(3, Dc::SEQUENTIAL);
    let g = open(&vfs, "/d/g");
    g.write_at(0, b"earlier, other file").unwrap();
    f.write_at(0, b"later").unwrap();
    f.sync(SyncFlags::FULL).unwrap();
    assert_eq!(vfs.pending().0, 0);
}

#[test]
fn creates_and_deletes_are_undone_by_a_crash_unless_the_directory_was_synced() {
    let (mut create_lost, mut delete_undone) = (0, 0);
    for seed in 0..SEEDS {
        let vfs = SimVfs::new(SimConfig::new(seed));
        let f = open(&vfs, "/d/a");
        f.write_at(0, b"x").unwrap();
        f.sync(SyncFlags::FULL).unwrap(); // data durable, name not yet
        let g = open(&vfs, "/d/b");
        g.sync(SyncFlags::FULL).unwrap();
        vfs.lock().disk.sync_dir(Path::new("/d")); // both names durable
        let h = open(&vfs, "/d/c"); // name pending
        h.sync(SyncFlags::FULL).unwrap();
        vfs.delete(Path::new("/d/b"), false).unwrap(); // delete pending
        let image = vfs.crash_now();
        assert!(image.files.contains_key(Path::new("/d/a")), "seed {seed:#x}: synced name lost");
        assert_eq!(image.files[Path::new("/d/a")], b"x");
        create_lost += usize::from(!image.files.contains_key(Path::new("/d/c")));
        delete_undone += usize::from(image.files.contains_key(Path::new("/d/b")));
    }
    assert!(create_lost > 0 && create_lost < SEEDS as usize, "create lost {create_lost}");
    assert!(delete_undone > 0 && delete_undone < SEEDS as usize, "delete undone {delete_undone}");
}

#[test]
fn a_delete_with_directory_sync_is_never_undone() {
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        let j = vfs
            .open(Some(Path::new("/d/test.db-journal")), OpenFlags::create(FileKind::MainJournal))
            .unwrap();
        j.write_at(0, b"journal").unwrap();
        j.sync(SyncFlags::FULL).unwrap(); // first sync of a created journal syncs the directory
        drop(j);
        f.write_at(0, b"db").unwrap();
        vfs.delete(Path::new("/d/test.db-journal"), true).unwrap();
        let image = vfs.crash_now();
        assert!(!image.files.contains_key(Path::new("/d/test.db-journal")), "seed {seed:#x}");
    }
}

#[test]
fn a_created_journal_name_is_durable_after_its_first_sync() {
    for seed in 0..SEEDS {
        let vfs = SimVfs::new(SimConfig::new(seed));
        let j = vfs
            .open(Some(Path::new("/d/x.db-journal")), OpenFlags::create(FileKind::MainJournal))
            .unwrap();
        j.write_at(0, b"journal").unwrap();
        j.sync(SyncFlags::FULL).unwrap();
        let image = vfs.crash_now();
        assert_eq!(image.files.get(Path::new("/d/x.db-journal")).unwrap(), b"journal");
    }
}

#[test]
fn truncates_are_undone_by_a_crash_unless_synced() {
    let mut undone = 0;
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        f.write_at(0, &filled(2048, 1)).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        f.truncate(512).unwrap();
        let len = after_crash(&vfs, DB).unwrap().len();
        assert!(len == 512 || len == 2048, "seed {seed:#x}: {len}");
        undone += usize::from(len == 2048);

        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        f.write_at(0, &filled(2048, 1)).unwrap();
        f.truncate(512).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        assert_eq!(after_crash(&vfs, DB).unwrap().len(), 512, "seed {seed:#x}");
    }
    assert!(undone > 0 && undone < SEEDS as usize, "undone {undone}");
}

#[test]
fn crash_points_stop_the_world_at_the_chosen_write_or_sync() {
    let (vfs, f) = disk_with_file(5, Dc::NONE);
    vfs.crash_at(CrashAt::Write(3));
    f.write_at(0, b"1").unwrap();
    f.write_at(1, b"2").unwrap();
    let err = f.write_at(2, b"3").unwrap_err();
    assert!(err.to_string().contains("power loss"), "{err}");
    assert!(vfs.has_crashed());
    assert!(f.read_at(0, &mut [0; 1]).is_err(), "reads fail after the power is gone");
    assert!(vfs.open(Some(Path::new(DB)), OpenFlags::read_only(FileKind::MainDb)).is_err());

    let (vfs, f) = disk_with_file(5, Dc::NONE);
    vfs.crash_at(CrashAt::Sync(2));
    f.write_at(0, b"a").unwrap();
    f.sync(SyncFlags::FULL).unwrap();
    f.write_at(0, b"b").unwrap();
    assert!(f.sync(SyncFlags::FULL).is_err());
    // The crash replaced the second sync: "b" was pending and may or may not be there; "a"
    // was synced and is the only other possibility.
    let image = vfs.crash_image().unwrap();
    assert!(matches!(image.files[Path::new(DB)].as_slice(), b"a" | b"b"));
}

#[test]
fn same_seed_same_image_bit_for_bit() {
    let run = |seed| {
        let (vfs, f) = disk_with_file(seed, Dc::NONE);
        let mut bytes = [0u8; 3000];
        vfs.randomness(&mut bytes).unwrap();
        for i in 0..20u64 {
            f.write_at(i * 700, &bytes[(i as usize * 100) % 2000..][..700]).unwrap();
            if i % 7 == 3 {
                f.sync(SyncFlags::FULL).unwrap();
            }
        }
        vfs.crash_now()
    };
    assert_eq!(run(42), run(42));
    assert_eq!(run(42).digest(), run(42).digest());
    let digests: std::collections::BTreeSet<u64> = (0..8).map(|s| run(s).digest()).collect();
    assert!(digests.len() > 1, "different seeds gave identical images");
}

#[test]
fn a_crash_image_boots_a_new_disk_and_writes_to_a_real_directory() {
    let (vfs, f) = disk_with_file(9, Dc::NONE);
    f.write_at(0, b"durable").unwrap();
    f.sync(SyncFlags::FULL).unwrap();
    let image = vfs.crash_now();
    let rebooted = SimVfs::from_image(&image, SimConfig::new(10));
    assert_eq!(rebooted.contents(Path::new(DB)).unwrap(), b"durable");
    let dir = tempfile::tempdir().unwrap();
    image.write_to_dir(dir.path()).unwrap();
    assert_eq!(std::fs::read(dir.path().join("test.db")).unwrap(), b"durable");
}

#[test]
fn faults_fail_the_nth_operation_once_or_from_then_on() {
    let (vfs, f) = disk_with_file(1, Dc::NONE);
    let base = vfs.op_count(FaultOp::Write);
    vfs.add_fault(FaultRule::once(FaultOp::Write, 2, FaultKind::Io));
    f.write_at(0, b"1").unwrap();
    let err = f.write_at(0, b"2").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(err.to_string().contains(DB) && err.to_string().contains("offset 0"), "{err}");
    f.write_at(0, b"3").unwrap();
    assert_eq!(vfs.op_count(FaultOp::Write), base + 3);

    vfs.add_fault(FaultRule::from_then_on(FaultOp::Sync, 1, FaultKind::DiskFull));
    for _ in 0..3 {
        assert!(f.sync(SyncFlags::FULL).unwrap_err().is_disk_full());
    }
    vfs.clear_faults();
    f.sync(SyncFlags::FULL).unwrap();
}

#[test]
fn faults_reach_every_kind_of_operation() {
    for op in FaultOp::ALL {
        let (vfs, f) = disk_with_file(1, Dc::NONE);
        vfs.add_fault(FaultRule::once(op, 1, FaultKind::Permission));
        let failed = match op {
            FaultOp::Open => open_err(&vfs),
            FaultOp::Read => f.read_at(0, &mut [0; 4]).is_err(),
            FaultOp::Write => f.write_at(0, b"x").is_err(),
            FaultOp::Sync => f.sync(SyncFlags::FULL).is_err(),
            FaultOp::Truncate => f.truncate(0).is_err(),
            FaultOp::Lock => f.lock(LockLevel::Shared).is_err(),
            FaultOp::ShmMap => f.shm_map(0, true).is_err(),
            FaultOp::Delete => vfs.delete(Path::new(DB), false).is_err(),
        };
        assert!(failed, "{op:?} did not fail");
    }
}

fn open_err(vfs: &SimVfs) -> bool {
    vfs.open(Some(Path::new(DB)), OpenFlags::read_write(FileKind::MainDb)).is_err()
}

#[test]
fn path_filters_count_only_matching_files() {
    let (vfs, f) = disk_with_file(1, Dc::NONE);
    let j = open(&vfs, "/d/test.db-journal");
    vfs.add_fault(
        FaultRule::once(FaultOp::Write, 1, FaultKind::Io).on_paths_ending_with("-journal"),
    );
    f.write_at(0, b"db is not counted").unwrap();
    assert!(j.write_at(0, b"journal").is_err());
}

#[test]
fn short_reads_and_short_writes() {
    let (vfs, f) = disk_with_file(1, Dc::NONE);
    f.write_at(0, &filled(100, 5)).unwrap();
    vfs.add_fault(FaultRule::once(FaultOp::Read, 1, FaultKind::ShortRead));
    let mut buf = [0xff; 100];
    assert_eq!(f.read_at(0, &mut buf).unwrap(), ReadOutcome::Short { n_read: 50 });
    assert_eq!(&buf[..50], &filled(50, 5)[..]);
    assert_eq!(&buf[50..], &[0; 50][..]);

    vfs.add_fault(FaultRule::once(FaultOp::Write, 2, FaultKind::ShortWrite));
    f.write_at(0, &filled(100, 5)).unwrap();
    let err = f.write_at(0, &filled(100, 6)).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    let now = vfs.contents(Path::new(DB)).unwrap();
    assert_eq!(&now[..50], &filled(50, 6)[..], "first half written");
    assert_eq!(&now[50..], &filled(50, 5)[..], "second half not");
}

#[test]
fn a_vectored_write_is_one_write_of_the_concatenation() {
    let (vfs, f) = disk_with_file(1, Dc::NONE);
    f.write_at(0, &filled(8, 1)).unwrap();
    let base = vfs.op_count(FaultOp::Write);
    let bufs: [&[u8]; 4] = [b"ab", b"", b"cde", &filled(600, 9)];
    f.write_vectored_at(4, &bufs).unwrap();
    assert_eq!(vfs.op_count(FaultOp::Write), base + 1, "one fault and crash point");
    let now = vfs.contents(Path::new(DB)).unwrap();
    assert_eq!(&now[..4], &filled(4, 1)[..]);
    assert_eq!(&now[4..9], b"abcde");
    assert_eq!(&now[9..], &filled(600, 9)[..]);

    // A fault fails it as a whole, as it would fail a `write_at` of the same bytes.
    vfs.add_fault(FaultRule::once(FaultOp::Write, 1, FaultKind::ShortWrite));
    let halves: [&[u8]; 2] = [&filled(50, 3), &filled(50, 4)];
    assert!(f.write_vectored_at(0, &halves).unwrap_err().is_disk_full());
    let now = vfs.contents(Path::new(DB)).unwrap();
    assert_eq!(&now[..50], &filled(50, 3)[..], "the first half written");
    assert_eq!(&now[50..100], &filled(50, 9)[..], "the second not");
}

#[test]
fn a_chunk_size_rounds_truncates_and_size_hints_up_to_whole_chunks() {
    let (_vfs, f) = disk_with_file(1, Dc::NONE);
    f.write_at(0, &filled(10_000, 1)).unwrap();
    f.size_hint(20_000).unwrap();
    assert_eq!(f.size().unwrap(), 10_000, "no chunk size: a hint does nothing");
    f.set_chunk_size(4096);
    f.truncate(100).unwrap();
    assert_eq!(f.size().unwrap(), 4096, "truncate to 100 with 4 KiB chunks");
    f.size_hint(5000).unwrap();
    assert_eq!(f.size().unwrap(), 8192, "a hint of 5000 bytes");
    f.size_hint(1).unwrap();
    assert_eq!(f.size().unwrap(), 8192, "a hint never shrinks");
    let mut buf = vec![0xaa; 8192];
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..4096], &filled(4096, 1)[..]);
    assert!(buf[4096..].iter().all(|&b| b == 0));
}

// Each advertised characteristic, checked over random workloads: whatever else the device
// advertises, every crash image keeps the promise (sqlite.h, SQLITE_IOCAP_*). Every write
// fills its bytes with its own non-zero value, so each byte of an image names the write it
// came from; the control (the same workload without the characteristic) must break the
// promise somewhere, so each check can fail.

/// A write of `len` bytes of `fill` at `offset`.
#[derive(Debug, Clone, Copy)]
struct W {
    offset: usize,
    len: usize,
    fill: u8,
}

/// Runs `check` over `SEEDS` random workloads on `dc` (with `others` also advertised, one
/// combination per seed); returns how many images broke the promise. With `must_hold`, panics
/// at the first one, naming its seed.
fn promise_over_seeds(
    dc: Dc,
    others: &[Dc],
    must_hold: bool,
    check: impl Fn(&mut Rng, Dc) -> Result<(), String>,
) -> usize {
    let mut broken = 0;
    for seed in 0..SEEDS {
        let device = dc | others[seed as usize % others.len()];
        let mut rng = Rng::new(seed ^ 0x9e37_79b9);
        if let Err(e) = check(&mut rng, device) {
            assert!(!must_hold, "seed {seed:#x} on {device:?}: {e}");
            broken += 1;
        }
    }
    broken
}

/// Writes `w` to `f`.
fn put(f: &dyn VfsFile, w: W) {
    f.write_at(w.offset as u64, &filled(w.len, w.fill)).unwrap();
}

fn safe_append_workload(rng: &mut Rng, dc: Dc) -> Result<(), String> {
    // A synced start, then appends (of odd sizes, across sectors) with overwrites inside the
    // file and inside earlier appends between them, and a sync now and then.
    let (vfs, f) = disk_with_file(rng.below(1 << 32), dc);
    let mut durable = filled(700 + rng.below(900) as usize, 1);
    put(&*f, W { offset: 0, len: durable.len(), fill: 1 });
    f.sync(SyncFlags::FULL).unwrap();
    let (mut pending, mut overwrites): (Vec<W>, Vec<W>) = (Vec::new(), Vec::new());
    let mut len = durable.len();
    for fill in 2..(8 + rng.below(10) as u8) {
        if rng.below(6) == 0 {
            f.sync(SyncFlags::FULL).unwrap();
            durable = vfs.contents(Path::new(DB)).unwrap();
            pending.clear();
            overwrites.clear();
        }
        let w = if rng.below(3) == 0 {
            let offset = rng.below(len as u64) as usize;
            W { offset, len: 1 + rng.below((len - offset) as u64) as usize, fill }
        } else {
            W { offset: len, len: 1 + rng.below(1500) as usize, fill }
        };
        put(&*f, w);
        if w.offset < len {
            overwrites.push(w);
        }
        len = len.max(w.offset + w.len);
        pending.push(w);
    }
    let got = after_crash(&vfs, DB).unwrap();
    // The size is the old end or the end of some append, and every byte past the old end is
    // one some pending write put there: no zeros, no garbage, no hole.
    let ends: Vec<usize> = pending.iter().map(|w| w.offset + w.len).collect();
    if got.len() > durable.len() && !ends.contains(&got.len()) {
        return Err(format!("size {} is no append's end (old end {})", got.len(), durable.len()));
    }
    // SAFE_APPEND says nothing of overwrites: without PSOW a torn one may garble its whole
    // sector, appended bytes beside it included.
    let garbled = |p: usize| {
        !dc.contains(Dc::POWERSAFE_OVERWRITE)
            && overwrites.iter().any(|w| {
                (w.offset / 512 * 512..(w.offset + w.len).div_ceil(512) * 512).contains(&p)
            })
            || overwrites.iter().any(|w| (w.offset..w.offset + w.len).contains(&p))
    };
    for (p, &b) in got.iter().enumerate().skip(durable.len()) {
        let put_there =
            pending.iter().any(|w| w.fill == b && (w.offset..w.offset + w.len).contains(&p));
        if !put_there && !garbled(p) {
            let old_end = durable.len();
            return Err(format!("byte {p} past the old end {old_end} is {b}; writes {pending:?}"));
        }
    }
    Ok(())
}

#[test]
fn safe_append_keeps_its_promise_over_random_appends_and_overwrites() {
    let others = [Dc::NONE, Dc::POWERSAFE_OVERWRITE, Dc::ATOMIC512, Dc::ATOMIC4K];
    promise_over_seeds(Dc::SAFE_APPEND, &others, true, safe_append_workload);
    let broken = promise_over_seeds(Dc::NONE, &others, false, safe_append_workload);
    assert!(broken > 0, "without SAFE_APPEND appends were never damaged");
}

fn atomic4k_workload(rng: &mut Rng, dc: Dc) -> Result<(), String> {
    // Aligned 4 KiB writes over a synced 8-block file, some blocks written twice.
    let (vfs, f) = disk_with_file(rng.below(1 << 32), dc);
    put(&*f, W { offset: 0, len: 8 * 4096, fill: 1 });
    f.sync(SyncFlags::FULL).unwrap();
    let mut pending = Vec::new();
    for fill in 2..(4 + rng.below(10) as u8) {
        let w = W { offset: 4096 * rng.below(8) as usize, len: 4096, fill };
        put(&*f, w);
        pending.push(w);
    }
    let got = after_crash(&vfs, DB).unwrap();
    for block in got.chunks(4096).enumerate().map(|(i, b)| (i * 4096, b)) {
        let (offset, bytes) = block;
        let whole = |fill: u8| bytes.iter().all(|&b| b == fill);
        if !whole(1) && !pending.iter().any(|w| w.offset == offset && whole(w.fill)) {
            return Err(format!("block at {offset} is torn"));
        }
    }
    Ok(())
}

#[test]
fn atomic4k_keeps_its_promise_over_random_aligned_writes() {
    let others = [Dc::NONE, Dc::POWERSAFE_OVERWRITE, Dc::SAFE_APPEND, Dc::SEQUENTIAL];
    promise_over_seeds(Dc::ATOMIC4K, &others, true, atomic4k_workload);
    promise_over_seeds(Dc::ATOMIC, &others, true, atomic4k_workload);
    let broken = promise_over_seeds(Dc::ATOMIC2K, &others, false, atomic4k_workload);
    assert!(broken > 0, "with only ATOMIC2K no 4 KiB write was torn");
}

fn psow_workload(rng: &mut Rng, dc: Dc) -> Result<(), String> {
    // Unaligned overwrites of a synced file of 4 KiB sectors: a byte no pending write covers
    // keeps its durable value; a byte one covers holds old, new or (torn) anything.
    let config = SimConfig::new(rng.below(1 << 32)).with_characteristics(dc);
    let vfs = SimVfs::new(config);
    let f = open(&vfs, DB);
    vfs.lock().disk.sync_dir(Path::new("/d"));
    let size = 3 * 4096;
    put(&*f, W { offset: 0, len: size, fill: 1 });
    f.sync(SyncFlags::FULL).unwrap();
    let mut pending = Vec::new();
    for fill in 2..(3 + rng.below(6) as u8) {
        let offset = rng.below(size as u64 - 1) as usize;
        let w = W { offset, len: 1 + rng.below((size - offset).min(3000) as u64) as usize, fill };
        put(&*f, w);
        pending.push(w);
    }
    let got = after_crash(&vfs, DB).unwrap();
    for (p, &b) in got.iter().enumerate() {
        let covered = pending.iter().any(|w| (w.offset..w.offset + w.len).contains(&p));
        if !covered && b != 1 {
            return Err(format!("byte {p}, written by no write, became {b}"));
        }
    }
    Ok(())
}

#[test]
fn powersafe_overwrite_keeps_its_promise_over_random_unaligned_writes() {
    let others = [Dc::NONE, Dc::SAFE_APPEND, Dc::SEQUENTIAL, Dc::ATOMIC512];
    promise_over_seeds(Dc::POWERSAFE_OVERWRITE, &others, true, psow_workload);
    let broken = promise_over_seeds(Dc::NONE, &others, false, psow_workload);
    assert!(broken > 0, "without PSOW a torn write never hit its neighbours");
}

fn sequential_workload(rng: &mut Rng, dc: Dc) -> Result<(), String> {
    // Writes to three files, each to its own 512-byte slot, and a file created between them,
    // with a sync of one file now and then: the writes and the create that survive are a
    // prefix of the order issued (the first one lost may be torn).
    let (vfs, f) = disk_with_file(rng.below(1 << 32), dc);
    let g = open(&vfs, "/d/g");
    for file in [&f, &g] {
        put(&**file, W { offset: 0, len: 8 * 512, fill: 1 });
        file.sync(SyncFlags::FULL).unwrap();
    }
    vfs.lock().disk.sync_dir(Path::new("/d"));
    // (file, slot, fill), file 2 the created one; the create is `None`.
    let mut issued: Vec<Option<(usize, usize, u8)>> = Vec::new();
    let mut created = None;
    for fill in 2..(6 + rng.below(12) as u8) {
        if created.is_none() && rng.below(5) == 0 {
            created = Some(open(&vfs, "/d/h"));
            issued.push(None);
            continue;
        }
        let file = rng.below(2 + u64::from(created.is_some())) as usize;
        let slot = rng.below(8) as usize;
        let handle = [Some(&f), Some(&g), created.as_ref()][file].unwrap();
        put(&**handle, W { offset: slot * 512, len: 512, fill });
        issued.push(Some((file, slot, fill)));
        if rng.below(8) == 0 {
            handle.sync(SyncFlags::FULL).unwrap();
        }
    }
    let image = vfs.crash_now();
    let files = ["/d/test.db", "/d/g", "/d/h"].map(|p| image.files.get(Path::new(p)));
    // Survived, lost, or neither (torn); a later write to a slot must survive for the slot to
    // show it, so judge each write by its slot's last value among the survivors.
    let mut state = Vec::new();
    for (i, op) in issued.iter().enumerate() {
        let s = match op {
            None => files[2].is_some(),
            Some((file, slot, fill)) => {
                let bytes = files[*file].and_then(|b| b.get(slot * 512..(slot + 1) * 512));
                let later = issued[i + 1..].iter().flatten().any(|l| (l.0, l.1) == (*file, *slot));
                match bytes {
                    Some(b) if b.iter().all(|x| x == fill) => true,
                    _ if later => continue, // overwritten later: judged by the later write
                    _ => false,
                }
            }
        };
        state.push(s);
    }
    let prefix = state.iter().take_while(|&&s| s).count();
    if state[prefix..].iter().any(|&s| s) {
        return Err(format!("survivors {state:?} of {issued:?} are no prefix"));
    }
    Ok(())
}

#[test]
fn sequential_keeps_its_promise_over_random_writes_creates_and_syncs() {
    let others = [Dc::NONE, Dc::POWERSAFE_OVERWRITE, Dc::SAFE_APPEND, Dc::ATOMIC];
    promise_over_seeds(Dc::SEQUENTIAL, &others, true, sequential_workload);
    let broken = promise_over_seeds(Dc::NONE, &others, false, sequential_workload);
    assert!(broken > 0, "without SEQUENTIAL writes were always kept in order");
}

#[test]
fn a_sequential_device_can_tear_only_the_write_in_flight() {
    let mut torn = 0;
    for seed in 0..SEEDS {
        let (vfs, f) = disk_with_file(seed, Dc::SEQUENTIAL);
        f.write_at(0, &filled(2048 * 4, 1)).unwrap();
        f.sync(SyncFlags::FULL).unwrap();
        for i in 0..4u8 {
            f.write_at(u64::from(i) * 2048, &filled(2048, i + 2)).unwrap();
        }
        let got = after_crash(&vfs, DB).unwrap();
        let whole = |i: usize, b: u8| got[i * 2048..(i + 1) * 2048].iter().all(|&x| x == b);
        let kept = (0..4).take_while(|&i| whole(i, i as u8 + 2)).count();
        // After the kept prefix, at most the next write is torn; the rest are old.
        let rest = (kept + 1).min(4)..4;
        assert!(rest.clone().all(|i| whole(i, 1)), "seed {seed:#x}: {kept} kept, then more damage");
        torn += usize::from(kept < 4 && !whole(kept, 1));
    }
    assert!(torn > 0, "the write in flight was never torn");
}
