//! The one cross-crate test binary of folio-tests; each suite is a module under `it/`.
//!
//! * `header_interop`: the database-header codec against files written by stock sqlite3.
//! * `journal_interop`: the journal codec against journals written by stock sqlite3.
//! * `pager_interop`: folio-pager against stock sqlite3 both ways: a page transplant in every
//!   journal mode, hot journals each side leaves rolled back by the other, cache invalidation.
//! * `lock_interop`: the database-file lock protocol against stock sqlite3 in another process,
//!   both directions, including the close pitfall of POSIX locks (SQLite's os_unix.c,
//!   `unixInodeInfo`).
//! * `shm_interop`: the `-shm` lock slots and dead-man switch against stock sqlite3
//!   (<https://sqlite.org/walformat.html>).
//! * `readonly_shm`: a read-only `-shm` (`readonly_shm=1`) on the OS VFS, folio-pager and stock
//!   SQLite through the bridge beside SQLite's unix VFS: a live stock writer's commits read
//!   without writing the `-shm`, no checkpoint; a dead writer's log read through a private index.
//! * `crash_harness`: the crash-test harness proving itself on the toy commit protocol.
//! * `fuzz_corpus`: every fuzz target's corpus and every crash it found, replayed on stable,
//!   and seeded random inputs through each target.
//! * `async_crash`: the toy commit protocol through folio-asyncio's async VFS on the simulated
//!   disk: every crash recovers a committed prefix that keeps everything at or before the
//!   durability watermark; I/O errors at every operation.
//! * `pager_crash`: folio-pager's crash suite on the simulated disk: DELETE/TRUNCATE/PERSIST
//!   × NORMAL/FULL/EXTRA at every crash point, SQLite's durability exceptions exactly, canaries,
//!   I/O errors at every operation, crash images recovered alike by stock sqlite3.
//! * `bridge_interop`: stock SQLite (rusqlite, bundled) on Folio's OS and memory VFSes through
//!   folio-sqlite-bridge, in every journal mode and with mmap, checked by the stock sqlite3 shell.
//! * `bridge_crash`: stock SQLite on the simulated disk through the bridge: every crash point,
//!   injected faults as SQLite codes, crash images opened by the stock sqlite3 shell.
//! * `async_sqlite`: stock SQLite through the bridge on folio-asyncio's async VFS over the OS
//!   VFS: the realistic workload in every journal mode (WAL in exclusive locking mode: no shared
//!   memory through the queue), the same rows as on the plain OS VFS, the drained file checked
//!   by the stock sqlite3 shell; the writer halted (reads served by the queue); a small bound.
//! * `async_sqlite_crash`: stock SQLite on the async VFS on the simulated disk: power cut at
//!   every write and sync the writer issues; recovery gives a committed prefix keeping every
//!   commit at or before the durability watermark, and the stock sqlite3 shell agrees.
//! * `wal_live`: live interop on one WAL database: our writer with stock readers, a stock
//!   writer with our readers, writers of both kinds at once, a log outgrowing the first `-shm`
//!   region; checkpoints from both sides, every snapshot checked, integrity check from both
//!   sides afterwards.
//! * `wal_multiprocess`: several processes of ours on one WAL database without a lost update or
//!   a torn read, checkpointing in every mode, restarting the log under running checkpoints.
//! * `wal_crash`: folio-pager's crash suite in WAL mode: one connection committing, rolling
//!   back, checkpointing in every mode and reopening, at NORMAL/FULL/EXTRA on six simulated
//!   devices; no acknowledged commit lost at FULL, a committed prefix keeping every checkpoint
//!   at NORMAL; canaries, I/O errors at every operation, crash images recovered alike by stock
//!   sqlite3.
//! * `sqlite_apps`: what long-running SQLite applications rely on, through the bridge on the
//!   OS VFS and on SQLite's unix VFS side by side: descriptors reused, symbolic links
//!   resolved (and refused with NOFOLLOW), moved databases refusing writes, sidecar file modes.
//! * `support`: the file format's offsets (<https://sqlite.org/fileformat2.html>) and small helpers
//!   both suites use.

// The suites live in `it/` beside this file; a test crate's root resolves `mod x;` to `x.rs`
// next to it, hence the paths.
#[path = "it/async_crash.rs"]
mod async_crash;
#[path = "it/async_sqlite.rs"]
mod async_sqlite;
#[path = "it/async_sqlite_crash.rs"]
mod async_sqlite_crash;
#[path = "it/bridge_crash.rs"]
mod bridge_crash;
#[path = "it/bridge_interop.rs"]
mod bridge_interop;
#[path = "it/crash_harness.rs"]
mod crash_harness;
#[path = "it/fuzz_corpus.rs"]
mod fuzz_corpus;
#[path = "it/header_interop.rs"]
mod header_interop;
#[path = "it/journal_interop.rs"]
mod journal_interop;
#[path = "it/lock_interop.rs"]
mod lock_interop;
#[path = "it/pager_crash.rs"]
mod pager_crash;
#[path = "it/pager_interop.rs"]
mod pager_interop;
#[path = "it/pager_wal_interop.rs"]
mod pager_wal_interop;
#[path = "it/readonly_shm.rs"]
mod readonly_shm;
#[path = "it/shm_interop.rs"]
mod shm_interop;
#[path = "it/sqlite_apps.rs"]
mod sqlite_apps;
#[path = "it/support.rs"]
mod support;
#[path = "it/wal_crash.rs"]
mod wal_crash;
#[path = "it/wal_live.rs"]
mod wal_live;
#[path = "it/wal_multiprocess.rs"]
mod wal_multiprocess;
