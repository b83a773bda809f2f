//! Is there a hot journal to roll back? the rules of SQLite's pager.c, `hasHotJournal`,
//! checked by a connection that holds SHARED (and nothing stronger) on the database.

use crate::playback::super_journal_of;
use crate::Result;
use folio_vfs::{AccessCheck, FileKind, OpenFlags, Vfs, VfsFile};
use std::path::Path;

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotJournal {
    /// No journal file.
    Absent,
    /// A journal that must be rolled back before the database is read.
    Hot,
    /// A journal that is not hot, and why; it is left alone.
    NotHot(NotHotBecause),
    /// A journal beside an empty (0-byte) database: stale. SQLite takes RESERVED and deletes it.
    Stale,
}

/// Why a journal that exists is not hot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHotBecause {
    /// A connection holds RESERVED or stronger: its transaction is still going on.
    WriterActive,
    /// The first byte is zero (never synced, or finalized by PERSIST) or the file is empty.
    NotCommitted,
    /// It names a super-journal that no longer exists: the multi-database commit completed.
    SuperJournalGone(String),
}

/// Applies SQLite's rules to the journal at `journal_path` of the database `db`, whose page
/// size is `page_size` (to read a super-journal trailer).
pub fn check(
    vfs: &dyn Vfs,
    journal_path: &Path,
    db: &dyn VfsFile,
    page_size: u32,
) -> Result<HotJournal> {
    if !vfs.access(journal_path, AccessCheck::Exists)? {
        return Ok(HotJournal::Absent);
    }
    if db.check_reserved_lock()? {
        return Ok(HotJournal::NotHot(NotHotBecause::WriterActive));
    }
    if db.size()? == 0 {
        return Ok(HotJournal::Stale);
    }
    let journal = match vfs.open(Some(journal_path), OpenFlags::read_only(FileKind::MainJournal)) {
        Ok(journal) => journal,
        // Someone deleted it between our two looks: it was just finalized.
        Err(_) if !vfs.access(journal_path, AccessCheck::Exists)? => return Ok(HotJournal::Absent),
        // It exists but cannot be opened: assume hot, so nobody reads a half-written database
        // (SQLite does the same); the rollback attempt will report the error.
        Err(_) => return Ok(HotJournal::Hot),
    };
    let mut first = [0u8; 1];
    if journal.read_at(0, &mut first)?.is_short() || first[0] == 0 {
        return Ok(HotJournal::NotHot(NotHotBecause::NotCommitted));
    }
    if let Some(name) = super_journal_of(&*journal, page_size)? {
        if !vfs.access(Path::new(&name), AccessCheck::Exists)? {
            return Ok(HotJournal::NotHot(NotHotBecause::SuperJournalGone(name)));
        }
    }
    Ok(HotJournal::Hot)
}
