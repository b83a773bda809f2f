//! folio-pager: the page cache and transactions of one connection to a database file, over
//! any folio VFS, with SQLite's rollback-journal modes and file compatibility.
//!
//! * [`Pager`]: open a database, read pages in a read transaction, change them in a write
//!   transaction, commit (SQLite's sequence for DELETE, TRUNCATE, PERSIST, MEMORY and OFF at
//!   synchronous OFF, NORMAL, FULL, EXTRA) or roll back; hot journals left by a crashed writer
//!   (Folio's or sqlite3's) are rolled back before anyone reads.
//! * [`PageRef`]: a page handed out for reading, from the cache or straight from the memory
//!   map when `mmap_size > 0`.
//! * [`PagerOptions`] and the pragma-like settings ([`JournalMode`], [`Synchronous`],
//!   [`LockingMode`], `cache_size`, `mmap_size`, `journal_size_limit`, busy timeout).
//! * WAL mode ([`JournalMode::Wal`]): reads from the write-ahead log up to the transaction's
//!   snapshot, commits as log frames, checkpoints ([`Pager::checkpoint`], auto-checkpoint, a
//!   hook), live-compatible with stock sqlite3 processes sharing the database (through
//!   `folio-wal`).
//! * [`header`]: the codec of the 100-byte database header.
//!
//! ```
//! use folio_pager::{Pager, PagerOptions};
//! use folio_vfs::memory::MemoryVfs;
//! use std::{path::Path, sync::Arc};
//!
//! let vfs = Arc::new(MemoryVfs::new());
//! let mut pager = Pager::open(vfs.clone(), Path::new("/db"), PagerOptions::default())?;
//! pager.begin_write()?;
//! pager.page_mut(2)?.fill(7); // page 1 (the header page) is created with it
//! pager.commit()?;
//!
//! let mut reader = Pager::open(vfs, Path::new("/db"), PagerOptions::default())?;
//! reader.begin_read()?;
//! assert_eq!(reader.page_count(), 2);
//! assert!(reader.get(2)?.iter().all(|&b| b == 7));
//! assert_eq!(&reader.get(1)?[..16], b"SQLite format 3\0");
//! reader.end_read()?;
//! # Ok::<(), folio_pager::Error>(())
//! ```
//!
//! Depends on `folio-journal`, `folio-wal` and `folio-vfs`. It speaks in page numbers and page bytes and
//! knows nothing of b-trees; the first 100 bytes of page 1 (the database header) are its own.
#![forbid(unsafe_code)]

mod cache;
pub mod config;
pub mod error;
pub mod header;
mod page;
mod pager;

pub use config::{JournalMode, LockingMode, PagerOptions, Synchronous};
pub use error::{Action, Corruption, Error, Misuse, Result};
pub use folio_wal::{Checkpoint, CheckpointMode};
pub use page::PageRef;
pub use pager::{journal_path, Pager, PagerStats, WRITER_VERSION};
