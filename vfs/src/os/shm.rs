//! The `-shm` file of the OS VFS: one node per inode per process, the dead-man-switch protocol,
//! 32 KiB regions mapped `MAP_SHARED`, and the slot locks on bytes 120..127 (SQLite's
//! os_unix.c, `unixShmMap`).
//!
//! A read-only `-shm` (asked for with `OpenFlags::readonly_shm`, or read-write refused) follows
//! SQLite's unix VFS (`unixOpenSharedMemory`, `unixLockSharedMemory`, `unixShmMap`): it is
//! opened `O_RDONLY` and never created, mapped `PROT_READ`, its slots taken shared only (an
//! exclusive `fcntl` lock needs a descriptor open for writing: that is busy, as SQLite's
//! `unixShmSystemLock` makes any failure), and while no other process holds the dead-man
//! switch nobody live keeps the wal-index right, so mapping reports
//! [`Error::is_shm_cant_init`] and asks again at every call.

use super::fcntl::FcntlLocks;
use super::Inode;
use crate::lock::{ByteRange, ProcessLocks, RecordLock};
use crate::shm::mapped::MappedRegion;
use crate::shm::{HeldSlots, ShmLockKind, ShmLocks, ShmRegion, SHM_DMS_BYTE, SHM_REGION_SIZE};
use crate::sync::{Arc, Mutex};
use crate::{CantOpenReason, Error, Lock, Op, Result};
use rustix::io::Errno;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The `-shm` file as this process shares it (SQLite's `unixShmNode`): one per database inode,
/// whatever the number of connections.
pub(crate) struct ShmNode {
    path: PathBuf,
    file: File,
    /// Opened `O_RDONLY` (SQLite's `isReadonly`).
    read_only: bool,
    /// Read-only and the dead-man switch not held: nobody live had initialised the `-shm`
    /// when we last looked (SQLite's `isUnlocked`).
    unlocked: AtomicBool,
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

    /// Opens `<db>-shm` and runs the dead-man-switch protocol on byte 128 (os_unix.c,
    /// `unixLockSharedMemory`): if no process holds the DMS byte, we are the first user and the
    /// contents are stale, so truncate the file (to 3 bytes, as SQLite does) under an exclusive
    /// DMS lock; then hold the DMS byte shared for as long as the node lives.
    ///
    /// With `readonly_shm` the file is opened read-only and never created; otherwise read-write
    /// (created with the database's permission bits), and read-only if that is refused. A
    /// read-only node never truncates: with nobody holding the DMS byte it stays unlocked.
    fn open(db_path: &Path, readonly_shm: bool) -> Result<ShmNode> {
        let path = crate::format::Sidecar::Shm.path_of(db_path);
        let owner = super::SidecarOwner::of(db_path);
        let read_write = if readonly_shm {
            None
        } else {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(owner.map_or(super::DEFAULT_FILE_MODE, |o| o.mode))
                .open(&path)
                .ok()
        };
        let (file, read_only) = match read_write {
            Some(file) => (file, false),
            None => {
                let file = std::fs::OpenOptions::new().read(true).open(&path).map_err(|e| {
                    Error::cant_open(&path, CantOpenReason::Shm { readonly_shm }, Some(e))
                })?;
                (file, true)
            }
        };
        // The database's mode and owner, as SQLite's `robust_open` and `robustFchown` give
        // the -shm whichever way it was opened.
        if let Some(owner) = owner {
            owner.apply(&file);
        }
        let node = ShmNode {
            path,
            file,
            read_only,
            unlocked: AtomicBool::new(false),
            locks: ShmLocks::new(),
            regions: Mutex::new(Vec::new()),
        };
        if !node.lock_shared_memory()? {
            node.unlocked.store(true, Ordering::Relaxed);
        }
        Ok(node)
    }

    /// Takes the DMS byte shared (`unixLockSharedMemory`), truncating the file first if we are
    /// its first user. False if the node is read-only and no other process holds the byte:
    /// nothing taken, the contents unreliable.
    fn lock_shared_memory(&self) -> Result<bool> {
        let dms = ByteRange { start: SHM_DMS_BYTE, len: 1 };
        let os = self.fcntl(Op::ShmOpen);
        let busy = || Error::busy(Op::ShmOpen, &self.path, Lock::DeadManSwitch);
        match os.conflicting(dms, RecordLock::Write)? {
            None if self.read_only => return Ok(false),
            None => {
                if !os.set(dms, RecordLock::Write)? {
                    return Err(busy());
                }
                self.file.set_len(3).map_err(|e| Error::io_at(Op::ShmOpen, &self.path, 3, e))?;
            }
            Some(RecordLock::Write) => return Err(busy()),
            Some(_) => {}
        }
        // Downgrade (or take) the DMS lock shared: "someone is alive".
        if !os.set(dms, RecordLock::Read)? {
            return Err(busy());
        }
        Ok(true)
    }

    /// Maps region `region`, growing the file first when `extend` (os_unix.c, `unixShmMap`).
    pub(crate) fn map(&self, region: u32, extend: bool) -> Result<Option<ShmRegion>> {
        let region = region as usize;
        let mut regions = self.regions.lock();
        if self.unlocked.load(Ordering::Relaxed) {
            // Has a live process initialised the -shm since? (`unixShmMap` asks every time.)
            if !self.lock_shared_memory()? {
                return Err(Error::ReadOnly { op: Op::ShmOpen, path: self.path.clone() });
            }
            self.unlocked.store(false, Ordering::Relaxed);
        }
        if let Some(r) = regions.get(region) {
            return Ok(Some(r.clone()));
        }
        let needed = ((region + 1) * SHM_REGION_SIZE) as u64;
        let size = self.file.metadata().map_err(|e| Error::io(Op::ShmMap, &self.path, e))?.len();
        if size < needed {
            if self.read_only {
                // Not there, and we may not grow it (SQLite: `SQLITE_READONLY` with no region).
                return Err(Error::ReadOnly { op: Op::ShmMap, path: self.path.clone() });
            }
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
            let mut options = memmap2::MmapOptions::new();
            options.offset(offset).len(SHM_REGION_SIZE);
            let map = if self.read_only {
                options.map_raw_read_only(&self.file)
            } else {
                options.map_raw(&self.file)
            }
            .map_err(|e| Error::io_at(Op::ShmMap, &self.path, offset, e))?;
            regions.push(ShmRegion::mapped(MappedRegion::new(map, self.read_only)));
        }
        Ok(Some(regions[region].clone()))
    }
}

const OS_PAGE: u64 = 4096;

impl ShmConn {
    /// Joins this process's node for the database `db_path` (whose inode is `inode`), opening it
    /// if no connection of the process has it open.
    /// With `readonly_shm` a node this call opens opens the `-shm` read-only; a node the
    /// process already has is joined as it is, as SQLite does.
    pub(crate) fn open(inode: &Inode, db_path: &Path, readonly_shm: bool) -> Result<ShmConn> {
        let mut slot = inode.shm.lock();
        let node = match slot.upgrade() {
            Some(node) => node,
            None => {
                let node = Arc::new(ShmNode::open(db_path, readonly_shm)?);
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
        let result =
            node.locks.lock(&mut self.held, slot, n, kind, &node.fcntl(Op::ShmLock), &node.path);
        match result {
            // A write lock on a descriptor open read-only: SQLite's unixShmSystemLock makes
            // every failure SQLITE_BUSY, and so do we (the slot table was left unchanged).
            Err(e) if node.read_only && e.raw_os_error() == Some(Errno::BADF.raw_os_error()) => {
                Err(Error::busy(
                    Op::ShmLock,
                    &node.path,
                    Lock::Shm { slot, n, kind, read_only: true },
                ))
            }
            other => other,
        }
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
