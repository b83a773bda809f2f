//! folio-asyncio: an asynchronous write-queue VFS.
//!
//! **Not implemented yet** (see the folio-asyncio issue). Its future role: wrap any
//! `folio_vfs::Vfs`; writes, syncs, truncates and deletes return at once and are drained by one
//! owned background thread from a bounded queue; reads, sizes and existence checks see the queue;
//! a durability watermark says what has reached the disk.
//!
//! Depends on `folio-vfs` only.
