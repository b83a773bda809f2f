//! The 100-byte database header at the start of page 1 (fact sheet §1.2, §1.3): the fields the
//! pager reads and maintains. Every offset and byte order of the header lives here.
//!
//! ```text
//!  0 magic "SQLite format 3\0"      16 page size (BE16; 1 = 65536)   18 write version  19 read version
//! 20 reserved bytes per page        21 64  22 32  23 32 (payload fractions)
//! 24 change counter   28 size in pages   32 first freelist trunk   36 freelist pages
//! 40 schema cookie    44 schema format   48 default cache size     52 largest root page
//! 56 text encoding    60 user_version    64 incremental vacuum     68 application id
//! 72 reserved (20 zero bytes)            92 version-valid-for      96 SQLITE_VERSION_NUMBER
//! ```
//! All integers are big-endian. The rest of page 1 belongs to the b-tree.

/// The header's length.
pub const HEADER_LEN: usize = 100;
/// `"SQLite format 3\0"`.
pub const MAGIC: &[u8; 16] = b"SQLite format 3\0";

const OFF_PAGE_SIZE: usize = 16;
const OFF_WRITE_VERSION: usize = 18;
const OFF_READ_VERSION: usize = 19;
const OFF_RESERVED: usize = 20;
const OFF_FRACTIONS: usize = 21;
const OFF_CHANGE_COUNTER: usize = 24;
const OFF_DB_SIZE: usize = 28;
const OFF_VERSION_VALID_FOR: usize = 92;
const OFF_SQLITE_VERSION: usize = 96;
const _: () = assert!(OFF_SQLITE_VERSION + 4 == HEADER_LEN);

/// The payload fractions every SQLite database stores (64, 32, 32).
const FRACTIONS: [u8; 3] = [64, 32, 32];
/// The smallest usable page size (page size minus reserved bytes) SQLite accepts.
pub const MIN_USABLE_SIZE: u32 = 480;

/// Why a header is not a usable SQLite header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeader {
    /// The byte offset of the offending field.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

/// The header fields the storage layer reads and maintains.
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
    /// The change counter when `sqlite_version` was written.
    pub version_valid_for: u32,
    /// `SQLITE_VERSION_NUMBER` of the last writer.
    pub sqlite_version: u32,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn put_be32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
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
        let bad = |offset: usize, what: String| InvalidHeader { offset, what };
        let h = page1
            .get(..HEADER_LEN)
            .ok_or_else(|| bad(0, format!("only {} bytes, a header has 100", page1.len())))?;
        if &h[..16] != MAGIC {
            return Err(bad(0, "not an SQLite database (bad magic)".into()));
        }
        let page_size = decode_page_size(h[OFF_PAGE_SIZE], h[OFF_PAGE_SIZE + 1]);
        if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
            return Err(bad(OFF_PAGE_SIZE, format!("page size {page_size} is not valid")));
        }
        let header = DbHeader {
            page_size,
            write_version: h[OFF_WRITE_VERSION],
            read_version: h[OFF_READ_VERSION],
            reserved_bytes: h[OFF_RESERVED],
            change_counter: be32(h, OFF_CHANGE_COUNTER),
            db_size_pages: be32(h, OFF_DB_SIZE),
            version_valid_for: be32(h, OFF_VERSION_VALID_FOR),
            sqlite_version: be32(h, OFF_SQLITE_VERSION),
        };
        if header.read_version > 2 {
            return Err(bad(
                OFF_READ_VERSION,
                format!("file format read version {} is newer than this code", header.read_version),
            ));
        }
        if h[OFF_FRACTIONS..OFF_FRACTIONS + 3] != FRACTIONS {
            return Err(bad(OFF_FRACTIONS, "payload fractions are not 64/32/32".into()));
        }
        if header.usable_size() < MIN_USABLE_SIZE {
            return Err(bad(
                OFF_RESERVED,
                format!("usable page size {} is below {MIN_USABLE_SIZE}", header.usable_size()),
            ));
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
pub fn stamp_commit(
    page1: &mut [u8],
    counter_at_start: u32,
    db_size_pages: u32,
    sqlite_version: u32,
) {
    let counter = counter_at_start.wrapping_add(1);
    put_be32(page1, OFF_CHANGE_COUNTER, counter);
    put_be32(page1, OFF_DB_SIZE, db_size_pages);
    put_be32(page1, OFF_VERSION_VALID_FOR, counter);
    put_be32(page1, OFF_SQLITE_VERSION, sqlite_version);
}

/// The 16 bytes at offsets 24..40 a reader compares at every new read transaction to detect
/// another process's commit (`dbFileVers`).
pub fn file_version(page1: &[u8]) -> Option<[u8; 16]> {
    page1.get(24..40).and_then(|b| b.try_into().ok())
}

/// Writes a fresh header into the first 100 bytes of `page1`, as SQLite's `newDatabase` does
/// for a new database: magic, page size, versions 1/1 (rollback journal), reserved bytes, the
/// payload fractions, and zeros for every counter (the commit stamps them).
pub fn init_page1(page1: &mut [u8], page_size: u32, reserved_bytes: u8) {
    page1[..HEADER_LEN].fill(0);
    page1[..MAGIC.len()].copy_from_slice(MAGIC);
    page1[OFF_PAGE_SIZE..OFF_PAGE_SIZE + 2].copy_from_slice(&encode_page_size(page_size));
    set_format_versions(page1, 1);
    page1[OFF_RESERVED] = reserved_bytes;
    page1[OFF_FRACTIONS..OFF_FRACTIONS + 3].copy_from_slice(&FRACTIONS);
}

/// True if `page1` starts with the SQLite magic.
pub fn has_magic(page1: &[u8]) -> bool {
    page1.get(..MAGIC.len()) == Some(&MAGIC[..])
}

/// The change counter (bytes 24..28) of a page 1 that holds a header.
pub fn change_counter(page1: &[u8]) -> u32 {
    be32(page1, OFF_CHANGE_COUNTER)
}

/// Sets the file-format versions (18, 19): 1 for rollback journal, 2 for WAL.
pub fn set_format_versions(page1: &mut [u8], version: u8) {
    page1[OFF_WRITE_VERSION] = version;
    page1[OFF_READ_VERSION] = version;
}

#[cfg(test)]
mod tests;
