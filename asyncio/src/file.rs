//! [`AsyncFile`], the handle [`crate::AsyncVfs::open`] returns.
//!
//! Writes, truncates and syncs are queued; reads and sizes replay the queue over the parent
//! file; locks are taken on the parent at once and released by a queued unlock (or, without
//! lock files, arbitrated in process only).

use crate::handle::{HandleCore, ParentFile};
use crate::queue::{Base, OpKind};
use crate::shared::Shared;
use crate::writer;
use folio_vfs::lock::NoProcessLocks;
use folio_vfs::sync::atomic::{AtomicU32, Ordering};
use folio_vfs::sync::Arc;
use folio_vfs::{
    chunk_rounded, DeviceCharacteristics, Error, LockLevel, Op, ReadOutcome, Result, ShmLockKind,
    ShmRegion, SyncFlags, VfsFile, DEFAULT_SECTOR_SIZE,
};
use std::path::Path;

/// A file of an [`crate::AsyncVfs`].
pub(crate) struct AsyncFile {
    shared: Arc<Shared>,
    core: Arc<HandleCore>,
    /// The chunk size set by [`VfsFile::set_chunk_size`] (0: none). Truncates are rounded
    /// before they are queued, so the parent and the read-through replay see the same size;
    /// the parent itself is never given a chunk size.
    chunk: AtomicU32,
}

impl AsyncFile {
    pub(crate) fn new(shared: Arc<Shared>, core: Arc<HandleCore>) -> Self {
        AsyncFile { shared, core, chunk: AtomicU32::new(0) }
    }

    fn check_poison(&self) -> Result<()> {
        match self.shared.lock().poison(self.core.id) {
            Some(sticky) => Err(sticky.error()),
            None => Ok(()),
        }
    }

    /// The parent file, waiting for a deferred open if need be.
    fn parent_now(&self, op: Op) -> Result<Arc<ParentFile>> {
        if let Some(parent) = self.core.parent() {
            return Ok(parent);
        }
        let seq = self.core.open_seq();
        let after = self.shared.lock().done_seq;
        self.shared.wait_done(
            "a deferred open",
            after.min(seq.saturating_sub(1)),
            seq,
            Some(self.core.file),
        )?;
        self.check_poison()?;
        self.core.parent().ok_or_else(|| self.core.missing_parent(op))
    }

    /// Queues `op` (or performs it, once the writer is gone).
    fn submit(&self, op: OpKind, what: Op) -> Result<()> {
        let shared = &self.shared;
        let mut st = shared.lock();
        if let Some(sticky) = st.poison(self.core.id) {
            return Err(sticky.error());
        }
        if st.writer_gone {
            drop(st);
            writer::perform(shared, Some(&self.core), &op)?;
            shared.lock().record_inline(Some(self.core.file), op);
            return Ok(());
        }
        if op_is_counted(&op) {
            st = shared.admit(st, op_bytes(&op), what, &self.core.path)?;
            if st.writer_gone {
                // The writer exited while we waited for room: perform it ourselves.
                drop(st);
                return self.submit(op, what);
            }
            if let Some(sticky) = st.poison(self.core.id) {
                return Err(sticky.error());
            }
        }
        st.push(Some(self.core.file), Some(Arc::clone(&self.core)), op, shared.options.coalesce);
        drop(st);
        shared.work.notify_one();
        Ok(())
    }

    fn refuse_if_read_only(&self, op: Op) -> Result<()> {
        if !self.core.flags.write {
            return Err(Error::ReadOnly { op, path: self.core.path.clone() });
        }
        Ok(())
    }

    /// Reads (`buf` is `Some`) or sizes the file with the queue replayed.
    fn read_through(&self, offset: u64, mut buf: Option<&mut [u8]>) -> Result<(ReadOutcome, u64)> {
        let file = self.core.file;
        loop {
            let mut st = self.shared.lock();
            if let Some(sticky) = st.poison(self.core.id) {
                return Err(sticky.error());
            }
            if !st.has_queued(file) {
                // Nothing to overlay: read the parent without holding the queue.
                drop(st);
                let parent = self.parent_now(Op::Read)?;
                return match buf {
                    Some(buf) => Ok((parent.0.read_at(offset, buf)?, 0)),
                    None => Ok((ReadOutcome::Full, parent.0.size()?)),
                };
            }
            let base = if st.base_is_empty(file) {
                Base::Empty
            } else if let Some(parent) = self.core.parent() {
                // The queue mutex is held across the parent's read (see the lock order).
                if let Some(buf) = buf.as_deref_mut() {
                    parent.0.read_at(offset, buf)?;
                }
                Base::Parent { size: parent.0.size()? }
            } else {
                // Our own deferred open is queued behind the creation: wait for it.
                drop(st);
                self.parent_now(Op::Read)?;
                continue;
            };
            return Ok(match buf {
                Some(buf) => (st.overlay(file, &base, offset, buf), 0),
                None => (ReadOutcome::Full, st.replay_size(file, &base)),
            });
        }
    }
}

fn op_is_counted(op: &OpKind) -> bool {
    !matches!(op, OpKind::Close { .. } | OpKind::Unlock { .. })
}

fn op_bytes(op: &OpKind) -> usize {
    match op {
        OpKind::Write { data, .. } => data.len(),
        _ => 0,
    }
}

impl VfsFile for AsyncFile {
    fn path(&self) -> &Path {
        &self.core.path
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadOutcome> {
        self.read_through(offset, Some(buf)).map(|(outcome, _)| outcome)
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<()> {
        self.refuse_if_read_only(Op::Write)?;
        self.submit(OpKind::Write { offset, data: Arc::new(buf.to_vec()) }, Op::Write)
    }

    fn truncate(&self, size: u64) -> Result<()> {
        self.refuse_if_read_only(Op::Truncate)?;
        let size = chunk_rounded(size, self.chunk_size());
        self.submit(OpKind::Truncate { size }, Op::Truncate)
    }

    fn set_chunk_size(&self, bytes: u32) {
        self.chunk.store(bytes, Ordering::Relaxed);
    }

    fn chunk_size(&self) -> u32 {
        self.chunk.load(Ordering::Relaxed)
    }

    /// With a chunk size, a file shorter than the rounded hint is extended by a queued
    /// truncate (zeros, in order with the handle's other operations).
    fn size_hint(&self, bytes: u64) -> Result<()> {
        let chunk = self.chunk_size();
        if chunk == 0 || !self.core.flags.write {
            return Ok(());
        }
        let to = chunk_rounded(bytes, chunk);
        if to <= self.size()? {
            return Ok(());
        }
        self.submit(OpKind::Truncate { size: to }, Op::Truncate)
    }

    fn sync(&self, flags: SyncFlags) -> Result<()> {
        self.submit(OpKind::Sync { flags }, Op::Sync)
    }

    fn size(&self) -> Result<u64> {
        self.read_through(0, None).map(|(_, size)| size)
    }

    fn lock(&self, level: LockLevel) -> Result<()> {
        self.check_poison()?;
        if let Some(locks) = &self.core.inproc {
            let mut state = self.core.level.lock();
            return locks.lock(&mut state.level, level, &NoProcessLocks, &self.core.path);
        }
        let parent = self.parent_now(Op::Lock)?;
        // The writer lowers the parent's lock under this mutex too, so a queued unlock never
        // undoes a lock taken after it was queued.
        let mut state = self.core.level.lock();
        if parent.0.lock_level() < level {
            if let Err(e) = parent.0.lock(level) {
                // A refused EXCLUSIVE leaves the parent at PENDING: report that too.
                state.level = state.level.max(parent.0.lock_level().min(LockLevel::Pending));
                return Err(e);
            }
        }
        state.level = state.level.max(level);
        Ok(())
    }

    fn unlock(&self, level: LockLevel) -> Result<()> {
        let mut state = self.core.level.lock();
        if state.level <= level {
            return Ok(());
        }
        if let Some(locks) = &self.core.inproc {
            return locks.unlock(&mut state.level, level, &NoProcessLocks, &self.core.path, |_| {});
        }
        if level > LockLevel::Shared {
            return Err(Error::misuse(&self.core.path, folio_vfs::Misuse::UnlockAbove(level)));
        }
        state.level = level;
        state.n_unlocks_queued += 1;
        drop(state);
        // Queued behind the transaction's writes: the parent lets go only once they are done.
        let queued = self.submit(OpKind::Unlock { level }, Op::Unlock);
        if queued.is_err() {
            self.core.level.lock().n_unlocks_queued -= 1;
        }
        queued
    }

    fn lock_level(&self) -> LockLevel {
        self.core.level.lock().level
    }

    fn check_reserved_lock(&self) -> Result<bool> {
        self.check_poison()?;
        match &self.core.inproc {
            Some(locks) => locks.check_reserved(&NoProcessLocks),
            None => self.parent_now(Op::CheckReserved)?.0.check_reserved_lock(),
        }
    }

    fn has_moved(&self) -> Result<bool> {
        // The parent's name on the device: a delete still in the queue has not moved it yet.
        self.check_poison()?;
        self.parent_now(Op::Size)?.0.has_moved()
    }

    fn sector_size(&self) -> u32 {
        self.parent_now(Op::Open).map_or(DEFAULT_SECTOR_SIZE, |p| p.0.sector_size())
    }

    fn device_characteristics(&self) -> DeviceCharacteristics {
        // With no parent to ask, promise nothing: the safe answer for a journal.
        self.parent_now(Op::Open)
            .map_or(DeviceCharacteristics::NONE, |p| p.0.device_characteristics())
    }

    fn shm_map(&self, _region: u32, _extend: bool) -> Result<Option<ShmRegion>> {
        Err(self.unsupported(
            Op::ShmMap,
            "the async VFS has no shared memory (as SQLite's: use WAL with exclusive locking)",
        ))
    }

    fn shm_lock(&self, _slot: usize, _n: usize, _kind: ShmLockKind) -> Result<()> {
        Err(self.unsupported(Op::ShmLock, "the async VFS has no shared memory"))
    }
}

impl Drop for AsyncFile {
    fn drop(&mut self) {
        let shared = &self.shared;
        let core = &self.core;
        if let Some(locks) = &core.inproc {
            let mut state = core.level.lock();
            let _ = locks.unlock(
                &mut state.level,
                LockLevel::None,
                &NoProcessLocks,
                &core.path,
                |_| {},
            );
        }
        let delete_on_close = core.flags.delete_on_close;
        let mut st = shared.lock();
        st.unregister_handle(core.id, core.file, delete_on_close);
        let op = OpKind::Close { delete_on_close };
        if st.writer_gone {
            st.record_inline(Some(core.file), op);
            drop(st);
            drop(core.take_parent());
            return;
        }
        st.push(Some(core.file), Some(Arc::clone(core)), op, false);
        drop(st);
        shared.work.notify_one();
    }
}
