//! The rollback journal's bytes (SQLite's pager.c, `writeJournalHdr`,
//! `pager_playback_one_page`, `writeSuperJournal`;
//! <https://sqlite.org/fileformat2.html#the_rollback_journal>): headers, page records, the
//! super-journal trailer. Every offset and byte order of the journal lives here.
//!
//! ```text
//! header (one sector, at a multiple of the sector size):
//!   0  magic d9 d5 05 f9 20 a1 63 d7      (zeros until the records are synced)
//!   8  BE32 record count (0xffffffff: "compute from the file size")
//!  12  BE32 checksum nonce
//!  16  BE32 database size in pages when the transaction began
//!  20  BE32 sector size of the writer
//!  24  BE32 page size
//!  28  zeros to the end of the sector
//! record (4 + page size + 4 bytes):
//!   BE32 page number | original page image | BE32 checksum (nonce + sampled bytes)
//! super-journal trailer (at end of file):
//!   BE32 lock-byte page number | name (UTF-8, no NUL) | BE32 name length
//!   | BE32 name checksum | magic
//! ```
//!
//! The header and the trailer's fixed end are declared once, as `#[repr(C)]` structs of
//! zerocopy's big-endian integers (`HeaderLayout`, `SuperTrailerTail`); their lengths come from
//! those structs. The page-size and sector-size rules are `folio_vfs::format`'s.
//!
//! Decoding never panics on bytes read from disk: a header or record that does not verify is
//! an [`EndOfJournal`] reason, which playback treats as the end of the journal, as SQLite does.

use core::mem::{offset_of, size_of};
use folio_vfs::format::{valid_page_size, valid_sector_size};
pub use folio_vfs::format::{MAX_PAGE_SIZE, MAX_SECTOR_SIZE, MIN_PAGE_SIZE, MIN_SECTOR_SIZE};
use zerocopy::big_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The journal magic (pager.c `aJournalMagic`).
pub const MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
/// Record count meaning "as many records as fit in the file" (OFF, MEMORY, SAFE_APPEND).
pub const RECORD_COUNT_FROM_FILE_SIZE: u32 = 0xffff_ffff;
/// Bytes of a header that carry fields; the rest of its sector is zero.
pub const HEADER_FIELDS_LEN: usize = size_of::<HeaderLayout>();
/// Bytes zeroed by a PERSIST-mode commit (`zeroJournalHdr`): everything but the padding.
pub const PERSIST_ZEROED_LEN: usize = HEADER_FIELDS_LEN;
/// Bytes written last, after the records are durable: magic and record count.
pub const MAGIC_AND_COUNT_LEN: usize = size_of::<MagicAndCount>();

/// The fields at the start of a journal header, as they lie in the file.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct HeaderLayout {
    /// The part written last: [`MAGIC`] and the record count.
    head: MagicAndCount,
    nonce: U32,
    db_orig_pages: U32,
    sector_size: U32,
    page_size: U32,
}
const _: () = assert!(size_of::<HeaderLayout>() == 28);
const _: () = assert!(offset_of!(HeaderLayout, nonce) == MAGIC_AND_COUNT_LEN);

/// The first 12 bytes of a header: magic and record count.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct MagicAndCount {
    magic: [u8; 8],
    n_rec: U32,
}
const _: () = assert!(size_of::<MagicAndCount>() == 12);

/// The fixed-size end of a super-journal trailer, at the very end of the journal.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct SuperTrailerTail {
    name_len: U32,
    name_checksum: U32,
    magic: [u8; 8],
}
const _: () = assert!(size_of::<SuperTrailerTail>() == 16);

/// Why decoding stopped: the journal ends here (not an error for playback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndOfJournal {
    /// Fewer bytes than a header or record needs.
    Short,
    /// The header's first bytes are not the magic (zeroed, never synced, or garbage).
    BadMagic,
    /// The header claims a page size that is not a power of two in 512..=65536.
    BadPageSize(u32),
    /// The header claims a sector size that is not a power of two in 32..=65536.
    BadSectorSize(u32),
    /// A record for page 0.
    PageZero,
    /// A record for the lock-byte page (also the super-journal marker).
    LockBytePage,
    /// A record whose checksum does not match its page image.
    BadChecksum,
}

/// A journal header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalHeader {
    /// Records in this segment, or [`RECORD_COUNT_FROM_FILE_SIZE`].
    pub n_rec: u32,
    /// Seed of every record checksum in this segment.
    pub nonce: u32,
    /// Database size in pages when the transaction began.
    pub db_orig_pages: u32,
    /// Sector size of the writer (header size and alignment).
    pub sector_size: u32,
    /// Page size (0 from writers older than 3.5.8: use the database's).
    pub page_size: u32,
}

impl JournalHeader {
    /// Encodes the header into `out` (one sector: the fields, then zeros). With `with_magic`
    /// false the magic and record count are zeros, as SQLite writes a header before the records
    /// are synced.
    ///
    /// # Panics
    /// If `out` is shorter than [`HEADER_FIELDS_LEN`] (a caller bug).
    pub fn encode(&self, out: &mut [u8], with_magic: bool) {
        assert!(out.len() >= HEADER_FIELDS_LEN, "journal header buffer too small");
        let (fields, padding) = out.split_at_mut(HEADER_FIELDS_LEN);
        let head = if with_magic {
            self.magic_and_count()
        } else {
            MagicAndCount { magic: [0; 8], n_rec: U32::ZERO }
        };
        let layout = HeaderLayout {
            head,
            nonce: U32::new(self.nonce),
            db_orig_pages: U32::new(self.db_orig_pages),
            sector_size: U32::new(self.sector_size),
            page_size: U32::new(self.page_size),
        };
        fields.copy_from_slice(layout.as_bytes());
        padding.fill(0);
    }

    /// The 12 bytes written at the header's start once the records are durable.
    ///
    /// # Panics
    /// If `out` is shorter than [`MAGIC_AND_COUNT_LEN`] (a caller bug).
    pub fn encode_magic_and_count(&self, out: &mut [u8]) {
        assert!(out.len() >= MAGIC_AND_COUNT_LEN, "journal header buffer too small");
        out[..MAGIC_AND_COUNT_LEN].copy_from_slice(self.magic_and_count().as_bytes());
    }

    fn magic_and_count(&self) -> MagicAndCount {
        MagicAndCount { magic: MAGIC, n_rec: U32::new(self.n_rec) }
    }

    /// Decodes a header, checking the magic and the page and sector sizes.
    pub fn decode(bytes: &[u8]) -> Result<JournalHeader, EndOfJournal> {
        Self::decode_checking_magic(bytes, true)
    }

    /// Decodes a header; without `check_magic` a header whose magic was never written (the
    /// current transaction's own, before its first sync) is accepted, as SQLite's
    /// `readJournalHdr` does for a connection rolling back its own journal.
    pub fn decode_checking_magic(
        bytes: &[u8],
        check_magic: bool,
    ) -> Result<JournalHeader, EndOfJournal> {
        let (fields, _) = HeaderLayout::ref_from_prefix(bytes).map_err(|_| EndOfJournal::Short)?;
        if check_magic && fields.head.magic != MAGIC {
            return Err(EndOfJournal::BadMagic);
        }
        let header = JournalHeader {
            n_rec: fields.head.n_rec.get(),
            nonce: fields.nonce.get(),
            db_orig_pages: fields.db_orig_pages.get(),
            sector_size: fields.sector_size.get(),
            page_size: fields.page_size.get(),
        };
        if header.page_size != 0 && !valid_page_size(header.page_size) {
            return Err(EndOfJournal::BadPageSize(header.page_size));
        }
        if !valid_sector_size(header.sector_size) {
            return Err(EndOfJournal::BadSectorSize(header.sector_size));
        }
        Ok(header)
    }
}

/// The offset of the next header at or after `offset` (headers start on sector boundaries).
pub fn header_offset(offset: u64, sector_size: u32) -> u64 {
    offset.div_ceil(u64::from(sector_size)) * u64::from(sector_size)
}

/// Bytes of one page record.
pub fn record_len(page_size: u32) -> u64 {
    4 + u64::from(page_size) + 4
}

/// The lock-byte page's number for `page_size` (`PENDING_BYTE / page_size + 1`).
pub fn lock_byte_page(page_size: u32) -> u32 {
    (0x4000_0000 / page_size) + 1
}

/// SQLite's journal checksum (`pager_cksum`): the nonce plus the bytes at
/// `len - 200, len - 400, …` (offsets above 0), modulo 2^32.
pub fn checksum(nonce: u32, page: &[u8]) -> u32 {
    let mut sum = nonce;
    let mut i = page.len() as isize - 200;
    while i > 0 {
        sum = sum.wrapping_add(u32::from(page[i as usize]));
        i -= 200;
    }
    sum
}

/// Encodes the record for page `page_no` with image `page` into `out`
/// (`out.len() == record_len(page.len())`).
pub fn encode_record(page_no: u32, page: &[u8], nonce: u32, out: &mut [u8]) {
    assert_eq!(out.len() as u64, record_len(page.len() as u32), "record buffer size");
    let (head, rest) = out.split_at_mut(size_of::<U32>());
    let (image, sum) = rest.split_at_mut(page.len());
    head.copy_from_slice(U32::new(page_no).as_bytes());
    image.copy_from_slice(page);
    sum.copy_from_slice(U32::new(checksum(nonce, page)).as_bytes());
}

/// A decoded page record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The page it restores.
    pub page_no: u32,
    /// The original image.
    pub page: &'a [u8],
}

/// Decodes one record of `page_size` from `bytes`, verifying it with `nonce`.
pub fn decode_record(bytes: &[u8], page_size: u32, nonce: u32) -> Result<Record<'_>, EndOfJournal> {
    let ps = page_size as usize;
    let bytes = bytes.get(..ps + 8).ok_or(EndOfJournal::Short)?;
    let (page_no, rest) = U32::read_from_prefix(bytes).map_err(|_| EndOfJournal::Short)?;
    let (page, stored) = U32::read_from_suffix(rest).map_err(|_| EndOfJournal::Short)?;
    let page_no = page_no.get();
    if page_no == 0 {
        return Err(EndOfJournal::PageZero);
    }
    if page_no == lock_byte_page(page_size) {
        return Err(EndOfJournal::LockBytePage);
    }
    if stored.get() != checksum(nonce, page) {
        return Err(EndOfJournal::BadChecksum);
    }
    Ok(Record { page_no, page })
}

/// Encodes the super-journal trailer naming `super_journal` for a journal of `page_size`.
pub fn encode_super_trailer(super_journal: &str, page_size: u32) -> Vec<u8> {
    let name = super_journal.as_bytes();
    let mut out = Vec::with_capacity(4 + name.len() + 16);
    let tail = SuperTrailerTail {
        name_len: U32::new(name.len() as u32),
        name_checksum: U32::new(name_checksum(name)),
        magic: MAGIC,
    };
    out.extend_from_slice(U32::new(lock_byte_page(page_size)).as_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(tail.as_bytes());
    out
}

/// The trailer's name checksum: the sum of the name's bytes. SQLite sums them as C `char`,
/// signed on x86; we do the same so non-ASCII names match x86 writers.
fn name_checksum(name: &[u8]) -> u32 {
    name.iter().fold(0u32, |sum, &b| sum.wrapping_add(b as i8 as i32 as u32))
}

/// Bytes at the very end of a journal that locate a super-journal trailer: name length,
/// checksum, magic.
pub const SUPER_TRAILER_TAIL_LEN: usize = size_of::<SuperTrailerTail>();

/// The whole trailer's length given the last [`SUPER_TRAILER_TAIL_LEN`] bytes of a journal, if
/// they can end one (the caller then reads that many bytes and calls [`decode_super_trailer`]).
pub fn super_trailer_len(tail: &[u8]) -> Option<u64> {
    let (tail, _) = SuperTrailerTail::ref_from_prefix(tail).ok()?;
    if tail.magic != MAGIC {
        return None;
    }
    let name_len = tail.name_len.get();
    (name_len > 0).then(|| u64::from(name_len) + 4 + SUPER_TRAILER_TAIL_LEN as u64)
}

/// The super-journal named by the trailer at the end of `journal` (the whole file), if a valid
/// one is there (`readSuperJournal`): magic at EOF−8, checksum at EOF−12, length at EOF−16,
/// the name before it, the lock-byte page number before that.
pub fn decode_super_trailer(journal: &[u8], page_size: u32) -> Option<String> {
    let (before, tail) = SuperTrailerTail::ref_from_suffix(journal).ok()?;
    if tail.magic != MAGIC {
        return None;
    }
    let name_len = tail.name_len.get() as usize;
    if name_len == 0 {
        return None;
    }
    let (rest, name) = before.split_at(before.len().checked_sub(name_len)?);
    let (_, lock_page) = U32::read_from_suffix(rest).ok()?;
    if lock_page.get() != lock_byte_page(page_size) {
        return None;
    }
    if name_checksum(name) != tail.name_checksum.get() {
        return None;
    }
    String::from_utf8(name.to_vec()).ok()
}

#[cfg(test)]
mod tests;
