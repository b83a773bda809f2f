//! [`Shared`], the state the files, the [`crate::AsyncVfs`] and the writer thread share: the
//! parent VFS, the options, the queue state under its one mutex, and the condition variables
//! the writer and the waiting callers sleep on.

use crate::queue::State;
use crate::{Options, Seq, WhenFull};
use folio_vfs::lock::InodeLocks;
use folio_vfs::sync::atomic::{AtomicBool, AtomicU64};
use folio_vfs::sync::{Arc, Condvar, Mutex, MutexGuard};
use folio_vfs::{Error, Op, Result, Vfs};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The parent VFS. A plain `std` `Arc`: the caller hands it over as one, it is only ever
/// cloned and read, and loom cannot hold an unsized value in its own `Arc`.
pub(crate) type ParentVfs = std::sync::Arc<dyn Vfs>;

/// What the files, the `AsyncVfs` and the writer thread share.
pub(crate) struct Shared {
    pub(crate) parent: ParentVfs,
    pub(crate) options: Options,
    pub(crate) state: Mutex<State>,
    /// Wakes the writer: work, a halt-mode change, shutdown.
    pub(crate) work: Condvar,
    /// Wakes callers: room in the queue, operations retired, halt-mode changes.
    pub(crate) progress: Condvar,
    /// [`crate::HaltMode::Now`] is in force: the writer stops between two operations of a batch.
    pub(crate) halt_now: AtomicBool,
    /// The artificial delay before each operation, in microseconds.
    pub(crate) delay_us: AtomicU64,
    /// Without lock files: the in-process lock table, by canonical path.
    pub(crate) locks: Mutex<HashMap<PathBuf, Arc<InodeLocks>>>,
}

/// An [`Error::Misuse`] that names no file: a wait that the queue's state can never satisfy.
pub(crate) fn misuse(rule: folio_vfs::Misuse) -> Error {
    Error::misuse(PathBuf::new(), rule)
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Waits (or fails) until a counted operation of `bytes` fits. `op` and `path` name the
    /// request in a Busy error.
    pub(crate) fn admit<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        bytes: usize,
        op: Op,
        path: &Path,
    ) -> Result<MutexGuard<'a, State>> {
        while !st.writer_gone && !st.fits(bytes, &self.options) {
            if self.options.when_full == WhenFull::Busy || st.stalled() {
                st.stats.n_busy += 1;
                let room = folio_vfs::Lock::QueueRoom { halted: st.stalled() };
                return Err(Error::busy(op, path, room));
            }
            st.stats.n_waits += 1;
            st = self.progress.wait(st);
        }
        Ok(st)
    }

    /// Waits until `done(state)` holds; fails with what `failed(state)` returns, or when the
    /// writer is halted and the condition does not hold.
    pub(crate) fn wait_for(
        &self,
        what: &'static str,
        done: impl Fn(&State) -> bool,
        failed: impl Fn(&State) -> Option<Error>,
    ) -> Result<()> {
        let mut st = self.lock();
        loop {
            if let Some(error) = failed(&st) {
                return Err(error);
            }
            if done(&st) {
                return Ok(());
            }
            if st.stalled() {
                return Err(misuse(folio_vfs::Misuse::WriterHalted {
                    waiting: what,
                    queued: st.queue.len(),
                }));
            }
            st = self.progress.wait(st);
        }
    }

    /// Waits until every operation up to `target` has left the queue; fails if one of those
    /// after `after` failed (on `file`, if given).
    pub(crate) fn wait_done(
        &self,
        what: &'static str,
        after: Seq,
        target: Seq,
        file: Option<u64>,
    ) -> Result<()> {
        self.wait_for(
            what,
            |st| st.done_seq >= target,
            |st| {
                (st.done_seq >= target)
                    .then(|| st.failure_between(after, target, file).map(|s| s.error()))
                    .flatten()
            },
        )
    }

    /// The in-process lock entry of `canonical` (used without lock files).
    pub(crate) fn inode_locks(&self, canonical: &Path) -> Arc<InodeLocks> {
        self.locks.lock().entry(canonical.to_path_buf()).or_default().clone()
    }

    /// The in-process lock entry a new handle of `canonical` arbitrates with: the file's
    /// without lock files, none with them.
    pub(crate) fn handle_locks(&self, canonical: &Path) -> Option<Arc<InodeLocks>> {
        (!self.options.lock_files).then(|| self.inode_locks(canonical))
    }
}
