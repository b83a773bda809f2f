//! The concurrency facade every Folio crate imports instead of `std::sync`.
//!
//! Normally the locks are parking_lot's and the rest ([`Arc`], [`atomic`], [`thread`],
//! [`cell`]) std's; under `cfg(loom)` they are all loom's, so a loom model explores the real
//! protocol code (the in-process lock table, the shm lock slots, later the wal-index and the
//! async write queue). A direct `std::sync` or `parking_lot` import elsewhere hides operations
//! from loom.
//!
//! [`Mutex`], [`RwLock`] and [`Condvar`] are thin wrappers whose `lock`/`read`/`write`/`wait`
//! return the guard directly. parking_lot's locks do not poison; loom's do, and the wrappers
//! ignore it: a panic while a lock is held already fails the test or aborts the operation, and
//! every state these locks protect is re-validated by its users, so poisoning carries no
//! information we act on.
//!
//! parking_lot rather than std for all three: measured on the lock-heavy paths (the lock table,
//! the shm slot locks, the async write queue, `cargo bench -p folio-vfs --bench locks` and
//! `cargo bench -p folio-asyncio --bench queue`), it is as fast or faster on each.

#[cfg(loom)]
pub use loom::sync::atomic;
#[cfg(loom)]
pub use loom::sync::Arc;
#[cfg(loom)]
pub use loom::{cell, thread};

#[cfg(not(loom))]
pub use std::sync::atomic;
#[cfg(not(loom))]
pub use std::sync::Arc;
#[cfg(not(loom))]
pub use std::{cell, thread};

#[cfg(loom)]
use loom::sync as imp;
#[cfg(not(loom))]
use parking_lot as imp;

/// Guard of a [`Mutex`].
pub type MutexGuard<'a, T> = imp::MutexGuard<'a, T>;
/// Shared guard of a [`RwLock`].
pub type RwLockReadGuard<'a, T> = imp::RwLockReadGuard<'a, T>;
/// Exclusive guard of a [`RwLock`].
pub type RwLockWriteGuard<'a, T> = imp::RwLockWriteGuard<'a, T>;

/// Takes the guard out of a loom lock result, whether the lock was poisoned or not.
#[cfg(loom)]
fn unpoison<G>(result: std::sync::LockResult<G>) -> G {
    result.unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// parking_lot's locks return the guard itself: nothing to take out.
#[cfg(not(loom))]
fn unpoison<G>(guard: G) -> G {
    guard
}

/// A mutual-exclusion lock (parking_lot's, or loom's ignoring poisoning).
#[derive(Debug, Default)]
pub struct Mutex<T>(imp::Mutex<T>);

impl<T> Mutex<T> {
    /// Creates a new mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(imp::Mutex::new(value))
    }

    /// Locks the mutex, blocking the current thread until it is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        unpoison(self.0.lock())
    }
}

/// A reader-writer lock (parking_lot's, or loom's ignoring poisoning).
#[derive(Debug, Default)]
pub struct RwLock<T>(imp::RwLock<T>);

impl<T> RwLock<T> {
    /// Creates a new lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(imp::RwLock::new(value))
    }

    /// Takes the lock shared.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        unpoison(self.0.read())
    }

    /// Takes the lock exclusively.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        unpoison(self.0.write())
    }
}

/// A condition variable (parking_lot's, or loom's ignoring poisoning) for [`Mutex`] guards.
///
/// Under loom a wait never times out, so the facade offers no timed wait: code that needs one
/// (a timeout, a delay) must not rely on it for correctness.
#[derive(Debug, Default)]
pub struct Condvar(imp::Condvar);

impl Condvar {
    /// A condition variable no thread waits on.
    pub fn new() -> Self {
        Condvar(imp::Condvar::new())
    }

    /// Releases `guard`'s mutex, blocks until notified (or spuriously woken), and locks it
    /// again. Callers re-check their condition in a loop.
    #[cfg(not(loom))]
    pub fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(&mut guard);
        guard
    }

    /// Releases `guard`'s mutex, blocks until notified (or spuriously woken), and locks it
    /// again. Callers re-check their condition in a loop.
    #[cfg(loom)]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        unpoison(self.0.wait(guard))
    }

    /// Wakes one waiting thread.
    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}
