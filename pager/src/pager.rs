//! [`Pager`]: one connection's view of a database file: opening, settings, read transactions
//! and page reads. Write transactions are in `pager/write.rs`, commit and rollback in
//! `pager/commit.rs`, hot-journal recovery in `pager/recover.rs`.
//!
//! States (SQLite's `eState`, simplified): *idle* (no transaction; in exclusive locking mode a
//! lock may still be held), *read* (SHARED held, a consistent snapshot), *write* (RESERVED or
//! more held, a journal being written).

mod busy;
mod commit;
mod recover;
mod wal;
mod write;

use crate::cache::{PageCache, Victim};
use crate::config::{self, JournalMode, LockingMode, PagerOptions, Synchronous};
use crate::error::{Action, Corruption, Error, Misuse, Result};
use crate::header::{self, DbHeader, HEADER_LEN};
use crate::page::PageRef;
use busy::BusyPolicy;
use folio_journal::format::lock_byte_page;
use folio_vfs::{
    DeviceCharacteristics, FileKind, LockLevel, OpenFlags, Vfs, VfsFile, MAX_MMAP_SIZE,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use write::WriteTxn;

/// The `SQLITE_VERSION_NUMBER` Folio writes at header offset 96 with each commit: the SQLite
/// release whose file format it writes.
pub const WRITER_VERSION: u32 = 3_046_000;

/// What a pager has done, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PagerStats {
    /// Pages found in the cache.
    pub cache_hits: u64,
    /// Pages read from the database file with a read call.
    pub disk_reads: u64,
    /// Pages handed out straight from the memory map.
    pub mmap_reads: u64,
    /// Dirty pages written to the database before commit because the cache was full.
    pub spills: u64,
    /// Journal syncs that made records durable (SQLite's `syncJournal`).
    pub journal_syncs: u64,
    /// Commits that changed the database.
    pub commits: u64,
    /// Rollbacks of this pager's own transactions that had to restore the database file.
    pub file_rollbacks: u64,
    /// Pages read from the write-ahead log.
    pub wal_reads: u64,
    /// Checkpoints run (by hand, auto-checkpoint or the hook).
    pub checkpoints: u64,
    /// Hot journals left by someone else and rolled back by this pager.
    pub hot_rollbacks: u64,
    /// Times the cache was dropped because another connection changed the database.
    pub cache_resets: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Idle,
    Read,
    Write,
}

/// A database file opened through a [`Vfs`]: its page cache and its transactions.
///
/// One `Pager` is one connection. Several pagers (in this process or others, Folio's or stock
/// sqlite3's) may share a database; the VFS's locks keep them apart exactly as SQLite's are.
/// The API speaks in page numbers (from 1) and page bytes; it knows nothing of b-trees, except
/// that the first 100 bytes of page 1 are the database header, which the pager maintains.
pub struct Pager {
    vfs: Arc<dyn Vfs>,
    db: Arc<dyn VfsFile>,
    path: PathBuf,
    journal_path: PathBuf,
    opts: PagerOptions,
    page_size: u32,
    reserved: u8,
    /// The journal's header size and alignment (SQLite's pager.c, `setSectorSize`).
    sector_size: u32,
    device: DeviceCharacteristics,
    cache: PageCache,
    state: State,
    /// Pages in the database image (the transaction's view).
    db_size: u32,
    /// Header bytes 24..40 when the current (or last) transaction began.
    file_version: Option<[u8; 16]>,
    /// The change counter when the current (or last) transaction began.
    counter: u32,
    /// A header write version above 2: readable, never writable.
    read_only_format: bool,
    write: Option<WriteTxn>,
    poisoned: Option<(Arc<Error>, Option<Arc<Error>>)>,
    busy: BusyPolicy,
    /// Held by every mapped [`PageRef`]: its count says how many are out.
    mapped_out: Arc<()>,
    /// The mmap cap in force (0: reads never use the map).
    mmap_limit: u64,
    stats: PagerStats,
    /// The write-ahead log, once the database is in WAL mode (`pager/wal.rs`).
    wal: Option<folio_wal::Wal>,
    /// The header read by the last transaction says WAL (bytes 18/19 = 2).
    wal_format: bool,
    /// Leaving WAL mode: the header still says WAL until the version-changing commit.
    leaving_wal: bool,
    /// Called after each WAL commit with the frames in the log; replaces auto-checkpoint.
    wal_hook: Option<wal::WalHook>,
    /// Opened with `journal_mode = WAL`: the first transaction switches the database.
    wal_requested: bool,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("path", &self.path)
            .field("state", &self.state)
            .field("page_size", &self.page_size)
            .field("db_size", &self.db_size)
            .field("lock", &self.db.lock_level())
            .finish_non_exhaustive()
    }
}

/// `<db>-journal`.
pub fn journal_path(db: &Path) -> PathBuf {
    folio_vfs::format::Sidecar::Journal.path_of(db)
}

impl Pager {
    /// Opens the database at `path` through `vfs`. Nothing is read and no lock is taken until
    /// the first transaction.
    pub fn open(vfs: Arc<dyn Vfs>, path: &Path, opts: PagerOptions) -> Result<Pager> {
        config::check_page_size(opts.page_size)?;
        let mut flags = if opts.read_only {
            OpenFlags::read_only(FileKind::MainDb)
        } else if opts.create {
            OpenFlags::create(FileKind::MainDb)
        } else {
            OpenFlags::read_write(FileKind::MainDb)
        };
        flags.no_follow = opts.no_follow;
        flags.readonly_shm = opts.readonly_shm;
        // As SQLite does (`xFullPathname`): a name that leads through symbolic links is replaced
        // by the file's own, so the journal and log sit beside the file every other
        // connection finds, whatever name it used. Other names are kept as given.
        let canonical = vfs.canonical_path(path)?;
        if canonical.via_symlink && opts.no_follow {
            let reason = folio_vfs::CantOpenReason::ThroughSymlink;
            return Err(Error::Vfs(folio_vfs::Error::cant_open(path, reason, None)));
        }
        let path = if canonical.via_symlink { &canonical.path } else { path };
        let db: Arc<dyn VfsFile> = Arc::from(vfs.open(Some(path), flags)?);
        let path = db.path().to_path_buf();
        db.set_chunk_size(opts.chunk_size);
        let mut device = db.device_characteristics();
        if !opts.powersafe_overwrite {
            device = device.without(DeviceCharacteristics::POWERSAFE_OVERWRITE);
        }
        let sector_size = if device.contains(DeviceCharacteristics::POWERSAFE_OVERWRITE) {
            512
        } else {
            folio_vfs::format::sector_size_in_use(db.sector_size())
        };
        let mut pager = Pager {
            journal_path: journal_path(&path),
            vfs,
            db,
            path,
            page_size: opts.page_size,
            reserved: opts.reserved_bytes,
            sector_size,
            device,
            cache: PageCache::new(config::cache_pages(opts.cache_size, opts.page_size)),
            state: State::Idle,
            db_size: 0,
            file_version: None,
            counter: 0,
            read_only_format: false,
            write: None,
            poisoned: None,
            busy: BusyPolicy::timeout(opts.busy_timeout),
            mapped_out: Arc::new(()),
            mmap_limit: 0,
            stats: PagerStats::default(),
            wal: None,
            wal_format: false,
            leaving_wal: false,
            wal_hook: None,
            wal_requested: false,
            opts,
        };
        pager.set_mmap_size(pager.opts.mmap_size)?;
        if pager.opts.journal_mode == JournalMode::Wal {
            // As `PRAGMA journal_mode=WAL` right after opening, done by the first transaction
            // (which may have to wait for locks); read-only: the header decides.
            pager.opts.journal_mode = JournalMode::Delete;
            pager.wal_requested = !pager.opts.read_only;
        }
        Ok(pager)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal's path (`<db>-journal`).
    pub fn journal_path(&self) -> &Path {
        &self.journal_path
    }

    /// The settings in force.
    pub fn options(&self) -> &PagerOptions {
        &self.opts
    }

    /// Bytes per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Bytes of each page the layer above may use (page size minus reserved bytes).
    pub fn usable_size(&self) -> u32 {
        self.page_size - u32::from(self.reserved)
    }

    /// Pages in the database as of the current transaction (or the last one).
    pub fn page_count(&self) -> u32 {
        self.db_size
    }

    /// The lock this pager holds on the database file.
    pub fn lock_level(&self) -> LockLevel {
        self.db.lock_level()
    }

    /// True inside a read or write transaction.
    pub fn in_transaction(&self) -> bool {
        self.state != State::Idle
    }

    /// True inside a write transaction.
    pub fn in_write_transaction(&self) -> bool {
        self.state == State::Write
    }

    /// Counters of what this pager did.
    pub fn stats(&self) -> PagerStats {
        self.stats
    }

    /// The page that holds SQLite's lock bytes in files over 1 GiB; never a content page.
    pub fn lock_byte_page(&self) -> u32 {
        lock_byte_page(self.page_size)
    }

    // ----- settings ---------------------------------------------------------------------------

    /// `PRAGMA cache_size`: positive = pages, negative = KiB.
    pub fn set_cache_size(&mut self, cache_size: i64) {
        self.opts.cache_size = cache_size;
        self.cache.set_capacity(config::cache_pages(cache_size, self.page_size));
    }

    /// `PRAGMA synchronous`.
    pub fn set_synchronous(&mut self, level: Synchronous) {
        self.opts.synchronous = level;
    }

    /// `PRAGMA journal_size_limit` (bytes; negative = no limit).
    pub fn set_journal_size_limit(&mut self, limit: i64) {
        self.opts.journal_size_limit = limit;
    }

    /// `SQLITE_FCNTL_CHUNK_SIZE`: the database file grows and shrinks in whole chunks of
    /// `bytes` from now on (0: exact sizes). See [`PagerOptions::chunk_size`].
    pub fn set_chunk_size(&mut self, bytes: u32) {
        self.opts.chunk_size = bytes;
        self.db.set_chunk_size(bytes);
    }

    /// `SQLITE_FCNTL_PERSIST_WAL`: whether the last connection's close keeps the `-wal` and
    /// `-shm`. See [`PagerOptions::persist_wal`].
    pub fn set_persist_wal(&mut self, persist: bool) {
        self.opts.persist_wal = persist;
    }

    /// `PRAGMA busy_timeout`: retry busy locks for up to `timeout` (SQLite's backoff).
    pub fn set_busy_timeout(&mut self, timeout: Duration) {
        self.opts.busy_timeout = timeout;
        self.busy = BusyPolicy::timeout(timeout);
    }

    /// Installs a busy handler (`sqlite3_busy_handler`): called with the number of earlier
    /// calls for this lock attempt; returning false gives up with a Busy error.
    pub fn set_busy_handler(&mut self, handler: impl FnMut(u32) -> bool + Send + 'static) {
        self.busy = BusyPolicy::Custom(Box::new(handler));
    }

    /// `PRAGMA mmap_size`: read up to `bytes` of the file through a memory map (clamped to
    /// [`MAX_MMAP_SIZE`]; 0 turns it off). Returns the cap in force (0 when the VFS cannot map).
    pub fn set_mmap_size(&mut self, bytes: u64) -> Result<u64> {
        let bytes = bytes.min(MAX_MMAP_SIZE);
        self.opts.mmap_size = bytes;
        self.mmap_limit = self.db.set_mmap_limit(bytes)?;
        if self.mmap_limit == 0 {
            self.db.unmap();
        }
        Ok(self.mmap_limit)
    }

    /// `PRAGMA locking_mode`. Going back to NORMAL releases a lock kept by EXCLUSIVE mode now if
    /// no transaction is open, else when the transaction ends.
    pub fn set_locking_mode(&mut self, mode: LockingMode) -> Result<()> {
        self.opts.locking_mode = mode;
        if mode == LockingMode::Normal && self.state == State::Idle {
            self.release_locks()?;
        }
        Ok(())
    }

    /// `PRAGMA journal_mode` (not inside a write transaction). Leaving TRUNCATE or PERSIST for a
    /// mode without a journal file deletes the journal, under RESERVED, as SQLite does (not in
    /// exclusive locking mode, where the journal stays).
    ///
    /// WAL: entering it writes header bytes 18/19 = 2 in a rollback-mode transaction (a new
    /// database gets its page 1), and the log opens at the next transaction; leaving it needs
    /// EXCLUSIVE (no other connection), checkpoints and deletes the log, then sets the bytes
    /// back to 1. Both only outside transactions.
    pub fn set_journal_mode(&mut self, mode: JournalMode) -> Result<()> {
        self.check_usable()?;
        if self.state == State::Write {
            return Err(self.misuse(Misuse::JournalModeInWrite));
        }
        if mode != JournalMode::Wal {
            self.wal_requested = false;
        }
        if mode == JournalMode::Wal || self.opts.journal_mode == JournalMode::Wal {
            if self.state == State::Idle {
                // Find out whether the database is in WAL mode now (opens the log if so).
                self.begin_read()?;
                self.end_read()?;
            }
            let in_wal = self.wal.is_some();
            if mode == JournalMode::Wal && in_wal {
                return Ok(());
            }
            if mode == JournalMode::Wal || in_wal {
                if self.state != State::Idle {
                    return Err(self.misuse(Misuse::WalSwitchInTransaction));
                }
                return if in_wal { self.leave_wal(mode) } else { self.enter_wal() };
            }
        }
        let old = self.opts.journal_mode;
        let leaves_file = matches!(old, JournalMode::Truncate | JournalMode::Persist)
            && matches!(mode, JournalMode::Delete | JournalMode::Off | JournalMode::Memory);
        if leaves_file && self.opts.locking_mode == LockingMode::Normal && !self.opts.read_only {
            self.delete_journal_under_reserved()?;
        }
        self.opts.journal_mode = mode;
        Ok(())
    }

    /// Sets the page size of a database that is still empty (0 bytes, no transaction open);
    /// an existing database keeps the page size in its header.
    pub fn set_page_size(&mut self, page_size: u32) -> Result<()> {
        config::check_page_size(page_size)?;
        self.require_empty(Action::ChangePageSize)?;
        self.opts.page_size = page_size;
        self.page_size = page_size;
        self.cache.clear();
        self.cache.set_capacity(config::cache_pages(self.opts.cache_size, page_size));
        Ok(())
    }

    /// Sets the bytes reserved at the end of each page of a database that is still empty.
    pub fn set_reserved_bytes(&mut self, reserved: u8) -> Result<()> {
        if self.page_size - u32::from(reserved) < header::MIN_USABLE_SIZE {
            return Err(Error::InvalidValue {
                setting: "reserved_bytes",
                value: reserved.to_string(),
                expected: "a value leaving at least 480 usable bytes per page",
            });
        }
        self.require_empty(Action::ChangeReservedBytes)?;
        self.opts.reserved_bytes = reserved;
        self.reserved = reserved;
        Ok(())
    }

    fn require_empty(&self, action: Action) -> Result<()> {
        if self.state != State::Idle || self.db.size()? != 0 {
            return Err(self.misuse(Misuse::NotEmpty(action)));
        }
        Ok(())
    }

    // ----- read transactions ------------------------------------------------------------------

    /// Starts a read transaction: takes SHARED (retrying busy locks per the busy handler),
    /// rolls back a hot journal if there is one, and drops the cache if another connection
    /// changed the database since this pager last looked.
    pub fn begin_read(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.state != State::Idle {
            return Ok(());
        }
        self.apply_wal_request()?;
        self.with_busy(|p| p.try_begin_read())?;
        self.state = State::Read;
        Ok(())
    }

    fn try_begin_read(&mut self) -> Result<()> {
        let had_lock = self.db.lock_level() >= LockLevel::Shared;
        self.db.lock(LockLevel::Shared)?;
        let result = self.start_snapshot();
        if result.is_err() && !had_lock {
            let _ = self.db.unlock(LockLevel::None);
        }
        result
    }

    fn start_snapshot(&mut self) -> Result<()> {
        if self.wal.is_none() {
            if self.db.lock_level() == LockLevel::Shared {
                self.handle_journal()?;
            }
            self.open_wal_if_present()?;
        }
        if self.wal.is_none() {
            self.load_header()?;
            if !self.wal_format || self.leaving_wal {
                return Ok(());
            }
            self.open_wal()?;
        }
        self.begin_wal_snapshot()
    }

    /// Reads the header under the lock: page size, reserved bytes, the database size, and
    /// whether someone else changed the file since this pager's cache was filled.
    fn load_header(&mut self) -> Result<()> {
        let file_size = self.db.size()?;
        if file_size == 0 {
            if self.file_version.is_some() {
                self.reset_cache();
            }
            self.set_empty_database();
            return Ok(());
        }
        let mut bytes = [0u8; HEADER_LEN];
        self.db.read_at(0, &mut bytes)?;
        let h = self.decode_header(&bytes)?;
        self.wal_format = h.is_wal();
        let version = header::file_version(&bytes);
        if version != self.file_version || h.page_size != self.page_size {
            self.reset_cache();
        }
        self.page_size = h.page_size;
        self.reserved = h.reserved_bytes;
        self.read_only_format = h.is_read_only_format();
        self.cache.set_capacity(config::cache_pages(self.opts.cache_size, self.page_size));
        let file_pages = file_size.div_ceil(u64::from(h.page_size));
        let pages = if h.size_is_valid() {
            if u64::from(h.db_size_pages) > file_pages {
                return Err(Error::Corrupt {
                    path: self.path.clone(),
                    check: Corruption::PageCountBeyondFile {
                        header_pages: h.db_size_pages,
                        file_pages,
                        file_size,
                    },
                });
            }
            u64::from(h.db_size_pages)
        } else {
            file_pages
        };
        self.db_size = u32::try_from(pages).map_err(|_| Error::Corrupt {
            path: self.path.clone(),
            check: Corruption::TooManyPages { pages },
        })?;
        debug_assert!(
            u64::from(self.db_size) <= file_pages,
            "{} pages read from a file of {file_pages} pages",
            self.db_size
        );
        self.file_version = version;
        self.counter = h.change_counter;
        Ok(())
    }

    /// The geometry of a database with nothing committed: the options' page size and reserve.
    fn set_empty_database(&mut self) {
        self.page_size = self.opts.page_size;
        self.reserved = self.opts.reserved_bytes;
        self.file_version = None;
        self.counter = 0;
        self.db_size = 0;
        self.read_only_format = false;
        self.cache.set_capacity(config::cache_pages(self.opts.cache_size, self.page_size));
    }

    fn decode_header(&self, bytes: &[u8]) -> Result<DbHeader> {
        DbHeader::decode(bytes)
            .map_err(|header| Error::NotADatabase { path: self.path.clone(), header })
    }

    fn reset_cache(&mut self) {
        if self.cache.len() > 0 {
            self.stats.cache_resets += 1;
        }
        self.cache.clear();
        self.db.unmap();
    }

    /// Ends a read transaction and, in NORMAL locking mode, releases the lock. Fails with a
    /// misuse error (and keeps the lock) while mapped pages are still held: their bytes are
    /// only stable under the lock.
    pub fn end_read(&mut self) -> Result<()> {
        match self.state {
            State::Idle => Ok(()),
            State::Write => Err(self.misuse(Misuse::EndReadInWrite)),
            State::Read => {
                self.check_no_mapped_pages(Action::EndRead)?;
                self.state = State::Idle;
                if let Some(wal) = self.wal.as_mut() {
                    wal.end_read();
                }
                if self.opts.locking_mode == LockingMode::Normal {
                    self.release_locks()?;
                }
                Ok(())
            }
        }
    }

    /// Releases the database lock at the end of a transaction: in WAL mode a connection keeps
    /// SHARED for as long as the log is open (its proof to others that it may use the log),
    /// and with a heap-memory wal-index it keeps EXCLUSIVE.
    fn release_locks(&mut self) -> Result<()> {
        let keep = match &self.wal {
            Some(wal) if wal.options().heap_index => LockLevel::Exclusive,
            Some(_) => LockLevel::Shared,
            None => LockLevel::None,
        };
        if self.db.lock_level() > keep {
            self.db.unlock(keep)?;
        }
        Ok(())
    }

    pub(crate) fn check_no_mapped_pages(&self, action: Action) -> Result<()> {
        let held = Arc::strong_count(&self.mapped_out) - 1;
        if held > 0 {
            return Err(self.misuse(Misuse::MappedPagesHeld { action, held }));
        }
        Ok(())
    }

    // ----- page reads -------------------------------------------------------------------------

    /// The page `page_no` (1-based) as of this transaction. Inside a read transaction, with
    /// `mmap_size > 0`, pages other than page 1 come straight from the map when they lie inside
    /// it; everything else comes from the cache or is read into it.
    pub fn get(&mut self, page_no: u32) -> Result<PageRef> {
        self.check_usable()?;
        if self.state == State::Idle {
            return Err(self.misuse(Misuse::ReadOutsideTransaction));
        }
        self.check_readable(page_no)?;
        if let Some(data) = self.cache.get(page_no) {
            self.stats.cache_hits += 1;
            return Ok(PageRef::cached(page_no, data));
        }
        let frame = self.wal_frame(page_no)?;
        if frame.is_none() && self.state == State::Read && self.mmap_limit > 0 && page_no != 1 {
            let offset = self.offset_of(page_no);
            if let Some(page) = self.db.fetch(offset, self.page_size as usize)? {
                self.stats.mmap_reads += 1;
                return Ok(PageRef::mapped(page_no, page, Arc::clone(&self.mapped_out)));
            }
        }
        let data = self.load_from(page_no, frame)?;
        if let Err(e) = self.make_room() {
            return Err(self.fail_write(e));
        }
        self.cache.insert(page_no, data, false);
        let data = self.cache.get(page_no).expect("just inserted");
        Ok(PageRef::cached(page_no, data))
    }

    fn check_readable(&self, page_no: u32) -> Result<()> {
        if page_no == 0 || page_no > self.db_size {
            return Err(
                self.misuse(Misuse::PageBeyondEnd { page: page_no, db_pages: self.db_size })
            );
        }
        if page_no == self.lock_byte_page() {
            let offset = self.offset_of(page_no);
            return Err(Error::Corrupt {
                path: self.path.clone(),
                check: Corruption::LockBytePage { page: page_no, offset },
            });
        }
        Ok(())
    }

    pub(crate) fn offset_of(&self, page_no: u32) -> u64 {
        u64::from(page_no - 1) * u64::from(self.page_size)
    }

    /// Reads a page from the log or the file (zeros past its end, or for a page this
    /// transaction truncated away and regrew).
    fn load(&mut self, page_no: u32) -> Result<Vec<u8>> {
        if self.write.as_ref().is_some_and(|w| w.is_fresh(page_no)) {
            return Ok(vec![0u8; self.page_size as usize]);
        }
        let frame = self.wal_frame(page_no)?;
        self.load_from(page_no, frame)
    }

    /// Reads a page from log frame `frame`, or from the file if `None`.
    fn load_from(&mut self, page_no: u32, frame: Option<u32>) -> Result<Vec<u8>> {
        let mut data = vec![0u8; self.page_size as usize];
        if self.write.as_ref().is_some_and(|w| w.is_fresh(page_no)) {
            return Ok(data);
        }
        self.stats.disk_reads += 1;
        match (frame, self.wal.as_ref()) {
            (Some(frame), Some(wal)) => {
                self.stats.wal_reads += 1;
                wal.read_frame(frame, &mut data)?;
            }
            _ => {
                self.db.read_at(self.offset_of(page_no), &mut data)?;
            }
        }
        Ok(data)
    }

    /// Makes room in the cache for one more page, spilling a dirty page if that is the only
    /// way (inside a write transaction); when nothing can go, the cache grows past its limit.
    fn make_room(&mut self) -> Result<()> {
        loop {
            let spill_allowed = self.write.as_ref().is_some_and(|w| !w.spill_blocked);
            match self.cache.victim(spill_allowed) {
                Victim::Room | Victim::None => return Ok(()),
                Victim::Spill(page_no) => self.spill(page_no)?,
            }
        }
    }

    // ----- helpers ----------------------------------------------------------------------------

    fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            Some((cause, rollback)) => Err(Error::Poisoned {
                path: self.path.clone(),
                cause: Arc::clone(cause),
                rollback: rollback.clone(),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn misuse(&self, rule: Misuse) -> Error {
        Error::Misuse { path: self.path.clone(), rule }
    }

    /// Runs `f`, retrying per the busy handler while it fails with Busy.
    fn with_busy<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T>) -> Result<T> {
        let mut attempts = 0;
        loop {
            match f(self) {
                Err(e) if e.is_busy() => {
                    if !self.busy.should_retry(&*self.vfs, attempts) {
                        return Err(e);
                    }
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    /// Ends the pager: rolls back an open write transaction and releases every lock.
    pub fn close(mut self) -> Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<()> {
        let rolled_back = if self.state == State::Write && self.poisoned.is_none() {
            self.rollback()
        } else {
            Ok(())
        };
        self.state = State::Idle;
        self.write = None;
        let closed = self.close_wal();
        let released = if self.db.lock_level() != LockLevel::None {
            self.db.unlock(LockLevel::None).map_err(Error::from)
        } else {
            Ok(())
        };
        rolled_back.and(closed).and(released)
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}
