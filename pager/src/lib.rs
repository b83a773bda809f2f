//! folio-pager: the page cache and transactions over a folio VFS.
//!
//! Done so far: [`header`], the codec of the 100-byte database header (page size with 65536
//! stored as 1, format versions, the change counter, the in-header size and when to trust it).
//!
//! Still to come (the rollback-journal and WAL issues): open a database through any
//! `folio_vfs::Vfs`, keep a page cache with SQLite's `cache_size` semantics, read pages through
//! the mmap path when `mmap_size > 0`, and run SQLite's commit sequence for the DELETE,
//! TRUNCATE, PERSIST, MEMORY, OFF and WAL journal modes.
//!
//! Depends on `folio-journal`, `folio-wal` and `folio-vfs`. It speaks in page numbers and page
//! bytes and knows nothing of b-trees.
#![forbid(unsafe_code)]

pub mod header;
