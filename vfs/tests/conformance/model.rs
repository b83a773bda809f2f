//! Conformance: random sequences of writes, reads, truncates, size checks, syncs and reopens
//! against a plain `Vec<u8>` model of the file.
//!
//! Seeded and replayable: the seed comes from `FOLIO_SEED` (else from the clock) and is printed
//! with the minimal failing sequence; `PROPTEST_CASES` overrides the default of 64 cases.

use crate::Env;
use folio_vfs::{FileKind, OpenFlags, ReadOutcome, SyncFlags, VfsFile};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Offsets and lengths stay within a few pages, so that writes, holes and truncations overlap.
const SPAN: u64 = 12 * 1024;

#[derive(Clone)]
enum FileOp {
    Write { offset: u64, data: Vec<u8> },
    Read { offset: u64, len: usize },
    Truncate { size: u64 },
    Size,
    Sync,
    Reopen,
}

/// Compact, so that a failing sequence fits on a screen: written bytes as hex.
impl std::fmt::Debug for FileOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileOp::Write { offset, data } => {
                let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "Write {{ offset: {offset}, len: {}, data: {hex:?} }}", data.len())
            }
            FileOp::Read { offset, len } => write!(f, "Read {{ offset: {offset}, len: {len} }}"),
            FileOp::Truncate { size } => write!(f, "Truncate {{ size: {size} }}"),
            FileOp::Size => f.write_str("Size"),
            FileOp::Sync => f.write_str("Sync"),
            FileOp::Reopen => f.write_str("Reopen"),
        }
    }
}

fn file_op() -> impl Strategy<Value = FileOp> {
    prop_oneof![
        4 => (0..SPAN, vec(any::<u8>(), 0..700))
            .prop_map(|(offset, data)| FileOp::Write { offset, data }),
        4 => (0..SPAN + 1000, 0usize..700).prop_map(|(offset, len)| FileOp::Read { offset, len }),
        1 => (0..SPAN + 1000).prop_map(|size| FileOp::Truncate { size }),
        1 => Just(FileOp::Size),
        1 => Just(FileOp::Sync),
        1 => Just(FileOp::Reopen),
    ]
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

/// Applies `ops` to a fresh file named `name` and to the model; any difference fails.
fn check(env: &Env, name: &str, ops: &[FileOp]) -> Result<(), TestCaseError> {
    let open = || env.db(name);
    let mut file: Box<dyn VfsFile> = open();
    let mut model: Vec<u8> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            FileOp::Write { offset, data } => {
                file.write_at(*offset, data).map_err(fail)?;
                if !data.is_empty() {
                    let start = *offset as usize;
                    let end = start + data.len();
                    if model.len() < end {
                        model.resize(end, 0);
                    }
                    model[start..end].copy_from_slice(data);
                }
            }
            FileOp::Read { offset, len } => {
                let mut buf = vec![0xa5; *len];
                let outcome = file.read_at(*offset, &mut buf).map_err(fail)?;
                let start = (*offset as usize).min(model.len());
                let n_real = (model.len() - start).min(*len);
                let mut expected = model[start..start + n_real].to_vec();
                expected.resize(*len, 0);
                let expected_outcome = if n_real == *len {
                    ReadOutcome::Full
                } else {
                    ReadOutcome::Short { n_read: n_real }
                };
                prop_assert_eq!(outcome, expected_outcome, "step {}: {:?}", step, op);
                prop_assert!(buf == expected, "step {}: {:?} read the wrong bytes", step, op);
            }
            FileOp::Truncate { size } => {
                file.truncate(*size).map_err(fail)?;
                model.resize(*size as usize, 0);
            }
            FileOp::Size => {
                prop_assert_eq!(file.size().map_err(fail)?, model.len() as u64, "step {}", step);
            }
            FileOp::Sync => file.sync(SyncFlags::NORMAL).map_err(fail)?,
            FileOp::Reopen => {
                drop(file);
                file = env
                    .open(name, OpenFlags::read_write(FileKind::MainDb))
                    .map_err(|e| fail(format!("step {step}: reopen: {e}")))?;
            }
        }
    }
    prop_assert_eq!(file.size().map_err(fail)?, model.len() as u64, "final size");
    let mut all = vec![0; model.len()];
    file.read_at(0, &mut all).map_err(fail)?;
    prop_assert!(all == model, "final contents differ");
    Ok(())
}

pub fn random_operations_match_a_vec_model(env: &Env) {
    let seed = folio_vfs::seed::announce("random_operations_match_a_vec_model");
    let cases = match std::env::var_os("PROPTEST_CASES") {
        Some(_) => Config::default().cases,
        None => 64,
    };
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    // Every case (shrinking included) gets a file of its own.
    let n_case = AtomicUsize::new(0);
    let result = TestRunner::new(config).run(&vec(file_op(), 1..40), |ops| {
        let name = format!("model-{}.db", n_case.fetch_add(1, Ordering::Relaxed));
        let outcome = check(env, &name, &ops);
        let _ = env.vfs.delete(&env.path(&name), false);
        outcome
    });
    if let Err(e) = result {
        panic!("{} VFS: {e}\nreplay with FOLIO_SEED={seed:#x}", env.vfs.name());
    }
    // Guard against a configuration that silently runs nothing.
    let n_run = n_case.load(Ordering::Relaxed);
    assert!(n_run >= cases as usize, "ran {n_run} cases, wanted {cases}");
}
