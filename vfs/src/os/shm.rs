//! The `-shm` file of the OS VFS: one node per inode per process, the dead-man-switch protocol,
//! 32 KiB regions mapped `MAP_SHARED`, and the slot locks on bytes 120..127 (fact sheet §5.7).

use super::fcntl::FcntlLocks;
use super::Inode;
use crate::lock::{ByteRange, ProcessLocks, RecordLock};
use crate::shm::{HeldSlots, ShmLockKind, ShmLocks, ShmRegion, SHM_DMS_BYTE, SHM_REGION_SIZE};
use crate::sync::{Arc, Mutex};
use crate::{Error, Op, Result};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
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

    /// The address of the region's first byte (see `ShmRegion::as_ptr`).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// The atomic word at `offset` (bounds and alignment checked by `ShmRegion`).
    #[inline]
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset % 4 == 0 && offset + 4 <= crate::SHM_REGION_SIZE);
        // SAFETY: the mapping is page-aligned, at least SHM_REGION_SIZE long and lives as long
        // as `self`; `offset` is in bounds and 4-aligned (checked by the caller). Memory shared
        // with other processes is only ever accessed through atomics, never through references
        // to plain integers, so there is no data race in the Rust memory model.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The atomic half-word at `offset`.
    #[inline]
    pub(crate) fn atomic_u16(&self, offset: usize) -> &AtomicU16 {
        debug_assert!(offset % 2 == 0 && offset + 2 <= crate::SHM_REGION_SIZE);
        // SAFETY: as for `atomic_u32`, with 2-byte alignment.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU16>() }
    }
}

/// The `-shm` file as this process shares it (SQLite's `unixShmNode`): one per database inode,
/// whatever the number of connections.
pub(crate) struct ShmNode {
    path: PathBuf,
    file: File,
    locks: ShmLocks,
    regions: Mutex<Vec<ShmRegion>>,
}

/// One connection's use of the node (SQLite's `unixShm`): the slots it holds.
pub(crate) struct ShmConn {
    node: Arc<ShmNode>,
    held: HeldSlots,
}

impl ShmNode {
    fn fcntl(&self, op: Op) -> FcntlLocks<'_> {
        FcntlLocks { fd: self.file.as_fd(), path: &self.path, op }
    }

    /// Opens `<db>-shm` and runs the dead-man-switch protocol on byte 128 (fact sheet §5.7):
    /// if no process holds the DMS byte, we are the first user and the contents are stale, so
    /// truncate the file (to 3 bytes, as SQLite does) under an exclusive DMS lock; then hold the
    /// DMS byte shared for as long as the node lives.
    fn open(db_path: &Path) -> Result<ShmNode> {
        let mut name = db_path.as_os_str().to_owned();
        name.push("-shm");
        let path = PathBuf::from(name);
        let owner = super::SidecarOwner::of(db_path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(owner.map_or(super::DEFAULT_FILE_MODE, |o| o.mode))
            .open(&path)
            .map_err(|e| match e.kind() {
                // A read-only -shm needs SQLite's heap-memory fallback, which lives in the WAL
                // layer; say so rather than map memory we may not write.
                io::ErrorKind::PermissionDenied => {
                    Error::ReadOnly { op: Op::ShmOpen, path: path.clone() }
                }
                _ => Error::io(Op::ShmOpen, &path, e),
            })?;
        if let Some(owner) = owner {
            owner.apply(&file);
        }
        let node = ShmNode { path, file, locks: ShmLocks::new(), regions: Mutex::new(Vec::new()) };
        let dms = ByteRange { start: SHM_DMS_BYTE, len: 1 };
        let os = node.fcntl(Op::ShmOpen);
        let busy = || Error::busy(Op::ShmOpen, &node.path, "dead-man switch (byte 128)");
        match os.conflicting(dms, RecordLock::Write)? {
            None => {
                if !os.set(dms, RecordLock::Write)? {
                    return Err(busy());
                }
                node.file.set_len(3).map_err(|e| Error::io_at(Op::ShmOpen, &node.path, 3, e))?;
            }
            Some(libc::F_WRLCK) => return Err(busy()),
            Some(_) => {}
        }
        // Downgrade (or take) the DMS lock shared: "someone is alive".
        if !os.set(dms, RecordLock::Read)? {
            return Err(busy());
        }
        Ok(node)
    }

    /// Maps region `region`, growing the file first when `extend` (fact sheet §5.7).
    pub(crate) fn map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        let region = region as usize;
        let mut regions = self.regions.lock();
        if let Some(r) = regions.get(region) {
            return Ok(Some(r.clone()));
        }
        let needed = ((region + 1) * SHM_REGION_SIZE) as u64;
        let size = self.file.metadata().map_err(|e| Error::io(Op::ShmMap, &self.path, e))?.len();
        if size < needed {
            if !extend {
                return Ok(None);
            }
            // Write one byte at the end of every OS page rather than ftruncate, so the blocks
            // are allocated now: a full disk is an error here, not a SIGBUS later.
            let mut page = size / OS_PAGE;
            while page < needed / OS_PAGE {
                let at = page * OS_PAGE + OS_PAGE - 1;
                self.file
                    .write_all_at(&[0], at)
                    .map_err(|e| Error::io_at(Op::ShmMap, &self.path, at, e))?;
                page += 1;
            }
        }
        while regions.len() <= region {
            let offset = (regions.len() * SHM_REGION_SIZE) as u64;
            let map = memmap2::MmapOptions::new()
                .offset(offset)
                .len(SHM_REGION_SIZE)
                .map_raw(&self.file)
                .map_err(|e| Error::io_at(Op::ShmMap, &self.path, offset, e))?;
            regions.push(ShmRegion::mapped(MappedRegion::new(map)));
        }
        Ok(Some(regions[region].clone()))
    }
}

const OS_PAGE: u64 = 4096;

impl ShmConn {
    /// Joins this process's node for the database `db_path` (whose inode is `inode`), opening it
    /// if no connection of the process has it open.
    pub(crate) fn open(inode: &Inode, db_path: &Path) -> Result<ShmConn> {
        let mut slot = inode.shm.lock();
        let node = match slot.upgrade() {
            Some(node) => node,
            None => {
                let node = Arc::new(ShmNode::open(db_path)?);
                *slot = Arc::downgrade(&node);
                node
            }
        };
        Ok(ShmConn { node, held: HeldSlots::default() })
    }

    pub(crate) fn node(&self) -> &ShmNode {
        &self.node
    }

    pub(crate) fn lock(&mut self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        let node = &*self.node;
        node.locks.lock(&mut self.held, slot, n, kind, &node.fcntl(Op::ShmLock), &node.path)
    }

    /// Releases this connection's slots and leaves the node; the last connection of the process
    /// closes the `-shm` (dropping its DMS lock) and, with `delete`, deletes it.
    pub(crate) fn close(mut self, inode: &Inode, delete: bool) -> Result<()> {
        let node = Arc::clone(&self.node);
        let released =
            node.locks.release_all(&mut self.held, &node.fcntl(Op::ShmUnmap), &node.path);
        // Hold the inode's shm slot so no connection joins the node while we decide.
        let _slot = inode.shm.lock();
        drop(self);
        if Arc::strong_count(&node) == 1 {
            let path = node.path.clone();
            drop(node);
            if delete {
                std::fs::remove_file(&path).map_err(|e| Error::io(Op::ShmUnmap, &path, e))?;
            }
        }
        released
    }
}
