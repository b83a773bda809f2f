//! [`Wal`]: one connection's use of a WAL database's log and wal-index: read transactions
//! (snapshot, read mark, retry), write transactions (WRITE lock, restart, frames, commit with
//! SQLite's syncs and padding), rollback of uncommitted frames, recovery of the wal-index under
//! the recover lock, and the connection's end (with the last connection's cleanup).
//! Write transactions are in `conn/write.rs`, checkpoints in `conn/checkpoint.rs`.
//!
//! The protocols follow SQLite's `wal.c` step by step (<https://sqlite.org/walformat.html>); each
//! function names the SQLite function it follows. Shared memory is touched only through
//! [`folio_vfs::ShmRegion`]'s atomic accessors and the functions of [`crate::index`].
//!
//! Lock slots (`xShmLock`): 0 WRITE, 1 CKPT, 2 RECOVER, 3.. READ(0..4). With a heap-memory index
//! (`locking_mode=EXCLUSIVE`) and while closing as the last connection, no slot is locked: the
//! database lock keeps everyone else out (SQLite's `exclusiveMode`).
//!
//! A read-only `-shm` (the VFS maps it read-only: `OpenFlags::readonly_shm`, or read-write
//! refused) follows SQLite's `WAL_SHM_RDONLY` paths: the wal-index is read, never written — no
//! read mark is claimed (an existing one is used, or READ_LOCK(0)), no recovery
//! (`Error::ReadOnly`, SQLite's `SQLITE_READONLY_RECOVERY`), no write transaction, no
//! checkpoint. When nobody live has initialised that `-shm` (the VFS says
//! `is_shm_cant_init`) its contents cannot be trusted: as SQLite's `walBeginShmUnreliable`,
//! each read transaction takes READ_LOCK(0) shared (no checkpoint can copy or restart the log
//! under it), asks the VFS again, and reads the log through a private heap index built from
//! the `-wal` under that lock (kept while the log's salts stay and no commit follows it).

mod checkpoint;
mod write;

pub use checkpoint::{Checkpoint, CheckpointMode};

use crate::format::{self, WalHeader, FRAME_HEADER_LEN, WAL_VERSION};
use crate::index::{self, HeaderCopy, IndexHeader, READMARK_NOT_USED};
use crate::{Corruption, Error, Misuse, ReadOnlyRefusal, Result};
use folio_vfs::{DeviceCharacteristics, FileKind, OpenFlags, ShmLockKind, ShmRegion, Vfs, VfsFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Lock slot of the writer (`WAL_WRITE_LOCK`).
pub const WRITE_LOCK: usize = 0;
/// Lock slot of the checkpointer (`WAL_CKPT_LOCK`).
pub const CKPT_LOCK: usize = 1;
/// Lock slot of a recovery (`WAL_RECOVER_LOCK`).
pub const RECOVER_LOCK: usize = 2;
/// Number of read marks and read locks (`WAL_NREADER`).
pub const N_READERS: usize = index::N_READ_MARKS;

/// Lock slot of read lock `i` (`WAL_READ_LOCK(i)`).
pub const fn read_lock_slot(i: usize) -> usize {
    3 + i
}

/// Attempts a read transaction makes before giving up with [`Error::Protocol`].
const MAX_READ_ATTEMPTS: u32 = 100;

/// Bytes of consecutive new frames gathered before one write to the log.
const FRAME_WRITE_BYTES: usize = 1 << 20;
/// The frame buffer a connection keeps between commits, at most (bigger ones are freed).
const KEPT_FRAME_BUF_BYTES: usize = 128 << 10;

/// `<db>-wal`.
pub fn wal_path(db: &Path) -> PathBuf {
    folio_vfs::format::Sidecar::Wal.path_of(db)
}

/// How hard the log is synced (`PRAGMA synchronous` as the WAL sees it; EXTRA is FULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum WalSync {
    /// Never sync.
    Off,
    /// Sync the log only before a checkpoint (and a new header after a restart), the
    /// database only after a complete checkpoint. A power loss may lose the last commits.
    Normal,
    /// NORMAL plus a sync of the log at every commit (padded to a sector boundary on devices
    /// without powersafe overwrite).
    #[default]
    Full,
}

/// How a [`Wal`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Never write the log or the database (reads, and recovery of the wal-index, only).
    pub read_only: bool,
    /// Keep the wal-index in private heap memory with no `-shm` file and take no shm locks
    /// (`locking_mode=EXCLUSIVE`): the caller must hold an EXCLUSIVE lock on the database for
    /// the connection's life.
    pub heap_index: bool,
    /// Sync level.
    pub sync: WalSync,
    /// `journal_size_limit`: at the first commit after a restart, the log is truncated to this
    /// many bytes (or the end of the log if longer); also on a persistent close. -1: never.
    pub journal_size_limit: i64,
    /// With `false`, never assume powersafe overwrite whatever the VFS says: commits at FULL
    /// are padded out to a sector (SQLite's `padToSectorBoundary`). `true` takes the VFS's word.
    pub powersafe_overwrite: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            read_only: false,
            heap_index: false,
            sync: WalSync::Full,
            journal_size_limit: -1,
            powersafe_overwrite: true,
        }
    }
}

/// One connection's WAL: the log file and its view of the wal-index.
pub struct Wal {
    vfs: Arc<dyn Vfs>,
    db: Arc<dyn VfsFile>,
    file: Box<dyn VfsFile>,
    path: PathBuf,
    opts: WalOptions,
    /// Mapped wal-index regions, 0.. contiguous.
    regions: Vec<ShmRegion>,
    /// The snapshot (`pWal->hdr`); inside a write transaction, advanced past frames this
    /// transaction wrote.
    hdr: IndexHeader,
    /// The read lock held (`readLock`), if any.
    read_lock: Option<usize>,
    /// First frame a reader may use (`minFrame`).
    min_frame: u32,
    write_lock: bool,
    ckpt_lock: bool,
    /// No shm locks are taken (heap index, or closing as the last connection).
    exclusive: bool,
    /// The `-shm` is mapped read-only (SQLite's `WAL_SHM_RDONLY`): never written.
    shm_read_only: bool,
    /// The read-only `-shm` is not kept by anyone live (SQLite's `bShmUnreliable`): `regions`
    /// is a private heap index of the log, checked (and rebuilt if stale) at each read
    /// transaction.
    shm_unreliable: bool,
    /// `nCkpt`: the checkpoint sequence number this connection writes into a new log header.
    checkpoint_seq: u32,
    /// `truncateOnCommit`: the first commit after a (re)start applies `journal_size_limit`.
    truncate_on_commit: bool,
    /// `iReCksum`: the first frame of this transaction overwritten in place, whose checksums
    /// are recomputed at commit (0: none).
    recksum_from: u32,
    /// Frames encoded for one write, kept between commits so a commit allocates nothing.
    frame_buf: Vec<u8>,
    /// Whether a checkpoint re-checks the live header after READ_LOCK(0) (SQLite 3.51.3's fix
    /// of the WAL-reset race). Only the loom model's buggy variant turns it off.
    reset_race_check: bool,
    device: DeviceCharacteristics,
    sector_size: u32,
    closed: bool,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("path", &self.path)
            .field("max_frame", &self.hdr.max_frame)
            .field("read_lock", &self.read_lock)
            .field("write_lock", &self.write_lock)
            .finish_non_exhaustive()
    }
}

/// What one attempt at a read transaction decided (`WAL_RETRY` or done).
enum Attempt {
    Done,
    Retry,
}

impl Wal {
    /// Opens the log of the database `db` (`sqlite3WalOpen`): `<db>-wal` is created if it does
    /// not exist (a read-only connection creates it too when it can, as SQLite's does, else
    /// opens it read-only). Nothing is read and no shm lock is taken until the first
    /// transaction.
    pub fn open(vfs: Arc<dyn Vfs>, db: Arc<dyn VfsFile>, opts: WalOptions) -> Result<Wal> {
        let path = wal_path(db.path());
        let file = match vfs.open(Some(&path), OpenFlags::create(FileKind::Wal)) {
            Ok(file) => file,
            Err(_) if opts.read_only => {
                vfs.open(Some(&path), OpenFlags::read_only(FileKind::Wal))?
            }
            Err(e) => return Err(e.into()),
        };
        let mut device = file.device_characteristics();
        if !opts.powersafe_overwrite {
            device = device.without(DeviceCharacteristics::POWERSAFE_OVERWRITE);
        }
        let sector_size = folio_vfs::format::sector_size_in_use(file.sector_size());
        Ok(Wal {
            vfs,
            db,
            path: file.path().to_path_buf(),
            file,
            opts,
            regions: Vec::new(),
            hdr: IndexHeader::default(),
            read_lock: None,
            min_frame: 0,
            write_lock: false,
            ckpt_lock: false,
            exclusive: opts.heap_index,
            shm_read_only: false,
            shm_unreliable: false,
            checkpoint_seq: 0,
            truncate_on_commit: false,
            recksum_from: 0,
            frame_buf: Vec::new(),
            reset_race_check: true,
            device,
            sector_size,
            closed: false,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options in force.
    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    /// Changes the sync level.
    pub fn set_sync(&mut self, sync: WalSync) {
        self.opts.sync = sync;
    }

    /// Changes `journal_size_limit`.
    pub fn set_journal_size_limit(&mut self, limit: i64) {
        self.opts.journal_size_limit = limit;
    }

    /// The snapshot's last frame (`mxFrame`): frames in the log, backfilled ones included
    /// (what auto-checkpoint compares with its threshold).
    pub fn max_frame(&self) -> u32 {
        self.hdr.max_frame
    }

    /// The database size in pages in the snapshot (`sqlite3WalDbsize`); 0 when the log has
    /// never had a commit (then the database file's size counts).
    pub fn db_pages(&self) -> u32 {
        self.hdr.n_page
    }

    /// The page size of the snapshot's log (0 before its first commit).
    pub fn page_size(&self) -> u32 {
        self.hdr.page_size()
    }

    /// True inside a read transaction.
    pub fn in_read(&self) -> bool {
        self.read_lock.is_some()
    }

    /// True if the `-shm` turned out read-only when it was mapped: this connection reads the
    /// wal-index but never writes it (no recovery, no read-mark claims, no writes, no
    /// checkpoints).
    pub fn shm_read_only(&self) -> bool {
        self.shm_read_only || self.shm_unreliable
    }

    /// True while the read-only `-shm` is not kept by any live process, so this connection
    /// reads through a private index built from the log (SQLite's unreliable-shm path).
    pub fn shm_unreliable(&self) -> bool {
        self.shm_unreliable
    }

    /// True inside a write transaction.
    pub fn in_write(&self) -> bool {
        self.write_lock
    }

    /// The read lock held: 0 means the snapshot reads everything from the database file.
    pub fn read_lock(&self) -> Option<usize> {
        self.read_lock
    }

    #[doc(hidden)]
    /// Turns off the checkpointer's re-check of the live header (SQLite 3.51.3's fix of the
    /// WAL-reset race): only for the loom model that shows the race on the unfixed protocol.
    pub fn disable_reset_race_check_for_tests(&mut self) {
        self.reset_race_check = false;
    }

    // ----- shared memory and slot locks ------------------------------------------------------

    fn barrier(&self) {
        if !self.heap() {
            self.db.shm_barrier();
        }
    }

    /// True if `regions` is heap memory: a heap index, or the private copy of an unreliable
    /// read-only `-shm`.
    fn heap(&self) -> bool {
        self.opts.heap_index || self.shm_unreliable
    }

    /// Maps regions up to `region` (`walIndexPage`); false if the `-shm` is too small and
    /// `extend` is off, or it is read-only and too small. A read-only mapping marks the
    /// connection [`Wal::shm_read_only`]; a read-only `-shm` nobody live initialised is the
    /// VFS's error ([`folio_vfs::Error::is_shm_cant_init`]).
    fn map(&mut self, region: u32, extend: bool) -> Result<bool> {
        while self.regions.len() <= region as usize {
            let next = self.regions.len() as u32;
            let mapped = if self.heap() {
                extend.then(ShmRegion::heap)
            } else {
                match self.db.shm_map(next, extend) {
                    Ok(mapped) => {
                        if mapped.as_ref().is_some_and(ShmRegion::is_read_only) {
                            self.shm_read_only = true;
                        }
                        mapped
                    }
                    Err(folio_vfs::Error::ReadOnly { op: folio_vfs::Op::ShmMap, .. }) => {
                        self.shm_read_only = true;
                        None
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            match mapped {
                Some(r) => self.regions.push(r),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    fn region0(&self) -> &ShmRegion {
        &self.regions[0]
    }

    fn lock(&self, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        if self.exclusive {
            return Ok(());
        }
        self.db.shm_lock(slot, n, kind).map_err(Error::from)
    }

    fn unlock_shared(&self, slot: usize) {
        let _ = self.lock(slot, 1, ShmLockKind::UnlockShared);
    }

    fn unlock_exclusive(&self, slot: usize, n: usize) {
        let _ = self.lock(slot, n, ShmLockKind::UnlockExclusive);
    }

    /// Takes `n` slots exclusive, calling `busy` while they are busy and it says to retry
    /// (`walBusyLock`).
    fn busy_lock(
        &self,
        slot: usize,
        n: usize,
        busy: &mut Option<&mut dyn FnMut() -> bool>,
    ) -> Result<()> {
        loop {
            match self.lock(slot, n, ShmLockKind::Exclusive) {
                Err(e) if e.is_lock_busy() => {
                    let retry = match busy.as_mut() {
                        Some(handler) => handler(),
                        None => false,
                    };
                    if !retry {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    fn live_header(&self) -> IndexHeader {
        index::load_header_copy(self.region0(), HeaderCopy::First)
    }

    fn publish(&mut self) {
        self.hdr.version = WAL_VERSION;
        self.hdr = index::publish_header(&self.regions[0], self.hdr, &|| self.barrier());
    }

    // ----- read transactions -----------------------------------------------------------------

    /// Starts a read transaction (`sqlite3WalBeginReadTransaction`): a consistent snapshot of
    /// the wal-index header under a read lock whose mark promises checkpointers what this
    /// reader needs. Returns true if the snapshot differs from this connection's previous one
    /// (the caller drops its page cache). Busy errors are returned for the caller's busy
    /// handler; after 100 failed attempts, [`Error::Protocol`].
    pub fn begin_read(&mut self) -> Result<bool> {
        if self.read_lock.is_some() {
            return Err(self.misuse(Misuse::BeginReadInRead));
        }
        let changed = self.retry_begin_read(false)?;
        if self.hdr.max_frame > 0 && !format::valid_page_size(self.hdr.page_size()) {
            self.end_read();
            return Err(self.corrupt(Corruption::IndexPageSize { sz_page: self.hdr.sz_page }));
        }
        Ok(changed)
    }

    /// Ends the read transaction (releases the read lock).
    pub fn end_read(&mut self) {
        if let Some(i) = self.read_lock.take() {
            self.unlock_shared(read_lock_slot(i));
        }
    }

    /// Attempts a read transaction until one is not told to retry (`walTryBeginRead`'s callers'
    /// loop); returns whether the snapshot changed.
    fn retry_begin_read(&mut self, use_wal: bool) -> Result<bool> {
        let mut changed = false;
        let mut attempt = 0;
        loop {
            match self.try_begin_read(use_wal, attempt, &mut changed)? {
                Attempt::Done => return Ok(changed),
                Attempt::Retry => attempt += 1,
            }
        }
    }

    /// One attempt (`walTryBeginRead`). `use_wal` skips the header read and never takes
    /// READ_LOCK(0) (a writer re-acquiring its read lock after a restart).
    fn try_begin_read(
        &mut self,
        use_wal: bool,
        attempt: u32,
        changed: &mut bool,
    ) -> Result<Attempt> {
        if attempt > 5 {
            if attempt > MAX_READ_ATTEMPTS {
                return Err(Error::Protocol { path: self.path.clone(), attempts: attempt });
            }
            let micros =
                if attempt >= 10 { u64::from((attempt - 9) * (attempt - 9)) * 39 } else { 1 };
            self.vfs.sleep(Duration::from_micros(micros));
        }
        if !use_wal {
            if self.shm_unreliable {
                return self.begin_read_unreliable(changed);
            }
            match self.read_index_header() {
                Ok(c) => *changed |= c,
                Err(Error::Vfs(e)) if e.is_shm_cant_init() => {
                    // Nobody live keeps the read-only -shm: read through a private index.
                    self.regions.clear();
                    self.shm_read_only = true;
                    self.shm_unreliable = true;
                    return self.begin_read_unreliable(changed);
                }
                Err(e) if e.is_lock_busy() => {
                    // A writer or a recovery holds the WRITE lock while the header is unusable.
                    if self.regions.is_empty() {
                        return Ok(Attempt::Retry);
                    }
                    return match self.lock(RECOVER_LOCK, 1, ShmLockKind::Shared) {
                        Ok(()) => {
                            self.unlock_shared(RECOVER_LOCK);
                            Ok(Attempt::Retry)
                        }
                        Err(e) if e.is_lock_busy() => {
                            Err(Error::BusyRecovery { path: self.path.clone() })
                        }
                        Err(e) => Err(e),
                    };
                }
                Err(e) => return Err(e),
            }
        }
        let r0 = self.region0().clone();
        let mut read0_busy = false;
        if !use_wal && index::n_backfill(&r0) == self.hdr.max_frame {
            // Everything is in the database file: read it alone, unless a checkpointer holds
            // READ_LOCK(0) exclusive (then use a read mark like any reader).
            match self.lock(read_lock_slot(0), 1, ShmLockKind::Shared) {
                Ok(()) => {
                    self.barrier();
                    if self.live_header() != self.hdr {
                        self.unlock_shared(read_lock_slot(0));
                        return Ok(Attempt::Retry);
                    }
                    self.read_lock = Some(0);
                    self.min_frame = 0;
                    return Ok(Attempt::Done);
                }
                Err(e) if e.is_lock_busy() => read0_busy = true,
                Err(e) => return Err(e),
            }
        }
        // The largest mark not past our snapshot.
        let max_frame = self.hdr.max_frame;
        let (mut best_mark, mut best) = (0u32, 0usize);
        for i in 1..N_READERS {
            let mark = index::read_mark(&r0, i);
            if best_mark <= mark && mark <= max_frame {
                best_mark = mark;
                best = i;
            }
        }
        let mut claimed = false;
        // A read-only -shm: no mark is ever claimed (it would be a write).
        if !self.shm_read_only && (best_mark < max_frame || best == 0) {
            for i in 1..N_READERS {
                match self.lock(read_lock_slot(i), 1, ShmLockKind::Exclusive) {
                    Ok(()) => {
                        index::set_read_mark(&r0, i, max_frame);
                        best_mark = max_frame;
                        best = i;
                        // SQLite unlocks and takes the slot shared below; keeping it (one
                        // lock conversion) saves a call and leaves nobody a moment to move
                        // the mark. The checks below stay: the header may have moved on.
                        if let Err(e) = self.lock(read_lock_slot(i), 1, ShmLockKind::Downgrade) {
                            self.unlock_exclusive(read_lock_slot(i), 1);
                            return Err(e);
                        }
                        claimed = true;
                        break;
                    }
                    Err(e) if e.is_lock_busy() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if best == 0 {
            if self.shm_read_only && !read0_busy {
                // SQLite's SQLITE_READONLY_CANTINIT from walTryBeginRead.
                return Err(Error::ReadOnly {
                    path: self.path.clone(),
                    refused: ReadOnlyRefusal::NoReadMark,
                });
            }
            return Ok(Attempt::Retry);
        }
        if !claimed {
            match self.lock(read_lock_slot(best), 1, ShmLockKind::Shared) {
                Ok(()) => {}
                Err(e) if e.is_lock_busy() => return Ok(Attempt::Retry),
                Err(e) => return Err(e),
            }
        }
        self.min_frame = index::n_backfill(&r0) + 1;
        self.barrier();
        if index::read_mark(&r0, best) != best_mark || self.live_header() != self.hdr {
            self.unlock_shared(read_lock_slot(best));
            return Ok(Attempt::Retry);
        }
        self.read_lock = Some(best);
        Ok(Attempt::Done)
    }

    /// Reads the wal-index header into the snapshot (`walIndexReadHdr`), running recovery under
    /// the WRITE lock if it is unusable. Returns true if the snapshot changed.
    fn read_index_header(&mut self) -> Result<bool> {
        let mut changed = false;
        let extend = self.write_lock || self.opts.heap_index;
        let bad = if self.map(0, extend)? { self.try_header(&mut changed) } else { true };
        if bad && self.shm_read_only {
            // Recovery would write the -shm: SQLite's SQLITE_READONLY_RECOVERY, unless a
            // writer or a recovery holds WRITE (then busy, and the caller retries).
            self.lock(WRITE_LOCK, 1, ShmLockKind::Shared)?;
            self.unlock_shared(WRITE_LOCK);
            return Err(Error::ReadOnly {
                path: self.path.clone(),
                refused: ReadOnlyRefusal::Recover,
            });
        }
        if bad {
            let had_write = self.write_lock;
            if !had_write {
                self.lock(WRITE_LOCK, 1, ShmLockKind::Exclusive)?;
                self.write_lock = true;
            }
            let result = (|| -> Result<()> {
                self.map(0, true)?;
                if self.try_header(&mut changed) {
                    self.recover()?;
                    changed = true;
                }
                Ok(())
            })();
            if !had_write {
                self.write_lock = false;
                self.unlock_exclusive(WRITE_LOCK, 1);
            }
            result?;
        }
        if self.hdr.version != WAL_VERSION {
            return Err(self.corrupt(Corruption::IndexVersion { version: self.hdr.version }));
        }
        Ok(changed)
    }

    /// `walIndexTryHdr`: true if the header is unusable; else the snapshot takes it.
    fn try_header(&mut self, changed: &mut bool) -> bool {
        let read = index::read_header(self.region0(), &|| self.barrier());
        match read {
            Ok(h) => {
                if h != self.hdr {
                    *changed = true;
                    self.hdr = h;
                }
                false
            }
            Err(_) => true,
        }
    }

    /// A read transaction over a read-only `-shm` nobody live keeps (`walBeginShmUnreliable`):
    /// READ_LOCK(0) shared, so no checkpoint copies, restarts or truncates the log meanwhile;
    /// then, if the VFS still says nobody initialised the `-shm`, a private index of the log's
    /// committed frames, built from the `-wal` under that lock. As SQLite's heap copy it is
    /// kept between transactions while the log's salts are the same and no commit frame
    /// follows its last frame ([`Wal::private_index_current`]); otherwise rebuilt. Once a live
    /// process has initialised the `-shm`, the shared wal-index is used again (read-only).
    fn begin_read_unreliable(&mut self, changed: &mut bool) -> Result<Attempt> {
        match self.lock(read_lock_slot(0), 1, ShmLockKind::Shared) {
            Ok(()) => {}
            Err(e) if e.is_lock_busy() => return Ok(Attempt::Retry),
            Err(e) => return Err(e),
        }
        let result = (|| -> Result<Attempt> {
            match self.db.shm_map(0, false) {
                Err(e) if e.is_shm_cant_init() => {}
                // Someone live keeps the -shm now (or it failed): back to the shared index.
                other => {
                    self.regions.clear();
                    self.shm_unreliable = false;
                    *changed = true;
                    // A busy dead-man switch: someone is initialising the -shm right now.
                    return match other {
                        Ok(_) | Err(folio_vfs::Error::ReadOnly { .. }) => Ok(Attempt::Retry),
                        Err(e) if e.is_busy() => Ok(Attempt::Retry),
                        Err(e) => Err(e.into()),
                    };
                }
            }
            if !self.regions.is_empty() && self.private_index_current()? {
                // An empty log cannot tell whether the database file changed meanwhile (a
                // writer may have checkpointed and truncated it): SQLite drops the cache.
                if self.hdr.max_frame == 0 {
                    *changed = true;
                }
                return Ok(Attempt::Done);
            }
            let scan = crate::scan(&*self.file)?;
            let mut regions = vec![ShmRegion::heap()];
            for entry in &scan.frames {
                let region = index::region_of_frame(entry.frame_no) as usize;
                while regions.len() <= region {
                    regions.push(ShmRegion::heap());
                }
                index::append(&regions, entry.frame_no, entry.page_no, 0)?;
            }
            self.regions = regions;
            let hdr = IndexHeader::recovered(&scan);
            // An empty log says nothing about the database file, which a writer may have
            // changed (and checkpointed, and truncated the log) since: SQLite drops the cache.
            if hdr != self.hdr || hdr.max_frame == 0 {
                *changed = true;
            }
            self.hdr = hdr;
            self.checkpoint_seq = scan.header.map_or(0, |h| h.checkpoint_seq);
            Ok(Attempt::Done)
        })();
        match result {
            Ok(Attempt::Done) => {
                self.read_lock = Some(0);
                self.min_frame = 1;
                Ok(Attempt::Done)
            }
            other => {
                self.unlock_shared(read_lock_slot(0));
                other
            }
        }
    }

    /// True if the private index built from the log still describes it (the checks of
    /// `walBeginShmUnreliable`, under READ_LOCK(0)): a log shorter than its header only if the
    /// index holds no frame; the same salts in the log's header (no restart since); and no
    /// valid commit frame after the index's last frame (no commit since).
    fn private_index_current(&self) -> Result<bool> {
        let size = self.file.size()?;
        if size < format::WAL_HEADER_LEN as u64 {
            return Ok(self.hdr.max_frame == 0);
        }
        if self.hdr.max_frame == 0 {
            // Nothing committed when it was built: rebuilding costs no more than checking.
            return Ok(false);
        }
        let mut bytes = [0u8; format::WAL_HEADER_LEN];
        if self.file.read_at(0, &mut bytes)?.is_short() {
            return Ok(false);
        }
        let Ok(header) = WalHeader::decode(&bytes) else { return Ok(false) };
        if header.salt != self.hdr.salt || header.page_size != self.hdr.page_size() {
            return Ok(false);
        }
        let frame_len = format::frame_len(header.page_size);
        let mut frame = vec![0u8; frame_len as usize];
        let mut running = self.hdr.frame_checksum;
        let mut offset = format::frame_offset(self.hdr.max_frame + 1, header.page_size);
        while offset + frame_len <= size {
            if self.file.read_at(offset, &mut frame)?.is_short() {
                break;
            }
            match format::decode_frame(&frame, &header, running) {
                Ok(f) if f.header.commit_size != 0 => return Ok(false),
                Ok(f) => running = f.header.checksum,
                Err(_) => break,
            }
            offset += frame_len;
        }
        Ok(true)
    }

    // ----- reading pages ---------------------------------------------------------------------

    /// The newest frame of the snapshot carrying `page_no` (`sqlite3WalFindFrame`), or `None`
    /// if the page is read from the database file.
    pub fn find_frame(&mut self, page_no: u32) -> Result<Option<u32>> {
        let Some(lock) = self.read_lock else {
            return Err(self.misuse(Misuse::FindOutsideRead));
        };
        let max_frame = self.hdr.max_frame;
        // READ_LOCK(0) reads the database alone, except over an unreliable -shm, where it is
        // the lock that keeps the log (indexed privately) in place.
        if max_frame == 0 || (lock == 0 && !self.shm_unreliable) {
            return Ok(None);
        }
        if !self.map(index::region_of_frame(max_frame), self.write_lock || self.heap())? {
            return Err(Error::RegionMissing {
                region: index::region_of_frame(max_frame),
                mapped: self.regions.len(),
            });
        }
        let min_frame = self.min_frame.max(1);
        let found = index::find_frame(&self.regions, page_no, max_frame, min_frame)?;
        debug_assert!(
            found.is_none_or(|f| (min_frame..=max_frame).contains(&f)),
            "page {page_no}: the index gave frame {found:?}, outside the snapshot's \
             {min_frame}..={max_frame}"
        );
        Ok(found)
    }

    /// Reads the page image of frame `frame_no` into `buf` (one page).
    pub fn read_frame(&self, frame_no: u32, buf: &mut [u8]) -> Result<()> {
        let page_size = self.hdr.page_size();
        if buf.len() != page_size as usize {
            return Err(self.misuse(Misuse::ReadBuffer { len: buf.len(), page_size }));
        }
        let offset = format::frame_offset(frame_no, page_size) + FRAME_HEADER_LEN as u64;
        if let folio_vfs::ReadOutcome::Short { n_read } = self.file.read_at(offset, buf)? {
            let len = buf.len();
            let (first, last) = (frame_no, frame_no);
            return Err(self.corrupt(Corruption::FramesCutShort {
                first,
                last,
                offset,
                n_read,
                len,
            }));
        }
        Ok(())
    }

    // ----- recovery --------------------------------------------------------------------------

    /// Rebuilds the wal-index from the log (`walIndexRecover`). The caller holds the WRITE
    /// lock; recovery takes CKPT (unless held) and RECOVER exclusive.
    fn recover(&mut self) -> Result<()> {
        let (slot, n) = if self.ckpt_lock { (RECOVER_LOCK, 1) } else { (CKPT_LOCK, 2) };
        self.lock(slot, n, ShmLockKind::Exclusive)?;
        let result = self.recover_locked();
        self.unlock_exclusive(slot, n);
        result
    }

    fn recover_locked(&mut self) -> Result<()> {
        let scan = crate::scan(&*self.file)?;
        self.checkpoint_seq = scan.header.map_or(0, |h| h.checkpoint_seq);
        for entry in scan.frames.iter().chain(&scan.uncommitted) {
            self.map(index::region_of_frame(entry.frame_no), true)?;
            index::append(&self.regions, entry.frame_no, entry.page_no, 0)?;
        }
        self.map(0, true)?;
        self.hdr = IndexHeader::recovered(&scan);
        self.publish();
        let r0 = self.region0().clone();
        let max_frame = self.hdr.max_frame;
        index::set_n_backfill(&r0, 0);
        index::set_n_backfill_attempted(&r0, max_frame);
        index::set_read_mark(&r0, 0, 0);
        for i in 1..N_READERS {
            match self.lock(read_lock_slot(i), 1, ShmLockKind::Exclusive) {
                Ok(()) => {
                    let mark = if i == 1 && max_frame > 0 { max_frame } else { READMARK_NOT_USED };
                    index::set_read_mark(&r0, i, mark);
                    self.unlock_exclusive(read_lock_slot(i), 1);
                }
                Err(e) if e.is_lock_busy() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    // ----- closing ---------------------------------------------------------------------------

    /// Ends the connection's use of the log (`sqlite3WalClose`). With `last = true` the caller
    /// holds an EXCLUSIVE lock on the database — the proof that no other connection uses it —
    /// and the log is checkpointed (PASSIVE, no locks needed); if that succeeds the `-wal` and
    /// `-shm` are deleted, or with `persist` kept (the log truncated to 0 bytes when
    /// `journal_size_limit` ≥ 0). Returns whether the files were deleted.
    pub fn close(mut self, last: bool, persist: bool, page_size: u32) -> Result<bool> {
        self.end_write();
        self.end_read();
        let mut delete = false;
        let mut result = Ok(());
        if last && !self.opts.read_only && !self.shm_read_only() {
            self.exclusive = true;
            match self.checkpoint(CheckpointMode::Passive, page_size, None) {
                Ok(_) => {
                    if !persist {
                        delete = true;
                    } else if self.opts.journal_size_limit >= 0 {
                        result = self.file.truncate(0).map_err(Error::from);
                    }
                }
                Err(e) => result = Err(e),
            }
        }
        self.closed = true;
        let unmapped = if self.opts.heap_index {
            Ok(())
        } else {
            self.regions.clear();
            self.db.shm_unmap(delete).map_err(Error::from)
        };
        let path = self.path.clone();
        let vfs = Arc::clone(&self.vfs);
        drop(self);
        if delete {
            vfs.delete(&path, false)?;
        }
        result.and(unmapped).map(|()| delete)
    }

    fn misuse(&self, rule: Misuse) -> Error {
        Error::Misuse { path: self.path.clone(), rule }
    }

    /// An [`Error::Corrupt`] of the WAL file for `check`.
    fn corrupt(&self, check: Corruption) -> Error {
        Error::Corrupt { path: self.path.clone(), check }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        self.end_write();
        self.end_read();
        if !self.opts.heap_index {
            let _ = self.db.shm_unmap(false);
        }
    }
}
