//! The queue state: the FIFO of operations, sequence numbers, the bound's accounting, the
//! durability bookkeeping, poisoning, and the read-through replay (what a read, a size or an
//! existence check sees with the queue applied). Everything here runs under the one queue
//! mutex ([`crate::shared::Shared`]); nothing here calls the parent VFS.
//!
//! Files are known by *incarnation* ([`FileId`]): handles opened on the same canonical path
//! share one while its name lives; a queued delete (or delete-on-close close) ends it, and the
//! next open of the path starts a new one. Reads overlay only operations of their own
//! incarnation, so a journal deleted and created again never shows its old bytes.

use crate::handle::{FileId, HandleCore};
use crate::sticky::Sticky;
use crate::{HaltMode, Options, Seq, Stats};
use folio_vfs::sync::Arc;
use folio_vfs::{LockLevel, OpenFlags, ReadOutcome, SyncFlags};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;

/// The largest write a merge may build: merging stops paying long before this.
const MAX_MERGED_WRITE: usize = 1 << 20;

/// Failures remembered for reporting to `flush` and `barrier` (the first one is kept apart).
const MAX_FAILURES_KEPT: usize = 64;

/// What a queued operation does.
#[derive(Clone)]
pub(crate) enum OpKind {
    /// `write_at` through the entry's handle.
    Write { offset: u64, data: Arc<Vec<u8>> },
    /// `truncate`.
    Truncate { size: u64 },
    /// `sync`.
    Sync { flags: SyncFlags },
    /// Lower the parent's lock to `max(reported level, level)` if that is SHARED or NONE.
    Unlock { level: LockLevel },
    /// Drop the handle's parent file (releasing its locks; deleting it if delete-on-close).
    Close { delete_on_close: bool },
    /// `Vfs::delete` of `path`.
    Delete { path: PathBuf, canonical: PathBuf, sync_dir: bool },
    /// Open the handle's parent file (deferred because a queued delete or creation of the same
    /// name has not been performed yet). `fresh`: it starts a new incarnation.
    Open { path: PathBuf, canonical: PathBuf, flags: OpenFlags, fresh: bool },
}

impl OpKind {
    /// Closes and unlocks never wait for room and are not counted by the cap.
    fn counted(&self) -> bool {
        !matches!(self, OpKind::Close { .. } | OpKind::Unlock { .. })
    }

    fn bytes(&self) -> usize {
        match self {
            OpKind::Write { data, .. } => data.len(),
            _ => 0,
        }
    }

    /// Does this operation change the disk (so dropping it must poison its file)?
    fn changes_disk(&self) -> bool {
        !matches!(self, OpKind::Close { .. } | OpKind::Unlock { .. })
    }
}

/// A queued operation: sequence numbers `first..=last` (more than one after merges; merges
/// only happen at the tail, so the range holds no other operation).
pub(crate) struct Entry {
    pub(crate) first: Seq,
    pub(crate) last: Seq,
    pub(crate) file: Option<FileId>,
    pub(crate) handle: Option<Arc<HandleCore>>,
    pub(crate) op: OpKind,
}

/// What the queue knows of one incarnation.
#[derive(Debug)]
pub(crate) struct FileState {
    canonical: PathBuf,
    n_handles: usize,
    n_queued: usize,
    /// Performed writes and truncates (their first sequence numbers) not yet covered by a sync.
    unsynced: Vec<Seq>,
    /// The point up to which barriers have covered this file (their failures are reported).
    barrier_seq: Seq,
}

struct Failure {
    seq: Seq,
    error: Sticky,
    files: HashSet<FileId>,
}

/// Where a read starts from before the queue is replayed.
pub(crate) enum Base {
    /// The incarnation's creation is still queued: the file is empty.
    Empty,
    /// The parent file's bytes (already in the buffer, zero past its end) and size.
    Parent { size: u64 },
}

/// Everything under the queue mutex.
pub(crate) struct State {
    pub(crate) queue: VecDeque<Entry>,
    /// Entries at the front the writer has taken (never merged into, never dropped).
    pub(crate) in_flight: usize,
    /// The last sequence number handed out.
    pub(crate) last_seq: Seq,
    /// Every operation up to here has left the queue.
    pub(crate) done_seq: Seq,
    /// The point up to which flushes have covered (their failures are reported).
    flush_seq: Seq,
    unsettled: BTreeSet<Seq>,
    first_failure: Option<Seq>,
    failures: VecDeque<Failure>,
    files: HashMap<FileId, FileState>,
    /// The live incarnation of each canonical path.
    paths: HashMap<PathBuf, FileId>,
    /// Open handles, their poison, and whether a call on the handle has reported it.
    handles: HashMap<u64, (FileId, Option<Sticky>, bool)>,
    /// Errors of files that had no open handle when poisoned: the next open or delete of the
    /// path reports them once.
    unreported: HashMap<PathBuf, Sticky>,
    pub(crate) queued_bytes: usize,
    counted_ops: usize,
    pub(crate) halt: HaltMode,
    /// Under [`HaltMode::WhenIdle`]: the writer found the queue empty and stopped.
    pub(crate) idle_reached: bool,
    pub(crate) shutdown: bool,
    /// The writer has exited: requests are performed by their callers.
    pub(crate) writer_gone: bool,
    pub(crate) stats: Stats,
    next_file: FileId,
    next_handle: u64,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            queue: VecDeque::new(),
            in_flight: 0,
            last_seq: 0,
            done_seq: 0,
            flush_seq: 0,
            unsettled: BTreeSet::new(),
            first_failure: None,
            failures: VecDeque::new(),
            files: HashMap::new(),
            paths: HashMap::new(),
            handles: HashMap::new(),
            unreported: HashMap::new(),
            queued_bytes: 0,
            counted_ops: 0,
            halt: HaltMode::Never,
            idle_reached: false,
            shutdown: false,
            writer_gone: false,
            stats: Stats::default(),
            next_file: 1,
            next_handle: 1,
        }
    }

    // ---- the bound ------------------------------------------------------------------------

    /// True if a counted operation carrying `bytes` fits under the caps now.
    pub(crate) fn fits(&self, bytes: usize, options: &Options) -> bool {
        let bytes_ok = self.queued_bytes + bytes <= options.max_queued_bytes
            || (bytes > options.max_queued_bytes && self.queued_bytes == 0);
        bytes_ok && self.counted_ops < options.max_queued_ops
    }

    /// True when the writer will take nothing until the halt mode changes.
    pub(crate) fn stalled(&self) -> bool {
        !self.shutdown
            && match self.halt {
                HaltMode::Never => false,
                HaltMode::Now => true,
                HaltMode::WhenIdle => self.idle_reached,
            }
    }

    // ---- files and handles ----------------------------------------------------------------

    /// The live incarnation of `canonical`, if the queue knows one.
    pub(crate) fn live_file(&self, canonical: &PathBuf) -> Option<FileId> {
        self.paths.get(canonical).copied()
    }

    /// Registers a new handle on the live incarnation of `canonical` (a new one if there is
    /// none, or if `fresh`). Returns (handle id, file id).
    pub(crate) fn register_handle(&mut self, canonical: &PathBuf, fresh: bool) -> (u64, FileId) {
        let file = match self.paths.get(canonical) {
            Some(&file) if !fresh => file,
            _ => {
                let file = self.next_file;
                self.next_file += 1;
                self.files.insert(
                    file,
                    FileState {
                        canonical: canonical.clone(),
                        n_handles: 0,
                        n_queued: 0,
                        unsynced: Vec::new(),
                        barrier_seq: 0,
                    },
                );
                self.paths.insert(canonical.clone(), file);
                file
            }
        };
        self.files.get_mut(&file).expect("registered above").n_handles += 1;
        let id = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(id, (file, None, false));
        (id, file)
    }

    /// Forgets a handle (it is being dropped); with `ends_name`, its incarnation's name is
    /// gone (delete-on-close).
    pub(crate) fn unregister_handle(&mut self, id: u64, file: FileId, ends_name: bool) {
        let poison = self.handles.remove(&id).and_then(|(_, poison, reported)| match reported {
            false => poison,
            true => None,
        });
        if let Some(state) = self.files.get_mut(&file) {
            // A handle dropped before any call reported its poison hands the error on to the
            // next open of the name: it must reach someone.
            if let Some(error) = poison {
                self.unreported.entry(state.canonical.clone()).or_insert(error);
            }
            state.n_handles -= 1;
            if ends_name && self.paths.get(&state.canonical) == Some(&file) {
                self.paths.remove(&state.canonical);
            }
        }
        self.maybe_forget(file);
    }

    /// Ends the live incarnation of `canonical` (a delete was queued); returns it.
    pub(crate) fn end_name(&mut self, canonical: &PathBuf) -> Option<FileId> {
        self.paths.remove(canonical)
    }

    fn maybe_forget(&mut self, file: FileId) {
        let Some(state) = self.files.get(&file) else { return };
        if state.n_handles == 0 && state.n_queued == 0 && state.unsynced.is_empty() {
            let state = self.files.remove(&file).expect("looked up above");
            if self.paths.get(&state.canonical) == Some(&file) {
                self.paths.remove(&state.canonical);
            }
        }
    }

    /// The poison of handle `id`, if any, which the caller reports (so it is marked reported).
    pub(crate) fn poison(&mut self, id: u64) -> Option<Sticky> {
        let (_, poison, reported) = self.handles.get_mut(&id)?;
        let poison = poison.clone()?;
        *reported = true;
        Some(poison)
    }

    /// A poison that some open handle has not reported yet, if any. A delete refuses to run
    /// while there is one: deleting a journal commits, and the transaction it would commit may
    /// be the one that lost operations (the caller has not heard of it through its handles).
    pub(crate) fn unreported_poison(&self) -> Option<Sticky> {
        self.handles.values().find_map(|(_, poison, reported)| match reported {
            false => poison.clone(),
            true => None,
        })
    }

    /// Takes the unreported error of `canonical`, if any (it is reported by the caller).
    pub(crate) fn take_unreported(&mut self, canonical: &PathBuf) -> Option<Sticky> {
        self.unreported.remove(canonical)
    }

    /// True if some operation of `file` is queued.
    pub(crate) fn has_queued(&self, file: FileId) -> bool {
        self.files.get(&file).is_some_and(|f| f.n_queued > 0)
    }

    // ---- enqueueing -----------------------------------------------------------------------

    /// Appends an operation (merging it into the tail when allowed and safe); returns its
    /// sequence number. The caller has checked the bound.
    pub(crate) fn push(
        &mut self,
        file: Option<FileId>,
        handle: Option<Arc<HandleCore>>,
        op: OpKind,
        coalesce: bool,
    ) -> Seq {
        self.last_seq += 1;
        let seq = self.last_seq;
        self.stats.n_requested += 1;
        if coalesce && self.try_merge(seq, handle.as_ref(), &op) {
            self.stats.n_merged += 1;
            self.note_peaks();
            return seq;
        }
        self.queued_bytes += op.bytes();
        if op.counted() {
            self.counted_ops += 1;
        }
        if let Some(state) = file.and_then(|f| self.files.get_mut(&f)) {
            state.n_queued += 1;
        }
        self.queue.push_back(Entry { first: seq, last: seq, file, handle, op });
        self.note_peaks();
        seq
    }

    fn note_peaks(&mut self) {
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.queued_bytes);
        self.stats.peak_ops = self.stats.peak_ops.max(self.counted_ops);
    }

    /// Merges `op` into the tail entry when nothing lies between them, the writer has not
    /// taken the tail, and the result is the same bytes in the same order: a write touching or
    /// overlapping the tail write of the same handle, or a sync after a sync of the same
    /// handle.
    fn try_merge(&mut self, seq: Seq, handle: Option<&Arc<HandleCore>>, op: &OpKind) -> bool {
        if self.queue.len() <= self.in_flight {
            return false;
        }
        let Some(tail) = self.queue.back_mut() else { return false };
        let same_handle = match (&tail.handle, handle) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if !same_handle {
            return false;
        }
        match (&mut tail.op, op) {
            (OpKind::Sync { flags }, OpKind::Sync { flags: more }) => {
                flags.full |= more.full;
                flags.data_only &= more.data_only;
            }
            (OpKind::Write { offset, data }, OpKind::Write { offset: o2, data: d2 }) => {
                let (start1, end1) = (*offset, *offset + data.len() as u64);
                let (start2, end2) = (*o2, *o2 + d2.len() as u64);
                if start2 > end1 || end2 < start1 {
                    return false;
                }
                let (start, end) = (start1.min(start2), end1.max(end2));
                if end - start > MAX_MERGED_WRITE as u64 {
                    return false;
                }
                let Some(buf) = Arc::get_mut(data) else { return false };
                let before = buf.len();
                if start2 < start1 {
                    // Rare: the new write starts earlier; rebuild.
                    let mut merged = vec![0; (end - start) as usize];
                    merged[(start1 - start) as usize..(end1 - start) as usize].copy_from_slice(buf);
                    *buf = merged;
                    *offset = start;
                } else if end2 > end1 {
                    buf.resize((end - start) as usize, 0);
                }
                let at = (start2 - start) as usize;
                buf[at..at + d2.len()].copy_from_slice(d2);
                self.queued_bytes += buf.len() - before;
            }
            _ => return false,
        }
        tail.last = seq;
        true
    }

    // ---- the writer's side ----------------------------------------------------------------

    /// Retires the first `n_ok` entries (performed without error); then, if `failed` is set,
    /// the next entry failed: it and every operation behind it that changes the disk are
    /// dropped, and the handles poisoned. Closes and unlocks behind it stay queued and happen in
    /// order: they change no data, and holding a lock or a file forever would be worse (another
    /// connection finds a hot journal and recovers as after a crash).
    pub(crate) fn retire(&mut self, n_ok: usize, failed: Option<folio_vfs::Error>) {
        self.in_flight = 0;
        for _ in 0..n_ok {
            let entry = self.queue.pop_front().expect("retiring a performed entry");
            self.stats.n_performed += 1;
            self.settle(&entry);
            self.unqueue(&entry);
        }
        let Some(error) = failed else {
            self.update_done_seq();
            return;
        };
        let failed = self.queue.pop_front().expect("retiring the failed entry");
        let behind: Vec<Entry> = self.queue.drain(..).collect();
        let error = Sticky::new(error);
        // Poison first, while every file the entries name is still known.
        let mut files: HashSet<FileId> = failed.file.into_iter().collect();
        // A delete of a name whose file the queue never opened has no incarnation to poison:
        // its path reports the error instead.
        let mut names = Vec::new();
        if let (None, OpKind::Delete { canonical, .. }) = (failed.file, &failed.op) {
            names.push(canonical.clone());
        }
        for entry in &behind {
            if !entry.op.changes_disk() {
                continue;
            }
            self.stats.n_dropped += 1;
            match (entry.file, &entry.op) {
                (Some(file), _) => {
                    files.insert(file);
                }
                (None, OpKind::Delete { canonical, .. }) => names.push(canonical.clone()),
                (None, _) => {}
            }
        }
        self.poison_files(&files, &error);
        for name in names {
            self.unreported.insert(name, error.clone());
        }
        self.unqueue(&failed);
        for entry in behind {
            if entry.op.changes_disk() {
                self.unqueue(&entry);
            } else {
                self.queue.push_back(entry);
            }
        }
        self.update_done_seq();
        self.first_failure.get_or_insert(failed.first);
        self.failures.push_back(Failure { seq: failed.first, error, files });
        while self.failures.len() > MAX_FAILURES_KEPT {
            self.failures.pop_front();
        }
        for file in failed.file.into_iter() {
            self.maybe_forget(file);
        }
    }

    /// Everything before the first queued operation has left the queue.
    fn update_done_seq(&mut self) {
        self.done_seq = match self.queue.front() {
            Some(entry) => entry.first - 1,
            None => self.last_seq,
        };
    }

    /// Bookkeeping for an entry leaving the queue.
    fn unqueue(&mut self, entry: &Entry) {
        self.queued_bytes -= entry.op.bytes();
        if entry.op.counted() {
            self.counted_ops -= 1;
        }
        if let Some(file) = entry.file {
            if let Some(state) = self.files.get_mut(&file) {
                state.n_queued -= 1;
            }
            self.maybe_forget(file);
        }
    }

    /// Records a performed operation for the durability watermark (before [`Self::unqueue`]).
    pub(crate) fn settle(&mut self, entry: &Entry) {
        let Some(file) = entry.file else { return };
        match &entry.op {
            OpKind::Write { .. } | OpKind::Truncate { .. } => {
                if let Some(state) = self.files.get_mut(&file) {
                    state.unsynced.push(entry.first);
                    self.unsettled.insert(entry.first);
                }
            }
            OpKind::Sync { .. }
            | OpKind::Delete { .. }
            | OpKind::Close { delete_on_close: true } => {
                if let Some(state) = self.files.get_mut(&file) {
                    for seq in state.unsynced.drain(..) {
                        self.unsettled.remove(&seq);
                    }
                }
            }
            _ => {}
        }
    }

    /// An operation performed by its caller (the writer is gone): it gets a sequence number
    /// and is retired at once.
    pub(crate) fn record_inline(&mut self, file: Option<FileId>, op: OpKind) -> Seq {
        self.last_seq += 1;
        self.stats.n_requested += 1;
        self.stats.n_performed += 1;
        let entry = Entry { first: self.last_seq, last: self.last_seq, file, handle: None, op };
        self.settle(&entry);
        self.done_seq = self.last_seq;
        if let Some(file) = file {
            self.maybe_forget(file);
        }
        self.last_seq
    }

    /// Poisons every open handle, and hands the error to the next open of each file in `files`
    /// (those that lost an operation) that has no open handle.
    ///
    /// Every handle, not only those of the files that lost operations: the application may
    /// already have queued, or be about to queue, operations on another file that depend on
    /// the lost ones (a database write after a journal sync that was dropped), and in an
    /// asynchronous VFS it has not heard of the failure yet. The async crash suite found
    /// exactly that when only the affected files were poisoned.
    fn poison_files(&mut self, files: &HashSet<FileId>, error: &Sticky) {
        let mut with_handles = HashSet::new();
        for (file, poison, _) in self.handles.values_mut() {
            with_handles.insert(*file);
            poison.get_or_insert_with(|| error.clone());
        }
        for file in files.difference(&with_handles) {
            if let Some(state) = self.files.get(file) {
                self.unreported.insert(state.canonical.clone(), error.clone());
            }
        }
    }

    // ---- watermarks -----------------------------------------------------------------------

    /// The durability watermark (see the crate docs).
    pub(crate) fn durable_seq(&self) -> Seq {
        let mut durable = match self.queue.front() {
            Some(entry) => entry.first - 1,
            None => self.last_seq,
        };
        if let Some(&seq) = self.unsettled.first() {
            durable = durable.min(seq - 1);
        }
        if let Some(seq) = self.first_failure {
            durable = durable.min(seq - 1);
        }
        durable
    }

    /// The first failure at or before `seq`, if any: it makes `seq` never durable.
    pub(crate) fn failure_at_or_before(&self, seq: Seq) -> Option<Sticky> {
        match self.first_failure {
            Some(first) if first <= seq => Some(
                self.failures
                    .iter()
                    .find(|f| f.seq <= seq)
                    .map(|f| f.error.clone())
                    .unwrap_or_else(|| self.failures.front().expect("kept").error.clone()),
            ),
            _ => None,
        }
    }

    /// A failure with a sequence number in `after+1..=upto` (on `file`, if given).
    pub(crate) fn failure_between(
        &self,
        after: Seq,
        upto: Seq,
        file: Option<FileId>,
    ) -> Option<Sticky> {
        self.failures
            .iter()
            .find(|f| f.seq > after && f.seq <= upto && file.is_none_or(|id| f.files.contains(&id)))
            .map(|f| f.error.clone())
    }

    /// Starts a flush: it covers everything queued since the previous flush began (so a
    /// failure is reported by the first flush that covers it, even if it happened before the
    /// call). Returns (after, target).
    pub(crate) fn begin_flush(&mut self) -> (Seq, Seq) {
        let after = self.flush_seq;
        self.flush_seq = self.last_seq;
        (after, self.last_seq)
    }

    /// Starts a barrier on `file`: like [`Self::begin_flush`], for that file's operations.
    pub(crate) fn begin_barrier(&mut self, file: FileId) -> Option<(Seq, Seq)> {
        let target = self.queue.iter().rev().find(|e| e.file == Some(file)).map_or(0, |e| e.last);
        let state = self.files.get_mut(&file)?;
        let after = state.barrier_seq;
        state.barrier_seq = state.barrier_seq.max(target).max(self.done_seq);
        Some((after, target.max(after)))
    }

    // ---- read-through ---------------------------------------------------------------------

    /// What the queue says of the name `canonical`: `Some(false)` if its last queued name
    /// operation deletes it, `Some(true)` if it creates it, `None` if no name operation of it is
    /// queued (then the parent knows). Also the last such operation's sequence number.
    pub(crate) fn name_view(&self, canonical: &PathBuf) -> Option<(bool, Seq)> {
        self.queue.iter().rev().find_map(|e| match &e.op {
            OpKind::Delete { canonical: c, .. } if c == canonical => Some((false, e.last)),
            OpKind::Open { canonical: c, flags, .. } if c == canonical && flags.create => {
                Some((true, e.last))
            }
            OpKind::Close { delete_on_close: true } => {
                let core = e.handle.as_ref()?;
                (core.canonical == *canonical).then_some((false, e.last))
            }
            _ => None,
        })
    }

    /// Where reads of `file` start: empty while its creation is queued.
    pub(crate) fn base_is_empty(&self, file: FileId) -> bool {
        self.has_queued(file)
            && self
                .queue
                .iter()
                .any(|e| e.file == Some(file) && matches!(e.op, OpKind::Open { fresh: true, .. }))
    }

    /// The size of `file` with every queued write and truncate replayed over `base`.
    pub(crate) fn replay_size(&self, file: FileId, base: &Base) -> u64 {
        let mut size = match base {
            Base::Empty => 0,
            Base::Parent { size } => *size,
        };
        if !self.has_queued(file) {
            return size;
        }
        for entry in self.queue.iter().filter(|e| e.file == Some(file)) {
            match &entry.op {
                OpKind::Write { offset, data } => size = size.max(offset + data.len() as u64),
                OpKind::Truncate { size: to } => size = *to,
                _ => {}
            }
        }
        size
    }

    /// Overlays every queued write and truncate of `file`, in order, onto `buf` (which holds
    /// the base's bytes at `offset`, zero past the base's end) and applies short-read
    /// semantics at the effective end.
    ///
    /// Correct whatever prefix of the queue the parent has already applied, even partly: each
    /// queued write rewrites exactly its bytes, and each truncate zeroes what lies past it.
    pub(crate) fn overlay(
        &self,
        file: FileId,
        base: &Base,
        offset: u64,
        buf: &mut [u8],
    ) -> ReadOutcome {
        let mut size = match base {
            Base::Empty => {
                buf.fill(0);
                0
            }
            Base::Parent { size } => *size,
        };
        let end = offset + buf.len() as u64;
        if self.has_queued(file) {
            for entry in self.queue.iter().filter(|e| e.file == Some(file)) {
                match &entry.op {
                    OpKind::Write { offset: at, data } => {
                        let w_end = at + data.len() as u64;
                        let (lo, hi) = ((*at).max(offset), w_end.min(end));
                        if lo < hi {
                            buf[(lo - offset) as usize..(hi - offset) as usize]
                                .copy_from_slice(&data[(lo - at) as usize..(hi - at) as usize]);
                        }
                        size = size.max(w_end);
                    }
                    OpKind::Truncate { size: to } => {
                        size = *to;
                        if *to < end {
                            buf[to.saturating_sub(offset) as usize..].fill(0);
                        }
                    }
                    _ => {}
                }
            }
        }
        let n_read = size.saturating_sub(offset).min(buf.len() as u64) as usize;
        buf[n_read..].fill(0);
        if n_read == buf.len() {
            ReadOutcome::Full
        } else {
            ReadOutcome::Short { n_read }
        }
    }
}

#[cfg(test)]
mod tests;
