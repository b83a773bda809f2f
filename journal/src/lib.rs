//! folio-journal: SQLite's rollback journal (`<db>-journal`), byte for byte.
//!
//! * [`format`](mod@format): the codec of the journal's bytes (headers, page records with
//!   SQLite's sampled checksum, the super-journal trailer). Offsets and byte order live only
//!   there.
//! * [`writer`]: a journal written as SQLite's pager writes it, including the sync sequence and
//!   segments after a mid-transaction sync.
//! * [`hot`]: SQLite's hot-journal rules.
//! * [`playback`]: rolling the database back: truncate to the original size, restore every
//!   record that verifies, stop quietly at the first that does not.
//!
//! Finalizing (delete, truncate, or zeroing the header for PERSIST) is the pager's choice; it
//! uses the VFS directly and [`writer::zero_header`].
//!
//! * [`error`]: the crate's [`Error`], which wraps the VFS's.
//!
//! Depends on `folio-vfs` only. It knows nothing of the pager or the WAL: it takes page numbers
//! and page bytes.
#![forbid(unsafe_code)]

pub mod error;
pub mod format;
pub mod hot;
pub mod playback;
pub mod writer;

pub use error::{Error, Result};
