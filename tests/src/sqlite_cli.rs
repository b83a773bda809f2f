//! Running the stock `sqlite3` command-line shell on a database, with a timeout.
//!
//! The shell is another process with the stock unix VFS, like [`crate::sqlite_child`], but
//! one-shot: it opens the database, runs the SQL given on stdin, and exits (closing its last
//! connection, which in WAL mode tries the last-close cleanup of SQLite's wal.c,
//! `sqlite3WalClose`).

use crate::pipe;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// How long one run of the shell may take before it is killed and the test fails.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(20);

/// The environment variable that names the shell (default `sqlite3`).
pub const SQLITE3_ENV: &str = "FOLIO_SQLITE3";

const INSTALL_SQLITE3: &str = "the interop tests need the stock `sqlite3` command-line shell; \
install it (Debian/Ubuntu: `apt-get install sqlite3`) or point FOLIO_SQLITE3 at one. These \
tests never skip";

/// What a run of the shell produced.
#[derive(Debug)]
pub struct CliOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl CliOutput {
    /// Stdout, after checking that the run succeeded and wrote nothing to stderr.
    pub fn expect_ok(&self) -> &str {
        assert!(
            self.status.success() && self.stderr.is_empty(),
            "sqlite3 failed ({}): stdout {:?}, stderr {:?}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }
}

/// Runs `sqlite3 -batch -bail -init /dev/null <db>` with `sql` on stdin (no `~/.sqliterc`).
/// Panics with install instructions if the shell is missing, and kills it and panics if it
/// runs longer than [`CLI_TIMEOUT`].
pub fn run_sqlite3_cli(db: &Path, sql: &str) -> CliOutput {
    let program = std::env::var(SQLITE3_ENV).unwrap_or_else(|_| "sqlite3".to_owned());
    let mut child = Command::new(&program)
        .args(["-batch", "-bail", "-init", "/dev/null"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{program}`: {e}\n{INSTALL_SQLITE3}"));
    let stdout = pipe::all(child.stdout.take().expect("piped stdout"));
    let stderr = pipe::all(child.stderr.take().expect("piped stderr"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A shell that exits early closes its stdin; its output says why, so a write error here is
    // not the failure to report.
    let _ = stdin.write_all(sql.as_bytes()).and_then(|()| stdin.write_all(b"\n"));
    drop(stdin);

    let deadline = Instant::now() + CLI_TIMEOUT;
    let collect = |rx: std::sync::mpsc::Receiver<String>, which: &str| match rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        Ok(text) => Ok(text),
        Err(RecvTimeoutError::Timeout) => Err(format!("no end of {which} within {CLI_TIMEOUT:?}")),
        Err(RecvTimeoutError::Disconnected) => Err(format!("lost the {which} reader")),
    };
    let outcome = collect(stdout, "stdout").and_then(|out| Ok((out, collect(stderr, "stderr")?)));
    match outcome {
        Ok((stdout, stderr)) => {
            // Both pipes are closed, so the shell has exited (or is about to): this wait is short.
            let status = child.wait().expect("waiting for sqlite3");
            CliOutput { status, stdout, stderr }
        }
        Err(why) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{program}` on {} with {sql:?}: {why}; killed it", db.display());
        }
    }
}
