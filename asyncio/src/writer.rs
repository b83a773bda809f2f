//! The writer thread: takes a batch of operations from the front of the queue (marking them in
//! flight, so they are neither merged into nor dropped, and stay visible to reads), performs
//! them on the parent without holding the queue, then retires them under one acquisition.
//! The first failure ends the batch; [`crate::queue::State::retire`] drops what is behind it.

use crate::handle::HandleCore;
use crate::queue::OpKind;
use crate::shared::Shared;
use folio_vfs::sync::atomic::Ordering;
use folio_vfs::sync::Arc;
use folio_vfs::{Error, LockLevel, Op, Result};

/// One operation taken from the queue.
struct Work {
    handle: Option<Arc<HandleCore>>,
    op: OpKind,
}

/// The writer thread's body: runs until shutdown, then drains the queue and returns.
pub(crate) fn run(shared: &Shared) {
    loop {
        let batch = {
            let mut st = shared.lock();
            loop {
                if st.shutdown && st.queue.is_empty() {
                    st.writer_gone = true;
                    drop(st);
                    shared.progress.notify_all();
                    return;
                }
                if st.halt == crate::HaltMode::WhenIdle && st.queue.is_empty() && !st.idle_reached {
                    st.idle_reached = true;
                    shared.progress.notify_all();
                }
                if !st.queue.is_empty() && !st.stalled() {
                    break;
                }
                st = shared.work.wait(st);
            }
            // A batch ends after its first sync: syncs are slow, and waiters for durability
            // should not wait for the operations behind one. With the artificial delay every
            // operation is slow, so each is its own batch.
            let max = match shared.delay_us.load(Ordering::Relaxed) {
                0 => shared.options.max_batch,
                _ => 1,
            };
            let n = match st.queue.iter().take(max).position(|e| is_sync(&e.op)) {
                Some(i) => i + 1,
                None => st.queue.len().min(max),
            };
            st.in_flight = n;
            st.stats.n_batches += 1;
            st.queue
                .iter()
                .take(n)
                .map(|e| Work { handle: e.handle.clone(), op: e.op.clone() })
                .collect::<Vec<_>>()
        };
        let mut n_ok = 0;
        let mut failed = None;
        for (i, work) in batch.iter().enumerate() {
            if i > 0 && shared.halt_now.load(Ordering::SeqCst) {
                break;
            }
            delay(shared);
            match perform(shared, work.handle.as_ref(), &work.op) {
                Ok(()) => n_ok += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(batch);
        {
            let mut st = shared.lock();
            st.retire(n_ok, failed);
            // Idle is reached the moment the queue empties, under the same lock, so a flush
            // that returns under WhenIdle finds the writer halted.
            if st.halt == crate::HaltMode::WhenIdle && st.queue.is_empty() {
                st.idle_reached = true;
            }
        }
        shared.progress.notify_all();
    }
}

fn is_sync(op: &OpKind) -> bool {
    matches!(op, OpKind::Sync { .. } | OpKind::Delete { sync_dir: true, .. })
}

/// The test-only artificial delay: real time, a slow disk.
fn delay(shared: &Shared) {
    let us = shared.delay_us.load(Ordering::Relaxed);
    if us > 0 {
        #[cfg(not(loom))]
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

/// Performs one operation on the parent. Called by the writer, or by the caller itself once
/// the writer is gone.
pub(crate) fn perform(
    shared: &Shared,
    handle: Option<&Arc<HandleCore>>,
    op: &OpKind,
) -> Result<()> {
    let parent_of = |core: &HandleCore, what: Op| {
        core.parent()
            .ok_or_else(|| Error::misuse(&core.path, folio_vfs::Misuse::QueuedFileNotOpen(what)))
    };
    let core = || {
        handle
            .map(|h| &**h)
            .ok_or_else(|| Error::misuse("", folio_vfs::Misuse::QueuedWithoutHandle))
    };
    match op {
        OpKind::Write { offset, data } => parent_of(core()?, Op::Write)?.0.write_at(*offset, data),
        OpKind::Truncate { size } => parent_of(core()?, Op::Truncate)?.0.truncate(*size),
        OpKind::Sync { flags } => parent_of(core()?, Op::Sync)?.0.sync(*flags),
        OpKind::Unlock { level } => {
            let core = core()?;
            let parent = parent_of(core, Op::Unlock)?;
            // Under the handle's lock mutex: a lock taken since this unlock was queued wins, and
            // only the handle's last queued unlock acts (an earlier one would release the lock
            // of a later transaction whose writes are still queued behind it).
            let mut state = core.level.lock();
            state.n_unlocks_queued = state.n_unlocks_queued.saturating_sub(1);
            let target = state.level.max(*level);
            if state.n_unlocks_queued == 0
                && target <= LockLevel::Shared
                && parent.0.lock_level() > target
            {
                parent.0.unlock(target)?;
            }
            Ok(())
        }
        OpKind::Close { .. } => {
            drop(core()?.take_parent());
            Ok(())
        }
        OpKind::Delete { path, sync_dir, .. } => shared.parent.delete(path, *sync_dir),
        OpKind::Open { path, flags, .. } => {
            let file = shared.parent.open(Some(path), *flags)?;
            core()?.set_parent(file);
            Ok(())
        }
    }
}
