//! `cargo xtask ci`: every check CI runs, in a fixed order, cheapest and most basic first.
//!
//! Each step prints a header, runs, and prints its wall time; the first failure stops the run
//! with a non-zero exit naming the step. A summary table of step times closes the run either
//! way. Child processes inherit stdout and stderr, so cargo test's `test result:` lines reach
//! the CI log as they are.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{cargo, cmd, loom, tidy};

/// One step of the CI run.
struct Step {
    /// Short name, used in headers, the summary and the failure message.
    name: &'static str,
    /// What the step does.
    run: fn(&Path) -> Result<(), String>,
}

/// The steps, in order.
const STEPS: &[Step] = &[
    Step { name: "tools", run: tools },
    Step { name: "fmt", run: fmt },
    Step { name: "clippy", run: clippy },
    Step { name: "test", run: test },
    Step { name: "doc", run: doc },
    Step { name: "tidy", run: tidy::run },
    Step { name: "loom", run: loom_step },
];

/// How a step ended.
enum Outcome {
    Passed(Duration),
    Failed(Duration),
}

/// Runs every step from the workspace root `root`; `Err` names the step that failed.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let started = Instant::now();
    let mut outcomes: Vec<(&str, Outcome)> = Vec::new();
    for (idx, step) in STEPS.iter().enumerate() {
        println!("\n==> ci [{}/{}] {}", idx + 1, STEPS.len(), step.name);
        let step_started = Instant::now();
        let result = (step.run)(root);
        let elapsed = step_started.elapsed();
        match result {
            Ok(()) => {
                println!("<== {}: ok in {}", step.name, secs(elapsed));
                outcomes.push((step.name, Outcome::Passed(elapsed)));
            }
            Err(message) => {
                eprintln!("<== {}: FAILED after {}: {message}", step.name, secs(elapsed));
                outcomes.push((step.name, Outcome::Failed(elapsed)));
                print_summary(&outcomes, started.elapsed());
                return Err(format!("ci step `{}` failed: {message}", step.name));
            }
        }
    }
    print_summary(&outcomes, started.elapsed());
    Ok(())
}

/// The table of step times; steps never reached are listed as skipped.
fn print_summary(outcomes: &[(&str, Outcome)], total: Duration) {
    println!("\nci summary");
    println!("  {:<8} {:<8} {:>10}", "step", "result", "time");
    for step in STEPS {
        let (result, time) = match outcomes.iter().find(|(name, _)| *name == step.name) {
            Some((_, Outcome::Passed(d))) => ("ok", secs(*d)),
            Some((_, Outcome::Failed(d))) => ("FAILED", secs(*d)),
            None => ("skipped", String::new()),
        };
        println!("  {:<8} {:<8} {:>10}", step.name, result, time);
    }
    println!("  {:<8} {:<8} {:>10}", "total", "", secs(total));
}

/// A duration as seconds with one decimal, like `12.3s`.
fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// A `cargo` command run from the workspace root.
fn cargo_in(root: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root);
    cmd
}

fn fmt(root: &Path) -> Result<(), String> {
    cmd::run(cargo_in(root).args(["fmt", "--all", "--", "--check"]))
}

fn clippy(root: &Path) -> Result<(), String> {
    cmd::run(cargo_in(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test(root: &Path) -> Result<(), String> {
    cmd::run(cargo_in(root).args(["test", "--workspace"]))
}

fn doc(root: &Path) -> Result<(), String> {
    let rustdocflags = cmd::append_flags("RUSTDOCFLAGS", "-D warnings");
    cmd::run(
        cargo_in(root).args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", rustdocflags),
    )
}

fn loom_step(root: &Path) -> Result<(), String> {
    loom::run(root, loom::CI_PREEMPTIONS, &[])
}

/// An external program the test suites need, with how to check for it and how to get it.
struct Tool {
    /// The program's name, as the suites run it.
    name: &'static str,
    /// The Debian/Ubuntu package that provides it.
    apt_package: &'static str,
    /// Runs the program; `Ok` holds a version line, `Err` says what is wrong.
    probe: fn() -> Result<String, String>,
    /// How to install it by hand, for the failure message.
    install_hint: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "sqlite3",
        apt_package: "sqlite3",
        probe: probe_sqlite3,
        install_hint: "install the sqlite3 command-line shell: `apt-get install sqlite3` \
                       (Debian/Ubuntu), `dnf install sqlite` (Fedora), `brew install sqlite` \
                       (macOS)",
    },
    Tool {
        name: "python3",
        apt_package: "python3",
        probe: probe_python3,
        install_hint: "install Python 3 with its sqlite3 module: `apt-get install python3` \
                       (Debian/Ubuntu), `brew install python` (macOS); a python3 built from \
                       source (pyenv) needs libsqlite3-dev present when it is built, or put a \
                       distribution python3 first on PATH",
    },
];

/// The `tools` step: the interop and crash suites compare against stock SQLite through the
/// `sqlite3` shell and Python's `sqlite3` module, so both must be present. A missing one is
/// installed with apt-get when we are root and apt-get exists (as in CI containers); otherwise
/// the step fails, because a suite that skips its oracle passes by doing nothing.
fn tools(_root: &Path) -> Result<(), String> {
    let mut apt = Apt { updated: false };
    for tool in TOOLS {
        match (tool.probe)() {
            Ok(version) => println!("{}: {version}", tool.name),
            Err(why) => {
                println!("{}: missing ({why})", tool.name);
                if !apt.usable() {
                    return Err(format!(
                        "{} is required ({why}) and cannot be installed automatically \
                         (that needs root and apt-get); {}",
                        tool.name, tool.install_hint
                    ));
                }
                apt.install(tool.apt_package);
                match (tool.probe)() {
                    Ok(version) => println!("{}: {version} (installed)", tool.name),
                    Err(why) => {
                        return Err(format!(
                            "{} is still unusable after `apt-get install {}` ({why}); {}",
                            tool.name, tool.apt_package, tool.install_hint
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

fn probe_sqlite3() -> Result<String, String> {
    probe(Command::new("sqlite3").arg("--version"))
}

fn probe_python3() -> Result<String, String> {
    let script = "import sqlite3, sys; \
                  print('Python', sys.version.split()[0], 'with SQLite', sqlite3.sqlite_version)";
    probe(Command::new("python3").args(["-c", script]))
}

/// Runs a version probe; `Ok` holds the first line of its output.
fn probe(cmd: &mut Command) -> Result<String, String> {
    let shown = cmd::show(cmd);
    let output = match cmd.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("not found on PATH".to_string())
        }
        Err(e) => return Err(format!("`{shown}` could not start: {e}")),
    };
    if output.status.success() {
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.lines().next().unwrap_or("").trim().to_string())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        Err(format!("`{shown}` failed ({}): {last}", output.status))
    }
}

/// apt-get, run non-interactively, with `apt-get update` at most once per run.
struct Apt {
    updated: bool,
}

impl Apt {
    /// True when we are root and apt-get is on PATH.
    fn usable(&self) -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0");
        root && Command::new("apt-get").arg("--version").output().is_ok_and(|o| o.status.success())
    }

    /// Installs `package`; failures are printed, and the caller probes the tool again.
    fn install(&mut self, package: &str) {
        if !self.updated {
            self.updated = true;
            if let Err(e) = cmd::run(Self::apt_get().args(["update", "-q"])) {
                eprintln!("warning: {e}; trying the install anyway");
            }
        }
        let install = ["install", "-y", "-q", "--no-install-recommends", package];
        if let Err(e) = cmd::run(Self::apt_get().args(install)) {
            eprintln!("warning: {e}");
        }
    }

    fn apt_get() -> Command {
        let mut cmd = Command::new("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    }
}
