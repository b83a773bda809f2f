//! Commit and rollback in the rollback-journal modes (SQLite's pager.c,
//! `sqlite3PagerCommitPhaseOne`, `sqlite3PagerCommitPhaseTwo`): phase one journals page
//! 1 with the bumped change counter and every page a truncation drops, syncs the journal under
//! EXCLUSIVE, writes the dirty pages, sets the file size and syncs the database; phase two
//! finalizes the journal as the journal mode says — that is the commit point.
//!
//! Failures: Busy on EXCLUSIVE leaves the transaction open (commit can be retried, or rolled
//! back). Any other error ends the transaction: it is rolled back (from the journal if the
//! file was already written). A failed sync poisons the pager instead — the OS may have dropped
//! the written pages, so nothing that follows can be trusted; the journal is left for the next
//! opener to roll back.

use super::{Pager, State};
use crate::config::{JournalMode, LockingMode, Synchronous};
use crate::error::{Error, Misuse, Result};
use crate::header;
use folio_journal::playback::{playback, Mode};
use folio_journal::writer::zero_header;
use folio_vfs::{chunk_rounded, AccessCheck, LockLevel, Op, SyncFlags, VfsFile};
use std::sync::Arc;

impl Pager {
    /// Commits the write transaction. Afterwards no transaction is open (in NORMAL locking
    /// mode no lock is held either).
    pub fn commit(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.state != State::Write {
            return Err(self.misuse(Misuse::CommitOutsideWrite));
        }
        if !self.txn().changed {
            return self.end_write();
        }
        self.check_page1_header()?;
        if self.wal.is_some() {
            if let Err(e) = self.commit_wal() {
                return Err(self.fail_write(e));
            }
            self.stats.commits += 1;
            self.end_write()?;
            self.after_wal_commit();
            return Ok(());
        }
        match self.commit_phase_one() {
            Ok(()) => {}
            Err(e) if e.is_busy() => return Err(e),
            Err(e) => return Err(self.fail_write(e)),
        }
        if let Err(e) = self.commit_phase_two() {
            return Err(self.fail_write(e));
        }
        self.stats.commits += 1;
        self.end_write()
    }

    /// Page 1 must carry a header of this database's geometry. One the caller overwrote
    /// without a magic gets a fresh header; one that claims another page size or reserve is
    /// refused (the transaction stays open).
    fn check_page1_header(&mut self) -> Result<()> {
        let Some(entry) = self.cache.entry_mut(1).filter(|e| e.dirty()) else { return Ok(()) };
        if !header::has_magic(&entry.data) {
            let (page_size, reserved) = (self.page_size, self.reserved);
            header::init_page1(Arc::make_mut(&mut entry.data).as_mut_slice(), page_size, reserved);
            return Ok(());
        }
        let geometry =
            header::DbHeader::decode(&entry.data).map(|h| (h.page_size, h.reserved_bytes));
        if geometry != Ok((self.page_size, self.reserved)) {
            let (page_size, reserved) = (self.page_size, self.reserved);
            return Err(self.misuse(Misuse::Page1Header {
                given: geometry.ok(),
                page_size,
                reserved,
            }));
        }
        Ok(())
    }

    fn commit_phase_one(&mut self) -> Result<()> {
        // Every commit rewrites page 1: the change counter goes up by exactly one.
        self.prepare_write(1)?;
        // Pages a truncation dropped must be in the journal before the file changes: those
        // past the new end, and those regrown since (they are rewritten as zeros).
        let (min_size, orig) = (self.txn().min_size, self.txn().db_orig_size);
        for page_no in min_size + 1..=orig {
            self.journal_original(page_no)?;
        }
        // Regrown pages nobody wrote are written as zeros; they share sectors with original
        // pages too.
        let zero_pages = self.regrown_zero_pages();
        for &page_no in &zero_pages {
            self.journal_sector_of(page_no)?;
        }
        self.sync_journal(false)?;
        self.txn_mut().db_modified = true;
        // The file ends exactly at the image's last page, never on the lock-byte page; with a
        // chunk size, at the end of the chunk holding it.
        let mut pages = self.db_size;
        if pages == self.lock_byte_page() {
            pages -= 1;
        }
        let want = u64::from(pages) * u64::from(self.page_size);
        // As SQLite's pager_write_pagelist: the size the file is about to grow to, which a VFS
        // with a chunk size preallocates in whole chunks (a no-op otherwise). A hint, so its
        // failure is ignored, as SQLite ignores it: the writes below fail if space is short.
        let _ = self.db.size_hint(want);
        for page_no in self.cache.dirty_pages() {
            if page_no <= self.db_size {
                debug_assert!(
                    self.offset_of(page_no) + u64::from(self.page_size) <= want,
                    "dirty page {page_no} lies past the {want} bytes the file is cut to"
                );
                self.write_page_to_db(page_no)?;
            }
        }
        let zeros = vec![0u8; self.page_size as usize];
        for page_no in zero_pages {
            self.db.write_at(self.offset_of(page_no), &zeros)?;
        }
        if self.db.size()? != chunk_rounded(want, self.db.chunk_size()) {
            self.db.truncate(want)?;
        }
        if self.opts.synchronous != Synchronous::Off {
            self.db.sync(SyncFlags::NORMAL)?;
        }
        Ok(())
    }

    fn commit_phase_two(&mut self) -> Result<()> {
        let journal = self.txn_mut().journal.take().map(|j| j.into_file());
        self.finalize_journal(journal)?;
        for page_no in self.cache.dirty_pages() {
            self.cache.mark_clean(page_no);
        }
        let page1 = self.cache.get(1).expect("page 1 was written by the commit");
        self.file_version = header::file_version(&page1);
        self.counter = header::change_counter(&page1);
        Ok(())
    }

    /// Ends the journal of a transaction that committed or rolled back (or a hot journal just
    /// played back), as this pager's journal mode says (SQLite's `pager_end_transaction`).
    pub(crate) fn finalize_journal(&mut self, journal: Option<Box<dyn VfsFile>>) -> Result<()> {
        let Some(file) = journal else { return Ok(()) };
        let sync = self.opts.synchronous;
        let exclusive = self.opts.locking_mode == LockingMode::Exclusive;
        match self.opts.journal_mode {
            JournalMode::Memory | JournalMode::Off | JournalMode::Wal => Ok(()),
            JournalMode::Truncate => {
                file.truncate(0)?;
                if sync >= Synchronous::Full {
                    file.sync(SyncFlags::NORMAL)?;
                }
                Ok(())
            }
            JournalMode::Delete if !exclusive => {
                drop(file);
                self.vfs.delete(&self.journal_path, sync == Synchronous::Extra)?;
                Ok(())
            }
            JournalMode::Persist | JournalMode::Delete => {
                let limit = self.opts.journal_size_limit;
                if limit == 0 {
                    file.truncate(0)?;
                } else {
                    zero_header(&*file)?;
                }
                if sync != Synchronous::Off {
                    file.sync(SyncFlags::DATA_ONLY)?;
                }
                if let Ok(limit) = u64::try_from(limit) {
                    if limit > 0 && file.size()? > limit {
                        file.truncate(limit)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Rolls the write transaction back: restores the database file from the journal if it
    /// was written, finalizes the journal, drops the changed pages. Afterwards no transaction
    /// is open. In journal_mode OFF pages already spilled to the file cannot be restored (as in
    /// SQLite, where ROLLBACK is undefined in that mode).
    pub fn rollback(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.state != State::Write {
            return Err(self.misuse(Misuse::RollbackOutsideWrite));
        }
        match self.roll_back_own() {
            Ok(()) => self.end_write(),
            Err(e) => Err(self.fail_write(e)),
        }
    }

    /// Restores the file from this transaction's journal (if the file was written) and
    /// finalizes the journal. Leaves the transaction state for the caller to end.
    fn roll_back_own(&mut self) -> Result<()> {
        let Some(mut txn) = self.write.take() else { return Ok(()) };
        self.cache.clear();
        self.db_size = txn.db_orig_size;
        if self.wal.is_some() {
            return self.undo_wal();
        }
        let journal = txn.journal.take();
        if txn.db_modified {
            if let Some(journal) = &journal {
                let mode = Mode::Own {
                    current_header: journal.current_header_offset(),
                    synced_to: txn.synced_to,
                };
                playback(journal.file(), &*self.db, self.page_size, mode)?;
                if self.opts.synchronous != Synchronous::Off {
                    self.db.sync(SyncFlags::NORMAL)?;
                }
                self.stats.file_rollbacks += 1;
            }
            // The header (reserved bytes, counters) may have changed back: reread it next time.
            self.file_version = None;
        }
        self.finalize_journal(journal.map(|j| j.into_file()))
    }

    /// Leaves the write state after a commit or rollback: no transaction; in NORMAL locking
    /// mode, no lock.
    fn end_write(&mut self) -> Result<()> {
        self.write = None;
        self.state = State::Idle;
        self.end_wal_transaction();
        if self.opts.locking_mode == LockingMode::Normal {
            self.release_locks()?;
        }
        Ok(())
    }

    /// Handles an error inside a write transaction (Busy is returned as is). The transaction
    /// ends: rolled back, or — after a failed sync, or if the rollback fails too — abandoned
    /// with the pager poisoned, leaving a hot journal for the next opener.
    pub(crate) fn fail_write(&mut self, error: Error) -> Error {
        if error.is_busy() || self.state != State::Write {
            return error;
        }
        let sync_failed = matches!(
            error.vfs_error(),
            Some(folio_vfs::Error::Io { op: Op::Sync | Op::SyncDir, .. })
        );
        // An in-memory journal vanishes with the pager: play it back even after a failed sync.
        // A WAL transaction's frames are undone in memory only: always safe.
        let try_rollback =
            !sync_failed || self.opts.journal_mode == JournalMode::Memory || self.wal.is_some();
        let rolled_back = if try_rollback { self.roll_back_own() } else { Ok(()) };
        if sync_failed || rolled_back.is_err() {
            self.poisoned = Some((Arc::new(error.clone()), rolled_back.err().map(Arc::new)));
        }
        self.write = None;
        self.cache.clear();
        self.file_version = None;
        self.state = State::Idle;
        self.end_wal_transaction();
        let _ = self.release_locks();
        error
    }

    /// Deletes a leftover journal (leaving TRUNCATE or PERSIST mode) under RESERVED.
    pub(crate) fn delete_journal_under_reserved(&mut self) -> Result<()> {
        let was = self.db.lock_level();
        if was == LockLevel::None {
            self.db.lock(LockLevel::Shared)?;
        }
        let result = (|| -> Result<()> {
            self.db.lock(LockLevel::Reserved)?;
            if self.vfs.access(&self.journal_path, AccessCheck::Exists)? {
                self.vfs.delete(&self.journal_path, false)?;
            }
            Ok(())
        })();
        let back = if was == LockLevel::None { LockLevel::None } else { LockLevel::Shared };
        if self.db.lock_level() > was {
            self.db.unlock(back)?;
        }
        result
    }
}
