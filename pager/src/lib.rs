//! folio-pager: the page cache and transactions over a folio VFS.
//!
//! **Not implemented yet** (see the rollback-journal and WAL issues). Its future role: open a
//! database through any `folio_vfs::Vfs`, keep a page cache with SQLite's `cache_size`
//! semantics, read pages through the mmap path when `mmap_size > 0`, and run SQLite's commit
//! sequence for the DELETE, TRUNCATE, PERSIST, MEMORY, OFF and WAL journal modes.
//!
//! Depends on `folio-journal`, `folio-wal` and `folio-vfs`. It speaks in page numbers and page
//! bytes and knows nothing of b-trees.
#![forbid(unsafe_code)]
