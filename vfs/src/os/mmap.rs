//! The memory map of a database file (fact sheet §7): the first `min(limit, file size)` bytes,
//! mapped read-only and shared, handed out a page at a time.
//!
//! Each mapping is reference counted: [`MappedPage`]s keep the mapping they came from alive, so
//! a remap (the file grew) or an unmap (the file changed underneath) never invalidates a page in
//! use. A page is never handed out past the file size observed when the map was made, nor past a
//! size this handle truncated to since.

use crate::{Error, MappedPage, Op, Result, MAX_MMAP_SIZE};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct MmapState {
    /// The cap set by `set_mmap_limit`; 0 disables mapping.
    limit: u64,
    /// The current mapping, if any.
    map: Option<Arc<memmap2::Mmap>>,
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
            if self.map.as_ref().is_none_or(|m| (m.len() as u64) < new_len) {
                let map_len = usize::try_from(new_len).expect("mmap limit fits in usize");
                // SAFETY: the mapping is read-only and shared. memmap2's contract is that the
                // file is not modified underneath a live `&[u8]` into the map; Folio keeps it by
                // SQLite's lock protocol (pages are handed out only to a caller that holds the
                // lock that stops writers, see `MappedPage`), and never writes through the map.
                // A foreign process violating the protocol can change bytes or raise SIGBUS, as
                // it can for SQLite; that is documented on `MappedPage`.
                let map = unsafe { memmap2::MmapOptions::new().len(map_len).map(file) }
                    .map_err(|e| Error::io(Op::Mmap, path, e))?;
                self.map = Some(Arc::new(map));
            }
            self.usable = new_len;
        }
        let map = self.map.as_ref().expect("mapped above");
        let start = usize::try_from(offset).expect("below the mmap limit");
        Ok(Some(MappedPage::new(map.clone(), start, len)))
    }
}
