//! folio-journal: SQLite's rollback journal (`<db>-journal`), byte for byte.
//!
//! Done so far: [`format`](mod@format), the codec of the journal's bytes (headers, page records with
//! SQLite's sampled checksum, the super-journal trailer). Still to come (the rollback-journal
//! issue): the writer, hot-journal detection by SQLite's exact rules, and playback.
//!
//! Depends on `folio-vfs` only. It knows nothing of the pager or the WAL: it takes page numbers
//! and page bytes.
#![forbid(unsafe_code)]

pub mod format;
