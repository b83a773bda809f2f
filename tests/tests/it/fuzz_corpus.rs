//! The fuzz targets (`folio_tests::fuzz`) on stable Rust: every input of each target's corpus
//! (`fuzz/corpus/<target>/`) and every crash or timeout libFuzzer found (`fuzz/artifacts/<target>/`,
//! kept as regressions), then seeded random inputs, including mutations of the corpus. A panic
//! names the target and the input's file or seed.

use folio_tests::fuzz::TARGETS;
use folio_vfs::sim::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").join("fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("corpus entry").path()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("corpus file"))).collect()
}

fn run(name: &str, body: fn(&[u8]), input: &[u8], what: &dyn Fn() -> String) {
    if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
        panic!("fuzz target {name} panicked on {}", what());
    }
}

#[test]
fn every_corpus_input_and_every_crash_found_replays_cleanly() {
    let root = fuzz_dir();
    for (name, body) in TARGETS {
        let corpus = inputs(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ has no seed inputs");
        let artifacts = inputs(&root.join("artifacts").join(name));
        for (path, bytes) in corpus.iter().chain(&artifacts) {
            run(name, *body, bytes, &|| path.display().to_string());
        }
    }
}

#[test]
fn seeded_random_inputs_and_corpus_mutations_never_panic() {
    let seed = folio_vfs::seed::announce("seeded_random_inputs_and_corpus_mutations_never_panic");
    let root = fuzz_dir();
    for (t, (name, body)) in TARGETS.iter().enumerate() {
        let mut rng = Rng::new(seed ^ t as u64);
        let corpus = inputs(&root.join("corpus").join(name));
        for i in 0..400 {
            let mut input = if corpus.is_empty() || i % 2 == 0 {
                let len = rng.below(if i % 4 == 0 { 70_000 } else { 700 }) as usize;
                (0..len).map(|_| rng.below(256) as u8).collect()
            } else {
                corpus[rng.below(corpus.len() as u64) as usize].1.clone()
            };
            for _ in 0..rng.below(8) {
                if input.is_empty() {
                    break;
                }
                let at = rng.below(input.len() as u64) as usize;
                input[at] = rng.below(256) as u8;
            }
            let what = || format!("input {i} of FOLIO_SEED={}", folio_vfs::seed::show(seed));
            run(name, *body, &input, &what);
        }
    }
}
