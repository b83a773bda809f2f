//! The `-shm` file of the OS VFS: one node per inode per process, the dead-man-switch protocol,
//! 32 KiB regions mapped `MAP_SHARED`, and the slot locks on bytes 120..127 (fact sheet §5.7).

use std::sync::atomic::{AtomicU16, AtomicU32};

/// One mapped 32 KiB region of a `-shm` file.
pub(crate) struct MappedRegion {
    map: memmap2::MmapRaw,
}

impl MappedRegion {
    pub(crate) fn new(map: memmap2::MmapRaw) -> Self {
        assert!(map.len() >= crate::SHM_REGION_SIZE, "shm region mapped short");
        MappedRegion { map }
    }

    /// The atomic word at `offset` (bounds and alignment checked by `ShmRegion`).
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset % 4 == 0 && offset + 4 <= crate::SHM_REGION_SIZE);
        // SAFETY: the mapping is page-aligned, at least SHM_REGION_SIZE long and lives as long
        // as `self`; `offset` is in bounds and 4-aligned (checked by the caller). Memory shared
        // with other processes is only ever accessed through atomics, never through references
        // to plain integers, so there is no data race in the Rust memory model.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The atomic half-word at `offset`.
    pub(crate) fn atomic_u16(&self, offset: usize) -> &AtomicU16 {
        debug_assert!(offset % 2 == 0 && offset + 2 <= crate::SHM_REGION_SIZE);
        // SAFETY: as for `atomic_u32`, with 2-byte alignment.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU16>() }
    }
}
