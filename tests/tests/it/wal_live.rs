//! Live interop on one WAL database (WAL file, wal-index, locks): processes of
//! ours (the `folio-wal-worker` binary on folio-pager) and stock sqlite3 processes (Python's
//! `sqlite3` module, `scripts/wal_peer.py`) read, write and checkpoint the same database, its
//! `-wal` and its `-shm` at the same time, for `live_ms` each (2 s; `FOLIO_WAL_LIVE_MS` for
//! longer runs by hand):
//!
//! * our writer with two stock readers, one of them checkpointing;
//! * a stock writer with two of our readers, one of them checkpointing;
//! * our writer and a stock writer at once, with a reader of each kind, both checkpointing;
//! * the same without any checkpoint, wide transactions on a deeper tree: the log outgrows the
//!   first `-shm` region, so each side reads frames indexed by the other in later regions.
//!
//! Every transaction keeps `sum(v)` and moves one writer's counter (see
//! `folio_tests::wal_workload`); every peer checks every snapshot it reads (sum, rows, value
//! range, no counter going back, its own counter in its write transactions) and fails with its
//! seed at the first violation. Writers also checkpoint, every mode in turn. Afterwards
//! `run_live` has our pager re-read the table and count each writer's commits in its counter,
//! the stock shell run `PRAGMA integrity_check` with our pager open and again after our pager
//! closed last (and removed `-wal` and `-shm`). Each test also asserts that both sides did
//! their part and saw the other's commits, so none passes by doing nothing.
//!
//! `FOLIO_SEED=<seed>` replays a run's random choices (the interleaving is up to the OS).

use folio_tests::wal_workload::{run_live, PeerSpec, Role, Side};

/// Our worker binary.
const WORKER: &str = env!("CARGO_BIN_EXE_folio-wal-worker");
/// Rows of `t`: at 1 KiB pages, about ten leaves under one interior root.
const ROWS: u32 = 600;
const PAGE_SIZE: u32 = 1024;
const DEFAULT_SEED: u64 = 0x5a1_f011_0a1e;
/// Frames the first wal-index region indexes (SQLite's wal.c, `HASHTABLE_NPAGE_ONE`).
const FRAMES_IN_REGION_0: u64 = 4062;

fn seed() -> u64 {
    folio_vfs::seed::from_env_or(DEFAULT_SEED)
}

fn ours(name: &'static str, role: Role) -> PeerSpec {
    PeerSpec::new(name, Side::Folio(WORKER.into()), role)
}

fn stock(name: &'static str, role: Role) -> PeerSpec {
    PeerSpec::new(name, Side::Stock, role)
}

#[test]
fn our_writer_and_stock_readers_share_a_live_wal_database() {
    let run = run_live(
        seed(),
        ROWS,
        PAGE_SIZE,
        &[
            ours("our writer", Role::Writer).slot(1).checkpoint_every(25),
            stock("stock reader", Role::Reader),
            stock("stock checkpointer", Role::Reader).checkpoint_every(10),
        ],
    );
    let [writer, reader, checkpointer] = &run.reports[..] else { unreachable!() };
    assert!(writer.get("commits") > 0, "our writer committed nothing: {writer}");
    assert!(writer.get("checkpoints") > 0, "our writer never checkpointed: {writer}");
    assert!(checkpointer.get("checkpoints") > 0, "no stock checkpoint: {checkpointer}");
    for stock in [reader, checkpointer] {
        assert!(stock.get("snapshots") > 0, "a stock reader checked nothing: {stock}");
        assert!(stock.seen(1) > 0, "a stock reader never saw our commits: {stock}");
        assert!(stock.get("distinct") > 1, "a stock reader saw one state only: {stock}");
    }
}

#[test]
fn stock_writer_and_our_readers_share_a_live_wal_database() {
    let run = run_live(
        seed(),
        ROWS,
        PAGE_SIZE,
        &[
            stock("stock writer", Role::Writer).slot(1).checkpoint_every(25),
            ours("our reader", Role::Reader),
            ours("our checkpointer", Role::Reader).checkpoint_every(10),
        ],
    );
    let [writer, reader, checkpointer] = &run.reports[..] else { unreachable!() };
    assert!(writer.get("commits") > 0, "the stock writer committed nothing: {writer}");
    assert!(writer.get("checkpoints") > 0, "the stock writer never checkpointed: {writer}");
    assert!(checkpointer.get("checkpoints") > 0, "our checkpointer never ran: {checkpointer}");
    for our in [reader, checkpointer] {
        assert!(our.get("snapshots") > 0, "our reader checked nothing: {our}");
        assert!(our.seen(1) > 0, "our reader never saw stock commits: {our}");
        assert!(our.get("distinct") > 1, "our reader saw one state only: {our}");
    }
}

#[test]
fn our_writer_and_a_stock_writer_share_a_live_wal_database_with_readers_of_both_kinds() {
    let run = run_live(
        seed(),
        ROWS,
        PAGE_SIZE,
        &[
            ours("our writer", Role::Writer).slot(1).checkpoint_every(30),
            stock("stock writer", Role::Writer).slot(2).checkpoint_every(30),
            ours("our reader", Role::Reader).checkpoint_every(10),
            stock("stock reader", Role::Reader).checkpoint_every(10),
        ],
    );
    let [our_w, stock_w, our_r, stock_r] = &run.reports[..] else { unreachable!() };
    assert!(our_w.get("commits") > 0, "our writer committed nothing: {our_w}");
    assert!(stock_w.get("commits") > 0, "the stock writer committed nothing: {stock_w}");
    // Each writer checks the snapshot its write transactions start from: it saw the other's.
    assert!(our_w.seen(2) > 0, "our writer never saw a stock commit: {our_w}");
    assert!(stock_w.seen(1) > 0, "the stock writer never saw our commits: {stock_w}");
    for reader in [our_r, stock_r] {
        assert!(reader.get("checkpoints") > 0, "a reader never checkpointed: {reader}");
        assert!(reader.seen(1) > 0 && reader.seen(2) > 0, "a reader missed a writer: {reader}");
    }
}

/// No checkpoints at all (auto-checkpoint off on every side) and wide transactions on a
/// three-level tree of 512-byte pages, so the log outgrows the first wal-index region within
/// the run: both sides then find frames through hash tables in later `-shm` regions that the
/// other side wrote, and the final close checkpoints the whole long log.
#[test]
fn writers_of_both_kinds_grow_the_log_past_the_first_wal_index_region() {
    let run = run_live(
        seed(),
        2400,
        512,
        &[
            ours("our writer", Role::Writer).slot(1).pairs(24).autocheckpoint(0),
            stock("stock writer", Role::Writer).slot(2).pairs(24).autocheckpoint(0),
            ours("our reader", Role::Reader).autocheckpoint(0),
            stock("stock reader", Role::Reader).autocheckpoint(0),
        ],
    );
    let [our_w, stock_w, our_r, stock_r] = &run.reports[..] else { unreachable!() };
    assert!(our_w.get("commits") > 0 && stock_w.get("commits") > 0, "{our_w} / {stock_w}");
    for reader in [our_r, stock_r] {
        assert!(reader.seen(1) > 0 && reader.seen(2) > 0, "a reader missed a writer: {reader}");
    }
    assert!(
        run.wal_frames_after_run > FRAMES_IN_REGION_0,
        "the log stayed in the first wal-index region ({} frames); lengthen the run",
        run.wal_frames_after_run
    );
}
