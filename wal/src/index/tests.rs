//! Tests of the wal-index codec: SQLite's geometry and constants, the header copies and their
//! checksum, the checkpoint info around the lock bytes, and the hash tables against a model.

use super::*;
use crate::testing;
use proptest::prelude::*;

fn regions(n: usize) -> Vec<ShmRegion> {
    (0..n).map(|_| ShmRegion::heap()).collect()
}

#[test]
fn geometry_matches_sqlite() {
    assert_eq!(HASHTABLE_NPAGE_ONE, 4062);
    for (frame, region) in [(0, 0), (1, 0), (4062, 0), (4063, 1), (8158, 1), (8159, 2)] {
        assert_eq!(region_of_frame(frame), region, "frame {frame}");
    }
    assert_eq!(region_of_frame(u32::MAX), ((u64::from(u32::MAX) + 33) / 4096) as u32);
    assert_eq!(region_zero(0), 0);
    assert_eq!(region_zero(1), 4062);
    assert_eq!(region_zero(2), 8158);
    let at = |f| frame_location(f);
    assert_eq!(at(1), FrameLocation { region: 0, index: 1, page_no_offset: 136 });
    assert_eq!(at(4062), FrameLocation { region: 0, index: 4062, page_no_offset: 16380 });
    assert_eq!(at(4063), FrameLocation { region: 1, index: 1, page_no_offset: 0 });
    assert_eq!(at(8158), FrameLocation { region: 1, index: 4096, page_no_offset: 16380 });
    assert_eq!(at(8159), FrameLocation { region: 2, index: 1, page_no_offset: 0 });
    assert_eq!(hash_slot_offset(0), 16384);
    assert_eq!(hash_slot_offset(8191), 32766);
    assert_eq!(OFF_LOCKS, 120);
    assert_eq!(OFF_READ_MARKS, 100);
}

#[test]
fn hash_is_383_times_the_page_modulo_8192() {
    assert_eq!(wal_hash(1), 383);
    assert_eq!(wal_hash(22), (22 * 383) & 8191);
    assert_eq!(wal_hash(0x0100_0000), (0x0100_0000u32.wrapping_mul(383) & 8191) as usize);
    assert_eq!(next_hash(8191), 0);
}

#[test]
fn page_size_field_stores_65536_as_1() {
    assert_eq!(encode_page_size(65536), 1);
    assert_eq!(encode_page_size(32768), 0x8000);
    assert_eq!(encode_page_size(512), 0x200);
    for shift in 9..=16 {
        assert_eq!(decode_page_size(encode_page_size(1 << shift)), 1 << shift);
    }
    assert_eq!(decode_page_size(0), 0);
}

fn sample_header() -> IndexHeader {
    IndexHeader {
        version: WAL_VERSION,
        change: 9,
        big_end_cksum: 1,
        sz_page: encode_page_size(65536),
        max_frame: 77,
        n_page: 12,
        frame_checksum: Checksum { s0: 0xdead_beef, s1: 0x1234_5678 },
        salt: Salt { salt1: 0x0102_0304, salt2: 0x0506_0708 },
        ..IndexHeader::default()
    }
}

#[test]
fn header_layout_is_native_but_salts_are_raw() {
    let h = sample_header().sealed();
    let b = h.to_bytes();
    assert_eq!(b[0..4], WAL_VERSION.to_ne_bytes());
    assert_eq!(b[8..12], 9u32.to_ne_bytes());
    assert_eq!(b[12], 1, "isInit");
    assert_eq!(b[13], 1, "bigEndCksum");
    assert_eq!(b[14..16], 1u16.to_ne_bytes());
    assert_eq!(b[16..20], 77u32.to_ne_bytes());
    assert_eq!(b[24..28], 0xdead_beefu32.to_ne_bytes());
    assert_eq!(b[32..40], [1, 2, 3, 4, 5, 6, 7, 8], "salts as the WAL header's bytes");
    let sum = Checksum::ZERO.extend(ByteOrder::native(), &b[..40]);
    assert_eq!(b[40..44], sum.s0.to_ne_bytes());
    assert_eq!(b[44..48], sum.s1.to_ne_bytes());
    assert!(h.checksum_ok());
    assert_eq!(h.page_size(), 65536);
    assert_eq!(h.order(), ByteOrder::BigEndian);
}

#[test]
fn any_48_bytes_round_trip() {
    let strategy = proptest::collection::vec(any::<u8>(), HEADER_COPY_LEN);
    testing::check("any_48_bytes_round_trip", 512, strategy, |v| {
        let mut bytes = [0u8; HEADER_COPY_LEN];
        bytes.copy_from_slice(&v);
        prop_assert_eq!(IndexHeader::from_bytes(&bytes).to_bytes(), bytes);
        Ok(())
    });
}

#[test]
fn publish_writes_copy_2_first_and_read_checks_both() {
    let r0 = ShmRegion::heap();
    assert_eq!(read_header(&r0, &|| {}), Err(HeaderUnusable::NotInitialized));
    // At the barrier, copy 2 is written and copy 1 is not yet.
    let seen_at_barrier = std::cell::Cell::new(None);
    let sealed = publish_header(&r0, sample_header(), &|| {
        let first = load_header_copy(&r0, HeaderCopy::First);
        let second = load_header_copy(&r0, HeaderCopy::Second);
        seen_at_barrier.set(Some((first, second)));
    });
    let (first, second) = seen_at_barrier.get().expect("barrier ran");
    assert_eq!(first, IndexHeader::default());
    assert_eq!(second, sealed);
    assert_eq!(read_header(&r0, &|| {}), Ok(sealed));
    assert_eq!(sealed.is_init, 1);

    // A reader racing a writer: copy 2 already new when the reader reads it.
    let newer = IndexHeader { max_frame: 78, ..sealed }.sealed();
    let got = read_header(&r0, &|| store_header_copy(&r0, HeaderCopy::Second, &newer));
    assert!(matches!(got, Err(HeaderUnusable::CopiesDiffer { .. })), "{got:?}");

    // Both copies equal but with a stale checksum.
    let bad = IndexHeader { max_frame: 79, ..sealed };
    store_header_copy(&r0, HeaderCopy::First, &bad);
    store_header_copy(&r0, HeaderCopy::Second, &bad);
    assert!(matches!(read_header(&r0, &|| {}), Err(HeaderUnusable::BadChecksum { .. })));
}

#[test]
fn checkpoint_info_leaves_the_lock_bytes_alone() {
    let r0 = ShmRegion::heap();
    r0.store_u32(120, 0xaaaa_aaaa, Ordering::Relaxed);
    r0.store_u32(124, 0xbbbb_bbbb, Ordering::Relaxed);
    let info = CkptInfo {
        n_backfill: 5,
        read_marks: [0, 5, READMARK_NOT_USED, 3, 4],
        n_backfill_attempted: 6,
        not_used0: 0,
    };
    info.store(&r0);
    assert_eq!(CkptInfo::load(&r0), info);
    assert_eq!(r0.load_u32(96, Ordering::Relaxed), 5);
    assert_eq!(r0.load_u32(104, Ordering::Relaxed), 5);
    assert_eq!(r0.load_u32(128, Ordering::Relaxed), 6);
    assert_eq!(r0.load_u32(120, Ordering::Relaxed), 0xaaaa_aaaa);
    assert_eq!(r0.load_u32(124, Ordering::Relaxed), 0xbbbb_bbbb);
    set_read_mark(&r0, 1, 9);
    assert_eq!(read_mark(&r0, 1), 9);
    set_n_backfill(&r0, 7);
    set_n_backfill_attempted(&r0, 8);
    assert_eq!((n_backfill(&r0), n_backfill_attempted(&r0)), (7, 8));
}

/// The newest frame in `min..=max` carrying `page`, by brute force.
fn model_find(log: &[u32], page: u32, max: u32, min: u32) -> Option<u32> {
    (min.max(1)..=max).rev().find(|&f| log[f as usize - 1] == page)
}

#[test]
fn lookups_agree_with_a_model_across_regions_and_rollbacks() {
    let (seed, mut rng) = testing::rng("lookups_agree_with_a_model");
    let shm = regions(3);
    // log[f - 1] is the page of frame f; committed is the header's mxFrame.
    let mut log: Vec<u32> = Vec::new();
    let mut committed = 0u32;
    let target = 9000; // Into region 2.
    while log.len() < target {
        // A transaction: some frames, then commit or roll back.
        let n = 1 + rng.below(300) as usize;
        for _ in 0..n.min(target - log.len()) {
            let range = if rng.below(4) == 0 { 40 } else { 5000 };
            let page = 1 + rng.below(range) as u32;
            let frame = log.len() as u32 + 1;
            append(&shm, frame, page, committed).unwrap_or_else(|e| panic!("seed {seed:#x}: {e}"));
            log.push(page);
        }
        if rng.below(5) == 0 {
            // Rollback: the header goes back to `committed`; the next writer overwrites.
            cleanup(&shm, committed).expect("cleanup");
            log.truncate(committed as usize);
        } else {
            committed = log.len() as u32;
        }
    }
    for f in 1..=committed {
        assert_eq!(frame_page_no(&shm, f).expect("mapped"), log[f as usize - 1], "seed {seed:#x}");
    }
    for _ in 0..3000 {
        let max = 1 + rng.below(u64::from(committed)) as u32;
        let min = 1 + rng.below(u64::from(max)) as u32;
        let page = if rng.below(2) == 0 {
            log[rng.below(u64::from(max)) as usize]
        } else {
            1 + rng.below(6000) as u32
        };
        let got = find_frame(&shm, page, max, min).expect("lookup");
        assert_eq!(
            got,
            model_find(&log, page, max, min),
            "seed {seed:#x}: page {page} in {min}..={max}"
        );
    }
}

#[test]
fn a_dead_writers_entries_are_cleaned_before_reuse() {
    let shm = regions(1);
    for f in 1..=5 {
        append(&shm, f, f * 10, 0).expect("append");
    }
    // Frames 4 and 5 were never committed (mxFrame 3); a new writer appends frame 4.
    append(&shm, 4, 99, 3).expect("append");
    assert_eq!(find_frame(&shm, 50, 5, 1).expect("lookup"), None, "frame 5's entry is gone");
    assert_eq!(find_frame(&shm, 40, 5, 1).expect("lookup"), None);
    assert_eq!(find_frame(&shm, 99, 4, 1).expect("lookup"), Some(4));
    assert_eq!(frame_page_no(&shm, 5).expect("mapped"), 0);
    let used = (0..HASHTABLE_NSLOT).filter(|&s| hash_slot(&shm[0], s) != 0).count();
    assert_eq!(used, 4);
}

#[test]
fn first_frame_of_a_region_clears_it_but_keeps_the_header() {
    let shm = regions(1);
    let h = publish_header(&shm[0], sample_header(), &|| {});
    for f in 1..=10 {
        append(&shm, f, f, 10).expect("append");
    }
    // A WAL restart: frame 1 again.
    append(&shm, 1, 500, 0).expect("append");
    assert_eq!(read_header(&shm[0], &|| {}), Ok(h));
    assert_eq!(find_frame(&shm, 500, 1, 1).expect("lookup"), Some(1));
    assert_eq!(frame_page_no(&shm, 2).expect("mapped"), 0);
    let used = (0..HASHTABLE_NSLOT).filter(|&s| hash_slot(&shm[0], s) != 0).count();
    assert_eq!(used, 1);
}

#[test]
fn missing_regions_are_errors() {
    let shm = regions(1);
    assert!(matches!(append(&shm, 4063, 1, 0), Err(Error::RegionMissing { region: 1, mapped: 1 })));
    assert!(matches!(find_frame(&shm, 1, 5000, 1), Err(Error::RegionMissing { region: 1, .. })));
}

#[test]
fn garbage_never_panics() {
    let (seed, mut rng) = testing::rng("index_garbage_never_panics");
    let shm = regions(2);
    for round in 0..40 {
        for r in &shm {
            let mut bytes = vec![0u8; REGION_SIZE];
            rng.fill(&mut bytes);
            // Sometimes sparse, so probes end; sometimes full, so they must be bounded.
            if round % 2 == 0 {
                for b in bytes.iter_mut() {
                    if rng.below(3) != 0 {
                        *b = 0;
                    }
                }
            }
            r.copy_in(0, &bytes, Ordering::Relaxed);
        }
        let _ = read_header(&shm[0], &|| {});
        for _ in 0..50 {
            let max = rng.next_u64() as u32 % 9000;
            let min = rng.next_u64() as u32 % 9000;
            let page = rng.next_u64() as u32;
            match find_frame(&shm, page, max, min) {
                Ok(_) | Err(Error::IndexCorrupt { .. }) | Err(Error::RegionMissing { .. }) => {}
                Err(e) => panic!("seed {seed:#x}: unexpected {e}"),
            }
        }
        let frame = 1 + rng.next_u64() as u32 % 8000;
        let _ = append(&shm, frame, 1 + rng.next_u64() as u32 % 100, frame - 1);
    }
}

#[test]
fn a_full_table_is_corrupt_not_a_hang() {
    let shm = regions(1);
    for slot in 0..HASHTABLE_NSLOT {
        shm[0].store_u16(hash_slot_offset(slot), 1, Ordering::Relaxed);
    }
    assert!(matches!(
        find_frame(&shm, 7, 10, 1),
        Err(Error::IndexCorrupt { region: 0, what: IndexCorruption::LookupProbesExhausted { .. } })
    ));
    assert!(matches!(
        append(&shm, 3, 7, 3),
        Err(Error::IndexCorrupt { what: IndexCorruption::InsertProbesExhausted { .. }, .. })
    ));
}
