//! The concurrency facade every Folio crate imports instead of `std::sync`.
//!
//! Normally these are std's types; under `cfg(loom)` they are loom's, so a loom model explores
//! the real protocol code (the in-process lock table, the shm lock slots, later the wal-index and
//! the async write queue). A direct `std::sync` import elsewhere hides operations from loom.
//!
//! [`Mutex`], [`RwLock`] and [`Condvar`] are thin wrappers whose `lock`/`read`/`write`/`wait`
//! return the guard directly: a panic while a lock is held already fails the test or aborts the
//! operation, and every state these locks protect is re-validated by its users, so poisoning
//! carries no information we act on.

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
use std::sync as imp;

/// Guard of a [`Mutex`].
pub type MutexGuard<'a, T> = imp::MutexGuard<'a, T>;
/// Shared guard of a [`RwLock`].
pub type RwLockReadGuard<'a, T> = imp::RwLockReadGuard<'a, T>;
/// Exclusive guard of a [`RwLock`].
pub type RwLockWriteGuard<'a, T> = imp::RwLockWriteGuard<'a, T>;

/// A mutual-exclusion lock (std's or loom's) that ignores poisoning.
#[derive(Debug, Default)]
pub struct Mutex<T>(imp::Mutex<T>);

impl<T> Mutex<T> {
    /// Creates a new mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(imp::Mutex::new(value))
    }

    /// Locks the mutex, blocking the current thread until it is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A reader-writer lock (std's or loom's) that ignores poisoning.
#[derive(Debug, Default)]
pub struct RwLock<T>(imp::RwLock<T>);

impl<T> RwLock<T> {
    /// Creates a new lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(imp::RwLock::new(value))
    }

    /// Takes the lock shared.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the lock exclusively.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A condition variable (std's or loom's) for [`Mutex`] guards, ignoring poisoning like them.
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
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(guard).unwrap_or_else(std::sync::PoisonError::into_inner)
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
