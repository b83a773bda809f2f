//! folio-wal: SQLite's write-ahead log (`<db>-wal`) and wal-index (`<db>-shm`).
//!
//! **Not implemented yet** (see the WAL issue). Its future role: the WAL file codec (header,
//! frames, cumulative checksums in both byte orders, salts), the wal-index written through the
//! VFS shared-memory API (`folio_vfs::ShmRegion`, atomic accessors only), the reader, writer,
//! checkpoint and recovery protocols, live-compatible with stock sqlite3 processes.
//!
//! Depends on `folio-vfs` only. It knows nothing of the pager or the rollback journal.
#![forbid(unsafe_code)]
