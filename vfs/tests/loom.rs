//! Loom models of folio-vfs's in-process lock arbitration: the database lock table
//! ([`InodeLocks`]) and the shm slot table ([`ShmLocks`]), with several handles of one process
//! racing on one shared entry.
//!
//! Each thread reports its state to a monitor that checks the invariant at every step. Levels
//! are reported *after* a lock is gained and *before* it is given up, so a reported state is
//! never stronger than the real one: any violation the monitor sees really happened.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//! cargo test -p folio-vfs --release --test loom`.
#![cfg(loom)]

use folio_vfs::lock::{InodeLocks, NoProcessLocks};
use folio_vfs::shm::{HeldSlots, ShmLocks};
use folio_vfs::sync::{thread, Arc, Mutex};
use folio_vfs::{LockLevel, ShmLockKind, SHM_NLOCK};
use std::path::Path;

const DB: &str = "/loom.db";

// ---- database locks -------------------------------------------------------------------------

/// The lock level each handle has reported, checked against SQLite's exclusion rules.
struct LevelMonitor {
    levels: Mutex<Vec<LockLevel>>,
}

impl LevelMonitor {
    fn new(n: usize) -> Self {
        LevelMonitor { levels: Mutex::new(vec![LockLevel::None; n]) }
    }

    fn report(&self, who: usize, level: LockLevel) {
        let mut levels = self.levels.lock();
        levels[who] = level;
        let writers = levels.iter().filter(|&&l| l >= LockLevel::Reserved).count();
        assert!(writers <= 1, "two handles at RESERVED or above: {:?}", *levels);
        if let Some(x) = levels.iter().position(|&l| l == LockLevel::Exclusive) {
            let others =
                levels.iter().enumerate().filter(|&(i, &l)| i != x && l != LockLevel::None);
            assert_eq!(others.count(), 0, "EXCLUSIVE beside another lock: {:?}", *levels);
        }
    }
}

/// One handle's life: SHARED, RESERVED, EXCLUSIVE (retrying once from PENDING), then back down;
/// on a refusal it gives up and unlocks. Returns the strongest level reached.
fn writer(who: usize, locks: &InodeLocks, monitor: &LevelMonitor) -> LockLevel {
    let (os, path) = (NoProcessLocks, Path::new(DB));
    let mut held = LockLevel::None;
    let raise = |held: &mut LockLevel, want: LockLevel| {
        let result = locks.lock(held, want, &os, path);
        if let Err(e) = &result {
            assert!(e.is_busy(), "{e}");
        }
        // A refused EXCLUSIVE leaves the handle PENDING: that is reported too.
        monitor.report(who, *held);
        result.is_ok()
    };
    let mut best = LockLevel::None;
    if raise(&mut held, LockLevel::Shared) {
        best = LockLevel::Shared;
        if raise(&mut held, LockLevel::Reserved) {
            best = LockLevel::Reserved;
            for _ in 0..2 {
                if raise(&mut held, LockLevel::Exclusive) {
                    best = LockLevel::Exclusive;
                    break;
                }
                thread::yield_now();
            }
        }
    }
    if held > LockLevel::Shared {
        monitor.report(who, LockLevel::Shared);
        locks.unlock(&mut held, LockLevel::Shared, &os, path, |_| {}).unwrap();
    }
    monitor.report(who, LockLevel::None);
    locks.unlock(&mut held, LockLevel::None, &os, path, |_| {}).unwrap();
    assert_eq!(held, LockLevel::None);
    best
}

/// A reader: SHARED, then NONE.
fn reader(who: usize, locks: &InodeLocks, monitor: &LevelMonitor) -> bool {
    let (os, path) = (NoProcessLocks, Path::new(DB));
    let mut held = LockLevel::None;
    let got = locks.lock(&mut held, LockLevel::Shared, &os, path);
    monitor.report(who, held);
    if got.is_ok() {
        monitor.report(who, LockLevel::None);
        locks.unlock(&mut held, LockLevel::None, &os, path, |_| {}).unwrap();
    }
    got.is_ok()
}

fn assert_idle(locks: &InodeLocks) {
    let state = locks.state();
    assert_eq!((state.level, state.n_shared, state.n_lock), (LockLevel::None, 0, 0));
}

#[test]
fn two_writers_never_overlap() {
    loom::model(|| {
        let locks = Arc::new(InodeLocks::<()>::new());
        let monitor = Arc::new(LevelMonitor::new(2));
        let other = {
            let (locks, monitor) = (Arc::clone(&locks), Arc::clone(&monitor));
            thread::spawn(move || writer(1, &locks, &monitor))
        };
        let mine = writer(0, &locks, &monitor);
        let theirs = other.join().unwrap();
        // Whatever the interleaving, the table ends empty.
        assert_idle(&locks);
        // Two writers never both fail to reach SHARED: with no third party, someone reads.
        assert!(mine >= LockLevel::Shared || theirs >= LockLevel::Shared);
    });
}

#[test]
fn writer_and_reader_exclude_each_other() {
    loom::model(|| {
        let locks = Arc::new(InodeLocks::<()>::new());
        let monitor = Arc::new(LevelMonitor::new(3));
        let threads: Vec<_> = (1..3)
            .map(|who| {
                let (locks, monitor) = (Arc::clone(&locks), Arc::clone(&monitor));
                thread::spawn(move || {
                    reader(who, &locks, &monitor);
                })
            })
            .collect();
        writer(0, &locks, &monitor);
        for t in threads {
            t.join().unwrap();
        }
        assert_idle(&locks);
    });
}

// ---- shm slot locks -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    No,
    Shared,
    Exclusive,
}

/// What each connection has reported holding, per slot: exclusive holders must be alone.
struct SlotMonitor {
    held: Mutex<Vec<[Held; SHM_NLOCK]>>,
}

impl SlotMonitor {
    fn new(n: usize) -> Self {
        SlotMonitor { held: Mutex::new(vec![[Held::No; SHM_NLOCK]; n]) }
    }

    fn report(&self, who: usize, slot: usize, n: usize, mode: Held) {
        let mut held = self.held.lock();
        held[who][slot..slot + n].fill(mode);
        for s in 0..SHM_NLOCK {
            let holders = held.iter().filter(|conn| conn[s] != Held::No).count();
            let exclusive = held.iter().any(|conn| conn[s] == Held::Exclusive);
            assert!(!exclusive || holders == 1, "slot {s} exclusive but shared: {:?}", *held);
        }
    }
}

/// One connection's plan: take each `(slot, n, exclusive)` in turn (stopping at the first
/// refusal), then release everything it got in reverse order.
fn slot_user(
    who: usize,
    locks: &ShmLocks,
    monitor: &SlotMonitor,
    plan: &[(usize, usize, bool)],
) -> HeldSlots {
    let (os, path) = (NoProcessLocks, Path::new("/loom.db-shm"));
    let mut held = HeldSlots::default();
    let mut got = Vec::new();
    for &(slot, n, exclusive) in plan {
        let (kind, mode) = if exclusive {
            (ShmLockKind::Exclusive, Held::Exclusive)
        } else {
            (ShmLockKind::Shared, Held::Shared)
        };
        match locks.lock(&mut held, slot, n, kind, &os, path) {
            Ok(()) => {
                monitor.report(who, slot, n, mode);
                got.push((slot, n, exclusive));
            }
            Err(e) => {
                assert!(e.is_busy(), "{e}");
                break;
            }
        }
    }
    let taken = held;
    for &(slot, n, exclusive) in got.iter().rev() {
        monitor.report(who, slot, n, Held::No);
        let kind = if exclusive { ShmLockKind::UnlockExclusive } else { ShmLockKind::UnlockShared };
        locks.lock(&mut held, slot, n, kind, &os, path).unwrap();
    }
    assert_eq!(held, HeldSlots::default());
    taken
}

#[test]
fn exclusive_slot_holders_are_alone() {
    loom::model(|| {
        let locks = Arc::new(ShmLocks::new());
        let monitor = Arc::new(SlotMonitor::new(3));
        // A checkpointer-like range, a reader that then wants to write, and a writer.
        let plans: [&'static [(usize, usize, bool)]; 3] =
            [&[(1, 3, true)], &[(3, 1, false), (0, 1, true)], &[(0, 2, true)]];
        let threads: Vec<_> = (1..3)
            .map(|who| {
                let (locks, monitor) = (Arc::clone(&locks), Arc::clone(&monitor));
                thread::spawn(move || slot_user(who, &locks, &monitor, plans[who]))
            })
            .collect();
        slot_user(0, &locks, &monitor, plans[0]);
        for t in threads {
            t.join().unwrap();
        }
        // Everything was released: one connection can now take every slot exclusive.
        let mut all = HeldSlots::default();
        locks
            .lock(&mut all, 0, SHM_NLOCK, ShmLockKind::Exclusive, &NoProcessLocks, Path::new("/x"))
            .unwrap();
    });
}

#[test]
fn shared_holders_keep_exclusive_out() {
    loom::model(|| {
        let locks = Arc::new(ShmLocks::new());
        let monitor = Arc::new(SlotMonitor::new(2));
        let reader = {
            let (locks, monitor) = (Arc::clone(&locks), Arc::clone(&monitor));
            thread::spawn(move || slot_user(1, &locks, &monitor, &[(4, 1, false), (5, 1, false)]))
        };
        let writer_got = slot_user(0, &locks, &monitor, &[(4, 2, true)]);
        let reader_got = reader.join().unwrap();
        // One side can be refused only while the other holds slot 4, so not both.
        let writer_has_4 = writer_got.exclusive & (1 << 4) != 0;
        let reader_has_4 = reader_got.shared & (1 << 4) != 0;
        assert!(writer_has_4 || reader_has_4, "both were refused: {writer_got:?} {reader_got:?}");
    });
}
