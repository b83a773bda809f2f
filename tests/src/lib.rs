//! folio-tests: shared helpers for the cross-crate suites (the suites themselves are the one
//! test binary `tests/it.rs`).
//!
//! * [`sqlite_child`] drives a stock-SQLite child process (Python's `sqlite3` module, script
//!   `scripts/sqlite_child.py`) over a line protocol, and probes POSIX locks from outside our
//!   process with `F_GETLK`: the other side of every lock-interop test.
//! * [`sqlite_cli`] runs the stock `sqlite3` command-line shell on a database.
//! * [`sqlite_hot`] has a stock sqlite3 killed mid-transaction leave a hot journal, and copies
//!   it for each recoverer.
//! * [`crash`] is the crash-test harness: seeded workloads on the simulated disk, crash points
//!   swept or sampled, and the committed-prefix oracle.
//! * [`fuzz`] holds the bodies of the fuzz targets (one per decoder of bytes read from disk),
//!   shared with the cargo-fuzz binaries under `fuzz/`.
//! * [`fixed_table`] reads (and updates in place) one shape of SQLite table page by page:
//!   `t(id INTEGER PRIMARY KEY, v INTEGER)` with 8-byte values, for the WAL suites whose
//!   Folio side has no b-tree layer.
//! * [`stock_sqlite`] runs stock SQLite (rusqlite, bundled) on Folio VFSes through
//!   folio-sqlite-bridge: connections on a registered VFS (the simulated disk included), a
//!   realistic workload with its model, and stock SQLite as a crash-harness subject.
//! * [`wal_workload`] is the live WAL workload: processes of ours (the `folio-wal-worker`
//!   binary) and stock sqlite3 processes (`scripts/wal_peer.py`) reading and writing one WAL
//!   database at once, each checking on every snapshot that `sum(v)` is constant, that no
//!   commit was lost and that no snapshot is older than the one before.
//!
//! The two stock-SQLite helpers fail loudly (a panic naming what to install) when their tool
//! is missing, never skip, and bound every wait with a timeout so a hung child fails the test
//! instead of hanging CI.

pub mod crash;
pub mod fixed_table;
pub mod fuzz;
pub mod sqlite_child;
pub mod sqlite_cli;
pub mod sqlite_hot;
pub mod stock_sqlite;
pub mod wal_workload;

mod pipe;
