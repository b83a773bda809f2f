//! Commit latency of small stock-SQLite transactions (one autocommitted `INSERT` of a 100-byte
//! row each, rusqlite through folio-sqlite-bridge) on folio-asyncio's `AsyncVfs` over the OS
//! VFS against the plain OS VFS, at `synchronous=FULL` and `NORMAL`, in DELETE and WAL modes.
//! Files live under `CARGO_TARGET_TMPDIR` (a real disk, not tmpfs).
//!
//! Each configuration first runs a burst of 200 commits from an empty queue, each timed, then
//! (async) a flush, timed too. Then criterion drives it with `iter_custom` (sustained commits);
//! every commit's own duration is recorded as well. Two tables of p50/p99 per configuration are
//! printed at the end (the sustained one includes criterion's warm-up, which calls the same
//! routine).
//!
//! **The async VFS gives up durability**: a commit returns once its operations are queued, and
//! the fsyncs happen later on the writer thread. So the table also gives, for the async runs,
//! the time of the final `flush` (the backlog left when the application stops) and the whole
//! cost per commit, commits plus that flush, over the run. Once the backlog reaches the queue's
//! bound (4096 operations by default) a commit waits for the writer, so a long run's latency
//! tends towards the disk's pace; the `waits` column says whether that happened.
//!
//! WAL on the async VFS runs in `locking_mode=EXCLUSIVE` (no shared memory through the queue);
//! on the OS VFS in normal locking mode, as an application would run it.
//!
//! The sustained table's "final flush" comes after criterion's analysis of the last sample,
//! during which the writer keeps draining: it understates the backlog. The burst table's flush
//! follows the last commit at once and is the honest cost of the deferred durability.
//!
//! Measured when written (2 cores shared with other builds; ext4 on a virtual disk whose fsync
//! takes ~50–350 µs). Burst of 200, p50 / p99, then the flush and the mean per commit counting
//! it: DELETE FULL os 385 / 722 µs, async 54 / 207 µs + 67 ms flush = 394 µs per commit;
//! DELETE NORMAL os 330 / 498 µs, async 44 / 150 µs + 59 ms = 341 µs; WAL FULL os 126 / 225 µs,
//! async 2.8 / 13.5 µs + 20 ms = 104 µs; WAL NORMAL os 6.8 / 22 µs, async 2.3 / 53 µs + 19 µs.
//! Sustained (thousands of commits, the queue at its 4096-operation bound with the FULL and
//! DELETE configurations): async p50 equals the OS's (DELETE FULL 376 vs 377 µs, WAL FULL 52 vs
//! 57 µs) and its p99 is worse (WAL FULL 3.9 ms vs 129 µs): the application ends up waiting for
//! the disk anyway, in bursts as the writer frees room a sync at a time.
//!
//! Run: `cargo bench -p folio-tests --bench async_commit`.

// `criterion_group!`-style entry points are undocumented public items.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion};
use folio_asyncio::{AsyncVfs, Options};
use folio_tests::stock_sqlite::{BridgedVfs, JournalMode};
use folio_vfs::os::OsVfs;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One configuration of the table.
#[derive(Debug, Clone, Copy)]
struct Config {
    on_async: bool,
    mode: JournalMode,
    synchronous: &'static str,
}

impl Config {
    fn name(self) -> String {
        let backend = if self.on_async { "async" } else { "os" };
        format!("{backend}/{}/{}", self.mode.pragma(), self.synchronous.to_lowercase())
    }
}

/// Commits of the burst measured before criterion's run: fewer than the queue's bound holds.
const BURST: usize = 200;

/// What one configuration measured.
struct Measured {
    config: Config,
    /// The burst's commits, from an empty queue, and the flush after them (async only).
    burst: (Vec<Duration>, Option<Duration>),
    commits: Vec<Duration>,
    /// The final flush (async only).
    flush: Option<Duration>,
    /// Queue waits and peak queued operations (async only).
    waits: Option<(u64, usize)>,
}

/// A connection on a registered VFS; field order is drop order.
struct Db {
    conn: Connection,
    vfs: BridgedVfs,
    async_vfs: Option<Arc<AsyncVfs>>,
}

fn open(config: Config, dir: &Path) -> Db {
    let path = dir.join(format!("{}.db", config.name().replace('/', "-")));
    let (vfs, async_vfs) = if config.on_async {
        let async_vfs = Arc::new(AsyncVfs::new(Arc::new(OsVfs::new()), Options::default()));
        (BridgedVfs::register("bench-async", async_vfs.clone()), Some(async_vfs))
    } else {
        (BridgedVfs::register("bench-os", Arc::new(OsVfs::new())), None)
    };
    let conn = vfs.open(path.to_str().expect("a UTF-8 path")).expect("open");
    if config.on_async && config.mode == JournalMode::Wal {
        conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE").expect("locking_mode");
    }
    config.mode.set(&conn).expect("journal_mode");
    conn.execute_batch(&format!(
        "PRAGMA synchronous={};
         CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB NOT NULL);",
        config.synchronous
    ))
    .expect("schema");
    Db { conn, vfs, async_vfs }
}

fn bench(c: &mut Criterion, dir: &Path) -> Vec<Measured> {
    let mut results = Vec::new();
    let mut group = c.benchmark_group("commit");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for mode in [JournalMode::Delete, JournalMode::Wal] {
        for synchronous in ["FULL", "NORMAL"] {
            for on_async in [false, true] {
                let config = Config { on_async, mode, synchronous };
                let db = open(config, dir);
                let mut insert =
                    db.conn.prepare("INSERT INTO t(payload) VALUES (?1)").expect("prepare");
                let payload = [0x5au8; 100];
                let mut burst = Vec::with_capacity(BURST);
                for _ in 0..BURST {
                    let start = Instant::now();
                    insert.execute([&payload[..]]).expect("insert");
                    burst.push(start.elapsed());
                }
                let burst_flush = db.async_vfs.as_ref().map(|async_vfs| {
                    let start = Instant::now();
                    async_vfs.flush().expect("flush");
                    start.elapsed()
                });
                let mut commits = Vec::new();
                let id = BenchmarkId::from_parameter(config.name());
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let start = Instant::now();
                            insert.execute([&payload[..]]).expect("insert");
                            let took = start.elapsed();
                            commits.push(took);
                            total += took;
                        }
                        total
                    })
                });
                drop(insert);
                let (flush, waits) = match &db.async_vfs {
                    Some(async_vfs) => {
                        let start = Instant::now();
                        async_vfs.flush().expect("flush");
                        let flush = start.elapsed();
                        let stats = async_vfs.stats();
                        (Some(flush), Some((stats.n_waits, stats.peak_ops)))
                    }
                    None => (None, None),
                };
                let Db { conn, vfs, async_vfs } = db;
                conn.close().map_err(|(_, e)| e).expect("close");
                drop(vfs);
                if let Some(async_vfs) = async_vfs {
                    async_vfs.shutdown();
                }
                results.push(Measured {
                    config,
                    burst: (burst, burst_flush),
                    commits,
                    flush,
                    waits,
                });
            }
        }
    }
    group.finish();
    results
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    match sorted.len() {
        0 => Duration::ZERO,
        n => sorted[(n * p / 100).min(n - 1)],
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn print_table(results: &[Measured]) {
    println!();
    println!("Burst: {BURST} commits from an empty queue, then a flush (async only).");
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>14} {:>16}",
        "configuration", "p50", "p99", "mean", "flush after", "mean incl flush"
    );
    for m in results {
        let (commits, flush) = &m.burst;
        let (p50, p99, sum) = stats(commits);
        let n = commits.len().max(1) as u32;
        println!(
            "{:<22} {:>12} {:>12} {:>12} {:>14} {:>16}",
            m.config.name(),
            micros(p50),
            micros(p99),
            micros(sum / n),
            flush.map_or("-".to_string(), micros),
            micros((sum + flush.unwrap_or_default()) / n),
        );
    }
    println!();
    println!("Sustained: criterion's run (warm-up included), then the final flush (async only).");
    println!(
        "{:<22} {:>8} {:>12} {:>12} {:>12} {:>14} {:>16} {:>14}",
        "configuration",
        "commits",
        "p50",
        "p99",
        "mean",
        "final flush",
        "mean incl flush",
        "waits / peak"
    );
    for m in results {
        let (p50, p99, sum) = stats(&m.commits);
        let n = m.commits.len().max(1) as u32;
        let flush = m.flush.map_or("-".to_string(), micros);
        let with_flush = micros((sum + m.flush.unwrap_or_default()) / n);
        let waits = m.waits.map_or("-".to_string(), |(w, peak)| format!("{w} / {peak}"));
        println!(
            "{:<22} {:>8} {:>12} {:>12} {:>12} {:>14} {:>16} {:>14}",
            m.config.name(),
            m.commits.len(),
            micros(p50),
            micros(p99),
            micros(sum / n),
            flush,
            with_flush,
            waits
        );
    }
}

/// p50, p99 and the sum of `durations`.
fn stats(durations: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = durations.to_vec();
    sorted.sort();
    (percentile(&sorted, 50), percentile(&sorted, 99), sorted.iter().sum())
}

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory on disk");
    let mut c = Criterion::default().configure_from_args();
    let results = bench(&mut c, dir.path());
    c.final_summary();
    print_table(&results);
}
