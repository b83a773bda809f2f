//! The memory map of a database file (<https://sqlite.org/mmap.html>): the first
//! `min(limit, file size)` bytes, mapped read-only and shared, handed out a page at a time.
//!
//! Each mapping is reference counted: [`MappedPage`]s keep the mapping they came from alive, so
//! a remap (the file grew) or an unmap (the file changed underneath) never invalidates a page in
//! use. A page is never handed out past the file size observed when the map was made, nor past a
//! size this handle truncated to since.

use crate::{range_inside, Error, MappedPage, Op, PageSource, Result, MAX_MMAP_SIZE};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// A read-only shared map of a file, lent out one page at a time: never as one slice, because
/// parts of it other than a borrowed page may change while the page is borrowed (another
/// connection's checkpoint writing the database, a writer appending to the log).
pub(crate) struct FileMap(memmap2::MmapRaw);

impl PageSource for FileMap {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn range(&self, start: usize, len: usize) -> &[u8] {
        assert!(range_inside(start, len, self.0.len()), "range outside the map");
        // SAFETY: `start..start + len` lies inside the mapping (checked above), which stays
        // mapped while `self` lives, so the pointer is valid for `len` readable bytes. The
        // bytes do not change while the returned borrow lives: pages are lent only to callers
        // that hold what keeps every writer of those bytes out (`MappedPage`'s contract), and
        // Folio never writes through a map. Bytes outside the range are not covered by the
        // borrow and may change.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(start), len) }
    }
}

#[derive(Default)]
pub(crate) struct MmapState {
    /// The cap set by `set_mmap_limit`; 0 disables mapping.
    limit: u64,
    /// The current mapping, if any.
    map: Option<Arc<FileMap>>,
    /// Bytes of `map` that may be handed out (shrinks on truncate).
    usable: u64,
}

impl MmapState {
    pub(crate) fn set_limit(&mut self, limit: u64) -> u64 {
        let limit = limit.min(MAX_MMAP_SIZE);
        if limit != self.limit {
            self.limit = limit;
            self.unmap();
        }
        limit
    }

    pub(crate) fn unmap(&mut self) {
        self.map = None;
        self.usable = 0;
    }

    pub(crate) fn truncated(&mut self, size: u64) {
        self.usable = self.usable.min(size);
    }

    pub(crate) fn fetch(
        &mut self,
        file: &File,
        path: &Path,
        offset: u64,
        len: usize,
    ) -> Result<Option<MappedPage>> {
        let Some(end) = offset.checked_add(len as u64) else { return Ok(None) };
        if len == 0 || end > self.limit {
            return Ok(None);
        }
        if self.map.is_none() || end > self.usable {
            // Not mapped yet, or the page lies beyond the current map: map again to the file's
            // present size, if that now covers the page.
            let size = file.metadata().map_err(|e| Error::io(Op::Mmap, path, e))?.len();
            let new_len = size.min(self.limit);
            if end > new_len {
                return Ok(None);
            }
            if self.map.as_ref().is_none_or(|m| (m.0.len() as u64) < new_len) {
                let map_len = usize::try_from(new_len).expect("mmap limit fits in usize");
                // Read-only and shared, and never borrowed whole: `FileMap::range` lends one
                // page at a time. A foreign process violating the lock protocol can change
                // bytes or raise SIGBUS, as it can for SQLite; that is documented on
                // `MappedPage`.
                let map = memmap2::MmapOptions::new()
                    .len(map_len)
                    .map_raw_read_only(file)
                    .map_err(|e| Error::io(Op::Mmap, path, e))?;
                self.map = Some(Arc::new(FileMap(map)));
            }
            self.usable = new_len;
        }
        let map = self.map.as_ref().expect("mapped above");
        let start = usize::try_from(offset).expect("below the mmap limit");
        Ok(Some(MappedPage::of_map(map.clone(), start, len)))
    }
}
