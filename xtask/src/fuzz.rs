//! `cargo xtask fuzz [TARGET ...] [--time S]`: runs the cargo-fuzz targets under `fuzz/` (one per
//! decoder of bytes read from disk; their bodies are `tests/src/fuzz.rs`) with libFuzzer for `S`
//! seconds each (default [`DEFAULT_SECONDS`]), all of them when none is named, then prints one
//! line per target: executions, coverage, features, corpus size, and whether it found a crash.
//!
//! cargo-fuzz needs the nightly toolchain, which is installed but which the build must not
//! need; so the targets live in their own workspace (`fuzz/Cargo.toml`) and run through
//! `rustup run nightly`. When cargo-fuzz is missing it is installed (`cargo install cargo-fuzz
//! --locked`), and the run says so. A crash leaves its input in `fuzz/artifacts/<target>/`:
//! commit it, and `tests/it/fuzz_corpus.rs` replays it on stable in CI from then on, as it
//! replays `fuzz/corpus/<target>/`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cmd;

/// Seconds per target when `--time` is not given.
pub(crate) const DEFAULT_SECONDS: u64 = 60;

/// What to fuzz.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The targets; empty for all.
    pub(crate) targets: Vec<String>,
    /// Seconds per target.
    pub(crate) seconds: u64,
}

/// Parses the arguments after `fuzz`.
pub(crate) fn parse(args: &[String]) -> Result<Plan, String> {
    let mut plan = Plan { targets: Vec::new(), seconds: DEFAULT_SECONDS };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--time" => {
                let value = iter.next().ok_or("`--time` needs a number of seconds")?;
                plan.seconds =
                    value.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("`--time` needs a positive number, got `{value}`")
                    })?;
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown argument `{flag}` for `fuzz`"));
            }
            target => plan.targets.push(target.to_string()),
        }
    }
    Ok(plan)
}

/// One target's run, from libFuzzer's final lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// `Done N runs`.
    pub(crate) runs: Option<u64>,
    /// The last `cov:` figure (edges covered).
    pub(crate) coverage: Option<u64>,
    /// The last `ft:` figure (features).
    pub(crate) features: Option<u64>,
    /// The last `corp:` figure (inputs in the corpus).
    pub(crate) corpus: Option<u64>,
    /// The line naming a crash, a leak, a timeout or an out-of-memory, if there was one.
    pub(crate) failure: Option<String>,
}

/// Reads libFuzzer's output (its standard error).
pub(crate) fn outcome(output: &str) -> Outcome {
    let mut out = Outcome::default();
    let figure = |line: &str, key: &str| -> Option<u64> {
        let at = line.find(key)? + key.len();
        let digits: String =
            line[at..].trim_start().chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("Done ") {
            out.runs = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
        if line.starts_with('#') {
            out.coverage = figure(line, "cov:").or(out.coverage);
            out.features = figure(line, "ft:").or(out.features);
            out.corpus = figure(line, "corp:").or(out.corpus);
        }
        let failed = ["ERROR: libFuzzer", "ERROR: AddressSanitizer", "panicked at", "SUMMARY:"];
        if out.failure.is_none() && failed.iter().any(|f| line.contains(f)) {
            out.failure = Some(line.trim().to_string());
        }
    }
    out
}

/// Runs `plan` on the workspace at `root`.
pub(crate) fn run(root: &Path, plan: &Plan) -> Result<(), String> {
    let fuzz = root.join("fuzz");
    let mut available = targets(&fuzz)?;
    available.sort();
    let chosen: Vec<String> =
        if plan.targets.is_empty() { available.clone() } else { plan.targets.clone() };
    if let Some(unknown) = chosen.iter().find(|t| !available.contains(t)) {
        return Err(format!(
            "no fuzz target `{unknown}`; the targets are: {}",
            available.join(", ")
        ));
    }
    ensure_cargo_fuzz()?;
    let mut rows = Vec::new();
    for target in &chosen {
        let mut command = nightly_cargo();
        command.current_dir(&fuzz).args(["fuzz", "run", target, "--"]).args([
            format!("-max_total_time={}", plan.seconds),
            "-timeout=10".to_string(),
            "-rss_limit_mb=2048".to_string(),
            "-print_final_stats=1".to_string(),
        ]);
        println!("$ {}", cmd::show(&command));
        let output = command
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("could not start cargo fuzz: {e}"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
        let mut result = outcome(&stderr);
        if !output.status.success() && result.failure.is_none() {
            result.failure = Some(format!("cargo fuzz exited with {}", output.status));
        }
        rows.push((target.clone(), result));
    }
    println!("\nfuzz report ({} s per target)", plan.seconds);
    println!("{:<18} {:>12} {:>8} {:>8} {:>8}  result", "target", "runs", "cov", "ft", "corpus");
    let show = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let mut failed = Vec::new();
    for (target, r) in &rows {
        let result = match &r.failure {
            None => "ok".to_string(),
            Some(why) => {
                failed.push(target.clone());
                format!("FAILED: {why} (input in fuzz/artifacts/{target}/)")
            }
        };
        println!(
            "{target:<18} {:>12} {:>8} {:>8} {:>8}  {result}",
            show(r.runs),
            show(r.coverage),
            show(r.features),
            show(r.corpus)
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz targets failed: {}", failed.join(", ")))
    }
}

/// The targets: the files of `fuzz/fuzz_targets/`.
fn targets(fuzz: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz.join("fuzz_targets");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            if let Some(stem) = path.file_stem() {
                names.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    Ok(names)
}

/// `cargo` of the nightly toolchain, through rustup.
fn nightly_cargo() -> Command {
    let mut command = Command::new("rustup");
    command.args(["run", "nightly", "cargo"]);
    command
}

/// Installs cargo-fuzz when `cargo fuzz` is not there, saying so.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = nightly_cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("cargo-fuzz is not installed: installing it (cargo install cargo-fuzz --locked)");
    cmd::run(Command::new(crate::cargo()).args(["install", "cargo-fuzz", "--locked"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn plans_name_targets_and_a_time() {
        assert_eq!(parse(&[]), Ok(Plan { targets: vec![], seconds: DEFAULT_SECONDS }));
        let plan = parse(&args(&["wal_scan", "--time", "30", "db_header"])).unwrap();
        assert_eq!(plan, Plan { targets: args(&["wal_scan", "db_header"]), seconds: 30 });
        assert!(parse(&args(&["--time"])).is_err());
        assert!(parse(&args(&["--time", "0"])).unwrap_err().contains("positive"));
        assert!(parse(&args(&["--jobs", "2"])).unwrap_err().contains("--jobs"));
    }

    #[test]
    fn libfuzzer_output_gives_runs_coverage_and_failures() {
        let clean = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 3/99b exec/s: 0\n\
                     #4096\tpulse  cov: 52 ft: 80 corp: 9/1Kb lim: 43 exec/s: 2048\n\
                     Done 123456 runs in 61 second(s)\n";
        assert_eq!(
            outcome(clean),
            Outcome {
                runs: Some(123_456),
                coverage: Some(52),
                features: Some(80),
                corpus: Some(9),
                failure: None
            }
        );
        let crashed = "#10\tNEW    cov: 7 ft: 7 corp: 2/4b\n\
                       thread '<unnamed>' panicked at tests/src/fuzz.rs:40:9:\n\
                       ==1== ERROR: libFuzzer: deadly signal\n";
        let r = outcome(crashed);
        assert_eq!(r.coverage, Some(7));
        assert!(r.failure.unwrap().contains("panicked at tests/src/fuzz.rs:40:9"));
    }

    #[test]
    fn every_fuzz_target_has_a_file_and_a_body() {
        let root = crate::workspace_root();
        let names = targets(&root.join("fuzz")).unwrap();
        assert!(names.len() >= 8, "{names:?}");
        let bodies = std::fs::read_to_string(root.join("tests/src/fuzz.rs")).unwrap();
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        for name in &names {
            assert!(bodies.contains(&format!("(\"{name}\", {name})")), "{name} is not in TARGETS");
            assert!(manifest.contains(&format!("name = \"{name}\"")), "{name} has no [[bin]]");
        }
    }
}
