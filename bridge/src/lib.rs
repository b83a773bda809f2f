//! folio-sqlite-bridge: registers any Folio VFS ([`folio_vfs::Vfs`]) with stock SQLite under a
//! name, as `sqlite3async_initialize` did for SQLite's async VFS, so an application using
//! rusqlite (or any SQLite API user in the process) opens databases through Folio's OS VFS, its
//! memory VFS, its simulated disk, or any other `Vfs`.
//!
//! * [`register`] / [`unregister`] (or the scoped [`Registration`]) add and remove a
//!   `sqlite3_vfs` (version 2) whose files carry `sqlite3_io_methods` version 3: reads and
//!   writes, the five-level database locks, shared memory for the wal-index (so WAL works in
//!   normal locking mode, with other connections and other processes), and memory-mapped pages
//!   (`PRAGMA mmap_size`).
//! * Errors come back to SQLite as the codes its unix VFS uses ([`sqlite_code`]): `SQLITE_BUSY`,
//!   `SQLITE_FULL`, `SQLITE_READONLY`, `SQLITE_CANTOPEN`, and the extended `SQLITE_IOERR_*` of
//!   the operation that failed; [`last_error`] keeps the full folio-vfs message (operation, path,
//!   offset, OS error) for the calling thread, and SQLite's error log receives it too.
//!
//! Depends on folio-vfs and libsqlite3-sys only (it knows nothing of the journal, WAL or pager
//! crates: SQLite brings its own). Use the same libsqlite3-sys as your rusqlite (0.40 for
//! rusqlite 0.43): `links = "sqlite3"` makes Cargo refuse two SQLite copies in one build.
//!
//! # Features
//! * `bundled` (default): compile SQLite from source, as `rusqlite/bundled` does; the two unify.
//!   Without it, the system's libsqlite3 is linked.
//!
//! # Invariants
//! * A panic never unwinds into SQLite: every callback catches it and returns an error code
//!   (the I/O code of the method, `SQLITE_CANTOPEN` for `xOpen`), recorded in [`last_error`].
//! * Memory SQLite holds stays valid while it may use it: shared-memory regions until
//!   `xShmUnmap`, mapped pages until `xUnfetch`, each `sqlite3_vfs` for the rest of the process
//!   (see [`register`] for why).
//! * `unsafe` is confined to this crate's FFI edges, each block with its `// SAFETY:` reason.
//!
//! # Example
//! ```
//! use folio_sqlite_bridge::Registration;
//! use folio_vfs::memory::MemoryVfs;
//! use rusqlite::{Connection, OpenFlags};
//! use std::sync::Arc;
//!
//! let vfs = Arc::new(MemoryVfs::new());
//! let registration = Registration::unique("doc-memory", vfs)?;
//! let conn = Connection::open_with_flags_and_vfs(
//!     "/docs/example.db",
//!     OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
//!     registration.name(),
//! )?;
//! conn.execute_batch(
//!     "PRAGMA journal_mode=WAL;
//!      CREATE TABLE t(x);
//!      INSERT INTO t VALUES (1), (2), (3);",
//! )?;
//! let sum: i64 = conn.query_row("SELECT sum(x) FROM t", [], |row| row.get(0))?;
//! assert_eq!(sum, 6);
//! assert_eq!(registration.open_files(), 2, "the database and its WAL");
//! drop(conn); // connections first, then the registration
//! drop(registration);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codes;
mod guard;
mod io_methods;
mod registry;
mod shell;
mod vfs_methods;

pub use codes::sqlite_code;
pub use guard::{last_error, LastError};
pub use registry::{is_registered, open_files, register, unregister, Error, Registration};
