//! Hot-journal recovery at the start of a read transaction (SQLite's pager.c, `hasHotJournal`,
//! `pager_playback`): a journal left by
//! a connection that died mid-commit is played back before anyone reads the database.

use super::Pager;
use crate::config::Synchronous;
use crate::error::{Error, Result};
use folio_journal::hot::{self, HotJournal, NotHotBecause};
use folio_journal::playback::{playback, Mode};
use folio_vfs::{AccessCheck, FileKind, LockLevel, OpenFlags, SyncFlags};

impl Pager {
    /// With SHARED held (and nothing stronger): deals with a journal beside the database.
    pub(crate) fn handle_journal(&mut self) -> Result<()> {
        match hot::check(&*self.vfs, &self.journal_path, &*self.db, self.page_size)? {
            HotJournal::Absent
            | HotJournal::NotHot(NotHotBecause::WriterActive | NotHotBecause::NotCommitted) => {
                Ok(())
            }
            HotJournal::Hot => self.roll_back_hot_journal(),
            // A journal beside an empty database is stale: delete it under RESERVED. If the
            // lock is busy someone else is writing; leave it to them.
            HotJournal::Stale if !self.opts.read_only => {
                if self.db.lock(LockLevel::Reserved).is_ok() {
                    let deleted = self.delete_if_exists();
                    self.db.unlock(LockLevel::Shared)?;
                    deleted?;
                }
                Ok(())
            }
            HotJournal::Stale => Ok(()),
            // Its multi-database commit completed: the journal is just finalized.
            HotJournal::NotHot(NotHotBecause::SuperJournalGone(_)) if !self.opts.read_only => {
                self.db.lock(LockLevel::Exclusive)?;
                let deleted = self.delete_if_exists();
                self.db.unlock(LockLevel::Shared)?;
                deleted
            }
            HotJournal::NotHot(NotHotBecause::SuperJournalGone(_)) => Ok(()),
        }
    }

    fn delete_if_exists(&self) -> Result<()> {
        if self.vfs.access(&self.journal_path, AccessCheck::Exists)? {
            self.vfs.delete(&self.journal_path, self.opts.synchronous == Synchronous::Extra)?;
        }
        Ok(())
    }

    /// Rolls back a hot journal: EXCLUSIVE straight from SHARED (never RESERVED, so no other
    /// connection can decide the journal is not hot), play back, sync the database, finalize
    /// the journal as this pager's journal mode says, back to SHARED.
    fn roll_back_hot_journal(&mut self) -> Result<()> {
        if self.opts.read_only {
            return Err(Error::ReadOnlyRollback { path: self.path.clone() });
        }
        // Busy here goes back to begin_read's busy loop, which starts over from no lock.
        self.db.lock(LockLevel::Exclusive)?;
        let result = self.play_back_hot_journal();
        let unlocked = self.db.unlock(LockLevel::Shared);
        result.and(unlocked.map_err(Error::from))
    }

    fn play_back_hot_journal(&mut self) -> Result<()> {
        // Another connection may have rolled it back between our look and our lock.
        if !self.vfs.access(&self.journal_path, AccessCheck::Exists)? {
            return Ok(());
        }
        let journal = self
            .vfs
            .open(Some(&self.journal_path), OpenFlags::read_write(FileKind::MainJournal))?;
        let sync = self.opts.synchronous != Synchronous::Off;
        if sync {
            journal.sync(SyncFlags::NORMAL)?;
        }
        playback(&*journal, &*self.db, self.page_size, Mode::Hot)?;
        if sync {
            self.db.sync(SyncFlags::NORMAL)?;
        }
        self.reset_cache();
        self.file_version = None;
        self.stats.hot_rollbacks += 1;
        if self.opts.journal_mode.has_journal_file() {
            self.finalize_journal(Some(journal))
        } else {
            // MEMORY and OFF have no journal file of their own to keep: delete it.
            drop(journal);
            self.delete_if_exists()
        }
    }
}
