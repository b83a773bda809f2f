//! Tests of the journal codec: SQLite's documented values, round trips, and garbage.

use super::*;
use proptest::prelude::*;

#[test]
fn checksum_samples_the_bytes_sqlite_samples() {
    // 1024-byte pages sample offsets 24, 224, 424, 624, 824 (SQLite's pager.c, `pager_cksum`).
    let mut page = vec![0u8; 1024];
    for off in [24, 224, 424, 624, 824] {
        page[off] = 1;
    }
    assert_eq!(checksum(100, &page), 105);
    // Offset 0 and every other offset are never sampled.
    let mut other = vec![0xffu8; 1024];
    for off in [24, 224, 424, 624, 824] {
        other[off] = 0;
    }
    assert_eq!(checksum(7, &other), 7);
    // 4096-byte pages: 20 samples, 96..=3896.
    let page = vec![1u8; 4096];
    assert_eq!(checksum(0, &page), 20);
    // The sum wraps modulo 2^32.
    assert_eq!(checksum(u32::MAX, &vec![1u8; 512]), 1);
}

#[test]
fn lock_byte_page_numbers_match_the_fact_sheet() {
    for (ps, pg) in [(512, 2097153), (1024, 1048577), (4096, 262145), (65536, 16385)] {
        assert_eq!(lock_byte_page(ps), pg, "page size {ps}");
    }
}

#[test]
fn an_unsynced_header_starts_with_twelve_zero_bytes() {
    let h = JournalHeader {
        n_rec: 3,
        nonce: 0xabcd,
        db_orig_pages: 9,
        sector_size: 512,
        page_size: 4096,
    };
    let mut sector = vec![0xee; 512];
    h.encode(&mut sector, false);
    assert_eq!(&sector[..12], &[0; 12]);
    assert_eq!(JournalHeader::decode(&sector), Err(EndOfJournal::BadMagic));
    assert!(sector[HEADER_FIELDS_LEN..].iter().all(|&b| b == 0), "padding is zeros");
    h.encode_magic_and_count(&mut sector[..MAGIC_AND_COUNT_LEN]);
    assert_eq!(JournalHeader::decode(&sector), Ok(h));
}

#[test]
fn headers_with_impossible_sizes_end_the_journal() {
    let mut sector = vec![0; 512];
    let good =
        JournalHeader { n_rec: 1, nonce: 1, db_orig_pages: 1, sector_size: 512, page_size: 1024 };
    for (h, why) in [
        (JournalHeader { page_size: 1000, ..good }, EndOfJournal::BadPageSize(1000)),
        (JournalHeader { page_size: 256, ..good }, EndOfJournal::BadPageSize(256)),
        (JournalHeader { sector_size: 16, ..good }, EndOfJournal::BadSectorSize(16)),
        (JournalHeader { sector_size: 131072, ..good }, EndOfJournal::BadSectorSize(131072)),
    ] {
        h.encode(&mut sector, true);
        assert_eq!(JournalHeader::decode(&sector), Err(why));
    }
    assert_eq!(JournalHeader::decode(&sector[..20]), Err(EndOfJournal::Short));
    // Pre-3.5.8 writers stored page size 0: accepted (the reader uses its own).
    JournalHeader { page_size: 0, ..good }.encode(&mut sector, true);
    assert!(JournalHeader::decode(&sector).is_ok());
}

#[test]
fn records_for_page_zero_the_lock_byte_page_or_with_bad_checksums_end_the_journal() {
    let page = vec![7u8; 512];
    let mut rec = vec![0; record_len(512) as usize];
    encode_record(0, &page, 5, &mut rec);
    assert_eq!(decode_record(&rec, 512, 5), Err(EndOfJournal::PageZero));
    encode_record(lock_byte_page(512), &page, 5, &mut rec);
    assert_eq!(decode_record(&rec, 512, 5), Err(EndOfJournal::LockBytePage));
    encode_record(3, &page, 5, &mut rec);
    assert_eq!(decode_record(&rec, 512, 6), Err(EndOfJournal::BadChecksum));
    assert_eq!(decode_record(&rec[..100], 512, 5), Err(EndOfJournal::Short));
    assert_eq!(decode_record(&rec, 512, 5), Ok(Record { page_no: 3, page: &page }));
}

#[test]
fn header_offsets_round_up_to_sectors() {
    assert_eq!(header_offset(0, 512), 0);
    assert_eq!(header_offset(1, 512), 512);
    assert_eq!(header_offset(512 + 8 + 4096, 512), 512 * 10);
}

#[test]
fn super_trailer_round_trip_and_rejections() {
    let mut journal = vec![1u8; 600];
    journal.extend(encode_super_trailer("/db/main.db-mj01ABCD9EF", 4096));
    assert_eq!(decode_super_trailer(&journal, 4096).as_deref(), Some("/db/main.db-mj01ABCD9EF"));
    assert_eq!(decode_super_trailer(&journal, 1024), None, "wrong page size marker");
    let n = journal.len();
    journal[n - 20] ^= 1; // flip a name byte: checksum fails
    assert_eq!(decode_super_trailer(&journal, 4096), None);
    assert_eq!(decode_super_trailer(&[0u8; 10], 4096), None);
}

fn page_size() -> impl Strategy<Value = u32> {
    (9u32..=16).prop_map(|shift| 1 << shift)
}

proptest! {
    #[test]
    fn header_round_trip(n_rec: u32, nonce: u32, pages: u32, sector_shift in 5u32..=16, ps in page_size()) {
        let h = JournalHeader { n_rec, nonce, db_orig_pages: pages, sector_size: 1 << sector_shift, page_size: ps };
        let mut sector = vec![0u8; (1usize << sector_shift).max(HEADER_FIELDS_LEN)];
        h.encode(&mut sector, true);
        prop_assert_eq!(JournalHeader::decode(&sector), Ok(h));
    }

    #[test]
    fn record_round_trip(page_no in 1u32..2_000_000, nonce: u32, fill: Vec<u8>, ps in page_size()) {
        prop_assume!(page_no != lock_byte_page(ps));
        let page: Vec<u8> = (0..ps as usize).map(|i| fill.get(i % fill.len().max(1)).copied().unwrap_or(i as u8)).collect();
        let mut rec = vec![0; record_len(ps) as usize];
        encode_record(page_no, &page, nonce, &mut rec);
        prop_assert_eq!(decode_record(&rec, ps, nonce), Ok(Record { page_no, page: &page }));
    }

    #[test]
    fn decoders_never_panic_on_garbage(bytes: Vec<u8>, ps in page_size(), nonce: u32) {
        let _ = JournalHeader::decode(&bytes);
        let _ = decode_record(&bytes, ps, nonce);
        let _ = decode_super_trailer(&bytes, ps);
    }
}
