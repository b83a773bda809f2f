//! `cargo xtask crash [--seeds N] [--minutes M] [--replay SEED]`: the crash suites of
//! folio-tests (every test whose name contains `crash`: the modules `crash_harness`,
//! `async_crash`, `pager_crash`, `wal_crash`, `bridge_crash`, `async_sqlite_crash`) with a budget
//! larger than CI's.
//!
//! The budget travels as environment variables the suites read: `FOLIO_CRASH_SEEDS` (workloads
//! swept over every crash point), `FOLIO_CRASH_MINUTES` (extra randomly sampled runs) and
//! `FOLIO_SEED` (replay exactly one run seed, as printed by a failing run).

mod report;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::{cargo, cmd};
use report::Gathered;
use std::path::Path;

/// The budget of one `cargo xtask crash`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Budget {
    /// `--seeds N`.
    pub(crate) seeds: Option<u64>,
    /// `--minutes M`.
    pub(crate) minutes: Option<u64>,
    /// `--replay SEED` (decimal or `0x` hex, kept as written).
    pub(crate) replay: Option<String>,
}

/// Parses the arguments after `crash`.
pub(crate) fn parse(args: &[String]) -> Result<Budget, String> {
    let mut budget = Budget::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value =
            |name: &str| iter.next().cloned().ok_or_else(|| format!("`{name}` needs a value"));
        match arg.as_str() {
            "--seeds" => budget.seeds = Some(number("--seeds", &value("--seeds")?)?),
            "--minutes" => budget.minutes = Some(number("--minutes", &value("--minutes")?)?),
            "--replay" => {
                let seed = value("--replay")?;
                number("--replay", &seed)?;
                budget.replay = Some(seed);
            }
            other => return Err(format!("unknown argument `{other}` for `crash`")),
        }
    }
    Ok(budget)
}

fn number(name: &str, value: &str) -> Result<u64, String> {
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    };
    parsed.ok_or_else(|| format!("`{name}` needs a number, got `{value}`"))
}

/// Runs the crash suites with `budget`.
pub(crate) fn run(root: &Path, budget: &Budget) -> Result<(), String> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).args([
        "test",
        "-p",
        "folio-tests",
        "--release",
        "--test",
        "it",
        "crash",
        "--",
        "--nocapture",
    ]);
    if let Some(seeds) = budget.seeds {
        cmd.env("FOLIO_CRASH_SEEDS", seeds.to_string());
    }
    if let Some(minutes) = budget.minutes {
        cmd.env("FOLIO_CRASH_MINUTES", minutes.to_string());
    }
    if let Some(seed) = &budget.replay {
        cmd.env("FOLIO_SEED", seed);
        return cmd::run(&mut cmd);
    }
    let gathered = run_gathering(&mut cmd)?;
    println!("\ncrash report (folio: our pager, our toy protocol; sqlite: stock SQLite through the bridge on the same simulated devices)");
    print!("{}", gathered.table());
    let (ours, sqlite) = gathered.totals();
    println!(
        "crash points in all: {} ({} ours, {} stock SQLite)",
        ours.points + sqlite.points,
        ours.points,
        sqlite.points
    );
    for v in &gathered.violations {
        println!("violation: {}\n  replay: {}", v.detail, Gathered::replay_command(v));
    }
    let mut problems = Vec::new();
    if !gathered.failed_tests.is_empty() {
        problems.push(format!("failed tests: {}", gathered.failed_tests.join(", ")));
    }
    if ours.violations > 0 {
        problems.push(format!("{} violations on our side", ours.violations));
    }
    match (problems.is_empty(), gathered.status_ok) {
        (true, true) => Ok(()),
        (true, false) => Err("the crash suites failed (see the output above)".to_string()),
        (false, _) => Err(problems.join("; ")),
    }
}

/// Runs `cmd`, echoing its output as it comes and gathering the report lines.
fn run_gathering(cmd: &mut Command) -> Result<Gathered, String> {
    let shown = cmd::show(cmd);
    println!("$ {shown}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let echo_stdout = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            lines.push(line);
        }
        lines
    });
    let mut gathered = Gathered::default();
    let stderr = child.stderr.take().expect("piped");
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        eprintln!("{line}");
        gathered.line(&line);
    }
    for line in echo_stdout.join().map_err(|_| "the output reader panicked".to_string())? {
        gathered.line(&line);
    }
    let status = child.wait().map_err(|e| format!("waiting for `{shown}`: {e}"))?;
    gathered.status_ok = status.success();
    Ok(gathered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn parses_every_knob() {
        let budget =
            parse(&args(&["--seeds", "50", "--minutes", "3", "--replay", "0x1f"])).unwrap();
        assert_eq!(
            budget,
            Budget { seeds: Some(50), minutes: Some(3), replay: Some("0x1f".to_string()) }
        );
        assert_eq!(parse(&[]).unwrap(), Budget::default());
    }

    #[test]
    fn rejects_bad_values_and_unknown_flags() {
        assert!(parse(&args(&["--seeds"])).is_err());
        assert!(parse(&args(&["--seeds", "many"])).is_err());
        assert!(parse(&args(&["--replay", "0xzz"])).is_err());
        assert!(parse(&args(&["--fast"])).is_err());
    }
}
