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
    let report = json(&["checkpoint", db.to_str().unwrap(), "--mode", mode], 0);
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

/// Runs `folio ARGS --json`, expecting `status`; the JSON report.
fn json(args: &[&str], status: i32) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = folio(&all);
    assert_eq!(out.status.code(), Some(status), "{args:?}: stderr: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn info_reads_a_live_sqlite_wal_database_as_a_reader_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (db, conn) = sqlite_wal_database(dir.path(), 30);
    conn.execute_batch("PRAGMA user_version=42;").unwrap();
    let db_str = db.to_str().unwrap();
    let info = json(&["info", db_str], 0);
    let h = &info["header"];
    assert_eq!(h["journal_mode"], "wal");
    assert_eq!(h["user_version"], 42, "page 1 from the log, not the stale file: {info}");
    assert!(info["header_from"].as_str().unwrap().starts_with("wal frame "), "{info}");
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    assert_eq!(h["pages"].as_i64(), Some(pages));
    let wal = &info["wal"];
    assert!(wal["max_frame"].as_u64().unwrap() > 30, "{info}");
    assert_eq!(wal["db_pages"].as_i64(), Some(pages));
    assert_eq!(info["shm"]["max_frame"], wal["max_frame"], "the index knows the last commit");
    assert_eq!(info["journal"], serde_json::Value::Null);

    let text = stdout(&folio(&["info", db_str]));
    for needle in ["journal mode wal", "user version 42", "valid frame(s)", "read marks"] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    drop(conn);
}

#[test]
fn wal_dump_lists_every_frame_with_its_commit_marks_and_where_the_log_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (db, conn) = sqlite_wal_database(dir.path(), 5);
    let dump = json(&["wal", "dump", db.to_str().unwrap()], 0);
    let frames = dump["frames"].as_array().unwrap();
    let max_frame = dump["max_frame"].as_u64().unwrap();
    assert_eq!(frames.len() as u64, max_frame);
    // One commit per statement: CREATE TABLE, then five INSERTs (autocommit).
    let commits: Vec<&serde_json::Value> =
        frames.iter().filter(|f| !f["commit_size"].is_null()).collect();
    assert_eq!(commits.len(), 6, "{dump}");
    assert_eq!(frames.last().unwrap()["commit_size"], dump["db_pages"]);
    assert_eq!(dump["end"]["kind"], "end_of_file");
    assert_eq!(dump["header"]["page_size"], 4096);

    // The -wal path itself names the same log.
    let wal = format!("{}-wal", db.display());
    assert_eq!(json(&["wal", "dump", &wal], 0)["max_frame"], dump["max_frame"]);

    // A torn last frame: the dump says where the log now ends, and why.
    let len = std::fs::metadata(&wal).unwrap().len();
    let mut bytes = std::fs::read(&wal).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    std::fs::write(format!("{}/copy.db-wal", dir.path().display()), &bytes).unwrap();
    let torn = json(&["wal", "dump", &format!("{}/copy.db-wal", dir.path().display())], 0);
    assert_eq!(torn["end"]["kind"], "invalid_frame", "{torn}");
    assert_eq!(torn["end"]["frame"].as_u64(), Some(max_frame));
    assert!(torn["end"]["why"].as_str().unwrap().contains("checksum"), "{torn}");
    assert!(torn["max_frame"].as_u64().unwrap() < max_frame);
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), len, "the dump changed nothing");
    drop(conn);
}

#[test]
fn shm_dump_shows_the_header_copies_checkpoint_state_and_read_marks() {
    let dir = tempfile::tempdir().unwrap();
    let (db, conn) = sqlite_wal_database(dir.path(), 10);
    let reader = Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
    let dump = json(&["shm", "dump", db.to_str().unwrap()], 0);
    assert_eq!(dump["usable"], true, "{dump}");
    assert_eq!(dump["copies"][0], dump["copies"][1]);
    assert_eq!(dump["copies"][0]["version"], 3_007_000);
    let max_frame = dump["copies"][0]["max_frame"].as_u64().unwrap();
    let marks = dump["read_marks"].as_array().unwrap();
    assert!(marks.iter().any(|m| m.as_u64() == Some(max_frame)), "the reader's mark: {dump}");
    assert_eq!(dump["backfilled_frames"], 0);
    reader.execute_batch("COMMIT").unwrap();
    drop(conn);
}

#[test]
fn corrupt_files_exit_3_with_one_sentence_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    // A header with page size 768 (0x0300): not a database SQLite would open.
    let (good, conn) = sqlite_wal_database(dir.path(), 1);
    drop(conn);
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[16..18].copy_from_slice(&[3, 0]);
    std::fs::write(&db, &bytes).unwrap();
    let out = folio(&["info", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("page size 768 is not valid"), "{}", stdout(&out));
    let info = json(&["info", db.to_str().unwrap()], 3);
    assert!(info["header_error"].as_str().unwrap().starts_with("header offset 16"), "{info}");

    // Truncated to 50 bytes.
    std::fs::write(&db, &bytes[..50]).unwrap();
    let info = json(&["info", db.to_str().unwrap()], 3);
    assert!(info["header_error"].as_str().unwrap().contains("only 50 bytes"), "{info}");

    // A garbage WAL is ignored by SQLite, and the dump says why.
    std::fs::write(format!("{}-wal", db.display()), vec![0x5a; 5000]).unwrap();
    let dump = json(&["wal", "dump", db.to_str().unwrap()], 0);
    assert_eq!(dump["header"], serde_json::Value::Null);
    assert!(dump["ignored"].as_str().unwrap().contains("magic"), "{dump}");

    // A -shm cut at an odd length past its header still dumps; one shorter than the header
    // cannot.
    let shm = format!("{}-shm", db.display());
    std::fs::write(&shm, [7u8; 1001]).unwrap();
    let dump = json(&["shm", "dump", db.to_str().unwrap()], 0);
    assert_eq!(dump["usable"], false, "{dump}");
    // A -shm shorter than its header.
    std::fs::write(format!("{}-shm", db.display()), [1u8; 20]).unwrap();
    let out = folio(&["shm", "dump", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("-shm: 20 bytes, too short for a wal-index header"), "{err}");
    assert_eq!(err.lines().count(), 1);

    // A missing sidecar is an error naming it.
    let out = folio(&["wal", "dump", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("app.db-wal: no such file"), "{}", stderr(&out));
}

#[test]
fn check_passes_a_sound_database_and_agrees_with_sqlite3() {
    let dir = tempfile::tempdir().unwrap();
    let (db, conn) = sqlite_wal_database(dir.path(), 20);
    let db_str = db.to_str().unwrap();
    let report = json(&["check", db_str, "--sqlite3"], 0);
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert_eq!(report["sqlite3"]["ran"], true, "{report}");
    assert_eq!(report["sqlite3"]["result"], serde_json::json!(["ok"]));
    let text = stdout(&folio(&["check", db_str]));
    assert!(text.ends_with("ok (storage layer)\n"), "{text}");
    drop(conn);
}

#[test]
fn check_finds_a_size_beyond_the_file_and_a_broken_freelist_and_notes_a_torn_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE t(x); INSERT INTO t VALUES (zeroblob(20000)); DELETE FROM t;",
        )
        .unwrap();
    }
    let db_str = db.to_str().unwrap();
    assert_eq!(json(&["check", db_str], 0)["problems"], serde_json::json!([]));

    // Cut the file short of the size page 1 states.
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..4096 * 2]).unwrap();
    let report = json(&["check", db_str], 3);
    let problems = report["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p.as_str().unwrap().contains("the file holds 2")), "{report}");
    let out = folio(&["check", db_str]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("problem: page 1 says the database has"), "{}", stdout(&out));

    // A freelist count with no trunk page.
    let mut bytes = bytes.clone();
    bytes[32..36].copy_from_slice(&[0, 0, 0, 0]);
    std::fs::write(&db, &bytes).unwrap();
    let report = json(&["check", db_str], 3);
    assert!(report["problems"][0].as_str().unwrap().contains("first freelist trunk"), "{report}");

    // A torn last commit (its commit frame damaged) leaves the transaction's other frames
    // uncommitted in the log: a note, not a problem.
    let (wal_db, conn) = sqlite_wal_database(dir.path(), 3);
    conn.execute("INSERT INTO t VALUES (99, zeroblob(20000))", []).unwrap();
    let copy = dir.path().join("torn.db");
    std::fs::copy(&wal_db, &copy).unwrap();
    let mut wal = std::fs::read(format!("{}-wal", wal_db.display())).unwrap();
    let last = wal.len() - 1;
    wal[last] ^= 0xff;
    std::fs::write(format!("{}-wal", copy.display()), &wal).unwrap();
    let report = json(&["check", copy.to_str().unwrap()], 0);
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let notes = report["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("after its last commit")),
        "{report}"
    );
    drop(conn);
}
