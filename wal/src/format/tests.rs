//! Tests of the WAL codec: hand-computed checksums, both byte orders, the chain, SQLite's order
//! of header checks, and garbage that must never panic.

use super::*;
use crate::testing;
use proptest::prelude::*;

fn le_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn be_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

#[test]
fn checksum_follows_sqlites_recurrence() {
    // s0 += x0 + s1; s1 += x1 + s0, pair by pair: (1,2) -> (1,3); (3,4) -> (7,14).
    let words = [1, 2, 3, 4];
    let want = Checksum { s0: 7, s1: 14 };
    assert_eq!(Checksum::ZERO.extend(ByteOrder::LittleEndian, &le_words(&words)), want);
    assert_eq!(Checksum::ZERO.extend(ByteOrder::BigEndian, &be_words(&words)), want);
    // The same bytes read in the other order are other words (here each word times 2^24).
    let swapped = Checksum::ZERO.extend(ByteOrder::BigEndian, &le_words(&words));
    assert_eq!(swapped, Checksum { s0: 0x0700_0000, s1: 0x0e00_0000 });
    // Arithmetic wraps modulo 2^32.
    let wrap = Checksum { s0: u32::MAX, s1: 1 }.extend(ByteOrder::LittleEndian, &le_words(&[1, 0]));
    assert_eq!(wrap, Checksum { s0: 1, s1: 2 });
    // A seed continues the chain: summing in two pieces equals summing at once.
    let a = Checksum::ZERO.extend(ByteOrder::LittleEndian, &le_words(&[1, 2]));
    assert_eq!(a.extend(ByteOrder::LittleEndian, &le_words(&[3, 4])), want);
}

#[test]
fn lanes_give_the_serial_recurrences_sum() {
    // Lengths around the lane threshold and the split (4 lanes x 16 pairs = 512 bytes), page
    // sizes, and any seed state, in both orders.
    let strategy = (0usize..9000, any::<u64>(), any::<u64>(), any::<bool>());
    testing::check(
        "lanes_give_the_serial_recurrences_sum",
        2048,
        strategy,
        |(len, fill, seed, big)| {
            let len = len / 8 * 8;
            let mut bytes = vec![0u8; len];
            folio_vfs::rng::Rng::new(fill).fill(&mut bytes);
            let order = if big { ByteOrder::BigEndian } else { ByteOrder::LittleEndian };
            let start = Checksum { s0: seed as u32, s1: (seed >> 32) as u32 };
            prop_assert_eq!(start.extend(order, &bytes), start.extend_reference(order, &bytes));
            Ok(())
        },
    );
    for len in [504, 512, 520, 1024, 4096, 4096 + 24, 8192, 65536] {
        let mut bytes = vec![0u8; len];
        folio_vfs::rng::Rng::new(len as u64).fill(&mut bytes);
        for order in [ByteOrder::LittleEndian, ByteOrder::BigEndian] {
            let start = Checksum { s0: 0xdead_beef, s1: 0x0123_4567 };
            assert_eq!(start.extend(order, &bytes), start.extend_reference(order, &bytes), "{len}");
        }
    }
}

#[test]
fn step_matrix_is_the_recurrence_without_words() {
    let v = Checksum { s0: 3, s1: 5 };
    let zeros = vec![0u8; 8 * 37];
    let stepped = StepMatrix::STEP.pow(37).apply(v);
    assert_eq!(stepped, v.extend_reference(ByteOrder::LittleEndian, &zeros));
    assert_eq!(StepMatrix::STEP.pow(0), StepMatrix::IDENTITY);
}

#[test]
#[should_panic(expected = "multiple of 8")]
fn checksum_of_an_odd_length_is_a_caller_bug() {
    let _ = Checksum::ZERO.extend(ByteOrder::LittleEndian, &[0; 12]);
}

#[test]
fn magic_low_bit_chooses_the_order() {
    assert_eq!(ByteOrder::from_magic(0x377f_0682), Some(ByteOrder::LittleEndian));
    assert_eq!(ByteOrder::from_magic(0x377f_0683), Some(ByteOrder::BigEndian));
    assert_eq!(ByteOrder::from_magic(0x377f_0684), None);
    let native = if cfg!(target_endian = "little") { 0x377f_0682 } else { 0x377f_0683 };
    assert_eq!(ByteOrder::native().magic(), native);
}

#[test]
fn header_layout_is_big_endian_with_its_checksum_last() {
    let salt = Salt { salt1: 0x0102_0304, salt2: 0xa0b0_c0d0 };
    for order in [ByteOrder::LittleEndian, ByteOrder::BigEndian] {
        let h = WalHeader { order, page_size: 65536, checkpoint_seq: 7, salt };
        let bytes = h.encode();
        assert_eq!(bytes[..4], order.magic().to_be_bytes());
        assert_eq!(bytes[4..8], 3_007_000u32.to_be_bytes());
        assert_eq!(bytes[8..12], [0, 1, 0, 0], "65536 is stored literally");
        assert_eq!(bytes[12..16], [0, 0, 0, 7]);
        assert_eq!(bytes[16..24], [1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0]);
        let sum = Checksum::ZERO.extend(order, &bytes[..24]);
        assert_eq!(bytes[24..], sum.to_be_bytes(), "checksum stored big-endian");
        assert_eq!(h.checksum(), sum);
        assert_eq!(WalHeader::decode(&bytes), Ok(h));
    }
}

#[test]
fn header_checks_run_in_sqlites_order() {
    let good = WalHeader::new(4096, 0, Salt { salt1: 1, salt2: 2 }).encode();
    assert_eq!(WalHeader::decode(&good[..31]), Err(HeaderInvalid::TooShort { size: 31 }));

    let mut bad = good;
    bad[3] = 0x84;
    assert_eq!(WalHeader::decode(&bad), Err(HeaderInvalid::BadMagic(0x377f_0684)));

    for size in [0u32, 256, 1000, 131072] {
        let mut bad = good;
        bad[8..12].copy_from_slice(&size.to_be_bytes());
        assert_eq!(WalHeader::decode(&bad), Err(HeaderInvalid::BadPageSize(size)), "{size}");
    }

    // Any changed byte of 0..24 that keeps magic and page size valid fails the checksum.
    for at in [4, 13, 17, 23] {
        let mut bad = good;
        bad[at] ^= 0x10;
        assert!(
            matches!(WalHeader::decode(&bad), Err(HeaderInvalid::BadChecksum { .. })),
            "byte {at}"
        );
    }

    // A wrong version with a valid checksum is a distinct outcome (SQLITE_CANTOPEN).
    let mut v = good;
    v[4..8].copy_from_slice(&3_007_001u32.to_be_bytes());
    let order = ByteOrder::native();
    let sum = Checksum::ZERO.extend(order, &v[..24]);
    v[24..].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(WalHeader::decode(&v), Err(HeaderInvalid::UnsupportedVersion(3_007_001)));
    // ... but with a bad checksum it is just an ignored WAL.
    v[31] ^= 1;
    assert!(matches!(WalHeader::decode(&v), Err(HeaderInvalid::BadChecksum { .. })));
}

#[test]
fn frames_chain_from_the_header_checksum() {
    let page_size = 512;
    for order in [ByteOrder::LittleEndian, ByteOrder::BigEndian] {
        let header = WalHeader { order, page_size, checkpoint_seq: 3, salt: Salt::default() };
        let mut enc = FrameEncoder::new(header);
        assert_eq!(enc.running(), header.checksum());
        let pages: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i.wrapping_mul(37); 512]).collect();
        let frames: Vec<Vec<u8>> = pages
            .iter()
            .enumerate()
            .map(|(i, p)| enc.encode_to_vec(i as u32 + 1, if i == 2 { 3 } else { 0 }, p))
            .collect();
        // By hand: each frame continues over its bytes 0..8, then its page.
        let mut running = header.checksum();
        for (i, f) in frames.iter().enumerate() {
            running = running.extend(order, &f[..8]).extend(order, &f[24..]);
            assert_eq!(f[16..24], running.to_be_bytes(), "frame {}", i + 1);
            assert_eq!(f[8..16], [0; 8], "salts copied");
        }
        // Decoding verifies the chain.
        let mut prev = header.checksum();
        for (i, f) in frames.iter().enumerate() {
            let frame = decode_frame(f, &header, prev).expect("valid frame");
            assert_eq!(frame.header.page_no, i as u32 + 1);
            assert_eq!(frame.header.is_commit(), i == 2);
            assert_eq!(frame.page, &pages[i][..]);
            prev = frame.header.checksum;
        }
        // Out of order, the chain breaks.
        assert!(matches!(
            decode_frame(&frames[1], &header, header.checksum()),
            Err(FrameInvalid::BadChecksum { .. })
        ));
    }
}

#[test]
fn salts_are_checked_but_not_summed() {
    let header = WalHeader::new(512, 0, Salt { salt1: 10, salt2: 20 });
    let mut enc = FrameEncoder::new(header);
    let frame = enc.encode_to_vec(5, 1, &[7; 512]);
    let other = WalHeader { salt: Salt { salt1: 11, salt2: 20 }, ..header };
    // Re-encoded under other salts, the stored checksum is the same: salts are not covered.
    let mut enc2 = FrameEncoder::resume(other, header.checksum());
    let frame2 = enc2.encode_to_vec(5, 1, &[7; 512]);
    assert_eq!(frame[16..24], frame2[16..24]);
    assert_eq!(
        decode_frame(&frame2, &header, header.checksum()),
        Err(FrameInvalid::SaltMismatch { found: other.salt, expected: header.salt })
    );
}

#[test]
fn page_zero_and_partial_frames_are_invalid() {
    let header = WalHeader::new(512, 0, Salt::default());
    let mut enc = FrameEncoder::new(header);
    let mut frame = enc.encode_to_vec(1, 0, &[1; 512]);
    assert_eq!(
        decode_frame(&frame[..535], &header, header.checksum()),
        Err(FrameInvalid::Short { len: 535, needed: 536 })
    );
    frame[..4].fill(0);
    assert_eq!(decode_frame(&frame, &header, header.checksum()), Err(FrameInvalid::PageZero));
}

#[test]
fn geometry() {
    assert_eq!(frame_offset(1, 4096), 32);
    assert_eq!(frame_offset(2, 4096), 32 + 4120);
    assert_eq!(frame_offset(3, 65536), 32 + 2 * 65560);
    assert_eq!(whole_frames(0, 1024), 0);
    assert_eq!(whole_frames(32 + 1048 * 2 - 1, 1024), 1);
    assert_eq!(whole_frames(32 + 1048 * 2, 1024), 2);
    assert!(valid_page_size(512) && valid_page_size(65536));
    assert!(!valid_page_size(131072) && !valid_page_size(768) && !valid_page_size(256));
    assert_eq!(Salt { salt1: u32::MAX, salt2: 5 }.restarted(9), Salt { salt1: 0, salt2: 9 });
}

fn any_header() -> impl Strategy<Value = WalHeader> {
    (any::<bool>(), 9u32..=16, any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(big, shift, seq, s1, s2)| WalHeader {
            order: if big { ByteOrder::BigEndian } else { ByteOrder::LittleEndian },
            page_size: 1 << shift,
            checkpoint_seq: seq,
            salt: Salt { salt1: s1, salt2: s2 },
        },
    )
}

#[test]
fn header_round_trips() {
    testing::check("header_round_trips", 512, any_header(), |h| {
        prop_assert_eq!(WalHeader::decode(&h.encode()), Ok(h));
        Ok(())
    });
}

#[test]
fn frame_round_trips_and_any_flipped_covered_bit_is_caught() {
    let strategy = (any_header(), 1u32.., any::<u32>(), any::<u64>(), any::<usize>(), 0u8..8);
    testing::check("frame_round_trips", 64, strategy, |(h, page_no, commit, fill, at, bit)| {
        let h = WalHeader { page_size: h.page_size.min(4096), ..h };
        let mut page = vec![0u8; h.page_size as usize];
        folio_vfs::rng::Rng::new(fill).fill(&mut page);
        let mut enc = FrameEncoder::new(h);
        let mut frame = enc.encode_to_vec(page_no, commit, &page);
        let ok = decode_frame(&frame, &h, h.checksum()).expect("round trip");
        prop_assert_eq!(ok.header.page_no, page_no);
        prop_assert_eq!(ok.header.commit_size, commit);
        prop_assert_eq!(ok.header.checksum, enc.running());
        prop_assert_eq!(ok.page, &page[..]);
        // Flip one bit anywhere: the frame no longer verifies.
        let at = at % frame.len();
        frame[at] ^= 1 << bit;
        prop_assert!(decode_frame(&frame, &h, h.checksum()).is_err(), "flip at {}", at);
        Ok(())
    });
}

#[test]
fn garbage_never_panics() {
    let strategy = (proptest::collection::vec(any::<u8>(), 0..700), any_header(), any::<u64>());
    testing::check("garbage_never_panics", 1024, strategy, |(bytes, h, seed)| {
        let _ = WalHeader::decode(&bytes);
        let _ = FrameHeader::decode(&bytes);
        let h = WalHeader { page_size: 512, ..h };
        let prev = Checksum { s0: seed as u32, s1: (seed >> 32) as u32 };
        let _ = decode_frame(&bytes, &h, prev);
        Ok(())
    });
}
