//! Benchmarks of folio-pager, each beside its physical limit measured in the same run, with
//! the ratio each is held to:
//!
//! * `read/mmap` vs `read/read`: a page read in a read transaction through the memory map
//!   against the same read through `read()` (cache too small to hold it). Target: mmap ≤ 0.5×.
//!   `read/raw_pread` is the bare `read_at` of a page on the OS VFS, for reference.
//! * `commit/<mode>-<sync>`: a one-page commit (page 1 with the counter plus one content page)
//!   through the pager, alternating in every iteration with the I/O that commit must do issued
//!   directly on the OS VFS (journal header and two records, the journal syncs of that
//!   synchronous level, the two database writes, the database sync, the journal's
//!   finalization). The ratio of the two sums is printed. Target: ≤ 1.2×.
//!
//! Files live under Cargo's target directory (a real disk, so syncs cost what they cost).
//! After the runs, a table of the ratios is printed.
//!
//! `cargo bench -p folio-pager --bench pager` (add `-- read` or `-- commit` to run one group).

#[path = "common/setup.rs"]
mod setup;

use criterion::{black_box, Criterion};
use folio_pager::{JournalMode, PagerOptions, Synchronous};
use folio_vfs::{FileKind, OpenFlags, SyncFlags, Vfs, VfsFile};
use setup::{bench_dir, estimate, make_db, open, os_vfs, page, PAGE_SIZE};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const READ_PAGES: u32 = 2000;

fn reads(c: &mut Criterion) {
    let dir = bench_dir();
    let vfs = os_vfs();
    let path = dir.path().join("read.db");
    make_db(&vfs, &path, READ_PAGES);
    let mut group = c.benchmark_group("read");
    group.measurement_time(Duration::from_secs(3));

    let mut mapped = open(&vfs, &path, PagerOptions { mmap_size: 1 << 30, ..Default::default() });
    mapped.begin_read().unwrap();
    let mut next = 1;
    group.bench_function("mmap", |b| {
        b.iter(|| {
            next = next % (READ_PAGES - 1) + 2;
            let page = mapped.get(next).unwrap();
            debug_assert!(page.is_mapped());
            black_box(page[17])
        })
    });
    mapped.end_read().unwrap();

    let mut plain =
        open(&vfs, &path, PagerOptions { mmap_size: 0, cache_size: 1, ..Default::default() });
    plain.begin_read().unwrap();
    group.bench_function("read", |b| {
        b.iter(|| {
            next = next % (READ_PAGES - 1) + 2;
            black_box(plain.get(next).unwrap()[17])
        })
    });
    plain.end_read().unwrap();

    let file = vfs.open(Some(&path), OpenFlags::read_only(FileKind::MainDb)).unwrap();
    let mut buf = page(0);
    group.bench_function("raw_pread", |b| {
        b.iter(|| {
            next = next % (READ_PAGES - 1) + 2;
            file.read_at(u64::from(next - 1) * u64::from(PAGE_SIZE), &mut buf).unwrap();
            black_box(buf[17])
        })
    });
    group.finish();
}

/// The I/O a one-page rollback-journal commit must do, straight on the VFS (SQLite's pager.c,
/// `sqlite3PagerCommitPhaseOne`).
struct RawCommit {
    vfs: Arc<dyn Vfs>,
    db: Box<dyn VfsFile>,
    journal_path: PathBuf,
    mode: JournalMode,
    sync: Synchronous,
    header: Vec<u8>,
    record: Vec<u8>,
    page: Vec<u8>,
}

impl RawCommit {
    fn new(vfs: &Arc<dyn Vfs>, path: &Path, mode: JournalMode, sync: Synchronous) -> RawCommit {
        let db = vfs.open(Some(path), OpenFlags::read_write(FileKind::MainDb)).unwrap();
        RawCommit {
            vfs: Arc::clone(vfs),
            db,
            journal_path: folio_pager::journal_path(path),
            mode,
            sync,
            header: vec![0; 512],
            record: vec![0; PAGE_SIZE as usize + 8],
            page: page(9),
        }
    }

    fn commit(&self) {
        let journal = self
            .vfs
            .open(Some(&self.journal_path), OpenFlags::create(FileKind::MainJournal))
            .unwrap();
        journal.write_at(0, &self.header).unwrap();
        journal.write_at(512, &self.record).unwrap();
        journal.write_at(512 + self.record.len() as u64, &self.record).unwrap();
        let full = self.sync >= Synchronous::Full;
        if full {
            journal.sync(SyncFlags::FULL).unwrap();
        }
        journal.write_at(0, &self.header[..12]).unwrap();
        journal.sync(if full { SyncFlags::FULL } else { SyncFlags::NORMAL }).unwrap();
        self.db.write_at(0, &self.page).unwrap();
        self.db.write_at(u64::from(PAGE_SIZE), &self.page).unwrap();
        self.db.sync(SyncFlags::NORMAL).unwrap();
        match self.mode {
            JournalMode::Delete => {
                drop(journal);
                self.vfs.delete(&self.journal_path, false).unwrap();
            }
            JournalMode::Truncate => {
                journal.truncate(0).unwrap();
                if full {
                    journal.sync(SyncFlags::NORMAL).unwrap();
                }
            }
            JournalMode::Persist => {
                journal.write_at(0, &[0; 28]).unwrap();
                journal.sync(SyncFlags::DATA_ONLY).unwrap();
            }
            JournalMode::Memory | JournalMode::Off | JournalMode::Wal => {
                unreachable!("no rollback journal file")
            }
        }
    }
}

/// Mean time per commit of the pager and of the raw I/O, measured in alternation in the same
/// iterations, per `<mode>-<sync>`.
type Paired = Vec<(String, Duration, Duration, u64)>;

fn commits(c: &mut Criterion, paired: &mut Paired) {
    let dir = bench_dir();
    let vfs = os_vfs();
    let mut group = c.benchmark_group("commit");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    for mode in [JournalMode::Delete, JournalMode::Truncate, JournalMode::Persist] {
        for sync in [Synchronous::Normal, Synchronous::Full] {
            let name = format!("{mode}-{sync}");
            let path = dir.path().join(format!("{name}.db"));
            make_db(&vfs, &path, 8);
            let opts = PagerOptions { journal_mode: mode, synchronous: sync, ..Default::default() };
            let mut pager = open(&vfs, &path, opts);
            let raw_path = dir.path().join(format!("{name}-raw.db"));
            make_db(&vfs, &raw_path, 8);
            let raw = RawCommit::new(&vfs, &raw_path, mode, sync);
            let (mut pager_total, mut raw_total, mut n) = (Duration::ZERO, Duration::ZERO, 0u64);
            let mut fill = 0u8;
            // Syncs cost whatever the disk is doing at that moment, so the pager's commit and
            // the raw I/O alternate within each sample: both see the same disk.
            group.bench_function(&name, |b| {
                b.iter_custom(|iters| {
                    let mut pager_time = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        raw.commit();
                        raw_total += start.elapsed();
                        fill = fill.wrapping_add(1);
                        let start = Instant::now();
                        pager.begin_write().unwrap();
                        pager.page_mut(2).unwrap().fill(fill);
                        pager.commit().unwrap();
                        pager_time += start.elapsed();
                    }
                    pager_total += pager_time;
                    n += iters;
                    pager_time
                })
            });
            paired.push((name, pager_total, raw_total, n));
        }
    }
    group.finish();
}

fn print_ratios(paired: &Paired) {
    println!("\nratios:");
    let line = |label: &str, n: f64, d: f64, target: f64| {
        let ratio = n / d;
        let verdict = if ratio <= target { "meets" } else { "MISSES" };
        println!(
            "  {label:<34} {:>9.1} µs / {:>9.1} µs = {ratio:.2}x  ({verdict} target ≤ {target}x)",
            n / 1e3,
            d / 1e3
        );
    };
    if let (Some(n), Some(d)) = (estimate("read", "mmap"), estimate("read", "read")) {
        line("read: mmap / read()", n, d, 0.5);
    }
    for (name, pager, raw, n) in paired {
        if *n > 0 {
            let per = |d: &Duration| d.as_nanos() as f64 / *n as f64;
            line(&format!("commit {name}: pager / raw"), per(pager), per(raw), 1.2);
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut paired = Paired::new();
    reads(&mut c);
    commits(&mut c, &mut paired);
    c.final_summary();
    print_ratios(&paired);
}
