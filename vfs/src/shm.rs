//! Shared memory for the wal-index: regions and lock slots (<https://sqlite.org/walformat.html>).
//!
//! A [`ShmRegion`] is one 32 KiB region of the `-shm` file (or of heap memory). Other processes
//! write it while we read it, so it is never exposed as `&[u8]`: every access is an atomic 16- or
//! 32-bit load or store in the host's byte order: a `&[u8]` into memory another process writes
//! would be undefined behaviour, an atomic access of the same width as SQLite's is not. Under
//! `cfg(loom)` a heap region is an array of loom atomics, so loom explores the real wal-index code
//! that uses it.
//!
//! Each offset must be accessed with one width throughout (the wal-index uses 32-bit words for
//! its header and page numbers, 16-bit slots for its hash tables), as SQLite's code does.
//!
//! [`ShmLocks`] arbitrates the eight lock slots between connections of one process (SQLite's
//! `unixShmNode.aLock` and `unixShmLock`) and calls a [`ProcessLocks`] on the 0↔1 transitions;
//! slot `i` is byte `120 + i` of the `-shm` file for other processes.

use crate::lock::{ByteRange, ProcessLocks, RecordLock};
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sync::{Arc, Mutex};
use crate::{Error, Lock, Misuse, Op, Result};
use std::path::Path;

/// Size of one wal-index region (`WALINDEX_PGSZ`).
pub const SHM_REGION_SIZE: usize = 32 * 1024;
/// Number of lock slots (`SQLITE_SHM_NLOCK`).
pub const SHM_NLOCK: usize = 8;
/// Byte of the `-shm` file that carries slot 0's lock (`UNIX_SHM_BASE`).
pub const SHM_LOCK_BASE: u64 = 120;
/// Byte of the `-shm` file that carries the dead-man switch (`UNIX_SHM_DMS`).
pub const SHM_DMS_BYTE: u64 = SHM_LOCK_BASE + SHM_NLOCK as u64;

const WORDS: usize = SHM_REGION_SIZE / 4;

/// What [`crate::VfsFile::shm_lock`] does to its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmLockKind {
    /// Take one slot shared.
    Shared,
    /// Take the slots exclusive.
    Exclusive,
    /// Release one slot held shared.
    UnlockShared,
    /// Release slots held exclusive.
    UnlockExclusive,
    /// Turn one slot this connection holds exclusive into shared, never free in between (an
    /// `fcntl` lock conversion on the OS VFS: other processes see it held throughout). Not in
    /// SQLite's `xShmLock`, whose callers unlock and lock again; a reader claiming a read mark
    /// uses it to keep the slot it just set.
    Downgrade,
    /// Release whichever of the slots this connection holds, shared or exclusive, with one
    /// `fcntl` on the OS VFS where no other connection of the process holds a slot in between
    /// (a transaction's end releases WRITE and its read lock together). Not in SQLite's
    /// `xShmLock`; the same as releasing the slots one by one.
    UnlockHeld,
}

/// One 32 KiB region of shared memory with atomic accessors only.
///
/// Cloning is cheap and keeps the memory alive: a region stays valid after
/// [`crate::VfsFile::shm_unmap`] for as long as a clone exists.
#[derive(Clone)]
pub struct ShmRegion {
    backing: Arc<Backing>,
}

enum Backing {
    Heap(Box<[AtomicU32]>),
    /// Loom models only: loom atomics for the words a model declares; every other word is
    /// constant zero ([`ShmRegion::heap_modeled`]).
    #[cfg(loom)]
    Modeled(Box<[Option<AtomicU32>]>, Option<Ordering>),
    #[cfg(all(unix, not(loom)))]
    Mapped(mapped::MappedRegion),
}

impl std::fmt::Debug for ShmRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.backing {
            Backing::Heap(_) => "heap",
            #[cfg(loom)]
            Backing::Modeled(..) => "modeled",
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped(_) => "mapped",
        };
        f.debug_struct("ShmRegion").field("backing", &kind).finish()
    }
}

impl ShmRegion {
    /// A zeroed region in heap memory (the memory VFS, `locking_mode=EXCLUSIVE`, loom models).
    pub fn heap() -> Self {
        let words: Box<[AtomicU32]> = (0..WORDS).map(|_| AtomicU32::new(0)).collect();
        ShmRegion { backing: Arc::new(Backing::Heap(words)) }
    }

    /// Loom models only: a zeroed region whose words at the byte offsets `words` (multiples of
    /// 4) are loom atomics, and whose other words are constant zero: loads of them return 0
    /// and stores of 0 to them do nothing, so code that clears a whole region (the wal-index's
    /// `walIndexAppend`) costs no loom operations there. Storing anything else into a word that
    /// is not modeled panics, naming the offset: the model must declare it. So the region
    /// behaves as [`ShmRegion::heap`] does in every execution where those words stay zero, and
    /// any other execution fails loudly; a region of 8192 loom atomics would cost milliseconds
    /// per explored execution (to create, to clear, and at every fence).
    ///
    /// With `force`, every access uses that ordering instead of the caller's: `SeqCst` makes
    /// loom explore interleavings only, not the reorderings the callers' relaxed accesses
    /// allow, whose exploration is exponential in the words in flight.
    #[cfg(loom)]
    pub fn heap_modeled(words: impl IntoIterator<Item = usize>, force: Option<Ordering>) -> Self {
        let mut modeled: Vec<Option<AtomicU32>> = (0..WORDS).map(|_| None).collect();
        for offset in words {
            Self::check(offset, 4);
            modeled[offset / 4].get_or_insert_with(|| AtomicU32::new(0));
        }
        ShmRegion { backing: Arc::new(Backing::Modeled(modeled.into_boxed_slice(), force)) }
    }

    /// The loom atomic of the modeled word holding `offset`, or `None` if that word is
    /// constant zero.
    #[cfg(loom)]
    fn modeled_word(words: &[Option<AtomicU32>], offset: usize, value: u32) -> Option<&AtomicU32> {
        let word = words[offset / 4].as_ref();
        assert!(
            word.is_some() || value == 0,
            "the loom model stores {value:#x} at shm offset {offset}, a word it did not declare \
             in ShmRegion::heap_modeled"
        );
        word
    }

    /// A region of a `-shm` file mapped by the OS VFS.
    ///
    /// # Panics
    /// If the mapping is shorter than [`SHM_REGION_SIZE`].
    #[cfg(all(unix, not(loom)))]
    pub(crate) fn mapped(region: mapped::MappedRegion) -> Self {
        assert!(region.len() >= SHM_REGION_SIZE, "shm region mapped short");
        ShmRegion { backing: Arc::new(Backing::Mapped(region)) }
    }

    /// True if the region is a read-only mapping of a `-shm` this process may not write (see
    /// [`crate::VfsFile::shm_map`]): other processes still write it, so loads see their
    /// changes, but every store ([`ShmRegion::store_u32`], [`ShmRegion::store_u16`],
    /// [`ShmRegion::copy_in`]) panics before touching the memory. Heap regions are never
    /// read-only.
    pub fn is_read_only(&self) -> bool {
        match &*self.backing {
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped(m) => m.is_read_only(),
            _ => false,
        }
    }

    /// Panics if the region is read-only: a store there would fault (the map is `PROT_READ`).
    #[inline]
    fn check_writable(&self, offset: usize) {
        assert!(
            !self.is_read_only(),
            "store at shm offset {offset} into a read-only -shm region (the caller must check \
             ShmRegion::is_read_only before writing the wal-index)"
        );
    }

    /// True if both handles refer to the same memory.
    pub fn same_memory(&self, other: &ShmRegion) -> bool {
        Arc::ptr_eq(&self.backing, &other.backing)
    }

    #[inline]
    fn check(offset: usize, align: usize) {
        assert!(
            offset.is_multiple_of(align) && offset + align <= SHM_REGION_SIZE,
            "shm access at offset {offset} (width {align}) outside the region or misaligned"
        );
    }

    /// The address of the region's first byte, for C code that reads and writes the wal-index
    /// itself: stock SQLite, through the SQLite bridge's `xShmMap`. Nothing else may use it;
    /// Rust code goes through the atomic accessors.
    ///
    /// The [`SHM_REGION_SIZE`] bytes from there stay valid memory for as long as this value (or
    /// a clone) lives, even after [`crate::VfsFile::shm_unmap`]; the caller keeps one alive for
    /// as long as it hands the address out. The address is at least 4-byte aligned. Getting it
    /// is safe; using it is the foreign code's business, which (like another process sharing the
    /// `-shm`) does not follow Rust's memory model. The memory of a read-only region
    /// ([`ShmRegion::is_read_only`]) is mapped read-only: writing it faults, so the foreign code
    /// must be told (the bridge returns `SQLITE_READONLY`). Not available under `cfg(loom)`, where the
    /// region is an array of loom atomics rather than plain memory.
    #[cfg(not(loom))]
    pub fn as_ptr(&self) -> *mut u8 {
        match &*self.backing {
            // Atomics are interior-mutable, so writes through a pointer derived from a shared
            // reference to them are allowed.
            Backing::Heap(words) => words.as_ptr().cast::<u8>().cast_mut(),
            #[cfg(unix)]
            Backing::Mapped(m) => m.as_ptr(),
        }
    }

    /// Loads the native-endian `u32` at `offset` (a multiple of 4).
    #[inline]
    pub fn load_u32(&self, offset: usize, order: Ordering) -> u32 {
        Self::check(offset, 4);
        match &*self.backing {
            Backing::Heap(words) => words[offset / 4].load(order),
            #[cfg(loom)]
            Backing::Modeled(words, force) => {
                words[offset / 4].as_ref().map_or(0, |w| w.load(force.unwrap_or(order)))
            }
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped(m) => m.atomic_u32(offset).load(order),
        }
    }

    /// Stores the native-endian `u32` at `offset` (a multiple of 4).
    ///
    /// # Panics
    /// On a read-only region ([`ShmRegion::is_read_only`]), or a misaligned or out-of-range
    /// offset.
    #[inline]
    pub fn store_u32(&self, offset: usize, value: u32, order: Ordering) {
        Self::check(offset, 4);
        self.check_writable(offset);
        match &*self.backing {
            Backing::Heap(words) => words[offset / 4].store(value, order),
            #[cfg(loom)]
            Backing::Modeled(words, force) => {
                if let Some(word) = Self::modeled_word(words, offset, value) {
                    word.store(value, force.unwrap_or(order));
                }
            }
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped(m) => m.atomic_u32(offset).store(value, order),
        }
    }

    /// Loads the native-endian `u16` at `offset` (a multiple of 2).
    #[inline]
    pub fn load_u16(&self, offset: usize, order: Ordering) -> u16 {
        Self::check(offset, 2);
        match &*self.backing {
            Backing::Heap(words) => {
                let word = words[offset / 4].load(order);
                half_of(word, offset)
            }
            #[cfg(loom)]
            Backing::Modeled(words, force) => words[offset / 4]
                .as_ref()
                .map_or(0, |w| half_of(w.load(force.unwrap_or(order)), offset)),
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped(m) => m.atomic_u16(offset).load(order),
        }
    }

    /// Stores the native-endian `u16` at `offset` (a multiple of 2).
    ///
    /// # Panics
    /// As [`ShmRegion::store_u32`].
    #[inline]
    pub fn store_u16(&self, offset: usize, value: u16, order: Ordering) {
        Self::check(offset, 2);
        self.check_writable(offset);
        match &*self.backing {
            Backing::Heap(words) => store_half(&words[offset / 4], offset, value, order),
            #[cfg(loom)]
            Backing::Modeled(words, force) => {
                if let Some(word) = Self::modeled_word(words, offset, u32::from(value)) {
                    store_half(word, offset, value, force.unwrap_or(order));
                }
            }
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped(m) => m.atomic_u16(offset).store(value, order),
        }
    }

    /// Copies `out.len()` bytes from `offset` with atomic 32-bit loads (offset and length
    /// multiples of 4), in native byte order.
    pub fn copy_out(&self, offset: usize, out: &mut [u8], order: Ordering) {
        assert!(
            out.len().is_multiple_of(4),
            "copy_out length {} is not a multiple of 4",
            out.len()
        );
        for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&self.load_u32(offset + 4 * i, order).to_ne_bytes());
        }
    }

    /// Copies `bytes` to `offset` with atomic 32-bit stores (offset and length multiples of 4).
    ///
    /// # Panics
    /// As [`ShmRegion::store_u32`].
    pub fn copy_in(&self, offset: usize, bytes: &[u8], order: Ordering) {
        assert!(
            bytes.len().is_multiple_of(4),
            "copy_in length {} is not a multiple of 4",
            bytes.len()
        );
        for (i, chunk) in bytes.chunks_exact(4).enumerate() {
            let word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            self.store_u32(offset + 4 * i, word, order);
        }
    }
}

/// Stores `value` into the half of `word` holding byte `offset`: heap backings are word-sized,
/// so a compare-and-swap loop keeps the other half.
#[inline]
fn store_half(word: &AtomicU32, offset: usize, value: u16, order: Ordering) {
    let mut current = word.load(Ordering::Relaxed);
    loop {
        let new = with_half(current, offset, value);
        match word.compare_exchange_weak(current, new, order, Ordering::Relaxed) {
            Ok(_) => break,
            Err(seen) => current = seen,
        }
    }
}

/// Which half of a native-endian word holds the `u16` at byte `offset`.
#[inline]
fn half_shift(offset: usize) -> u32 {
    let low_half_first = cfg!(target_endian = "little");
    if offset.is_multiple_of(4) == low_half_first {
        0
    } else {
        16
    }
}

#[inline]
fn half_of(word: u32, offset: usize) -> u16 {
    (word >> half_shift(offset)) as u16
}

#[inline]
fn with_half(word: u32, offset: usize, value: u16) -> u32 {
    let shift = half_shift(offset);
    (word & !(0xffff << shift)) | (u32::from(value) << shift)
}

/// The slots one connection holds (SQLite's `unixShm.sharedMask` / `exclMask`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeldSlots {
    /// Bit `i`: slot `i` held shared.
    pub shared: u8,
    /// Bit `i`: slot `i` held exclusive.
    pub exclusive: u8,
}

/// In-process arbitration of the eight slot locks of one `-shm` (SQLite's `unixShmNode.aLock`):
/// per slot, the number of connections holding it shared, or -1 when one holds it exclusive.
#[derive(Debug, Default)]
pub struct ShmLocks {
    counts: Mutex<[i32; SHM_NLOCK]>,
}

fn slot_range(slot: usize, n: usize) -> ByteRange {
    ByteRange { start: SHM_LOCK_BASE + slot as u64, len: n as u64 }
}

impl ShmLocks {
    /// No slot held.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `kind` to `n` slots from `slot` for a connection holding `held`
    /// (SQLite's `unixShmLock`). `os` locks byte `120 + slot` of the `-shm` for other processes.
    pub fn lock(
        &self,
        held: &mut HeldSlots,
        slot: usize,
        n: usize,
        kind: ShmLockKind,
        os: &impl ProcessLocks,
        path: &Path,
    ) -> Result<()> {
        let shared_kind = matches!(
            kind,
            ShmLockKind::Shared | ShmLockKind::UnlockShared | ShmLockKind::Downgrade
        );
        if n == 0 || slot + n > SHM_NLOCK || (shared_kind && n != 1) {
            return Err(Error::misuse(path, Misuse::ShmLockSlots { slot, n, kind }));
        }
        let mask = (((1u16 << n) - 1) << slot) as u8;
        let busy = || Error::busy(Op::ShmLock, path, Lock::Shm { slot, n, kind, read_only: false });
        let mut counts = self.counts.lock();
        match kind {
            ShmLockKind::UnlockShared => {
                // Releasing a slot this connection does not hold is a no-op, as in SQLite.
                if held.shared & mask != 0 {
                    if counts[slot] > 1 {
                        counts[slot] -= 1;
                    } else {
                        os.set(slot_range(slot, 1), RecordLock::Unlock)?;
                        counts[slot] = 0;
                    }
                    held.shared &= !mask;
                }
                Ok(())
            }
            ShmLockKind::UnlockExclusive => {
                let ours = held.exclusive & mask;
                if ours == mask {
                    os.set(slot_range(slot, n), RecordLock::Unlock)?;
                } else {
                    for s in (slot..slot + n).filter(|s| ours & (1 << s) != 0) {
                        os.set(slot_range(s, 1), RecordLock::Unlock)?;
                    }
                }
                for (s, count) in counts.iter_mut().enumerate() {
                    if ours & (1 << s) != 0 {
                        *count = 0;
                    }
                }
                held.exclusive &= !mask;
                Ok(())
            }
            ShmLockKind::Downgrade => {
                if held.exclusive & mask == 0 {
                    return Err(Error::misuse(path, Misuse::ShmDowngradeNotHeld { slot }));
                }
                // Our own write lock becomes a read lock: nobody can hold a conflicting one.
                if !os.set(slot_range(slot, 1), RecordLock::Read)? {
                    return Err(busy());
                }
                counts[slot] = 1;
                held.exclusive &= !mask;
                held.shared |= mask;
                Ok(())
            }
            ShmLockKind::UnlockHeld => {
                let (shared, exclusive) = (held.shared & mask, held.exclusive & mask);
                // Slots whose process-level lock goes: ours exclusive, and ours shared that no
                // other connection of this process shares.
                let freed = (slot..slot + n)
                    .filter(|&s| {
                        let bit = 1u8 << s;
                        exclusive & bit != 0 || (shared & bit != 0 && counts[s] == 1)
                    })
                    .fold(0u8, |m, s| m | 1 << s);
                if freed != 0 {
                    let (lo, hi) =
                        (freed.trailing_zeros() as usize, 7 - freed.leading_zeros() as usize);
                    // One unlock over lo..=hi unless it would drop a slot the process keeps.
                    if (lo..=hi).all(|s| freed & (1 << s) != 0 || counts[s] == 0) {
                        os.set(slot_range(lo, hi - lo + 1), RecordLock::Unlock)?;
                    } else {
                        for s in (lo..=hi).filter(|s| freed & (1 << s) != 0) {
                            os.set(slot_range(s, 1), RecordLock::Unlock)?;
                        }
                    }
                }
                for (s, count) in counts.iter_mut().enumerate() {
                    let bit = 1u8 << s;
                    if exclusive & bit != 0 {
                        *count = 0;
                    } else if shared & bit != 0 {
                        *count -= 1;
                    }
                }
                held.shared &= !mask;
                held.exclusive &= !mask;
                Ok(())
            }
            ShmLockKind::Shared => {
                if held.shared & mask != 0 {
                    return Ok(());
                }
                if held.exclusive & mask != 0 || counts[slot] < 0 {
                    return Err(busy());
                }
                if counts[slot] == 0 && !os.set(slot_range(slot, 1), RecordLock::Read)? {
                    return Err(busy());
                }
                counts[slot] += 1;
                held.shared |= mask;
                Ok(())
            }
            ShmLockKind::Exclusive => {
                if held.exclusive & mask == mask {
                    return Ok(());
                }
                // Any holder of any of the slots, this connection included, is a conflict: a
                // slot never goes directly from shared to exclusive.
                if counts[slot..slot + n].iter().any(|&c| c != 0) {
                    return Err(busy());
                }
                if !os.set(slot_range(slot, n), RecordLock::Write)? {
                    return Err(busy());
                }
                counts[slot..slot + n].fill(-1);
                held.exclusive |= mask;
                Ok(())
            }
        }
    }

    /// Releases everything `held` holds (a connection unmapping or closing).
    pub fn release_all(
        &self,
        held: &mut HeldSlots,
        os: &impl ProcessLocks,
        path: &Path,
    ) -> Result<()> {
        for slot in 0..SHM_NLOCK {
            let bit = 1u8 << slot;
            if held.exclusive & bit != 0 {
                self.lock(held, slot, 1, ShmLockKind::UnlockExclusive, os, path)?;
            } else if held.shared & bit != 0 {
                self.lock(held, slot, 1, ShmLockKind::UnlockShared, os, path)?;
            }
        }
        Ok(())
    }
}

#[cfg(all(unix, not(loom)))]
pub(crate) mod mapped;
#[cfg(test)]
mod tests;
