//! `folio_wal::Wal` against stock SQLite, on real files (OS VFS):
//! * checkpoints: the same scenario (commits of known frame counts, readers holding snapshots,
//!   a writer holding the WRITE lock, checkpoints of every mode) run by Python's sqlite3 and by
//!   our connections gives the same (busy, log, checkpointed) rows;
//! * folio → sqlite3: a database made by the sqlite3 shell, changed into another one by
//!   transactions our `Wal` writes (spills, in-place overwrites, an undo, > 4062 frames), is
//!   read by sqlite3 (`.dump` equal, `integrity_check` ok) live through our `-shm`, after the
//!   `-shm` is deleted, and after sqlite3 checkpoints it (the database file then equals the
//!   target byte for byte);
//! * sqlite3 → folio: WALs left by a killed Python sqlite3 (more than 4096 frames, stale frames
//!   of an older generation, a torn last frame, no `-shm`, and a live `-shm`) read by our
//!   `Wal` page for page as sqlite3 sees them (a copy checkpointed by sqlite3), our recovered
//!   `-shm` byte for byte as SQLite's recovery writes it, and our checkpoint's database file
//!   byte for byte as sqlite3's.

#[path = "conn/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "interop/sqlite.rs"]
#[allow(dead_code)]
mod sqlite;

use folio_vfs::format::Sidecar;
use folio_vfs::os::OsVfs;
use folio_wal::format;
use folio_wal::index::{self, REGION_SIZE};
use folio_wal::{Checkpoint, CheckpointMode, WalOptions};
use harness::{images, Conn, Db};
use sqlite::{sqlite3, Holder, TIMEOUT};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `python3 -c script args…` and returns its stdout; panics if python3 (with sqlite3) is
/// missing, fails, or outlives [`TIMEOUT`].
fn python(script: &str, args: &[&str]) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start python3 ({e}): install python3 with sqlite3"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = out.read_to_string(&mut o);
        let _ = err.read_to_string(&mut e);
        let _ = tx.send((o, e));
    });
    let Ok((stdout, stderr)) = rx.recv_timeout(TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("python3 took longer than {TIMEOUT:?}; killed it (args {args:?})");
    };
    let status = child.wait().expect("wait for python3");
    assert!(status.success(), "python3 failed ({status}): {stderr}\nargs {args:?}");
    stdout
}

/// A minimal JSON array of strings (the scripts' arguments).
fn json_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("[{}]", quoted.join(","))
}

// ----- checkpoints: the same scenario in SQLite and in ours --------------------------------------

#[derive(Debug, Clone, Copy)]
enum Step {
    /// A transaction writing this many frames (pages) by its own connection.
    Commit(u32),
    /// Reader `i` starts a read transaction and keeps it.
    Begin(usize),
    /// Reader `i` ends it.
    End(usize),
    /// A connection takes the WRITE lock (BEGIN IMMEDIATE) and keeps it.
    Lock,
    /// It lets go.
    Unlock,
    /// A checkpoint, without a busy handler; its row is recorded.
    Ckpt(CheckpointMode),
}

const SCENARIO_PY: &str = r#"
import json, os, sys, sqlite3
path, steps = sys.argv[1], json.loads(sys.argv[2])
def conn():
    c = sqlite3.connect(path, isolation_level=None, timeout=0)
    c.execute("PRAGMA wal_autocheckpoint=0")
    return c
ck = conn()
ck.execute("PRAGMA page_size=4096")
ck.execute("PRAGMA journal_mode=WAL")
# One row per leaf page: an UPDATE of n rows writes n frames.
ck.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
ck.execute("BEGIN")
for i in range(48):
    ck.execute("INSERT INTO t(v) VALUES (randomblob(3000))")
ck.execute("COMMIT")
assert ck.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
w, writer, readers, out = conn(), conn(), {}, []
for step in steps:
    op, arg = step.split(" ")
    if op == "commit":
        w.execute("UPDATE t SET v = randomblob(3000) WHERE id <= ?", (int(arg),))
    elif op == "begin":
        r = readers.setdefault(arg, conn())
        r.execute("BEGIN")
        r.execute("SELECT count(*) FROM t").fetchall()
    elif op == "end":
        readers[arg].execute("COMMIT")
    elif op == "lock":
        writer.execute("BEGIN IMMEDIATE")
    elif op == "unlock":
        writer.execute("ROLLBACK")
    elif op == "ckpt":
        out.append(list(ck.execute("PRAGMA wal_checkpoint(%s)" % arg).fetchone()))
print(json.dumps(out))
os._exit(0)
"#;

fn mode_name(mode: CheckpointMode) -> &'static str {
    match mode {
        CheckpointMode::Passive => "PASSIVE",
        CheckpointMode::Full => "FULL",
        CheckpointMode::Restart => "RESTART",
        CheckpointMode::Truncate => "TRUNCATE",
    }
}

/// The rows SQLite's checkpoints return in `steps`.
fn sqlite_rows(dir: &Path, steps: &[Step]) -> Vec<Checkpoint> {
    let words: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::Commit(n) => format!("commit {n}"),
            Step::Begin(i) => format!("begin {i}"),
            Step::End(i) => format!("end {i}"),
            Step::Lock => "lock -".to_owned(),
            Step::Unlock => "unlock -".to_owned(),
            Step::Ckpt(m) => format!("ckpt {}", mode_name(*m)),
        })
        .collect();
    let db = dir.join("sqlite.db");
    let out = python(SCENARIO_PY, &[db.to_str().expect("utf-8 path"), &json_strings(&words)]);
    // [[0, 3, 3], [1, 5, 3], ...]
    let nums: Vec<i64> = out
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect();
    nums.chunks(3)
        .map(|r| Checkpoint { busy: r[0] != 0, log: r[1] as u32, checkpointed: r[2] as u32 })
        .collect()
}

/// The rows our checkpoints return in `steps`, from the same starting point (a database of 50
/// pages, its log truncated by a checkpoint).
fn our_rows(db: &Db, steps: &[Step]) -> Vec<Checkpoint> {
    let ps = db.page_size;
    let mut ck = db.conn();
    let all: Vec<u32> = (1..=50).collect();
    ck.commit(&images(ps, &all, 1), 50);
    assert_eq!(ck.checkpoint(CheckpointMode::Truncate), Checkpoint::default());
    let (mut w, mut writer) = (db.conn(), db.conn());
    let mut readers: BTreeMap<usize, Conn> = BTreeMap::new();
    let mut out = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        match *step {
            Step::Commit(n) => {
                let pages: Vec<u32> = (3..3 + n).collect();
                w.commit(&images(ps, &pages, 2 + k as u32), 50);
            }
            Step::Begin(i) => {
                readers.entry(i).or_insert_with(|| db.conn()).begin_read();
            }
            Step::End(i) => readers.get_mut(&i).expect("reader").end_read(),
            Step::Lock => writer.begin_write().expect("WRITE lock"),
            Step::Unlock => {
                writer.wal().end_write();
                writer.end_read();
            }
            Step::Ckpt(mode) => out.push(ck.checkpoint(mode)),
        }
    }
    out
}

#[test]
fn checkpoints_report_what_sqlite_reports() {
    use CheckpointMode::{Full as F, Passive as P, Restart as R, Truncate as T};
    use Step::{Begin, Ckpt, Commit, End, Lock, Unlock};
    let scenarios: Vec<(&str, Vec<Step>)> = vec![
        (
            "no readers: complete copies, the next writer restarts the log",
            vec![
                Commit(3),
                Ckpt(P),
                Commit(2),
                Ckpt(P),
                Ckpt(F),
                Ckpt(R),
                Commit(4),
                Ckpt(T),
                Commit(1),
                Ckpt(P),
            ],
        ),
        (
            "a reader's mark caps the copy",
            vec![
                Commit(4),
                Begin(1),
                Commit(2),
                Ckpt(P),
                Ckpt(F),
                Ckpt(R),
                Ckpt(T),
                Commit(3),
                Ckpt(P),
                End(1),
                Ckpt(P),
                Commit(1),
                Ckpt(F),
            ],
        ),
        (
            "two readers at different marks",
            vec![
                Commit(2),
                Begin(1),
                Commit(3),
                Begin(2),
                Commit(1),
                Ckpt(P),
                End(1),
                Ckpt(P),
                Ckpt(F),
                End(2),
                Ckpt(F),
                Commit(2),
                Ckpt(P),
            ],
        ),
        (
            "a reader of the fully copied log (READ_LOCK(0)) blocks the copy, not the restart",
            vec![
                Commit(3),
                Ckpt(P),
                Begin(1),
                Commit(2),
                Ckpt(P),
                Ckpt(F),
                Ckpt(R),
                End(1),
                Ckpt(R),
                Commit(1),
                Ckpt(P),
            ],
        ),
        (
            "a writer holding the WRITE lock: FULL and up degrade to PASSIVE",
            vec![Commit(3), Lock, Ckpt(F), Ckpt(R), Ckpt(T), Commit(0), Ckpt(P), Unlock, Ckpt(T)],
        ),
        (
            "a reader at the end of the log: RESTART and TRUNCATE wait for it",
            vec![
                Commit(3),
                Begin(1),
                Ckpt(R),
                Ckpt(T),
                Ckpt(F),
                Commit(2),
                Ckpt(P),
                End(1),
                Ckpt(R),
                Commit(2),
                Ckpt(T),
                Commit(1),
                Ckpt(P),
            ],
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (k, (name, steps)) in scenarios.iter().enumerate() {
        // Commit(0) under a held WRITE lock would wait: drop it (it documents that nothing
        // can commit meanwhile).
        let steps: Vec<Step> =
            steps.iter().copied().filter(|s| !matches!(s, Step::Commit(0))).collect();
        let sub = dir.path().join(format!("s{k}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        let want = sqlite_rows(&sub, &steps);
        let n_ckpt = steps.iter().filter(|s| matches!(s, Step::Ckpt(_))).count();
        assert_eq!(want.len(), n_ckpt, "{name}: sqlite3's rows");
        let ours = Db::on(Arc::new(OsVfs::new()), sub.join("ours.db"), 4096);
        assert_eq!(our_rows(&ours, &steps), want, "{name} (OS VFS)");
        assert_eq!(our_rows(&Db::memory(4096), &steps), want, "{name} (memory VFS)");
        eprintln!("{name}: {want:?}");
    }
}

// ----- folio → sqlite3 -------------------------------------------------------------------------

/// A database of several tables, an index and overflow rows, made by the sqlite3 shell in
/// rollback mode, and a second one made from it by more SQL.
struct Pair {
    base: Vec<u8>,
    target: Vec<u8>,
    target_dump: String,
}

fn make_pair(dir: &Path, page_size: u32, rows: u32) -> Pair {
    let base_db = dir.join("base.db");
    sqlite3(
        &base_db,
        &format!(
            "PRAGMA page_size={page_size}; PRAGMA journal_mode=DELETE;
             CREATE TABLE a(id INTEGER PRIMARY KEY, name TEXT, v BLOB);
             CREATE INDEX a_name ON a(name);
             CREATE TABLE b(k TEXT PRIMARY KEY, big BLOB);
             CREATE TABLE c(x INTEGER, y TEXT);
             BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
               INSERT INTO a SELECT i, 'name-' || (i * 7919 % {rows}), randomblob(150) FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12)
               INSERT INTO b SELECT 'k' || i, randomblob({page_size} * 3 + i) FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
               INSERT INTO c SELECT i, printf('%.*c', i % 90, 'y') FROM n;
             COMMIT;"
        ),
    );
    let target_db = dir.join("target.db");
    std::fs::copy(&base_db, &target_db).expect("copy");
    sqlite3(
        &target_db,
        &format!(
            "BEGIN;
             UPDATE a SET name = name || '-x', v = randomblob(90) WHERE id % 7 = 0;
             DELETE FROM a WHERE id % 11 = 0;
             INSERT INTO b SELECT 'new' || id, randomblob({page_size} * 2) FROM a WHERE id < 40;
             UPDATE b SET big = zeroblob(10) WHERE k = 'k3';
             DELETE FROM c WHERE x % 3 = 0;
             CREATE TABLE d(z);
             INSERT INTO d SELECT y FROM c WHERE x < 300;
             CREATE INDEX c_y ON c(y);
             COMMIT;"
        ),
    );
    let base = read(&base_db);
    let target = read(&target_db);
    let target_dump = sqlite3(&target_db, ".dump");
    Pair { base, target, target_dump }
}

/// Bytes 18 and 19 of page 1 say WAL mode, as `PRAGMA journal_mode=WAL` leaves them.
fn wal_mode(db: &[u8]) -> Vec<u8> {
    let mut out = db.to_vec();
    out[18] = 2;
    out[19] = 2;
    out
}

fn page(db: &[u8], ps: u32, p: u32) -> &[u8] {
    &db[(p as usize - 1) * ps as usize..p as usize * ps as usize]
}

/// One transaction carrying the database `from` to `to`: the pages that differ (page 1
/// always). To exercise the log, some go out first as spills with wrong contents (the old
/// images), then every page again, so that most of the commit overwrites its own frames.
fn carry(conn: &mut Conn, from: &[u8], to: &[u8], spill: bool) -> usize {
    let ps = conn.page_size;
    let to_pages = (to.len() / ps as usize) as u32;
    let changed: Vec<u32> = (1..=to_pages)
        .filter(|&p| {
            let range = (p as usize - 1) * ps as usize..p as usize * ps as usize;
            p == 1 || from.get(range.clone()) != to.get(range)
        })
        .collect();
    conn.begin_write().expect("write");
    if spill {
        // Garbage first, undone: never seen.
        let garbage: Vec<(u32, Vec<u8>)> =
            changed.iter().take(40).map(|&p| (p, vec![0xee; ps as usize])).collect();
        conn.write(&garbage, None);
        conn.wal().undo().expect("undo");
        let old: Vec<(u32, Vec<u8>)> = changed
            .iter()
            .step_by(2)
            .map(|&p| {
                let image = if p as usize * ps as usize <= from.len() {
                    page(from, ps, p).to_vec()
                } else {
                    vec![0x77; ps as usize]
                };
                (p, image)
            })
            .collect();
        conn.write(&old, None);
    }
    let new: Vec<(u32, Vec<u8>)> = changed.iter().map(|&p| (p, page(to, ps, p).to_vec())).collect();
    conn.write(&new, Some(to_pages));
    conn.wal().end_write();
    conn.end_read();
    changed.len()
}

/// sqlite3 reads `db` as the target: same dump, integrity ok.
fn assert_sqlite_reads(db: &Path, pair: &Pair, what: &str) {
    assert_eq!(sqlite3(db, "PRAGMA integrity_check;"), "ok\n", "{what}");
    let dump = sqlite3(db, ".dump");
    assert!(dump == pair.target_dump, "{what}: sqlite3's dump differs from the target's");
}

fn work_db(dir: &Path, name: &str, base: &[u8], ps: u32) -> Db {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).expect("mkdir");
    let path = sub.join("db");
    std::fs::write(&path, wal_mode(base)).expect("write base");
    Db::on(Arc::new(OsVfs::new()), path, ps)
}

#[test]
fn sqlite_reads_transactions_we_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ps = 4096;
    let pair = make_pair(dir.path(), ps, 1500);
    let (base, target) = (wal_mode(&pair.base), wal_mode(&pair.target));
    let (n_base, n_target) = (pair.base.len() as u32 / ps, pair.target.len() as u32 / ps);

    // Live: our connection stays open, so sqlite3 uses the -shm we wrote.
    let db = work_db(dir.path(), "live", &pair.base, ps);
    let mut conn = db.conn();
    let changed = carry(&mut conn, &base, &target, true);
    let s = db.assert_log_valid(db.scan().max_frame, "our log");
    eprintln!(
        "live: base {n_base} pages, target {n_target}, {changed} changed, {} frames",
        s.max_frame
    );
    assert_sqlite_reads(&db.path, &pair, "live, through our -shm");
    assert!(db.exists(&db.wal_path()), "our SHARED lock kept sqlite3 from cleaning up");
    assert_eq!(sqlite3(&db.path, "PRAGMA wal_checkpoint(TRUNCATE);"), "0|0|0\n");
    assert!(read(&db.path) == target, "the database sqlite3 checkpointed is the target");
    assert!(conn.begin_read(), "sqlite3's restart is a change");
    assert_eq!(conn.wal().max_frame(), 0);
    for p in 1..=n_target {
        assert!(conn.read(p) == page(&target, ps, p), "page {p} after sqlite3's checkpoint");
    }
    conn.end_read();
    // Our next transaction goes into the log sqlite3 truncated; sqlite3 reads it too.
    carry(&mut conn, &target, &base, false);
    assert_eq!(
        sqlite3(&db.path, "SELECT count(*) FROM a; SELECT count(*) FROM sqlite_master;"),
        "1500\n5\n"
    );
    drop(conn);

    // Our -shm left behind, then deleted: sqlite3 recovers the index from our log.
    for delete_shm in [false, true] {
        let name = if delete_shm { "no-shm" } else { "stale-shm" };
        let db = work_db(dir.path(), name, &pair.base, ps);
        let mut conn = db.conn();
        carry(&mut conn, &base, &target, true);
        assert!(!conn.close(false), "files kept");
        assert!(db.exists(&db.shm_path()));
        if delete_shm {
            std::fs::remove_file(db.shm_path()).expect("delete -shm");
        }
        let holder = Holder::start(&db.path); // keeps sqlite3's shell from checkpointing
        assert_sqlite_reads(&db.path, &pair, name);
        drop(holder);
        assert_eq!(sqlite3(&db.path, "PRAGMA wal_checkpoint(TRUNCATE);"), "0|0|0\n", "{name}");
        assert!(read(&db.path) == target, "{name}: checkpointed by sqlite3");
        assert_sqlite_reads(&db.path, &pair, name);
    }
}

#[test]
fn sqlite_reads_a_log_of_more_than_4062_frames_we_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ps = 1024;
    let pair = make_pair(dir.path(), ps, 1200);
    let target = wal_mode(&pair.target);
    let base = wal_mode(&pair.base);
    for live in [true, false] {
        let name = if live { "many-live" } else { "many-no-shm" };
        let db = work_db(dir.path(), name, &pair.base, ps);
        let mut conn = db.conn();
        // Whole images, alternately the target and the base, ending with the target.
        let mut from = base.clone();
        let mut rounds = 0;
        while db.scan().max_frame <= index::region_zero(1) + 200 || from != target {
            let to = if from == target { base.clone() } else { target.clone() };
            conn.begin_write().expect("write");
            let n = (to.len() / ps as usize) as u32;
            let pages: Vec<(u32, Vec<u8>)> =
                (1..=n).map(|p| (p, page(&to, ps, p).to_vec())).collect();
            for chunk in pages.chunks(97) {
                let last = chunk.last().expect("chunk").0 == n;
                conn.write(chunk, last.then_some(n));
            }
            conn.wal().end_write();
            conn.end_read();
            from = to;
            rounds += 1;
        }
        let s = db.assert_log_valid(db.scan().max_frame, name);
        eprintln!("{name}: {rounds} transactions, {} frames", s.max_frame);
        assert!(index::region_of_frame(s.max_frame) >= 1);
        if live {
            assert_sqlite_reads(&db.path, &pair, name);
        } else {
            assert!(!conn.close(false));
            std::fs::remove_file(db.shm_path()).expect("delete -shm");
            let holder = Holder::start(&db.path);
            assert_sqlite_reads(&db.path, &pair, name);
            drop(holder);
        }
        assert_eq!(sqlite3(&db.path, "PRAGMA wal_checkpoint(TRUNCATE);"), "0|0|0\n", "{name}");
        assert!(read(&db.path) == target, "{name}: checkpointed by sqlite3");
    }
}

#[test]
fn sqlite_reads_commits_padded_to_the_sector() {
    use folio_vfs::memory::MemoryVfs;
    use folio_vfs::DeviceCharacteristics;
    let dir = tempfile::tempdir().expect("tempdir");
    let ps = 1024;
    let pair = make_pair(dir.path(), ps, 400);
    let (base, target) = (wal_mode(&pair.base), wal_mode(&pair.target));
    // A device without powersafe overwrite: FULL commits pad to the 4096-byte sector.
    let vfs = MemoryVfs::builder()
        .sector_size(4096)
        .device_characteristics(DeviceCharacteristics::NONE)
        .build();
    let db = Db::on(Arc::new(vfs), PathBuf::from("/padded/db"), ps);
    std::fs::create_dir_all(dir.path().join("padded")).expect("mkdir");
    let f = db.open_db();
    f.write_at(0, &base).expect("write base");
    drop(f);
    let mut conn = db.conn();
    carry(&mut conn, &base, &target, true);
    let s = db.assert_log_valid(conn.wal().max_frame(), "padded");
    let end = format::frame_offset(s.max_frame + 1, ps);
    let last = s.frames.last().expect("frames").page_no;
    let padding = s.frames.iter().rev().take_while(|f| f.page_no == last).count() - 1;
    assert!(
        padding > 1 && end % 4096 < format::frame_len(ps),
        "padded: {padding} frames, end {end}"
    );
    // The files as they are, on disk for sqlite3 (no -shm: it recovers the index).
    let path = dir.path().join("padded").join("db");
    std::fs::write(&path, db.file_bytes(&db.path)).expect("db");
    std::fs::write(Sidecar::Wal.path_of(&path), db.file_bytes(&db.wal_path())).expect("wal");
    let holder = Holder::start(&path);
    assert_sqlite_reads(&path, &pair, "padded");
    drop(holder);
    assert_eq!(sqlite3(&path, "PRAGMA wal_checkpoint(TRUNCATE);"), "0|0|0\n");
    assert!(read(&path) == target, "checkpointed by sqlite3");
    eprintln!("padded: {} frames, {padding} of them copies of the commit frame", s.max_frame);
}

// ----- sqlite3 → folio -------------------------------------------------------------------------

const WRITER_PY: &str = r#"
import json, os, sys, sqlite3
path, page_size, scripts = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
c = sqlite3.connect(path, isolation_level=None, timeout=0)
c.execute("PRAGMA page_size=%d" % page_size)
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA wal_autocheckpoint=0")
for s in scripts:
    c.executescript(s)
# Leave as a killed process would: no close, no checkpoint, -wal and -shm stay.
os._exit(0)
"#;

const RECOVER_PY: &str = r#"
import os, sys, sqlite3
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
c.execute("SELECT count(*) FROM sqlite_master").fetchall()
os._exit(0)
"#;

fn sqlite_writes(db: &Path, ps: u32, scripts: &[String]) {
    python(WRITER_PY, &[db.to_str().expect("utf-8"), &ps.to_string(), &json_strings(scripts)]);
    assert!(Sidecar::Wal.path_of(db).exists() && Sidecar::Shm.path_of(db).exists());
}

fn inserts(n: u32, blob: u32) -> String {
    format!(
        "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) \
         INSERT INTO t(v, w) SELECT randomblob({blob}), 'w' || (random() % 1000) FROM c; COMMIT;"
    )
}

fn copy_files(from: &Path, to_dir: &Path, with_shm: bool) -> PathBuf {
    std::fs::create_dir_all(to_dir).expect("mkdir");
    let to = to_dir.join("db");
    std::fs::copy(from, &to).expect("copy db");
    std::fs::copy(Sidecar::Wal.path_of(from), Sidecar::Wal.path_of(&to)).expect("copy wal");
    if with_shm {
        std::fs::copy(Sidecar::Shm.path_of(from), Sidecar::Shm.path_of(&to)).expect("copy shm");
    }
    to
}

/// Our view of every page (the log's newest frame in our snapshot, else the database file),
/// and the database size it implies.
fn our_view(conn: &mut Conn, db: &Db) -> Vec<Vec<u8>> {
    conn.begin_read();
    let n = if conn.wal().max_frame() > 0 {
        conn.wal().db_pages()
    } else {
        (db.db_size() / u64::from(db.page_size)) as u32
    };
    let pages = (1..=n).map(|p| conn.read(p)).collect();
    conn.end_read();
    pages
}

/// Our `Wal` on `db` (files left by sqlite3) sees exactly what sqlite3 sees, and recovers the
/// same wal-index SQLite's recovery writes (unless `live`: then sqlite3's own index is used).
fn check_sqlite_log(dir: &Path, name: &str, db_path: &Path, ps: u32, live: bool) {
    let sub = dir.join(name);
    // What sqlite3 sees: a copy without -shm, checkpointed by sqlite3 itself.
    let reference = copy_files(db_path, &sub.join("reference"), false);
    let out = sqlite3(&reference, "PRAGMA integrity_check; PRAGMA wal_checkpoint(TRUNCATE);");
    assert_eq!(out, "ok\n0|0|0\n", "{name}: sqlite3 on the reference copy");
    let want = read(&reference);

    // SQLite's recovered index, on another copy without -shm.
    let mut recovered_shm = None;
    if !live {
        let sqlite_copy = copy_files(db_path, &sub.join("sqlite-recovery"), false);
        python(RECOVER_PY, &[sqlite_copy.to_str().expect("utf-8")]);
        recovered_shm = Some(read(&Sidecar::Shm.path_of(&sqlite_copy)));
    }

    let db = Db::on(Arc::new(OsVfs::new()), db_path.to_path_buf(), ps);
    let s = db.scan();
    let mut conn = db.conn();
    let view = our_view(&mut conn, &db);
    assert_eq!(view.len() * ps as usize, want.len(), "{name}: database size in pages");
    for (i, got) in view.iter().enumerate() {
        let p = i as u32 + 1;
        assert!(got[..] == *page(&want, ps, p), "{name}: page {p} differs from sqlite3's");
    }
    eprintln!(
        "{name}: {} pages, log of {} frames ({} after the last commit, end {:?})",
        view.len(),
        s.max_frame,
        s.uncommitted.len(),
        s.end
    );

    if let Some(theirs) = recovered_shm {
        let ours = read(&db.shm_path());
        let last_frame = (s.frames.len() + s.uncommitted.len()).max(1) as u32;
        let used = index::region_of_frame(last_frame);
        let n = (used as usize + 1) * REGION_SIZE;
        assert!(
            ours.len() >= n && theirs.len() >= n,
            "{name}: -shm sizes {} {}",
            ours.len(),
            theirs.len()
        );
        if let Some(at) = (0..n).find(|&i| ours[i] != theirs[i]) {
            panic!("{name}: our recovered -shm differs from SQLite's at byte {at}");
        }
        let tail_zero = |b: &[u8]| b[n..].iter().all(|&x| x == 0);
        assert!(tail_zero(&ours) && tail_zero(&theirs), "{name}: regions past the log");
    }

    // Our checkpoint writes the database sqlite3's does.
    let got = conn.checkpoint(CheckpointMode::Truncate);
    assert_eq!(got, Checkpoint::default(), "{name}: TRUNCATE");
    assert!(read(db_path) == want, "{name}: our checkpointed database is sqlite3's");
    assert_eq!(std::fs::metadata(db.wal_path()).expect("wal").len(), 0);
}

fn sqlite_db(dir: &Path, name: &str) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).expect("mkdir");
    sub.join("db")
}

const CREATE: &str = "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, w TEXT); \
                      CREATE INDEX t_w ON t(w);";

#[test]
fn we_read_logs_sqlite_leaves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ps = 1024;

    // More than 4096 frames (index regions 0, 1 and 2), the -shm left behind.
    let big = sqlite_db(dir.path(), "big");
    let mut scripts = vec![CREATE.to_owned()];
    for i in 0..14 {
        scripts.push(inserts(300, 500 + i * 10));
        scripts.push("UPDATE t SET v = randomblob(300) WHERE id % 13 = 0;".to_owned());
    }
    sqlite_writes(&big, ps, &scripts);
    let torn_source = copy_files(&big, &dir.path().join("torn-source"), false);
    let no_shm = copy_files(&big, &dir.path().join("no-shm-source"), false);
    check_sqlite_log(dir.path(), "big", &big, ps, false);

    // The same log torn in its last frame: that transaction is gone for both.
    let wal = Sidecar::Wal.path_of(&torn_source);
    let len = std::fs::metadata(&wal).expect("wal").len();
    let frame_len = format::frame_len(ps);
    let whole = (len - 32) / frame_len;
    let cut = format::frame_offset(whole as u32, ps) + frame_len / 2;
    std::fs::OpenOptions::new().write(true).open(&wal).expect("open").set_len(cut).expect("cut");
    check_sqlite_log(dir.path(), "torn", &torn_source, ps, false);

    // No -shm at all.
    check_sqlite_log(dir.path(), "no-shm", &no_shm, ps, false);

    // Stale frames of an older generation after a restart with fewer frames.
    let stale = sqlite_db(dir.path(), "stale");
    let mut scripts = vec![CREATE.to_owned()];
    for _ in 0..6 {
        scripts.push(inserts(200, 700));
    }
    scripts.push("PRAGMA wal_checkpoint;".to_owned());
    scripts.push("UPDATE t SET w = 'restarted' WHERE id < 50;".to_owned());
    scripts.push("INSERT INTO t(v, w) VALUES (randomblob(2000), 'last');".to_owned());
    sqlite_writes(&stale, ps, &scripts);
    let s = Db::on(Arc::new(OsVfs::new()), stale.clone(), ps).scan();
    assert!(
        matches!(
            s.end,
            Some(folio_wal::ScanEnd::Invalid {
                why: format::FrameInvalid::SaltMismatch { .. },
                ..
            })
        ),
        "the new generation ends at an old frame: {:?}",
        s.end
    );
    check_sqlite_log(dir.path(), "stale", &stale, ps, false);
}

#[test]
fn we_read_a_live_sqlite_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ps = 4096;
    let db_path = sqlite_db(dir.path(), "live");
    sqlite3(&db_path, &format!("PRAGMA page_size={ps}; PRAGMA journal_mode=WAL; {CREATE}"));
    let holder = Holder::start(&db_path);
    for i in 0..5 {
        sqlite3(&db_path, &format!("PRAGMA wal_autocheckpoint=0; {}", inserts(200, 900 + i)));
    }
    sqlite3(&db_path, "PRAGMA wal_autocheckpoint=0; UPDATE t SET w = 'u' WHERE id % 5 = 0;");
    // sqlite3's -shm is live (the holder keeps its dead-man switch): we use it as it is.
    let shm_before = read(&Sidecar::Shm.path_of(&db_path));
    let db = Db::on(Arc::new(OsVfs::new()), db_path.clone(), ps);
    let mut conn = db.conn_with(WalOptions::default());
    conn.begin_read();
    let (hdr, _) = conn.index();
    conn.end_read();
    assert_ne!(hdr.change, 0, "not a recovered index: sqlite3's own");
    let shm_after = read(&Sidecar::Shm.path_of(&db_path));
    assert_eq!(shm_before[..96], shm_after[..96], "the header is not rewritten");
    drop(conn);
    check_sqlite_log(dir.path(), "live", &db_path, ps, true);
    drop(holder);
}
