//! Stock SQLite (rusqlite with the bundled library) running on Folio VFSes through
//! folio-sqlite-bridge: the way later suites run real SQLite on the OS VFS, the memory VFS, the
//! simulated disk, or any wrapper of them.
//!
//! * [`BridgedVfs`] registers a VFS under a unique name and opens rusqlite connections on it;
//!   [`BridgedConnection`] is one connection that owns its registration (dropped in the right
//!   order). [`BridgedConnection::on_sim`] is the usual entry point for the simulated disk.
//! * [`workload`]: a realistic seeded workload (tables with indexes, overflow rows, updates,
//!   deletes, a rolled-back transaction, a savepoint) with its model, read-back and a summary
//!   the stock `sqlite3` shell can compute too.
//! * [`crash_subject`]: stock SQLite as a [`crate::crash::Subject`], so the crash harness sweeps
//!   its crash points and injected faults on the simulated disk.
//! * [`counting`]: a `Vfs` wrapper that counts `fetch` calls and mapped pages still out, to show
//!   SQLite really reads through `xFetch` when `PRAGMA mmap_size` is set.
//!
//! Connections are opened with the busy timeout off: a test that meets a lock gets
//! `SQLITE_BUSY` at once rather than a five-second wait.

pub mod counting;
pub mod crash_subject;
pub mod workload;

use folio_sqlite_bridge::Registration;
use folio_vfs::sim::SimVfs;
use folio_vfs::Vfs;
use rusqlite::{Connection, OpenFlags};
use std::sync::Arc;

/// SQLite's journal modes as the tests use them, with their `PRAGMA journal_mode` spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalMode {
    /// The journal is deleted at commit.
    Delete,
    /// The journal is truncated to zero bytes at commit.
    Truncate,
    /// The journal's header is zeroed at commit.
    Persist,
    /// Write-ahead log, with shared memory through the bridge (normal locking mode).
    Wal,
}

impl JournalMode {
    /// Every mode, in a fixed order.
    pub const ALL: [JournalMode; 4] =
        [JournalMode::Delete, JournalMode::Truncate, JournalMode::Persist, JournalMode::Wal];

    /// The `PRAGMA journal_mode` value (as SQLite answers it, lower case).
    pub fn pragma(self) -> &'static str {
        match self {
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
            JournalMode::Wal => "wal",
        }
    }

    /// Switches `conn` to this mode and checks that SQLite agreed.
    pub fn set(self, conn: &Connection) -> rusqlite::Result<()> {
        let answer: String =
            conn.query_row(&format!("PRAGMA journal_mode={}", self.pragma()), [], |r| r.get(0))?;
        assert_eq!(answer, self.pragma(), "SQLite refused journal_mode={}", self.pragma());
        Ok(())
    }
}

/// A Folio VFS registered with SQLite under a unique name; unregistered on drop (drop every
/// connection opened on it first: the registration panics otherwise, loudly).
#[derive(Debug)]
pub struct BridgedVfs {
    registration: Registration,
}

impl BridgedVfs {
    /// Registers `vfs` under `<prefix>-<pid>-<n>`.
    ///
    /// # Panics
    /// If SQLite refuses the registration (a bug, not a test outcome).
    pub fn register(prefix: &str, vfs: Arc<dyn Vfs>) -> BridgedVfs {
        let registration = Registration::unique(prefix, vfs)
            .unwrap_or_else(|e| panic!("registering a {prefix} VFS with SQLite: {e}"));
        BridgedVfs { registration }
    }

    /// The simulated disk `sim` (a clone sharing its disk) registered with SQLite.
    pub fn sim(sim: &SimVfs) -> BridgedVfs {
        Self::register("folio-sim", Arc::new(sim.clone()))
    }

    /// The name connections are opened with.
    pub fn name(&self) -> &str {
        self.registration.name()
    }

    /// Files open through this VFS now.
    pub fn open_files(&self) -> usize {
        self.registration.open_files()
    }

    /// Opens `path` read-write (creating it) with the busy timeout off.
    pub fn open(&self, path: &str) -> rusqlite::Result<Connection> {
        self.open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Opens `path` with `flags` (plus no-mutex off: rusqlite's default full mutex) and the busy
    /// timeout off.
    pub fn open_with(&self, path: &str, flags: OpenFlags) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags_and_vfs(path, flags, self.name())?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        Ok(conn)
    }
}

/// One connection that owns its VFS registration; derefs to the rusqlite [`Connection`].
#[derive(Debug)]
pub struct BridgedConnection {
    // Field order is drop order: the connection goes before its registration.
    conn: Connection,
    vfs: BridgedVfs,
}

impl BridgedConnection {
    /// Registers `vfs` and opens `path` on it (read-write, created if missing).
    pub fn open(prefix: &str, vfs: Arc<dyn Vfs>, path: &str) -> rusqlite::Result<Self> {
        let vfs = BridgedVfs::register(prefix, vfs);
        let conn = vfs.open(path)?;
        Ok(BridgedConnection { conn, vfs })
    }

    /// Stock SQLite on the simulated disk `sim`: registers it and opens `path`.
    pub fn on_sim(sim: &SimVfs, path: &str) -> rusqlite::Result<Self> {
        Self::open("folio-sim", Arc::new(sim.clone()), path)
    }

    /// The registered VFS.
    pub fn vfs(&self) -> &BridgedVfs {
        &self.vfs
    }

    /// Closes the connection (reporting SQLite's answer) and unregisters the VFS.
    pub fn close(self) -> rusqlite::Result<()> {
        let BridgedConnection { conn, vfs } = self;
        let closed = conn.close().map_err(|(_, e)| e);
        drop(vfs);
        closed
    }
}

impl std::ops::Deref for BridgedConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for BridgedConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// `PRAGMA integrity_check`'s rows joined by newlines (`"ok"` for a sound database).
pub fn integrity_check(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(rows.join("\n"))
}

/// The extended result code of a rusqlite error from SQLite, if it is one.
pub fn extended_code(error: &rusqlite::Error) -> Option<i32> {
    match error {
        rusqlite::Error::SqliteFailure(e, _) => Some(e.extended_code),
        _ => None,
    }
}

/// Asserts what SQLite leaves beside the database `db_name` in `dir` after the last close, the
/// signature of `mode`: no journal (DELETE), an empty one (TRUNCATE), one with its 28 header
/// bytes zeroed (PERSIST), or no WAL and file-format versions 2/2 (WAL).
pub fn assert_mode_signature(dir: &std::path::Path, db_name: &str, mode: JournalMode) {
    let journal = dir.join(format!("{db_name}-journal"));
    match mode {
        JournalMode::Delete => assert!(!journal.exists(), "DELETE left a journal"),
        JournalMode::Truncate => assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0),
        JournalMode::Persist => {
            let bytes = std::fs::read(&journal).unwrap();
            assert!(bytes.len() > 28 && bytes[..28].iter().all(|&b| b == 0), "PERSIST header");
        }
        JournalMode::Wal => {
            let wal = dir.join(format!("{db_name}-wal"));
            assert!(!wal.exists(), "the last close removes the WAL");
            let header = std::fs::read(dir.join(db_name)).unwrap();
            assert_eq!((header[18], header[19]), (2, 2), "file format versions of WAL mode");
        }
    }
}
