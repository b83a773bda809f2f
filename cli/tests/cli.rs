//! The `folio` binary run as a user runs it: a real process, on databases stock SQLite made
//! (rusqlite, bundled), checking its output, JSON and exit status.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `folio` with `args`.
fn folio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(args)
        .env_remove("FOLIO_LOG")
        .output()
        .expect("running the folio binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A WAL database made by SQLite with `rows` rows committed into its log (auto-checkpoint off);
/// the connection is returned open, so the log stays (SQLite checkpoints it at the last close).
fn sqlite_wal_database(dir: &Path, rows: i64) -> (PathBuf, Connection) {
    let path = dir.join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB);",
    )
    .unwrap();
    for k in 0..rows {
        conn.execute("INSERT INTO t VALUES (?1, zeroblob(500))", [k]).unwrap();
    }
    (path, conn)
}

fn wal_size(db: &Path) -> u64 {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    std::fs::metadata(name).map_or(0, |m| m.len())
}

/// Runs `folio checkpoint DB --mode MODE --json`, expecting success; the report.
fn checkpoint_json(db: &Path, mode: &str) -> serde_json::Value {
    let out = folio(&["checkpoint", db.to_str().unwrap(), "--mode", mode, "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["mode"], mode);
    assert_eq!(report["wal"], true);
    report
}

#[test]
fn checkpoint_copies_a_live_sqlite_log_and_truncate_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, conn) = sqlite_wal_database(dir.path(), 50);
    assert!(wal_size(&db) > 0, "SQLite left its log");

    let full = checkpoint_json(&db, "full");
    let log = full["log_frames"].as_u64().unwrap();
    assert!(log > 50, "a frame per insert at least: {full}");
    assert_eq!(full["checkpointed_frames"].as_u64(), Some(log), "{full}");
    assert_eq!(full["busy"], false);

    // As PRAGMA wal_checkpoint(TRUNCATE): the log is emptied and its row reads 0 0.
    let truncate = checkpoint_json(&db, "truncate");
    assert_eq!(
        (truncate["log_frames"].as_u64(), truncate["checkpointed_frames"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(wal_size(&db), 0, "TRUNCATE leaves an empty log");

    // SQLite, still connected, sees every row and a sound file.
    let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 50);
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_sqlite_reader_holds_back_a_passive_checkpoint_and_makes_a_full_one_busy() {
    let dir = tempfile::tempdir().unwrap();
    let (db, writer) = sqlite_wal_database(dir.path(), 20);
    // A reader's snapshot pins the log up to its end; then more is committed past it.
    let reader = Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
    writer.execute("INSERT INTO t VALUES (1000, zeroblob(500))", []).unwrap();

    let passive = checkpoint_json(&db, "passive");
    let (log, copied) =
        (passive["log_frames"].as_u64().unwrap(), passive["checkpointed_frames"].as_u64().unwrap());
    assert!(copied < log, "the frames past the reader's snapshot stay in the log: {passive}");
    assert_eq!(passive["busy"], false, "PASSIVE never reports busy");
    let full = checkpoint_json(&db, "full");
    assert_eq!(full["busy"], true, "FULL cannot finish past the reader: {full}");
    let text = stdout(&folio(&["checkpoint", db.to_str().unwrap(), "--mode", "full"]));
    assert!(text.contains(&format!("full checkpoint: {copied} of {log} log frame(s)")), "{text}");
    assert!(text.contains("busy"), "{text}");

    reader.execute_batch("COMMIT").unwrap();
    let full = checkpoint_json(&db, "full");
    assert_eq!(
        (full["busy"].clone(), full["checkpointed_frames"].as_u64()),
        (false.into(), Some(log))
    );
}

#[test]
fn checkpoint_of_a_rollback_database_has_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.db");
    Connection::open(&db).unwrap().execute_batch("CREATE TABLE t(x);").unwrap();
    let out = folio(&["checkpoint", db.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["wal"], false);
    assert_eq!(report["log_frames"], serde_json::Value::Null);
    let text = stdout(&folio(&["checkpoint", db.to_str().unwrap()]));
    assert!(text.contains("not in WAL mode; nothing to checkpoint"), "{text}");
}

#[test]
fn a_missing_file_is_an_error_naming_it_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let out = folio(&["checkpoint", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), format!("folio: {}: no such file", db.display()));
    assert!(!db.exists());
}

#[test]
fn a_file_that_is_not_a_database_is_corruption_with_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.txt");
    std::fs::write(&db, "these are not the bytes of a database\n".repeat(40)).unwrap();
    let out = folio(&["checkpoint", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("folio: file is not a database: "), "{err}");
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert_eq!(err.lines().count(), 1, "one sentence, no dump: {err}");
}

#[test]
fn usage_mistakes_exit_2_and_help_exits_0() {
    let out = folio(&["checkpoint"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Usage"), "{}", stderr(&out));
    let out = folio(&["checkpoint", "x.db", "--mode", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("sideways"), "{}", stderr(&out));
    let out = folio(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("checkpoint"), "{}", stdout(&out));
}
