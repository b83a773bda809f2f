//! The concurrency facade every Folio crate imports instead of `std::sync`.
//!
//! Normally [`RwLock`] is parking_lot's and the rest ([`Mutex`], [`Condvar`], [`Arc`],
//! [`atomic`], [`thread`], [`cell`]) std's; under `cfg(loom)` they are all loom's, so a loom
//! model explores the real protocol code (the in-process lock table, the shm lock slots, later
//! the wal-index and the async write queue). A direct `std::sync` or `parking_lot` import
//! elsewhere hides operations from loom.
//!
//! [`Mutex`], [`RwLock`] and [`Condvar`] are thin wrappers whose `lock`/`read`/`write`/`wait`
//! return the guard directly. std's and loom's locks poison, and the wrappers ignore it: a
//! panic while a lock is held already fails the test or aborts the operation, and every state
//! these locks protect is re-validated by its users, so poisoning carries no information we act
//! on. parking_lot's do not poison.
//!
//! Which implementation serves each lock is measured on the lock-heavy paths (`cargo bench -p
//! folio-vfs --bench locks`: the lock table and the shm slot locks; `cargo bench -p
//! folio-asyncio --bench queue`: the async write queue). parking_lot's `Mutex` (with its
//! `Condvar`) is faster uncontended (the lock table and the shm slots on the OS VFS, the
//! queue's caller-writer hand-off: 0.6 to 0.8 of std's time) but slower with two threads
//! contending for the lock table or the shm slots of one OS-VFS file (1.1 and 1.25 of std's
//! time, in each of eight alternating runs), so [`Mutex`] and [`Condvar`] stay std's.
//! parking_lot's `RwLock` is not slower on the path measured (the memory VFS's file bytes, read
//! under the async queue's overlay).

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

/// The implementation of [`Mutex`] and [`Condvar`].
#[cfg(loom)]
use loom::sync as mutex_imp;
#[cfg(not(loom))]
use std::sync as mutex_imp;

/// The implementation of [`RwLock`].
#[cfg(loom)]
use loom::sync as rwlock_imp;
#[cfg(not(loom))]
use parking_lot as rwlock_imp;

/// Guard of a [`Mutex`].
pub type MutexGuard<'a, T> = mutex_imp::MutexGuard<'a, T>;
/// Shared guard of a [`RwLock`].
pub type RwLockReadGuard<'a, T> = rwlock_imp::RwLockReadGuard<'a, T>;
/// Exclusive guard of a [`RwLock`].
pub type RwLockWriteGuard<'a, T> = rwlock_imp::RwLockWriteGuard<'a, T>;

/// Takes the guard out of a std or loom lock result, whether the lock was poisoned or not.
fn unpoison<G>(result: std::sync::LockResult<G>) -> G {
    result.unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes the guard of an [`RwLock`]: parking_lot's is the guard itself.
#[cfg(not(loom))]
fn rw_guard<G>(guard: G) -> G {
    guard
}

/// Takes the guard of an [`RwLock`]: loom's comes in a lock result.
#[cfg(loom)]
fn rw_guard<G>(result: std::sync::LockResult<G>) -> G {
    unpoison(result)
}

/// A mutual-exclusion lock (std's or loom's) that ignores poisoning.
#[derive(Debug, Default)]
pub struct Mutex<T>(mutex_imp::Mutex<T>);

impl<T> Mutex<T> {
    /// Creates a new mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(mutex_imp::Mutex::new(value))
    }

    /// Locks the mutex, blocking the current thread until it is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        unpoison(self.0.lock())
    }
}

/// A reader-writer lock (parking_lot's, or loom's ignoring poisoning).
#[derive(Debug, Default)]
pub struct RwLock<T>(rwlock_imp::RwLock<T>);

impl<T> RwLock<T> {
    /// Creates a new lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(rwlock_imp::RwLock::new(value))
    }

    /// Takes the lock shared.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        rw_guard(self.0.read())
    }

    /// Takes the lock exclusively.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        rw_guard(self.0.write())
    }
}

/// A condition variable (std's or loom's) for [`Mutex`] guards, ignoring poisoning like them.
///
/// Under loom a wait never times out, so the facade offers no timed wait: code that needs one
/// (a timeout, a delay) must not rely on it for correctness.
#[derive(Debug, Default)]
pub struct Condvar(mutex_imp::Condvar);

impl Condvar {
    /// A condition variable no thread waits on.
    pub fn new() -> Self {
        Condvar(mutex_imp::Condvar::new())
    }

    /// Releases `guard`'s mutex, blocks until notified (or spuriously woken), and locks it
    /// again. Callers re-check their condition in a loop.
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
