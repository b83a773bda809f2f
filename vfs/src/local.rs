//! Database locks and shared memory for files that live only in this process (the memory VFS,
//! the simulated disk): the per-file [`LocalInode`] and the per-handle [`LocalHandle`].
//!
//! With no other process to exclude, the in-process tables ([`InodeLocks`], [`ShmLocks`]) are
//! the whole truth, so these types just hold them with [`NoProcessLocks`]. Shared memory is heap
//! memory ([`ShmRegion::heap`]); when the last handle unmaps, the node is dropped, which is what
//! the dead-man switch achieves on disk: the next first user starts from zeroed memory.

use crate::lock::{InodeLocks, LockLevel, NoProcessLocks};
use crate::shm::{HeldSlots, ShmLockKind, ShmLocks, ShmRegion};
use crate::sync::{Arc, Mutex};
use crate::{Error, Misuse, Result};
use std::path::Path;
use std::sync::Weak;

/// Lock and shared-memory state of one file, shared by all its handles.
#[derive(Debug, Default)]
pub struct LocalInode {
    locks: InodeLocks,
    shm: Mutex<Weak<LocalShmNode>>,
}

#[derive(Debug, Default)]
struct LocalShmNode {
    locks: ShmLocks,
    regions: Mutex<Vec<ShmRegion>>,
}

/// One handle's locks on a [`LocalInode`]: its database lock level and its shm connection.
#[derive(Debug)]
pub struct LocalHandle {
    inode: Arc<LocalInode>,
    level: Mutex<LockLevel>,
    shm: Mutex<Option<(Arc<LocalShmNode>, HeldSlots)>>,
}

impl LocalInode {
    /// A file with no locks and no shared memory.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

impl LocalHandle {
    /// A new handle on `inode`, holding nothing.
    pub fn new(inode: Arc<LocalInode>) -> Self {
        LocalHandle { inode, level: Mutex::new(LockLevel::None), shm: Mutex::new(None) }
    }

    /// [`crate::VfsFile::lock`].
    pub fn lock(&self, level: LockLevel, path: &Path) -> Result<()> {
        self.inode.locks.lock(&mut self.level.lock(), level, &NoProcessLocks, path)
    }

    /// [`crate::VfsFile::unlock`].
    pub fn unlock(&self, level: LockLevel, path: &Path) -> Result<()> {
        self.inode.locks.unlock(&mut self.level.lock(), level, &NoProcessLocks, path, |_| {})
    }

    /// [`crate::VfsFile::lock_level`].
    pub fn lock_level(&self) -> LockLevel {
        *self.level.lock()
    }

    /// [`crate::VfsFile::check_reserved_lock`].
    pub fn check_reserved(&self) -> Result<bool> {
        self.inode.locks.check_reserved(&NoProcessLocks)
    }

    /// [`crate::VfsFile::shm_map`]: joins (or creates) the file's shm node, then returns region
    /// `region`, creating zeroed regions up to it when `extend`.
    pub fn shm_map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        let mut conn = self.shm.lock();
        if conn.is_none() {
            let mut slot = self.inode.shm.lock();
            let node = slot.upgrade().unwrap_or_else(|| {
                let node = Arc::new(LocalShmNode::default());
                *slot = Arc::downgrade(&node);
                node
            });
            *conn = Some((node, HeldSlots::default()));
        }
        let (node, _) = conn.as_ref().expect("joined above");
        let mut regions = node.regions.lock();
        let region = region as usize;
        if region >= regions.len() {
            if !extend {
                return Ok(None);
            }
            regions.resize_with(region + 1, ShmRegion::heap);
        }
        Ok(Some(regions[region].clone()))
    }

    /// [`crate::VfsFile::shm_lock`].
    pub fn shm_lock(&self, slot: usize, n: usize, kind: ShmLockKind, path: &Path) -> Result<()> {
        match self.shm.lock().as_mut() {
            Some((node, held)) => node.locks.lock(held, slot, n, kind, &NoProcessLocks, path),
            None => Err(Error::misuse(path, Misuse::ShmLockBeforeMap)),
        }
    }

    /// [`crate::VfsFile::shm_unmap`]: releases this handle's slots and leaves the node; the
    /// node (its memory) goes with the last handle. There is no `-shm` file to delete.
    pub fn shm_unmap(&self, path: &Path) -> Result<()> {
        let Some((node, mut held)) = self.shm.lock().take() else { return Ok(()) };
        node.locks.release_all(&mut held, &NoProcessLocks, path)
    }

    /// Releases everything this handle holds (for `Drop`).
    pub fn release(&self, path: &Path) -> Result<()> {
        self.shm_unmap(path)?;
        self.unlock(LockLevel::None, path)
    }
}
