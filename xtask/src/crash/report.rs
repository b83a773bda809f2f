//! The long run's report: the crash suites print one `crash-report` line per configuration
//! and one `crash-violation` line per violation (folio-tests' `crash::print_report`); this
//! module gathers them into one table — journal mode × synchronous × device, Folio and stock
//! SQLite side by side — and the replay command of every violation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What one side found in one cell: crash points, violations, allowed losses, NORMAL
/// exposures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) points: u64,
    pub(crate) violations: u64,
    pub(crate) allowed: u64,
    pub(crate) exposures: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.points += other.points;
        self.violations += other.violations;
        self.allowed += other.allowed;
        self.exposures += other.exposures;
    }
}

/// A cell of the table: suite, journal mode, synchronous level, device (page sizes merged).
type Key = (String, String, String, String);

/// A violation to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) test: String,
    pub(crate) seed: String,
    pub(crate) detail: String,
}

/// Everything gathered from one run's output.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// Per cell: our side (Folio's pager, our toy protocol) and stock SQLite's.
    cells: BTreeMap<Key, (Counts, Counts)>,
    pub(crate) violations: Vec<Violation>,
    /// Tests the harness reported failed (`test <name> ... FAILED`).
    pub(crate) failed_tests: Vec<String>,
    /// The test binary exited successfully.
    pub(crate) status_ok: bool,
}

impl Gathered {
    /// Takes in one line of the test binary's output; other lines are ignored.
    pub(crate) fn line(&mut self, line: &str) {
        let fields: Vec<&str> = line.trim_end().split('\t').collect();
        match fields.as_slice() {
            ["crash-report", suite, subject, mode, sync, device, points, violations, allowed, exposures] =>
            {
                let number = |s: &str| s.parse::<u64>().unwrap_or(0);
                let counts = Counts {
                    points: number(points),
                    violations: number(violations),
                    allowed: number(allowed),
                    exposures: number(exposures),
                };
                let device = device.split('/').next().unwrap_or(device);
                let key =
                    (suite.to_string(), mode.to_string(), sync.to_string(), device.to_string());
                let cell = self.cells.entry(key).or_default();
                if *subject == "sqlite" {
                    cell.1.add(counts);
                } else {
                    cell.0.add(counts);
                }
            }
            ["crash-violation", test, seed, detail] => self.violations.push(Violation {
                test: test.to_string(),
                seed: seed.to_string(),
                detail: detail.to_string(),
            }),
            _ => {
                let line = line.trim();
                if let Some(name) =
                    line.strip_prefix("test ").and_then(|rest| rest.strip_suffix(" ... FAILED"))
                {
                    self.failed_tests.push(name.to_string());
                }
            }
        }
    }

    /// The totals of each side over every cell.
    pub(crate) fn totals(&self) -> (Counts, Counts) {
        let mut totals = (Counts::default(), Counts::default());
        for (ours, sqlite) in self.cells.values() {
            totals.0.add(*ours);
            totals.1.add(*sqlite);
        }
        totals
    }

    /// The table, one row per cell, Folio's columns beside stock SQLite's.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<9} {:<9} {:<7} {:<11} | {:>10} {:>5} {:>6} {:>6} | {:>10} {:>5} {:>6} {:>6}",
            "suite",
            "mode",
            "sync",
            "device",
            "folio pts",
            "viol",
            "loss",
            "expos",
            "sqlite pts",
            "viol",
            "loss",
            "expos"
        );
        let side = |c: &Counts| {
            if c.points == 0 {
                format!("{:>10} {:>5} {:>6} {:>6}", "-", "", "", "")
            } else {
                format!("{:>10} {:>5} {:>6} {:>6}", c.points, c.violations, c.allowed, c.exposures)
            }
        };
        for ((suite, mode, sync, device), (ours, sqlite)) in &self.cells {
            let _ = writeln!(
                out,
                "{suite:<9} {mode:<9} {sync:<7} {device:<11} | {} | {}",
                side(ours),
                side(sqlite)
            );
        }
        let (ours, sqlite) = self.totals();
        let _ = writeln!(out, "{:<39} | {} | {}", "total", side(&ours), side(&sqlite));
        out
    }

    /// The command that replays `v`.
    pub(crate) fn replay_command(v: &Violation) -> String {
        format!(
            "FOLIO_SEED={} cargo test -p folio-tests --release --test it {} -- --exact --nocapture",
            v.seed, v.test
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_fill_the_table_side_by_side_and_violations_keep_their_test() {
        let mut g = Gathered::default();
        g.line("crash-report\trollback\tfolio\tpersist\tnormal\tPsow/1024\t100\t0\t0\t3");
        g.line("crash-report\trollback\tfolio\tpersist\tnormal\tPsow/4096\t50\t1\t0\t0");
        g.line("crash-report\trollback\tsqlite\tpersist\tnormal\tPsow/1024\t40\t0\t2\t1");
        g.line("crash-violation\tpager_crash::x\t0x1f\tPsow/4096 Write(3): lost");
        g.line("test pager_crash::x ... FAILED");
        g.line("unrelated output");
        let key = ("rollback".into(), "persist".into(), "normal".into(), "Psow".into());
        let (ours, sqlite) = g.cells[&key];
        assert_eq!(ours, Counts { points: 150, violations: 1, allowed: 0, exposures: 3 });
        assert_eq!(sqlite, Counts { points: 40, violations: 0, allowed: 2, exposures: 1 });
        assert_eq!(g.failed_tests, ["pager_crash::x"]);
        assert_eq!(g.violations.len(), 1);
        assert!(Gathered::replay_command(&g.violations[0]).starts_with("FOLIO_SEED=0x1f cargo"));
        let table = g.table();
        assert!(table.contains("persist"), "{table}");
        assert!(table.lines().last().unwrap().contains("150"), "{table}");
    }
}
