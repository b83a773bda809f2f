//! A stock-SQLite child process, driven one command per line (`scripts/sqlite_child.py`).
//!
//! The child runs Python's `sqlite3` module, i.e. the stock SQLite C library with its unix VFS,
//! in another process, so its POSIX locks really conflict with ours. Connections are opened
//! with `isolation_level=None` (no implicit transactions: the test says `BEGIN` itself) and
//! `timeout=0`, so a lock conflict comes back at once as `database is locked`.
//!
//! Every command gets exactly one reply line, which is what synchronises the test with the
//! child (no sleeps). Every wait is bounded by [`REPLY_TIMEOUT`]; a child that does not answer
//! in time is killed and the test panics with its stderr. The child is killed when the
//! [`SqliteChild`] is dropped.
//!
//! [`SqliteChild::getlk`] asks the kernel, from the child's process, whether *another* process
//! holds a lock on a byte range (`F_GETLK` never reports the asking process's own locks), so a
//! test sees exactly which bytes Folio has locked, as SQLite would.

use crate::pipe;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long any one reply may take before the child is declared hung.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// SQLite's message for `SQLITE_BUSY`, as the child reports it.
pub const LOCKED: &str = "database is locked";

/// The environment variable that names the Python interpreter (default `python3`).
pub const PYTHON_ENV: &str = "FOLIO_PYTHON";

const INSTALL_PYTHON: &str = "the lock-interop tests need Python 3 with its standard `sqlite3` \
module (stock SQLite) to play the other process; install it (Debian/Ubuntu: `apt-get install \
python3`, whose sqlite3 module uses libsqlite3) or point FOLIO_PYTHON at an interpreter that \
has it. These tests never skip";

/// The kind of a POSIX record lock seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `F_RDLCK`: a shared (read) lock.
    Read,
    /// `F_WRLCK`: an exclusive (write) lock.
    Write,
}

/// A lock that another process holds, as `F_GETLK` reports it: the first conflicting lock the
/// kernel found. Its range is the holder's whole lock, which the kernel may have merged with
/// adjacent locks of the same kind by the same process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignLock {
    /// Read or write.
    pub kind: LockKind,
    /// First byte of the holder's lock.
    pub start: u64,
    /// Its length (0 = to the end of the file and beyond).
    pub len: u64,
    /// The holding process.
    pub pid: u32,
}

impl ForeignLock {
    /// True if this lock spans every byte of `start..start + len` (`len > 0`).
    pub fn covers(&self, start: u64, len: u64) -> bool {
        self.start <= start && (self.len == 0 || self.start + self.len >= start + len)
    }
}

/// A running child process with stock SQLite; see the module documentation.
pub struct SqliteChild {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    stderr: Receiver<String>,
    db: PathBuf,
    sqlite_version: String,
}

impl SqliteChild {
    /// Starts a child whose connections open `db` by default. Panics with install instructions
    /// if Python or its `sqlite3` module is missing.
    pub fn spawn(db: &Path) -> SqliteChild {
        let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sqlite_child.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `{python} {}`: {e}\n{INSTALL_PYTHON}", script.display())
            });
        let stdin = child.stdin.take();
        let replies = pipe::lines(child.stdout.take().expect("piped stdout"));
        let stderr = pipe::all(child.stderr.take().expect("piped stderr"));
        let mut me = SqliteChild {
            child,
            stdin,
            replies,
            stderr,
            db: db.to_path_buf(),
            sqlite_version: String::new(),
        };
        match me.replies.recv_timeout(REPLY_TIMEOUT) {
            Ok(line) if line.starts_with("ready ") => {
                me.sqlite_version = line["ready ".len()..].to_owned();
            }
            Ok(line) => {
                me.fail(&format!("`{python}` could not start the child: {line}\n{INSTALL_PYTHON}"))
            }
            Err(RecvTimeoutError::Timeout) => {
                me.fail(&format!("`{python}` did not start the child within {REPLY_TIMEOUT:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                me.fail(&format!("`{python}` exited before the child was ready\n{INSTALL_PYTHON}"))
            }
        }
        me
    }

    /// The child's process id (the `pid` that [`ForeignLock`]s held by the child carry).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The database the child's connections open by default.
    pub fn db(&self) -> &Path {
        &self.db
    }

    /// The SQLite library version the child runs (`sqlite3.sqlite_version`).
    pub fn sqlite_version(&self) -> &str {
        &self.sqlite_version
    }

    /// Sends one command line and returns the child's one reply line. Panics (after killing the
    /// child) if no reply comes within [`REPLY_TIMEOUT`], if the child died, or if the child
    /// called the command malformed (`bad ...`: a bug in the test).
    pub fn cmd(&mut self, line: &str) -> String {
        assert!(!line.contains('\n'), "one command per line: {line:?}");
        let sent = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        if let Err(e) = sent {
            self.fail(&format!("cannot send {line:?} to the child: {e}"));
        }
        match self.replies.recv_timeout(REPLY_TIMEOUT) {
            Ok(reply) if reply.starts_with("bad ") => {
                self.fail(&format!("the child rejected {line:?}: {reply}"))
            }
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                self.fail(&format!("no reply to {line:?} within {REPLY_TIMEOUT:?}: child hung"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.fail(&format!("the child died while running {line:?}"))
            }
        }
    }

    /// Opens connection `conn` on the default database.
    pub fn open(&mut self, conn: &str) {
        let reply = self.cmd(&format!("open {conn}"));
        assert_eq!(reply, "ok", "opening connection {conn} on {}", self.db.display());
    }

    /// Closes connection `conn`.
    pub fn close(&mut self, conn: &str) {
        let reply = self.cmd(&format!("close {conn}"));
        assert_eq!(reply, "ok", "closing connection {conn}");
    }

    /// Runs one SQL statement on connection `conn`: `Ok("")` for a statement without result
    /// columns, `Ok(rows)` with the rows as JSON (`[[1, "a"]]`) for a query, `Err(message)`
    /// for an SQLite error (`Err(LOCKED)` for busy).
    pub fn exec(&mut self, conn: &str, sql: &str) -> Result<String, String> {
        let reply = self.cmd(&format!("exec {conn} {sql}"));
        if reply == "ok" {
            Ok(String::new())
        } else if let Some(rows) = reply.strip_prefix("ok ") {
            Ok(rows.to_owned())
        } else if let Some(message) = reply.strip_prefix("err ") {
            Err(message.to_owned())
        } else {
            self.fail(&format!("unexpected reply to exec {sql:?}: {reply}"))
        }
    }

    /// Runs `sql` on `conn` and returns its rows as JSON; panics if SQLite reports an error.
    pub fn ok(&mut self, conn: &str, sql: &str) -> String {
        match self.exec(conn, sql) {
            Ok(rows) => rows,
            Err(message) => panic!("stock SQLite failed {sql:?} on connection {conn}: {message}"),
        }
    }

    /// Asks, from the child's process, whether another process holds a lock on `len` bytes at
    /// `start` of `file` that conflicts with a write lock (any lock does); `len == 0` means to
    /// the end of the file. The child's own connections' locks are never reported.
    pub fn getlk(&mut self, file: &Path, start: u64, len: u64) -> Option<ForeignLock> {
        let path = file.to_str().expect("test paths are UTF-8");
        let line = format!("getlk {path} {start} {len}");
        let reply = self.cmd(&line);
        if reply == "ok none" {
            return None;
        }
        let parsed = (|| {
            let mut words = reply.strip_prefix("ok ")?.split(' ');
            let kind = match words.next()? {
                "rd" => LockKind::Read,
                "wr" => LockKind::Write,
                _ => return None,
            };
            let start = words.next()?.parse().ok()?;
            let len = words.next()?.parse().ok()?;
            let pid = words.next()?.parse().ok()?;
            words.next().is_none().then_some(ForeignLock { kind, start, len, pid })
        })();
        match parsed {
            Some(lock) => Some(lock),
            None => self.fail(&format!("unexpected reply to {line:?}: {reply}")),
        }
    }

    /// Kills the child and panics with `what` and whatever the child wrote to stderr.
    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = self.stderr.recv_timeout(REPLY_TIMEOUT).unwrap_or_default();
        panic!("sqlite child (pid {}): {what}\n--- child stderr ---\n{stderr}", self.child.id());
    }
}

impl SqliteChild {
    /// Makes the child exit at once with its connections and transactions open, as a killed
    /// process would (no rollback, no close), and waits until it is gone: its locks are released
    /// and its files are left exactly as SQLite had them.
    pub fn crash(mut self) {
        assert_eq!(self.cmd("crash"), "ok", "crash");
        self.stdin = None;
        // `os._exit` follows the reply at once and cannot block, so this wait is bounded.
        self.child.wait().expect("waiting for the crashed sqlite3 child");
    }
}

impl Drop for SqliteChild {
    fn drop(&mut self) {
        // Killing is enough: the kernel drops the child's locks and its connections need no
        // clean close (a test that wants one says `close`).
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
