//! The lock-heavy paths of folio-vfs as callers use them, through the [`VfsFile`] trait, on the
//! memory VFS (the in-process tables alone) and the OS VFS (the tables plus `fcntl` on a file in
//! a temporary directory):
//!
//! * `db_lock/<vfs>/single`: one handle takes SHARED, raises to RESERVED, and drops to none, the
//!   lock steps of a write transaction (the in-process lock table, `lock.rs`).
//! * `db_lock/<vfs>/two_threads`: two handles of one file on two threads, one cycling
//!   SHARED → RESERVED → none, the other SHARED → none, so both contend for the file's table
//!   entry and no request is refused. The time is for both threads' `iters` cycles.
//! * `shm_lock/<vfs>/read_slot`: one connection takes a read-mark slot shared and releases it
//!   (the shm slot table, `shm.rs`), as a WAL reader does per transaction.
//! * `shm_lock/<vfs>/write_slot`: the same with the WRITE slot exclusive.
//! * `shm_lock/<vfs>/two_threads`: two connections on two threads each take and release the same
//!   read-mark slot shared.
//!
//! Run: `cargo bench -p folio-vfs --bench locks`.
//!
//! Measured when written (2 cores shared with other builds; runs of unchanged code differ by up
//! to 1.5× when the machine is loaded, so compare variants in alternating runs): std's mutex
//! about 75 ns (`db_lock/memory/single`), 1.5–2 µs (`db_lock/os/single`), 55–80 ns and 600–750 ns
//! (`shm_lock` memory and OS slots), 600 ns (`shm_lock/os/two_threads`, quiet machine).
//! parking_lot's mutex took 0.7–0.8 of that uncontended on the OS VFS but 1.1 (`db_lock`) and
//! 1.25 (`shm_lock`) of it with two threads contending, which is why the facade keeps std's.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use folio_vfs::memory::MemoryVfs;
use folio_vfs::os::OsVfs;
use folio_vfs::{FileKind, LockLevel, OpenFlags, ShmLockKind, Vfs, VfsFile};
use std::path::Path;
use std::time::{Duration, Instant};

/// SQLite's WAL_WRITE_LOCK slot.
const WRITE_SLOT: usize = 0;
/// The first read-mark slot (WAL_READ_LOCK(0)).
const READ_SLOT: usize = 3;

fn write_transaction_locks(file: &dyn VfsFile) {
    file.lock(LockLevel::Shared).unwrap();
    file.lock(LockLevel::Reserved).unwrap();
    file.unlock(LockLevel::None).unwrap();
}

fn read_transaction_locks(file: &dyn VfsFile) {
    file.lock(LockLevel::Shared).unwrap();
    file.unlock(LockLevel::None).unwrap();
}

fn shm_read_slot(file: &dyn VfsFile) {
    file.shm_lock(READ_SLOT, 1, ShmLockKind::Shared).unwrap();
    file.shm_lock(READ_SLOT, 1, ShmLockKind::UnlockShared).unwrap();
}

fn shm_write_slot(file: &dyn VfsFile) {
    file.shm_lock(WRITE_SLOT, 1, ShmLockKind::Exclusive).unwrap();
    file.shm_lock(WRITE_SLOT, 1, ShmLockKind::UnlockExclusive).unwrap();
}

/// Runs `a` and `b` `iters` times each on two threads at once and returns the wall time.
fn two_threads(
    iters: u64,
    a: (&dyn VfsFile, fn(&dyn VfsFile)),
    b: (&dyn VfsFile, fn(&dyn VfsFile)),
) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| (0..iters).for_each(|_| (b.1)(b.0)));
        (0..iters).for_each(|_| (a.1)(a.0));
    });
    start.elapsed()
}

fn open_main(vfs: &dyn Vfs, path: &Path) -> Box<dyn VfsFile> {
    vfs.open(Some(path), OpenFlags::create(FileKind::MainDb)).unwrap()
}

fn open_mapped(vfs: &dyn Vfs, path: &Path) -> Box<dyn VfsFile> {
    let file = open_main(vfs, path);
    file.shm_map(0, true).unwrap();
    file
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let vfses: [(&str, Box<dyn Vfs>); 2] =
        [("memory", Box::new(MemoryVfs::new())), ("os", Box::new(OsVfs::new()))];

    let mut group = c.benchmark_group("db_lock");
    for (name, vfs) in &vfses {
        let path = dir.path().join(format!("db-lock-{name}.db"));
        let one = open_main(&**vfs, &path);
        let two = open_main(&**vfs, &path);
        group.bench_function(format!("{name}/single"), |b| {
            b.iter(|| write_transaction_locks(&*one))
        });
        group.bench_function(format!("{name}/two_threads"), |b| {
            b.iter_custom(|iters| {
                two_threads(
                    iters,
                    (&*one, write_transaction_locks),
                    (&*two, read_transaction_locks),
                )
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("shm_lock");
    for (name, vfs) in &vfses {
        let path = dir.path().join(format!("shm-lock-{name}.db"));
        let one = open_mapped(&**vfs, &path);
        let two = open_mapped(&**vfs, &path);
        group.bench_function(format!("{name}/read_slot"), |b| b.iter(|| shm_read_slot(&*one)));
        group.bench_function(format!("{name}/write_slot"), |b| b.iter(|| shm_write_slot(&*one)));
        group.bench_function(format!("{name}/two_threads"), |b| {
            b.iter_custom(|iters| {
                two_threads(iters, (&*one, shm_read_slot), (&*two, shm_read_slot))
            })
        });
        one.shm_unmap(true).unwrap();
        two.shm_unmap(true).unwrap();
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
