//! Tests of the database-header codec against the file format's encodings
//! (<https://sqlite.org/fileformat2.html#the_database_header>) and garbage.

use super::*;
use proptest::prelude::*;

/// A minimal valid header for `page_size`.
fn header_bytes(page_size: u32) -> Vec<u8> {
    let mut h = vec![0u8; HEADER_LEN];
    h[..16].copy_from_slice(MAGIC);
    h[16..18].copy_from_slice(&encode_page_size(page_size));
    h[18] = 1;
    h[19] = 1;
    h[21..24].copy_from_slice(&[64, 32, 32]);
    h
}

#[test]
fn page_sizes_encode_as_sqlite_stores_them() {
    assert_eq!(encode_page_size(4096), [0x10, 0x00]);
    assert_eq!(encode_page_size(512), [0x02, 0x00]);
    assert_eq!(encode_page_size(65536), [0x00, 0x01], "65536 is stored as 1");
    for shift in 9..=16 {
        let ps = 1u32 << shift;
        let [a, b] = encode_page_size(ps);
        assert_eq!(decode_page_size(a, b), ps);
    }
}

#[test]
fn the_in_header_size_is_trusted_only_when_the_counters_agree() {
    let mut h = header_bytes(4096);
    stamp_commit(&mut h, 6, 10, 3_040_001);
    let header = DbHeader::decode(&h).unwrap();
    assert_eq!((header.change_counter, header.version_valid_for), (7, 7));
    assert!(header.size_is_valid());
    assert_eq!(header.size_in_pages(3 * 4096), 10);
    // An old writer bumped the counter without the version-valid-for copy: derive from the file.
    h[27] = 8;
    let header = DbHeader::decode(&h).unwrap();
    assert!(!header.size_is_valid());
    assert_eq!(header.size_in_pages(3 * 4096 + 1), 4, "rounded up to whole pages");
    // A zero size is never trusted.
    stamp_commit(&mut h, 0, 0, 1);
    assert!(!DbHeader::decode(&h).unwrap().size_is_valid());
}

#[test]
fn invalid_headers_say_which_field() {
    // (offset, bytes written there): each spoils the field at that offset.
    let patches: [(usize, &[u8]); 6] = [
        (0, b"s"),           // magic
        (16, &[0x03, 0x00]), // page size 768: not a power of two
        (16, &[0x01, 0x00]), // page size 256: too small
        (19, &[3]),          // read version newer than this code
        (21, &[63]),         // payload fraction
        (20, &[40]),         // 40 reserved bytes leave 472 usable in a 512-byte page
    ];
    for (offset, bytes) in patches {
        let mut h = header_bytes(512);
        h[offset..offset + bytes.len()].copy_from_slice(bytes);
        let err = DbHeader::decode(&h).unwrap_err();
        assert_eq!(err.offset(), offset, "{err:?}");
        assert!(err.to_string().starts_with(&format!("header offset {offset}: ")), "{err}");
    }
    assert_eq!(DbHeader::decode(&[0u8; 20]).unwrap_err(), InvalidHeader::TooShort { len: 20 });
    // Write version 3: still readable, read-only.
    let mut h = header_bytes(4096);
    h[18] = 3;
    assert!(DbHeader::decode(&h).unwrap().is_read_only_format());
}

#[test]
fn wal_format_versions() {
    let mut h = header_bytes(4096);
    set_format_versions(&mut h, 2);
    assert!(DbHeader::decode(&h).unwrap().is_wal());
    set_format_versions(&mut h, 1);
    assert!(!DbHeader::decode(&h).unwrap().is_wal());
}

proptest! {
    #[test]
    fn decode_never_panics(bytes: Vec<u8>) {
        let _ = DbHeader::decode(&bytes);
        let _ = file_version(&bytes);
    }

    #[test]
    fn stamped_commits_round_trip(start: u32, pages in 1u32.., version: u32, shift in 9u32..=16) {
        let mut h = header_bytes(1 << shift);
        stamp_commit(&mut h, start, pages, version);
        let header = DbHeader::decode(&h).unwrap();
        prop_assert_eq!(header.change_counter, start.wrapping_add(1));
        prop_assert_eq!(header.db_size_pages, pages);
        prop_assert_eq!(header.sqlite_version, version);
        prop_assert!(header.size_is_valid());
    }
}
