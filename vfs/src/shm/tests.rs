//! Unit tests of shm regions (atomic accessors, byte order, bounds) and of slot arbitration
//! between connections of one process (<https://sqlite.org/walformat.html>), with a fake
//! process-lock layer that records the record-lock calls and can play another process.
#![cfg(not(loom))]

use super::*;
use crate::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::cell::RefCell;

// ---- ShmRegion -------------------------------------------------------------------------------

#[test]
fn heap_region_starts_zeroed() {
    let region = ShmRegion::heap();
    let mut bytes = vec![0xaa; SHM_REGION_SIZE];
    region.copy_out(0, &mut bytes, SeqCst);
    assert!(bytes.iter().all(|&b| b == 0));
}

#[test]
fn as_ptr_names_the_same_memory_for_clones_and_distinct_memory_otherwise() {
    let region = ShmRegion::heap();
    let clone = region.clone();
    let other = ShmRegion::heap();
    assert_eq!(region.as_ptr(), clone.as_ptr());
    assert_ne!(region.as_ptr(), other.as_ptr());
    assert_eq!(region.as_ptr() as usize % 4, 0, "the wal-index needs 4-byte alignment");
}

#[test]
fn u32_round_trips_at_every_word() {
    let region = ShmRegion::heap();
    let value = |offset: usize| (offset as u32).wrapping_mul(0x9e37_79b9) | 1;
    for offset in (0..SHM_REGION_SIZE).step_by(4) {
        region.store_u32(offset, value(offset), Relaxed);
    }
    // Read back after all stores: no store disturbed a neighbour.
    for offset in (0..SHM_REGION_SIZE).step_by(4) {
        assert_eq!(region.load_u32(offset, Relaxed), value(offset), "offset {offset}");
    }
}

#[test]
fn u16_round_trips_at_every_half_word_without_disturbing_the_other_half() {
    let region = ShmRegion::heap();
    let value = |offset: usize| (offset as u16).wrapping_mul(0x9e37) ^ 0x8001;
    for offset in (0..SHM_REGION_SIZE).step_by(2) {
        region.store_u16(offset, value(offset), SeqCst);
    }
    for offset in (0..SHM_REGION_SIZE).step_by(2) {
        assert_eq!(region.load_u16(offset, SeqCst), value(offset), "offset {offset}");
    }
    // Rewrite each half of one word alone.
    let word = 0x1111_2222u32;
    let word_bytes = word.to_ne_bytes();
    region.store_u32(64, word, SeqCst);
    region.store_u16(64, 0xabcd, SeqCst);
    assert_eq!(region.load_u16(66, SeqCst), u16::from_ne_bytes([word_bytes[2], word_bytes[3]]));
    region.store_u16(66, 0x0f0f, SeqCst);
    assert_eq!(region.load_u16(64, SeqCst), 0xabcd);
    assert_eq!(region.load_u16(66, SeqCst), 0x0f0f);
}

#[test]
fn halves_and_words_agree_on_native_byte_order() {
    // The `-shm` file is in the host's byte order: the u16 at byte offset 8 is the bytes 8..10
    // of the file, whichever half of the word that is.
    let region = ShmRegion::heap();
    region.store_u16(8, 0x1234, SeqCst);
    region.store_u16(10, 0x5678, SeqCst);
    let mut bytes = [0u8; 4];
    bytes[..2].copy_from_slice(&0x1234u16.to_ne_bytes());
    bytes[2..].copy_from_slice(&0x5678u16.to_ne_bytes());
    assert_eq!(region.load_u32(8, SeqCst), u32::from_ne_bytes(bytes));
    let mut out = [0u8; 4];
    region.copy_out(8, &mut out, SeqCst);
    assert_eq!(out, bytes);

    region.store_u32(12, u32::from_ne_bytes([1, 2, 3, 4]), SeqCst);
    assert_eq!(region.load_u16(12, SeqCst), u16::from_ne_bytes([1, 2]));
    assert_eq!(region.load_u16(14, SeqCst), u16::from_ne_bytes([3, 4]));
}

#[test]
fn copy_in_and_copy_out_round_trip_in_native_order() {
    let region = ShmRegion::heap();
    let bytes: Vec<u8> = (0..136u32).map(|i| (i * 7 + 3) as u8).collect();
    region.copy_in(48, &bytes, SeqCst);
    let mut out = vec![0u8; bytes.len()];
    region.copy_out(48, &mut out, SeqCst);
    assert_eq!(out, bytes);
    assert_eq!(region.load_u32(48, SeqCst), u32::from_ne_bytes([3, 10, 17, 24]));
    // Nothing outside the range was touched.
    assert_eq!(region.load_u32(44, SeqCst), 0);
    assert_eq!(region.load_u32(48 + 136, SeqCst), 0);
    // The very end of the region is reachable.
    region.copy_in(SHM_REGION_SIZE - 8, &[9; 8], SeqCst);
    let mut tail = [0u8; 8];
    region.copy_out(SHM_REGION_SIZE - 8, &mut tail, SeqCst);
    assert_eq!(tail, [9; 8]);
}

#[test]
fn clones_share_memory_and_fresh_regions_do_not() {
    let a = ShmRegion::heap();
    let b = a.clone();
    let c = ShmRegion::heap();
    assert!(a.same_memory(&b));
    assert!(!a.same_memory(&c));
    b.store_u32(100, 77, SeqCst);
    assert_eq!(a.load_u32(100, SeqCst), 77);
    assert_eq!(c.load_u32(100, SeqCst), 0);
    assert_eq!(format!("{a:?}"), "ShmRegion { backing: \"heap\" }");
}

#[test]
#[should_panic(expected = "outside the region")]
fn load_u32_past_the_end_panics() {
    ShmRegion::heap().load_u32(SHM_REGION_SIZE, SeqCst);
}

#[test]
#[should_panic(expected = "outside the region")]
fn load_u32_straddling_the_end_panics() {
    ShmRegion::heap().load_u32(SHM_REGION_SIZE - 2, SeqCst);
}

#[test]
#[should_panic(expected = "misaligned")]
fn store_u32_misaligned_panics() {
    ShmRegion::heap().store_u32(2, 1, SeqCst);
}

#[test]
#[should_panic(expected = "misaligned")]
fn load_u16_misaligned_panics() {
    ShmRegion::heap().load_u16(3, SeqCst);
}

#[test]
#[should_panic(expected = "outside the region")]
fn store_u16_past_the_end_panics() {
    ShmRegion::heap().store_u16(SHM_REGION_SIZE, 1, SeqCst);
}

#[test]
#[should_panic(expected = "outside the region")]
fn copy_out_past_the_end_panics() {
    ShmRegion::heap().copy_out(SHM_REGION_SIZE - 4, &mut [0; 8], SeqCst);
}

#[test]
#[should_panic(expected = "not a multiple of 4")]
fn copy_in_of_a_partial_word_panics() {
    ShmRegion::heap().copy_in(0, &[1, 2, 3], SeqCst);
}

// ---- ShmLocks --------------------------------------------------------------------------------

/// Records record-lock calls; refuses requests that conflict with "another process"'s locks.
#[derive(Default)]
struct FakeOs {
    calls: RefCell<Vec<(ByteRange, RecordLock)>>,
    foreign_read: RefCell<Vec<u64>>,
    foreign_write: RefCell<Vec<u64>>,
}

impl FakeOs {
    fn take_calls(&self) -> Vec<(ByteRange, RecordLock)> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }
}

impl ProcessLocks for FakeOs {
    fn set(&self, range: ByteRange, lock: RecordLock) -> Result<bool> {
        self.calls.borrow_mut().push((range, lock));
        let hits = |bytes: &RefCell<Vec<u64>>| {
            bytes.borrow().iter().any(|&b| (range.start..range.start + range.len).contains(&b))
        };
        Ok(match lock {
            RecordLock::Read => !hits(&self.foreign_write),
            RecordLock::Write => !hits(&self.foreign_write) && !hits(&self.foreign_read),
            RecordLock::Unlock => true,
        })
    }

    fn is_locked_elsewhere(&self, _range: ByteRange) -> Result<bool> {
        unreachable!("slot locks never ask")
    }
}

fn bytes(slot: usize, n: u64) -> ByteRange {
    ByteRange { start: 120 + slot as u64, len: n }
}

/// One shm node's slot table, a fake OS, and several connections' held slots.
struct Rig {
    locks: ShmLocks,
    os: FakeOs,
    held: Vec<HeldSlots>,
}

impl Rig {
    fn new(n: usize) -> Self {
        Rig { locks: ShmLocks::new(), os: FakeOs::default(), held: vec![HeldSlots::default(); n] }
    }

    fn lock(&mut self, conn: usize, slot: usize, n: usize, kind: ShmLockKind) -> Result<()> {
        self.locks.lock(&mut self.held[conn], slot, n, kind, &self.os, Path::new("/db-shm"))
    }

    fn ok(&mut self, conn: usize, slot: usize, n: usize, kind: ShmLockKind) {
        self.lock(conn, slot, n, kind)
            .unwrap_or_else(|e| panic!("conn {conn} slots {slot}+{n} {kind:?}: {e}"));
    }

    fn busy(&mut self, conn: usize, slot: usize, n: usize, kind: ShmLockKind) {
        let before = self.held[conn];
        match self.lock(conn, slot, n, kind) {
            Err(e @ Error::Busy { op: Op::ShmLock, .. }) => {
                assert!(e.to_string().contains("/db-shm"), "{e}");
            }
            other => panic!("conn {conn} slots {slot}+{n} {kind:?}: expected Busy, got {other:?}"),
        }
        assert_eq!(self.held[conn], before, "a refused request changes nothing");
    }
}

use ShmLockKind::{Downgrade, Exclusive, Shared, UnlockExclusive, UnlockHeld, UnlockShared};

#[test]
fn many_connections_share_a_slot_and_only_the_first_and_last_call_the_os() {
    let mut rig = Rig::new(3);
    rig.ok(0, 3, 1, Shared);
    assert_eq!(rig.os.take_calls(), [(bytes(3, 1), RecordLock::Read)]);
    rig.ok(1, 3, 1, Shared);
    rig.ok(2, 3, 1, Shared);
    assert_eq!(rig.os.take_calls(), []);
    rig.ok(0, 3, 1, UnlockShared);
    rig.ok(1, 3, 1, UnlockShared);
    assert_eq!(rig.os.take_calls(), []);
    rig.ok(2, 3, 1, UnlockShared);
    assert_eq!(rig.os.take_calls(), [(bytes(3, 1), RecordLock::Unlock)]);
    assert_eq!(rig.held, vec![HeldSlots::default(); 3]);
}

#[test]
fn exclusive_excludes_everyone_else() {
    let mut rig = Rig::new(2);
    rig.ok(0, 0, 1, Exclusive);
    assert_eq!(rig.held[0], HeldSlots { shared: 0, exclusive: 0b1 });
    rig.busy(1, 0, 1, Shared);
    rig.busy(1, 0, 1, Exclusive);
    rig.busy(1, 0, 3, Exclusive);
    // Other slots are free.
    rig.ok(1, 1, 1, Exclusive);
    rig.ok(1, 3, 1, Shared);
    rig.ok(0, 0, 1, UnlockExclusive);
    rig.ok(1, 0, 1, Shared);
}

#[test]
fn exclusive_waits_for_every_shared_holder() {
    let mut rig = Rig::new(3);
    rig.ok(0, 4, 1, Shared);
    rig.ok(1, 4, 1, Shared);
    rig.busy(2, 4, 1, Exclusive);
    rig.ok(0, 4, 1, UnlockShared);
    rig.busy(2, 4, 1, Exclusive);
    rig.ok(1, 4, 1, UnlockShared);
    rig.ok(2, 4, 1, Exclusive);
}

#[test]
fn a_slot_never_goes_directly_between_shared_and_exclusive() {
    let mut rig = Rig::new(1);
    rig.ok(0, 3, 1, Shared);
    rig.busy(0, 3, 1, Exclusive);
    rig.busy(0, 2, 2, Exclusive);
    rig.ok(0, 3, 1, UnlockShared);
    rig.ok(0, 3, 1, Exclusive);
    rig.busy(0, 3, 1, Shared);
}

#[test]
fn retaking_what_is_held_is_a_no_op() {
    let mut rig = Rig::new(2);
    rig.ok(0, 5, 1, Shared);
    rig.ok(0, 5, 1, Shared);
    rig.ok(0, 0, 2, Exclusive);
    rig.os.take_calls();
    rig.ok(0, 0, 2, Exclusive);
    rig.ok(0, 1, 1, Exclusive);
    assert_eq!(rig.os.take_calls(), []);
    // Counted once: one unlock frees the slot for an exclusive taker.
    rig.ok(0, 5, 1, UnlockShared);
    rig.ok(1, 5, 1, Exclusive);
}

#[test]
fn multi_slot_exclusive_ranges_are_one_record_lock() {
    let mut rig = Rig::new(2);
    rig.ok(0, 3, 5, Exclusive);
    assert_eq!(rig.os.take_calls(), [(bytes(3, 5), RecordLock::Write)]);
    assert_eq!(rig.held[0].exclusive, 0b1111_1000);
    for slot in 3..8 {
        rig.busy(1, slot, 1, Shared);
    }
    rig.busy(1, 0, 4, Exclusive);
    rig.ok(1, 0, 3, Exclusive);
    rig.os.take_calls();
    rig.ok(0, 3, 5, UnlockExclusive);
    assert_eq!(rig.os.take_calls(), [(bytes(3, 5), RecordLock::Unlock)]);
    rig.ok(1, 3, 5, Exclusive);
}

#[test]
fn unlocking_part_of_an_exclusive_range_releases_only_that_part() {
    let mut rig = Rig::new(2);
    rig.ok(0, 0, 3, Exclusive);
    rig.os.take_calls();
    rig.ok(0, 1, 1, UnlockExclusive);
    assert_eq!(rig.os.take_calls(), [(bytes(1, 1), RecordLock::Unlock)]);
    assert_eq!(rig.held[0].exclusive, 0b101);
    rig.ok(1, 1, 1, Shared);
    rig.busy(1, 0, 1, Shared);
    rig.busy(1, 2, 1, Shared);
    rig.os.take_calls();
    // Unlocking a range of which only some slots are held releases those, one call each.
    rig.ok(0, 0, 4, UnlockExclusive);
    assert_eq!(
        rig.os.take_calls(),
        [(bytes(0, 1), RecordLock::Unlock), (bytes(2, 1), RecordLock::Unlock)]
    );
    assert_eq!(rig.held[0], HeldSlots::default());
    rig.ok(1, 0, 1, Exclusive);
}

#[test]
fn unlocking_an_unheld_slot_is_a_no_op() {
    let mut rig = Rig::new(2);
    rig.ok(0, 3, 1, Shared);
    rig.ok(1, 0, 1, Exclusive);
    rig.os.take_calls();
    // Connection 1 releases what connection 0 holds, in both modes: nothing changes.
    rig.ok(1, 3, 1, UnlockShared);
    rig.ok(1, 3, 1, UnlockExclusive);
    rig.ok(0, 0, 1, UnlockExclusive);
    rig.ok(0, 0, 1, UnlockShared);
    rig.ok(0, 6, 2, UnlockExclusive);
    assert_eq!(rig.os.take_calls(), []);
    rig.busy(1, 3, 1, Exclusive);
    rig.busy(0, 0, 1, Shared);
}

#[test]
fn release_all_frees_every_slot_held() {
    let mut rig = Rig::new(2);
    rig.ok(0, 0, 2, Exclusive);
    rig.ok(0, 4, 1, Shared);
    rig.ok(1, 4, 1, Shared);
    rig.os.take_calls();
    rig.locks.release_all(&mut rig.held[0], &rig.os, Path::new("/db-shm")).unwrap();
    assert_eq!(rig.held[0], HeldSlots::default());
    assert_eq!(
        rig.os.take_calls(),
        [(bytes(0, 1), RecordLock::Unlock), (bytes(1, 1), RecordLock::Unlock)],
        "slot 4 is still held shared by connection 1"
    );
    rig.ok(1, 0, 2, Exclusive);
}

#[test]
fn another_process_can_refuse() {
    let mut rig = Rig::new(2);
    rig.os.foreign_read.borrow_mut().push(120 + 3);
    rig.os.foreign_write.borrow_mut().push(120);
    rig.busy(0, 0, 1, Shared);
    rig.busy(0, 3, 1, Exclusive);
    rig.busy(0, 2, 3, Exclusive);
    rig.ok(0, 3, 1, Shared);
    // The refused requests left no in-process trace: slot 2 is free for an exclusive taker.
    rig.ok(1, 2, 1, Exclusive);
}

#[test]
fn malformed_requests_are_misuse() {
    let mut rig = Rig::new(1);
    for (slot, n, kind) in [
        (0, 0, Exclusive),
        (7, 2, Exclusive),
        (8, 1, Shared),
        (2, 2, Shared),
        (2, 2, UnlockShared),
        (6, 3, UnlockExclusive),
        (3, 2, Downgrade),
        (3, 1, Downgrade),
        (7, 2, UnlockHeld),
    ] {
        match rig.lock(0, slot, n, kind) {
            Err(Error::Misuse { path, .. }) => assert_eq!(path, Path::new("/db-shm")),
            other => panic!("slots {slot}+{n} {kind:?}: expected Misuse, got {other:?}"),
        }
    }
    assert_eq!(rig.os.take_calls(), []);
    assert_eq!(rig.held[0], HeldSlots::default());
}

#[test]
fn downgrade_keeps_the_slot_held_with_one_record_lock() {
    let mut rig = Rig::new(3);
    rig.ok(0, 4, 1, Exclusive);
    rig.os.take_calls();
    rig.ok(0, 4, 1, Downgrade);
    // Our write lock becomes a read lock in one call: no moment with the byte free.
    assert_eq!(rig.os.take_calls(), [(bytes(4, 1), RecordLock::Read)]);
    assert_eq!(rig.held[0], HeldSlots { shared: 0b1_0000, exclusive: 0 });
    // Now it is shared like any other: others share it, nobody takes it exclusive.
    rig.ok(1, 4, 1, Shared);
    rig.busy(2, 4, 1, Exclusive);
    rig.ok(0, 4, 1, UnlockShared);
    rig.busy(2, 4, 1, Exclusive);
    rig.ok(1, 4, 1, UnlockShared);
    rig.ok(2, 4, 1, Exclusive);
    // A slot held shared, or not at all, cannot be downgraded.
    rig.ok(1, 5, 1, Shared);
    for (conn, slot) in [(1, 5), (1, 6), (0, 4)] {
        match rig.lock(conn, slot, 1, Downgrade) {
            Err(Error::Misuse { .. }) => {}
            other => panic!("conn {conn} slot {slot}: expected Misuse, got {other:?}"),
        }
    }
}

#[test]
fn unlock_held_releases_a_transactions_slots_in_one_call() {
    let mut rig = Rig::new(2);
    // A writer's transaction: READ(2) (slot 5) shared, WRITE (slot 0) exclusive.
    rig.ok(0, 5, 1, Shared);
    rig.ok(0, 0, 1, Exclusive);
    rig.os.take_calls();
    rig.ok(0, 0, 6, UnlockHeld);
    assert_eq!(rig.os.take_calls(), [(bytes(0, 6), RecordLock::Unlock)]);
    assert_eq!(rig.held[0], HeldSlots::default());
    rig.ok(1, 0, 8, Exclusive);
}

#[test]
fn unlock_held_never_drops_a_lock_the_process_keeps() {
    let mut rig = Rig::new(2);
    rig.ok(0, 5, 1, Shared);
    rig.ok(0, 0, 1, Exclusive);
    // Another connection of this process holds a slot in between, and shares ours.
    rig.ok(1, 3, 1, Shared);
    rig.ok(1, 5, 1, Shared);
    rig.os.take_calls();
    rig.ok(0, 0, 6, UnlockHeld);
    // Only WRITE's byte goes; slot 5 stays locked for connection 1, slot 3 too.
    assert_eq!(rig.os.take_calls(), [(bytes(0, 1), RecordLock::Unlock)]);
    assert_eq!(rig.held[0], HeldSlots::default());
    rig.busy(0, 5, 1, Exclusive);
    rig.busy(0, 3, 1, Exclusive);
    rig.ok(1, 5, 1, UnlockShared);
    assert_eq!(rig.os.take_calls(), [(bytes(5, 1), RecordLock::Unlock)]);
    rig.ok(0, 5, 1, Exclusive);

    // With a kept slot between two freed ones: one call per freed slot.
    let mut rig = Rig::new(2);
    rig.ok(0, 0, 1, Exclusive);
    rig.ok(0, 4, 1, Shared);
    rig.ok(1, 2, 1, Shared);
    rig.os.take_calls();
    rig.ok(0, 0, 5, UnlockHeld);
    assert_eq!(
        rig.os.take_calls(),
        [(bytes(0, 1), RecordLock::Unlock), (bytes(4, 1), RecordLock::Unlock)]
    );
    rig.busy(0, 2, 1, Exclusive);
    // Releasing nothing held calls nothing.
    rig.ok(0, 0, 8, UnlockHeld);
    assert_eq!(rig.os.take_calls(), []);
}
