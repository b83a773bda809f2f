//! The bodies of the fuzz targets: one function per decoder of bytes Folio reads from disk or
//! shared memory, each feeding it arbitrary bytes and checking what a decoded value promises.
//! None may panic, hang or allocate without bound, whatever the bytes.
//!
//! The same file is compiled twice: here, so `tests/it/fuzz_corpus.rs` replays every corpus
//! entry and every crash found on stable Rust in CI, and into the cargo-fuzz binaries under
//! `fuzz/fuzz_targets/` (`#[path]`), so libFuzzer drives exactly these functions
//! (`cargo xtask fuzz TARGET --time S`). It therefore uses the storage crates only.

use folio_journal::format::{self as journal_format, JournalHeader};
use folio_journal::playback::{self, Mode};
use folio_pager::header::DbHeader;
use folio_vfs::format::valid_page_size;
use folio_vfs::memory::MemoryVfs;
use folio_vfs::shm::ShmRegion;
use folio_vfs::{FileKind, OpenFlags, Vfs};
use folio_wal::format::{self as wal_format, Checksum, WalHeader, WAL_HEADER_LEN};
use folio_wal::index::{self, CkptInfo, HeaderCopy, IndexHeader, HEADER_COPY_LEN, REGION_SIZE};
use std::path::Path;
use std::sync::atomic::Ordering;

/// A target's body: it takes any bytes.
pub type Body = fn(&[u8]);

/// Every target: its name (the cargo-fuzz binary and corpus directory) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("db_header", db_header),
    ("wal_header", wal_header),
    ("wal_frames", wal_frames),
    ("wal_scan", wal_scan),
    ("wal_index", wal_index),
    ("journal_header", journal_header),
    ("journal_record", journal_record),
    ("journal_playback", journal_playback),
];

/// The database header: a header that decodes has a valid page size and usable size, and a
/// size computed from any file length does not overflow.
pub fn db_header(data: &[u8]) {
    if let Ok(h) = DbHeader::decode(data) {
        assert!(valid_page_size(h.page_size), "{h:?}");
        assert!(h.usable_size() >= 480, "{h:?}");
        let _ = h.size_in_pages(u64::MAX);
        let _ = h.size_in_pages(data.len() as u64);
    }
}

/// The WAL header: one that decodes encodes back to the bytes it came from.
pub fn wal_header(data: &[u8]) {
    if let Ok(h) = WalHeader::decode(data) {
        assert!(valid_page_size(h.page_size), "{h:?}");
        let bytes = h.encode();
        assert_eq!(&bytes[..], &data[..WAL_HEADER_LEN], "{h:?} re-encodes differently");
        assert_eq!(WalHeader::decode(&bytes), Ok(h));
    }
}

/// Frames after a header, decoded one after another with the running checksum, as recovery
/// does; the first byte picks the page size so short inputs still reach frame bodies.
pub fn wal_frames(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let page_size = 512u32 << (pick % 8);
    let salt = wal_format::Salt { salt1: 1, salt2: 2 };
    let header = WalHeader::new(page_size, 0, salt);
    let mut running = header.checksum();
    let frame_len = wal_format::frame_len(page_size) as usize;
    for bytes in rest.chunks(frame_len) {
        match wal_format::decode_frame(bytes, &header, running) {
            Ok(frame) => {
                assert!(frame.header.page_no != 0);
                assert_eq!(frame.page.len(), page_size as usize);
                running = frame.header.checksum;
            }
            Err(_) => break,
        }
    }
    let _ = Checksum::ZERO.extend(header.order, &rest[..rest.len() / 8 * 8]);
}

/// A whole WAL file scanned as recovery scans it: what it reports stays within the file.
pub fn wal_scan(data: &[u8]) {
    let vfs = MemoryVfs::new();
    let path = Path::new("/fuzz.db-wal");
    let file = vfs.open(Some(path), OpenFlags::create(FileKind::Wal)).expect("memory open");
    file.write_at(0, data).expect("memory write");
    let Ok(scan) = folio_wal::scan(&*file) else { return };
    let Some(h) = scan.header else {
        assert!(scan.frames.is_empty() && scan.max_frame == 0);
        return;
    };
    let whole = wal_format::whole_frames(data.len() as u64, h.page_size);
    assert!((scan.frames.len() + scan.uncommitted.len()) as u64 <= whole);
    assert_eq!(scan.frames.len() as u64, u64::from(scan.max_frame));
    let _ = IndexHeader::recovered(&scan);
    let _ = scan.latest_frames();
}

/// Region 0 of a wal-index with arbitrary contents, read as readers read it: both header
/// copies, the usability check, the checkpoint info, and a frame lookup through the hash table.
pub fn wal_index(data: &[u8]) {
    let region0 = ShmRegion::heap();
    let len = data.len().min(REGION_SIZE) / 4 * 4;
    region0.copy_in(0, &data[..len], Ordering::Relaxed);
    let first = index::load_header_copy(&region0, HeaderCopy::First);
    let _ = index::load_header_copy(&region0, HeaderCopy::Second);
    let _ = first.page_size();
    let _ = first.checksum_ok();
    let usable = index::read_header(&region0, &|| {});
    let _ = CkptInfo::load(&region0);
    if let Some(bytes) = data.get(..HEADER_COPY_LEN) {
        let copy: &[u8; HEADER_COPY_LEN] = bytes.try_into().expect("sliced to length");
        assert_eq!(&IndexHeader::from_bytes(copy).to_bytes(), copy, "a copy re-encodes as read");
    }
    if let Ok(header) = usable {
        // Look up a few pages as a reader at mxFrame would, whatever the hash table holds.
        let regions = [region0];
        for page in [1, 2, 0x7fff_ffff] {
            let _ = index::find_frame(&regions, page, header.max_frame, 0);
        }
    }
}

/// The journal header, with and without the magic check.
pub fn journal_header(data: &[u8]) {
    for check_magic in [true, false] {
        if let Ok(h) = JournalHeader::decode_checking_magic(data, check_magic) {
            let _ = journal_format::header_offset(data.len() as u64, h.sector_size);
        }
    }
    let _ = journal_format::super_trailer_len(data);
    let _ = journal_format::decode_super_trailer(data, 1024);
}

/// One journal record; the first byte picks the page size.
pub fn journal_record(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let page_size = 512u32 << (pick % 8);
    if let Ok(record) = journal_format::decode_record(rest, page_size, 0x1234_5678) {
        assert_eq!(record.page.len(), page_size as usize);
    }
}

/// A whole hot journal played back into a four-page database, as recovery does: every header,
/// segment, record and trailer it can reach. The database's file system caps files at 64 MiB:
/// a journal's original size is taken on trust, as SQLite takes it (a hostile one grows the
/// file, sparse on a real disk), and memory is not a sparse disk.
pub fn journal_playback(data: &[u8]) {
    let vfs = MemoryVfs::builder().max_file_size(64 << 20).build();
    let open = |name: &str, kind| {
        vfs.open(Some(Path::new(name)), OpenFlags::create(kind)).expect("memory open")
    };
    let db = open("/fuzz.db", FileKind::MainDb);
    db.write_at(0, &[0xa5; 4 * 1024]).expect("memory write");
    let journal = open("/fuzz.db-journal", FileKind::MainJournal);
    journal.write_at(0, data).expect("memory write");
    if let Ok(Some(done)) = playback::playback(&*journal, &*db, 1024, Mode::Hot) {
        assert!(valid_page_size(done.page_size), "{done:?}");
    }
}
