//! [`AsyncVfs`]: the `Vfs` face of the queue (open, delete, access see queued name
//! operations) and its control API (halt, delay, flush, barrier, durability, stats, shutdown).

use crate::file::AsyncFile;
use crate::handle::HandleCore;
use crate::queue::{OpKind, State};
use crate::shared::{misuse, ParentVfs, Shared};
use crate::{writer, HaltMode, Options, Seq, Stats, MAX_DELAY};
use folio_vfs::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use folio_vfs::sync::{thread, Arc, Condvar, Mutex};
use folio_vfs::{AccessCheck, Error, FileKind, Op, OpenFlags, Result, Vfs, VfsFile};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The asynchronous write-queue VFS: see the crate docs.
pub struct AsyncVfs {
    shared: Arc<Shared>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for AsyncVfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncVfs")
            .field("parent", &self.shared.parent.name())
            .field("options", &self.shared.options)
            .field("stats", &self.stats())
            .finish()
    }
}

/// `ENOENT`, the same number on every Unix (the `Vfs::delete` contract names it).
const ENOENT: i32 = 2;

impl AsyncVfs {
    /// Wraps `parent` and starts the writer thread.
    ///
    /// # Panics
    /// If `options` has a zero cap or batch size.
    pub fn new(parent: ParentVfs, options: Options) -> Self {
        assert!(
            options.max_queued_bytes > 0 && options.max_queued_ops > 0 && options.max_batch > 0,
            "the async VFS's caps and batch size must be positive: {options:?}"
        );
        let shared = Arc::new(Shared {
            parent,
            options,
            state: Mutex::new(State::new()),
            work: Condvar::new(),
            progress: Condvar::new(),
            halt_now: AtomicBool::new(false),
            delay_us: AtomicU64::new(0),
            locks: Mutex::new(HashMap::new()),
        });
        let writer = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || writer::run(&shared))
        };
        AsyncVfs { shared, writer: Mutex::new(Some(writer)) }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.shared.options
    }

    /// Sets when the writer stops taking operations (see [`HaltMode`]). Callers waiting on a
    /// halted writer ([`Self::flush`], a full queue) get an error instead of waiting forever.
    pub fn set_halt(&self, mode: HaltMode) {
        let mut st = self.shared.lock();
        st.halt = mode;
        st.idle_reached = false;
        self.shared.halt_now.store(mode == HaltMode::Now, Ordering::SeqCst);
        drop(st);
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
    }

    /// The halt mode in force.
    pub fn halt_mode(&self) -> HaltMode {
        self.shared.lock().halt
    }

    /// True when the writer takes no operation until the halt mode changes
    /// ([`HaltMode::Now`], or [`HaltMode::WhenIdle`] once the queue was found empty).
    pub fn is_halted(&self) -> bool {
        self.shared.lock().stalled()
    }

    /// **For tests**: the writer waits `delay` before each operation, a slow disk (capped at
    /// [`MAX_DELAY`]). Real time, not the parent's `sleep`: the simulated disk's sleep returns
    /// at once, and the point is to let the queue fill.
    pub fn set_delay(&self, delay: Duration) {
        let us = delay.min(MAX_DELAY).as_micros() as u64;
        self.shared.delay_us.store(us, Ordering::SeqCst);
    }

    /// The artificial delay in force.
    pub fn delay(&self) -> Duration {
        Duration::from_micros(self.shared.delay_us.load(Ordering::SeqCst))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let st = self.shared.lock();
        let mut stats = st.stats;
        stats.queued_ops = st.queue.len();
        stats.queued_bytes = st.queued_bytes;
        stats.queued_seq = st.last_seq;
        stats.done_seq = st.done_seq;
        stats.durable_seq = st.durable_seq();
        stats
    }

    /// The last sequence number handed out: the point a caller that just returned from a
    /// request reaches.
    pub fn queued_seq(&self) -> Seq {
        self.shared.lock().last_seq
    }

    /// The durability watermark: every operation with a sequence number up to it is durable
    /// (the crate docs define durable).
    pub fn durable_seq(&self) -> Seq {
        self.shared.lock().durable_seq()
    }

    /// Waits until `seq` is durable. Fails if it never can be: an operation at or before it
    /// failed (that error is returned), nothing queued can make it durable (a write with no
    /// sync of its file queued after it), or the writer is halted.
    pub fn wait_durable(&self, seq: Seq) -> Result<()> {
        self.shared.wait_for(
            "wait_durable",
            |st| st.durable_seq() >= seq,
            |st| {
                if seq > st.last_seq {
                    return Some(misuse(folio_vfs::Misuse::DurableBeyondLast {
                        seq,
                        last: st.last_seq,
                    }));
                }
                if let Some(failure) = st.failure_at_or_before(seq) {
                    return Some(failure.error());
                }
                (st.queue.is_empty() && st.durable_seq() < seq).then(|| {
                    misuse(folio_vfs::Misuse::DurableNeverSynced {
                        seq,
                        watermark: st.durable_seq(),
                    })
                })
            },
        )
    }

    /// Waits until every operation queued so far has been performed. Fails with the error of
    /// the first operation that failed since the previous flush began (even if it failed
    /// before this call: the first flush to cover a failure reports it).
    pub fn flush(&self) -> Result<()> {
        let (after, target) = self.shared.lock().begin_flush();
        self.shared.wait_done("flush", after, target, None)
    }

    /// Waits until every operation queued so far on the file `path` names (its live
    /// incarnation) has been performed. Fails with the error that poisoned that file if one of
    /// its operations failed, or was dropped, since the previous barrier on it began.
    pub fn barrier(&self, path: &Path) -> Result<()> {
        let canonical = self.shared.parent.full_path(path)?;
        let (file, window) = {
            let mut st = self.shared.lock();
            let file = st.live_file(&canonical);
            (file, file.and_then(|f| st.begin_barrier(f)))
        };
        let (Some(file), Some((after, target))) = (file, window) else { return Ok(()) };
        self.shared.wait_done("barrier", after, target, Some(file))
    }

    /// Drains the queue (whatever the halt mode) and joins the writer thread. Files still open
    /// keep working, synchronously on the parent. Idempotent; `Drop` calls it.
    ///
    /// # Panics
    /// If the writer thread panicked (a bug), its panic is resumed here.
    pub fn shutdown(&self) {
        let Some(writer) = self.writer.lock().take() else { return };
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        if let Err(panic) = writer.join() {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Opens `path` after the queued operations on its name, if any: a main database waits for
    /// them, any other file is opened by the writer in order (a deferred open).
    fn open_named(&self, path: &Path, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        let shared = &self.shared;
        let canonical = shared.parent.full_path(path)?;
        let cant_open = |reason| Error::cant_open(path, reason, None);
        let mut st = shared.lock();
        if let Some(error) = st.take_unreported(&canonical) {
            return Err(error.error());
        }
        match st.name_view(&canonical) {
            None => {}
            Some((_, seq)) if flags.kind == FileKind::MainDb || st.writer_gone => {
                // Locks need the parent file now: wait for the name to settle.
                let after = st.done_seq;
                drop(st);
                shared.wait_done("open", after, seq, None)?;
                return self.open_named(path, flags);
            }
            Some((exists, _)) => {
                if !exists && !flags.create {
                    return Err(cant_open(folio_vfs::CantOpenReason::DeleteQueued));
                }
                if exists && flags.create && flags.exclusive {
                    return Err(cant_open(folio_vfs::CantOpenReason::CreationQueued));
                }
                if flags.create && !flags.write {
                    return Err(cant_open(folio_vfs::CantOpenReason::CreateReadOnly));
                }
                st = shared.admit(st, 0, Op::Open, path)?;
                if st.writer_gone {
                    drop(st);
                    return self.open_named(path, flags);
                }
                if let Some(error) = st.take_unreported(&canonical) {
                    return Err(error.error());
                }
                // Re-read: the view may have changed while waiting for room.
                let fresh = !matches!(st.name_view(&canonical), Some((true, _)));
                let (id, file) = st.register_handle(&canonical, fresh);
                let core = HandleCore::new(
                    id,
                    file,
                    path,
                    &canonical,
                    flags,
                    None,
                    shared.handle_locks(&canonical),
                );
                let op = OpKind::Open {
                    path: path.to_path_buf(),
                    canonical: canonical.clone(),
                    flags,
                    fresh,
                };
                let seq = st.push(Some(file), Some(Arc::clone(&core)), op, false);
                core.set_open_seq(seq);
                drop(st);
                shared.work.notify_one();
                return Ok(Box::new(AsyncFile::new(Arc::clone(shared), core)));
            }
        }
        drop(st);
        let parent = shared.parent.open(Some(path), flags)?;
        let mut st = shared.lock();
        // The writer may have failed on this file while the parent opened it, with no handle
        // to poison: report it now rather than register a handle that would never hear of it.
        if let Some(error) = st.take_unreported(&canonical) {
            drop(st);
            drop(parent);
            return Err(error.error());
        }
        let (id, file) = st.register_handle(&canonical, false);
        drop(st);
        let core = HandleCore::new(
            id,
            file,
            path,
            &canonical,
            flags,
            Some(parent),
            shared.handle_locks(&canonical),
        );
        Ok(Box::new(AsyncFile::new(Arc::clone(shared), core)))
    }
}

impl Drop for AsyncVfs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Vfs for AsyncVfs {
    fn name(&self) -> &str {
        "async"
    }

    fn open(&self, path: Option<&Path>, flags: OpenFlags) -> Result<Box<dyn VfsFile>> {
        match path {
            Some(path) => self.open_named(path, flags),
            None => {
                // A temporary file has a fresh name nobody else knows: open it now.
                let parent = self.shared.parent.open(None, flags)?;
                let path = parent.path().to_path_buf();
                let flags = flags.for_temp_file();
                let (id, file) = self.shared.lock().register_handle(&path, true);
                let core = HandleCore::new(
                    id,
                    file,
                    &path,
                    &path,
                    flags,
                    Some(parent),
                    self.shared.handle_locks(&path),
                );
                Ok(Box::new(AsyncFile::new(Arc::clone(&self.shared), core)))
            }
        }
    }

    fn delete(&self, path: &Path, sync_dir: bool) -> Result<()> {
        let shared = &self.shared;
        let canonical = shared.parent.full_path(path)?;
        let mut st = shared.lock();
        if let Some(error) = st.take_unreported(&canonical) {
            return Err(error.error());
        }
        if let Some(error) = st.unreported_poison() {
            return Err(error.error());
        }
        if st.writer_gone {
            drop(st);
            shared.parent.delete(path, sync_dir)?;
            let mut st = shared.lock();
            let file = st.end_name(&canonical);
            let op = OpKind::Delete { path: path.to_path_buf(), canonical, sync_dir };
            st.record_inline(file, op);
            return Ok(());
        }
        st = shared.admit(st, 0, Op::Delete, path)?;
        if st.writer_gone {
            drop(st);
            return self.delete(path, sync_dir);
        }
        if let Some(error) = st.take_unreported(&canonical) {
            return Err(error.error());
        }
        if let Some(error) = st.unreported_poison() {
            return Err(error.error());
        }
        let exists = match st.name_view(&canonical) {
            Some((exists, _)) => exists,
            // The queue mutex is held across the parent's check (see the lock order).
            None => shared.parent.access(path, AccessCheck::Exists)?,
        };
        if !exists {
            let enoent = io::Error::from_raw_os_error(ENOENT);
            return Err(Error::io(Op::Delete, path, enoent));
        }
        let file = st.end_name(&canonical);
        let op = OpKind::Delete { path: path.to_path_buf(), canonical, sync_dir };
        st.push(file, None, op, false);
        drop(st);
        shared.work.notify_one();
        Ok(())
    }

    fn access(&self, path: &Path, check: AccessCheck) -> Result<bool> {
        let canonical = self.shared.parent.full_path(path)?;
        let st = self.shared.lock();
        match st.name_view(&canonical) {
            Some((exists, _)) => Ok(exists),
            None => self.shared.parent.access(path, check),
        }
    }

    fn full_path(&self, path: &Path) -> Result<PathBuf> {
        self.shared.parent.full_path(path)
    }

    fn canonical_path(&self, path: &Path) -> Result<folio_vfs::CanonicalPath> {
        self.shared.parent.canonical_path(path)
    }

    fn randomness(&self, buf: &mut [u8]) -> Result<()> {
        self.shared.parent.randomness(buf)
    }

    fn sleep(&self, duration: Duration) {
        self.shared.parent.sleep(duration);
    }

    /// The parent's: a temporary file is opened on the parent at once anyway.
    fn temp_file_name(&self) -> Option<PathBuf> {
        self.shared.parent.temp_file_name()
    }
}
