//! `folio-wal-worker`: one process of ours in the live WAL suites. It runs the workload of
//! `folio_tests::wal_workload` on folio-pager in WAL mode with the options that
//! `WorkerArgs::to_args` writes, prints its `Report` line (`done commits=… snapshots=… …`) and
//! exits 0, or prints `FAIL seed=<seed>: <what>` on stderr and exits 1 at the first invariant
//! violation or unexpected error.

use folio_tests::wal_workload::folio_side::run_worker;
use folio_tests::wal_workload::WorkerArgs;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match WorkerArgs::parse(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("usage error: {e}\nargs: {argv:?}");
            return ExitCode::from(2);
        }
    };
    match run_worker(&args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("FAIL seed={} role={:?} slot={}: {e}", args.seed, args.role, args.slot);
            ExitCode::FAILURE
        }
    }
}
