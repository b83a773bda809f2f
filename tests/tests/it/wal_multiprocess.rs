//! Several processes of ours on one WAL database: `folio-wal-worker`
//! processes on folio-pager read, write and checkpoint one database at once for `live_ms`
//! each (2 s; `FOLIO_WAL_LIVE_MS` for longer runs by hand), with no lost update and no torn
//! read:
//!
//! * four mixed processes, each transferring, checking snapshots and checkpointing (every
//!   mode, each process starting at a different one);
//! * two writers against a reader that checkpoints PASSIVE after every snapshot and one that
//!   restarts and truncates the log often: the writers restart the log under running
//!   checkpoints, the race of <https://sqlite.org/releaselog/3_51_3.html>.
//!
//! Torn reads: every snapshot any process reads (its read transactions and the start of its
//! write transactions) must show the constant `sum(v)`. Lost updates: each writer owns a
//! counter row that only its commits move; it checks in every write transaction that the row
//! shows exactly its own commits, and after the run our pager and the stock shell must find
//! each counter equal to the commits its process reported. No snapshot of a process may be
//! older than its previous one. The stock shell's integrity check closes each test.
//!
//! `FOLIO_SEED=<seed>` replays a run's random choices (the interleaving is up to the OS).

use folio_tests::wal_workload::{run_live, PeerSpec, Role, Side};

/// Our worker binary.
const WORKER: &str = env!("CARGO_BIN_EXE_folio-wal-worker");
const ROWS: u32 = 600;
const PAGE_SIZE: u32 = 1024;
const DEFAULT_SEED: u64 = 0x3a1_f011_0b1e;

fn seed() -> u64 {
    folio_vfs::seed::from_env_or(DEFAULT_SEED)
}

fn ours(name: &'static str, role: Role) -> PeerSpec {
    PeerSpec::new(name, Side::Folio(WORKER.into()), role)
}

#[test]
fn four_of_our_processes_read_write_and_checkpoint_one_wal_database_without_lost_updates() {
    let mixed = |name, slot| ours(name, Role::Mixed).slot(slot).checkpoint_every(15).pause_us(1500);
    let run = run_live(
        seed(),
        ROWS,
        PAGE_SIZE,
        &[
            mixed("our process 1", 1),
            mixed("our process 2", 2),
            mixed("our process 3", 3),
            mixed("our process 4", 4),
        ],
    );
    for (report, slot) in run.reports.iter().zip(1u32..) {
        assert!(report.get("commits") > 0, "process {slot} committed nothing: {report}");
        assert!(report.get("snapshots") > 0, "process {slot} checked nothing: {report}");
        assert!(report.get("checkpoints") > 0, "process {slot} never checkpointed: {report}");
        for other in (1..=4).filter(|&s| s != slot) {
            assert!(
                report.seen(other) > 0,
                "process {slot} never saw a commit of process {other}: {report}"
            );
        }
    }
}

#[test]
fn our_writers_restart_the_log_under_running_checkpoints_without_lost_updates() {
    let run = run_live(
        seed(),
        ROWS,
        PAGE_SIZE,
        &[
            ours("our writer 1", Role::Writer).slot(1).pause_us(1500),
            ours("our writer 2", Role::Writer).slot(2).pause_us(1500),
            ours("our passive checkpointer", Role::Reader).checkpoint_every(1).modes(&["passive"]),
            ours("our restarting checkpointer", Role::Reader)
                .checkpoint_every(3)
                .modes(&["restart", "truncate", "full"]),
        ],
    );
    let [w1, w2, passive, restarting] = &run.reports[..] else { unreachable!() };
    assert!(w1.get("commits") > 0 && w2.get("commits") > 0, "a writer starved: {w1} / {w2}");
    for reader in [passive, restarting] {
        assert!(reader.get("checkpoints") > 0, "a checkpointer never ran: {reader}");
        assert!(reader.seen(1) > 0 && reader.seen(2) > 0, "a reader missed a writer: {reader}");
    }
}
