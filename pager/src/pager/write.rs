//! Write transactions: RESERVED, the journal opened at the first change, original page images
//! journaled before a page is first modified (whole sectors when a sector holds several
//! pages), growth and truncation of the image, and spilling dirty pages to the database when
//! the cache is full — only after the journal records they depend on are synced.

use super::{Pager, State};
use crate::config::{JournalMode, Synchronous};
use crate::error::{Action, Error, Misuse, Result};
use crate::header;
use folio_journal::writer::{JournalConfig, JournalWriter, SyncPolicy};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::{DeviceCharacteristics, FileKind, LockLevel, OpenFlags, Vfs};
use std::collections::HashSet;
use std::sync::Arc;

/// The state of a write transaction.
pub(crate) struct WriteTxn {
    /// Database size in pages when the transaction began (`dbOrigSize`).
    pub(crate) db_orig_size: u32,
    /// The smallest size the image had during the transaction: pages above it hold nothing
    /// of the file's old content, unless this transaction spilled them.
    pub(crate) min_size: u32,
    /// Pages above `min_size` this transaction spilled to the file.
    pub(crate) spilled_fresh: HashSet<u32>,
    /// The journal, from the first change on (never in journal_mode OFF).
    pub(crate) journal: Option<JournalWriter>,
    /// The device characteristics the journal is written for: the database's, less
    /// SAFE_APPEND when the journal is overwritten in place (see `ensure_journal`).
    pub(crate) journal_device: DeviceCharacteristics,
    /// Pages whose original image is in the journal.
    pub(crate) in_journal: HashSet<u32>,
    /// The journal's length at its last sync (SQLite's `journalHdr`): records past it belong
    /// to pages the database file has not received.
    pub(crate) synced_to: u64,
    /// The database file has been written (a spill, or the commit).
    pub(crate) db_modified: bool,
    /// Something changed: a page was modified or the image shrank.
    pub(crate) changed: bool,
    /// A spill could not get EXCLUSIVE: let the cache grow instead for this transaction.
    pub(crate) spill_blocked: bool,
    /// WAL mode: page 1 was spilled to the log, stamped with the size at that moment, which
    /// the commit must restamp (the size may have changed since).
    pub(crate) page1_spilled: bool,
}

impl WriteTxn {
    /// True if `page_no`'s content in the file is not this transaction's (it was truncated
    /// away and has not been spilled since): reading it gives zeros.
    pub(crate) fn is_fresh(&self, page_no: u32) -> bool {
        page_no > self.min_size && !self.spilled_fresh.contains(&page_no)
    }
}

impl Pager {
    /// Starts a write transaction: a read transaction if none is open, then RESERVED. The busy
    /// handler is used only when no read transaction was open before (SQLite's rule: a reader
    /// that tries to become a writer fails at once, or two such could wait on each other).
    pub fn begin_write(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.opts.read_only {
            return Err(self.read_only_error(Action::BeginWrite));
        }
        match self.state {
            State::Write => return Ok(()),
            State::Read => {
                self.check_no_mapped_pages(Action::BeginWrite)?;
                if self.read_only_format {
                    return Err(self.read_only_error(Action::WriteNewerFormat));
                }
                if self.wal.is_some() {
                    self.begin_wal_write()?;
                } else {
                    self.db.lock(LockLevel::Reserved)?;
                }
            }
            State::Idle => {
                self.check_no_mapped_pages(Action::BeginWrite)?;
                self.apply_wal_request()?;
                self.with_busy(|p| {
                    p.try_begin_read()?;
                    let reserved = if p.read_only_format {
                        Err(p.read_only_error(Action::WriteNewerFormat))
                    } else if p.wal.is_some() {
                        p.begin_wal_write()
                    } else {
                        p.db.lock(LockLevel::Reserved).map_err(Error::from)
                    };
                    if reserved.is_err() && p.wal.is_some() {
                        // End the snapshot: a retry takes a fresh one (a stale snapshot is
                        // what keeps a WAL writer out).
                        p.end_wal_transaction();
                    } else if reserved.is_err() && p.opts.locking_mode == crate::LockingMode::Normal
                    {
                        // Let go of SHARED, so a retry starts clean and another writer can
                        // finish (exclusive locking mode keeps its lock).
                        let _ = p.db.unlock(LockLevel::None);
                    }
                    reserved
                })?;
            }
        }
        self.write = Some(WriteTxn {
            db_orig_size: self.db_size,
            min_size: self.db_size,
            spilled_fresh: HashSet::new(),
            journal: None,
            journal_device: self.device,
            in_journal: HashSet::new(),
            synced_to: 0,
            db_modified: false,
            changed: false,
            spill_blocked: false,
            page1_spilled: false,
        });
        self.state = State::Write;
        Ok(())
    }

    pub(crate) fn read_only_error(&self, action: Action) -> Error {
        Error::ReadOnly { path: self.path.clone(), action }
    }

    /// Replaces page `page_no` with `data` (exactly one page). Writing past the end grows the
    /// database; pages in between read as zeros.
    pub fn write(&mut self, page_no: u32, data: &[u8]) -> Result<()> {
        if data.len() != self.page_size as usize {
            let (len, page_size) = (data.len(), self.page_size);
            return Err(self.misuse(Misuse::WriteSize { page: page_no, len, page_size }));
        }
        self.page_mut(page_no)?.copy_from_slice(data);
        Ok(())
    }

    /// Page `page_no` for modification, inside a write transaction. Its original image is
    /// journaled first; a [`crate::PageRef`] to it held elsewhere keeps the old bytes (the page
    /// is copied). Bytes 0..100 of page 1 are the database header: the pager writes a fresh
    /// one into a new database and stamps the counters at commit.
    ///
    /// An I/O error here ends the transaction (it is rolled back) and is returned.
    pub fn page_mut(&mut self, page_no: u32) -> Result<&mut [u8]> {
        self.check_usable()?;
        if self.state != State::Write {
            return Err(self.misuse(Misuse::ModifyOutsideWrite));
        }
        if page_no == 0 || page_no == self.lock_byte_page() {
            return Err(self.misuse(Misuse::NotContentPage { page: page_no }));
        }
        if let Err(e) = self.prepare_write(page_no) {
            return Err(self.fail_write(e));
        }
        let entry = self.cache.entry_mut(page_no).expect("prepare_write cached the page");
        Ok(Arc::make_mut(&mut entry.data).as_mut_slice())
    }

    /// Journals, loads and marks dirty `page_no`, growing the image if it lies past the end.
    pub(crate) fn prepare_write(&mut self, page_no: u32) -> Result<()> {
        if self.cache.is_dirty(page_no) {
            return Ok(());
        }
        self.ensure_journal()?;
        // Even a page past the original end shares its sector with original pages when sectors
        // are larger than pages: a torn write of it could damage them.
        self.journal_sector_of(page_no)?;
        if self.wal.is_some() {
            self.dirty_sector_of(page_no)?;
        }
        self.make_dirty(page_no)
    }

    /// In WAL mode, when a sector holds several pages, marks dirty the other pages of
    /// `page_no`'s sector (up to the image's end, or up to `page_no` past it), so that the
    /// log carries the whole sector: a checkpoint torn while it writes the sector into the
    /// database damages only pages the log restores (SQLite's `pagerWriteLargeSector`, which
    /// runs in WAL mode too).
    pub(super) fn dirty_sector_of(&mut self, page_no: u32) -> Result<()> {
        let per_sector = (self.sector_size / self.page_size).max(1);
        if per_sector == 1 {
            return Ok(());
        }
        let first = (page_no - 1) / per_sector * per_sector + 1;
        let last = if page_no > self.db_size {
            page_no
        } else {
            (first + per_sector - 1).min(self.db_size)
        };
        for p in first..=last {
            if p != page_no && p != self.lock_byte_page() && !self.cache.is_dirty(p) {
                self.make_dirty(p)?;
            }
        }
        Ok(())
    }

    /// Pages this transaction truncated away (or grew past the end) and nobody wrote since:
    /// the commit writes them as zeros.
    pub(super) fn regrown_zero_pages(&self) -> Vec<u32> {
        (self.txn().min_size + 1..=self.db_size)
            .filter(|&p| self.txn().is_fresh(p) && !self.cache.is_dirty(p))
            .collect()
    }

    /// True if the database file may receive `page_no` as far as the rollback journal is
    /// concerned (SQLite's `pager_write_pagelist` rule): its original is in the journal, or it
    /// did not exist when the transaction began, or there is no rollback journal (WAL mode,
    /// journal_mode OFF) or no write transaction.
    pub(crate) fn journaled_or_new(&self, page_no: u32) -> bool {
        let Some(txn) = self.write.as_ref() else { return true };
        self.wal.is_some()
            || txn.journal.is_none()
            || page_no > txn.db_orig_size
            || page_no == self.lock_byte_page()
            || txn.in_journal.contains(&page_no)
    }

    /// Loads `page_no` into the cache (if it is not there) and marks it dirty.
    fn make_dirty(&mut self, page_no: u32) -> Result<()> {
        debug_assert!(
            self.journaled_or_new(page_no),
            "page {page_no} is made dirty before its original is in the journal"
        );
        if !self.cache.contains(page_no) {
            let data = self.load(page_no)?;
            self.make_room()?;
            self.cache.insert(page_no, data, true);
        }
        let fresh = self.txn().is_fresh(page_no);
        let (page_size, reserved) = (self.page_size, self.reserved);
        self.cache.mark_dirty(page_no);
        let entry = self.cache.entry_mut(page_no).expect("cached above");
        if page_no == 1 && (fresh || !header::has_magic(&entry.data)) {
            header::init_page1(Arc::make_mut(&mut entry.data).as_mut_slice(), page_size, reserved);
        }
        self.db_size = self.db_size.max(page_no);
        self.txn_mut().changed = true;
        Ok(())
    }

    /// Shrinks the database image to `pages` pages (the file is truncated at commit; pages
    /// past the new end are journaled first, so a rollback restores them).
    pub fn truncate(&mut self, pages: u32) -> Result<()> {
        self.check_usable()?;
        if self.state != State::Write {
            return Err(self.misuse(Misuse::TruncateOutsideWrite));
        }
        if pages > self.db_size {
            return Err(self.misuse(Misuse::TruncateBeyondEnd { pages, db_pages: self.db_size }));
        }
        if let Err(e) = self.ensure_journal() {
            return Err(self.fail_write(e));
        }
        self.db_size = pages;
        self.cache.truncate(pages);
        let txn = self.txn_mut();
        txn.min_size = txn.min_size.min(pages);
        debug_assert!(
            txn.min_size <= txn.db_orig_size && txn.min_size <= pages,
            "the smallest size {} exceeds the original {} or the new {pages} pages",
            txn.min_size,
            txn.db_orig_size
        );
        txn.spilled_fresh.retain(|&p| p <= pages);
        txn.changed = true;
        Ok(())
    }

    pub(crate) fn txn(&self) -> &WriteTxn {
        self.write.as_ref().expect("inside a write transaction")
    }

    pub(crate) fn txn_mut(&mut self) -> &mut WriteTxn {
        self.write.as_mut().expect("inside a write transaction")
    }

    /// Opens the journal at the first change of the transaction (not in journal_mode OFF).
    fn ensure_journal(&mut self) -> Result<()> {
        if self.txn().journal.is_some()
            || self.opts.journal_mode == JournalMode::Off
            || self.wal.is_some()
        {
            return Ok(());
        }
        let file = if self.opts.journal_mode == JournalMode::Memory {
            // An in-memory journal: a private memory file, deleted when dropped.
            MemoryVfs::new().open(None, OpenFlags::create(FileKind::MainJournal))?
        } else {
            // SQLite's `databaseIsUnmoved`: a journal created under the old name would be a hot
            // journal for whatever file takes that name next.
            if self.txn().db_orig_size > 0 && self.db.has_moved()? {
                return Err(Error::Moved { path: self.path.clone() });
            }
            self.vfs.open(Some(&self.journal_path), OpenFlags::create(FileKind::MainJournal))?
        };
        // SQLite trusts SAFE_APPEND to write the record count up front and never after a sync:
        // a file that only grows with its records cannot show garbage after them. A PERSIST
        // journal left by an earlier transaction is overwritten in place, not appended to, and
        // SAFE_APPEND promises nothing for that: a torn record there can join the old record's
        // bytes to the new checksum, and the sampled checksum misses it (a page-1 record's
        // change counter and size are not sampled), so playback would write back a page image
        // no transaction had. Such a journal is written as on a device without SAFE_APPEND:
        // the count after the records are synced. Both are valid journals to SQLite.
        let journal_device = if file.size()? == 0 {
            self.device
        } else {
            self.device.without(DeviceCharacteristics::SAFE_APPEND)
        };
        self.txn_mut().journal_device = journal_device;
        let mut nonce = [0u8; 4];
        self.vfs.randomness(&mut nonce)?;
        let config = JournalConfig {
            page_size: self.page_size,
            sector_size: self.sector_size,
            db_orig_pages: self.txn().db_orig_size,
            nonce: u32::from_ne_bytes(nonce),
            magic_up_front: self.opts.synchronous == Synchronous::Off
                || self.opts.journal_mode == JournalMode::Memory
                || journal_device.contains(DeviceCharacteristics::SAFE_APPEND),
        };
        let writer = JournalWriter::start(file, config)?;
        self.txn_mut().journal = Some(writer);
        Ok(())
    }

    /// Journals `page_no` and, when a sector holds several pages, every other page of its
    /// sector that existed when the transaction began (SQLite's `pagerWriteLargeSector`): a
    /// torn sector write can damage all of them.
    pub(crate) fn journal_sector_of(&mut self, page_no: u32) -> Result<()> {
        let per_sector = (self.sector_size / self.page_size).max(1);
        let first = (page_no - 1) / per_sector * per_sector + 1;
        for p in first..first + per_sector {
            self.journal_original(p)?;
        }
        Ok(())
    }

    /// Appends the original image of `page_no` to the journal, once per transaction, if it
    /// existed when the transaction began.
    pub(crate) fn journal_original(&mut self, page_no: u32) -> Result<()> {
        let lock_byte = self.lock_byte_page();
        let txn = self.txn();
        if page_no > txn.db_orig_size || page_no == lock_byte || txn.in_journal.contains(&page_no) {
            return Ok(());
        }
        if txn.journal.is_none() {
            return Ok(()); // journal_mode OFF
        }
        // A page not yet journaled was not written to the file in this transaction, so the
        // file holds its original. A clean cached copy is the same bytes, unless the page was
        // truncated away and regrown (the cache then holds zeros).
        let cached = self.cache.get(page_no).filter(|_| !self.cache.is_dirty(page_no));
        let original = match cached {
            Some(data) if !self.txn().is_fresh(page_no) => data.to_vec(),
            _ => {
                let mut data = vec![0u8; self.page_size as usize];
                self.db.read_at(self.offset_of(page_no), &mut data)?;
                data
            }
        };
        let txn = self.txn_mut();
        txn.journal.as_mut().expect("checked above").append(page_no, &original)?;
        txn.in_journal.insert(page_no);
        Ok(())
    }

    /// SQLite's `syncJournal`: take EXCLUSIVE (with the busy handler), then make the journal's
    /// records durable and valid before any page reaches the database. With `new_segment`,
    /// later records go into a new segment (after a spill).
    pub(crate) fn sync_journal(&mut self, new_segment: bool) -> Result<()> {
        self.with_busy(|p| p.db.lock(LockLevel::Exclusive).map_err(Error::from))?;
        let syncs =
            self.opts.journal_mode.has_journal_file() && self.opts.synchronous != Synchronous::Off;
        let device = self.write.as_ref().map_or(self.device, |txn| txn.journal_device);
        let policy = SyncPolicy { full: self.opts.synchronous >= Synchronous::Full, device };
        if let Some(txn) = self.write.as_mut() {
            if let Some(journal) = txn.journal.as_mut() {
                let end = journal.end_offset();
                if syncs {
                    if new_segment {
                        journal.sync_and_start_segment(policy)?;
                    } else {
                        journal.sync(policy)?;
                    }
                    self.stats.journal_syncs += 1;
                }
                // Without syncs (OFF, MEMORY) the records count as synced all the same, as in
                // SQLite: the point is that every page written from now on has its record.
                txn.synced_to = end;
            }
        }
        self.cache.clear_need_sync();
        Ok(())
    }

    /// Writes one dirty page to the database file (page 1 stamped with the commit's counter
    /// and size first, as SQLite's `pager_write_pagelist` does).
    pub(crate) fn write_page_to_db(&mut self, page_no: u32) -> Result<()> {
        debug_assert!(
            self.journaled_or_new(page_no),
            "page {page_no} goes to the database file before its original is in the journal"
        );
        debug_assert!(page_no != self.lock_byte_page(), "the lock-byte page {page_no} is written");
        let (counter, size) = (self.counter, self.db_size);
        let offset = self.offset_of(page_no);
        let entry = self.cache.entry_mut(page_no).expect("a dirty page is cached");
        debug_assert!(
            entry.dirty() && !entry.need_sync,
            "page {page_no} is written to the database while clean or before its journal \
             record was synced"
        );
        if page_no == 1 {
            let page1 = Arc::make_mut(&mut entry.data).as_mut_slice();
            header::stamp_commit(page1, counter, size, super::WRITER_VERSION);
        }
        let data = Arc::clone(&entry.data);
        // Marked before the write: a write that fails half-way has modified the file too.
        self.txn_mut().db_modified = true;
        self.db.write_at(offset, &data)?;
        Ok(())
    }

    /// Writes the dirty page `page_no` to the database to make room in the cache, syncing the
    /// journal first if the page's records are not durable yet (or the file was not written
    /// yet in this transaction). If EXCLUSIVE cannot be had, spilling stops for this
    /// transaction and the cache grows instead, as SQLite's does.
    pub(crate) fn spill(&mut self, page_no: u32) -> Result<()> {
        if self.wal.is_some() {
            self.spill_to_wal(page_no)?;
            return self.spilled(page_no);
        }
        let need_sync =
            !self.txn().db_modified || self.cache.entry_mut(page_no).is_some_and(|e| e.need_sync);
        if need_sync {
            match self.sync_journal(true) {
                Ok(()) => {}
                Err(e) if e.is_busy() => {
                    self.txn_mut().spill_blocked = true;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.write_page_to_db(page_no)?;
        self.spilled(page_no)
    }

    /// Drops a page just written out of the cache.
    fn spilled(&mut self, page_no: u32) -> Result<()> {
        self.cache.mark_clean(page_no);
        self.cache.remove(page_no);
        let txn = self.txn_mut();
        if page_no > txn.min_size {
            txn.spilled_fresh.insert(page_no);
        }
        self.stats.spills += 1;
        Ok(())
    }
}
