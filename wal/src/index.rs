//! The wal-index (`<db>-shm`) codec (<https://sqlite.org/walformat.html>; SQLite's `wal.c`:
//! `WalIndexHdr`, `WalCkptInfo`, `walIndexWriteHdr`, `walIndexTryHdr`, `walHash`, `walFramePage`,
//! `walHashGet`, `walIndexAppend`, `walCleanupHash`, `sqlite3WalFindFrame`).
//!
//! Other processes change these bytes while we read them, so everything here goes through
//! [`ShmRegion`]'s atomic accessors in the host's byte order: 32-bit words for the header, the
//! checkpoint info and the page-number arrays, 16-bit loads and stores for hash slots. Nothing
//! returns a reference into shared memory. Every access here is `Relaxed`, as SQLite's
//! `AtomicLoad`/`AtomicStore` are; ordering between processes comes from the barriers of the
//! protocol ([`publish_header`], [`read_header`] take the barrier as a function).
//!
//! ```text
//! region 0 (32 KiB):
//!     0  WalIndexHdr copy 1 (48 bytes)        48  WalIndexHdr copy 2
//!    96  nBackfill    100 aReadMark[5]        120 aLock[8] (lock bytes: never read or written)
//!   128  nBackfillAttempted                   132 notUsed0
//!   136  aPgno[4062]: page of frames 1..=4062
//! 16384  aHash[8192]: u16 slots
//! region r >= 1:
//!     0  aPgno[4096]: page of frames 4062 + (r-1)*4096 + 1 ..
//! 16384  aHash[8192]
//!
//! WalIndexHdr (native byte order but aSalt):
//!   0 iVersion 3007000   4 unused (0)   8 iChange   12 isInit u8   13 bigEndCksum u8
//!  14 szPage u16 (65536 as 1)   16 mxFrame   20 nPage   24 aFrameCksum[2]
//!  32 aSalt[2]: the WAL header's bytes 16..24 as they are (big-endian)
//!  40 aCksum[2]: walChecksumBytes in native word order over bytes 0..40, seed (0, 0)
//! ```
//!
//! The layout of the header copies and the checkpoint info is declared once, as `#[repr(C)]`
//! zerocopy structs of native-endian integers (`Region0Head`, `IndexHeaderLayout`,
//! `CkptInfoLayout`); the offsets above come from them. Shared memory is never viewed as those
//! structs: a header copy's bytes are copied out word by word with atomic loads and the copy is
//! parsed; the checkpoint info is loaded and stored a field (one word) at a time.
//!
//! A hash slot holds `k`, the 1-based index of a frame within its region (0: empty); the frame
//! is `iZero + k` and its page is `aPgno[k - 1]`. Slots are keyed by `(page * 383) & 8191` with
//! linear probing.

use crate::format::{ByteOrder, Checksum, Salt, SaltLayout, WAL_VERSION};
use crate::{Error, IndexCorruption, Result};
use core::mem::{offset_of, size_of};
use folio_vfs::sync::atomic::Ordering;
use folio_vfs::{ShmRegion, SHM_NLOCK};
use zerocopy::native_endian::{U16, U32};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Bytes of one wal-index region (`WALINDEX_PGSZ`).
pub const REGION_SIZE: usize = folio_vfs::SHM_REGION_SIZE;
/// Frames indexed by a region after the first (`HASHTABLE_NPAGE`).
pub const HASHTABLE_NPAGE: u32 = 4096;
/// Hash slots per region (`HASHTABLE_NSLOT`).
pub const HASHTABLE_NSLOT: usize = 2 * HASHTABLE_NPAGE as usize;
/// The hash multiplier (`HASHTABLE_HASH_1`).
pub const HASHTABLE_HASH_1: u32 = 383;
/// Bytes of one `WalIndexHdr` copy.
pub const HEADER_COPY_LEN: usize = size_of::<IndexHeaderLayout>();
/// Bytes of a header copy its checksum covers.
pub const HEADER_CHECKSUMMED_LEN: usize = offset_of!(IndexHeaderLayout, checksum);
/// Bytes at the start of region 0 before its page-number array (`WALINDEX_HDR_SIZE`).
pub const INDEX_HEADER_LEN: usize = size_of::<Region0Head>();
/// Frames indexed by region 0 (`HASHTABLE_NPAGE_ONE`).
pub const HASHTABLE_NPAGE_ONE: u32 = HASHTABLE_NPAGE - (INDEX_HEADER_LEN / 4) as u32;
/// Offset of the hash slots in every region.
pub const HASH_TABLE_OFFSET: usize = HASHTABLE_NPAGE as usize * 4;
/// Read marks (`WAL_NREADER`).
pub const N_READ_MARKS: usize = 5;
/// A read mark nobody uses (`READMARK_NOT_USED`).
pub const READMARK_NOT_USED: u32 = 0xffff_ffff;

/// Offset of header copy 1.
pub const OFF_HEADER_COPY_1: usize = offset_of!(Region0Head, copy1);
/// Offset of header copy 2.
pub const OFF_HEADER_COPY_2: usize = offset_of!(Region0Head, copy2);
/// Offset of `WalCkptInfo.nBackfill`.
pub const OFF_N_BACKFILL: usize = offset_of!(Region0Head, ckpt.n_backfill);
/// Offset of `WalCkptInfo.aReadMark[0]`.
pub const OFF_READ_MARKS: usize = offset_of!(Region0Head, ckpt.read_marks);
/// Offset of the eight lock bytes (`WALINDEX_LOCK_OFFSET`), never read or written as data.
pub const OFF_LOCKS: usize = offset_of!(Region0Head, ckpt.locks);
/// Offset of `WalCkptInfo.nBackfillAttempted`.
pub const OFF_N_BACKFILL_ATTEMPTED: usize = offset_of!(Region0Head, ckpt.n_backfill_attempted);
/// Offset of `WalCkptInfo.notUsed0`.
pub const OFF_NOT_USED0: usize = offset_of!(Region0Head, ckpt.not_used0);

/// The start of region 0 as SQLite lays it out: the two header copies, then the checkpoint
/// info. Every field is in the host's byte order (but the salts, see [`IndexHeaderLayout`]).
///
/// This type declares the layout only; shared memory is never viewed as it. The bytes are
/// copied out through [`ShmRegion`]'s atomic accessors (and in the same way back), and the
/// copy is what gets parsed.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct Region0Head {
    copy1: IndexHeaderLayout,
    copy2: IndexHeaderLayout,
    ckpt: CkptInfoLayout,
}

/// One copy of `WalIndexHdr`.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct IndexHeaderLayout {
    version: U32,
    unused: U32,
    change: U32,
    is_init: u8,
    big_end_cksum: u8,
    sz_page: U16,
    max_frame: U32,
    n_page: U32,
    frame_checksum: [U32; 2],
    /// The WAL header's salt bytes as they are: big-endian, unlike everything else here.
    salt: SaltLayout,
    checksum: [U32; 2],
}

/// `WalCkptInfo`.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct CkptInfoLayout {
    n_backfill: U32,
    read_marks: [U32; N_READ_MARKS],
    /// The slot lock bytes: their byte ranges are locked, the bytes never read or written.
    locks: [u8; SHM_NLOCK],
    n_backfill_attempted: U32,
    not_used0: U32,
}

const _: () = assert!(size_of::<IndexHeaderLayout>() == 48);
const _: () = assert!(offset_of!(IndexHeaderLayout, is_init) == 12);
const _: () = assert!(offset_of!(IndexHeaderLayout, sz_page) == 14);
const _: () = assert!(offset_of!(IndexHeaderLayout, salt) == 32);
const _: () = assert!(HEADER_CHECKSUMMED_LEN == 40);
const _: () = assert!(size_of::<CkptInfoLayout>() == 40);
const _: () = assert!(size_of::<Region0Head>() == 136);
const _: () = assert!(offset_of!(CkptInfoLayout, n_backfill_attempted) == 32);
const _: () = assert!(REGION_SIZE == HASH_TABLE_OFFSET + 2 * HASHTABLE_NSLOT);
const _: () = assert!(OFF_NOT_USED0 + 4 == INDEX_HEADER_LEN);
const _: () = assert!(OFF_LOCKS as u64 == folio_vfs::shm::SHM_LOCK_BASE);
const _: () = assert!(HASHTABLE_NPAGE_ONE == 4062);
const _: () = assert!(OFF_N_BACKFILL == 96 && OFF_N_BACKFILL_ATTEMPTED == 128);
const _: () = assert!(OFF_READ_MARKS == 100 && OFF_LOCKS == 120);

const RELAXED: Ordering = Ordering::Relaxed;

/// One copy of the wal-index header (`WalIndexHdr`), field for field, so that any 48 bytes
/// decode and encode back to themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexHeader {
    /// `iVersion`: 3007000.
    pub version: u32,
    /// Bytes 4..8, unused (zero).
    pub unused: u32,
    /// `iChange`: bumped by every commit.
    pub change: u32,
    /// `isInit`: 1 once published.
    pub is_init: u8,
    /// `bigEndCksum`: 1 if the WAL's checksums read big-endian words.
    pub big_end_cksum: u8,
    /// `szPage` as stored: the page size, or 1 for 65536 (see [`IndexHeader::page_size`]).
    pub sz_page: u16,
    /// `mxFrame`: the last commit frame.
    pub max_frame: u32,
    /// `nPage`: the database size in pages after it.
    pub n_page: u32,
    /// `aFrameCksum`: the WAL's running checksum after frame `max_frame`.
    pub frame_checksum: Checksum,
    /// `aSalt`: the WAL header's salts.
    pub salt: Salt,
    /// `aCksum`: the checksum of bytes 0..40 as stored.
    pub checksum: Checksum,
}

impl From<&IndexHeaderLayout> for IndexHeader {
    #[inline]
    fn from(raw: &IndexHeaderLayout) -> Self {
        let pair = |[s0, s1]: [U32; 2]| Checksum { s0: s0.get(), s1: s1.get() };
        IndexHeader {
            version: raw.version.get(),
            unused: raw.unused.get(),
            change: raw.change.get(),
            is_init: raw.is_init,
            big_end_cksum: raw.big_end_cksum,
            sz_page: raw.sz_page.get(),
            max_frame: raw.max_frame.get(),
            n_page: raw.n_page.get(),
            frame_checksum: pair(raw.frame_checksum),
            salt: raw.salt.into(),
            checksum: pair(raw.checksum),
        }
    }
}

impl IndexHeaderLayout {
    /// The checksum of bytes 0..40 in native word order, seed (0, 0).
    #[inline]
    fn computed_checksum(&self) -> Checksum {
        Checksum::ZERO.extend(ByteOrder::native(), &self.as_bytes()[..HEADER_CHECKSUMMED_LEN])
    }

    /// Copies one header copy out of region 0 (word by word, relaxed).
    fn load(region0: &ShmRegion, copy: HeaderCopy) -> IndexHeaderLayout {
        let mut raw = IndexHeaderLayout::new_zeroed();
        region0.copy_out(copy.offset(), raw.as_mut_bytes(), RELAXED);
        raw
    }
}

/// `szPage` for a page size: `(size & 0xff00) | (size >> 16)`, so 65536 is 1.
pub fn encode_page_size(page_size: u32) -> u16 {
    ((page_size & 0xff00) | (page_size >> 16)) as u16
}

/// The page size `szPage` stands for: `(v & 0xfe00) + ((v & 1) << 16)`.
pub fn decode_page_size(sz_page: u16) -> u32 {
    (u32::from(sz_page) & 0xfe00) + ((u32::from(sz_page) & 1) << 16)
}

impl IndexHeader {
    /// The 48 bytes of a copy, as they lie in shared memory on this host.
    pub fn to_bytes(&self) -> [u8; HEADER_COPY_LEN] {
        zerocopy::transmute!(self.layout())
    }

    /// The header in 48 bytes of shared memory on this host.
    pub fn from_bytes(bytes: &[u8; HEADER_COPY_LEN]) -> IndexHeader {
        let raw: &IndexHeaderLayout = zerocopy::transmute_ref!(bytes);
        IndexHeader::from(raw)
    }

    fn layout(&self) -> IndexHeaderLayout {
        let pair = |sum: Checksum| [U32::new(sum.s0), U32::new(sum.s1)];
        IndexHeaderLayout {
            version: U32::new(self.version),
            unused: U32::new(self.unused),
            change: U32::new(self.change),
            is_init: self.is_init,
            big_end_cksum: self.big_end_cksum,
            sz_page: U16::new(self.sz_page),
            max_frame: U32::new(self.max_frame),
            n_page: U32::new(self.n_page),
            frame_checksum: pair(self.frame_checksum),
            salt: self.salt.into(),
            checksum: pair(self.checksum),
        }
    }

    /// The checksum bytes 0..40 should carry (native word order, seed (0, 0)).
    pub fn computed_checksum(&self) -> Checksum {
        self.layout().computed_checksum()
    }

    /// True if the stored checksum is the computed one.
    pub fn checksum_ok(&self) -> bool {
        self.checksum == self.computed_checksum()
    }

    /// The header as SQLite publishes it (`walIndexWriteHdr`): `isInit` 1, checksum computed.
    #[must_use]
    pub fn sealed(mut self) -> IndexHeader {
        self.is_init = 1;
        self.checksum = self.computed_checksum();
        self
    }

    /// The page size (0 while no commit has set it).
    pub fn page_size(&self) -> u32 {
        decode_page_size(self.sz_page)
    }

    /// The WAL's checksum word order.
    pub fn order(&self) -> ByteOrder {
        if self.big_end_cksum != 0 {
            ByteOrder::BigEndian
        } else {
            ByteOrder::LittleEndian
        }
    }

    /// The header recovery computes from a scan of the WAL (`walIndexRecover`, before
    /// publishing): version, byte order and salts of a valid WAL header, `mxFrame`, `nPage`,
    /// `aFrameCksum` of the last commit, and `szPage` only if there is a commit (recovery sets
    /// it at commit frames only); `iChange` 0.
    pub fn recovered(scan: &crate::WalScan) -> IndexHeader {
        let committed = scan.max_frame > 0;
        IndexHeader {
            version: WAL_VERSION,
            big_end_cksum: scan.header.map_or(0, |h| u8::from(h.order.is_big_endian())),
            sz_page: match scan.header {
                Some(h) if committed => encode_page_size(h.page_size),
                _ => 0,
            },
            max_frame: scan.max_frame,
            n_page: scan.db_pages,
            frame_checksum: scan.checksum,
            salt: scan.salt(),
            ..IndexHeader::default()
        }
    }
}

/// Which copy of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCopy {
    /// Bytes 0..48, written last and read first.
    First,
    /// Bytes 48..96, written first and read last.
    Second,
}

impl HeaderCopy {
    fn offset(self) -> usize {
        match self {
            HeaderCopy::First => OFF_HEADER_COPY_1,
            HeaderCopy::Second => OFF_HEADER_COPY_2,
        }
    }
}

/// Reads one header copy from region 0 (word by word, relaxed).
pub fn load_header_copy(region0: &ShmRegion, copy: HeaderCopy) -> IndexHeader {
    IndexHeader::from(&IndexHeaderLayout::load(region0, copy))
}

/// Writes one header copy into region 0 as given (word by word, relaxed).
pub fn store_header_copy(region0: &ShmRegion, copy: HeaderCopy, header: &IndexHeader) {
    region0.copy_in(copy.offset(), header.layout().as_bytes(), RELAXED);
}

/// Publishes `header` (`walIndexWriteHdr`): seals it ([`IndexHeader::sealed`]), writes copy 2,
/// runs `barrier`, writes copy 1. Returns the sealed header.
pub fn publish_header(region0: &ShmRegion, header: IndexHeader, barrier: &dyn Fn()) -> IndexHeader {
    let sealed = header.sealed();
    let raw = sealed.layout();
    region0.copy_in(HeaderCopy::Second.offset(), raw.as_bytes(), RELAXED);
    barrier();
    region0.copy_in(HeaderCopy::First.offset(), raw.as_bytes(), RELAXED);
    sealed
}

/// Why the header in shared memory cannot be used as it is (`walIndexTryHdr`): a writer is
/// publishing, or the index needs recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderUnusable {
    /// The two copies differ.
    CopiesDiffer {
        /// Copy 1.
        first: IndexHeader,
        /// Copy 2.
        second: IndexHeader,
    },
    /// `isInit` is 0.
    NotInitialized,
    /// The checksum does not match bytes 0..40.
    BadChecksum {
        /// What the header says.
        stored: Checksum,
        /// What its bytes sum to.
        computed: Checksum,
    },
}

/// Reads the header as SQLite's readers do (`walIndexTryHdr`): copy 1, `barrier`, copy 2;
/// usable only if they are identical, initialized and the checksum verifies. The version is not
/// checked here (3007000 is the caller's check: anything else is `SQLITE_CANTOPEN`).
pub fn read_header(
    region0: &ShmRegion,
    barrier: &dyn Fn(),
) -> std::result::Result<IndexHeader, HeaderUnusable> {
    let first_raw = IndexHeaderLayout::load(region0, HeaderCopy::First);
    barrier();
    let second_raw = IndexHeaderLayout::load(region0, HeaderCopy::Second);
    let first = IndexHeader::from(&first_raw);
    if first_raw.as_bytes() != second_raw.as_bytes() {
        return Err(HeaderUnusable::CopiesDiffer { first, second: IndexHeader::from(&second_raw) });
    }
    if first.is_init == 0 {
        return Err(HeaderUnusable::NotInitialized);
    }
    let computed = first_raw.computed_checksum();
    if computed != first.checksum {
        return Err(HeaderUnusable::BadChecksum { stored: first.checksum, computed });
    }
    Ok(first)
}

/// The checkpoint information after the header copies (`WalCkptInfo`, lock bytes excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CkptInfo {
    /// `nBackfill`: frames copied into the database.
    pub n_backfill: u32,
    /// `aReadMark[0..5]`.
    pub read_marks: [u32; N_READ_MARKS],
    /// `nBackfillAttempted`.
    pub n_backfill_attempted: u32,
    /// `notUsed0`.
    pub not_used0: u32,
}

impl CkptInfo {
    /// Loads every field (each an independent relaxed load: not a consistent snapshot).
    ///
    /// Each field is one word, loaded at its offset in `CkptInfoLayout`; the lock bytes
    /// between the read marks and `nBackfillAttempted` are skipped.
    pub fn load(region0: &ShmRegion) -> CkptInfo {
        let mut read_marks = [0; N_READ_MARKS];
        for (i, mark) in read_marks.iter_mut().enumerate() {
            *mark = read_mark(region0, i);
        }
        CkptInfo {
            n_backfill: n_backfill(region0),
            read_marks,
            n_backfill_attempted: n_backfill_attempted(region0),
            not_used0: region0.load_u32(OFF_NOT_USED0, RELAXED),
        }
    }

    /// Stores every field, never touching the lock bytes.
    pub fn store(&self, region0: &ShmRegion) {
        set_n_backfill(region0, self.n_backfill);
        for (i, &mark) in self.read_marks.iter().enumerate() {
            set_read_mark(region0, i, mark);
        }
        set_n_backfill_attempted(region0, self.n_backfill_attempted);
        region0.store_u32(OFF_NOT_USED0, self.not_used0, RELAXED);
    }
}

/// `nBackfill`.
pub fn n_backfill(region0: &ShmRegion) -> u32 {
    region0.load_u32(OFF_N_BACKFILL, RELAXED)
}

/// Sets `nBackfill`.
pub fn set_n_backfill(region0: &ShmRegion, value: u32) {
    region0.store_u32(OFF_N_BACKFILL, value, RELAXED);
}

/// `aReadMark[i]`.
///
/// # Panics
/// If `i >= 5`.
pub fn read_mark(region0: &ShmRegion, i: usize) -> u32 {
    assert!(i < N_READ_MARKS, "read mark {i}");
    region0.load_u32(OFF_READ_MARKS + 4 * i, RELAXED)
}

/// Sets `aReadMark[i]`.
///
/// # Panics
/// If `i >= 5`.
pub fn set_read_mark(region0: &ShmRegion, i: usize, value: u32) {
    assert!(i < N_READ_MARKS, "read mark {i}");
    region0.store_u32(OFF_READ_MARKS + 4 * i, value, RELAXED);
}

/// `nBackfillAttempted`.
pub fn n_backfill_attempted(region0: &ShmRegion) -> u32 {
    region0.load_u32(OFF_N_BACKFILL_ATTEMPTED, RELAXED)
}

/// Sets `nBackfillAttempted`.
pub fn set_n_backfill_attempted(region0: &ShmRegion, value: u32) {
    region0.store_u32(OFF_N_BACKFILL_ATTEMPTED, value, RELAXED);
}

/// The hash slot of a page (`walHash`): `(page_no * 383) & 8191`, multiplied modulo 2^32.
pub fn wal_hash(page_no: u32) -> usize {
    (page_no.wrapping_mul(HASHTABLE_HASH_1) as usize) & (HASHTABLE_NSLOT - 1)
}

/// The next slot to probe after `slot` (`walNextHash`).
pub fn next_hash(slot: usize) -> usize {
    (slot + 1) & (HASHTABLE_NSLOT - 1)
}

/// The region indexing frame `frame_no` (`walFramePage`): `(frame_no + 33) / 4096`.
pub fn region_of_frame(frame_no: u32) -> u32 {
    ((u64::from(frame_no) + u64::from(HASHTABLE_NPAGE - HASHTABLE_NPAGE_ONE) - 1)
        / u64::from(HASHTABLE_NPAGE)) as u32
}

/// The frame number before region `region`'s first (`iZero`).
pub fn region_zero(region: u32) -> u32 {
    if region == 0 {
        0
    } else {
        HASHTABLE_NPAGE_ONE + (region - 1) * HASHTABLE_NPAGE
    }
}

/// Frames region `region` indexes: 4062 for region 0, 4096 for the others.
pub fn region_capacity(region: u32) -> u32 {
    if region == 0 {
        HASHTABLE_NPAGE_ONE
    } else {
        HASHTABLE_NPAGE
    }
}

/// Offset of the page-number array in region `region`.
pub fn page_array_offset(region: u32) -> usize {
    if region == 0 {
        INDEX_HEADER_LEN
    } else {
        0
    }
}

/// Offset of hash slot `slot` (0..8192) in any region.
pub fn hash_slot_offset(slot: usize) -> usize {
    assert!(slot < HASHTABLE_NSLOT, "hash slot {slot}");
    HASH_TABLE_OFFSET + 2 * slot
}

/// Where a frame's entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLocation {
    /// The region.
    pub region: u32,
    /// The frame's 1-based index in the region: the value its hash slot holds.
    pub index: u32,
    /// Offset of its page number (`aPgno[index - 1]`) in the region.
    pub page_no_offset: usize,
}

/// Where frame `frame_no` (1-based) is indexed.
///
/// # Panics
/// If `frame_no` is 0.
pub fn frame_location(frame_no: u32) -> FrameLocation {
    assert!(frame_no > 0, "frame numbers start at 1");
    let region = region_of_frame(frame_no);
    let index = frame_no - region_zero(region);
    FrameLocation {
        region,
        index,
        page_no_offset: page_array_offset(region) + 4 * (index as usize - 1),
    }
}

fn region(regions: &[ShmRegion], region: u32) -> Result<&ShmRegion> {
    regions.get(region as usize).ok_or(Error::RegionMissing { region, mapped: regions.len() })
}

/// The page number recorded for frame `frame_no` (`walFramePgno`).
pub fn frame_page_no(regions: &[ShmRegion], frame_no: u32) -> Result<u32> {
    let loc = frame_location(frame_no);
    Ok(region(regions, loc.region)?.load_u32(loc.page_no_offset, RELAXED))
}

/// The hash slot value at `slot` of a region.
pub fn hash_slot(region: &ShmRegion, slot: usize) -> u16 {
    region.load_u16(hash_slot_offset(slot), RELAXED)
}

/// The newest frame in `min_frame..=max_frame` that carries `page_no`, looked up as
/// `sqlite3WalFindFrame` does: regions from the one holding `max_frame` down to the one holding
/// `min_frame`; in each, probe from the page's hash until an empty slot, keeping the last entry
/// whose frame is in range and whose `aPgno` is the page; stop at the first region with a hit.
/// A slot value beyond its region's page array (garbage no writer can leave) never matches.
pub fn find_frame(
    regions: &[ShmRegion],
    page_no: u32,
    max_frame: u32,
    min_frame: u32,
) -> Result<Option<u32>> {
    if max_frame == 0 {
        return Ok(None);
    }
    let lowest = region_of_frame(min_frame);
    for r in (lowest..=region_of_frame(max_frame)).rev() {
        let shm = region(regions, r)?;
        let zero = region_zero(r);
        let mut found = None;
        let mut slot = wal_hash(page_no);
        let mut remaining = HASHTABLE_NSLOT;
        loop {
            let k = u32::from(hash_slot(shm, slot));
            if k == 0 {
                break;
            }
            let frame = zero + k;
            if frame <= max_frame
                && frame >= min_frame
                && k <= region_capacity(r)
                && shm.load_u32(page_array_offset(r) + 4 * (k as usize - 1), RELAXED) == page_no
            {
                found = Some(frame);
            }
            if remaining == 0 {
                let what =
                    IndexCorruption::LookupProbesExhausted { page_no, probes: HASHTABLE_NSLOT + 1 };
                return Err(Error::IndexCorrupt { region: r, what });
            }
            remaining -= 1;
            slot = next_hash(slot);
        }
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Zeroes a region's page-number array and hash table (region 0's header is kept).
pub fn clear_region(regions: &[ShmRegion], r: u32) -> Result<()> {
    let shm = region(regions, r)?;
    // The hash table follows the page array to the region's end: zero both a word at a time.
    for offset in (page_array_offset(r)..REGION_SIZE).step_by(4) {
        shm.store_u32(offset, 0, RELAXED);
    }
    Ok(())
}

/// Removes every entry for a frame after `max_frame` from the region holding `max_frame`
/// (`walCleanupHash`): slots whose index is beyond it are emptied and the page numbers after
/// it zeroed. Later regions are left alone: they are cleared when first reused.
pub fn cleanup(regions: &[ShmRegion], max_frame: u32) -> Result<()> {
    if max_frame == 0 {
        return Ok(());
    }
    let r = region_of_frame(max_frame);
    let shm = region(regions, r)?;
    let limit = max_frame - region_zero(r);
    for slot in 0..HASHTABLE_NSLOT {
        if u32::from(hash_slot(shm, slot)) > limit {
            shm.store_u16(hash_slot_offset(slot), 0, RELAXED);
        }
    }
    let from = page_array_offset(r) + 4 * limit as usize;
    for offset in (from..HASH_TABLE_OFFSET).step_by(4) {
        shm.store_u32(offset, 0, RELAXED);
    }
    Ok(())
}

/// Records that frame `frame_no` carries `page_no` (`walIndexAppend`). `max_frame` is the
/// header's `mxFrame` (the committed log): if the frame's slot in the page array is already
/// set, a writer died mid-transaction and its entries after `max_frame` are removed first. The
/// first frame of a region clears the region. The page number is stored before the hash slot.
pub fn append(regions: &[ShmRegion], frame_no: u32, page_no: u32, max_frame: u32) -> Result<()> {
    let loc = frame_location(frame_no);
    let shm = region(regions, loc.region)?;
    if loc.index == 1 {
        clear_region(regions, loc.region)?;
    }
    if shm.load_u32(loc.page_no_offset, RELAXED) != 0 {
        cleanup(regions, max_frame)?;
    }
    let mut slot = wal_hash(page_no);
    let mut collisions = loc.index as usize;
    while hash_slot(shm, slot) != 0 {
        if collisions == 0 {
            let what = IndexCorruption::InsertProbesExhausted {
                frame_no,
                page_no,
                probes: loc.index as usize + 1,
            };
            return Err(Error::IndexCorrupt { region: loc.region, what });
        }
        collisions -= 1;
        slot = next_hash(slot);
    }
    shm.store_u32(loc.page_no_offset, page_no, RELAXED);
    shm.store_u16(hash_slot_offset(slot), loc.index as u16, RELAXED);
    Ok(())
}

#[cfg(test)]
mod tests;
