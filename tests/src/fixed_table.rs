//! A test-only reader for one shape of SQLite table, so page-level code (Folio has no b-tree
//! layer yet) can read and update rows that stock sqlite3 reads and updates with SQL.
//!
//! The shape: a rowid table `t(id INTEGER PRIMARY KEY, v INTEGER)` whose every `v` is stored
//! as an 8-byte big-endian integer (serial type 6, i.e. `v` outside ±2^47). `id` is the rowid
//! alias, so each record is `[header length, 0 (NULL id), 6]` followed by the 8 bytes of `v`
//! (<https://sqlite.org/fileformat2.html#b_tree_pages>), and a leaf cell is `payload-length varint,
//! rowid varint, record`. Such a `v` can be changed in place, the same 8 bytes rewritten,
//! without touching anything else on the page: what stock SQLite would write for the new value too.
//!
//! [`scan_table`] walks the table b-tree from its root (interior pages 0x05, leaves 0x0d) and
//! returns every row with the page and offset of its 8 value bytes. Every byte it reads goes
//! through bounds-checked helpers: a page that does not have this shape, whatever its bytes, is an
//! [`ScanError::Corrupt`] naming the page and offset, never a panic. It also
//! checks what a torn read could break: the key order across pages and against the interior
//! dividers, and the absence of cycles.
//!
//! The page size is taken as the length of each page handed in, with no reserved bytes (the
//! databases these tests build have none).

use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;

/// The serial type of an 8-byte big-endian integer.
pub const SERIAL_I64: u64 = 6;
/// A leaf table b-tree page.
pub const LEAF_TABLE: u8 = 0x0d;
/// An interior table b-tree page.
pub const INTERIOR_TABLE: u8 = 0x05;
/// Deeper than any table these tests build (4 levels hold billions of rows); a deeper walk
/// means the pages point in a circle or are garbage.
const MAX_DEPTH: usize = 20;

/// One row of the table, and where its value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The leaf page holding the row.
    pub page_no: u32,
    /// Offset within that page of the 8 big-endian bytes of `v`.
    pub value_offset: usize,
    /// The rowid (`id`).
    pub rowid: i64,
    /// `v`.
    pub value: i64,
}

/// Why [`scan_table`] failed.
#[derive(Debug)]
pub enum ScanError<E> {
    /// The page source failed to hand out `page_no`.
    Page {
        /// The page asked for.
        page_no: u32,
        /// The source's error.
        error: E,
    },
    /// The page's bytes do not have the shape described in the module documentation.
    Corrupt {
        /// The page.
        page_no: u32,
        /// The offset within the page where the check failed.
        offset: usize,
        /// What was wrong.
        what: String,
    },
}

impl<E: fmt::Display> fmt::Display for ScanError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Page { page_no, error } => write!(f, "cannot get page {page_no}: {error}"),
            ScanError::Corrupt { page_no, offset, what } => {
                write!(f, "page {page_no} offset {offset}: {what}")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ScanError<E> {}

/// Reads the 8-byte value at `offset` of `page`, or `None` if it does not fit.
pub fn read_value(page: &[u8], offset: usize) -> Option<i64> {
    let bytes = page.get(offset..offset.checked_add(8)?)?;
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

/// Writes `value` as the 8 big-endian bytes at `offset` of `page`; `None` if they do not fit.
pub fn write_value(page: &mut [u8], offset: usize, value: i64) -> Option<()> {
    page.get_mut(offset..offset.checked_add(8)?)?.copy_from_slice(&value.to_be_bytes());
    Some(())
}

/// Every row of the table rooted at `root`, in rowid order, reading pages through `get`.
///
/// `get(page_no)` returns one whole page (anything that derefs to its bytes: a `Vec<u8>`, a
/// slice of a file image, a pager's page). Each page is dropped before the next is asked for,
/// so a source that pins pages holds at most one.
pub fn scan_table<P, E>(
    root: u32,
    mut get: impl FnMut(u32) -> Result<P, E>,
) -> Result<Vec<Row>, ScanError<E>>
where
    P: Deref<Target = [u8]>,
{
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    // Depth-first, leftmost child first: (page, depth, smallest allowed rowid exclusive,
    // largest allowed rowid inclusive). Children are pushed right to left.
    let mut stack = vec![(root, 0usize, None::<i64>, None::<i64>)];
    while let Some((page_no, depth, above, at_most)) = stack.pop() {
        let corrupt = |offset: usize, what: String| ScanError::Corrupt { page_no, offset, what };
        if depth > MAX_DEPTH {
            return Err(corrupt(0, format!("b-tree deeper than {MAX_DEPTH} levels")));
        }
        if page_no == 0 || !seen.insert(page_no) {
            return Err(corrupt(0, "page referenced twice (or page 0) in the b-tree".into()));
        }
        let page = get(page_no).map_err(|error| ScanError::Page { page_no, error })?;
        let page = Page { bytes: &page, page_no };
        let hdr = if page_no == 1 { 100 } else { 0 };
        let kind = page.u8(hdr)?;
        let n_cells = usize::from(page.be16(hdr + 3)?);
        match kind {
            LEAF_TABLE => {
                let mut last = above;
                for cell_idx in 0..n_cells {
                    let ptr_at = hdr + 8 + 2 * cell_idx;
                    let cell = usize::from(page.be16(ptr_at)?);
                    let row = page.leaf_cell(cell)?;
                    if last.is_some_and(|last| row.rowid <= last) {
                        return Err(corrupt(ptr_at, format!("rowid {} out of order", row.rowid)));
                    }
                    if at_most.is_some_and(|max| row.rowid > max) {
                        return Err(corrupt(ptr_at, format!("rowid {} above divider", row.rowid)));
                    }
                    last = Some(row.rowid);
                    rows.push(row);
                }
            }
            INTERIOR_TABLE => {
                if n_cells == 0 {
                    return Err(corrupt(hdr + 3, "interior page without cells".into()));
                }
                let right = page.be32(hdr + 8)?;
                let mut children = Vec::with_capacity(n_cells + 1);
                let mut low = above;
                for cell_idx in 0..n_cells {
                    let ptr_at = hdr + 12 + 2 * cell_idx;
                    let cell = usize::from(page.be16(ptr_at)?);
                    let child = page.be32(cell)?;
                    let (key, _) = page.varint(cell + 4)?;
                    // Rowids are i64s stored as u64 varints.
                    let key = key as i64;
                    if low.is_some_and(|low| key <= low) || at_most.is_some_and(|max| key > max) {
                        return Err(corrupt(cell, format!("divider {key} out of order")));
                    }
                    children.push((child, low, Some(key)));
                    low = Some(key);
                }
                children.push((right, low, at_most));
                for (child, above, at_most) in children.into_iter().rev() {
                    stack.push((child, depth + 1, above, at_most));
                }
            }
            other => {
                return Err(corrupt(hdr, format!("page type {other:#04x}, not a table b-tree")))
            }
        }
    }
    Ok(rows)
}

/// One page's bytes with bounds-checked readers that report failures as [`ScanError::Corrupt`].
struct Page<'a> {
    bytes: &'a [u8],
    page_no: u32,
}

impl Page<'_> {
    fn corrupt<E>(&self, offset: usize, what: impl Into<String>) -> ScanError<E> {
        ScanError::Corrupt { page_no: self.page_no, offset, what: what.into() }
    }

    fn slice<E>(&self, offset: usize, len: usize) -> Result<&[u8], ScanError<E>> {
        offset
            .checked_add(len)
            .and_then(|end| self.bytes.get(offset..end))
            .ok_or_else(|| self.corrupt(offset, format!("{len} bytes past the page end")))
    }

    fn u8<E>(&self, offset: usize) -> Result<u8, ScanError<E>> {
        Ok(self.slice(offset, 1)?[0])
    }

    fn be16<E>(&self, offset: usize) -> Result<u16, ScanError<E>> {
        let b = self.slice(offset, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn be32<E>(&self, offset: usize) -> Result<u32, ScanError<E>> {
        let b = self.slice(offset, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// SQLite's varint at `offset` (<https://sqlite.org/fileformat2.html#varint>): its value and
    /// its length in bytes.
    fn varint<E>(&self, offset: usize) -> Result<(u64, usize), ScanError<E>> {
        let mut value = 0u64;
        for i in 0..9 {
            let byte = self.u8(offset + i)?;
            if i == 8 {
                return Ok(((value << 8) | u64::from(byte), 9));
            }
            value = (value << 7) | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                return Ok((value, i + 1));
            }
        }
        unreachable!("the ninth byte always ends a varint")
    }

    /// The row in the leaf cell at `cell`.
    fn leaf_cell<E>(&self, cell: usize) -> Result<Row, ScanError<E>> {
        let (payload_len, n1) = self.varint(cell)?;
        let (rowid, n2) = self.varint(cell + n1)?;
        let record = cell + n1 + n2;
        let (header_len, n3) = self.varint(record)?;
        let (id_type, n4) = self.varint(record + n3)?;
        let (v_type, n5) = self.varint(record + n3 + n4)?;
        let header_used = (n3 + n4 + n5) as u64;
        if header_len != header_used {
            return Err(self.corrupt(record, format!("record header of {header_len} bytes")));
        }
        if id_type != 0 {
            return Err(self.corrupt(record + n3, format!("id column of serial type {id_type}")));
        }
        if v_type != SERIAL_I64 {
            return Err(self.corrupt(record + n3 + n4, format!("v of serial type {v_type}")));
        }
        if payload_len != header_used + 8 {
            return Err(self.corrupt(cell, format!("payload of {payload_len} bytes")));
        }
        let value_offset = record + n3 + n4 + n5;
        let value =
            i64::from_be_bytes(self.slice(value_offset, 8)?.try_into().expect("slice of 8 bytes"));
        // Rowids are i64s stored as u64 varints.
        Ok(Row { page_no: self.page_no, value_offset, rowid: rowid as i64, value })
    }
}

#[cfg(test)]
mod tests;
