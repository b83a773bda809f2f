//! folio-asyncio: the asynchronous write-queue VFS, after SQLite's `sqlite3async` module
//! (<https://sqlite.org/asyncvfs.html>), bounded and with a durability watermark.
//!
//! [`AsyncVfs`] wraps any [`folio_vfs::Vfs`]. Writes, truncates, syncs, deletes, closes and
//! unlocks return at once: they go into one FIFO queue that one owned background thread (the
//! *writer*) performs on the parent VFS, in order. Everything that looks at a file sees the
//! queue: a read overlays every queued write and truncate of the file in order (short-read
//! semantics past the effective end), `size` replays them, and `access`/`open`/`delete` see
//! queued deletes and creations. Durability is given up; atomicity, consistency and isolation
//! are kept, because the parent sees exactly the operations the caller issued, in the order
//! issued (merged writes aside, see below).
//!
//! ```
//! use folio_asyncio::{AsyncVfs, HaltMode, Options};
//! use folio_vfs::memory::MemoryVfs;
//! use folio_vfs::{FileKind, OpenFlags, SyncFlags, Vfs};
//! use std::path::Path;
//! use std::sync::Arc;
//!
//! let disk = MemoryVfs::new();
//! let vfs = AsyncVfs::new(Arc::new(disk.clone()), Options::default());
//! vfs.set_halt(HaltMode::Now); // hold the queue, to show that reads see it
//! let db = vfs.open(Some(Path::new("/a.db")), OpenFlags::create(FileKind::MainDb))?;
//! db.write_at(0, b"hello")?;
//! db.sync(SyncFlags::FULL)?;
//! let mut buf = [0; 5];
//! db.read_at(0, &mut buf)?;
//! assert_eq!(&buf, b"hello"); // from the queue: the disk has nothing yet
//! assert_eq!(db.size()?, 5);
//! let sync_seq = vfs.stats().queued_seq;
//! assert!(vfs.durable_seq() < sync_seq);
//!
//! vfs.set_halt(HaltMode::Never);
//! vfs.wait_durable(sync_seq)?; // the write and the sync after it are done
//! let on_disk = disk.open(Some(Path::new("/a.db")), OpenFlags::read_only(FileKind::MainDb))?;
//! let mut buf = [0; 5];
//! on_disk.read_at(0, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! drop(db);
//! vfs.shutdown(); // drains the queue and joins the writer (Drop does the same)
//! # Ok::<(), folio_vfs::Error>(())
//! ```
//!
//! # Guarantees
//! * **Names.** Opening, deleting or checking a name sees the queue: a queued delete makes it
//!   absent, a queued creation present. A journal or temporary file opened while a delete or
//!   creation of its name is queued is opened by the writer in order (SQLite's OPENEXCLUSIVE
//!   trick), and reads of it start from an empty file; a main database waits for those queued
//!   name operations instead, since its locks need the real file at once.
//! * **Order.** The writer performs queued operations in sequence-number order, one at a time.
//!   It takes them in batches (up to [`Options::max_batch`], ending after the first sync) and
//!   retires each batch under one acquisition of the queue.
//!   A write may be merged into the write queued just before it (the tail of the whole queue,
//!   not yet taken by the writer) when both are to the same handle and their ranges touch or
//!   overlap: nothing was queued between them, so the parent sees the same bytes in the same
//!   order relative to every other operation, with one `write_at` instead of two. Two syncs of
//!   one file with nothing between them merge likewise.
//! * **Bound.** At most [`Options::max_queued_bytes`] bytes of write data and
//!   [`Options::max_queued_ops`] operations are queued; a caller that would exceed either waits
//!   for the writer or, with [`WhenFull::Busy`], gets [`Error::Busy`]. Two exceptions keep the
//!   bound honest rather than deadlocking: a single write larger than the byte cap is queued
//!   only when the queue is empty (so queued bytes never exceed the larger of the cap and the
//!   largest single write), and closes and unlocks never wait (a `Drop` cannot, and an unlock
//!   is queued only when it lowers the handle's level, so there are at most as many as lock
//!   raises). [`AsyncVfs::stats`] records the peaks.
//! * **Durability watermark.** Every queued operation gets a sequence number ([`Seq`], from
//!   1). An operation is *durable* when it has been performed without error and:
//!   a write or truncate, when a sync of the same file queued after it has completed without
//!   error, or when the file has since been deleted (by a delete or a delete-on-close close);
//!   any other operation, when it has been performed. [`AsyncVfs::durable_seq`] is the highest
//!   `S` such that every operation with a sequence number up to `S` is durable: everything at or
//!   before it survives a power loss, as far as the parent's syncs promise (a delete asked
//!   without `sync_dir` counts once performed, though its name may come back after a power
//!   loss until its directory is synced: the bet SQLite's `synchronous=FULL` makes). An
//!   operation that failed, or was dropped behind a failure, is never durable, so the
//!   watermark stops below the first failure for the life of the `AsyncVfs`.
//!   [`AsyncVfs::wait_durable`] waits for a point, [`AsyncVfs::flush`] for everything queued,
//!   [`AsyncVfs::barrier`] for everything queued on one file.
//! * **Locks** (as SQLite's module): a lock is taken at once on the handle's own parent file,
//!   so other connections and processes are excluded immediately; an unlock lowers the level
//!   this handle reports at once, but is queued, so the parent's lock is released only after
//!   every operation queued before it (the transaction it ends) has been performed. Readers in
//!   this process see the queue anyway; other processes see the lock until the data is there.
//!   Only a handle's last queued unlock acts (SQLite's rule), and it lowers the parent no
//!   further than the level the handle reports by then: an earlier one would release the lock
//!   of a later transaction whose writes are still queued. The parent's level is therefore
//!   never below the reported one, and may be above it (a handle that relocks RESERVED before
//!   its unlock ran keeps EXCLUSIVE on the parent until its next unlock: SQLite has no step
//!   from EXCLUSIVE down to RESERVED).
//!   [`Options::lock_files`] `= false` arbitrates locks only between handles of this
//!   `AsyncVfs` (SQLite's `LOCKFILES=0`): **unsafe when any other connection or process uses
//!   the same files.** `check_reserved_lock` asks the parent (whose level is never below the
//!   reported one), or the in-process table without lock files.
//! * **Errors.** An error in the writer is never lost. When an operation fails, every
//!   operation queued behind it, on any file, is dropped (but see closes and unlocks below): a
//!   queued journal delete must not commit a transaction whose database write failed. Then
//!   *every* open handle is poisoned, not only those of the files that lost operations: every
//!   call on it returns the error (naming the background operation, its path and offset) until
//!   the handle is dropped and the file reopened. Other files are affected on purpose: the
//!   application learns of the failure late, and may already be writing another file on the
//!   strength of the lost operations (a database page after a journal sync that was dropped);
//!   the crash suite caught exactly that with per-file poisoning. A file that lost operations
//!   with no handle open, or whose poisoned handle was dropped before any call reported the
//!   error, reports it once at the next `open` or `delete` of its name; and every `delete`
//!   fails while some poisoned handle has not reported the error yet (deleting a journal
//!   commits, and the transaction may be the one that lost operations: the crash suite caught
//!   that too). Handles opened after the failure work normally. Closes and unlocks queued behind a failure still happen: they
//!   change no data, and another connection that then locks the file finds the database as
//!   after a crash (a hot journal, if the failure left one), which SQLite's recovery handles.
//! * **Threads.** Exactly one writer thread per `AsyncVfs`, started by [`AsyncVfs::new`];
//!   [`AsyncVfs::shutdown`] and `Drop` drain the queue (whatever the halt mode) and join it.
//!   Files that outlive their `AsyncVfs` keep working, synchronously on the parent.
//! * **No shared memory, no mmap**: like SQLite's module (io_methods version 1), `shm_map`
//!   reports [`Error::Unsupported`] and `fetch` returns `None`, so SQLite's WAL mode works only
//!   with `locking_mode=EXCLUSIVE` (heap wal-index). Passing shm through would let the
//!   wal-index run ahead of the queued WAL frames other processes read from disk.
//!
//! Lock order: a handle's lock state, then the queue state, then the parent VFS's own locks.
//! Reads, sizes and existence checks call the parent while holding the queue state (so the
//! writer cannot retire an operation between the parent read and the overlay); the writer
//! never holds the queue state while it calls the parent.
//!
//! Depends on `folio-vfs` only; knows nothing of pages, journals or the pager.

#![forbid(unsafe_code)]

mod file;
mod handle;
mod queue;
mod shared;
mod sticky;
mod vfs;
mod writer;

pub use vfs::AsyncVfs;

pub use folio_vfs::Error;
use std::time::Duration;

/// A sequence number: the position of an operation in the queue's total order, from 1.
/// 0 means "nothing".
pub type Seq = u64;

/// What a caller gets when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait until the writer has made room (the default).
    Wait,
    /// Fail at once with [`Error::Busy`].
    Busy,
}

/// When the writer stops taking operations (SQLite's `SQLITEASYNC_HALT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltMode {
    /// Never: drain the queue as long as the `AsyncVfs` lives (the default).
    Never,
    /// Now: finish the operation in progress, then take no more until the mode changes. Queued
    /// operations stay queued (and visible to reads).
    Now,
    /// When idle: drain the queue; once it is empty, stop as [`HaltMode::Now`] does.
    WhenIdle,
}

/// How an [`AsyncVfs`] behaves. `Options::default()` is the safe configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Cap on the bytes of write data queued (default 16 MiB).
    pub max_queued_bytes: usize,
    /// Cap on the operations queued, closes and unlocks aside (default 4096).
    pub max_queued_ops: usize,
    /// Wait or fail when a cap is reached.
    pub when_full: WhenFull,
    /// Take real locks on the parent (default). `false` is SQLite's `LOCKFILES=0`: locks are
    /// arbitrated only between handles of this `AsyncVfs`, which is unsafe when any other
    /// connection or process uses the same files.
    pub lock_files: bool,
    /// Merge a write into the queued write before it when that is safe (default on).
    pub coalesce: bool,
    /// Most operations the writer takes per acquisition of the queue (default 64).
    pub max_batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_queued_bytes: 16 << 20,
            max_queued_ops: 4096,
            when_full: WhenFull::Wait,
            lock_files: true,
            coalesce: true,
            max_batch: 64,
        }
    }
}

/// A snapshot of the queue's counters ([`AsyncVfs::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations queued now (closes and unlocks included).
    pub queued_ops: usize,
    /// Bytes of write data queued now.
    pub queued_bytes: usize,
    /// The most operations ever queued at once, closes and unlocks aside (what the cap bounds).
    pub peak_ops: usize,
    /// The most bytes of write data ever queued at once.
    pub peak_bytes: usize,
    /// Times a caller waited because the queue was full.
    pub n_waits: u64,
    /// Times a caller got [`Error::Busy`] because the queue was full.
    pub n_busy: u64,
    /// Operations requested (each gets a sequence number).
    pub n_requested: u64,
    /// Requests merged into the queued operation before them.
    pub n_merged: u64,
    /// Operations the writer performed on the parent.
    pub n_performed: u64,
    /// Times the writer took a batch of operations.
    pub n_batches: u64,
    /// Operations dropped because an operation before them failed.
    pub n_dropped: u64,
    /// The last sequence number handed out.
    pub queued_seq: Seq,
    /// Every operation up to here has left the queue (performed, failed or dropped).
    pub done_seq: Seq,
    /// The durability watermark ([`AsyncVfs::durable_seq`]).
    pub durable_seq: Seq,
}

/// The test-only artificial delay's upper bound: a slow disk, not a hung one.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
