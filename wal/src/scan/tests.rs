//! Tests of the WAL scan on the memory VFS: SQLite's acceptance rules for headers and frames,
//! and a seeded model test with torn, truncated and corrupted logs.

use super::*;
use crate::format::{ByteOrder, FrameEncoder, WalHeader};
use crate::testing;
use folio_vfs::memory::MemoryVfs;
use folio_vfs::rng::Rng;
use folio_vfs::{FileKind, OpenFlags, Vfs};
use std::path::Path;

/// A transaction: pages (page number, fill byte) and the database size at its commit (0 for
/// an unfinished one).
struct Txn {
    pages: Vec<(u32, u8)>,
    commit_size: u32,
}

fn build(header: WalHeader, txns: &[Txn]) -> Vec<u8> {
    let mut wal = header.encode().to_vec();
    let mut enc = FrameEncoder::new(header);
    for t in txns {
        for (i, &(page_no, fill)) in t.pages.iter().enumerate() {
            let commit = if i + 1 == t.pages.len() { t.commit_size } else { 0 };
            let page = vec![fill; header.page_size as usize];
            wal.extend(enc.encode_to_vec(page_no, commit, &page));
        }
    }
    wal
}

fn scan_bytes(bytes: &[u8]) -> Result<WalScan> {
    let vfs = MemoryVfs::new();
    let file =
        vfs.open(Some(Path::new("/db-wal")), OpenFlags::create(FileKind::Wal)).expect("open");
    file.write_at(0, bytes).expect("write");
    scan(&*file)
}

fn header(page_size: u32) -> WalHeader {
    WalHeader::new(page_size, 0, Salt { salt1: 0x1111, salt2: 0x2222 })
}

fn txn(pages: &[u32], commit_size: u32) -> Txn {
    Txn { pages: pages.iter().map(|&p| (p, p as u8)).collect(), commit_size }
}

#[test]
fn short_and_invalid_headers_mean_an_empty_log() {
    let h = header(512);
    for len in [0usize, 10, 32] {
        let s = scan_bytes(&h.encode()[..len.min(32)]).expect("scan");
        assert_eq!(s.ignored, Some(HeaderInvalid::TooShort { size: len as u64 }));
        assert_eq!((s.max_frame, s.salt(), s.header), (0, Salt::default(), None));
    }
    let mut bad = build(h, &[txn(&[1], 1)]);
    bad[24] ^= 1;
    let s = scan_bytes(&bad).expect("scan");
    assert!(matches!(s.ignored, Some(HeaderInvalid::BadChecksum { .. })));
    assert!(s.frames.is_empty() && s.end.is_none());
}

#[test]
fn an_unknown_version_with_a_good_checksum_refuses_the_open() {
    let h = header(512);
    let mut wal = build(h, &[txn(&[1], 1)]);
    wal[4..8].copy_from_slice(&3_007_001u32.to_be_bytes());
    let sum = Checksum::ZERO.extend(h.order, &wal[..24]);
    wal[24..32].copy_from_slice(&sum.to_be_bytes());
    match scan_bytes(&wal) {
        Err(Error::UnsupportedVersion { version: 3_007_001, path }) => {
            assert_eq!(path, Path::new("/db-wal"));
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[test]
fn the_log_ends_at_the_last_commit() {
    for order in [ByteOrder::LittleEndian, ByteOrder::BigEndian] {
        let h = WalHeader { order, ..header(1024) };
        let txns = [txn(&[1, 2, 3], 3), txn(&[2], 3), txn(&[4, 1], 4), txn(&[5, 6], 0)];
        let wal = build(h, &txns);
        let s = scan_bytes(&wal).expect("scan");
        assert_eq!(s.header, Some(h));
        assert_eq!(s.max_frame, 6);
        assert_eq!(s.db_pages, 4);
        let pages: Vec<u32> = s.frames.iter().map(|f| f.page_no).collect();
        assert_eq!(pages, [1, 2, 3, 2, 4, 1]);
        let commits: Vec<u32> = s.frames.iter().map(|f| f.commit_size).collect();
        assert_eq!(commits, [0, 0, 3, 3, 0, 4], "each transaction's last frame carries its size");
        assert!(s.frames.iter().enumerate().all(|(i, f)| f.frame_no == i as u32 + 1));
        assert_eq!(
            s.uncommitted,
            [
                FrameEntry { frame_no: 7, page_no: 5, commit_size: 0 },
                FrameEntry { frame_no: 8, page_no: 6, commit_size: 0 }
            ]
        );
        assert_eq!(s.end, Some(ScanEnd::EndOfFile { trailing_bytes: 0 }));
        // The running checksum is the one stored in frame 6.
        let at = crate::format::frame_offset(6, 1024) as usize;
        assert_eq!(wal[at + 16..at + 24], s.checksum.to_be_bytes());
        assert_eq!(s.latest_frames().get(&1), Some(&6));
        assert_eq!(s.latest_frames().get(&2), Some(&4));
    }
}

#[test]
fn a_partial_last_frame_is_ignored() {
    let h = header(512);
    let wal = build(h, &[txn(&[1], 1), txn(&[2], 2)]);
    let s = scan_bytes(&wal[..wal.len() - 1]).expect("scan");
    assert_eq!((s.max_frame, s.db_pages), (1, 1));
    assert_eq!(s.end, Some(ScanEnd::EndOfFile { trailing_bytes: 535 }));
}

#[test]
fn a_corrupt_frame_ends_the_log_there() {
    let h = header(512);
    let mut wal = build(h, &[txn(&[1, 2], 2), txn(&[3], 3), txn(&[4], 4)]);
    let at = crate::format::frame_offset(3, 512) as usize;
    wal[at + 100] ^= 0x40;
    let s = scan_bytes(&wal).expect("scan");
    assert_eq!((s.max_frame, s.db_pages), (2, 2));
    match s.end {
        Some(ScanEnd::Invalid { frame_no: 3, offset, why: FrameInvalid::BadChecksum { .. } }) => {
            assert_eq!(offset, at as u64);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn frames_of_an_older_generation_are_stale() {
    let h1 = header(512);
    let mut wal = build(h1, &[txn(&[1, 2, 3, 4, 5], 5), txn(&[6, 7], 7)]);
    // Restart: new salts, the first two frames rewritten, the rest left from generation 1.
    let h2 = WalHeader { checkpoint_seq: 1, salt: h1.salt.restarted(0x9999), ..h1 };
    let gen2 = build(h2, &[txn(&[7, 8], 8)]);
    wal[..gen2.len()].copy_from_slice(&gen2);
    let s = scan_bytes(&wal).expect("scan");
    assert_eq!(s.header, Some(h2));
    assert_eq!((s.max_frame, s.db_pages), (2, 8));
    assert_eq!(
        s.end,
        Some(ScanEnd::Invalid {
            frame_no: 3,
            offset: crate::format::frame_offset(3, 512),
            why: FrameInvalid::SaltMismatch { found: h1.salt, expected: h2.salt },
        })
    );
}

#[test]
fn page_zero_ends_the_log() {
    let h = header(512);
    let mut wal = build(h, &[txn(&[1], 1), txn(&[2], 2)]);
    let at = crate::format::frame_offset(2, 512) as usize;
    wal[at..at + 4].fill(0);
    let s = scan_bytes(&wal).expect("scan");
    assert_eq!(s.max_frame, 1);
    assert!(matches!(
        s.end,
        Some(ScanEnd::Invalid { frame_no: 2, why: FrameInvalid::PageZero, .. })
    ));
}

#[test]
fn many_frames_cross_read_chunks() {
    let h = header(512);
    // 1 MiB chunks hold 1956 frames of 512-byte pages: 4500 frames span three reads.
    let txns: Vec<Txn> =
        (0..45).map(|t| txn(&(1..=100).map(|p| p + t).collect::<Vec<_>>(), 100 + t)).collect();
    let s = scan_bytes(&build(h, &txns)).expect("scan");
    assert_eq!((s.max_frame, s.db_pages), (4500, 144));
    assert_eq!(s.frames.len(), 4500);
}

/// What the scan must find in a log whose first damaged frame is `first_bad` (1-based; beyond
/// the end if none): the frames before it, cut at the last commit.
fn expected(txns: &[Txn], first_bad: usize) -> (u32, u32) {
    let (mut frame, mut max, mut size) = (0usize, 0, 0);
    for t in txns {
        for (i, _) in t.pages.iter().enumerate() {
            frame += 1;
            if frame >= first_bad {
                return (max, size);
            }
            if i + 1 == t.pages.len() && t.commit_size != 0 {
                (max, size) = (frame as u32, t.commit_size);
            }
        }
    }
    (max, size)
}

#[test]
fn damaged_logs_yield_the_valid_prefix() {
    let (seed, mut rng) = testing::rng("damaged_logs_yield_the_valid_prefix");
    for round in 0..200 {
        let page_size = 512 << rng.below(2);
        let order = if rng.below(2) == 0 { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
        let h = WalHeader {
            order,
            page_size,
            checkpoint_seq: rng.next_u64() as u32,
            salt: Salt { salt1: rng.next_u64() as u32, salt2: rng.next_u64() as u32 },
        };
        let txns: Vec<Txn> = (0..1 + rng.below(6))
            .map(|_| Txn {
                pages: (0..1 + rng.below(4))
                    .map(|_| (1 + rng.below(20) as u32, rng.next_u64() as u8))
                    .collect(),
                commit_size: if rng.below(4) == 0 { 0 } else { 1 + rng.below(30) as u32 },
            })
            .collect();
        let mut wal = build(h, &txns);
        let frame_len = crate::format::frame_len(page_size) as usize;
        let n_frames = (wal.len() - 32) / frame_len;
        let first_bad = match rng.below(3) {
            0 => n_frames + 1, // intact
            1 => {
                let cut = 33 + rng.below((wal.len() - 33) as u64) as usize;
                wal.truncate(cut);
                (cut - 32) / frame_len + 1
            }
            _ => {
                let at = 32 + rng.below((wal.len() - 32) as u64) as usize;
                wal[at] ^= 1 << rng.below(8);
                (at - 32) / frame_len + 1
            }
        };
        let s = scan_bytes(&wal).unwrap_or_else(|e| panic!("seed {seed:#x} round {round}: {e}"));
        assert_eq!(
            (s.max_frame, s.db_pages),
            expected(&txns, first_bad),
            "seed {seed:#x} round {round}: first damaged frame {first_bad}"
        );
        assert_eq!(s.frames.len(), s.max_frame as usize);
    }
}

#[test]
fn garbage_files_never_panic() {
    let (seed, mut rng) = testing::rng("garbage_files_never_panic");
    for _ in 0..300 {
        let mut bytes = vec![0u8; rng.below(3000) as usize];
        Rng::new(rng.next_u64()).fill(&mut bytes);
        if rng.below(2) == 0 && bytes.len() >= 32 {
            // A valid header over garbage frames.
            let h = WalHeader::new(512, 0, Salt::from_bytes([0; 8]));
            bytes[..32].copy_from_slice(&h.encode());
        }
        match scan_bytes(&bytes) {
            Ok(s) => assert!(s.max_frame as usize == s.frames.len(), "seed {seed:#x}"),
            Err(Error::UnsupportedVersion { .. }) => {}
            Err(e) => panic!("seed {seed:#x}: {e}"),
        }
    }
}
