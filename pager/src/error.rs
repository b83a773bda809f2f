//! The pager's error type: what went wrong, in which file, at which page or offset, and which
//! check or rule it was.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::header::InvalidHeader;

/// `Result` with the pager's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the pager. I/O and lock conflicts come from the layers below unchanged
/// ([`Error::Vfs`], [`Error::Journal`], [`Error::Wal`]); the rest is the pager's own judgement.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The VFS failed (I/O error, lock conflict, cannot open, …).
    #[error(transparent)]
    Vfs(#[from] folio_vfs::Error),
    /// The rollback journal failed (its I/O errors and lock conflicts included).
    #[error(transparent)]
    Journal(#[from] folio_journal::Error),
    /// The write-ahead log or its wal-index failed (lock conflicts and I/O errors included).
    #[error(transparent)]
    Wal(#[from] folio_wal::Error),
    /// The file's bytes break a rule of the format (SQLITE_CORRUPT).
    #[error("database disk image is malformed: {}: {check}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// Which check failed, with the page and offset it concerns.
        check: Corruption,
    },
    /// The file is not an SQLite database (SQLITE_NOTADB).
    #[error("file is not a database: {} ({header})", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// The header field that is wrong (its offset), and how.
        header: InvalidHeader,
    },
    /// A write on a read-only pager (SQLITE_READONLY).
    #[error("attempt to write a readonly database: {}: cannot {action}", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// What was attempted.
        action: Action,
    },
    /// The database file was renamed or deleted (or another file took its name) since it was
    /// opened, so a journal made now would sit beside the wrong file: writing is refused
    /// (SQLITE_READONLY_DBMOVED). Reading goes on; reopen the database under its new name.
    #[error("{} was moved or deleted while open; refusing to write it (reopen it by its new name)", path.display())]
    Moved {
        /// The name the database was opened under.
        path: PathBuf,
    },
    /// A hot journal must be rolled back but this pager is read-only (SQLITE_READONLY_ROLLBACK).
    #[error("{} has a hot journal that a read-only connection cannot roll back", path.display())]
    ReadOnlyRollback {
        /// The database file.
        path: PathBuf,
    },
    /// An earlier failure left the pager unusable; reopen it (the hot journal it left, if any,
    /// is rolled back then).
    #[error(
        "the pager of {} is unusable after an earlier failure ({cause}{}); reopen it",
        path.display(), rollback_failure(rollback.as_deref())
    )]
    Poisoned {
        /// The database file.
        path: PathBuf,
        /// The failure that poisoned it.
        #[source]
        cause: Arc<Error>,
        /// The rollback attempted after it, if that failed too.
        rollback: Option<Arc<Error>>,
    },
    /// The caller broke the API's rules (no transaction open, page 0, …) (SQLITE_MISUSE).
    #[error("misuse of the pager of {}: {rule}", path.display())]
    Misuse {
        /// The database file.
        path: PathBuf,
        /// The broken rule.
        rule: Misuse,
    },
    /// A setting or pragma value that is not one of the accepted ones.
    #[error("invalid {setting} {value:?}: expected {expected}")]
    InvalidValue {
        /// The setting (e.g. `journal_mode`).
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
}

fn rollback_failure(rollback: Option<&Error>) -> String {
    rollback.map(|e| format!("; the rollback failed too: {e}")).unwrap_or_default()
}

/// Which check of the database file failed ([`Error::Corrupt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The header's database size (page 1, offset 28) is more pages than the file holds.
    #[error(
        "page 1 (offset 28): the header says the database has {header_pages} pages but the \
         file holds only {file_pages} ({file_size} bytes)"
    )]
    PageCountBeyondFile {
        /// The size the header records.
        header_pages: u32,
        /// Whole pages in the file.
        file_pages: u64,
        /// The file's size in bytes.
        file_size: u64,
    },
    /// The database's size is more pages than a page number can name.
    #[error("{pages} pages is more than a database can have")]
    TooManyPages {
        /// The size in pages.
        pages: u64,
    },
    /// A read of the lock-byte page, which never holds content.
    #[error("page {page} (offset {offset}): the lock-byte page is never a content page")]
    LockBytePage {
        /// The page.
        page: u32,
        /// Its byte offset in the file.
        offset: u64,
    },
    /// The log's page size differs from the page size in the database header (page 1,
    /// offset 16).
    #[error("page 1 (offset 16): the log holds {log}-byte pages but the header says {header}")]
    WalPageSize {
        /// The log's page size.
        log: u32,
        /// The header's page size.
        header: u32,
    },
}

impl Corruption {
    /// The page the failed check concerns, if one.
    pub fn page(&self) -> Option<u32> {
        match self {
            Corruption::PageCountBeyondFile { .. } | Corruption::WalPageSize { .. } => Some(1),
            Corruption::LockBytePage { page, .. } => Some(*page),
            Corruption::TooManyPages { .. } => None,
        }
    }

    /// The byte offset in the database file the failed check concerns, if known.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Corruption::PageCountBeyondFile { .. } => Some(28),
            Corruption::WalPageSize { .. } => Some(16),
            Corruption::LockBytePage { offset, .. } => Some(*offset),
            Corruption::TooManyPages { .. } => None,
        }
    }
}

/// What a caller asked of the pager, as named by [`Error::ReadOnly`] and [`Misuse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Begin a write transaction.
    BeginWrite,
    /// Write a database whose header declares a newer file format.
    WriteNewerFormat,
    /// Checkpoint the log.
    Checkpoint,
    /// Switch the database to WAL mode.
    EnterWal,
    /// Switch the database out of WAL mode.
    LeaveWal,
    /// End a read transaction.
    EndRead,
    /// Change the page size.
    ChangePageSize,
    /// Change the bytes reserved at the end of each page.
    ChangeReservedBytes,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::BeginWrite => "begin a write transaction",
            Action::WriteNewerFormat => "write a database of a newer file format",
            Action::Checkpoint => "checkpoint",
            Action::EnterWal => "switch to WAL mode",
            Action::LeaveWal => "leave WAL mode",
            Action::EndRead => "end the read transaction",
            Action::ChangePageSize => "change the page size",
            Action::ChangeReservedBytes => "change the reserved bytes",
        })
    }
}

/// Which rule of the pager's API a caller broke ([`Error::Misuse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// `set_journal_mode` inside a write transaction.
    #[error("change journal_mode inside a write transaction")]
    JournalModeInWrite,
    /// A switch to or from WAL mode inside a transaction.
    #[error("switch to or from WAL inside a transaction")]
    WalSwitchInTransaction,
    /// A setting that only an empty database outside a transaction may change.
    #[error("{0}: only possible on an empty database outside a transaction")]
    NotEmpty(Action),
    /// An action that needs every mapped page back while some are still held.
    #[error(
        "{action} while {held} mapped page(s) are still held (drop them first: their bytes are \
         only stable under the lock)"
    )]
    MappedPagesHeld {
        /// What was asked.
        action: Action,
        /// Mapped pages still held.
        held: usize,
    },
    /// `end_read` inside a write transaction.
    #[error("end_read inside a write transaction")]
    EndReadInWrite,
    /// A page read with no transaction open.
    #[error("read a page outside a transaction (call begin_read)")]
    ReadOutsideTransaction,
    /// A read of a page past the end of the database.
    #[error("page {page} does not exist (the database has {db_pages} pages)")]
    PageBeyondEnd {
        /// The page asked for.
        page: u32,
        /// The database's size in pages.
        db_pages: u32,
    },
    /// A checkpoint inside a transaction.
    #[error("checkpoint inside a transaction")]
    CheckpointInTransaction,
    /// A page write whose data is not one page long.
    #[error("write of {len} bytes to page {page}: a page is {page_size} bytes")]
    WriteSize {
        /// The page.
        page: u32,
        /// The data's length.
        len: usize,
        /// The page size.
        page_size: u32,
    },
    /// A page change with no write transaction open.
    #[error("modify a page outside a write transaction")]
    ModifyOutsideWrite,
    /// A change of page 0 or of the lock-byte page.
    #[error("page {page} is not a content page (0, or the lock-byte page)")]
    NotContentPage {
        /// The page.
        page: u32,
    },
    /// `truncate` with no write transaction open.
    #[error("truncate outside a write transaction")]
    TruncateOutsideWrite,
    /// `truncate` to more pages than the database has.
    #[error(
        "truncate to {pages} pages: the database has only {db_pages} (write pages to grow it)"
    )]
    TruncateBeyondEnd {
        /// The size asked for.
        pages: u32,
        /// The database's size in pages.
        db_pages: u32,
    },
    /// `commit` with no write transaction open.
    #[error("commit without a write transaction")]
    CommitOutsideWrite,
    /// `rollback` with no write transaction open.
    #[error("rollback without a write transaction")]
    RollbackOutsideWrite,
    /// Page 1 was given a database header of another geometry than the database's.
    #[error(
        "page 1 was given a database header that does not match this database ({}; the \
         database has page size {page_size} and {reserved} reserved bytes)",
        match given { Some((p, r)) => format!("page size {p} and {r} reserved bytes"), None => "not a valid header".to_string() }
    )]
    Page1Header {
        /// The page size and reserved bytes the new header declares (`None`: not a valid
        /// header).
        given: Option<(u32, u8)>,
        /// The database's page size.
        page_size: u32,
        /// The database's reserved bytes.
        reserved: u8,
    },
}

impl Error {
    /// True when a lock was not available: retrying later may succeed (SQLITE_BUSY).
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Vfs(e) => e.is_busy(),
            Error::Journal(e) => e.is_busy(),
            Error::Wal(e) => e.is_busy(),
            _ => false,
        }
    }

    /// True when a WAL read transaction's snapshot is stale and cannot become a write
    /// transaction (SQLITE_BUSY_SNAPSHOT): end the read transaction and start again.
    pub fn is_busy_snapshot(&self) -> bool {
        matches!(self, Error::Wal(folio_wal::Error::BusySnapshot { .. }))
    }

    /// The VFS error underneath, if any (directly or through the journal or the WAL).
    pub fn vfs_error(&self) -> Option<&folio_vfs::Error> {
        match self {
            Error::Vfs(e) | Error::Wal(folio_wal::Error::Vfs(e)) => Some(e),
            Error::Journal(e) => e.vfs_error(),
            _ => None,
        }
    }

    /// The VFS error underneath, by value, or the error itself when there is none.
    pub fn into_vfs_error(self) -> Result<folio_vfs::Error, Error> {
        match self {
            Error::Vfs(e)
            | Error::Wal(folio_wal::Error::Vfs(e))
            | Error::Journal(folio_journal::Error::Vfs(e)) => Ok(e),
            other => Err(other),
        }
    }

    /// True for [`Error::Corrupt`] and [`Error::NotADatabase`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Corrupt { .. } | Error::NotADatabase { .. })
    }

    /// True when the failure was a full disk (SQLITE_FULL).
    pub fn is_disk_full(&self) -> bool {
        self.vfs_error().is_some_and(|e| e.is_disk_full())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shows(error: &Error, parts: &[&str]) {
        let text = error.to_string();
        for part in parts {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
    }

    fn db() -> PathBuf {
        PathBuf::from("/d/a.db")
    }

    fn io_error() -> folio_vfs::Error {
        let source = std::io::Error::from_raw_os_error(5);
        folio_vfs::Error::io_at(folio_vfs::Op::Sync, db(), 1024, source)
    }

    #[test]
    fn errors_below_keep_their_message_and_predicates() {
        shows(&Error::from(io_error()), &["sync /d/a.db", "offset 1024"]);
        let journal = Error::from(folio_journal::Error::from(io_error()));
        shows(&journal, &["sync /d/a.db", "offset 1024"]);
        assert!(journal.vfs_error().is_some());
        assert!(journal.clone().into_vfs_error().is_ok_and(|e| e.to_string().contains("/d/a.db")));
        let busy = folio_vfs::Error::busy(
            folio_vfs::Op::Lock,
            db(),
            folio_vfs::Lock::File(folio_vfs::LockLevel::Reserved),
        );
        assert!(Error::from(folio_journal::Error::from(busy.clone())).is_busy());
        assert!(Error::from(folio_wal::Error::from(busy)).is_busy());
        let wal = folio_wal::Error::BusyRecovery { path: "/d/a.db-wal".into() };
        shows(&Error::from(wal), &["/d/a.db-wal"]);
    }

    #[test]
    fn corrupt_names_the_file_page_offset_and_check() {
        use Corruption::*;
        let checks = [
            (
                PageCountBeyondFile { header_pages: 9, file_pages: 3, file_size: 12288 },
                vec!["page 1", "offset 28", "9 pages", "only 3", "12288 bytes"],
            ),
            (TooManyPages { pages: 1 << 33 }, vec!["8589934592 pages"]),
            (
                LockBytePage { page: 262145, offset: 1 << 30 },
                vec!["page 262145", "offset 1073741824"],
            ),
            (
                WalPageSize { log: 1024, header: 4096 },
                vec!["page 1", "offset 16", "1024-byte", "4096"],
            ),
        ];
        for (check, words) in checks {
            let mut words = words;
            words.extend(["malformed", "/d/a.db"]);
            shows(&Error::Corrupt { path: db(), check }, &words);
            if let Some(page) = check.page() {
                assert!(check.to_string().contains(&format!("page {page}")), "{check}");
            }
            if let Some(offset) = check.offset() {
                assert!(check.to_string().contains(&format!("offset {offset}")), "{check}");
            }
        }
    }

    #[test]
    fn not_a_database_names_the_header_offset() {
        let header = InvalidHeader::PageSize { page_size: 3 };
        shows(
            &Error::NotADatabase { path: db(), header },
            &["/d/a.db", "offset 16", "page size 3"],
        );
    }

    #[test]
    fn refusals_name_the_file_and_action() {
        let actions = [
            Action::BeginWrite,
            Action::WriteNewerFormat,
            Action::Checkpoint,
            Action::EnterWal,
            Action::LeaveWal,
            Action::EndRead,
            Action::ChangePageSize,
            Action::ChangeReservedBytes,
        ];
        for action in actions {
            let e = Error::ReadOnly { path: db(), action };
            shows(&e, &["readonly", "/d/a.db", &format!("cannot {action}")]);
        }
        shows(&Error::Moved { path: db() }, &["/d/a.db", "moved"]);
        shows(&Error::ReadOnlyRollback { path: db() }, &["/d/a.db", "hot journal"]);
        let e = Error::InvalidValue { setting: "journal_mode", value: "x".into(), expected: "y" };
        shows(&e, &["journal_mode", "\"x\"", "expected y"]);
    }

    #[test]
    fn poisoned_keeps_the_cause_and_the_failed_rollback() {
        use std::error::Error as _;
        let cause = Arc::new(Error::from(io_error()));
        let rollback = Some(Arc::new(Error::from(io_error())));
        let e = Error::Poisoned { path: db(), cause, rollback };
        shows(&e, &["pager of /d/a.db", "sync /d/a.db", "the rollback failed too", "reopen"]);
        assert!(e.source().is_some_and(|s| s.to_string().contains("offset 1024")));
        let e = Error::Poisoned {
            path: db(),
            cause: Arc::new(Error::from(io_error())),
            rollback: None,
        };
        assert!(!e.to_string().contains("rollback"), "{e}");
    }

    #[test]
    fn misuse_names_the_file_and_the_rule() {
        use Misuse::*;
        let rules = [
            (JournalModeInWrite, "journal_mode inside a write"),
            (WalSwitchInTransaction, "WAL inside a transaction"),
            (NotEmpty(Action::ChangePageSize), "change the page size: only possible on an empty"),
            (MappedPagesHeld { action: Action::EndRead, held: 2 }, "2 mapped page(s)"),
            (EndReadInWrite, "end_read inside"),
            (ReadOutsideTransaction, "outside a transaction"),
            (PageBeyondEnd { page: 9, db_pages: 4 }, "page 9 does not exist (the database has 4"),
            (CheckpointInTransaction, "checkpoint inside"),
            (WriteSize { page: 3, len: 10, page_size: 4096 }, "10 bytes to page 3: a page is 4096"),
            (ModifyOutsideWrite, "modify a page outside"),
            (NotContentPage { page: 0 }, "page 0 is not a content page"),
            (TruncateOutsideWrite, "truncate outside"),
            (
                TruncateBeyondEnd { pages: 8, db_pages: 5 },
                "truncate to 8 pages: the database has only 5",
            ),
            (CommitOutsideWrite, "commit without"),
            (RollbackOutsideWrite, "rollback without"),
            (
                Page1Header { given: Some((1024, 0)), page_size: 4096, reserved: 8 },
                "page size 1024 and 0 reserved bytes; the database has page size 4096 and 8",
            ),
            (Page1Header { given: None, page_size: 4096, reserved: 0 }, "not a valid header"),
        ];
        for (rule, words) in rules {
            shows(&Error::Misuse { path: db(), rule }, &["misuse of the pager of /d/a.db", words]);
        }
    }
}
