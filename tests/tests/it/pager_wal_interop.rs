//! The pager in WAL mode against stock sqlite3 (the CLI, a separate process) on one database:
//!
//! a. Our commits, read by sqlite3 while our connection is still open (through the `-shm` we
//!    maintain), and offline from copies of the database and log we leave un-checkpointed —
//!    with our `-shm` and without (sqlite3 rebuilds the index from the log).
//! b. sqlite3's commits and checkpoints, read by our open connection: every page we read
//!    equals the page sqlite3 has after checkpointing a copy; our checkpoints and sqlite3's
//!    interleave; `integrity_check` ok at the end from sqlite3's side.

use folio_pager::{CheckpointMode, JournalMode, Pager, PagerOptions};
use folio_tests::crash::pager::transplant::{Versions, CONTENT_SQL};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_vfs::format::Sidecar;
use folio_vfs::os::OsVfs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Copies the database and its log (and the `-shm` if `with_shm`) to `to`. With `cp`, in
/// another process: opening and closing a file this process holds POSIX locks on would drop
/// them (the very pitfall the OS VFS's inode table exists for).
fn copy_files(db: &Path, to: &Path, with_shm: bool) {
    let cp = |from: PathBuf, to: PathBuf| {
        let status = std::process::Command::new("cp").arg(&from).arg(&to).status().unwrap();
        assert!(status.success(), "cp {} {}", from.display(), to.display());
    };
    cp(db.to_path_buf(), to.to_path_buf());
    cp(Sidecar::Wal.path_of(db), Sidecar::Wal.path_of(to));
    let shm = Sidecar::Shm.path_of(to);
    let _ = std::fs::remove_file(&shm);
    if with_shm {
        cp(Sidecar::Shm.path_of(db), shm);
    }
}

fn wal_pager(path: &Path, cache_size: i64) -> Pager {
    let opts = PagerOptions {
        journal_mode: JournalMode::Wal,
        cache_size,
        wal_autocheckpoint: 0,
        busy_timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    Pager::open(Arc::new(OsVfs::new()), path, opts).unwrap()
}

/// Writes every page of `pages` (a database image of sqlite3's) through the pager, with page
/// 1 saying WAL, and truncates to its size.
fn transplant(pager: &mut Pager, pages: &[Vec<u8>]) {
    pager.begin_write().unwrap();
    for (i, page) in pages.iter().enumerate() {
        let mut page = page.clone();
        if i == 0 {
            page[18] = 2;
            page[19] = 2;
        }
        pager.write(i as u32 + 1, &page).unwrap();
    }
    let n = pages.len() as u32;
    if pager.page_count() > n {
        pager.truncate(n).unwrap();
    }
    pager.commit().unwrap();
}

#[test]
fn sqlite3_reads_our_wal_commits_live_and_from_copies_left_uncheckpointed() {
    let dir = tempfile::tempdir().unwrap();
    let versions = Versions::make(dir.path(), 4096);
    let db = dir.path().join("ours.db");
    std::fs::write(&db, versions.pages[0].concat()).unwrap();
    let mut pager = wal_pager(&db, 4);
    let mut frames_seen = Vec::new();
    for (step, version) in [1usize, 2, 0, 1].into_iter().enumerate() {
        transplant(&mut pager, &versions.pages[version]);
        assert!(pager.in_wal_mode());
        assert!(pager.stats().spills > 0 || step > 0, "{:?}", pager.stats());
        // Live: sqlite3 reads while our connection is open, through our -shm.
        let live = run_sqlite3_cli(&db, CONTENT_SQL).expect_ok().to_string();
        assert_eq!(live, versions.content[version], "step {step}: sqlite3's live read");
        // Offline: copies of what we leave, with our -shm and without it.
        for with_shm in [true, false] {
            let copy = dir.path().join(format!("copy-{step}-{with_shm}.db"));
            copy_files(&db, &copy, with_shm);
            let seen = run_sqlite3_cli(&copy, CONTENT_SQL).expect_ok().to_string();
            assert_eq!(seen, versions.content[version], "step {step}, -shm copied: {with_shm}");
            let mode = run_sqlite3_cli(&copy, "PRAGMA journal_mode;").expect_ok().to_string();
            assert_eq!(mode.trim(), "wal", "step {step}");
        }
        frames_seen.push(std::fs::metadata(Sidecar::Wal.path_of(&db)).unwrap().len());
    }
    // sqlite3 checkpoints our log while we are open; we read the same afterwards.
    let ckpt = run_sqlite3_cli(&db, "PRAGMA wal_checkpoint(RESTART);").expect_ok().to_string();
    assert!(ckpt.starts_with("0|"), "sqlite3's checkpoint of our log: {ckpt}");
    pager.begin_read().unwrap();
    let n = pager.page_count();
    let ours: Vec<Vec<u8>> = (1..=n).map(|p| pager.get(p).unwrap().to_vec()).collect();
    pager.end_read().unwrap();
    assert_eq!(ours.len(), versions.pages[1].len());
    assert!(ours[1..] == versions.pages[1][1..], "pages after sqlite3's checkpoint");
    // Our next commit restarts the log sqlite3 checkpointed.
    transplant(&mut pager, &versions.pages[2]);
    let seen = run_sqlite3_cli(&db, CONTENT_SQL).expect_ok().to_string();
    assert_eq!(seen, versions.content[2]);
    pager.close().unwrap();
    assert!(!Sidecar::Wal.path_of(&db).exists(), "the last connection deletes the log");
    let seen = run_sqlite3_cli(&db, CONTENT_SQL).expect_ok().to_string();
    assert_eq!(seen, versions.content[2]);
    eprintln!("WAL sizes after each step: {frames_seen:?}");
}

/// sqlite3's view of every page: a copy of the database and log checkpointed by sqlite3.
fn sqlite3_pages(db: &Path, scratch: &Path, page_size: usize) -> Vec<Vec<u8>> {
    copy_files(db, scratch, false);
    run_sqlite3_cli(scratch, "PRAGMA wal_checkpoint(TRUNCATE);").expect_ok();
    let bytes = std::fs::read(scratch).unwrap();
    bytes.chunks(page_size).map(<[u8]>::to_vec).collect()
}

#[test]
fn our_open_connection_reads_sqlite3s_wal_commits_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("theirs.db");
    run_sqlite3_cli(
        &db,
        "PRAGMA page_size=1024; PRAGMA journal_mode=WAL;\n\
         CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); CREATE INDEX tb ON t(b);\n\
         INSERT INTO t SELECT value, hex(randomblob(40)) FROM generate_series(1, 200);",
    )
    .expect_ok();
    let mut pager = wal_pager(&db, 8);
    pager.begin_read().unwrap();
    assert!(pager.in_wal_mode());
    pager.end_read().unwrap();
    let steps = [
        "PRAGMA wal_autocheckpoint=0; UPDATE t SET b = hex(randomblob(60)) WHERE a % 3 = 0;",
        "PRAGMA wal_autocheckpoint=0; INSERT INTO t SELECT value, hex(randomblob(300)) \
         FROM generate_series(1000, 1100);",
        "PRAGMA wal_checkpoint(PASSIVE);",
        "PRAGMA wal_autocheckpoint=0; DELETE FROM t WHERE a > 1050; UPDATE t SET b = 'x' || b;",
        "PRAGMA wal_checkpoint(RESTART);",
        "PRAGMA wal_autocheckpoint=0; INSERT INTO t SELECT value, 'y' FROM \
         generate_series(2000, 2300);",
    ];
    for (i, sql) in steps.iter().enumerate() {
        run_sqlite3_cli(&db, sql).expect_ok();
        let want = sqlite3_pages(&db, &dir.path().join(format!("scratch-{i}.db")), 1024);
        pager.begin_read().unwrap();
        let n = pager.page_count();
        let got: Vec<Vec<u8>> = (1..=n).map(|p| pager.get(p).unwrap().to_vec()).collect();
        pager.end_read().unwrap();
        assert_eq!(got.len(), want.len(), "step {i}: page count");
        for (p, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g == w, "step {i} ({sql}): page {} differs from sqlite3's", p + 1);
        }
        if i % 2 == 1 {
            // Our checkpoint of sqlite3's log, then sqlite3 keeps going on top of it.
            let c = pager.checkpoint(CheckpointMode::Full).unwrap();
            assert!(!c.busy && c.checkpointed == c.log, "step {i}: {c:?}");
        }
    }
    let check = run_sqlite3_cli(&db, "PRAGMA integrity_check; SELECT count(*) FROM t;")
        .expect_ok()
        .to_string();
    assert!(check.starts_with("ok\n"), "{check}");
    pager.close().unwrap();
    let check = run_sqlite3_cli(&db, "PRAGMA integrity_check;").expect_ok().to_string();
    assert_eq!(check.trim(), "ok");
}
