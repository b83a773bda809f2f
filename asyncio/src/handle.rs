//! [`HandleCore`], the part of a handle that queued operations refer to (its file incarnation,
//! its parent file, its reported lock level), shared by the handle, the queue and the writer.

use crate::Seq;
use folio_vfs::lock::InodeLocks;
use folio_vfs::sync::{Arc, Mutex};
use folio_vfs::{Error, LockLevel, Op, OpenFlags, VfsFile};
use std::path::{Path, PathBuf};

/// One incarnation of a file.
pub(crate) type FileId = u64;

/// A parent file. A sized wrapper so that the sync facade's `Arc` (loom's under `cfg(loom)`)
/// can hold it.
pub(crate) struct ParentFile(pub(crate) Box<dyn VfsFile>);

/// The parent file of a handle: present from the open on (for a deferred open, from when the
/// writer performed it) until the writer performs the close.
struct Slot {
    parent: Option<Arc<ParentFile>>,
    /// The sequence number of the deferred open, 0 if the open was synchronous.
    open_seq: Seq,
}

/// A handle's reported lock level and how many of its unlocks are queued.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockState {
    pub(crate) level: LockLevel,
    /// Only the last queued unlock acts (SQLite's rule): an earlier one would release the lock
    /// of a later transaction whose writes are still queued.
    pub(crate) n_unlocks_queued: u32,
}

/// What queued operations know of a handle.
pub(crate) struct HandleCore {
    pub(crate) id: u64,
    pub(crate) file: FileId,
    pub(crate) path: PathBuf,
    pub(crate) canonical: PathBuf,
    pub(crate) flags: OpenFlags,
    slot: Mutex<Slot>,
    /// The lock level this handle reports (the parent's is never lower with lock files) and
    /// its queued unlocks.
    pub(crate) level: Mutex<LockState>,
    /// Without lock files: the in-process lock entry of the file.
    pub(crate) inproc: Option<Arc<InodeLocks>>,
}

impl HandleCore {
    pub(crate) fn new(
        id: u64,
        file: FileId,
        path: &Path,
        canonical: &Path,
        flags: OpenFlags,
        parent: Option<Box<dyn VfsFile>>,
        inproc: Option<Arc<InodeLocks>>,
    ) -> Arc<Self> {
        Arc::new(HandleCore {
            id,
            file,
            path: path.to_path_buf(),
            canonical: canonical.to_path_buf(),
            flags,
            slot: Mutex::new(Slot { parent: parent.map(|p| Arc::new(ParentFile(p))), open_seq: 0 }),
            level: Mutex::new(LockState { level: LockLevel::None, n_unlocks_queued: 0 }),
            inproc,
        })
    }

    pub(crate) fn set_open_seq(&self, seq: Seq) {
        self.slot.lock().open_seq = seq;
    }

    /// The parent file, if opened and not closed.
    pub(crate) fn parent(&self) -> Option<Arc<ParentFile>> {
        self.slot.lock().parent.clone()
    }

    /// Installs the parent file of a deferred open (the writer).
    pub(crate) fn set_parent(&self, parent: Box<dyn VfsFile>) {
        self.slot.lock().parent = Some(Arc::new(ParentFile(parent)));
    }

    /// Takes the parent file away (the writer, performing the close).
    pub(crate) fn take_parent(&self) -> Option<Arc<ParentFile>> {
        self.slot.lock().parent.take()
    }

    pub(crate) fn open_seq(&self) -> Seq {
        self.slot.lock().open_seq
    }

    pub(crate) fn missing_parent(&self, op: Op) -> Error {
        Error::misuse(&self.path, folio_vfs::Misuse::FileNotOpen(op))
    }
}
