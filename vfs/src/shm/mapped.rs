//! One mapped region of a `-shm` file seen as atomic words: the only code that turns the
//! wal-index's shared memory into Rust references.
//!
//! A leaf: it uses nothing else of the crate. `ShmRegion` (`shm.rs`) wraps it and checks every
//! offset against the region size before it gets here; the OS VFS's `-shm` node (`os/shm.rs`)
//! maps the file and hands the map here. So `shm` never reaches into `os`, and `os` builds on
//! `shm`.

use std::sync::atomic::{AtomicU16, AtomicU32};

/// A mapped region of a `-shm` file.
pub(crate) struct MappedRegion {
    map: memmap2::MmapRaw,
    /// Mapped `PROT_READ`: `ShmRegion` refuses every store before it reaches the memory.
    read_only: bool,
}

impl MappedRegion {
    /// Wraps `map`, which was mapped `PROT_READ` if `read_only`.
    ///
    /// # Panics
    /// If the map's first byte is not 4-byte aligned (a map of a file at an offset that is a
    /// multiple of the page size starts on a page boundary).
    pub(crate) fn new(map: memmap2::MmapRaw, read_only: bool) -> Self {
        assert!(map.as_ptr().align_offset(4) == 0, "shm region mapped at a misaligned address");
        MappedRegion { map, read_only }
    }

    /// The length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// True if the region is mapped read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The address of the region's first byte (see `ShmRegion::as_ptr`).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// The atomic word at `offset`, a multiple of 4 inside the mapping (checked by `ShmRegion`).
    #[inline]
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset.is_multiple_of(4) && offset + 4 <= self.map.len());
        // SAFETY: the mapping starts 4-byte aligned (asserted by `new`) and lives as long as
        // `self`; `offset` is 4-aligned and `offset + 4` within its length (`ShmRegion::check`
        // asserts both against the region size, and `ShmRegion::mapped` asserts the mapping
        // is at least that long). Memory shared with other processes is only ever accessed
        // through atomics, never through references to plain integers, so there is no data
        // race in the Rust memory model.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The atomic half-word at `offset`, a multiple of 2 inside the mapping.
    #[inline]
    pub(crate) fn atomic_u16(&self, offset: usize) -> &AtomicU16 {
        debug_assert!(offset.is_multiple_of(2) && offset + 2 <= self.map.len());
        // SAFETY: as for `atomic_u32`, with 2-byte alignment.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU16>() }
    }
}
