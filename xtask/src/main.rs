//! xtask: Folio's automation, written in Rust so it runs wherever cargo does
//! (`cargo xtask <command>`, an alias in `.cargo/config.toml`).
//!
//! * `ci` runs every check CI runs, in order, and stops at the first failure ([`ci`]).
//! * `loom` runs the loom models (folio-vfs, folio-asyncio, folio-wal) in their own target
//!   directory ([`loom`]).
//! * `crash` runs the crash suites of folio-tests with a larger budget ([`crash`]).
//! * `bench` runs the criterion benchmarks ([`bench`](mod@bench)).
//! * `fuzz` runs the cargo-fuzz targets with libFuzzer on nightly ([`fuzz`]).
//! * `tidy` checks the workspace's structure: the layer graph, the `unsafe` allow-list, `//!`
//!   docs, no `mod.rs`, file lengths ([`tidy`]). The same checks run as `#[test]`s.
//!
//! Architecture invariant: xtask depends on no workspace crate (tidy checks this too), so it
//! builds in seconds and still runs when the crates it checks do not compile. Its one
//! dependency is `cargo_metadata`, so tidy reads the manifests as Cargo itself does.

mod bench;
mod ci;
mod cmd;
mod crash;
mod fuzz;
mod loom;
mod tidy;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The usage text, for `help` and for mistakes.
const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                          everything CI runs, in order: tools, fmt, clippy, test, doc, tidy,
                              loom (LOOM_MAX_PREEMPTIONS=2); stops at the first failure
  loom [--preemptions N] [-- <test args>]
                              the loom models of folio-vfs, folio-asyncio and folio-wal
                              (<crate>/tests/loom.rs) in release mode,
                              LOOM_MAX_PREEMPTIONS=N (default 3), built in target/loom
  crash [--seeds N] [--minutes M] [--replay SEED]
                              the crash suites of folio-tests in release mode: N workloads swept
                              over every crash point (CI: 4), plus sampled runs for about M
                              minutes of wall-clock time; ends with one table, Folio beside stock
                              SQLite per journal mode, synchronous level and device, and the
                              replay command of every violation; --replay runs the one run seed
                              a failure printed
  bench [-- <criterion args>] every criterion benchmark, each beside its physical limit
  fuzz [TARGET ...] [--time S]
                              the cargo-fuzz targets (fuzz/fuzz_targets/: one per decoder) with
                              libFuzzer on nightly, S seconds each (default 60), all when none is
                              named; installs cargo-fuzz when missing; ends with one line per
                              target (runs, coverage, corpus, crash)
  tidy                        the workspace structure checks (layer graph, unsafe allow-list,
                              //! docs, no mod.rs, file length)
  help                        this text";

/// Preemption bound for a manual `cargo xtask loom`; CI uses [`loom::CI_PREEMPTIONS`].
const MANUAL_PREEMPTIONS: u32 = 3;

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    /// `cargo xtask ci`
    Ci,
    /// `cargo xtask loom [--preemptions N] [-- args]`
    Loom {
        /// `LOOM_MAX_PREEMPTIONS` for the run.
        preemptions: u32,
        /// Arguments for the test binary (after `--`).
        test_args: Vec<String>,
    },
    /// `cargo xtask crash [--seeds N] [--minutes M] [--replay SEED]`
    Crash(crash::Budget),
    /// `cargo xtask tidy`
    Tidy,
    /// `cargo xtask bench [-- args]`
    Bench(Vec<String>),
    /// `cargo xtask fuzz [TARGET ...] [--time S]`
    Fuzz(fuzz::Plan),
    /// `cargo xtask help`
    Help,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("xtask: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = workspace_root();
    let result = match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Ci => ci::run(&root),
        Command::Loom { preemptions, test_args } => loom::run(&root, preemptions, &test_args),
        Command::Crash(budget) => crash::run(&root, &budget),
        Command::Tidy => tidy::run(&root),
        Command::Bench(args) => bench::run(&root, &args),
        Command::Fuzz(plan) => fuzz::run(&root, &plan),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments after `cargo xtask`.
fn parse_args(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("no command given".to_string());
    };
    match command.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "ci" => no_more_args("ci", rest).map(|()| Command::Ci),
        "tidy" => no_more_args("tidy", rest).map(|()| Command::Tidy),
        "loom" => parse_loom_args(rest),
        "crash" => crash::parse(rest).map(Command::Crash),
        "bench" => match rest.split_first() {
            None => Ok(Command::Bench(Vec::new())),
            Some((dashes, args)) if dashes == "--" => Ok(Command::Bench(args.to_vec())),
            Some((arg, _)) => {
                Err(format!("unknown argument `{arg}` for `bench` (criterion's go after `--`)"))
            }
        },
        "fuzz" => fuzz::parse(rest).map(Command::Fuzz),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn no_more_args(command: &str, rest: &[String]) -> Result<(), String> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!("`{command}` takes no arguments (got `{arg}`)")),
    }
}

fn parse_loom_args(args: &[String]) -> Result<Command, String> {
    let mut preemptions = MANUAL_PREEMPTIONS;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            let test_args = iter.cloned().collect();
            return Ok(Command::Loom { preemptions, test_args });
        }
        let value = if arg == "--preemptions" {
            iter.next().ok_or("`--preemptions` needs a number")?.as_str()
        } else if let Some(value) = arg.strip_prefix("--preemptions=") {
            value
        } else {
            return Err(format!(
                "unknown argument `{arg}` for `loom` (test arguments go after `--`)"
            ));
        };
        preemptions = value
            .parse()
            .map_err(|_| format!("`--preemptions` needs a non-negative number, got `{value}`"))?;
    }
    Ok(Command::Loom { preemptions, test_args: Vec::new() })
}

/// The workspace root: the parent of xtask's own manifest directory, fixed at compile time so
/// `cargo xtask` works from any directory inside the workspace.
fn workspace_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().expect("xtask lives one level below the workspace root").to_path_buf()
}

/// The cargo that runs us (`$CARGO`, set by `cargo run`), so child builds use the same
/// toolchain; plain `cargo` otherwise.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}
