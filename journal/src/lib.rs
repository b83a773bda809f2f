//! folio-journal: SQLite's rollback journal (`<db>-journal`), byte for byte.
//!
//! **Not implemented yet** (see the rollback-journal issue). Its future role: the journal header
//! codec (magic, record count, nonce, initial database size, sector and page size), page records
//! with SQLite's sampled checksum, several headers in one journal, the super-journal trailer, a
//! writer, hot-journal detection by SQLite's exact rules, and playback.
//!
//! Depends on `folio-vfs` only. It knows nothing of the pager or the WAL: it takes page numbers
//! and page bytes.
#![forbid(unsafe_code)]
