//! The crash suite of folio-pager in WAL mode on the simulated disk
//! (`folio_tests::crash::pager::wal`): one connection kept across steps commits (spilling
//! uncommitted frames with a small cache, rewriting a spilled frame in place), rolls back,
//! checkpoints in every mode, auto-checkpoints every 3 to 8 frames, and closes and reopens
//! (the last close checkpoints and deletes `-wal`), while a second connection now and then
//! holds a snapshot (checkpoints stop at its mark; not at NORMAL on the device without
//! powersafe overwrite, where that exposes SQLite's own weakness: see
//! `crash_found_sqlites_normal_exposure_on_large_sectors_and_full_is_immune`); a power cut at
//! every write and every sync, then a reopen that reads every page, must find a committed
//! prefix. At synchronous FULL and EXTRA no acknowledged commit may be lost; at NORMAL a tail
//! of commits may be, but none that a later checkpoint or last close acknowledged
//! (`Durability::TailMayBeLost`), and such losses must actually show up, several commits at
//! once. The `crash_found_*` tests replay the runs that found bugs. Canaries prove the oracle
//! bites; crash images
//! carry no shared memory; an I/O error at every operation index (with and without a power cut
//! after it) leaves a consistent database; a sample of crash images made of real sqlite3 pages
//! is recovered by stock sqlite3 (integrity check ok) to the same pages our pager recovers.
//!
//! Budget knobs (read by `cargo xtask crash`): `FOLIO_CRASH_SEEDS` (workloads swept over every
//! crash point per configuration, CI default below), `FOLIO_CRASH_MINUTES` (extra sampled
//! runs, spread over the three level tests and their configurations), `FOLIO_SEED` (replay one
//! run seed against every configuration of the test it is given to, explaining each run; for
//! the I/O-error test it names the workload as `seed >> 20`).

use folio_pager::{JournalMode, Pager, Synchronous};
use folio_tests::crash::pager::transplant::{sqlite3_reads, Found, TransplantSubject, Versions};
use folio_tests::crash::pager::wal::{
    discard_log, WalRecovery, WalStep, WalSubject, CHECKPOINT_MODES, WAL,
};
use folio_tests::crash::pager::{sqlite_durability, Device, PagerSubject, PagerTxns, Txn, DB};
use folio_tests::crash::{self, Durability, Outcome, Report, Subject};
use folio_tests::sqlite_cli::run_sqlite3_cli;
use folio_vfs::sim::{FaultKind, FaultOp, Rng, SimVfs};
use folio_vfs::{FileKind, OpenFlags, Vfs};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Workloads swept over every crash point, per configuration, in CI.
const CI_SEEDS: u64 = 8;
/// The first workload seed of the sweeps.
const FIRST_SEED: u64 = 0x3a1e;

/// The configurations of one level: devices and page sizes. Without powersafe overwrite a
/// 1024-byte page shares a 4096-byte sector with others (commit padding at FULL); SEQUENTIAL
/// skips the header sync after a restart.
fn configs(sync: Synchronous) -> Vec<WalSubject<PagerSubject>> {
    [
        (Device::Psow, 1024),
        (Device::Psow, 4096),
        (Device::NoPsow, 1024),
        (Device::SafeAppend, 1024),
        (Device::Sequential, 4096),
        (Device::Atomic, 4096),
    ]
    .into_iter()
    .map(|(device, page_size)| WalSubject::pages(sync, device, page_size))
    .collect()
}

/// Panics with every violation, each under its configuration (the first few explained).
fn assert_clean(what: &str, reports: &[(WalSubject<PagerSubject>, Report)], explain: bool) {
    let mut lines = Vec::new();
    for (subject, report) in reports {
        for (i, v) in report.violations.iter().take(10).enumerate() {
            lines.push(format!("[{}] {v}", subject.label()));
            if explain && i == 0 {
                lines.push(subject.explain(v.run_seed));
            }
        }
    }
    assert!(
        lines.is_empty(),
        "{what}: violations; replay one with FOLIO_SEED=<seed> and this test's name (it explains \
         the run on each configuration):\n{}",
        lines.join("\n")
    );
}

fn total<T>(reports: &[(T, Report)]) -> Report {
    Report::total(reports.iter().map(|(_, report)| report))
}

/// What kind of step `step` is, for the tally of crash points by step.
fn step_kind(step: &WalStep<Txn>) -> String {
    match step {
        WalStep::Txn(txn) if txn.rollback => "rollback".into(),
        WalStep::Txn(_) => "commit (+ auto-checkpoint)".into(),
        WalStep::Checkpoint { mode, .. } => format!("{mode:?} checkpoint"),
        WalStep::Reopen { alone: true, .. } => "last close".into(),
        WalStep::Reopen { alone: false, .. } => "close beside a reader".into(),
        WalStep::PeerBegin => "reader begins".into(),
        WalStep::PeerEnd { alone: true } => "reader's last close".into(),
        WalStep::PeerEnd { alone: false } => "reader ends".into(),
    }
}

/// The crash points (writes and syncs) a sweep of `seeds` workloads finds inside each kind of
/// step, added to `tally`.
fn tally_crash_points(
    subject: &WalSubject<PagerSubject>,
    seeds: u64,
    tally: &mut BTreeMap<String, u64>,
) {
    let points = |vfs: &SimVfs| vfs.op_count(FaultOp::Write) + vfs.op_count(FaultOp::Sync);
    for seed in FIRST_SEED..FIRST_SEED + seeds {
        let vfs = SimVfs::new(subject.sim_config(seed));
        subject.setup(&vfs).unwrap();
        for step in subject.workload(&mut Rng::new(seed)) {
            let before = points(&vfs);
            subject.run_step(&vfs, &step).unwrap();
            *tally.entry(step_kind(&step)).or_default() += points(&vfs) - before;
        }
    }
}

/// Sweeps every configuration of `sync` over every crash point of the CI (or
/// `FOLIO_CRASH_SEEDS`) workloads, plus sampled runs if `FOLIO_CRASH_MINUTES` is set; checks
/// the oracle, and that losses show up exactly where they are allowed.
fn check_level(sync: Synchronous, ci_seeds: u64) {
    let subjects = configs(sync);
    if let Some(seed) = crash::replay_seed() {
        return crash::replay_explained(&subjects, seed);
    }
    let start = Instant::now();
    let seeds = crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(ci_seeds);
    // The WAL suite's share of a long run: 0.27, over three tests.
    let sample = crash::sample_budget(0.27 / 3.0).map(|b| b / subjects.len() as u32);
    let mut rng = Rng::new(0x3a1_5a3b ^ sync as u64);
    let mut reports = Vec::new();
    let mut tally = BTreeMap::new();
    for subject in subjects {
        tally_crash_points(&subject, seeds, &mut tally);
        let mut report = crash::sweep(&subject, FIRST_SEED, seeds);
        if let Some(budget) = sample {
            report.merge(crash::sample_for(&subject, &mut rng, budget));
        }
        let cell = crash::Cell {
            suite: "wal",
            subject: "folio",
            mode: "wal".to_string(),
            sync: sync.to_string(),
            device: format!("{:?}/{}", subject.txns.device, subject.txns.page_size),
        };
        crash::print_report(&cell, &report);
        if subject.txns.device != Device::NoPsow || sync != Synchronous::Normal {
            assert_eq!(report.normal_exposures, 0, "[{}] has no NORMAL exposure", subject.label());
        }
        reports.push((subject, report));
    }
    let sum = total(&reports);
    let durability = sqlite_durability(JournalMode::Wal, sync);
    eprintln!(
        "pager wal/{sync} ({durability:?}): {} crash points tried, {} violations, {} allowed \
         losses observed, {} NORMAL exposures, in {:.1?}",
        sum.runs,
        sum.violations.len(),
        sum.allowed_losses,
        sum.normal_exposures,
        start.elapsed()
    );
    eprintln!("pager wal/{sync}: swept crash points inside each kind of step: {tally:?}");
    assert_clean(&format!("pager wal/{sync}"), &reports, true);
    // Every kind of step that writes is crashed inside (the CI workloads are enough to).
    if seeds >= CI_SEEDS {
        for kind in ["commit (+ auto-checkpoint)", "rollback", "last close", "reader's last close"]
            .into_iter()
            .map(String::from)
            .chain(CHECKPOINT_MODES.iter().map(|mode| format!("{mode:?} checkpoint")))
        {
            assert!(tally.get(&kind).is_some_and(|&n| n > 0), "no crash point inside a {kind}");
        }
    }
    assert!(sum.runs > 100 * seeds, "suspiciously few crash points: {}", sum.runs);
    match durability {
        Durability::TailMayBeLost => assert!(
            sum.allowed_losses > 0,
            "wal/{sync} may lose a tail of commits, but no run showed it: the exception is \
             allowed but never exercised"
        ),
        _ => assert_eq!(sum.allowed_losses, 0, "the oracle allows no loss here"),
    }
}

#[test]
fn wal_full_survives_every_crash_point() {
    check_level(Synchronous::Full, CI_SEEDS);
}

#[test]
fn wal_normal_keeps_a_committed_prefix_at_every_crash_point() {
    check_level(Synchronous::Normal, CI_SEEDS);
}

#[test]
fn wal_extra_survives_every_crash_point() {
    // EXTRA syncs the log as FULL does (SQLite's wal.c, `sqlite3WalFrames`): fewer workloads in CI.
    check_level(Synchronous::Extra, CI_SEEDS / 3);
}

#[test]
fn canary_normal_claiming_full_durability_is_caught() {
    // Every violation is a lost tail of commits, which the honest oracle calls allowed.
    let honest = WalSubject::pages(Synchronous::Normal, Device::Psow, 1024);
    let liar = honest.clone().claiming(Durability::Full);
    let report = crash::expect_caught("wal/NORMAL claiming FULL", &liar, FIRST_SEED, 2);
    for v in &report.violations {
        assert!(v.detail.contains("were acknowledged"), "{v}");
        let outcome = crash::run_one(&honest, v.run_seed).unwrap_or_else(|v| panic!("{v}"));
        assert_eq!(outcome, Outcome::AllowedLoss, "{v}");
    }
}

#[test]
fn canary_normal_claiming_only_the_last_commit_is_caught() {
    // NORMAL loses more than the last commit: the reason for `TailMayBeLost`.
    let honest = WalSubject::pages(Synchronous::Normal, Device::Psow, 1024);
    let liar = honest.clone().claiming(Durability::LastCommitMayBeLost);
    let report =
        crash::expect_caught("wal/NORMAL claiming only the last commit", &liar, FIRST_SEED, 2);
    for v in &report.violations {
        let outcome = crash::run_one(&honest, v.run_seed).unwrap_or_else(|v| panic!("{v}"));
        assert_eq!(outcome, Outcome::AllowedLoss, "{v}");
    }
}

#[test]
fn canary_checkpoints_that_do_nothing_are_caught_by_the_durability_points() {
    // At NORMAL a checkpoint step is what makes the commits before it durable; acknowledged
    // without checkpointing, it promises what the log (never synced) does not keep.
    let mut subject = WalSubject::pages(Synchronous::Normal, Device::Psow, 1024);
    subject.skip_checkpoints = true;
    let report = crash::expect_caught("checkpoints that do nothing", &subject, FIRST_SEED, 8);
    let lost = report.violations.iter().filter(|v| v.detail.contains("were acknowledged"));
    assert_eq!(lost.count(), report.violations.len(), "{:?}", report.violations);
}

#[test]
fn canary_a_recovery_that_discards_the_log_is_caught() {
    let correct = WalSubject::pages(Synchronous::Full, Device::Psow, 1024);
    let canary = correct.clone().recovering_by(WalRecovery::DiscardLog);
    let report = crash::expect_caught("a recovery that discards the log", &canary, FIRST_SEED, 1);
    // The same runs reading the log are clean: the log is what was missing.
    for v in &report.violations {
        crash::run_one(&correct, v.run_seed).unwrap_or_else(|v| panic!("{v}"));
    }
}

/// Replays runs the sweeps found failing before the fixes, each on its configuration; panics
/// with the explanation of every run that still fails. (Each seed failed without its fix when
/// it was pinned; a later change to the sequence of writes may move its crash point.)
fn check_found(what: &str, cases: &[(Synchronous, Device, u32, u64)]) {
    // Found with a reader in every configuration.
    let runs = cases.iter().map(|&(sync, device, page_size, seed)| {
        (WalSubject::pages(sync, device, page_size).with_readers(true), seed)
    });
    crash::check_found(what, runs);
}

#[test]
fn crash_found_a_torn_checkpoint_damages_only_pages_the_log_restores() {
    // 4096-byte sectors without powersafe overwrite, 1024-byte pages: a checkpoint copying
    // page 2 into the database can tear its whole sector, pages 1, 3 and 4 included. Those
    // were not in the log, so recovery read them torn from the database ("??", or a page 1
    // without its magic). SQLite's `pagerWriteLargeSector` runs in WAL mode too: writing a
    // page marks every page of its sector dirty, so the log carries the whole sector. The
    // same holds for the zero pages a commit writes where the database regrew (0x3a5f00085):
    // their sectors go into the log with them.
    check_found(
        "large sectors",
        &[
            (Synchronous::Full, Device::NoPsow, 1024, 0x3a1e00012),
            (Synchronous::Normal, Device::NoPsow, 1024, 0x3a1e0000b),
            (Synchronous::Full, Device::NoPsow, 1024, 0x3a5f00085),
        ],
    );
}

#[test]
fn crash_found_a_page1_spilled_mid_transaction_is_restamped_at_commit() {
    // Page 1, changed and spilled to the log by a small cache, was not rewritten at commit
    // when the size ended where it began: the log's page 1 kept the size of the moment it was
    // spilled, and the pager the change counter of the transaction before, which the next
    // commit then stamped again.
    check_found("page 1 spilled", &[(Synchronous::Normal, Device::Psow, 1024, 0x3a2e00007)]);
}

#[test]
fn crash_found_a_commit_frame_is_valid_only_over_the_frames_it_overwrote() {
    // A commit that overwrote spilled frames in place wrote its commit frame (chained over the
    // old checksums) before redoing the checksums, as SQLite does. A power loss that kept the
    // commit frame and lost an overwrite committed a draft page ("2147483655": the draft bit)
    // or a page 1 stamped with another size.
    check_found(
        "commit order",
        &[
            (Synchronous::Full, Device::Atomic, 4096, 0x3a780000c),
            (Synchronous::Full, Device::SafeAppend, 1024, 0x3aa900012),
        ],
    );
}

#[test]
fn crash_found_sqlites_normal_exposure_on_large_sectors_and_full_is_immune() {
    // NORMAL on 4096-byte sectors without powersafe overwrite: a checkpoint copied the log
    // into the database and synced it, a reader kept the log from restarting, and the next
    // commit's frames, appended without padding (SQLite pads only when it syncs, at FULL),
    // shared a sector with the copied commit frame: the power loss tore it, and recovery read
    // the shorter log over the newer database. Folio writes what SQLite writes, so the oracle
    // counts the runs as SQLite's NORMAL exposure (the database file alone is a committed
    // state); the same workloads at FULL, padded, and on a powersafe device, are clean. (The
    // suite's NORMAL runs on that device go without a reader: a copy the reader stopped short
    // can be torn as well, and the database file alone is then no committed state either,
    // which the oracle cannot tell from damage of Folio's making: 0x74af3f7a1595e320.)
    for seed in [0x4b93be4e20968437, 0x6f9af72e985aa484] {
        let normal =
            WalSubject::pages(Synchronous::Normal, Device::NoPsow, 1024).with_readers(true);
        let found = crash::run_one(&normal, seed);
        assert!(
            matches!(found, Ok(Outcome::NormalExposure)),
            "seed {seed:#x}: expected the exposure, got {found:?}\n{}",
            normal.explain(seed)
        );
        for subject in [
            WalSubject::pages(Synchronous::Full, Device::NoPsow, 1024),
            WalSubject::pages(Synchronous::Normal, Device::Psow, 1024),
        ] {
            let outcome = crash::run_one(&subject, seed);
            assert!(outcome.is_ok(), "[{}] seed {seed:#x}: {outcome:?}", subject.label());
        }
    }
    // With the reader, the exposure can reach past what the oracle can classify: the copy the
    // reader stopped short (never synced) was torn too, leaving page 1 of a 5-page database
    // in a 4-page file beside a log torn before its first commit.
    let normal = WalSubject::pages(Synchronous::Normal, Device::NoPsow, 1024).with_readers(true);
    let seed = 0x74af3f7a1595e320;
    let found = crash::run_one(&normal, seed).expect_err("SQLite's exposure, unclassified");
    assert!(found.detail.contains("the header says 5 pages, the pager sees 4"), "{found}");
    let full = WalSubject::pages(Synchronous::Full, Device::NoPsow, 1024).with_readers(true);
    crash::run_one(&full, seed).unwrap_or_else(|v| panic!("{v}"));
}

#[test]
fn a_crash_image_has_no_shared_memory_and_reopening_rebuilds_the_index() {
    let subject = WalSubject::pages(Synchronous::Full, Device::Psow, 1024);
    // Two commits with auto-checkpoint off: they are in the log only.
    let txn = |id, writes: &[u32]| {
        let writes = writes.to_vec();
        WalStep::Txn(Txn { id, truncate: None, writes, rollback: false, cache_size: 100 })
    };
    let open = WalStep::Reopen { autocheckpoint: 0, alone: true };
    let steps = [open, txn(2, &[2, 5]), txn(3, &[1, 3])];
    let vfs = SimVfs::new(subject.sim_config(FIRST_SEED));
    subject.setup(&vfs).unwrap();
    let mut expected = subject.initial_state();
    for step in &steps {
        subject.run_step(&vfs, step).unwrap();
        expected = subject.model_apply(&expected, step);
    }
    let shm = |vfs: &SimVfs| {
        let db = vfs.open(Some(Path::new(DB)), OpenFlags::read_write(FileKind::MainDb)).unwrap();
        db.shm_map(0, false).unwrap().is_some()
    };
    assert!(shm(&vfs), "the live connection has a wal-index");
    let image = vfs.crash_now();
    assert!(image.files.get(Path::new(WAL)).is_some_and(|log| log.len() > 32), "no log");
    assert!(
        image.files.keys().all(|p| !p.to_string_lossy().ends_with("-shm")),
        "a crash image holds no shared memory: {:?}",
        image.files.keys()
    );
    let boot = SimVfs::from_image(&image, subject.sim_config(1));
    assert!(!shm(&boot), "a rebooted disk starts without shared memory");
    // Reopening rebuilds the index from the log: both commits (synced at FULL) are read back,
    // and the database file alone has neither.
    assert_eq!(subject.recover(&boot).unwrap(), expected);
    let alone = SimVfs::from_image(&image, subject.sim_config(1));
    discard_log(&alone).unwrap();
    assert_eq!(subject.txns.recover(&alone).unwrap(), subject.initial_state());
}

#[test]
fn a_wal_run_seed_replays_the_same_crash_image() {
    let subject = WalSubject::pages(Synchronous::Normal, Device::NoPsow, 1024);
    let mut digests = std::collections::BTreeSet::new();
    for point in [5, 19, 40, 77] {
        let seed = crash::run_seed(0xbeef, point);
        let a = crash::crash_image(&subject, seed);
        assert_eq!(a, crash::crash_image(&subject, seed), "run seed {seed:#x} differs");
        digests.insert(a.digest());
    }
    assert!(digests.len() > 1, "different crash points gave identical images");
}

#[test]
fn wal_survives_an_io_error_at_every_operation_then_a_crash() {
    let start = Instant::now();
    // A violation names the run seed `workload seed << 20`; FOLIO_SEED takes that back. One
    // workload in CI; a larger FOLIO_CRASH_SEEDS sweeps one more per 25.
    let (first, n) = match crash::replay_seed() {
        Some(s) => (s >> 20, 1),
        None => (0xfa17, crash::env_u64("FOLIO_CRASH_SEEDS").map_or(1, |n| (n / 25).max(1))),
    };
    let mut reports = Vec::new();
    for sync in [Synchronous::Normal, Synchronous::Full] {
        for (device, page_size) in [(Device::Psow, 1024), (Device::NoPsow, 1024)] {
            let subject = WalSubject::pages(sync, device, page_size);
            let mut report = Report::default();
            for seed in first..first + n {
                for kind in [FaultKind::Io, FaultKind::DiskFull, FaultKind::ShortWrite] {
                    report.merge(crash::fault_crash_sweep(&subject, seed, kind));
                }
            }
            reports.push((subject, report));
        }
    }
    let sum = total(&reports);
    eprintln!(
        "pager wal under I/O errors (workload seeds {first:#x}..{:#x}): {} fault runs, {} \
         violations, {} allowed losses after a power cut, in {:.1?}",
        first + n,
        sum.runs,
        sum.violations.len(),
        sum.allowed_losses,
        start.elapsed()
    );
    assert_clean("pager wal under I/O errors", &reports, false);
    assert!(sum.runs > 1000, "suspiciously few fault points: {}", sum.runs);
}

/// Crash images per configuration handed to stock sqlite3 in CI (one where the log held
/// commits the database file lacks first); a larger FOLIO_CRASH_SEEDS hands one per 2 seeds.
const SQLITE3_IMAGES: usize = 5;

/// Our pager's pages of the database in `image`, read as recovery reads them.
fn our_pages<T: PagerTxns>(subject: &T, vfs: SimVfs) -> Vec<u8> {
    let mut pager = Pager::open(Arc::new(vfs), Path::new(DB), subject.options(100)).unwrap();
    pager.begin_read().unwrap();
    let mut bytes = Vec::new();
    for page_no in 1..=pager.page_count() {
        bytes.extend_from_slice(&pager.get(page_no).unwrap());
    }
    pager.end_read().unwrap();
    bytes
}

#[test]
fn stock_sqlite3_recovers_wal_crash_images_to_the_pages_our_pager_recovers() {
    let dir = tempfile::tempdir().expect("scratch directory");
    let versions = Arc::new(Versions::make(dir.path(), 1024).in_wal_format());
    let mut subjects = Vec::new();
    for sync in [Synchronous::Normal, Synchronous::Full] {
        for device in [Device::Psow, Device::NoPsow] {
            let txns = TransplantSubject {
                steps: 6,
                ..TransplantSubject::new(Arc::clone(&versions), JournalMode::Wal, sync, device)
            };
            subjects.push(WalSubject::new(txns));
        }
    }
    if let Some(seed) = crash::replay_seed() {
        for subject in &subjects {
            let outcome = crash::run_one(subject, seed).unwrap_or_else(|v| panic!("{v}"));
            eprintln!("[{}] run seed {seed:#x}: {outcome:?}", subject.label());
        }
        return;
    }
    let start = Instant::now();
    let wanted = crash::env_u64("FOLIO_CRASH_SEEDS").map_or(SQLITE3_IMAGES, |n| n as usize / 2);
    let wanted = wanted.max(SQLITE3_IMAGES);
    let (mut images, mut with_log, mut tried) = (0, 0, 0);
    let mut seen = std::collections::BTreeSet::new();
    for (i, subject) in subjects.iter().enumerate() {
        let label = subject.label();
        let mut picked = 0;
        // Points spread over a few workloads (indices past a workload's end wrap around).
        let seeds = (0..8 * wanted as u64).flat_map(|w| (0..120).step_by(5).map(move |p| (w, p)));
        for (workload, point) in seeds {
            if picked == wanted {
                break;
            }
            let seed = crash::run_seed(0x5e1 + ((i as u64) << 12) + workload, point);
            tried += 1;
            let outcome = crash::run_one(subject, seed).unwrap_or_else(|v| panic!("[{label}] {v}"));
            let image = crash::crash_image(subject, seed);
            let boot = || SimVfs::from_image(&image, subject.sim_config(seed));
            let ours = subject.recover(&boot());
            let alone = {
                let vfs = boot();
                discard_log(&vfs).and_then(|()| subject.txns.recover(&vfs))
            };
            let log_mattered = alone != ours;
            if (picked == 0 && !log_mattered) || !seen.insert(image.digest()) {
                continue;
            }
            let ours = ours.unwrap_or_else(|e| panic!("[{label}] FOLIO_SEED={seed:#x}: {e}"));
            let Found::Version(v) = ours else {
                panic!("[{label}] FOLIO_SEED={seed:#x}: our pager recovered {ours:?}")
            };
            let scratch = tempfile::tempdir().expect("scratch directory");
            let theirs = sqlite3_reads(&image, scratch.path());
            assert!(theirs.starts_with("ok\n"), "[{label}] FOLIO_SEED={seed:#x}: {theirs}");
            assert_eq!(
                theirs, versions.content[v],
                "[{label}] FOLIO_SEED={seed:#x} ({outcome:?}): stock sqlite3 recovered \
                 something else than version {v}, which our pager recovers"
            );
            // Byte for byte: sqlite3 checkpoints its copy completely; the database file is
            // then exactly the pages our pager reads through the log.
            let db = scratch.path().join(Path::new(DB).file_name().expect("a file name"));
            run_sqlite3_cli(&db, "PRAGMA wal_checkpoint(TRUNCATE);").expect_ok();
            let file = std::fs::read(&db).expect("read sqlite3's copy");
            let pages = our_pages(&subject.txns, boot());
            assert!(
                file == pages,
                "[{label}] FOLIO_SEED={seed:#x}: sqlite3's checkpointed copy ({} bytes) differs \
                 from the pages our pager reads ({} bytes)",
                file.len(),
                pages.len()
            );
            with_log += usize::from(log_mattered);
            images += 1;
            picked += 1;
        }
        assert_eq!(picked, wanted, "[{label}] too few distinct crash images");
    }
    eprintln!(
        "stock sqlite3 recovered {images} WAL crash images ({with_log} where the log held \
         commits the database file lacks; of {tried} crash runs judged) to the pages our pager \
         recovers, in {:.1?}",
        start.elapsed()
    );
    assert!(with_log > 0, "no image needed the log: the comparison proved little");
}

#[test]
fn a_chunked_database_survives_every_crash_point() {
    // With a chunk size, checkpoints truncate the database to whole chunks, so a reopened
    // database whose log is empty holds more pages than its header says: the header's count
    // must win, and every crash must still recover to a committed prefix.
    let subjects: Vec<WalSubject<PagerSubject>> =
        [(Synchronous::Full, Device::NoPsow), (Synchronous::Normal, Device::Psow)]
            .into_iter()
            .map(|(sync, device)| {
                let pages = WalSubject::pages(sync, device, 1024);
                WalSubject::new(PagerSubject { chunk_size: 4096, ..pages.txns })
            })
            .collect();
    if let Some(seed) = crash::replay_seed() {
        return crash::replay_explained(&subjects, seed);
    }
    let seeds = crash::env_u64("FOLIO_CRASH_SEEDS").unwrap_or(CI_SEEDS / 2);
    let reports: Vec<_> = subjects
        .into_iter()
        .map(|subject| {
            let report = crash::sweep(&subject, FIRST_SEED, seeds);
            (subject, report)
        })
        .collect();
    assert_clean("chunked WAL", &reports, true);
    let runs = total(&reports).runs;
    assert!(runs > 100 * seeds, "suspiciously few crash points: {runs}");
}
