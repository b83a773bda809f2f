//! The 100-byte database header at the start of page 1
//! (<https://sqlite.org/fileformat2.html#the_database_header>): the fields the pager reads and
//! maintains. Every offset and byte order of the header lives here.
//!
//! ```text
//!  0 magic "SQLite format 3\0"      16 page size (BE16; 1 = 65536)   18 write version  19 read version
//! 20 reserved bytes per page        21 64  22 32  23 32 (payload fractions)
//! 24 change counter   28 size in pages   32 first freelist trunk   36 freelist pages
//! 40 schema cookie    44 schema format   48 default cache size     52 largest root page
//! 56 text encoding    60 user_version    64 incremental vacuum     68 application id
//! 72 reserved (20 zero bytes)            92 version-valid-for      96 SQLITE_VERSION_NUMBER
//! ```
//! All integers are big-endian. The rest of page 1 belongs to the b-tree. The layout is declared
//! once, as the `#[repr(C)]` zerocopy struct `DbHeaderLayout`; offsets come from it.

use core::mem::{offset_of, size_of};
use core::ops::Range;
use folio_vfs::format::valid_page_size;
use zerocopy::big_endian::U32;
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The header's length.
pub const HEADER_LEN: usize = size_of::<DbHeaderLayout>();
/// `"SQLite format 3\0"`.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The database header as it lies at the start of page 1.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct DbHeaderLayout {
    magic: [u8; 16],
    /// Big-endian, with 1 meaning 65536: SQLite decodes it byte by byte ([`decode_page_size`]),
    /// which is not a plain 16-bit number for every bit pattern.
    page_size: [u8; 2],
    write_version: u8,
    read_version: u8,
    reserved_bytes: u8,
    fractions: [u8; 3],
    change_counter: U32,
    db_size_pages: U32,
    freelist_trunk: U32,
    freelist_pages: U32,
    schema_cookie: U32,
    schema_format: U32,
    default_cache_size: U32,
    largest_root_page: U32,
    text_encoding: U32,
    user_version: U32,
    incremental_vacuum: U32,
    application_id: U32,
    reserved_for_expansion: [u8; 20],
    version_valid_for: U32,
    sqlite_version: U32,
}
const _: () = assert!(size_of::<DbHeaderLayout>() == 100);
const _: () = assert!(offset_of!(DbHeaderLayout, change_counter) == 24);
const _: () = assert!(offset_of!(DbHeaderLayout, reserved_for_expansion) == 72);

const OFF_PAGE_SIZE: usize = offset_of!(DbHeaderLayout, page_size);
const OFF_READ_VERSION: usize = offset_of!(DbHeaderLayout, read_version);
const OFF_RESERVED: usize = offset_of!(DbHeaderLayout, reserved_bytes);
const OFF_FRACTIONS: usize = offset_of!(DbHeaderLayout, fractions);
/// The bytes a reader compares to detect another process's commit (`dbFileVers`): the change
/// counter, the size in pages and the two freelist fields.
const FILE_VERSION: Range<usize> =
    offset_of!(DbHeaderLayout, change_counter)..offset_of!(DbHeaderLayout, schema_cookie);
const _: () = assert!(FILE_VERSION.start == 24 && FILE_VERSION.end == 40);

/// The payload fractions every SQLite database stores (64, 32, 32).
const FRACTIONS: [u8; 3] = [64, 32, 32];
/// The smallest usable page size (page size minus reserved bytes) SQLite accepts.
pub const MIN_USABLE_SIZE: u32 = 480;

/// Why a header is not a usable SQLite header: the check of `lockBtree` it fails, with the
/// field's offset in the header ([`InvalidHeader::offset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// Fewer bytes than a header.
    #[error("header offset 0: only {len} bytes, a header has {HEADER_LEN}")]
    TooShort {
        /// Bytes there are.
        len: usize,
    },
    /// The first 16 bytes are not `"SQLite format 3\0"`.
    #[error("header offset 0: not an SQLite database (bad magic)")]
    BadMagic,
    /// The page-size field decodes to a size that is not a power of two in 512..=65536.
    #[error("header offset {OFF_PAGE_SIZE}: page size {page_size} is not valid")]
    PageSize {
        /// The size it decodes to.
        page_size: u32,
    },
    /// The file-format read version is newer than this code reads (above 2).
    #[error("header offset {OFF_READ_VERSION}: read version {version} is newer than this code")]
    ReadVersion {
        /// The version.
        version: u8,
    },
    /// The payload fractions are not SQLite's fixed 64, 32, 32.
    #[error("header offset {OFF_FRACTIONS}: payload fractions {fractions:?} are not [64, 32, 32]")]
    Fractions {
        /// The three bytes.
        fractions: [u8; 3],
    },
    /// Page size minus reserved bytes is below [`MIN_USABLE_SIZE`].
    #[error("header offset {OFF_RESERVED}: usable page size {usable} is below {MIN_USABLE_SIZE}")]
    UsableSize {
        /// Page size minus reserved bytes.
        usable: u32,
    },
}

impl InvalidHeader {
    /// The byte offset of the offending field in the header.
    pub fn offset(&self) -> usize {
        match self {
            InvalidHeader::TooShort { .. } | InvalidHeader::BadMagic => 0,
            InvalidHeader::PageSize { .. } => OFF_PAGE_SIZE,
            InvalidHeader::ReadVersion { .. } => OFF_READ_VERSION,
            InvalidHeader::Fractions { .. } => OFF_FRACTIONS,
            InvalidHeader::UsableSize { .. } => OFF_RESERVED,
        }
    }
}

/// The header's fields, decoded. The storage layer maintains the page size, versions, reserved
/// bytes, change counter, size and version stamp; the rest belong to the b-tree and schema
/// layers above it and are decoded for them and for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbHeader {
    /// Bytes per page (512..=65536, a power of two).
    pub page_size: u32,
    /// File-format write version: 1 rollback journal, 2 WAL.
    pub write_version: u8,
    /// File-format read version: 1 rollback journal, 2 WAL.
    pub read_version: u8,
    /// Bytes reserved at the end of every page.
    pub reserved_bytes: u8,
    /// Bumped by every rollback-mode commit.
    pub change_counter: u32,
    /// Database size in pages, trusted only when [`DbHeader::size_is_valid`].
    pub db_size_pages: u32,
    /// The first freelist trunk page; 0 for none.
    pub freelist_trunk: u32,
    /// Pages on the freelist.
    pub freelist_pages: u32,
    /// The schema cookie, bumped by every schema change.
    pub schema_cookie: u32,
    /// The schema format number (1 to 4).
    pub schema_format: u32,
    /// The default page cache size (`PRAGMA default_cache_size`).
    pub default_cache_size: u32,
    /// With auto- or incremental vacuum, the largest root page; 0 otherwise.
    pub largest_root_page: u32,
    /// The text encoding: 1 UTF-8, 2 UTF-16le, 3 UTF-16be.
    pub text_encoding: u32,
    /// `PRAGMA user_version`.
    pub user_version: u32,
    /// Non-zero for incremental vacuum mode.
    pub incremental_vacuum: u32,
    /// `PRAGMA application_id`.
    pub application_id: u32,
    /// The change counter when `sqlite_version` was written.
    pub version_valid_for: u32,
    /// `SQLITE_VERSION_NUMBER` of the last writer.
    pub sqlite_version: u32,
}

/// The header at the start of `page1`.
///
/// # Panics
/// If `page1` is shorter than the header (a caller bug: pages are at least 512 bytes).
#[inline]
fn layout(page1: &[u8]) -> &DbHeaderLayout {
    match DbHeaderLayout::ref_from_prefix(page1) {
        Ok((header, _)) => header,
        Err(_) => too_short(page1.len()),
    }
}

/// The header at the start of `page1`, to change.
///
/// # Panics
/// As [`layout`].
#[inline]
fn layout_mut(page1: &mut [u8]) -> &mut DbHeaderLayout {
    let len = page1.len();
    match DbHeaderLayout::mut_from_prefix(page1) {
        Ok((header, _)) => header,
        Err(_) => too_short(len),
    }
}

#[cold]
#[inline(never)]
fn too_short(len: usize) -> ! {
    panic!("page 1 of {len} bytes holds no {HEADER_LEN}-byte header")
}

/// Decodes the page-size field (bytes 16..18): big-endian, with 1 meaning 65536.
pub fn decode_page_size(b16: u8, b17: u8) -> u32 {
    (u32::from(b16) << 8) | (u32::from(b17) << 16)
}

/// Encodes a page size for bytes 16..18.
pub fn encode_page_size(page_size: u32) -> [u8; 2] {
    [(page_size >> 8) as u8, (page_size >> 16) as u8]
}

impl DbHeader {
    /// Decodes and validates the header at the start of `page1` (at least 100 bytes), with
    /// SQLite's checks (`lockBtree`): magic, page size, payload fractions, usable size, and a
    /// read version this code can read.
    pub fn decode(page1: &[u8]) -> Result<DbHeader, InvalidHeader> {
        let (h, _) = DbHeaderLayout::ref_from_prefix(page1)
            .map_err(|_| InvalidHeader::TooShort { len: page1.len() })?;
        if &h.magic != MAGIC {
            return Err(InvalidHeader::BadMagic);
        }
        let [b16, b17] = h.page_size;
        let page_size = decode_page_size(b16, b17);
        if !valid_page_size(page_size) {
            return Err(InvalidHeader::PageSize { page_size });
        }
        let header = DbHeader {
            page_size,
            write_version: h.write_version,
            read_version: h.read_version,
            reserved_bytes: h.reserved_bytes,
            change_counter: h.change_counter.get(),
            db_size_pages: h.db_size_pages.get(),
            freelist_trunk: h.freelist_trunk.get(),
            freelist_pages: h.freelist_pages.get(),
            schema_cookie: h.schema_cookie.get(),
            schema_format: h.schema_format.get(),
            default_cache_size: h.default_cache_size.get(),
            largest_root_page: h.largest_root_page.get(),
            text_encoding: h.text_encoding.get(),
            user_version: h.user_version.get(),
            incremental_vacuum: h.incremental_vacuum.get(),
            application_id: h.application_id.get(),
            version_valid_for: h.version_valid_for.get(),
            sqlite_version: h.sqlite_version.get(),
        };
        if header.read_version > 2 {
            return Err(InvalidHeader::ReadVersion { version: header.read_version });
        }
        if h.fractions != FRACTIONS {
            return Err(InvalidHeader::Fractions { fractions: h.fractions });
        }
        if header.usable_size() < MIN_USABLE_SIZE {
            return Err(InvalidHeader::UsableSize { usable: header.usable_size() });
        }
        Ok(header)
    }

    /// Bytes of a page the b-tree may use.
    pub fn usable_size(&self) -> u32 {
        self.page_size - u32::from(self.reserved_bytes)
    }

    /// True if the in-header size can be trusted: non-zero and written by a writer that also
    /// kept the change counter (bytes 24..28 equal bytes 92..96).
    pub fn size_is_valid(&self) -> bool {
        self.db_size_pages != 0 && self.change_counter == self.version_valid_for
    }

    /// True if readers must open the WAL (read version 2).
    pub fn is_wal(&self) -> bool {
        self.read_version == 2
    }

    /// A write version above 2: readable, but only read-only.
    pub fn is_read_only_format(&self) -> bool {
        self.write_version > 2
    }

    /// The database size in pages: the in-header size when valid, else derived from the file
    /// size (rounded up to whole pages).
    pub fn size_in_pages(&self, file_size: u64) -> u64 {
        if self.size_is_valid() {
            u64::from(self.db_size_pages)
        } else {
            file_size.div_ceil(u64::from(self.page_size))
        }
    }
}

/// Stamps a commit into page 1 (`pager_write_changecounter`): the change counter becomes
/// `counter_at_start + 1` (the value read when the transaction began), copied to
/// version-valid-for, with `db_size_pages` and the writer's `sqlite_version`.
///
/// # Panics
/// If `page1` is shorter than the header (a caller bug).
pub fn stamp_commit(
    page1: &mut [u8],
    counter_at_start: u32,
    db_size_pages: u32,
    sqlite_version: u32,
) {
    let counter = U32::new(counter_at_start.wrapping_add(1));
    let h = layout_mut(page1);
    h.change_counter = counter;
    h.db_size_pages = U32::new(db_size_pages);
    h.version_valid_for = counter;
    h.sqlite_version = U32::new(sqlite_version);
}

/// The 16 bytes at offsets 24..40 a reader compares at every new read transaction to detect
/// another process's commit (`dbFileVers`).
pub fn file_version(page1: &[u8]) -> Option<[u8; 16]> {
    page1.get(FILE_VERSION).and_then(|b| b.try_into().ok())
}

/// Writes a fresh header into the first 100 bytes of `page1`, as SQLite's `newDatabase` does
/// for a new database: magic, page size, versions 1/1 (rollback journal), reserved bytes, the
/// payload fractions, and zeros for every counter (the commit stamps them).
///
/// # Panics
/// If `page1` is shorter than the header (a caller bug).
pub fn init_page1(page1: &mut [u8], page_size: u32, reserved_bytes: u8) {
    *layout_mut(page1) = DbHeaderLayout {
        magic: *MAGIC,
        page_size: encode_page_size(page_size),
        write_version: 1,
        read_version: 1,
        reserved_bytes,
        fractions: FRACTIONS,
        ..DbHeaderLayout::new_zeroed()
    };
}

/// True if `page1` starts with the SQLite magic.
pub fn has_magic(page1: &[u8]) -> bool {
    page1.get(..MAGIC.len()) == Some(&MAGIC[..])
}

/// The change counter (bytes 24..28) of a page 1 that holds a header.
///
/// # Panics
/// If `page1` is shorter than the header (a caller bug).
pub fn change_counter(page1: &[u8]) -> u32 {
    layout(page1).change_counter.get()
}

/// Sets the file-format versions (18, 19): 1 for rollback journal, 2 for WAL.
///
/// # Panics
/// If `page1` is shorter than the header (a caller bug).
pub fn set_format_versions(page1: &mut [u8], version: u8) {
    let h = layout_mut(page1);
    h.write_version = version;
    h.read_version = version;
}

#[cfg(test)]
mod tests;
