//! folio-wal: SQLite's write-ahead log (`<db>-wal`) and wal-index (`<db>-shm`), byte for byte.
//!
//! What exists now (the codecs; <https://sqlite.org/walformat.html>):
//! * [`format`](mod@format): the WAL file's bytes: the 32-byte header (magic choosing the
//!   checksum word order, version, page size, checkpoint sequence, salts, checksum), the 24-byte
//!   frame headers, SQLite's cumulative checksum (`walChecksumBytes`) in both byte orders and its
//!   chain header → frame 1 → frame 2 …, and a [`format::FrameEncoder`] that writes frames.
//! * [`scan`](mod@scan): the valid prefix of a WAL file read through a `folio_vfs::VfsFile`, exactly
//!   as SQLite's recovery accepts it: the log up to the last commit frame (`mxFrame`), the
//!   database size after it, the salts, checkpoint sequence and running checksum to append
//!   from; stale frames of an older generation, a torn or mis-checksummed tail, a partial last
//!   frame end it.
//! * [`index`]: the wal-index in shared memory, through `folio_vfs::ShmRegion`'s atomic
//!   accessors only: geometry (32 KiB regions, 4062 frames in the first and 4096 in the others,
//!   8192 hash slots), the two 48-byte header copies with their checksum (written copy 2 then
//!   copy 1, read copy 1 then copy 2), the checkpoint info (backfill counts, five read marks),
//!   and the hash tables: `walHash`, which region and slot hold frame N, insertion
//!   (`walIndexAppend` with its clean-up of a crashed writer's entries) and the lookup
//!   (`sqlite3WalFindFrame`).
//!
//! * [`Wal`] ([`conn`]): one connection's protocols over the log and the wal-index (SQLite's
//!   wal.c, `walTryBeginRead`, `walCheckpoint`): read transactions (snapshot, read mark, retry),
//!   write transactions (WRITE lock, stale snapshots refused, the log restarted with new salts once
//!   fully checkpointed and unused, frames with SQLite's syncs and sector padding), rollback of
//!   uncommitted frames, recovery of the wal-index from the log under the RECOVER lock, checkpoints
//!   ([`CheckpointMode`]: PASSIVE, FULL, RESTART, TRUNCATE — without the WAL-reset race SQLite
//!   fixed in 3.51.3), the last connection's cleanup, and a heap-memory index without `-shm` for
//!   `locking_mode=EXCLUSIVE`. The dead-man switch at open is the VFS's (`shm_map`).
//!
//! Not supported: a read-only `-shm` (SQLite's "unreliable shm" read path; a connection needs
//! write access to the `-shm`), snapshots (`sqlite3_snapshot_*`), savepoints inside a write
//! transaction, switching a connection with a real `-shm` into exclusive locking mode.
//!
//! Invariants:
//! * Depends on `folio-vfs` only. It knows nothing of the pager, b-trees or the rollback
//!   journal: it takes page numbers and page bytes.
//! * Bytes read from a WAL never cause a panic: an invalid header or frame is a value saying
//!   which check failed, and it ends the log as it does in SQLite.
//! * Shared memory is touched only through `ShmRegion`'s atomic 32- and 16-bit accessors, each
//!   offset always at one width (32-bit words for the header and page numbers, 16-bit for hash
//!   slots), never as a Rust reference.
#![forbid(unsafe_code)]

pub mod conn;
pub mod error;
pub mod format;
pub mod index;
pub mod scan;
#[cfg(test)]
mod testing;

pub use conn::{wal_path, Checkpoint, CheckpointMode, Wal, WalOptions, WalSync};
pub use error::{Corruption, Error, IndexCorruption, Misuse, ReadOnlyRefusal, Result};
pub use scan::{scan, FrameEntry, ScanEnd, WalScan};
