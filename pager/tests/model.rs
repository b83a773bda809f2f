//! The pager against a plain in-memory model: random transactions (write pages, grow, shrink,
//! commit, roll back, reopen, checkpoint) with random page sizes, cache sizes, mmap sizes,
//! journal modes (WAL included), synchronous levels and locking modes, on real files through the OS VFS. A second pager reads between the
//! steps: it must always see the last committed state (or be kept out by the writer's lock).
//!
//! Seeded and replayable: the seed comes from `FOLIO_SEED` (else from the clock) and is printed
//! with the minimal failing case; `PROPTEST_CASES` overrides the default of 200 cases.

use folio_pager::{CheckpointMode, JournalMode, LockingMode, Pager, PagerOptions, Synchronous};
use folio_vfs::os::OsVfs;
use folio_vfs::{LockLevel, Vfs};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Page numbers stay small so that writes, growth and truncation overlap.
const MAX_PAGE: u32 = 24;

#[derive(Debug, Clone)]
enum Op {
    Write { page: u32, fill: u8 },
    Grow { by: u32, fill: u8 },
    Truncate { to_256ths: u32 },
    Commit,
    Rollback,
    Reopen { cache_size: i64, mmap_size: u64 },
    Check,
    CheckOther,
    Checkpoint(CheckpointMode),
}

#[derive(Debug, Clone)]
struct Setup {
    page_size: u32,
    journal_mode: JournalMode,
    synchronous: Synchronous,
    cache_size: i64,
    mmap_size: u64,
    locking_mode: LockingMode,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1..=MAX_PAGE, any::<u8>()).prop_map(|(page, fill)| Op::Write { page, fill }),
        2 => (1..4u32, any::<u8>()).prop_map(|(by, fill)| Op::Grow { by, fill }),
        1 => (0..256u32).prop_map(|to_256ths| Op::Truncate { to_256ths }),
        3 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => (cache_size(), mmap_size())
            .prop_map(|(cache_size, mmap_size)| Op::Reopen { cache_size, mmap_size }),
        2 => Just(Op::Check),
        1 => Just(Op::CheckOther),
        1 => prop_oneof![
            Just(CheckpointMode::Passive),
            Just(CheckpointMode::Full),
            Just(CheckpointMode::Restart),
            Just(CheckpointMode::Truncate),
        ]
        .prop_map(Op::Checkpoint),
    ]
}

fn cache_size() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..12, Just(-2000)]
}

fn mmap_size() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(8192), Just(1 << 20)]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop_oneof![Just(512u32), Just(1024), Just(4096)],
        prop_oneof![
            1 => Just(JournalMode::Delete),
            1 => Just(JournalMode::Truncate),
            1 => Just(JournalMode::Persist),
            1 => Just(JournalMode::Memory),
            2 => Just(JournalMode::Wal),
        ],
        prop_oneof![Just(Synchronous::Off), Just(Synchronous::Normal), Just(Synchronous::Full)],
        cache_size(),
        mmap_size(),
        prop_oneof![4 => Just(LockingMode::Normal), 1 => Just(LockingMode::Exclusive)],
    )
        .prop_map(
            |(page_size, journal_mode, synchronous, cache_size, mmap_size, locking_mode)| Setup {
                page_size,
                journal_mode,
                synchronous,
                cache_size,
                mmap_size,
                locking_mode,
            },
        )
}

fn fail(step: usize, what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("step {step}: {what}"))
}

/// The bytes a write puts on a page: page 1 keeps its first 100 bytes (the header).
fn content(page: u32, fill: u8, page_size: u32) -> Vec<u8> {
    (0..page_size as usize).map(|i| fill ^ (i as u8) ^ (page as u8)).collect()
}

/// Compares a page with the model; page 1's header bytes belong to the pager.
fn same(page: u32, got: &[u8], want: &[u8]) -> bool {
    let skip = if page == 1 { 100 } else { 0 };
    got.len() == want.len() && got[skip..] == want[skip..]
}

struct Case {
    vfs: Arc<dyn Vfs>,
    path: std::path::PathBuf,
    setup: Setup,
}

impl Case {
    fn open(&self, cache_size: i64, mmap_size: u64) -> Result<Pager, TestCaseError> {
        let opts = PagerOptions {
            page_size: self.setup.page_size,
            journal_mode: self.setup.journal_mode,
            synchronous: self.setup.synchronous,
            cache_size,
            mmap_size,
            locking_mode: self.setup.locking_mode,
            ..PagerOptions::default()
        };
        Pager::open(Arc::clone(&self.vfs), &self.path, opts).map_err(|e| fail(0, e))
    }
}

/// Reads every page in the pager's current transaction and compares with `model`.
fn compare(pager: &mut Pager, model: &[Vec<u8>], step: usize) -> Result<(), TestCaseError> {
    if pager.page_count() as usize != model.len() {
        return Err(fail(step, format!("{} pages, model has {}", pager.page_count(), model.len())));
    }
    for (i, want) in model.iter().enumerate() {
        let page = i as u32 + 1;
        let got = pager.get(page).map_err(|e| fail(step, e))?;
        if !same(page, &got, want) {
            return Err(fail(step, format!("page {page} differs (mapped: {})", got.is_mapped())));
        }
    }
    Ok(())
}

fn run(dir: &Path, n: usize, setup: &Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    let case = Case {
        vfs: Arc::new(OsVfs::new()),
        path: dir.join(format!("model-{n}.db")),
        setup: setup.clone(),
    };
    let ps = setup.page_size;
    let mut pager = case.open(setup.cache_size, setup.mmap_size)?;
    let open_other = || -> Result<Pager, TestCaseError> {
        let mut other = case.open(3, 1 << 20)?;
        if setup.locking_mode == LockingMode::Exclusive {
            other.set_locking_mode(LockingMode::Normal).map_err(|e| fail(0, e))?;
        }
        Ok(other)
    };
    // A WAL connection holds SHARED for as long as it is open, which keeps an exclusive-mode
    // connection out: in WAL mode the second reader is opened for each check and closed after.
    let wal = setup.journal_mode == JournalMode::Wal;
    let mut other = if wal { None } else { Some(open_other()?) };
    let mut committed: Vec<Vec<u8>> = Vec::new();
    if setup.journal_mode == JournalMode::Wal {
        // Switching a new database to WAL creates its page 1 (as SQLite's pragma does).
        pager.begin_read().map_err(|x| fail(0, x))?;
        pager.end_read().map_err(|x| fail(0, x))?;
        committed.push(vec![0; ps as usize]);
    }
    let mut pending: Option<Vec<Vec<u8>>> = None;
    for (step, op) in ops.iter().enumerate() {
        let e = |what| fail(step, what);
        let begin = |pager: &mut Pager, pending: &mut Option<Vec<Vec<u8>>>| {
            if pending.is_none() {
                pager.begin_write().map_err(|x| fail(step, x))?;
                *pending = Some(committed.clone());
            }
            Ok::<_, TestCaseError>(())
        };
        match op {
            Op::Write { page, fill } | Op::Grow { by: page, fill } => {
                begin(&mut pager, &mut pending)?;
                let model = pending.as_mut().expect("begun");
                let page = match op {
                    Op::Grow { .. } => model.len() as u32 + page,
                    _ => *page,
                };
                let data = content(page, *fill, ps);
                if page == 1 {
                    pager.page_mut(1).map_err(e)?[100..].copy_from_slice(&data[100..]);
                } else {
                    pager.write(page, &data).map_err(e)?;
                }
                if model.len() < page as usize {
                    model.resize(page as usize, vec![0; ps as usize]);
                }
                model[page as usize - 1] = data;
            }
            Op::Truncate { to_256ths } => {
                if pending.as_ref().unwrap_or(&committed).is_empty() {
                    continue;
                }
                begin(&mut pager, &mut pending)?;
                let model = pending.as_mut().expect("begun");
                let to = (model.len() as u32 * to_256ths / 256).max(1);
                pager.truncate(to).map_err(e)?;
                model.truncate(to as usize);
            }
            Op::Commit => {
                if let Some(model) = pending.take() {
                    pager.commit().map_err(e)?;
                    committed = model;
                }
            }
            Op::Rollback => {
                if pending.take().is_some() {
                    pager.rollback().map_err(e)?;
                }
            }
            Op::Reopen { cache_size, mmap_size } => {
                pending = None;
                drop(pager);
                pager = case.open(*cache_size, *mmap_size)?;
            }
            Op::Check => match &pending {
                Some(model) => compare(&mut pager, model, step)?,
                None => {
                    pager.begin_read().map_err(e)?;
                    compare(&mut pager, &committed, step)?;
                    pager.end_read().map_err(e)?;
                }
            },
            Op::Checkpoint(mode) => {
                if pending.is_none() {
                    let c = pager.checkpoint(*mode).map_err(e)?;
                    prop_assert!(!c.busy, "step {}: {:?} checkpoint busy with no reader", step, c);
                }
            }
            Op::CheckOther => {
                if other.is_none() {
                    other = Some(open_other()?);
                }
                let reader = other.as_mut().expect("opened");
                match reader.begin_read() {
                    Ok(()) => {
                        compare(reader, &committed, step)?;
                        reader.end_read().map_err(e)?;
                    }
                    Err(x) if x.is_busy() => {
                        // Only a writer on its way to writing the file keeps readers out.
                        let level = pager.lock_level();
                        prop_assert!(level >= LockLevel::Pending, "step {}: {}", step, x);
                    }
                    Err(x) => return Err(e(x)),
                }
                if wal {
                    other = None;
                }
            }
        }
    }
    if let Some(model) = pending.take() {
        pager.commit().map_err(|x| fail(ops.len(), x))?;
        committed = model;
    }
    drop(pager);
    // A fresh pager (a fresh process's view) reads the last commit.
    let mut last = case.open(4, 0)?;
    last.begin_read().map_err(|x| fail(ops.len(), x))?;
    compare(&mut last, &committed, ops.len())?;
    last.end_read().map_err(|x| fail(ops.len(), x))?;
    Ok(())
}

#[test]
fn random_transactions_match_a_model() {
    let seed = folio_vfs::seed::announce("random_transactions_match_a_model");
    let cases = match std::env::var_os("PROPTEST_CASES") {
        Some(_) => Config::default().cases,
        None => 200,
    };
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let n_case = AtomicUsize::new(0);
    let result = TestRunner::new(config).run(&(setup(), vec(op(), 1..60)), |(setup, ops)| {
        run(dir.path(), n_case.fetch_add(1, Ordering::Relaxed), &setup, &ops)
    });
    if let Err(e) = result {
        panic!("{e}\nreplay with FOLIO_SEED={seed:#x}");
    }
    let n_run = n_case.load(Ordering::Relaxed);
    assert!(n_run >= cases as usize, "ran {n_run} cases, wanted {cases}");
}
