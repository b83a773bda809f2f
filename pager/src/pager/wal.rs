//! WAL mode (<https://sqlite.org/wal.html>): the pager over a [`folio_wal::Wal`].
//!
//! * Opening: a database whose header says WAL (bytes 18/19 = 2), or whose `-wal` exists, is
//!   read through its log (SQLite's `pagerOpenWalIfPresent` and `lockBtree`); a `-wal` beside
//!   an empty database is deleted. The connection keeps SHARED on the database for as long as
//!   the log is open; with `locking_mode=EXCLUSIVE` at that moment it takes EXCLUSIVE and the
//!   wal-index lives in heap memory (no `-shm`).
//! * Reads: a read transaction is a WAL snapshot; a page comes from the newest frame of the
//!   snapshot that carries it, else from the database file (through the map when
//!   `mmap_size > 0`). A snapshot that differs from the last one drops the cache.
//! * Writes: no journal. Spills and commits append frames; the commit frame carries the
//!   database size. Page 1 is rewritten (counter + 1, size) when it changed or the size did.
//! * After a commit: the hook, or auto-checkpoint (PASSIVE once the log has
//!   `wal_autocheckpoint` frames).
//! * `journal_mode` switches: into WAL with a rollback-mode transaction that sets bytes 18/19
//!   to 2; out of WAL under EXCLUSIVE: checkpoint, delete the log, then a rollback-mode
//!   transaction setting them back to 1 (SQLite's `sqlite3PagerCloseWal`).
//! * Closing: the last connection (it gets EXCLUSIVE) checkpoints and deletes `-wal` and
//!   `-shm`.

use super::{Pager, State};
use crate::config::{JournalMode, LockingMode, Synchronous};
use crate::error::{Action, Corruption, Error, Misuse, Result};
use crate::header;
use folio_vfs::{AccessCheck, LockLevel};
use folio_wal::{Checkpoint, CheckpointMode, Wal, WalOptions, WalSync};
use std::sync::Arc;

/// A WAL hook: called after each commit in WAL mode with the number of frames in the log;
/// returning a mode runs that checkpoint.
pub(crate) type WalHook = Box<dyn FnMut(u32) -> Option<CheckpointMode> + Send>;

fn wal_sync(level: Synchronous) -> WalSync {
    match level {
        Synchronous::Off => WalSync::Off,
        Synchronous::Normal => WalSync::Normal,
        Synchronous::Full | Synchronous::Extra => WalSync::Full,
    }
}

impl Pager {
    /// True once the database is read through its write-ahead log.
    pub fn in_wal_mode(&self) -> bool {
        self.wal.is_some()
    }

    /// `PRAGMA wal_autocheckpoint`: checkpoint (PASSIVE) after a commit leaves at least
    /// `frames` frames in the log; 0 turns it off. Setting it removes a hook.
    pub fn set_wal_autocheckpoint(&mut self, frames: u32) {
        self.opts.wal_autocheckpoint = frames;
        self.wal_hook = None;
    }

    /// `sqlite3_wal_hook`: `hook` is called after each commit in WAL mode with the frames in
    /// the log and may ask for a checkpoint; it replaces auto-checkpoint (as in SQLite).
    pub fn set_wal_hook(
        &mut self,
        hook: impl FnMut(u32) -> Option<CheckpointMode> + Send + 'static,
    ) {
        self.wal_hook = Some(Box::new(hook));
    }

    /// `sqlite3_wal_checkpoint_v2` / `PRAGMA wal_checkpoint(mode)`, outside any transaction.
    /// FULL, RESTART and TRUNCATE wait through the busy handler; PASSIVE never waits. A
    /// database not in WAL mode returns a checkpoint with nothing in the log.
    pub fn checkpoint(&mut self, mode: CheckpointMode) -> Result<Checkpoint> {
        self.check_usable()?;
        if self.state != State::Idle {
            return Err(self.misuse(Misuse::CheckpointInTransaction));
        }
        if self.opts.read_only {
            return Err(self.read_only_error(Action::Checkpoint));
        }
        if self.wal.is_none() {
            // Find out whether the database is in WAL mode (opens the log if so).
            self.begin_read()?;
            self.end_read()?;
        }
        if self.wal.is_none() {
            return Ok(Checkpoint::default());
        }
        if self.db.lock_level() == LockLevel::None {
            self.db.lock(LockLevel::Shared)?;
        }
        let page_size = self.page_size;
        let vfs = Arc::clone(&self.vfs);
        let Pager { wal, busy, .. } = self;
        let wal = wal.as_mut().expect("checked above");
        let mut attempts = 0;
        let mut handler = || {
            let retry = busy.should_retry(&*vfs, attempts);
            attempts += 1;
            retry
        };
        let result = wal.checkpoint(mode, page_size, Some(&mut handler))?;
        self.stats.checkpoints += 1;
        Ok(result)
    }

    /// Switches to WAL mode if the pager was opened with `journal_mode = WAL` and has not yet.
    pub(crate) fn apply_wal_request(&mut self) -> Result<()> {
        if !self.wal_requested {
            return Ok(());
        }
        self.wal_requested = false;
        let result = self.set_journal_mode(JournalMode::Wal);
        if result.is_err() {
            self.wal_requested = true;
        }
        result
    }

    /// Opens the log if `-wal` exists beside a non-empty database; deletes a `-wal` beside an
    /// empty one (`pagerOpenWalIfPresent`).
    pub(crate) fn open_wal_if_present(&mut self) -> Result<()> {
        if self.leaving_wal {
            return Ok(());
        }
        let wal_path = folio_wal::wal_path(&self.path);
        if !self.vfs.access(&wal_path, AccessCheck::Exists)? {
            return Ok(());
        }
        if self.db.size()? == 0 {
            if !self.opts.read_only {
                self.vfs.delete(&wal_path, false)?;
            }
            return Ok(());
        }
        self.open_wal()
    }

    /// Opens the log (`pagerOpenWal`): with `locking_mode=EXCLUSIVE`, under an EXCLUSIVE
    /// database lock and with a heap-memory wal-index.
    pub(crate) fn open_wal(&mut self) -> Result<()> {
        let heap_index = self.opts.locking_mode == LockingMode::Exclusive;
        if heap_index {
            self.with_busy(|p| p.db.lock(LockLevel::Exclusive).map_err(Error::from))?;
        }
        let opts = WalOptions {
            read_only: self.opts.read_only,
            heap_index,
            sync: wal_sync(self.opts.synchronous),
            journal_size_limit: self.opts.journal_size_limit,
            powersafe_overwrite: self.opts.powersafe_overwrite,
        };
        let wal = Wal::open(Arc::clone(&self.vfs), Arc::clone(&self.db), opts)?;
        self.wal = Some(wal);
        self.opts.journal_mode = JournalMode::Wal;
        self.wal_format = true;
        Ok(())
    }

    /// Starts the WAL read transaction and reads the database's geometry through it.
    pub(crate) fn begin_wal_snapshot(&mut self) -> Result<()> {
        let wal = self.wal.as_mut().expect("WAL mode");
        if wal.in_read() {
            return Ok(());
        }
        let changed = wal.begin_read()?;
        let result = self.load_wal_header(changed);
        if result.is_err() {
            if let Some(wal) = self.wal.as_mut() {
                wal.end_read();
            }
        }
        result
    }

    fn load_wal_header(&mut self, changed: bool) -> Result<()> {
        if changed {
            self.reset_cache();
        } else if self.file_version.is_some() {
            // The snapshot this connection last read or committed: the header and size loaded
            // then still hold (SQLite, too, rereads them only when the snapshot changed). A
            // failed write transaction clears `file_version`, so it never skips a reload.
            return Ok(());
        }
        let wal = self.wal.as_mut().expect("WAL mode");
        let log_pages = wal.db_pages();
        let log_page_size = wal.page_size();
        let frame1 = wal.find_frame(1)?;
        let mut bytes = [0u8; header::HEADER_LEN];
        let file_size = self.db.size()?;
        if let Some(frame) = frame1 {
            let mut page = vec![0u8; log_page_size as usize];
            wal.read_frame(frame, &mut page)?;
            bytes.copy_from_slice(&page[..header::HEADER_LEN]);
        } else if file_size == 0 {
            // A new database: nothing committed anywhere yet.
            self.set_empty_database();
            return Ok(());
        } else {
            self.db.read_at(0, &mut bytes)?;
        }
        let h = self.decode_header(&bytes)?;
        if log_page_size != 0 && log_page_size != h.page_size {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                check: Corruption::WalPageSize { log: log_page_size, header: h.page_size },
            });
        }
        if h.page_size != self.page_size {
            self.reset_cache();
        }
        self.page_size = h.page_size;
        self.reserved = h.reserved_bytes;
        self.read_only_format = h.is_read_only_format();
        self.wal_format = h.is_wal();
        self.cache.set_capacity(crate::config::cache_pages(self.opts.cache_size, self.page_size));
        let file_pages = u32::try_from(file_size / u64::from(h.page_size)).unwrap_or(u32::MAX);
        // A valid header's count wins over a file that holds more, as in rollback mode (a chunk
        // size rounds the file up to whole chunks; SQLite's b-tree layer trusts the header).
        let header_pages = h.size_is_valid().then_some(h.db_size_pages);
        self.db_size = match header_pages {
            _ if log_pages > 0 => log_pages,
            Some(pages) if pages <= file_pages => pages,
            _ => file_pages,
        };
        self.file_version = header::file_version(&bytes);
        self.counter = h.change_counter;
        Ok(())
    }

    /// The log frame holding `page_no` in this transaction's snapshot, if any.
    pub(crate) fn wal_frame(&mut self, page_no: u32) -> Result<Option<u32>> {
        match self.wal.as_mut() {
            Some(wal) if wal.in_read() => Ok(wal.find_frame(page_no)?),
            _ => Ok(None),
        }
    }

    /// Takes the log's WRITE lock for a write transaction.
    pub(crate) fn begin_wal_write(&mut self) -> Result<()> {
        let wal = self.wal.as_mut().expect("WAL mode");
        wal.set_sync(wal_sync(self.opts.synchronous));
        wal.set_journal_size_limit(self.opts.journal_size_limit);
        wal.begin_write()?;
        Ok(())
    }

    /// Writes one dirty page to the log as an uncommitted frame to make room in the cache.
    pub(crate) fn spill_to_wal(&mut self, page_no: u32) -> Result<()> {
        self.stamp_page1_if(page_no);
        let data = Arc::clone(&self.cache.entry_mut(page_no).expect("a dirty page is cached").data);
        let page_size = self.page_size;
        let txn = self.txn_mut();
        txn.db_modified = true;
        txn.page1_spilled |= page_no == 1;
        let wal = self.wal.as_mut().expect("WAL mode");
        wal.write_frames(page_size, &[(page_no, &data[..])], None)?;
        Ok(())
    }

    fn stamp_page1_if(&mut self, page_no: u32) {
        if page_no != 1 {
            return;
        }
        let (counter, size) = (self.counter, self.db_size);
        if let Some(entry) = self.cache.entry_mut(1) {
            let page1 = Arc::make_mut(&mut entry.data).as_mut_slice();
            header::stamp_commit(page1, counter, size, super::WRITER_VERSION);
        }
    }

    /// Commits in WAL mode: the dirty pages (ascending), zeros for regrown pages nobody wrote,
    /// page 1 when it or the size changed, as frames ending in the commit frame.
    pub(crate) fn commit_wal(&mut self) -> Result<()> {
        // Regrown pages nobody wrote go into the log as zeros; when a sector holds several
        // pages, the rest of their sector goes with them (as for a page written).
        for page_no in self.regrown_zero_pages() {
            self.dirty_sector_of(page_no)?;
        }
        let size_changed = self.db_size != self.txn().db_orig_size;
        // A page 1 spilled earlier carries the size of that moment: stamp it again.
        if size_changed || self.cache.is_dirty(1) || self.txn().page1_spilled {
            self.prepare_write(1)?;
            self.stamp_page1_if(1);
        }
        // Their sectors' pages are dirty now, some of them regrown pages too: ask again.
        let zero_pages = self.regrown_zero_pages();
        let mut images: Vec<(u32, Arc<Vec<u8>>)> = Vec::new();
        for page_no in self.cache.dirty_pages() {
            if page_no <= self.db_size {
                let data = Arc::clone(&self.cache.entry_mut(page_no).expect("dirty").data);
                images.push((page_no, data));
            }
        }
        if !zero_pages.is_empty() {
            let zeros = Arc::new(vec![0u8; self.page_size as usize]);
            images.extend(zero_pages.into_iter().map(|p| (p, Arc::clone(&zeros))));
        }
        if images.is_empty() {
            // A commit needs a frame to carry its mark: page 1 as it is.
            let page1 = match self.cache.get(1) {
                Some(data) => data,
                None => Arc::new(self.load(1)?),
            };
            images.push((1, page1));
        }
        images.sort_by_key(|(p, _)| *p);
        let pages: Vec<(u32, &[u8])> = images.iter().map(|(p, d)| (*p, &d[..])).collect();
        let (page_size, db_size) = (self.page_size, self.db_size);
        self.txn_mut().db_modified = true;
        let wal = self.wal.as_mut().expect("WAL mode");
        wal.write_frames(page_size, &pages, Some(db_size))?;
        debug_assert_eq!(wal.db_pages(), db_size, "the log's commit frame records another size");
        for page_no in self.cache.dirty_pages() {
            self.cache.mark_clean(page_no);
        }
        if let Some(page1) = self.cache.get(1) {
            self.file_version = header::file_version(&page1);
            self.counter = header::change_counter(&page1);
        }
        Ok(())
    }

    /// Rolls back a WAL write transaction: forget its frames.
    pub(crate) fn undo_wal(&mut self) -> Result<()> {
        if let Some(wal) = self.wal.as_mut() {
            wal.undo()?;
        }
        Ok(())
    }

    /// Ends the log's write and read transactions (after commit, rollback or failure).
    pub(crate) fn end_wal_transaction(&mut self) {
        if let Some(wal) = self.wal.as_mut() {
            wal.end_transaction();
        }
    }

    /// After a commit in WAL mode: the hook, or auto-checkpoint. A checkpoint's failure does
    /// not undo the commit; it is ignored as SQLite's default hook ignores it.
    pub(crate) fn after_wal_commit(&mut self) {
        let Some(frames) = self.wal.as_ref().map(|w| w.max_frame()) else { return };
        let mode = match self.wal_hook.as_mut() {
            Some(hook) => hook(frames),
            None => {
                let n = self.opts.wal_autocheckpoint;
                (n > 0 && frames >= n).then_some(CheckpointMode::Passive)
            }
        };
        if let Some(mode) = mode {
            let _ = self.checkpoint(mode);
        }
    }

    /// `journal_mode=WAL` on a rollback-mode database: a rollback-mode transaction sets header
    /// bytes 18/19 to 2 (a new database gets page 1 with it, as in SQLite); the log opens at
    /// the next transaction.
    pub(crate) fn enter_wal(&mut self) -> Result<()> {
        if self.opts.read_only {
            return Err(self.read_only_error(Action::EnterWal));
        }
        self.begin_write()?;
        if self.wal.is_some() {
            // The header already said WAL: the log is open now.
            return self.rollback();
        }
        // A new database gets its page 1 here (the header; the rest of the page belongs to
        // the layer above, as with any page).
        let result = self.page_mut(1).map(|page1| header::set_format_versions(page1, 2));
        match result {
            Ok(()) => self.commit(),
            Err(e) => {
                let _ = self.rollback();
                Err(e)
            }
        }
    }

    /// Leaves WAL mode for `mode` (`sqlite3PagerCloseWal`): under EXCLUSIVE, checkpoint and
    /// delete the log, then a transaction in `mode` sets header bytes 18/19 back to 1.
    pub(crate) fn leave_wal(&mut self, mode: JournalMode) -> Result<()> {
        if self.opts.read_only {
            return Err(self.read_only_error(Action::LeaveWal));
        }
        if self.db.lock_level() == LockLevel::None {
            self.db.lock(LockLevel::Shared)?;
        }
        if let Err(e) = self.db.lock(LockLevel::Exclusive) {
            let _ = self.release_locks();
            return Err(e.into());
        }
        let page_size = self.page_size;
        let wal = self.wal.take().expect("WAL mode");
        if let Err(e) = wal.close(true, false, page_size) {
            let _ = self.release_locks();
            return Err(e.into());
        }
        self.opts.journal_mode = mode;
        self.leaving_wal = true;
        self.reset_cache();
        let result = (|| -> Result<()> {
            self.begin_write()?;
            let page1 = self.page_mut(1)?;
            header::set_format_versions(page1, 1);
            self.commit()
        })();
        self.leaving_wal = false;
        if result.is_err() && self.state == State::Write {
            let _ = self.rollback();
        }
        if self.state == State::Idle && self.opts.locking_mode == LockingMode::Normal {
            let _ = self.release_locks();
        }
        result
    }

    /// Closes the log at the end of the connection: the last connection (it gets EXCLUSIVE on
    /// the database) checkpoints and deletes `-wal` and `-shm`, or with `persist_wal` keeps
    /// them (the log truncated to 0 bytes when `journal_size_limit` ≥ 0).
    pub(crate) fn close_wal(&mut self) -> Result<()> {
        let Some(mut wal) = self.wal.take() else { return Ok(()) };
        wal.set_journal_size_limit(self.opts.journal_size_limit);
        let last = !self.opts.read_only
            && self.poisoned.is_none()
            && (self.db.lock_level() == LockLevel::Exclusive
                || (self.db.lock_level() >= LockLevel::Shared
                    && self.db.lock(LockLevel::Exclusive).is_ok()));
        wal.close(last, self.opts.persist_wal, self.page_size)?;
        Ok(())
    }
}
