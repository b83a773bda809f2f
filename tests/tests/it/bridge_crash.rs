//! Stock SQLite (bundled) on the simulated disk through folio-sqlite-bridge: crashed at every
//! write and sync of a seeded workload in each journal mode, rebooted on the crash image and
//! reopened through the bridge, where SQLite's own recovery runs; the crash harness's oracle
//! (integrity, a committed prefix, nothing acknowledged lost) judges each run. Crash images
//! also go to a real directory for the stock `sqlite3` shell, which must agree. Injected faults
//! come back to the application as SQLite's codes, and the database survives them.
//!
//! Budget knobs, as for the toy protocol (`cargo xtask crash` sets them): `FOLIO_CRASH_SEEDS`
//! (workloads swept per mode, CI default 1), `FOLIO_CRASH_MINUTES` (extra sampled runs, shared
//! by the modes), `FOLIO_SEED` (replay one run seed in every mode and nothing else).

use folio_sqlite_bridge::last_error;
use folio_tests::crash::{self, Subject};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_tests::stock_sqlite::crash_subject::{Rows, StockSqlite, DB};
use folio_tests::stock_sqlite::{extended_code, BridgedConnection, JournalMode};
use folio_vfs::sim::{FaultKind, FaultOp, FaultRule, Rng, SimConfig, SimVfs};
use std::path::Path;
use std::time::Instant;

/// Workloads swept over every crash point, per journal mode, in CI.
const CI_SEEDS: u64 = 1;
const FIRST_SEED: u64 = 0x5715;

#[test]
fn stock_sqlite_on_the_simulated_disk_recovers_a_committed_prefix_at_every_crash_point() {
    if std::env::var("FOLIO_SEED").is_ok() {
        let seed = folio_vfs::seed::from_env_or(0);
        for mode in JournalMode::ALL {
            eprintln!("replaying run seed {seed:#x} in {mode:?} mode");
            crash::run_one(&StockSqlite::new(mode), seed)
                .unwrap_or_else(|v| panic!("{mode:?}: {v}"));
        }
        return;
    }
    let seeds = crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(CI_SEEDS);
    let mut total = 0;
    for mode in JournalMode::ALL {
        let start = Instant::now();
        let subject = StockSqlite::new(mode);
        let mut report = crash::sweep(&subject, FIRST_SEED, seeds);
        // This test's share of a long run: 0.05, over the modes.
        if let Some(budget) = crash::sample_budget(0.05 / JournalMode::ALL.len() as f64) {
            let mut rng = Rng::new(folio_vfs::seed::from_env_or(0x0057_0c4d) ^ mode as u64);
            report.merge(crash::sample_for(&subject, &mut rng, budget));
        }
        let cell = crash::Cell {
            suite: if mode == JournalMode::Wal { "wal" } else { "rollback" },
            subject: "sqlite",
            mode: format!("{mode:?}").to_lowercase(),
            sync: subject.synchronous().to_lowercase(),
            device: "None/1024".to_string(),
        };
        crash::print_report(&cell, &report);
        eprintln!("stock SQLite, {mode:?}: in {:.1?}", start.elapsed());
        report.assert_clean(&format!("stock SQLite in {mode:?} mode on the simulated disk"));
        assert!(report.runs > 30 * seeds, "{mode:?}: suspiciously few crash points");
        total += report.runs;
    }
    eprintln!("stock SQLite: {total} crash runs in all, every one a committed prefix");
}

#[test]
fn stock_sqlite_recovers_a_committed_prefix_on_devices_that_promise_more() {
    // What the device advertises changes what SQLite writes: powersafe overwrite shrinks the
    // journal's sector to 512 bytes, so fewer neighbouring pages are journaled; atomic 4 KiB
    // writes cannot tear; with SAFE_APPEND SQLite writes the journal's count up front (nRec
    // 0xffffffff) with no sync before it; with SEQUENTIAL it skips the journal syncs before
    // writing the database. Every mode on every device (the device without promises is the
    // sweep above) keeps a committed prefix, but for one exposure of SQLite's own, below.
    use folio_vfs::DeviceCharacteristics as Dc;
    let devices = [
        Dc::POWERSAFE_OVERWRITE,
        Dc::SAFE_APPEND,
        Dc::SEQUENTIAL,
        Dc::ATOMIC4K | Dc::POWERSAFE_OVERWRITE,
    ];
    let seeds = crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(CI_SEEDS);
    for device in devices {
        for mode in JournalMode::ALL {
            let subject = StockSqlite::new(mode).with_device(device);
            let report = crash::sweep(&subject, FIRST_SEED + 1, seeds);
            eprintln!(
                "stock SQLite, {mode:?} on {device:?}: {} crash runs, {} violations",
                report.runs,
                report.violations.len()
            );
            let what = format!("stock SQLite in {mode:?} mode on {device:?}");
            if device == Dc::SAFE_APPEND && mode == JournalMode::Persist {
                // SQLite's exposure: the up-front count trusts the journal's size, but a PERSIST
                // journal is overwritten in place, which SAFE_APPEND does not cover, and even at
                // FULL nothing is synced before the count. A record torn between the previous
                // transaction's page image and the new one passes the sampled checksum, and
                // playback damages the database. Every violation is that: it passes with the
                // journal as it was at its last sync. (Folio's pager counts up front only in a
                // journal that starts empty.)
                assert!(!report.violations.is_empty(), "{what}: the exposure was not hit");
                let granted = subject.granting_unsynced_journal();
                let again = crash::sweep(&granted, FIRST_SEED + 1, seeds);
                again.assert_clean(&format!("{what}, forgiving unsynced journal bytes"));
                assert_eq!(again.normal_exposures as usize, report.violations.len(), "{what}");
            } else {
                report.assert_clean(&what);
            }
        }
    }
}

#[test]
fn the_sweep_catches_stock_sqlite_run_without_the_syncs_durability_needs() {
    // Canaries: the same sweep with SQLite told to skip syncs the oracle's promise needs must
    // find violations, so a clean sweep above means something.
    let canaries = [
        // NORMAL does not sync the WAL at commit: acknowledged commits (and here even the
        // schema of setup) can be lost.
        (JournalMode::Wal, "NORMAL"),
        // NORMAL leaves the commit's truncation of the journal unsynced (SQLite syncs it only at
        // FULL, since Mozilla bug 1072773): a power loss can bring the old journal back beside
        // the next transaction's writes, and rolling that back corrupts the database.
        (JournalMode::Truncate, "NORMAL"),
        // FULL in DELETE mode leaves the journal's deletion unsynced: a crash can bring a
        // committed transaction's journal back, and SQLite rolls the commit back. Atomic and
        // consistent, but an acknowledged commit is lost: the reason for EXTRA above.
        (JournalMode::Delete, "FULL"),
    ];
    for (mode, level) in canaries {
        let subject = StockSqlite::new(mode).with_synchronous(level);
        let report = crash::sweep(&subject, FIRST_SEED, CI_SEEDS);
        eprintln!(
            "canary {mode:?} at synchronous={level}: {} crash runs, {} violations; first: {}",
            report.runs,
            report.violations.len(),
            report.violations.first().map(ToString::to_string).unwrap_or_default()
        );
        assert!(
            !report.violations.is_empty(),
            "{mode:?} at synchronous={level}: {} crash runs found nothing",
            report.runs
        );
        if level == "FULL" {
            for v in &report.violations {
                assert!(v.detail.contains("were acknowledged"), "not just a lost commit: {v}");
            }
        }
    }
}

/// The rows stock sqlite3 sees in `db`, after its integrity check.
fn rows_by_stock_sqlite3(db: &Path) -> String {
    let out = run_sqlite3_cli(
        db,
        "PRAGMA integrity_check;\nSELECT k, tag, length(v), hex(substr(v, 1, 1)) FROM kv ORDER BY k;",
    );
    out.expect_ok().to_string()
}

fn rows_as_stock_sqlite3_prints_them(rows: &Rows) -> String {
    let mut out = String::from("ok\n");
    for (key, row) in &rows.0 {
        let first = folio_tests::stock_sqlite::crash_subject::value(*key, row.len, row.fill);
        let hex = first.first().map(|b| format!("{b:02X}")).unwrap_or_default();
        out.push_str(&format!("{key}|t{}|{}|{hex}\n", row.tag, row.len));
    }
    out
}

#[test]
fn crash_images_open_in_stock_sqlite3_with_the_same_rows() {
    for mode in JournalMode::ALL {
        let subject = StockSqlite::new(mode);
        // Crash points spread over the workload; the run seed names each one.
        for point in [3, 11, 19, 27, 41, 57] {
            let run_seed = crash::run_seed(FIRST_SEED, point);
            let image = crash::crash_image(&subject, run_seed);
            let rebooted = SimVfs::from_image(&image, subject.sim_config(run_seed));
            let recovered = subject
                .recover(&rebooted)
                .unwrap_or_else(|e| panic!("FOLIO_SEED={run_seed:#x} ({mode:?}): {e}"));

            let dir = tempfile::tempdir().unwrap();
            image.write_to_dir(dir.path()).unwrap();
            let db = dir.path().join(Path::new(DB).file_name().unwrap());
            let stock = rows_by_stock_sqlite3(&db);
            let ours = rows_as_stock_sqlite3_prints_them(&recovered);
            assert!(
                stock == ours,
                "FOLIO_SEED={run_seed:#x} ({mode:?}): stock sqlite3 recovered\n{stock}\nthe \
                 bridge recovered\n{ours}"
            );
        }
    }
}

/// Opens the subject's database on `sim` with the schema and a first committed row.
fn prepared(sim: &SimVfs, mode: JournalMode) -> BridgedConnection {
    let subject = StockSqlite::new(mode);
    subject.setup(sim).expect("setup on a healthy disk");
    drop(subject);
    let conn = BridgedConnection::on_sim(sim, DB).unwrap();
    // Only WAL is a property of the file; the rollback modes belong to the connection.
    mode.set(&conn).unwrap();
    conn.execute("INSERT INTO kv VALUES (1, 't0', x'01')", []).unwrap();
    conn
}

fn rows_after_reopen(sim: &SimVfs) -> Rows {
    let conn = BridgedConnection::on_sim(sim, DB).expect("reopen after the fault");
    StockSqlite::read_rows(&conn).unwrap_or_else(|e| panic!("after the fault: {e}"))
}

/// A transaction big enough to write the journal (or WAL) and several pages.
const BIG_TXN: &str = "BEGIN;
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20)
    INSERT INTO kv SELECT 100 + x, 't1', zeroblob(2000) FROM n;
    COMMIT;";

#[test]
fn injected_faults_come_back_as_sqlite_codes_and_the_database_stays_consistent() {
    let cases = [
        (FaultOp::Write, FaultKind::Io, libsqlite3_codes::IOERR_WRITE),
        (FaultOp::Write, FaultKind::DiskFull, libsqlite3_codes::FULL),
        (FaultOp::Write, FaultKind::ShortWrite, libsqlite3_codes::FULL),
        (FaultOp::Sync, FaultKind::Io, libsqlite3_codes::IOERR_FSYNC),
        (FaultOp::Truncate, FaultKind::Io, libsqlite3_codes::IOERR_TRUNCATE),
    ];
    for mode in [JournalMode::Delete, JournalMode::Truncate, JournalMode::Wal] {
        for (op, kind, code) in cases {
            // TRUNCATE mode truncates at commit; the other modes never truncate here.
            if op == FaultOp::Truncate && mode != JournalMode::Truncate {
                continue;
            }
            let what = format!("{kind:?} on {op:?} in {mode:?} mode");
            let sim = SimVfs::new(SimConfig::new(0xfa17));
            let conn = prepared(&sim, mode);
            sim.add_fault(FaultRule::once(op, 1, kind));
            let err = conn.execute_batch(BIG_TXN).expect_err(&what);
            assert_eq!(extended_code(&err), Some(code), "{what}: {err}");
            let last = last_error().expect("the bridge recorded the fault");
            assert_eq!(last.code, code, "{what}");
            assert!(last.message.contains("/stock/crash.db"), "{what}: {last:?}");
            drop(conn);
            sim.clear_faults();
            // The failed transaction is gone, the earlier commit is there, all is consistent.
            let rows = rows_after_reopen(&sim);
            assert_eq!(rows.0.keys().copied().collect::<Vec<_>>(), vec![1], "{what}: {rows:?}");
        }
    }
}

#[test]
fn busy_cantopen_and_readonly_come_back_as_sqlite_codes() {
    let sim = SimVfs::new(SimConfig::new(0xb05e));
    let first = prepared(&sim, JournalMode::Delete);
    let second = first.vfs().open(DB).unwrap();
    first.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = second.execute_batch("BEGIN IMMEDIATE").expect_err("a second writer");
    assert_eq!(extended_code(&err), Some(libsqlite3_codes::BUSY), "{err}");
    first.execute_batch("COMMIT").unwrap();

    let missing =
        first.vfs().open_with("/stock/missing.db", rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE);
    let err = missing.expect_err("opening a missing file without CREATE");
    assert_eq!(extended_code(&err), Some(libsqlite3_codes::CANTOPEN), "{err}");

    // A read-only connection may read but not write; the refusal is SQLite's own here (it
    // knows the file is read-only from the open flags the bridge reports back).
    let reader = first.vfs().open_with(DB, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    assert_eq!(reader.query_row("SELECT count(*) FROM kv", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    let err = reader.execute("DELETE FROM kv", []).expect_err("writing read-only");
    assert_eq!(extended_code(&err), Some(libsqlite3_codes::READONLY), "{err}");
    drop((second, reader));
}

#[test]
fn stock_sqlite_survives_an_injected_error_at_every_operation() {
    for mode in JournalMode::ALL {
        let start = Instant::now();
        let subject = StockSqlite::new(mode).with_steps(3);
        let report = crash::fault_sweeps(&subject, FIRST_SEED, 1);
        eprintln!(
            "stock SQLite, {mode:?}: {} injected faults, {} violations, {:.1?}",
            report.runs,
            report.violations.len(),
            start.elapsed()
        );
        report.assert_clean(&format!("stock SQLite in {mode:?} mode with injected faults"));
        assert!(report.runs > 50, "{mode:?}: only {} fault runs", report.runs);
    }
}

#[test]
fn a_replayed_run_seed_crashes_at_the_same_operation() {
    // SQLite's nonces and salts come from its own generator, so images may differ in those
    // bytes; the rows recovered may not.
    let subject = StockSqlite::new(JournalMode::Wal);
    let mut rng = Rng::new(0x2e91a7);
    for _ in 0..3 {
        let run_seed = crash::run_seed(FIRST_SEED, rng.below(60));
        let a = crash::crash_image(&subject, run_seed);
        let b = crash::crash_image(&subject, run_seed);
        let names = |i: &folio_vfs::sim::CrashImage| i.files.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b), "FOLIO_SEED={run_seed:#x}");
        let recover = |image| {
            subject
                .recover(&SimVfs::from_image(image, subject.sim_config(run_seed)))
                .unwrap_or_else(|e| panic!("FOLIO_SEED={run_seed:#x}: {e}"))
        };
        assert_eq!(recover(&a), recover(&b), "FOLIO_SEED={run_seed:#x}");
    }
}

/// SQLite's result codes, written out (sqlite.h) so the test checks the bridge against SQLite's
/// numbers rather than against the bindings it uses.
mod libsqlite3_codes {
    pub const BUSY: i32 = 5;
    pub const READONLY: i32 = 8;
    pub const FULL: i32 = 13;
    pub const CANTOPEN: i32 = 14;
    pub const IOERR_WRITE: i32 = 778;
    pub const IOERR_FSYNC: i32 = 1034;
    pub const IOERR_TRUNCATE: i32 = 1546;
}

/// Stock SQLite in rollback-journal `mode` at NORMAL, FULL and EXTRA on every device the
/// pager's suite runs on, held to exactly what the pager's suite holds the pager to
/// (`sqlite_durability`, and at NORMAL SQLite's documented exposure): the SQLite side of the
/// long run's table. CI sweeps one workload per cell; a long run samples too.
fn stock_sqlite_matrix(mode: JournalMode) {
    use folio_pager::{JournalMode as PagerMode, Synchronous};
    use folio_tests::crash::pager::{sqlite_durability, Device};
    let pager_mode = match mode {
        JournalMode::Delete => PagerMode::Delete,
        JournalMode::Truncate => PagerMode::Truncate,
        JournalMode::Persist => PagerMode::Persist,
        JournalMode::Wal => PagerMode::Wal,
    };
    let levels = [
        ("NORMAL", Synchronous::Normal),
        ("FULL", Synchronous::Full),
        ("EXTRA", Synchronous::Extra),
    ];
    let replay = crash::replay_seed();
    let cells = levels.len() * Device::ALL.len();
    let sample = crash::sample_budget(0.27 / 3.0).map(|b| b / cells as u32);
    let seeds = crash::env_u64("FOLIO_CRASH_SEEDS").map_or(CI_SEEDS, |s| s.div_ceil(8));
    let mut rng = Rng::new(folio_vfs::seed::from_env_or(0x5a_3a71) ^ mode as u64);
    let mut unexpected = Vec::new();
    for (level, sync) in levels {
        for device in Device::ALL {
            let subject = StockSqlite::new(mode)
                .on_device(device.sim_config(0))
                .at_level(level, sqlite_durability(pager_mode, sync));
            if let Some(seed) = replay {
                match crash::run_one(&subject, seed) {
                    Ok(outcome) => {
                        eprintln!("[{level} {device:?}] run seed {seed:#x}: {outcome:?}")
                    }
                    Err(v) => eprintln!("[{level} {device:?}] {v}"),
                }
                continue;
            }
            let mut report = crash::sweep(&subject, FIRST_SEED + 2, seeds);
            if let Some(budget) = sample {
                report.merge(crash::sample_for(&subject, &mut rng, budget));
            }
            let cell = crash::Cell {
                suite: "rollback",
                subject: "sqlite",
                mode: pager_mode.to_string(),
                sync: sync.to_string(),
                device: format!("{device:?}/1024"),
            };
            crash::print_report(&cell, &report);
            // SQLite's own exposure, not the simulator's: on a SAFE_APPEND device it writes the
            // record count up front and never syncs before it, also when PERSIST overwrites the
            // previous journal in place, where SAFE_APPEND promises nothing; a torn record that
            // joins the old page image to the new checksum passes its sampled checksum. (Folio's
            // pager writes such a journal as on any other device: `pager_crash`'s
            // `crash_found_persist_on_a_safe_append_device_overwrites_records_in_place`.)
            let sqlites_own = mode == JournalMode::Persist
                && device == Device::SafeAppend
                && sync != Synchronous::Normal;
            if !sqlites_own {
                unexpected
                    .extend(report.violations.iter().map(|v| format!("[{level} {device:?}] {v}")));
            }
        }
    }
    assert!(unexpected.is_empty(), "stock SQLite in {mode:?}:\n{}", unexpected.join("\n"));
}

#[test]
fn stock_sqlite_delete_matrix_crash() {
    stock_sqlite_matrix(JournalMode::Delete);
}

#[test]
fn stock_sqlite_truncate_matrix_crash() {
    stock_sqlite_matrix(JournalMode::Truncate);
}

#[test]
fn stock_sqlite_persist_matrix_crash() {
    stock_sqlite_matrix(JournalMode::Persist);
}
