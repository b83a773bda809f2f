//! Driving stock SQLite for the interop tests: the `sqlite3` shell (one-shot, with a timeout)
//! and a Python child that keeps a connection open so the `-wal` and `-shm` stay in place.
//! Both fail loudly when the tool is missing; these tests never skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one child may take before it is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

fn drain(mut r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Runs `sqlite3 -batch -bail -init /dev/null <db>` with `sql` on stdin and returns stdout;
/// panics if the shell is missing, fails, writes to stderr or outlives [`TIMEOUT`].
pub fn sqlite3(db: &Path, sql: &str) -> String {
    let program = std::env::var("FOLIO_SQLITE3").unwrap_or_else(|_| "sqlite3".to_owned());
    let mut child = Command::new(&program)
        .args(["-batch", "-bail", "-init", "/dev/null"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start `{program}` ({e}): install the sqlite3 shell (apt-get install sqlite3)")
        });
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(sql.as_bytes()).and_then(|()| stdin.write_all(b"\n"));
    drop(stdin);
    let (Ok(stdout), Ok(stderr)) = (out.recv_timeout(TIMEOUT), err.recv_timeout(TIMEOUT)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("sqlite3 on {} with {sql:?} took longer than {TIMEOUT:?}; killed it", db.display());
    };
    let status = child.wait().expect("wait for sqlite3");
    assert!(
        status.success() && stderr.is_empty(),
        "sqlite3 on {} failed ({status}): stdout {stdout:?} stderr {stderr:?}\nSQL: {sql}",
        db.display()
    );
    stdout
}

const HOLDER: &str = r#"
import os, sys
try:
    import sqlite3
except ImportError as e:
    print("fatal", e, flush=True)
    sys.exit(2)
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
c.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "read":
        c.execute("SELECT count(*) FROM sqlite_master").fetchall()
        print("ok", flush=True)
    else:
        break
# Leave as a killed process would: no close, so no checkpoint and no cleanup.
os._exit(0)
"#;

/// A Python child holding a connection to a WAL database open (its SHARED lock on the database
/// keeps any other connection's close from checkpointing and deleting the `-wal` and `-shm`).
pub struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    db: PathBuf,
}

impl Holder {
    /// Starts the child on `db` (already in WAL mode) and waits until it has read it.
    pub fn start(db: &Path) -> Holder {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(HOLDER)
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 ({e}): install python3 with sqlite3"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut holder = Holder { child, stdin, lines, db: db.to_path_buf() };
        holder.expect_line("ready");
        holder
    }

    fn expect_line(&mut self, want: &str) {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) if line == want => {}
            other => {
                let _ = self.child.kill();
                panic!("python holder on {}: wanted {want:?}, got {other:?}", self.db.display());
            }
        }
    }

    /// Has the child run a read transaction (so its snapshot is the newest).
    pub fn read(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(b"read\n").and_then(|()| stdin.flush()).expect("write to holder");
        self.expect_line("ok");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Killed, it leaves what a crashed process leaves (no checkpoint, no cleanup), which is
        // also what its `os._exit` on end of input does; killing bounds the wait.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
