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
//! * [`stock_sqlite`] runs stock SQLite (rusqlite, bundled) on Folio VFSes through
//!   folio-sqlite-bridge: connections on a registered VFS (the simulated disk included), a
//!   realistic workload with its model, and stock SQLite as a crash-harness subject.
//!
//! The two stock-SQLite helpers fail loudly (a panic naming what to install) when their tool
//! is missing, never skip, and bound every wait with a timeout so a hung child fails the test
//! instead of hanging CI.

pub mod crash;
pub mod sqlite_child;
pub mod sqlite_cli;
pub mod sqlite_hot;
pub mod stock_sqlite;

mod pipe;
