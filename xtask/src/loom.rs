//! `cargo xtask loom`: the loom models of the workspace ([`MODELS`]: folio-vfs's lock tables,
//! folio-asyncio's write-queue hand-off, folio-wal's reader, writer and checkpoint protocols
//! with the WAL-reset race; each a `tests/loom.rs` under `#![cfg(loom)]`).
//!
//! They build with `--cfg loom` in release mode, in a target directory of their own
//! (`target/loom`) so the changed flags do not throw away the normal build cache. Because a
//! test file is empty without `--cfg loom`, a package whose run executes no test is an error (a
//! loom run that checks nothing must not pass); with a test filter, the run as a whole must
//! pass some test.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{cargo, cmd};

/// `LOOM_MAX_PREEMPTIONS` in CI: small models, bounded time. Run deeper by hand.
pub(crate) const CI_PREEMPTIONS: u32 = 2;

/// The packages with loom models and the test file holding them (relative to the workspace
/// root; the test target is named `loom`).
pub(crate) const MODELS: &[(&str, &str)] = &[
    ("folio-vfs", "vfs/tests/loom.rs"),
    ("folio-asyncio", "asyncio/tests/loom.rs"),
    ("folio-wal", "wal/tests/loom.rs"),
];

/// Runs every package's models with `LOOM_MAX_PREEMPTIONS=preemptions`, passing `test_args`
/// to each test binary.
pub(crate) fn run(root: &Path, preemptions: u32, test_args: &[String]) -> Result<(), String> {
    let mut total = 0;
    for &(package, tests) in MODELS {
        let passed = run_package(root, package, tests, preemptions, test_args)?;
        if passed == 0 && test_args.is_empty() {
            return Err(format!(
                "the loom run of {package} passed no test; {tests} must hold `#[test]`s built \
                 under `--cfg loom`"
            ));
        }
        total += passed;
    }
    if total == 0 {
        return Err("the loom run passed no test: the filter after `--` matches no model".into());
    }
    println!("loom: {total} model(s) passed with LOOM_MAX_PREEMPTIONS={preemptions}");
    Ok(())
}

/// Runs one package's models; returns how many passed.
fn run_package(
    root: &Path,
    package: &str,
    tests: &str,
    preemptions: u32,
    test_args: &[String],
) -> Result<u64, String> {
    if !root.join(tests).is_file() {
        return Err(format!("{tests} does not exist, so {package} has no loom models to run"));
    }
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root)
        .args(["test", "-p", package, "--release", "--test", "loom"])
        .env("RUSTFLAGS", cmd::append_flags("RUSTFLAGS", "--cfg loom"))
        .env("LOOM_MAX_PREEMPTIONS", preemptions.to_string())
        .env("CARGO_TARGET_DIR", loom_target_dir(root));
    // CARGO_ENCODED_RUSTFLAGS, when set, wins over RUSTFLAGS; keep `--cfg loom` in it too.
    if let Some(encoded) = std::env::var_os("CARGO_ENCODED_RUSTFLAGS") {
        let mut encoded = encoded.to_string_lossy().into_owned();
        if !encoded.is_empty() {
            encoded.push('\x1f');
        }
        encoded.push_str("--cfg\x1floom");
        cmd.env("CARGO_ENCODED_RUSTFLAGS", encoded);
    }
    if !test_args.is_empty() {
        cmd.arg("--").args(test_args);
    }
    run_counting_passed(&mut cmd)
}

/// `<target>/loom`, where `<target>` is `$CARGO_TARGET_DIR` if set, else `<root>/target`.
fn loom_target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            // A relative CARGO_TARGET_DIR is relative to where we were started; the child runs
            // from the root, so make it absolute.
            let dir = PathBuf::from(dir);
            let dir = if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir().map(|cwd| cwd.join(&dir)).unwrap_or(dir)
            };
            dir.join("loom")
        }
        _ => root.join("target").join("loom"),
    }
}

/// Runs `cmd` like [`cmd::run`], but passes its stdout through line by line to count the tests
/// that passed (from libtest's `test result:` lines). stderr stays inherited.
fn run_counting_passed(cmd: &mut Command) -> Result<u64, String> {
    let shown = cmd::show(cmd);
    println!("$ {shown}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let mut passed = 0;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout);
        let mut out = std::io::stdout();
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    // Our own stdout going away must not hide the child's exit status.
                    let _ = out.write_all(&line).and_then(|()| out.flush());
                    passed += passed_in(&String::from_utf8_lossy(&line)).unwrap_or(0);
                }
                Err(e) => {
                    eprintln!("warning: reading the output of `{shown}`: {e}");
                    break;
                }
            }
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for `{shown}`: {e}"))?;
    if status.success() {
        Ok(passed)
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// The passed count of a libtest summary line such as
/// `test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; ...`.
fn passed_in(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("test result:")?;
    let (before, _) = rest.split_once(" passed")?;
    before.rsplit(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests;
